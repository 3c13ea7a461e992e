"""The price table in force on a date, for ``amiga-analytics prices``: each model's prices, where they come
from, and which aliases resolve to it on that date.

>>> text = render(PriceBook.load(), at="2026-08-01", model="sonnet", fmt="csv")
>>> text.splitlines()[1].split(",")[:4]
['claude-sonnet-5', '2026-06-30', '2', '10']
"""

from __future__ import annotations

import csv
import io
import json
from datetime import date

from ..errors import InputError
from .pricing import ALL_PRICE_COLUMNS, PriceBook

FORMATS = ("table", "csv", "json")
# Column → header of the table format (the csv and json formats keep the column names).
SHORT = {
    "model_id": "model_id", "effective_from": "from", "input_usd_per_mtok": "input",
    "output_usd_per_mtok": "output", "cache_write_5m_usd_per_mtok": "write_5m",
    "cache_write_1h_usd_per_mtok": "write_1h", "cache_read_usd_per_mtok": "read",
    "tier_above_input_tokens": "tier_above", "tier_input_usd_per_mtok": "t_input",
    "tier_output_usd_per_mtok": "t_output", "tier_cache_write_5m_usd_per_mtok": "t_write_5m",
    "tier_cache_write_1h_usd_per_mtok": "t_write_1h", "tier_cache_read_usd_per_mtok": "t_read",
    "aliases": "aliases", "source": "source",
}
COLUMNS = tuple(c for c in ALL_PRICE_COLUMNS if c != "source") + ("aliases", "source")
TIER_NOTE = ("tier_*: a request whose input (input + cache tokens) exceeds tier_above tokens "
        "pays the tier prices; the bot's rows give no request sizes, so their costs use the base prices.")
NOTE = "USD per million tokens. " + TIER_NOTE


def _check_day(at: str | None) -> str:
    if at is None:
        return date.today().isoformat()
    try:
        return date.fromisoformat(str(at)[:10]).isoformat()
    except ValueError:
        raise InputError(f"--at {at!r} is not a date: give YYYY-MM-DD, e.g. --at 2026-08-01") from None


def rows_in_force(book: PriceBook, at: str | None = None, model: str | None = None) -> tuple[str, list[dict]]:
    """``(day, rows)``: for each model with a price row on or before ``day`` (default today), the row in force,
    with ``aliases`` listing the names that resolve to it on that day. ``model`` (an id or an alias) keeps only
    the model it names on that day."""
    day = _check_day(at)
    wanted = None
    if model is not None:
        wanted = book.resolve(model, day)
        if wanted is None:
            raise InputError(f"--model {model!r} names no priced model on {day}: give a model id or an alias "
                             f"(sonnet, opus, haiku), see `amiga-analytics prices --at {day}`")
    in_force: dict[str, dict] = {}
    for r in book.price_rows:  # sorted by model, then date: the last one on or before the day wins
        if r["effective_from"] <= day:
            in_force[r["model_id"]] = r
    names: dict[str, list[str]] = {}
    for alias in sorted({r["alias"] for r in book.alias_rows}):
        target = book.resolve(alias, day)
        if target is not None:
            names.setdefault(target, []).append(alias)
    rows = [r | {"aliases": " ".join(names.get(m, []))} for m, r in sorted(in_force.items())
            if wanted is None or m == wanted]
    return day, rows


def render(book: PriceBook, *, at: str | None = None, model: str | None = None, fmt: str = "table") -> str:
    """The table in force on ``at`` as text: ``table`` (aligned, with a heading), ``csv`` or ``json``."""
    if fmt not in FORMATS:
        raise InputError(f"--format {fmt!r}: choose one of {', '.join(FORMATS)}")
    day, rows = rows_in_force(book, at, model)
    if fmt == "json":
        aliases = {alias: book.resolve(alias, day) for alias in sorted({r["alias"] for r in book.alias_rows})}
        return json.dumps({"at": day, "note": NOTE, "prices": [{c: _json_value(c, r.get(c, "")) for c in COLUMNS}
                                                                for r in rows],
                           "aliases": {k: v for k, v in aliases.items() if v is not None}}, indent=2) + "\n"
    if fmt == "csv":
        out = io.StringIO()
        writer = csv.DictWriter(out, fieldnames=COLUMNS, extrasaction="ignore", lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)
        return out.getvalue()
    return _aligned(day, rows)


def _json_value(column: str, text: str):
    """Prices as numbers and a missing tier as null in the json format; texts as they are."""
    if column in ("model_id", "effective_from", "aliases", "source"):
        return text
    if text == "":
        return None
    return int(text) if column == "tier_above_input_tokens" else float(text)


def _aligned(day: str, rows: list[dict]) -> str:
    columns = [c for c in COLUMNS if c == "model_id" or any(r.get(c) for r in rows)]
    table = [[SHORT[c] for c in columns]] + [[str(r.get(c, "")) for c in columns] for r in rows]
    widths = [max(len(line[i]) for line in table) for i in range(len(columns) - 1)]
    lines = ["  ".join(cell.ljust(w) for cell, w in zip(line, widths)) + "  " + line[-1] for line in table]
    note = f"\n{TIER_NOTE}" if "tier_above_input_tokens" in columns else ""
    return f"Prices in force on {day}, USD per million tokens\n" + "\n".join(lines) + note + "\n"
