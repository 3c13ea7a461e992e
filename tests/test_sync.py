"""Sync against ground truth: the real bot's sample, hand-made edge cases, incremental = full, atomicity."""

from __future__ import annotations

import ast
import collections
import importlib
import math
import shutil
import sqlite3
from datetime import datetime
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from amiga_analytics import bot_schema
from amiga_analytics.cli import cli
from amiga_analytics.sync import sync
from conftest import SAMPLE_DB, file_bytes, table_rows
from dbquery import TOKENS_BY_TOOL_SQL, q, truth_tokens_by_tool

# List prices from shared/pricing.md (USD per million tokens: input, output, cache write 5 min, cache read),
# typed here by hand so that the test does not trust the package's own table.
SONNET_45 = (3.0, 15.0, 3.75, 0.30)
OPUS_41 = (15.0, 75.0, 18.75, 1.50)
HAIKU_35 = (0.80, 4.0, 1.00, 0.08)
SAMPLE_PRICES = {"sonnet": SONNET_45, "opus": OPUS_41, "haiku": HAIKU_35}



# --- the real bot's sample ----------------------------------------------------------------------------------


def test_calls_by_tool_and_outcome_equal_truth(sample_analytics, truth):
    want = collections.Counter((c["tool"], c["outcome"]) for c in truth["calls"])
    got = {(t, o): n for t, o, n in q(sample_analytics,
                                      "SELECT tool_name, outcome, COUNT(*) FROM tool_calls GROUP BY 1, 2")}
    assert got == dict(want)
    assert sum(got.values()) == len(truth["calls"]) == 638


def test_tasks_by_status_equal_truth(sample_analytics, truth):
    want = collections.Counter(t["final"] for t in truth["tasks"])
    got = dict(q(sample_analytics, "SELECT status, COUNT(*) FROM tasks GROUP BY 1"))
    assert got == dict(want)


def test_token_sums_by_tool_equal_truth(sample_analytics, truth):
    got = {r[0]: list(r[1:]) for r in q(sample_analytics, TOKENS_BY_TOOL_SQL)}
    assert got == truth_tokens_by_tool(truth)


def test_call_links_and_times_match_truth(sample_analytics, truth):
    """Each truth call is found by (source id, tool, start second) with its outcome; durations within 1 s."""
    rows = q(sample_analytics, "SELECT source_id, tool_name, started_at, outcome, duration_ms, task_id FROM tool_calls")
    by_key = {(s, t, st[:19]): (o, d, task) for s, t, st, o, d, task in rows}
    assert len(by_key) == len(rows)
    task_ids = {t["task_id"] for t in truth["tasks"]}
    for c in truth["calls"]:
        outcome, duration, task = by_key[(c["task_id"], c["tool"], c["start"][:19])]  # the sample host is UTC
        assert outcome == c["outcome"]
        assert task == (c["task_id"] if c["task_id"] in task_ids else None)
        if c["end"] is not None:
            want_ms = (datetime.fromisoformat(c["end"]) - datetime.fromisoformat(c["start"])).total_seconds() * 1000
            assert duration is not None and abs(duration - want_ms) <= 1000
        else:
            assert duration is None


def test_costs_are_tokens_times_the_alias_price_on_that_date(sample_analytics, truth):
    """Sample period 2025-09-29..10-12: sonnet → Sonnet 4.5, opus → Opus 4.1, haiku → 3.5 Haiku; CLI unpriced."""
    want_cost = 0.0
    want_unpriced = 0
    for c in truth["calls"]:
        tok = c["tokens"]
        if not tok:
            continue
        counts = [tok["input_tokens"] or 0, tok["output_tokens"] or 0, tok["cache_creation_tokens"] or 0,
                  tok["cache_read_tokens"] or 0]
        if c["model"] is None:
            want_unpriced += sum(counts)
        else:
            want_cost += sum(n * p for n, p in zip(counts, SAMPLE_PRICES[c["model"]])) / 1e6
    cost, unpriced = q(sample_analytics, "SELECT SUM(cost_usd), SUM(unpriced_tokens) FROM tool_calls")[0]
    assert cost == pytest.approx(want_cost, rel=1e-12)
    assert unpriced == want_unpriced > 0
    # Router messages: claude-haiku-4-5 at $1 / $5.
    want_router = sum(m["tokens_input"] * 1.0 + m["tokens_output"] * 5.0 for m in truth["messages"]) / 1e6
    got_router, n = q(sample_analytics, "SELECT SUM(cost_usd), COUNT(*) FROM router_messages WHERE role = 'assistant'")[0]
    assert n == len(truth["messages"])
    assert got_router == pytest.approx(want_router, rel=1e-12)


