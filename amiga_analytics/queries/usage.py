"""``usage``: API requests and tokens from Claude Code's transcripts (the ``api_requests`` table).

To be re-exported by :mod:`amiga_analytics.queries` (after its helpers are defined) and by ``amiga_analytics``.
"""

from __future__ import annotations

import pandas as pd

from ..errors import InputError
from ..store.transcript_figures import COVERAGE_DAILY_SQL, TRANSCRIPT_GAPS_SQL
from .columns import FLOAT, INT, STR, TIME
from .frames import _cast, _frame, _ordered, _query, _spread, with_bot
from .periods import DB, Bound, _check_by, _offset, _opened, _window

USAGE_BY = ("model_id", "task_id", "agent", "session_id", "bot")
USAGE_MEASURES = {
    "requests": INT, "input_tokens": INT, "output_tokens": INT, "cache_write_5m_tokens": INT,
    "cache_write_1h_tokens": INT, "cache_read_tokens": INT, "cost_usd": FLOAT, "unpriced_tokens": INT,
}
ANY_REQUEST_SQL = "SELECT 1 FROM api_requests LIMIT 1"
USAGE_SQL = """SELECT {keys}COUNT(*) AS requests,
       COALESCE(SUM(input_tokens), 0) AS input_tokens,
       COALESCE(SUM(output_tokens), 0) AS output_tokens,
       COALESCE(SUM(cache_write_5m_tokens), 0) AS cache_write_5m_tokens,
       COALESCE(SUM(cache_write_1h_tokens), 0) AS cache_write_1h_tokens,
       COALESCE(SUM(cache_read_tokens), 0) AS cache_read_tokens,
       TOTAL(cost_usd) AS cost_usd,
       COALESCE(SUM(unpriced_tokens), 0) AS unpriced_tokens
FROM api_requests
{where}{group_by}"""


def _grouped(database, window, key: str | None, by_day: bool) -> pd.DataFrame:
    group = ([key] if key else []) + (["day"] if by_day else [])
    clauses, params = window.where(day_col="day", time_col="requested_at")
    clauses = ["day IS NOT NULL"] + clauses
    sql = USAGE_SQL.format(
        keys="".join(f"{g} AS {g}, " for g in group),
        where="WHERE " + " AND ".join(clauses),
        group_by=("\nGROUP BY " + ", ".join(group)) if group else "",
    )
    columns, rows = _query(database, sql, params)
    return pd.DataFrame.from_records(rows, columns=columns)


def usage(db: DB, *, since: Bound = None, until: Bound = None, by: str | None = "model_id",
          freq: str | None = None, bot: str | None = None) -> pd.DataFrame:
    """API requests, tokens and cost from Claude Code's transcripts, grouped by one column and optionally by
    period.

    Every request is counted once (deduplicated on message id and request id), including the requests of
    sub-agents, which the bot's own rows never see.

    Parameters
    ----------
    db : path or sqlite_utils.Database
        The analytics database (with transcripts loaded).
    since, until : date, str, datetime or pandas.Timestamp, optional
        Window on the request's time, ``since`` inclusive, ``until`` exclusive (report timezone for naive values).
    by : {"model_id", "task_id", "agent", "session_id"} or None
        Group column; None gives a single total row. ``task_id`` NaN: interactive CLI sessions (or sessions no
        task was found for); ``agent`` is ``main`` or a sub-agent id.
    freq : str or None
        pandas offset alias ("D", "W-MON", "MS") for a leading ``period_start``; None for totals.

    Returns
    -------
    pandas.DataFrame
        ``period_start`` (with ``freq``; aware, report timezone), the ``by`` column, then

        - ``requests``: API requests, count
        - ``input_tokens``: uncached input tokens, tokens
        - ``output_tokens``: output tokens, tokens
        - ``cache_write_5m_tokens``: 5-minute cache writes, tokens
        - ``cache_write_1h_tokens``: 1-hour cache writes, tokens
        - ``cache_read_tokens``: cache reads, tokens
        - ``cost_usd``: cost of the priced requests, USD
        - ``unpriced_tokens``: tokens of requests no price covers (never priced at $0), tokens

        Sorted by ``cost_usd`` descending, then ``requests`` descending, then the group name.

    >>> db = analytics_db
    >>> df = usage(db, by="agent", freq="W-MON")
    >>> list(df.columns)[:4]
    ['period_start', 'agent', 'requests', 'input_tokens']
    >>> int(df["requests"].sum()) == int(usage(db, by=None)["requests"].iloc[0])
    True
    """
    key = _check_by(by, USAGE_BY, "usage")
    off = _offset(freq)
    with _opened(db) as database:
        if not database["api_requests"].exists() or database.execute(ANY_REQUEST_SQL).fetchone() is None:
            raise InputError(
                "usage: no transcripts are loaded in this analytics database; "
                "sync it with --transcripts DIR (a Claude config directory) first"
            )
        window = _window(database, since, until, bot)
        raw = _grouped(database, window, key, off is not None)
    sort_keys = [("cost_usd", False), ("requests", False)]
    if off is None:
        return _ordered(raw, key, USAGE_MEASURES, sort_keys, lambda df: df, window.tz, with_period=False)
    measures = list(USAGE_MEASURES)
    raw[measures] = raw[measures].apply(pd.to_numeric).fillna(0)
    spread = _spread(raw, key, measures, window, off)
    return _ordered(spread, key, USAGE_MEASURES, sort_keys, lambda df: df, window.tz, with_period=True)


