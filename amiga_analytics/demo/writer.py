"""Writing the bot database: every row the simulation made, in time order, into a fresh schema-v14 file."""

from __future__ import annotations

from operator import itemgetter
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .simulation import Demo

INSERT_TOOL_USAGE = (
    "INSERT INTO tool_usage (timestamp, task_id, tool_name, success, error, parameters, error_category, "
    "input_tokens, output_tokens, cache_creation_tokens, cache_read_tokens) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)")
INSERT_AGENT_STATUS = "INSERT INTO agent_status (timestamp, task_id, status, message, metadata) VALUES (?, ?, ?, ?, ?)"
INSERT_TASK = (
    "INSERT INTO tasks (task_id, user_id, description, status, created_at, updated_at, model, workspace, agent_type, "
    "result, error, pid, activity_log, session_uuid, workflow, context, current_phase, phase_number, last_agent_type) "
    "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)")
INSERT_MESSAGE = (
    "INSERT INTO messages (user_id, timestamp, role, content, tokens_input, tokens_output, input_method, has_image, "
    "model) VALUES (?, ?, ?, ?, ?, ?, 'text', 0, ?)")
INSERT_USER = ("INSERT INTO users (user_id, username, email, password_hash, created_at, is_admin) "
               "VALUES (?, ?, ?, ?, ?, ?)")
INSERT_DOCUMENT = ("INSERT INTO documents (path, status, created_at, updated_at, archived_at, task_id, notes) "
                   "VALUES (?, ?, ?, ?, ?, ?, ?)")
# Positional placeholders: these are bulk inserts of tuples, where named parameters would cost a dict per row.


def write_database(path: Path, demo: Demo) -> None:
    from ..bot.schema import create_bot_database

    rest = itemgetter(slice(1, None))
    by_time = itemgetter(0)
    for rows in (demo.task_rows, demo.tool_rows, demo.status_rows, demo.message_rows):
        rows.sort(key=by_time)  # stable: simultaneous rows keep their generation order
    db = create_bot_database(path, applied_at=demo.schema_applied_at)
    try:
        conn = db.conn
        # Bulk load into a private temporary file: no fsync, and no WAL (which would write every page twice).
        # The file is switched back to WAL, the bot's mode, before it is closed and moved into place.
        conn.execute("PRAGMA synchronous=OFF")
        conn.execute("PRAGMA cache_size=-262144")
        conn.execute("PRAGMA journal_mode=MEMORY")
        with conn:
            conn.executemany(INSERT_USER, demo.user_rows)
            conn.executemany(INSERT_TASK, map(itemgetter(1), demo.task_rows))
            conn.executemany(INSERT_TOOL_USAGE, map(rest, demo.tool_rows))
            conn.executemany(INSERT_AGENT_STATUS, map(rest, demo.status_rows))
            conn.executemany(INSERT_MESSAGE, map(rest, demo.message_rows))
            conn.executemany(INSERT_DOCUMENT, map(rest, demo.document_rows))
        conn.execute("PRAGMA journal_mode=WAL")
    finally:
        db.close()
