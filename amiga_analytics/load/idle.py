"""Release the merger's idle groups during a sync, so its memory follows the calls in flight, not the history.

The merger (merge.py) holds, per (task, tool, distinguishing key), the calls that may still get rows; a group
whose calls never get another row (an orphan NULL call, a call completed in place with the server down) stays
until the end of the sync. Every :data:`EVERY_ROWS` rows the tool-call step asks :func:`release` for the groups
in which every call's last row is :data:`QUIET_S` (3 days of bot time) older than the newest row read, and
writes their calls at once. That changes nothing in what is written:

* a later row can reach a held call only soon after it: the server's copy within 0.5 s, a C within 3 s of its
  D, a completion within ``MAX_CALL_S`` (6 h) of the start, calls "together" within 2 s; and the post-hook's
  update window (bot-data.md §3.1) never matches a pre row whose local date is before the UTC date of the
  post-hook's time, which a pre row 3 days older always has (UTC offsets are within ±14 h). Groups of calls without parameters, which the bot matches without
  any window, are never released;
* :meth:`~.merge.CallMerger.finish` would give such a call ``open = False`` (its last row is older than the
  newest row less ``STALE_AFTER_S`` + 2 h), and marks it ambiguous exactly as :func:`release` does;
* the merger's clock (merge.py) already runs on through autumn clock changes, so "3 days older" is bot time.

The bound assumes the bot's clock does not jump back by more than 2.5 days (its rows are written with
``datetime.now()`` in id order).
"""

from __future__ import annotations

from collections.abc import Callable

from .calls import Call
from .merge import MAX_CALL_S, STALE_AFTER_S, CallMerger, _Group
from .rereads import hand_over

QUIET_S = 3 * 24 * 3600.0
EVERY_ROWS = 50_000

assert QUIET_S >= STALE_AFTER_S + 2 * 3600 + MAX_CALL_S  # released calls are the ones finish() closes for good


def _idle(quiet_s: float) -> Callable[[_Group, float], bool]:
    def idle(group: _Group, newest: float) -> bool:
        if group.no_window:
            return False
        for call in group.calls:
            if call.last_epoch is None or call.first_epoch is None or newest - call.last_epoch <= quiet_s:
                return False
        return True

    return idle


def release(merger: CallMerger, quiet_s: float = QUIET_S) -> list[Call]:
    """The calls of the groups no later row can reach, removed from ``merger``, as its ``finish`` gives them."""
    calls = hand_over(merger.release(_idle(quiet_s)))
    for call in calls:
        if call.may_be_crossed():
            call.ambiguous = True  # as finish() marks copy-less calls run together
        call.open = False
    return calls
