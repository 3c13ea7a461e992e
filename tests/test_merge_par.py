"""The merger on a database the real bot wrote with concurrent tasks and parallel calls (sample_par.db, Europe/Berlin,
across the 2025-10-26 DST change): counts against its truth, every truth call found by its rows, and incremental
syncs cut anywhere equal to one full sync."""

from __future__ import annotations

import collections
import concurrent.futures
import json
import multiprocessing
import os
import shutil
import sqlite3
from datetime import datetime, timedelta, timezone
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from amiga_analytics.load.merge import CallMerger
from amiga_analytics.sync import sync
from amiga_analytics.timeutil import TimeConverter
from dbquery import TOKENS_BY_TOOL_SQL, linked_groups, truth_tokens_by_tool
from test_sync import _assert_same_analytics, q

FIXTURES = Path(__file__).parent / "fixtures"
PAR_DB = FIXTURES / "sample_par.db"
PAR_TRUTH = FIXTURES / "sample_par.truth.json"
ZONE = "Europe/Berlin"
ROW_SQL = """SELECT id, timestamp, task_id, tool_name, parameters, success, error, error_category, input_tokens,
    output_tokens, cache_creation_tokens, cache_read_tokens FROM tool_usage ORDER BY id"""


@pytest.fixture(scope="module")
def par_truth() -> dict:
    return json.loads(PAR_TRUTH.read_text())


@pytest.fixture(scope="module")
def par_analytics(tmp_path_factory) -> Path:
    work = tmp_path_factory.mktemp("par")
    bot = work / "agentlab.db"
    shutil.copyfile(PAR_DB, bot)
    out = work / "analytics.db"
    sync(bot, out, source_tz=ZONE)
    return out


@pytest.fixture(scope="module")
def merged() -> list:
    conn = sqlite3.connect(f"file:{PAR_DB}?mode=ro", uri=True)
    rows = conn.execute(ROW_SQL).fetchall()
    conn.close()
    conv = TimeConverter(ZONE, ZONE)
    merger = CallMerger(window_missed=conv.bot_window_missed)
    calls = [c for r in rows for c in merger.feed(r)] + merger.finish()
    return calls


def own_rows(call: dict) -> set[int]:
    """The rows a truth call inserted itself (its U may be another call's row)."""
    return {v for k, v in call["rows"].items() if k in "ABDC"}


# --- counts against the truth --------------------------------------------------------------------------------


def test_calls_by_tool_and_outcome_equal_truth(par_analytics, par_truth):
    want = collections.Counter((c["tool"], c["outcome"]) for c in par_truth["calls"])
    got = dict(((t, o), n) for t, o, n in q(par_analytics, "SELECT tool_name, outcome, COUNT(*) FROM tool_calls GROUP BY 1, 2"))
    assert got == dict(want)
    assert sum(got.values()) == 1301


def test_calls_per_task_and_outcome_equal_truth(par_analytics, par_truth):
    want = collections.Counter((c["task_id"], c["tool"], c["outcome"]) for c in par_truth["calls"])
    got = {(s, t, o): n for s, t, o, n in q(par_analytics, """
        SELECT source_id, tool_name, outcome, COUNT(*) FROM tool_calls GROUP BY 1, 2, 3""")}
    assert got == dict(want)


def test_tasks_by_status_equal_truth(par_analytics, par_truth):
    want = collections.Counter(t["final"] for t in par_truth["tasks"])
    assert dict(q(par_analytics, "SELECT status, COUNT(*) FROM tasks GROUP BY 1")) == dict(want)


def test_token_sums_by_tool_equal_truth(par_analytics, par_truth):
    got = {r[0]: list(r[1:]) for r in q(par_analytics, TOKENS_BY_TOOL_SQL)}
    assert got == truth_tokens_by_tool(par_truth)
    assert q(par_analytics, "SELECT COUNT(*) FROM tool_calls WHERE has_tokens") == [
        (sum(bool(c["tokens"]) for c in par_truth["calls"]),)]


