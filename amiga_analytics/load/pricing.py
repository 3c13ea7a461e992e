"""Model aliases and prices: effective-dated tables, from a maintained price source, overridable by the user.

The bot stores only Claude Code aliases (``sonnet``, ``haiku``, ``opus``) for tasks and undated model names
(``claude-haiku-4-5``) for router messages. :class:`PriceBook` resolves a name on a date to a model id with the
alias table, then finds that model's price on that date with the price table.

Where the rows come from, each later layer replacing rows of the same ``(model_id, effective_from)``:

1. the ``genai-prices`` package (:mod:`.genai_source`): every Anthropic model, its price changes and long-context
   tiers; ``pip install -U genai-prices`` refreshes them;
2. the project's ``data/model_prices.csv``: only what that source lacks or gets wrong, each row with its source
   and a reason;
3. the user's ``--prices`` CSV.

The alias table is the project's ``data/model_aliases.csv`` (each move of an alias dated from a cited source),
then the user's ``--aliases`` CSV.

Cost of one call or message, in USD::

    (input × input_price + output × output_price
     + cache_write × cache_write_5m_price + cache_read × cache_read_price) / 1,000,000

``input_tokens`` in Anthropic's usage excludes cache tokens, so nothing is counted twice. The bot keeps a single
``cache_creation_tokens`` column with no 5-minute / 1-hour split, so cache writes are priced at the 5-minute
rate (a caller that knows the split passes ``cache_write_1h_tokens``). A long-context tier applies only when
the caller passes the request's input size (``request_input_tokens``); the bot's rows never can (a Task call's
tokens sum many requests), so they are priced at the base rate. Tokens of a name that does not resolve, or of a
model with no price, are *unpriced*: counted, never priced at $0.

>>> book = PriceBook.load()
>>> book.resolve("sonnet", "2025-10-01")
'claude-sonnet-4-5-20250929'
>>> book.resolve("sonnet", "2026-11-15")
'claude-sonnet-5-5'
>>> round(book.cost("claude-sonnet-4-5-20250929", "2025-10-01", 1_000_000, 100_000, 0, 0), 6)
4.5
>>> round(book.cost("claude-sonnet-4-5-20250929", "2025-10-01", 1_000_000, 100_000, 0, 0,
...                 request_input_tokens=1_000_000), 6)
8.25
"""

from __future__ import annotations

import bisect
import csv
import hashlib
import io
import json
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from importlib import resources
from pathlib import Path

from ..errors import InputError
from . import genai_source

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
# Optional columns: a long-context tier (every token of a request whose input — input + cache writes + cache
# reads — exceeds the threshold costs the tier prices). Empty when the model has no tier on that date.
TIER_COLUMNS = ("tier_above_input_tokens",) + tuple(f"tier_{c}" for c in _PRICE_NUMBERS)
ALL_PRICE_COLUMNS = PRICE_COLUMNS[:7] + TIER_COLUMNS + ("source",)
FAMILY_ALIASES = ("sonnet", "opus", "haiku")


@dataclass(frozen=True)
class Price:
    """A model's prices on one date, USD per million tokens; ``tier`` the long-context band, if any."""

    input: float
    output: float
    cache_write_5m: float
    cache_write_1h: float
    cache_read: float
    tier_above_input_tokens: int | None = None
    tier: "Price | None" = None

    def band(self, request_input_tokens: int | None) -> "Price":
        """The prices that apply to a request of that input size (None: unknown, the base prices)."""
        if self.tier is None or request_input_tokens is None or self.tier_above_input_tokens is None:
            return self
        return self.tier if request_input_tokens > self.tier_above_input_tokens else self


def _read_csv(text: str, columns: tuple[str, ...], what: str, optional: tuple[str, ...] = ()) -> list[dict]:
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
        clean = {c: (row.get(c) or "").strip() for c in columns + optional}
        if len(clean["effective_from"]) != 10 or clean["effective_from"][4] != "-":
            raise InputError(f"{what}, line {line}: effective_from must be a date YYYY-MM-DD, not {clean['effective_from']!r}")
        rows.append(clean)
    return rows


