"""``sync BOT_DB ANALYTICS_DB --bot NAME``: one bot of a store with several (docs/architecture.md, "Several bots in
one store").

The bot database is synced, by the unchanged single-bot :func:`~.sync.sync`, into the bot's own *shadow* store
``ANALYTICS_DB.bots/NAME.db`` (its state, watermarks and rewrite detection are the shadow's, so per bot). Then,
in one write transaction on ``ANALYTICS_DB``, the bot's rows are replaced by the shadow's, tagged with its name:
the other bots' rows are not touched, and a bot added later rebuilds nothing of the others. The registry of the
store's bots is the ``sync_state`` key ``bots`` (:func:`.bots.registry`).

The copy writes only what changed (:func:`_copy_changes`): per table, the shared store's rows of the bot that the
shadow no longer holds as they are (``EXCEPT``, which compares NULLs as equal) are deleted by their key, and the
shadow's rows that the shared store does not hold are inserted. Reading both sides costs far less than rewriting
every row with its indexes, and the result holds exactly the rows a full replacement writes.
"""

from __future__ import annotations

import json
import os
import sqlite3
from pathlib import Path
from typing import Any

from sqlite_utils import Database

from ..bot.snapshot import SnapshotChanged, open_snapshot
from ..store import schema as analytics_schema
from ..store import zone_offsets
from ..store.bots_schema import BOT_COLUMN, BOT_KEYS
from . import sync as single
from .bots import PRICES_KEY, REGISTRY_KEY, REGISTRY_KEYS, check_bot_name, check_new_bot, registry, shadow_path
from .pricing import PriceBook
from .state import UNKNOWN_MODELS_KEY, SyncResult, read_state, source_identity

COLUMNS_SQL = "SELECT name FROM pragma_table_info(:table, :schema) ORDER BY cid"
COPY_BOT_SQL = "INSERT INTO main.{table} (bot, {columns}) SELECT :bot, {columns} FROM shadow.{table}"
ANY_ROW_SQL = "SELECT EXISTS (SELECT 1 FROM main.{table} WHERE bot = :bot)"
# The two sides of a table, as rows of the same columns (EXCEPT: set difference, NULL equal to NULL).
GONE_SQL = """CREATE TEMP TABLE bot_gone AS SELECT {columns} FROM main.{table} WHERE bot = :bot
EXCEPT SELECT {columns} FROM shadow.{table}"""
ADDED_SQL = """CREATE TEMP TABLE bot_added AS SELECT {columns} FROM shadow.{table}
EXCEPT SELECT {columns} FROM main.{table} WHERE bot = :bot"""
GONE_INDEX_SQL = "CREATE INDEX temp.bot_gone_key ON bot_gone ({key})"
DELETE_GONE_SQL = """DELETE FROM main.{table} WHERE bot = :bot
  AND EXISTS (SELECT 1 FROM temp.bot_gone AS gone WHERE {match})"""
INSERT_ADDED_SQL = "INSERT INTO main.{table} (bot, {columns}) SELECT :bot, {columns} FROM temp.bot_added"
READ_STATE_SQL = "SELECT key, value FROM main.sync_state"
PUT_STATE_SQL = "INSERT OR REPLACE INTO main.sync_state (key, value) VALUES (:key, :value)"
CALLS_OF_BOT_SQL = "SELECT COUNT(*) FROM main.tool_calls WHERE bot = :bot"


def sync_bot(bot_db: str | os.PathLike, analytics_db: str | os.PathLike, *, bot: str, **options: Any) -> SyncResult:
    """Sync ``bot_db`` as bot ``bot`` of the shared store ``analytics_db``; ``options`` are :func:`.sync.sync`'s
    (``source_tz``, ``report_tz``, ``prices``, ``transcripts``, …), applied to the bot's shadow store. Raises
    ``InputError``, before any file is written, for a bad name, a bot database registered under another name, or a
    report zone or price tables other than the other bots'."""
    name = check_bot_name(bot)
    bot_path, shared = Path(bot_db), Path(analytics_db)
    single._check_target(bot_path, shared)
    bots = registry(read_state(shared, REGISTRY_KEYS))
    shadow = shadow_path(shared, name)
    check_new_bot(bots, name, _entry(bot_path, shadow, options), bot_path, shared)
    made_dir = not shadow.parent.exists()
    shadow.parent.mkdir(exist_ok=True)
    try:
        result = single.sync(bot_path, shadow, **options)
    except BaseException:
        if made_dir and not any(shadow.parent.iterdir()):
            shadow.parent.rmdir()
        raise
    state = read_state(shadow, ("source", "report_tz", PRICES_KEY, UNKNOWN_MODELS_KEY))
    entry = {"source": state.get("source", ""), "report_tz": state.get("report_tz"),
             "prices_digest": state.get(PRICES_KEY), "unknown_models": state.get(UNKNOWN_MODELS_KEY) or []}
    result.bot, result.bot_calls = name, copy_bot(shadow, shared, name, entry, bot_path)
    result.analytics_db = shared
    return result


