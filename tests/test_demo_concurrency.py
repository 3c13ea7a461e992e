"""The demo with concurrency (``write_demo(concurrency=True)``, ``demo --concurrency``): concurrent tasks, parallel
batches, parallel sub-agents, gate-blocked commits, server changes mid-call and crossed rows, each present, and
the sync exact against the demo's truth (bot-data.md §3.1, §8).

Expected figures come from the demo's truth file (its calls and their rows by role), counted here with ``json``
alone; never from the code under test.
"""

from __future__ import annotations

import collections
import json
from datetime import datetime
from pathlib import Path

import pytest
from click.testing import CliRunner

from amiga_analytics.cli import cli
from amiga_analytics.demo import write_demo
from amiga_analytics.load.merge import CallMerger
from amiga_analytics.sync import sync
from amiga_analytics.timeutil import TimeConverter
from dbquery import TOKENS_BY_TOOL_SQL, linked_groups, q, truth_tokens_by_tool

TZ = "Europe/Madrid"
ROW_SQL = """SELECT id, timestamp, task_id, tool_name, parameters, success, error, error_category, input_tokens,
    output_tokens, cache_creation_tokens, cache_read_tokens FROM tool_usage ORDER BY id"""


def _demo(tmp_path_factory, name: str, **kwargs):
    path = tmp_path_factory.mktemp(name) / "demo-bot.db"
    result = write_demo(path, concurrency=True, **kwargs)
    return path, result, json.loads(Path(f"{path}.truth.json").read_text())


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    """Three busy days on a Madrid host (the last one the end of summer time), 5,000 calls."""
    return _demo(tmp_path_factory, "conc", days=3, seed=7, tz=TZ, calls=5000)


@pytest.fixture(scope="module")
def synced(demo, tmp_path_factory) -> Path:
    db = tmp_path_factory.mktemp("conc-sync") / "analytics.db"
    sync(demo[0], db, source_tz=TZ)
    return db


def merged_calls(path: Path, tz: str) -> list:
    rows = q(path, ROW_SQL)
    merger = CallMerger(window_missed=TimeConverter(tz, tz).bot_window_missed)
    return [c for r in rows for c in merger.feed(r)] + merger.finish()


def own_rows(call: dict) -> set[int]:
    """The rows a truth call inserted itself (its U may be another call's row)."""
    return {v for k, v in call["rows"].items() if k in "ABDC"}


# -- the patterns are there -----------------------------------------------------------------------------------


def _overlapping_tasks(truth: dict) -> int:
    """The most bot tasks with a call in flight at one instant (from the truth's call spans)."""
    spans: dict[str, list] = {}
    tasks = {t["task_id"] for t in truth["tasks"]}
    for c in truth["calls"]:
        if c["task_id"] in tasks and c["end"]:
            s, e = datetime.fromisoformat(c["start"]), datetime.fromisoformat(c["end"])
            span = spans.setdefault(c["task_id"], [s, e])
            span[0], span[1] = min(span[0], s), max(span[1], e)
    edges = sorted([(s, 1) for s, _ in spans.values()] + [(e, -1) for _, e in spans.values()])
    most = running = 0
    for _, step in edges:
        running += step
        most = max(most, running)
    return most


def test_each_pattern_occurs(demo):
    path, result, truth = demo
    calls = truth["calls"]
    assert len(calls) == result.calls == 5000 - len(truth["notes"]["invisible_calls"])
    roles = collections.Counter("".join(sorted(c["rows"])) for c in calls)
    gated = [c for c in calls if c["gate_blocked"]]
    assert len(gated) >= 10 and not any(c["rows"].keys() & {"A", "B"} for c in gated)  # no pre row, no copy
    assert sum(set(c["rows"]) == {"C", "D"} for c in gated) >= 10  # a D and, 1 ms later, a C
    assert roles["ACU"] + roles["ABU"] >= 4  # server came back (A updated + C, no B) or went down (no C) mid-call
    assert sum(c["server_change"] for c in calls) >= 4
    crossed = [c for c in calls if c["crossed"]]
    assert len(crossed) >= 50 and all("U" in c["rows"] or c["outcome"] == "unknown" or "A" in c["rows"]
                                      for c in crossed)
    assert sum(c["rows"].get("U") not in own_rows(c) for c in crossed if "U" in c["rows"]) >= 25
    batches = collections.Counter(c["batch"] for c in calls if c["batch"] is not None)
    assert sum(n >= 2 for n in batches.values()) >= 100
    parallel_tasks = collections.Counter(c["batch"] for c in calls if c["tool"] == "Task" and c["batch"])
    assert sum(n >= 2 for n in parallel_tasks.values()) >= 10
    assert sum(c["agent"] == "sub" for c in calls) >= 500
    assert _overlapping_tasks(truth) >= 4
    ids = sorted(r for c in calls for r in own_rows(c))
    assert ids == list(range(1, result.tool_usage_rows + 1))  # every row belongs to exactly one call


