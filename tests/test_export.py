"""``export``: the analytics database as hive-partitioned Parquet, read back by DuckDB, an engine independent of
both SQLite and the export's writer. DuckDB's figures over the files must equal the query functions (which the
query tests check against the fixtures' truth) and the truth itself; an incremental export after an incremental
sync must equal a fresh export, having rewritten exactly the partitions whose rows changed (worked out here from
the two SQLite states, not from the export); bad input changes no file."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import math
import shutil
import sqlite3
from collections import Counter
from pathlib import Path

import duckdb
import pytest
from click.testing import CliRunner

import amiga_analytics as aa
from amiga_analytics.cli import cli
from amiga_analytics.export import export
from amiga_analytics.export import run as export_run
from amiga_analytics.export.layout import BOOLEANS, DATES, TIMESTAMPS, exported_table_names
from amiga_analytics.store.tables import INTERNAL_TABLES, TABLES
from conftest import SAMPLE_DB
from dbquery import q

FIXTURES = Path(__file__).parent / "fixtures"
UTC_FORMAT = "%Y-%m-%dT%H:%M:%S.%f+00:00"


def duck(directory: Path) -> duckdb.DuckDBPyConnection:
    """DuckDB with one view per exported table over its Parquet files (hive partitioning), times shown in UTC."""
    con = duckdb.connect()
    con.execute("SET TimeZone = 'UTC'")
    for table in json.loads((directory / "manifest.json").read_text())["tables"]:
        con.execute(f"CREATE VIEW {table} AS SELECT * FROM read_parquet('{directory}/{table}/**/*.parquet', "
                    f"hive_partitioning = true)")
    return con


def _plain(value):
    """A DuckDB value as SQLite holds it: times as UTC ISO text, dates as YYYY-MM-DD, booleans as 0/1."""
    if isinstance(value, dt.datetime):
        return value.astimezone(dt.timezone.utc).strftime(UTC_FORMAT)
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, bool):
        return int(value)
    return value


def _keys(path: Path, table: str) -> str:
    pk = [r[1] for r in sorted(sqlite3.connect(f"file:{path}?mode=ro", uri=True).execute(
        f"PRAGMA table_info({table})").fetchall(), key=lambda r: r[5]) if r[5]]
    return ", ".join(pk)


def table_data(directory: Path, analytics: Path) -> dict[str, list[tuple]]:
    """Every exported table as DuckDB reads it, in the database's column order and key order, SQLite's types."""
    con = duck(directory)
    out = {}
    for table in json.loads((directory / "manifest.json").read_text())["tables"]:
        columns = ", ".join(f'"{c}"' for c in TABLES[table]["columns"])
        rows = con.execute(f"SELECT {columns} FROM {table} ORDER BY {_keys(analytics, table)}").fetchall()
        out[table] = [tuple(_plain(v) for v in row) for row in rows]
    return out


def sqlite_data(analytics: Path) -> dict[str, list[tuple]]:
    out = {}
    for table in exported_table_names():
        columns = ", ".join(f'"{c}"' for c in TABLES[table]["columns"])
        out[table] = q(analytics, f"SELECT {columns} FROM {table} ORDER BY {_keys(analytics, table)}")
    return out


@pytest.fixture(scope="module")
def sample_export(sample_analytics, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("sample-export") / "export"
    export(sample_analytics, out)
    return out


@pytest.fixture(scope="module")
def par_analytics(tmp_path_factory) -> Path:
    """sample_par with its transcripts (Europe/Berlin host): api_requests and tool_uses have rows."""
    base = tmp_path_factory.mktemp("par")
    shutil.copyfile(FIXTURES / "sample_par.db", base / "bot.db")
    aa.sync(base / "bot.db", base / "analytics.db", source_tz="Europe/Berlin",
            transcripts=[FIXTURES / "sample_par.claude"])
    return base / "analytics.db"


@pytest.fixture(scope="module")
def par_export(par_analytics, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("par-export") / "export"
    export(par_analytics, out)
    return out


# --- the round trip ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("which", ["sample", "par", "demo"])
def test_every_value_of_every_table_round_trips(which, request):
    analytics = {"sample": "sample_analytics", "par": "par_analytics"}.get(which)
    if analytics is None:
        analytics_path = request.getfixturevalue("demo_pair")[2]
        directory = request.getfixturevalue("tmp_path") / "export"
        export(analytics_path, directory)
    else:
        analytics_path = request.getfixturevalue(analytics)
        directory = request.getfixturevalue(f"{which}_export")
    got, want = table_data(directory, analytics_path), sqlite_data(analytics_path)
    assert got.keys() == want.keys()
    for table in want:
        assert got[table] == want[table], table
    if which == "par":
        assert len(want["api_requests"]) == 876 and len(want["tool_uses"]) == 1303  # the transcripts' truth


def test_readers_see_real_types(par_export):
    con = duck(par_export)
    types = {(t, r[0]): r[1] for t in exported_table_names()
             for r in con.execute(f"DESCRIBE SELECT * FROM {t}").fetchall()}
    for table, columns in TIMESTAMPS.items():
        assert all(types[(table, c)] == "TIMESTAMP WITH TIME ZONE" for c in columns), table
    for table, columns in DATES.items():
        assert all(types[(table, c)] == "DATE" for c in columns), table
    for table, columns in BOOLEANS.items():
        assert all(types[(table, c)] == "BOOLEAN" for c in columns), table
    assert types[("tool_calls", "cost_usd")] == types[("api_requests", "cost_usd")] == "DOUBLE"
    assert types[("tool_calls", "input_tokens")] == types[("tool_daily", "calls")] == "BIGINT"
    assert types[("tasks", "bot_updated_at")] == "VARCHAR"  # the bot's own text, kept as read
    # tool_uses has no day column: its partition is the report-timezone day of use_at, as api_requests.day
    wrong = con.execute("SELECT COUNT(*) FROM tool_uses WHERE day IS DISTINCT FROM "
                        "CAST(timezone('Europe/Berlin', use_at) AS DATE)").fetchone()[0]
    assert wrong == 0 and types[("tool_uses", "day")] == "DATE"


def test_column_types_follow_the_descriptions():
    """Every column described as a UTC time is a timestamp, every calendar day a date, every 0/1 flag a boolean."""
    for table in exported_table_names():
        for column, text in TABLES[table]["columns"].items():
            # bot_ended_at: "the bot's ended_at where …", the same kind of value as ended_at
            is_time = "UTC ISO 8601" in text or (column.startswith("bot_") and text.startswith("The bot's")
                                                 and column.removeprefix("bot_") in TIMESTAMPS.get(table, ()))
            assert is_time == (column in TIMESTAMPS.get(table, ())), (table, column)
            is_day = text.startswith(("Calendar day", "First day"))
            assert is_day == (column in DATES.get(table, ())), (table, column)
            is_flag = text.startswith("1 if") or "(1/0)" in text
            assert is_flag == (column in BOOLEANS.get(table, ())), (table, column)


def test_only_what_the_view_shows_is_exported(par_export, par_analytics):
    on_disk = {p.name for p in par_export.iterdir() if p.is_dir()}
    assert on_disk == set(TABLES) - set(INTERNAL_TABLES)
    assert not on_disk & {"sync_state", "open_call_rows", "_sqlite_migrations", "sqlite_stat1"}
    manifest = json.loads((par_export / "manifest.json").read_text())
    for table, entry in manifest["tables"].items():
        names = [c for c, _ in entry["columns"]]
        assert set(names) == set(TABLES[table]["columns"]) | ({"day"} if table == "tool_uses" else set()), table
        assert entry["partition_by"] in (names[-1], None), table  # as readers see it: the partition column last
    # the local paths sync_state keeps (transcript folders) are in no file
    folder = json.loads(dict(q(par_analytics, "SELECT key, value FROM sync_state"))["transcript_dirs"])[0]
    assert folder not in (par_export / "manifest.json").read_text()
    texts = duck(par_export).execute("SELECT string_agg(file, '') FROM api_requests").fetchone()[0]
    assert folder not in texts


def test_layout_is_hive_style_one_file_per_partition(sample_export, sample_analytics):
    days = [r[0] for r in q(sample_analytics, "SELECT DISTINCT day FROM tool_calls ORDER BY 1")]
    assert sorted(p.name for p in (sample_export / "tool_calls").iterdir()) == [f"day={d}" for d in days]
    assert all([f.name for f in (sample_export / "tool_calls" / f"day={d}").iterdir()] == ["part-0.parquet"]
               for d in days)
    created = {r[0] for r in q(sample_analytics, "SELECT DISTINCT created_day FROM tasks")}
    assert {p.name for p in (sample_export / "tasks").iterdir()} == {f"created_day={d}" for d in created}
    assert [p.name for p in (sample_export / "model_prices").iterdir()] == ["part-0.parquet"]
    # no transcripts: an empty table is one empty file, so that readers still find its columns
    assert [p.relative_to(sample_export).as_posix() for p in (sample_export / "api_requests").rglob("*.parquet")] \
        == ["api_requests/day=__HIVE_DEFAULT_PARTITION__/part-0.parquet"]
    assert duck(sample_export).execute("SELECT COUNT(*) FROM api_requests").fetchone()[0] == 0
    manifest = json.loads((sample_export / "manifest.json").read_text())
    assert manifest["source"]["sync_id"] == q(sample_analytics, "SELECT MAX(sync_id) FROM syncs")[0][0]
    for entry in manifest["tables"].values():
        assert entry["rows"] == sum(p["rows"] for p in entry["partitions"])
        for part in entry["partitions"]:
            data = (sample_export / part["path"]).read_bytes()
            assert (len(data), hashlib.sha256(data).hexdigest()) == (part["bytes"], part["sha256"])


# --- DuckDB's figures over the files = the query functions (and the truth) ----------------------------------------

TOOL_COST_SQL = """SELECT tool_name, COUNT(*) AS calls, COUNT(*) FILTER (has_tokens) AS calls_with_tokens,
       COALESCE(SUM(input_tokens), 0), COALESCE(SUM(output_tokens), 0),
       COALESCE(SUM(cache_write_tokens), 0), COALESCE(SUM(cache_read_tokens), 0),
       SUM(cost_usd) FILTER (cost_witness = 'bot') AS bot_usd, SUM(transcript_cost_usd) AS transcript_usd
