"""`amiga-analytics query`: every query and format through the CLI, and one-line errors with exit status 2."""

from __future__ import annotations

import io
import json
import shutil

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner
from pandas.testing import assert_frame_equal

import amiga_analytics as aa
from amiga_analytics import queries
from amiga_analytics.cli import cli
from amiga_analytics.errors import InputError
from amiga_analytics.sync import sync
from conftest import FIXTURES, SAMPLE_DB


def run(*args: str):
    return CliRunner().invoke(cli, ["query", *map(str, args)])


def assert_one_line_error(result, *fragments: str) -> None:
    assert result.exit_code == 2, result.output
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: "), result.stderr
    for fragment in fragments:
        assert fragment in lines[0]
    assert result.stdout == ""


@pytest.fixture(scope="module")
def tokyo_analytics(tmp_path_factory):
    base = tmp_path_factory.mktemp("tokyo-cli")
    shutil.copyfile(SAMPLE_DB, base / "agentlab.db")
    sync(base / "agentlab.db", base / "analytics.db", source_tz="UTC", report_tz="Asia/Tokyo")
    return base / "analytics.db"


@pytest.fixture(scope="module")
def par_analytics(tmp_path_factory):
    """sample_par (a Europe/Berlin host) synced with its Claude Code transcripts."""
    base = tmp_path_factory.mktemp("par-cli")
    shutil.copyfile(FIXTURES / "sample_par.db", base / "agentlab.db")
    sync(base / "agentlab.db", base / "analytics.db", source_tz="Europe/Berlin",
         transcripts=[FIXTURES / "sample_par.claude"])
    return base / "analytics.db"


@pytest.mark.parametrize("name", list(queries.QUERIES))
def test_every_query_prints_a_table_with_its_columns(sample_analytics, par_analytics, name):
    if name == "usage":  # the sample has no transcripts: usage says how to load them
        assert_one_line_error(run(sample_analytics, name), "no transcripts are loaded", "--transcripts DIR")
        sample_analytics = par_analytics
    result = run(sample_analytics, name)
    assert result.exit_code == 0, result.output
    df = queries.QUERIES[name](sample_analytics)
    header = result.stdout.splitlines()[0].split()
    # a frame with a cost gets the note saying why a cost is missing (never $0)
    assert header == list(df.columns) + (["cost_note"] if "cost_usd" in df.columns else [])
    assert len(result.stdout.splitlines()) == len(df) + 1


def test_table_rounds_for_display_only(sample_analytics):
    result = run(sample_analytics, "tool_cost", "--by", "model_id")
    assert result.exit_code == 0
    lines = result.stdout.splitlines()
    df = aa.tool_cost(sample_analytics, by="model_id")
    sonnet = next(line for line in lines if line.lstrip().startswith("claude-sonnet-4-5"))
    assert f"{df.set_index('model_id').loc['claude-sonnet-4-5-20250929', 'cost_usd']:.4f}" in sonnet
    assert any(line.lstrip().startswith("NaN") for line in lines[1:]), "CLI sessions: the unresolved model group"
    weekly = run(sample_analytics, "error_rates", "--by", "none", "--freq", "W-MON").stdout.splitlines()
    assert weekly[0].split() == ["period_start", "calls", "completed", "failed", "unknown", "error_rate"]
    assert [line.split()[0] for line in weekly[1:]] == ["2025-09-29", "2025-10-06"]
    assert all(len(line.split()[-1].split(".")[-1]) <= 3 for line in weekly[1:])


def test_csv_is_the_frame_at_full_precision(sample_analytics):
    result = run(sample_analytics, "tool_cost", "--format", "csv", "--since", "2025-10-01", "--until", "2025-10-08")
    assert result.exit_code == 0, result.output
    got = pd.read_csv(io.StringIO(result.stdout))
    want = aa.tool_cost(sample_analytics, since="2025-10-01", until="2025-10-08")
    assert list(got.columns) == list(want.columns) + ["cost_note"]
    assert got["tool_name"].tolist() == want["tool_name"].tolist()
    for col in want.columns[1:]:
        assert got[col].fillna(-1).tolist() == want[col].fillna(-1).tolist(), col  # exact, floats included
    assert (got["cost_note"].notna() == want["cost_usd"].isna()).all()


