"""Query functions: the analytics database → documented pandas DataFrames.

Every function takes an analytics database (a path, or the ``sqlite_utils.Database`` that
:func:`amiga_analytics.connect` returns) and keyword-only filters, and returns a DataFrame whose columns are
listed in its docstring, in that order, with fixed dtypes: counts ``int64``, money ``float64`` USD, rates
``float64`` in [0, 1] or NaN, times timezone-aware ``datetime64[us, <report tz>]``, names pandas ``str`` (NULL →
NaN). Values keep full precision; rounding belongs to presentation (:func:`run_named` rounds its ``table``
output only).

Windows
    ``since`` is inclusive, ``until`` exclusive. Both accept a date, an ISO string, a ``datetime``, a pandas
    ``Timestamp`` or ``7d`` / ``4w`` (that many days / weeks ago, at midnight). Naive values and bare dates are
    read in the *report timezone* of the database (:func:`amiga_analytics.db.report_tz`); aware values are
    honoured. A window whose bounds fall on local midnight is answered from the daily rollup ``tool_daily`` (its
    ``day`` column); any other bound is answered from ``tool_calls`` filtered on ``started_at`` (indexed), so
    ``since="2025-10-06T08:00"`` really means 08:00.

Periods
    ``freq`` is a pandas offset alias of a day or longer: ``D``, ``W-MON`` (weeks starting Monday; ``W-SUN``
    starts them on Sunday), ``MS``, ``QS``, ``YS``, optionally with a multiple (``2D``). A period starts on the
    anchor on or before its first day, in the report timezone, and ``period_start`` is that local midnight as a
    timezone-aware timestamp. Every period between the window's first and last day appears, with zero counts if
    nothing happened; an unbounded side of the window ends at the first / last day that has data. With a ``by``
    column every group seen in the window appears in every period (zero rows included), in the same order as in
    the totals, so the frame pivots cleanly and sums over periods equal the totals.

Groups
    ``by`` names one column (each function lists the ones it accepts) or ``None`` for one total row. A NULL
    group value (an unresolved model, a CLI-session call with no task, a failure with no category) is its own
    group, shown as NaN and sorted last.

Aggregation runs in SQLite (the rollup, or indexed ``tool_calls`` / ``tasks`` / ``router_messages`` with SQL
``GROUP BY``); pandas only reshapes small per-day frames.
"""

from __future__ import annotations

import atexit
import contextlib
import functools
import inspect
import json
import os
import shutil
import sqlite3
import tempfile
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from pathlib import Path
from typing import Callable, Iterator, Union

import numpy as np
import pandas as pd
from pandas.tseries.frequencies import to_offset
from pandas.tseries.offsets import Day, MonthBegin, QuarterBegin, Week, YearBegin
from sqlite_utils import Database

from ..store import connect as db_mod
from ..errors import InputError
from ..timeutil import format_utc, parse_bound, zone

__all__ = [
    "QUERIES",
    "cache_savings",
    "data_quality",
    "error_rates",
    "file_activity",
    "latency",
    "router_usage",
    "run_named",
    "task_cost",
    "task_throughput",
    "tasks_per_user",
    "tool_cost",
    "top_errors",
]

DEFAULT_LIMIT = 20

DB = Union[str, "os.PathLike[str]", Database]
"""An analytics database: its path, or the ``sqlite_utils.Database`` that :func:`amiga_analytics.connect` returns."""
Bound = Union[date, datetime, str, pd.Timestamp, None]
"""A window bound: a date, an ISO string, ``7d`` / ``4w``, a datetime or a pandas Timestamp (None: unbounded)."""
FORMATS = ("table", "csv", "json")

# --------------------------------------------------------------------------------------------------------------
# SQL. Structural slots ({keys}, {measures}, {where}, {group_by}, ...) are filled only from the whitelists
# below; values always travel as named :params.

# Group-key expressions per source. tool_daily stores '' for a NULL model / agent type / error category.
DAILY_KEYS = {
    "day": "day",
    "tool_name": "tool_name",
    "model_id": "NULLIF(model_id, '')",
    "agent_type": "NULLIF(agent_type, '')",
    "outcome": "outcome",
    "error_category": "NULLIF(error_category, '')",
}
CALLS_KEYS = {
    "day": "day",
    "tool_name": "tool_name",
    "model_id": "NULLIF(model_id, '')",
    "agent_type": "NULLIF(agent_type, '')",
    "outcome": "outcome",
    "error_category": "NULLIF(error_category, '')",
    "task_id": "task_id",
    "subagent_type": "subagent_type",
}

TOOL_DAILY_SQL = """SELECT {keys}{measures}
FROM tool_daily
{where}{group_by}"""
TOOL_CALLS_SQL = """SELECT {keys}{measures}
FROM tool_calls
{where}{group_by}"""

COST_DAILY_MEASURES = """COALESCE(SUM(calls), 0) AS calls,
       COALESCE(SUM(calls_with_tokens), 0) AS calls_with_tokens,
       COALESCE(SUM(input_tokens), 0) AS input_tokens,
       COALESCE(SUM(output_tokens), 0) AS output_tokens,
       COALESCE(SUM(cache_write_tokens), 0) AS cache_write_tokens,
       COALESCE(SUM(cache_read_tokens), 0) AS cache_read_tokens,
       TOTAL(cost_usd) AS cost_usd,
       COALESCE(SUM(unpriced_tokens), 0) AS unpriced_tokens"""
COST_CALLS_MEASURES = """COUNT(*) AS calls,
       COALESCE(SUM(has_tokens), 0) AS calls_with_tokens,
       COALESCE(SUM(input_tokens), 0) AS input_tokens,
       COALESCE(SUM(output_tokens), 0) AS output_tokens,
       COALESCE(SUM(cache_write_tokens), 0) AS cache_write_tokens,
       COALESCE(SUM(cache_read_tokens), 0) AS cache_read_tokens,
       TOTAL(cost_usd) AS cost_usd,
       COALESCE(SUM(unpriced_tokens), 0) AS unpriced_tokens"""
OUTCOME_DAILY_MEASURES = """COALESCE(SUM(calls), 0) AS calls,
       COALESCE(SUM(CASE WHEN outcome IN ('success', 'failure') THEN calls ELSE 0 END), 0) AS completed,
       COALESCE(SUM(CASE WHEN outcome = 'failure' THEN calls ELSE 0 END), 0) AS failed,
       COALESCE(SUM(CASE WHEN outcome = 'unknown' THEN calls ELSE 0 END), 0) AS unknown"""
OUTCOME_CALLS_MEASURES = """COUNT(*) AS calls,
       COALESCE(SUM(outcome IN ('success', 'failure')), 0) AS completed,
       COALESCE(SUM(outcome = 'failure'), 0) AS failed,
       COALESCE(SUM(outcome = 'unknown'), 0) AS unknown"""

TASKS_CREATED_SQL = """SELECT {day_col} AS day, COUNT(*) AS created
FROM tasks
WHERE {day_col} IS NOT NULL{and_where}
GROUP BY {day_col}"""
TASKS_FINISHED_SQL = """SELECT finished_day AS day,
       COALESCE(SUM(status = 'completed'), 0) AS completed,
       COALESCE(SUM(status = 'failed'), 0) AS failed,
       COALESCE(SUM(status = 'stopped'), 0) AS stopped
FROM tasks
WHERE finished_day IS NOT NULL AND status IN ('completed', 'failed', 'stopped'){and_where}
GROUP BY finished_day"""
TASK_CYCLES_SQL = """SELECT finished_day AS day, cycle_s
FROM tasks
WHERE finished_day IS NOT NULL AND status IN ('completed', 'failed', 'stopped') AND cycle_s IS NOT NULL{and_where}
ORDER BY finished_day, cycle_s"""

