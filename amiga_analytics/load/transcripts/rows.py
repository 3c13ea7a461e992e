"""Rows from a :class:`~.collect.TranscriptSet`: one per deduplicated API request, one per tool_use.

A session belongs to a bot task when its id is ``uuid5(NAMESPACE_DNS, "agentlab.task.<task_id>")`` (what the bot
passes to ``claude --session-id``; also ``tasks.session_uuid``), or when its ``cwd`` is the workspace (worktree)
of exactly one task. :class:`TaskIndex` takes that mapping from the caller (the sync feeds it from the bot's
tasks); interactive CLI sessions get no task, and a session the bot's rows name as one (its id is the
``tool_usage.task_id`` of calls of no task) is never given a task by its ``cwd``: a developer may work in the
folder of a task.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from pathlib import PurePosixPath
from typing import Any, Iterable

from ...timeutil import format_utc, zone
from ..pricing import PriceBook
from .collect import TranscriptSet
from .cost import rates_for, request_cost
from .records import NONE

TASK_NAMESPACE_PREFIX = "agentlab.task."


def task_session_uuid(task_id: str) -> str:
    """The session id the bot passes to Claude Code for a task.

    >>> task_session_uuid("93a008")
    '960ade91-8b41-56c8-ae86-a8d53ad9190c'
    """
    return str(uuid.uuid5(uuid.NAMESPACE_DNS, TASK_NAMESPACE_PREFIX + task_id))


@dataclass(frozen=True)
class TaskIndex:
    """Which bot task a session belongs to: by session id, else by a workspace unique to one task."""

    by_session: dict[str, str]
    by_workspace: dict[str, str]
    interactive: frozenset[str] = frozenset()  # session ids the bot's rows know as CLI sessions

    @classmethod
    def from_tasks(cls, tasks: Iterable[tuple[str, str | None, str | None]],
                   interactive: Iterable[str] = ()) -> "TaskIndex":
        """From ``(task_id, session_uuid or None, workspace or None)`` triples (the bot's ``tasks`` rows), and the
        CLI sessions the bot's rows name."""
        by_session: dict[str, str] = {}
        workspaces: dict[str, set[str]] = {}
        for task_id, session_uuid, workspace in tasks:
            by_session[task_session_uuid(task_id)] = task_id
            if session_uuid:
                by_session[session_uuid] = task_id
            if workspace:
                workspaces.setdefault(str(PurePosixPath(workspace)), set()).add(task_id)
        unique = {w: next(iter(ids)) for w, ids in workspaces.items() if len(ids) == 1}
        return cls(by_session, unique, frozenset(interactive) - set(by_session))

    def task_for(self, session_id: str | None, cwd: str | None) -> str | None:
        if session_id and session_id in self.by_session:
            return self.by_session[session_id]
        if not cwd or session_id in self.interactive:
            return None
        path = PurePosixPath(cwd)
        for candidate in (path, *path.parents):  # the workspace itself or a folder inside it
            if str(candidate) in self.by_workspace:
                return self.by_workspace[str(candidate)]
        return None


NO_TASKS = TaskIndex({}, {})

REQUEST_COLUMNS = (
    "message_id", "request_id", "session_id", "task_id", "agent", "parent_tool_use_id", "model_id", "requested_at",
    "day", "input_tokens", "output_tokens", "cache_write_5m_tokens", "cache_write_1h_tokens", "cache_read_tokens",
    "context_tokens", "fast", "cost_usd", "unpriced_tokens", "file",
)


def _day(ts: datetime | None, tz: str) -> str | None:
    return None if ts is None else ts.astimezone(zone(tz)).date().isoformat()


def request_rows(found: TranscriptSet, *, report_tz: str = "UTC", tasks: TaskIndex = NO_TASKS,
                 book: PriceBook | None = None) -> list[dict[str, Any]]:
    """One dict per deduplicated request (keys :data:`REQUEST_COLUMNS`), in time order.

    ``day`` is the request's date in ``report_tz``; prices come from the request's own model on its UTC date.
    """
    book = book or PriceBook.load()
    links = found.spawn_links()
    rows = []
    for copy in found.requests.values():
        cost, unpriced = request_cost(rates_for(book, copy.model_id, _day(copy.timestamp, "UTC")), copy)
        rows.append({
            "message_id": copy.message_id, "request_id": copy.request_id, "session_id": copy.session_id,
            "task_id": tasks.task_for(copy.session_id, found.session_cwd.get(copy.session_id or "")),
            "agent": copy.agent, "parent_tool_use_id": links.get((copy.session_id, copy.agent)),
            "model_id": copy.model_id,
            "requested_at": None if copy.timestamp is None else format_utc(copy.timestamp),
            "day": _day(copy.timestamp, report_tz), "input_tokens": copy.input, "output_tokens": copy.output,
            "cache_write_5m_tokens": copy.cache_write_5m, "cache_write_1h_tokens": copy.cache_write_1h,
            "cache_read_tokens": copy.cache_read, "context_tokens": copy.context_tokens, "fast": int(copy.fast),
            "cost_usd": cost, "unpriced_tokens": unpriced, "file": copy.file,
        })
    rows.sort(key=lambda r: (r["requested_at"] or "", r["message_id"], r["request_id"]))
    return rows


@dataclass(frozen=True)
class ToolUseRow:
    """One tool_use and its result. ``input`` is the raw tool input, for matching in memory only."""

    tool_use_id: str
    session_id: str | None
    task_id: str | None
    agent: str
    tool_name: str | None
    input: Any
    use_ts: datetime | None
    result_ts: datetime | None
    is_error: bool | None  # None: no result
    result: str  # success, failure, interrupted or none
    agent_id: str | None  # Task calls: the sub-agent they spawned
    message_id: str | None  # the request that issued the call
    request_id: str


def _spawned(found: TranscriptSet) -> dict[str, str]:
    """Task tool_use id → the sub-agent id it spawned (see :meth:`TranscriptSet.spawn_links`)."""
    return {use_id: agent for (_, agent), use_id in found.spawn_links().items()}


def tool_use_rows(found: TranscriptSet, *, tasks: TaskIndex = NO_TASKS) -> list[ToolUseRow]:
    """One row per tool_use id, in time order (the tool_uses of one line in their order on it)."""
    spawned = _spawned(found)
    rows = []
    for use in found.tool_uses.values():
        result = found.results.get(use.tool_use_id)
        rows.append(ToolUseRow(
            use.tool_use_id, use.session_id, tasks.task_for(use.session_id, found.session_cwd.get(use.session_id or "")),
            use.agent, use.tool_name, use.input, use.use_ts, None if result is None else result.result_ts,
            None if result is None else result.is_error, NONE if result is None else result.kind,
            spawned.get(use.tool_use_id), use.message_id, use.request_id,
        ))
    # Stable on ties: the tool_uses of one line (one message) stay in their content order, the order of the calls.
    rows.sort(key=lambda r: (r.use_ts is None, r.use_ts or datetime.min))
    return rows
