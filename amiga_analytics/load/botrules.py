"""The bot's own rules that decide which rows a tool call leaves (bot-data.md §3.1, §8), replayed.

* :func:`distinguishing_key`: what the post-hook's ``update_tool_usage`` compares to find the row it completes:
  ``file_path`` for Read/Write/Edit, the md5 prefix of the command for Bash, the first 50 characters of the
  pattern for Grep/Glob, the md5 prefix of the whole (key-sorted) input otherwise.
* :func:`gate_blocked`: the shell pre-hook's refusal (``exit 1``) of ``git commit`` with ``--no-verify``,
  ``--no-gpg-sign`` or ``-n`` anywhere in the command, and of ``git push --force``/``-f``: such a call leaves no
  pre row, only the post-hook's fallback INSERT (and the server's completion row).
* :class:`ServerTimeline`: whether the monitoring server was up, from the calls that started before a moment
  (a call started with the server up got the server's copy of its pre row).

>>> distinguishing_key("Read", '{"file_path": "/a.py", "offset": 10}') == distinguishing_key("Read", '{"file_path": "/a.py"}')
True
>>> gate_blocked("Bash", '{"command": "git commit -n -m wip"}'), gate_blocked("Bash", '{"command": "git status"}')
(True, False)
"""

from __future__ import annotations

import hashlib
import json
import re
from bisect import bisect_left, bisect_right
from collections import deque

_FILE_KEY_TOOLS = frozenset(("Read", "Write", "Edit"))
_PATTERN_KEY_TOOLS = frozenset(("Grep", "Glob"))
_COMMIT_FLAGS = re.compile(r"--no-verify|--no-gpg-sign|-n")
_FORCE_FLAGS = re.compile(r"--force|-f[^a-z\n]")  # grep works per line: [^a-z] never matches the line's end


def _md5_prefix(text: str) -> str:
    return hashlib.md5(text.encode("utf-8", "surrogatepass")).hexdigest()[:8]


def distinguishing_key(tool, params) -> tuple:
    """The key the bot's post-hook matches rows on (with task id and tool name); rows it can never match get a
    key of their own (their raw text). A row without parameters is matched by any post-hook without
    parameters, with no time window."""
    if params is None or params == "":
        return ("none",)
    if not isinstance(params, str):
        return ("raw", repr(params))
    try:
        value = json.loads(params)
    except ValueError:
        return ("raw", params)
    if not isinstance(value, dict) or not value:
        return ("raw", params)
    try:
        if tool in _FILE_KEY_TOOLS:
            return ("k", json.dumps(value.get("file_path", "")))
        if tool == "Bash":
            return ("k", _md5_prefix(value.get("command", "")))
        if tool in _PATTERN_KEY_TOOLS:
            return ("k", json.dumps(value.get("pattern", "")[:50]))
        return ("k", _md5_prefix(json.dumps(value, sort_keys=True)))
    except (TypeError, AttributeError, ValueError):  # the bot's own matching fails on such a row
        return ("raw", params)


def gate_blocked(tool, params) -> bool:
    """Whether the bot's shell pre-hook refused to record this Bash call (it still ran: no pre row)."""
    if tool != "Bash" or not isinstance(params, str) or "git " not in params:
        return False
    try:
        command = json.loads(params).get("command", "")
    except (ValueError, AttributeError):
        return False
    if not isinstance(command, str):
        return False
    if "git commit" in command and _COMMIT_FLAGS.search(command):
        return True
    return "git push" in command and _FORCE_FLAGS.search(command) is not None


# Evidence older than this says nothing about the server (it may have come back or gone down since).
STALE_EVIDENCE_S = 600.0
# Each piece of evidence is kept this long (bot time) for ServerTimeline.first_after.
POINTS_KEEP_S = 2 * 86400.0