LATENCY_COUNTS_SQL = """SELECT {keys}COUNT(*) AS calls,
       COUNT(duration_ms) AS calls_with_duration,
       AVG(duration_ms) AS mean_ms
FROM tool_calls
{where}{group_by}"""
# Only the rows that the linear-interpolation percentiles need leave SQLite: ranks floor((n-1)q) and the next.
LATENCY_RANKS_SQL = """WITH ranked AS (
    SELECT {key} AS k, duration_ms,
           ROW_NUMBER() OVER (PARTITION BY {key} ORDER BY duration_ms) - 1 AS rank,
           COUNT(*) OVER (PARTITION BY {key}) AS n
    FROM tool_calls
    {where} AND duration_ms IS NOT NULL
)
SELECT k, n, rank, duration_ms FROM ranked
WHERE rank IN (CAST((n - 1) * :q1 AS INTEGER), CAST((n - 1) * :q1 AS INTEGER) + 1,
               CAST((n - 1) * :q2 AS INTEGER), CAST((n - 1) * :q2 AS INTEGER) + 1,
               CAST((n - 1) * :q3 AS INTEGER), CAST((n - 1) * :q3 AS INTEGER) + 1)
ORDER BY k, rank"""

TASK_COST_SQL = """SELECT task_id, status, model_id, agent_type, created_at, cycle_s, calls, input_tokens,
       output_tokens, cache_write_tokens, cache_read_tokens, cost_usd, unpriced_tokens
FROM tasks
{where}
ORDER BY cost_usd DESC, task_id
LIMIT :limit"""

# The price row of a model on a day: the latest effective_from on or before it; a day before the model's first
# row takes the first row (as pricing.PriceBook does when it prices calls).
CACHE_SAVINGS_SQL = """WITH usage AS (
    SELECT {keys}day AS day, {model} AS price_model,
           COALESCE(SUM(cache_read_tokens), 0) AS cr, COALESCE(SUM(cache_write_tokens), 0) AS cw
    FROM {table}
    {where}
    GROUP BY {group_keys}day, price_model
    HAVING cr > 0 OR cw > 0
), priced AS (
    SELECT usage.*, p.input_usd_per_mtok AS p_in, p.cache_write_5m_usd_per_mtok AS p_cw,
           p.cache_read_usd_per_mtok AS p_cr
    FROM usage LEFT JOIN model_prices p
      ON p.model_id = usage.price_model
     AND p.effective_from = COALESCE(
           (SELECT MAX(q.effective_from) FROM model_prices q
             WHERE q.model_id = usage.price_model AND q.effective_from <= usage.day),
           (SELECT MIN(q.effective_from) FROM model_prices q WHERE q.model_id = usage.price_model))
)
SELECT {out_keys}COALESCE(SUM(cr), 0) AS cache_read_tokens, COALESCE(SUM(cw), 0) AS cache_write_tokens,
       CASE WHEN COUNT(p_in) = 0 AND COALESCE(SUM(cr + cw), 0) > 0 THEN NULL
            ELSE TOTAL((cr + cw) * p_in) / 1000000.0 END AS cost_without_cache_usd,
       CASE WHEN COUNT(p_in) = 0 AND COALESCE(SUM(cr + cw), 0) > 0 THEN NULL
            ELSE TOTAL(cw * p_cw + cr * p_cr) / 1000000.0 END AS cost_with_cache_usd
FROM priced
{out_group_by}"""

TOP_ERRORS_SQL = """WITH failures AS (
    SELECT NULLIF(error_category, '') AS error_category, tool_name, started_at, error
    FROM tool_calls
    {where} AND outcome = 'failure'
), groups AS (
    SELECT error_category, tool_name, COUNT(*) AS count, MIN(started_at) AS first_seen,
           MAX(started_at) AS last_seen
    FROM failures GROUP BY error_category, tool_name
), latest AS (
    -- SQLite: with a single MAX(), the bare column comes from the row that holds the maximum
    SELECT error_category, tool_name, MAX(started_at) AS at, error
    FROM failures WHERE error IS NOT NULL GROUP BY error_category, tool_name
)
SELECT g.error_category, g.tool_name, g.count, l.error AS example_error, g.first_seen, g.last_seen
FROM groups g LEFT JOIN latest l ON l.error_category IS g.error_category AND l.tool_name IS g.tool_name
ORDER BY g.count DESC, g.error_category IS NULL, g.error_category, g.tool_name
LIMIT :limit"""

SUBAGENT_USAGE_SQL = """SELECT subagent_type, COUNT(*) AS calls,
       COALESCE(SUM(outcome = 'failure'), 0) AS failed,
       COALESCE(SUM(outcome = 'unknown'), 0) AS unknown,
       COALESCE(SUM(input_tokens), 0) AS input_tokens,
       COALESCE(SUM(output_tokens), 0) AS output_tokens,
       TOTAL(cost_usd) AS cost_usd
FROM tool_calls
{where} AND tool_name = 'Task'
GROUP BY subagent_type
ORDER BY cost_usd DESC, calls DESC, subagent_type IS NULL, subagent_type"""

FILE_ACTIVITY_SQL = """SELECT file_path,
       COALESCE(SUM(tool_name = 'Read'), 0) AS reads,
       COALESCE(SUM(tool_name IN ('Edit', 'MultiEdit', 'NotebookEdit')), 0) AS edits,
       COALESCE(SUM(tool_name = 'Write'), 0) AS writes,
       COUNT(*) AS calls,
       COALESCE(SUM(outcome = 'failure'), 0) AS failed
FROM tool_calls
{where} AND file_path IS NOT NULL AND tool_name IN ('Read', 'Write', 'Edit', 'MultiEdit', 'NotebookEdit')
GROUP BY file_path
ORDER BY calls DESC, file_path
LIMIT :limit"""

TASKS_PER_USER_SQL = """WITH t AS (
    SELECT user_ref, COUNT(*) AS tasks,
           COALESCE(SUM(status = 'completed'), 0) AS completed,
           COALESCE(SUM(status = 'failed'), 0) AS failed,
           COALESCE(SUM(status = 'stopped'), 0) AS stopped,
           TOTAL(cost_usd) AS cost_usd
    FROM tasks {task_where}
    GROUP BY user_ref
), m AS (
    SELECT user_ref, COUNT(*) AS router_messages, TOTAL(cost_usd) AS router_cost_usd
    FROM router_messages {message_where}
    GROUP BY user_ref
), u AS (
    SELECT user_ref FROM t UNION SELECT user_ref FROM m
)
SELECT u.user_ref, COALESCE(t.tasks, 0) AS tasks, COALESCE(t.completed, 0) AS completed,
       COALESCE(t.failed, 0) AS failed, COALESCE(t.stopped, 0) AS stopped, COALESCE(t.cost_usd, 0.0) AS cost_usd,
       COALESCE(m.router_messages, 0) AS router_messages, COALESCE(m.router_cost_usd, 0.0) AS router_cost_usd
FROM u LEFT JOIN t ON t.user_ref IS u.user_ref LEFT JOIN m ON m.user_ref IS u.user_ref
ORDER BY tasks DESC, cost_usd DESC, router_messages DESC, u.user_ref IS NULL, u.user_ref"""

DATA_QUALITY_SQL = """SELECT check_name, value, detail
FROM data_quality
WHERE sync_id = (SELECT MAX(sync_id) FROM data_quality)
ORDER BY rowid"""

ROUTER_USAGE_SQL = """SELECT {keys}COUNT(*) AS messages,
       COALESCE(SUM(role = 'assistant'), 0) AS assistant_messages,
       COALESCE(SUM(created_task), 0) AS tasks_created,
       COALESCE(SUM(input_tokens), 0) AS input_tokens,
       COALESCE(SUM(output_tokens), 0) AS output_tokens,
       TOTAL(cost_usd) AS cost_usd
FROM router_messages
{where}{group_by}"""

