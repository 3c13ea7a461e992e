"""Repricing in place: when the price or alias tables change, recompute every cost in the analytics database.

A sync records :meth:`PriceBook.digest` in ``sync_state``. When the next incremental sync finds another digest
(``pip install -U genai-prices``, a new ``--prices`` or ``--aliases`` file), it does not re-read the bot: it loads
the new tables into temporary tables and recomputes, in SQL over the analytics database,

- ``tool_calls.model_id``, ``cost_usd`` and ``unpriced_tokens``,
- ``tasks.model_id`` (the task totals are then rebuilt by the sync for every task whose calls changed),
- ``router_messages.model_id``, ``cost_usd`` and ``unpriced_tokens``,

and hands the sync the days and tasks whose figures changed, so it rebuilds their ``tool_daily`` rollups and task
totals as for new rows. The SQL does the arithmetic of :meth:`PriceBook.priced` in the same order, so a repriced
database equals a full sync with the new tables. Like the sync's own pricing it uses the base prices: the bot's
rows do not give request sizes, so long-context tiers cannot apply.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass, field

from .pricing import ALL_PRICE_COLUMNS, PriceBook

STATE_KEY = "prices_digest"
OPEN_END = "~"  # sorts after every date: the end of the last window
NO_DAY = "9999-12-31"  # a row without a day takes the last alias and price rows, as PriceBook does

CREATE_WINDOWS_SQL = (
    "CREATE TEMP TABLE IF NOT EXISTS reprice_aliases (alias TEXT, from_day TEXT, to_day TEXT, model_id TEXT)",
    """CREATE TEMP TABLE IF NOT EXISTS reprice_prices (model_id TEXT, from_day TEXT, to_day TEXT, p_in REAL,
       p_out REAL, p_cw REAL, p_cr REAL)""",
    "DELETE FROM temp.reprice_aliases",
    "DELETE FROM temp.reprice_prices",
)
INSERT_ALIAS_WINDOW_SQL = "INSERT INTO temp.reprice_aliases VALUES (:alias, :from_day, :to_day, :model_id)"
INSERT_PRICE_WINDOW_SQL = """INSERT INTO temp.reprice_prices
    VALUES (:model_id, :from_day, :to_day, :p_in, :p_out, :p_cw, :p_cr)"""
# What PriceBook.resolve does: an alias → its model on that day (None before its first row); a priced model id
# → itself; anything else → NULL.
RESOLVE_SQL = """CASE
    WHEN {name} IN (SELECT alias FROM temp.reprice_aliases) THEN (
        SELECT a.model_id FROM temp.reprice_aliases a
        WHERE a.alias = {name} AND a.from_day <= COALESCE({day}, '""" + NO_DAY + """')
          AND COALESCE({day}, '""" + NO_DAY + """') < a.to_day)
    WHEN {name} IN (SELECT model_id FROM temp.reprice_prices) THEN {name} END"""
PRICE_ROW_SQL = """FROM temp.reprice_prices p WHERE p.model_id = {table}.model_id
    AND p.from_day <= COALESCE({table}.day, '""" + NO_DAY + """') AND COALESCE({table}.day, '""" + NO_DAY + """') < p.to_day"""
# What PriceBook.priced does, in its order of arithmetic.
COST_SQL = """CASE WHEN {no_tokens} THEN NULL ELSE (
    SELECT ({tin} * p.p_in + {tout} * p.p_out + {tcw} * p.p_cw + {tcr} * p.p_cr) / 1000000.0 """ + PRICE_ROW_SQL + """) END"""
UNPRICED_SQL = """CASE WHEN {no_tokens} THEN 0 WHEN EXISTS (SELECT 1 """ + PRICE_ROW_SQL + """) THEN 0
    ELSE {tin} + {tout} + {tcw} + {tcr} END"""

_CALL_TOKENS = {
    "no_tokens": "input_tokens IS NULL AND output_tokens IS NULL AND cache_write_tokens IS NULL "
                 "AND cache_read_tokens IS NULL",
    "tin": "COALESCE(input_tokens, 0)", "tout": "COALESCE(output_tokens, 0)",
    "tcw": "COALESCE(cache_write_tokens, 0)", "tcr": "COALESCE(cache_read_tokens, 0)",
}
_MESSAGE_TOKENS = _CALL_TOKENS | {
    "no_tokens": "input_tokens IS NULL AND output_tokens IS NULL", "tcw": "0", "tcr": "0",
}

KEEP_OLD_CALLS_SQL = """CREATE TEMP TABLE reprice_old_calls AS
    SELECT call_id, task_id, day, model_id, cost_usd, unpriced_tokens FROM tool_calls"""
REPRICE_CALLS_SQL = ("UPDATE tool_calls SET model_id = " + RESOLVE_SQL.format(name="model_alias", day="day"),
                     "UPDATE tool_calls SET cost_usd = " + COST_SQL.format(table="tool_calls", **_CALL_TOKENS)
                     + ", unpriced_tokens = " + UNPRICED_SQL.format(table="tool_calls", **_CALL_TOKENS))
CHANGED_CALLS_SQL = """SELECT o.task_id, o.day, c.task_id, c.day FROM tool_calls c JOIN temp.reprice_old_calls o
    USING (call_id)
    WHERE c.model_id IS NOT o.model_id OR c.cost_usd IS NOT o.cost_usd OR c.unpriced_tokens IS NOT o.unpriced_tokens"""
REPRICE_TASKS_SQL = """UPDATE tasks SET model_id = {resolve}
    WHERE model_id IS NOT ({resolve})""".format(resolve=RESOLVE_SQL.format(name="model_alias", day="created_day"))
KEEP_OLD_MESSAGES_SQL = """CREATE TEMP TABLE reprice_old_messages AS
    SELECT message_id, model_id, cost_usd, unpriced_tokens FROM router_messages"""
REPRICE_MESSAGES_SQL = ("UPDATE router_messages SET model_id = " + RESOLVE_SQL.format(name="model", day="day"),
                        "UPDATE router_messages SET cost_usd = "
                        + COST_SQL.format(table="router_messages", **_MESSAGE_TOKENS) + ", unpriced_tokens = "
                        + UNPRICED_SQL.format(table="router_messages", **_MESSAGE_TOKENS))
MESSAGES_CHANGED_SQL = """SELECT COUNT(*) FROM router_messages r JOIN temp.reprice_old_messages o USING (message_id)
    WHERE r.model_id IS NOT o.model_id OR r.cost_usd IS NOT o.cost_usd OR r.unpriced_tokens IS NOT o.unpriced_tokens"""
WRITE_ALIASES_SQL = "INSERT INTO model_aliases VALUES (:alias, :effective_from, :model_id, :source)"
WRITE_PRICES_SQL = "INSERT INTO model_prices ({}) VALUES ({})".format(
    ", ".join(ALL_PRICE_COLUMNS), ", ".join(f":{c}" for c in ALL_PRICE_COLUMNS))


@dataclass
class Repriced:
    """What a reprice changed: counts, and the days and tasks whose rollups and totals must be rebuilt."""

    reason: str = ""
    calls: int = 0
    tasks: int = 0
    messages: int = 0
    days: set = field(default_factory=set)
    task_ids: set = field(default_factory=set)

    def summary(self) -> str:
        """The line a sync prints, or '' when nothing was repriced."""
        if not self.reason:
            return ""
        return (f"prices changed ({self.reason}): repriced in place, {self.calls:,} call costs, {self.tasks:,} task "
                f"models, {self.messages:,} router message costs changed; {len(self.days):,} days of rollups rebuilt")


def write_reference_tables(conn: sqlite3.Connection, book: PriceBook) -> None:
    """Replace the ``model_aliases`` and ``model_prices`` tables with the book's rows (numbers as REAL, an empty
    tier as NULL)."""
    conn.execute("DELETE FROM model_aliases")
    conn.execute("DELETE FROM model_prices")
    conn.executemany(WRITE_ALIASES_SQL, book.alias_rows)
    conn.executemany(WRITE_PRICES_SQL, [_typed(r) for r in book.price_rows])


def _typed(row: dict) -> dict:
    out = {}
    for column in ALL_PRICE_COLUMNS:
        value = row.get(column, "")
        if column in ("model_id", "effective_from", "source"):
            out[column] = value
        elif value == "":
            out[column] = None
        else:
            out[column] = int(value) if column == "tier_above_input_tokens" else float(value)
    return out


def reprice_if_changed(conn: sqlite3.Connection, book: PriceBook, state: dict, incremental: bool) -> Repriced:
    """Record the book's digest in ``state``; in an incremental sync whose previous digest differs, reprice every
    cost in place first. A full sync prices everything as it loads, so it only records the digest."""
    digest = book.digest()
    previous = state.get(STATE_KEY)
    state[STATE_KEY] = digest
    if not incremental or previous == digest:
        return Repriced()
    return reprice(conn, book, reason=f"tables {previous or 'unrecorded'} → {digest}")


def reprice(conn: sqlite3.Connection, book: PriceBook, *, reason: str = "tables changed") -> Repriced:
    """Recompute model ids and costs of every call, task and router message from ``book``, in place."""
    _load_windows(conn, book)
    done = Repriced(reason=reason)
    conn.execute("DROP TABLE IF EXISTS temp.reprice_old_calls")
    conn.execute(KEEP_OLD_CALLS_SQL)
    for sql in REPRICE_CALLS_SQL:
        conn.execute(sql)
    for old_task, old_day, new_task, new_day in conn.execute(CHANGED_CALLS_SQL):
        done.calls += 1
        done.days.update(d for d in (old_day, new_day) if d is not None)
        done.task_ids.update(t for t in (old_task, new_task) if t is not None)
    conn.execute("DROP TABLE temp.reprice_old_calls")
    done.tasks = conn.execute(REPRICE_TASKS_SQL).rowcount
    done.messages = _reprice_messages(conn)
    return done


def _reprice_messages(conn: sqlite3.Connection) -> int:
    conn.execute("DROP TABLE IF EXISTS temp.reprice_old_messages")
    conn.execute(KEEP_OLD_MESSAGES_SQL)
    for sql in REPRICE_MESSAGES_SQL:
        conn.execute(sql)
    changed = conn.execute(MESSAGES_CHANGED_SQL).fetchone()[0]
    conn.execute("DROP TABLE temp.reprice_old_messages")
    return changed


def _load_windows(conn: sqlite3.Connection, book: PriceBook) -> None:
    """The alias and price rows as ``[from_day, to_day)`` windows; a model's first price window starts at ''
    (a day before its first row takes that row, as :meth:`PriceBook.price` does)."""
    for sql in CREATE_WINDOWS_SQL:
        conn.execute(sql)
    aliases: list[tuple[dict, dict]] = []
    prices: list[tuple[dict, dict]] = []
    for rows, key, out in ((book.alias_rows, "alias", aliases), (book.price_rows, "model_id", prices)):
        for i, r in enumerate(rows):
            following = rows[i + 1] if i + 1 < len(rows) else None
            first = i == 0 or rows[i - 1][key] != r[key]
            same_next = following is not None and following[key] == r[key]
            to_day = following["effective_from"] if following is not None and same_next else OPEN_END
            window = {key: r[key], "to_day": to_day,
                      "from_day": "" if (first and out is prices) else r["effective_from"]}
            out.append((r, window))
    conn.executemany(INSERT_ALIAS_WINDOW_SQL, [w | {"model_id": r["model_id"]} for r, w in aliases])
    conn.executemany(INSERT_PRICE_WINDOW_SQL, [w | _base_prices(book, r) for r, w in prices])


def _base_prices(book: PriceBook, row: dict) -> dict:
    p = book.price(row["model_id"], row["effective_from"])
    assert p is not None  # the row is one of the book's own price rows
    return {"p_in": p.input, "p_out": p.output, "p_cw": p.cache_write_5m, "p_cr": p.cache_read}
