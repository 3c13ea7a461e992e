"""Readings the merger takes back when a later row shows them wrong (see merge.py): a completed row taken for a
call's C that was a new call's pre row (:meth:`Rereads._reclaim`), and an older call's tentative C that was a
call of its own, whose C just came (:meth:`Rereads._pass_on`)."""

from __future__ import annotations

from .calls import ID, PARAMS, SUCCESS, TS, Call, done, normalise_success
from .calls import has_tokens as _has_tokens
from .completion import TOGETHER_S, Completions, _Group

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