class ServerTimeline:
    """Whether the monitoring server was up at a moment, from the calls that started before it.

    Each new call is evidence once its copy window has passed (it got the server's copy of its pre row, or
    not); evidence is taken in start order and kept as the moments where the state changed, plus the quiet
    stretches (no evidence for :data:`STALE_EVIDENCE_S`), in which nothing is known. A query for a moment sees
    only evidence older than it, so the answer does not depend on what was read after.
    """

    def __init__(self, window_s: float, state: dict | None = None):
        self.window_s = window_s
        self.waiting: deque = deque()  # calls whose evidence is not in yet, in arrival order
        state = state or {}
        self.times: list[float] = [p[0] for p in state.get("points", [])]
        self.states: list[bool] = [bool(p[1]) for p in state.get("points", [])]
        self.last = state.get("last")  # start time of the latest evidence taken
        self.gaps: list[tuple[float, float]] = [tuple(g) for g in state.get("gaps", [])]  # quiet stretches
        # Each piece of evidence of the last two days, and the moments of calls whose evidence is not known (None).
        recent = state.get("recent", [])
        self.pt_times: list[float] = [p[0] for p in recent]
        self.pt_states: list[bool | None] = [None if p[1] is None else bool(p[1]) for p in recent]

    def add(self, call) -> None:
        if call.first_epoch is not None:
            self.waiting.append(call)

    def advance(self, now: float) -> None:
        waiting = self.waiting
        while waiting:
            head = waiting[0]
            if not head.has_copy and head.first_epoch > now - self.window_s:
                return
            waiting.popleft()
            if not head.no_evidence:
                self._take(head.first_epoch, head.has_copy)

    def done_without_copy(self, after: float, before: float) -> bool:
        """Whether a call whose evidence is not in yet, started between ``after`` and ``before``, was completed in
        place without the server's copy: the server was down when it started (with it up, its post-hook would
        have completed the copy, the newer row)."""
        return any(after < c.first_epoch < before and _says(c) is False for c in self.waiting)

    def latest_pending(self, after: float, before: float) -> bool | None:
        """What the latest call started between ``after`` and ``before`` whose evidence is not in yet says of the
        server, by its rows so far: up (it got the copy), down (completed in place without one); None if none
        says."""
        for c in reversed(self.waiting):
            if after < c.first_epoch < before and (state := _says(c)) is not None:
                return state
        return None

    def _take(self, at: float, up: bool) -> None:
        if self.last is not None and at <= self.last:
            return  # out of order (clock repeat) or already taken by an earlier sync
        if self.last is not None and at - self.last > STALE_EVIDENCE_S:
            self.gaps.append((self.last, at))
        self.last = at
        self._point(at, up)
        if not self.states or self.states[-1] != up:
            self.times.append(at)
            self.states.append(up)

    def up_at(self, at: float | None) -> bool | None:
        """The server's state at ``at`` by the latest evidence before it; None without evidence."""
        if at is None:
            return None
        i = bisect_right(self.times, at)
        if not i or (self.last is not None and at - self.last > STALE_EVIDENCE_S):
            return None
        g = bisect_right(self.gaps, (at, float("inf")))
        if g and self.gaps[g - 1][0] + STALE_EVIDENCE_S < at < self.gaps[g - 1][1]:
            return None  # the latest evidence before ``at`` is too old
        return self.states[i - 1]

    def note_unknown(self, at: float) -> None:
        """A call at ``at`` whose rows do not say whether the server was up (a tentative copy or C)."""
        self._point(at, None)

    def _point(self, at: float, up: bool | None) -> None:
        i = bisect_right(self.pt_times, at)
        self.pt_times.insert(i, at)
        self.pt_states.insert(i, up)
        if self.pt_times[0] < at - 2 * POINTS_KEEP_S:  # dropped in halves, so each point costs O(1)
            cut = bisect_left(self.pt_times, at - POINTS_KEEP_S)
            del self.pt_times[:cut], self.pt_states[:cut]

    def first_after(self, since: float, at: float) -> bool | None:
        """The state the first evidence after ``since`` says, if it is no later than ``at``; None before it."""
        i = bisect_right(self.pt_times, since)
        while i < len(self.pt_times) and self.pt_times[i] <= at:
            if self.pt_states[i] is not None:
                return self.pt_states[i]
            i += 1
        return None

    def last_before(self, at: float) -> tuple[float, bool | None] | None:
        """The latest call (its time, and the state it says; None: not known) no later than ``at``, within the
        two days kept."""
        i = bisect_right(self.pt_times, at)
        return (self.pt_times[i - 1], self.pt_states[i - 1]) if i else None

    def changed_since(self, since: float, at: float) -> bool | None:
        """The state the latest change point in [``since``, ``at``] set, however old; None without one."""
        i = bisect_right(self.times, at)
        if not i or self.times[i - 1] < since:
            return None
        return self.states[i - 1]

    def export(self, keep_after: float | None) -> dict:
        """The evidence a later sync needs (change points after ``keep_after``, plus the one before)."""
        start = 0
        if keep_after is not None:
            start = max(0, bisect_right(self.times, keep_after) - 1)
        gaps = [list(g) for g in self.gaps if keep_after is None or g[1] >= keep_after]
        recent = [[t, None if s is None else int(s)] for t, s in zip(self.pt_times, self.pt_states)
                  if keep_after is None or t >= keep_after]
        return {"points": [[t, int(s)] for t, s in zip(self.times[start:], self.states[start:])], "last": self.last,
                "gaps": gaps, "recent": recent}


def _says(call) -> bool | None:
    """What a call's rows so far say of the server at its start: its copy came (up), or it was completed in place
    without one (down); None while neither (or when its rows say nothing of the server)."""
    if call.no_evidence:
        return None
    if call.has_copy:
        return True
    return False if call.first_done else None
