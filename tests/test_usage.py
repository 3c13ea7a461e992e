"""``usage`` over an analytics database holding sample_par's transcripts, against their truth."""

from __future__ import annotations

import json
import shutil
from collections import defaultdict
from pathlib import Path

import pandas as pd
import pytest
from sqlite_utils import Database

from amiga_analytics.errors import InputError
from amiga_analytics.load.transcripts import (
    TaskIndex,
    TranscriptSet,
    link_agents,
    read_transcripts,
    request_rows,
    write_requests,
)
from amiga_analytics.queries.usage import usage
from amiga_analytics.store import schema
from amiga_analytics.store.transcripts_schema import TRANSCRIPT_TABLES, m004_api_requests

FIXTURES = Path(__file__).parent / "fixtures"
CLAUDE_DIR = FIXTURES / "sample_par.claude"
TRUTH = json.loads((FIXTURES / "sample_par.transcripts.truth.json").read_text())
TOKENS = {"input": "input_tokens", "output": "output_tokens", "cache_write_5m": "cache_write_5m_tokens",
          "cache_write_1h": "cache_write_1h_tokens", "cache_read": "cache_read_tokens", "requests": "requests"}
TASKS = TaskIndex.from_tasks([(task_id, None, None) for task_id in TRUTH["tasks"]])


def analytics_db(path: Path, report_tz: str) -> Database:
    """An analytics database with the current migrations, the api_requests migration and the report zone."""
    db = Database(path)
    schema.migrate(db)
    m004_api_requests(db)
    db["sync_state"].insert({"key": "report_tz", "value": json.dumps(report_tz)}, pk="key", replace=True)
    return db


@pytest.fixture(scope="module")
def found() -> TranscriptSet:
    return read_transcripts(CLAUDE_DIR)


@pytest.fixture(scope="module", params=["UTC", "Europe/Berlin"])
def zoned(request, tmp_path_factory, found) -> tuple[Database, str]:
    tz = request.param
    db = analytics_db(tmp_path_factory.mktemp("usage") / "a.db", tz)
    write_requests(db, request_rows(found, report_tz=tz, tasks=TASKS))
    return db, tz


def truth_daily(tz: str) -> dict:
    return TRUTH["daily_utc"] if tz == "UTC" else TRUTH["daily_local"]


def test_per_day_and_model_equal_the_truth(zoned):
    db, tz = zoned
    df = usage(db, by="model_id", freq="D")
    assert str(df["period_start"].dt.tz) == tz
    got = {(p.strftime("%Y-%m-%d"), m): row for p, m, row in zip(df["period_start"], df["model_id"],
                                                                   df.to_dict("records")) if row["requests"]}
    expected = {(day, model): sums for day, models in truth_daily(tz).items() for model, sums in models.items()}
    assert got.keys() == expected.keys()
    for key, sums in expected.items():
        assert {k: got[key][v] for k, v in TOKENS.items()} == {k: sums[k] for k in TOKENS}, key


def test_per_model_totals_and_the_readmes_grand_total(zoned):
    db, _ = zoned
    df = usage(db).set_index("model_id")
    per_model: dict = defaultdict(lambda: defaultdict(int))
    for models in TRUTH["daily_utc"].values():
        for model, sums in models.items():
            for k in TOKENS:
                per_model[model][k] += sums[k]
    assert set(df.index) == set(per_model)
    for model, sums in per_model.items():
        assert {k: int(df.loc[model, v]) for k, v in TOKENS.items()} == dict(sums)
    total = usage(db, by=None)
    tokens = sum(int(total[c].iloc[0]) for c in ("input_tokens", "output_tokens", "cache_write_5m_tokens",
                                                  "cache_write_1h_tokens", "cache_read_tokens"))
    assert tokens == 36_666_179  # the samples README (ccusage's total)
    assert int(total["requests"].iloc[0]) == 876
    assert list(total.columns) == ["requests", "input_tokens", "output_tokens", "cache_write_5m_tokens",
                                   "cache_write_1h_tokens", "cache_read_tokens", "cost_usd", "unpriced_tokens"]


