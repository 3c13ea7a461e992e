"""Property-based tests (hypothesis) for the normalisation: timestamps, logical-call merging, masking, costs.

Each property keeps ``max_examples`` modest so the whole file runs in well under a minute; the inputs are built
to hit the interesting places (DST transitions, UTC midnight for the bot's update window, repeating call keys,
secret shapes) rather than relying on volume.
"""

from __future__ import annotations

import itertools
import json
import re
import sqlite3
import string
import tempfile
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from functools import lru_cache
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from hypothesis import HealthCheck, assume, given, note, settings
from hypothesis import strategies as st

from amiga_analytics import bot_schema
from amiga_analytics.merge import SOURCE, TCR, TIN, CallMerger
from amiga_analytics.pricing import PriceBook
from amiga_analytics.redact import mask
from amiga_analytics.sync import sync
from amiga_analytics.timeutil import TimeConverter
from test_sync import _assert_same_analytics

UTC = timezone.utc
US = 1_000_000
HOUR = 3600 * US

# ============================================================================================================
# 1. Timestamp conversion
# ============================================================================================================

# Zones whose offset changes (1990-2060) all happen on whole local hours, as TimeConverter assumes; see
# test_non_whole_hour_transitions_are_converted for the zones where they do not.
ZONES = (
    "UTC", "Europe/Madrid", "Europe/London", "Europe/Dublin", "Europe/Moscow", "America/Los_Angeles",
    "America/New_York", "America/Sao_Paulo", "America/Santiago", "America/Havana", "Asia/Tokyo", "Asia/Kolkata",
    "Asia/Kathmandu", "Asia/Tehran", "Australia/Sydney", "Australia/Adelaide", "Pacific/Auckland",
    "Africa/Casablanca",
)
UTC_TEXT = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}\+00:00$")
LOW, HIGH = datetime(1990, 1, 2, tzinfo=UTC), datetime(2150, 12, 30, tzinfo=UTC)


@lru_cache(maxsize=None)
def transitions(key: str, start: int = 1990, end: int = 2060) -> tuple[datetime, ...]:
    """The instants (UTC) at which ``key`` changes its UTC offset, found by weekly steps and bisection."""
    tz = ZoneInfo(key)
    found = []
    t = datetime(start, 1, 2, tzinfo=UTC)
    stop = datetime(end, 1, 1, tzinfo=UTC)
    step = timedelta(days=7)
    before = t.astimezone(tz).utcoffset()
    while t < stop:
        n = t + step
        after = n.astimezone(tz).utcoffset()
        if after != before:
            lo, hi = t, n
            while hi - lo > timedelta(microseconds=1):
                mid = lo + (hi - lo) / 2
                if mid.astimezone(tz).utcoffset() == before:
                    lo = mid
                else:
                    hi = mid
            found.append(hi)
            before = after
        t = n
    return tuple(found)


def bot_text(instant: datetime, key: str) -> str:
    """What the bot writes for ``instant`` on a host in ``key``: ``datetime.now().isoformat()``, naive local."""
    return instant.astimezone(ZoneInfo(key)).replace(tzinfo=None).isoformat()


def utc_text(instant: datetime) -> str:
    return instant.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f+00:00")


def is_ambiguous(naive: datetime, tz: ZoneInfo) -> bool:
    return naive.replace(tzinfo=tz, fold=0).utcoffset() != naive.replace(tzinfo=tz, fold=1).utcoffset()


def is_gap(naive: datetime, tz: ZoneInfo) -> bool:
    """A wall time the clock jumped over: it does not survive local -> UTC -> local."""
    return naive.replace(tzinfo=tz).astimezone(UTC).astimezone(tz).replace(tzinfo=None) != naive


@st.composite
def instants(draw, key_strategy=st.sampled_from(ZONES)):
    """(zone, aware UTC instant): anywhere in 1990-2150, or within three hours of one of the zone's transitions."""
    key = draw(key_strategy)
    near = transitions(key)
    if near and draw(st.booleans()):
        base = draw(st.sampled_from(near))
        instant = base + timedelta(microseconds=draw(st.integers(-3 * HOUR, 3 * HOUR)))
    else:
        instant = draw(st.datetimes(min_value=LOW.replace(tzinfo=None), max_value=HIGH.replace(tzinfo=None),
                                    timezones=st.just(UTC)))
    return key, instant


@settings(max_examples=300, deadline=None)
@given(instants())
def test_bot_local_time_round_trips_to_utc(zone_and_instant):
    key, instant = zone_and_instant
    tz = ZoneInfo(key)
    text = bot_text(instant, key)
    utc, day, issue = TimeConverter(key, key).convert(text)
    note(f"{key}: {instant.isoformat()} written as {text!r} -> {utc} ({issue})")
    assert utc is not None and UTC_TEXT.match(utc), utc
    naive = datetime.fromisoformat(text)
    if is_ambiguous(naive, tz):
        # A repeated wall time: the first occurrence, flagged.
        assert issue == "dst_fold"
        assert utc == utc_text(naive.replace(tzinfo=tz, fold=0))
    else:
        assert issue is None
        assert utc == utc_text(instant)
    # The day is the local calendar day of the converted instant in the report zone.
    assert day == datetime.fromisoformat(utc).astimezone(tz).date().isoformat()


@st.composite
def local_wall_times(draw):
    """(zone, naive local time) close to the zone's transitions, including times in a gap or a repeat."""
    key = draw(st.sampled_from([z for z in ZONES if transitions(z)]))
    base = draw(st.sampled_from(transitions(key)))
    wall = base.astimezone(ZoneInfo(key)).replace(tzinfo=None)
    return key, wall + timedelta(microseconds=draw(st.integers(-2 * HOUR, 2 * HOUR)))


@settings(max_examples=200, deadline=None)
@given(local_wall_times())
def test_gap_and_repeat_wall_times_are_flagged(zone_and_wall):
    key, wall = zone_and_wall
    tz = ZoneInfo(key)
    utc, _, issue = TimeConverter(key, key).convert(wall.isoformat())
    assert utc is not None and UTC_TEXT.match(utc)
    if is_gap(wall, tz):
        # Moved forward as the clock reads: the offset in force before the jump.
        assert issue == "dst_gap"
        assert utc == utc_text(wall.replace(tzinfo=tz, fold=0))
    elif is_ambiguous(wall, tz):
        assert issue == "dst_fold"
        assert utc == utc_text(wall.replace(tzinfo=tz, fold=0))
    else:
        assert issue is None
        assert utc == utc_text(wall.replace(tzinfo=tz))


