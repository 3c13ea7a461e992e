"""The files of one Claude Code session while the demo writes them: each agent's conversation (its lines, its
API requests), the line envelope, and the cut-off (nothing is written at or after the moment the process stopped
or the period ended).

A request's lines are completed (:meth:`SessionFiles.finish`) once its usage is final: at once for the main agent,
at the end of the sub-agent for a sub-agent (whose usage may be made to add up to the bot's figures first). That is
also where the request's truth is taken: the kept line with the largest token total, the first such (the dedup rule
every reader of these files applies), and where Claude Code 2.1 copies a sub-agent's lines into the parent's file
(``progress`` lines).
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path

from .constants import US
from .transcript_lines import Ids, UtcText
from .transcript_usage import Context, Usage

_dumps = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode


@dataclass
class Req:
    """One API request: its ids, usage and lines (``(time, line, kept)``)."""

    message_id: str
    request_id: str
    usage: Usage
    kind: str  # tool_use (it issued tool calls) or final (a turn without tools)
    lines: list[tuple[int, dict, bool]] = field(default_factory=list)


@dataclass
class Conversation:
    """One agent's side of a session: the main agent, or a sub-agent in its own file."""

    file: str
    agent: str  # "main" or the sub-agent id
    model: str
    context: Context
    sidechain: bool = False
    last_uuid: str | None = None
    requests: list[Req] = field(default_factory=list)
    spawned_by: str | None = None  # the Task tool_use id of a sub-agent


class SessionFiles:
    """The lines of one session's files, their envelope, and the cut-off ``stop`` (UTC µs, or None)."""

    def __init__(self, ids: Ids, utc: UtcText, *, session_id: str, task_id: str | None, db_task_id: str,
                 cwd: str, main_file: str, version: str, branch: str, entrypoint: str, growing: bool,
                 progress: bool, stop: int | None):
        self.ids, self.utc = ids, utc
        self.session_id, self.task_id, self.db_task_id = session_id, task_id, db_task_id
        self.cwd, self.main_file = cwd, main_file
        self.version, self.branch, self.entrypoint = version, branch, entrypoint
        self.growing, self.progress = growing, progress
        self.speed = not version.startswith("2.0")
        self.stop = stop
        self.files: dict[str, list[tuple[int, int, dict]]] = {}
        self.extra: dict[str, str] = {}  # sidecar files: relative path -> text
        self.requests: list[dict] = []  # the truth of every request that kept a line
        self.first: int | None = None
        self.last: int | None = None
        self._seq = 0

    def kept(self, t: int) -> bool:
        return self.stop is None or t < self.stop

    def line(self, conv: Conversation, kind: str) -> dict:
        """A new line's envelope (the fields before ``message``, in Claude Code's order)."""
        line = {"parentUuid": conv.last_uuid, "isSidechain": conv.sidechain, "userType": "external",
                "cwd": self.cwd, "sessionId": self.session_id, "version": self.version, "gitBranch": self.branch}
        if conv.sidechain:
            line["agentId"] = conv.agent
        else:
            line["entrypoint"] = self.entrypoint
        line["type"] = kind
        return line

    def emit(self, conv: Conversation | None, t: int, line: dict, file: str | None = None, stamp: bool = True) -> bool:
        """Stamp ``line`` (uuid, timestamp) and add it to its file, unless it falls at or after the cut-off."""
        if conv is not None and "uuid" not in line:
            line["uuid"] = self.ids.uuid()
            conv.last_uuid = line["uuid"]
        if stamp:
            line["timestamp"] = self.utc(t)
        if not self.kept(t):
            return False
        self._seq += 1
        self.files.setdefault(file or (conv.file if conv else ""), []).append((t, self._seq, line))
        self.first = t if self.first is None else min(self.first, t)
        self.last = t if self.last is None else max(self.last, t)
        return True

    def finish(self, conv: Conversation, req: Req) -> None:
        """Write the request's final usage into its lines, copy a sub-agent's lines into the parent's file (2.1),
        and take the request's truth."""
        usage = req.usage
        n = len(req.lines)
        best: tuple[int, int, dict] | None = None
        for j, (t, line, kept) in enumerate(req.lines):
            if self.growing and j < n - 1:
                part = Usage(usage.input, max(1, usage.output * (j + 1) // n), usage.write_5m, usage.write_1h,
                             usage.read)
            else:
                part = usage
            line["message"]["usage"] = part.as_json(self.speed)
            if kept and (best is None or part.total > best[0]):
                best = (part.total, t, line)
            if kept and conv.sidechain and self.progress:
                self._progress(conv, t, line)
        if best is None:
            return
        u = best[2]["message"]["usage"]
        self.requests.append({
            "session_id": self.session_id, "task_id": self.task_id, "agent": conv.agent, "model": conv.model,
            "timestamp": self.utc(best[1]), "input": u["input_tokens"], "output": u["output_tokens"],
            "cache_write_5m": u["cache_creation"]["ephemeral_5m_input_tokens"],
            "cache_write_1h": u["cache_creation"]["ephemeral_1h_input_tokens"], "cache_read": u["cache_read_input_tokens"],
            "message_id": req.message_id, "request_id": req.request_id, "lines": sum(k for _, _, k in req.lines),
            "kind": req.kind if any(k and _has_tool_use(line) for _, line, k in req.lines) or req.kind == "final"
            else "partial", "file": conv.file})

    def _progress(self, conv: Conversation, t: int, line: dict) -> None:
        """Claude Code 2.1's copy of a sub-agent's line in the parent's file (``agent_progress``)."""
        copy = {"parentUuid": None, "isSidechain": False, "userType": "external", "cwd": self.cwd,
                "sessionId": self.session_id, "version": self.version, "gitBranch": self.branch,
                "entrypoint": self.entrypoint, "type": "progress",
                "data": {"message": line, "type": "agent_progress", "prompt": "", "agentId": conv.agent},
                "toolUseID": "agent_msg_01" + self.ids.chars(22), "parentToolUseID": conv.spawned_by,
                "uuid": self.ids.uuid()}
        self.emit(None, t + 1_000 + int(self.ids.rng.random() * 30_000), copy, self.main_file)

    def flush(self, root: Path) -> tuple[int, int, int]:
        """Write every file below ``root`` (lines in time order; each file's mtime its last line's): (files, lines,
        bytes)."""
        files = lines = size = 0
        for rel, entries in self.files.items():
            entries.sort(key=lambda e: (e[0], e[1]))
            text = "".join(_dumps(line) + "\n" for _, _, line in entries)
            path = root / rel
            path.parent.mkdir(parents=True, exist_ok=True)
            data = text.encode("utf-8")
            path.write_bytes(data)
            last = entries[-1][0] / US
            os.utime(path, (last, last))
            files, lines, size = files + 1, lines + len(entries), size + len(data)
        for rel, text in self.extra.items():
            path = root / rel
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text, encoding="utf-8")
        return files, lines, size


def _has_tool_use(line: dict) -> bool:
    return any(b.get("type") == "tool_use" for b in line["message"]["content"])