# --------------------------------------------------------------------------------------------------------------
# Column specifications (name → kind); the order is the documented order.

INT, FLOAT, STR, TIME = "int", "float", "str", "time"

TOOL_COST_MEASURES = {
    "calls": INT, "calls_with_tokens": INT, "input_tokens": INT, "output_tokens": INT,
    "cache_write_tokens": INT, "cache_read_tokens": INT, "cost_usd": FLOAT, "unpriced_tokens": INT,
}
ERROR_RATE_MEASURES = {"calls": INT, "completed": INT, "failed": INT, "unknown": INT}
THROUGHPUT_COLUMNS = {
    "period_start": TIME, "created": INT, "completed": INT, "failed": INT, "stopped": INT, "finished": INT,
    "success_rate": FLOAT, "median_cycle_s": FLOAT, "p90_cycle_s": FLOAT,
}
LATENCY_MEASURES = {
    "calls": INT, "calls_with_duration": INT, "p50_ms": FLOAT, "p90_ms": FLOAT, "p99_ms": FLOAT, "mean_ms": FLOAT,
}
TASK_COST_COLUMNS = {
    "task_id": STR, "status": STR, "model_id": STR, "agent_type": STR, "created_at": TIME, "cycle_s": FLOAT,
    "calls": INT, "input_tokens": INT, "output_tokens": INT, "cache_write_tokens": INT, "cache_read_tokens": INT,
    "cost_usd": FLOAT, "unpriced_tokens": INT,
}
CACHE_SAVINGS_MEASURES = {
    "cache_read_tokens": INT, "cache_write_tokens": INT, "cost_without_cache_usd": FLOAT,
    "cost_with_cache_usd": FLOAT, "savings_usd": FLOAT,
}
TOP_ERRORS_COLUMNS = {
    "error_category": STR, "tool_name": STR, "count": INT, "example_error": STR, "first_seen": TIME,
    "last_seen": TIME,
}
SUBAGENT_COLUMNS = {
    "subagent_type": STR, "calls": INT, "failed": INT, "unknown": INT, "input_tokens": INT, "output_tokens": INT,
    "cost_usd": FLOAT,
}
FILE_ACTIVITY_COLUMNS = {
    "file_path": STR, "reads": INT, "edits": INT, "writes": INT, "calls": INT, "failed": INT,
}
TASKS_PER_USER_COLUMNS = {
    "user_ref": STR, "tasks": INT, "completed": INT, "failed": INT, "stopped": INT, "cost_usd": FLOAT,
    "router_messages": INT, "router_cost_usd": FLOAT,
}
DATA_QUALITY_COLUMNS = {"check_name": STR, "value": INT, "detail": STR}
ROUTER_USAGE_MEASURES = {
    "messages": INT, "assistant_messages": INT, "tasks_created": INT, "input_tokens": INT, "output_tokens": INT,
    "cost_usd": FLOAT,
}

TOOL_COST_BY = ("tool_name", "model_id", "agent_type", "outcome", "task_id")
ERROR_RATES_BY = ("tool_name", "model_id", "agent_type", "error_category", "task_id")
LATENCY_BY = ("tool_name", "model_id", "agent_type", "outcome")
CACHE_SAVINGS_BY = ("model_id", "tool_name", "agent_type")

_NULL_KEY = "\x00null"  # stands in for a NULL group while reindexing


# --------------------------------------------------------------------------------------------------------------
# Opening, windows, periods


@contextlib.contextmanager
def _opened(db) -> Iterator[Database]:
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
        return clauses, params


def _window(database: Database, since, until) -> _Window:
    tz = db_mod.report_tz(database)
    start = parse_bound(since, tz, name="since")
    end = parse_bound(until, tz, name="until")
    if start is not None and end is not None and start > end:
        raise InputError(
            f"since ({_local(start, tz)}) is after until ({_local(end, tz)}): since is the first moment included, "
            f"until the first one excluded, so give since <= until"
        )
    local_zone = zone(tz)
    granular = all(b is None or b.astimezone(local_zone).time() == time(0) for b in (start, end))
    return _Window(tz=tz, since=start, until=end, day_granular=granular)


def _local(dt: datetime, tz: str) -> str:
    return dt.astimezone(zone(tz)).isoformat()


_FREQ_HELP = ("use a pandas offset alias of a day or longer: D, W-MON (weeks from Monday), MS (months), QS, YS, "
              "optionally with a multiple such as 2D, or none for totals")


def _offset(freq):
    """The pandas offset for ``freq`` (None → None), or an InputError saying which aliases work."""
    if freq is None:
        return None
    if isinstance(freq, str) and freq.strip().lower() == "none":
        return None
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


def _check_by(by, allowed: tuple[str, ...], func: str):
    if by is None:
        return None
    if isinstance(by, str) and by.strip().lower() == "none":
        return None
    if by not in allowed:
        raise InputError(f"{func}: by={by!r} is not a column it groups by: use one of {', '.join(allowed)}, or None")
    return by


def _check_limit(limit) -> int:
    """Rows at most; ``None`` means all of them (SQLite's ``LIMIT -1``)."""
    if limit is None:
        return -1
    if isinstance(limit, bool) or not isinstance(limit, (int, np.integer)) or limit < 1:
        raise InputError(f"limit={limit!r}: give a whole number of rows, 1 or more")
    return int(limit)


def _period_edges(window: _Window, data_days, off) -> pd.DatetimeIndex:
    """Naive local period starts covering the window (an unbounded side ends at the data's first/last day)."""
    days = sorted(d for d in data_days if isinstance(d, str))
    first = window.since_day or (days[0] if days else None)
    last = window.last_day or (days[-1] if days else None)
    if first is None and last is None:
        return pd.DatetimeIndex([], dtype="datetime64[us]")
    if first is None:
        first = min(days[0], last) if days else last
    if last is None:
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


# --------------------------------------------------------------------------------------------------------------
# Frames


def _query(database: Database, sql: str, params: dict) -> tuple[list[str], list[tuple]]:
    cursor = database.execute(sql, params)
    columns = [d[0] for d in cursor.description]
    return columns, cursor.fetchall()


def _cast(df: pd.DataFrame, spec: dict[str, str], tz: str) -> pd.DataFrame:
    """Columns of ``spec`` in its order, with the documented dtypes."""
    out = {}
    for col, kind in spec.items():
        values = df[col] if col in df else pd.Series([None] * len(df), index=df.index, dtype=object)
        if kind == INT:
            out[col] = pd.to_numeric(values, errors="coerce").fillna(0).astype("int64")
        elif kind == FLOAT:
            out[col] = pd.to_numeric(values, errors="coerce").astype("float64")
        elif kind == STR:
            out[col] = values.astype(object).where(values.notna(), None).astype("str")
        elif kind == TIME:
            if isinstance(values.dtype, pd.DatetimeTZDtype):
                out[col] = values.dt.tz_convert(tz).astype(f"datetime64[us, {tz}]")
            else:
                out[col] = pd.to_datetime(values, utc=True, format="ISO8601").dt.tz_convert(tz).astype(
                    f"datetime64[us, {tz}]")
        else:  # pragma: no cover - a programming error
            raise AssertionError(kind)
    return pd.DataFrame(out, index=df.index).reset_index(drop=True)


def _frame(columns: list[str], rows: list[tuple], spec: dict[str, str], tz: str) -> pd.DataFrame:
    return _cast(pd.DataFrame.from_records(rows, columns=columns), spec, tz)


