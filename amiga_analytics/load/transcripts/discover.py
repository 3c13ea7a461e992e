"""Finding Claude Code transcripts below a Claude config directory (or its ``projects/`` folder).

Three layouts (see ``claude-transcripts.md`` §1):

- ``projects/<enc-cwd>/<sessionId>.jsonl``: a session's main file;
- ``projects/<enc-cwd>/agent-<agentId>.jsonl``: a sub-agent, flat beside the sessions (Claude Code ≤ 2.0); its
  lines carry the parent's ``sessionId``;
- ``projects/<enc-cwd>/<sessionId>/subagents/[workflows/<run>/]agent-<agentId>.jsonl``: a sub-agent nested under
  its parent session (2.1+), with an ``agent-<agentId>.meta.json`` sidecar (``agentType``, ``toolUseId`` = the
  spawning ``Task`` call's ``tool_use.id``, ``spawnDepth``).

Any other ``*.jsonl`` below a session folder belongs to that session (kind ``other``).
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

from ...errors import InputError

MAIN, FLAT_AGENT, NESTED_AGENT, OTHER = "main", "flat_agent", "nested_agent", "other"


@dataclass(frozen=True, slots=True)  # slots: one per transcript file in memory
class TranscriptFile:
    """One ``*.jsonl`` file: where it is, what kind it is, and what its path says about it."""

    path: Path  # absolute
    rel: str  # relative to the projects folder, POSIX separators
    kind: str  # main, flat_agent, nested_agent or other
    session_id: str | None  # from the path (main, nested, other); None for flat agents (their lines say it)
    agent_id: str | None  # from the file name agent-<id>.jsonl

    @property
    def meta(self) -> dict | None:
        """The nested agent's ``agent-<id>.meta.json`` sidecar, if readable (read when asked: an incremental
        sync needs it only for a sub-agent it has not linked yet)."""
        if self.kind != NESTED_AGENT or self.agent_id is None:
            return None
        return _read_meta(self.path.with_name(f"agent-{self.agent_id}.meta.json"))


def projects_dir(root: str | Path) -> Path:
    """The ``projects/`` folder of ``root`` (a Claude config dir or the ``projects/`` folder itself)."""
    path = Path(root).expanduser()
    if (path / "projects").is_dir():
        return path / "projects"
    if path.is_dir():
        return path
    raise InputError(
        f"{path}: no such directory; give a Claude config directory (like ~/.claude, the one holding "
        f"projects/) or its projects/ folder"
    )


def _read_meta(path: Path) -> dict | None:
    try:
        meta = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError):
        return None
    return meta if isinstance(meta, dict) else None


def classify(projects: Path, rel: str) -> TranscriptFile:
    """What the ``*.jsonl`` at ``rel`` (relative to ``projects``, POSIX separators) is, from its place in the
    tree."""
    rel_parts = rel.split("/")
    name = rel_parts[-1][: -len(".jsonl")]
    agent_id = name[len("agent-"):] if name.startswith("agent-") else None
    path = projects / rel
    if len(rel_parts) <= 2:  # <enc>/<file>.jsonl (or a file directly in projects/)
        if agent_id is not None:
            return TranscriptFile(path, rel, FLAT_AGENT, None, agent_id)
        return TranscriptFile(path, rel, MAIN, name, None)
    session_id = rel_parts[1]
    if "subagents" in rel_parts[2:-1] and agent_id is not None:
        return TranscriptFile(path, rel, NESTED_AGENT, session_id, agent_id)
    return TranscriptFile(path, rel, OTHER, session_id, agent_id)


def discover(root: str | Path) -> list[TranscriptFile]:
    """Every ``*.jsonl`` below ``root``'s projects folder, sorted by relative path (main files of a project
    come before the folders of its sessions, so a parent's lines are read before its nested sub-agents')."""
    return list(iter_files(root))


def _walk(directory: str, prefix: str) -> Iterator[str]:
    """The relative paths (``prefix`` + name, POSIX separators) of the ``*.jsonl`` files below ``directory``,
    in no order. As ``Path.rglob("*.jsonl")`` with ``is_file()``: a link to a file counts, a link to a directory
    is not entered, an unreadable directory is skipped."""
    try:
        entries = list(os.scandir(directory))
    except OSError:  # unreadable or gone: what rglob skips too
        return
    for entry in entries:
        try:
            if entry.is_dir(follow_symlinks=False):
                yield from _walk(entry.path, f"{prefix}{entry.name}/")
            elif entry.name.endswith(".jsonl") and entry.is_file():
                yield prefix + entry.name
        except OSError:
            continue


def iter_files(root: str | Path) -> Iterator[TranscriptFile]:
    """:func:`discover`'s files one at a time (only their relative paths are held, to sort them). Listed with
    ``os.scandir`` and plain strings: on 55,715 files pathlib's ``rglob`` and ``relative_to`` took 1.5-4.3 s of
    an incremental sync, this takes 0.3-0.4 s."""
    projects = projects_dir(root)
    for rel in sorted(_walk(str(projects), "")):
        yield classify(projects, rel)
