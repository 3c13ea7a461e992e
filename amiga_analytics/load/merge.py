"""Merge the bot's tool_usage rows into logical tool calls by replaying how the bot writes them (bot-data.md
§3.1, §8).

What one call writes, all rows with the call's own ``task_id``, ``tool_name`` and ``parameters`` text:

* ``A``: the pre-hook's row (success NULL) — none when the pre-hook's gate refused the command
  (:func:`botrules.gate_blocked`);
* ``B``: the monitoring server's copy of it, milliseconds later, when the server is up;
* at the end the post-hook updates in place the **newest NULL row** (by timestamp) of the same task, tool and
  distinguishing parameter (:func:`botrules.distinguishing_key`) inside its 5-second window — normally its own
  B (or A), but with two such calls in flight it can be the other call's row: rows *cross* — or, when nothing
  matches, INSERTs a completed row ``D``;
* ``C``: the server's completion row (success, error, no tokens), when the server is up at the end.

The merger keeps, per (task, tool, distinguishing key), the calls still waiting for rows. A NULL row is the copy
of a lone pre row of the same text that came at most :data:`COPY_WINDOW_S` before, else a new call. A
completed row is, in this order: such a copy (updated in place), the C after a call's D, a D when the update
window had missed the call's pre rows, the call's C (the replay checks that the row the bot's post-hook
would have updated — the newest NULL row of the group — was indeed completed), else a new call (its pre row
updated in place with the server down, or a gate-refused call's D). Whether the server was up when a call
ended — a copy-less call can still get a C when the server came back mid-call, a copied one gets none when
it went down — comes from :class:`botrules.ServerTimeline`.

Some readings wait for evidence from later calls (the first call started within
:data:`~.botrules.STALE_EVIDENCE_S` after): a NULL pre row and a completed row of its text soon after while
the server is believed down or unknown is a *tentative copy* (the server came back; else parallel calls of one
key, the first never completed); a completed row without tokens after a call completed in place, the server
not known to be up, is a *tentative C* (the server came back mid-call; else a second identical call). Either
is split into its calls when that evidence says the server was down (:meth:`~.completion.Completions.verdict`).
A NULL row stamped no later than a completed row just taken for an older call's C or D shows that row was a
pre row: it is taken back (:meth:`CallMerger._reclaim`).

Outcome: the call's D, else its C (with the tokens of the row its post-hook updated), else its own completed
pre row; unknown without any. When a C could belong to more than one call of the same text in flight, or
copy-less calls of one group ran together, the pairing of outcome to call is a guess (counts stay exact):
:attr:`Call.ambiguous`.

>>> m = CallMerger()
>>> rows = [  # A, B (updated in place), C: one call with the server up
...     (1, "2025-10-06T10:00:00.000247", "abc123", "Read", '{"file_path": "/a"}', None, None, None, None, None, None, None),
...     (2, "2025-10-06T10:00:00.000903", "abc123", "Read", '{"file_path": "/a"}', 1, None, None, None, None, None, None),
...     (3, "2025-10-06T10:00:05.001207", "abc123", "Read", '{"file_path": "/a"}', 1, None, None, None, None, None, None),
... ]
>>> closed = [c for r in rows for c in m.feed(r)] + m.finish()
>>> [(c.call_id, c.source_rows, c.outcome) for c in closed]
[(1, 3, 'success')]
"""

from __future__ import annotations

import heapq
from collections.abc import Callable

from .botrules import ServerTimeline, distinguishing_key, gate_blocked
from .calls import Call, normalise_success, outcome_of
from .calls import has_tokens as _has_tokens
from .completion import C_AFTER_D_S, MAX_CALL_S, TOGETHER_S, _Group
from .rereads import QUICK_COPY_S, Rereads, hand_over, linked
from .rowclock import epoch_seconds as _epoch_seconds

# Positions in a bot row tuple, as sources.TOOL_USAGE_SQL selects them.
ID, TS, SOURCE, TOOL, PARAMS, SUCCESS, ERROR, CATEGORY, TIN, TOUT, TCW, TCR = range(12)

