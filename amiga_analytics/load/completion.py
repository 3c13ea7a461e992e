"""The merger's completion rules (see merge.py): which held call a completed row that is no server copy
belongs to — the C after a post-hook's D, a D when the update window missed the call's pre rows, or the C of a
call whose post-hook updated the newest NULL row of its group (bot-data.md §3.1, §8) — and the groups they
work on."""

from __future__ import annotations

from collections.abc import Callable

from .botrules import STALE_EVIDENCE_S, ServerTimeline
from .calls import ID, PARAMS, SUCCESS, TOOL, TS, Call, normalise_success
from .calls import done as _completed
from .calls import has_tokens as _has_tokens
from .rowclock import seconds_before as _seconds_before

# The server's completion row follows the post-hook's INSERT as soon as the hook's request reaches it.
C_AFTER_D_S = 3.0
# A call gets no rows after this long: its pre rows stay NULL for good (killed, interrupted).
MAX_CALL_S = 6 * 3600.0
# Copy-less calls of one group that start this close together ran together (their outcomes may be swapped).
TOGETHER_S = 2.0


class _Group:
    """The calls of one (task, tool, distinguishing key) still held."""

    __slots__ = ("key", "calls", "no_window", "taken")

    def __init__(self, key: tuple):
        self.key = key
        self.calls: list[Call] = []
        self.no_window = key[2] == ("none",)
        self.taken: set = set()  # ids of pre rows a completion is known to have updated


