"""Task and user queries: throughput and cycle times, the most expensive tasks, tasks per user, router traffic
and data quality."""

from __future__ import annotations

import numpy as np
import pandas as pd
from pandas.tseries.offsets import BaseOffset
from sqlite_utils import Database

from ..store import figures
from .columns import (
    DATA_QUALITY_COLUMNS,
    DEFAULT_LIMIT,
    ROUTER_USAGE_MEASURES,
    TASK_COST_COLUMNS,
    TASKS_PER_USER_COLUMNS,
    THROUGHPUT_COLUMNS,
    TIME,
)
from .frames import _cast, _frame, _query, _rate, _sort, _spread, unpriced_as_missing, with_bot
from .periods import (
    DB,
    Bound,
    _assign_periods,
    _check_limit,
    _localize,
    _offset,
    _opened,
    _period_edges,
    _Window,
    _window,
)


def task_throughput(db: DB, *, since: Bound = None, until: Bound = None, freq: str | None = "D",
                    bot: str | None = None) -> pd.DataFrame:
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
    >>> db = analytics_db
    >>> df = task_throughput(db, freq="D")
    >>> list(df.columns)
    ['period_start', 'created', 'completed', 'failed', 'stopped', 'finished', 'success_rate', 'median_cycle_s', 'p90_cycle_s']
    >>> total = task_throughput(db, freq=None)
    >>> len(total), int(total["created"].iloc[0]) == int(df["created"].sum())
    (1, True)
    """
    off = _offset(freq)
    with _opened(db) as database:
        window = _window(database, since, until, bot)
        per_day, cycles = _tasks_per_day(database, window)
    counts = ["created", "completed", "failed", "stopped"]
    if off is None:
        out = _throughput_total(per_day, cycles, window, counts)
    else:
        out = _throughput_periods(per_day, cycles, window, counts, off)
    out["finished"] = out["completed"] + out["failed"] + out["stopped"]
    out["success_rate"] = _rate(out["completed"], out["completed"] + out["failed"])
    out = _cast(out, THROUGHPUT_COLUMNS, window.tz)
    return _sort(out, [("period_start", True)])


def _tasks_per_day(database: Database, window: _Window) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Tasks created and finished per day (``day``, ``created``, ``completed``, ``failed``, ``stopped``) and the
    cycle times of the finished tasks (``day``, ``cycle_s``)."""
    created_where, c_params = window.condition(day_col="created_day", time_col="created_at")
    finished_where, f_params = window.condition(day_col="finished_day", time_col="finished_at")
    params = c_params | f_params
    _, created_rows = _query(database, figures.TASKS_CREATED_SQL.format(where=created_where), params)
    _, finished_rows = _query(database, figures.TASKS_FINISHED_SQL.format(where=finished_where), params)
    _, cycle_rows = _query(database, figures.TASK_CYCLES_SQL.format(where=finished_where), params)
    created = pd.DataFrame.from_records(created_rows, columns=["day", "created"])
    finished = pd.DataFrame.from_records(finished_rows, columns=["day", "completed", "failed", "stopped"])
    per_day = created.merge(finished, on="day", how="outer").fillna(0)
    counts = ["created", "completed", "failed", "stopped"]
    per_day[counts] = per_day[counts].astype("int64") if len(per_day) else per_day[counts]
    cycles = pd.DataFrame.from_records(cycle_rows, columns=["day", "cycle_s"])
    cycles["cycle_s"] = cycles["cycle_s"].astype("float64")
    return per_day, cycles


def _throughput_periods(per_day: pd.DataFrame, cycles: pd.DataFrame, window: _Window, counts: list[str],
                        off: BaseOffset) -> pd.DataFrame:
    """One row per period. The cycle-time statistics are pandas' (``median``, ``quantile(0.9)``), as in 0.1."""
    out = _spread(per_day, None, counts, window, off)
    edges = _period_edges(window, per_day["day"].tolist(), off)
    cycles["period"] = (_assign_periods(cycles["day"], edges) if len(cycles)
                        else pd.Series([], dtype="datetime64[us]"))
    grouped = cycles.dropna(subset=["period"]).groupby("period")["cycle_s"]
    stats = pd.DataFrame({"median_cycle_s": grouped.median(), "p90_cycle_s": grouped.quantile(0.9)})
    stats.index = _localize(pd.DatetimeIndex(stats.index), window.tz)
    return out.merge(stats, left_on="period_start", right_index=True, how="left")


def _throughput_total(per_day: pd.DataFrame, cycles: pd.DataFrame, window: _Window, counts: list[str]
                      ) -> pd.DataFrame:
    """One row for the whole window; ``period_start`` is ``since``, else the first day with data, else NaT."""
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
    return out


