"""The Claude Code transcripts of the demo: one session per bot task that started Claude and per CLI session,
written beside the bot database as a Claude config directory (``projects/<cwd>/<sessionId>.jsonl``).

They are consistent with the bot's rows: the session ids are those the bot stored (``tasks.session_uuid``, the
CLI sessions' ``tool_usage.task_id``), every logical call is a ``tool_use`` whose line is timed at the call's
start (the bot's pre-hook time) with the input the hook saw, and its ``tool_result`` comes at the call's end,
``is_error`` where the call failed. A process that was killed, died or was still running at the end of the
period wrote nothing after that moment: its last calls have no result. A call the bot never saw completed
(no post-hook) is, in a bot task, a call whose post-hook failed (the result is there; a hook warning line says
so), and in a CLI session a call the user interrupted or rejected. A ``Task`` call's sub-agent writes its own
file, and its requests add up to the tokens the bot recorded for the call (:mod:`.transcript_usage`).

What varies the way Claude Code varies (``claude-transcripts.md``): the version, upgraded during the period
from 2.0 (sub-agents in flat ``agent-<id>.jsonl`` files, one line per content block with ``output_tokens``
growing) to 2.1 (``<session>/subagents/agent-<id>.jsonl`` with a ``.meta.json``, every line of a response with
the same usage, from 2.1.14 ``progress`` copies of sub-agent lines in the parent's file); the model (the alias
resolved on the day, sub-agents of some types on Haiku or Opus, interactive sessions on the developer's Opus or
Sonnet); 1-hour, 5-minute or mixed cache writes; API errors and retries; compaction of long sessions.

Everything is drawn from its own random generator, so the bot database is the same with or without transcripts.
"""

from __future__ import annotations

import json
import random
from collections import Counter
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .constants import EPOCH, US
from .transcript_files import Conversation, Req, SessionFiles
from .transcript_lines import (
    CONTINUE,
    OVERLOADED,
    SUMMARY,
    TEXT,
    THINKING,
    Ids,
    UtcText,
    cli_prompt,
    project_dir,
    tool_input,
)
from .transcript_plan import Item, SessionPlan, agent_items, message_groups
from .transcript_results import Results
from .transcript_usage import Context, Usage, constrain, lognormal_int

if TYPE_CHECKING:
    from .calls import Call
    from .clock import Clock

VERSIONS_20 = ("2.0.14", "2.0.21", "2.0.27", "2.0.31", "2.0.36", "2.0.42")
VERSIONS_21 = ("2.1.3", "2.1.7", "2.1.12", "2.1.19", "2.1.27")
PROGRESS_FROM = (2, 1, 14)
UPGRADE_AT = 0.4  # the first 40 % of the period run Claude Code 2.0, the rest 2.1
SUBAGENT_MODELS = {"git-worktree": "haiku", "git-merge": "haiku", "task-completion-validator": "haiku",
                   "karen": "haiku", "Jenny": "haiku", "claude-md-compliance-checker": "haiku",
                   "ultrathink-debugger": "opus", "research_agent": "sonnet"}  # the other types inherit
CLI_MODELS = ("opus", "opus", "sonnet")
POLICIES = ("1h",) * 7 + ("split",) * 2 + ("5m",)
USER_TURN_S = 45
RETRY_P, SYNTHETIC_P = 0.004, 0.01


@dataclass
class TranscriptSet:
    """What was written: totals, and the truth of every request, tool_use and session."""

    root: Path
    requests: list[dict] = field(default_factory=list)
    tool_uses: list[dict] = field(default_factory=list)
    sessions: list[dict] = field(default_factory=list)
    counts: Counter = field(default_factory=Counter)


def _head(x) -> Call:
    return x.call if isinstance(x, Item) else x


def _utc_day(t: int) -> str:
    return (EPOCH + timedelta(microseconds=t)).date().isoformat()