def _sort(df: pd.DataFrame, keys: list[tuple[str, bool]]) -> pd.DataFrame:
    """Stable sort on (column, ascending) pairs, NaN last."""
    keys = [(c, a) for c, a in keys if c in df.columns]
    if not keys or df.empty:
        return df.reset_index(drop=True)
    return df.sort_values(
        [c for c, _ in keys], ascending=[a for _, a in keys], kind="stable", na_position="last"
    ).reset_index(drop=True)


def _spread(per_day: pd.DataFrame, key: str | None, measures: list[str], window: _Window, off) -> pd.DataFrame:
    """Per-day sums → per-period sums over every period of the window (and every group seen in it)."""
    edges = _period_edges(window, per_day["day"].tolist(), off)
    df = per_day.copy()
    df["period"] = _assign_periods(df["day"], edges) if len(df) else pd.Series([], dtype="datetime64[us]")
    df = df[df["period"].notna()]
    if key is None:
        summed = df.groupby("period")[measures].sum()
        summed = summed.reindex(edges, fill_value=0)
        summed.index.name = "period"
        out = summed.reset_index()
    else:
        df[key] = df[key].astype(object).where(df[key].notna(), _NULL_KEY)
        summed = df.groupby(["period", key])[measures].sum()
        groups = list(dict.fromkeys(df[key].tolist()))
        full = pd.MultiIndex.from_product([edges, groups], names=["period", key])
        out = summed.reindex(full, fill_value=0).reset_index()
        out[key] = out[key].where(out[key] != _NULL_KEY, None)
    out["period_start"] = _localize(pd.DatetimeIndex(out["period"]), window.tz)
    return out.drop(columns=["period"])


def _ordered(df: pd.DataFrame, key: str | None, measures_spec: dict, sort_keys: list[tuple[str, bool]],
             add_derived: Callable[[pd.DataFrame], pd.DataFrame], tz: str, with_period: bool) -> pd.DataFrame:
    """Derived columns, documented order and dtypes; groups ordered by their totals (in every period alike)."""
    df = add_derived(df)
    spec = ({"period_start": TIME} if with_period else {}) | ({key: STR} if key else {}) | measures_spec
    df = _cast(df, spec, tz)
    if key is None:
        return _sort(df, [("period_start", True)]) if with_period else df
    if not with_period:
        return _sort(df, sort_keys + [(key, True)])
    totals = df.drop(columns=["period_start"]).groupby(key, dropna=False, sort=False).sum(numeric_only=True)
    totals = add_derived(totals.reset_index())
    order = _sort(totals, sort_keys + [(key, True)])[key].tolist()
    rank = {(k if isinstance(k, str) else _NULL_KEY): i for i, k in enumerate(order)}
    df["_rank"] = df[key].map(lambda k: rank[k if isinstance(k, str) else _NULL_KEY])
    return _sort(df, [("period_start", True), ("_rank", True)]).drop(columns=["_rank"])


def _rollup_or_calls(database: Database, window: _Window, key: str | None, by_day: bool,
                     daily_measures: str, calls_measures: str) -> pd.DataFrame:
    """Grouped sums from ``tool_daily`` when it can answer exactly, else from ``tool_calls`` (SQL GROUP BY)."""
    group = ([key] if key else []) + (["day"] if by_day else [])
    use_daily = window.day_granular and all(g in DAILY_KEYS for g in group)
    keys_map = DAILY_KEYS if use_daily else CALLS_KEYS
    keys = "".join(f"{keys_map[g]} AS {g}, " for g in group)
    if use_daily:
        clauses, params = window.where(day_col="day", time_col=None)
        sql, measures = TOOL_DAILY_SQL, daily_measures
    else:
        clauses, params = window.where(day_col="day", time_col="started_at")
        clauses = ["day IS NOT NULL"] + clauses
        sql, measures = TOOL_CALLS_SQL, calls_measures
    where = ("WHERE " + " AND ".join(clauses)) if clauses else ""
    group_by = ("\nGROUP BY " + ", ".join(keys_map[g] for g in group)) if group else ""
    columns, rows = _query(database, sql.format(keys=keys, measures=measures, where=where, group_by=group_by), params)
    return pd.DataFrame.from_records(rows, columns=columns)


def _grouped_tool_query(db, since, until, by, freq, *, func: str, allowed: tuple[str, ...], daily_measures: str,
                        calls_measures: str, measures_spec: dict, sort_keys, add_derived) -> pd.DataFrame:
    key = _check_by(by, allowed, func)
    off = _offset(freq)
    with _opened(db) as database:
        window = _window(database, since, until)
        raw = _rollup_or_calls(database, window, key, off is not None, daily_measures, calls_measures)
    base = [m for m in measures_spec if m in raw.columns]
    if off is None:
        return _ordered(raw, key, measures_spec, sort_keys, add_derived, window.tz, with_period=False)
    raw[base] = raw[base].apply(pd.to_numeric).fillna(0)
    spread = _spread(raw, key, base, window, off)
    return _ordered(spread, key, measures_spec, sort_keys, add_derived, window.tz, with_period=True)


def _rate(numerator: pd.Series, denominator: pd.Series) -> pd.Series:
    num = pd.to_numeric(numerator).astype("float64")
    den = pd.to_numeric(denominator).astype("float64")
    return (num / den.where(den > 0)).astype("float64")


# --------------------------------------------------------------------------------------------------------------
# The headline queries


def tool_cost(db: DB, *, since: Bound = None, until: Bound = None, by: str | None = "tool_name",
              freq: str | None = None) -> pd.DataFrame:
    """Tool calls, tokens and cost, grouped by one column and optionally by period.

    Parameters
    ----------
    db : path or sqlite_utils.Database
        The analytics database.
    since, until : date, str, datetime or pandas.Timestamp, optional
        Window, ``since`` inclusive, ``until`` exclusive (report timezone for naive values).
    by : {"tool_name", "model_id", "agent_type", "outcome", "task_id"} or None
        Group column; None gives a single total row. ``model_id`` NaN: tokens of calls whose model could not be
        resolved (CLI sessions); ``task_id`` NaN: calls of interactive CLI sessions.
    freq : str or None
        pandas offset alias ("D", "W-MON", "MS") for a leading ``period_start``; None for totals.

    Returns
    -------
    pandas.DataFrame
        ``period_start`` (with ``freq``; aware, report timezone), the ``by`` column, then

        - ``calls``: logical tool calls, count
        - ``calls_with_tokens``: calls that carry token counts, count
        - ``input_tokens``, ``output_tokens``: tokens
        - ``cache_write_tokens``, ``cache_read_tokens``: tokens
        - ``cost_usd``: cost of the priced tokens, USD
        - ``unpriced_tokens``: tokens no price covers (never priced at $0), tokens

        Sorted by ``cost_usd`` descending, then ``calls`` descending, then the group name.

    Examples
    --------
    >>> db = _example_db()
    >>> df = tool_cost(db, by="model_id")
    >>> list(df.columns)
    ['model_id', 'calls', 'calls_with_tokens', 'input_tokens', 'output_tokens', 'cache_write_tokens', 'cache_read_tokens', 'cost_usd', 'unpriced_tokens']
    >>> int(df["calls"].sum()) == int(tool_cost(db, by=None)["calls"].iloc[0])
    True
    >>> weekly = tool_cost(db, by=None, freq="W-MON")
    >>> bool((weekly["period_start"].dt.day_of_week == 0).all())
    True
    """
    return _grouped_tool_query(
        db, since, until, by, freq, func="tool_cost", allowed=TOOL_COST_BY,
        daily_measures=COST_DAILY_MEASURES, calls_measures=COST_CALLS_MEASURES,
        measures_spec=TOOL_COST_MEASURES, sort_keys=[("cost_usd", False), ("calls", False)],
        add_derived=lambda df: df,
    )