def task_cost(db: DB, *, since: Bound = None, until: Bound = None, limit: int | None = DEFAULT_LIMIT,
              bot: str | None = None) -> pd.DataFrame:
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
        - ``cost_usd``: the task's cost, USD: from its Claude Code transcripts when one was read (every API
          request of its sessions and sub-agents, turns without tools included), else the priced tokens the bot
          recorded on its calls (a floor: the bot records tokens almost only on Task calls); NaN (never $0)
          when none of its tokens is priced
        - ``unpriced_tokens``: tokens no price covers, tokens
        - ``cost_transcript_usd``: the part of ``cost_usd`` from the transcripts, USD
        - ``cost_bot_usd``: the part from the bot's recorded tokens, USD

        Sorted by ``cost_usd`` descending (missing costs last), then ``task_id``.

    Examples
    --------
    >>> db = analytics_db
    >>> df = task_cost(db, limit=3)
    >>> len(df) <= 3, bool(df["cost_usd"].is_monotonic_decreasing)
    (True, True)
    """
    limit = _check_limit(limit)
    with _opened(db) as database:
        window = _window(database, since, until, bot)
        where, params = window.condition(day_col="created_day", time_col="created_at")
        sql = figures.TASK_COST_SQL.format(where=where, limit=":limit")
        columns, rows = _query(database, sql, params | {"limit": limit})
        spec = with_bot(database, TASK_COST_COLUMNS)
    return unpriced_as_missing(_frame(columns, rows, spec, window.tz))  # no priced token: NaN, not $0


def tasks_per_user(db: DB, *, since: Bound = None, until: Bound = None, bot: str | None = None) -> pd.DataFrame:
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
    >>> db = analytics_db
    >>> df = tasks_per_user(db)
    >>> list(df.columns)
    ['user_ref', 'tasks', 'completed', 'failed', 'stopped', 'cost_usd', 'router_messages', 'router_cost_usd']
    >>> int(df["tasks"].sum()) == int(task_throughput(db, freq=None)["created"].iloc[0])
    True
    """
    with _opened(db) as database:
        window = _window(database, since, until, bot)
        task_where, t_params = window.condition(day_col="created_day", time_col="created_at")
        message_where, m_params = window.condition(day_col="day", time_col="at")
        sql = figures.TASKS_PER_USER_SQL.format(task_where=task_where, message_where=message_where)
        columns, rows = _query(database, sql, t_params | m_params)
    return _frame(columns, rows, TASKS_PER_USER_COLUMNS, window.tz)


def router_usage(db: DB, *, since: Bound = None, until: Bound = None, freq: str | None = None,
                 bot: str | None = None) -> pd.DataFrame:
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
        - ``cost_usd``: priced cost of the router's turns, USD; NaN (not $0) when none of their tokens is priced
        - ``unpriced_tokens``: router tokens no price covers (no model recorded, or an unknown one), tokens

    Examples
    --------
    >>> db = analytics_db
    >>> df = router_usage(db)
    >>> list(df.columns)
    ['messages', 'assistant_messages', 'tasks_created', 'input_tokens', 'output_tokens', 'cost_usd', 'unpriced_tokens']
    >>> int(router_usage(db, freq="D")["messages"].sum()) == int(df["messages"].iloc[0])
    True
    """
    off = _offset(freq)
    with _opened(db) as database:
        window = _window(database, since, until, bot)
        where, params = window.condition(day_col="day", time_col="at")
        keys = {"day": "day"} if off is not None else {}
        sql = figures.grouped_sql("router_messages", keys, figures.ROUTER_USAGE_MEASURES,
                                  f"day IS NOT NULL AND {where}")
        columns, rows = _query(database, sql, params)
    raw = pd.DataFrame.from_records(rows, columns=columns)
    if off is None:
        return _cast(raw, ROUTER_USAGE_MEASURES, window.tz)
    measures = list(ROUTER_USAGE_MEASURES)
    raw[measures] = raw[measures].apply(pd.to_numeric).fillna(0)
    out = unpriced_as_missing(_spread(raw, None, measures, window, off))  # no priced token: NaN, not $0
    return _sort(_cast(out, {"period_start": TIME} | ROUTER_USAGE_MEASURES, window.tz), [("period_start", True)])


def data_quality(db: DB, *, bot: str | None = None) -> pd.DataFrame:
    """How far to trust the figures: the data-quality checks of the last sync (of each bot, one after the other,
    in a store that holds several; ``bot``: of that bot only).

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
    >>> db = analytics_db
    >>> df = data_quality(db)
    >>> list(df.columns)
    ['check_name', 'value', 'detail']
    >>> "calls" in set(df["check_name"])
    True
    """
    with _opened(db) as database:
        tz = _window(database, None, None, bot).tz
        where = "1" if bot is None else "data_quality.bot = :bot"
        columns, rows = _query(database, figures.DATA_QUALITY_SQL.format(where=where), {"bot": bot})
        spec = with_bot(database, DATA_QUALITY_COLUMNS)
    return _frame(columns, rows, spec, tz)
