"""The view's period bounds in plain SQL (``report_offsets`` + :mod:`amiga_analytics.web.periods`): every local time
or explicit offset becomes the UTC instant that zoneinfo gives (fold=0, as the Python API reads a naive time), and
the period splits into whole days and raw edges that cover it exactly. Expected instants are computed here with
``zoneinfo`` directly, never with the view's SQL."""

from __future__ import annotations

import random
import sqlite3
from datetime import date, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest

from amiga_analytics.store import zone_offsets
from amiga_analytics.web.periods import with_period

ZONES = ["Europe/Berlin", "America/Santiago", "Australia/Lord_Howe", "Asia/Kolkata", "America/St_Johns", "UTC"]
STORED = "%Y-%m-%dT%H:%M:%S.%f+00:00"


def _conn(zone: str) -> sqlite3.Connection:
    conn = sqlite3.connect(":memory:")
    conn.execute(zone_offsets.CREATE_SQL)
    zone_offsets.write(conn, zone)
    return conn


def _period(conn, since: str, until: str = "") -> dict:
    cur = conn.execute(with_period("SELECT * FROM period", times=True), {"since": since, "until": until})
    return dict(zip([d[0] for d in cur.description], cur.fetchone()))


def _by_hand(text: str, zone: str) -> str:
    naive = datetime.fromisoformat(text)  # a naive date or time
    return naive.replace(tzinfo=ZoneInfo(zone)).astimezone(timezone.utc).strftime(STORED)  # fold=0


def _times_near_changes(zone: str) -> list[str]:
    """Local readings around every offset change of 2024-2026 (both sides, in the gap or repeat), and some others."""
    tz, out = ZoneInfo(zone), []
    at = datetime(2024, 1, 1, tzinfo=timezone.utc)
    while at.year < 2027:
        nxt = at + timedelta(hours=1)
        if at.astimezone(tz).utcoffset() != nxt.astimezone(tz).utcoffset():
            local = nxt.astimezone(tz).replace(tzinfo=None)
            out += [(local + timedelta(minutes=m)).strftime("%Y-%m-%dT%H:%M:%S.%f") for m in range(-150, 151, 15)]
        at = nxt
    rng = random.Random(7)
    out += [datetime(rng.randint(1902, 2198), rng.randint(1, 12), rng.randint(1, 28), rng.randint(0, 23),
                     rng.randint(0, 59), rng.randint(0, 59), rng.randint(0, 999999)).strftime("%Y-%m-%dT%H:%M:%S.%f")
            for _ in range(300)]
    return out


@pytest.mark.parametrize("zone", ZONES)
def test_local_times_become_zoneinfos_utc(zone):
    conn = _conn(zone)
    for text in _times_near_changes(zone):
        assert _period(conn, text)["since_at"] == _by_hand(text, zone), (zone, text)


def test_dst_gap_and_repeat_read_as_the_python_api():
    conn = _conn("Europe/Berlin")
    assert _period(conn, "2025-03-30T02:30")["since_at"] == "2025-03-30T01:30:00.000000+00:00"  # gap: CET
    assert _period(conn, "2025-10-26T02:30")["since_at"] == "2025-10-26T00:30:00.000000+00:00"  # repeat: the first
    assert _period(conn, "2025-10-26T03:00")["since_at"] == "2025-10-26T02:00:00.000000+00:00"


@pytest.mark.parametrize("text, utc", [("2025-10-20T08:00Z", "2025-10-20T08:00:00.000000+00:00"),
                                       ("2025-10-20 08:00:00.25+02:00", "2025-10-20T06:00:00.250000+00:00"),
                                       ("2025-10-20T08:00-05:30", "2025-10-20T13:30:00.000000+00:00")])
def test_an_explicit_offset_is_honoured(text, utc):
    assert _period(_conn("Europe/Berlin"), text)["since_at"] == utc


def _covered(p: dict, instant: str, day: str) -> int:
    """How many parts of the period (whole days, edge a, edge b) hold a call at ``instant`` on ``day``."""
    whole = p["since_day"] <= day < p["until_end"]
    in_a = p["a_from"] <= instant < p["a_to"]
    in_b = p["b_from"] <= instant < p["b_to"]
    return whole + in_a + in_b


@pytest.mark.parametrize("since, until", [("2025-10-20T08:00", "2025-10-27T08:00"), ("2025-10-25T22:30", "2025-10-26T02:30"),
                                          ("2025-10-26T02:30", "2025-10-26T03:30"), ("", "2025-10-24T12:00"),
                                          ("2025-10-24T12:00", ""), ("2025-10-22", "2025-10-25"),
                                          ("2025-10-21T23:59:59.999999", "2025-10-23T00:00:00.000001")])