def _packaged(name: str) -> str:
    return resources.files(__package__).joinpath("data", name).read_text(encoding="utf-8")


def _user_rows(user_file: Path | None, columns: tuple[str, ...], optional: tuple[str, ...] = ()) -> list[dict]:
    if user_file is None:
        return []
    path = Path(user_file)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"cannot read {path}: {exc}; give a CSV file with the columns {', '.join(columns)}") from exc
    rows = _read_csv(text, columns, str(path), optional)
    for r in rows:
        r["source"] = r["source"] or f"user file {path.name}"
    return rows


def _layered(key: tuple[str, str], *layers: list[dict]) -> list[dict]:
    """The rows of all layers, a later layer's row replacing an earlier one with the same key."""
    rows: dict[tuple[str, str], dict] = {}
    for layer in layers:
        for r in layer:
            rows[(r[key[0]], r[key[1]])] = r
    return sorted(rows.values(), key=lambda r: (r[key[0]], r[key[1]]))


def project_price_rows() -> list[dict]:
    """The project's own price rows (what ``genai-prices`` lacks or gets wrong), with their ``reason``."""
    return _read_csv(_packaged("model_prices.csv"), PRICE_COLUMNS, "model_prices.csv", TIER_COLUMNS + ("reason",))


def _tidy(column: str, text: str) -> str:
    """A number as its shortest decimal text ('0.30' → '0.3'), so every layer shows prices alike."""
    if column in ("model_id", "effective_from", "source") or not text:
        return text
    try:
        return format(Decimal(text).normalize(), "f")
    except InvalidOperation:
        return text  # left for _price to report


def _number(row: dict, column: str) -> float:
    try:
        return float(row[column])
    except ValueError as exc:
        raise InputError(f"price of {row['model_id']} from {row['effective_from']}: {column} {row[column]!r} is not "
                         f"a number; prices are numbers in USD per million tokens") from exc


def _price(row: dict) -> Price:
    base = [_number(row, c) for c in _PRICE_NUMBERS]
    threshold = row.get("tier_above_input_tokens") or ""
    if not threshold:
        return _five(base)
    try:
        above = int(threshold)
    except ValueError:
        raise InputError(f"price of {row['model_id']} from {row['effective_from']}: tier_above_input_tokens "
                         f"{threshold!r} is not a whole number of tokens") from None
    tier = [_number(row, f"tier_{c}") if row.get(f"tier_{c}") else b for c, b in zip(_PRICE_NUMBERS, base)]
    return _five(base, tier_above_input_tokens=above, tier=_five(tier))


def _five(numbers: list[float], tier_above_input_tokens: int | None = None, tier: Price | None = None) -> Price:
    """A Price from the five numbers of ``_PRICE_NUMBERS``, in that order."""
    p_input, p_output, cache_write_5m, cache_write_1h, cache_read = numbers
    return Price(p_input, p_output, cache_write_5m, cache_write_1h, cache_read, tier_above_input_tokens, tier)


