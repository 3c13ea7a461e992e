"""One logical tool call: the bot rows it wrote and how its outcome is read from them (see merge.py)."""

from __future__ import annotations

from typing import NamedTuple

ID, TS, SOURCE, TOOL, PARAMS, SUCCESS, ERROR, CATEGORY, TIN, TOUT, TCW, TCR = range(12)
TOKENS = (TIN, TOUT, TCW, TCR)

_TRUE = {"1", "true", "t", "yes"}
_FALSE = {"0", "false", "f", "no", ""}


def normalise_success(value: object) -> int | None | str:
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


def has_tokens(row: tuple) -> bool:
    """Whether the row carries any of the four token counts."""
    return any(row[i] is not None for i in TOKENS)


def done(row: tuple) -> bool:
    """Whether a row is completed (a success or a failure)."""
    return normalise_success(row[SUCCESS]) in (0, 1)


def outcome_of(result_row: tuple | None) -> str:
    """success, failure or unknown, from a call's :meth:`Call.result_row`."""
    if result_row is None:
        return "unknown"
    return "success" if normalise_success(result_row[SUCCESS]) == 1 else "failure"


class CallFacts(NamedTuple):
    """What a ``tool_calls`` row is built from (:meth:`Call.facts`): plain values, so that they can be sent to the
    process that builds the rows (:mod:`.row_workers`)."""

    call_id: int
    first: tuple  # the call's first bot row
    result: tuple | None  # Call.result_row()
    completion_time: str | None  # Call.completion_time()
    source_rows: int
    last_row_id: int