def test_whole_days_and_edges_cover_the_period_exactly_once(since, until):
    """Every minute of a fortnight around the DST change: inside [since, until) it is counted once (by its day's
    rollup or by an edge), outside it never."""
    zone = "Europe/Berlin"
    p = _period(_conn(zone), since, until)
    lo = _by_hand(since, zone) if since else ""
    hi = _by_hand(until, zone) if until else "9999"
    at = datetime(2025, 10, 17, tzinfo=timezone.utc)
    while at < datetime(2025, 10, 31, tzinfo=timezone.utc):
        for instant in (at, at + timedelta(microseconds=1), at - timedelta(microseconds=1)):
            text = instant.strftime(STORED)
            day = instant.astimezone(ZoneInfo(zone)).date().isoformat()
            assert _covered(p, text, day) == (lo <= text < hi), (since, until, text, p)
        at += timedelta(minutes=30)


@pytest.mark.parametrize("value", ["last week", "7 d", "-7d", "2025-02-30", "2025-10-20T25:00", "2025-10-20T08",
                                   "2025-10-20Z", "2025-10-20T08:00+2:00", "2025-10-20T08:00:00.1234567", "1899-12-31"])
def test_anything_else_is_refused_with_what_to_give(value):
    with pytest.raises(sqlite3.OperationalError, match="since: .*(is not a date or time|outside the years)"):
        _period(_conn("UTC"), value)


@pytest.mark.parametrize("zone", ["Europe/Berlin", "Pacific/Kiritimati", "America/Adak"])
def test_days_and_weeks_ago_are_the_python_apis(zone):
    """``7d`` / ``4w``: that many days / weeks before today in the report zone, at midnight (as parse_bound, with
    zoneinfo by hand here; computed before and after the query, in case a day ends in between)."""
    conn = _conn(zone)
    for value, days in (("0d", 0), ("7d", 7), ("4w", 28), ("400d", 400)):
        def expected() -> str:
            start = datetime.now(ZoneInfo(zone)).date() - timedelta(days=days)
            return datetime.combine(start, datetime.min.time(), ZoneInfo(zone)).astimezone(timezone.utc).strftime(STORED)
        before = expected()
        got = _period(conn, value)["since_at"]
        assert got in (before, expected()), (zone, value)


def test_a_query_of_whole_days_refuses_a_time_of_day():
    conn = _conn("Europe/Berlin")
    sql = with_period("SELECT since_day, until_end FROM period")
    assert conn.execute(sql, {"since": "2025-10-20T00:00+02:00", "until": ""}).fetchone() == ("2025-10-20", "9999-12-31")
    with pytest.raises(sqlite3.OperationalError, match="until: 2025-10-26T23:59 is not a whole day"):
        conn.execute(sql, {"since": "", "until": "2025-10-26T23:59"}).fetchone()


def test_offsets_cover_the_years_the_view_converts():
    rows = zone_offsets.offset_rows("Europe/Berlin")
    assert rows[0][1] == f"{zone_offsets.FIRST_YEAR}-01-01 00:00:00"
    assert [r[1] for r in rows] == sorted(r[1] for r in rows) and [r[2] for r in rows] == sorted(r[2] for r in rows)
    assert date.fromisoformat(rows[-1][1][:10]).year == zone_offsets.END_YEAR - 1  # EU rules go on past 2037


# --- the canned queries over a time-of-day period: sample_par (Europe/Berlin, across the end of summer time) -----

PAR_ZONE = "Europe/Berlin"
PAR_WINDOWS = [
    ("2025-10-20T09:30", "2025-10-26T02:30"),  # partial first day; until inside the repeated hour (its first pass)
    ("2025-10-26T01:15", "2025-10-26T03:45"),  # across the change: 2 h 30 on the clock, 3 h 30 elapsed
    ("2025-10-25T22:00+02:00", "2025-10-26T02:00Z"),  # explicit offsets
    ("2025-10-22T13:58:30", "2025-10-22T14:28:30.5"),  # half an hour
    ("", "2025-10-24T12:00"),  # open start
    ("2025-10-23T18:00", ""),  # open end
]


@pytest.fixture(scope="module")
def par(tmp_path_factory):
    """sample_par synced (Europe/Berlin host and report zone), its truth, and the view on it."""
    import json
    import shutil
    from pathlib import Path

    from amiga_analytics.sync import sync
    from amiga_analytics.web.serve import build_datasette

    fixtures = Path(__file__).parent / "fixtures"
    work = tmp_path_factory.mktemp("par-view")
    bot = work / "agentlab.db"
    shutil.copyfile(fixtures / "sample_par.db", bot)
    out = work / "analytics.db"
    sync(bot, out, source_tz=PAR_ZONE)
    truth = json.loads((fixtures / "sample_par.truth.json").read_text())
    return out, truth, build_datasette(out, settings={"sql_time_limit_ms": 30_000})


