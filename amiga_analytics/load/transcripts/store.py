"""Writing transcript rows into an open analytics database (the ``api_requests`` table).

A row replaces the stored row of the same ``(message_id, request_id)`` only when its token total is larger (the
dedup rule, applied across syncs), so writing the rows of an incremental read merges them with what earlier
reads stored, and rows of a file that was since deleted stay.
"""

from __future__ import annotations

import sqlite3
from typing import Iterable

from sqlite_utils import Database

from .rows import REQUEST_COLUMNS

_UPDATED = [c for c in REQUEST_COLUMNS[2:] if c != "parent_tool_use_id"]
INSERT_REQUEST_HEAD_SQL = f"INSERT INTO api_requests ({', '.join(REQUEST_COLUMNS)})"
REQUEST_CONFLICT_SQL = (
    "ON CONFLICT (message_id, request_id, bot) DO UPDATE SET\n"
    + "".join(f"  {c} = excluded.{c},\n" for c in _UPDATED)
    + """  parent_tool_use_id = COALESCE(excluded.parent_tool_use_id, api_requests.parent_tool_use_id)
WHERE excluded.input_tokens + excluded.output_tokens + excluded.cache_write_5m_tokens
      + excluded.cache_write_1h_tokens + excluded.cache_read_tokens
    > api_requests.input_tokens + api_requests.output_tokens + api_requests.cache_write_5m_tokens
      + api_requests.cache_write_1h_tokens + api_requests.cache_read_tokens"""
)
UPSERT_REQUEST_SQL = (f"{INSERT_REQUEST_HEAD_SQL}\nVALUES ({', '.join(':' + c for c in REQUEST_COLUMNS)})\n"
                      f"{REQUEST_CONFLICT_SQL}")
LINK_AGENT_SQL = """UPDATE api_requests SET parent_tool_use_id = :tool_use_id
WHERE session_id = :session_id AND agent = :agent AND parent_tool_use_id IS NULL"""


def _conn(db: Database | sqlite3.Connection) -> sqlite3.Connection:
    return db.conn if isinstance(db, Database) else db


def write_requests(db: Database | sqlite3.Connection, rows: Iterable[dict]) -> int:
    """Insert or merge request rows (dicts with :data:`~.rows.REQUEST_COLUMNS`) in one transaction, into an open
    analytics database that has the ``api_requests`` table; returns how many rows were given."""
    batch = [{c: row.get(c) for c in REQUEST_COLUMNS} for row in rows]
    conn = _conn(db)
    with conn:
        conn.executemany(UPSERT_REQUEST_SQL, batch)
    return len(batch)


def link_agents(db: Database | sqlite3.Connection, links: Iterable[tuple[str | None, str, str]]) -> None:
    """Record ``(session_id, agent, task_tool_use_id)`` links (:meth:`TranscriptSet.spawn_links`) on stored rows
    that have none yet: a Task's result can arrive in a later read than its sub-agent's requests."""
    params = [{"session_id": s, "agent": a, "tool_use_id": t} for s, a, t in links if s is not None]
    conn = _conn(db)
    with conn:
        conn.executemany(LINK_AGENT_SQL, params)