def test_tasks_finish_times_and_call_totals(sample_analytics, truth):
    got = {r[0]: r[1:] for r in q(sample_analytics, "SELECT task_id, status, finished_at, cycle_s, calls, model_alias FROM tasks")}
    calls_per_task = collections.Counter(c["task_id"] for c in truth["calls"])
    for t in truth["tasks"]:
        status, finished, cycle, calls, alias = got[t["task_id"]]
        assert status == t["final"]
        assert alias == t["model"]
        assert calls == calls_per_task[t["task_id"]]
        if t["finished"] is None:
            assert finished is None
        else:
            want = datetime.fromisoformat(t["finished"] + "+00:00")
            assert abs((datetime.fromisoformat(finished) - want).total_seconds()) <= 1
            want_cycle = (datetime.fromisoformat(t["finished"]) - datetime.fromisoformat(t["created"])).total_seconds()
            assert cycle == pytest.approx(want_cycle, abs=1)


def test_no_secret_reaches_the_analytics_database(sample_analytics, truth):
    data = file_bytes(sample_analytics)
    assert truth["secrets"]
    for secret in truth["secrets"]:
        assert secret.encode() not in data, secret
    assert b"@example.com" not in data
    assert b"$2b$12$" not in data
    masked = q(sample_analytics, "SELECT value FROM data_quality WHERE check_name = 'secrets_masked'")[0][0]
    assert masked >= len(truth["secrets"])
    # Masking leaves the parameters valid JSON.
    assert q(sample_analytics, "SELECT COUNT(*) FROM tool_calls WHERE parameters IS NOT NULL AND NOT json_valid(parameters)") == [(0,)]


def test_users_are_referenced_not_copied(sample_analytics, truth):
    refs = {r[0] for r in q(sample_analytics, "SELECT DISTINCT user_ref FROM tasks")}
    raw = {str(t["user_id"]) for t in truth["tasks"]}
    assert len(refs) == len(raw)
    assert not refs & raw
    data = file_bytes(sample_analytics)
    for user_id in raw:
        assert user_id.encode() not in data


def test_data_quality_rows(sample_analytics, truth):
    dq = dict(q(sample_analytics, "SELECT check_name, value FROM data_quality WHERE sync_id = (SELECT MAX(sync_id) FROM syncs)"))
    rows = q(sample_analytics, "SELECT COUNT(*) FROM tool_calls")[0][0]
    assert dq["calls"] == len(truth["calls"]) == rows
    assert dq["bot_rows_read"] == 1223
    assert dq["bot_rows_merged"] == 1223 - len(truth["calls"])
    assert dq["calls_unknown_outcome"] == sum(c["outcome"] == "unknown" for c in truth["calls"])
    assert dq["calls_with_tokens"] == sum(bool(c["tokens"]) for c in truth["calls"])
    assert dq["calls_without_task"] == sum(c["model"] is None for c in truth["calls"])


def test_rollup_equals_the_calls(sample_analytics):
    rollup = q(sample_analytics, "SELECT SUM(calls), TOTAL(cost_usd), SUM(input_tokens) FROM tool_daily")[0]
    calls = q(sample_analytics, "SELECT COUNT(*), TOTAL(cost_usd), SUM(COALESCE(input_tokens, 0)) FROM tool_calls")[0]
    assert rollup[0] == calls[0] and rollup[2] == calls[2]
    assert rollup[1] == pytest.approx(calls[1], rel=1e-12)


def test_the_bot_file_is_never_written(sample_db, tmp_path):
    before = sample_db.read_bytes()
    sync(sample_db, tmp_path / "a.db", source_tz="UTC")
    sync(sample_db, tmp_path / "a.db", source_tz="UTC")
    assert sample_db.read_bytes() == before


# --- time zones ---------------------------------------------------------------------------------------------