__all__ = ["CallMerger", "Call", "normalise_success", "outcome_of", "COPY_WINDOW_S", "MAX_CALL_S", "C_AFTER_D_S",
           "TOGETHER_S"]

# The server's copy of a pre row comes within the hook's 0.5 s request timeout; so does its completion row
# after the post-hook's D.
COPY_WINDOW_S = 0.5
# A call still waiting for its end holds the other calls of its group this long (its post-hook may update their
# NULL rows); after that they are final and it waits alone.
HOLD_S = 600.0
# How often a group with an undecided tentative copy or C is looked at again (bot time).
RECHECK_S = 30.0
# A call held (open) whose last row is this much older than the newest row is final.
STALE_AFTER_S = 24 * 3600.0


class CallMerger(Rereads):
    """Feed bot rows in id order; get back each call once it can no longer change."""

    def __init__(self, copy_window_s: float = COPY_WINDOW_S, window_missed: Callable[[str, str], bool] | None = None,
                 state: dict | None = None):
        self.copy_window_s = copy_window_s
        self.window_missed = window_missed
        self._groups: dict[tuple, _Group] = {}
        self._keys: dict[tuple, tuple] = {}
        state = state or {}
        self.server = ServerTimeline(copy_window_s, state.get("server"))
        self.invalid_success = 0
        self.newest_epoch: float | None = state.get("newest")
        # Autumn clock changes: [first row id after the jump back, last local time before it]; rows from that id
        # on whose local time is not later are an hour later than they read.
        self._folds: list[list] = [list(f) for f in state.get("folds", [])]
        self._prev: list | None = state.get("prev")  # [id, local seconds] of the last row read
        self._repeat = False  # the row being placed was written in the second pass of a repeated local hour
        self._twin = self._tentative = False  # what placing the current row found (feed, _is_copy)
        self._holds: list[tuple[float, int, _Group]] = []  # heap: when to settle a group whose C (or tentative
        # copy) may have become final by then

    # -- state kept between syncs ----------------------------------------------------------------------------

    def export_state(self) -> dict:
        """What an incremental sync needs besides the open calls' rows (call after :meth:`finish`)."""
        keep = None if self.newest_epoch is None else self.newest_epoch - STALE_AFTER_S - 2 * MAX_CALL_S
        return {"server": self.server.export(keep), "newest": self.newest_epoch, "folds": self._folds,
                "prev": self._prev}

    def _clock(self, row_id, naive: float | None) -> float | None:
        """Seconds on a clock that keeps going through an autumn clock change (naive local time repeats an hour:
        the rows of the second pass, found by their ids, are shifted by the hour)."""
        if naive is None:
            return None
        prev = self._prev
        if isinstance(row_id, int) and (prev is None or row_id > prev[0]):
            if prev is not None and prev[1] - 3600.0 - 600.0 < naive < prev[1] - 600.0:
                self._folds.append([row_id, prev[1]])
            self._prev = [row_id, naive if prev is None or not self._folds or naive > self._folds[-1][1] else
                          max(naive, prev[1] if prev[0] < self._folds[-1][0] else naive)]
        self._repeat = False
        for first_id, fold_end in self._folds:
            if isinstance(row_id, int) and row_id >= first_id and naive <= fold_end and naive > fold_end - 3700.0:
                self._repeat = True
                return naive + 3600.0
        return naive

    # -- feeding ---------------------------------------------------------------------------------------------

    def _key(self, row: tuple) -> tuple:
        cache_key = (row[TOOL], row[PARAMS])
        dkey = self._keys.get(cache_key)
        if dkey is None:
            if len(self._keys) > 50_000:  # the texts of recent calls repeat, older ones do not
                self._keys.clear()
            dkey = self._keys[cache_key] = (distinguishing_key(row[TOOL], row[PARAMS]),
                                            gate_blocked(row[TOOL], row[PARAMS]))
        return dkey

    def feed(self, row: tuple) -> list[Call]:
        """Add one bot row; return the calls that can no longer change (usually none or one)."""
        success = normalise_success(row[SUCCESS])
        if success == "invalid":  # counted, and treated as not completed
            self.invalid_success += 1
            success = None
        now = self._clock(row[ID], _epoch_seconds(row[TS]))
        if now is not None and (self.newest_epoch is None or now > self.newest_epoch):
            self.newest_epoch = now
        if now is not None and self.server.waiting:
            self.server.advance(now)
        # Groups whose hold has passed are settled before this row can join one of them with a new call.
        swept = self._sweep(now) if self._holds and now is not None and self._holds[0][0] < now else []
        dkey, gated = self._key(row)
        key = (row[SOURCE], row[TOOL], dkey)
        group = self._groups.get(key)
        if group is None:
            group = self._groups[key] = _Group(key)
        self._twin = False
        call = self._place(group, row, success, now, gated)
        if call is None:
            call = Call(row, success, now, gated)
            call.no_evidence = self._twin or gated
            self._start(group, call)
        elif call.rows[-1] is not row or len(call.pre) == 2 and call.pre[1] is row:
            call.touch(now)
            return swept  # the server's copy of a pre row: nothing else can close
        call.touch(now)
        if now is not None and call.c_row is row:
            heapq.heappush(self._holds, (now + self.copy_window_s, id(group), group))
        return swept + self._settle(group, now)

    def _sweep(self, now: float) -> list[Call]:
        """Settle the groups whose latest C is past the time a copy could show it was a pre row; a group with a
        tentative copy or C still undecided is looked at again a little later, until evidence decides it."""
        closed = []
        while self._holds and self._holds[0][0] < now:
            held: _Group = heapq.heappop(self._holds)[2]
            if self._groups.get(held.key) is held:
                closed += self._settle(held, now)
                if any((c.tentative is not None or c.tentative_c) and self.verdict(c, now) is None
                       for c in held.calls):
                    heapq.heappush(self._holds, (now + RECHECK_S, id(held), held))
        return closed

    def _start(self, group: _Group, call: Call) -> None:
        if call.first_epoch is not None:
            for other in group.calls:
                if other.first_epoch is not None and abs(call.first_epoch - other.first_epoch) <= TOGETHER_S:
                    call.together.append(other)
                    other.together.append(call)
        group.calls.append(call)
        self.server.add(call)

    def _place(self, group: _Group, row: tuple, success, now: float | None, gated: bool) -> Call | None:
        """The held call this row belongs to (the row is added to it), or None: the row starts a new call."""
        params = row[PARAMS]
        if gated and success is not None:
            return self._gate_completion(group, row, now)
        copy_of = self._copy_candidate(group, params, now)
        if copy_of is not None and now is not None:  # (_copy_candidate finds none without a time)
            self._tentative = False
            if self._is_copy(group, copy_of, row, success, now):
                copy_of.add_copy(row, success)
                if self._tentative:  # no evidence of the server until its C comes (Call.split)
                    copy_of.tentative, copy_of.no_evidence = now, True
                    if copy_of.first_epoch is not None:
                        self.server.note_unknown(copy_of.first_epoch)
                    heapq.heappush(self._holds, (now + RECHECK_S, id(group), group))
                return copy_of
            if not self._d_after_missed_window(group, copy_of, row, success):
                # Two calls run together on a server believed down: neither says anything about the server.
                copy_of.no_evidence = True
                self._twin = True
        if success is None:
            return self._reclaim(group, row, now) if copy_of is None else None
        self._split_refuted(group, now)
        return (self._completion(group, row, now) or self._reclaim(group, row, now, quick=True)
                or self._pass_on(group, row, now))

    def _gate_completion(self, group: _Group, row: tuple, now: float | None) -> Call | None:
        for call in reversed(group.calls):
            if (call.params == row[PARAMS] and call.gated and call.c_row is None and now is not None
                    and call.first_epoch is not None and 0 <= (now - call.first_epoch) <= C_AFTER_D_S
                    and not _has_tokens(row)):
                call.add_post(row, "C", now)
                return call
        return None

    def _copy_candidate(self, group: _Group, params, now: float | None) -> Call | None:
        if now is None:
            return None
        for call in group.calls:
            if (call.params == params and not call.has_copy and not call.gated and len(call.rows) == 1
                    and call.first_epoch is not None and abs(now - call.first_epoch) <= self.copy_window_s):
                return call
        return None

    def _is_copy(self, group: _Group, call: Call, row: tuple, success, now: float) -> bool:
        """A pre row and a row of the same text soon after: the server's copy, unless the server was down (or
        unknown) then and the two rows look like two calls run together, or like the call's A and D."""
        assert call.first_epoch is not None  # _copy_candidate offers only calls with a time
        if now - call.first_epoch <= QUICK_COPY_S:
            return True
        first_done = call.rows[0][SUCCESS] is not None and normalise_success(call.rows[0][SUCCESS]) != "invalid"
        state = self.server.up_at(call.first_epoch - self.copy_window_s)
        if state and self.server.done_without_copy(call.first_epoch, now):
            # A call started between them got no copy (yet): the server went down, and this row is another call,
            # unless that call's copy comes late (parallel batches) or a later post-hook completed its row. A
            # tentative copy: evidence decides.
            self._tentative = True
            return True
        if state and first_done and success is not None and not any(
                other is not call and any(r[SUCCESS] is None for r in other.pre_rows()) for other in group.calls):
            # With the server up, a call's post-hook completes one of its two pre rows: both completed is a copy
            # whose pre row a later same-key call's post-hook took (crossed: a C follows), or two calls run
            # together as the server went down. Evidence decides, as for any tentative copy.
            self._tentative = True
            return True
        if state is not False:  # unknown: a copy unless both were completed in place and no evidence up to now
            # says the server was up (a crossed pair's second copy is completed too); a NULL pre row and a completed
            # row are a tentative copy, as with the server down
            if (state is None and not first_done and success is not None
                    and not self._d_after_missed_window(group, call, row, success)):
                self._tentative = True
            return state or not (first_done and success is not None and self.server.up_at(now) is not True)
        if self._d_after_missed_window(group, call, row, success):
            return False  # no post-hook could update a copy in place: the completed row is the call's D
        if first_done != (success is not None):  # the server came back (a C will follow), or two calls
            self._tentative = True
        return first_done != (success is not None)

    def _d_after_missed_window(self, group: _Group, call: Call, row: tuple, success) -> bool:
        """A completed row soon after a NULL pre row while the update window missed: the post-hook's D."""
        return (success is not None and normalise_success(call.rows[0][SUCCESS]) is None
                and self._window_missed(group, call.rows[0], row))

    # -- closing ---------------------------------------------------------------------------------------------

    def _can_change(self, group: _Group, call: Call, now: float | None) -> bool:
        """Whether ``call`` may still get a row, or by ending update a NULL row of its group."""
        if call.lost and self._claimed_by_tentative_c(group, call, now):
            return True  # its completed row may be another call's (a C still undecided said so) or its own
        if call.c_row is not None:  # the server's completion row is the last row a call writes, unless a copy
            # stamped no later shows it was a pre row (_reclaim), or it is a tentative C still undecided
            if now is None or call.c_epoch is None:
                return False
            if call.tentative_c and self.verdict(call, now) is None:
                return now - call.c_epoch <= MAX_CALL_S
            if call.tentative is not None and self.verdict(call, now) is None and call.first_epoch is not None:
                return now - call.first_epoch <= MAX_CALL_S
            return now - call.c_epoch <= self.copy_window_s
        if call.tentative is not None and self._refuted(call, now):
            return False  # no C can come: two calls (Call.split)
        if now is None or call.first_epoch is None:
            return True
        if call.d_row is not None:
            return call.d_epoch is not None and (now - call.d_epoch) <= C_AFTER_D_S
        age = now - call.first_epoch
        if not call.has_copy and age <= self.copy_window_s:
            return True
        if call.has_copy or not call.done_in_place():
            return age <= MAX_CALL_S  # not ended yet, or waiting for the server's completion row
        # Completed in place with the server down: a completion row comes only if the server came back (to the
        # group's newest call, or one it ran together with).
        return _newest_or_with_it(group, call) and age <= HOLD_S

    def _claimed_by_tentative_c(self, group: _Group, call: Call, now: float | None) -> bool:
        """Whether a row of ``call`` is the one a tentative C still undecided says its post-hook updated."""
        return any(o.tentative_c and o.updated is not None and o.updated[ID] in call.lost
                   and self.verdict(o, now) is None for o in group.calls if o is not call)

    def _settle(self, group: _Group, now: float | None) -> list[Call]:
        calls = group.calls
        changing = [c for c in calls if self._can_change(group, c, now)]
        if len(changing) == len(calls):
            return []
        for c in changing:  # a call that may still end holds its group: its post-hook may update their rows
            if not (_newest_or_with_it(group, c) and c.done_in_place() and not c.has_copy) and (
                    now is None or c.first_epoch is None or now - c.first_epoch <= HOLD_S):
                return []
        closed = hand_over(linked([part for c in calls if c not in changing for part in self._final(group, c, now)]))
        for call in closed:
            if call.may_be_crossed():
                call.ambiguous = True  # copy-less calls run together: the bot may have crossed their updates
            call.together = []
        group.calls = changing
        if not changing:
            del self._groups[group.key]
        else:
            rows = {r[ID] for c in changing for r in c.pre_rows()}
            group.taken &= rows
        return closed

    def _final(self, group: _Group, call: Call, now: float | None) -> list[Call]:
        """The call as it closes: a tentative copy or C that evidence refuted is several calls, each linked to the
        calls of its group it ran together with."""
        claimed = call.tentative_c and call.updated is not None
        parts = self._resolve(call, now)
        if claimed and len(parts) > 1:  # no C: no post-hook of this call updated that row
            self._drop_claim(group, call)
        if len(parts) > 1:
            others = [c for c in group.calls if c is not call]
            for i, new in enumerate(parts):
                for other in others + parts[:i]:
                    if (new.first_epoch is not None and other.first_epoch is not None
                            and abs(new.first_epoch - other.first_epoch) <= TOGETHER_S and other not in new.together):
                        new.together.append(other)
                        other.together.append(new)
        return parts

    def _resolve(self, call: Call, now: float | None) -> list[Call]:
        """A tentative copy or C that evidence refuted is several calls (Call.split, Call.split_c)."""
        if not call.tentative_c and call.tentative is None:
            return [call]
        verdict = self.verdict(call, now)
        if verdict is None:
            verdict = self.prior(call)
        if call.tentative_c:
            if not verdict:
                return call.split_c()
            call.tentative_c = False
            return [call]
        return [call] if verdict or call.d_row is not None else call.split()

    def finish(self) -> list[Call]:
        """Every call still held. The calls of a group in which a call may still change are marked ``open``:
        their rows are re-read by the next sync (unless a day older than the newest row seen)."""
        remaining = []
        now = self.newest_epoch
        horizon = None if now is None else now - STALE_AFTER_S - 2 * 3600
        for group in self._groups.values():
            changing = any(self._can_change(group, c, now) for c in group.calls)
            for call in hand_over(linked([part for c in group.calls for part in self._final(group, c, now)])):
                if call.may_be_crossed():
                    call.ambiguous = True
                call.open = changing and (horizon is None or call.last_epoch is None or call.last_epoch >= horizon)
                remaining.append(call)
        remaining.sort(key=lambda c: c.call_id)
        self._groups.clear()
        return remaining

    def release(self, idle: Callable[[_Group, float], bool]) -> list[Call]:
        """Drop the groups ``idle(group, newest epoch)`` says no later row can reach (load/idle.py); their calls."""
        now = self.newest_epoch
        keys = [] if now is None else [k for k, g in self._groups.items() if idle(g, now)]
        groups = [self._groups.pop(k) for k in keys]
        return [part for g in groups for c in g.calls for part in self._final(g, c, now)]


def _newest_or_with_it(group: _Group, call: Call) -> bool:
    """Whether ``call`` is its group's newest, or ran together with it."""
    newest = group.calls[-1]
    return call is newest or newest in call.together
