"""The transcripts' step of a sync: read what is new below the transcript directories (given now or remembered
from earlier syncs), store the API requests and tool_uses, and re-join the groups whose calls or transcript rows
changed (:mod:`.witness`). Without any transcript directory the step does nothing.
"""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path
from typing import Any, Callable, Iterable

from ...bot.snapshot import Snapshot
from ..pricing import PriceBook
from ..state import JSONParts
from .discover import projects_dir
from .persist import (
    CARRY_KEY,
    DIRS_KEY,
    carry_from_json,
    carry_parts,
    claim_sessions,
    copy_previous,
    reprice_requests,
)
from .rows import TaskIndex
from .stage import Stage
from .witness import GroupJoiner

TASK_SESSIONS_SQL = "SELECT task_id, {session_uuid}, {workspace} FROM tasks"
CLI_SESSIONS_SQL = "SELECT DISTINCT source_id FROM tool_calls WHERE task_id IS NULL AND call_id > 0"
ALL_GROUPS_SQL = """SELECT COALESCE(task_id, source_id) FROM tool_calls
UNION SELECT COALESCE(task_id, session_id) FROM tool_uses
UNION SELECT COALESCE(task_id, session_id) FROM api_requests"""
HAS_TRANSCRIPT_ROWS_SQL = "SELECT EXISTS (SELECT 1 FROM api_requests) OR EXISTS (SELECT 1 FROM tool_uses)"


def transcript_dirs(given: Iterable[str | os.PathLike], remembered: Iterable[str]) -> list[str]:
    """The projects folders to read: those remembered by earlier syncs, then the ones given now (each checked)."""
    dirs = list(dict.fromkeys(remembered))
    for root in given:
        path = str(projects_dir(os.fspath(root)).resolve())
        if path not in dirs:
            dirs.append(path)
    return dirs


def task_index(snap: Snapshot, conn: sqlite3.Connection | None = None) -> TaskIndex:
    """Which task a session belongs to, from the bot's tasks (session_uuid, the bot's uuid5, the workspace); with
    ``conn`` (the analytics database, its bot calls loaded) the CLI sessions the bot's rows name keep no task."""
    interactive = [s for (s,) in conn.execute(CLI_SESSIONS_SQL) if s] if conn is not None else []
    columns = snap.columns("tasks")
    if "task_id" not in columns:
        return TaskIndex({}, {}, frozenset(interactive))
    sql = TASK_SESSIONS_SQL.format(session_uuid="session_uuid" if "session_uuid" in columns else "NULL",
                                   workspace="workspace" if "workspace" in columns else "NULL")
    rows = [(str(t), s if isinstance(s, str) else None, w if isinstance(w, str) else None)
            for t, s, w in snap.conn.execute(sql) if t is not None]
    return TaskIndex.from_tasks(rows, interactive)


def run_transcripts(conn: sqlite3.Connection, snap: Snapshot, state: dict[str, Any], *, given: list[str],
                    incremental: bool, previous_db: Path | None, book: PriceBook, report_tz: str,
                    report_day: Callable[[str], str], link: Callable[[str | None], tuple | None],
                    bot_groups: set[str], repriced: bool = False) -> GroupJoiner | None:
    """Read and store the transcripts, and undo the join of every group whose calls or transcript rows changed;
    returns the joiner, whose :meth:`~.witness.GroupJoiner.join` of ``joiner.groups`` the sync runs once the bot
    calls' end times are filled (its ``days`` and ``tasks`` are what it touched), or None when no transcript
    directory is known. ``bot_groups``: the groups whose bot calls this sync wrote or removed; ``repriced``: the
    price tables changed since the last sync (every stored request is repriced and every group re-joined)."""
    dirs = transcript_dirs(given, state.get(DIRS_KEY, []))
    if not dirs:
        return None
    index = task_index(snap, conn)
    carried = state.pop(CARRY_KEY, None)  # its JSON text: decoded here, and only the objects built from it kept
    found, had_state = carry_from_json(carried), bool(carried)
    del carried
    if not incremental and previous_db is not None and previous_db.exists() and had_state:
        copy_previous(conn, previous_db, book, report_tz, index, found.session_cwd)
    if incremental and repriced:
        reprice_requests(conn, book, report_tz, index, found.session_cwd)
    stage = Stage(conn, found, book, report_tz)  # streamed into the sync's own transaction, a batch at a time
    for root in dirs:
        if Path(root).is_dir():  # a remembered folder that is gone keeps what was loaded from it
            stage.read(root)
    groups = stage.write(index)
    groups |= claim_sessions(conn, index, found.session_cwd)
    if incremental and not repriced:
        groups |= bot_groups
    else:
        groups = {g for (g,) in conn.execute(ALL_GROUPS_SQL) if g is not None}
    joiner = GroupJoiner(conn, report_day, link)
    joiner.groups = sorted(g for g in groups if g)
    for group in joiner.groups:
        joiner.restore(group)
    state[DIRS_KEY] = dirs
    # What found.carried_over() keeps, as its JSON text (far smaller than the objects for the rest of the sync).
    state[CARRY_KEY] = JSONParts(carry_parts(found))
    return joiner


def check_dirs(given: Iterable[str | os.PathLike]) -> list[str]:
    """The transcript directories a caller gives, as projects folders; raises ``InputError`` for a missing one
    before any work starts."""
    return [str(projects_dir(os.fspath(root)).resolve()) for root in given]