def test_source_timezone_converts_to_utc_and_days_follow_the_report_zone(sample_db, tmp_path):
    out = tmp_path / "a.db"
    sync(sample_db, out, source_tz="America/Los_Angeles", report_tz="Asia/Tokyo")
    first = q(out, "SELECT started_at, day FROM tool_calls ORDER BY call_id LIMIT 1")[0]
    # Bot wrote 2025-09-29T17:55:04 Los Angeles time (PDT, UTC-7) → 2025-09-30T00:55:04Z → 09:55 in Tokyo.
    assert first[0].startswith("2025-09-30T00:55:04.")
    assert first[0].endswith("+00:00")
    assert first[1] == "2025-09-30"


# --- merging edge cases, by hand -----------------------------------------------------------------------------


def _bot(tmp_path: Path) -> Path:
    path = tmp_path / "bot.db"
    bot_schema.create_bot_database(path).close()
    return path


def _insert(path: Path, rows: list[tuple]) -> None:
    conn = sqlite3.connect(path)
    with conn:
        conn.executemany(
            """INSERT INTO tool_usage (id, timestamp, task_id, tool_name, success, error, parameters, error_category,
               input_tokens, output_tokens) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)""",
            rows,
        )
    conn.close()


def _update(path: Path, sql: str, params=()) -> None:
    conn = sqlite3.connect(path)
    with conn:
        conn.execute(sql, params)
    conn.close()


P = '{"file_path": "/ws/a.py"}'


@pytest.mark.parametrize(
    "rows, outcome, n_rows, tokens",
    [
        # server down: one row, updated in place
        ([(1, "2025-10-01T10:00:00.000100", "abc123", "Read", 1, None, P, None, None, None)], "success", 1, None),
        # server up: A (NULL), B (updated, tokens), C (no tokens)
        ([(1, "2025-10-01T10:00:00.000100", "abc123", "Task", None, None, P, None, None, None),
          (2, "2025-10-01T10:00:00.000900", "abc123", "Task", 1, None, P, None, 500, 70),
          (3, "2025-10-01T10:02:00.000100", "abc123", "Task", 1, None, P, None, None, None)], "success", 3, 500),
        # server up, window missed: A, B NULL; D with tokens; C
        ([(1, "2025-10-01T20:00:00.000100", "abc123", "Task", None, None, P, None, None, None),
          (2, "2025-10-01T20:00:00.000900", "abc123", "Task", None, None, P, None, None, None),
          (3, "2025-10-01T20:02:00.000100", "abc123", "Task", 0, "Permission denied", P, "permission_error", 10, 5),
          (4, "2025-10-01T20:02:00.000300", "abc123", "Task", 0, "Permission denied", P, "permission_error", None, None)],
         "failure", 4, 10),
        # never completed, server up
        ([(1, "2025-10-01T10:00:00.000100", "abc123", "Read", None, None, P, None, None, None),
          (2, "2025-10-01T10:00:00.000900", "abc123", "Read", None, None, P, None, None, None)], "unknown", 2, None),
    ],
    ids=["server-down", "server-up", "window-missed", "never-completed"],
)
def test_one_logical_call_per_invocation(tmp_path, rows, outcome, n_rows, tokens):
    bot = _bot(tmp_path)
    _insert(bot, rows)
    out = tmp_path / "a.db"
    # Los Angeles: 20:00 local is after UTC midnight, where the bot's update window misses.
    sync(bot, out, source_tz="America/Los_Angeles")
    assert q(out, "SELECT outcome, source_rows, input_tokens FROM tool_calls") == [(outcome, n_rows, tokens)]


def test_unknown_call_then_next_identical_call_without_server(tmp_path):
    """Server down on a UTC host: a NULL row then a completed one are two calls (the window would have matched)."""
    bot = _bot(tmp_path)
    _insert(bot, [(1, "2025-10-01T10:00:00.000100", "abc123", "Read", None, None, P, None, None, None),
                  (2, "2025-10-01T10:00:30.000100", "abc123", "Read", 1, None, P, None, None, None)])
    out = tmp_path / "a.db"
    sync(bot, out, source_tz="UTC")
    assert q(out, "SELECT outcome FROM tool_calls ORDER BY call_id") == [("unknown",), ("success",)]


# --- incremental ---------------------------------------------------------------------------------------------


