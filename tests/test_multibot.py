"""Several bots in one store (issue #18): the real bot's two samples loaded under two names, every query function
checked per bot against that sample's truth file and in total against the sum of the two truths; a bot added later
leaves the other's rows byte for byte; a store synced without --bot keeps working; bad input changes no file.

Expected figures come from the truth files (plain Python counting), never from the code under test.
"""

from __future__ import annotations

import collections
import hashlib
import json
import shutil
import sqlite3
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

import amiga_analytics as aa
from amiga_analytics.cli import cli
from amiga_analytics.errors import InputError
from amiga_analytics.store.bots_schema import BOT_KEYS
from amiga_analytics.sync import sync

FIXTURES = Path(__file__).parent / "fixtures"
# name → (bot database, truth file, the bot host's zone); both are reported in UTC, so that their days add up
SAMPLES = {
    "alpha": ("sample.db", "sample.truth.json", "UTC"),
    "beta": ("sample_par.db", "sample_par.truth.json", "Europe/Berlin"),
}


def _copy(tmp: Path, name: str) -> Path:
    target = tmp / f"{name}-agentlab.db"
    shutil.copyfile(FIXTURES / SAMPLES[name][0], target)
    return target


def _sync(bot_db: Path, store: Path, name: str | None, zone: str):
    return sync(bot_db, store, source_tz=zone, report_tz="UTC", bot=name)


@pytest.fixture(scope="module")
def truths() -> dict[str, dict]:
    return {name: json.loads((FIXTURES / truth).read_text()) for name, (_, truth, _) in SAMPLES.items()}


@pytest.fixture(scope="module")
def store(tmp_path_factory) -> dict:
    """alpha synced alone (its rows kept), then beta added: the shared store, and alpha's rows before beta came."""
    work = tmp_path_factory.mktemp("multibot")
    shared = work / "analytics.db"
    bots = {name: _copy(work, name) for name in SAMPLES}
    _sync(bots["alpha"], shared, "alpha", SAMPLES["alpha"][2])
    before = bot_rows(shared, "alpha")
    _sync(bots["beta"], shared, "beta", SAMPLES["beta"][2])
    return {"db": shared, "bots": bots, "alpha_before": before, "work": work}


def bot_rows(path: Path, bot: str) -> dict[str, list[tuple]]:
    """Every row of ``bot`` in every per-bot table, in primary-key order."""
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        return {table: conn.execute(f"SELECT * FROM {table} WHERE bot = ? ORDER BY {', '.join(key)}",
                                    (bot,)).fetchall() for table, key in BOT_KEYS.items()}
    finally:
        conn.close()


# --- the truth, counted by hand -------------------------------------------------------------------------------


def expected(truth: dict) -> dict:
    calls = truth["calls"]
    tokens = collections.Counter()
    for c in calls:
        for key, value in (c["tokens"] or {}).items():
            tokens[key] += value or 0
    return {
        "calls": len(calls),
        "by_tool": collections.Counter(c["tool"] for c in calls),
        "outcomes": collections.Counter((c["tool"], c["outcome"]) for c in calls),
        "tasks": len(truth["tasks"]),
        "finals": collections.Counter(t["final"] for t in truth["tasks"]),
        "task_calls": sum(c["tool"] == "Task" for c in calls),
        "failures": sum(c["outcome"] == "failure" for c in calls),
        "messages": 2 * len(truth["messages"]),  # the user's message and the router's answer
        "input_tokens": tokens["input_tokens"], "output_tokens": tokens["output_tokens"],
        "cache_write_tokens": tokens["cache_creation_tokens"], "cache_read_tokens": tokens["cache_read_tokens"],
    }


def total(truths: dict[str, dict]) -> dict:
    """The sum of the bots' expected figures (counts add up; Counters add up per key)."""
    parts = [expected(t) for t in truths.values()]
    return {key: sum((p[key] for p in parts[1:]), parts[0][key]) for key in parts[0]}


