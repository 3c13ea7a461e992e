"""What one transcript line holds that we keep: API request usage, tool_uses, tool_results, agent links.

Nothing of the conversation is kept: no prompt, assistant text, thinking or tool-result text. Tool inputs are
kept in memory only (for matching to the bot's rows), never written.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any, Protocol

from .discover import FLAT_AGENT, NESTED_AGENT, TranscriptFile

SYNTHETIC_MODEL = "<synthetic>"
INTERRUPTED_TOOL_USE = "[Request interrupted by user for tool use]"
SUCCESS, FAILURE, INTERRUPTED, NONE = "success", "failure", "interrupted", "none"
TASK_TOOLS = ("Task", "Agent")


@dataclass(frozen=True, slots=True)  # slots: one of each per request or tool_use in memory
class RequestCopy:
    """One line's copy of an API request's usage (several lines can carry the same request)."""

    message_id: str
    request_id: str  # "" when the line has none
    session_id: str | None
    agent: str  # "main" or the sub-agent id
    model_id: str | None
    timestamp: datetime | None  # aware UTC
    input: int
    output: int
    cache_write_5m: int
    cache_write_1h: int
    cache_read: int
    fast: bool
    file: str  # relative path of the file holding this copy
    order: tuple[int, int]  # (file index, byte offset): "first in file order"
    wrapped: bool  # a copy inside a progress line (another file's line)

    @property
    def key(self) -> tuple[str, str]:
        return (self.message_id, self.request_id)

    @property
    def total(self) -> int:
        return self.input + self.output + self.cache_write_5m + self.cache_write_1h + self.cache_read

    @property
    def context_tokens(self) -> int:
        """The request's whole input: uncached input + cache writes + cache reads, tokens."""
        return self.input + self.cache_write_5m + self.cache_write_1h + self.cache_read


@dataclass(frozen=True, slots=True)
class ToolUse:
    tool_use_id: str
    session_id: str | None
    agent: str
    tool_name: str | None
    input: Any  # as the bot's hook would store it (hook_input), in memory only
    use_ts: datetime | None
    message_id: str | None
    request_id: str
    wrapped: bool


_SECRET_KEY_WORDS = ("token", "password", "secret", "api_key", "auth", "credential")
_MAX_STRING = 500


def hook_input(tool_input: Any) -> Any:
    """A tool input after the bot hook's ``sanitize_parameters``: top-level keys naming a secret become
    ``"<redacted>"``, top-level strings over 500 characters are cut to 500 + ``"..."`` (applying it twice changes
    nothing). A tool_use keeps only this in memory, not a file's whole content.

    >>> hook_input({"command": "ls", "api_key": "x", "content": "a" * 600})["content"][-4:]
    'a...'
    """
    if not isinstance(tool_input, dict):
        return tool_input
    clean = {}
    for key, value in tool_input.items():
        if any(word in str(key).lower() for word in _SECRET_KEY_WORDS):
            value = "<redacted>"
        elif isinstance(value, str) and len(value) > _MAX_STRING:
            value = value[:_MAX_STRING] + "..."
        clean[key] = value
    return clean


@dataclass(frozen=True, slots=True)
class ToolResult:
    tool_use_id: str
    result_ts: datetime | None
    is_error: bool
    kind: str  # success, failure or interrupted
    agent_id: str | None  # toolUseResult.agentId of a Task result
    wrapped: bool


class Sink(Protocol):
    def add_request(self, copy: RequestCopy) -> None: ...
    def add_tool_use(self, use: ToolUse) -> None: ...
    def add_result(self, result: ToolResult) -> None: ...
    def link_agent(self, agent_id: str, tool_use_id: str, session_id: str | None) -> None: ...
    def note(self, what: str, session_id: str | None = None, cwd: str | None = None) -> None: ...
    def prompt(self, session_id: str | None, owner: str, digest: str, is_task: bool) -> None: ...