def test_call_completed_in_place_after_the_sync_that_first_saw_it(tmp_path):
    bot = _bot(tmp_path)
    _insert(bot, [(1, "2025-10-01T10:00:00.000100", "abc123", "Task", None, None, P, None, None, None),
                  (2, "2025-10-01T10:00:00.000900", "abc123", "Task", None, None, P, None, None, None)])
    out = tmp_path / "a.db"
    first = sync(bot, out, source_tz="UTC")
    assert first.mode == "full"
    assert q(out, "SELECT outcome FROM tool_calls") == [("unknown",)]
    # The post-hook updates B in place and the server inserts C: rows on both sides of the sync.
    _update(bot, "UPDATE tool_usage SET success = 1, input_tokens = 900, output_tokens = 90 WHERE id = 2")
    _insert(bot, [(3, "2025-10-01T10:03:00.000100", "abc123", "Task", 1, None, P, None, None, None)])
    second = sync(bot, out, source_tz="UTC")
    assert second.mode == "incremental"
    assert q(out, "SELECT outcome, source_rows, input_tokens, duration_ms FROM tool_calls") == [
        ("success", 3, 900, pytest.approx(180_000, abs=1))]
    full = tmp_path / "full.db"
    sync(bot, full, source_tz="UTC")
    _assert_same_analytics(out, full)


def test_rewritten_history_falls_back_to_a_full_sync(tmp_path):
    bot = _bot(tmp_path)
    _insert(bot, [(1, "2025-10-01T10:00:00.000100", "abc123", "Read", 1, None, P, None, None, None),
                  (2, "2025-10-01T10:00:09.000100", "abc123", "Bash", 1, None, '{"command": "ls"}', None, None, None)])
    out = tmp_path / "a.db"
    sync(bot, out, source_tz="UTC")
    _update(bot, "DELETE FROM tool_usage WHERE id = 1")
    result = sync(bot, out, source_tz="UTC")
    assert result.mode == "full" and "deleted" in result.reason
    assert q(out, "SELECT call_id FROM tool_calls") == [(2,)]


TABLES = {
    "tool_calls": "call_id", "tasks": "task_id", "agent_events": "event_id", "router_messages": "message_id",
    "tool_daily": "day, tool_name, model_id, agent_type, outcome, error_category", "open_call_rows": "row_id",
    "model_prices": "model_id, effective_from", "duration_ranks": "tool_name, day, rank",
    "duration_ranks_by_agent": "tool_name, day, model_id, agent_type, rank", "duration_buckets": "tool_name, bucket, day",
    "latency_totals": "tool_name",
}


def _assert_same_analytics(a: Path, b: Path, *, float_rel: float = 0.0) -> None:
    """Every table of ``a`` equals ``b``'s. ``float_rel`` > 0 lets REAL sums differ by that relative amount: a
    rollup adds the same calls in another order when they arrived in other syncs (e.g. 176368.742 against
    176368.74199999997 ms); every other value must still be equal."""
    for table, order in TABLES.items():
        rows_a, rows_b = table_rows(a, table, order), table_rows(b, table, order)
        salted = {"tasks": 12, "router_messages": 1}.get(table)  # user_ref depends on each database's own salt
        if salted is not None:
            rows_a = [r[:salted] + r[salted + 1:] for r in rows_a]
            rows_b = [r[:salted] + r[salted + 1:] for r in rows_b]
        if float_rel and len(rows_a) == len(rows_b):
            rows_b = [tuple(x if _close(x, y, float_rel) else y for x, y in zip(ra, rb)) if len(ra) == len(rb) else rb
                      for ra, rb in zip(rows_a, rows_b)]
        assert rows_a == rows_b, table


def _close(x: object, y: object, rel: float) -> bool:
    return isinstance(x, float) and isinstance(y, float) and math.isclose(x, y, rel_tol=rel)