def check_figures(db: Path, bot: str | None, want: dict) -> None:
    """Every query function of ``bot`` (None: all bots) against the expected figures ``want``."""
    cost = aa.tool_cost(db, by="tool_name", bot=bot).set_index("tool_name")
    assert cost["calls"].to_dict() == dict(want["by_tool"])
    whole = aa.tool_cost(db, by=None, bot=bot).iloc[0]
    assert [int(whole[k]) for k in ("calls", "input_tokens", "output_tokens", "cache_write_tokens",
                                    "cache_read_tokens")] == [want[k] for k in (
        "calls", "input_tokens", "output_tokens", "cache_write_tokens", "cache_read_tokens")]
    rates = aa.error_rates(db, by="tool_name", bot=bot).set_index("tool_name")
    for tool in want["by_tool"]:
        assert rates.loc[tool, "failed"] == want["outcomes"][(tool, "failure")]
        assert rates.loc[tool, "unknown"] == want["outcomes"][(tool, "unknown")]
    assert aa.latency(db, by="tool_name", bot=bot).set_index("tool_name")["calls"].to_dict() == dict(want["by_tool"])
    throughput = aa.task_throughput(db, freq=None, bot=bot).iloc[0]
    assert [throughput["created"], throughput["completed"], throughput["failed"], throughput["stopped"]] == [
        want["tasks"], want["finals"]["completed"], want["finals"]["failed"], want["finals"]["stopped"]]
    assert len(aa.task_cost(db, limit=None, bot=bot)) == want["tasks"]
    assert int(aa.tasks_per_user(db, bot=bot)["tasks"].sum()) == want["tasks"]
    assert int(aa.top_errors(db, limit=None, bot=bot)["count"].sum()) == want["failures"]
    assert int(aa.subagent_usage(db, bot=bot)["calls"].sum()) == want["task_calls"]
    assert int(aa.router_usage(db, bot=bot)["messages"].iloc[0]) == want["messages"]
    assert int(aa.cache_savings(db, by=None, bot=bot)["cache_read_tokens"].iloc[0]) == want["cache_read_tokens"]
    files = aa.file_activity(db, limit=None, bot=bot)
    assert int(files["calls"].sum()) == sum(want["by_tool"][t] for t in ("Read", "Write", "Edit", "MultiEdit",
                                                                         "NotebookEdit") if t in want["by_tool"])
    quality = aa.data_quality(db, bot=bot)
    assert int(quality.loc[quality["check_name"] == "calls", "value"].sum()) == want["calls"]


@pytest.mark.parametrize("bot", list(SAMPLES))
def test_each_bot_answers_as_its_truth(store, truths, bot):
    check_figures(store["db"], bot, expected(truths[bot]))


def test_all_bots_answer_the_sum_of_the_truths(store, truths):
    check_figures(store["db"], None, total(truths))
    by_bot = aa.tool_cost(store["db"], by="bot", bot=None).set_index("bot")["calls"].to_dict()
    assert by_bot == {name: len(t["calls"]) for name, t in truths.items()}
    failed = aa.error_rates(store["db"], by="bot").set_index("bot")["failed"].to_dict()
    assert failed == {name: expected(t)["failures"] for name, t in truths.items()}


def test_percentiles_over_both_bots_rank_every_call(store):
    """A total percentile over two bots ranks the durations of both together (numpy over their union)."""
    durations = []
    for name in SAMPLES:
        shadow = store["db"].with_name(store["db"].name + ".bots") / f"{name}.db"
        conn = sqlite3.connect(f"file:{shadow}?mode=ro", uri=True)
        durations += [d for (d,) in conn.execute("SELECT duration_ms FROM tool_calls WHERE duration_ms IS NOT NULL")]
        conn.close()
    row = aa.latency(store["db"], by=None).iloc[0]
    assert row["calls_with_duration"] == len(durations) == 606 + 1244  # each shadow's own count (test_queries)
    for column, q in (("p50_ms", 50), ("p90_ms", 90), ("p99_ms", 99)):
        assert row[column] == pytest.approx(np.percentile(durations, q), rel=1e-12)


