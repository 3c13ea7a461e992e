"""Readings the merger takes back when a later row shows them wrong (see merge.py): a completed row taken for a
call's C that was a new call's pre row (:meth:`Rereads._reclaim`), and an older call's tentative C that was a
call of its own, whose C just came (:meth:`Rereads._pass_on`)."""

from __future__ import annotations

import heapq

from .calls import ID, PARAMS, SUCCESS, TS, Call, done, normalise_success
from .calls import has_tokens as _has_tokens
from .completion import C_AFTER_D_S, TOGETHER_S, Completions, _Group, _take_update
from .rowclock import seconds_before as _seconds_before

# A second row of the same text this soon is the server's copy whatever the server was believed to do (the
# pre-hooks of parallel calls run further apart).
QUICK_COPY_S = 0.01


class Rereads(Completions):
    """The take-back rules, shared by :class:`~.merge.CallMerger` (which provides ``_start`` and ``_final``)."""

    def _start(self, group: _Group, call: Call) -> None:  # pragma: no cover - CallMerger's
        raise NotImplementedError

    def _final(self, group: _Group, call: Call, now: float | None) -> list[Call]:  # pragma: no cover - CallMerger's
        raise NotImplementedError

    @staticmethod
    def _drop_claim(group: _Group, owner: Call) -> None:
        """Undo what ``owner``'s C said its post-hook updated (the row goes back to its own call)."""
        if owner.updated is not None:
            group.taken.discard(owner.updated[ID])
            for other in group.calls:
                other.lost.discard(owner.updated[ID])
                if other.gained is not None and any(p is other.gained for p in owner.pre):
                    other.gained = None  # it was given one of owner's rows for the one owner's C claimed
            owner.updated = None

    def _split_refuted(self, group: _Group, now: float | None) -> None:
        """Split off, at once, each tentative C that evidence has refuted: the row is a call of its own, completed in
        place, and the call it was read for has no C yet, so that a later row can be its C (X1* X2* Y* C C with
        the server back after Y: X2 first reads as the C of X1, which Y refutes; the two Cs are X1's and X2's)."""
        for call in [c for c in group.calls if c.tentative_c and self.verdict(c, now) is False]:
            parts = self._final(group, call, now)
            group.calls.remove(call)
            for part in parts:
                at = len(group.calls)
                while at and part.first_epoch is not None and (group.calls[at - 1].first_epoch or 0) > part.first_epoch:
                    at -= 1
                group.calls.insert(at, part)

    def _swap_copy(self, group: _Group, owner: Call, updated: tuple[Call, tuple], row: tuple,
                   now: float | None) -> Call | None:
        """A C for ``owner`` whose success is not that of the row its post-hook updated (both come from one
        post-hook), right after a row read as the quick server copy of a newer pre row of the text that has the
        updated row's success: that row was ``owner``'s C and this one is the copy (A1 B1(0) A2 C1(0) B2*(1)
        C2(1): C1 came between A2 and its copy). Returns the call that gets this row."""
        if now is None or _has_tokens(row) or normalise_success(updated[1][SUCCESS]) == normalise_success(row[SUCCESS]):
            return None
        for other in group.calls:
            if (other is owner or len(other.rows) != 2 or not other.has_copy or other.tentative is not None
                    or other.params != row[PARAMS] or other.first_epoch is None
                    or now - other.first_epoch > QUICK_COPY_S):
                continue
            copy = other.rows[1]
            if (_has_tokens(copy) or copy[ID] in group.taken
                    or normalise_success(copy[SUCCESS]) != normalise_success(updated[1][SUCCESS])):
                continue
            owner.add_post(other.drop_copy(), "C", now)
            owner.updated = updated[1]
            group.taken.add(updated[1][ID])
            if updated[0] is not owner:
                updated[0].lost.add(updated[1][ID])
            other.add_copy(row, normalise_success(row[SUCCESS]))
            heapq.heappush(self._holds, (now + self.copy_window_s, id(group), group))
            return other
        return None

    def _move_claim(self, group: _Group, row: tuple, waiting: list[Call]) -> tuple[Call, tuple] | None:
        """A C whose post-hook would have updated a row that stayed NULL, because an older C was read as having
        updated the completed row just newer (of a call still waiting for its C): that older post-hook updated
        another completed row instead, one it can have found the newest NULL match before the newer rows were
        written (A1 B1 A2' B2'* A3 B3* C1 C3, A2' another text of the key: C1 first reads as the update of B3,
        and C3 then finds A3 NULL; post-hook 1 ran before A3 was written and took B2'). The claim moves; the row
        it gave back is the one ``row``'s post-hook updated (returned with its call)."""
        for older in group.calls:
            claim = older.updated
            if claim is None or older.c_row is None or older.tentative_c or older in waiting:
                continue
            holder = next((c for c in waiting if any(p[ID] == claim[ID] for p in c.pre)), None)
            if holder is None:
                continue
            group.taken.discard(claim[ID])
            match = self._newest_null(group, row)
            other = self._earlier_update(group, older.c_row, claim) if match and match[1] is claim else None
            if other is None:
                group.taken.add(claim[ID])
                continue
            holder.lost.discard(claim[ID])
            if holder.gained is not None and any(p is holder.gained for p in older.pre):
                holder.gained = None
            _take_update(group, older, other)
            return match
        return None

    @staticmethod
    def _earlier_update(group: _Group, c_row: tuple, skip: tuple) -> tuple[Call, tuple] | None:
        """The newest completed pre row of the group, not taken and not ``skip``, that a post-hook at most
        :data:`~.completion.C_AFTER_D_S` before ``c_row`` can have found the newest NULL match: every newer pre row
        not taken was written after that earliest moment."""
        earliest = _seconds_before(c_row, C_AFTER_D_S)
        if earliest is None:
            return None
        rows = sorted(((p[TS], p[ID], c, p) for c in group.calls for p in c.pre
                       if p[ID] not in group.taken and isinstance(p[TS], str) and p[TS] <= c_row[TS]), reverse=True)
        for ts, _, call, pre in rows:
            if done(pre) and pre is not skip:
                return call, pre
            if ts <= earliest[TS]:
                return None
        return None

    def _reclaim(self, group: _Group, row: tuple, now: float | None, quick: bool = False) -> Call | None:
        """A NULL row of the text of a completed row just taken for an older call's C or D, whose timestamp is no
        later than that row's: the server's copy of a pre row that its post-hook updated in place (on equal
        timestamps, or a copy stamped earlier, the pre row is the newest NULL match). That completed row was a
        new call's pre row: it is taken back and starts the call, with this row as its copy.

        ``quick``: a completed row that can be no C (:meth:`_completion` found none) at most :data:`QUICK_COPY_S`
        after a completed row just taken for an older call's C is the server's copy of that row too: with three
        same-key calls in flight the first two post-hooks can complete both pre rows of the third (A1 B1 A2 B2*
        A3* B3* C C C: A3 reads as the C of the update of B2 until B3 shows that no post-hook updated A2)."""
        if now is None:
            return None
        for owner in group.calls:
            post = owner.rows[-1]
            at = owner.c_epoch if post is owner.c_row else owner.d_epoch if post is owner.d_row else None
            if owner.gated or len(owner.rows) < 2 or post[PARAMS] != row[PARAMS] or at is None:
                continue
            if quick and not (at <= now <= at + QUICK_COPY_S and post is owner.c_row and owner.d_row is None
                              and not owner.tentative_c):
                continue
            if not quick and not at - self.copy_window_s <= now <= at:
                continue
            if post is owner.c_row:
                self._drop_claim(group, owner)
            owner.unpost(post)
            call = Call(post, normalise_success(post[SUCCESS]), at)
            call.add_copy(row, None)
            self._start(group, call)
            return call
        return None

    def _pass_on(self, group: _Group, row: tuple, now: float | None) -> Call | None:
        """A completed row without tokens that no call takes, after a row of its text that was completed in place
        and is held as an older call's tentative C, still undecided: that row was a call of its own and this one
        its C (the server came back during it: one change, where the older call's C would need the server up
        then and down again for this row, which has no copy). The older call keeps no C."""
        if now is None or _has_tokens(row):
            return None
        for owner in group.calls:
            post, at = owner.c_row, owner.c_epoch
            if (post is None or at is None or not owner.tentative_c or owner.rows[-1] is not post
                    or post[PARAMS] != row[PARAMS] or now - at <= self.copy_window_s
                    or self.verdict(owner, now) is not None):
                continue
            self._drop_claim(group, owner)
            owner.unpost(post)
            call = Call(post, normalise_success(post[SUCCESS]), at)
            self._start(group, call)
            call.add_post(row, "C", now)
            call.tentative_c, call.updated = True, post
            group.taken.add(post[ID])
            self.server.note_unknown(now)
            return call
        return None