def _entry(bot_db: Path, shadow: Path, options: dict[str, Any]) -> dict[str, Any]:
    """What this sync would register: the bot database's identity, its report zone and price tables' digest."""
    source = _source(bot_db)
    prices, aliases = options.get("prices"), options.get("aliases")
    book = PriceBook.load(None if prices is None else Path(prices), None if aliases is None else Path(aliases))
    settings = single._settings(read_state(shadow, single.SETTINGS_KEYS), book, source_tz=options.get("source_tz"),
                                report_tz=options.get("report_tz"), default_model=None, keep_message_content=False)
    return {"source": source, "report_tz": settings["report_tz"], "prices_digest": book.digest()}


def _source(bot_db: Path) -> str:
    """The bot database's identity, read in place if it is at rest with no ``-wal`` (no copy), else as the sync
    reads it."""
    try:
        with open_snapshot(bot_db, in_place=True) as snap:
            source = source_identity(snap)
            snap.verify()
            return source
    except SnapshotChanged:
        with open_snapshot(bot_db) as snap:
            return source_identity(snap)


def copy_bot(shadow: Path, shared: Path, name: str, entry: dict[str, Any], bot_db: Path) -> int:
    """Replace bot ``name``'s rows of every per-bot table of ``shared`` by the shadow's, and register the bot as
    ``entry``, in one write transaction (a new ``shared`` is created, and removed again if the copy fails). The
    registry is read again inside the transaction, so two bots synced at once both stay registered. Returns the
    bot's calls."""
    new = not shared.exists()
    conn = sqlite3.connect(shared, isolation_level=None, timeout=30, uri=True)
    try:
        conn.execute("ATTACH DATABASE ? AS shadow", (shadow.resolve().as_uri() + "?mode=ro",))
        conn.execute("BEGIN IMMEDIATE")
        try:
            analytics_schema.migrate(Database(conn))
            bots = registry({k: json.loads(v) for k, v in conn.execute(READ_STATE_SQL)})
            check_new_bot(bots, name, entry, bot_db, shared)
            _copy_rows(conn, name)
            bots[name] = entry
            conn.execute(PUT_STATE_SQL, {"key": REGISTRY_KEY, "value": json.dumps(bots, sort_keys=True)})
            conn.execute(PUT_STATE_SQL, {"key": "report_tz", "value": json.dumps(entry["report_tz"])})
            zone_offsets.write(conn, entry["report_tz"])
            calls = int(conn.execute(CALLS_OF_BOT_SQL, {"bot": name}).fetchone()[0])
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise
    except BaseException:
        conn.close()
        if new:
            shared.unlink(missing_ok=True)
        raise
    conn.close()
    return calls


def _copy_rows(conn: sqlite3.Connection, name: str) -> None:
    for table, key in BOT_KEYS.items():
        theirs = {r[0] for r in conn.execute(COLUMNS_SQL, {"table": table, "schema": "shadow"})}
        columns = [c for (c,) in conn.execute(COLUMNS_SQL, {"table": table, "schema": "main"})
                   if c != BOT_COLUMN and c in theirs]
        if conn.execute(ANY_ROW_SQL.format(table=table), {"bot": name}).fetchone()[0]:
            _copy_changes(conn, name, table, columns, [k for k in key if k != BOT_COLUMN])
        else:  # the bot's first copy (or a table it had no rows in): every row is new
            conn.execute(COPY_BOT_SQL.format(table=table, columns=", ".join(columns)), {"bot": name})


def _copy_changes(conn: sqlite3.Connection, name: str, table: str, columns: list[str], key: list[str]) -> None:
    """Make bot ``name``'s rows of ``table`` those of the shadow, writing only the rows that differ: the stale ones
    are deleted by their key (NULL-safe), the new or changed ones inserted."""
    listed, bot = ", ".join(columns), {"bot": name}
    conn.execute(GONE_SQL.format(table=table, columns=listed), bot)
    conn.execute(ADDED_SQL.format(table=table, columns=listed), bot)
    try:
        conn.execute(GONE_INDEX_SQL.format(key=", ".join(key)))
        match = " AND ".join(f"gone.{k} IS main.{table}.{k}" for k in key)
        conn.execute(DELETE_GONE_SQL.format(table=table, match=match), bot)
        conn.execute(INSERT_ADDED_SQL.format(table=table, columns=listed), bot)
    finally:
        conn.execute("DROP TABLE temp.bot_gone")
        conn.execute("DROP TABLE temp.bot_added")
