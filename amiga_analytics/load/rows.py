"""Row builders: one bot row (or merged call) in, one analytics row out.

:class:`RowBuilder` converts times to UTC and report days, resolves models and prices tokens on the row's day,
masks secrets, hashes user ids with the salt, and counts what it had to drop (``invalid_values``) or mask in the
append-only streams (``secrets_streams``) in the ``counts`` it is given.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping, MutableMapping
from datetime import datetime
from functools import lru_cache
from typing import Any

from ..timeutil import TimeConverter
from .calls import CallFacts
from .memo import MaskMemo
from .merge import CATEGORY, ERROR, PARAMS, SOURCE, TCR, TCW, TIN, TOOL, TOUT, TS, outcome_of
from .pricing import PriceBook
from .redact import tool_name_of
from .salt import user_ref
from .templates import derived

FINAL_STATUSES = ("completed", "failed", "stopped")
FILE_TOOLS = {"Read", "Write", "Edit", "MultiEdit", "NotebookEdit"}
MAX_TOKENS = 100_000_000  # per call; larger or negative counts are not believable and are dropped

#: (task_id, model alias, agent_type) of the task a call or event belongs to
Link = tuple[str, str | None, str]


class RowBuilder:
    def __init__(self, conv: TimeConverter, book: PriceBook, salt: str, links: Mapping[str, Link],
                 counts: MutableMapping[str, int], *, default_model: str | None, keep_message_content: bool):
        self.conv = conv
        self.book = book
        self.salt = salt
        self.links = links
        self.counts = counts
        self.default_model = default_model
        self.keep_message_content = keep_message_content
        self.masks: dict[str, int] = {}  # what this run masked, by carrier (redact.CARRIERS)
        self.mask = MaskMemo()  # redact.mask, once per distinct text

    # -- values ----------------------------------------------------------------------------------------------

    def user_ref(self, user_id: object) -> str | None:
        return user_ref(self.salt, user_id)

    def masked(self, text: object, limit: int | None = None, carrier: str = "agent messages") -> str | None:
        """``text`` with secrets masked (then cut to ``limit`` characters); counts what it masked."""
        value, n = self.mask(text_of(text))
        self.counts["secrets_streams"] += n
        self.tally(carrier, n)
        return cut(value, limit)

    def tally(self, carrier: str, n: int) -> None:
        """Count ``n`` masks in one kind of carrier (parameters, tool errors, task descriptions, …)."""
        if n:
            self.masks[carrier] = self.masks.get(carrier, 0) + n

    def tokens(self, value: Any) -> int | None:
        """A token count, or None (counted as an invalid value) if it is no count or not believable."""
        if value is None:
            return None
        try:
            number = int(value)
        except (TypeError, ValueError):
            self.counts["invalid_values"] += 1
            return None
        if isinstance(value, float) and value != number or not (0 <= number <= MAX_TOKENS):
            self.counts["invalid_values"] += 1
            return None
        return number

    def link(self, source_id: object) -> Link | None:
        return self.links.get(str(source_id)) if source_id is not None else None

    # -- rows ------------------------------------------------------------------------------------------------

    def call_row(self, call: CallFacts) -> tuple:
        """The ``tool_calls`` row of one merged call (columns in :data:`~.sql.TOOL_CALL_COLUMNS` order), from its
        :meth:`~.calls.Call.facts`."""
        first = call.first
        result = call.result
        outcome = outcome_of(result)
        source_id = text_of(first[SOURCE])
        started_at, day, time_issue = self.conv.convert(first[TS])
        ended_at, duration_ms = self._end(started_at, call.completion_time)
        tool = text_of(first[TOOL]) or "unknown"
        error = category = None
        if outcome == "failure" and result is not None:
            error, category = text_of(result[ERROR]), text_of(result[CATEGORY])
        tokens = (None,) * 4 if result is None else tuple(self.tokens(result[i]) for i in (TIN, TOUT, TCW, TCR))
        link = self.link(source_id)
        task_id, model_alias, agent_type = link if link is not None else (None, self.default_model, "cli_session")
        # Aliases and prices are looked up on the call's day in the report timezone, as the queries do.
        model_id = self.book.resolve(model_alias, day)
        cost, unpriced = self.book.priced(model_id, day, *tokens)
        params, n_params = self.mask(text_of(first[PARAMS]))
        error, n_error = self.mask(error)
        self.tally("parameters", n_params)
        self.tally("tool errors", n_error)
        subagent, file_path = _call_details(tool, params)
        return (
            call.call_id, source_id, task_id, tool, subagent, file_path, started_at, ended_at, duration_ms, day,
            outcome, error, category, *tokens, int(any(t is not None for t in tokens)), model_alias, model_id,
            cost, unpriced, agent_type, params, n_params + n_error, time_issue, call.source_rows, call.last_row_id,
            *derived(tool, error, params),  # error_template, program: from the masked texts
        )

    def _end(self, started_at: str | None, end_text: str | None) -> tuple[str | None, float | None]:
        """The call's end (UTC) and duration in ms; an end before the start is dropped."""
        ended_at = self.conv.convert(end_text)[0] if end_text is not None else None
        if not (started_at and ended_at):
            return ended_at, None
        if ended_at < started_at:
            return None, None
        delta = datetime.fromisoformat(ended_at) - datetime.fromisoformat(started_at)
        return ended_at, delta.total_seconds() * 1000

    def event_row(self, row: tuple) -> tuple:
        """The ``agent_events`` row of one ``agent_status`` row (columns as :data:`~.sql.INSERT_EVENT_SQL`)."""
        event_id, ts, source_id, status, message, metadata = row
        at, day, _ = self.conv.convert(ts)
        tool_name = tool_success = None
        if status == "tool_call" and metadata:
            meta = _tool_meta(metadata) if isinstance(metadata, str) else _read_meta(metadata)
            if meta is None:
                self.counts["invalid_values"] += 1
            elif meta:
                tool_name, repaired, tool_success = meta
                self.counts["invalid_values"] += repaired
                tool_name = self.masked(tool_name, 200, "tool names")
        link = self.link(source_id)
        return (event_id, source_id, link[0] if link else None, at, day, status, self.masked(message, 2000),
                tool_name, tool_success)

    def task_record(self, row: tuple, finish_event: Callable[[str, str], str | None]) -> dict[str, Any]:
        """The ``tasks`` record (params of :data:`~.sql.UPSERT_TASK_SQL`) of one bot task row with a task_id.

        ``finish_event(task_id, status)`` is the time of the task's last event of that final status, if any."""
        (task_id, user_id, status, created_at, updated_at, model, agent_type, workflow, last_agent_type,
         current_phase, _session_uuid, description, error) = row
        task_id = str(task_id)
        created, created_day, _ = self.conv.convert(created_at)
        finished = finished_day = cycle = None
        if status in FINAL_STATUSES:
            finished = finish_event(task_id, status) or self.conv.convert(updated_at)[0]
            if finished is not None:
                finished_day = self.conv.report_day(finished)
                if created is not None:
                    cycle = (datetime.fromisoformat(finished) - datetime.fromisoformat(created)).total_seconds()
        masked_description, n_description = self.mask(text_of(description))
        masked_error, n_error = self.mask(text_of(error))
        self.tally("task descriptions", n_description)
        self.tally("task errors", n_error)
        return {
            "task_id": task_id, "status": status, "created_at": created, "finished_at": finished,
            "cycle_s": cycle, "created_day": created_day, "finished_day": finished_day,
            "model_alias": model, "model_id": self.book.resolve(model, created_day),
            "agent_type": agent_type or "code_agent", "workflow": workflow,
            "last_subagent": last_agent_type or current_phase, "user_ref": self.user_ref(user_id),
            "description": cut(masked_description, 200), "error": cut(masked_error, 2000),
            "error_kind": error_kind(masked_error), "bot_updated_at": text_of(updated_at),
            "secrets_masked": n_description + n_error,
        }

    def message_row(self, row: tuple) -> tuple:
        """The ``router_messages`` row of one bot ``messages`` row (columns as :data:`~.sql.INSERT_MESSAGE_SQL`)."""
        message_id, user_id, ts, role, content, tokens_in, tokens_out, input_method, model = row
        at, day, _ = self.conv.convert(ts)
        tin, tout = self.tokens(tokens_in), self.tokens(tokens_out)
        model_id = self.book.resolve(model, day)
        cost, unpriced = self.book.priced(model_id, day, tin, tout)
        text = content if isinstance(content, str) else None
        created_task = int(role == "assistant" and text is not None and text.startswith("BACKGROUND_TASK"))
        kept = self.masked(text, carrier="router messages") if self.keep_message_content else None
        return (message_id, self.user_ref(user_id), at, day, role, input_method, created_task, model, model_id,
                tin, tout, cost, unpriced, kept)