def test_every_truth_call_is_found_by_its_rows(merged, par_truth):
    """Truth calls and merged calls linked by shared rows form groups: each group has as many merged calls as truth
    calls, with the same outcomes and tools. A group of one is the exact row set; a group of several (calls of one
    text in flight together, whose rows the bot cannot tell apart) must be flagged ambiguous."""
    truth_calls = par_truth["calls"]
    call_of_row, groups = linked_groups(merged, truth_calls, own_rows)
    assert sorted(call_of_row) == sorted(r for c in truth_calls for r in own_rows(c))  # every row once
    tangled = 0
    guessed_want, guessed_got = collections.Counter(), collections.Counter()
    for truth_ids, merged_ids in groups:
        assert len(truth_ids) == len(merged_ids), (truth_ids, [merged[i].call_id for i in merged_ids])
        want = sorted((truth_calls[i]["task_id"], truth_calls[i]["tool"], truth_calls[i]["outcome"]) for i in truth_ids)
        got = sorted((merged[i].rows[0][2], merged[i].rows[0][3], merged[i].outcome) for i in merged_ids)
        if len(truth_ids) == 1:
            assert {r[0] for r in merged[merged_ids[0]].rows} == own_rows(truth_calls[truth_ids[0]])
            if got != want:  # copy-less calls run together: the bot's in-place updates may have crossed
                assert merged[merged_ids[0]].ambiguous and truth_calls[truth_ids[0]]["crossed"], truth_ids
                guessed_want.update(want)
                guessed_got.update(got)
        else:
            assert got == want, truth_ids
            tangled += len(truth_ids)
            assert all(merged[i].ambiguous for i in merged_ids), truth_ids
            assert any(truth_calls[i]["crossed"] or truth_calls[i]["outcome"] == "unknown" for i in truth_ids)
    assert 0 < tangled <= par_truth["notes"]["crossed_calls"]
    assert guessed_got == guessed_want  # swapped between calls of one task and tool, never lost


def test_gate_refused_commits_are_one_call_each(merged, par_truth):
    gated = [c for c in par_truth["calls"] if c["gate_blocked"]]
    assert len(gated) == 5 and all(set(c["rows"]) == {"D", "C"} for c in gated)
    by_first = {c.call_id: c for c in merged}
    for c in gated:
        call = by_first[c["rows"]["D"]]
        assert call.source_rows == 2 and call.outcome == c["outcome"]


def test_data_quality_counts_the_ambiguous_calls(par_analytics, merged, par_truth):
    dq = dict(q(par_analytics, "SELECT check_name, value FROM data_quality"))
    assert dq["calls"] == len(par_truth["calls"])
    assert dq["bot_rows_read"] == 3632
    assert dq["calls_ambiguous_outcome"] == sum(c.ambiguous for c in merged)
    crossed_or_parallel = sum(c["crossed"] or c["batch"] is not None for c in par_truth["calls"])
    assert 0 < dq["calls_ambiguous_outcome"] <= crossed_or_parallel


# --- incremental = full at every cut ----------------------------------------------------------------------------


def _utc(naive: str, offset_hint: datetime | None, tz: ZoneInfo) -> datetime:
    """A naive local time as UTC; in a repeated hour the reading nearest the hint (rows are in time order)."""
    dt = datetime.fromisoformat(naive)
    first = dt.replace(tzinfo=tz, fold=0).astimezone(timezone.utc)
    second = dt.replace(tzinfo=tz, fold=1).astimezone(timezone.utc)
    if offset_hint is None or first == second:
        return first
    return second if abs(second - offset_hint) < abs(first - offset_hint) else first