def test_rows_are_what_the_truth_says(demo):
    """Each call's own rows carry its task, tool and parameters; U and D carry its outcome; C has no tokens."""
    path, _, truth = demo
    rows = {r[0]: r for r in q(path, ROW_SQL)}
    for c in truth["calls"]:
        for role, rid in c["rows"].items():
            row = rows[rid]
            assert (row[2], row[3]) == (c["task_id"], c["tool"])
            if role in "UD":
                assert row[5] == {"success": 1, "failure": 0}[c["outcome"]]
            if role == "C":
                assert row[5] in (0, 1) and row[8:] == (None, None, None, None)
        if c["rows"].keys() & {"A", "B"} and "U" not in c["rows"] and not c["crossed"]:
            assert all(rows[c["rows"][r]][5] is None for r in "AB" if r in c["rows"])


def test_same_seed_same_file_and_off_by_default(demo, tmp_path):
    path, _, _ = demo
    again = tmp_path / "again.db"
    write_demo(again, concurrency=True, days=3, seed=7, tz=TZ, calls=5000, transcripts=False)
    assert q(again, ROW_SQL) == q(path, ROW_SQL)
    plain = tmp_path / "plain.db"
    write_demo(plain, days=3, seed=7, tz=TZ, calls=5000, transcripts=False)
    assert "notes" not in json.loads(Path(f"{plain}.truth.json").read_text())
    assert q(plain, ROW_SQL) != q(path, ROW_SQL)


def test_the_transcripts_still_match_every_call(demo):
    """One tool_use per logical call at its start (parallel sub-agents' calls in their own sub-agent's file)."""
    _, result, truth = demo
    ttruth = json.loads(Path(f"{result.path}.transcripts.truth.json").read_text())
    indices = [u["truth_index"] for u in ttruth["tool_calls"]]
    assert sorted(indices) == list(range(len(truth["calls"])))  # each logical call once (no invisible call here)
    tokens_by_agent = collections.Counter()
    for r in ttruth["requests"]:
        tokens_by_agent[(r["session_id"], r["agent"])] += r["input"]
    parallel_subagents = 0
    for use in ttruth["tool_calls"]:
        call = truth["calls"][use["truth_index"]]
        assert (use["db_task_id"], use["tool"]) == (call["task_id"], call["tool"])
        if use["tool"] == "Task" and call["tokens"]:
            assert tokens_by_agent[(use["session_id"], use["agent_id"])] == call["tokens"]["input_tokens"]
            parallel_subagents += call["batch"] is not None
    assert parallel_subagents >= 10


# -- the sync is exact against the truth ----------------------------------------------------------------------

def test_calls_by_tool_and_outcome_equal_truth(demo, synced):
    want = collections.Counter((c["tool"], c["outcome"]) for c in demo[2]["calls"])
    got = {(t, o): n for t, o, n in q(synced, "SELECT tool_name, outcome, COUNT(*) FROM tool_calls GROUP BY 1, 2")}
    assert got == dict(want)


def test_tasks_by_status_equal_truth(demo, synced):
    want = collections.Counter(t["final"] for t in demo[2]["tasks"])
    assert dict(q(synced, "SELECT status, COUNT(*) FROM tasks GROUP BY 1")) == dict(want)


def test_token_sums_by_tool_equal_truth(demo, synced):
    got = {r[0]: [v or 0 for v in r[1:]] for r in q(synced, TOKENS_BY_TOOL_SQL)}  # an all-NULL SUM is NULL
    assert got == truth_tokens_by_tool(demo[2])


def test_every_truth_call_is_found_by_its_rows(demo):
    """Truth and merged calls linked by shared rows form groups of as many merged calls as truth calls, with the
    same tools and outcomes (a group of several: same-key calls in flight together, flagged ambiguous)."""
    path, _, truth = demo
    assert_found(merged_calls(path, TZ), truth["calls"])