def prompt_digest(text: str) -> str:
    """A digest of a Task prompt (only the digest is kept: a sub-agent's first prompt is its Task's prompt)."""
    return hashlib.sha256(text.strip().encode("utf-8", "surrogatepass")).hexdigest()


def parse_ts(value: Any) -> datetime | None:
    """An ISO-8601 timestamp (``Z`` or an offset; naive = UTC) as an aware UTC datetime, else None."""
    if not isinstance(value, str) or not value:
        return None
    try:
        dt = datetime.fromisoformat(value[:-1] + "+00:00" if value.endswith("Z") else value)
    except ValueError:
        return None
    return dt.replace(tzinfo=timezone.utc) if dt.tzinfo is None else dt.astimezone(timezone.utc)


def _int(value: Any) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) else 0


def _cache_writes(usage: dict) -> tuple[int, int]:
    """(5-minute, 1-hour) cache writes; without the ``cache_creation`` split every write is 5-minute."""
    split = usage.get("cache_creation")
    if isinstance(split, dict):
        return _int(split.get("ephemeral_5m_input_tokens")), _int(split.get("ephemeral_1h_input_tokens"))
    return _int(usage.get("cache_creation_input_tokens")), 0


@dataclass(frozen=True)
class LineContext:
    file: TranscriptFile
    index: int  # the file's position in reading order
    offset: int
    session_id: str | None
    agent: str
    wrapped: bool


def _context(line: dict, file: TranscriptFile, index: int, offset: int) -> LineContext:
    line_session = line.get("sessionId") if isinstance(line.get("sessionId"), str) else None
    session = (line_session or file.session_id) if file.kind == FLAT_AGENT else (file.session_id or line_session)
    if file.kind in (FLAT_AGENT, NESTED_AGENT):
        agent = line.get("agentId") or file.agent_id or "main"
    elif line.get("isSidechain") and isinstance(line.get("agentId"), str):
        agent = line["agentId"]
    else:
        agent = "main"
    return LineContext(file, index, offset, session, str(agent), False)


def _assistant(line: dict, message: dict, ctx: LineContext, sink: Sink) -> None:
    ts = parse_ts(line.get("timestamp"))
    raw_request_id = line.get("requestId")
    request_id: str = raw_request_id if isinstance(raw_request_id, str) else ""
    message_id = message.get("id") if isinstance(message.get("id"), str) and message.get("id") else None
    model = message.get("model") if isinstance(message.get("model"), str) else None
    if model == SYNTHETIC_MODEL or line.get("isApiErrorMessage") is True:
        sink.note("synthetic_lines" if model == SYNTHETIC_MODEL else "api_error_lines", ctx.session_id)
        return
    for block in message.get("content") or []:
        if isinstance(block, dict) and block.get("type") == "tool_use" and isinstance(block.get("id"), str):
            name = block.get("name") if isinstance(block.get("name"), str) else None
            sink.add_tool_use(ToolUse(block["id"], ctx.session_id, ctx.agent, name, hook_input(block.get("input")),
                                      ts, message_id, request_id, ctx.wrapped))
            prompt = block.get("input", {}).get("prompt") if isinstance(block.get("input"), dict) else None
            if name in TASK_TOOLS and isinstance(prompt, str):
                sink.prompt(ctx.session_id, block["id"], prompt_digest(prompt), True)
    usage = message.get("usage")
    if not isinstance(usage, dict):
        return
    if message_id is None:  # never deduplicated: a request of its own
        message_id = f"line:{line.get('uuid') or f'{ctx.file.rel}@{ctx.offset}'}"
        sink.note("requests_without_message_id", ctx.session_id)
    w5, w1 = _cache_writes(usage)
    sink.add_request(RequestCopy(
        message_id, request_id, ctx.session_id, ctx.agent, model, ts, _int(usage.get("input_tokens")),
        _int(usage.get("output_tokens")), w5, w1, _int(usage.get("cache_read_input_tokens")),
        usage.get("speed") == "fast", ctx.file.rel, (ctx.index, ctx.offset), ctx.wrapped,
    ))


