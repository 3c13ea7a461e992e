"""``report_offsets``: the report timezone's UTC offsets over time, so that plain SQL (the canned queries, under the
plain ``datasette -m metadata.yml`` as under ``serve``) turns a local time into UTC and back exactly as
:func:`amiga_analytics.timeutil.parse_bound` and the sync do.

One row per stretch of one offset, from :data:`FIRST_YEAR` to :data:`END_YEAR` (the first row holds the offset in
force at the start). ``utc_from`` is when the stretch starts (UTC, ``YYYY-MM-DD HH:MM:SS``); ``local_from`` is the
first local wall-clock reading that zoneinfo maps into it with ``fold=0`` (what ``parse_bound`` uses for a naive
time): the later of the two readings of the change instant, so that a local time in a gap (the clock jumped over
it) keeps the offset before (02:30 on a spring-forward day is 03:30 of summer time) and a repeated one is its
first occurrence. Both columns increase together, so one look-up each way:

- local → UTC: the row with the greatest ``local_from <= local``; UTC = local − ``offset_s``;
- UTC → local: the row with the greatest ``utc_from <= utc``; local = UTC + ``offset_s``.

The sync writes the table for its report zone (:func:`write`, a no-op when it already holds that zone); migration
m014 creates it and fills it for a database synced before it.

>>> rows = offset_rows("Europe/Berlin")
>>> [r for r in rows if r[1].startswith("2025-")]  # doctest: +NORMALIZE_WHITESPACE
[('Europe/Berlin', '2025-03-30 01:00:00', '2025-03-30 03:00:00', 7200),
 ('Europe/Berlin', '2025-10-26 01:00:00', '2025-10-26 03:00:00', 3600)]
"""

from __future__ import annotations

import sqlite3
from datetime import datetime, timedelta, timezone, tzinfo
from functools import lru_cache

from sqlite_utils import Database

from ..timeutil import zone
from .state_values import state_value

FIRST_YEAR = 1900
END_YEAR = 2200
"""The years the table covers (``END_YEAR`` excluded): a period bound outside them is refused by the view."""

CREATE_SQL = """CREATE TABLE IF NOT EXISTS report_offsets (
  zone TEXT NOT NULL,
  utc_from TEXT NOT NULL,
  local_from TEXT NOT NULL,
  offset_s INTEGER NOT NULL,
  PRIMARY KEY (utc_from)
) WITHOUT ROWID"""
LOCAL_INDEX_SQL = "CREATE UNIQUE INDEX IF NOT EXISTS idx_report_offsets_local ON report_offsets (local_from, offset_s)"
INSERT_SQL = "INSERT INTO report_offsets (zone, utc_from, local_from, offset_s) VALUES (?, ?, ?, ?)"
ZONE_SQL = "SELECT MIN(zone), MAX(zone), COUNT(*) FROM report_offsets"

_UTC = timezone.utc
_FORMAT = "%Y-%m-%d %H:%M:%S"


def _offset_s(tz: tzinfo, instant: datetime) -> int:
    offset = instant.astimezone(tz).utcoffset()
    return 0 if offset is None else int(offset.total_seconds())


def _change_at(tz: tzinfo, before: datetime, after: datetime) -> datetime:
    """The first second in (before, after] whose offset differs from ``before``'s (one change in between)."""
    old = _offset_s(tz, before)
    lo, hi = before, after  # offset(lo) == old, offset(hi) != old
    while hi - lo > timedelta(seconds=1):
        mid = lo + (hi - lo) / 2
        mid = mid.replace(microsecond=0)
        if _offset_s(tz, mid) == old:
            lo = mid
        else:
            hi = mid
    return hi


def offset_rows(zone_name: str) -> list[tuple[str, str, str, int]]:
    """``(zone, utc_from, local_from, offset_s)`` of every stretch of one offset of the zone, in order."""
    return list(_offset_rows(zone_name))


@lru_cache(maxsize=16)
def _offset_rows(zone_name: str) -> tuple[tuple[str, str, str, int], ...]:
    """:func:`offset_rows`, computed once per zone and process: the scan of 300 years takes most of a second, and
    every full sync (a new database) writes them."""
    tz = zone(zone_name)
    start = datetime(FIRST_YEAR, 1, 1, tzinfo=_UTC)
    end = datetime(END_YEAR, 1, 1, tzinfo=_UTC)
    first = _offset_s(tz, start)
    rows = [(zone_name, start.strftime(_FORMAT), (start + timedelta(seconds=first)).strftime(_FORMAT), first)]
    step = timedelta(hours=6)  # no zone changes its offset twice within six hours
    at, offset = start, first
    while at < end:
        nxt = min(at + step, end)
        new = _offset_s(tz, nxt)
        if new != offset:
            change = _change_at(tz, at, nxt)
            # zoneinfo (fold=0) reads a local time with the new offset from the later reading of the change on
            local = change + timedelta(seconds=max(offset, new))
            rows.append((zone_name, change.strftime(_FORMAT), local.strftime(_FORMAT), new))
            offset = new
        at = nxt
    return tuple(rows)


def write(conn: sqlite3.Connection, zone_name: str) -> None:
    """Make ``report_offsets`` hold ``zone_name``'s offsets (nothing to do when it already does)."""
    low, high, count = conn.execute(ZONE_SQL).fetchone()
    if count and low == high == zone_name:
        return
    conn.execute("DELETE FROM report_offsets")
    conn.executemany(INSERT_SQL, offset_rows(zone_name))


def m014_report_offsets(db: Database) -> None:
    """``report_offsets``: the report zone's UTC offsets (filled for the zone of a database synced before m014; the
    sync writes them for its zone)."""
    db.execute(CREATE_SQL)
    db.execute(LOCAL_INDEX_SQL)
    zone_name = state_value(db, "report_tz")
    if zone_name:
        write(db.conn, zone_name)
