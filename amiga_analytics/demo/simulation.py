"""The simulation: :class:`Demo` schedules a day's work (bot tasks, CLI sessions, chat) and keeps every row and
its truth in memory."""

from __future__ import annotations

import itertools
import math
import random
import uuid
from datetime import date

from .calls import Ctx, cut_calls
from .clock import Clock, server_schedule
from .concurrency import BURST_P, add_outages
from .constants import HOME, US
from .credentials import Secrets
from .profiles import HOUR_WEIGHTS, PROFILES
from .tasks import BotTasks
from .tools import Tools
from .transcript_plan import Plans
from .vocab import WORKSPACES


class Demo(BotTasks):
    """Generates every row of the demo database and its truth, in memory."""

    def __init__(self, rng: random.Random, clock: Clock, days: list[date], snapshot: int):
        self.rng = rng
        self.clock = clock
        self.days = days
        self.snapshot = snapshot
        self.period_start = clock.at_local(days[0])
        self.server = server_schedule(rng, days, clock)
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
        self.plans = Plans()  # the Claude Code sessions, for the transcripts (demo/transcripts.py)
        self._users()
        self.tools = Tools(rng, Secrets(rng), self.dev_emails)
        self._si_minute = rng.randrange(60)
        self.concurrency = False
        self.invisible_calls = []
        self._utc_dates = {}

    def enable_concurrency(self) -> None:
        """Plan and write the concurrency patterns (:mod:`.concurrency`, :mod:`.replay`), with server outages."""
        self.concurrency = True
        add_outages(self.rng, self.server, self.days, self.clock)

    # -- scheduling -----------------------------------------------------------------------------------------------

    def run(self, budgets: list[int]) -> None:
        rng = self.rng
        hours, hour_cw = tuple(range(24)), list(itertools.accumulate(HOUR_WEIGHTS))
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
                    if self.concurrency and budget > made and rng.random() < BURST_P:
                        made += self._burst(start, budget - made)
                budget -= made
                idle = idle + 1 if made == 0 else 0
                if idle > 1000:  # pragma: no cover - a guard, not a path
                    raise RuntimeError("demo generator made no progress")
            self._chat_only_turns(day, web_tasks)
        self._documents()

    def _burst(self, start: int, budget: int) -> int:
        """1-3 more bot tasks created within two minutes of ``start``: up to 4 running at once."""
        made = 0
        for _ in range(self.rng.randint(1, 3)):
            if budget <= made:
                break
            at = start + self.rng.randint(1, 120) * US
            made += self._bot_task("telegram", at, min(budget - made, self._draw_n(18, 0.8, 1, 250)))
        return made

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

    # -- CLI sessions ---------------------------------------------------------------------------------------------

    def _cli_session(self, start: int, n: int) -> int:
        rng = self.rng
        session_id = str(uuid.UUID(int=rng.getrandbits(128), version=4))
        name = rng.choice(tuple(WORKSPACES))
        ctx = Ctx(f"{HOME}/{name}", WORKSPACES[name], session_id[:6])
        calls = self._plan(n, PROFILES["cli"], 0, ctx)
        end_rel = self._last_end(calls)
        cut = rng.randint(calls[0].start, end_rel) if rng.random() < 0.06 else None  # terminal closed, Ctrl-C
        base = start
        if base + end_rel + 10 * US > self.snapshot:
            base = max(self.period_start, self.snapshot - end_rel - rng.randint(10, 600) * US)
        if base + end_rel >= self.snapshot:
            cut = min(cut if cut is not None else end_rel, self.snapshot - base)
        if cut is not None:
            calls = cut_calls(calls, cut)
        self._write_calls(session_id, calls, base, None, None, cli=True)
        self.plans.cli(session_id, ctx.ws, calls, base, cut)
        return len(calls)

