"""The tool-call queries: cost, error rates, latency and cache savings, from the daily rollup or the calls."""

from __future__ import annotations

import math
from typing import Any, Callable

import pandas as pd
from sqlite_utils import Database

from ..load.pricing import PRICE_COLUMNS, PriceBook
from ..store import figures
from .columns import (
    CACHE_SAVINGS_BY,
    CACHE_SAVINGS_MEASURES,
    ERROR_RATE_MEASURES,
    ERROR_RATES_BY,
    FLOAT,
    LATENCY_BY,
    LATENCY_MEASURES,
    STR,
    TOOL_COST_BY,
    TOOL_COST_MEASURES,
)
from .frames import _cast, _ordered, _query, _rate, _sort, _spread
from .periods import DB, Bound, _check_by, _offset, _opened, _Window, _window


def _rollup_or_calls(database: Database, window: _Window, key: str | None, by_day: bool,
                     daily_measures: str, calls_measures: str) -> pd.DataFrame:
    """Grouped sums from ``tool_daily`` when it can answer exactly, else from ``tool_calls`` (SQL GROUP BY)."""
    group = ([key] if key else []) + (["day"] if by_day else [])
    use_daily = window.day_granular and all(g in figures.DAILY_KEYS for g in group)
    if use_daily:
        keys_map, table, measures = figures.DAILY_KEYS, "tool_daily", daily_measures
        where, params = window.condition(day_col="day", time_col=None)
    else:
        keys_map, table, measures = figures.CALLS_KEYS, "tool_calls", calls_measures
        where, params = window.calls_condition()
    sql = figures.grouped_sql(table, {g: keys_map[g] for g in group}, measures, where)
    columns, rows = _query(database, sql, params)
    return pd.DataFrame.from_records(rows, columns=columns)


def _grouped_tool_query(db: DB, since: Bound, until: Bound, bot: str | None, by: str | None, freq: str | None, *, func: str,
                        allowed: tuple[str, ...], daily_measures: str, calls_measures: str, measures_spec: dict,
                        sort_keys: list[tuple[str, bool]], add_derived: Callable[[pd.DataFrame], pd.DataFrame]
                        ) -> pd.DataFrame:
    key = _check_by(by, allowed, func)
    off = _offset(freq)
    with _opened(db) as database:
        window = _window(database, since, until, bot)
        raw = _rollup_or_calls(database, window, key, off is not None, daily_measures, calls_measures)
    base = [m for m in measures_spec if m in raw.columns]
    if off is None:
        return _ordered(raw, key, measures_spec, sort_keys, add_derived, window.tz, with_period=False)
    raw[base] = raw[base].apply(pd.to_numeric).fillna(0)
    spread = _spread(raw, key, base, window, off)
    return _ordered(spread, key, measures_spec, sort_keys, add_derived, window.tz, with_period=True)


def tool_cost(db: DB, *, since: Bound = None, until: Bound = None, by: str | None = "tool_name",
              freq: str | None = None, bot: str | None = None) -> pd.DataFrame:
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
        - ``cost_usd``: cost, USD: ``cost_transcript_usd + cost_bot_usd``; NaN (never $0) when no token of the row is priced
        - ``unpriced_tokens``: tokens no price covers (never priced at $0), tokens
        - ``cost_transcript_usd``: the part from Claude Code's transcripts, for calls whose session's transcript
          was read: each call's share of the API request that issued it (the request's cost split equally among
          its tool_uses), USD. Requests that issued no tool_use (turns without tools) belong to no tool: see
          :func:`~amiga_analytics.queries.usage.transcript_coverage`; tools + turns without tools = the cost of
          all requests, to the cent.
        - ``cost_bot_usd``: the part from the tokens the bot recorded (almost only on Task calls), for calls with
          no transcript: a floor, USD

        Tokens are the bot's recorded tokens. Sorted by ``cost_usd`` descending, then ``calls`` descending, then
        the group name.

    Examples
    --------
    >>> db = analytics_db
    >>> df = tool_cost(db, by="model_id")
    >>> list(df.columns)
    ['model_id', 'calls', 'calls_with_tokens', 'input_tokens', 'output_tokens', 'cache_write_tokens', 'cache_read_tokens', 'cost_usd', 'unpriced_tokens', 'cost_transcript_usd', 'cost_bot_usd']
    >>> int(df["calls"].sum()) == int(tool_cost(db, by=None)["calls"].iloc[0])
    True
    >>> weekly = tool_cost(db, by=None, freq="W-MON")
    >>> bool((weekly["period_start"].dt.day_of_week == 0).all())
    True
    """
    return _grouped_tool_query(
        db, since, until, bot, by, freq, func="tool_cost", allowed=TOOL_COST_BY,
        daily_measures=figures.COST_DAILY_MEASURES, calls_measures=figures.COST_CALLS_MEASURES,
        measures_spec=TOOL_COST_MEASURES, sort_keys=[("cost_usd", False), ("calls", False)],
        add_derived=lambda df: df,
    )


def _with_error_rate(df: pd.DataFrame) -> pd.DataFrame:
    df = df.copy()
    df["error_rate"] = _rate(df["failed"], df["completed"])
    return df


def error_rates(db: DB, *, since: Bound = None, until: Bound = None, by: str | None = "tool_name",
                freq: str | None = None, bot: str | None = None) -> pd.DataFrame:
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
    >>> db = analytics_db
    >>> df = error_rates(db)
    >>> list(df.columns)
    ['tool_name', 'calls', 'completed', 'failed', 'unknown', 'error_rate']
    >>> bool((df["calls"] == df["completed"] + df["unknown"]).all())
    True
    >>> int(df["calls"].sum()) == int(tool_cost(db)["calls"].sum())
    True
    """
    return _grouped_tool_query(
        db, since, until, bot, by, freq, func="error_rates", allowed=ERROR_RATES_BY,
        daily_measures=figures.OUTCOME_DAILY_MEASURES, calls_measures=figures.OUTCOME_CALLS_MEASURES,
        measures_spec=ERROR_RATE_MEASURES | {"error_rate": FLOAT},
        sort_keys=[("failed", False), ("calls", False)], add_derived=_with_error_rate,
    )


