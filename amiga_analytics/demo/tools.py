"""Builds tool calls: Claude Code's parameter shapes per tool (bot-data.md §2.6), the hook's sanitiser, outcomes
and tokens."""

from __future__ import annotations

import json
import math
import random

from .bash import BashParams
from .calls import Call, Ctx
from .constants import US
from .credentials import ALNUM, Secrets
from .profiles import TOOL_TIMING
from .rules import categorize_error, sanitize_parameters
from .tool_errors import ToolErrors
from .vocab import (
    CODE,
    EDIT_PAIRS,
    GLOB_PATTERNS,
    GREP_PATTERNS,
    QUERIES,
    REQUESTS,
    SUBAGENT_PROMPT,
    SYMBOLS,
    TODOS,
    URLS,
    USERNAMES,
)


class Tools(BashParams, ToolErrors):
    """Builds :class:`Call` objects: Claude Code's parameter shapes, the hook's sanitiser, outcomes and tokens."""

    def __init__(self, rng: random.Random, secrets: Secrets, dev_emails: list[str]):
        self.rng = rng
        self.secrets = secrets
        self.dev_emails = dev_emails
        self._categories: dict[str, str] = {}
        self._builders = {
            "Read": self._read, "Write": self._write, "Edit": self._edit, "MultiEdit": self._multiedit,
            "Bash": self._bash, "Grep": self._grep, "Glob": self._glob, "TodoWrite": self._todowrite,
            "Task": self._task, "WebFetch": self._webfetch, "WebSearch": self._websearch,
            "BashOutput": lambda ctx: {"bash_id": f"bash_{self.rng.randint(1, 6)}"},
            "KillShell": lambda ctx: {"shell_id": f"bash_{self.rng.randint(1, 6)}"},
            "SlashCommand": lambda ctx: {"command": self.rng.choice(("/review", "/compact", "/init", "/cost"))},
            "NotebookEdit": lambda ctx: {"notebook_path": f"{ctx.ws}/notebooks/analysis.ipynb",
                                         "cell_id": f"cell-{self.rng.randint(1, 30)}",
                                         "new_source": CODE[:self.rng.randint(80, 400)]},
            "mcp__playwright__browser_navigate": lambda ctx: {
                "url": f"http://localhost:{self.rng.choice((3000, 5173, 8000))}"
                       f"{self.rng.choice(('/', '/login', '/settings', '/tasks', '/dashboard'))}"},
            "mcp__playwright__browser_snapshot": lambda ctx: {},
            "mcp__playwright__browser_click": lambda ctx: {
                "element": self.rng.choice(("Submit button", "Settings link", "Dark mode toggle", "Stop task")),
                "ref": f"e{self.rng.randint(2, 240)}"},
            "mcp__playwright__browser_type": lambda ctx: {
                "element": self.rng.choice(("Search box", "Task description textarea", "Username field")),
                "ref": f"e{self.rng.randint(2, 240)}", "text": self.rng.choice(
                    ("fix the login test", "dark mode", "matias", "hello world"))},
            "mcp__playwright__browser_take_screenshot": lambda ctx: {
                "filename": f"{self.rng.choice(('login', 'settings', 'dashboard', 'task-card'))}-page.png"},
            "mcp__playwright__browser_evaluate": lambda ctx: {"function": "() => document.title"},
            "mcp__github__list_commits": lambda ctx: {"owner": "acme", "repo": ctx.ws.rsplit("/", 1)[-1],
                                                      "author": self.rng.choice(USERNAMES)},
            "mcp__sentry__get_issue": lambda ctx: {"issue_id": str(self.rng.randint(10 ** 9, 10 ** 10)),
                                                   "auth_token": "sntrys_" + self.secrets._chars(ALNUM, 32)},
            "unknown": lambda ctx: {},
        }

    # -- building one call ---------------------------------------------------------------------------------------

    def make(self, tool: str, start: int, ctx: Ctx, subagent: str | None = None) -> Call:
        rng = self.rng
        self._found_secrets: list[str] = []
        self._found_emails: list[str] = []
        if tool == "Task":
            raw = self._task(ctx, subagent)
        else:
            raw = self._builders[tool](ctx)
        params = sanitize_parameters(raw)
        median, sigma, p_fail, p_unknown = TOOL_TIMING[tool]
        duration = int(rng.lognormvariate(math.log(median), sigma) * US) + 1
        call = Call(start, start + duration, tool, json.dumps(params) if params else None)
        if params != raw:
            call.raw = raw
        if tool == "Task":
            call.subagent = params.get("subagent_type", "unknown")
        if self._found_secrets:
            call.secrets = tuple(self._found_secrets)
        if self._found_emails:
            call.emails = tuple(self._found_emails)
        r = rng.random()
        if r < p_unknown:
            call.outcome = "unknown"
        elif r < p_unknown + p_fail:
            call.outcome = "failure"
            call.error = self._error(tool, ctx, call)
            category = self._categories.get(call.error)
            if category is None:
                category = self._categories[call.error] = categorize_error(call.error)
            call.category = category
        elif tool == "Task" and rng.random() < 0.97:
            call.tokens = self._task_tokens()
        elif tool == "WebFetch" and rng.random() < 0.02:
            call.tokens = (int(rng.lognormvariate(math.log(5000), 0.6)), int(rng.lognormvariate(math.log(300), 0.6)),
                           None, None)
        return call

    def _task_tokens(self) -> tuple:
        rng = self.rng
        tin = min(400_000, int(rng.lognormvariate(math.log(22_000), 0.9)) + 200)
        tout = min(64_000, int(rng.lognormvariate(math.log(3_000), 0.8)) + 20)
        if rng.random() < 0.10:
            return (tin, tout, int(rng.lognormvariate(math.log(6_000), 1.0)) + 1,
                    int(rng.lognormvariate(math.log(60_000), 1.0)) + 1)
        return (tin, tout, None, None)

    # -- parameters per tool (bot-data.md §2.6) ---------------------------------------------------------------------

    def _file(self, ctx: Ctx) -> str:
        return f"{ctx.ws}/{self.rng.choice(ctx.files)}"

    def _read(self, ctx):
        if self.rng.random() < 0.15:
            return {"file_path": self._file(ctx), "offset": self.rng.randint(1, 40) * 50, "limit": 200}
        return {"file_path": self._file(ctx)}

    def _write(self, ctx):
        start = self.rng.randrange(0, 800)
        return {"file_path": self._file(ctx), "content": CODE[start:start + int(self.rng.lognormvariate(6.8, 0.7))]}

    def _edit(self, ctx):
        old, new = self.rng.choice(EDIT_PAIRS)
        params = {"file_path": self._file(ctx), "old_string": old, "new_string": new}
        if self.rng.random() < 0.05:
            params["replace_all"] = True
        return params

    def _multiedit(self, ctx):
        pairs = self.rng.sample(EDIT_PAIRS, self.rng.randint(2, 4))
        return {"file_path": self._file(ctx), "edits": [{"old_string": o, "new_string": n} for o, n in pairs]}

    def _grep(self, ctx):
        pattern = self.rng.choice(GREP_PATTERNS).replace("{s}", self.rng.choice(SYMBOLS))
        params = {"pattern": pattern, "path": ctx.ws}
        if self.rng.random() < 0.5:
            params["output_mode"] = self.rng.choice(("content", "files_with_matches"))
        return params

    def _glob(self, ctx):
        if self.rng.random() < 0.6:
            return {"pattern": self.rng.choice(GLOB_PATTERNS), "path": ctx.ws}
        return {"pattern": self.rng.choice(GLOB_PATTERNS)}

    def _todowrite(self, ctx):
        items = self.rng.sample(TODOS, self.rng.randint(2, 6))
        done = self.rng.randint(0, len(items))
        return {"todos": [{"content": c, "status": "completed" if i < done else
                           ("in_progress" if i == done else "pending"), "activeForm": a}
                          for i, (c, a) in enumerate(items)]}

    def _task(self, ctx, subagent=None):
        description = ctx.description if ctx.description and self.rng.random() < 0.6 else \
            self.rng.choice(REQUESTS)[1]
        prompt = description + "." + SUBAGENT_PROMPT.format(ws=ctx.ws) * self.rng.randint(1, 4)
        if self.rng.random() < 0.005:  # no subagent_type: the post-hook records 'unknown'
            return {"description": description, "prompt": prompt}
        return {"subagent_type": subagent or "general-purpose", "description": description, "prompt": prompt}

    def _webfetch(self, ctx):
        return {"url": self.rng.choice(URLS), "prompt": "Summarise what this page says about the question."}

    def _websearch(self, ctx):
        return {"query": self.rng.choice(QUERIES)}