@settings(max_examples=60, deadline=None)
@given(st.data())
def test_converted_times_sort_like_the_instants(data):
    key = data.draw(st.sampled_from(ZONES))
    pairs = data.draw(st.lists(instants(st.just(key)), min_size=2, max_size=12))
    tz = ZoneInfo(key)
    conv = TimeConverter(key, "UTC")
    points = [i for _, i in pairs if not is_ambiguous(datetime.fromisoformat(bot_text(i, key)), tz)]
    converted = {i: conv.convert(bot_text(i, key))[0] for i in points}
    for a, b in itertools.combinations(points, 2):
        assert (a < b) == (converted[a] < converted[b])
        assert (a == b) == (converted[a] == converted[b])
    assert sorted(points) == sorted(points, key=converted.get)


@settings(max_examples=100, deadline=None)
@given(instants(), st.sampled_from(["offset", "Z", "space"]))
def test_times_with_an_offset_are_honoured(zone_and_instant, style):
    key, instant = zone_and_instant
    local = instant.astimezone(ZoneInfo(key))
    text = local.isoformat()
    if style == "Z":
        text = instant.astimezone(UTC).replace(tzinfo=None).isoformat() + "Z"
    elif style == "space":
        text = text.replace("T", " ")
    utc, _, issue = TimeConverter("Asia/Tokyo", key).convert(text)
    assert (utc, issue) == (utc_text(instant), None)


NON_WHOLE_HOUR = {
    # zone and case: an unambiguous instant near an offset change that is not on a whole local hour
    "Chatham-after-fall-back": ("Pacific/Chatham", datetime(2025, 4, 5, 15, 5, tzinfo=UTC)),  # 03:50 CHAST
    "Chatham-after-spring-forward": ("Pacific/Chatham", datetime(2025, 9, 27, 14, 5, tzinfo=UTC)),  # 03:50 CHADT
    "Lord-Howe-before-fall-back": ("Australia/Lord_Howe", datetime(2025, 4, 5, 14, 10, tzinfo=UTC)),  # 01:10 +11
}


@pytest.mark.parametrize("case", sorted(NON_WHOLE_HOUR))
def test_non_whole_hour_transitions_are_converted(case):
    key, instant = NON_WHOLE_HOUR[case]
    text = bot_text(instant, key)
    if is_ambiguous(datetime.fromisoformat(text), ZoneInfo(key)):
        pytest.fail(f"{text} is ambiguous in {key}: not a case of this test")
    assert TimeConverter(key, key).convert(text)[::2] == (utc_text(instant), None)


# ============================================================================================================
# 2. Logical-call merging: logical calls -> bot rows (bot-data.md §3.1) -> CallMerger / sync -> the same calls
# ============================================================================================================

MERGE_ZONE = "America/Los_Angeles"  # evenings after 17:00 PDT are past UTC midnight: the bot's window misses
_LA = ZoneInfo(MERGE_ZONE)
_T0 = datetime(2025, 7, 7, 7, 0, tzinfo=UTC)  # midnight PDT; PDT throughout every generated span
CALL_PARAMS = {
    "Read": ('{"file_path": "/ws/src/app.py"}', '{"file_path": "/ws/README.md"}'),
    "Bash": ('{"command": "pytest -q", "description": "Run tests"}', '{"command": "git status"}'),
    "Task": ('{"subagent_type": "code_agent", "description": "Fix the bug", "prompt": "Fix it"}',),
}
TASK_IDS = ("abc123", "d4e5f6", "0a1b2c", "5f0c8f3e-2a4b-4c6d-8e9f-0123456789ab")  # the last: a CLI session
FAILURE = ("Permission denied: /ws/secret", "permission_error")
NO_TOKENS = (None, None, None, None)


@dataclass(frozen=True)
class LCall:
    """One logical tool call as it happened, with the timing details that decide which rows the bot writes."""

    tool: str
    params: str
    server_up: bool
    outcome: str  # success | failure | unknown (never completed: no post-hook)
    tokens: tuple | None  # (input, output, cache_creation, cache_read) the post-hook stores, completed calls only
    gap: int  # µs from the task's previous row (or its start) to this call's pre row
    duration: int  # µs from the pre row to the post-hook
    copy_lag: int  # µs between the hook's pre row and the server's copy (insert order)
    copy_skew: int  # µs: the copy's timestamp minus the pre row's (hook and server race)
    c_lag: int  # µs from the post-hook to the server's completion insert C
    tie_newest_id: bool  # which pre row the post-hook's ORDER BY timestamp DESC finds first on equal timestamps

    def expected(self) -> tuple:
        tokens = self.tokens if self.outcome != "unknown" and self.tokens else NO_TOKENS
        return self.tool, self.params, self.outcome, tokens


@st.composite
def logical_calls(draw) -> LCall:
    tool = draw(st.sampled_from(sorted(CALL_PARAMS)))
    outcome = draw(st.sampled_from(["success", "success", "failure", "unknown"]))
    return LCall(
        tool=tool,
        params=draw(st.sampled_from(CALL_PARAMS[tool])),
        server_up=draw(st.booleans()),
        outcome=outcome,
        tokens=draw(st.none() | st.tuples(st.integers(0, 2_000_000), st.integers(0, 200_000),
                                          st.none() | st.integers(0, 500_000), st.none() | st.integers(0, 500_000))),
        # Claude thinks for a few seconds between calls (at least 2.5 s: longer than the merger's copy window);
        # now and then the task sleeps for hours, which moves calls across local and UTC midnight (and past the
        # merger's 24-hour staleness limit).
        gap=draw(st.integers(int(2.5 * US), 90 * US) | st.sampled_from([h * HOUR for h in (3, 7, 11, 17, 26)])),
        duration=draw(st.integers(2_000, 20 * US) | st.integers(20 * US, 900 * US)),
        copy_lag=draw(st.integers(1, 30_000)),
        copy_skew=draw(st.integers(-300_000, 400_000)),  # the copy's own clock reading: within the hook's 0.5 s
        c_lag=draw(st.integers(1_000, 3 * US)),
        tie_newest_id=draw(st.booleans()),
    )


@st.composite
def plans(draw):
    """Several tasks (bot tasks and a CLI session), each a sequence of calls; keys repeat within a task."""
    ids = draw(st.lists(st.sampled_from(TASK_IDS), min_size=1, max_size=4, unique=True))
    return [(task_id, draw(st.lists(logical_calls(), min_size=1, max_size=7)))
            for task_id in ids]


def starts_for(plan):
    """Where each task starts (µs after _T0): a different draw gives a different interleaving of the same calls."""
    return st.lists(st.integers(0, 36 * HOUR), min_size=len(plan), max_size=len(plan))


def local(us: int) -> str:
    return (_T0 + timedelta(microseconds=us)).astimezone(_LA).replace(tzinfo=None).isoformat()


def window_bound(us: int) -> str:
    """The bot's ``datetime('now', '-5 seconds')`` at ``us``: UTC text with a space."""
    return (_T0 + timedelta(microseconds=us - 5 * US)).strftime("%Y-%m-%d %H:%M:%S")


