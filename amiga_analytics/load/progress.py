"""Progress of a long sync step, reported through a callback so that the library draws nothing itself.

A callback is called as ``progress(label, done, total)``: once with ``done == 0`` when the step starts, then as
work gets done, and last with ``done == total``; only steps of more than :data:`MIN_TOTAL` rows report. The CLI renders it as a click progress bar on a terminal;
``sync(..., progress=True)`` uses :class:`TextProgress`, a plain bar on stderr.
"""

from __future__ import annotations

import sys
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


def progress_callback(progress: bool | ProgressCallback | None) -> ProgressCallback | None:
    """The callback a ``sync(progress=...)`` argument means: ``True`` the plain bar, false-ish none."""
    if progress is True:
        return TextProgress()
    if not progress:
        return None
    return progress