def _state_at(final_db: Path, target: Path, cut_id: int) -> None:
    """The bot database as it was when row ``cut_id`` was written: later rows absent, and rows the bot
    completed in place later (pre rows whose call ended after that moment) still NULL."""
    shutil.copyfile(final_db, target)
    conn = sqlite3.connect(target)
    with conn:
        cut_ts = conn.execute("SELECT timestamp FROM tool_usage WHERE id = ?", (cut_id,)).fetchone()[0]
        conn.execute("DELETE FROM tool_usage WHERE id > ?", (cut_id,))
        # Ids follow commit order (one writer at a time), so what existed then is a prefix by id.
        for table in ("agent_status", "messages"):
            conn.execute(f"DELETE FROM {table} WHERE id > (SELECT COALESCE(MAX(id), 0) FROM {table} WHERE timestamp <= ?)",
                         (cut_ts,))
        # A completed row whose call's completion insert (a later row with the same key) came after the cut was
        # still NULL at the cut, and so was a lone row whose post-hook event is after the cut.
        conn.execute(
            """UPDATE tool_usage SET success = NULL, error = NULL, error_category = NULL, input_tokens = NULL,
                   output_tokens = NULL, cache_creation_tokens = NULL, cache_read_tokens = NULL
               WHERE success IS NOT NULL AND id IN (
                 SELECT t.id FROM tool_usage t JOIN tool_usage later
                   ON later.task_id = t.task_id AND later.tool_name = t.tool_name
                  AND later.parameters IS t.parameters AND later.id > t.id
                 WHERE later.timestamp > :cut AND later.success IS NOT NULL)""",
            {"cut": cut_ts},
        )
    conn.close()


@pytest.mark.parametrize("cuts", [(300, 700, 1000), (50, 120, 601, 602, 1199), (1220,)])
def test_incremental_syncs_equal_a_full_sync(tmp_path, cuts):
    """Sync the sample as it grew (cut points mid-call included), then once more: same as one full sync."""
    bot = tmp_path / "bot.db"
    out = tmp_path / "incremental.db"
    for cut in cuts:
        _state_at(SAMPLE_DB, bot, cut)
        sync(bot, out, source_tz="UTC")
    shutil.copyfile(SAMPLE_DB, bot)
    last = sync(bot, out, source_tz="UTC")
    assert last.mode == "incremental", last.reason
    full = tmp_path / "full.db"
    sync(bot, full, source_tz="UTC", full=True)
    _assert_same_analytics(out, full)


# --- old schemas, atomicity, CLI --------------------------------------------------------------------------------


@pytest.mark.parametrize("version", [1, 5, 9, 13])
def test_older_schemas_are_read_with_v14_meaning(tmp_path, version):
    bot = tmp_path / "old.db"
    bot_schema.create_bot_database(bot, version=version).close()
    conn = sqlite3.connect(bot)
    with conn:
        conn.execute("""INSERT INTO tasks (task_id, user_id, description, status, created_at, updated_at, model,
                        workspace) VALUES ('abc123', 1, 'x', 'completed', '2025-10-01T09:00:00', '2025-10-01T09:30:00',
                        'sonnet', '/ws')""")
        conn.execute("""INSERT INTO tool_usage (timestamp, task_id, tool_name, success, parameters)
                        VALUES ('2025-10-01T09:01:00.5', 'abc123', 'Read', 1, '{"file_path": "/a"}')""")
    conn.close()
    out = tmp_path / "a.db"
    sync(bot, out, source_tz="UTC")
    assert q(out, "SELECT task_id, outcome, input_tokens, error_category FROM tool_calls") == [("abc123", "success", None, None)]
    assert q(out, "SELECT status, cycle_s FROM tasks") == [("completed", 1800.0)]


def test_a_failed_sync_leaves_the_previous_database_intact(sample_db, tmp_path, monkeypatch):
    loader_module = importlib.import_module("amiga_analytics.load.loader")

    out = tmp_path / "a.db"
    sync(sample_db, out, source_tz="UTC")
    before = out.read_bytes()

    def boom(self):
        raise RuntimeError("disk on fire")

    monkeypatch.setattr(loader_module.Loader, "rebuild_rollups", boom)
    _update(sample_db, "UPDATE tasks SET status = 'failed'")
    with pytest.raises(RuntimeError):
        sync(sample_db, out, source_tz="UTC")
    with pytest.raises(RuntimeError):
        sync(sample_db, out, source_tz="UTC", full=True)
    assert out.read_bytes() == before
    fresh = tmp_path / "fresh.db"
    with pytest.raises(RuntimeError):
        sync(sample_db, fresh, source_tz="UTC")
    assert not fresh.exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.db", "agentlab.db"] + [
        p.name for p in tmp_path.iterdir() if p.name.startswith("agentlab.db-")]


