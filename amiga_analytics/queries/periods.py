"""Windows and periods of the query functions: ``since`` / ``until`` resolved in the report timezone, ``freq``
checked and turned into period edges, ``by`` and ``limit`` checked, and the database opened.

See :mod:`amiga_analytics.queries` for what the options mean.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any, Iterator, Union

import numpy as np
import pandas as pd
from pandas.tseries.frequencies import to_offset
from pandas.tseries.offsets import (
    BaseOffset,
    Day,
    MonthBegin,
    QuarterBegin,
    Week,
    YearBegin,
)
from sqlite_utils import Database

from ..errors import InputError
from ..store import connect as db_mod
from ..timeutil import format_utc, parse_bound, zone

DB = Union[str, "os.PathLike[str]", Database]
"""An analytics database: its path, or the ``sqlite_utils.Database`` that :func:`amiga_analytics.connect` returns."""
Bound = Union[date, datetime, str, pd.Timestamp, None]
"""A window bound: a date, an ISO string, ``7d`` / ``4w``, a datetime or a pandas Timestamp (None: unbounded)."""

@contextlib.contextmanager
def _opened(db: Any) -> Iterator[Database]:
    """A Database for ``db`` (a path, a Database or a sqlite3 connection); closes only what it opened."""
    if isinstance(db, Database):
        yield db
        return
    if isinstance(db, sqlite3.Connection):
        yield Database(db)
        return
    if not isinstance(db, (str, os.PathLike)):
        raise InputError(
            f"db={db!r} is not an analytics database: give its path or the Database that "
            f"amiga_analytics.connect returns"
        )
    database = db_mod.connect(db)
    try:
        yield database
    finally:
        database.conn.close()


@dataclass(frozen=True)
class _Window:
    """A ``since``/``until`` window resolved in the report timezone."""

    tz: str
    since: datetime | None  # aware UTC
    until: datetime | None  # aware UTC
    day_granular: bool  # every given bound is a local midnight: the rollups' day columns answer it exactly
    bot: str | None = None  # one bot's rows only (None: every bot's)

    @property
    def since_day(self) -> str | None:
        return None if self.since is None else self.since.astimezone(zone(self.tz)).date().isoformat()

    @property
    def until_day(self) -> str | None:
        """First local day *not* in the window (exclusive), for day-granular windows."""
        return None if self.until is None else self.until.astimezone(zone(self.tz)).date().isoformat()

    @property
    def last_day(self) -> str | None:
        """Last local day that the window touches."""
        if self.until is None:
            return None
        return (self.until - timedelta(microseconds=1)).astimezone(zone(self.tz)).date().isoformat()

    def where(self, *, day_col: str, time_col: str | None) -> tuple[list[str], dict]:
        """SQL conditions and params: on the day column if day-granular (or no time column), else on the time."""
        clauses: list[str] = []
        params: dict = {}
        if self.day_granular or time_col is None:
            if self.since is not None:
                clauses.append(f"{day_col} >= :since_day")
                params["since_day"] = self.since_day
            if self.until is not None:
                clauses.append(f"{day_col} < :until_day")
                params["until_day"] = self.until_day
        else:
            if self.since is not None:
                clauses.append(f"{time_col} >= :since_at")
                params["since_at"] = format_utc(self.since)
            if self.until is not None:
                clauses.append(f"{time_col} < :until_at")
                params["until_at"] = format_utc(self.until)
        if self.bot is not None:  # the table's bot column, qualified as the day column is
            clauses.append(day_col.rpartition(".")[0] + day_col.rpartition(".")[1] + "bot = :bot")
            params["bot"] = self.bot
        return clauses, params

    def condition(self, *, day_col: str, time_col: str | None) -> tuple[str, dict]:
        """:meth:`where` as one SQL condition for a figure's ``{where}`` slot (``"1"`` when unbounded)."""
        clauses, params = self.where(day_col=day_col, time_col=time_col)
        return " AND ".join(clauses) or "1", params

    def calls_condition(self) -> tuple[str, dict]:
        """The window on ``tool_calls``: the indexed ``day`` when day-granular, else ``started_at``."""
        clauses, params = self.where(day_col="day", time_col="started_at")
        return " AND ".join(["day IS NOT NULL"] + clauses), params