def test_per_task_and_per_cli_session_equal_the_truth(zoned):
    db, _ = zoned
    by_task = usage(db, by="task_id").set_index("task_id")
    by_session = usage(db, by="session_id").set_index("session_id")
    for task_id, sums in TRUTH["tasks"].items():
        assert {k: int(by_task.loc[task_id, v]) for k, v in TOKENS.items()} == {k: sums[k] for k in TOKENS}
    for session_id, sums in TRUTH["cli_sessions"].items():
        assert {k: int(by_session.loc[session_id, v]) for k, v in TOKENS.items()} == {k: sums[k] for k in TOKENS}
    cli = by_task[by_task.index.isna()]
    assert int(cli["requests"].sum()) == sum(s["requests"] for s in TRUTH["cli_sessions"].values())


def test_by_agent_main_and_subagents(zoned):
    db, _ = zoned
    df = usage(db, by="agent").set_index("agent")
    expected: dict = defaultdict(int)
    for t in TRUTH["requests"]:
        expected[t["agent"]] += 1
    assert df["requests"].to_dict() == dict(expected)


def test_window_and_weekly_periods(zoned):
    db, tz = zoned
    days = truth_daily(tz)
    df = usage(db, by=None, since="2025-10-22", until="2025-10-24")
    assert int(df["requests"].iloc[0]) == sum(s["requests"] for d in ("2025-10-22", "2025-10-23")
                                              for s in days[d].values())
    weekly = usage(db, by=None, freq="W-MON")
    assert (weekly["period_start"].dt.day_of_week == 0).all()
    assert int(weekly["requests"].sum()) == 876
    assert float(weekly["cost_usd"].sum()) == pytest.approx(float(usage(db, by=None)["cost_usd"].iloc[0]))


def test_bad_by_and_a_database_without_transcripts(zoned, tmp_path):
    db, _ = zoned
    with pytest.raises(InputError, match="by='tool_name'"):
        usage(db, by="tool_name")
    bare = Database(tmp_path / "bare.db")
    schema.migrate(bare)
    with pytest.raises(InputError, match="--transcripts"):
        usage(bare)


def test_table_description_matches_the_migration(zoned):
    db, _ = zoned
    assert list(db["api_requests"].columns_dict) == list(TRANSCRIPT_TABLES["api_requests"]["columns"])


def test_incremental_loads_into_the_database_equal_a_full_load(tmp_path, found):
    """Rows of an appended read, merged into the stored rows, equal a full load; a deleted file loses nothing."""
    copy = tmp_path / "claude"
    shutil.copytree(CLAUDE_DIR, copy)
    victim = next(copy.rglob("agent-*.jsonl"))  # read whole by the first sync, deleted before the second
    tails = {}
    for path in sorted(copy.rglob("*.jsonl")):
        if path != victim:
            data = path.read_bytes()
            path.write_bytes(data[: len(data) // 2])
            tails[path] = data[len(data) // 2:]
    db = analytics_db(tmp_path / "inc.db", "UTC")
    first = TranscriptSet()
    first.read(copy)
    write_requests(db, request_rows(first, tasks=TASKS))
    for path, tail in tails.items():
        with path.open("ab") as fh:
            fh.write(tail)
    victim.unlink()
    second = first.carried_over()  # what a later sync knows: offsets, links, prompt digests; no rows
    second.read(copy)
    assert 0 < len(second.requests) < len(found.requests)
    write_requests(db, request_rows(second, tasks=TASKS))
    link_agents(db, [(s, a, t) for (s, a), t in second.spawn_links().items()])  # for rows stored before
    full = analytics_db(tmp_path / "full.db", "UTC")
    write_requests(full, request_rows(found, tasks=TASKS))
    sql = f"SELECT {', '.join(TRANSCRIPT_TABLES['api_requests']['columns'])} FROM api_requests ORDER BY 1, 2"
    assert db.execute(sql).fetchall() == full.execute(sql).fetchall()
    pd.testing.assert_frame_equal(usage(db, freq="D"), usage(full, freq="D"))
