"""Several bots in one analytics database: the ``bot`` column of every per-bot table (migration m011).

Every table that holds a bot's rows gets ``bot TEXT NOT NULL DEFAULT 'main'`` and the column in its primary key,
because the ids of different bots collide (``tool_usage.id``, task ids, transcript message ids). The key keeps
its id first and ``bot`` after it (:data:`BOT_KEYS`), so the loader's look-ups by id keep using the key's index
inside a one-bot store; the two rank tables, whose look-ups are per bot, tool and day, put ``bot`` first. A store
synced without ``--bot`` is a one-bot store whose rows are all ``main``: the loader never names the column. The
reference tables (``model_aliases``, ``model_prices``) and the internal ``sync_state`` and ``open_call_rows`` stay
one per store. See docs/architecture.md, "Several bots in one store".
"""

from __future__ import annotations

from sqlite_utils import Database

from . import duration_buckets, duration_ranks

BOT_COLUMN = "bot"

# Every per-bot table and its primary key with the bot (in the order the copy step of load/bots.py writes them).
BOT_KEYS: dict[str, tuple[str, ...]] = {
    "tool_calls": ("call_id", "bot"),
    "tasks": ("task_id", "bot"),
    "agent_events": ("event_id", "bot"),
    "router_messages": ("message_id", "bot"),
    "api_requests": ("message_id", "request_id", "bot"),
    "tool_uses": ("tool_use_id", "bot"),
    "tool_daily": ("day", "tool_name", "model_id", "agent_type", "outcome", "error_category", "bot"),
    "duration_ranks": ("bot", "tool_name", "day", "rank"),
    "duration_buckets": ("bot", "tool_name", "bucket", "day"),
    "duration_ranks_by_agent": ("bot", "tool_name", "day", "model_id", "agent_type", "rank"),  # m012, with bot
    "latency_totals": ("bot", "tool_name"),  # m012, with bot (no primary key: one row per bot and tool)
    "syncs": ("sync_id", "bot"),
    "data_quality": ("sync_id", "check_name", "bot"),
}
RANK_TABLES = {"duration_ranks": duration_ranks, "duration_buckets": duration_buckets}

BOT_DESCRIPTION = "The bot the row belongs to: its --bot name, or 'main' in a store synced without --bot."


def m011_bots(db: Database) -> None:
    """The ``bot`` column, in the primary key of every per-bot table; existing rows become bot ``main``.
    SQLite cannot change a primary key in place: sqlite-utils ``transform`` rebuilds each table (its indexes
    recreated), and the two rank tables are rebuilt from the calls."""
    for table, key in BOT_KEYS.items():
        if table in RANK_TABLES or not db.table(table).exists():  # m012's tables come later, with the column
            continue
        if BOT_COLUMN not in db.table(table).columns_dict:
            db.table(table).add_column(BOT_COLUMN, str, not_null_default="main")
        if tuple(db.table(table).pks) != key:
            db.table(table).transform(pk=key)
    for table, module in RANK_TABLES.items():
        if BOT_COLUMN not in db.table(table).columns_dict:
            db.execute(f"DROP TABLE IF EXISTS {table}")
            db.execute(module.CREATE_SQL)
            db.execute(module.FILL_ALL_SQL)