def _window(database: Database, since: Bound, until: Bound, bot: str | None = None) -> _Window:
    tz = db_mod.report_tz(database)
    if bot is not None and bot not in db_mod.store_bots(database):
        raise InputError(f"bot={bot!r} is not in this analytics database: it holds "
                         f"{', '.join(db_mod.store_bots(database))}; give one of them, or no bot for all of them")
    start = parse_bound(since, tz, name="since")
    end = parse_bound(until, tz, name="until")
    if start is not None and end is not None and start > end:
        raise InputError(
            f"since ({_local(start, tz)}) is after until ({_local(end, tz)}): since is the first moment included, "
            f"until the first one excluded, so give since <= until"
        )
    local_zone = zone(tz)
    granular = all(b is None or b.astimezone(local_zone).time() == time(0) for b in (start, end))
    return _Window(tz=tz, since=start, until=end, day_granular=granular, bot=bot)


def _local(dt: datetime, tz: str) -> str:
    return dt.astimezone(zone(tz)).isoformat()


_FREQ_HELP = ("use a pandas offset alias of a day or longer: D, W or W-MON (weeks from Monday), MS (months), QS, YS, "
              "optionally with a multiple such as 2D, or none for totals")


def _offset(freq: Any) -> BaseOffset | None:
    """The pandas offset for ``freq`` (None → None), or an InputError saying which aliases work."""
    if freq is None:
        return None
    if isinstance(freq, str) and freq.strip().lower() == "none":
        return None
    if isinstance(freq, str) and freq.strip().upper().lstrip("0123456789") == "W":
        freq = freq.strip() + "-MON"  # weeks start on Monday everywhere (pandas' bare W means W-SUN)
    try:
        off = to_offset(freq)
    except (ValueError, TypeError):
        raise InputError(f"freq={freq!r} is not a pandas offset alias: {_FREQ_HELP}") from None
    ok = isinstance(off, (Day, MonthBegin, QuarterBegin, YearBegin)) or (
        isinstance(off, Week) and off.weekday is not None
    )
    if not ok or off.n < 1:
        raise InputError(f"freq={freq!r} cannot bucket days into periods: {_FREQ_HELP}")
    return off


def _check_by(by: Any, allowed: tuple[str, ...], func: str) -> str | None:
    if by is None:
        return None
    if isinstance(by, str) and by.strip().lower() == "none":
        return None
    if by not in allowed:
        raise InputError(f"{func}: by={by!r} is not a column it groups by: use one of {', '.join(allowed)}, or None")
    return by


def _check_limit(limit: Any) -> int:
    """Rows at most; ``None`` means all of them (SQLite's ``LIMIT -1``)."""
    if limit is None:
        return -1
    if isinstance(limit, bool) or not isinstance(limit, (int, np.integer)) or limit < 1:
        raise InputError(f"limit={limit!r}: give a whole number of rows, 1 or more")
    return int(limit)


def _period_edges(window: _Window, data_days: list, off: BaseOffset) -> pd.DatetimeIndex:
    """Naive local period starts covering the window (an unbounded side ends at the data's first/last day)."""
    days = sorted(d for d in data_days if isinstance(d, str))
    first = window.since_day or (days[0] if days else None)
    last = window.last_day or (days[-1] if days else None)
    if first is None and last is None:
        return pd.DatetimeIndex([], dtype="datetime64[us]")
    if first is None and last is not None:  # (one of the two is set)
        first = min(days[0], last) if days else last
    if last is None and first is not None:
        last = max(days[-1], first) if days else first
    if window.since is not None and window.until is not None and window.since >= window.until:
        return pd.DatetimeIndex([], dtype="datetime64[us]")
    start = off.rollback(pd.Timestamp(first))
    return pd.date_range(start, pd.Timestamp(last), freq=off, unit="us")


def _localize(naive: pd.DatetimeIndex, tz: str) -> pd.DatetimeIndex:
    """Local midnights → aware timestamps (a midnight in a DST gap moves forward; a repeated one is the first)."""
    idx = pd.DatetimeIndex(naive).as_unit("us").tz_localize(
        tz, nonexistent="shift_forward", ambiguous=np.ones(len(naive), dtype=bool)
    )
    return idx


def _assign_periods(days: pd.Series, edges: pd.DatetimeIndex) -> pd.Series:
    stamps = pd.to_datetime(days, format="%Y-%m-%d").astype("datetime64[us]")
    pos = edges.searchsorted(stamps, side="right") - 1
    keep = pos >= 0
    out = pd.Series(pd.NaT, index=days.index, dtype="datetime64[us]")
    out[keep] = edges[pos[keep]]
    return out

