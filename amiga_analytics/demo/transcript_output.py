"""Where the demo's transcripts go, and writing them the way :func:`.api.write_demo` writes its files: into a
temporary folder first, moved into place only when everything was written.

For ``demo-bot.db`` the Claude config directory is ``demo-bot.claude/`` (holding ``projects/``: give it to
``sync --transcripts``) and its truth ``demo-bot.db.transcripts.truth.json``.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import TYPE_CHECKING

from ..errors import InputError
from .transcript_truth import write_transcript_truth
from .transcripts import TranscriptSet, write_transcripts

if TYPE_CHECKING:
    from .simulation import Demo


def transcripts_dir(bot_db: str | os.PathLike) -> Path:
    """The Claude config directory the demo writes beside ``bot_db``.

    >>> transcripts_dir("build/demo-bot.db").as_posix()
    'build/demo-bot.claude'
    """
    path = Path(bot_db)
    return path.with_name(f"{path.stem if path.suffix else path.name}.claude")


class TranscriptOutput:
    """The transcripts of one :func:`.api.write_demo` call (``truth``: their truth file too)."""

    def __init__(self, bot_db: Path, truth: bool):
        self.dir = transcripts_dir(bot_db)
        self.truth_path = Path(f"{bot_db}.transcripts.truth.json") if truth else None
        self._tmp = bot_db.with_name(f".{self.dir.name}.tmp-{os.getpid()}")
        self._tmp_truth = bot_db.with_name(f".{bot_db.name}.transcripts.truth.json.tmp-{os.getpid()}")
        self.found: TranscriptSet | None = None

    def check(self, overwrite: bool) -> None:
        for existing in (self.dir, self.truth_path):
            if existing is not None and existing.exists() and not overwrite:
                raise InputError(f"{existing} already exists; the demo never overwrites a file - delete it or "
                                 "choose another path")

    def write(self, demo: Demo, seed: int, tz: str) -> None:
        self.cleanup()
        self.found = write_transcripts(self._tmp, demo, seed)
        self._tmp.mkdir(exist_ok=True)  # even with no session at all
        if self.truth_path is not None:
            write_transcript_truth(self._tmp_truth, self.found, demo, tz, self.dir.name)

    def commit(self, overwrite: bool) -> None:
        if overwrite:
            shutil.rmtree(self.dir, ignore_errors=True)
            if self.truth_path is not None and self.truth_path.exists():
                self.truth_path.unlink()
        os.replace(self._tmp, self.dir)
        if self.truth_path is not None:
            os.replace(self._tmp_truth, self.truth_path)

    def cleanup(self) -> None:
        shutil.rmtree(self._tmp, ignore_errors=True)
        if self._tmp_truth.exists():
            self._tmp_truth.unlink()

    def result_fields(self) -> dict:
        """The :class:`.api.DemoResult` fields saying what was written."""
        return {"transcripts_path": self.dir, "transcripts_truth_path": self.truth_path,
                "transcripts_summary": self.summary()}

    def summary(self) -> str:
        counts = self.found.counts if self.found else {}
        requests = len(self.found.requests) if self.found else 0
        return (f"; Claude Code transcripts in {self.dir} ({counts.get('files', 0):,} files, {requests:,} API "
                f"requests, {counts.get('bytes', 0) / 1e6:.1f} MB)")
