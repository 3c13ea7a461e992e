"""The pieces of a Claude Code transcript line: ids, timestamps, the project folder name, placeholder texts, and
what a tool result holds (``tool_result`` content and the top-level ``toolUseResult``) per tool.

The texts are placeholders: the analytics never store a conversation, but the files carry prompts, thinking,
answers and tool output of a plausible size so that reading them is exercised. Shapes follow
``claude-transcripts.md`` §2 and §5 and the sample in ``tests/fixtures/sample_par.claude``.
"""

from __future__ import annotations

import json
import random
import re
import uuid
from datetime import timedelta
from typing import Any

from .calls import Call
from .constants import DAY, EPOCH, US
from .vocab import CODE, REQUESTS

ALNUM = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
B64 = ALNUM + "+/"
INTERRUPTED = "[Request interrupted by user for tool use]"
REJECTED = ("The user doesn't want to proceed with this tool use. The tool use was rejected (eg. if it was a file "
            "edit, the new_string was NOT written to the file). STOP what you are doing and wait for the user to "
            "tell you how to proceed.")
THINKING = (
    "I should read the relevant file before changing anything.", "The test output points at the session handling.",
    "Let me check how this is done elsewhere in the repository first.", "The error suggests a missing import.",
    "I'll run the tests again to confirm the fix.", "This needs a small change in one place only.",
)
TEXT = (
    "Let me look at the code first.", "Now I'll make the change.", "Running the tests.", "Checking the result.",
    "I found the cause; fixing it now.", "Let me search for where this is used.", "Updating the todo list.",
)
CONTINUE = ("continue", "go on", "ok, do it", "yes", "try again", "now run the tests", "looks good, commit it")
SUMMARY = ("This session is being continued from a previous conversation that ran out of context. The conversation "
           "is summarized below: the user asked for a change; files were read and edited; tests were run.")
OVERLOADED = 'API Error: 529 {"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}}'
HOOK_WARNING = "PostToolUse:{tool} [.claude/hooks/post-tool-use] failed with non-blocking status code 1: {why}"
HOOK_REASONS = ("database is locked", "No stderr output", "sqlite3.OperationalError: disk I/O error")
_NON_ALNUM = re.compile(r"[^A-Za-z0-9]")


class Ids:
    """Random ids in Claude Code's and the API's shapes."""

    def __init__(self, rng: random.Random):
        self.rng = rng

    def chars(self, n: int, alphabet: str = ALNUM) -> str:
        return "".join(self.rng.choices(alphabet, k=n))

    def uuid(self) -> str:
        return str(uuid.UUID(int=self.rng.getrandbits(128), version=4))

    def message(self) -> str:
        return "msg_01" + self.chars(22)

    def request(self) -> str:
        return "req_011C" + self.chars(18)

    def tool_use(self) -> str:
        return "toolu_01" + self.chars(22)

    def agent(self, nested: bool) -> str:
        """A sub-agent id: 8 hex digits (Claude Code 2.0), 'a' + 16 hex digits (2.1)."""
        return f"a{self.rng.getrandbits(64):016x}" if nested else f"{self.rng.getrandbits(32):08x}"

    def signature(self) -> str:
        return "Eu" + self.chars(self.rng.randint(60, 140), B64)


class UtcText:
    """UTC µs → ``2026-03-11T02:40:21.204Z`` (milliseconds, truncated)."""

    def __init__(self) -> None:
        self._days: dict[int, str] = {}

    def __call__(self, t: int) -> str:
        day, rest = divmod(t, DAY)
        prefix = self._days.get(day)
        if prefix is None:
            prefix = self._days[day] = (EPOCH + timedelta(days=day)).date().isoformat() + "T"
        seconds, micro = divmod(rest, US)
        hour, seconds = divmod(seconds, 3600)
        minute, seconds = divmod(seconds, 60)
        return f"{prefix}{hour:02d}:{minute:02d}:{seconds:02d}.{micro // 1000:03d}Z"


