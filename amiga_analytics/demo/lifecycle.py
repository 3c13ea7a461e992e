"""A bot task's fates and timeline (:class:`Run`), and the task monitor's 30-minute rule."""

from __future__ import annotations

from dataclasses import dataclass, field

from .calls import Call
from .constants import MONITOR_INTERVAL, MONITOR_TIMEOUT

# Fates of a bot task: (name, probability); the rest complete.
FATES = (
    ("no_output", 0.035), ("minimal_output", 0.01), ("exec_error", 0.02), ("hang", 0.02), ("dead", 0.02),
    ("stop_pool", 0.012), ("stop_manager", 0.012), ("stop_cleanup", 0.003), ("stop_restart", 0.01),
    ("stop_shutdown", 0.005), ("start_failed", 0.006), ("pending_forever", 0.003), ("pending_cleanup", 0.003),
)
ZERO_CALL_FATES = {"start_failed", "pending_forever", "pending_cleanup"}


@dataclass
class Run:
    """One bot task's timeline, in µs after its creation."""

    fate: str
    queue: int                 # picked up by a worker: status 'running'
    started: int               # agent_status "Starting Claude interactive session"
    session: int               # "Session started with PID n": pid and session_uuid written
    calls: list[Call] = field(default_factory=list)
    t_fin: int | None = None   # when Claude would have printed its answer
    cut: int | None = None     # the process died or was killed here
    finish: int | None = None  # the last status write
    stale_for: int = 0         # how old updated_at was when the monitor killed the task
    running_at_end: bool = False


def monitor_kill(bumps: list[int], phase: int, finish: int) -> int | None:
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