def latency(db: DB, *, since: Bound = None, until: Bound = None, by: str | None = "tool_name",
            bot: str | None = None) -> pd.DataFrame:
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
    >>> db = analytics_db
    >>> df = latency(db, by=None)
    >>> list(df.columns)
    ['calls', 'calls_with_duration', 'p50_ms', 'p90_ms', 'p99_ms', 'mean_ms']
    >>> row = df.iloc[0]
    >>> bool(row["p50_ms"] <= row["p90_ms"] <= row["p99_ms"])
    True
    """
    key = _check_by(by, LATENCY_BY, "latency")
    with _opened(db) as database:
        window = _window(database, since, until, bot)
        where, params = window.calls_condition()
        sql = figures.latency_sql(key=key or "total", key_expr=figures.CALLS_KEYS[key] if key else None,
                                  table="tool_calls", where=where, calls_where=where)
        columns, rows = _query(database, sql, params)
    df = pd.DataFrame.from_records(rows, columns=columns)
    spec = ({key: STR} if key else {}) | LATENCY_MEASURES
    df = _cast(df, spec, window.tz)
    return _sort(df, [("calls", False), (key, True)]) if key else df


def cache_savings(db: DB, *, since: Bound = None, until: Bound = None, by: str | None = "model_id",
                  bot: str | None = None) -> pd.DataFrame:
    """What prompt caching saved: cached tokens at the input price versus at the cache prices.

    ``cost_without_cache_usd`` prices the cache-read and cache-write tokens as plain input tokens;
    ``cost_with_cache_usd`` prices them at the cache-read and (5-minute) cache-write prices. Prices come from
    the database's ``model_prices`` table, on the call's report-timezone day, by the rule the sync prices calls
    with (:meth:`amiga_analytics.load.pricing.PriceBook.price`: the row effective on that day; a day before a
    model's first row takes that first row). A group whose cached tokens have no price at all gets
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
    >>> db = analytics_db
    >>> df = cache_savings(db, by=None)
    >>> list(df.columns)
    ['cache_read_tokens', 'cache_write_tokens', 'cost_without_cache_usd', 'cost_with_cache_usd', 'savings_usd']
    >>> len(df)
    1
    """
    key = _check_by(by, CACHE_SAVINGS_BY, "cache_savings")
    with _opened(db) as database:
        window = _window(database, since, until, bot)
        usage = _cache_usage(database, window, key)
        _, price_rows = _query(database, figures.MODEL_PRICES_SQL, {})
    book = PriceBook([], [dict(zip(PRICE_COLUMNS, row)) for row in price_rows])
    groups = usage.groupby(key, dropna=False, sort=False) if key else [(None, usage)]
    rows = [_priced_cache(book, group) | ({key: name} if key else {}) for name, group in groups]
    if not rows and not key:
        rows = [_priced_cache(book, usage)]
    df = pd.DataFrame(rows, columns=([key] if key else []) + list(CACHE_SAVINGS_MEASURES))
    df["savings_usd"] = pd.to_numeric(df["cost_without_cache_usd"]) - pd.to_numeric(df["cost_with_cache_usd"])
    spec = ({key: STR} if key else {}) | CACHE_SAVINGS_MEASURES
    df = _cast(df, spec, window.tz)
    return _sort(df, [("savings_usd", False), (key, True)]) if key else df


def _cache_usage(database: Database, window: _Window, key: str | None) -> pd.DataFrame:
    """Cached tokens per (group,) day and model, from the rollup when it answers the window exactly."""
    if window.day_granular:
        table, keys_map = "tool_daily", figures.DAILY_KEYS
        where, params = window.condition(day_col="day", time_col=None)
    else:
        table, keys_map = "tool_calls", figures.CALLS_KEYS
        where, params = window.calls_condition()
    sql = figures.CACHE_USAGE_SQL.format(
        keys=f"{keys_map[key]} AS {key}, " if key else "", model=keys_map["model_id"], table=table, where=where,
        group_keys=f"{key}, " if key else "",
    )
    columns, rows = _query(database, sql, params)
    return pd.DataFrame.from_records(rows, columns=columns)


def _priced_cache(book: PriceBook, usage: pd.DataFrame) -> dict[str, Any]:
    """The cached tokens of one group at the input price and at the cache prices, on each row's day (NaN costs
    when none of them has a price)."""
    without, with_cache = [], []
    for model, day, cr, cw in usage[["price_model", "day", "cache_read_tokens", "cache_write_tokens"]].itertuples(
            index=False):
        price = book.price(model, day)
        if price is not None:
            without.append((cr + cw) * price.input)
            with_cache.append(cw * price.cache_write_5m + cr * price.cache_read)
    return {
        "cache_read_tokens": int(usage["cache_read_tokens"].sum()),
        "cache_write_tokens": int(usage["cache_write_tokens"].sum()),
        "cost_without_cache_usd": math.fsum(without) / 1_000_000 if without or usage.empty else math.nan,
        "cost_with_cache_usd": math.fsum(with_cache) / 1_000_000 if with_cache or usage.empty else math.nan,
    }
