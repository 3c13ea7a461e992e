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


@pytest.mark.parametrize("value", ["last week", "7d", "2025-02-30", "2025-10-20T25:00", "2025-10-20T08",
                                   "2025-10-20Z", "2025-10-20T08:00+2:00", "2025-10-20T08:00:00.1234567", "1899-12-31"])
def test_anything_else_is_refused_with_what_to_give(value):
    with pytest.raises(sqlite3.OperationalError, match="since: .*(is not a date or time|outside the years)"):
        _period(_conn("UTC"), value)


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
