"""People and what they say: users, who asks for a task (§2.4, §2.5), router messages and documents (§1.7, §1.8,
§1.10)."""

from __future__ import annotations

import uuid
from datetime import date
from operator import itemgetter

from .base import DemoState
from .constants import (
    DAY,
    HOME,
    HOUR,
    NO_AUTH_WEB_USER,
    ROUTER_MODEL,
    SELF_IMPROVEMENT_CONTEXT,
)
from .credentials import BCRYPT
from .vocab import CHAT, DOCS, DOMAINS, REQUESTS, USERNAMES, WORKSPACES


class People(DemoState):
    """The users, task requests, web-chat turns and document rows of :class:`simulation.Demo`."""

    def _users(self) -> None:
        """Web users (JWT, in ``users``), the no-auth web user, Telegram users; all signed up before the period."""
        rng = self.rng
        schema_created = self.period_start - rng.randint(25, 40) * DAY - rng.randrange(DAY)
        self.schema_applied_at = self.clock.iso(schema_created)
        names = rng.sample(USERNAMES, rng.randint(2, 4))
        signups = sorted(rng.randrange(schema_created, self.period_start) for _ in names)
        self.user_rows = []
        self.web_users: list[str | int] = [NO_AUTH_WEB_USER]
        self.password_hashes = []
        for i, (name, created) in enumerate(zip(names, signups)):
            user_id = str(uuid.UUID(int=rng.getrandbits(128), version=4))
            email = f"{name}{rng.choice(('', '.dev', str(rng.randint(1, 99))))}@{rng.choice(DOMAINS)}"
            pw_hash = "$2b$12$" + "".join(rng.choices(BCRYPT, k=53))
            self.user_rows.append((user_id, name, email, pw_hash, self.clock.iso(created), 1 if i == 0 else 0))
            self.web_users.append(user_id)
            self.password_hashes.append(pw_hash)
            self.emails[email] = None
        self.usernames = names
        self.dev_emails = [row[2] for row in self.user_rows]
        self.telegram_users = [rng.randint(100_000_000, 2_000_000_000) for _ in range(rng.randint(1, 2))]

    def _task_spec(self, source: str, task_id: str, keep: dict | None = None) -> dict:
        """Who asked, with which model, agent type, description, context and workspace (§2.4, §2.5)."""
        rng = self.rng
        if source == "self":
            return {"user_id": 0, "model": "opus", "agent_type": "orchestrator",
                    "description": "Automated self-improvement analysis", "context": SELF_IMPROVEMENT_CONTEXT,
                    "workspace": f"{HOME}/agentlab", "message": None}
        message, description, hint = (keep["message"], keep["description"], keep["hint"]) if keep else \
            rng.choice(REQUESTS)
        workspace = keep["workspace"] if keep else f"{HOME}/{rng.choice(tuple(WORKSPACES))}"
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
            user_text, answer = rng.choice(CHAT)
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
        for path in rng.sample(DOCS, rng.randint(3, 7)):
            t = self.period_start + rng.randrange(span)
            if not self.server.up(t):
                continue
            restored = t + rng.randint(1, 72) * HOUR
            if rng.random() < 0.3 and restored < self.snapshot and self.server.up(restored):
                self.document_rows.append((t, path, "active", iso(t), iso(restored), None, None, None))
            else:
                self.document_rows.append((t, path, "archived", iso(t), iso(t), iso(t), None, None))
        self.document_rows.sort(key=itemgetter(0))