def test_a_bot_added_later_leaves_the_other_rows_byte_for_byte(store):
    assert bot_rows(store["db"], "alpha") == store["alpha_before"]
    assert sum(len(rows) for rows in store["alpha_before"].values()) > 0
    # and beta's own rows are its shadow's, tagged
    conn = sqlite3.connect(f"file:{store['db']}.bots/beta.db?mode=ro", uri=True)
    shadow_calls = conn.execute("SELECT COUNT(*) FROM tool_calls").fetchone()[0]
    conn.close()
    assert len(bot_rows(store["db"], "beta")["tool_calls"]) == shadow_calls == 1301


def test_a_resync_replaces_only_its_own_rows(store, tmp_path):
    shared = tmp_path / "analytics.db"
    shutil.copyfile(store["db"], shared)
    shutil.copytree(store["work"] / "analytics.db.bots", tmp_path / "analytics.db.bots")
    alpha = bot_rows(shared, "alpha")
    result = _sync(store["bots"]["beta"], shared, "beta", SAMPLES["beta"][2])
    assert result.mode == "incremental" and result.bot_calls == 1301
    assert bot_rows(shared, "alpha") == alpha


def test_a_store_synced_without_bot_keeps_working(store, tmp_path, truths):
    plain = tmp_path / "plain.db"
    _sync(store["bots"]["alpha"], plain, None, "UTC")
    check_figures(plain, None, expected(truths["alpha"]))
    check_figures(plain, "main", expected(truths["alpha"]))
    assert aa.tool_cost(plain, by="bot")["bot"].tolist() == ["main"]
    with pytest.raises(InputError, match="holds main"):
        aa.tool_cost(plain, bot="alpha")


# --- bad input: one line, exit 2, no file changed -------------------------------------------------------------


