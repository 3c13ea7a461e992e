"""ccusage-style usage reports: :func:`daily`, :func:`weekly`, :func:`monthly`, :func:`tasks` and :func:`sessions`.

Each returns a DataFrame (no totals row: :func:`totals` adds it) whose ``attrs["source"]`` says where the
figures come from: ``"transcripts"`` (Claude Code's API requests, the true cost) when the database has
``api_requests`` rows, else ``"tool calls"`` (the bot's own rows: a floor) or ``"tasks"``.

Windows take what every query takes (dates, ISO times, ``7d`` / ``4w``) plus relative periods
(:data:`RELATIVE`): ``today``, ``yesterday``, ``this-week``, ``last-week``, ``this-month``, ``last-month``
(weeks start on Monday; a relative ``since`` without ``until`` ends where its period ends).
"""

from __future__ import annotations

from datetime import date, datetime, timedelta

import pandas as pd

from ..errors import InputError
from ..store import connect as db_mod
from ..store.figures import DATA_RANGE_SQL
from ..store.transcript_figures import SESSION_BOTS_SQL
from ..timeutil import zone
from .periods import DB, Bound, _opened
from .tasks import task_cost
from .tools import tool_cost
from .usage import ANY_REQUEST_SQL, usage

__all__ = ["RELATIVE", "REPORT_COLUMNS", "daily", "data_range", "monthly", "resolve_window", "sessions", "tasks",
           "totals", "weekly"]

RELATIVE = ("today", "yesterday", "this-week", "last-week", "this-month", "last-month")
#: the columns of daily / weekly / monthly (after ``period`` and the optional group column)
REPORT_COLUMNS = ["calls", "input_tokens", "output_tokens", "cache_write_tokens", "cache_read_tokens",
                  "total_tokens", "cost_usd", "unpriced_tokens"]
_PERIODS = {"daily": ("D", "%Y-%m-%d"), "weekly": ("W-MON", "%G-W%V"), "monthly": ("MS", "%Y-%m")}


def _relative(name: str, today: date) -> tuple[date, date]:
    """The [start, end) dates of a relative period name."""
    monday = today - timedelta(days=today.weekday())
    first = today.replace(day=1)
    spans = {
        "today": (today, today + timedelta(days=1)),
        "yesterday": (today - timedelta(days=1), today),
        "this-week": (monday, monday + timedelta(days=7)),
        "last-week": (monday - timedelta(days=7), monday),
        "this-month": (first, (first + timedelta(days=32)).replace(day=1)),
        "last-month": ((first - timedelta(days=1)).replace(day=1), first),
    }
    return spans[name]


def resolve_window(since: Bound, until: Bound, tz: str, today: date | None = None) -> tuple[Bound, Bound]:
    """``since`` / ``until`` with relative period names (:data:`RELATIVE`) turned into dates in ``tz``.

    >>> resolve_window("last-week", None, "Europe/Madrid", today=date(2025, 10, 29))
    (datetime.date(2025, 10, 20), datetime.date(2025, 10, 27))
    >>> resolve_window("this-month", "2025-10-15", "UTC", today=date(2025, 10, 29))
    (datetime.date(2025, 10, 1), '2025-10-15')
    """
    today = today or datetime.now(zone(tz)).date()

    def name(value: Bound) -> str | None:
        text = value.strip().lower() if isinstance(value, str) else None
        return text if text in RELATIVE else None

    if name(since):
        start, end = _relative(name(since), today)  # type: ignore[arg-type]
        since = start
        if until is None:
            until = end
    if name(until):
        until = _relative(name(until), today)[1]  # type: ignore[arg-type]
    return since, until


def data_range(db: DB) -> tuple[str | None, str | None]:
    """The first and last day (report timezone, ISO) with a tool call or a task; (None, None) when empty."""
    with _opened(db) as database:
        first, last = database.execute(DATA_RANGE_SQL).fetchone()
    return first, last


def _window(database, since: Bound, until: Bound, bot: str | None = None) -> dict:
    since, until = resolve_window(since, until, db_mod.report_tz(database))
    return {"since": since, "until": until, "bot": bot}


def _has_requests(database) -> bool:
    return database["api_requests"].exists() and database.execute(ANY_REQUEST_SQL).fetchone() is not None


def _period_report(kind: str, db: DB, since: Bound, until: Bound, by: str | None, breakdown: bool,
                   bot: str | None) -> pd.DataFrame:
    freq, pattern = _PERIODS[kind]
    key = by or ("model_id" if breakdown else None)
    with _opened(db) as database:
        w = _window(database, since, until, bot)
        if _has_requests(database):
            raw = usage(database, by=key, freq=freq, **w)
            raw = raw.rename(columns={"requests": "calls"})
            raw["cache_write_tokens"] = raw["cache_write_5m_tokens"] + raw["cache_write_1h_tokens"]
            source = "transcripts"
        else:
            raw = tool_cost(database, by=key, freq=freq, **w)
            source = "tool calls"
    raw = raw[raw["calls"] > 0] if key or raw["calls"].sum() == 0 else raw  # no activity at all: no rows
    raw["total_tokens"] = raw[["input_tokens", "output_tokens", "cache_write_tokens", "cache_read_tokens"]].sum(axis=1)
    out = pd.DataFrame({"period": raw["period_start"].dt.strftime(pattern)})
    if key:
        out[key] = raw[key]
    for col in REPORT_COLUMNS:
        out[col] = raw[col]
    out = out.reset_index(drop=True)
    out.attrs["source"] = source
    return out