@dataclass
class Rendered:
    ops: list  # ("insert", id, values) / ("update", id, values), in the order the bot ran them
    truth: list  # (call_id, task_id, LCall, rows, window_missed), one per logical call
    spans: list = None  # (start, end or None, server up at start, server up at end, task id, call, missed), µs

    def unobservable_comeback(self) -> bool:
        """A call that ended with the server up (its pre row completed in place, then the server's completion
        row) while the last call to start up to its end, its own start included, saw the server down: it started
        with the server down, or the server went down and came back while it ran (found by hypothesis: four
        tasks' calls at once with the server up, the server down 2 ms later, one call ending 2.5 s later just as
        the server came back). Nothing before that completion row says the server is up, so it reads like a new
        identical call completed in place."""
        spans = self.spans or []
        for start, end, up_start, up_end, *_ in spans:
            if end is None or not up_end:
                continue
            seen = [(s2, u2) for s2, _, u2, *_ in spans if start < s2 <= end] + [(start, up_start)]
            if not max(seen, key=lambda p: p[0])[1]:
                return True
        return self.unobservable_godown() or self.unobservable_late_d()

    def unobservable_late_d(self) -> bool:
        """A call that never completed, then (within the merger's 6-hour call limit) the next call of its task with
        the same key, started with the server down and completed in place, at a time when the bot's window misses
        the first call's rows (a Los Angeles evening: found by hypothesis, NULL at 21:00, completed row at 00:00).
        That row reads exactly like the first call's fallback INSERT D after three hours."""
        spans = self.spans or []
        for i, (start, end, _, _, task, call, _) in enumerate(spans):
            if end is not None:
                continue
            later = [sp for sp in spans[i + 1:] if sp[4] == task and sp[5].tool == call.tool
                     and sp[5].params == call.params]
            if later and later[0][1] is not None and not later[0][2] and not later[0][6] and (
                    later[0][0] - start <= 6 * HOUR and local(start) < window_bound(later[0][0])):
                return True
        return False

    def unobservable_godown(self) -> bool:
        """The mirror case: a call started with the server up (A, B) and ended with it down (no C); the next call
        of its task with the same key starts with the server down and completes in place, without tokens (one
        row), and no call started with the server down in between. Its row reads exactly like the first call's C
        with the server up throughout (found by hypothesis: rows 1 A done, 2 B NULL, 3 done 2.5 s later)."""
        spans = self.spans or []
        for i, (start, end, up_start, up_end, task, call, _) in enumerate(spans):
            if end is None or not up_start or up_end:
                continue
            later = [sp for sp in spans[i + 1:] if sp[4] == task and sp[5].tool == call.tool
                     and sp[5].params == call.params]
            if not later:
                continue
            s2, e2, up2, _, _, nxt, missed2 = later[0]
            if (e2 is not None and not up2 and not missed2 and not (nxt.tokens and any(nxt.tokens))
                    and not any(start < s3 < s2 and not u3 for s3, _, u3, *_ in spans)):
                return True
        return False


def server_schedules():
    """The monitoring server over time (it serves every task at once): up or down at the start, then 0-3 changes
    in the 40 hours the plans cover, so that calls start and end on both sides of a change. (Not here: a server
    up for a moment in which no other call starts; then its completion row of a call completed in place reads
    like a new identical call.)"""
    def build(first_up, changes):
        times = sorted(changes)
        return lambda t: first_up ^ (sum(1 for c in times if c <= t) % 2 == 1)
    return st.builds(build, st.booleans(), st.lists(st.integers(0, 40 * HOUR), max_size=3))


def render(plan, starts, server=None) -> Rendered:
    """The bot's writes for ``plan``: A/B pre rows, the post-hook's update in place or fallback D, the server's C.
    ``server(t)`` says whether the monitoring server is up at ``t``; without it each call's ``server_up`` holds
    for its whole life."""
    events = []
    handles = itertools.count()
    calls = []
    spans = []
    for ti, ((task_id, lcalls), start) in enumerate(zip(plan, starts)):
        seq = itertools.count()
        t = start
        for call in lcalls:
            base = (task_id, call.tool, call.params)
            s = t + call.gap
            up_pre = call.server_up if server is None else server(s)
            pre = [(s, s)] + ([(s + call.copy_lag, s + call.copy_skew)] if up_pre else [])
            pre_handles = []
            for order, (at, ts) in enumerate(pre):
                h = next(handles)
                pre_handles.append((h, ts, order))
                events.append((at, ti, next(seq), ("insert", h, (local(ts),) + base + (None,) * 7)))
            first, n_rows, missed, last = pre_handles[0][0], len(pre), False, pre[-1][0]
            span = [s, None, up_pre, None, task_id, call, False]
            spans.append(span)
            if call.outcome != "unknown":
                success = int(call.outcome == "success")
                error = (None, None) if success else FAILURE
                done = (success,) + error + (call.tokens or NO_TOKENS)
                e = s + max(call.duration, call.copy_lag + 1)
                # The post-hook updates the newest NULL row of the key that passes its 5-second window
                # (local 'T' text >= UTC ' ' text); when none passes it INSERTs a completed row D.
                passing = [p for p in pre_handles if local(p[1]) >= window_bound(e)]
                if passing:
                    # ORDER BY timestamp DESC: the copy's timestamp can be the older one (the hook and the
                    # server race; tests/fixtures/sample.db has such a pair, ids 600/601).
                    pick = max(passing, key=lambda p: (local(p[1]), p[2] if call.tie_newest_id else -p[2]))
                    events.append((e, ti, next(seq), ("update", pick[0], done)))
                else:
                    missed = span[6] = True
                    events.append((e, ti, next(seq), ("insert", next(handles), (local(e),) + base + done)))
                    n_rows += 1
                last = e
                span[1], span[3] = e, (call.server_up if server is None else server(e))
                if span[3]:
                    c = e + call.c_lag
                    c_done = (success,) + error + NO_TOKENS
                    events.append((c, ti, next(seq), ("insert", next(handles), (local(c),) + base + c_done)))
                    n_rows += 1
                    last = c
            calls.append((first, task_id, call, n_rows, missed))
            t = last
    events.sort(key=lambda e: e[:3])
    ids = {}
    ops = []
    for _, _, _, (kind, h, values) in events:
        if kind == "insert":
            ids[h] = len(ids) + 1
        ops.append((kind, ids[h], values))
    truth = sorted((ids[first], task_id, call, n, missed) for first, task_id, call, n, missed in calls)
    return Rendered(ops, truth, [tuple(sp) for sp in spans])


def apply_ops(ops, rows: dict | None = None) -> dict:
    """Rows by id after the writes ``ops`` (tuples laid out like the merger's input)."""
    rows = {} if rows is None else rows
    for kind, row_id, values in ops:
        if kind == "insert":
            rows[row_id] = (row_id,) + values
        else:
            rows[row_id] = rows[row_id][:5] + values
    return rows