class TranscriptWriter(Results):
    """Writes the sessions' files (:meth:`write`); see the module docstring."""

    def __init__(self, rng: random.Random, clock: Clock, period: tuple[int, int], resolve):
        self.rng = rng
        self.ids = Ids(rng)
        self.utc = UtcText()
        self.clock = clock
        self.period = period  # (first instant, the snapshot), UTC µs
        self.resolve = resolve  # (alias, UTC day) -> model id
        self.out: TranscriptSet | None = None

    def _counts(self) -> Counter:
        assert self.out is not None
        return self.out.counts

    def _tool_uses(self) -> list[dict]:
        assert self.out is not None
        return self.out.tool_uses

    def write(self, root: Path, plans: list[SessionPlan]) -> TranscriptSet:
        self.out = out = TranscriptSet(root)
        for plan in plans:
            files, info = self._session(plan)
            written = files.flush(root)
            for key, value in zip(("files", "lines", "bytes"), written):
                out.counts[key] += value
            out.counts["sidecar_files"] += len(files.extra)
            out.requests += files.requests
            info["start"] = None if files.first is None else self.utc(files.first)
            info["end"] = None if files.last is None else self.utc(files.last)
            out.sessions.append(info)
        return out

    # -- a session -------------------------------------------------------------------------------------------------

    def _version(self, t: int) -> str:
        start, end = self.period
        frac = min(0.999, max(0.0, (t - start) / max(1, end - start)))
        if frac < UPGRADE_AT:
            return VERSIONS_20[int(frac / UPGRADE_AT * len(VERSIONS_20))]
        return VERSIONS_21[int((frac - UPGRADE_AT) / (1 - UPGRADE_AT) * len(VERSIONS_21))]

    def _session(self, plan: SessionPlan) -> tuple[SessionFiles, dict]:
        rng, base = self.rng, plan.base
        first_call = base + plan.calls[0].start if plan.calls else None
        if plan.start is not None:
            prompt_at = base + plan.start + rng.randint(200_000, 900_000)
            if first_call is not None:
                prompt_at = min(prompt_at, first_call - 100_000)
        else:
            assert first_call is not None
            prompt_at = first_call - rng.randint(3, 40) * US
        version = self._version(prompt_at)
        nested = not version.startswith("2.0")
        alias = plan.alias or rng.choice(CLI_MODELS)
        day = _utc_day(prompt_at)
        model = self.resolve(alias, day) or alias
        policy = rng.choice(POLICIES)
        snapshot = self.period[1]
        stop = snapshot if plan.stop is None else min(snapshot, base + plan.stop)
        main_file = f"projects/{project_dir(plan.cwd)}/{plan.session_id}.jsonl"
        files = SessionFiles(
            self.ids, self.utc, session_id=plan.session_id, task_id=plan.task_id,
            db_task_id=plan.task_id or plan.session_id, cwd=plan.cwd, main_file=main_file, version=version,
            branch="HEAD" if rng.random() < 0.15 else "main", entrypoint="sdk-cli" if plan.kind == "task" else "cli",
            growing=not nested, progress=nested and tuple(map(int, version.split("."))) >= PROGRESS_FROM, stop=stop)
        main = Conversation(main_file, "main", model,
                            Context(rng, policy, lognormal_int(rng, 17_000, 0.15), warm=rng.random() < 0.6))
        info: dict[str, Any] = {"session_id": plan.session_id, "kind": plan.kind, "task_id": plan.task_id,
                "db_task_id": plan.task_id or plan.session_id, "cwd": plan.cwd, "file": main_file,
                "version": version, "layout": "nested" if nested else "flat", "lines": "same" if nested else "growing",
                "model_alias": alias, "model": model, "cache_policy": policy,
                "ended": "exit" if plan.stop is None and stop == snapshot and plan.answer_at is not None else (
                    "snapshot" if plan.stop is None or base + plan.stop >= snapshot else "stopped"),
                "subagents": []}
        self._state = (plan, files, info, alias, day, nested)
        if plan.kind == "cli":
            self._snapshot_line(files, main, prompt_at)
        self._user_text(files, main, prompt_at, plan.prompt or cli_prompt(rng))
        last = self._run(main, agent_items(plan.calls), prompt_at)
        if plan.answer_at is not None and base + plan.answer_at > last + 1_000:
            answer = plan.answer or rng.choice(("Done.", "All done: the change is in and the tests pass."))
            self._message(main, [], last, base + plan.answer_at, final=answer)
        return files, info

    def _snapshot_line(self, files: SessionFiles, conv: Conversation, t: int) -> None:
        message_id = self.ids.uuid()
        files.emit(None, t, {"type": "file-history-snapshot", "messageId": message_id,
                             "snapshot": {"messageId": message_id, "trackedFileBackups": {}, "timestamp": self.utc(t)},
                             "isSnapshotUpdate": False}, conv.file, stamp=False)

    def _user_text(self, files: SessionFiles, conv: Conversation, t: int, text: str, **extra) -> None:
        line = files.line(conv, "user")
        line["message"] = {"role": "user", "content": text}
        line.update(extra)
        files.emit(conv, t, line)

    def _system(self, files: SessionFiles, conv: Conversation, t: int, subtype: str, **fields) -> None:
        line = files.line(conv, "system")
        line["subtype"] = subtype
        line.update(fields)
        files.emit(conv, t, line)

    # -- an agent's turn ---------------------------------------------------------------------------------------------

    def _run(self, conv: Conversation, items: list, p: int) -> int:
        """Write the agent's calls from ``p`` on, one API response per message group; returns the time of the last
        line it wrote (the last result)."""
        plan = self._state[0]
        stopped_turn = False
        for group in message_groups(items):
            s = plan.base + _head(group[0]).start
            p = self._before(conv, p, s, stopped_turn)
            uses = self._message(conv, [_head(x) for x in group], p, s)
            ends = []
            stopped_turn = False
            for x, use in zip(group, uses):
                end, kind = self._result(conv, x, use)
                ends.append(end)
                stopped_turn |= kind in ("interrupted", "rejected")
            p = max([p, *ends])
        return p

    def _before(self, conv: Conversation, p: int, s: int, stopped_turn: bool) -> int:
        """What comes between two responses: a user's turn (CLI), a compaction, API errors; returns the new ``p``."""
        rng, (plan, files) = self.rng, self._state[:2]
        gap = s - p
        counts = self._counts()
        if conv.agent == "main" and plan.kind == "cli" and (stopped_turn or gap > USER_TURN_S * US):
            if not stopped_turn:
                self._message(conv, [], p, p + min(rng.randint(1, 8) * US, gap // 3), final=rng.choice(TEXT))
            p = s - min(rng.randint(2, 30) * US, gap // 3)
            self._user_text(files, conv, p, rng.choice(CONTINUE) if rng.random() < 0.6 else cli_prompt(rng))
        if conv.agent == "main" and conv.context.needs_compaction() and s - p > 2 * US:
            t = p + (s - p) // 3
            self._system(files, conv, t, "compact_boundary", content="Conversation compacted", level="info",
                         parentUuid=None, logicalParentUuid=conv.last_uuid,
                         compactMetadata={"trigger": "auto", "preTokens": conv.context.cached + conv.context.pending})
            self._user_text(files, conv, t + 1_000, SUMMARY, isCompactSummary=True, isVisibleInTranscriptOnly=True)
            conv.context.compact()
            counts["compactions"] += 1
            p = t + 1_000
        if rng.random() < RETRY_P and s - p > 4 * US:
            for attempt in range(1, rng.randint(1, 3) + 1):
                self._system(files, conv, p + (s - p) * attempt // 5, "api_error", level="error",
                             error={"status": 529, "headers": {},
                                    "error": {"type": "error", "error": {"type": "overloaded_error",
                                                                         "message": "Overloaded"}}},
                             retryInMs=round(rng.uniform(500, 4000), 2), retryAttempt=attempt, maxRetries=10)
                counts["api_errors"] += 1
        if conv.agent == "main" and plan.kind == "cli" and rng.random() < SYNTHETIC_P and s - p > US:
            p = self._synthetic(files, conv, p + (s - p) // 4, p + (s - p) // 2)
        return p

    def _synthetic(self, files: SessionFiles, conv: Conversation, t: int, resume: int) -> int:
        """An API error Claude Code gave up on (a ``<synthetic>`` line, no request), and the user's "continue"."""
        line = files.line(conv, "assistant")
        line["message"] = {"id": self.ids.uuid(), "container": None, "model": "<synthetic>", "role": "assistant",
                           "stop_reason": "stop_sequence", "stop_sequence": "", "type": "message",
                           "usage": {"input_tokens": 0, "output_tokens": 0, "cache_creation_input_tokens": 0,
                                     "cache_read_input_tokens": 0, "server_tool_use": {"web_search_requests": 0},
                                     "service_tier": None,
                                     "cache_creation": {"ephemeral_1h_input_tokens": 0, "ephemeral_5m_input_tokens": 0}},
                           "content": [{"type": "text", "text": OVERLOADED}]}
        line["isApiErrorMessage"] = True
        if files.emit(conv, t, line):
            self._counts()["synthetic"] += 1
        self._user_text(files, conv, resume, "continue")
        return resume

    def _message(self, conv: Conversation, calls: list[Call], p: int, s: int, final: str | None = None) -> list:
        """One API response: optional thinking and text, then a line per tool_use at its call's start (or the
        final text at ``s``); returns ``(tool_use id, line uuid, truth record)`` per call."""
        rng, files = self.rng, self._state[1]
        pre: list[dict] = []
        if rng.random() < 0.5:
            pre.append({"type": "thinking", "thinking": rng.choice(THINKING), "signature": self.ids.signature()})
        if final is None and rng.random() < 0.35:
            pre.append({"type": "text", "text": rng.choice(TEXT)})
        gap = s - p
        times = [p + int(gap * (0.35 + 0.55 * (i + 1) / (len(pre) + 1))) for i in range(len(pre))] if gap > 20_000 else []
        pre = pre[:len(times)]
        blocks = list(zip(times, pre))
        uses = []
        for call in calls:
            use_id = self.ids.tool_use()
            name, args = ("ExitPlanMode", {"plan": "1. Read the code\n2. Make the change\n3. Run the tests"}) \
                if call.tool == "unknown" else (call.tool, tool_input(call))
            blocks.append((self._state[0].base + call.start, {"type": "tool_use", "id": use_id, "name": name,
                                                              "input": args}))
            uses.append([use_id, call, args])
        if final is not None:
            blocks.append((s, {"type": "text", "text": final}))
        output = lognormal_int(rng, 380, 0.7) if final is not None else lognormal_int(rng, 110 + 60 * len(calls), 0.9)
        req = Req(self.ids.message(), self.ids.request(), conv.context.request(blocks[0][0], output),
                  "tool_use" if calls else "final")
        for j, (t, block) in enumerate(blocks):
            line = files.line(conv, "assistant")
            last = j == len(blocks) - 1
            line["message"] = {"id": req.message_id, "type": "message", "role": "assistant", "model": conv.model,
                               "content": [block], "stop_reason": ("end_turn" if final else "tool_use") if last else None,
                               "stop_sequence": None, "usage": None}
            line["requestId"] = req.request_id
            kept = files.emit(conv, t, line)
            req.lines.append((t, line, kept))
            if block["type"] == "tool_use":
                uses[j - len(pre)].append((line["uuid"], kept, t))
        conv.requests.append(req)
        if not conv.sidechain:
            files.finish(conv, req)
        return uses

    # -- a sub-agent -------------------------------------------------------------------------------------------------

    def _subagent(self, parent: Conversation, item: Item, use_id: str, args: dict, answers: bool) -> dict:
        """Write the sub-agent a Task call ran (its own file); returns its agent id, summed usage, tool count and
        answer."""
        rng, (plan, files, info, alias, day, nested) = self.rng, self._state
        call = item.call
        agent = self.ids.agent(nested)
        subtype = args.get("subagent_type") or "general-purpose"
        model = self.resolve(SUBAGENT_MODELS.get(subtype, alias), day) or parent.model
        folder = f"projects/{project_dir(plan.cwd)}"
        file = f"{folder}/{plan.session_id}/subagents/agent-{agent}.jsonl" if nested else f"{folder}/agent-{agent}.jsonl"
        conv = Conversation(file, agent, model, Context(rng, parent.context.policy, lognormal_int(rng, 9_000, 0.3),
                                                        warm=rng.random() < 0.25), sidechain=True, spawned_by=use_id)
        meta = None
        if nested:
            meta = file[:-len(".jsonl")] + ".meta.json"
            files.extra[meta] = json.dumps({"agentType": subtype, "description": args.get("description", ""),
                                            "toolUseId": use_id, "spawnDepth": 1})
        start, end = plan.base + call.start, plan.base + call.end
        opened = start + min(rng.randint(50_000, 400_000), max(1_000, (end - start) // 4))
        self._user_text(files, conv, opened, str(args.get("prompt", "")))
        last = self._run(conv, item.inner or [], opened)
        text = None
        if answers and end - last > 2_000:
            text = rng.choice(("Done: summary of changes", "Found the cause and fixed it; tests pass.",
                               "Review complete: no blocking issues.", "Research summary attached below."))
            self._message(conv, [], last, end - min(rng.randint(200_000, 2_000_000), (end - last) // 2), final=text)
        if call.tokens is not None and answers:
            constrain(rng, [r.usage for r in conv.requests], call.tokens)
        for req in conv.requests:
            files.finish(conv, req)
        total = Usage(*(sum(getattr(r.usage, f) for r in conv.requests)
                        for f in ("input", "output", "write_5m", "write_1h", "read")))
        info["subagents"].append({"agent_id": agent, "subagent_type": subtype, "model": model,
                                  "task_tool_use_id": use_id, "file": file, "meta_file": meta,
                                  "requests": len(conv.requests), "answered": text is not None})
        return {"agent_id": agent, "usage": total, "tools": len(item.inner or []), "text": text,
                "duration_ms": (end - start) // 1000}


def write_transcripts(root: Path, demo, seed: int) -> TranscriptSet:
    """Write the transcripts of ``demo`` (a :class:`.simulation.Demo` that ran) below ``root``."""
    from ..load.pricing import PriceBook

    book = PriceBook.load()
    writer = TranscriptWriter(random.Random(f"transcripts:{seed}"), demo.clock, (demo.period_start, demo.snapshot),
                              book.resolve)
    return writer.write(root, demo.plans)