def _files(directory: Path) -> dict[str, str]:
    return {str(p.relative_to(directory)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(directory.rglob("*")) if p.is_file()}


@pytest.mark.parametrize("case", ["bad name", "upper case", "same database, other name", "other report zone",
                                  "plain sync into a store of several bots"])
def test_bad_input_exits_2_and_changes_no_file(store, tmp_path, case):
    work = tmp_path / "w"
    work.mkdir()
    shutil.copyfile(store["db"], work / "analytics.db")
    shutil.copytree(store["work"] / "analytics.db.bots", work / "analytics.db.bots")
    alpha, beta = store["bots"]["alpha"], store["bots"]["beta"]
    args = {
        "bad name": [str(alpha), "--bot", "a/b", "--source-tz", "UTC", "--report-tz", "UTC"],
        "upper case": [str(alpha), "--bot", "Alpha", "--source-tz", "UTC", "--report-tz", "UTC"],
        "same database, other name": [str(beta), "--bot", "gamma", "--source-tz", "Europe/Berlin",
                                      "--report-tz", "UTC"],
        "other report zone": [str(alpha), "--bot", "alpha", "--source-tz", "UTC", "--report-tz", "Europe/Berlin"],
        "plain sync into a store of several bots": [str(alpha), "--source-tz", "UTC", "--report-tz", "UTC"],
    }[case]
    before = _files(work)
    result = CliRunner().invoke(cli, ["sync", args[0], str(work / "analytics.db"), *args[1:]])
    assert result.exit_code == 2, result.output
    assert len(result.output.strip().splitlines()) == 1 and "Traceback" not in result.output
    assert _files(work) == before


def _twin(tmp: Path) -> Path:
    """A second host whose database is a copy of the sample's history (another database: its own identity)."""
    twin = _copy(tmp, "alpha").rename(tmp / "twin.db")
    conn = sqlite3.connect(twin)
    conn.execute("UPDATE schema_version SET applied_at = '2030-01-01T00:00:00'")
    conn.commit()
    conn.close()
    return twin


@pytest.mark.parametrize("by_model", [False, True], ids=["all", "model-filter"])
def test_the_dashboard_latency_ranks_both_bots_together(store, tmp_path, by_model):
    """The per-day latency chart reads the per-bot ranks (duration_ranks, or duration_ranks_by_agent under a
    model filter) only in a one-bot store; over two bots that share days (the sample and a twin host with a copy
    of its history) each (day, tool) is the numpy percentile of both bots' durations (of that model)."""
    from amiga_analytics.web.canned import QUERIES

    shared = tmp_path / "analytics.db"
    _sync(store["bots"]["alpha"], shared, "alpha", "UTC")
    _sync(_twin(tmp_path), shared, "twin", "UTC")
    durations = collections.defaultdict(list)
    conn = sqlite3.connect(f"file:{shared}?mode=ro", uri=True)
    model = conn.execute("SELECT model_id FROM tool_calls WHERE model_id IS NOT NULL AND duration_ms IS NOT NULL "
                         "GROUP BY 1 ORDER BY COUNT(*) DESC LIMIT 1").fetchone()[0] if by_model else ""
    for day, tool, d in conn.execute("SELECT day, tool_name, duration_ms FROM tool_calls "
                                     "WHERE duration_ms IS NOT NULL AND (:m = '' OR model_id = :m)", {"m": model}):
        durations[(day, tool)].append(d)
    rows = conn.execute(QUERIES["daily_latency"]["sql"],
                        {"since": "", "until": "", "tool": "", "model": model, "agent_type": "",
                         "bot": ""}).fetchall()
    conn.close()
    assert rows and {(day, tool) for day, tool, *_ in rows} <= set(durations)
    for day, tool, n, p50, p95, _ in rows:
        assert n == len(durations[(day, tool)]) and n % 2 == 0  # each twin's calls twice
        assert p50 == pytest.approx(np.percentile(durations[(day, tool)], 50), rel=1e-12)
        assert p95 == pytest.approx(np.percentile(durations[(day, tool)], 95), rel=1e-12)


def test_query_command_takes_bot(store, truths):
    out = CliRunner().invoke(cli, ["query", str(store["db"]), "error_rates", "--by", "none", "--bot", "beta", "--csv"])
    assert out.exit_code == 0, out.output
    row = dict(zip(*[line.split(",") for line in out.output.splitlines()[:2]]))
    want = expected(truths["beta"])
    assert int(row["calls"]) == want["calls"] and int(row["failed"]) == want["failures"]
    unknown = CliRunner().invoke(cli, ["query", str(store["db"]), "tool_cost", "--bot", "gamma"])
    assert unknown.exit_code == 2 and "holds alpha, beta" in unknown.output


def test_export_partitions_by_bot_and_round_trips_through_duckdb(store, truths, tmp_path):
    import duckdb

    from amiga_analytics.export import export

    directory = tmp_path / "export"
    export(store["db"], directory)
    paths = {str(p.relative_to(directory)) for p in directory.rglob("*.parquet")}
    assert {p.split("/")[1] for p in paths if p.startswith("tool_calls/")} == {"bot=alpha", "bot=beta"}
    assert "syncs/bot=beta/part-0.parquet" in paths
    assert all(p.split("/")[2].startswith("day=") for p in paths if p.startswith("tool_calls/"))
    con = duckdb.connect()
    per_bot = dict(con.execute(f"SELECT bot, COUNT(*) FROM read_parquet('{directory}/tool_calls/**/*.parquet', "
                               "hive_partitioning = true) GROUP BY bot").fetchall())
    assert per_bot == {name: len(t["calls"]) for name, t in truths.items()}
    failed = dict(con.execute(f"SELECT bot, COUNT(*) FROM read_parquet('{directory}/tool_calls/**/*.parquet', "
                              "hive_partitioning = true) WHERE outcome = 'failure' GROUP BY bot").fetchall())
    assert failed == {name: expected(t)["failures"] for name, t in truths.items()}
    assert sum(t.written for t in export(store["db"], directory).tables) == 0  # nothing changed, nothing written
    # a bot added later: its partitions are written, no other bot's file is touched
    shared = tmp_path / "analytics.db"
    shutil.copyfile(store["db"], shared)
    shutil.copytree(store["work"] / "analytics.db.bots", tmp_path / "analytics.db.bots")
    export(shared, directory)
    before = {p: (directory / p).read_bytes() for p in paths}
    _sync(_twin(tmp_path), shared, "twin", "UTC")
    export(shared, directory)
    after = {str(p.relative_to(directory)) for p in directory.rglob("*.parquet")}
    assert {p: (directory / p).read_bytes() for p in paths} == before
    assert {p for p in after - paths} and all("/bot=twin/" in p for p in after - paths)


@pytest.mark.parametrize("command", ["daily", "weekly", "monthly", "tasks", "sessions"])
def test_usage_reports_take_bot(store, truths, command):
    from amiga_analytics.queries import reports

    for name, truth in truths.items():
        df = getattr(reports, command)(store["db"], bot=name)
        if command in ("tasks", "sessions"):  # no transcripts: a session is a task
            assert len(df) == len(truth["tasks"])
        else:
            assert int(df["calls"].sum()) == len(truth["calls"])
    out = CliRunner().invoke(cli, [command, str(store["db"]), "--bot", "beta", "--csv"])
    assert out.exit_code == 0, out.output


def test_transcripts_per_bot(tmp_path):
    """beta with its Claude Code transcripts, alpha without: the requests are beta's (its transcripts' truth), and
    each bot's transcript figures are those of its own one-bot store (its shadow)."""
    from pandas.testing import assert_frame_equal

    shared = tmp_path / "analytics.db"
    _sync(_copy(tmp_path, "alpha"), shared, "alpha", "UTC")
    sync(_copy(tmp_path, "beta"), shared, source_tz="Europe/Berlin", report_tz="UTC", bot="beta",
         transcripts=[FIXTURES / "sample_par.claude"])
    requests = json.loads((FIXTURES / "sample_par.transcripts.truth.json").read_text())["requests"]
    got = aa.usage(shared, by="bot")
    assert got["bot"].tolist() == ["beta"] and int(got["requests"].iloc[0]) == len(requests) == 876
    beta = aa.usage(shared, by=None, bot="beta").iloc[0]
    for column, key in (("input_tokens", "input"), ("output_tokens", "output"), ("cache_read_tokens", "cache_read"),
                        ("cache_write_1h_tokens", "cache_write_1h"), ("cache_write_5m_tokens", "cache_write_5m")):
        assert int(beta[column]) == sum(r[key] for r in requests), column
    gaps = {}
    for name in SAMPLES:
        own = shared.with_name(shared.name + ".bots") / f"{name}.db"
        gaps[name] = aa.transcript_gaps(shared, bot=name)
        assert set(gaps[name]["bot"]) <= {name}  # each row says its bot in a store of several
        assert_frame_equal(gaps[name].drop(columns=["bot"]), aa.transcript_gaps(own))
        assert_frame_equal(aa.transcript_coverage(shared, bot=name), aa.transcript_coverage(own))
    assert len(aa.transcript_gaps(shared)) == len(gaps["alpha"]) + len(gaps["beta"])


def test_canned_queries_take_bot(store, truths):
    """The canned queries' :bot (empty: all bots) gives each bot's figures; an unknown bot is an error."""
    from amiga_analytics.web.canned import QUERIES

    conn = sqlite3.connect(f"file:{store['db']}?mode=ro", uri=True)

    def run(query: str, bot: str) -> list[tuple]:
        params = {"since": "", "until": "", "tool": "", "model": "", "agent_type": "", "bot": bot}
        return conn.execute(QUERIES[query]["sql"], params).fetchall()

    for bot in [*SAMPLES, ""]:
        want = expected(truths[bot]) if bot else total(truths)
        assert {r[0]: r[1] for r in run("tool_cost_by_tool", bot)} == dict(want["by_tool"])
        assert sum(r[1] for r in run("cost_per_day", bot)) == want["calls"]
        assert {r[0]: r[3] for r in run("error_rates_by_tool", bot)} == {
            t: want["outcomes"][(t, "failure")] for t in want["by_tool"]}
        assert sum(r[3] for r in run("top_errors", bot)) == want["failures"]
        assert sum(r[1] for r in run("task_throughput", bot)) == want["tasks"]
        latency = aa.latency(store["db"], by="tool_name", bot=bot or None).set_index("tool_name")
        for tool, calls, _, p50, *_ in run("latency_by_tool", bot):
            assert calls == latency.loc[tool, "calls"] and p50 == pytest.approx(latency.loc[tool, "p50_ms"], rel=1e-12)
    with pytest.raises(sqlite3.OperationalError, match="is not a bot of this database"):
        run("cost_per_day", "gamma")
    conn.close()