def assert_found(merged: list, truth_calls: list[dict]) -> None:
    _, groups = linked_groups(merged, truth_calls, own_rows)
    for truth_ids, merged_ids in groups:
        assert len(truth_ids) == len(merged_ids), ([truth_calls[i]["rows"] for i in truth_ids],
                                                   [[r[0] for r in merged[i].rows] for i in merged_ids])
        want = sorted((truth_calls[i]["task_id"], truth_calls[i]["tool"], truth_calls[i]["outcome"]) for i in truth_ids)
        got = sorted((merged[i].rows[0][2], merged[i].rows[0][3], merged[i].outcome) for i in merged_ids)
        if got != want:
            assert all(merged[i].ambiguous for i in merged_ids), truth_ids
            assert any(truth_calls[i]["crossed"] for i in truth_ids), truth_ids


# The smallest row sequences the demo showed the merger getting wrong (rows as sources.TOOL_USAGE_SQL selects
# them); each expectation is what the bot's hooks did (bot-data.md §3.1, §8), worked by hand.

TASK = "abc123"
GREP = '{"pattern": "console.log", "path": "/w"}'
SNAPSHOT, EVALUATE = "mcp__playwright__browser_snapshot", "mcp__playwright__browser_evaluate"
EVAL_PARAMS = '{"function": "() => document.title"}'
GIT_LOG = '{"command": "git log --oneline -10", "description": "Look around"}'
READ, READ_PART = '{"file_path": "/w/base.yaml"}', '{"file_path": "/w/base.yaml", "offset": 950, "limit": 200}'
TASK_PARAMS = '{"subagent_type": "frontend_agent", "description": "Add dark mode", "prompt": "..."}'
FETCH = '{"url": "https://react.dev/reference/react/useEffect", "prompt": "Summarise"}'
TAIL = '{"command": "tail -n 50 logs/bot.log", "description": "Look around"}'
RM = '{"command": "rm -rf build dist", "description": "Clean the build"}'
STATUS, STATUS_LOOK = ('{"command": "git status", "description": "Check git status"}',
                       '{"command": "git status", "description": "Look around"}')


def _glob(i: int, clock: str) -> tuple:
    """A lone Glob call with the server down (one row, completed in place): evidence."""
    return _row(i, clock, "Glob", f'{{"pattern": "e{i}/*.py"}}', 1)


def _row(i: int, clock: str, tool: str, params: str, success=None, tokens=None) -> tuple:
    return (i, f"2025-10-24T{clock}", TASK, tool, params, success, None, None, tokens, None, None, None)


def _down(first_id: int, hour: int) -> list[tuple]:
    """Five lone Glob calls a minute apart with the server down: one row each, completed in place."""
    return [_row(first_id + i, f"{hour:02d}:0{i}:00.000100", "Glob", f'{{"pattern": "d{hour}{i}/*.py"}}', 1)
            for i in range(5)]


def _up_at(first_id: int, clock: str) -> list[tuple]:
    """One Glob call with the server up at ``clock`` (HH:MM:SS): A, B (updated in place), C."""
    p = f'{{"pattern": "v{first_id}/*.py"}}'
    return [_row(first_id, f"{clock}.000100", "Glob", p), _row(first_id + 1, f"{clock}.001300", "Glob", p, 1),
            _row(first_id + 2, f"{clock}.300000", "Glob", p, 1)]


def _up(first_id: int, hour: int) -> list[tuple]:
    """Three Glob calls with the server up: A, B (updated in place, 1.2 ms later), C."""
    rows = []
    for i in range(3):
        p, k = f'{{"pattern": "u{hour}{i}/*.py"}}', first_id + 3 * i
        rows += [_row(k, f"{hour:02d}:0{i}:00.000100", "Glob", p), _row(k + 1, f"{hour:02d}:0{i}:00.001300", "Glob", p, 1),
                 _row(k + 2, f"{hour:02d}:0{i}:00.300000", "Glob", p, 1)]
    return rows


