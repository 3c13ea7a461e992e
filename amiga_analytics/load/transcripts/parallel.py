"""Transcript files parsed on a second core while this process stages what they hold.

Reading the transcripts is most of a sync that has them: JSON-decoding every line and picking out its requests,
tool_uses and results (:func:`.reading.read_new_lines`, :func:`.records.extract`) is about two thirds of the
transcripts' step. Each file is parsed on its own, so a forked worker process parses the files, a chunk at a
time, and sends back what :func:`~.records.extract` handed its sink (as ``(method, arguments)`` pairs), the file's
new read state and its counts; this process replays them into the real sink in the files' reading order, so
the set, the staged rows and the counts are what :meth:`.collect.TranscriptSet.read` gives alone
(``tests/test_row_workers.py`` compares whole databases). Used under the same conditions as the call rows'
worker (:func:`..row_workers.second_core_free`), from :data:`MIN_FILES` files on.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterator
from typing import Any

from ..row_workers import IN_FLIGHT, second_core_free, start_worker
from .discover import TranscriptFile
from .reading import FileState, ReadStats, read_new_lines
from .records import extract

MIN_FILES = 1_000
"""Transcript files a read must cover before a worker is worth its start."""
CHUNK = 32  # files parsed per message to the worker

Job = tuple[TranscriptFile, int, "FileState | None"]  # a file, its reading-order index, its previous state
Parsed = tuple[list[tuple[str, tuple]], "FileState | None", ReadStats]


class _Recorder:
    """A :class:`~.records.Sink` that remembers each call, to replay it in the other process."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, tuple]] = []

    def add_request(self, *args: Any) -> None:
        self.calls.append(("add_request", args))

    def add_tool_use(self, *args: Any) -> None:
        self.calls.append(("add_tool_use", args))

    def add_result(self, *args: Any) -> None:
        self.calls.append(("add_result", args))

    def link_agent(self, *args: Any) -> None:
        self.calls.append(("link_agent", args))

    def note(self, *args: Any) -> None:
        self.calls.append(("note", args))

    def prompt(self, *args: Any) -> None:
        self.calls.append(("prompt", args))


def parse(job: Job) -> Parsed:
    """What one file's new lines hand a sink, the file's new state and its counts."""
    file, index, previous = job
    lines, state, stats = read_new_lines(file.path, file.rel, previous)
    recorder = _Recorder()
    for offset, line in lines:
        extract(line, file, index, offset, recorder)
    return recorder.calls, state, stats


def _parse_chunk(jobs: list[Job]) -> list[Parsed]:
    return [parse(job) for job in jobs]


def parsed_in_worker(jobs: list[Job]) -> Iterator[Parsed] | None:
    """``jobs`` parsed by a worker process, in order (at most :data:`~..row_workers.IN_FLIGHT` chunks ahead of
    the caller), or None when a worker is not wanted (then the caller parses them itself)."""
    if len(jobs) < MIN_FILES or not second_core_free():
        return None
    return _ordered(jobs)


def _nothing() -> None:
    pass


def _ordered(jobs: list[Job]) -> Iterator[Parsed]:
    pool, _ = start_worker(_nothing)
    if pool is None:  # no worker could start: parse here
        yield from map(parse, jobs)
        return
    in_flight: deque[Any] = deque()
    try:
        for i in range(0, len(jobs), CHUNK):
            in_flight.append(pool.submit(_parse_chunk, jobs[i:i + CHUNK]))
            if len(in_flight) > IN_FLIGHT:
                yield from in_flight.popleft().result()
        while in_flight:
            yield from in_flight.popleft().result()
    finally:
        pool.shutdown(wait=not in_flight, cancel_futures=True)