def merge(rows: dict) -> list:
    conv = TimeConverter(MERGE_ZONE, MERGE_ZONE)
    merger = CallMerger(window_missed=conv.bot_window_missed)
    calls = [c for row_id in sorted(rows) for c in merger.feed(rows[row_id])]
    calls += merger.finish()
    return sorted(calls, key=lambda c: c.call_id)


def call_tokens(call) -> tuple:
    row = call.result_row()
    return tuple(row[TIN:TCR + 1]) if row is not None else NO_TOKENS


def describe(rendered: Rendered) -> str:
    lines = []
    for call_id, task_id, call, n, missed in rendered.truth:
        lines.append(f"call {call_id} {task_id} {call.tool} {call.params[:30]} up={call.server_up} "
                     f"{call.outcome} rows={n} missed={missed}")
    return "\n".join(lines)


# Known open bugs of the concurrency merger (issue 12 stays open for them). Fixed and kept as MERGE_CASES: the
# oldest waiting call taking a retry's D, a comeback lost to 10-minute-old evidence, a C just after UTC midnight.
# Fixed since: a completed pre row (A updated in place on equal timestamps) taken for an older call's C or D
# (merge.CallMerger._reclaim). Still found by hypothesis now and then, each a case the rows alone do not decide:
# - with the server changing just before or after, a later identical call completed in place reads as the first
#   one's C: the server goes down at the moment the first call ends (the latest evidence said up), or comes back
#   seconds after the second call (the first evidence after it says up);
# - an incremental sync keeps a never-completed call (server up, A and B NULL, hours before the cut) among its
#   open calls where one full sync had closed it (open_call_rows differ; the calls are the same).
# Each was found at 4965cce too, in runs with more examples than these tests draw.
# Not strict: a run that draws no such case passes.
KNOWN_MERGER_BUG = pytest.mark.xfail(
    strict=False, reason="issue 12: a server change next to two identical calls, which the rows do not show")


@KNOWN_MERGER_BUG
@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.data())
def test_merger_gives_back_the_logical_calls(data):
    plan = data.draw(plans())
    rendered = render(plan, data.draw(starts_for(plan)), data.draw(server_schedules(), label="server"))
    note(describe(rendered))
    assume(not rendered.unobservable_comeback())
    rows = apply_ops(rendered.ops)
    merged = merge(rows)
    got = [(c.call_id, c.rows[0][SOURCE], c.source_rows, c.outcome, call_tokens(c)) for c in merged]
    want = [(call_id, task_id, n, call.outcome, call.expected()[3]) for call_id, task_id, call, n, _ in rendered.truth]
    assert got == want
    # Every bot row belongs to exactly one call.
    assert sorted(r[0] for c in merged for r in c.rows) == sorted(rows)


@KNOWN_MERGER_BUG
@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.data())
def test_other_interleavings_give_the_same_calls(data):
    plan = data.draw(plans())
    per_task = {task_id: [c.expected() for c in calls] for task_id, calls in plan}
    for attempt in range(2):
        rendered = render(plan, data.draw(starts_for(plan), label=f"starts {attempt}"),
                          data.draw(server_schedules(), label=f"server {attempt}"))
        note(describe(rendered))
        assume(not rendered.unobservable_comeback())
        merged = merge(apply_ops(rendered.ops))
        got: dict = {}
        for c in merged:
            first = c.rows[0]
            got.setdefault(first[SOURCE], []).append((first[3], first[4], c.outcome, call_tokens(c)))
        assert got == per_task


def test_the_renderer_writes_every_row_pattern_of_bot_data_3_1():
    """The generator itself: 1 row (server down), 2 (down, window missed), 3 (up), 4 (up, missed); A or A+B."""
    def call(up, outcome, gap=3 * US, duration=2 * US):
        return LCall("Read", CALL_PARAMS["Read"][0], up, outcome, (500, 70, None, None), gap, duration, 500, 400,
                     US, True)

    evening = 17 * HOUR + 10 * US  # 17:00:10 PDT is 00:00:10 UTC: the post-hook's window misses
    plan = [("abc123", [call(False, "success"), call(False, "success", gap=evening), call(True, "success"),
                        call(True, "failure", gap=8 * HOUR), call(False, "unknown"), call(True, "unknown")])]
    rendered = render(plan, [0])
    assert [(n, missed) for _, _, _, n, missed in rendered.truth] == [
        (1, False), (2, True), (4, True), (3, False), (1, False), (2, False)]
    rows = apply_ops(rendered.ops)
    tokens_rows = [r for r in rows.values() if r[8] is not None]
    assert len(tokens_rows) == 4  # B or D or the in-place row, never C
    # NULL for good: A of the missed call, A and B of the up+missed call, A of the up call, 1 + 2 never completed
    assert sum(r[5] is None for r in rows.values()) == 1 + 2 + 1 + 1 + 2


def _merge_rows(zone: str, rows: list[tuple]) -> list:
    """Rows (timestamp, success[, task id]) of one Bash command, merged; task abc123 unless given."""
    merger = CallMerger(window_missed=TimeConverter(zone, zone).bot_window_missed)
    full = [(i, r[0], r[2] if len(r) > 2 else "abc123", "Bash", '{"command": "pytest -q"}', r[1], None, None, None,
             None, None, None) for i, r in enumerate(rows, start=1)]
    calls = [c for r in full for c in merger.feed(r)] + merger.finish()
    return sorted(([r[0] for r in c.rows], c.outcome) for c in calls)