class Timeline:
    """When the bot wrote each row and when its post-hooks updated pre rows, from the truth (UTC)."""

    def __init__(self, truth: dict):
        self.insert: dict[int, datetime] = {}
        self.updated: dict[int, datetime] = {}
        for c in truth["calls"]:
            start = datetime.fromisoformat(c["start_utc"])
            end = datetime.fromisoformat(c["end_utc"]) if c["end_utc"] else None
            for role, row in c["rows"].items():
                if role in "AB":
                    self.insert[row] = start
                elif role in "DC":
                    self.insert[row] = end
                elif role == "U":
                    self.updated[row] = end

    def cut_time(self, n: int, last_id: int) -> datetime:
        """The moment just before row ``n + 1`` was written."""
        if n >= last_id:
            return datetime.max.replace(tzinfo=timezone.utc)
        return self.insert[n + 1]


def state_at(timeline: Timeline, target: Path, n: int, last_id: int) -> None:
    """The bot database as it was just after row ``n`` of tool_usage: later rows of every table absent (by their
    time), rows the post-hooks updated later still NULL."""
    shutil.copyfile(PAR_DB, target)
    cut = timeline.cut_time(n, last_id)
    tz = ZoneInfo(ZONE)
    conn = sqlite3.connect(target)
    with conn:
        conn.execute("DELETE FROM tool_usage WHERE id > ?", (n,))
        later = [row for row, at in timeline.updated.items() if row <= n and at >= cut]
        conn.execute("""UPDATE tool_usage SET success = NULL, error = NULL, error_category = NULL, input_tokens = NULL,
                output_tokens = NULL, cache_creation_tokens = NULL, cache_read_tokens = NULL
            WHERE id IN (SELECT value FROM json_each(?))""", (json.dumps(later),))
        for table in ("agent_status", "messages"):
            hint, drop = None, None
            for row_id, ts in conn.execute(f"SELECT id, timestamp FROM {table} ORDER BY id").fetchall():
                hint = _utc(ts, hint, tz)
                if hint >= cut:
                    drop = row_id
                    break
            if drop is not None:
                conn.execute(f"DELETE FROM {table} WHERE id >= ?", (drop,))
        conn.execute("DELETE FROM tasks WHERE julianday(created_at) > julianday(?) + 1.0 / 24",
                     (cut.astimezone(tz).replace(tzinfo=None).isoformat() if cut.year < 9000 else "9999-01-01",))
    conn.close()


@pytest.fixture(scope="module")
def par_full(tmp_path_factory) -> Path:
    work = tmp_path_factory.mktemp("parfull")
    bot = work / "agentlab.db"
    shutil.copyfile(PAR_DB, bot)
    out = work / "full.db"
    sync(bot, out, source_tz=ZONE, full=True)
    return out


def _hard_windows(truth: dict) -> list[int]:
    """Row ids inside the places a cut is hardest: parallel batches where rows of one text crossed, a gate-refused
    commit, a retry of an interrupted call, the repeated hour of the DST change, a server change."""
    calls = truth["calls"]
    picks = set()
    crossed = [c for c in calls if c["crossed"] and "B" in c["rows"]]
    for c in crossed[:3] + crossed[-2:]:
        rows = sorted(c["rows"].values())
        picks.update(range(rows[0] - 1, rows[-1] + 2))
    gate = next(c for c in calls if c["gate_blocked"])
    picks.update(range(gate["rows"]["D"] - 1, gate["rows"]["C"] + 2))
    unknown = next(c for c in calls if c["outcome"] == "unknown" and "B" in c["rows"] and c["batch"])
    picks.update(range(unknown["rows"]["A"] - 1, unknown["rows"]["A"] + 6))
    fold = [i for i, c in enumerate(calls) if c["end"] and c["end"] < c["start"]]
    first = calls[fold[0]]
    picks.update(range(first["rows"]["A"] - 1, first["rows"]["A"] + 4))
    picks.update(range(first["rows"]["C"] - 3, first["rows"]["C"] + 3))
    return sorted(picks)