def _json(ds, query: str, **params) -> dict:
    from urllib.parse import urlencode

    from test_datasette import fetch_one

    return fetch_one(ds, f"/{ds.amiga_database}/{query}.json?" + urlencode({**params, "_shape": "objects",
                                                                             "_size": "max"}))


def _utc_bounds(since: str, until: str) -> tuple[str, str]:
    """The window in stored UTC text, converted here with zoneinfo (aware values honoured, naive read in Berlin)."""
    def one(text: str, open_end: str) -> str:
        if not text:
            return open_end
        dt = datetime.fromisoformat(text)
        dt = dt if dt.tzinfo else dt.replace(tzinfo=ZoneInfo(PAR_ZONE))
        return dt.astimezone(timezone.utc).strftime(STORED)
    return one(since, ""), one(until, "9999")


def _stored_start(call: dict) -> str:
    """When the sync stores a truth call's start: the bot wrote naive Berlin time, read with fold=0 (a start in the
    repeated hour as its first pass, bot-data.md): zoneinfo here, on the truth's local time."""
    return datetime.fromisoformat(call["start"]).replace(tzinfo=ZoneInfo(PAR_ZONE)).astimezone(timezone.utc).strftime(STORED)


def _local_day(utc_text: str) -> str:
    return datetime.fromisoformat(utc_text).astimezone(ZoneInfo(PAR_ZONE)).date().isoformat()


@pytest.mark.parametrize("since, until", PAR_WINDOWS)
def test_calls_and_errors_of_a_time_of_day_period_are_the_truths(par, since, until):
    import collections

    _, truth, ds = par
    lo, hi = _utc_bounds(since, until)
    calls = [c for c in truth["calls"] if lo <= _stored_start(c) < hi]
    assert calls, (since, until)
    per_tool = {tool: (sum(1 for c in calls if c["tool"] == tool), sum(1 for c in calls if c["tool"] == tool
                                                                       and c["outcome"] == "failure"),
                       sum(1 for c in calls if c["tool"] == tool and c["outcome"] == "unknown"))
                for tool in {c["tool"] for c in calls}}
    got = _json(ds, "error_rates_by_tool", since=since, until=until)
    assert got.status_code == 200, got.text[:300]
    assert {r["tool_name"]: (r["calls"], r["failed"], r["unknown"]) for r in got.json()["rows"]} == per_tool
    per_day = collections.Counter(_local_day(_stored_start(c)) for c in calls)
    days = {r["day"]: r["calls"] for r in _json(ds, "daily_calls", since=since, until=until).json()["rows"]}
    assert {d: n for d, n in days.items() if n} == dict(per_day)
    assert sum(r["calls"] for r in _json(ds, "cost_per_day", since=since, until=until).json()["rows"]) == len(calls)
    key = _json(ds, "dashboard", since=since, until=until).json()["rows"][0]
    assert key["calls"] == len(calls) and key["failed"] == sum(1 for c in calls if c["outcome"] == "failure")
    top = _json(ds, "top_errors", since=since, until=until).json()["rows"]
    assert sum(r["count"] for r in top) == sum(1 for c in calls if c["outcome"] == "failure")


@pytest.mark.parametrize("since, until", PAR_WINDOWS)
def test_latency_and_tasks_of_a_time_of_day_period_from_the_raw_rows(par, since, until):
    """Percentiles: numpy's over the raw durations of the calls that started in the window (plain SQL, bounds
    converted here); tasks created per day: the raw created_at in the window."""
    import collections

    import numpy as np

    path, _, ds = par
    lo, hi = _utc_bounds(since, until)
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    durations = collections.defaultdict(list)
    for tool, ms in conn.execute("SELECT tool_name, duration_ms FROM tool_calls WHERE started_at >= ? AND "
                                 "started_at < ? AND duration_ms IS NOT NULL", (lo, hi)):
        durations[tool].append(ms)
    created = collections.Counter(_local_day(at) for (at,) in conn.execute(
        "SELECT created_at FROM tasks WHERE created_at >= ? AND created_at < ?", (lo, hi)))
    conn.close()
    rows = _json(ds, "latency_by_tool", since=since, until=until).json()["rows"]
    got = {r["tool_name"]: (r["calls_with_duration"], r["p50_ms"], r["p90_ms"], r["p99_ms"]) for r in rows
           if r["calls_with_duration"]}
    assert got == {tool: (len(v), *(float(np.percentile(v, q)) for q in (50, 90, 99))) for tool, v in durations.items()}
    throughput = _json(ds, "task_throughput", since=since, until=until).json()["rows"]
    assert {r["day"]: r["created"] for r in throughput if r["created"]} == dict(created)