def _with_error_rate(df: pd.DataFrame) -> pd.DataFrame:
    df = df.copy()
    df["error_rate"] = _rate(df["failed"], df["completed"])
    return df


def error_rates(db: DB, *, since: Bound = None, until: Bound = None, by: str | None = "tool_name",
                freq: str | None = None) -> pd.DataFrame:
    """Call outcomes and error rates, grouped by one column and optionally by period.

    Parameters
    ----------
    db : path or sqlite_utils.Database
        The analytics database.
    since, until : date, str, datetime or pandas.Timestamp, optional
        Window, ``since`` inclusive, ``until`` exclusive.
    by : {"tool_name", "model_id", "agent_type", "error_category", "task_id"} or None
        Group column; None gives a single total row. With ``error_category`` the NaN group holds the calls that
        did not fail (successes and unknown outcomes).
    freq : str or None
        pandas offset alias for a leading ``period_start``; None for totals.

    Returns
    -------
    pandas.DataFrame
        ``period_start`` (with ``freq``), the ``by`` column, then

        - ``calls``: logical tool calls, count
        - ``completed``: calls with a known outcome (success + failure), count
        - ``failed``: calls whose outcome is failure, count
        - ``unknown``: calls that never completed (no completion row), count
        - ``error_rate``: ``failed / completed``, in [0, 1]; NaN when nothing completed

        Sorted by ``failed`` descending, then ``calls`` descending, then the group name.

    Examples
    --------
    >>> db = _example_db()
    >>> df = error_rates(db)
    >>> list(df.columns)
    ['tool_name', 'calls', 'completed', 'failed', 'unknown', 'error_rate']
    >>> bool((df["calls"] == df["completed"] + df["unknown"]).all())
    True
    >>> int(df["calls"].sum()) == int(tool_cost(db)["calls"].sum())
    True
    """
    return _grouped_tool_query(
        db, since, until, by, freq, func="error_rates", allowed=ERROR_RATES_BY,
        daily_measures=OUTCOME_DAILY_MEASURES, calls_measures=OUTCOME_CALLS_MEASURES,
        measures_spec=ERROR_RATE_MEASURES | {"error_rate": FLOAT},
        sort_keys=[("failed", False), ("calls", False)], add_derived=_with_error_rate,
    )


def task_throughput(db: DB, *, since: Bound = None, until: Bound = None, freq: str | None = "D") -> pd.DataFrame:
    """Tasks created and finished per period, success rate and cycle times.

    ``created`` counts tasks by the day they were created; ``completed``, ``failed``, ``stopped`` and
    ``finished`` count tasks by the day they reached that (current, final) status; the cycle times belong to
    the tasks finished in the period.

    Parameters
    ----------
    db : path or sqlite_utils.Database
        The analytics database.
    since, until : date, str, datetime or pandas.Timestamp, optional
        Window, ``since`` inclusive, ``until`` exclusive (on ``created_at`` for ``created``, on ``finished_at``
        for the rest).
    freq : str or None
        pandas offset alias ("D", "W-MON", "MS"); None gives one row for the whole window, whose
        ``period_start`` is ``since`` (or the first day with data; NaT if there is none).

    Returns
    -------
    pandas.DataFrame
        - ``period_start``: start of the period, aware, report timezone
        - ``created``: tasks created, count
        - ``completed``, ``failed``, ``stopped``: tasks that reached that status, count
        - ``finished``: their sum, count
        - ``success_rate``: ``completed / (completed + failed)`` in [0, 1]; NaN when both are 0
        - ``median_cycle_s``: median of ``finished_at - created_at`` over the finished tasks, s; NaN if none
        - ``p90_cycle_s``: 90th percentile of the same (linear interpolation), s; NaN if none

        One row per period, in time order.

    Examples
    --------
    >>> db = _example_db()
    >>> df = task_throughput(db, freq="D")
    >>> list(df.columns)
    ['period_start', 'created', 'completed', 'failed', 'stopped', 'finished', 'success_rate', 'median_cycle_s', 'p90_cycle_s']
    >>> total = task_throughput(db, freq=None)
    >>> len(total), int(total["created"].iloc[0]) == int(df["created"].sum())
    (1, True)
    """
    off = _offset(freq)
    with _opened(db) as database:
        window = _window(database, since, until)
        c_clauses, c_params = window.where(day_col="created_day", time_col="created_at")
        f_clauses, f_params = window.where(day_col="finished_day", time_col="finished_at")
        params = c_params | f_params
        c_and = "".join(f" AND {c}" for c in c_clauses)
        f_and = "".join(f" AND {c}" for c in f_clauses)
        _, created_rows = _query(database, TASKS_CREATED_SQL.format(day_col="created_day", and_where=c_and), params)
        _, finished_rows = _query(database, TASKS_FINISHED_SQL.format(and_where=f_and), params)
        _, cycle_rows = _query(database, TASK_CYCLES_SQL.format(and_where=f_and), params)
    created = pd.DataFrame.from_records(created_rows, columns=["day", "created"])
    finished = pd.DataFrame.from_records(finished_rows, columns=["day", "completed", "failed", "stopped"])
    per_day = created.merge(finished, on="day", how="outer").fillna(0)
    counts = ["created", "completed", "failed", "stopped"]
    per_day[counts] = per_day[counts].astype("int64") if len(per_day) else per_day[counts]
    cycles = pd.DataFrame.from_records(cycle_rows, columns=["day", "cycle_s"])
    cycles["cycle_s"] = cycles["cycle_s"].astype("float64")

    if off is None:
        sums = per_day[counts].sum() if len(per_day) else pd.Series(0, index=counts)
        out = pd.DataFrame([sums.to_dict()])
        if window.since is not None:
            start = pd.Timestamp(window.since).tz_convert(window.tz)
        elif len(per_day):
            start = _localize(pd.DatetimeIndex([pd.Timestamp(min(per_day["day"]))]), window.tz)[0]
        else:
            start = pd.NaT
        out["period_start"] = pd.Series([start], dtype=f"datetime64[us, {window.tz}]")
        values = cycles["cycle_s"]
        out["median_cycle_s"] = values.median() if len(values) else np.nan
        out["p90_cycle_s"] = values.quantile(0.9) if len(values) else np.nan
    else:
        out = _spread(per_day, None, counts, window, off)
        edges = _period_edges(window, per_day["day"].tolist(), off)
        cycles["period"] = (_assign_periods(cycles["day"], edges) if len(cycles)
                            else pd.Series([], dtype="datetime64[us]"))
        grouped = cycles.dropna(subset=["period"]).groupby("period")["cycle_s"]
        stats = pd.DataFrame({"median_cycle_s": grouped.median(), "p90_cycle_s": grouped.quantile(0.9)})
        stats.index = _localize(pd.DatetimeIndex(stats.index), window.tz)
        out = out.merge(stats, left_on="period_start", right_index=True, how="left")
    out["finished"] = out["completed"] + out["failed"] + out["stopped"]
    out["success_rate"] = _rate(out["completed"], out["completed"] + out["failed"])
    out = _cast(out, THROUGHPUT_COLUMNS, window.tz)
    return _sort(out, [("period_start", True)])


# --------------------------------------------------------------------------------------------------------------
# Further queries


def _calls_where(window: _Window) -> tuple[str, dict]:
    """WHERE clause on tool_calls for a window: the indexed ``day`` when day-granular, else ``started_at``."""
    clauses, params = window.where(day_col="day", time_col="started_at")
    return "WHERE " + " AND ".join(["day IS NOT NULL"] + clauses), params


def _calls_frame(db: DB, since: Bound, until: Bound, sql: str, spec: dict[str, str], extra: dict | None = None
                 ) -> pd.DataFrame:
    """Run a ``{where}``-templated query over the window's ``tool_calls`` and type its columns by ``spec``."""
    with _opened(db) as database:
        window = _window(database, since, until)
        where, params = _calls_where(window)
        columns, rows = _query(database, sql.format(where=where), params | (extra or {}))
    return _frame(columns, rows, spec, window.tz)