def _cut_and_compare(tmp_path: Path, timeline: Timeline, full: Path, n: int, last_id: int) -> str:
    bot = tmp_path / f"bot-{n}.db"
    out = tmp_path / f"inc-{n}.db"
    state_at(timeline, bot, n, last_id)
    sync(bot, out, source_tz=ZONE)
    shutil.copyfile(PAR_DB, bot)
    result = sync(bot, out, source_tz=ZONE)
    _assert_same_analytics(out, full, float_rel=1e-12)  # REAL sums may differ in the last digit: order
    out.unlink()
    bot.unlink()
    return result.mode


def test_incremental_equals_full_at_cuts_through_the_file(tmp_path, par_truth, par_full):
    """Cuts every 250 rows plus every row inside the hard windows (parallel batches, same text in flight twice,
    gate, retry, the repeated DST hour)."""
    timeline = Timeline(par_truth)
    last_id = 3632
    cuts = sorted(set(range(1, last_id, 250)) | set(_hard_windows(par_truth)))
    for n in cuts:
        mode = _cut_and_compare(tmp_path, timeline, par_full, n, last_id)
        assert mode == "incremental" or _old_row_completed_later(par_truth, timeline, n, last_id), n


def _old_row_completed_later(truth: dict, timeline: Timeline, n: int, last_id: int) -> bool:
    """Whether the bot, after the cut, completed a row written more than 10 minutes earlier by another call
    (in the repeated DST hour its post-hooks take the NULL rows of the first pass, whose local times read
    later): a call that was final changes, and the sync rightly rebuilds."""
    cut = timeline.cut_time(n, last_id)
    owner = {row: i for i, c in enumerate(truth["calls"]) for role, row in c["rows"].items() if role in "AB"}
    for i, c in enumerate(truth["calls"]):
        row = c["rows"].get("U")
        if row is None or row > n or owner.get(row) == i:
            continue
        if timeline.updated[row] >= cut and timeline.updated[row] - timeline.insert[row] > timedelta(minutes=10):
            return True
    return False


def _walk_cuts(work: str, full: str, cuts: list[int]) -> int:
    """One worker's share of the every-cut walk (a separate process: the walk is CPU-bound)."""
    timeline = Timeline(json.loads(PAR_TRUTH.read_text()))
    for n in cuts:
        _cut_and_compare(Path(work), timeline, Path(full), n, 3632)
    return len(cuts)


@pytest.mark.slow
def test_incremental_equals_full_at_every_cut(tmp_path, par_full):
    """Every one of the 3,632 cuts, shared among the machine's cores (a fresh forkserver process per worker, so
    no thread or connection of earlier tests is inherited); a failing cut raises its AssertionError here."""
    workers = max(1, min(4, os.cpu_count() or 1))
    shares = [list(range(1 + i, 3633, workers * 8)) for i in range(workers * 8)]
    context = multiprocessing.get_context("forkserver")
    with concurrent.futures.ProcessPoolExecutor(max_workers=workers, mp_context=context) as pool:
        done = pool.map(_walk_cuts, [str(tmp_path)] * len(shares), [str(par_full)] * len(shares), shares)
        assert sum(done) == 3632


def test_the_cut_state_is_what_the_bot_had_written(tmp_path, par_truth):
    """The cut reverts exactly the updates made after it (checked on a cut inside a crossed batch)."""
    timeline = Timeline(par_truth)
    crossed = next(c for c in par_truth["calls"] if c["crossed"] and "C" in c["rows"])
    n = crossed["rows"]["B"]
    bot = tmp_path / "bot.db"
    state_at(timeline, bot, n, 3632)
    rows = dict(q(bot, "SELECT id, success FROM tool_usage"))
    assert max(rows) == n
    assert rows[crossed["rows"]["A"]] is None and rows[crossed["rows"]["B"]] is None  # its post-hook came later
    assert timedelta(0) < timeline.updated[crossed["rows"]["U"]] - timeline.insert[n]
