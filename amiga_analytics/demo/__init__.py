"""A synthetic AMIGA bot database, written the way the real bot writes it, plus its ground truth.

:func:`write_demo` simulates ``days`` calendar days of a busy bot on a host whose clock runs in ``tz`` and writes
the schema-v14 SQLite file the bot would leave behind (schema from :func:`bot_schema.create_bot_database`),
together with ``<path>.truth.json``: every logical tool call, task and router message as they really happened.
Section numbers below refer to the bot's data dictionary (``bot-data.md``, from github.com/mjfuentes/amiga at
``f2236a6``); ``tests/fixtures/sample.db`` is a sample written by the bot's own code, and the tests compare the
demo with it.

What is modelled
----------------
* **Clock (§2.1).** Simulated instants are integer microseconds of UTC; every text written is the host's naive
  local time as ``datetime.now().isoformat()`` gives it ('T', six-digit microseconds left out when zero, no
  offset). Rows are inserted in real-time order, so ids grow with time even when the local clock falls back at the
  end of summer time (the default period ends on 2025-10-26, the day Europe/Madrid leaves CEST).
* **Work units.** Bot tasks (§1.2) come from the Telegram bot (numeric user id, ``sonnet``), the web chat (a Haiku
  router turn first, JWT user uuid or the no-auth id 521930094, always ``sonnet``, §2.4), the dashboard's
  ``POST /api/tasks`` (any of sonnet/haiku/opus) and the hourly self-improvement scheduler (user 0, ``opus``,
  ``orchestrator``). Interactive Claude Code CLI sessions write tool rows keyed by a 36-char session UUID and
  have no task row, so no model (§3.2). Task ids are 6 lowercase hex digits, ``session_uuid`` is
  ``uuid5(NAMESPACE_DNS, "agentlab.task.<id>")`` (2 % of tasks get the "actual" Claude UUID instead, as §3.2
  allows), ``workflow`` is ``'orchestrator'`` once started.
* **Task life (§2.3, §2.8, §2.9, §3.6).** pending → running → completed / failed / stopped with the bot's texts:
  "Claude produced no output. …", "Claude produced minimal output (N chars): …", "Error: …" (agent_status says
  "Task execution error: …"), "Failed to start Claude session", "[timeout] No updates for X.Xmin (timeout: 30min)"
  (the task monitor's real rule: a running task whose ``updated_at`` was not bumped for 30 min is killed at the
  next 60-second check; only successful ``Task`` calls bump it while ``claude -p`` runs), "[dead_process] Process
  N no longer running (dead/killed)", the stop texts, "Task was pending for more than 1h …", and "mark fixed"
  (completed with ``error=''``). Killed or stopped sessions leave their in-flight tool call without a completion.
  The task running at the end of the period stays ``running``; one created minutes before the end stays
  ``pending``. ``activity_log`` holds the progress-callback entries ("Processing... 1 output lines", "Completed in
  Ns", …). ``agent_status``: two ``started`` rows per started task, one ``tool_call`` row per post-hook run with
  ``{"tool", "success"}``, then ``completed``/``failed``/``stopped`` where the bot's code writes one.
* **Tool calls.** Sequential within a unit; a ``Task`` call (a sub-agent) contains the sub-agent's own calls,
  which carry the parent's task id (§3.2). Parameters follow Claude Code's shapes (§2.6) and go through the
  hook's :func:`sanitize_parameters`. About 4 % of calls never reach the post-hook (failures, denials,
  interrupts: the rows stay NULL). Failures carry the error text the post-hook extracts and the category of
  :func:`categorize_error`, the bot's own rule order (§2.7).
* **Rows per call (§3.1).** The pre-hook inserts row A (success NULL) at call start. When the monitoring server is
  up it inserts its copy B milliseconds later. At call end the post-hook updates the newest matching NULL row in
  place (B, else A); when its 5-second window misses it INSERTs a completed fallback row D instead. If the server is
  up at that moment, it then inserts C (success, error, category, no tokens). So a completed call gives 1 row
  (server down), 3 (up), 4 (up, window missed: A and B stay NULL) or 2 (down, window missed); a call that never
  completes gives A, or A and B. The window test is the bot's real one: the pre row's local date compared with
  the UTC date of "now minus 5 s" (string comparison of 'T' against ' '), so it misses only when the local date is
  behind the UTC date, e.g. America/Los_Angeles evenings after 17:00/16:00; empty parameters skip the window. The
  server is up or down per local calendar day, in runs of days (at least one of each when ``days >= 2``).
  ``phase_number`` is the number of Task rows of the task when the post-hook of a successful Task call runs
  (so 3n-1 with the server up), ``current_phase``/``last_agent_type`` that call's ``subagent_type``.
* **Tokens (§3.3).** 97 % of successful Task calls carry input/output tokens (on B, A or D, never on C); the cache
  columns are NULL except on 10 % of them (the bot reads the wrong keys); 2 % of successful WebFetch calls carry
  input/output tokens too. Nothing else has tokens.
* **Secrets.** About 3 % of Bash commands carry credentials that the key-based sanitiser misses
  (``export OPENAI_API_KEY=sk-proj-…``, ``curl -H 'Authorization: Bearer ghp_…'``, ``mysql --password=…``,
  ``AKIA…`` keys, tokens in git URLs); some failing git commands echo a token in their error text. E-mail addresses
  appear in ``users``, in ``git config``/``--author`` commands and in some chat messages; ``users`` holds
  bcrypt-shaped hashes.
* **Router and web (§1.7, §1.8, §1.10).** Each web-chat turn writes a user row and an assistant row, both after
  the API call returns; assistant rows carry summed tokens and ``claude-haiku-4-5``; task-creating turns store
  the raw ``BACKGROUND_TASK|…`` line. The web chat and the dashboard exist only while the monitoring server is
  up. ``documents`` gets a few archive/restore rows (task_id NULL).

The output is a pure function of the arguments: one ``random.Random(seed)`` drives everything, and the
schema_version row's ``applied_at`` is simulated too.
"""

from __future__ import annotations

import bisect
import itertools
import json
import math
import os
import random
import time
import uuid
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone
from operator import itemgetter
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from ..errors import InputError

__all__ = ["DEFAULT_END", "DemoResult", "categorize_error", "sanitize_parameters", "write_demo"]

DEFAULT_END = "2025-10-26"
"""Last simulated day by default: fixed, so the same arguments give the same file on any day."""

COMPACT_TRUTH_ABOVE = 200_000
"""Truth files with more calls than this are written without indentation."""

US = 1_000_000
MINUTE = 60 * US
HOUR = 60 * MINUTE
DAY = 24 * HOUR
_EPOCH = datetime(1970, 1, 1)
_EPOCH_UTC = datetime(1970, 1, 1, tzinfo=timezone.utc)

ROUTER_MODEL = "claude-haiku-4-5"
NO_AUTH_WEB_USER = 521930094
MONITOR_TIMEOUT = 30 * MINUTE
MONITOR_INTERVAL = MINUTE
NO_OUTPUT_ERROR = "Claude produced no output. The task may have failed silently or timed out."
SELF_IMPROVEMENT_CONTEXT = (
    "Scheduled hourly analysis: Analyze errors from the last 7 days. Query the database for failed tasks and tool "
    "usage errors. Focus on top 3 patterns and update agent prompts accordingly.")
HOME = "/Users/matifuentes/Workspace"

# --------------------------------------------------------------------------------------------------------------
# The bot's own rules, reimplemented exactly (scripts/record_tool_usage.py)
# --------------------------------------------------------------------------------------------------------------

_ERROR_RULES = (
    ("permission_error", ("permission denied", "access denied", "forbidden", "not permitted")),
    ("file_not_found", ("no such file", "file not found", "cannot find", "does not exist")),
    ("timeout", ("timed out", "timeout", "deadline exceeded")),
    ("syntax_error", ("syntax error", "invalid syntax", "parsing error", "parse error")),
    ("network_error", ("connection", "network", "refused", "unreachable", "dns", "socket", "ssl", "tls")),
    ("git_error", ("git error", "merge conflict", "rebase", "detached head", "not a git")),
    ("validation_error", ("validation", "invalid", "malformed", "bad request")),
    ("resource_error", ("out of memory", "disk full", "quota", "too many", "resource", "limit exceeded")),
    ("command_not_found", ("command not found", "not recognized", "no such command")),
)
_SENSITIVE_KEYS = ("token", "password", "secret", "api_key", "auth", "credential")


def categorize_error(error: str | None) -> str:
    """The post-hook's ``categorize_error`` (bot-data.md §2.7): case-insensitive substrings, first rule wins.

    >>> categorize_error("String to replace not found in file.")
    'unknown_error'
    >>> categorize_error("docker: permission denied while trying to connect to the Docker daemon socket")
    'permission_error'
    >>> categorize_error("Error: Cannot find module 'vite'")
    'file_not_found'
    """
    if not error:
        return "unknown_error"
    low = error.lower()
    for category, needles in _ERROR_RULES:
        if any(needle in low for needle in needles):
            return category
    return "unknown_error"


def sanitize_parameters(params: dict | None) -> dict:
    """The hooks' ``sanitize_parameters`` (§2.6): top-level keys only, long strings cut to 500 chars + "...".

    >>> sanitize_parameters({"author": "ana", "command": "x" * 501, "todos": [{"token": "kept"}]})["author"]
    '<redacted>'
    >>> len(sanitize_parameters({"command": "x" * 501})["command"])
    503
    """
    if not params:
        return {}
    clean = {}
    for key, value in params.items():
        sensitive = _SENSITIVE_CACHE.get(key)
        if sensitive is None:
            low = str(key).lower()
            sensitive = _SENSITIVE_CACHE[key] = any(word in low for word in _SENSITIVE_KEYS)
        if sensitive:
            clean[key] = "<redacted>"
        elif isinstance(value, str) and len(value) > 500:
            clean[key] = value[:500] + "..."
        else:
            clean[key] = value
    return clean


_SENSITIVE_CACHE: dict = {}


# --------------------------------------------------------------------------------------------------------------
# Result
# --------------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class DemoResult:
    """What :func:`write_demo` wrote."""

    path: Path
    truth_path: Path | None
    tool_usage_rows: int
    calls: int
    tasks: int
    seconds: float
    messages: int
    first_day: date
    last_day: date
    days: int
    tz: str

    def summary(self) -> str:
        truth = f"; truth in {self.truth_path}" if self.truth_path else "; no truth file"
        return (f"wrote {self.path}: {self.days} days ({self.first_day}..{self.last_day}, {self.tz}), "
                f"{self.tasks:,} tasks, {self.calls:,} logical tool calls in {self.tool_usage_rows:,} tool_usage "
                f"rows, {self.messages:,} router messages{truth} ({self.seconds:.1f} s)")


# --------------------------------------------------------------------------------------------------------------
# Time: UTC microseconds → the host's naive local isoformat
# --------------------------------------------------------------------------------------------------------------


