"""The entry point: :func:`write_demo` checks its arguments, runs the simulation and writes both files atomically;
:class:`DemoResult` says what it wrote."""

from __future__ import annotations

import os
import random
import time
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from ..errors import InputError
from .clock import Clock
from .constants import DEFAULT_END
from .simulation import Demo
from .transcript_output import TranscriptOutput
from .truth import write_truth
from .writer import write_database


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
    transcripts_path: Path | None = None  # the Claude config directory of the transcripts (None: not written)
    transcripts_truth_path: Path | None = None
    transcripts_summary: str = ""

    def summary(self) -> str:
        truth = f"; truth in {self.truth_path}" if self.truth_path else "; no truth file"
        return (f"wrote {self.path}: {self.days} days ({self.first_day}..{self.last_day}, {self.tz}), "
                f"{self.tasks:,} tasks, {self.calls:,} logical tool calls in {self.tool_usage_rows:,} tool_usage "
                f"rows, {self.messages:,} router messages{truth}{self.transcripts_summary} ({self.seconds:.1f} s)")




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


def _check_paths(path: Path, files: tuple[Path, ...], output: TranscriptOutput | None, overwrite: bool) -> None:
    for existing in files:
        if existing.exists() and not overwrite:
            raise InputError(f"{existing} already exists; the demo never overwrites a file - delete it or choose "
                             "another path")
    if output is not None:
        output.check(overwrite)
    if not path.parent.is_dir():
        raise InputError(f"cannot write {path}: the directory {path.parent} does not exist")


def _check_numbers(days, calls) -> None:
    if not isinstance(days, int) or days < 1:
        raise InputError(f"days must be a whole number of days, 1 or more, not {days!r}")
    if calls is not None and (not isinstance(calls, int) or calls < 0):
        raise InputError(f"calls must be a whole number, 0 or more, not {calls!r}")


def _write_files(path: Path, demo: Demo, generator: dict, truth: bool, output: TranscriptOutput | None,
                 overwrite: bool) -> None:
    """Write the database, the truth and the transcripts beside ``path`` under temporary names, then move them into
    place (nothing is left behind on an error)."""
    truth_path = Path(f"{path}.truth.json")
    tz = generator["tz"]
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    tmp_truth = path.with_name(f".{truth_path.name}.tmp-{os.getpid()}")
    _remove(tmp, tmp_truth)
    try:
        write_database(tmp, demo)
        if truth:
            write_truth(tmp_truth, demo, generator, tz)
        if output is not None:
            output.write(demo, generator["seed"], tz)
        if overwrite:
            _remove(path, truth_path)
        os.replace(tmp, path)
        if truth:
            os.replace(tmp_truth, truth_path)
        if output is not None:
            output.commit(overwrite)
    finally:
        _remove(tmp, tmp_truth)
        if output is not None:
            output.cleanup()


def write_demo(path: str | os.PathLike, *, days: int = 28, seed: int = 42, tz: str = "Europe/Madrid",
               calls: int | None = None, end: str | date | None = None, truth: bool = True,
               overwrite: bool = False, transcripts: bool = True, concurrency: bool = False) -> DemoResult:
    """Write a synthetic bot database (schema v14) at ``path`` and, unless ``truth=False``, its ground truth at
    ``<path>.truth.json``. See the module docstring for what is simulated.

    Unless ``transcripts=False``, the Claude Code transcripts of its sessions go in ``<stem>.claude/`` (for ``sync
    --transcripts``; :mod:`.transcripts`), their truth in ``<path>.transcripts.truth.json`` (when ``truth``).

    ``days`` local calendar days ending on ``end`` (default :data:`DEFAULT_END`) on a host whose clock runs in
    ``tz``; ``calls`` logical tool calls exactly (default: a busy bot, a few hundred a day); the same ``seed`` gives
    the same rows. An existing ``path`` is an error unless ``overwrite=True``.

    ``concurrency=True`` adds what happens when calls overlap (bot-data.md §8; :mod:`.concurrency`, :mod:`.replay`):
    bursts of concurrent tasks, parallel tool batches and sub-agents, the same key twice in flight (crossed rows),
    gate-blocked git commands and server outages in the middle of calls, with their truth by row role. A refused
    git command cut before its end leaves no row: it is in the truth's ``notes.invisible_calls``, and ``calls``
    counts one call less for each.
    """
    began = time.perf_counter()
    path = Path(path)
    truth_path = Path(f"{path}.truth.json")
    _check_numbers(days, calls)
    zone = _zone(tz)
    last_day = _parse_end(end)
    output = TranscriptOutput(path, truth) if transcripts else None
    _check_paths(path, (path, truth_path) if truth else (path,), output, overwrite)

    rng = random.Random(seed)
    clock = Clock(zone)
    day_list = [last_day - timedelta(days=days - 1 - i) for i in range(days)]
    snapshot = clock.at_local(last_day + timedelta(days=1))
    budgets = _day_budgets(rng, day_list, calls)
    demo = Demo(rng, clock, day_list, snapshot)
    demo.plans.enabled = transcripts
    if concurrency:
        demo.enable_concurrency()
    demo.run(budgets)
    if concurrency:
        demo.number_rows()

    generator = {"seed": seed, "days": days, "tz": str(tz), "calls": calls, "end": last_day.isoformat()}
    _write_files(path, demo, generator | ({"concurrency": True} if concurrency else {}), truth, output, overwrite)
    return DemoResult(path=path, truth_path=truth_path if truth else None, tool_usage_rows=len(demo.tool_rows),
                      calls=demo.calls_made, tasks=len(demo.task_rows), seconds=time.perf_counter() - began,
                      messages=len(demo.message_rows), first_day=day_list[0], last_day=last_day, days=days,
                      tz=str(tz), **(output.result_fields() if output else {}))
