"""A bot task's rows (§2.3, §2.8, §2.9, §3.6): the task row in its final state, its agent_status rows and
activity_log, and its truth."""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable

from .base import DemoState
from .calls import Ctx
from .constants import HOUR, MINUTE, NO_OUTPUT_ERROR, US
from .lifecycle import Run
from .vocab import EXCEPTIONS, RESULTS


class _TaskLog:
    """What one task writes while it runs: agent_status rows, activity_log entries, and each ``updated_at`` bump."""

    def __init__(self, demo: DemoState, task_id: str, base: int, bumps: list[int]):
        self.status_rows = demo.status_rows
        self.iso = demo.clock.iso
        self.snapshot = demo.snapshot
        self.task_id = task_id
        self.base = base
        self.activity: list[dict] = []
        self.bumps = bumps  # every write that set updated_at

    def record(self, rel: int, state: str, message: str, metadata: str | None = None) -> None:
        t = self.base + rel
        if t < self.snapshot:
            self.status_rows.append((t, self.iso(t), self.task_id, state, message, metadata))

    def add_activity(self, rel: int, message: str, output_lines: int | None = None) -> None:
        t = self.base + rel
        if t < self.snapshot:
            entry: dict[str, str | int] = {"timestamp": self.iso(t), "message": message}
            if output_lines is not None:
                entry["output_lines"] = output_lines
            self.activity.append(entry)
            self.bumps.append(t)


class TaskRows(DemoState):
    """Writing one bot task's rows: the part of :class:`simulation.Demo` that knows the bot's status texts."""

    def _write_task(self, task_id: str, source: str, spec: dict, ctx: Ctx, run: Run, base: int,
                    phase_updates: list[tuple[int, str, int]]) -> None:
        """The task row in its final state, its agent_status rows and activity_log, and its truth."""
        rng, iso, fate = self.rng, self.clock.iso, run.fate
        log = _TaskLog(self, task_id, base, [base] + [t for t, _, _ in phase_updates])
        bumps = log.bumps
        pid = session_uuid = workflow = result = error = final_at = None
        status = "pending"
        if fate == "pending_cleanup":
            status, error = "failed", "Task was pending for more than 1h without being picked up by worker"
            final_at = base + HOUR + rng.randint(1, 3600) * US
        elif fate != "pending_forever":
            status, error, result, final_at, pid, session_uuid, workflow = self._run_task(
                task_id, source, ctx, run, base, log)
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
            spec["agent_type"], result, error, pid, json.dumps(log.activity), session_uuid, workflow,
            spec["context"], current, phase_number or 0, current)))
        self.truth_tasks.append((base, {
            "task_id": task_id, "created": iso(base), "model": spec["model"], "agent_type": spec["agent_type"],
            "final": status, "finished": iso(final_at) if final_at is not None else None,
            "user_id": spec["user_id"], "source": source}))

    def _run_task(self, task_id: str, source: str, ctx: Ctx, run: Run, base: int, log: _TaskLog) -> tuple:
        """A task a worker picked up: (status, error, result, final_at, pid, session_uuid, workflow)."""
        rng, fate, record = self.rng, run.fate, log.record
        pid = session_uuid = workflow = result = error = final_at = None
        status = "running"
        log.bumps.append(base + run.queue)
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
            log.bumps += [base + run.session + 1_500, base + run.session + 4_000]  # pid/uuid, then workflow
            if not run.running_at_end:
                status, error, result = self._finish(run, source, task_id, pid, ctx, record, log.add_activity)
                assert run.finish is not None  # a run that ended has its last status write
                final_at = base + run.finish + rng.randint(2_000, 9_000)
                if status == "failed" and rng.random() < 0.03:  # /api/tasks/<id>/mark-fixed, hours later
                    fixed_at = final_at + rng.randint(1, 36) * HOUR
                    if fixed_at < self.snapshot:
                        status, error, final_at = "completed", "", fixed_at
        return status, error, result, final_at, pid, session_uuid, workflow

    def _finish(self, run: Run, source: str, task_id: str, pid: int, ctx: Ctx, record: Callable[..., None],
                add_activity: Callable[..., None]) -> tuple[str, str | None, str | None]:
        """Status, error and result of a task that ran, with the agent_status and activity rows it leaves."""
        rng, fate, finish = self.rng, run.fate, run.finish
        assert finish is not None  # a run that ended has its last status write
        elapsed = (finish - run.session) // US
        suffix = (lambda s: f" (elapsed: {s}s)") if source == "self" else (lambda s: "")  # the scheduler's callback
        if fate == "completed" or fate == "minimal_output":
            output = (rng.choice(RESULTS).format(f=rng.choice(ctx.files), t=task_id) if fate == "completed"
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
            exc = rng.choice(EXCEPTIONS)
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