class _Clock:
    """Converts UTC instants (int µs since the epoch) to what ``datetime.now().isoformat()`` prints on the host."""

    _BUCKET = 15 * MINUTE  # UTC offsets change on (at least) quarter-hour boundaries; checked per bucket anyway

    def __init__(self, tz: ZoneInfo):
        self.tz = tz
        self._offsets: dict[int, int | None] = {}
        self._prefixes: dict[int, str] = {}

    def _exact_offset(self, t: int) -> int:
        return int(datetime.fromtimestamp(t // US, self.tz).utcoffset().total_seconds()) * US

    def offset(self, t: int) -> int:
        bucket = t // self._BUCKET
        try:
            off = self._offsets[bucket]
        except KeyError:
            lo = self._exact_offset(bucket * self._BUCKET)
            hi = self._exact_offset((bucket + 1) * self._BUCKET - 1)
            off = self._offsets[bucket] = lo if lo == hi else None
        return self._exact_offset(t) if off is None else off

    def iso(self, t: int) -> str:
        """``datetime.isoformat()`` of the local wall time, microseconds left out when they are zero."""
        day, rest = divmod(t + self.offset(t), DAY)
        prefix = self._prefixes.get(day)
        if prefix is None:
            prefix = self._prefixes[day] = (_EPOCH + timedelta(days=day)).date().isoformat() + "T"
        seconds, micro = divmod(rest, US)
        hour, seconds = divmod(seconds, 3600)
        minute, seconds = divmod(seconds, 60)
        if micro:
            return f"{prefix}{hour:02d}:{minute:02d}:{seconds:02d}.{micro:06d}"
        return f"{prefix}{hour:02d}:{minute:02d}:{seconds:02d}"

    def local_day(self, t: int) -> int:
        return (t + self.offset(t)) // DAY

    def at_local(self, day: date, seconds: float = 0.0, fold: int = 0) -> int:
        """The UTC instant of local wall time ``day`` + ``seconds`` (``fold=1``: the second one, when the clock
        falls back and that wall time happens twice)."""
        wall = datetime(day.year, day.month, day.day) + timedelta(seconds=seconds)
        return (wall.replace(tzinfo=self.tz, fold=fold) - _EPOCH_UTC) // timedelta(microseconds=1)


class _Server:
    """Monitoring-server availability: down on whole local days (runs of days), up otherwise."""

    def __init__(self, down: list[tuple[int, int]]):
        self.down = down
        self._starts = [s for s, _ in down]

    def up(self, t: int) -> bool:
        i = bisect.bisect_right(self._starts, t) - 1
        return i < 0 or t >= self.down[i][1]


def _server_schedule(rng: random.Random, days: list[date], clock: _Clock) -> _Server:
    states: list[bool] = []
    state = rng.random() < 0.5
    while len(states) < len(days):
        states += [state] * (rng.randint(4, 9) if state else rng.randint(1, 3))
        state = not state
    states = states[:len(days)]
    if len(days) >= 2 and all(states):
        states[rng.randrange(len(days))] = False
    if len(days) >= 2 and not any(states):
        states[rng.randrange(len(days))] = True
    down = []
    for is_up, run in itertools.groupby(enumerate(states), key=lambda item: item[1]):
        run = list(run)
        if not is_up:
            first, last = days[run[0][0]], days[run[-1][0]]
            down.append((clock.at_local(first), clock.at_local(last + timedelta(days=1))))
    return _Server(down)


# --------------------------------------------------------------------------------------------------------------
# Vocabularies
# --------------------------------------------------------------------------------------------------------------

_PY_FILES = (
    "core/main.py", "core/config.py", "core/session.py", "tasks/manager.py", "tasks/database.py", "tasks/monitor.py",
    "tasks/analytics.py", "claude/api_client.py", "claude/code_cli.py", "monitoring/server.py", "monitoring/metrics.py",
    "scripts/record_tool_usage.py", "scripts/record_tool_start.py", "tests/test_database.py", "tests/test_manager.py",
    "tests/test_server.py", "tests/test_monitor.py", "README.md", "pyproject.toml", "requirements.txt",
    ".claude/agents/code_agent.md", ".claude/agents/orchestrator.md", "docs/ARCHITECTURE.md", "utils/log_analyzer.py")
_WEB_FILES = (
    "src/App.tsx", "src/main.tsx", "src/components/Header.tsx", "src/components/TaskCard.tsx",
    "src/components/SettingsPage.tsx", "src/components/LoginForm.tsx", "src/hooks/useAuth.ts", "src/api/client.ts",
    "src/styles/theme.css", "src/pages/Dashboard.tsx", "package.json", "vite.config.ts", "tests/e2e/login.spec.ts",
    "index.html", "server/app.py", "server/models.py", "server/routes/expenses.py", "tests/test_routes.py")
_ML_FILES = (
    "train.py", "data/loader.py", "models/transformer.py", "models/baseline.py", "eval/metrics.py",
    "notebooks/analysis.ipynb", "configs/base.yaml", "tests/test_loader.py", "README.md", "requirements.txt")
_WORKSPACES = {  # name -> files
    "agentlab": _PY_FILES, "amiga": _PY_FILES, "portfolio-site": _WEB_FILES, "expense-tracker": _WEB_FILES,
    "ml-experiments": _ML_FILES,
}
_SYMBOLS = ("update_tool_usage", "create_task", "TaskManager", "get_user_tasks", "useAuth", "fetchTasks",
            "record_agent_status", "SessionPool", "categorize_error", "handleSubmit", "DataLoader", "api_key")
_GREP_PATTERNS = ("def {s}", "class .*Error", "TODO", "import {s}", "{s}\\(", "useState", "api/tasks",
                  "datetime.now\\(\\)", "except Exception", "console.log")
_GLOB_PATTERNS = ("**/*.py", "src/**/*.tsx", "tests/**/test_*.py", "**/*.md", "*.json", "**/*.ts",
                  ".claude/agents/*.md")
_CODE = (
    "import json\nimport logging\nfrom datetime import datetime\nfrom pathlib import Path\n\nlogger = logging."
    "getLogger(__name__)\n\n\nclass TaskStore:\n    \"\"\"Keeps tasks in SQLite and mirrors them to JSON.\"\"\"\n\n    def "
    "__init__(self, path: Path):\n        self.path = path\n        self._cache: dict[str, dict] = {}\n\n    def "
    "add(self, task_id: str, payload: dict) -> None:\n        payload = dict(payload, updated_at=datetime.now()."
    "isoformat())\n        self._cache[task_id] = payload\n        self.path.write_text(json.dumps(self._cache, "
    "indent=2))\n        logger.info(\"stored %s\", task_id)\n\n    def get(self, task_id: str) -> dict | None:\n"
    "        return self._cache.get(task_id)\n\n    def failed(self) -> list[dict]:\n        return [t for t in "
    "self._cache.values() if t.get(\"status\") == \"failed\"]\n\n\ndef summarize(tasks: list[dict]) -> dict:\n    "
    "counts: dict[str, int] = {}\n    for task in tasks:\n        counts[task[\"status\"]] = counts.get(task["
    "\"status\"], 0) + 1\n    return counts\n\n\nexport function TaskCard({ task, onStop }: Props) {\n  const "
    "[open, setOpen] = useState(false);\n  const tokens = task.token_usage?.total ?? 0;\n  return (\n    <div "
    "className=\"task-card\" onClick={() => setOpen(!open)}>\n      <span className={`status ${task.status}`}>"
    "{task.status}</span>\n      <h3>{task.description}</h3>\n      <small>{tokens.toLocaleString()} tokens</small>"
    "\n      {task.status === 'running' && <button onClick={onStop}>Stop</button>}\n    </div>\n  );\n}\n")
_CODE = _CODE * 4
_EDIT_PAIRS = (
    ("    return counts", "    return dict(sorted(counts.items()))"),
    ("logger.info(\"stored %s\", task_id)", "logger.debug(\"stored %s\", task_id)"),
    ("timeout=30", "timeout=120"),
    ("if not task:", "if task is None:"),
    ("const tokens = task.token_usage?.total ?? 0;", "const tokens = task.token_usage?.total_tokens ?? 0;"),
    ("except Exception:", "except (OSError, ValueError):"),
    ("assert response.status_code == 200", "assert response.status_code == 201"),
    ("color: #333;", "color: var(--text-primary);"),
)
_TODOS = (
    ("Reproduce the failing test", "Reproducing the failing test"), ("Read the relevant modules", "Reading modules"),
    ("Implement the fix", "Implementing the fix"), ("Add a regression test", "Adding a regression test"),
    ("Run the full test suite", "Running the test suite"), ("Update the docs", "Updating the docs"),
    ("Commit and merge the branch", "Committing and merging"), ("Delegate UI work to frontend_agent",
                                                                 "Delegating UI work"),
)
_URLS = (
    "https://docs.anthropic.com/en/docs/claude-code/hooks", "https://docs.python.org/3/library/sqlite3.html",
    "https://react.dev/reference/react/useEffect", "https://playwright.dev/docs/test-assertions",
    "https://fastapi.tiangolo.com/tutorial/security/", "https://sqlite.org/wal.html",
    "https://github.com/anthropics/claude-code/issues/2814", "https://vitejs.dev/config/server-options",
)
_QUERIES = ("claude code PostToolUse hook tool_response format", "sqlite WAL checkpoint starvation",
            "react 19 useOptimistic example", "python asyncio subprocess readline limit",
            "telegram bot api rate limits 2025", "playwright wait for network idle")
_SUBAGENT_PROMPT = (
    " Work in the repository at {ws}. Read the relevant files first, keep changes minimal, run the tests that cover "
    "what you touched and report back what you changed, which files, and the test results. Do not push. If you "
    "find unrelated problems, list them at the end instead of fixing them. Follow the conventions in CLAUDE.md "
    "and the agent instructions in .claude/agents.")
_RESULTS = (
    "Done. Fixed the failing tests in {f} and committed the change on task/{t}.",
    "Implemented the requested change in {f}; all 42 tests pass. Merged task/{t} into main.",
    "Investigated the issue: the root cause is in {f}. Summary and next steps are in the report.",
    "Completed. Updated {f}, added a regression test and verified it in the browser.",
    "Analysis complete: top 3 error patterns identified and agent prompts updated ({f}).",
)
_EXCEPTIONS = ("Separator is not found, and chunk exceed the limit", "[Errno 32] Broken pipe",
               "database is locked", "Event loop is closed")

# (user message, task description, agent hint used in the router's context)
_REQUESTS = (
    ("the login tests are failing again, can you fix them?", "Fix failing login tests", "code-agent"),
    ("add a dark mode toggle to the settings page", "Add dark mode toggle to settings page", "frontend-agent"),
    ("research how other bots do rate limiting", "Research rate limiting approaches for chat bots",
     "research-agent"),
    ("the dashboard shows 0 tool calls for every task", "Fix dashboard tool call counts", "orchestrator"),
    ("refactor the database module, it's getting huge", "Refactor tasks/database.py into smaller modules",
     "code-agent"),
    ("make the task cards show token usage", "Show token usage on task cards", "frontend-agent"),
    ("why is the bot so slow to answer lately?", "Investigate slow bot responses", "research-agent"),
    ("add pagination to the expenses endpoint", "Add pagination to GET /expenses", "code-agent"),
    ("upgrade vite and fix whatever breaks", "Upgrade Vite to v7 and fix the build", "frontend-agent"),
    ("write a script that cleans old worktrees", "Script to remove stale git worktrees", "code-agent"),
    ("the self-improvement agent keeps editing the wrong prompt", "Fix self-improvement agent prompt target",
     "orchestrator"),
    ("compare sqlite and postgres for our workload", "Compare SQLite and PostgreSQL for the bot", "research-agent"),
    ("fix the flaky playwright login test", "Stabilise the Playwright login test", "frontend-agent"),
    ("add retries to the telegram send function", "Add retries with backoff to Telegram sends", "code-agent"),
)
_CHAT = (
    ("what's running right now?", "You have {n} tasks running. The latest one is working on the settings page."),
    ("did the login fix get merged?", "Yes, task {t} completed and its branch was merged into main."),
    ("how much did we use today?", "I can't see costs, but {n} tasks ran today and most completed."),
    ("thanks!", "You're welcome!"),
    ("what does the orchestrator do?", "It plans the work and delegates each step to a specialised agent."),
)
_SQLITE_COMMANDS = (
    ("sqlite3 data/agentlab.db \"SELECT error_category, COUNT(*) FROM tool_usage WHERE success = 0 AND timestamp >= "
     "datetime('now', '-7 days') GROUP BY error_category ORDER BY 2 DESC\"", "Error categories of the last 7 days"),
    ("sqlite3 data/agentlab.db \"SELECT task_id, agent_type, error FROM tasks WHERE status = 'failed' AND created_at "
     ">= datetime('now', '-7 days') ORDER BY created_at DESC LIMIT 20\"", "Recent failed tasks"),
    ("sqlite3 data/agentlab.db \"SELECT tool_name, COUNT(*) FROM tool_usage GROUP BY tool_name ORDER BY 2 DESC "
     "LIMIT 10\"", "Top tools"),
)
# (kind, command builder): the kind picks the error texts a failure of that command can show.
_BASH_COMMANDS = (
    ("test", lambda rng, ctx: ("pytest -q", "Run the test suite")),
    ("test", lambda rng, ctx: (f"pytest tests/test_{rng.choice(('database', 'manager', 'server', 'routes', 'loader'))}"
                               ".py -x -q", "Run the failing test file")),
    ("test", lambda rng, ctx: ("make test", "Run the tests")),
    ("npm", lambda rng, ctx: (rng.choice(("npm test -- --run", "npm run build", "npm run lint")),
                              "Run the frontend checks")),
    ("npm", lambda rng, ctx: ("npm run dev", "Start the dev server")),
    ("git", lambda rng, ctx: ("git status", "Check git status")),
    ("git", lambda rng, ctx: ("git diff --stat", "Show changed files")),
    ("git", lambda rng, ctx: ("git log --oneline -10", "Show recent commits")),
    ("git", lambda rng, ctx: (f'git add -A && git commit -m "{rng.choice(_REQUESTS)[1]}"', "Commit the changes")),
    ("git", lambda rng, ctx: (f"git worktree add /tmp/agentlab-worktrees/{ctx.task_id} -b task/{ctx.task_id}",
                              "Create the task worktree")),
    ("git", lambda rng, ctx: (f'git checkout main && git merge --no-ff task/{ctx.task_id} -m "Merge task '
                              f'{ctx.task_id}"', "Merge the task branch")),
    ("git", lambda rng, ctx: ("git push origin HEAD", "Push the branch")),
    ("shell", lambda rng, ctx: (f"ls -la {ctx.ws}/{rng.choice(('src', 'tests', 'scripts', 'docs'))}",
                                "List directory")),
    ("shell", lambda rng, ctx: (f'grep -rn "{rng.choice(_SYMBOLS)}" {ctx.ws}', "Search for usages")),
    ("shell", lambda rng, ctx: ("tail -n 50 logs/bot.log", "Read the bot log")),
    ("shell", lambda rng, ctx: ("rm -rf build dist", "Clean build output")),
    ("shell", lambda rng, ctx: ("docker compose up -d db", "Start the database container")),
    ("lint", lambda rng, ctx: ("ruff check . --fix", "Lint and autofix")),
    ("net", lambda rng, ctx: ("curl -s http://localhost:3000/api/health", "Check the server")),
    ("pip", lambda rng, ctx: ("pip install -r requirements.txt", "Install dependencies")),
)
_BASH_ERRORS = {
    "test": (
        "FAILED tests/test_routes.py::test_create_expense - AssertionError: assert 500 == 201",
        "Traceback (most recent call last):\n  File \"{ws}/{f}\", line 12, in <module>\n    import requests\n"
        "ModuleNotFoundError: No module named 'requests'",
        "  File \"{ws}/{f}\", line 41\n    def handler(event, context)\n                              ^\n"
        "SyntaxError: invalid syntax",
        "Command timed out after 2m 0.0s",
        "sqlite3.OperationalError: database is locked"),
    "npm": (
        "Error: Cannot find module 'vite'\nRequire stack:\n- {ws}/node_modules/.bin/vite",
        "npm error code ERESOLVE\nnpm error ERESOLVE unable to resolve dependency tree",
        "Command timed out after 2m 0.0s",
        "Error: ENOSPC: System limit for number of file watchers reached"),
    "git": (
        "fatal: not a git repository (or any of the parent directories): .git",
        "error: failed to push some refs to 'github.com:acme/web.git'\nhint: Updates were rejected because the "
        "remote contains work that you do not have locally.",
        "CONFLICT (content): Merge conflict in {f}\nAutomatic merge failed; fix conflicts and then commit the result.",
        "error: pathspec 'feature/login' did not match any file(s) known to git",
        "fatal: 'task/{t}' is already checked out at '/tmp/agentlab-worktrees/{t}'",
        "error: cannot pull with rebase: You have unstaged changes."),
    "shell": (
        "ls: cannot access '{ws}/src': No such file or directory",
        "rm: cannot remove 'build': Permission denied",
        "docker: permission denied while trying to connect to the Docker daemon socket at "
        "unix:///var/run/docker.sock",
        "tail: cannot open 'logs/bot.log' for reading: No such file or directory",
        "Killed\nerror: process exited: out of memory",
        "/bin/bash: line 1: pnpm: command not found"),
    "lint": ("error: Failed to parse pyproject.toml: TOML parse error at line 12, column 1",),
    "net": (
        "curl: (7) Failed to connect to localhost port 3000 after 0 ms: Connection refused",
        "HTTP Error 429: Too Many Requests",
        "ssl.SSLCertVerificationError: [SSL: CERTIFICATE_VERIFY_FAILED] certificate verify failed"),
    "pip": (
        "ERROR: Could not find a version that satisfies the requirement torch==2.9.1",
        "error: externally-managed-environment\n\nThis environment is externally managed"),
    "db": (
        "Error: in prepare, no such table: tool_usage_v2",
        "Error: database is locked",
        "Parse error near line 1: near \"FORM\": syntax error"),
    "secret": (
        "curl: (22) The requested URL returned error: 401",
        "ERROR 1045 (28000): Access denied for user 'root'@'localhost' (using password: YES)",
        "psql: error: connection to server at \"localhost\" (127.0.0.1), port 5432 failed: Connection refused",
        "An error occurred (InvalidAccessKeyId) when calling the ListObjectsV2 operation: The AWS Access Key Id you "
        "provided does not exist in our records.",
        "pytest: error: unrecognized arguments: -q"),
}
_USERNAMES = ("matias", "lucia", "pablo", "ines", "tomas", "sofia", "martin", "elena")
_DOMAINS = ("gmail.com", "proton.me", "acme.dev", "outlook.com", "fastmail.com")
_DOCS = ("guides/setup.md", "guides/deployment.md", "analysis/TOOL_USAGE_ANALYSIS.md",
         "analysis/FAILURE_RATE_INVESTIGATION.md", "adr/0007-cost-tracking-architecture.md",
         "archive/HOOKS_INTEGRATION_ANALYSIS.md", "archive/DASHBOARD_IMPROVEMENTS_SPEC.md", "api/endpoints.md",
         "guides/self-improvement.md", "analysis/INVESTIGATION_REPORT.md")

_ALNUM = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
_UPPER_NUM = "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
_BCRYPT = "./ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"

_HOUR_WEIGHTS = (0.6, 0.3, 0.15, 0.1, 0.1, 0.15, 0.3, 0.7, 1.2, 1.6, 1.8, 1.8,
                 1.4, 1.5, 1.8, 1.8, 1.7, 1.5, 1.3, 1.3, 1.4, 1.3, 1.1, 0.9)

# Per tool: (median duration s, sigma, P(fails), P(never reaches the post-hook))
_TOOL_TIMING = {
    "Read": (0.15, 0.6, 0.035, 0.035), "Edit": (0.12, 0.5, 0.11, 0.035), "MultiEdit": (0.2, 0.5, 0.10, 0.035),
    "Write": (0.1, 0.5, 0.03, 0.035), "Bash": (2.5, 1.3, 0.09, 0.06), "Grep": (0.4, 0.8, 0.015, 0.03),
    "Glob": (0.15, 0.6, 0.005, 0.03), "TodoWrite": (0.03, 0.4, 0.003, 0.02), "Task": (60.0, 1.0, 0.04, 0.04),
    "WebFetch": (5.0, 0.7, 0.12, 0.04), "WebSearch": (4.0, 0.5, 0.03, 0.03), "BashOutput": (0.05, 0.4, 0.02, 0.03),
    "KillShell": (0.05, 0.4, 0.02, 0.03), "SlashCommand": (0.1, 0.4, 0.02, 0.03),
    "NotebookEdit": (0.2, 0.5, 0.05, 0.03), "mcp__playwright__browser_navigate": (1.5, 0.6, 0.08, 0.04),
    "mcp__playwright__browser_snapshot": (0.4, 0.5, 0.03, 0.03),
    "mcp__playwright__browser_click": (0.6, 0.5, 0.10, 0.04), "mcp__playwright__browser_type": (0.4, 0.5, 0.08, 0.04),
    "mcp__playwright__browser_take_screenshot": (0.8, 0.5, 0.03, 0.03),
    "mcp__playwright__browser_evaluate": (0.3, 0.5, 0.08, 0.03), "mcp__github__list_commits": (1.2, 0.5, 0.05, 0.03),
    "mcp__sentry__get_issue": (1.5, 0.5, 0.05, 0.03), "unknown": (0.5, 0.5, 0.02, 0.05),
}


def _weights(pairs: dict[str, float]) -> tuple[tuple[str, ...], list[float]]:
    return tuple(pairs), list(itertools.accumulate(pairs.values()))


_BOT_MAIN = _weights({"TodoWrite": 8, "Read": 30, "Write": 5, "Edit": 16, "Glob": 7, "Grep": 10, "Bash": 24})
_CLI_MAIN = _weights({
    "Read": 26, "Edit": 15, "Bash": 22, "Grep": 8, "Glob": 5, "Write": 5, "TodoWrite": 5, "MultiEdit": 2,
    "WebFetch": 3, "WebSearch": 2, "BashOutput": 2, "KillShell": 0.5, "SlashCommand": 0.5, "NotebookEdit": 0.3,
    "mcp__playwright__browser_navigate": 1.5, "mcp__playwright__browser_snapshot": 2,
    "mcp__playwright__browser_click": 1.5, "mcp__playwright__browser_type": 1,
    "mcp__playwright__browser_take_screenshot": 1, "mcp__github__list_commits": 0.3, "mcp__sentry__get_issue": 0.2,
    "unknown": 0.1})
_TOOLSETS = {
    "code": _weights({"Read": 30, "Edit": 20, "Bash": 22, "Grep": 10, "Glob": 6, "Write": 6, "TodoWrite": 4,
                      "MultiEdit": 2}),
    "research": _weights({"Read": 25, "Grep": 15, "Glob": 10, "WebFetch": 20, "WebSearch": 18, "Bash": 8, "Write": 4}),
    "frontend": _weights({"Read": 22, "Edit": 18, "Write": 6, "Bash": 14, "Grep": 4,
                          "mcp__playwright__browser_navigate": 8, "mcp__playwright__browser_snapshot": 10,
                          "mcp__playwright__browser_click": 8, "mcp__playwright__browser_type": 5,
                          "mcp__playwright__browser_take_screenshot": 5, "mcp__playwright__browser_evaluate": 2}),
    "git": _weights({"Bash": 80, "Read": 10, "Glob": 5, "Grep": 5}),
    "review": _weights({"Read": 40, "Grep": 20, "Glob": 10, "Bash": 25, "TodoWrite": 5}),
    "selfimp": _weights({"Bash": 45, "Read": 30, "Edit": 15, "Grep": 10}),
}
_SUBAGENT_TOOLSET = {
    "code_agent": "code", "general-purpose": "code", "ultrathink-debugger": "code", "debug-agent": "code",
    "orchestrator": "code", "task-decomposer": "review", "research_agent": "research", "frontend_agent": "frontend",
    "ui-comprehensive-tester": "frontend", "git-worktree": "git", "git-merge": "git",
    "task-completion-validator": "review", "code-quality-pragmatist": "review", "Jenny": "review", "karen": "review",
    "claude-md-compliance-checker": "review", "self-improvement-agent": "selfimp",
}
_BOT_SUBAGENTS = _weights({
    "code_agent": 24, "general-purpose": 8, "research_agent": 10, "frontend_agent": 10, "git-worktree": 9,
    "git-merge": 7, "task-completion-validator": 6, "code-quality-pragmatist": 3, "Jenny": 3, "karen": 3,
    "claude-md-compliance-checker": 2, "ui-comprehensive-tester": 3, "ultrathink-debugger": 3, "debug-agent": 2,
    "task-decomposer": 2, "orchestrator": 1})
_CLI_SUBAGENTS = _weights({"general-purpose": 40, "code_agent": 10, "research_agent": 8, "frontend_agent": 5,
                           "code-quality-pragmatist": 3, "karen": 2})
_SELF_SUBAGENTS = _weights({"self-improvement-agent": 90, "research_agent": 10})


@dataclass(frozen=True)
class _Profile:
    """How one kind of session picks tools and paces itself."""

    main: tuple[tuple[str, ...], list[float]]
    subagents: tuple[tuple[str, ...], list[float]]
    task_p: float           # chance that the next main-level call delegates to a sub-agent
    inner_median: float     # sub-agent calls per delegation
    gap_median: float       # seconds the main agent thinks between calls
    user_turn_p: float = 0.0  # interactive sessions: chance of a pause while the human reads and types


_PROFILES = {
    "bot": _Profile(_BOT_MAIN, _BOT_SUBAGENTS, 0.22, 6.0, 12.0),
    "self": _Profile(_BOT_MAIN, _SELF_SUBAGENTS, 0.35, 8.0, 10.0),
    "cli": _Profile(_CLI_MAIN, _CLI_SUBAGENTS, 0.05, 6.0, 4.0, user_turn_p=0.12),
}

# --------------------------------------------------------------------------------------------------------------
# One logical tool call
# --------------------------------------------------------------------------------------------------------------


class _Call:
    """A logical tool call; times are µs relative to the unit's creation."""

    __slots__ = ("start", "end", "tool", "params", "outcome", "error", "category", "tokens", "subagent",
                 "secrets", "error_secret", "emails")

    def __init__(self, start: int, end: int, tool: str, params: str | None):
        self.start = start
        self.end = end
        self.tool = tool
        self.params = params
        self.outcome = "success"
        self.error: str | None = None
        self.category: str | None = None
        self.tokens: tuple | None = None
        self.subagent: str | None = None
        self.secrets: tuple[str, ...] = ()
        self.error_secret: str | None = None
        self.emails: tuple[str, ...] = ()


@dataclass
class _Ctx:
    """What a unit's tool calls can refer to."""

    ws: str
    files: tuple[str, ...]
    task_id: str
    description: str | None = None


class _Secrets:
    """The credentials a developer keeps pasting: mostly the same few, now and then a fresh one."""

    def __init__(self, rng: random.Random):
        self.rng = rng
        self.current: dict[str, str] = {}

    def _chars(self, alphabet: str, n: int) -> str:
        return "".join(self.rng.choices(alphabet, k=n))

    def new(self, kind: str) -> str:
        if kind == "openai":
            return "sk-proj-" + self._chars(_ALNUM + "_-", 48)
        if kind == "anthropic":
            return "sk-ant-api03-" + self._chars(_ALNUM + "_-", 40)
        if kind == "github":
            return "ghp_" + self._chars(_ALNUM, 36)
        if kind == "gitlab":
            return "glpat-" + self._chars(_ALNUM, 20)
        if kind == "aws_id":
            return "AKIA" + self._chars(_UPPER_NUM, 16)
        if kind == "aws_secret":
            return self._chars(_ALNUM + "/+", 40)
        if kind == "password":
            return self._chars(_ALNUM, 10) + self.rng.choice("!#%*-_") + self._chars("0123456789", 3)
        raise ValueError(kind)

    def get(self, kind: str) -> str:
        if kind not in self.current or self.rng.random() < 0.25:
            self.current[kind] = self.new(kind)
        return self.current[kind]


# --------------------------------------------------------------------------------------------------------------
# Tool calls: parameters, outcomes, errors, tokens
# --------------------------------------------------------------------------------------------------------------


class _Tools:
    """Builds :class:`_Call` objects: Claude Code's parameter shapes, the hook's sanitiser, outcomes and tokens."""

    def __init__(self, rng: random.Random, secrets: _Secrets, dev_emails: list[str]):
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
                                         "new_source": _CODE[:self.rng.randint(80, 400)]},
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
                                                      "author": self.rng.choice(_USERNAMES)},
            "mcp__sentry__get_issue": lambda ctx: {"issue_id": str(self.rng.randint(10 ** 9, 10 ** 10)),
                                                   "auth_token": "sntrys_" + self.secrets._chars(_ALNUM, 32)},
            "unknown": lambda ctx: {},
        }

    # -- building one call ---------------------------------------------------------------------------------------

    def make(self, tool: str, start: int, ctx: _Ctx, subagent: str | None = None) -> _Call:
        rng = self.rng
        self._found_secrets: list[str] = []
        self._found_emails: list[str] = []
        if tool == "Task":
            raw = self._task(ctx, subagent)
        else:
            raw = self._builders[tool](ctx)
        params = sanitize_parameters(raw)
        median, sigma, p_fail, p_unknown = _TOOL_TIMING[tool]
        duration = int(rng.lognormvariate(math.log(median), sigma) * US) + 1
        call = _Call(start, start + duration, tool, json.dumps(params) if params else None)
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

    def _file(self, ctx: _Ctx) -> str:
        return f"{ctx.ws}/{self.rng.choice(ctx.files)}"

    def _read(self, ctx):
        if self.rng.random() < 0.15:
            return {"file_path": self._file(ctx), "offset": self.rng.randint(1, 40) * 50, "limit": 200}
        return {"file_path": self._file(ctx)}

    def _write(self, ctx):
        start = self.rng.randrange(0, 800)
        return {"file_path": self._file(ctx), "content": _CODE[start:start + int(self.rng.lognormvariate(6.8, 0.7))]}

    def _edit(self, ctx):
        old, new = self.rng.choice(_EDIT_PAIRS)
        params = {"file_path": self._file(ctx), "old_string": old, "new_string": new}
        if self.rng.random() < 0.05:
            params["replace_all"] = True
        return params

    def _multiedit(self, ctx):
        pairs = self.rng.sample(_EDIT_PAIRS, self.rng.randint(2, 4))
        return {"file_path": self._file(ctx), "edits": [{"old_string": o, "new_string": n} for o, n in pairs]}

    def _grep(self, ctx):
        pattern = self.rng.choice(_GREP_PATTERNS).replace("{s}", self.rng.choice(_SYMBOLS))
        params = {"pattern": pattern, "path": ctx.ws}
        if self.rng.random() < 0.5:
            params["output_mode"] = self.rng.choice(("content", "files_with_matches"))
        return params

    def _glob(self, ctx):
        if self.rng.random() < 0.6:
            return {"pattern": self.rng.choice(_GLOB_PATTERNS), "path": ctx.ws}
        return {"pattern": self.rng.choice(_GLOB_PATTERNS)}

    def _todowrite(self, ctx):
        items = self.rng.sample(_TODOS, self.rng.randint(2, 6))
        done = self.rng.randint(0, len(items))
        return {"todos": [{"content": c, "status": "completed" if i < done else
                           ("in_progress" if i == done else "pending"), "activeForm": a}
                          for i, (c, a) in enumerate(items)]}

    def _task(self, ctx, subagent=None):
        description = ctx.description if ctx.description and self.rng.random() < 0.6 else \
            self.rng.choice(_REQUESTS)[1]
        prompt = description + "." + _SUBAGENT_PROMPT.format(ws=ctx.ws) * self.rng.randint(1, 4)
        if self.rng.random() < 0.005:  # no subagent_type: the post-hook records 'unknown'
            return {"description": description, "prompt": prompt}
        return {"subagent_type": subagent or "general-purpose", "description": description, "prompt": prompt}

    def _webfetch(self, ctx):
        return {"url": self.rng.choice(_URLS), "prompt": "Summarise what this page says about the question."}

    def _websearch(self, ctx):
        return {"query": self.rng.choice(_QUERIES)}

    def _bash(self, ctx):
        rng = self.rng
        r = rng.random()
        if r < 0.03:
            self._kind = "secret"
            return {"command": self._secret_command(ctx), "description": "Run with credentials"}
        if r < 0.035:
            self._kind = "git"
            email = rng.choice(self.dev_emails)
            self._found_emails.append(email)
            if rng.random() < 0.5:
                return {"command": f'git config user.email "{email}"', "description": "Set the commit e-mail"}
            return {"command": f'git commit --author="{email.split("@")[0]} <{email}>" -m "Fix task {ctx.task_id}"',
                    "description": "Commit with author"}
        if r < 0.055:
            self._kind = "shell"
            length = int(rng.lognormvariate(6.7, 0.5))
            return {"command": f"cat > {self._file(ctx)} << 'EOF'\n{_CODE[:length]}\nEOF",
                    "description": "Write the file"}
        if ctx.files is _PY_FILES and "agentlab" in ctx.ws and rng.random() < 0.15:
            self._kind = "db"
            command, description = rng.choice(_SQLITE_COMMANDS)
        else:
            self._kind, make = rng.choice(_BASH_COMMANDS)
            command, description = make(rng, ctx)
        params = {"command": command, "description": description}
        if rng.random() < 0.08:
            params["timeout"] = rng.choice((120000, 300000, 600000))
        return params

    def _secret_command(self, ctx) -> str:
        rng, s = self.rng, self.secrets
        k = rng.randrange(7)
        if k == 0:
            key = s.get("openai")
            found = [key]
            command = f"export OPENAI_API_KEY={key} && pytest tests/ -q"
        elif k == 1:
            key = s.get("github")
            found = [key]
            command = f"curl -s -H 'Authorization: Bearer {key}' https://api.github.com/repos/acme/web/pulls"
        elif k == 2:
            key = s.get("password")
            found = [key]
            command = f"mysql -u root --password={key} -e 'SHOW DATABASES;'"
        elif k == 3:
            key, secret = s.get("aws_id"), s.get("aws_secret")
            found = [key, secret]
            command = f"AWS_ACCESS_KEY_ID={key} AWS_SECRET_ACCESS_KEY={secret} aws s3 ls s3://acme-backups/"
        elif k == 4:
            key = s.get("github")
            found = [key]
            command = f"git remote set-url origin https://{key}@github.com/acme/web.git"
        elif k == 5:
            key = s.get("password")
            found = [key]
            command = f"psql postgres://admin:{key}@localhost:5432/app -c 'select count(*) from users'"
        else:
            key = s.get("anthropic")
            found = [key]
            command = f"ANTHROPIC_API_KEY={key} python scripts/check_usage.py"
        self._found_secrets.extend(found)
        return command

    # -- error texts per tool (what the post-hook extracts) ---------------------------------------------------------

    def _error(self, tool: str, ctx: _Ctx, call: _Call) -> str:
        rng = self.rng
        if tool in ("Edit", "MultiEdit"):
            return rng.choice((
                "String to replace not found in file.", "String to replace not found in file.",
                "File has not been read yet. Read it first before writing to it.",
                "File has been modified since read, either by the user or by a linter. Read it again before "
                "attempting to write it.",
                "Found 2 matches of the string to replace, but replace_all is false. To replace all occurrences, set "
                "replace_all to true. To replace only one occurrence, please provide more context to uniquely "
                "identify the instance.",
                "No changes to make: old_string and new_string are exactly the same.",
                "File does not exist.",
                "InputValidationError: Edit failed due to the following issue:\nThe required parameter `old_string` "
                "is missing"))
        if tool == "Read":
            return rng.choice((
                "File does not exist.", "File does not exist.",
                f"File content ({rng.randint(25_001, 90_000)} tokens) exceeds maximum allowed tokens (25000). Please "
                "use offset and limit parameters to read specific portions of the file, or use the GrepTool to "
                "search for specific content.",
                "EISDIR: illegal operation on a directory, read",
                "This tool cannot read binary files. The file appears to be a binary .png file."))
        if tool == "Write":
            return rng.choice(("File has not been read yet. Read it first before writing to it.",
                               f"EACCES: permission denied, open '{self._file(ctx)}'"))
        if tool == "Bash":
            kind = self._kind
            if kind in ("git", "secret") and rng.random() < 0.15:  # a token echoed back in git's error text
                if rng.random() < 0.5:
                    token = self.secrets.get("github")
                    call.error_secret = token
                    return f"fatal: could not read Password for 'https://{token}@github.com': terminal prompts disabled"
                token = self.secrets.get("gitlab")
                call.error_secret = token
                return (f"fatal: unable to access 'https://oauth2:{token}@gitlab.com/acme/infra.git/': The requested "
                        "URL returned error: 403")
            text = rng.choice(_BASH_ERRORS[kind])
            if "{f}" in text:
                text = text.replace("{f}", rng.choice([f for f in ctx.files if f.endswith(".py")] or ["main.py"]))
            return text.replace("{ws}", ctx.ws).replace("{t}", ctx.task_id)
        if tool in ("Grep", "Glob"):
            return rng.choice(("rg: regex parse error:\n    (?:foo(\n    ^\nerror: unclosed group",
                               f"Path does not exist: {ctx.ws}/src/legacy"))
        if tool == "WebFetch":
            return rng.choice(("Request failed with status code 404", "Request failed with status code 403",
                               "getaddrinfo ENOTFOUND docs.internal.acme.dev", "timeout of 60000ms exceeded",
                               "unable to verify the first certificate", "None"))
        if tool == "WebSearch":
            return "API Error: 429 rate_limit_error"
        if tool == "Task":
            return rng.choice((
                "Agent type 'qa-agent' not found. Available agents: general-purpose, code_agent, frontend_agent, "
                "research_agent",
                'API Error: 529 {"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}}',
                "API Error: Request timed out.", "Prompt is too long",
                'API Error: 400 {"type":"error","error":{"type":"invalid_request_error","message":"messages: text '
                'content blocks must be non-empty"}}'))
        if tool == "TodoWrite":
            return ("InputValidationError: TodoWrite failed due to the following issue:\nThe parameter `todos` type "
                    "is expected as `array` but provided as `string`")
        if tool.startswith("mcp__playwright__"):
            return rng.choice(("Error: Timeout 5000ms exceeded.",
                               "Error: Ref e31 not found in the current page snapshot. Try capturing new snapshot.",
                               "Error: page.goto: net::ERR_CONNECTION_REFUSED at http://localhost:5173/",
                               "Error: Browser is already in use for /root/.cache/ms-playwright/mcp-chrome, use "
                               "--isolated to run multiple instances of the same browser"))
        return "Error: tool execution failed"