MERGE_CASES = {
    # Server down, window missed (a Los Angeles evening), a call of 2 ms: A and D within the copy window are taken
    # for A and its server copy B, so the call waits for a C row and swallows the next morning's identical call.
    "fast-window-missed-call": ("America/Los_Angeles", [
        ("2025-07-07T17:00:10.008000", None), ("2025-07-07T17:00:10.010000", 1), ("2025-07-08T09:00:00", 1)],
        [([1, 2], "success"), ([3], "success")]),
    # A call that never completed with the server up (A, B NULL), then the server is down and the same call
    # completes in place: its row is taken for the first call's completion insert C.
    "unknown-with-copy-then-in-place": ("UTC", [
        ("2025-10-01T10:00:00.000100", None), ("2025-10-01T10:00:00.000900", None),
        ("2025-10-01T10:00:30.000100", 1)],
        [([1, 2], "unknown"), ([3], "success")]),
    # Server down: a call that never completed, the same call the next morning (22 h later) completed in place.
    # Replaying the bot's window at the *second call's start* says the first call's window missed, so it
    # becomes its D row.
    "unknown-then-next-day-in-place": ("Europe/Madrid", [
        ("2025-10-01T10:00:00.000100", None), ("2025-10-02T08:00:00.000100", 1)],
        [([1], "unknown"), ([2], "success")]),
    # Server up: a call that never completed, then the same call whose copy got the older timestamp (the race
    # seen in tests/fixtures/sample.db ids 600/601), so the post-hook's ORDER BY timestamp DESC updated the
    # hook's row, which now comes first and completed.
    "unknown-then-copy-race": ("UTC", [
        ("2025-10-01T10:00:00.000100", None), ("2025-10-01T10:00:00.000900", None),
        ("2025-10-01T10:00:30.000283", 1), ("2025-10-01T10:00:30.000151", None), ("2025-10-01T10:00:45", 1)],
        [([1, 2], "unknown"), ([3, 4, 5], "success")]),
    # Found by hypothesis. Server down on a Los Angeles evening (18:00 PDT is past UTC midnight: the window misses,
    # every post-hook INSERTs a D). A call and its D 2 ms later; then the same call started at :05 never completes
    # and is retried at :07.5, whose D comes at :08.006. A call of a task that has not ended when the same call
    # starts 2.5 s later was given up (interrupted, retried): the D is the retry's, not the abandoned call's.
    "abandoned-then-retried-window-missed": ("America/Los_Angeles", [
        ("2025-07-07T18:00:02.504000", None), ("2025-07-07T18:00:02.506000", 1),
        ("2025-07-07T18:00:05.006000", None), ("2025-07-07T18:00:07.506000", None),
        ("2025-07-07T18:00:08.006001", 1)],
        [([1, 2], "success"), ([3], "unknown"), ([4, 5], "success")]),
    # Found by hypothesis. The server comes back at 00:00:02.500001 PDT: three tasks' calls started just before
    # (no copy), completed in place, the first two get a C 3 ms later, the third ends 10 min later with its C
    # (row 9); a CLI session's call started just after got the copy (rows 4, 5, 8). The only evidence that the
    # server is up is 600 s old when row 9 comes, but it is newer than the third call's start: row 9 is that call's
    # C, not a new call completed in place.
    "comeback-evidence-older-than-ten-minutes": ("America/Los_Angeles", [
        ("2025-07-07T00:00:02.500000", 1, "abc123"), ("2025-07-07T00:00:02.500000", 1, "d4e5f6"),
        ("2025-07-07T00:00:02.500000", 1, "0a1b2c"), ("2025-07-07T00:00:02.500001", 1, "cli-1"),
        ("2025-07-07T00:00:02.500001", None, "cli-1"), ("2025-07-07T00:00:02.503000", 1, "abc123"),
        ("2025-07-07T00:00:02.503000", 1, "d4e5f6"), ("2025-07-07T00:00:02.503001", 1, "cli-1"),
        ("2025-07-07T00:10:03.000002", 1, "0a1b2c")],
        [([1, 6], "success"), ([2, 7], "success"), ([3, 9], "success"), ([4, 5, 8], "success")]),
    # Found by hypothesis. Server up, Los Angeles: A and B at 17:00:03.677586 PDT, which
    # is 00:00:03 UTC; the post-hook ran before 17:00:05 and its window (UTC text of 5 s earlier, still July 7)
    # matched A, which it completed; the server's C is at 17:00:05, when the same window replayed at the C's own
    # time (July 8 UTC) misses every row of July 7. The C is the call's: the completed A was in the post-hook's
    # window.
    "c-just-after-utc-midnight": ("America/Los_Angeles", [
        ("2025-07-07T17:00:03.677586", 1), ("2025-07-07T17:00:03.677586", None), ("2025-07-07T17:00:05", 1)],
        [([1, 2, 3], "success")]),
    # Server down, Los Angeles evening: A and its D 2 ms later (the window missed: taken for A and a copy), then
    # the same call at 01:00 the next night completed in place. That row is no C of the first call: the first
    # call's completed row was in no post-hook's window 3 s before it (the bot's window at 01:00 is July 8).
    "window-missed-then-next-night-in-place": ("America/Los_Angeles", [
        ("2025-07-07T22:00:00.002000", None), ("2025-07-07T22:00:00.004000", 1), ("2025-07-08T01:00:00.004000", 1)],
        [([1, 2], "success"), ([3], "success")]),
    # Found by hypothesis. A call completed in place with the server down; the server comes back (a CLI
    # session's call gets its copy and C); the same call again, its A and the server's copy B stamped alike, so
    # the post-hook's ORDER BY timestamp DESC updated A. That completed A is no C of the first call: the NULL B
    # stamped no later shows it was a pre row (merge.CallMerger._reclaim).
    "completed-pre-row-taken-back-from-an-older-call": ("UTC", [
        ("2025-10-01T10:00:00.000100", 1), ("2025-10-01T10:00:02.000100", None, "cli-1"),
        ("2025-10-01T10:00:02.000900", 1, "cli-1"), ("2025-10-01T10:00:02.300000", 1, "cli-1"),
        ("2025-10-01T10:00:03.000100", 1), ("2025-10-01T10:00:03.000100", None), ("2025-10-01T10:00:03.300000", 1)],
        [([1], "success"), ([2, 3, 4], "success"), ([5, 6, 7], "success")]),
}


@pytest.mark.parametrize("case", sorted(MERGE_CASES))
def test_merge_regressions(case):
    zone, rows, calls = MERGE_CASES[case]
    assert _merge_rows(zone, rows) == calls


def _three_in_flight(server_up: bool, ends: tuple) -> tuple[list, list, list]:
    """Three Read calls of one file in one task started within 0.1 s (sub-agents, or a parallel batch), written
    by the bot's rule (bot-data.md §8): each post-hook updates the *newest* NULL row of the key (with its
    tokens), then the server inserts C. ``ends[i]``: seconds after the start at which call i ends, or None (it
    never completes). Returns the rows (id order), the truth (per call its own rows and its outcome) and the rows
    of an earlier call that show the server's state."""
    writes = []  # (time s, kind, call, values)
    for i in range(3):
        writes.append((0.05 * i, "A", i))
        if server_up:
            writes.append((0.05 * i + 0.001, "B", i))
    for i, end in enumerate(ends):
        if end is not None:
            writes.append((end, "post", i))
    writes.sort(key=lambda w: w[0])
    rows: dict = {}  # id -> [ts, success, tokens]
    own: list[list[int]] = [[], [], []]
    for at, kind, i in writes:
        ts = f"2025-10-01T10:00:{at:09.6f}"
        if kind in "AB":
            rows[len(rows) + 1] = [ts, None, None]
            own[i].append(len(rows))
            continue
        newest = max((r for r in rows if rows[r][1] is None), key=lambda r: (rows[r][0], r))
        rows[newest][1:] = [1, 100 + i]
        if server_up:
            rows[len(rows) + 1] = [f"2025-10-01T10:00:{at + 0.001:09.6f}", 1, None]
            own[i].append(len(rows))
    # A call of another file 5 s before tells whether the server is up (it got the server's copy, or not).
    before = [("2025-10-01T09:59:55.000100", 1, None, "/ws/b.py")]
    if server_up:
        before = [("2025-10-01T09:59:55.000100", None, None, "/ws/b.py"),
                  ("2025-10-01T09:59:55.000900", 1, None, "/ws/b.py"), ("2025-10-01T09:59:56", 1, None, "/ws/b.py")]
    lines = before + [(ts, ok, tok, "/ws/a.py") for ts, ok, tok in rows.values()]
    full = [(n, ts, "abc123", "Read", json.dumps({"file_path": path}), ok, None, None, tok, None, None, None)
            for n, (ts, ok, tok, path) in enumerate(lines, start=1)]
    shift = len(before)
    return full[shift:], [([r + shift for r in own[i]], "unknown" if end is None else "success")
                          for i, end in enumerate(ends)], full[:shift]