class PriceBook:
    """The alias and price tables, with fast lookups by (name, date)."""

    def __init__(self, alias_rows: list[dict], price_rows: list[dict]):
        self.alias_rows = alias_rows
        self.price_rows = price_rows
        self.genai_cache: dict = {}  # set by load: the genai-prices rows and their key, for the next load
        self._aliases: dict[str, tuple[list[str], list[str]]] = {}
        for r in alias_rows:
            dates, ids = self._aliases.setdefault(r["alias"], ([], []))
            dates.append(r["effective_from"])
            ids.append(r["model_id"])
        self._prices: dict[str, tuple[list[str], list[Price]]] = {}
        for r in price_rows:
            dates, prices = self._prices.setdefault(r["model_id"], ([], []))
            dates.append(r["effective_from"])
            prices.append(_price(r))

    @classmethod
    def load(cls, prices: Path | None = None, aliases: Path | None = None, *,
             cached: object = None) -> "PriceBook":
        """The default tables (``genai-prices``, then the project's rows), with rows from the user's CSV files
        overriding or extending them. ``cached``: the :attr:`genai_cache` of an earlier load (the previous sync
        keeps it in ``sync_state``); its ``genai-prices`` rows are reused when their key still matches
        (:func:`.genai_source.rows_key`), which saves importing the package (about a second)."""
        alias_rows = _layered(("alias", "effective_from"),
                              _read_csv(_packaged("model_aliases.csv"), ALIAS_COLUMNS, "model_aliases.csv"),
                              _user_rows(aliases, ALIAS_COLUMNS))
        # The day an alias first meant each model: its first price row starts then (genai-prices has no dates).
        first_meant: dict[str, str] = {}
        for r in alias_rows:
            if r["alias"] in FAMILY_ALIASES:
                first_meant[r["model_id"]] = min(first_meant.get(r["model_id"], "9999"), r["effective_from"])
        for r in alias_rows:
            first_meant.setdefault(r["model_id"], genai_source.ALWAYS)
        project = [{c: r.get(c, "") for c in ALL_PRICE_COLUMNS} | {"source": f"{r['source']} (project table: {r['reason']})"}
                   for r in project_price_rows()]
        key = genai_source.rows_key(first_meant)
        if isinstance(cached, dict) and cached.get("key") == key and isinstance(cached.get("rows"), list):
            genai_rows = cached["rows"]
        else:
            genai_rows = genai_source.price_rows(first_meant)
        price_rows = _layered(("model_id", "effective_from"), genai_rows, project,
                              _user_rows(prices, PRICE_COLUMNS, TIER_COLUMNS))
        book = cls(alias_rows, [{c: _tidy(c, r.get(c, "")) for c in ALL_PRICE_COLUMNS} for r in price_rows])
        book.genai_cache = {"key": key, "rows": genai_rows}
        return book

    def digest(self) -> str:
        """A short hash of what costs depend on (alias targets and price numbers, not the source texts): when it
        changes, the costs in an analytics database are out of date."""
        aliases = [(r["alias"], r["effective_from"], r["model_id"]) for r in self.alias_rows]
        prices = [(m, d, p.input, p.output, p.cache_write_5m, p.cache_write_1h, p.cache_read)
                  for m, (dates, ps) in sorted(self._prices.items()) for d, p in zip(dates, ps)]
        return hashlib.sha256(json.dumps([aliases, prices]).encode()).hexdigest()[:16]

    def resolve(self, name: str | None, day: str | None) -> str | None:
        """The model id that ``name`` meant on ``day`` (``YYYY-MM-DD``), or None if unknown.

        A model id that has prices resolves to itself.
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
             cache_read_tokens, *, cache_write_1h_tokens: int | None = None,
             request_input_tokens: int | None = None) -> float | None:
        """USD cost of the tokens, or None when no price covers them.

        ``cache_write_tokens`` are priced as 5-minute writes, ``cache_write_1h_tokens`` as 1-hour writes. Pass
        ``request_input_tokens`` (input + cache writes + cache reads of the one API request these tokens belong
        to) to apply a long-context tier; without it the base prices apply.
        """
        p = self.price(model_id, day)
        if p is None:
            return None
        p = p.band(request_input_tokens)
        total = (
            (input_tokens or 0) * p.input
            + (output_tokens or 0) * p.output
            + (cache_write_tokens or 0) * p.cache_write_5m
            + (cache_read_tokens or 0) * p.cache_read
        )
        if cache_write_1h_tokens:
            total += cache_write_1h_tokens * p.cache_write_1h
        return total / 1_000_000

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

    def has_tier(self, model_id: str | None, day: str | None) -> bool:
        """Whether ``model_id`` charges more for long requests on ``day`` (so a cost without the request's size
        is a floor)."""
        p = self.price(model_id, day)
        return p is not None and p.tier is not None
