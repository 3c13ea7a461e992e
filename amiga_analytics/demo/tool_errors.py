"""The error text a failing tool call shows (what the post-hook extracts); texts from ``data/tool_errors.json``
and ``data/bash_errors.json``."""

from __future__ import annotations

import random
from collections.abc import Callable
from typing import TYPE_CHECKING

from .vocab import BASH_ERRORS, TOOL_ERRORS

if TYPE_CHECKING:
    from .calls import Call, Ctx
    from .credentials import Secrets


class ToolErrors:
    """The error-text part of :class:`tools.Tools`."""

    rng: random.Random
    secrets: Secrets
    _kind: str  # the kind of the last Bash command built
    _file: Callable[[Ctx], str]  # Tools._file

    def _error(self, tool: str, ctx: Ctx, call: Call) -> str:
        rng = self.rng
        if tool in ("Edit", "MultiEdit"):
            return rng.choice(TOOL_ERRORS["edit"])
        if tool == "Read":
            tokens = rng.randint(25_001, 90_000)  # drawn first, as when the texts were one tuple of f-strings
            return rng.choice(TOOL_ERRORS["read"]).replace("{tokens}", str(tokens))
        if tool == "Write":
            path = self._file(ctx)
            return rng.choice(TOOL_ERRORS["write"]).replace("{file}", path)
        if tool == "Bash":
            return self._bash_error(ctx, call)
        if tool in ("Grep", "Glob"):
            return rng.choice(TOOL_ERRORS["search"]).replace("{ws}", ctx.ws)
        if tool == "WebFetch":
            return rng.choice(TOOL_ERRORS["webfetch"])
        if tool == "WebSearch":
            return TOOL_ERRORS["websearch"]
        if tool == "Task":
            return rng.choice(TOOL_ERRORS["task"])
        if tool == "TodoWrite":
            return TOOL_ERRORS["todowrite"]
        if tool.startswith("mcp__playwright__"):
            return rng.choice(TOOL_ERRORS["playwright"])
        return TOOL_ERRORS["other"]

    def _bash_error(self, ctx: Ctx, call: Call) -> str:
        rng = self.rng
        kind = self._kind
        if kind in ("git", "secret") and rng.random() < 0.15:  # a token echoed back in git's error text
            github, gitlab = TOOL_ERRORS["git_token"]
            if rng.random() < 0.5:
                token = self.secrets.get("github")
                call.error_secret = token
                return github.replace("{token}", token)
            token = self.secrets.get("gitlab")
            call.error_secret = token
            return gitlab.replace("{token}", token)
        text = rng.choice(BASH_ERRORS[kind])
        if "{f}" in text:
            text = text.replace("{f}", rng.choice([f for f in ctx.files if f.endswith(".py")] or ["main.py"]))
        return text.replace("{ws}", ctx.ws).replace("{t}", ctx.task_id)
