"""Bot tasks (§1.2, §2.3): a task's id, fate and timeline, placed in the period, then written."""

from __future__ import annotations

import math

from .calls import Call, Ctx, cut_calls, plan_calls
from .concurrency import plan_calls_par
from .constants import HOUR, MONITOR_INTERVAL, US
from .lifecycle import FATES, ZERO_CALL_FATES, Run, monitor_kill
from .people import People
from .profiles import PROFILES, Profile
from .replay import ReplayRows
from .task_rows import TaskRows
from .tool_rows import ToolRows
from .vocab import WORKSPACES


class BotTasks(People, TaskRows, ToolRows, ReplayRows):
    """Creating one bot task: the part of :class:`simulation.Demo` that decides what happens to it."""

    concurrency: bool  # plan with .concurrency and write with .replay (else .calls and .tool_rows)

    def _plan(self, n: int, profile: Profile, origin: int, ctx: Ctx) -> list[Call]:
        return (plan_calls_par if self.concurrency else plan_calls)(self.rng, self.tools, n, profile, origin, ctx)

    def _write_calls(self, unit: str, calls: list[Call], base: int, model: str | None, phase_updates: list | None,
                     cli: bool = False) -> None:
        if self.concurrency:
            self._emit_replay(unit, calls, base, model, phase_updates, cli)
        else:
            self._emit_calls(unit, calls, base, model, phase_updates)

    def _last_end(self, calls: list[Call]) -> int:
        """When the unit's last call ends (sequential plans: the last call's end, as they always had it)."""
        return max(c.end for c in calls) if self.concurrency else calls[-1].end

    def _new_task_id(self) -> str:
        while True:
            task_id = f"{self.rng.getrandbits(24):06x}"
            if task_id not in self.task_ids:
                self.task_ids.add(task_id)
                return task_id

    def _draw_fate(self) -> str:
        r = self.rng.random()
        for name, p in FATES:
            if r < p:
                return name
            r -= p
        return "completed"
    def _bot_task(self, source: str, created: int, n: int, *, tail: bool = False, fate: str | None = None) -> int:
        """Simulate one bot task created at ``created`` (UTC µs) with up to ``n`` calls; return the calls written."""
        rng = self.rng
        task_id = self._new_task_id()
        fate = fate or ("completed" if tail else self._draw_fate())
        if n == 0 and fate not in ZERO_CALL_FATES:
            fate = "pending_forever"
        spec = self._task_spec(source, task_id)
        ctx = Ctx(spec["workspace"], WORKSPACES[spec["workspace"].rsplit("/", 1)[-1]], task_id, spec["description"])
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
            run.calls = cut_calls(run.calls, run.cut)
        if run.queue >= snap:  # created minutes before the end: never picked up
            run.fate, run.calls, run.running_at_end = "pending_forever", [], False

        if source == "web":
            self._chat_turn(base - rng.randint(20_000, 400_000), spec["user_id"], spec)
        phase_updates: list[tuple[int, str, int]] = []
        self._write_calls(task_id, run.calls, base, spec["model"], phase_updates)
        self._write_task(task_id, source, spec, ctx, run, base, phase_updates)
        self.plans.task(task_id, self.task_rows[-1][1], run, base)
        return len(run.calls)

    def _plan_run(self, source: str, fate: str, n: int, ctx: Ctx) -> Run:
        """The task's timeline relative to its creation: queue, session start, calls, and how it ends."""
        rng = self.rng
        queue = int(rng.lognormvariate(math.log(1.5), 1.2) * US) + 50_000
        started = queue + rng.randint(2_000, 40_000)
        session = started + rng.randint(300_000, 2_200_000)  # _extract_claude_session_id waits up to 2 s
        run = Run(fate, queue, started, session)
        if fate in ZERO_CALL_FATES:
            return run
        profile = PROFILES["self" if source == "self" else "bot"]
        calls = self._plan(n, profile, session + int(rng.uniform(1.5, 8) * US), ctx)
        if fate == "hang":  # a command that never returns (dev server, interactive prompt)
            i = rng.choice([i for i, c in enumerate(calls) if c.tool == "Bash"] or [len(calls) - 1])
            calls[i].end = calls[i].start + 3 * HOUR
            calls[i].outcome = "unknown"
            del calls[i + 1:]
        run.calls = calls
        run.t_fin = self._last_end(calls) + int(rng.lognormvariate(math.log(15.0), 0.8) * US)
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
        bumps = [session] + sorted(c.end for c in calls if c.tool == "Task" and c.outcome == "success" and c.end < until)
        kill = monitor_kill(bumps, rng.randrange(MONITOR_INTERVAL), until)
        if kill is not None:
            run.fate, run.cut, run.finish = "timeout", kill, kill + rng.randint(1_000, 20_000)
            run.stale_for = kill - max(b for b in bumps if b < kill)
        return run
