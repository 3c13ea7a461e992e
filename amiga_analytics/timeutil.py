"""Time: the bot's naive local timestamps → UTC, and calendar days in the report timezone.

The bot writes ``datetime.now().isoformat()``: naive local time of its host (bot-data.md §2.1). We read those
in an explicit *source* timezone and store UTC ISO 8601 with an offset and six-digit microseconds, so stored
times sort as text. A naive time that falls in a DST gap (the clock jumped over it) or repeat (it happened
twice) is still converted — the gap forward as the clock reads, the repeat as its first occurrence — and
flagged, so the sync can count it in ``data_quality``. Timestamps that already carry an offset or ``Z`` are
honoured; anything unparseable gives ``None``.

>>> c = TimeConverter("Europe/Madrid", "Europe/Madrid")
>>> c.convert("2025-10-27T18:34:48.123456")
('2025-10-27T17:34:48.123456+00:00', '2025-10-27', None)
>>> c.convert("2025-10-26T02:30:00")[2]
'dst_fold'
>>> c.convert("not a time")
(None, None, 'unparseable')
"""

from __future__ import annotations

import os
from datetime import date, datetime, timedelta, timezone
from functools import lru_cache
from pathlib import Path
from typing import Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from .errors import InputError

UTC = timezone.utc
UTC_FORMAT = "%Y-%m-%dT%H:%M:%S.%f+00:00"
_FIVE_SECONDS = timedelta(seconds=5)


def local_zone_name() -> str:
    """The IANA name of this machine's timezone ($TZ, /etc/timezone or /etc/localtime), else ``UTC``."""
    tz = os.environ.get("TZ", "").lstrip(":")
    if tz and _is_zone(tz):
        return tz
    try:
        name = Path("/etc/timezone").read_text().strip()
        if name and _is_zone(name):
            return name
    except OSError:
        pass
    try:
        target = os.path.realpath("/etc/localtime")
        marker = "/zoneinfo/"
        if marker in target:
            name = target.split(marker, 1)[1]
            if _is_zone(name):
                return name
    except OSError:
        pass
    return "UTC"


def _is_zone(name: str) -> bool:
    try:
        ZoneInfo(name)
        return True
    except (ZoneInfoNotFoundError, ValueError):
        return False


@lru_cache(maxsize=64)
def zone(name: str | None) -> ZoneInfo:
    """``ZoneInfo`` for an IANA name (``None``: this machine's zone), or an ``InputError`` saying what is valid."""
    name = name or local_zone_name()
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise InputError(
            f"unknown timezone {name!r}: use an IANA name such as UTC, Europe/Madrid or America/Los_Angeles"
        ) from None


def format_utc(dt: datetime) -> str:
    return dt.astimezone(UTC).strftime(UTC_FORMAT)


