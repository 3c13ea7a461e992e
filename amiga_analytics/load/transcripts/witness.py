"""The join, inside a sync: the transcripts as the second witness of the bot's calls, and the cost of each call.

Per *group* (a bot task, else the session id a CLI session's rows carry), after the bot's calls are loaded:

- each logical call from the bot's rows is matched to its tool_use (:func:`.join.match`); the pair gets
  ``witness = 'both'`` and the tool_use's id. Where the transcript has a result, it decides: ``is_error`` gives
  ``failure``, else ``success``; the duration runs from the call's start (the bot's pre-hook time, else the
  tool_use line's time) to the tool_result's time. A result that reports Claude Code's interruption ("[Request
  interrupted by user for tool use]") is not a failure: the call did not complete, so its outcome is ``unknown``
  and ``interrupted = 1``; a tool_use without a result is ``unknown`` too. The bot's own values stay in
  ``bot_outcome``, ``bot_ended_at``, ``bot_duration_ms``, ``bot_error_category``.
- a tool_use no bot row witnessed becomes a call of its own (``witness = 'transcript'``, negative ``call_id``).
- **cost**: when the group's transcript was read (it has API requests), every call of the group takes its cost
  from the transcript (``cost_witness = 'transcript'``): a call's cost is its share of the cost of the API request
  that issued it, the request's cost split equally among that request's tool_uses. Requests that issued no
  tool_use are *turns without tools*. So the calls' costs plus the turns without tools add up to the cost of all
  requests, to the cent. The bot's tokens of a covered group (its sub-agent Task calls) are not added: the
  sub-agents' own requests are in the transcript. Groups without a transcript keep the bot's tokens
  (``cost_witness = 'bot'``).

A group is re-joined whole (:meth:`GroupJoiner.restore`, then :meth:`GroupJoiner.join`) whenever its bot calls or
its transcript rows changed, so an incremental sync gives what a full sync gives.
"""

from __future__ import annotations

import sqlite3
from collections import defaultdict
from datetime import datetime
from typing import Any, Callable

from ..rows import _call_details
from .join import BotCall, TranscriptCall, match
from .persist import transcript_call_id

# "+task_id": the task_id index is for the first branch; the second searches by source_id (the task_id index
# would scan every call of no task, for every group).
_GROUP = "((task_id = :g) OR (+task_id IS NULL AND source_id = :g))"
_USE_GROUP = "((task_id = :g) OR (task_id IS NULL AND session_id = :g))"
GROUP_DAYS_SQL = f"SELECT DISTINCT day FROM tool_calls WHERE {_GROUP}"
DELETE_TRANSCRIPT_CALLS_SQL = f"DELETE FROM tool_calls WHERE call_id < 0 AND {_GROUP}"
RESTORE_BOT_SQL = f"""UPDATE tool_calls SET
    outcome = COALESCE(bot_outcome, outcome),
    ended_at = CASE WHEN bot_outcome IS NOT NULL THEN bot_ended_at ELSE ended_at END,
    duration_ms = CASE WHEN bot_outcome IS NOT NULL THEN bot_duration_ms ELSE duration_ms END,
    error_category = CASE WHEN bot_outcome IS NOT NULL THEN bot_error_category ELSE error_category END,
    bot_outcome = NULL, bot_ended_at = NULL, bot_duration_ms = NULL, bot_error_category = NULL,
    witness = 'bot', tool_use_id = NULL, interrupted = 0, cost_witness = 'bot', transcript_cost_usd = NULL,
    transcript_unpriced_tokens = NULL
WHERE {_GROUP} AND (witness <> 'bot' OR cost_witness <> 'bot')"""
BOT_CALLS_SQL = f"""SELECT call_id, tool_name, parameters, started_at, time_issue FROM tool_calls
WHERE call_id > 0 AND {_GROUP}"""
GROUP_USES_SQL = f"""SELECT tool_use_id, session_id, task_id, tool_name, parameters, secrets_masked, use_at, result_at,
       result, message_id, request_id, model_id
FROM tool_uses WHERE {_USE_GROUP} ORDER BY rowid"""
GROUP_REQUESTS_SQL = """SELECT message_id, request_id, cost_usd, unpriced_tokens
FROM api_requests WHERE ((task_id = :g) OR (task_id IS NULL AND session_id = :g))"""
SET_BOTH_SQL = """UPDATE tool_calls SET witness = 'both', tool_use_id = :tool_use_id, interrupted = :interrupted,
    bot_outcome = outcome, bot_ended_at = ended_at, bot_duration_ms = duration_ms, bot_error_category = error_category,
    outcome = :outcome, ended_at = :ended_at, duration_ms = :duration_ms,
    error_category = CASE WHEN :outcome = 'failure' THEN error_category END
WHERE call_id = :call_id"""
SET_COST_SQL = f"""UPDATE tool_calls SET cost_witness = 'transcript', transcript_cost_usd = NULL,
    transcript_unpriced_tokens = NULL WHERE {_GROUP}"""
