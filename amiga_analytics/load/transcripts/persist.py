"""What a sync keeps of the transcripts between runs: the reader's carried-over state (in ``sync_state``, as JSON)
and the ``tool_uses`` rows; and, for a full rebuild, the transcript rows an earlier sync loaded (files Claude Code
has since deleted keep what was loaded).
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
from datetime import datetime
from typing import Any, Callable

from ...store.connect import open_analytics
from ...timeutil import format_utc, zone
from ..pricing import PriceBook
from .collect import TranscriptSet
from .cost import rates_for, request_cost
from .reading import FileState, legacy_fingerprint
from .records import RequestCopy
from .rows import REQUEST_COLUMNS, TaskIndex

DIRS_KEY = "transcript_dirs"
CARRY_KEY = "transcripts"

USE_COLUMNS = ("tool_use_id", "session_id", "task_id", "agent", "tool_name", "parameters", "secrets_masked", "use_at",
               "result_at", "result", "agent_id", "message_id", "request_id", "model_id")
INSERT_USE_HEAD_SQL = f"INSERT INTO tool_uses ({', '.join(USE_COLUMNS)})"
USE_CONFLICT_SQL = """ON CONFLICT (tool_use_id, bot) DO UPDATE SET
  result_at = CASE WHEN excluded.result <> 'none' THEN excluded.result_at ELSE tool_uses.result_at END,
  result = CASE WHEN excluded.result <> 'none' THEN excluded.result ELSE tool_uses.result END,
  agent_id = COALESCE(excluded.agent_id, tool_uses.agent_id),
  task_id = COALESCE(excluded.task_id, tool_uses.task_id)"""
UPSERT_USE_SQL = f"{INSERT_USE_HEAD_SQL} VALUES ({', '.join(':' + c for c in USE_COLUMNS)})\n{USE_CONFLICT_SQL}"
UPDATE_RESULT_SQL = """UPDATE tool_uses SET result_at = :result_at, result = :result
WHERE tool_use_id = :tool_use_id AND result = 'none'"""
UPDATE_AGENT_SQL = "UPDATE tool_uses SET agent_id = :agent_id WHERE tool_use_id = :tool_use_id AND agent_id IS NULL"
FILL_USE_MODEL_SQL = """UPDATE tool_uses SET model_id = (
    SELECT r.model_id FROM api_requests r WHERE r.message_id = tool_uses.message_id AND r.request_id = tool_uses.request_id)