class TimeConverter:
    """Convert the bot's timestamps, caching the UTC offset of every local hour in which the zone does not
    change (the others are computed per timestamp)."""

    def __init__(self, source_tz: str, report_tz: str):
        self.source = zone(source_tz)
        self.report = zone(report_tz)
        self.same_zone = source_tz == report_tz
        self._hour_cache: dict[tuple, tuple[timedelta, str | None] | Literal[False]] = {}
        self._day_cache: dict[str, str] = {}

    def _exact_offset(self, naive: datetime) -> tuple[timedelta, str | None]:
        """The UTC offset of one naive local time, and whether it fell in a DST gap or repeat."""
        first = naive.replace(tzinfo=self.source, fold=0)
        offset = first.utcoffset() or timedelta(0)
        if offset == naive.replace(tzinfo=self.source, fold=1).utcoffset():
            return offset, None
        # A repeat (fold) keeps its first occurrence; in a gap the two readings disagree the other way round.
        back = first.astimezone(UTC).astimezone(self.source).replace(tzinfo=None)
        return offset, ("dst_fold" if back == naive else "dst_gap")

    def _offset(self, naive: datetime) -> tuple[timedelta, str | None]:
        key = (naive.year, naive.month, naive.day, naive.hour)
        hit = self._hour_cache.get(key)
        if hit is None:
            # An hour with one offset throughout (both ends, both readings) is cached; an hour in which the
            # zone changes — on the hour or, as in Chatham or Lord Howe, off it — is computed per timestamp.
            start = naive.replace(minute=0, second=0, microsecond=0)
            ends = [self._exact_offset(start), self._exact_offset(start + timedelta(minutes=59, seconds=59))]
            hit = ends[0] if ends[0] == ends[1] and ends[0][1] is None else False
            self._hour_cache[key] = hit
        if hit is False:
            return self._exact_offset(naive)
        return hit

    def bot_window_missed(self, pre_ts: str, post_ts: str) -> bool:
        """Replay the bot's post-hook window (bot-data.md §3.1) for a pre row written at ``pre_ts``.

        The bot updates the newest NULL row with ``timestamp >= datetime('now', '-5 seconds')``: the local 'T'
        text against UTC text with a space, evaluated when the post-hook ran (``post_ts``, local). True when
        that comparison fails, so the bot INSERTed a completion row instead of updating the pre row.
        """
        try:
            post = datetime.fromisoformat(post_ts)
        except (TypeError, ValueError):
            return True
        if post.tzinfo is None:
            now_minus_5 = post - self._offset(post)[0] - _FIVE_SECONDS
        else:
            now_minus_5 = post.astimezone(UTC).replace(tzinfo=None) - _FIVE_SECONDS
        utc_date = f"{now_minus_5.year:04d}-{now_minus_5.month:02d}-{now_minus_5.day:02d}"
        pre_date = pre_ts[:10]
        if pre_date != utc_date:
            return pre_date < utc_date
        if pre_ts[10:11] == "T":  # same date: 'T' sorts after the ' ' of SQLite's datetime()
            return False
        return not (pre_ts >= now_minus_5.strftime("%Y-%m-%d %H:%M:%S"))

    def report_day(self, utc_text: str) -> str:
        """Calendar day (report timezone) of a stored UTC time."""
        key = utc_text[:16]  # per minute: some zones are offset by 30 or 45 minutes
        day = self._day_cache.get(key)
        if day is None:
            dt = datetime.fromisoformat(key + ":00+00:00")
            day = dt.astimezone(self.report).date().isoformat()
            self._day_cache[key] = day
        return day

    def convert(self, text: object) -> tuple[str | None, str | None, str | None]:
        """``(utc_iso, report_day, issue)`` for one bot timestamp; issue is None, dst_gap, dst_fold or unparseable."""
        if not isinstance(text, str):
            return None, None, "unparseable"
        try:
            dt = datetime.fromisoformat(text.strip())
        except ValueError:
            return None, None, "unparseable"
        issue = None
        if dt.tzinfo is None:
            offset, issue = self._offset(dt)
            utc = dt - offset
        else:
            utc = dt.astimezone(UTC).replace(tzinfo=None)
        if not (1990 <= utc.year <= 2200):
            return None, None, "unparseable"
        utc_text = utc.isoformat(timespec="microseconds") + "+00:00"
        if self.same_zone and dt.tzinfo is None and issue is None:
            day = text[:10] if len(text) >= 10 and text[4] == "-" else dt.date().isoformat()
        else:
            day = self.report_day(utc_text)
        return utc_text, day, issue


def parse_bound(value: object, report_tz: str, *, name: str) -> datetime | None:
    """A ``since``/``until`` bound (date, ISO string, datetime, pandas Timestamp, or ``7d``/``4w`` ago) → aware UTC.

    Naive values are read in the report timezone; a bare date means its midnight there.
    """
    if value is None:
        return None
    tz = zone(report_tz)
    if isinstance(value, str):
        text = value.strip()
        if text[-1:] in ("d", "w") and text[:-1].isdigit():
            days = int(text[:-1]) * (7 if text[-1] == "w" else 1)
            start = datetime.now(tz).date() - timedelta(days=days)
            return datetime.combine(start, datetime.min.time(), tz).astimezone(UTC)
        try:
            value = datetime.fromisoformat(text)
        except ValueError:
            raise InputError(
                f"{name}={value!r} is not a date: use YYYY-MM-DD, an ISO time such as 2025-10-06T08:00, or 7d / 4w"
            ) from None
    if hasattr(value, "to_pydatetime"):
        value = value.to_pydatetime()
    if isinstance(value, datetime):
        dt = value
    elif isinstance(value, date):
        dt = datetime.combine(value, datetime.min.time())
    else:
        raise InputError(f"{name}={value!r} is not a date: give a date, an ISO string or a timestamp")
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=tz)
    return dt.astimezone(UTC)
