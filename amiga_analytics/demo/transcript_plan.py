"""What the transcripts are written from: one :class:`SessionPlan` per Claude Code session the simulation ran.

The simulation records a plan where it finishes a unit of work (:meth:`Plans.task` after a bot task's rows,
:meth:`Plans.cli` after a CLI session's), without drawing a single random number, so the bot database is the same
whether transcripts are written or not. :mod:`.transcripts` turns the plans into files afterwards.

:func:`agent_items` recovers who made each call from the times alone: a call that starts inside a ``Task`` call's
span belongs to that sub-agent (the generator puts a sub-agent's calls there), and calls of one agent that start
within :data:`PARALLEL_S` of each other, before the first of them ended, were issued by one API response (parallel
tool calls). Calls planned with concurrency name their sub-agent (``Call.owner``: parallel sub-agents' calls
interleave), and go to it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from .constants import US

if TYPE_CHECKING:
    from .calls import Call
    from .lifecycle import Run

PARALLEL_S = 0.5
TASK_COLUMNS = {"description": 2, "model": 6, "workspace": 7, "result": 9, "session_uuid": 13, "context": 15}
"""Positions in a ``tasks`` row tuple as :mod:`.task_rows` builds it (the INSERT's column order)."""


@dataclass(frozen=True)
class SessionPlan:
    """One Claude Code session: a bot task's ``claude -p`` run or an interactive CLI session.

    Times are µs relative to ``base`` (a UTC instant), as the calls' are.
    """

    kind: str  # "task" or "cli"
    session_id: str  # the transcript's sessionId: tasks.session_uuid as the bot stored it, or the CLI session's id
    task_id: str | None  # the bot task (None: an interactive session)
    cwd: str
    alias: str | None  # the task's model alias; None: the developer's own choice (the writer picks one)
    base: int
    start: int | None  # the claude process starts ("Session started"); None: shortly before the first call
    calls: list[Call] = field(repr=False)
    answer_at: int | None  # the final answer is printed (None: no final answer)
    stop: int | None  # the process stopped writing: killed, died, or the end of the period (None: it ended)
    prompt: str | None  # the bot's prompt (None: the writer picks what the developer typed)
    answer: str | None  # the final answer's text, where the bot stored it (tasks.result)


class Plans(list):
    """The session plans of one simulation; records nothing when ``enabled`` is false."""

    def __init__(self, enabled: bool = True):
        super().__init__()
        self.enabled = enabled

    def task(self, task_id: str, row: tuple, run: Run, base: int) -> None:
        """A bot task, from its final ``tasks`` row and its timeline; tasks that never started Claude have none."""
        session_uuid = row[TASK_COLUMNS["session_uuid"]]
        if not self.enabled or session_uuid is None:
            return
        answer_at = run.t_fin if run.cut is None and run.fate != "no_output" else None
        self.append(SessionPlan(
            "task", session_uuid, task_id, row[TASK_COLUMNS["workspace"]], row[TASK_COLUMNS["model"]], base,
            run.session, list(run.calls), answer_at, run.cut,
            row[TASK_COLUMNS["context"]] or row[TASK_COLUMNS["description"]], row[TASK_COLUMNS["result"]]))

    def cli(self, session_id: str, cwd: str, calls: list[Call], base: int, cut: int | None) -> None:
        """An interactive session (its calls as written; ``cut``: the terminal was closed there)."""
        if not self.enabled or not calls:
            return
        answer_at = None if cut is not None else calls[-1].end + 2 * US
        self.append(SessionPlan("cli", session_id, None, cwd, None, base, None, list(calls), answer_at, cut, None,
                                None))


@dataclass
class Item:
    """One tool call of an agent, and for a ``Task`` call the calls of the sub-agent it ran."""

    call: Call
    inner: list[Call] | None = None  # None: not a Task call


def agent_items(calls: list[Call]) -> list[Item]:
    """The main agent's calls, each Task call with its sub-agent's calls (see the module docstring)."""
    items: list[Item] = []
    running: list[Item] = []  # Task items whose span may still hold later calls (calls come in start order)
    group_start: int | None = None
    group_end = 0
    task_items: dict[int, Item] = {}  # id(Task call) -> its item, for calls that name their sub-agent (owner)
    for call in calls:
        if call.owner is not None and id(call.owner) in task_items:
            task_items[id(call.owner)].inner.append(call)  # type: ignore[union-attr]
            continue
        parallel = group_start is not None and call.start - group_start <= PARALLEL_S * US and call.start < group_end
        running = [t for t in running if t.call.end > call.start]
        owner = None if parallel or not running else max(running, key=lambda t: t.call.start)
        if owner is not None and owner.inner is not None:
            owner.inner.append(call)
            continue
        item = Item(call, [] if call.tool == "Task" else None)
        items.append(item)
        if item.inner is not None:
            running.append(item)
            task_items[id(call)] = item
        if not parallel:
            group_start, group_end = call.start, call.end
    return items


def message_groups(calls: list) -> list[list]:
    """Consecutive items (or calls) issued by one API response: each starts within :data:`PARALLEL_S` of the first
    of its group and before that one ended."""
    groups: list[list] = []
    for x in calls:
        call = x.call if isinstance(x, Item) else x
        if groups:
            first = groups[-1][0]
            head = first.call if isinstance(first, Item) else first
            if call.start - head.start <= PARALLEL_S * US and call.start < head.end:
                groups[-1].append(x)
                continue
        groups.append([x])
    return groups