def test_cli_sync_prints_a_summary_and_refuses_bad_targets(sample_db, tmp_path):
    runner = CliRunner()
    out = tmp_path / "a.db"
    result = runner.invoke(cli, ["sync", str(sample_db), str(out), "--source-tz", "UTC"])
    assert result.exit_code == 0, result.output
    assert "638 logical tool calls" in result.output
    other = tmp_path / "notes.txt"
    other.write_text("my notes")
    for args in (["sync", str(sample_db), str(other)], ["sync", str(tmp_path / "missing.db"), str(out)],
                 ["sync", str(sample_db), str(out), "--source-tz", "Mars/Olympus"],
                 ["sync", str(sample_db), str(tmp_path / "no-dir" / "a.db")]):
        result = runner.invoke(cli, args)
        assert result.exit_code == 2, (args, result.output)
        lines = result.stderr.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("Error:"), result.stderr
    assert other.read_text() == "my notes"


def test_progress_goes_to_a_callback_and_the_library_draws_nothing(sample_db, tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(importlib.import_module("amiga_analytics.load.loader"), "MIN_TOTAL", 0)  # report any size
    conn = sqlite3.connect(f"file:{sample_db}?mode=ro", uri=True)
    (rows,) = conn.execute("SELECT MAX(id) FROM tool_usage").fetchone()
    conn.close()
    seen = []
    sync(sample_db, tmp_path / "a.db", source_tz="UTC", progress=lambda *args: seen.append(args))
    assert seen == [("tool_usage rows", 0, rows), ("tool_usage rows", rows, rows)]
    assert capsys.readouterr().err == ""
    sync(sample_db, tmp_path / "b.db", source_tz="UTC", progress=True)  # the plain bar of the library
    err = capsys.readouterr().err
    assert err.startswith("\rtool_usage rows  [") and err.endswith("]  100%\n")


def test_the_library_does_not_import_click():
    """Only the top (the CLI and the make-report pipeline) uses click; the stages below it report progress through
    a callback."""
    package = Path(importlib.import_module("amiga_analytics").__file__).parent
    offenders = []
    for path in package.rglob("*.py"):
        tree = ast.parse(path.read_text())
        for node in ast.walk(tree):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else (
                [node.module or ""] if isinstance(node, ast.ImportFrom) else [])
            if any(n == "click" or n.startswith("click.") for n in names):
                offenders.append(path.relative_to(package).as_posix())
    assert "cli.py" in offenders  # the check sees imports
    assert [p for p in offenders if p not in ("cli.py", "pipeline.py")] == []


def test_sync_while_a_bot_like_writer_writes_in_wal_mode(sample_db, tmp_path):
    """The writer sees no error, every sync completes, and the final load equals a full sync."""
    import subprocess
    import sys

    writer = subprocess.Popen([sys.executable, str(Path(__file__).parent / "botwriter.py"), str(sample_db), "4"],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    out = tmp_path / "a.db"
    syncs = 0
    try:
        while writer.poll() is None:
            result = sync(sample_db, out, source_tz="UTC")
            syncs += 1
            # What one sync loaded is a consistent snapshot: every row up to its watermark, merged.
            loaded = q(out, "SELECT SUM(source_rows) FROM tool_calls")[0][0]
            assert loaded == result.quality["bot_rows_merged"] + result.quality["calls"]
    finally:
        stdout, stderr = writer.communicate(timeout=30)
    assert writer.returncode == 0, stderr
    assert int(stdout) > 10 and syncs >= 2
    sync(sample_db, out, source_tz="UTC")
    full = tmp_path / "full.db"
    sync(sample_db, full, source_tz="UTC", full=True)
    _assert_same_analytics(out, full)
    assert q(out, "SELECT COUNT(*) FROM tool_calls WHERE source_id = 'feed01'") == [(int(stdout),)]


def test_migrations_m009_m010_bring_an_m008_database_to_what_a_sync_writes(sample_analytics, tmp_path):
    """A database written before duration_buckets and the top errors' group index (an m008 database) gets both
    from the migrations: the buckets equal the ones a sync writes, the day-ordered failures index is replaced."""
    from sqlite_utils import Database

    from amiga_analytics.store.schema import FAILURE_GROUPS_INDEX, migrate

    old = tmp_path / "old.db"
    shutil.copyfile(sample_analytics, old)
    conn = sqlite3.connect(old)
    conn.execute("DROP TABLE duration_buckets")
    conn.execute(f"DROP INDEX {FAILURE_GROUPS_INDEX}")
    conn.execute("CREATE INDEX idx_tool_calls_failures ON tool_calls (day, tool_name, error_template, "
                 "error_category, started_at, task_id, error) WHERE outcome = 'failure'")
    conn.execute("DELETE FROM _sqlite_migrations WHERE name IN ('m009_duration_buckets', 'm010_failure_groups', 'm011_bots')")
    conn.commit()
    conn.close()
    migrate(Database(old))
    order = TABLES["duration_buckets"]
    assert table_rows(old, "duration_buckets", order) == table_rows(sample_analytics, "duration_buckets", order)
    assert len(table_rows(old, "duration_buckets", order)) > 50
    indexes = {r[0] for r in q(old, "SELECT name FROM sqlite_master WHERE type = 'index'")}
    assert FAILURE_GROUPS_INDEX in indexes and "idx_tool_calls_failures" not in indexes


def test_migration_m012_fills_the_ranks_by_agent_and_latency_totals_as_a_sync_writes_them(sample_analytics, tmp_path):
    """A database written before duration_ranks_by_agent and latency_totals gets them from migration m012, equal to
    what a sync writes: three ranks a call (its model and agent type, its model, its agent type), each group ranked
    0, 1, 2, … by duration; the whole history's Read latency is numpy's percentiles of its raw durations."""
    from sqlite_utils import Database

    from amiga_analytics.store.schema import migrate

    old = tmp_path / "old.db"
    shutil.copyfile(sample_analytics, old)
    conn = sqlite3.connect(old)
    conn.execute("DROP TABLE duration_ranks_by_agent")
    conn.execute("DROP TABLE latency_totals")
    conn.execute("DELETE FROM _sqlite_migrations WHERE name = 'm012_duration_ranks_by_agent'")
    conn.commit()
    conn.close()
    migrate(Database(old))
    order = TABLES["duration_ranks_by_agent"]
    got = table_rows(old, "duration_ranks_by_agent", order)
    assert got == table_rows(sample_analytics, "duration_ranks_by_agent", order)
    with_duration = q(sample_analytics, "SELECT COUNT(*) FROM tool_calls WHERE duration_ms IS NOT NULL")[0][0]
    assert len(got) == 3 * with_duration > 0
    groups = collections.defaultdict(list)
    for bot, tool, day, model, agent, rank, ms in got:
        assert bot == "main"
        groups[(tool, day, model, agent)].append((rank, ms))
    for (_tool, _day, model, agent), ranked in groups.items():
        assert [r for r, _ in ranked] == list(range(len(ranked)))
        assert [ms for _, ms in ranked] == sorted(ms for _, ms in ranked)
        assert (model == "*") + (agent == "*") <= 1
    totals = table_rows(old, "latency_totals", "tool_name")
    assert totals == table_rows(sample_analytics, "latency_totals", "tool_name")
    assert {r[0] for r in totals} == {"main"}
    reads = [r[1:] for r in totals if r[1] == "Read"][0]
    durations = [ms for (ms,) in q(sample_analytics, "SELECT duration_ms FROM tool_calls WHERE tool_name = 'Read' "
                                                     "AND duration_ms IS NOT NULL")]
    assert reads[1:3] == (q(sample_analytics, "SELECT COUNT(*) FROM tool_calls WHERE tool_name = 'Read'")[0][0],
                          len(durations))
    assert list(reads[3:6]) == [float(np.percentile(durations, p)) for p in (50, 90, 99)]


def test_the_indexes_built_before_the_join_exist(sample_analytics):
    """A full sync builds LOOKUP_INDEXES before the end-time fill and the join, the other deferred ones after: a
    migration that renamed one would leave the join scanning every call per group, silently."""
    from amiga_analytics.load.sql import DEFERRABLE_INDEXES_SQL, LOOKUP_INDEXES

    deferred = {name for name, _, table in q(sample_analytics, DEFERRABLE_INDEXES_SQL) if table == "tool_calls"}
    assert LOOKUP_INDEXES <= deferred
    assert len(deferred - LOOKUP_INDEXES) >= 5  # left for after the join (outcome, duration, failure indexes)