def project_dir(cwd: str) -> str:
    """Claude Code's folder name for a working directory: every character outside [A-Za-z0-9] becomes '-'.

    >>> project_dir("/Users/dev/Workspace/amiga_bot")
    '-Users-dev-Workspace-amiga-bot'
    """
    return _NON_ALNUM.sub("-", cwd)


def tool_input(call: Call) -> dict:
    """What Claude Code sent as the tool's input: the raw input where the hook's sanitiser changed it, else the
    parameters as the bot stored them."""
    raw = getattr(call, "raw", None)
    if raw is not None:
        return raw
    return json.loads(call.params) if call.params else {}


def cli_prompt(rng: random.Random) -> str:
    return rng.choice(REQUESTS)[0]


_CODE_LINES = CODE.splitlines()


def _snippet(rng: random.Random, lines: int) -> str:
    start = rng.randrange(0, len(_CODE_LINES) - lines)
    return "\n".join(_CODE_LINES[start:start + lines])


def _read(rng: random.Random, args: dict) -> tuple[Any, Any]:
    text = _snippet(rng, rng.randint(3, 12))
    numbered = "\n".join(f"{i + 1:>6}\t{line}" for i, line in enumerate(text.splitlines()))
    total = rng.randint(20, 900)
    return numbered, {"type": "text", "file": {"filePath": args.get("file_path"), "content": text,
                                               "numLines": len(text.splitlines()), "startLine": 1,
                                               "totalLines": total}}


def _bash(rng: random.Random, args: dict) -> tuple[Any, Any]:
    out = rng.choice(("", "ok", "All checks passed.", "3 passed in 0.41s", "On branch main\nnothing to commit",
                      " M app/session.py\n?? notes.md", "Already up to date."))
    return out or "(no output)", {"stdout": out, "stderr": "", "interrupted": False, "isImage": False}


def _search(rng: random.Random, args: dict) -> tuple[Any, Any]:
    base = args.get("path") or "."
    names = [f"{base}/{name}" for name in rng.sample(("app/main.py", "app/session.py", "tests/test_login.py",
                                                      "README.md", "app/db.py", "web/index.ts"), rng.randint(0, 4))]
    text = f"Found {len(names)} files\n" + "\n".join(names) if names else "No files found"
    return text, {"mode": "files_with_matches", "filenames": names, "numFiles": len(names)}


def _edit(rng: random.Random, args: dict) -> tuple[Any, Any]:
    path = args.get("file_path")
    return (f"The file {path} has been updated. Here's the result of running `cat -n` on a snippet of the edited "
            f"file:\n{_snippet(rng, 3)}", {"filePath": path, "structuredPatch": [], "userModified": False})


def _web(rng: random.Random, args: dict) -> tuple[Any, Any]:
    if "query" in args:
        return (f"Web search results for query: \"{args['query']}\"\n\nLinks: [...]",
                {"query": args["query"], "results": [], "durationSeconds": round(rng.uniform(1.5, 6), 3)})
    return ("The page describes the feature in its configuration section.",
            {"bytes": rng.randint(4_000, 90_000), "code": 200, "codeText": "OK", "url": args.get("url"),
             "durationMs": rng.randint(400, 6_000)})


_RESULTS = {"Read": _read, "Bash": _bash, "Grep": _search, "Glob": _search, "Edit": _edit, "MultiEdit": _edit,
            "WebFetch": _web, "WebSearch": _web}


def success_payload(rng: random.Random, tool: str, args: dict) -> tuple[Any, Any]:
    """(``tool_result`` content, ``toolUseResult``) of a call that worked (not Task: see the writer)."""
    build = _RESULTS.get(tool)
    if build is not None:
        return build(rng, args)
    if tool == "Write":
        path = args.get("file_path")
        return f"File created successfully at: {path}", {"type": "create", "filePath": path, "structuredPatch": []}
    if tool == "TodoWrite":
        return ("Todos have been modified successfully. Ensure that you continue to use the todo list to track "
                "your progress.", {"oldTodos": [], "newTodos": args.get("todos", [])})
    return "Done", "Done"
