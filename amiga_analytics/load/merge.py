"""Merge the bot's tool_usage rows into logical tool calls (bot-data.md §3.1).

How the bot writes one call, in insertion (id) order, all rows sharing ``task_id``, ``tool_name`` and
``parameters``:

==========================  ========================================================================
server down                 ``P`` — the pre-hook row, updated in place by the post-hook (1 row)
server down, window missed  ``A`` (NULL for good), ``D`` — the post-hook's fallback INSERT (2 rows)
server up                   ``A`` (NULL), ``B`` — the server's copy of the pre row, inserted within
                            milliseconds and updated in place (success, tokens), ``C`` — the server's
                            completion INSERT without tokens (3 rows)
server up, window missed    ``A``, ``B`` (both NULL), ``D`` (with tokens), ``C`` (4 rows)
never completed             ``A`` alone, or ``A`` + ``B``: outcome unknown
==========================  ========================================================================

Without the server, a NULL pre row followed by a completed row is ambiguous: the window-missed pair above,
or a call that never completed followed by the next identical call. The bot's update window decides it, and we
replay its rule (``timestamp >= datetime('now', '-5 seconds')``: local text compared with UTC text, so it
misses only when the local date is behind the UTC date), given by the caller as ``window_missed``.

The rule that covers all of them: a call starts with a pre row; a second row that arrives within
:data:`COPY_WINDOW_S` seconds of a lone pre row, one of the two NULL, is the server's copy (the hook and the
server race, so the copy can get the lower id); after that, every completed row that
arrives while the call still has a NULL pre row without its completion is a completion INSERT (one is owed per
NULL pre row). Any other row starts a new call. Only the latest call of each (task, tool, parameters) can
receive rows, so a call is *closed* once nothing is owed or a newer call with the same key begins.

Outcome: the completed row that carries tokens (``B`` or ``D``), else any completed row, else unknown.

The merger streams: it holds only calls still waiting for rows, so memory does not grow with the table.

>>> m = CallMerger()
>>> rows = [  # A, B (updated in place), C: one call with the server up
...     (1, "2025-10-06T10:00:00.000247", "abc123", "Read", '{"file_path": "/a"}', None, None, None, None, None, None, None),
...     (2, "2025-10-06T10:00:00.000903", "abc123", "Read", '{"file_path": "/a"}', 1, None, None, None, None, None, None),
...     (3, "2025-10-06T10:00:05.001207", "abc123", "Read", '{"file_path": "/a"}', 1, None, None, None, None, None, None),
... ]
>>> closed = [c for r in rows for c in m.feed(r)]
>>> [(c.call_id, c.source_rows, c.outcome) for c in closed]
[(1, 3, 'success')]
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from datetime import datetime

# Positions in a bot row tuple, as sources.TOOL_USAGE_SQL selects them.
ID, TS, SOURCE, TOOL, PARAMS, SUCCESS, ERROR, CATEGORY, TIN, TOUT, TCW, TCR = range(12)

COPY_WINDOW_S = 2.0
# A row never joins a call whose last row is more than this much older: no tool runs that long without its
# post-hook, and it keeps the set of calls still waiting for rows (re-read by every sync) small.
STALE_AFTER_S = 24 * 3600.0
# A completion row belongs to a call only if it comes within this long of the call's start.
MAX_CALL_S = 6 * 3600.0

_TRUE = {"1", "true", "t", "yes"}
_FALSE = {"0", "false", "f", "no", ""}


def normalise_success(value) -> int | None | str:
    """The bot's ``success`` as 1, 0 or None; anything else (text that is no boolean) gives ``'invalid'``."""
    if value is None:
        return None
    if isinstance(value, (int, float)):
        return 1 if value else 0
    text = str(value).strip().lower()
    if text in _TRUE:
        return 1
    if text in _FALSE:
        return 0
    return "invalid"


_EPOCH = datetime(1970, 1, 1)


def _epoch_seconds(ts) -> float | None:
    try:
        return (datetime.fromisoformat(ts).replace(tzinfo=None) - _EPOCH).total_seconds()
    except (TypeError, ValueError):
        return None


def outcome_of(result_row: tuple | None) -> str:
    """success, failure or unknown, from a call's :meth:`Call.result_row`."""
    if result_row is None:
        return "unknown"
    return "success" if normalise_success(result_row[SUCCESS]) == 1 else "failure"