def _read_meta(metadata: object) -> tuple | None:
    """(tool name, whether it was repaired, tool success) of a ``tool_call`` event's metadata; () when it is no
    JSON object, None when it is no JSON."""
    try:
        meta = json.loads(metadata)  # type: ignore[arg-type]  # bytes or text; anything else is invalid
    except (ValueError, TypeError):
        return None
    if not isinstance(meta, dict):
        return ()
    tool_name, repaired = tool_name_of(meta.get("tool"))
    success = meta.get("success")
    return tool_name, repaired, None if success is None else int(bool(success))


_tool_meta = lru_cache(maxsize=4096)(_read_meta)  # the metadata texts of tool_call events repeat


def _call_details(tool: str, params: str | None) -> tuple[str | None, str | None]:
    """(subagent_type, file_path) from the JSON parameters of a Task or file tool call."""
    if not params or not (tool == "Task" or tool in FILE_TOOLS):
        return None, None
    try:
        parsed = json.loads(params)
    except ValueError:
        return None, None
    if not isinstance(parsed, dict):
        return None, None
    if tool == "Task":
        subagent = parsed.get("subagent_type")
        return (subagent if isinstance(subagent, str) else None), None
    file_path = parsed.get("file_path") or parsed.get("notebook_path")
    return None, (file_path if isinstance(file_path, str) else None)


