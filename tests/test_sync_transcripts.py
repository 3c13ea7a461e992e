"""sync with --transcripts on sample_par: the transcripts as the second witness of the bot's calls.

Expected figures come from tests/fixtures/sample_par.transcripts.truth.json and sample_par.truth.json, and the costs
are hand-computed here from Anthropic's list prices (typed in below), never from the code under test.

Which assertions depend on the concurrency merger (issue 12): the current merger makes 1,438 calls of the truth's
1,301 and folds one truth call's pre-hook row into another call. Every assertion here holds with it (a truth call
is matched to the call that holds its own first row, or to one that holds another of its own rows where the
merger left it no call of its own); :func:`test_exact_merger_leaves_no_bot_call_without_tool_use` states what an
exact merger gives and is expected to fail until it lands.
"""

from __future__ import annotations

import json
import shutil
import sqlite3
from collections import defaultdict
from datetime import datetime
from pathlib import Path

import pytest
from click.testing import CliRunner

import amiga_analytics as aa
from amiga_analytics.cli import cli

FIXTURES = Path(__file__).parent / "fixtures"
BOT_DB = FIXTURES / "sample_par.db"
CLAUDE_DIR = FIXTURES / "sample_par.claude"
TTRUTH = json.loads((FIXTURES / "sample_par.transcripts.truth.json").read_text())
TRUTH = json.loads((FIXTURES / "sample_par.truth.json").read_text())

PRICES = {  # USD per million tokens, from https://platform.claude.com/docs/en/about-claude/pricing:
    # input, output, 5-minute cache write, 1-hour cache write, cache read
    "claude-sonnet-4-5-20250929": (3.00, 15.00, 3.75, 6.00, 0.30),
    "claude-opus-4-20250514": (15.00, 75.00, 18.75, 30.00, 1.50),
    "claude-opus-4-1-20250805": (15.00, 75.00, 18.75, 30.00, 1.50),
    "claude-haiku-4-5-20251001": (1.00, 5.00, 1.25, 2.00, 0.10),
}
# Sonnet 4.5 long context: a request whose whole input exceeds 200,000 tokens pays these on all its tokens.
LONG = {"claude-sonnet-4-5-20250929": (200_000, (6.00, 22.50, 7.50, 12.00, 0.60))}
FIELDS = ("input", "output", "cache_write_5m", "cache_write_1h", "cache_read")
TABLES = ("api_requests", "tool_uses", "tool_calls", "tool_daily", "tasks")


def hand_cost(req: dict) -> float:
    prices = PRICES[req["model"]]
    threshold, tier = LONG.get(req["model"], (None, None))
    if threshold is not None and req["input"] + req["cache_write_5m"] + req["cache_write_1h"] + req["cache_read"] > threshold:
        prices = tier
    return sum(req[f] * p for f, p in zip(FIELDS, prices)) / 1_000_000


def do_sync(db: Path, *dirs: Path, report_tz: str = "UTC", full: bool = False):
    return aa.sync(BOT_DB, db, source_tz="Europe/Berlin", report_tz=report_tz, full=full, transcripts=list(dirs))