MINIMAL = {
    # Server down before and after; a parallel batch greps the same pattern twice, 0.2 s apart, 25 min after the
    # last evidence; each post-hook completes a pre row in place (no copy, no C): two calls.
    "same-key pair, server down, quiet before": (
        _down(1, 8) + [_row(6, "08:30:00.100000", "Grep", GREP, 1), _row(7, "08:30:00.300000", "Grep", GREP, 1)]
        + _down(8, 9), {6: ("success", 1), 7: ("success", 1)}),
    # Server down: the first of two same-key calls never completes (interrupted), the second one's post-hook
    # updates the newest NULL row, its own: two calls, one unknown.
    "same-key pair, server down, first never completes": (
        _down(1, 8) + [_row(6, "08:10:00.100000", "Grep", GREP), _row(7, "08:10:00.150000", "Grep", GREP, 1)]
        + _down(8, 9), {6: ("unknown", 1), 7: ("success", 1)}),
    # A Task call starts with the server down (no copy), the server comes back, the post-hook updates A in place
    # and the server inserts C 16 ms later: one call of two rows.
    "server came back mid-call": (
        _down(1, 8) + [_row(6, "08:20:00.000000", "Task", TASK_PARAMS, 1, 16916),
                       _row(7, "08:22:00.016000", "Task", TASK_PARAMS, 1)] + _up(8, 9), {6: ("success", 2)}),
    # A Los Angeles evening (the update window misses), server down, from the demo (task 5b32da): a snapshot
    # call without parameters (no window: completed in place), an evaluate call (A, then its post-hook's D 0.35 s
    # later), another snapshot (in place): three calls; the A + D pair must not read as a server copy.
    "window missed, server down: A + D is no copy": (
        [_row(6, "18:56:47.085800", SNAPSHOT, None, 1), _row(7, "19:00:13.290775", EVALUATE, EVAL_PARAMS),
         _row(8, "19:00:13.637636", EVALUATE, EVAL_PARAMS, 1), _row(9, "19:00:18.375577", SNAPSHOT, None, 1)],
        {6: ("success", 1), 7: ("success", 2), 9: ("success", 1)}, "America/Los_Angeles"),
    # Server up, a parallel batch (from the 200,000-call demo): a Bash call, a Read of a file, then a Read of the
    # same file with offset/limit (same key, other text) that starts after the first ended but before its C:
    # A1 B1* A2 B2* C1 C2, each B updated in place. Three calls of three rows; C2 must not read as a lone call
    # (server down), which also cost the Bash call its C.
    "same key, other text, server up: A1 B1 A2 B2 C1 C2": (
        _up(1, 9) + [_row(20, "10:36:43.101267", "Bash", GIT_LOG), _row(21, "10:36:43.102144", "Bash", GIT_LOG, 1),
                     _row(22, "10:36:43.208323", "Read", READ), _row(23, "10:36:43.209302", "Read", READ, 1),
                     _row(24, "10:36:43.263378", "Read", READ_PART), _row(25, "10:36:43.264159", "Read", READ_PART, 1),
                     _row(26, "10:36:43.265958", "Read", READ, 1), _row(27, "10:36:43.608559", "Read", READ_PART, 1),
                     _row(28, "10:36:52.853746", "Bash", GIT_LOG, 1)],
        {20: ("success", 3), 22: ("success", 3), 24: ("success", 3)}),
    # Server up, a parallel batch (from the 200,000-call demo, seed 42, 60 days) runs one Bash command three
    # times: A1 B1 A2 B2 A3 B3, then the third call's post-hook takes the newest NULL row, B3, the first's the
    # next newest, A3, the second's B2; C3 C1 C2. A3 completed reads as a C until B3 (completed 2.6 ms after it)
    # shows that no post-hook updated A2: A3 and B3 are the third call's pre rows. Three calls of three rows.
    "three same-key calls, server up: A3 and B3 both completed": (
        _up(1, 9) + [_row(20, "09:05:37.871142", "Bash", TAIL), _row(21, "09:05:37.872731", "Bash", TAIL),
                     _row(22, "09:05:38.092115", "Bash", TAIL), _row(23, "09:05:38.093397", "Bash", TAIL, 1),
                     _row(24, "09:05:38.110718", "Bash", TAIL, 1), _row(25, "09:05:38.113326", "Bash", TAIL, 1),
                     _row(26, "09:05:39.327387", "Bash", TAIL, 1), _row(27, "09:05:39.525264", "Bash", TAIL, 1),
                     _row(28, "09:05:40.801980", "Bash", TAIL, 1)],
        {20: ("success", 3), 22: ("success", 3), 24: ("success", 3)}),
    # Server down (from the 200,000-call demo): `git status` completed in place, the same command never
    # completed, `git status` of another description (same key) completed in place, and `git status` again,
    # completed in place. The last row reads as a tentative C of the first call (the server back?) that says
    # its post-hook updated the third call's row; the evidence after it says the server was down: four calls,
    # and the third keeps its own outcome.
    "a refuted tentative C gives back the row it said was updated": (
        _down(1, 8) + [_row(10, "08:05:00.100000", "Bash", STATUS, 1), _glob(11, "08:06:00.000100"),
                       _row(12, "08:07:00.100000", "Bash", STATUS), _row(13, "08:08:00.100000", "Bash", STATUS_LOOK, 1),
                       _row(14, "08:09:00.100000", "Bash", STATUS, 1), _glob(15, "08:10:00.000100"),
                       _glob(16, "08:11:00.000100")],
        {10: ("success", 1), 12: ("unknown", 1), 13: ("success", 1), 14: ("success", 1)}),
    # Server up, a parallel batch (from the 200,000-call demo): a Read of a file ends (its post-hook updates B1),
    # a Read of the same file with offset/limit starts (A2), the first one's C comes 40 us after A2, then B2
    # (updated in place 1 ms later by the second post-hook) and C2. A2 is newer than B1 and stays NULL: the first
    # post-hook ran before it was written, and the row after it is C1. Two calls of three rows.
    "C1 just after a newer NULL pre row of the key: A1 B1* A2 C1 B2* C2": (
        _up(1, 10) + [_row(20, "10:29:28.913147", "Read", READ), _row(21, "10:29:28.914387", "Read", READ, 1),
                      _row(22, "10:29:28.995797", "Read", READ_PART), _row(23, "10:29:28.995837", "Read", READ, 1),
                      _row(24, "10:29:28.996629", "Read", READ_PART, 1),
                      _row(25, "10:29:29.293505", "Read", READ_PART, 1)],
        {20: ("success", 3), 22: ("success", 3)}),
    # Server down (from the 200,000-call demo): a parallel batch starts the same Task twice, 42 ms apart, each
    # completed in place with its tokens; the server comes back and each one's C comes (37 s and 84 s later),
    # the evidence between them saying the server is up. Two calls of two rows (whose C is whose, a guess).
    "two in-place calls, the server back: A1* A2* C C": (
        _down(1, 8) + [_row(10, "08:05:00.655550", "Task", TASK_PARAMS, 1, 15925),
                       _row(11, "08:05:00.697136", "Task", TASK_PARAMS, 1, 17072),
                       _row(12, "08:05:37.634098", "Task", TASK_PARAMS, 1),
                       _row(13, "08:05:56.000100", "Glob", '{"pattern": "u1/*.py"}'),
                       _row(14, "08:05:56.001300", "Glob", '{"pattern": "u1/*.py"}', 1),
                       _row(15, "08:05:56.300000", "Glob", '{"pattern": "u1/*.py"}', 1),
                       _row(16, "08:06:24.349409", "Task", TASK_PARAMS, 1)],
        {10: ("success", 2), 11: ("success", 2)}),
    # Server down (from the 200,000-call demo): a WebFetch completed in place, a minute later the same WebFetch
    # again, the server comes back during it and its C comes 7 s later, then calls with the server up. The
    # second row reads as the first call's tentative C until the third, which no call takes: the second row was
    # a call and the third its C (the other reading needs the server up at the second row, down at the third).
    "a later in-place call, not a tentative C: X*, Y* C(Y)": (
        _down(1, 8) + [_row(10, "08:05:00.272037", "WebFetch", FETCH, 1), _glob(11, "08:05:30.000100"),
                       _row(12, "08:06:02.785543", "WebFetch", FETCH, 1),
                       _row(13, "08:06:09.630680", "WebFetch", FETCH, 1),
                       _row(14, "08:06:22.000100", "Glob", '{"pattern": "u1/*.py"}'),
                       _row(15, "08:06:22.001300", "Glob", '{"pattern": "u1/*.py"}', 1),
                       _row(16, "08:06:22.300000", "Glob", '{"pattern": "u1/*.py"}', 1)] + _up(17, 9),
        {10: ("success", 1), 12: ("success", 2)}),
    # Server up (from the 200,000-call demo, seed 42): a Read starts (A, NULL), two other calls start 67 and 101 ms
    # later and are completed in place without the server's copy (the server went down: with it up, each one's
    # post-hook would have completed its copy), then a completed row of the Read's text 128 ms after A. A copy this
    # late would need the server up, down for both calls, up again: it is a second Read, completed in place, and
    # the first never completed. Two calls of one row.
    "no copy after calls without theirs: A, X*, Y*, A2*": (
        _up(1, 8) + [_row(10, "08:05:00.873431", "Read", READ), _glob(11, "08:05:00.940167"),
                     _glob(12, "08:05:00.974605"), _row(13, "08:05:01.001878", "Read", READ, 1)] + _down(14, 9),
        {10: ("unknown", 1), 13: ("success", 1)}),
    # The same, then (13 minutes later, the first Read still in flight for all the rows say) the server up, a call
    # completed in place without its copy 86 ms before a completed row of the Read's text: the server was down
    # again, so that row is no C of the first Read (whose post-hook would have updated the second's row): a third
    # Read, completed in place. Three calls of one row.
    "no C just after a call without its copy": (
        _up(1, 8) + [_row(10, "08:05:00.873431", "Read", READ), _glob(11, "08:05:00.940167"),
                     _glob(12, "08:05:00.974605"), _row(13, "08:05:01.001878", "Read", READ, 1)]
        + _up_at(14, "08:15:00") + [_glob(17, "08:18:54.623227"), _row(18, "08:18:54.709726", "Read", READ, 1)]
        + _down(19, 9),
        {10: ("unknown", 1), 13: ("success", 1), 18: ("success", 1)}),
    # Server down (from the 200,000-call demo, seed 7): one command run twice, 1.5 s apart (run together), each
    # completed in place; another call completed in place (the server still down); then two completed rows of the
    # command without tokens, 8 and 18 s later, and calls with the server up. The second row reads as the C of the
    # first call (the server back?) until the call after it refutes that: two calls, neither with its C yet. The
    # evidence after the two later rows says the server is up: they are the two calls' Cs (as for any C of an
    # in-place call, the first evidence after it decides). Two calls of two rows (whose C is whose, a guess).
    "two in-place calls, evidence of the server down, then both Cs: X1* X2* Y* C C": (
        _down(1, 8) + [_row(10, "08:05:00.159849", "Bash", RM, 1), _row(11, "08:05:01.681520", "Bash", RM, 1),
                       _glob(12, "08:05:10.714778"), _row(13, "08:05:18.010855", "Bash", RM, 1),
                       _row(14, "08:05:28.043190", "Bash", RM, 1)] + _up_at(15, "08:05:31") + _up(18, 9),
        {10: ("success", 2), 11: ("success", 2)}),
    # Server up, a parallel batch (from the 200,000-call demo, seed 7): a Read of a file (A1 B1), a Read of it with
    # offset/limit (same key, other text: A2' B2'), the first Read again (A3 B3), then two completions of the first
    # text (C, C). The second C's post-hook updated the newest NULL row: B3 (had B3 been taken, A3, newer than B2',
    # would be completed). So the first one's post-hook updated B2' before A3 was written. The Cs are those of the
    # two calls of their text; the offset/limit Read never completed (its row completed by the other post-hook).
    "a C's update moves to an older row: A1 B1 A2' B2'* A3 B3* C1 C3": (
        _up(1, 9) + [_row(20, "10:17:07.554114", "Read", READ), _row(21, "10:17:07.555044", "Read", READ),
                     _row(22, "10:17:07.667036", "Read", READ_PART), _row(23, "10:17:07.668408", "Read", READ_PART, 1),
                     _row(24, "10:17:07.733123", "Read", READ), _row(25, "10:17:07.735413", "Read", READ, 1),
                     _row(26, "10:17:07.744361", "Read", READ, 1), _row(27, "10:17:07.891170", "Read", READ, 1)]
        + _up_at(28, "10:17:30"),
        {20: ("success", 3), 22: ("unknown", 2), 24: ("success", 3)}),
    # Server up, a parallel batch (from the 200,000-call demo, seed 7): a Read fails (A1, B1 updated with failure),
    # the same Read again (A2), then three completed rows: a failure 0.5 ms after A2, a success 0.4 ms later, a
    # success 175 ms later. A C has the success of the row its post-hook updated (one post-hook writes both): the
    # completed pre rows would be B1 and the failure, both failures, for two successful Cs. So the failure is the
    # first call's C (it came between A2 and its copy) and the success after it the second call's copy. Two calls
    # of three rows, a failure and a success.
    "a C between a pre row and its copy: A1 B1(0) A2 C1(0) B2(1) C2(1)": (
        _up_at(1, "16:20:00") + [_row(20, "16:20:39.495747", "Read", READ), _row(21, "16:20:39.496596", "Read", READ, 0),
                                 _row(22, "16:20:39.715969", "Read", READ),
                                 _row(23, "16:20:39.716443", "Read", READ, 0),
                                 _row(24, "16:20:39.716832", "Read", READ, 1),
                                 _row(25, "16:20:39.891802", "Read", READ, 1)] + _up_at(26, "16:21:00"),
        {20: ("failure", 3), 22: ("success", 3)}),
    # Server down (from the 300,000-call demo): one Task started twice, 24 ms apart, both completed in place; the
    # server comes back, one C comes 2 min 22 s later, the other 2 min 8 s after it. The first C's post-hook
    # completed one of the rows, the other row the other call's post-hook, whose C is the second (a new call would
    # need the server down at its start and no copy: it is up). Two calls of two rows (whose C and row, a guess).
    "two in-place calls, the server back, Cs minutes apart: A1* A2* C ... C": (
        _down(1, 8) + [_row(10, "08:05:34.369461", "Task", TASK_PARAMS, 1, 6817),
                       _row(11, "08:05:34.393868", "Task", TASK_PARAMS, 1, 52380), _glob(12, "08:06:00.000100")]
        + _up_at(13, "08:07:20") + [_row(16, "08:07:56.341147", "Task", TASK_PARAMS, 1)] + _up_at(17, "08:09:00")
        + [_row(20, "08:10:04.471254", "Task", TASK_PARAMS, 1)] + _up_at(21, "08:10:30") + _up(24, 9),
        {10: ("success", 2), 11: ("success", 2)}),
}