def _lerp(a: float, b: float, t: float) -> float:
    """numpy's linear interpolation, including its rounding-safe form for t >= 0.5."""
    diff = b - a
    return b - diff * (1 - t) if t >= 0.5 else a + diff * t


QUANTILES = (("p50_ms", 0.5), ("p90_ms", 0.9), ("p99_ms", 0.99))


def latency(db: DB, *, since: Bound = None, until: Bound = None, by: str | None = "tool_name") -> pd.DataFrame:
    """Duration percentiles of tool calls (start of the call to its completion row, hook latency included).

    Parameters
    ----------
    db : path or sqlite_utils.Database
        The analytics database.
    since, until : date, str, datetime or pandas.Timestamp, optional
        Window on the calls' start, ``since`` inclusive, ``until`` exclusive.
    by : {"tool_name", "model_id", "agent_type", "outcome"} or None
        Group column; None gives a single total row.

    Returns
    -------
    pandas.DataFrame
        The ``by`` column, then

        - ``calls``: logical tool calls, count
        - ``calls_with_duration``: calls with a known duration (calls with outcome unknown have none), count
        - ``p50_ms``, ``p90_ms``, ``p99_ms``: percentiles of the duration (linear interpolation, as
          ``numpy.percentile``), ms; NaN when no call has a duration
        - ``mean_ms``: mean duration, ms; NaN when no call has one

        Sorted by ``calls`` descending, then the group name.

    Examples
    --------
    >>> db = _example_db()
    >>> df = latency(db, by=None)
    >>> list(df.columns)
    ['calls', 'calls_with_duration', 'p50_ms', 'p90_ms', 'p99_ms', 'mean_ms']
    >>> row = df.iloc[0]
    >>> bool(row["p50_ms"] <= row["p90_ms"] <= row["p99_ms"])
    True
    """
    key = _check_by(by, LATENCY_BY, "latency")
    with _opened(db) as database:
        window = _window(database, since, until)
        where, params = _calls_where(window)
        key_sql = CALLS_KEYS[key] if key else "NULL"
        keys = f"{key_sql} AS {key}, " if key else ""
        group_by = f"\nGROUP BY {key_sql}" if key else ""
        columns, rows = _query(database, LATENCY_COUNTS_SQL.format(keys=keys, where=where, group_by=group_by), params)
        params = params | {"q1": QUANTILES[0][1], "q2": QUANTILES[1][1], "q3": QUANTILES[2][1]}
        _, ranked = _query(database, LATENCY_RANKS_SQL.format(key=key_sql, where=where), params)
    df = pd.DataFrame.from_records(rows, columns=columns)
    values: dict = {}
    for k, n, rank, duration in ranked:
        values.setdefault(k, (n, {}))[1][rank] = duration
    for name, q in QUANTILES:
        col = []
        for k in (df[key] if key else [None] * len(df)):
            entry = values.get(k)
            if entry is None:
                col.append(np.nan)
                continue
            n, by_rank = entry
            pos = (n - 1) * q
            lo = int(pos)
            hi = min(lo + 1, n - 1)
            col.append(_lerp(by_rank[lo], by_rank[hi], pos - lo))
        df[name] = col
    spec = ({key: STR} if key else {}) | LATENCY_MEASURES
    df = _cast(df, spec, window.tz)
    return _sort(df, [("calls", False), (key, True)]) if key else df


def task_cost(db: DB, *, since: Bound = None, until: Bound = None, limit: int | None = DEFAULT_LIMIT) -> pd.DataFrame:
    """The most expensive tasks created in the window.

    Parameters
    ----------
    db : path or sqlite_utils.Database
        The analytics database.
    since, until : date, str, datetime or pandas.Timestamp, optional
        Window on the tasks' ``created_at``, ``since`` inclusive, ``until`` exclusive.
    limit : int or None, default 20 (None: all rows)
        Rows at most.

    Returns
    -------
    pandas.DataFrame
        - ``task_id``: the bot's task id
        - ``status``: current status (pending, running, completed, failed, stopped)
        - ``model_id``: model the task's alias meant when it was created
        - ``agent_type``: the task's agent type
        - ``created_at``: creation time, aware, report timezone
        - ``cycle_s``: ``finished_at - created_at``, s; NaN while unfinished
        - ``calls``: the task's logical tool calls, count
        - ``input_tokens``, ``output_tokens``, ``cache_write_tokens``, ``cache_read_tokens``: tokens
        - ``cost_usd``: priced cost of the task's calls, USD
        - ``unpriced_tokens``: tokens no price covers, tokens

        Sorted by ``cost_usd`` descending, then ``task_id``.

    Examples
    --------
    >>> db = _example_db()
    >>> df = task_cost(db, limit=3)
    >>> len(df) <= 3, bool(df["cost_usd"].is_monotonic_decreasing)
    (True, True)
    """
    limit = _check_limit(limit)
    with _opened(db) as database:
        window = _window(database, since, until)
        clauses, params = window.where(day_col="created_day", time_col="created_at")
        where = ("WHERE " + " AND ".join(clauses)) if clauses else ""
        columns, rows = _query(database, TASK_COST_SQL.format(where=where), params | {"limit": limit})
    return _frame(columns, rows, TASK_COST_COLUMNS, window.tz)


def cache_savings(db: DB, *, since: Bound = None, until: Bound = None, by: str | None = "model_id") -> pd.DataFrame:
    """What prompt caching saved: cached tokens at the input price versus at the cache prices.

    ``cost_without_cache_usd`` prices the cache-read and cache-write tokens as plain input tokens;
    ``cost_with_cache_usd`` prices them at the cache-read and (5-minute) cache-write prices. Prices come from
    the database's ``model_prices`` table, on the call's report-timezone day (the row effective on that day; a
    day before a model's first row takes that first row). A group whose cached tokens have no price at all gets
    NaN costs; otherwise the costs cover its priced tokens. Only groups with cached tokens are listed.

    Parameters
    ----------
    db : path or sqlite_utils.Database
        The analytics database.
    since, until : date, str, datetime or pandas.Timestamp, optional
        Window on the calls' start, ``since`` inclusive, ``until`` exclusive.
    by : {"model_id", "tool_name", "agent_type"} or None
        Group column; None gives a single total row.

    Returns
    -------
    pandas.DataFrame
        The ``by`` column, then

        - ``cache_read_tokens``: tokens read from the cache, tokens
        - ``cache_write_tokens``: tokens written to the cache, tokens
        - ``cost_without_cache_usd``: those tokens at the input price, USD
        - ``cost_with_cache_usd``: those tokens at the cache prices, USD
        - ``savings_usd``: the difference (negative when cache writes cost more than reads saved), USD

        Sorted by ``savings_usd`` descending, then the group name.

    Examples
    --------
    >>> db = _example_db()
    >>> df = cache_savings(db, by=None)
    >>> list(df.columns)
    ['cache_read_tokens', 'cache_write_tokens', 'cost_without_cache_usd', 'cost_with_cache_usd', 'savings_usd']
    >>> len(df)
    1
    """
    key = _check_by(by, CACHE_SAVINGS_BY, "cache_savings")
    with _opened(db) as database:
        window = _window(database, since, until)
        if window.day_granular:
            table, keys_map = "tool_daily", DAILY_KEYS
            clauses, params = window.where(day_col="day", time_col=None)
        else:
            table, keys_map = "tool_calls", CALLS_KEYS
            clauses, params = window.where(day_col="day", time_col="started_at")
            clauses = ["day IS NOT NULL"] + clauses
        where = ("WHERE " + " AND ".join(clauses)) if clauses else ""
        sql = CACHE_SAVINGS_SQL.format(
            keys=f"{keys_map[key]} AS {key}, " if key else "",
            model=keys_map["model_id"],
            table=table,
            where=where,
            group_keys=f"{key}, " if key else "",
            out_keys=f"{key}, " if key else "",
            out_group_by=f"GROUP BY {key}" if key else "",
        )
        columns, rows = _query(database, sql, params)
    df = pd.DataFrame.from_records(rows, columns=columns)
    df["savings_usd"] = pd.to_numeric(df["cost_without_cache_usd"]) - pd.to_numeric(df["cost_with_cache_usd"])
    spec = ({key: STR} if key else {}) | CACHE_SAVINGS_MEASURES
    df = _cast(df, spec, window.tz)
    return _sort(df, [("savings_usd", False), (key, True)]) if key else df