class Completions:
    """The completion rules, shared by :class:`~.merge.CallMerger` (which sets these attributes)."""

    server: ServerTimeline
    copy_window_s: float
    window_missed: Callable[[str, str], bool] | None
    _repeat: bool
    _holds: list

    def _completion(self, group: _Group, row: tuple, now: float | None) -> Call | None:
        """A completed row that is no copy: the C after a D, a D, or a C of a held call with this text."""
        params = row[PARAMS]
        tokens = _has_tokens(row)
        if not group.calls:
            return None
        owners = [c for c in group.calls if c.params == params and not c.gated and c.c_row is None]
        for call in owners:  # the server's C right after the post-hook's D
            if call.d_row is not None and not tokens and now is not None and call.d_epoch is not None and (
                    0 <= (now - call.d_epoch) <= C_AFTER_D_S):
                call.add_post(row, "C", now)
                return call
        waiting = [c for c in owners if c.d_row is None and self._may_end_now(c, now)]
        if not waiting:
            return None
        updated = self._newest_null(group, row)
        missed = [c for c in waiting if not c.done_in_place() and not c.copy_done()
                  and self._window_missed(group, c.rows[0], row)] if updated is None else []
        if missed:  # nothing in the update window: the post-hook INSERTed its completion
            call = self._likely_owner(missed)
            if len(missed) > 1:
                for other in missed:
                    other.ambiguous = True
            call.add_post(row, "D", now)
            return call
        if tokens:
            return None
        if updated is None:  # a C comes seconds after the post-hook, whose window may have matched more
            updated = self._newest_null(group, row, done_matched=True)
        if updated is None:  # the row a crossed call's post-hook completed, its call closed with its own C
            updated = next(((c, c.gained) for c in waiting if c.gained is not None), None)
        if updated is not None and not _completed(updated[1]) and not self._repeat:
            own = self._own_before(group, waiting, row)
            if own is not None:  # its post-hook ran before that NULL row was written
                waiting, updated = [own[0]], own
        if updated is not None and not _completed(updated[1]) and not self._repeat:
            updated = self._move_claim(group, row, waiting) or updated
        if (updated is None or normalise_success(updated[1][SUCCESS]) not in (0, 1)) and not self._repeat:
            return None  # the post-hook would have updated a row that stayed NULL: no C of a held call
        if updated is not None and normalise_success(updated[1][SUCCESS]) not in (0, 1):
            updated = None  # in a repeated local hour it updated an older call's row of a later local time
        candidates = [c for c in waiting if self._server_up_at_end(c, now)]
        tentative = not candidates
        if tentative:
            candidates = self._tentative_c(waiting, now)
        if not candidates:
            return None
        owner = self._likely_owner(candidates)
        if len(candidates) > 1:  # the completion could be any of theirs: each one's outcome is a guess
            for call in candidates:
                call.ambiguous = True
        if updated is not None and updated[0] is not owner:
            updated = self._own_update(group, owner, row) or updated
        swapped = self._swap_copy(group, owner, updated, row, now) if updated is not None and not tentative else None
        if swapped is not None:
            return swapped
        return self._claim(group, owner, row, now, tentative, updated)

    def _claim(self, group: _Group, owner: Call, row: tuple, now: float | None, tentative: bool,
               updated: tuple[Call, tuple] | None) -> Call:
        """``row`` is ``owner``'s C (``tentative``: the server may have been down); ``updated``: the call and the
        NULL row its post-hook completed, if not ``owner``'s own, crossed with it."""
        owner.add_post(row, "C", now)
        owner.tentative_c = tentative
        if tentative and now is not None:
            self.server.note_unknown(now)
        if updated is not None:
            _take_update(group, owner, updated)
        return owner

    def _move_claim(self, group: _Group, row: tuple, waiting: list[Call]) -> tuple[Call, tuple] | None:
        raise NotImplementedError  # pragma: no cover - Rereads'

    def _swap_copy(self, group: _Group, owner: Call, updated: tuple[Call, tuple], row: tuple,
                   now: float | None) -> Call | None:
        raise NotImplementedError  # pragma: no cover - Rereads'

    def _own_before(self, group: _Group, waiting: list[Call], c_row: tuple) -> tuple[Call, tuple] | None:
        """The one waiting call with the server's copy whose own completed pre row its post-hook can have updated
        before the newer, still NULL, pre rows of its group were written (A1 B1*, A2 of another text of the key,
        C1, B2: the post-hook of the first call ran before A2)."""
        found = [own for c in waiting if c.has_copy and (own := self._own_update(group, c, c_row)) is not None]
        return found[0] if len(found) == 1 else None

    @staticmethod
    def _own_update(group: _Group, owner: Call, c_row: tuple) -> tuple[Call, tuple] | None:
        """The owner's own completed pre row, when its post-hook (at most :data:`C_AFTER_D_S` before its C) can
        have run before every newer pre row of the group was written: then that row, not a newer one of another
        call, is what it updated (A1 B1, post-hook 1, A2 B2, C1: B1 is the first call's, B2 the second's)."""
        taken = group.taken
        own = [p for p in owner.pre_rows() if p[SUCCESS] is not None and p[ID] not in taken and isinstance(p[TS], str)]
        earliest = _seconds_before(c_row, C_AFTER_D_S)
        if not own or earliest is None:
            return None
        mine = max(own, key=lambda p: (p[TS], p[ID]))
        newer = [p[TS] for c in group.calls if c is not owner for p in c.pre_rows()
                 if p[ID] not in taken and isinstance(p[TS], str) and p[TS] > mine[TS]]
        return (owner, mine) if all(ts > earliest[TS] for ts in newer) else None

    def _server_up_at_end(self, call: Call, now: float | None) -> bool:
        """Whether the server was up when ``call`` ended at ``now``: as at its start (it got the server's copy or
        not) unless later evidence says the server went down or came back since."""
        if call.tentative is not None:
            return not self._refuted(call, now)
        if now is None or call.first_epoch is None or now - self.copy_window_s <= call.first_epoch:
            return call.has_copy
        state = self.server.latest_pending(now - self.copy_window_s, now)
        if state is None:  # no call started in the last copy window says
            state = self.server.up_at(now - self.copy_window_s)
        if state is None:  # no recent evidence: a change seen since the call started still holds
            state = self.server.changed_since(call.first_epoch, now - self.copy_window_s)
        return call.has_copy if state is None else state

    def _refuted(self, call: Call, now: float | None) -> bool:
        """Whether the first evidence after a tentative copy's call started says the server is down."""
        return self.verdict(call, now) is False

    def verdict(self, call: Call, now: float | None) -> bool | None:
        """For a tentative copy or C: whether it stands, by ``now``; None while undecided. The first evidence
        from a call started in the :data:`~.botrules.STALE_EVIDENCE_S` after it (after the call for a copy,
        after the C for a C) decides: the server up (a copy or C indeed) or down (several calls); without any,
        :meth:`prior`. Only evidence older than ``now`` counts, so the answer does not depend on what was read
        after; once known it is kept on the call (the timeline keeps each piece of evidence two days)."""
        if call.verdict is None and now is not None:
            since = call.c_epoch if call.tentative_c else call.first_epoch
            if since is not None:
                at = now - self.copy_window_s
                # A copy's evidence: calls started from one copy window before it (started at once with it: the
                # same server) on, its own note (None) skipped.
                look = since if call.tentative_c else since - self.copy_window_s
                call.verdict = self.server.first_after(look, min(at, since + STALE_EVIDENCE_S))
                if call.verdict is None and at > since + STALE_EVIDENCE_S:
                    call.verdict = self.prior(call)
        return call.verdict

    def prior(self, call: Call) -> bool:
        """A tentative copy or C without evidence after it. A copy stands if its C came. A C stands only after a
        sub-agent (``Task``) call whose completion carries tokens, when it is a success without tokens and no
        recent evidence since the call started says the server was down: only Task calls record tokens, so a
        second identical Task that succeeded would carry its own (bot-data.md §3.3). After any other call the
        row is a second call (the same file read twice, the same command run twice, with the server down)."""
        if not call.tentative_c:
            return call.c_row is not None
        completed = [r for r in call.pre_rows() if _completed(r)]
        if (call.c_row is None or call.c_epoch is None or call.first_epoch is None or call.rows[0][TOOL] != "Task"
                or not completed or not _has_tokens(completed[-1]) or normalise_success(call.c_row[SUCCESS]) != 1):
            return False
        last = self.server.last_before(call.c_epoch - self.copy_window_s)
        return not (last is not None and last[0] > call.first_epoch and last[1] is False
                    and call.c_epoch - last[0] <= STALE_EVIDENCE_S)

    def _tentative_c(self, waiting: list[Call], now: float | None) -> list[Call]:
        """A completed row without tokens after a call completed in place (its pre row or the server's copy),
        the server not known to be up at its end: the call's C if the server came back mid-call (only the server
        writes a C), else another call completed in place. Such calls, to hold the row as one's C until evidence
        from later calls says which (:meth:`verdict`); with several (two identical calls run together, the server
        back before either ended: A1* A2* C C) the caller picks one and flags them all ambiguous."""
        if now is None:
            return []
        held = [c for c in waiting if (c.first_done or c.copy_done()) and c.tentative is None
                and c.first_epoch is not None and now - c.first_epoch > self.copy_window_s]
        return held

    @staticmethod
    def _likely_owner(candidates: list[Call]) -> Call:
        """Which of several calls of one text a completion row belongs to: the bot's rows cannot tell (its
        first post-hook takes the newest NULL row whoever finishes first). Calls that started well before the
        newest one were most likely abandoned (interrupted, then retried); of the calls started together, the
        oldest."""
        if len(candidates) == 1:
            return candidates[0]
        newest = max((c.first_epoch for c in candidates if c.first_epoch is not None), default=None)
        for call in candidates:
            if newest is None or call.first_epoch is None or newest - call.first_epoch <= TOGETHER_S / 2:
                return call
        return candidates[-1]

    def _may_end_now(self, call: Call, now: float | None) -> bool:
        if now is None or call.first_epoch is None:
            return False
        return 0 <= (now - call.first_epoch) <= MAX_CALL_S

    def _newest_null(self, group: _Group, post_row: tuple, done_matched: bool = False) -> tuple[Call, tuple] | None:
        """The pre row the bot's post-hook updates: the newest (by timestamp) not yet taken by another
        completion, inside the update window (``done_matched``: or a completed row inside the window of a
        post-hook up to :data:`C_AFTER_D_S` before ``post_row``, as for a C)."""
        taken = group.taken
        # On equal timestamps SQLite's order is not defined: a completed row is the one it found.
        found = [(pre[TS], pre[SUCCESS] is not None, pre[ID], call, pre) for call in group.calls
                 for pre in call.pre_rows() if pre[ID] not in taken and isinstance(pre[TS], str)]
        found.sort(key=lambda f: f[:3], reverse=True)
        earlier = _seconds_before(post_row, C_AFTER_D_S) if done_matched else None
        for _, done, _, call, pre in found:
            if not self._window_missed(group, pre, post_row) or (
                    done and earlier is not None and not self._window_missed(group, pre, earlier)):
                return call, pre
        return None

    def _window_missed(self, group: _Group, pre_row: tuple, row: tuple) -> bool:
        """Whether the bot's update window had missed ``pre_row`` when ``row`` was written."""
        if self.window_missed is None or group.no_window:
            return False  # the bot matches a call with empty parameters without any time window
        try:
            return self.window_missed(pre_row[TS], row[TS])
        except (TypeError, ValueError):
            return False


def _take_update(group: _Group, owner: Call, updated: tuple[Call, tuple]) -> None:
    """``owner``'s post-hook completed ``updated`` (the call whose NULL row it was, and that row): the row is taken,
    and when it was another call's, that call lost it and the two crossed."""
    owner.updated = updated[1]
    group.taken.add(updated[1][ID])
    if updated[0] is not owner:
        updated[0].lost.add(updated[1][ID])
        _cross(group, owner, updated[0])


def _cross(group: _Group, owner: Call, loser: Call) -> None:
    """``owner``'s C says its post-hook completed ``loser``'s row. When that leaves ``loser`` no completed row of its
    own while ``owner`` has one no completion took, ``loser``'s post-hook completed that one: each row needed a
    post-hook, and the two crossed (A1* A2* C1: either post-hook may have taken either row). Both ambiguous."""
    if loser.gained is not None or any(_completed(r) and r[ID] not in loser.lost for r in loser.pre):
        return
    own = [r for r in owner.pre if _completed(r) and r[ID] not in owner.lost and r[ID] not in group.taken]
    if len(own) == 1 and not any(c.gained is own[0] for c in group.calls):
        loser.gained = own[0]
        owner.ambiguous = loser.ambiguous = True