@pytest.mark.parametrize("value, message", [("2025-10-26T02:30:00+2", "is not a date or time"),
                                            ("2025-10-26 2:30", "is not a date or time"),
                                            ("tomorrow", "is not a date or time")])
def test_a_bad_time_is_a_400_on_every_canned_query(par, value, message):
    from test_datasette import QUERY_PARAMS, fetch_one

    _, _, ds = par
    for query, params in QUERY_PARAMS.items():
        if params:
            response = _json(ds, query, since=value)
            assert response.status_code == 400 and message in response.json()["error"], (query, response.text[:300])
    page = fetch_one(ds, f"/{ds.amiga_database}/daily_latency?since=2025-10-26T02:30&until=" + value)
    assert page.status_code == 400 and "message-error" in page.text and message in page.text


def test_plain_datasette_answers_a_time_of_day_as_serve_does(par, tmp_path):
    """The README's plain command (no plugin, no ANALYZE, the migrations' indexes only) gives serve's rows."""
    import json
    import shutil

    from click.testing import CliRunner
    from datasette.cli import cli as datasette_cli

    from test_datasette import METADATA_YML

    path, _, ds = par
    db = tmp_path / "analytics.db"
    shutil.copyfile(path, db)
    for query in ("error_rates_by_tool", "daily_latency", "latency_by_tool", "task_throughput"):
        for since, until in PAR_WINDOWS[:3]:
            url = f"/analytics/{query}.json?_shape=objects&_size=max&since={since}&until={until}".replace("+", "%2B")
            plain = CliRunner().invoke(datasette_cli, [str(db), "-m", str(METADATA_YML), "--get", url,
                                                       "--setting", "sql_time_limit_ms", "30000"])
            assert plain.exit_code == 0, plain.output[-300:]
            served = _json(ds, query, since=since, until=until).json()["rows"]
            assert json.loads(plain.output)["rows"] == served and served, (query, since, until)


def test_the_sync_writes_its_zones_offsets_and_m014_fills_an_older_store(par, tmp_path):
    import shutil

    from sqlite_utils import Database

    from amiga_analytics.store import schema

    path, _, _ = par
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    rows = conn.execute("SELECT zone, utc_from, local_from, offset_s FROM report_offsets ORDER BY utc_from").fetchall()
    conn.close()
    assert rows == zone_offsets.offset_rows(PAR_ZONE)
    assert ("Europe/Berlin", "2025-10-26 01:00:00", "2025-10-26 03:00:00", 3600) in rows
    older = tmp_path / "older.db"  # as a store synced before m014: no table, no record of the migration
    shutil.copyfile(path, older)
    db = Database(older)
    db.execute("DROP TABLE report_offsets")
    db.execute("DELETE FROM _sqlite_migrations WHERE name = 'm014_report_offsets'")
    db.conn.commit()
    schema.migrate(db)
    assert db.execute("SELECT COUNT(*), MIN(zone) FROM report_offsets").fetchone() == (len(rows), PAR_ZONE)


@pytest.mark.parametrize("since, until", PAR_WINDOWS[:3])
def test_the_dashboards_error_links_hold_the_failures_of_a_time_of_day_period(par, since, until):
    """The dashboard links a top error's bar to tool_calls filtered on started_at between the key figures'
    period_from / period_until (the bounds in UTC, as converted here by hand): exactly the group's failures."""
    from urllib.parse import urlencode

    from test_datasette import fetch_one

    _, _, ds = par
    key = _json(ds, "dashboard", since=since, until=until).json()["rows"][0]
    lo, hi = _utc_bounds(since, until)
    assert (key["period_from"] or "", key["period_until"] or "9999") == (lo, hi)
    per_tool: dict[str, int] = {}
    for row in _json(ds, "top_errors", since=since, until=until).json()["rows"]:
        per_tool[row["tool_name"]] = per_tool.get(row["tool_name"], 0) + row["count"]
    for tool, count in per_tool.items():
        params = {"outcome": "failure", "tool_name": tool, "_size": "max", "_col": "started_at"}
        params |= {"started_at__gte": key["period_from"]} if key["period_from"] else {}
        params |= {"started_at__lt": key["period_until"]} if key["period_until"] else {}
        rows = fetch_one(ds, f"/{ds.amiga_database}/tool_calls.json?" + urlencode(params)).json()["rows"]
        assert len(rows) == count, (tool, since, until)