def text_of(value: object) -> str | None:
    """A bot value as text: bytes decoded leniently, numbers formatted, None kept."""
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    return str(value)


def cut(text: str | None, limit: int | None) -> str | None:
    if text is None or limit is None or len(text) <= limit:
        return text
    return text[:limit] + "…"


_ERROR_KINDS = (
    (re.compile(r"^\[(\w+)\]"), None),
    (re.compile(r"^Claude produced no output", re.I), "no_output"),
    (re.compile(r"^Claude produced minimal output", re.I), "minimal_output"),
    (re.compile(r"^Task execution error", re.I), "execution_error"),
    (re.compile(r"^Failed to start", re.I), "start_failed"),
    (re.compile(r"^Task was pending for more than", re.I), "stale_pending"),
    (re.compile(r"bot restart|bot shutdown", re.I), "bot_restart"),
    (re.compile(r"by user|user request", re.I), "user_stopped"),
    (re.compile(r"^Error:", re.I), "error"),
)


def error_kind(error: object) -> str | None:
    """A short class of a task's error text (bot-data.md §2.3): timeout, dead_process, no_output, …

    >>> error_kind("[timeout] No updates for 31.0min (timeout: 30min)")
    'timeout'
    >>> error_kind("Task stopped by user")
    'user_stopped'
    """
    if not error or not isinstance(error, str):
        return None
    for pattern, kind in _ERROR_KINDS:
        match = pattern.search(error)
        if match:
            return kind or match.group(1)
    return "other"
