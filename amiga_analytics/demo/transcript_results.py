"""A tool call's result in the transcript (the ``tool_result`` line and what follows it), and its truth.

What the result says follows what the bot saw (see :mod:`.transcripts`): ``success`` and ``failure`` (the call's
error text, ``is_error``) as the bot recorded them; for a call the bot never saw completed, ``hook_ok`` /
``hook_failed`` in a bot task (the post-hook failed: the result is there, and a hook warning line after it) and
``interrupted`` / ``rejected`` in a CLI session. A result that would come at or after the moment the process
stopped is not written (the call has no result).
"""

from __future__ import annotations

import random
from collections import Counter
from typing import TYPE_CHECKING, Any

from .transcript_files import Conversation, SessionFiles
from .transcript_lines import HOOK_REASONS, HOOK_WARNING, INTERRUPTED, REJECTED, Ids, UtcText, success_payload
from .transcript_plan import Item

if TYPE_CHECKING:
    from .calls import Call
    from .clock import Clock

HOOK_FAILED_P = 0.15  # of the bot-task calls whose post-hook failed, the share whose tool failed too
INTERRUPTED_P = 0.75  # of the CLI calls the bot never saw completed, the share the user interrupted (else rejected)
RESULT_OF = {"success": "success", "hook_ok": "success", "failure": "failure", "hook_failed": "failure",
             "rejected": "failure", "interrupted": "interrupted"}
OUTCOME_OF = {"success": "success", "failure": "failure", "interrupted": "unknown", "none": "unknown"}
GENERIC_ERRORS = {"Bash": "Exit code 1", "Read": "<tool_use_error>File does not exist.</tool_use_error>"}


class Results:
    """The result part of :class:`.transcripts.TranscriptWriter`."""

    rng: random.Random
    ids: Ids
    utc: UtcText
    clock: Clock
    _state: tuple  # (plan, files, info, alias, day, nested) of the session being written

    def _counts(self) -> Counter:
        raise NotImplementedError

    def _tool_uses(self) -> list[dict]:
        raise NotImplementedError

    def _subagent(self, parent: Conversation, item: Item, use_id: str, args: dict, answers: bool) -> dict:
        raise NotImplementedError

    def _user_text(self, files: SessionFiles, conv: Conversation, t: int, text: str, **extra: Any) -> None:
        raise NotImplementedError

    def _system(self, files: SessionFiles, conv: Conversation, t: int, subtype: str, **fields: Any) -> None:
        raise NotImplementedError

    def _kind(self, kind: str, call: Call) -> str:
        if call.outcome in ("success", "failure"):
            return call.outcome
        if kind == "task":
            return "hook_failed" if self.rng.random() < HOOK_FAILED_P else "hook_ok"
        return "interrupted" if self.rng.random() < INTERRUPTED_P else "rejected"

    def _payload(self, call: Call, args: dict, kind: str, sub: dict | None) -> tuple[Any, Any, bool]:
        """(``tool_result`` content, ``toolUseResult``, ``is_error``)."""
        if kind == "interrupted":
            return INTERRUPTED, f"Error: {INTERRUPTED}", True
        if kind == "rejected":
            return REJECTED, "User rejected tool use", True
        if kind in ("failure", "hook_failed"):
            error = call.error if kind == "failure" and call.error else GENERIC_ERRORS.get(
                call.tool, "<tool_use_error>Error: the tool failed</tool_use_error>")
            return error, f"Error: {error}", True
        if sub is None:
            content, result = success_payload(self.rng, call.tool, args)
            return content, result, False
        content = [{"type": "text", "text": sub["text"] or "Done"}]
        u = sub["usage"]
        result = {"content": content, "totalDurationMs": sub["duration_ms"], "totalTokens": u.total,
                  "totalToolUseCount": sub["tools"]}
        if not (kind == "success" and call.tokens is None):  # the Task calls whose tokens the bot missed
            result["usage"] = {"input_tokens": u.input, "output_tokens": u.output,
                               "cache_creation_input_tokens": u.write_5m + u.write_1h,
                               "cache_read_input_tokens": u.read, "service_tier": "standard"}
        result.update(agentId=sub["agent_id"], status="completed", prompt=str(args.get("prompt", "")))
        return content, result, False

    def _result(self, conv: Conversation, x: Any, use: list) -> tuple[int, str]:
        """Write the result of one call (after its sub-agent, for a Task call) and its truth; returns (the
        result's time, what the result said: success, failure, interrupted, rejected, hook_ok, hook_failed, or
        none when it was not written)."""
        plan, files, _, _, _, nested = self._state
        use_id, call, args, (line_uuid, _, use_t) = use
        end = plan.base + call.end
        kind = self._kind(plan.kind, call)
        sub = None
        if isinstance(x, Item) and x.inner is not None:
            sub = self._subagent(conv, x, use_id, args, answers=kind in ("success", "hook_ok"))
        content, result, is_error = self._payload(call, args, kind, sub)
        block: dict[str, Any] = {"tool_use_id": use_id, "type": "tool_result", "content": content}
        if is_error or nested:
            block["is_error"] = is_error
        line = files.line(conv, "user")
        line["parentUuid"] = line_uuid
        line["message"] = {"role": "user", "content": [block]}
        line["uuid"] = conv.last_uuid = self.ids.uuid()
        line["toolUseResult"] = result
        if nested:
            line["sourceToolAssistantUUID"] = line_uuid
        kept = files.emit(conv, end, line)
        if kept:
            self._after(files, conv, end, kind, call.tool, use_id)
        conv.context.add_result(call.tool, not is_error)
        said = RESULT_OF[kind] if kept else "none"
        self._tool_uses().append({
            "tool_use_id": use_id, "session_id": plan.session_id, "task_id": plan.task_id,
            "db_task_id": plan.task_id or plan.session_id, "agent": conv.agent, "tool": call.tool,
            "transcript_tool": "ExitPlanMode" if call.tool == "unknown" else call.tool,
            "start": self.clock.iso(plan.base + call.start), "use_ts": self.utc(use_t),
            "result_ts": self.utc(end) if kept else None, "is_error": is_error if kept else None,
            "duration_ms": (call.end - call.start) / 1000 if said in ("success", "failure") else None, "result": said,
            "outcome": OUTCOME_OF[said], "denied": kind == "rejected" and kept,
            "hook_failed": kind.startswith("hook") and kept, "bot_outcome": call.outcome,
            "agent_id": sub["agent_id"] if sub else None})
        counts = self._counts()
        counts["tool_uses"] += 1
        counts[f"results_{said}"] += 1
        return end, kind if kept else "none"

    def _after(self, files: SessionFiles, conv: Conversation, end: int, kind: str, tool: str, use_id: str) -> None:
        """What Claude Code writes after some results: the interruption notice, the failed post-hook's warning."""
        if kind == "interrupted":
            self._user_text(files, conv, end, INTERRUPTED)
            self._counts()["interrupts"] += 1
        elif kind.startswith("hook"):
            why = self.rng.choice(HOOK_REASONS)
            self._system(files, conv, end + self.rng.randint(5_000, 50_000), "informational",
                         content=HOOK_WARNING.format(tool=tool, why=why), level="warning", toolUseID=use_id)
            self._counts()["hook_warnings"] += 1