def top_errors(db: DB, *, since: Bound = None, until: Bound = None, limit: int | None = DEFAULT_LIMIT) -> pd.DataFrame:
    """The most frequent failures, by error category and tool.

    Parameters
    ----------
    db : path or sqlite_utils.Database
        The analytics database.
    since, until : date, str, datetime or pandas.Timestamp, optional
        Window on the calls' start, ``since`` inclusive, ``until`` exclusive.
    limit : int or None, default 20 (None: all rows)
        Rows at most.

    Returns
    -------
    pandas.DataFrame
        - ``error_category``: the bot's category; NaN when it wrote none
        - ``tool_name``: the tool
        - ``count``: failed calls, count
        - ``example_error``: the latest error text of the group (secrets already masked); NaN if none was written
        - ``first_seen``, ``last_seen``: start of the first and the last failed call, aware, report timezone

        Sorted by ``count`` descending, then category and tool.

    Examples
    --------
    >>> db = _example_db()
    >>> df = top_errors(db, limit=5)
    >>> list(df.columns)
    ['error_category', 'tool_name', 'count', 'example_error', 'first_seen', 'last_seen']
    >>> bool((df["first_seen"] <= df["last_seen"]).all())
    True
    """
    return _calls_frame(db, since, until, TOP_ERRORS_SQL, TOP_ERRORS_COLUMNS, {"limit": _check_limit(limit)})


def subagent_usage(db: DB, *, since: Bound = None, until: Bound = None) -> pd.DataFrame:
    """Delegation to sub-agents: the ``Task`` tool calls by their ``subagent_type``.

    Parameters
    ----------
    db : path or sqlite_utils.Database
        The analytics database.
    since, until : date, str, datetime or pandas.Timestamp, optional
        Window on the calls' start, ``since`` inclusive, ``until`` exclusive.

    Returns
    -------
    pandas.DataFrame
        - ``subagent_type``: the sub-agent (NaN when the call named none)
        - ``calls``: Task calls, count
        - ``failed``: of them with outcome failure, count
        - ``unknown``: of them that never completed, count
        - ``input_tokens``, ``output_tokens``: tokens the bot recorded for them, tokens
        - ``cost_usd``: their priced cost, USD

        Sorted by ``cost_usd`` descending, then ``calls`` descending, then the name.

    Examples
    --------
    >>> db = _example_db()
    >>> df = subagent_usage(db)
    >>> list(df.columns)
    ['subagent_type', 'calls', 'failed', 'unknown', 'input_tokens', 'output_tokens', 'cost_usd']
    >>> int(df["calls"].sum()) == int(tool_cost(db).set_index("tool_name").loc["Task", "calls"])
    True
    """
    return _calls_frame(db, since, until, SUBAGENT_USAGE_SQL, SUBAGENT_COLUMNS)


def file_activity(db: DB, *, since: Bound = None, until: Bound = None,
                  limit: int | None = DEFAULT_LIMIT) -> pd.DataFrame:
    """The files the file tools touched most.

    Parameters
    ----------
    db : path or sqlite_utils.Database
        The analytics database.
    since, until : date, str, datetime or pandas.Timestamp, optional
        Window on the calls' start, ``since`` inclusive, ``until`` exclusive.
    limit : int or None, default 20 (None: all rows)
        Rows at most.

    Returns
    -------
    pandas.DataFrame
        - ``file_path``: the file
        - ``reads``: Read calls, count
        - ``edits``: Edit, MultiEdit and NotebookEdit calls, count
        - ``writes``: Write calls, count
        - ``calls``: their sum, count
        - ``failed``: of them with outcome failure, count

        Sorted by ``calls`` descending, then ``file_path``.

    Examples
    --------
    >>> db = _example_db()
    >>> df = file_activity(db, limit=5)
    >>> list(df.columns)
    ['file_path', 'reads', 'edits', 'writes', 'calls', 'failed']
    >>> bool((df["calls"] == df["reads"] + df["edits"] + df["writes"]).all())
    True
    """
    return _calls_frame(db, since, until, FILE_ACTIVITY_SQL, FILE_ACTIVITY_COLUMNS, {"limit": _check_limit(limit)})


def tasks_per_user(db: DB, *, since: Bound = None, until: Bound = None) -> pd.DataFrame:
    """Tasks and router (web-chat) messages per user.

    Parameters
    ----------
    db : path or sqlite_utils.Database
        The analytics database.
    since, until : date, str, datetime or pandas.Timestamp, optional
        Window on the tasks' ``created_at`` and the messages' ``at``; ``since`` inclusive, ``until`` exclusive.

    Returns
    -------
    pandas.DataFrame
        - ``user_ref``: stable, non-reversible reference to the user
        - ``tasks``: tasks created, count
        - ``completed``, ``failed``, ``stopped``: of them, by current status, count
        - ``cost_usd``: priced cost of those tasks' tool calls, USD
        - ``router_messages``: router messages of the user (user and assistant rows), count
        - ``router_cost_usd``: priced cost of those router turns, USD

        Sorted by ``tasks`` descending, then ``cost_usd`` descending, then ``router_messages``, then the ref.

    Examples
    --------
    >>> db = _example_db()
    >>> df = tasks_per_user(db)
    >>> list(df.columns)
    ['user_ref', 'tasks', 'completed', 'failed', 'stopped', 'cost_usd', 'router_messages', 'router_cost_usd']
    >>> int(df["tasks"].sum()) == int(task_throughput(db, freq=None)["created"].iloc[0])
    True
    """
    with _opened(db) as database:
        window = _window(database, since, until)
        t_clauses, t_params = window.where(day_col="created_day", time_col="created_at")
        m_clauses, m_params = window.where(day_col="day", time_col="at")
        sql = TASKS_PER_USER_SQL.format(
            task_where=("WHERE " + " AND ".join(t_clauses)) if t_clauses else "",
            message_where=("WHERE " + " AND ".join(m_clauses)) if m_clauses else "",
        )
        columns, rows = _query(database, sql, t_params | m_params)
    return _frame(columns, rows, TASKS_PER_USER_COLUMNS, window.tz)


def data_quality(db: DB) -> pd.DataFrame:
    """How far to trust the figures: the data-quality checks of the last sync.

    Parameters
    ----------
    db : path or sqlite_utils.Database
        The analytics database.

    Returns
    -------
    pandas.DataFrame
        - ``check_name``: what was measured
        - ``value``: the count
        - ``detail``: what the check means

        In the order the sync measured them.

    Examples
    --------
    >>> db = _example_db()
    >>> df = data_quality(db)
    >>> list(df.columns)
    ['check_name', 'value', 'detail']
    >>> "calls" in set(df["check_name"])
    True
    """
    with _opened(db) as database:
        tz = db_mod.report_tz(database)
        columns, rows = _query(database, DATA_QUALITY_SQL, {})
    return _frame(columns, rows, DATA_QUALITY_COLUMNS, tz)