SET_SHARE_SQL = """UPDATE tool_calls SET transcript_cost_usd = :cost, transcript_unpriced_tokens = :unpriced
WHERE call_id = :call_id"""
TRANSCRIPT_CALL_COLUMNS = (
    "call_id", "source_id", "task_id", "tool_name", "subagent_type", "file_path", "started_at", "ended_at",
    "duration_ms", "day", "outcome", "has_tokens", "model_alias", "model_id", "agent_type", "parameters",
    "secrets_masked", "source_rows", "witness", "tool_use_id", "interrupted", "cost_witness",
)
INSERT_TRANSCRIPT_CALL_SQL = (f"INSERT OR REPLACE INTO tool_calls ({', '.join(TRANSCRIPT_CALL_COLUMNS)}) "
                              f"VALUES ({', '.join(':' + c for c in TRANSCRIPT_CALL_COLUMNS)})")
RACE_S = 0.01


def _ts(text: str | None) -> datetime | None:
    return None if text is None else datetime.fromisoformat(text)


def _result(use: dict, started_at: str | None) -> dict[str, Any]:
    """outcome, interrupted, ended_at and duration_ms from a tool_use's result."""
    kind = use["result"]
    if kind not in ("success", "failure"):
        return {"outcome": "unknown", "interrupted": int(kind == "interrupted"), "ended_at": None, "duration_ms": None}
    # The tool_use line's time is the start, except where Claude Code wrote one line per message: that line is
    # timed when the message began, before its calls, so the bot's pre-hook time is taken when it lies between
    # the line and the result (and not within RACE_S of the line: the bot's copy rows race by milliseconds).
    start, use_at, end = _ts(started_at), _ts(use["use_at"]), _ts(use["result_at"])
    if (start is None or use_at is None or (start - use_at).total_seconds() <= RACE_S
            or (end is not None and start > end)):
        start = use_at
    duration = None if start is None or end is None or end < start else (end - start).total_seconds() * 1000
    return {"outcome": kind, "interrupted": 0, "ended_at": use["result_at"], "duration_ms": duration}


