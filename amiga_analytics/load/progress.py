"""Progress of a long sync step, reported through a callback so that the library draws nothing itself.

A callback is called as ``progress(label, done, total)``: once with ``done == 0`` when the step starts, then as
work gets done, and last with ``done == total``; only steps of more than :data:`MIN_TOTAL` rows report. The CLI
renders it as a click progress bar on a terminal and as :class:`LineProgress` (one plain line every few seconds,
for logs and cron) when stderr is not a terminal; ``sync(..., progress=True)`` uses :class:`TextProgress`, a
plain bar on stderr.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from typing import TextIO

#: ``progress(label, done, total)``
ProgressCallback = Callable[[str, int, int], None]

#: rows between two reports
STEP = 20_000
#: steps with fewer rows are not reported: they end before a bar would help
MIN_TOTAL = 50_000


class TextProgress:
    """A plain one-line bar (``label [#####-----]  50%``) redrawn in place on ``file`` (default stderr)."""

    width = 36

    def __init__(self, file: TextIO | None = None) -> None:
        self.file = file

    def __call__(self, label: str, done: int, total: int) -> None:
        out = self.file or sys.stderr
        filled = self.width * done // total if total else self.width
        percent = 100 * done // total if total else 100
        out.write(f"\r{label}  [{'#' * filled}{'-' * (self.width - filled)}]  {percent:3d}%")
        if done >= total:
            out.write("\n")
        out.flush()


class LineProgress:
    """Whole lines for a log (``label: 40,000 of 200,004 rows (20 %)``): when a step starts, at most one every
    ``interval`` seconds while it runs, and when it ends. ``clock`` is injectable for tests."""

    def __init__(self, file: TextIO | None = None, *, interval: float = 5.0,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.file = file
        self.interval = interval
        self.clock = clock
        self._last = float("-inf")

    def __call__(self, label: str, done: int, total: int) -> None:
        now = self.clock()
        if 0 < done < total and now - self._last < self.interval:
            return
        self._last = now
        percent = 100 * done // total if total else 100
        out = self.file or sys.stderr
        out.write(f"{label}: {done:,} of {total:,} rows ({percent} %)\n")
        out.flush()


def progress_callback(progress: bool | ProgressCallback | None) -> ProgressCallback | None:
    """The callback a ``sync(progress=...)`` argument means: ``True`` the plain bar, false-ish none."""
    if progress is True:
        return TextProgress()
    if not progress:
        return None
    return progress