THREE_IN_FLIGHT_ENDS = sorted(set(itertools.permutations((2.0, 3.0, 4.0)))) + [
    (2.0, 3.0, None), (None, 3.0, 2.0), (2.0, None, None), (0.12, 3.0, 4.0), (4.0, 0.12, 3.0)]
# With the server down and a call that never completes, an older pre row stays NULL while a newer one 50 ms later
# was completed by another call's post-hook: the merger holds that pair as a tentative copy (the server may just
# have come back, and then a C follows) and splits it when the call closes without one (Call.split).
THREE_IN_FLIGHT = [(up, ends) for up in (True, False) for ends in THREE_IN_FLIGHT_ENDS]


@pytest.mark.parametrize(("server_up", "ends"), THREE_IN_FLIGHT)
def test_three_same_key_calls_in_flight_count_exactly(server_up, ends):
    """The rows of three same-key calls cross (the first post-hook takes the third call's newest row): the merger
    gives three calls, each with as many rows as the call wrote, the outcomes and the tokens of the truth."""
    rows, truth, before = _three_in_flight(server_up, ends)
    merger = CallMerger(window_missed=TimeConverter("UTC", "UTC").bot_window_missed)
    calls = [c for r in before + rows for c in merger.feed(r)] + merger.finish()
    calls = [c for c in calls if c.rows[0][4] == rows[0][4]]
    assert sorted(r[0] for c in calls for r in c.rows) == [r[0] for r in rows]  # every row in one call
    assert sorted(len(c.rows) for c in calls) == sorted(len(own) for own, _ in truth)
    assert sorted(c.outcome for c in calls) == sorted(outcome for _, outcome in truth)
    starts = sorted(c.rows[0][0] for c in calls)
    assert starts == sorted(own[0] for own, _ in truth)  # each call starts at its own pre row
    assert sum(call_tokens(c)[0] or 0 for c in calls) == sum(100 + i for i, e in enumerate(ends) if e is not None)


# --- the same through the real sync, cut at arbitrary points ------------------------------------------------

TASK_ROW_SQL = """INSERT INTO tasks (task_id, user_id, description, status, created_at, updated_at, model, workspace,
                  agent_type) VALUES (?, 1, 'generated', 'running', ?, ?, 'sonnet', '/ws', 'code_agent')"""
INSERT_SQL = """INSERT INTO tool_usage (id, timestamp, task_id, tool_name, parameters, success, error, error_category,
                input_tokens, output_tokens, cache_creation_tokens, cache_read_tokens)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"""
UPDATE_SQL = """UPDATE tool_usage SET success = ?, error = ?, error_category = ?, input_tokens = ?, output_tokens = ?,
                cache_creation_tokens = ?, cache_read_tokens = ? WHERE id = ?"""


def write_ops(path: Path, ops) -> None:
    conn = sqlite3.connect(path)
    try:
        for kind, row_id, values in ops:
            with conn:  # one short transaction per write, like the bot
                if kind == "insert":
                    conn.execute(INSERT_SQL, (row_id,) + values)
                else:
                    conn.execute(UPDATE_SQL, values + (row_id,))
    finally:
        conn.close()


def new_bot(path: Path, plan) -> None:
    db = bot_schema.create_bot_database(path, applied_at="2025-07-01T09:00:00")
    try:
        with db.conn:
            for task_id, _ in plan:
                if len(task_id) == 6:
                    db.conn.execute(TASK_ROW_SQL, (task_id, local(0), local(0)))
    finally:
        db.close()


@KNOWN_MERGER_BUG
@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.data())
def test_incremental_syncs_cut_anywhere_equal_one_full_sync(data):
    plan = data.draw(plans())
    rendered = render(plan, data.draw(starts_for(plan)), data.draw(server_schedules(), label="server"))
    note(describe(rendered))
    assume(not rendered.unobservable_comeback())
    n = len(rendered.ops)
    cuts = sorted(data.draw(st.lists(st.integers(0, n), min_size=1, max_size=3, unique=True), label="cuts"))
    with tempfile.TemporaryDirectory(prefix="amiga-prop-") as tmp:
        bot, out, full = Path(tmp, "bot.db"), Path(tmp, "incremental.db"), Path(tmp, "full.db")
        new_bot(bot, plan)
        done = 0
        for cut in cuts:
            write_ops(bot, rendered.ops[done:cut])
            done = cut
            sync(bot, out, source_tz=MERGE_ZONE)
        write_ops(bot, rendered.ops[done:])
        last = sync(bot, out, source_tz=MERGE_ZONE)
        assert last.mode == "incremental", last.reason
        sync(bot, full, source_tz=MERGE_ZONE, full=True)
        _assert_same_analytics(out, full, float_rel=1e-12)  # REAL sums: the same calls added in another order
        conn = sqlite3.connect(f"file:{out}?mode=ro", uri=True)
        try:
            got = conn.execute("""SELECT call_id, source_id, source_rows, outcome, input_tokens, output_tokens,
                                  cache_write_tokens, cache_read_tokens FROM tool_calls ORDER BY call_id""").fetchall()
        finally:
            conn.close()
    want = [(call_id, task_id, n_rows, call.outcome) + call.expected()[3]
            for call_id, task_id, call, n_rows, _ in rendered.truth]
    assert got == want


# ============================================================================================================
# 3. Secret masking
# ============================================================================================================

ALNUM = string.ascii_letters + string.digits


def _chars(alphabet: str, low: int, high: int):
    return st.text(alphabet=alphabet, min_size=low, max_size=high)