FROM tool_calls GROUP BY tool_name"""
ERRORS_SQL = """SELECT tool_name, COUNT(*), COUNT(*) FILTER (outcome IN ('success', 'failure')),
       COUNT(*) FILTER (outcome = 'failure'), COUNT(*) FILTER (outcome = 'unknown')
FROM tool_calls GROUP BY tool_name"""
CREATED_SQL = "SELECT created_day, COUNT(*) FROM tasks GROUP BY 1"
FINISHED_SQL = """SELECT finished_day, COUNT(*) FILTER (status = 'completed'), COUNT(*) FILTER (status = 'failed'),
       COUNT(*) FILTER (status = 'stopped')
FROM tasks WHERE finished_day IS NOT NULL AND status IN ('completed', 'failed', 'stopped') GROUP BY 1"""
USAGE_SQL = """SELECT day, model_id, COUNT(*), SUM(input_tokens), SUM(output_tokens), SUM(cache_write_5m_tokens),
       SUM(cache_write_1h_tokens), SUM(cache_read_tokens), SUM(cost_usd)
FROM api_requests GROUP BY 1, 2"""


def _money(bot: float | None, transcript: float | None) -> float:
    """tool_cost's cost_usd: bot-witnessed cost plus the transcripts' share; unpriced is NaN, never $0."""
    total = (bot or 0.0) + (transcript or 0.0)
    return total if total else math.nan


def _same_money(a: float, b: float) -> bool:
    return (math.isnan(a) and math.isnan(b)) or math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-12)


@pytest.mark.parametrize("which", ["sample", "par"])
def test_duckdb_tool_cost_and_error_rates_equal_the_query_functions(which, request):
    analytics, directory = request.getfixturevalue(f"{which}_analytics"), request.getfixturevalue(f"{which}_export")
    con = duck(directory)
    cost = aa.tool_cost(analytics).set_index("tool_name")
    rows = con.execute(TOOL_COST_SQL).fetchall()
    assert {r[0] for r in rows} == set(cost.index)
    for tool, *counts, bot, transcript in rows:
        want = cost.loc[tool]
        assert counts == [int(want[c]) for c in ("calls", "calls_with_tokens", "input_tokens", "output_tokens",
                                                 "cache_write_tokens", "cache_read_tokens")], tool
        assert _same_money(_money(bot, transcript), float(want["cost_usd"])), tool
    rates = aa.error_rates(analytics).set_index("tool_name")
    for tool, calls, completed, failed, unknown in con.execute(ERRORS_SQL).fetchall():
        want = rates.loc[tool]
        assert (calls, completed, failed, unknown) == tuple(int(want[c]) for c in
                                                           ("calls", "completed", "failed", "unknown")), tool
        assert _same_money(failed / completed if completed else math.nan, float(want["error_rate"])), tool


def test_duckdb_calls_per_tool_and_outcome_equal_the_truth(sample_export, truth):
    rows = duck(sample_export).execute("SELECT tool_name, outcome, COUNT(*) FROM tool_calls GROUP BY 1, 2").fetchall()
    assert {(t, o): n for t, o, n in rows} == Counter((c["tool"], c["outcome"]) for c in truth["calls"])


@pytest.mark.parametrize("which", ["sample", "par"])
def test_duckdb_task_throughput_equals_the_query_function(which, request):
    analytics, directory = request.getfixturevalue(f"{which}_analytics"), request.getfixturevalue(f"{which}_export")
    con = duck(directory)
    got: dict[str, list[int]] = {}
    for day, n in con.execute(CREATED_SQL).fetchall():
        got.setdefault(day.isoformat(), [0, 0, 0, 0])[0] = n
    for day, *finished in con.execute(FINISHED_SQL).fetchall():
        got.setdefault(day.isoformat(), [0, 0, 0, 0])[1:] = finished
    df = aa.task_throughput(analytics, freq="D")
    want = {p.strftime("%Y-%m-%d"): [int(r[c]) for c in ("created", "completed", "failed", "stopped")]
            for p, r in zip(df["period_start"], df.to_dict("records"))}
    assert got == {day: counts for day, counts in want.items() if any(counts)}
    assert sum(v[0] for v in got.values()) == q(analytics, "SELECT COUNT(*) FROM tasks")[0][0]


def test_duckdb_usage_equals_the_query_function_and_the_transcripts_truth(par_export, par_analytics):
    rows = duck(par_export).execute(USAGE_SQL).fetchall()
    got = {(day.isoformat(), model): row for day, model, *row in rows}
    df = aa.usage(par_analytics, by="model_id", freq="D")
    columns = ("requests", "input_tokens", "output_tokens", "cache_write_5m_tokens", "cache_write_1h_tokens",
               "cache_read_tokens")
    want = {(p.strftime("%Y-%m-%d"), r["model_id"]): r for p, r in zip(df["period_start"], df.to_dict("records"))
            if r["requests"]}
    assert got.keys() == want.keys()
    for key, row in got.items():
        assert row[:6] == [int(want[key][c]) for c in columns], key
        assert _same_money(row[6] if row[6] is not None else math.nan, float(want[key]["cost_usd"])), key
    truth = json.loads((FIXTURES / "sample_par.transcripts.truth.json").read_text())["daily_local"]
    names = ("requests", "input", "output", "cache_write_5m", "cache_write_1h", "cache_read")
    assert {k: row[:6] for k, row in got.items()} == {
        (day, model): [sums[n] for n in names] for day, models in truth.items() for model, sums in models.items()}


# --- incremental: equal to a fresh export, having rewritten exactly what changed ---------------------------------


def _bot_at(target: Path, cut_id: int) -> Path:
    """The sample bot database as it was when tool_usage row ``cut_id`` was written: later rows, events, messages
    and tasks absent (so calls begun before the cut complete after it)."""
    shutil.copyfile(SAMPLE_DB, target)
    conn = sqlite3.connect(target)
    with conn:
        cut = conn.execute("SELECT timestamp FROM tool_usage WHERE id = ?", (cut_id,)).fetchone()[0]
        conn.execute("DELETE FROM tool_usage WHERE id > ?", (cut_id,))
        for table in ("agent_status", "messages"):
            conn.execute(f"DELETE FROM {table} WHERE timestamp > ?", (cut,))
        conn.execute("DELETE FROM tasks WHERE created_at > ?", (cut,))
    conn.close()
    return target


def _day_key(table: str) -> str | None:
    if table == "tasks":
        return "created_day"
    return "day" if "day" in TABLES[table]["columns"] or table == "tool_uses" else None


def partitions_in(analytics: Path) -> dict[str, list[tuple]]:
    """The partitions the README's layout gives the database's rows (path → rows), worked out from SQLite."""
    from zoneinfo import ZoneInfo

    tz = ZoneInfo(json.loads(dict(q(analytics, "SELECT key, value FROM sync_state"))["report_tz"]))
    out: dict[str, list[tuple]] = {}
    for table, rows in sqlite_data(analytics).items():
        key = _day_key(table)
        names = list(TABLES[table]["columns"])
        for row in rows:
            if key is None:
                path = f"{table}/part-0.parquet"
            else:
                value = (row[names.index(key)] if table != "tool_uses" else
                         dt.datetime.fromisoformat(row[names.index("use_at")]).astimezone(tz).date().isoformat())
                path = f"{table}/{key}={value or '__HIVE_DEFAULT_PARTITION__'}/part-0.parquet"
            out.setdefault(path, []).append(row)
        if not rows:
            out[f"{table}/{key}=__HIVE_DEFAULT_PARTITION__/part-0.parquet" if key else f"{table}/part-0.parquet"] = []
    return out


def _files(directory: Path) -> dict[str, tuple[int, int]]:
    """Every file under ``directory`` but the manifest and lock: relative path → (inode, mtime)."""
    return {p.relative_to(directory).as_posix(): (p.stat().st_ino, p.stat().st_mtime_ns)
            for p in directory.rglob("*") if p.is_file() and p.name not in ("manifest.json", ".amiga-export.lock")}


def _check_incremental(analytics: Path, before_db: Path, directory: Path, tmp_path: Path) -> tuple[set, set]:
    """Export ``analytics`` into ``directory`` (which holds an export of ``before_db``'s state) and check it against
    the partitions that changed between the two SQLite states. Returns (rewritten paths, removed paths)."""
    before_files = _files(directory)
    before, after = partitions_in(before_db), partitions_in(analytics)
    assert set(before_files) == set(before)
    result = export(analytics, directory)
    after_files = _files(directory)
    rewritten = {p for p in after_files if before_files.get(p) != after_files[p]}
    assert set(after_files) == set(after)
    assert rewritten == {p for p in after if before.get(p) != after[p]}
    assert set(before_files) - set(after_files) == set(before) - set(after)
    assert result.total("written") == len(rewritten) and result.total("removed") == len(set(before) - set(after))
    fresh = tmp_path / f"fresh-{len(list(tmp_path.iterdir()))}"
    export(analytics, fresh)
    assert table_data(directory, analytics) == table_data(fresh, analytics) == sqlite_data(analytics)
    return rewritten, set(before) - set(after)


@pytest.mark.parametrize("cuts", [(700,), (300, 700, 1000)])
def test_incremental_export_after_incremental_sync_equals_a_fresh_export(tmp_path, cuts):
    bot, analytics, directory = tmp_path / "bot.db", tmp_path / "analytics.db", tmp_path / "export"
    before = tmp_path / "before.db"
    _bot_at(bot, cuts[0])
    aa.sync(bot, analytics, source_tz="UTC")
    export(analytics, directory)
    seen = {"completed later": 0, "left alone": 0}
    for cut in [*cuts[1:], None]:
        shutil.copyfile(analytics, before)
        if cut is None:
            shutil.copyfile(SAMPLE_DB, bot)
        else:
            _bot_at(bot, cut)
        assert aa.sync(bot, analytics, source_tz="UTC").mode == "incremental"
        rewritten, _ = _check_incremental(analytics, before, directory, tmp_path)
        # calls begun before the cut and completed after it: a day already exported was rewritten in place
        unknown = {c for (c,) in q(before, "SELECT call_id FROM tool_calls WHERE outcome = 'unknown'")}
        completed_later = {d for c, d, o in q(analytics, "SELECT call_id, day, outcome FROM tool_calls")
                           if c in unknown and o != "unknown"}
        assert all(f"tool_calls/day={d}/part-0.parquet" in rewritten for d in completed_later)
        seen["completed later"] += len(completed_later)
        seen["left alone"] += sum(p.startswith("tool_calls/") and p not in rewritten for p in partitions_in(analytics))
    assert seen["completed later"] and seen["left alone"], seen


def test_a_repricing_rewrites_the_days_it_changed_and_only_those(tmp_path, sample_db):
    analytics, directory, before = tmp_path / "analytics.db", tmp_path / "export", tmp_path / "before.db"
    aa.sync(sample_db, analytics, source_tz="UTC")
    export(analytics, directory)
    shutil.copyfile(analytics, before)
    prices = tmp_path / "prices.csv"
    prices.write_text("model_id,effective_from,input_usd_per_mtok,output_usd_per_mtok,cache_write_5m_usd_per_mtok,"
                      "cache_write_1h_usd_per_mtok,cache_read_usd_per_mtok,source\n"
                      "claude-sonnet-4-5-20250929,2025-10-06,30,150,37.5,60,3,test: ten times the list price\n")
    assert aa.sync(sample_db, analytics, prices=prices).mode == "incremental"
    rewritten, removed = _check_incremental(analytics, before, directory, tmp_path)
    repriced = {d for (d,) in q(analytics, "SELECT DISTINCT day FROM tool_calls WHERE cost_usd IS NOT NULL AND "
                                           "model_id = 'claude-sonnet-4-5-20250929' AND day >= '2025-10-06'")}
    assert repriced and {p.split("=")[1].split("/")[0] for p in rewritten if p.startswith("tool_calls/")} == repriced
    assert not removed


def test_a_resync_in_another_timezone_removes_the_days_that_are_gone(tmp_path, sample_db):
    analytics, directory, before = tmp_path / "analytics.db", tmp_path / "export", tmp_path / "before.db"
    aa.sync(sample_db, analytics, source_tz="UTC")
    export(analytics, directory)
    shutil.copyfile(analytics, before)
    aa.sync(sample_db, analytics, source_tz="UTC", report_tz="Pacific/Kiritimati", full=True)  # UTC+14
    _, removed = _check_incremental(analytics, before, directory, tmp_path)
    assert "tool_calls/day=2025-09-29/part-0.parquet" in removed  # every call of the first UTC day is on the 30th


def test_an_unchanged_database_writes_nothing(sample_analytics, tmp_path):
    first = export(sample_analytics, tmp_path / "export")
    files = _files(tmp_path / "export")
    again = export(sample_analytics, tmp_path / "export")
    assert again.total("written") == 0 and again.total("unchanged") == first.total("written")
    assert _files(tmp_path / "export") == files


# --- interrupted and damaged exports ------------------------------------------------------------------------------


def _interrupt_after(monkeypatch, files: int) -> None:
    """Make the export stop (as on Ctrl-C) when it is about to write file number ``files + 1``."""
    real, written = export_run.write_parquet, []

    def write(data, final):
        if len(written) == files:
            raise KeyboardInterrupt
        written.append(final)
        return real(data, final)

    monkeypatch.setattr(export_run, "write_parquet", write)


def _readable_everywhere(directory: Path) -> None:
    """Every file a reader's glob finds is a whole Parquet file, and no temporary file is left."""
    import pyarrow.parquet as pq

    assert not [p for p in directory.rglob("*.tmp")]
    for path in directory.rglob("*.parquet"):
        pq.read_metadata(path)


def test_an_interrupted_first_export_is_still_an_export_and_the_next_one_finishes_it(sample_analytics, tmp_path,
                                                                                       monkeypatch):
    directory = tmp_path / "export"
    _interrupt_after(monkeypatch, 5)
    with pytest.raises(KeyboardInterrupt):
        export(sample_analytics, directory)
    assert json.loads((directory / "manifest.json").read_text())["tables"] == {}  # vouches for nothing yet
    assert len(list(directory.rglob("*.parquet"))) == 5
    _readable_everywhere(directory)
    monkeypatch.undo()
    # a process killed mid-write leaves its temporary file behind: the next export removes it
    (directory / "tool_calls" / "day=2025-09-29" / ".part-0.parquet.424242.tmp").write_bytes(b"PAR1 half")
    export(sample_analytics, directory)
    _readable_everywhere(directory)
    assert table_data(directory, sample_analytics) == sqlite_data(sample_analytics)


def test_an_interrupted_incremental_export_leaves_the_last_manifest_and_whole_files(tmp_path, sample_db,
                                                                                     monkeypatch):
    analytics, directory = tmp_path / "analytics.db", tmp_path / "export"
    aa.sync(sample_db, analytics, source_tz="UTC")
    export(analytics, directory)
    manifest = (directory / "manifest.json").read_text()
    prices = tmp_path / "prices.csv"
    prices.write_text("model_id,effective_from,input_usd_per_mtok,output_usd_per_mtok,cache_write_5m_usd_per_mtok,"
                      "cache_write_1h_usd_per_mtok,cache_read_usd_per_mtok,source\n"
                      "claude-sonnet-4-5-20250929,2025-09-30,30,150,37.5,60,3,test\n")
    aa.sync(sample_db, analytics, prices=prices)
    _interrupt_after(monkeypatch, 3)
    with pytest.raises(KeyboardInterrupt):
        export(analytics, directory)
    assert (directory / "manifest.json").read_text() == manifest
    _readable_everywhere(directory)
    monkeypatch.undo()
    export(analytics, directory)
    assert table_data(directory, analytics) == sqlite_data(analytics)


def test_files_removed_or_added_by_hand_are_put_right(sample_analytics, tmp_path):
    directory = tmp_path / "export"
    export(sample_analytics, directory)
    day = directory / "tool_calls" / "day=2025-10-01" / "part-0.parquet"
    stray = directory / "tool_calls" / "day=1999-01-01" / "part-0.parquet"
    stray.parent.mkdir()
    shutil.copyfile(day, stray)
    day.unlink()
    (directory / "notes.txt").write_text("mine")
    result = export(sample_analytics, directory)
    assert result.total("written") == 1 and result.total("removed") == 1
    assert day.exists() and not stray.parent.exists() and (directory / "notes.txt").read_text() == "mine"
    assert table_data(directory, sample_analytics) == sqlite_data(sample_analytics)


# --- the command line, and bad input ------------------------------------------------------------------------------


def test_the_command_writes_and_then_writes_only_what_changed(sample_analytics, tmp_path):
    first = CliRunner().invoke(cli, ["export", str(sample_analytics), str(tmp_path / "out"), "--format", "parquet"])
    assert first.exit_code == 0, first.output
    files = len(list((tmp_path / "out").rglob("*.parquet")))
    assert first.output.startswith("exported analytics.db (sync 1) to ") and f"({files} written, 0 unchanged" in \
        first.output
    again = CliRunner().invoke(cli, ["export", str(sample_analytics), str(tmp_path / "out"), "--quiet"])
    assert again.exit_code == 0 and again.output == ""


def _tree(path: Path):
    if not path.exists():
        return None
    if path.is_file():
        return path.read_bytes()
    return sorted((p.relative_to(path).as_posix(), p.read_bytes() if p.is_file() else None) for p in path.rglob("*"))


def _not_an_export(d: Path) -> Path:
    d.mkdir()
    (d / "report.html").write_text("<html>")
    return d


def _foreign_manifest(d: Path) -> Path:
    d.mkdir()
    (d / "manifest.json").write_text('{"format": "something else", "version": 3}')
    return d


def _broken_manifest(d: Path) -> Path:
    d.mkdir()
    (d / "manifest.json").write_text('{"format": "amiga-analytics export", "vers')
    return d


def _a_file(d: Path) -> Path:
    d.write_text("a file")
    return d


@pytest.mark.parametrize("case, make_dir, db, args, message", [
    ("unknown format", None, "analytics", ["--format", "csv"], "unknown export format 'csv'"),
    ("not an analytics db", None, "text", [], "is not an analytics database"),
    ("missing analytics db", None, "missing", [], "no such analytics database"),
    ("DIR is a file", _a_file, "analytics", [], "is a file, not a directory"),
    ("DIR is not an export", _not_an_export, "analytics", [], "holds no export (manifest.json is missing)"),
    ("another tool's manifest", _foreign_manifest, "analytics", [], "is not the manifest of an amiga-analytics"),
    ("a broken manifest", _broken_manifest, "analytics", [], "cannot be read"),
])
def test_bad_input_is_one_line_exit_2_and_no_file_changed(case, make_dir, db, args, message, sample_analytics,
                                                          tmp_path):
    directory = tmp_path / "out"
    if make_dir:
        make_dir(directory)
    path = {"analytics": sample_analytics, "missing": tmp_path / "missing.db", "text": tmp_path / "notes.db"}[db]
    if db == "text":
        path.write_text("not a database")
    before_dir, before_db = _tree(directory), _tree(path)
    result = CliRunner().invoke(cli, ["export", str(path), str(directory), *args])
    assert result.exit_code == 2, (case, result.output)
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: ") and message in lines[0], (case, result.stderr)
    assert _tree(directory) == before_dir and _tree(path) == before_db, case


def test_without_pyarrow_one_line_names_the_extra(sample_analytics, tmp_path, monkeypatch):
    import sys

    monkeypatch.setitem(sys.modules, "pyarrow", None)  # import pyarrow now raises ImportError
    result = CliRunner().invoke(cli, ["export", str(sample_analytics), str(tmp_path / "out")])
    assert result.exit_code == 2
    assert result.stderr.strip() == ("Error: Parquet export needs pyarrow, which is not installed: pip install "
                                     "'amiga-analytics[parquet]' (or pip install pyarrow)")
    assert not (tmp_path / "out").exists()


def test_two_exports_never_write_one_directory_at_once(sample_analytics, tmp_path):
    import fcntl
    import os

    export(sample_analytics, tmp_path / "out")
    before = _tree(tmp_path / "out")
    fd = os.open(tmp_path / "out" / ".amiga-export.lock", os.O_RDWR)
    fcntl.flock(fd, fcntl.LOCK_EX)
    try:
        result = CliRunner().invoke(cli, ["export", str(sample_analytics), str(tmp_path / "out")])
    finally:
        os.close(fd)
    assert result.exit_code == 2 and "another export is writing" in result.stderr
    assert _tree(tmp_path / "out") == before


@pytest.mark.parametrize("damage, message", [
    ("UPDATE tool_calls SET day = '../../elsewhere' WHERE call_id = (SELECT MIN(call_id) FROM tool_calls)",
     "tool_calls: '../../elsewhere' is not a day in order"),
    ("UPDATE tool_calls SET input_tokens = 'many' WHERE call_id = (SELECT MIN(call_id) FROM tool_calls)",
     "tool_calls.input_tokens holds a value that is not an integer"),
    ("UPDATE tasks SET created_at = '2025-10-01 09:00' WHERE rowid = 1", "tasks.created_at holds a value that is not a UTC ISO 8601 time"),
])
def test_a_damaged_database_is_refused_with_one_line_and_nothing_outside_the_directory(damage, message,
                                                                                      sample_analytics, tmp_path):
    analytics = tmp_path / "analytics.db"
    shutil.copyfile(sample_analytics, analytics)
    conn = sqlite3.connect(analytics)
    with conn:
        conn.execute(damage)
    conn.close()
    result = CliRunner().invoke(cli, ["export", str(analytics), str(tmp_path / "a" / "b" / "out")])
    assert result.exit_code == 2 and message in result.stderr and len(result.stderr.strip().splitlines()) == 1
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a", "analytics.db"]
    assert not (tmp_path / "a" / "elsewhere").exists()