class Call:
    """The rows one logical call inserted: its pre row (``rows[0]``, unless the gate refused it), the server's
    copy, and its completion inserts (``d_row`` the post-hook's, ``c_row`` the server's). ``updated`` is the
    pre row its post-hook completed when that is known from a C (it may be another call's: ``lost`` holds the
    ids of this call's rows that another call's post-hook completed)."""

    __slots__ = ("rows", "params", "gated", "has_copy", "c_row", "d_row", "d_epoch", "updated", "lost",
                 "ambiguous", "open", "first_epoch", "last_epoch", "no_evidence", "first_done", "pre", "together", "c_epoch",
                 "tentative", "tentative_c", "verdict", "gained")

    def __init__(self, row: tuple, success: object, epoch: float | None = None, gated: bool = False):
        self.rows = [row]
        self.params = row[PARAMS]
        self.gated = gated
        self.has_copy = False
        self.c_row: tuple | None = None
        self.c_epoch: float | None = None
        self.d_row: tuple | None = row if gated else None
        self.d_epoch: float | None = epoch if gated else None
        self.updated: tuple | None = None
        self.lost: set = set()
        self.ambiguous = False
        self.no_evidence = gated
        self.open = False
        self.first_epoch = epoch
        self.last_epoch = epoch
        self.first_done = not gated and success is not None
        self.pre: list[tuple] = [] if gated else [row]  # its pre row and the server's copy of it
        self.together: list = []  # calls of its group that started within a couple of seconds
        # A row of the same text just after the pre row that may be the server's copy or another call's row (the
        # server down or not known, or both rows completed): taken for the copy only until evidence or the call's
        # close decides (merge.CallMerger._is_copy); the time of that row, while undecided.
        self.tentative: float | None = None
        self.tentative_c = False  # its C may be another call completed in place (merge.CallMerger.verdict)
        self.verdict: bool | None = None  # what evidence says of a tentative copy or C, once it is known
        self.gained: tuple | None = None  # another call's pre row its post-hook completed (rereads.hand_over)

    def touch(self, epoch: float | None) -> None:
        if epoch is not None and (self.last_epoch is None or epoch > self.last_epoch):
            self.last_epoch = epoch

    def add_copy(self, row: tuple, success: object) -> None:
        self.rows.append(row)
        self.pre.append(row)
        self.has_copy = True

    def drop_copy(self) -> tuple:
        """Take back the row read as the server's copy (it was another call's completion row); return it."""
        copy = self.pre.pop()
        self.rows.remove(copy)
        self.has_copy = False
        return copy

    def unpost(self, row: tuple) -> None:
        """Take back a completion row that turned out to be another call's pre row."""
        self.rows = [r for r in self.rows if r is not row]
        if row is self.c_row:
            self.c_row = self.c_epoch = None
            if self.tentative_c:
                self.tentative_c, self.verdict = False, None
        if row is self.d_row:
            self.d_row = self.d_epoch = None

    def split_c(self) -> list["Call"]:
        """A tentative C that evidence says was no C: the row is a second call, completed in place."""
        row, epoch = self.c_row, self.c_epoch
        assert row is not None
        self.unpost(row)
        other = Call(row, 1, epoch)
        other.no_evidence, other.open = True, self.open
        return [self, other]

    def split(self) -> list["Call"]:
        """A tentative copy that evidence refuted: each row is a call of its own with its own outcome (parallel
        calls of one key with the server down: the first never completed, or both completed in place), and
        nothing says whose post-hook updated which row."""
        epochs = [self.first_epoch, self.tentative, self.c_epoch][:len(self.rows)]
        calls = [Call(r, normalise_success(r[SUCCESS]), e) for r, e in zip(self.rows, epochs)]
        for call in calls:
            call.no_evidence = call.ambiguous = True
            call.open = self.open
        return calls

    def add_post(self, row: tuple, role: str, epoch: float | None) -> None:
        self.rows.append(row)
        if role == "D":
            self.d_row, self.d_epoch = row, epoch
        else:
            self.c_row, self.c_epoch = row, epoch

    def pre_rows(self) -> list[tuple]:
        return self.pre

    def in_place_only(self) -> bool:
        """Completed in place with no row but its pre row (server down): nothing says whose update it was."""
        return not self.has_copy and self.c_row is None and self.d_row is None and self.first_done

    def may_be_crossed(self) -> bool:
        """Whether its outcome may be another call's: a call of its pre row alone (server down) that ran together
        with another such call of its group, one of them completed in place (with two such calls in flight the
        bot's post-hook updates the newest NULL row, whichever call ended: A1, A2*, and either call's
        post-hook may have completed A2)."""
        if not self._lone():
            return False
        return any(o._lone() and (self.first_done or o.first_done) for o in self.together)

    def _lone(self) -> bool:
        return not self.has_copy and self.c_row is None and self.d_row is None and not self.gated

    def copy_done(self) -> bool:
        return self.has_copy and done(self.rows[1])

    def done_in_place(self) -> bool:
        return self.first_done

    @property
    def call_id(self) -> int:
        return self.rows[0][ID]

    @property
    def source_rows(self) -> int:
        return len(self.rows)

    def result_row(self) -> tuple | None:
        """The row whose success, error and tokens describe the call's completion."""
        if self.d_row is not None:
            return self.d_row
        if self.c_row is not None:
            if self.updated is None:
                return self.c_row
            merged = list(self.c_row)
            for i in TOKENS:
                merged[i] = self.updated[i]
            return tuple(merged)
        if self.gained is not None:
            return self.gained
        own = [r for r in self.pre_rows() if done(r) and r[ID] not in self.lost]
        for r in reversed(own):
            if any(r[i] is not None for i in TOKENS):
                return r
        return own[-1] if own else None

    @property
    def outcome(self) -> str:
        return outcome_of(self.result_row())

    def completion_time(self) -> str | None:
        """Timestamp of the earliest completion INSERT (C or D), the best end time the rows give."""
        times = [r[TS] for r in (self.d_row, self.c_row) if r is not None and isinstance(r[TS], str)]
        return min(times, default=None)

    def facts(self) -> CallFacts:
        """The values its ``tool_calls`` row is built from."""
        return CallFacts(self.call_id, self.rows[0], self.result_row(), self.completion_time(), len(self.rows),
                         self.rows[-1][ID])
