"""Read the live bot database: read-only, one consistent snapshot, any schema version 1..14.

The bot keeps writing (WAL) while we read. :func:`open_snapshot` opens the file with ``mode=ro`` (the bot's
file is never written and no write lock is ever taken) and starts one read transaction; in WAL mode that pins
one consistent snapshot of every table without blocking the bot's writers. Columns are always selected by name,
and a column an older schema lacks is read as NULL, so a v1 database reads with v14 meaning.
"""

from __future__ import annotations

import sqlite3
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

from ..sqlitefile import read_only_connection
from .check import check_bot_database

# Every column the sync reads, per bot table, in the order the sync expects them.
COLUMNS = {
    "tool_usage": (
        "id", "timestamp", "task_id", "tool_name", "parameters", "success", "error", "error_category",
        "input_tokens", "output_tokens", "cache_creation_tokens", "cache_read_tokens",
    ),
    "tasks": (
        "task_id", "user_id", "status", "created_at", "updated_at", "model", "agent_type", "workflow",
        "last_agent_type", "current_phase", "session_uuid", "description", "error",
    ),
    "agent_status": ("id", "timestamp", "task_id", "status", "message", "metadata"),
    "messages": (
        "id", "user_id", "timestamp", "role", "content", "tokens_input", "tokens_output", "input_method", "model",
    ),
}

TOOL_USAGE_COUNTS_SQL = "SELECT COUNT(*), COALESCE(SUM(success IS NULL), 0) FROM tool_usage WHERE id <= :watermark"
MAX_ID_SQL = "SELECT COALESCE(MAX(id), 0) FROM {table}"


class Snapshot:
    """A read transaction on the bot database, with helpers that select by column name."""

    def __init__(self, conn: sqlite3.Connection, path: Path, version: int):
        self.conn = conn
        self.path = path
        self.version = version
        self._columns: dict[str, set[str]] = {}

    def has_table(self, table: str) -> bool:
        return bool(self.columns(table))

    def columns(self, table: str) -> set[str]:
        if table not in self._columns:
            rows = self.conn.execute(f"PRAGMA table_info([{table}])").fetchall()
            self._columns[table] = {r[1] for r in rows}
        return self._columns[table]

    def select_list(self, table: str) -> str:
        """``a, b, NULL AS c``: the wanted columns of ``table``, NULL for the ones this schema lacks."""
        present = self.columns(table)
        return ", ".join(f"[{c}]" if c in present else f"NULL AS [{c}]" for c in COLUMNS[table])

    def rows(self, table: str, where: str = "", params: dict | None = None, order: str = "") -> sqlite3.Cursor:
        if not self.has_table(table):
            return self.conn.execute("SELECT 1 WHERE 0")
        sql = f"SELECT {self.select_list(table)} FROM [{table}]"
        if where:
            sql += f" WHERE {where}"
        if order:
            sql += f" ORDER BY {order}"
        return self.conn.execute(sql, params or {})

    def max_id(self, table: str) -> int:
        if not self.has_table(table):
            return 0
        return self.conn.execute(MAX_ID_SQL.format(table=table)).fetchone()[0]

    def tool_usage_counts(self, watermark: int) -> tuple[int, int]:
        """(rows, rows with success NULL) among ids up to the watermark: how the sync notices rewritten history."""
        return tuple(self.conn.execute(TOOL_USAGE_COUNTS_SQL, {"watermark": watermark}).fetchone())


def _lenient_text(data: bytes) -> str:
    return data.decode("utf-8", "replace")


def is_undecodable_text(exc: BaseException) -> bool:
    """True for the error SQLite's default text conversion raises on text that is not valid UTF-8."""
    return isinstance(exc, sqlite3.OperationalError) and "decode" in str(exc)


@contextmanager
def open_snapshot(path: Path | str, *, lenient_text: bool = False) -> Iterator[Snapshot]:
    """Validate ``path`` as a bot database and hold one consistent read snapshot of it while the block runs.

    Text is decoded by SQLite's fast default; ``lenient_text`` decodes invalid UTF-8 (the bot stores whatever a
    tool printed) with replacement characters instead, for the rare database that needs it.
    """
    path = Path(path)
    version = check_bot_database(path)
    conn = read_only_connection(path, check_same_thread=False)
    conn.isolation_level = None  # we issue BEGIN ourselves
    if lenient_text:
        conn.text_factory = _lenient_text
    try:
        conn.execute("PRAGMA query_only = 1")
        conn.execute("BEGIN")
        # The first read starts the snapshot; everything read until the end of the block sees the same data.
        conn.execute("SELECT COUNT(*) FROM sqlite_master").fetchone()
        yield Snapshot(conn, path, version)
    finally:
        try:
            conn.rollback()
        finally:
            conn.close()