def router_usage(db: DB, *, since: Bound = None, until: Bound = None, freq: str | None = None) -> pd.DataFrame:
    """Web-chat router traffic: messages, tasks it created, tokens and cost, optionally per period.

    Parameters
    ----------
    db : path or sqlite_utils.Database
        The analytics database.
    since, until : date, str, datetime or pandas.Timestamp, optional
        Window on the messages' ``at`` (when the bot wrote them), ``since`` inclusive, ``until`` exclusive.
    freq : str or None
        pandas offset alias for a leading ``period_start``; None for one total row.

    Returns
    -------
    pandas.DataFrame
        ``period_start`` (with ``freq``; aware, report timezone), then

        - ``messages``: router messages (user and assistant rows), count
        - ``assistant_messages``: the router's answers, count
        - ``tasks_created``: answers that created a background task, count
        - ``input_tokens``, ``output_tokens``: router tokens, tokens
        - ``cost_usd``: priced cost of the router's turns, USD

    Examples
    --------
    >>> db = _example_db()
    >>> df = router_usage(db)
    >>> list(df.columns)
    ['messages', 'assistant_messages', 'tasks_created', 'input_tokens', 'output_tokens', 'cost_usd']
    >>> int(router_usage(db, freq="D")["messages"].sum()) == int(df["messages"].iloc[0])
    True
    """
    off = _offset(freq)
    with _opened(db) as database:
        window = _window(database, since, until)
        clauses, params = window.where(day_col="day", time_col="at")
        clauses = ["day IS NOT NULL"] + clauses
        where = "WHERE " + " AND ".join(clauses)
        keys, group_by = ("day AS day, ", "\nGROUP BY day") if off is not None else ("", "")
        columns, rows = _query(database, ROUTER_USAGE_SQL.format(keys=keys, where=where, group_by=group_by), params)
    raw = pd.DataFrame.from_records(rows, columns=columns)
    if off is None:
        return _cast(raw, ROUTER_USAGE_MEASURES, window.tz)
    measures = list(ROUTER_USAGE_MEASURES)
    raw[measures] = raw[measures].apply(pd.to_numeric).fillna(0)
    out = _spread(raw, None, measures, window, off)
    return _sort(_cast(out, {"period_start": TIME} | ROUTER_USAGE_MEASURES, window.tz), [("period_start", True)])


# --------------------------------------------------------------------------------------------------------------
# Registry, CLI formatting, doctest example database

QUERIES: dict[str, Callable[..., pd.DataFrame]] = {
    "tool_cost": tool_cost,
    "error_rates": error_rates,
    "task_throughput": task_throughput,
    "latency": latency,
    "task_cost": task_cost,
    "cache_savings": cache_savings,
    "top_errors": top_errors,
    "subagent_usage": subagent_usage,
    "file_activity": file_activity,
    "tasks_per_user": tasks_per_user,
    "data_quality": data_quality,
    "router_usage": router_usage,
}

_OPTIONS = ("since", "until", "by", "freq", "limit")


def run_named(path: DB, name: str, *, since: Bound = None, until: Bound = None, by: str | None = None,
              freq: str | None = None, limit: int | None = None, fmt: str = "table") -> str:
    """Run the query ``name`` on the analytics database at ``path`` and format its DataFrame as text.

    Options left as None are not passed (the function's default applies); ``by="none"`` / ``freq="none"`` ask
    for totals. An option the query does not take, an unknown name or format raise ``InputError``.

    ``fmt``: ``table`` (aligned text for people: USD rounded to 4 decimals, rates to 3, other floats to 1;
    times shown as dates when they are all local midnights), ``csv`` (full precision) or ``json`` (records,
    full precision; times as ISO 8601 strings with their UTC offset in the report timezone; NaN as null).

    >>> run_named(_example_db(), "nonsense")
    Traceback (most recent call last):
    ...
    amiga_analytics.errors.InputError: unknown query 'nonsense': choose one of tool_cost, error_rates, task_throughput, latency, task_cost, cache_savings, top_errors, subagent_usage, file_activity, tasks_per_user, data_quality, router_usage
    >>> print(run_named(_example_db(), "tool_cost", by="none", fmt="csv").splitlines()[0])
    calls,calls_with_tokens,input_tokens,output_tokens,cache_write_tokens,cache_read_tokens,cost_usd,unpriced_tokens
    """
    key = name.strip().replace("-", "_") if isinstance(name, str) else name
    func = QUERIES.get(key)
    if func is None:
        raise InputError(f"unknown query {name!r}: choose one of {', '.join(QUERIES)}")
    if fmt not in FORMATS:
        raise InputError(f"unknown format {fmt!r}: choose one of {', '.join(FORMATS)}")
    accepted = [p for p in inspect.signature(func).parameters if p in _OPTIONS]
    given = {"since": since, "until": until, "by": by, "freq": freq, "limit": limit}
    kwargs = {}
    for option, value in given.items():
        if value is None:
            continue
        if option not in accepted:
            takes = ", ".join(f"--{p}" for p in accepted) or "no options"
            raise InputError(f"{key} does not take --{option}; it takes {takes}")
        if option in ("by", "freq") and isinstance(value, str) and value.strip().lower() == "none":
            value = None
        kwargs[option] = value
    df = func(path, **kwargs)
    return format_frame(df, fmt)


def format_frame(df: pd.DataFrame, fmt: str = "table") -> str:
    """A query's DataFrame as ``table``, ``csv`` or ``json`` text (see :func:`run_named`)."""
    if fmt == "csv":
        return df.to_csv(index=False)
    if fmt == "json":
        # json.dumps rather than DataFrame.to_json: floats keep their shortest exact repr (to_json rounds them
        # to a fixed number of decimals) and times keep the report timezone's offset (to_json converts to UTC).
        out = df.astype(object)
        for col in df.columns:
            if pd.api.types.is_datetime64_any_dtype(df[col]):
                out[col] = df[col].map(lambda t: None if pd.isna(t) else t.isoformat()).astype(object)
        out = out.where(df.notna(), None)
        return json.dumps(out.to_dict(orient="records"), separators=(",", ":"), ensure_ascii=False) + "\n"
    if fmt != "table":
        raise InputError(f"unknown format {fmt!r}: choose one of {', '.join(FORMATS)}")
    if df.empty:
        return "  ".join(df.columns) + "\n(no rows)\n"
    shown = df.copy()
    for col in shown.columns:
        if pd.api.types.is_float_dtype(shown[col]):
            digits = 4 if col.endswith("_usd") else 3 if col.endswith("_rate") else 1
            shown[col] = shown[col].round(digits)
        elif isinstance(shown[col].dtype, pd.DatetimeTZDtype):
            stamps = shown[col]
            midnight = stamps.isna() | ((stamps.dt.hour == 0) & (stamps.dt.minute == 0) & (stamps.dt.second == 0)
                                        & (stamps.dt.microsecond == 0))
            pattern = "%Y-%m-%d" if midnight.all() else "%Y-%m-%d %H:%M:%S%z"
            shown[col] = stamps.dt.strftime(pattern).fillna("")
    return shown.to_string(index=False) + "\n"


@functools.lru_cache(maxsize=1)
def _example_db() -> str:
    """A small demo analytics database for the doctests (built once per process, removed at exit)."""
    from ..demo import write_demo
    from ..load.sync import sync

    tmp = Path(tempfile.mkdtemp(prefix="amiga-analytics-example-"))
    atexit.register(shutil.rmtree, tmp, ignore_errors=True)
    bot = tmp / "demo-bot.db"
    write_demo(bot, calls=300, days=7, seed=1, tz="Europe/Madrid")
    out = tmp / "analytics.db"
    sync(bot, out, source_tz="Europe/Madrid")
    return str(out)