@pytest.fixture(scope="module")
def db(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("tsync") / "analytics.db"
    do_sync(path, CLAUDE_DIR)
    return path


def rows(db: Path, sql: str, params: dict | None = None) -> list[tuple]:
    conn = sqlite3.connect(db)
    try:
        return conn.execute(sql, params or {}).fetchall()
    finally:
        conn.close()


def ms(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


# ---------------------------------------------------------------------------------------------------------------
# API requests per model, day and task


SUMS = """COUNT(*), SUM(input_tokens), SUM(output_tokens), SUM(cache_write_5m_tokens), SUM(cache_write_1h_tokens),
       SUM(cache_read_tokens)"""


def truth_sums(s: dict) -> tuple:
    return (s["requests"], s["input"], s["output"], s["cache_write_5m"], s["cache_write_1h"], s["cache_read"])


@pytest.mark.parametrize("zone, key", [("UTC", "daily_utc"), ("Europe/Berlin", "daily_local")])
def test_requests_per_model_and_day_equal_the_truth(tmp_path, db, zone, key):
    path = db if zone == "UTC" else tmp_path / "local.db"
    if zone != "UTC":
        do_sync(path, CLAUDE_DIR, report_tz=zone)
    got = {(d, m): tuple(v) for d, m, *v in rows(path, f"SELECT day, model_id, {SUMS} FROM api_requests GROUP BY 1, 2")}
    want = {(d, m): truth_sums(s) for d, models in TTRUTH[key].items() for m, s in models.items()}
    assert got == want


def test_requests_per_task_and_cli_session_equal_the_truth(db):
    got = {t: tuple(v) for t, *v in rows(db, f"SELECT task_id, {SUMS} FROM api_requests WHERE task_id IS NOT NULL "
                                             "GROUP BY 1")}
    assert got == {t: truth_sums(s) for t, s in TTRUTH["tasks"].items()}
    cli_got = {s: tuple(v) for s, *v in rows(db, f"SELECT session_id, {SUMS} FROM api_requests WHERE task_id IS NULL "
                                                 "GROUP BY 1")}
    assert cli_got == {s: truth_sums(v) for s, v in TTRUTH["cli_sessions"].items()}


# ---------------------------------------------------------------------------------------------------------------
# The join


def own_rows(call: dict) -> list[int]:
    """The bot rows a truth call produced itself (U is a row its post-hook updated, maybe another call's)."""
    out = []
    for role, ids in call["rows"].items():
        if role != "U":
            out += ids if isinstance(ids, list) else [ids]
    return sorted(out)


@pytest.fixture(scope="module")
def joined(db) -> dict[str, tuple]:
    cols = "tool_use_id, call_id, witness, outcome, interrupted, tool_name, task_id, duration_ms, source_rows"
    return {r[0]: r for r in rows(db, f"SELECT {cols} FROM tool_calls WHERE tool_use_id IS NOT NULL")}


def test_every_truth_tool_use_is_matched_to_its_logical_call(db, joined):
    call_ids = {r[0] for r in rows(db, "SELECT call_id FROM tool_calls")}
    assert len(joined) == len(TTRUTH["tool_calls"]) == 1303
    for use in TTRUTH["tool_calls"]:
        _, call_id, witness, outcome, interrupted, tool, task_id, _, source_rows = joined[use["tool_use_id"]]
        assert (tool, task_id) == (use["tool"], use["task_id"])
        assert outcome == use["outcome"], use["tool_use_id"]
        assert interrupted == (use["result"] == "interrupted")
        if use["truth_index"] is None:  # the 2 calls that left no bot row
            assert (witness, source_rows) == ("transcript", 0) and call_id < 0
            continue
        own = own_rows(TRUTH["calls"][use["truth_index"]])
        assert witness == "both" and call_id in own, use["tool_use_id"]
        if own[0] in call_ids:  # the merger made a call of the truth call's first row: it is this one
            assert call_id == own[0], use["tool_use_id"]


def test_outcomes_come_from_the_transcripts_results(db):
    got = dict(rows(db, "SELECT outcome, COUNT(*) FROM tool_calls WHERE witness <> 'bot' GROUP BY 1"))
    want: dict = defaultdict(int)
    for use in TTRUTH["tool_calls"]:
        want[{"success": "success", "failure": "failure"}.get(use["result"], "unknown")] += 1
    assert got == dict(want) == {"success": 1165, "failure": 85, "unknown": 53}
    assert rows(db, "SELECT SUM(interrupted) FROM tool_calls")[0][0] == 51


def test_durations_within_a_millisecond_of_the_truth(joined):
    checked = 0
    for use in TTRUTH["tool_calls"]:
        duration = joined[use["tool_use_id"]][7]
        if use["result"] in ("success", "failure") and use["end"]:
            expected = (ms(use["end"]) - ms(use["start"])).total_seconds() * 1000
            assert duration == pytest.approx(expected, abs=1.0), use["tool_use_id"]
            checked += 1
        else:
            assert duration is None  # interrupted or no result: the call never completed
    assert checked == 1250


def test_matched_calls_store_the_bots_parameters_and_no_conversation(db):
    pairs = rows(db, """SELECT c.parameters, u.parameters FROM tool_calls c JOIN tool_uses u USING (tool_use_id)
                        WHERE c.witness = 'both'""")
    assert len(pairs) == 1301 and all(a == b for a, b in pairs)
    conn = sqlite3.connect(db)
    try:
        text = "\n".join(str(v) for table in TABLES for row in conn.execute(f"SELECT * FROM [{table}]") for v in row)
    finally:
        conn.close()
    for secret in TTRUTH["secrets_in_transcripts"]:
        assert secret not in text
    assert "[Request interrupted" not in text  # no tool result text is kept


# ---------------------------------------------------------------------------------------------------------------
# Cost


def test_task_cost_is_the_transcripts_cost_of_its_requests(db):
    expected: dict = defaultdict(float)
    for req in TTRUTH["requests"]:
        if req["task_id"] is not None:
            expected[req["task_id"]] += hand_cost(req)
    df = aa.task_cost(db, limit=None).set_index("task_id")
    for task_id, cost in expected.items():
        assert df.loc[task_id, "cost_usd"] == pytest.approx(cost, rel=1e-9)
        assert df.loc[task_id, "cost_transcript_usd"] == pytest.approx(cost, rel=1e-9)
        assert df.loc[task_id, "cost_bot_usd"] == 0.0


def test_tools_plus_turns_without_tools_is_the_total_to_the_cent(db):
    tools = sum(hand_cost(r) for r in TTRUTH["requests"] if r["kind"] == "tool_use")
    turns = sum(hand_cost(r) for r in TTRUTH["requests"] if r["kind"] != "tool_use")
    total = aa.tool_cost(db, by=None).iloc[0]
    assert total["cost_transcript_usd"] == pytest.approx(tools, rel=1e-9) and total["cost_bot_usd"] == 0.0
    assert total["cost_usd"] == pytest.approx(tools, rel=1e-9)
    cov = aa.transcript_coverage(db)
    assert cov["turns_without_tools_usd"].sum() == pytest.approx(turns, rel=1e-9)
    assert round(cov["tools_transcript_usd"].sum() + cov["turns_without_tools_usd"].sum(), 2) == round(tools + turns, 2)
    for day in cov.itertuples():
        assert round(day.tools_transcript_usd + day.turns_without_tools_usd, 2) == round(day.requests_usd, 2)
    by_tool = aa.tool_cost(db, by="tool_name")
    assert by_tool["cost_usd"].sum() == pytest.approx(tools, rel=1e-9)


def test_coverage_and_checks(db):
    cov = aa.transcript_coverage(db)
    assert list(cov["day"]) == sorted(TTRUTH["daily_utc"])
    assert (cov["coverage"] == 1.0).all()
    assert cov["calls_both"].sum() == 1301 and cov["calls_transcript_only"].sum() == 2
    assert cov["requests"].sum() == 876
    q = dict(zip(*[aa.data_quality(db)[c] for c in ("check_name", "value")]))
    assert q["transcript_requests"] == 876 and q["calls_seen_by_both"] == 1301 and q["calls_transcript_only"] == 2
    assert q["tool_uses_without_bot_call"] == 2 and q["tasks_missing_transcript"] == 0
    assert q["bot_rows_merged"] == 3632 - (q["calls"] - 2)  # the bot's 3,632 rows into its calls
    gaps = aa.transcript_gaps(db)
    invisible = {u["tool_use_id"] for u in TTRUTH["tool_calls"] if u["truth_index"] is None}
    assert set(gaps.loc[gaps["kind"] == "tool_use_without_bot_call", "tool_use_id"]) == invisible


def test_exact_merger_leaves_no_bot_call_without_tool_use(db):
    q = dict(zip(*[aa.data_quality(db)[c] for c in ("check_name", "value")]))
    assert q["bot_calls_without_tool_use"] == 0 and q["calls_bot_only"] == 0


def test_a_task_without_transcript_is_listed_and_keeps_the_bots_cost(tmp_path):
    copy = tmp_path / "claude"
    shutil.copytree(CLAUDE_DIR, copy)
    session = next(s for s in TTRUTH["sessions"] if s["kind"] == "task" and s["subagents"])
    for f in [session["file"]] + [a["file"] for a in session["subagents"]]:
        (copy / f).unlink()
    db = tmp_path / "a.db"
    do_sync(db, copy)
    gaps = aa.transcript_gaps(db)
    assert list(gaps.loc[gaps["kind"] == "task_without_transcript", "task_id"]) == [session["task_id"]]
    assert rows(db, "SELECT DISTINCT witness, cost_witness FROM tool_calls WHERE task_id = :t",
                {"t": session["task_id"]}) == [("bot", "bot")]
    text = aa.weekly_report(db, week="2025-W43").to_markdown()  # not every call has a transcript: a floor
    assert "(floor)" in text and "so the total is a floor too" in text


# ---------------------------------------------------------------------------------------------------------------
# Incremental syncs equal a full sync of what was ever seen


def dump(db: Path) -> dict[str, list]:
    """Every row of the transcript-touched tables, sorted; floats as :class:`Near` (sums taken in another order
    differ in the last bits)."""
    conn = sqlite3.connect(db)
    try:
        out = {}
        for table in TABLES:
            cur = conn.execute(f"SELECT * FROM [{table}]")
            names = [d[0] for d in cur.description]
            out[table] = [tuple(names)] + sorted(
                (tuple(Near(v) if isinstance(v, float) else v for v in r) for r in cur), key=repr)
        return out
    finally:
        conn.close()


class Near:
    """A float that equals another within 1e-9 relative (and sorts by its first 6 significant digits)."""

    def __init__(self, value: float):
        self.value = value

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Near) and other.value == pytest.approx(self.value, rel=1e-9, abs=1e-12)

    def __repr__(self) -> str:
        return f"{self.value:.6g}"


def test_appended_transcripts_synced_incrementally_equal_a_full_sync(tmp_path, db):
    copy = tmp_path / "claude"
    shutil.copytree(CLAUDE_DIR, copy)
    tails = {}
    for path in sorted(copy.rglob("*.jsonl")):
        data = path.read_bytes()
        path.write_bytes(data[: len(data) * 3 // 5])
        tails[path] = data[len(data) * 3 // 5:]
    inc = tmp_path / "inc.db"
    do_sync(inc, copy)
    for path, tail in tails.items():
        with path.open("ab") as fh:
            fh.write(tail)
    result = aa.sync(BOT_DB, inc, source_tz="Europe/Berlin", report_tz="UTC")  # the folder is remembered
    assert result.mode == "incremental"
    assert dump(inc) == dump(db)


def test_a_deleted_transcript_keeps_what_was_loaded_incremental_and_full(tmp_path, db):
    copy = tmp_path / "claude"
    shutil.copytree(CLAUDE_DIR, copy)
    kept = tmp_path / "kept.db"
    do_sync(kept, copy)
    session = next(s for s in TTRUTH["sessions"] if s["kind"] == "task" and s["subagents"])
    for f in [session["file"]] + [a["file"] for a in session["subagents"]]:
        (copy / f).unlink()
    assert do_sync(kept, copy).mode == "incremental"
    assert dump(kept) == dump(db)
    assert do_sync(kept, copy, full=True).mode == "full"
    assert dump(kept) == dump(db)


# ---------------------------------------------------------------------------------------------------------------
# Without transcripts, and the command line


def test_without_transcripts_every_call_is_the_bots(tmp_path):
    plain = tmp_path / "plain.db"
    aa.sync(BOT_DB, plain, source_tz="Europe/Berlin", report_tz="UTC")
    assert rows(plain, "SELECT DISTINCT witness, cost_witness FROM tool_calls") == [("bot", "bot")]
    total = aa.tool_cost(plain, by=None).iloc[0]
    assert total["cost_transcript_usd"] == 0.0 and total["cost_usd"] == total["cost_bot_usd"] > 0
    names = set(aa.data_quality(plain)["check_name"])
    assert "transcript_requests" not in names


def test_cli_sync_with_transcripts(tmp_path):
    out = tmp_path / "cli.db"
    res = CliRunner().invoke(cli, ["sync", str(BOT_DB), str(out), "--source-tz", "Europe/Berlin",
                                   "--report-tz", "UTC", "--transcripts", str(CLAUDE_DIR / "projects")])
    assert res.exit_code == 0, res.output
    assert "876 API requests" in res.output and "1,301 calls seen by both" in res.output
    bad = CliRunner().invoke(cli, ["sync", str(BOT_DB), str(tmp_path / "x.db"), "--transcripts",
                                   str(tmp_path / "nowhere")])
    assert bad.exit_code == 2 and "no such directory" in bad.output


def test_bot_rows_arriving_after_the_transcripts_equal_a_full_sync(tmp_path, db):
    early = tmp_path / "early_bot.db"
    shutil.copy(BOT_DB, early)
    conn = sqlite3.connect(early)
    with conn:  # the bot database as it was mid-week: later rows not written yet
        conn.execute("DELETE FROM tool_usage WHERE id > 2500")
        conn.execute("DELETE FROM agent_status WHERE id > 900")
    conn.close()
    inc = tmp_path / "inc.db"
    aa.sync(early, inc, source_tz="Europe/Berlin", report_tz="UTC", transcripts=[CLAUDE_DIR])
    assert rows(inc, "SELECT COUNT(*) FROM tool_calls WHERE witness = 'transcript'")[0][0] > 2
    result = aa.sync(BOT_DB, inc, source_tz="Europe/Berlin", report_tz="UTC")
    assert result.mode == "incremental", result.reason
    assert dump(inc) == dump(db)


def test_changed_prices_reprice_the_requests_as_a_full_sync_does(tmp_path, db):
    prices = tmp_path / "p.csv"
    prices.write_text("model_id,effective_from,input_usd_per_mtok,output_usd_per_mtok,cache_write_5m_usd_per_mtok,"
                      "cache_write_1h_usd_per_mtok,cache_read_usd_per_mtok,source\n"
                      "claude-sonnet-4-5-20250929,2025-10-22,4,20,5,8,0.4,test\n")
    inc = tmp_path / "inc.db"
    shutil.copy(db, inc)
    result = aa.sync(BOT_DB, inc, prices=prices)
    assert result.mode == "incremental" and "prices changed" in result.summary()
    fresh = tmp_path / "fresh.db"
    aa.sync(BOT_DB, fresh, source_tz="Europe/Berlin", report_tz="UTC", prices=prices, transcripts=[CLAUDE_DIR])
    assert dump(inc) == dump(fresh) != dump(db)
    # by hand: a Sonnet 4.5 request of 10-22 or later at the new base rates (no long context in the user's row)
    req = next(r for r in TTRUTH["requests"] if r["model"] == "claude-sonnet-4-5-20250929"
               and r["timestamp"] >= "2025-10-22" and r["input"] + r["cache_read"] + r["cache_write_1h"] < 200_000)
    want = (req["input"] * 4 + req["output"] * 20 + req["cache_write_5m"] * 5 + req["cache_write_1h"] * 8
            + req["cache_read"] * 0.4) / 1e6
    got = rows(inc, "SELECT cost_usd FROM api_requests WHERE message_id = :m", {"m": req["message_id"]})[0][0]
    assert got == pytest.approx(want, rel=1e-12)


def test_report_cost_is_the_bill_where_transcripts_cover_the_week(db):
    report = aa.weekly_report(db, week="2025-W43")
    router = sum(((m["tokens_input"] or 0) * 1.00 + (m["tokens_output"] or 0) * 5.00) / 1e6  # Haiku 4.5
                 for m in TRUTH["messages"] if m["tokens_input"] or m["tokens_output"])
    want = sum(hand_cost(r) for r in TTRUTH["requests"]) + router
    assert report.value("cost_usd") == pytest.approx(want, rel=1e-9)
    assert report.cost_per_day["cost_usd"].sum() == pytest.approx(want, rel=1e-9)
    assert report.transcripts["days_covered"] == report.transcripts["days"] == 7
    text = report.to_markdown()
    assert "(floor)" not in text and "this is the bill, not a floor" in text
    assert "876 API requests" in text and "1,301 calls were seen by both" in text
    assert "cost_transcript_usd" in report.cost_by_tool.columns


def test_the_tool_uses_page_reads_indexes_not_every_row(db):
    """m017: the view's tool_uses page sorts by use_at and counts tool_name and result facets; each reads an index
    (before, every page sorted and grouped all rows: 970 ms on the benchmark's 450,000 tool_uses)."""
    plans = {sql: " ".join(r[3] for r in rows(db, "EXPLAIN QUERY PLAN " + sql)) for sql in (
        "SELECT * FROM tool_uses ORDER BY use_at DESC LIMIT 101",
        "SELECT tool_name, count(*) FROM tool_uses GROUP BY tool_name",
        "SELECT result, count(*) FROM tool_uses GROUP BY result")}
    assert rows(db, "SELECT count(*) FROM tool_uses")[0][0] > 1000
    for sql, plan in plans.items():
        assert "USING" in plan and "TEMP B-TREE" not in plan, (sql, plan)


def test_the_carried_state_is_streamed_as_json_and_read_back(tmp_path, db):
    from amiga_analytics.load.transcripts.persist import carry_to_json

    (kind, value), = rows(db, "SELECT typeof(value), value FROM sync_state WHERE key = 'transcripts'")
    assert kind == "blob"  # written through SQLite's blob API, a piece at a time (load/state.py, JSONParts)
    stored = json.loads(value)
    memory = carry_to_json(aa.load.transcripts.read_transcripts(CLAUDE_DIR))
    assert stored["file_states"] == memory["file_states"] and len(stored["file_states"]) == TTRUTH["notes"]["files"]
    # Not the section names of the format before 2026-12: an older version given this store reads every file
    # again (it finds no file state) instead of failing on entries it cannot unpack.
    assert not stored.keys() & {"files", "file_index"}
    assert stored["session_cwd"] == memory["session_cwd"]
    # The next sync reads it back and, nothing being new, writes back the same state.
    copy = tmp_path / "a.db"
    shutil.copy(db, copy)
    again = do_sync(copy, CLAUDE_DIR)
    assert again.mode == "incremental"
    assert rows(copy, "SELECT COUNT(*) FROM api_requests") == rows(db, "SELECT COUNT(*) FROM api_requests")
    (value_again,), = rows(copy, "SELECT value FROM sync_state WHERE key = 'transcripts'")
    assert json.loads(value_again) == stored