# --------------------------------------------------------------------------------------------------------------
# Planning the calls of one unit (relative times)
# --------------------------------------------------------------------------------------------------------------


def _plan_calls(rng: random.Random, tools: _Tools, n: int, profile: _Profile, origin: int, ctx: _Ctx) -> list[_Call]:
    """Exactly ``n`` calls in start order; a Task call is followed by the calls of its sub-agent, inside its span."""
    calls: list[_Call] = []
    t = origin
    left = n
    main_tools, main_cw = profile.main
    sub_names, sub_cw = profile.subagents
    gap_mu = math.log(profile.gap_median)
    while left > 0:
        if rng.random() < profile.task_p:
            subagent = rng.choices(sub_names, cum_weights=sub_cw)[0]
            inner_names, inner_cw = _TOOLSETS[_SUBAGENT_TOOLSET.get(subagent, "code")]
            median = profile.inner_median / 2 if inner_names is _TOOLSETS["git"][0] else profile.inner_median
            inner = min(left - 1, int(rng.lognormvariate(math.log(median), 0.8)))
            task = tools.make("Task", t, ctx, subagent)
            calls.append(task)
            if inner:
                ti = t + int(rng.uniform(2, 15) * US)
                for _ in range(inner):
                    call = tools.make(rng.choices(inner_names, cum_weights=inner_cw)[0], ti, ctx)
                    calls.append(call)
                    ti = call.end + int(rng.lognormvariate(math.log(8.0), 0.9) * US)
                task.end = ti + int(rng.lognormvariate(math.log(20.0), 0.8) * US)
            left -= 1 + inner
            t = task.end
        else:
            call = tools.make(rng.choices(main_tools, cum_weights=main_cw)[0], t, ctx)
            calls.append(call)
            left -= 1
            t = call.end
        pause = rng.lognormvariate(gap_mu, 1.0)
        if profile.user_turn_p and rng.random() < profile.user_turn_p:
            pause += rng.lognormvariate(math.log(120.0), 1.1)
        t += int(pause * US)
    return calls


