"""Bash calls: the commands a session runs (a few carry credentials or e-mail addresses) and their parameters."""

from __future__ import annotations

import random
from collections.abc import Callable
from typing import TYPE_CHECKING

from .vocab import CODE, PY_FILES, REQUESTS, SQLITE_COMMANDS, SYMBOLS

if TYPE_CHECKING:
    from .calls import Ctx
    from .credentials import Secrets

# (kind, command builder): the kind picks the error texts a failure of that command can show.
BASH_COMMANDS = (
    ("test", lambda rng, ctx: ("pytest -q", "Run the test suite")),
    ("test", lambda rng, ctx: ((f"pytest tests/test_{rng.choice(('database', 'manager', 'server', 'routes', 'loader'))}"
                                ".py -x -q"), "Run the failing test file")),
    ("test", lambda rng, ctx: ("make test", "Run the tests")),
    ("npm", lambda rng, ctx: (rng.choice(("npm test -- --run", "npm run build", "npm run lint")),
                              "Run the frontend checks")),
    ("npm", lambda rng, ctx: ("npm run dev", "Start the dev server")),
    ("git", lambda rng, ctx: ("git status", "Check git status")),
    ("git", lambda rng, ctx: ("git diff --stat", "Show changed files")),
    ("git", lambda rng, ctx: ("git log --oneline -10", "Show recent commits")),
    ("git", lambda rng, ctx: (f'git add -A && git commit -m "{rng.choice(REQUESTS)[1]}"', "Commit the changes")),
    ("git", lambda rng, ctx: (f"git worktree add /tmp/agentlab-worktrees/{ctx.task_id} -b task/{ctx.task_id}",
                              "Create the task worktree")),
    ("git", lambda rng, ctx: ((f'git checkout main && git merge --no-ff task/{ctx.task_id} -m "Merge task '
                               f'{ctx.task_id}"'), "Merge the task branch")),
    ("git", lambda rng, ctx: ("git push origin HEAD", "Push the branch")),
    ("shell", lambda rng, ctx: (f"ls -la {ctx.ws}/{rng.choice(('src', 'tests', 'scripts', 'docs'))}",
                                "List directory")),
    ("shell", lambda rng, ctx: (f'grep -rn "{rng.choice(SYMBOLS)}" {ctx.ws}', "Search for usages")),
    ("shell", lambda rng, ctx: ("tail -n 50 logs/bot.log", "Read the bot log")),
    ("shell", lambda rng, ctx: ("rm -rf build dist", "Clean build output")),
    ("shell", lambda rng, ctx: ("docker compose up -d db", "Start the database container")),
    ("lint", lambda rng, ctx: ("ruff check . --fix", "Lint and autofix")),
    ("net", lambda rng, ctx: ("curl -s http://localhost:3000/api/health", "Check the server")),
    ("pip", lambda rng, ctx: ("pip install -r requirements.txt", "Install dependencies")),
)


class BashParams:
    """The Bash part of :class:`tools.Tools`: parameters of one Bash call, and the kind of command it is."""

    rng: random.Random
    secrets: Secrets
    dev_emails: list[str]
    _kind: str
    _found_secrets: list[str]
    _found_emails: list[str]
    _file: Callable[[Ctx], str]  # Tools._file

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
            return {"command": f"cat > {self._file(ctx)} << 'EOF'\n{CODE[:length]}\nEOF",
                    "description": "Write the file"}
        if ctx.files is PY_FILES and "agentlab" in ctx.ws and rng.random() < 0.15:
            self._kind = "db"
            command, description = rng.choice(SQLITE_COMMANDS)
        else:
            self._kind, make = rng.choice(BASH_COMMANDS)
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