class GroupJoiner:
    """Re-join groups inside the sync's transaction; ``report_day(utc_text)`` gives a call's day, ``link(task)``
    the ``(task_id, model alias, agent type)`` of a task or None."""

    def __init__(self, conn: sqlite3.Connection, report_day: Callable[[str], str],
                 link: Callable[[str | None], tuple | None]):
        self.conn = conn
        self.report_day = report_day
        self.link = link
        self.days: set[str] = set()
        self.tasks: set[str] = set()
        self.groups: list[str] = []  # the groups to join

    def restore(self, group: str) -> None:
        """Undo the group's join: drop its transcript-only calls, give its bot calls back their own values (the
        sync then fills the end times the bot's rows allow, as for any bot call, before :meth:`join`)."""
        p = {"g": group}
        self.days |= {d for (d,) in self.conn.execute(GROUP_DAYS_SQL, p) if d is not None}
        self.conn.execute(DELETE_TRANSCRIPT_CALLS_SQL, p)
        self.conn.execute(RESTORE_BOT_SQL, p)

    def join(self, group: str) -> None:
        """Match the group's bot calls to its tool_uses, add the calls only the transcripts saw, share the cost."""
        p = {"g": group}
        rows = self.conn.execute(BOT_CALLS_SQL, p).fetchall()
        calls = [BotCall(r[0], r[1], r[2], _ts(r[3]), r[4]) for r in rows]
        cols = ("tool_use_id", "session_id", "task_id", "tool_name", "parameters", "secrets_masked", "use_at",
                "result_at", "result", "message_id", "request_id", "model_id")
        uses = {r[0]: dict(zip(cols, r)) for r in self.conn.execute(GROUP_USES_SQL, p)}
        requests = {(r[0], r[1]): (r[2], r[3]) for r in self.conn.execute(GROUP_REQUESTS_SQL, p)}
        if not uses and not requests:
            return
        matched = match(calls, [TranscriptCall(u["tool_use_id"], u["tool_name"], u["parameters"], _ts(u["use_at"]),
                                               _ts(u["result_at"]), i) for i, u in enumerate(uses.values())])
        started = {r[0]: r[3] for r in rows}
        call_of_use: dict[str, int] = {use_id: call_id for call_id, use_id in matched.items()}
        self.conn.executemany(SET_BOTH_SQL, [{"call_id": call_id, "tool_use_id": use_id,
                                              **_result(uses[use_id], started[call_id])}
                                             for call_id, use_id in matched.items()])
        for use_id, use in uses.items():
            if use_id not in call_of_use and use["use_at"] is not None:
                call_of_use[use_id] = self._insert(use)
        if requests:
            self._costs(p, uses, requests, call_of_use)
        self.days |= {d for (d,) in self.conn.execute(GROUP_DAYS_SQL, p) if d is not None}
        if self.link(group) is not None:
            self.tasks.add(group)

    def _insert(self, use: dict) -> int:
        link = self.link(use["task_id"]) if use["task_id"] else None
        tool = use["tool_name"] or "unknown"
        subagent, file_path = _call_details(tool, use["parameters"])
        call_id = transcript_call_id(use["tool_use_id"])
        self.conn.execute(INSERT_TRANSCRIPT_CALL_SQL, {
            "call_id": call_id, "source_id": use["task_id"] or use["session_id"], "task_id": use["task_id"],
            "tool_name": tool, "subagent_type": subagent, "file_path": file_path, "started_at": use["use_at"],
            **_result(use, None), "day": self.report_day(use["use_at"]), "has_tokens": 0,
            "model_alias": link[1] if link else None, "model_id": use["model_id"],
            "agent_type": link[2] if link else "cli_session", "parameters": use["parameters"],
            "secrets_masked": use["secrets_masked"] or 0, "source_rows": 0, "witness": "transcript",
            "tool_use_id": use["tool_use_id"], "cost_witness": "bot",
        })
        return call_id

    def _costs(self, p: dict, uses: dict[str, dict], requests: dict, call_of_use: dict[str, int]) -> None:
        """Every call of the group takes its cost from the transcript: its share of its request's cost."""
        self.conn.execute(SET_COST_SQL, p)
        per_request: dict[tuple, list[dict]] = defaultdict(list)
        for use in uses.values():
            per_request[(use["message_id"] or "", use["request_id"] or "")].append(use)
        shares = []
        for key, group_uses in per_request.items():
            if key not in requests:
                continue
            cost, unpriced = requests[key]
            group_uses.sort(key=lambda u: (u["use_at"] or "", u["tool_use_id"]))
            for i, use in enumerate(group_uses):
                if use["tool_use_id"] in call_of_use:
                    shares.append({"call_id": call_of_use[use["tool_use_id"]],
                                   "cost": None if cost is None else cost / len(group_uses),
                                   "unpriced": (unpriced or 0) if i == 0 else 0})
        self.conn.executemany(SET_SHARE_SQL, shares)