WHERE model_id IS NULL AND message_id IS NOT NULL"""
GROUP_OF_USE_SQL = "SELECT COALESCE(task_id, session_id) FROM tool_uses WHERE tool_use_id = :tool_use_id"
UNTASKED_SESSIONS_SQL = """SELECT session_id FROM tool_uses WHERE task_id IS NULL AND session_id IS NOT NULL
UNION SELECT session_id FROM api_requests WHERE task_id IS NULL AND session_id IS NOT NULL"""
SET_SESSION_TASK_SQL = [
    "UPDATE tool_uses SET task_id = :task_id WHERE session_id = :session_id AND task_id IS NULL",
    "UPDATE api_requests SET task_id = :task_id WHERE session_id = :session_id AND task_id IS NULL",
]
OLD_REQUESTS_SQL = f"SELECT {', '.join(REQUEST_COLUMNS)} FROM api_requests"
REQUEST_BATCH_SQL = (f"SELECT rowid, {', '.join(REQUEST_COLUMNS)} FROM api_requests WHERE rowid > :after "
                     "ORDER BY rowid LIMIT :n")
BATCH = 5000  # rows copied or repriced at a time
OLD_USES_SQL = f"SELECT {', '.join(USE_COLUMNS)} FROM tool_uses"
INSERT_REQUEST_SQL = (f"INSERT OR REPLACE INTO api_requests ({', '.join(REQUEST_COLUMNS)}) "
                      f"VALUES ({', '.join(':' + c for c in REQUEST_COLUMNS)})")
INSERT_USE_SQL = f"INSERT OR REPLACE INTO tool_uses ({', '.join(USE_COLUMNS)}) VALUES ({', '.join(':' + c for c in USE_COLUMNS)})"


def transcript_call_id(tool_use_id: str) -> int:
    """The ``call_id`` of a call only the transcripts saw: negative (bot call ids are positive row ids) and the
    same in every sync, whatever the order of reads.

    >>> transcript_call_id("toolu_x") < 0
    True
    """
    return -int(hashlib.sha256(tool_use_id.encode("utf-8")).hexdigest()[:12], 16) - 1


# -- the reader's state in sync_state ----------------------------------------------------------------------------

def _pair(key: tuple) -> list:
    return list(key)


def _carry_sections(found: TranscriptSet) -> dict[str, Callable[[], Any]]:
    """The carried state's JSON, a section at a time. ``file_states``: ``"<root>::<rel>"`` → ``[size, offset,
    fingerprint, mtime_ns, file index]``; ``unread_file_index``: the indexes of files seen but never read
    (unreadable). (Not the names of the sections syncs before 2026-12 wrote, ``files`` and ``file_index``: an older
    version of this package given a newer store finds no file state, and reads every file again.)"""
    index = found._file_index
    return {
        "file_states": lambda: {k: [s.size, s.offset, s.fingerprint, s.mtime_ns, index.get(k)]
                                for k, s in found.files.items()},
        "agent_links": lambda: [[s, a, t] for (s, a), t in found.agent_links.items()],
        "session_cwd": lambda: dict(found.session_cwd),
        "task_prompts": lambda: [[s, d, ids] for (s, d), ids in found.task_prompts.items()],
        "agent_prompts": lambda: [[s, a, d] for (s, a), d in found.agent_prompts.items()],
        "unread_file_index": lambda: {k: i for k, i in index.items() if k not in found.files},
    }


def carry_to_json(found: TranscriptSet) -> dict[str, Any]:
    """What :meth:`TranscriptSet.carried_over` keeps, as JSON."""
    return {name: make() for name, make in _carry_sections(found).items()}


def carry_parts(found: TranscriptSet) -> list[str]:
    """``json.dumps(carry_to_json(found))`` in pieces, built one section at a time (only one section's objects
    at once, and the pieces never joined)."""
    parts = ["{"]
    for name, make in _carry_sections(found).items():
        parts.append(f"{', ' if len(parts) > 1 else ''}{json.dumps(name)}: ")
        parts.append(json.dumps(make()))
    parts.append("}")
    return parts


def carry_from_json(data: dict[str, Any] | str | None) -> TranscriptSet:
    """A :class:`TranscriptSet` to continue reading from (an empty one without saved state), from the carried
    state or its JSON text. Each session id is kept once however many sections name it, and each file's key once
    for its state and its index."""
    if isinstance(data, str):
        return carry_from_json(json.loads(data))
    if not data:
        return TranscriptSet()
    files, file_index = _files_from_json(data)
    one: dict[Any, Any] = {}  # session id → its one copy
    return TranscriptSet(
        files=files,
        agent_links={(one.setdefault(s, s), a): t for s, a, t in data.get("agent_links", [])},
        session_cwd={one.setdefault(s, s): c for s, c in data.get("session_cwd", {}).items()},
        task_prompts={(one.setdefault(s, s), d): list(ids) for s, d, ids in data.get("task_prompts", [])},
        agent_prompts={(one.setdefault(s, s), a): d for s, a, d in data.get("agent_prompts", [])},
        _file_index=file_index,
    )


def _files_from_json(data: dict[str, Any]) -> tuple[dict[str, FileState], dict[str, int]]:
    """The files' states and indexes, from the sections :func:`_carry_sections` writes, or from those syncs
    before 2026-12 wrote (``files``: ``[rel, size, offset, "<n>:<sha256>"]``, every file's index in
    ``file_index``)."""
    files: dict[str, FileState] = {}
    index: dict[str, int] = {}
    for key, (_rel, size, offset, fingerprint) in data.get("files", {}).items():
        files[key] = FileState(size, offset, legacy_fingerprint(fingerprint))
    for key, (size, offset, fingerprint, mtime_ns, i) in data.get("file_states", {}).items():
        files[key] = FileState(size, offset, fingerprint, mtime_ns)
        if i is not None:
            index[key] = i
    same_key = {k: k for k in files}
    for section in ("unread_file_index", "file_index"):
        for key, i in data.get(section, {}).items():
            index[same_key.get(key, key)] = i
    return files, index


# -- tool_uses ---------------------------------------------------------------------------------------------------

def _utc(ts: datetime | None) -> str | None:
    return None if ts is None else format_utc(ts)


def late_results(conn: sqlite3.Connection, results: list[tuple[str, str | None, str]]) -> set[str]:
    """Give tool_uses stored by an earlier sync the results read now, ``(tool_use_id, result_at, result)``;
    return the groups that changed."""
    groups: set[str] = set()
    for use_id, result_at, kind in results:
        item = {"tool_use_id": use_id, "result_at": result_at, "result": kind}
        if conn.execute(UPDATE_RESULT_SQL, item).rowcount:
            group = conn.execute(GROUP_OF_USE_SQL, item).fetchone()
            if group is not None:
                groups.add(group[0])
    return groups


def claim_sessions(conn: sqlite3.Connection, index: TaskIndex, session_cwd: dict[str, str]) -> set[str]:
    """Give stored rows of sessions without a task the task that now claims them (a task the bot added since);
    return the groups that changed (old session and new task)."""
    changed: set[str] = set()
    for (session_id,) in conn.execute(UNTASKED_SESSIONS_SQL).fetchall():
        task_id = index.task_for(session_id, session_cwd.get(session_id))
        if task_id is not None:
            for sql in SET_SESSION_TASK_SQL:
                conn.execute(sql, {"task_id": task_id, "session_id": session_id})
            changed |= {session_id, task_id}
    return changed


# -- a full rebuild keeps what earlier syncs loaded ----------------------------------------------------------------

def _reprice(row: dict[str, Any], book: PriceBook, report_tz: str, index: TaskIndex, cwd: dict[str, str]) -> dict:
    ts = datetime.fromisoformat(row["requested_at"]) if row["requested_at"] else None
    copy = RequestCopy(row["message_id"], row["request_id"], row["session_id"], row["agent"], row["model_id"], ts,
                       row["input_tokens"], row["output_tokens"], row["cache_write_5m_tokens"],
                       row["cache_write_1h_tokens"], row["cache_read_tokens"], bool(row["fast"]), row["file"],
                       (0, 0), False)
    day_utc = None if ts is None else ts.date().isoformat()
    row["cost_usd"], row["unpriced_tokens"] = request_cost(rates_for(book, copy.model_id, day_utc), copy)
    row["day"] = None if ts is None else ts.astimezone(zone(report_tz)).date().isoformat()
    row["task_id"] = row["task_id"] or index.task_for(row["session_id"], cwd.get(row["session_id"] or ""))
    return row


REPRICE_REQUEST_SQL = """UPDATE api_requests SET cost_usd = :cost_usd, unpriced_tokens = :unpriced_tokens
WHERE message_id = :message_id AND request_id = :request_id"""


def reprice_requests(conn: sqlite3.Connection, book: PriceBook, report_tz: str, index: TaskIndex,
                     cwd: dict[str, str]) -> None:
    """Recompute every stored request's cost from ``book`` (the price tables changed since the last sync), a
    batch of rows at a time (by rowid: the table is not read while it is written)."""
    last = 0
    while batch := conn.execute(REQUEST_BATCH_SQL, {"after": last, "n": BATCH}).fetchall():
        last = batch[-1][0]
        conn.executemany(REPRICE_REQUEST_SQL, [_reprice(dict(zip(REQUEST_COLUMNS, r[1:])), book, report_tz, index,
                                                        cwd) for r in batch])


def copy_previous(conn: sqlite3.Connection, old_db, book: PriceBook, report_tz: str, index: TaskIndex,
                  cwd: dict[str, str]) -> None:
    """Copy the transcript rows of the analytics database being rebuilt into the new one (days, tasks and costs
    recomputed under this sync's settings and prices), a batch at a time."""
    old = open_analytics(old_db)
    try:
        tables = {r[0] for r in old.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        if "api_requests" in tables:
            rows = old.execute(OLD_REQUESTS_SQL)
            while batch := rows.fetchmany(BATCH):
                conn.executemany(INSERT_REQUEST_SQL, [_reprice(dict(zip(REQUEST_COLUMNS, r)), book, report_tz,
                                                               index, cwd) for r in batch])
        if "tool_uses" in tables:
            rows = old.execute(OLD_USES_SQL)
            while batch := rows.fetchmany(BATCH):
                uses = [dict(zip(USE_COLUMNS, r)) for r in batch]
                for use in uses:
                    use["task_id"] = use["task_id"] or index.task_for(use["session_id"],
                                                                      cwd.get(use["session_id"] or ""))
                conn.executemany(INSERT_USE_SQL, uses)
    finally:
        old.close()
