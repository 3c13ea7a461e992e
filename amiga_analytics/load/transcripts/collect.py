"""Accumulating transcripts: the global dedup of API requests, tool_uses and their results, agent links.

Dedup (what Claude Code's streaming requires): several lines carry one API request (one per content block,
identical usage or ``output_tokens`` growing to the final count). The key is ``(message.id, requestId or "")``,
over **all** files; the copy with the largest input + output + cache total wins, the first such in reading order
(files by relative path, lines by offset). A copy inside a ``progress`` line (Claude Code 2.1 copies sub-agent
lines into the parent's file) loses a tie to the sub-agent's own line, so nothing is counted twice and the copy
only matters when the sub-agent's own file is gone. ``<synthetic>`` and API-error lines are not requests.

A :class:`TranscriptSet` is incremental: :meth:`TranscriptSet.read` reads only what was appended since its
previous read (by offset; see :mod:`.reading`), and a file that disappeared keeps what was read from it.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable

from .discover import NESTED_AGENT, TranscriptFile, iter_files, projects_dir
from .reading import FileState, ReadStats, read_new_lines
from .records import RequestCopy, Sink, ToolResult, ToolUse, extract


def _better(new: RequestCopy, old: RequestCopy) -> bool:
    """True if ``new`` replaces ``old``: a larger total; on a tie a line of its own over a progress-line copy,
    then the first in reading order (so the winner does not depend on the order of incremental reads)."""
    if new.total != old.total:
        return new.total > old.total
    if new.wrapped != old.wrapped:
        return old.wrapped
    return new.order < old.order


@dataclass
class TranscriptSet:
    """Everything read so far from one or more transcript directories."""

    requests: dict[tuple[str, str], RequestCopy] = field(default_factory=dict)
    tool_uses: dict[str, ToolUse] = field(default_factory=dict)
    results: dict[str, ToolResult] = field(default_factory=dict)
    agent_links: dict[tuple[str | None, str], str] = field(default_factory=dict)  # (session, agent) → Task id
    session_cwd: dict[str, str] = field(default_factory=dict)
    files: dict[str, FileState] = field(default_factory=dict)  # key: "<root>::<rel>"
    stats: ReadStats = field(default_factory=ReadStats)
    counts: Counter = field(default_factory=Counter)  # request_lines, duplicate_request_lines, synthetic_lines, …
    task_prompts: dict[tuple[str | None, str], list[str]] = field(default_factory=dict)  # (session, digest) → ids
    agent_prompts: dict[tuple[str | None, str], str] = field(default_factory=dict)  # (session, agent) → digest
    _file_index: dict[str, int] = field(default_factory=dict)

    # -- the sink records.extract feeds -------------------------------------------------------------------
    def add_request(self, copy: RequestCopy) -> None:
        self.counts["request_lines" if not copy.wrapped else "progress_request_lines"] += 1
        old = self.requests.get(copy.key)
        if old is None:
            self.requests[copy.key] = copy
            return
        self.counts["duplicate_request_lines"] += 1
        if _better(copy, old):
            self.requests[copy.key] = copy

    def add_tool_use(self, use: ToolUse) -> None:
        old = self.tool_uses.get(use.tool_use_id)
        if old is None or (old.wrapped and not use.wrapped):
            self.tool_uses[use.tool_use_id] = use

    def add_result(self, result: ToolResult) -> None:
        old = self.results.get(result.tool_use_id)
        if old is None or (old.wrapped and not result.wrapped):
            self.results[result.tool_use_id] = result

    def link_agent(self, agent_id: str, tool_use_id: str, session_id: str | None) -> None:
        self.agent_links.setdefault((session_id, agent_id), tool_use_id)

    def note(self, what: str, session_id: str | None = None, cwd: str | None = None) -> None:
        if what:
            self.counts[what] += 1
        if cwd and session_id:
            self.session_cwd.setdefault(session_id, cwd)

    def prompt(self, session_id: str | None, owner: str, digest: str, is_task: bool) -> None:
        if not is_task:
            self.agent_prompts.setdefault((session_id, owner), digest)
            return
        ids = self.task_prompts.setdefault((session_id, digest), [])
        if owner not in ids:
            ids.append(owner)

    # -- reading ------------------------------------------------------------------------------------------
    def _index(self, key: str) -> int:
        return self._file_index.setdefault(key, len(self._file_index))

    def read_file(self, file: TranscriptFile, root_key: str, sink: Sink | None = None) -> ReadStats:
        """Read what is new in one file; its requests, tool_uses and results go to ``sink`` (default: this set;
        the sync's :class:`~.stage.Stage` writes them to the database as it reads)."""
        key = f"{root_key}::{file.rel}"
        self._link_spawner(file)
        lines, state, stats = read_new_lines(file.path, self.files.get(key))
        index = self._index(key)
        for offset, line in lines:
            extract(line, file, index, offset, sink or self)
        if state is not None:
            self.files[key] = state
        self.stats.add(stats)
        return stats

    def _link_spawner(self, file: TranscriptFile) -> None:
        """A nested sub-agent's file names the Task tool_use that spawned it (its ``.meta.json``, read only
        for a sub-agent not linked yet: the first link stays)."""
        if file.kind != NESTED_AGENT or not file.agent_id or (file.session_id, file.agent_id) in self.agent_links:
            return
        spawned_by = (file.meta or {}).get("toolUseId")
        if isinstance(spawned_by, str):
            self.link_agent(file.agent_id, spawned_by, file.session_id)

    def read(self, root: str | Path, sink: Sink | None = None) -> ReadStats:
        """Read every transcript below ``root`` (a Claude config dir or its ``projects/``), only what is new
        since the previous read of the same files; returns the counts of this read. (Parsing the files in a
        forked worker was tried and removed: the staging, masking and replay stay here, and the read was slower,
        65-68 s alone against 82 s with the worker, on the benchmark's 55,715 files on a quiet machine.)"""
        root_key = str(projects_dir(root).resolve())
        total = ReadStats()
        for file in iter_files(root):
            total.add(self.read_file(file, root_key, sink))
        return total

    def carried_over(self) -> "TranscriptSet":
        """A new set that knows what a later incremental read needs from this one, and no rows: the files'
        read offsets, the sub-agent links, the prompt digests (to link a sub-agent whose Task call is in a later
        part of the parent's file) and the sessions' working directories. This is what a sync persists."""
        return TranscriptSet(
            agent_links=dict(self.agent_links), session_cwd=dict(self.session_cwd), files=dict(self.files),
            task_prompts={k: list(v) for k, v in self.task_prompts.items()}, agent_prompts=dict(self.agent_prompts),
            _file_index=dict(self._file_index),
        )

    def spawn_links(self) -> dict[tuple[str | None, str], str]:
        """(session, sub-agent id) → the ``Task`` tool_use that spawned it (see :func:`resolve_spawns`)."""
        def from_results() -> Iterable[tuple[str | None, str, str]]:
            for use_id, result in self.results.items():
                use = self.tool_uses.get(use_id)
                if result.agent_id and use is not None:
                    yield use.session_id, result.agent_id, use_id
        return resolve_spawns(self, from_results())


def resolve_spawns(found: TranscriptSet, result_links: Iterable[tuple[str | None, str, str]]
                   ) -> dict[tuple[str | None, str], str]:
    """(session, sub-agent id) → the ``Task`` tool_use that spawned it, where the files say so: the nested
    agent's ``.meta.json`` ``toolUseId``, a progress line's ``parentToolUseID`` (both in ``found.agent_links``),
    the Task result's ``toolUseResult.agentId`` (``result_links``: ``(session of the tool_use, agent id, tool_use
    id)`` in the order the results were first read); else (flat layout, a Task that reported an error) the one Task
    call of the session whose prompt is the sub-agent's first prompt (digests compared; used only when
    unambiguous)."""
    links = dict(found.agent_links)
    for session, agent, use_id in result_links:
        links.setdefault((session, agent), use_id)
    taken = set(links.values())
    for (session, agent), digest in found.agent_prompts.items():
        if (session, agent) in links:
            continue
        candidates = [u for u in found.task_prompts.get((session, digest), []) if u not in taken]
        if len(candidates) == 1:
            links[(session, agent)] = candidates[0]
            taken.add(candidates[0])
    return links


def read_transcripts(*roots: str | Path) -> TranscriptSet:
    """A full read of one or more transcript directories."""
    found = TranscriptSet()
    for root in roots:
        found.read(root)
    return found