def test_csv_with_periods_and_timezone(tokyo_analytics):
    result = run(tokyo_analytics, "task_throughput", "--freq", "W-MON", "--format", "csv")
    assert result.exit_code == 0
    got = pd.read_csv(io.StringIO(result.stdout))
    assert got["period_start"].tolist() == ["2025-09-29 00:00:00+09:00", "2025-10-06 00:00:00+09:00"]
    want = aa.task_throughput(tokyo_analytics, freq="W-MON")
    assert got["created"].tolist() == want["created"].tolist()
    assert np.allclose(got["median_cycle_s"], want["median_cycle_s"], rtol=0, atol=0)


def test_json_records_with_offsets_and_nulls(sample_analytics, tokyo_analytics):
    result = run(tokyo_analytics, "error_rates", "--by", "none", "--freq", "D", "--format", "json")
    assert result.exit_code == 0, result.output
    records = json.loads(result.stdout)
    want = aa.error_rates(tokyo_analytics, by=None, freq="D")
    assert len(records) == len(want)
    assert [r["period_start"] for r in records] == [t.isoformat() for t in want["period_start"]]
    assert all(r["period_start"].endswith("T00:00:00+09:00") for r in records)
    assert [r["calls"] for r in records] == want["calls"].tolist()
    for r, rate in zip(records, want["error_rate"]):
        assert r["error_rate"] is None if np.isnan(rate) else r["error_rate"] == rate
    savings = json.loads(run(sample_analytics, "cache_savings", "--format", "json").stdout)
    assert [r["model_id"] for r in savings][-1] is None and savings[-1]["savings_usd"] is None
    cost = json.loads(run(sample_analytics, "task_cost", "--limit", "3", "--format", "json").stdout)
    assert [r["cost_usd"] for r in cost] == aa.task_cost(sample_analytics, limit=3)["cost_usd"].tolist()


def test_options_reach_the_function(sample_analytics):
    one = run(sample_analytics, "tool_cost", "--by", "none", "--format", "csv")
    got = pd.read_csv(io.StringIO(one.stdout))
    assert len(got) == 1 and got["calls"].iloc[0] == 638
    top = run(sample_analytics, "file_activity", "--limit", "3", "--format", "csv")
    assert len(pd.read_csv(io.StringIO(top.stdout))) == 3
    window = run(sample_analytics, "router_usage", "--since", "2025-10-06", "--freq", "D", "--format", "csv")
    frame = pd.read_csv(io.StringIO(window.stdout))
    assert frame["period_start"].iloc[0] == "2025-10-06 00:00:00+00:00"
    assert frame["messages"].sum() == aa.router_usage(sample_analytics, since="2025-10-06")["messages"].iloc[0]
    totals = run(sample_analytics, "task_throughput", "--freq", "none", "--format", "csv")
    assert len(pd.read_csv(io.StringIO(totals.stdout))) == 1
    dashed = run(sample_analytics, "error-rates", "--by", "model_id")
    assert dashed.exit_code == 0 and dashed.stdout.split()[0] == "model_id"


def test_an_empty_result_still_shows_its_columns(sample_analytics):
    result = run(sample_analytics, "tool_cost", "--since", "2030-01-01", "--until", "2030-01-02")
    assert result.exit_code == 0
    lines = result.stdout.splitlines()
    assert lines[0] == "  ".join(["tool_name"] + list(queries.TOOL_COST_MEASURES) + ["cost_note"])
    assert lines[1].startswith("(no rows since 2030-01-01 until 2030-01-02: the data covers 2025-")
    csv = run(sample_analytics, "tool_cost", "--since", "2030-01-01", "--until", "2030-01-02", "--format", "csv")
    assert csv.stdout.strip() == ",".join(["tool_name"] + list(queries.TOOL_COST_MEASURES) + ["cost_note"])
    assert run(sample_analytics, "top_errors", "--since", "2030-01-01", "--format", "json").stdout.strip() == "[]"