@pytest.mark.parametrize("name", list(MINIMAL))
def test_merger_on_minimal_row_sequences(name):
    rows, want, *zone = MINIMAL[name]
    tz = zone[0] if zone else TZ
    merger = CallMerger(window_missed=TimeConverter(tz, tz).bot_window_missed)
    calls = [c for r in rows for c in merger.feed(r)] + merger.finish()
    pattern = {r[0] for r in rows if r[3] != "Glob"}  # the evidence around it is Glob calls
    got = {c.rows[0][0]: (c.outcome, c.source_rows) for c in calls if c.rows[0][0] in pattern}
    assert got == want
    evidence = {r[4] for r in rows if r[3] == "Glob"}  # one call per Glob pattern (one row down, three up)
    assert len(calls) == len(evidence) + len(want)


def test_merger_flags_a_lone_null_and_a_lone_completed_call_run_together():
    """Server down (from the 200,000-call demo): a Read of a file and, 25 ms later, a Read of it with offset/limit
    (same key), one row each, the second completed in place. The bot's rows cannot say whose post-hook completed
    the second row (the first call's, the newest NULL match, with the second never completing, or the second's
    own): two calls, the first unknown, both flagged ambiguous (their outcomes may be swapped)."""
    rows = _down(1, 8) + [_row(10, "08:10:00.622167", "Read", READ), _row(11, "08:10:00.647098", "Read", READ_PART, 1)]
    rows += _down(12, 9)
    merger = CallMerger(window_missed=TimeConverter(TZ, TZ).bot_window_missed)
    calls = {c.call_id: c for r in rows for c in merger.feed(r)} | {c.call_id: c for c in merger.finish()}
    assert [(calls[i].outcome, calls[i].source_rows, calls[i].ambiguous) for i in (10, 11)] == [
        ("unknown", 1, True), ("success", 1, True)]
    assert not any(c.ambiguous for i, c in calls.items() if i not in (10, 11))


