"""``usage``: API requests and tokens from Claude Code's transcripts (the ``api_requests`` table).

To be re-exported by :mod:`amiga_analytics.queries` (after its helpers are defined) and by ``amiga_analytics``.
"""

from __future__ import annotations

import pandas as pd

from ..errors import InputError
from .columns import FLOAT, INT
from .frames import _ordered, _query, _spread
from .periods import DB, Bound, _check_by, _offset, _opened, _window

USAGE_BY = ("model_id", "task_id", "agent", "session_id")
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
          freq: str | None = None) -> pd.DataFrame:
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
    """
    key = _check_by(by, USAGE_BY, "usage")
    off = _offset(freq)
    with _opened(db) as database:
        if not database["api_requests"].exists() or database.execute(ANY_REQUEST_SQL).fetchone() is None:
            raise InputError(
                "usage: no transcripts are loaded in this analytics database; "
                "sync it with --transcripts DIR (a Claude config directory) first"
            )
        window = _window(database, since, until)
        raw = _grouped(database, window, key, off is not None)
    sort_keys = [("cost_usd", False), ("requests", False)]
    if off is None:
        return _ordered(raw, key, USAGE_MEASURES, sort_keys, lambda df: df, window.tz, with_period=False)
    measures = list(USAGE_MEASURES)
    raw[measures] = raw[measures].apply(pd.to_numeric).fillna(0)
    spread = _spread(raw, key, measures, window, off)
    return _ordered(spread, key, USAGE_MEASURES, sort_keys, lambda df: df, window.tz, with_period=True)
