"""Model aliases and prices: effective-dated tables shipped as package data, overridable by the user.

The bot stores only Claude Code aliases (``sonnet``, ``haiku``, ``opus``) for tasks and undated model names
(``claude-haiku-4-5``) for router messages. :class:`PriceBook` resolves a name on a date to a dated model id
with the alias table, then finds that model's price on that date with the price table.

Cost of one call or message, in USD::

    (input × input_price + output × output_price
     + cache_write × cache_write_5m_price + cache_read × cache_read_price) / 1,000,000

``input_tokens`` in Anthropic's usage excludes cache tokens, so nothing is counted twice. The bot keeps a single
``cache_creation_tokens`` column with no 5-minute / 1-hour split, so cache writes are priced at the 5-minute
rate. Tokens of a name that does not resolve, or of a model with no price, are *unpriced*: counted, never
priced at $0.

>>> book = PriceBook.load()
>>> book.resolve("sonnet", "2025-10-01")
'claude-sonnet-4-5-20250929'
>>> book.resolve("sonnet", "2025-06-01")
'claude-sonnet-4-20250514'
>>> round(book.cost("claude-sonnet-4-5-20250929", "2025-10-01", 1_000_000, 100_000, 0, 0), 6)
4.5
"""

from __future__ import annotations

import bisect
import csv
import io
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from ..errors import InputError

ALIAS_COLUMNS = ("alias", "effective_from", "model_id", "source")
PRICE_COLUMNS = (
    "model_id",
    "effective_from",
    "input_usd_per_mtok",
    "output_usd_per_mtok",
    "cache_write_5m_usd_per_mtok",
    "cache_write_1h_usd_per_mtok",
    "cache_read_usd_per_mtok",
    "source",
)
_PRICE_NUMBERS = PRICE_COLUMNS[2:7]


@dataclass(frozen=True)
class Price:
    input: float
    output: float
    cache_write_5m: float
    cache_write_1h: float
    cache_read: float


def _read_csv(text: str, columns: tuple[str, ...], what: str) -> list[dict]:
    reader = csv.DictReader(io.StringIO(text))
    missing = [c for c in columns if c not in (reader.fieldnames or [])]
    if missing:
        raise InputError(
            f"{what}: missing column(s) {', '.join(missing)}; the file needs the columns {', '.join(columns)}"
        )
    rows = []
    for line, row in enumerate(reader, start=2):
        if not (row.get(columns[0]) or "").strip():
            continue
        clean = {c: (row.get(c) or "").strip() for c in columns}
        if len(clean["effective_from"]) != 10 or clean["effective_from"][4] != "-":
            raise InputError(f"{what}, line {line}: effective_from must be a date YYYY-MM-DD, not {clean['effective_from']!r}")
        rows.append(clean)
    return rows


def _load_rows(user_file: Path | None, packaged: str, columns: tuple[str, ...], key: tuple[str, str]) -> list[dict]:
    text = resources.files(__package__).joinpath("data", packaged).read_text(encoding="utf-8")
    rows = {(r[key[0]], r[key[1]]): r for r in _read_csv(text, columns, packaged)}
    if user_file is not None:
        path = Path(user_file)
        try:
            user_text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise InputError(f"cannot read {path}: {exc}; give a CSV file with the columns {', '.join(columns)}") from exc
        for r in _read_csv(user_text, columns, str(path)):
            r["source"] = r["source"] or f"user file {path.name}"
            rows[(r[key[0]], r[key[1]])] = r
    return sorted(rows.values(), key=lambda r: (r[key[0]], r[key[1]]))


class PriceBook:
    """The alias and price tables, with fast lookups by (name, date)."""

    def __init__(self, alias_rows: list[dict], price_rows: list[dict]):
        self.alias_rows = alias_rows
        self.price_rows = price_rows
        self._aliases: dict[str, tuple[list[str], list[str]]] = {}
        for r in alias_rows:
            dates, ids = self._aliases.setdefault(r["alias"], ([], []))
            dates.append(r["effective_from"])
            ids.append(r["model_id"])
        self._prices: dict[str, tuple[list[str], list[Price]]] = {}
        for r in price_rows:
            try:
                price = Price(*(float(r[c]) for c in _PRICE_NUMBERS))
            except ValueError as exc:
                raise InputError(f"price of {r['model_id']} from {r['effective_from']}: {exc}; prices are numbers in USD per million tokens") from exc
            dates, prices = self._prices.setdefault(r["model_id"], ([], []))
            dates.append(r["effective_from"])
            prices.append(price)

    @classmethod
    def load(cls, prices: Path | None = None, aliases: Path | None = None) -> "PriceBook":
        """The shipped tables, with rows from the user's CSV files overriding or extending them."""
        alias_rows = _load_rows(aliases, "model_aliases.csv", ALIAS_COLUMNS, ("alias", "effective_from"))
        price_rows = _load_rows(prices, "model_prices.csv", PRICE_COLUMNS, ("model_id", "effective_from"))
        return cls(alias_rows, price_rows)

    def resolve(self, name: str | None, day: str | None) -> str | None:
        """The dated model id that ``name`` meant on ``day`` (``YYYY-MM-DD``), or None if unknown.

        A dated model id that has prices resolves to itself.
        """
        if not name:
            return None
        entry = self._aliases.get(name)
        if entry is None:
            return name if name in self._prices else None
        if day is None:
            return entry[1][-1]
        dates, ids = entry
        i = bisect.bisect_right(dates, day[:10]) - 1
        return ids[i] if i >= 0 else None

    def price(self, model_id: str | None, day: str | None) -> Price | None:
        """The price of ``model_id`` on ``day``; a date before its first row takes the first row."""
        entry = self._prices.get(model_id) if model_id else None
        if entry is None:
            return None
        dates, prices = entry
        if day is None:
            return prices[-1]
        i = bisect.bisect_right(dates, day[:10]) - 1
        return prices[max(i, 0)]

    def cost(self, model_id: str | None, day: str | None, input_tokens, output_tokens, cache_write_tokens,
             cache_read_tokens) -> float | None:
        """USD cost of the tokens, or None when no price covers them."""
        p = self.price(model_id, day)
        if p is None:
            return None
        return (
            (input_tokens or 0) * p.input
            + (output_tokens or 0) * p.output
            + (cache_write_tokens or 0) * p.cache_write_5m
            + (cache_read_tokens or 0) * p.cache_read
        ) / 1_000_000

    def priced(self, model_id: str | None, day: str | None, input_tokens=None, output_tokens=None,
               cache_write_tokens=None, cache_read_tokens=None) -> tuple[float | None, int]:
        """``(cost_usd, unpriced_tokens)`` of one call or message: the cost, or None and the token count when
        no price covers them (never $0). ``(None, 0)`` when no tokens were recorded at all.

        >>> book = PriceBook.load()
        >>> book.priced("no-such-model", "2025-10-01", 100, 10)
        (None, 110)
        >>> book.priced("claude-haiku-4-5-20251001", "2025-10-20")
        (None, 0)
        """
        tokens = (input_tokens, output_tokens, cache_write_tokens, cache_read_tokens)
        if all(t is None for t in tokens):
            return None, 0
        cost = self.cost(model_id, day, *tokens)
        if cost is None:
            return None, sum(t or 0 for t in tokens)
        return cost, 0
