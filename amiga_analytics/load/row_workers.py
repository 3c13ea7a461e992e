"""The ``tool_calls`` rows of merged calls, built on a second core while the merger goes on.

Building a call's row (:meth:`.rows.RowBuilder.call_row`: time conversion, model and price look-up, secret
masking, error template) is about 40 % of the tool calls' step of a full sync, and depends only on the call and
on tables loaded before the step (task links, prices). So a large sync forks one worker process that builds the
rows of each batch of calls while this process merges the next batch. The rows come back in the order the calls
were sent, so the analytics database is exactly what one process writes (``tests/test_row_workers.py``); the
counts the builder keeps (``invalid_values``, the masks by carrier) come back with each batch and are added here.

The worker is used only when it pays and is safe: at least :data:`MIN_ROWS` bot rows to read, a second CPU this
process may run on, Linux (the worker is forked: a spawned one would have to rebuild the price book and links,
and macOS's system libraries make a fork unsafe), and no other thread in this process (a fork could copy a lock
another thread holds, e.g. a sync called from a notebook's or a server's thread). ``AMIGA_ANALYTICS_WORKERS=0``
in the environment turns it off (``serve --follow`` sets it for its syncs, which must not slow the pages). A
worker that dies (killed, out of memory) fails the sync with ``BrokenProcessPool`` instead of hanging it; a
worker that cannot start leaves the work to this process.

>>> rows = CallRows(builder=None, parallel=False)
>>> rows.take()
[]
"""

from __future__ import annotations

import multiprocessing
import os
import sys
import threading
from collections import deque
from collections.abc import Callable, Iterable
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from typing import Any

from .calls import Call, CallFacts
from .rows import RowBuilder

MIN_ROWS = 100_000
"""Bot rows a sync must read before a worker is worth its start (a fork and a copy of the process's pages)."""
BATCH = 2_000  # calls sent to the worker at once
IN_FLIGHT = 4  # batches sent and not yet taken back: bounds the memory the pipeline holds

_builder: RowBuilder | None = None  # the worker's copy of the builder, inherited through the fork


def worker_wanted(rows_to_read: int) -> bool:
    """Whether a sync that reads ``rows_to_read`` bot rows should build its call rows in a worker process."""
    return rows_to_read >= MIN_ROWS and second_core_free()


def second_core_free() -> bool:
    """Whether a forked worker may run beside this process: Linux, a second CPU, no other thread, and
    ``AMIGA_ANALYTICS_WORKERS`` not ``0``."""
    if os.environ.get("AMIGA_ANALYTICS_WORKERS", "") == "0":
        return False
    return (sys.platform.startswith("linux") and cpus() >= 2  # macOS: fork is unsafe (system libraries' threads)
            and threading.active_count() == 1)


def cpus() -> int:
    """The CPUs this process may run on."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)


def start_worker(initializer: Callable[..., None], *args: Any) -> tuple[Any, int | None]:
    """One forked worker process (``initializer(*args)`` run in it first) and its pid, or ``(None, None)`` if it
    cannot start (no memory or processes left: the caller then works alone). A worker that dies makes every
    pending result raise ``BrokenProcessPool`` instead of waiting for ever."""
    pool = ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("fork"), initializer=initializer,
                               initargs=args)
    try:
        return pool, pool.submit(os.getpid).result()
    except (OSError, BrokenProcessPool):
        pool.shutdown(wait=False, cancel_futures=True)
        return None, None


def _set_builder(builder: RowBuilder) -> None:
    global _builder
    _builder = builder


def _build(batch: list[CallFacts]) -> tuple[list[tuple], int, dict[str, int]]:
    """In the worker: the rows of ``batch``, the invalid values they dropped and the masks they made by carrier."""
    builder = _builder
    assert builder is not None
    invalid, masks = builder.counts["invalid_values"], dict(builder.masks)
    rows = [builder.call_row(facts) for facts in batch]
    made = {carrier: n - masks.get(carrier, 0) for carrier, n in builder.masks.items() if n != masks.get(carrier, 0)}
    return rows, builder.counts["invalid_values"] - invalid, made


class CallRows:
    """Calls in (:meth:`add`), their ``tool_calls`` rows out in the same order (:meth:`take`); use it as a context
    manager, so that the worker is stopped whatever happens."""

    def __init__(self, builder: Any, *, parallel: bool):
        self.builder = builder
        self._ready: list[tuple] = []
        self._pending: list[CallFacts] = []
        self._in_flight: deque[Any] = deque()
        self._pool: Any = None
        self.worker_pid: int | None = None
        if parallel:
            self._pool, self.worker_pid = start_worker(_set_builder, builder)

    @property
    def parallel(self) -> bool:
        return self._pool is not None

    def __enter__(self) -> CallRows:
        return self

    def __exit__(self, *exc: object) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=exc[0] is None, cancel_futures=True)
            self._pool = None

    def add(self, calls: Iterable[Call]) -> None:
        """Queue the rows of ``calls`` (built at once without a worker)."""
        if self._pool is None:
            self._ready.extend(self.builder.call_row(call.facts()) for call in calls)
            return
        self._pending.extend(call.facts() for call in calls)
        if len(self._pending) >= BATCH:
            self._send()

    def take(self, *, flush: bool = False) -> list[tuple]:
        """The rows built so far, in order (with ``flush``: every row queued, waiting for the worker)."""
        if self._pool is not None:
            if flush and self._pending:
                self._send()
            while self._in_flight and (flush or self._in_flight[0].done()):
                self._receive()
        ready, self._ready = self._ready, []
        return ready

    def _send(self) -> None:
        self._in_flight.append(self._pool.submit(_build, self._pending))
        self._pending = []
        while len(self._in_flight) > IN_FLIGHT:
            self._receive()

    def _receive(self) -> None:
        rows, invalid, masks = self._in_flight.popleft().result()  # a dead worker: BrokenProcessPool
        self.builder.counts["invalid_values"] += invalid
        for carrier, n in masks.items():
            self.builder.tally(carrier, n)
        self._ready.extend(rows)