_DOC = """{title} usage: calls (or API requests), tokens and cost per {unit}, oldest first.

    ``since`` / ``until``: the window (see :mod:`amiga_analytics.queries.reports`); ``breakdown=True`` adds one
    row per model (``model_id``) in each period; ``by`` groups by another column instead (``tool_name``,
    ``model_id``, ``agent_type``, ``outcome``, ``task_id``; for transcripts ``model_id``, ``task_id``, ``agent``,
    ``session_id``). Periods with nothing in them are kept when not grouped, dropped when grouped. ``bot``: one
    bot of a store of several (default: all of them).

    Columns: ``period`` ({fmt}), the group column if any, ``calls`` (tool calls; API requests for transcripts),
    ``input_tokens``, ``output_tokens``, ``cache_write_tokens``, ``cache_read_tokens``, ``total_tokens``
    (tokens), ``cost_usd`` (USD; NaN when no token of the row is priced, never $0), ``unpriced_tokens``.
    ``attrs["source"]``: ``"transcripts"`` or ``"tool calls"``.
    """


def daily(db: DB, *, since: Bound = None, until: Bound = None, by: str | None = None,
          breakdown: bool = False, bot: str | None = None) -> pd.DataFrame:
    return _period_report("daily", db, since, until, by, breakdown, bot)


def weekly(db: DB, *, since: Bound = None, until: Bound = None, by: str | None = None,
           breakdown: bool = False, bot: str | None = None) -> pd.DataFrame:
    return _period_report("weekly", db, since, until, by, breakdown, bot)


def monthly(db: DB, *, since: Bound = None, until: Bound = None, by: str | None = None,
            breakdown: bool = False, bot: str | None = None) -> pd.DataFrame:
    return _period_report("monthly", db, since, until, by, breakdown, bot)


daily.__doc__ = _DOC.format(title="Daily", unit="day (report timezone)", fmt="YYYY-MM-DD")
weekly.__doc__ = _DOC.format(title="Weekly", unit="ISO week (Monday to Sunday)", fmt="ISO week, YYYY-Www")
monthly.__doc__ = _DOC.format(title="Monthly", unit="calendar month", fmt="YYYY-MM")


def tasks(db: DB, *, since: Bound = None, until: Bound = None, bot: str | None = None) -> pd.DataFrame:
    """The bot's tasks created in the window, most expensive first: the columns of
    :func:`~amiga_analytics.queries.task_cost` (``task_id``, ``status``, ``model_id``, ``agent_type``,
    ``created_at``, ``cycle_s``, ``calls``, the token columns, ``cost_usd`` USD, ``unpriced_tokens``);
    ``attrs["source"] = "tasks"``."""
    with _opened(db) as database:
        out = task_cost(database, limit=None, **_window(database, since, until, bot))
    out.attrs["source"] = "tasks"
    return out


def sessions(db: DB, *, since: Bound = None, until: Bound = None, bot: str | None = None) -> pd.DataFrame:
    """Claude sessions: :func:`~amiga_analytics.queries.usage` by ``session_id`` when the database has API
    requests from transcripts (``attrs["source"] = "transcripts"``), else the bot's tasks (:func:`tasks`,
    ``attrs["source"] = "tasks"``: one task is one Claude session of the bot). In a store of several bots a
    session's ``bot`` follows its ``session_id``."""
    with _opened(db) as database:
        if not _has_requests(database):
            return tasks(database, since=since, until=until, bot=bot)
        out = usage(database, by="session_id", **_window(database, since, until, bot))
        if len(db_mod.store_bots(database)) > 1:
            bots = dict(database.execute(SESSION_BOTS_SQL).fetchall())
            out.insert(out.columns.get_loc("session_id") + 1, "bot", out["session_id"].map(bots).astype("str"))
    out.attrs["source"] = "transcripts"
    return out


def totals(df: pd.DataFrame, label_column: str | None = None) -> dict:
    """The totals row of a report: sums of the counts and tokens, the sum of ``cost_usd`` (NaN when no row is
    priced), and ``"Total"`` in ``label_column`` (default: the first column)."""
    if df.empty:
        raise InputError("no rows to total")
    label_column = label_column or df.columns[0]
    row: dict = {c: None for c in df.columns}
    row[label_column] = "Total"
    for col in df.columns:
        if col == label_column or not pd.api.types.is_numeric_dtype(df[col]) or col.endswith("_s"):
            continue
        row[col] = float(df[col].sum(min_count=1)) if col == "cost_usd" else df[col].sum()
    return row