def linked(calls: list[Call]) -> list[Call]:
    """``calls`` (closing together, of one group), each linked to the others that started within
    :data:`TOGETHER_S` of it: calls split from two tentative Cs at once ran together too (A1* A2* read as the
    Cs of two older calls, then refuted: either post-hook may have completed either row)."""
    timed = sorted((c.first_epoch, i, c) for i, c in enumerate(calls) if c.first_epoch is not None)
    for k, (start, _, call) in enumerate(timed):
        for other_start, _, other in timed[k + 1:]:
            if other_start - start > TOGETHER_S:
                break
            if other not in call.together:
                call.together.append(other)
                other.together.append(call)
    return calls


def hand_over(calls: list[Call]) -> list[Call]:
    """``calls`` (closing together, of one group), where a call whose pre row and server copy were both completed
    without a completion row (the server down by their ends) gives its older row to the one call it ran with
    whose pre rows both stayed NULL: the first post-hook took the newest NULL row, the copy, the second the next
    newest, the pre row (bot-data.md §8). Which call ended first the rows do not say: both flagged ambiguous."""
    for call in calls:
        if not (_ended_in_place(call) and all(done(r) for r in call.pre) and not call.lost):
            continue
        takers = [o for o in call.together if o in calls and _ended_in_place(o) and o.gained is None
                  and all(r[SUCCESS] is None for r in o.pre)]
        if len(takers) == 1:
            older = min(call.pre, key=lambda r: (str(r[TS]), r[ID]))
            takers[0].gained = older
            call.lost.add(older[ID])
            call.ambiguous = takers[0].ambiguous = True
    return calls


def _ended_in_place(call: Call) -> bool:
    """A call with the server's copy of its pre row and no completion insert."""
    return call.has_copy and len(call.pre) == 2 and call.c_row is None and call.d_row is None and not call.gated