# Each strategy gives (what comes before the secret, the secret, what comes after it) as a command or an error
# text would show them; the secret must not survive.
SECRET_SHAPES = {
    "openai": st.builds(lambda p, s: ("", p + s, ""), st.sampled_from(["sk-", "sk-proj-"]),
                        _chars(ALNUM + "_-", 20, 60)),
    "anthropic": st.builds(lambda s: ("", "sk-ant-api03-" + s, ""), _chars(ALNUM + "_-", 24, 90)),
    "github": st.builds(lambda p, s: ("", f"{p}_{s}", ""), st.sampled_from(["ghp", "gho", "ghs", "ghu", "ghr"]),
                        _chars(ALNUM, 36, 36)),
    "github_pat": st.builds(lambda a, b: ("", f"github_pat_{a}_{b}", ""), _chars(ALNUM, 22, 22), _chars(ALNUM, 59, 59)),
    "aws": st.builds(lambda p, s: ("", p + s, ""), st.sampled_from(["AKIA", "ASIA"]),
                     _chars(string.ascii_uppercase + string.digits, 16, 16)),
    "gitlab": st.builds(lambda s: ("", "glpat-" + s, ""), _chars(ALNUM + "_-", 20, 20)),
    "slack": st.builds(lambda p, a, b, c: ("", f"{p}-{a}-{b}-{c}", ""), st.sampled_from(["xoxb", "xoxp", "xoxa"]),
                       _chars(string.digits, 10, 13), _chars(string.digits, 10, 13), _chars(ALNUM, 24, 24)),
    "bearer": st.builds(lambda h, s: (h, s, ""), st.sampled_from(["Authorization: Bearer ", "Bearer ",
                                                                   "authorization: bearer "]),
                        _chars(ALNUM + "._-", 24, 80)),
    # A strong flag name masks any value; a weak one (--token: also `--token /run/secrets/gh`) any value but a
    # placeholder, a short one or a file (a path, or a name with an extension: `--token=0000.CSV`), so its secrets
    # here do not start like a path nor end like a file name.
    "password_flag": st.builds(lambda f, s: (f, s, ""), st.sampled_from(["--password=", "--password ", "--passwd=",
                                                                         "--api-key=", "--secret="]),
                               _chars(ALNUM + "!#$%*+,-./:=?@^_~", 8, 30)),
    "token_flag": st.builds(lambda f, s: (f, s, ""), st.just("--token="),
                            _chars(ALNUM + "!#$%*+,-.:=?@^_~", 8, 30).filter(
                                lambda v: not re.search(r"\.[A-Za-z]{2,4}$", v))),
    "password_env": st.builds(lambda k, sep, s: (k + sep, s, ""),
                              st.sampled_from(["PASSWORD", "DB_PASSWORD", "PGPASSWORD", "API_KEY", "OPENAI_API_KEY",
                                               "SECRET_KEY", "AUTH_TOKEN", "password"]),
                              st.sampled_from(["=", ": "]), _chars(ALNUM + "!#$%*+,-./:?@^_~", 8, 30)),
    "email": st.builds(lambda u, d, tld: ("", f"{u}@{d}.{tld}", ""),
                       _chars(string.ascii_lowercase + string.digits + "._+-", 1, 20).filter(
                           lambda u: u[0] not in ".+-" and u[-1] not in ".+-"),
                       _chars(string.ascii_lowercase + string.digits, 2, 15),
                       st.sampled_from(["com", "org", "io", "co.uk", "dev"])),
    "private_key": st.builds(lambda kind, body, tail: (f"-----BEGIN {kind}PRIVATE KEY-----\n", body, tail),
                             st.sampled_from(["RSA ", "EC ", "OPENSSH ", ""]),
                             _chars(string.ascii_letters + string.digits + "+/", 64, 400),
                             st.sampled_from(["\n-----END RSA PRIVATE KEY-----", "...", ""])),
    "db_url": st.builds(lambda scheme, user, pw, host: (f"{scheme}://{user}:", pw, f"@{host}/app"),
                        st.sampled_from(["postgres", "postgresql", "mysql", "redis", "mongodb+srv", "https"]),
                        _chars(string.ascii_lowercase + string.digits + "_", 1, 12),
                        _chars(ALNUM + "!$%*+-.=^_~", 8, 30), st.sampled_from(["db.internal:5432", "localhost"])),
}

# Realistic surroundings: shell commands, error output, prose (some of it not ASCII); a delimiter separates
# them from the secret. In a JSON text the newline and tab become escapes (\\n, \\t) that touch the secret.
FILLER = _chars(ALNUM + " ._,:/()[]{}<>#=-+\n\t\u00a0ñéü€日", 0, 40)
LEFT = ("\u00a0", " ", "\n", "'", '"', "(", "=", ": ", " -H '", "\t", "\r\n")
RIGHT = st.sampled_from([" ", "\n", "'", '"', ")", ";", " && ", " | ", ",", "\t"])


@st.composite
def texts_with_a_secret(draw, json_text: bool = False):
    kind = draw(st.sampled_from(sorted(SECRET_SHAPES)))
    head, secret, tail = draw(SECRET_SHAPES[kind])
    before = draw(FILLER) + draw(st.sampled_from(LEFT)) + head
    after = tail + (draw(RIGHT) + draw(FILLER) if draw(st.booleans()) else "")  # or the text ends there
    # Only the secret may carry it: no window of the secret occurs elsewhere in the text by chance.
    assume(survives(secret, before + "\0" + after) is None)
    return kind, before + secret + after, secret


def survives(secret: str, masked: str, window: int = 8) -> str | None:
    """A run of ``window`` characters of ``secret`` that is still in ``masked``, if any."""
    if len(secret) < window:
        return secret if secret in masked else None
    for i in range(len(secret) - window + 1):
        if secret[i:i + window] in masked:
            return secret[i:i + window]
    return None


@settings(max_examples=400, deadline=None)
@given(texts_with_a_secret())
def test_no_secret_survives_masking(case):
    kind, text, secret = case
    masked, n = mask(text)
    note(f"{kind}: {text!r} -> {masked!r}")
    assert survives(secret, masked) is None
    assert n >= 1


@settings(max_examples=300, deadline=None)
@given(st.lists(texts_with_a_secret(json_text=True), min_size=1, max_size=3),
       st.sampled_from(["command", "content", "url"]))
def test_masked_json_stays_valid_json(cases, key):
    for (_, _, secret), (_, other, _) in itertools.permutations(cases, 2):
        assume(survives(secret, other) is None)
    params = {"description": "run it", key: " ".join(text for _, text, _ in cases), "timeout": 120000}
    for ensure_ascii in (True, False):
        text = json.dumps(params, ensure_ascii=ensure_ascii)
        masked, _ = mask(text)
        note(f"{text!r} -> {masked!r}")
        decoded = json.loads(masked)
        assert set(decoded) == set(params)
        for _, _, secret in cases:
            assert survives(secret, masked) is None
            assert survives(secret, decoded[key]) is None