COVERAGE_COLUMNS = {
    "day": STR, "calls": INT, "calls_both": INT, "calls_bot_only": INT, "calls_transcript_only": INT,
    "calls_cost_transcript": INT, "coverage": FLOAT, "requests": INT, "tools_transcript_usd": FLOAT,
    "turns_without_tools_usd": FLOAT, "requests_usd": FLOAT, "cost_bot_usd": FLOAT,
}
GAP_COLUMNS = {
    "kind": STR, "task_id": STR, "source_id": STR, "call_id": INT, "tool_use_id": STR, "tool_name": STR,
    "started_at": TIME,
}


def transcript_coverage(db: DB, *, since: Bound = None, until: Bound = None, bot: str | None = None) -> pd.DataFrame:
    """How far Claude Code's transcripts cover the calls, per day (report timezone), and the cost split.

    Parameters
    ----------
    db : path or sqlite_utils.Database
        The analytics database.
    since, until : date, str, datetime or pandas.Timestamp, optional
        Window on the days, ``since`` inclusive, ``until`` exclusive (whole days).

    Returns
    -------
    pandas.DataFrame
        - ``day``: the day, ``YYYY-MM-DD``
        - ``calls``: logical tool calls, count
        - ``calls_both``: calls seen by both witnesses (bot rows and a transcript tool_use), count
        - ``calls_bot_only``: calls seen only in the bot's rows, count
        - ``calls_transcript_only``: calls seen only in the transcripts, count
        - ``calls_cost_transcript``: calls whose cost comes from their session's transcript, count
        - ``coverage``: ``calls_cost_transcript / calls``, in [0, 1]; 1 means the day's tool cost is the
          transcripts' (no floor); NaN without calls
        - ``requests``: API requests in the transcripts, count
        - ``tools_transcript_usd``: the calls' shares of their requests' cost, USD
        - ``turns_without_tools_usd``: the cost of the requests that issued no tool_use, USD
        - ``requests_usd``: the cost of all requests, USD (= tools + turns without tools, to the cent, on a day
          whose calls and requests fall on the same day)
        - ``cost_bot_usd``: the cost of the bot's recorded tokens of calls with no transcript, USD

        One row per day with calls or requests, in day order.
    """
    with _opened(db) as database:
        window = _window(database, since, until, bot)
        where, params = window.condition(day_col="day", time_col=None)
        columns, rows = _query(database, COVERAGE_DAILY_SQL.format(where=where), params)
    df = pd.DataFrame.from_records(rows, columns=columns)
    df.insert(6, "coverage", df["calls_cost_transcript"] / df["calls"].where(df["calls"] > 0))
    return _cast(df, COVERAGE_COLUMNS, window.tz)


def transcript_gaps(db: DB, *, bot: str | None = None) -> pd.DataFrame:
    """Where the two witnesses disagree: the bot tasks with calls whose transcript was never read, and, in
    sessions both saw, the calls counted from the bot's rows that no tool_use matches and the tool_uses that no
    bot call matches (an exact check of how the bot's rows were merged into calls). ``bot``: one bot's gaps, in a
    store of several (default: every bot's).

    Parameters
    ----------
    db : path or sqlite_utils.Database
        The analytics database.

    Returns
    -------
    pandas.DataFrame
        - ``kind``: ``task_without_transcript``, ``bot_call_without_tool_use`` or ``tool_use_without_bot_call``
        - ``task_id``: the task (NaN for CLI sessions)
        - ``source_id``: what the bot's rows carry (task id or session UUID); NaN for a task without transcript
        - ``call_id``: the call (NaN for a task without transcript)
        - ``tool_use_id``: the transcript's tool_use (``tool_use_without_bot_call`` only)
        - ``tool_name``: the tool
        - ``started_at``: the call's start (the task's creation for a task without transcript), aware, report
          timezone

        Sorted by kind, then time.
    """
    with _opened(db) as database:
        tz = _window(database, None, None, bot).tz
        sql = TRANSCRIPT_GAPS_SQL.format(and_bot="" if bot is None else " AND bot = :bot")
        columns, rows = _query(database, sql, {"bot": bot})
        spec = with_bot(database, GAP_COLUMNS)
    return _frame(columns, rows, spec, tz)