def _result_kind(block: dict) -> str:
    content = block.get("content")
    if isinstance(content, list):
        texts = [b.get("text") for b in content if isinstance(b, dict) and b.get("type") == "text"]
        content = texts[0] if len(texts) == 1 else None
    if isinstance(content, str) and content.strip() == INTERRUPTED_TOOL_USE:
        return INTERRUPTED
    return FAILURE if block.get("is_error") is True else SUCCESS


def _first_prompt(line: dict, content: Any, ctx: LineContext, sink: Sink) -> None:
    """A sub-agent's opening line (no parent): its text is the prompt of the Task that spawned it."""
    if ctx.agent == "main" or line.get("parentUuid") is not None:
        return
    if isinstance(content, list):
        texts = [b.get("text") for b in content if isinstance(b, dict) and b.get("type") == "text"]
        content = texts[0] if len(texts) == 1 else None
    if isinstance(content, str):
        sink.prompt(ctx.session_id, ctx.agent, prompt_digest(content), False)


def _user(line: dict, message: dict, ctx: LineContext, sink: Sink) -> None:
    content = message.get("content")
    _first_prompt(line, content, ctx, sink)
    if not isinstance(content, list):
        return
    ts = parse_ts(line.get("timestamp"))
    tur = line.get("toolUseResult")
    agent_id = tur.get("agentId") if isinstance(tur, dict) and isinstance(tur.get("agentId"), str) else None
    for block in content:
        if not (isinstance(block, dict) and block.get("type") == "tool_result"):
            continue
        use_id = block.get("tool_use_id")
        if not isinstance(use_id, str):
            continue
        sink.add_result(ToolResult(use_id, ts, block.get("is_error") is True, _result_kind(block), agent_id,
                                   ctx.wrapped))
        if agent_id:
            sink.link_agent(agent_id, use_id, ctx.session_id)


def _progress(line: dict, ctx: LineContext, sink: Sink) -> None:
    """A ``progress`` line copying a sub-agent's line (``data.message``) into the parent's file."""
    data = line.get("data")
    if not isinstance(data, dict) or not isinstance(data.get("message"), dict):
        return
    inner = data["message"]
    if "message" not in inner:  # the API message itself rather than the whole line
        inner = {"type": inner.get("role") or inner.get("type"), "message": inner,
                 "timestamp": data.get("timestamp") or line.get("timestamp"),
                 "requestId": data.get("requestId") or line.get("requestId")}
    agent = data.get("agentId") or inner.get("agentId")
    parent_use = line.get("parentToolUseID") or data.get("parentToolUseID")
    if isinstance(agent, str) and isinstance(parent_use, str):
        sink.link_agent(agent, parent_use, ctx.session_id)
    wrapped = LineContext(ctx.file, ctx.index, ctx.offset, ctx.session_id,
                          agent if isinstance(agent, str) else "main", True)
    _dispatch(inner, wrapped, sink)


def _dispatch(line: dict, ctx: LineContext, sink: Sink) -> None:
    message = line.get("message")
    kind = line.get("type")
    if kind == "assistant" and isinstance(message, dict):
        _assistant(line, message, ctx, sink)
    elif kind == "user" and isinstance(message, dict):
        _user(line, message, ctx, sink)
    elif kind == "progress" and not ctx.wrapped:
        _progress(line, ctx, sink)


def extract(line: dict, file: TranscriptFile, index: int, offset: int, sink: Sink) -> None:
    """Feed what ``line`` holds (requests, tool_uses, results, links) to ``sink``."""
    ctx = _context(line, file, index, offset)
    cwd = line.get("cwd")
    if ctx.session_id and isinstance(cwd, str) and cwd:
        sink.note("", ctx.session_id, cwd)
    _dispatch(line, ctx, sink)