@settings(max_examples=100, deadline=None)
@given(_chars(ALNUM + " ._,:/()[]{}#=+-\n", 0, 200))
def test_text_without_secrets_is_left_alone(text):
    assume(not re.search(r"(?i)key|token|secret|pass|pwd|credential|auth|bearer|basic|sk-|gh[pousr]_|akia|asia|xox"
                         r"|aiza|eyj|://|@|mysql|\$2", text))
    assert mask(text) == (text, 0)


GHP = "ghp_" + "A1" * 18
JSON_ESCAPE_CASES = {
    # mask() runs on the JSON text of the parameters (sync.call_row), where a newline or tab is an escape whose
    # letter touches what follows: "\\nghp_…" has no word boundary before "ghp_", and an e-mail match must not
    # start at the escape letter (that leaves a lone backslash: invalid JSON).
    "newline-then-github-token": (f'printf "line1\n{GHP}" > token.txt', GHP),
    "tab-then-aws-key": ("cat creds\n\tAKIAABCDEFGHIJ234567", "AKIAABCDEFGHIJ234567"),
    "newline-then-openai-key": ("cat .env.example\nsk-proj-" + "a1" * 12, "sk-proj-" + "a1" * 12),
    "newline-then-email": ("git log --format=%ae -1\nbob@example.com", "bob@example.com"),
    "crlf-then-bearer": ("curl -H @headers\r\nBearer abcdef0123456789abcdef", "abcdef0123456789abcdef"),
}
JSON_ESCAPE_REGRESSIONS = {
    # The bot's json.dumps escapes non-ASCII (ensure_ascii): a no-break space pasted before a secret becomes
    # \u00a0, whose last hex digit touches the secret, so neither the token rules nor the e-mail rule start there.
    "nbsp-then-github-token": ("export GH_TOKEN_FILE=x; echo token:\u00a0" + GHP, GHP),
    "nbsp-then-email": ("envía el informe a:\u00a0bob@example.com", "bob@example.com"),
    "nbsp-then-aws-key": ("aws key\u00a0AKIAABCDEFGHIJ234567", "AKIAABCDEFGHIJ234567"),
    # The command-line flag rule has its own look-behind, not the escape-aware one the token rules got: a
    # continued line ("\\" newline) that starts with --password VALUE keeps VALUE.
    "continued-line-then-password-flag": ("docker login registry.example.com -u bot \\\n--password hunter2hunter2",
                                          "hunter2hunter2"),
}


def _masked_value(value: str, ensure_ascii: bool) -> str:
    masked, _ = mask(json.dumps({"command": value}, ensure_ascii=ensure_ascii))
    return json.loads(masked)["command"]


@pytest.mark.parametrize("case", sorted(JSON_ESCAPE_CASES))
def test_secrets_right_after_a_json_escape_are_masked(case):
    value, secret = JSON_ESCAPE_CASES[case]
    for ensure_ascii in (True, False):
        assert survives(secret, _masked_value(value, ensure_ascii)) is None


@pytest.mark.parametrize("case", sorted(JSON_ESCAPE_REGRESSIONS))
def test_masking_after_a_json_escape_regressions(case):
    value, secret = JSON_ESCAPE_REGRESSIONS[case]
    assert survives(secret, _masked_value(value, ensure_ascii=True)) is None  # the bot's json.dumps


# ============================================================================================================
# 4. Cost arithmetic
# ============================================================================================================


@lru_cache(maxsize=1)
def book() -> PriceBook:
    return PriceBook.load()


def _model_ids() -> list[str]:
    return sorted({r["model_id"] for r in book().price_rows})


def _aliases() -> list[str]:
    return sorted({r["alias"] for r in book().alias_rows})


DAYS = st.dates(min_value=datetime(2023, 1, 1).date(), max_value=datetime(2027, 12, 31).date()).map(
    lambda d: d.isoformat())
TOKENS = st.tuples(*[st.integers(0, 50_000_000)] * 4)


@settings(max_examples=200, deadline=None)
@given(st.sampled_from(_model_ids()), DAYS, TOKENS, TOKENS, st.integers(0, 1000))
def test_cost_is_additive_linear_and_never_negative(model_id, day, a, b, k):
    cost = book().cost
    ca, cb = cost(model_id, day, *a), cost(model_id, day, *b)
    both = cost(model_id, day, *(x + y for x, y in zip(a, b)))
    assert ca is not None and cb is not None and both is not None
    assert ca >= 0 and cb >= 0
    assert both == pytest.approx(ca + cb, rel=1e-9, abs=1e-12)
    assert cost(model_id, day, *(k * x for x in a)) == pytest.approx(k * ca, rel=1e-9, abs=1e-12)
    assert cost(model_id, day, 0, 0, 0, 0) == 0
    assert cost(model_id, day, None, None, None, None) == 0
    # Each token kind is priced on its own: the cost is the sum of the per-kind costs.
    parts = [cost(model_id, day, *(x if i == j else 0 for j, x in enumerate(a))) for i in range(4)]
    assert sum(parts) == pytest.approx(ca, rel=1e-9, abs=1e-12)
    # Cache reads never cost more than input, and output never less (Anthropic's price structure).
    price = book().price(model_id, day)
    assert price.cache_read <= price.input <= price.output


@settings(max_examples=100, deadline=None)
@given(st.text(alphabet=string.ascii_letters + string.digits + "-._", min_size=1, max_size=30), DAYS, TOKENS)
def test_unknown_models_are_unpriced_not_free(name, day, tokens):
    assume(name not in _model_ids() and name not in _aliases())
    assert book().resolve(name, day) is None
    assert book().cost(name, day, *tokens) is None
    assert book().cost(None, day, *tokens) is None
    assert book().cost(book().resolve(name, day), day, *tokens) is None


@settings(max_examples=200, deadline=None)
@given(st.sampled_from(_aliases()), DAYS, DAYS)
def test_alias_resolution_is_monotone_in_date(alias, d1, d2):
    d1, d2 = sorted((d1, d2))
    rows = sorted((r["effective_from"], r["model_id"]) for r in book().alias_rows if r["alias"] == alias)
    dates = [d for d, _ in rows]

    def row_index(day):  # the alias row in force on ``day`` (reference implementation), -1 before the first
        return max((i for i, d in enumerate(dates) if d <= day), default=-1)

    i1, i2 = row_index(d1), row_index(d2)
    assert i1 <= i2
    r1, r2 = book().resolve(alias, d1), book().resolve(alias, d2)
    assert r1 == (rows[i1][1] if i1 >= 0 else None)
    assert r2 == (rows[i2][1] if i2 >= 0 else None)
    if i1 == i2:
        assert r1 == r2
    # A full UTC timestamp resolves like its date, and every resolved model has a price.
    assert book().resolve(alias, d2 + "T23:59:59.999999+00:00") == r2
    if r2 is not None:
        assert book().price(r2, d2) is not None