def test_merger_flags_calls_split_from_two_tentative_cs():
    """Server down (from the 200,000-call demo, seed 7): two WebFetch calls of one text completed in place, and a
    minute later two more, 36 ms apart (a parallel batch), one a success, one a failure. Each later row first
    reads as a tentative C of an earlier call (the server back?); the evidence after says the server stayed
    down: four calls of one row. The later two ran together, so either post-hook may have completed either row
    (crossed): both flagged ambiguous."""
    rows = _down(1, 8) + [_row(10, "08:05:00.783340", "WebFetch", FETCH, 1),
                          _row(11, "08:05:00.822080", "WebFetch", FETCH, 1), _glob(12, "08:05:30.000100"),
                          _glob(13, "08:06:00.000100"), _row(14, "08:06:36.095358", "WebFetch", FETCH, 1),
                          _row(15, "08:06:36.131124", "WebFetch", FETCH, 0)] + _down(16, 9)
    merger = CallMerger(window_missed=TimeConverter(TZ, TZ).bot_window_missed)
    calls = {c.call_id: c for r in rows for c in merger.feed(r)} | {c.call_id: c for c in merger.finish()}
    assert [(calls[i].outcome, calls[i].source_rows) for i in (10, 11, 14, 15)] == [
        ("success", 1), ("success", 1), ("success", 1), ("failure", 1)]
    assert calls[14].ambiguous and calls[15].ambiguous