class Call:
    """The bot rows of one logical call. ``rows[0]`` is the pre row; ``has_copy`` says whether ``rows[1]`` is B."""

    __slots__ = ("rows", "n_null", "n_inserts", "has_copy", "open", "first_epoch", "last_epoch")

    def __init__(self, row: tuple, success, epoch: float | None = None):
        self.rows = [row]
        self.first_epoch = epoch
        self.last_epoch = epoch
        self.n_null = 1 if success is None else 0
        self.n_inserts = 0
        self.has_copy = False
        self.open = False

    def add(self, row: tuple, epoch: float | None) -> None:
        self.rows.append(row)
        if epoch is not None and (self.last_epoch is None or epoch > self.last_epoch):
            self.last_epoch = epoch

    @property
    def owed(self) -> int:
        return self.n_null - self.n_inserts

    @property
    def call_id(self) -> int:
        return self.rows[0][ID]

    @property
    def source_rows(self) -> int:
        return len(self.rows)

    def result_row(self) -> tuple | None:
        """The row whose success, error and tokens describe the call's completion."""
        completed = [r for r in self.rows if normalise_success(r[SUCCESS]) in (0, 1)]
        for r in completed:
            if r[TIN] is not None or r[TOUT] is not None or r[TCW] is not None or r[TCR] is not None:
                return r
        return completed[0] if completed else None

    @property
    def outcome(self) -> str:
        return outcome_of(self.result_row())

    def completion_time(self) -> str | None:
        """Timestamp of the earliest completion INSERT (C or D), the best end time the rows give."""
        first_insert = 2 if self.has_copy else 1
        inserts = self.rows[first_insert:]
        return min((r[TS] for r in inserts if isinstance(r[TS], str)), default=None)


class CallMerger:
    """Feed bot rows in id order; get back each call once it can no longer change."""

    def __init__(self, copy_window_s: float = COPY_WINDOW_S, window_missed: Callable[[str, str], bool] | None = None):
        self.copy_window_s = copy_window_s
        self.window_missed = window_missed
        self._latest: dict[tuple, Call] = {}
        # Lone completed rows wait one copy window for a NULL copy that the server inserted just before them
        # but that got the higher id (the hook and the server race); then they are closed.
        self._lone: deque[tuple[float, tuple, Call]] = deque()
        self.invalid_success = 0
        self.newest_epoch: float | None = None

    def feed(self, row: tuple) -> list[Call]:
        """Add one bot row; return the calls this row closed (usually none or one)."""
        success = normalise_success(row[SUCCESS])
        if success == "invalid":  # counted, and treated as not completed
            self.invalid_success += 1
            success = None
        key = (row[SOURCE], row[TOOL], row[PARAMS])
        now = _epoch_seconds(row[TS])
        if now is not None and (self.newest_epoch is None or now > self.newest_epoch):
            self.newest_epoch = now
        call = self._latest.get(key)
        if call is not None and now is not None and call.last_epoch is not None and (
                now - call.last_epoch > STALE_AFTER_S):
            del self._latest[key]
            stale, call = call, None
            closed = [stale]
        else:
            closed = []
        if call is not None:
            age = None if now is None or call.first_epoch is None else now - call.first_epoch
            if (
                len(call.rows) == 1
                and (call.n_null == 1 or success is None)
                and age is not None
                and -self.copy_window_s <= age <= self.copy_window_s
            ):
                if success is not None and self._window_missed(call, row):
                    # The update window had already missed the NULL pre row, so this completed row is not the
                    # server's copy updated in place: it is the post-hook's INSERT of a fast call (D).
                    call.add(row, now)
                    call.n_inserts += 1
                    return closed + self._close_if_done(key, call)
                call.add(row, now)
                call.has_copy = True
                if success is None:
                    call.n_null += 1
                return closed + self._close_if_done(key, call)
            if (
                success is not None
                and call.owed > 0
                and age is not None
                and age <= MAX_CALL_S
                # The server's completion row (C) after its copy was updated, or the hook's INSERT (D) when the
                # update window missed the NULL pre rows.
                and ((call.has_copy and call.n_null == 1) or self._window_missed(call, row))
            ):
                call.add(row, now)
                call.n_inserts += 1
                return closed + self._close_if_done(key, call)
        if call is not None:
            closed.append(call)
        new = Call(row, success, now)
        self._latest[key] = new
        if new.owed == 0 and now is not None:
            self._lone.append((now, key, new))
        if now is not None:
            closed.extend(self._evict_lone(now))
        return closed

    def _evict_lone(self, now: float) -> list[Call]:
        closed = []
        horizon = now - 5 * self.copy_window_s
        while self._lone and self._lone[0][0] < horizon:
            _, key, call = self._lone.popleft()
            if self._latest.get(key) is call and len(call.rows) == 1:
                del self._latest[key]
                closed.append(call)
        return closed

    def _window_missed(self, call: Call, row: tuple) -> bool:
        """Whether the bot's update window had missed the call's pre row by the time ``row`` was written (then the
        post-hook INSERTs a completion row instead of updating). Without a replay rule: never."""
        if self.window_missed is None or not row[PARAMS]:
            return False  # the bot matches a call with empty parameters without any time window
        try:
            return self.window_missed(call.rows[0][TS], row[TS])
        except (TypeError, ValueError):
            return False

    def _close_if_done(self, key: tuple, call: Call) -> list[Call]:
        if call.owed > 0:
            return []
        del self._latest[key]
        return [call]

    def finish(self) -> list[Call]:
        """Every call still held. Those that may still change are marked ``open``: their rows are re-read by
        the next sync. A call whose last row is a day older than the newest row seen cannot change any more."""
        remaining = list(self._latest.values())
        horizon = None if self.newest_epoch is None else self.newest_epoch - STALE_AFTER_S - 2 * 3600
        for call in remaining:
            call.open = horizon is None or call.last_epoch is None or call.last_epoch >= horizon
        self._latest.clear()
        self._lone.clear()
        return remaining