def _cut_calls(calls: list[_Call], cut: int) -> list[_Call]:
    """Calls started before ``cut`` (the process died or was killed); those still running never complete."""
    kept = []
    for call in calls:
        if call.start >= cut:
            break
        if call.end > cut:
            call.outcome = "unknown"
        kept.append(call)
    return kept


def _monitor_kill(bumps: list[int], phase: int, finish: int) -> int | None:
    """First 60-s monitor check at which ``updated_at`` is more than 30 min old, if it comes before ``finish``.

    ``bumps`` are the relative times ``updated_at`` was written while the task ran (sorted).
    """
    for i, bump in enumerate(bumps):
        until = bumps[i + 1] if i + 1 < len(bumps) else finish
        deadline = bump + MONITOR_TIMEOUT
        tick = phase + ((deadline - phase) // MONITOR_INTERVAL + 1) * MONITOR_INTERVAL
        if tick < until:
            return tick
    return None


# --------------------------------------------------------------------------------------------------------------
# The simulation
# --------------------------------------------------------------------------------------------------------------

_NO_TOKENS = (None, None, None, None)

# Fates of a bot task: (name, probability); the rest complete.
_FATES = (
    ("no_output", 0.035), ("minimal_output", 0.01), ("exec_error", 0.02), ("hang", 0.02), ("dead", 0.02),
    ("stop_pool", 0.012), ("stop_manager", 0.012), ("stop_cleanup", 0.003), ("stop_restart", 0.01),
    ("stop_shutdown", 0.005), ("start_failed", 0.006), ("pending_forever", 0.003), ("pending_cleanup", 0.003),
)
_ZERO_CALL_FATES = {"start_failed", "pending_forever", "pending_cleanup"}


@dataclass
class _Run:
    """One bot task's timeline, in µs after its creation."""

    fate: str
    queue: int                 # picked up by a worker: status 'running'
    started: int               # agent_status "Starting Claude interactive session"
    session: int               # "Session started with PID n": pid and session_uuid written
    calls: list[_Call] = field(default_factory=list)
    t_fin: int | None = None   # when Claude would have printed its answer
    cut: int | None = None     # the process died or was killed here
    finish: int | None = None  # the last status write
    stale_for: int = 0         # how old updated_at was when the monitor killed the task
    running_at_end: bool = False


class _Demo:
    """Generates every row of the demo database and its truth, in memory."""

    def __init__(self, rng: random.Random, clock: _Clock, days: list[date], snapshot: int):
        self.rng = rng
        self.clock = clock
        self.days = days
        self.snapshot = snapshot
        self.period_start = clock.at_local(days[0])
        self.server = _server_schedule(rng, days, clock)
        self.tool_rows: list[tuple] = []
        self.status_rows: list[tuple] = []
        self.message_rows: list[tuple] = []
        self.task_rows: list[tuple] = []
        self.truth_calls: list[tuple[int, dict]] = []
        self.truth_tasks: list[tuple[int, dict]] = []
        self.truth_messages: list[tuple[int, dict]] = []
        self.secrets: dict[str, None] = {}
        self.emails: dict[str, None] = {}
        self.task_ids: set[str] = set()
        self.calls_made = 0
        self._tool_meta = {}
        self._users()
        self.tools = _Tools(rng, _Secrets(rng), self.dev_emails)
        self._si_minute = rng.randrange(60)

    # -- people ---------------------------------------------------------------------------------------------------

    def _users(self) -> None:
        """Web users (JWT, in ``users``), the no-auth web user, Telegram users; all signed up before the period."""
        rng = self.rng
        schema_created = self.period_start - rng.randint(25, 40) * DAY - rng.randrange(DAY)
        self.schema_applied_at = self.clock.iso(schema_created)
        names = rng.sample(_USERNAMES, rng.randint(2, 4))
        signups = sorted(rng.randrange(schema_created, self.period_start) for _ in names)
        self.user_rows = []
        self.web_users: list[str | int] = [NO_AUTH_WEB_USER]
        self.password_hashes = []
        for i, (name, created) in enumerate(zip(names, signups)):
            user_id = str(uuid.UUID(int=rng.getrandbits(128), version=4))
            email = f"{name}{rng.choice(('', '.dev', str(rng.randint(1, 99))))}@{rng.choice(_DOMAINS)}"
            pw_hash = "$2b$12$" + "".join(rng.choices(_BCRYPT, k=53))
            self.user_rows.append((user_id, name, email, pw_hash, self.clock.iso(created), 1 if i == 0 else 0))
            self.web_users.append(user_id)
            self.password_hashes.append(pw_hash)
            self.emails[email] = None
        self.usernames = names
        self.dev_emails = [row[2] for row in self.user_rows]
        self.telegram_users = [rng.randint(100_000_000, 2_000_000_000) for _ in range(rng.randint(1, 2))]

    # -- scheduling -----------------------------------------------------------------------------------------------

    def run(self, budgets: list[int]) -> None:
        rng = self.rng
        hours, hour_cw = tuple(range(24)), list(itertools.accumulate(_HOUR_WEIGHTS))
        last = len(self.days) - 1
        for index, (day, budget) in enumerate(zip(self.days, budgets)):
            free_hours = list(range(24))
            web_tasks = 0
            if index == last:
                budget -= self._tail(budget)
            idle = 0
            while budget > 0:
                hour = rng.choices(hours, cum_weights=hour_cw)[0]
                start = self.clock.at_local(day, (hour + rng.random()) * 3600, fold=rng.random() < 0.5)
                up = self.server.up(start)
                r = rng.random()
                if r < 0.12 and free_hours:
                    slot = free_hours.pop(rng.randrange(len(free_hours)))
                    start = self.clock.at_local(day, slot * 3600 + self._si_minute * 60 + rng.random() * 2)
                    made = self._bot_task("self", start, min(budget, self._draw_n(14, 0.6, 3, 80)))
                elif r < 0.40:
                    made = self._cli_session(start, min(budget, self._draw_n(30, 0.9, 1, 400)))
                else:
                    source = ("web" if r < 0.70 else "dashboard" if r < 0.78 else "telegram") if up else "telegram"
                    web_tasks += source == "web"
                    made = self._bot_task(source, start, min(budget, self._draw_n(18, 0.8, 1, 250)))
                budget -= made
                idle = idle + 1 if made == 0 else 0
                if idle > 1000:  # pragma: no cover - a guard, not a path
                    raise RuntimeError("demo generator made no progress")
            self._chat_only_turns(day, web_tasks)
        self._documents()

    def _draw_n(self, median: float, sigma: float, low: int, high: int) -> int:
        return max(low, min(high, int(self.rng.lognormvariate(math.log(median), sigma))))

    def _tail(self, budget: int) -> int:
        """The last day ends with one task still running and one still pending."""
        made = 0
        if budget > 0:
            made = self._bot_task("telegram", self.snapshot, min(budget, self._draw_n(8, 0.5, 1, 20)), tail=True)
        pending_at = self.snapshot - self.rng.randint(10 * US, 240 * US)
        self._bot_task("web" if self.server.up(pending_at) else "telegram", pending_at, 0, fate="pending_forever")
        return made

    # -- bot tasks ------------------------------------------------------------------------------------------------

    def _new_task_id(self) -> str:
        while True:
            task_id = f"{self.rng.getrandbits(24):06x}"
            if task_id not in self.task_ids:
                self.task_ids.add(task_id)
                return task_id

    def _draw_fate(self) -> str:
        r = self.rng.random()
        for name, p in _FATES:
            if r < p:
                return name
            r -= p
        return "completed"

    def _bot_task(self, source: str, created: int, n: int, *, tail: bool = False, fate: str | None = None) -> int:
        """Simulate one bot task created at ``created`` (UTC µs) with up to ``n`` calls; return the calls written."""
        rng = self.rng
        task_id = self._new_task_id()
        fate = fate or ("completed" if tail else self._draw_fate())
        if n == 0 and fate not in _ZERO_CALL_FATES:
            fate = "pending_forever"
        spec = self._task_spec(source, task_id)
        ctx = _Ctx(spec["workspace"], _WORKSPACES[spec["workspace"].rsplit("/", 1)[-1]], task_id, spec["description"])
        run = self._plan_run(source, fate, n, ctx)

        # Absolute placement: finish before the end of the period, except the deliberate tail.
        end_rel = run.session if run.finish is None else run.finish + 10 * US
        if tail:
            base = created - int(rng.uniform(0.3, 0.9) * end_rel)
        else:
            base = created
            if base + end_rel > self.snapshot and run.fate != "pending_forever":
                base = max(self.period_start, self.snapshot - end_rel - rng.randint(1, 600) * US)
        if source in ("web", "dashboard") and not self.server.up(base):  # no web chat without the server
            source = "telegram"
            spec.update(self._task_spec("telegram", task_id, keep=spec))
        snap = self.snapshot - base
        run.running_at_end = run.finish is not None and run.finish >= snap
        if run.running_at_end:
            run.cut = snap if run.cut is None else min(run.cut, snap)
        if run.cut is not None:
            run.calls = _cut_calls(run.calls, run.cut)
        if run.queue >= snap:  # created minutes before the end: never picked up
            run.fate, run.calls, run.running_at_end = "pending_forever", [], False

        if source == "web":
            self._chat_turn(base - rng.randint(20_000, 400_000), spec["user_id"], spec)
        phase_updates: list[tuple[int, str, int]] = []
        self._emit_calls(task_id, run.calls, base, spec["model"], phase_updates)
        self._write_task(task_id, source, spec, ctx, run, base, phase_updates)
        return len(run.calls)

    def _plan_run(self, source: str, fate: str, n: int, ctx: _Ctx) -> _Run:
        """The task's timeline relative to its creation: queue, session start, calls, and how it ends."""
        rng = self.rng
        queue = int(rng.lognormvariate(math.log(1.5), 1.2) * US) + 50_000
        started = queue + rng.randint(2_000, 40_000)
        session = started + rng.randint(300_000, 2_200_000)  # _extract_claude_session_id waits up to 2 s
        run = _Run(fate, queue, started, session)
        if fate in _ZERO_CALL_FATES:
            return run
        profile = _PROFILES["self" if source == "self" else "bot"]
        calls = _plan_calls(rng, self.tools, n, profile, session + int(rng.uniform(1.5, 8) * US), ctx)
        if fate == "hang":  # a command that never returns (dev server, interactive prompt)
            i = rng.choice([i for i, c in enumerate(calls) if c.tool == "Bash"] or [len(calls) - 1])
            calls[i].end = calls[i].start + 3 * HOUR
            calls[i].outcome = "unknown"
            del calls[i + 1:]
        run.calls = calls
        run.t_fin = calls[-1].end + int(rng.lognormvariate(math.log(15.0), 0.8) * US)
        run.finish = run.t_fin
        if fate in ("dead", "stop_pool", "stop_manager", "stop_cleanup", "stop_restart", "stop_shutdown"):
            run.cut = rng.randint(calls[0].start, run.t_fin)
            run.finish = run.cut + rng.randint(1_000, 30_000)
            if fate == "dead":  # noticed at the next monitor check
                phase = rng.randrange(MONITOR_INTERVAL)
                run.finish = phase + ((run.cut - phase) // MONITOR_INTERVAL + 1) * MONITOR_INTERVAL
                if run.cut > calls[0].start + 0.7 * (run.t_fin - calls[0].start) and rng.random() < 0.4:
                    run.fate = "dead_after_work"
            elif fate == "stop_restart":
                run.finish = run.cut + rng.randint(5, 90) * US
        # While `claude -p` runs, only successful Task calls (phase updates) bump updated_at (§3.6).
        until = run.finish if run.cut is None else run.cut
        bumps = [session] + [c.end for c in calls if c.tool == "Task" and c.outcome == "success" and c.end < until]
        kill = _monitor_kill(bumps, rng.randrange(MONITOR_INTERVAL), until)
        if kill is not None:
            run.fate, run.cut, run.finish = "timeout", kill, kill + rng.randint(1_000, 20_000)
            run.stale_for = kill - max(b for b in bumps if b < kill)
        return run

    def _write_task(self, task_id: str, source: str, spec: dict, ctx: _Ctx, run: _Run, base: int,
                    phase_updates: list[tuple[int, str, int]]) -> None:
        """The task row in its final state, its agent_status rows and activity_log, and its truth."""
        rng, iso, fate = self.rng, self.clock.iso, run.fate
        status_rows = self.status_rows
        activity: list[dict] = []
        bumps = [base] + [t for t, _, _ in phase_updates]  # every write that set updated_at

        def record(rel: int, state: str, message: str, metadata: str | None = None) -> None:
            t = base + rel
            if t < self.snapshot:
                status_rows.append((t, iso(t), task_id, state, message, metadata))

        def add_activity(rel: int, message: str, output_lines: int | None = None) -> None:
            t = base + rel
            if t < self.snapshot:
                entry = {"timestamp": iso(t), "message": message}
                if output_lines is not None:
                    entry["output_lines"] = output_lines
                activity.append(entry)
                bumps.append(t)

        pid = session_uuid = workflow = result = error = final_at = None
        status = "pending"
        if fate == "pending_cleanup":
            status, error = "failed", "Task was pending for more than 1h without being picked up by worker"
            final_at = base + HOUR + rng.randint(1, 3600) * US
        elif fate != "pending_forever":
            status = "running"
            bumps.append(base + run.queue)
            record(run.started, "started", "Starting Claude interactive session")
            if fate == "start_failed":
                message = "Failed to start session: [Errno 2] No such file or directory: 'claude'"
                record(run.started + rng.randint(5_000, 80_000), "failed", message)
                status, error = "failed", "Failed to start Claude session"
                final_at = base + run.started + rng.randint(80_000, 120_000)
            elif base + run.session < self.snapshot:
                pid = rng.randint(1_000, 99_999)
                requested = str(uuid.uuid5(uuid.NAMESPACE_DNS, f"agentlab.task.{task_id}"))
                actual = str(uuid.UUID(int=rng.getrandbits(128), version=4)) if rng.random() < 0.02 else None
                session_uuid = actual or requested
                metadata = json.dumps({"pid": pid, "workspace": ctx.ws, "session_uuid": session_uuid,
                                       "requested_uuid": requested, "actual_uuid": actual})
                record(run.session, "started", f"Session started with PID {pid}", metadata)
                workflow = "orchestrator"
                bumps += [base + run.session + 1_500, base + run.session + 4_000]  # pid/uuid, then workflow
                if not run.running_at_end:
                    status, error, result = self._finish(run, source, task_id, pid, ctx, record, add_activity)
                    final_at = base + run.finish + rng.randint(2_000, 9_000)
                    if status == "failed" and rng.random() < 0.03:  # /api/tasks/<id>/mark-fixed, hours later
                        fixed_at = final_at + rng.randint(1, 36) * HOUR
                        if fixed_at < self.snapshot:
                            status, error, final_at = "completed", "", fixed_at
        if final_at is not None and final_at >= self.snapshot:  # the last status write happens after the end
            status = "running" if base + run.queue < self.snapshot else "pending"
            error = result = final_at = None
        if final_at is not None:
            bumps.append(final_at)
        updated = max(t for t in bumps if t < self.snapshot)

        current = phase_number = None
        if phase_updates:
            _, current, phase_number = phase_updates[-1]
        self.task_rows.append((base, (
            task_id, spec["user_id"], spec["description"], status, iso(base), iso(updated), spec["model"], ctx.ws,
            spec["agent_type"], result, error, pid, json.dumps(activity), session_uuid, workflow, spec["context"],
            current, phase_number or 0, current)))
        self.truth_tasks.append((base, {
            "task_id": task_id, "created": iso(base), "model": spec["model"], "agent_type": spec["agent_type"],
            "final": status, "finished": iso(final_at) if final_at is not None else None,
            "user_id": spec["user_id"], "source": source}))

    def _finish(self, run: _Run, source: str, task_id: str, pid: int, ctx: _Ctx, record, add_activity):
        """Status, error and result of a task that ran, with the agent_status and activity rows it leaves."""
        rng, fate, finish = self.rng, run.fate, run.finish
        elapsed = (finish - run.session) // US
        suffix = (lambda s: f" (elapsed: {s}s)") if source == "self" else (lambda s: "")  # the scheduler's callback
        if fate == "completed" or fate == "minimal_output":
            output = (rng.choice(_RESULTS).format(f=rng.choice(ctx.files), t=task_id) if fate == "completed"
                      else rng.choice(("Done.", "OK", "✓ done")))
            add_activity(finish - rng.randint(2_000, 40_000), "Processing... 1 output lines" + suffix(elapsed),
                         None if source == "self" else 1)
            add_activity(finish, f"Completed in {elapsed}s" + suffix(elapsed))
            if fate == "completed":
                record(finish + rng.randint(500, 3_000), "completed", "Task completed successfully")
                return "completed", None, output[:1000] if source == "self" else output
            record(finish + rng.randint(500, 3_000), "failed", "Minimal/empty output")
            return "failed", f"Claude produced minimal output ({len(output)} chars): {output[:100]}", None
        if fate == "no_output":
            add_activity(finish, f"Warning: Empty response after {elapsed}s" + suffix(elapsed))
            record(finish + rng.randint(500, 3_000), "failed", NO_OUTPUT_ERROR)
            return "failed", NO_OUTPUT_ERROR, None
        if fate == "exec_error":
            exc = rng.choice(_EXCEPTIONS)
            record(finish + rng.randint(500, 3_000), "failed", f"Task execution error: {exc}")
            return "failed", f"Error: {exc}", None
        if fate == "dead":
            return "failed", f"[dead_process] Process {pid} no longer running (dead/killed)", None
        if fate == "dead_after_work":
            return "completed", None, "Task completed successfully (process died after work completion)"
        if fate == "timeout":
            return "failed", f"[timeout] No updates for {run.stale_for / MINUTE:.1f}min (timeout: 30min)", None
        if fate == "stop_pool":
            record(finish, "stopped", "Task stopped by user")
            return "stopped", "Stopped by user request", None
        if fate == "stop_manager":
            return "stopped", "Task stopped by user", None
        if fate == "stop_cleanup":
            return "stopped", "Cleaned up by user request", None
        if fate == "stop_restart":
            add_activity(finish + 2_000, "Task interrupted by bot restart - process died")
            return "stopped", "Task stopped due to bot restart", None
        if fate == "stop_shutdown":
            add_activity(finish - 1_000, "Task stopped during bot shutdown - will notify user on restart")
            return "stopped", "Task stopped during bot shutdown", None
        raise AssertionError(fate)  # pragma: no cover

    def _task_spec(self, source: str, task_id: str, keep: dict | None = None) -> dict:
        """Who asked, with which model, agent type, description, context and workspace (§2.4, §2.5)."""
        rng = self.rng
        if source == "self":
            return {"user_id": 0, "model": "opus", "agent_type": "orchestrator",
                    "description": "Automated self-improvement analysis", "context": SELF_IMPROVEMENT_CONTEXT,
                    "workspace": f"{HOME}/agentlab", "message": None}
        message, description, hint = (keep["message"], keep["description"], keep["hint"]) if keep else \
            rng.choice(_REQUESTS)
        workspace = keep["workspace"] if keep else f"{HOME}/{rng.choice(tuple(_WORKSPACES))}"
        context = f"use {hint} to {description[0].lower()}{description[1:]}"
        agent_type = {"frontend-agent": "frontend_agent", "research-agent": "research_agent",
                      "orchestrator": "orchestrator"}.get(hint, "code_agent")
        spec = {"message": message, "description": description, "hint": hint, "workspace": workspace,
                "context": context, "agent_type": agent_type, "model": "sonnet"}
        if source == "telegram":
            spec["user_id"] = rng.choice(self.telegram_users)
        elif source == "web":
            spec["user_id"] = rng.choice(self.web_users)
            if rng.random() < 0.05:
                email = rng.choice(self.dev_emails)
                spec["message"] = f"{message} and email the summary to {email}"
                spec["email"] = email
        else:  # dashboard: POST /api/tasks
            spec.update(user_id=rng.choice(self.web_users), context=None,
                        model=rng.choices(("sonnet", "haiku", "opus"), weights=(55, 30, 15))[0],
                        agent_type=rng.choices(("orchestrator", "code_agent", "frontend_agent", "research_agent"),
                                               weights=(70, 15, 10, 5))[0])
        return spec

    # -- tool rows (bot-data.md §3.1) -----------------------------------------------------------------------------

    def _emit_calls(self, task_id: str, calls: list[_Call], base: int, model: str | None,
                    phase_updates: list | None) -> None:
        """Write each call's tool_usage rows, its agent_status row and its truth; see the module docstring."""
        rnd = self.rng.random
        iso, local_day, up = self.clock.iso, self.clock.local_day, self.server.up
        rows, status_rows, truth = self.tool_rows, self.status_rows, self.truth_calls
        meta = self._tool_meta
        task_rows = 0  # Task rows of this task so far (the post-hook's phase_number counts them)
        for c in calls:
            tool, params = c.tool, c.params
            s = base + c.start
            ts_a = iso(s)
            up_start = up(s)
            if up_start:
                sb = s + 2_000 + int(rnd() * 12_000)
                ts_b = iso(sb)
            null_row = (task_id, tool, None, None, params, None, None, None, None, None)
            rows.append((s, ts_a) + null_row)
            n = 1
            end_iso = None
            miss = False
            tokens = None
            if c.outcome == "unknown":
                if up_start:
                    rows.append((sb, ts_b) + null_row)
                    n = 2
            else:
                e = base + c.end
                end_iso = iso(e)
                success = 1 if c.outcome == "success" else 0
                done = (task_id, tool, success, c.error, params, c.category) + (c.tokens or _NO_TOKENS)
                # The update window: the newest NULL pre row's local date vs the UTC date of now - 5 s.
                miss = params is not None and local_day(sb if up_start else s) < (e - 5 * US) // DAY
                if up_start:
                    rows.append((sb, ts_b) + (null_row if miss else done))
                    n = 2
                elif not miss:
                    rows[-1] = (s, ts_a) + done
                if miss:
                    rows.append((e, end_iso) + done)
                    n += 1
                tokens = c.tokens
                st = e + 200 + int(rnd() * 2_300)
                key = (tool, success)
                if key not in meta:
                    meta[key] = (f"{tool} completed", json.dumps({"tool": tool, "success": bool(success)}))
                status_rows.append((st, iso(st), task_id, "tool_call") + meta[key])
                if success and tool == "Task" and phase_updates is not None:
                    phase_updates.append((st + 200 + int(rnd() * 1_800), c.subagent, task_rows + n))
                if up(e):
                    ec = st + 3_000 + int(rnd() * 17_000)
                    rows.append((ec, iso(ec), task_id, tool, success, c.error, params, c.category,
                                 None, None, None, None))
                    n += 1
                if c.error_secret:
                    self.secrets[c.error_secret] = None
            if tool == "Task":
                task_rows += n
            for secret in c.secrets:
                self.secrets[secret] = None
            for email in c.emails:
                self.emails[email] = None
            truth.append((s, {
                "task_id": task_id, "tool": tool, "start": ts_a, "end": end_iso, "outcome": c.outcome,
                "error_category": c.category if c.outcome == "failure" else None, "model": model,
                "tokens": None if tokens is None else {
                    "input_tokens": tokens[0], "output_tokens": tokens[1],
                    "cache_creation_tokens": tokens[2], "cache_read_tokens": tokens[3]},
                "secret_in_params": bool(c.secrets), "secret_in_error": bool(c.error_secret and end_iso),
                "server_up": up_start, "window_miss": miss, "rows": n}))
        self.calls_made += len(calls)

    # -- CLI sessions ---------------------------------------------------------------------------------------------

    def _cli_session(self, start: int, n: int) -> int:
        rng = self.rng
        session_id = str(uuid.UUID(int=rng.getrandbits(128), version=4))
        name = rng.choice(tuple(_WORKSPACES))
        ctx = _Ctx(f"{HOME}/{name}", _WORKSPACES[name], session_id[:6])
        calls = _plan_calls(rng, self.tools, n, _PROFILES["cli"], 0, ctx)
        end_rel = calls[-1].end
        cut = rng.randint(calls[0].start, end_rel) if rng.random() < 0.06 else None  # terminal closed, Ctrl-C
        base = start
        if base + end_rel + 10 * US > self.snapshot:
            base = max(self.period_start, self.snapshot - end_rel - rng.randint(10, 600) * US)
        if base + end_rel >= self.snapshot:
            cut = min(cut if cut is not None else end_rel, self.snapshot - base)
        if cut is not None:
            calls = _cut_calls(calls, cut)
        self._emit_calls(session_id, calls, base, None, None)
        return len(calls)

    # -- router messages, users, documents (§1.7, §1.8, §1.10) ----------------------------------------------------

    def _chat_turn(self, t: int, user_id, spec: dict | None) -> None:
        """One web-chat turn: user and assistant rows, both written after the Haiku call returns."""
        rng, iso = self.rng, self.clock.iso
        if t >= self.snapshot:
            return
        if spec is not None:
            user_text = spec["message"]
            answer = f"BACKGROUND_TASK|{spec['description']}|{user_text}|{spec['context']}"
            if spec.get("email"):
                self.emails[spec["email"]] = None
        else:
            user_text, answer = rng.choice(_CHAT)
            answer = answer.format(n=rng.randint(1, 4), t=f"{rng.getrandbits(24):06x}")
        iterations = rng.choice((1, 1, 1, 2, 2, 3))
        tokens_in = sum(rng.randint(1_800, 5_500) for _ in range(iterations))
        tokens_out = rng.randint(40, 220) * iterations + (60 if spec else 0)
        t_answer = t + rng.randint(800, 4_000)
        self.message_rows.append((t, user_id, iso(t), "user", user_text, None, None, None))
        self.message_rows.append((t_answer, user_id, iso(t_answer), "assistant", answer, tokens_in, tokens_out,
                                  ROUTER_MODEL))
        self.truth_messages.append((t_answer, {"at": iso(t_answer), "tokens_input": tokens_in,
                                               "tokens_output": tokens_out, "model": ROUTER_MODEL,
                                               "user_id": user_id, "created_task": spec is not None}))

    def _chat_only_turns(self, day: date, web_tasks: int) -> None:
        rng = self.rng
        for _ in range(int(web_tasks * rng.uniform(0.5, 1.5))):
            t = self.clock.at_local(day, rng.uniform(8, 23.5) * 3600)
            if self.server.up(t):
                self._chat_turn(t, rng.choice(self.web_users), None)

    def _documents(self) -> None:
        """Rows the dashboard's archive/restore endpoints write (task_id always NULL)."""
        rng, iso = self.rng, self.clock.iso
        self.document_rows = []
        span = self.snapshot - self.period_start
        for path in rng.sample(_DOCS, rng.randint(3, 7)):
            t = self.period_start + rng.randrange(span)
            if not self.server.up(t):
                continue
            restored = t + rng.randint(1, 72) * HOUR
            if rng.random() < 0.3 and restored < self.snapshot and self.server.up(restored):
                self.document_rows.append((t, path, "active", iso(t), iso(restored), None, None, None))
            else:
                self.document_rows.append((t, path, "archived", iso(t), iso(t), iso(t), None, None))
        self.document_rows.sort(key=itemgetter(0))


# --------------------------------------------------------------------------------------------------------------
# Writing
# --------------------------------------------------------------------------------------------------------------

INSERT_TOOL_USAGE = (
    "INSERT INTO tool_usage (timestamp, task_id, tool_name, success, error, parameters, error_category, "
    "input_tokens, output_tokens, cache_creation_tokens, cache_read_tokens) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)")
INSERT_AGENT_STATUS = "INSERT INTO agent_status (timestamp, task_id, status, message, metadata) VALUES (?, ?, ?, ?, ?)"
INSERT_TASK = (
    "INSERT INTO tasks (task_id, user_id, description, status, created_at, updated_at, model, workspace, agent_type, "
    "result, error, pid, activity_log, session_uuid, workflow, context, current_phase, phase_number, last_agent_type) "
    "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)")
INSERT_MESSAGE = (
    "INSERT INTO messages (user_id, timestamp, role, content, tokens_input, tokens_output, input_method, has_image, "
    "model) VALUES (?, ?, ?, ?, ?, ?, 'text', 0, ?)")
INSERT_USER = ("INSERT INTO users (user_id, username, email, password_hash, created_at, is_admin) "
               "VALUES (?, ?, ?, ?, ?, ?)")
INSERT_DOCUMENT = ("INSERT INTO documents (path, status, created_at, updated_at, archived_at, task_id, notes) "
                   "VALUES (?, ?, ?, ?, ?, ?, ?)")
# Positional placeholders: these are bulk inserts of tuples, where named parameters would cost a dict per row.


def _write_database(path: Path, demo: _Demo) -> None:
    from ..bot.schema import create_bot_database

    rest = itemgetter(slice(1, None))
    by_time = itemgetter(0)
    for rows in (demo.task_rows, demo.tool_rows, demo.status_rows, demo.message_rows):
        rows.sort(key=by_time)  # stable: simultaneous rows keep their generation order
    db = create_bot_database(path, applied_at=demo.schema_applied_at)
    try:
        conn = db.conn
        # Bulk load into a private temporary file: no fsync, and no WAL (which would write every page twice).
        # The file is switched back to WAL, the bot's mode, before it is closed and moved into place.
        conn.execute("PRAGMA synchronous=OFF")
        conn.execute("PRAGMA cache_size=-262144")
        conn.execute("PRAGMA journal_mode=MEMORY")
        with conn:
            conn.executemany(INSERT_USER, demo.user_rows)
            conn.executemany(INSERT_TASK, map(itemgetter(1), demo.task_rows))
            conn.executemany(INSERT_TOOL_USAGE, map(rest, demo.tool_rows))
            conn.executemany(INSERT_AGENT_STATUS, map(rest, demo.status_rows))
            conn.executemany(INSERT_MESSAGE, map(rest, demo.message_rows))
            conn.executemany(INSERT_DOCUMENT, map(rest, demo.document_rows))
        conn.execute("PRAGMA journal_mode=WAL")
    finally:
        db.close()


def _write_truth(path: Path, demo: _Demo, generator: dict, tz: str) -> None:
    by_time = itemgetter(0)
    demo.truth_calls.sort(key=by_time)
    demo.truth_messages.sort(key=by_time)
    iso = demo.clock.iso
    truth = {
        "scenario": "demo",
        "timezone": tz,
        "generator": generator,
        "server_down": [[iso(s), iso(e)] for s, e in demo.server.down],
        "snapshot": iso(demo.snapshot),
        "calls": [call for _, call in demo.truth_calls],
        "tasks": [task for _, task in sorted(demo.truth_tasks, key=by_time)],
        "messages": [m for _, m in demo.truth_messages],
        "users": demo.usernames,
        "secrets": list(demo.secrets),
        "emails": list(demo.emails),
        "password_hashes": demo.password_hashes,
    }
    if len(truth["calls"]) > COMPACT_TRUTH_ABOVE:
        text = json.dumps(truth, separators=(",", ":"), ensure_ascii=False)
    else:
        text = json.dumps(truth, indent=1, ensure_ascii=False)
    path.write_text(text + "\n", encoding="utf-8")


# --------------------------------------------------------------------------------------------------------------
# Entry point
# --------------------------------------------------------------------------------------------------------------


def _day_budgets(rng: random.Random, days: list[date], calls: int | None) -> list[int]:
    """Logical calls per day: a busy bot by default, else exactly ``calls`` split by weekday weights."""
    weekday = [0.55 if d.weekday() >= 5 else 1.0 for d in days]
    if calls is None:
        return [int(max(40.0, rng.gauss(360, 70)) * w) for w in weekday]
    weights = [w * rng.lognormvariate(0, 0.25) for w in weekday]
    total = sum(weights)
    shares = [calls * w / total for w in weights]
    budgets = [int(s) for s in shares]
    by_remainder = sorted(range(len(days)), key=lambda i: shares[i] - budgets[i], reverse=True)
    for i in by_remainder[:calls - sum(budgets)]:
        budgets[i] += 1
    return budgets


def _parse_end(end: str | date | None) -> date:
    if end is None:
        end = DEFAULT_END
    if isinstance(end, datetime):
        return end.date()
    if isinstance(end, date):
        return end
    try:
        return date.fromisoformat(str(end))
    except ValueError:
        raise InputError(f"end must be a date such as {DEFAULT_END}, not {end!r}") from None


def _zone(tz: str) -> ZoneInfo:
    try:
        return ZoneInfo(str(tz))
    except (ZoneInfoNotFoundError, ValueError, TypeError):
        raise InputError(f"unknown time zone {tz!r}: use an IANA name such as Europe/Madrid or "
                         "America/Los_Angeles") from None


def _remove(*paths: Path) -> None:
    for p in paths:
        for extra in ("", "-wal", "-shm", "-journal"):
            try:
                os.remove(f"{p}{extra}")
            except FileNotFoundError:
                pass


def write_demo(path: str | os.PathLike, *, days: int = 28, seed: int = 42, tz: str = "Europe/Madrid",
               calls: int | None = None, end: str | date | None = None, truth: bool = True,
               overwrite: bool = False) -> DemoResult:
    """Write a synthetic bot database (schema v14) at ``path`` and, unless ``truth=False``, its ground truth at
    ``<path>.truth.json``. See the module docstring for what is simulated.

    ``days`` local calendar days ending on ``end`` (default :data:`DEFAULT_END`) on a host whose clock runs in
    ``tz``; ``calls`` logical tool calls exactly (default: a busy bot, a few hundred a day); the same ``seed`` gives
    the same rows. An existing ``path`` is an error unless ``overwrite=True``.
    """
    began = time.perf_counter()
    path = Path(path)
    truth_path = Path(f"{path}.truth.json")
    if not isinstance(days, int) or days < 1:
        raise InputError(f"days must be a whole number of days, 1 or more, not {days!r}")
    if calls is not None and (not isinstance(calls, int) or calls < 0):
        raise InputError(f"calls must be a whole number, 0 or more, not {calls!r}")
    zone = _zone(tz)
    last_day = _parse_end(end)
    for existing in (path, truth_path) if truth else (path,):
        if existing.exists() and not overwrite:
            raise InputError(f"{existing} already exists; the demo never overwrites a file - delete it or choose "
                             "another path")
    if not path.parent.is_dir():
        raise InputError(f"cannot write {path}: the directory {path.parent} does not exist")

    rng = random.Random(seed)
    clock = _Clock(zone)
    day_list = [last_day - timedelta(days=days - 1 - i) for i in range(days)]
    snapshot = clock.at_local(last_day + timedelta(days=1))
    budgets = _day_budgets(rng, day_list, calls)
    demo = _Demo(rng, clock, day_list, snapshot)
    demo.run(budgets)

    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    tmp_truth = path.with_name(f".{truth_path.name}.tmp-{os.getpid()}")
    _remove(tmp, tmp_truth)
    try:
        _write_database(tmp, demo)
        if truth:
            _write_truth(tmp_truth, demo, {"seed": seed, "days": days, "tz": str(tz), "calls": calls,
                                           "end": last_day.isoformat()}, str(tz))
        if overwrite:
            _remove(path, truth_path)
        os.replace(tmp, path)
        if truth:
            os.replace(tmp_truth, truth_path)
    finally:
        _remove(tmp, tmp_truth)
    return DemoResult(path=path, truth_path=truth_path if truth else None, tool_usage_rows=len(demo.tool_rows),
                      calls=demo.calls_made, tasks=len(demo.task_rows), seconds=time.perf_counter() - began,
                      messages=len(demo.message_rows), first_day=day_list[0], last_day=last_day, days=days,
                      tz=str(tz))