def test_merger_gives_a_crossed_call_the_row_its_post_hook_completed():
    """Server up at the start, down by the end (from the 200,000-call demo): two Task calls of one text start
    together (A1 B1 A2 B2); the first post-hook takes the newest NULL row, B2, the second the next newest, A2;
    no C. The second call's rows were both completed, the first one's stayed NULL: the first call did complete,
    with the other of them. Two calls of two rows, a failure and a success (whose is which, a guess: both
    ambiguous)."""
    rows = _up(1, 8) + [_row(20, "08:05:29.131115", "Task", TASK_PARAMS), _row(21, "08:05:29.132737", "Task", TASK_PARAMS),
                        _row(22, "08:05:29.256211", "Task", TASK_PARAMS, 0),
                        _row(23, "08:05:29.258886", "Task", TASK_PARAMS, 1, 11651),
                        _glob(24, "08:08:00.000100"), _glob(25, "08:09:00.000100")] + _down(26, 9)
    merger = CallMerger(window_missed=TimeConverter(TZ, TZ).bot_window_missed)
    calls = [c for r in rows for c in merger.feed(r)] + merger.finish()
    tasks = [c for c in calls if c.rows[0][3] == "Task"]
    assert sorted((c.call_id, c.source_rows, c.ambiguous) for c in tasks) == [(20, 2, True), (22, 2, True)]
    assert sorted(c.outcome for c in tasks) == ["failure", "success"]