@pytest.mark.parametrize("args,fragments", [
    (["nonsense"], ["unknown query 'nonsense'", "tool_cost, error_rates, task_throughput"]),
    (["tool_cost", "--by", "colour"], ["by='colour'", "tool_name, model_id, agent_type"]),
    (["error_rates", "--by", "task"], ["use one of", "error_category"]),
    (["task_cost", "--freq", "D"], ["task_cost does not take --freq", "--since, --until, --limit"]),
    (["tool_cost", "--limit", "5"], ["tool_cost does not take --limit"]),
    (["task_throughput", "--by", "tool_name"], ["task_throughput does not take --by"]),
    (["data_quality", "--since", "2025-10-01"], ["data_quality does not take --since", "it takes --bot"]),
    (["tool_cost", "--since", "2025-10-09", "--until", "2025-10-01"], ["is after until"]),
    (["tool_cost", "--since", "yesterday-ish"], ["is not a date", "YYYY-MM-DD"]),
    (["tool_cost", "--freq", "fortnight"], ["not a pandas offset alias", "W-MON"]),
])
def test_bad_arguments_give_one_line_and_exit_2(sample_analytics, args, fragments):
    assert_one_line_error(run(sample_analytics, *args), *fragments)


def test_bad_databases_give_one_line_and_exit_2(tmp_path):
    assert_one_line_error(run(tmp_path / "missing.db", "tool_cost"), "no such analytics database", "sync")
    notes = tmp_path / "notes.db"
    notes.write_text("not a database")
    assert_one_line_error(run(notes, "tool_cost"), "not an analytics database")
    assert_one_line_error(run(SAMPLE_DB, "error_rates"), "not an analytics database")


def test_run_named_rejects_an_unknown_format(sample_analytics):
    with pytest.raises(InputError, match="choose one of table, csv, json"):
        queries.run_named(sample_analytics, "tool_cost", fmt="xml")


def test_run_named_equals_the_function(sample_analytics):
    text = queries.run_named(sample_analytics, "latency", by="outcome", fmt="csv")
    got = pd.read_csv(io.StringIO(text))
    want = aa.latency(sample_analytics, by="outcome")
    assert_frame_equal(got.drop(columns=["outcome"]), want.drop(columns=["outcome"]), check_dtype=False)
    assert got["outcome"].tolist() == want["outcome"].tolist()


TOKENS = {"input": "input_tokens", "output": "output_tokens", "cache_write_5m": "cache_write_5m_tokens",
          "cache_write_1h": "cache_write_1h_tokens", "cache_read": "cache_read_tokens", "requests": "requests"}


def test_usage_by_model_and_day_equals_the_transcripts_truth(par_analytics):
    """`query usage --by model_id --freq D` per report day (Europe/Berlin) and model, and `--by task_id` per task,
    equal tests/fixtures/sample_par.transcripts.truth.json."""
    ttruth = json.loads((FIXTURES / "sample_par.transcripts.truth.json").read_text())
    result = run(par_analytics, "usage", "--by", "model_id", "--freq", "D", "--format", "csv")
    assert result.exit_code == 0, result.output
    got = pd.read_csv(io.StringIO(result.stdout))
    got = got[got["requests"] > 0]
    mine = {(p[:10], m): {k: int(r[v]) for k, v in TOKENS.items()}
            for p, m, r in zip(got["period_start"], got["model_id"], got.to_dict("records"))}
    assert mine == {(day, model): {k: sums[k] for k in TOKENS}
                    for day, models in ttruth["daily_local"].items() for model, sums in models.items()}
    tasks = pd.read_csv(io.StringIO(run(par_analytics, "usage", "--by", "task_id", "--format", "csv").stdout))
    per_task = {t: {k: int(r[v]) for k, v in TOKENS.items()}
                for t, r in zip(tasks["task_id"], tasks.to_dict("records")) if isinstance(t, str)}
    assert per_task == {t: {k: sums[k] for k in TOKENS} for t, sums in ttruth["tasks"].items()}
    assert_one_line_error(run(par_analytics, "usage", "--by", "tool_name"), "tool_name")
    assert_one_line_error(run(par_analytics, "usage", "--limit", "3"), "usage does not take --limit")
