"""Rows a user reads one by one (tasks, sessions, data-quality checks, transcript gaps) say which bot they are from
in a store of several bots (issue #18), and keep their columns in a one-bot store. Expected rows come from the
fixtures' truth files.
"""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pytest
from click.testing import CliRunner

import amiga_analytics as aa
from amiga_analytics.cli import cli
from amiga_analytics.queries.columns import TASK_COST_COLUMNS
from amiga_analytics.sync import sync
from test_multibot import SAMPLES, _copy, _sync

FIXTURES = Path(__file__).parent / "fixtures"


def _truth(name: str) -> dict:
    return json.loads((FIXTURES / SAMPLES[name][1]).read_text())


@pytest.fixture(scope="module")
def stores(tmp_path_factory) -> dict:
    """alpha and beta (beta with its transcripts) in one store, the two without transcripts in another; alpha
    alone in a store synced without --bot."""
    work = tmp_path_factory.mktemp("multibot_rows")
    shared, bare, plain = work / "analytics.db", work / "bare.db", work / "plain.db"
    _sync(_copy(work, "alpha"), shared, "alpha", "UTC")
    sync(_copy(work, "beta"), shared, source_tz="Europe/Berlin", report_tz="UTC", bot="beta",
         transcripts=[FIXTURES / "sample_par.claude"])
    for name in SAMPLES:
        _sync(_copy(work, name), bare, name, SAMPLES[name][2])
    _sync(_copy(work, "alpha"), plain, None, "UTC")
    return {"shared": shared, "bare": bare, "plain": plain}


def test_task_rows_say_their_bot(stores):
    got = aa.task_cost(stores["shared"], limit=None)
    assert list(got.columns) == ["task_id", "bot", *list(TASK_COST_COLUMNS)[1:]]
    want = {(name, t["task_id"]) for name in SAMPLES for t in _truth(name)["tasks"]}
    assert set(zip(got["bot"], got["task_id"])) == want and len(got) == len(want) == 35 + 46
    one = aa.task_cost(stores["shared"], limit=None, bot="beta")
    assert set(one["bot"]) == {"beta"} and len(one) == len(_truth("beta")["tasks"])
    assert list(aa.task_cost(stores["plain"], limit=None).columns) == list(TASK_COST_COLUMNS)


def test_the_tasks_command_says_the_bot(stores):
    out = CliRunner().invoke(cli, ["tasks", str(stores["shared"]), "--csv"])
    assert out.exit_code == 0, out.output
    rows = [r for r in csv.DictReader(io.StringIO(out.output)) if r["task_id"] != "Total"]
    assert {name: sum(r["bot"] == name for r in rows) for name in SAMPLES} == {
        name: len(_truth(name)["tasks"]) for name in SAMPLES}
    plain = CliRunner().invoke(cli, ["tasks", str(stores["plain"]), "--csv"])
    assert plain.exit_code == 0 and "bot" not in plain.output.splitlines()[0].split(",")


def test_session_rows_say_their_bot(stores):
    sessions = {r["session_id"] for r in json.loads((FIXTURES / "sample_par.transcripts.truth.json").read_text())[
        "requests"]}
    out = CliRunner().invoke(cli, ["sessions", str(stores["shared"]), "--csv"])
    assert out.exit_code == 0, out.output
    header = out.stdout.splitlines()[0].split(",")
    assert header[:2] == ["session_id", "bot"]
    rows = [r for r in csv.DictReader(io.StringIO(out.stdout)) if r["session_id"] != "Total"]
    assert {r["session_id"] for r in rows} == sessions and {r["bot"] for r in rows} == {"beta"}


def test_data_quality_rows_say_their_bot(stores):
    quality = aa.data_quality(stores["shared"])
    assert list(quality.columns)[:2] == ["check_name", "bot"]
    calls = quality[quality["check_name"] == "calls"].set_index("bot")["value"].to_dict()
    assert calls["alpha"] == len(_truth("alpha")["calls"]) == 638
    for name in SAMPLES:  # each bot's rows are those of its own store (beta's calls: its transcripts' too)
        own = aa.data_quality(stores["shared"].with_name("analytics.db.bots") / f"{name}.db")
        mine = quality[quality["bot"] == name].drop(columns=["bot"]).reset_index(drop=True)
        assert mine[["check_name", "value", "detail"]].equals(own[["check_name", "value", "detail"]])
    assert "bot" not in aa.data_quality(stores["plain"]).columns


def test_gap_rows_say_their_bot(stores):
    gaps = aa.transcript_gaps(stores["shared"])
    assert list(gaps.columns)[:2] == ["kind", "bot"]
    # alpha has no transcripts: each of its tasks with calls is a task without transcript
    alpha_tasks = {t["task_id"] for t in _truth("alpha")["tasks"]} & {c["task_id"] for c in _truth("alpha")["calls"]}
    alpha = gaps[gaps["bot"] == "alpha"]
    assert set(alpha["kind"]) == {"task_without_transcript"} and set(alpha["task_id"]) == alpha_tasks


def test_the_reports_most_expensive_task_names_its_bot(stores):
    report = aa.weekly_report(stores["bare"], week="2025-W43")
    expensive = [a for a in report.actions.itertuples() if a.action.startswith("Review the most expensive task")]
    assert expensive and " of bot beta " in expensive[0].action and expensive[0].datasette_url.endswith("&bot=beta")
    task = expensive[0].action.split(",")[1].split()[0]
    assert task in {t["task_id"] for t in _truth("beta")["tasks"]}