def test_merger_gives_the_call_whose_row_a_c_claimed_the_other_row():
    """Server down (from the 300,000-call demo): one Task started twice, 55 ms apart, both completed in place with
    their tokens; the server comes back and one C comes, 2 min 21 s later. The C's post-hook completed one of the
    two rows; the other row needed a post-hook too: both calls ended, each with one of the rows (which one's C
    came, and which row each completed, the rows cannot say: both ambiguous). Two successes, of two rows and one,
    and each row's tokens counted once."""
    rows = _down(1, 8) + [_row(10, "08:05:09.703545", "Task", TASK_PARAMS, 1, 80978),
                          _row(11, "08:05:09.758513", "Task", TASK_PARAMS, 1, 17869), _glob(12, "08:06:00.000100")]
    rows += _up_at(13, "08:07:20") + [_row(16, "08:07:30.969546", "Task", TASK_PARAMS, 1)] + _up_at(17, "08:08:00")
    merger = CallMerger(window_missed=TimeConverter(TZ, TZ).bot_window_missed)
    calls = [c for r in rows + _up(20, 9) for c in merger.feed(r)] + merger.finish()
    tasks = [c for c in calls if c.rows[0][3] == "Task"]
    assert sorted((c.source_rows, c.outcome, c.ambiguous) for c in tasks) == [(1, "success", True), (2, "success", True)]
    assert sorted(c.result_row()[8] for c in tasks) == [17869, 80978]


def test_cli_flag(tmp_path):
    path = tmp_path / "d.db"
    out = CliRunner().invoke(cli, ["demo", str(path), "--calls", "300", "--days", "2", "--concurrency",
                                   "--no-transcripts"])
    assert out.exit_code == 0, out.output
    assert json.loads(Path(f"{path}.truth.json").read_text())["generator"]["concurrency"] is True
