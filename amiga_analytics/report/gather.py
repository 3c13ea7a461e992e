"""Gathering the report: which week, then every figure of it from :mod:`amiga_analytics.queries` into a
:class:`~amiga_analytics.report.model.WeeklyReport` (full precision; rounding happens when rendering)."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from sqlite_utils import Database

from .. import queries
from ..errors import NoDataError
from ..store import connect as db_mod
from ..store.state_values import state_value
from ..timeutil import zone
from .actions import actions_table, datasette_base, for_bot
from .budget import budget_table, cost_limit
from .fmt import day_text, tilde
from .model import WeeklyReport
from .stats import HISTORY_DAYS, week_over_week
from .tables import anomalies_table, cost_by_model, errors_by_category, finished_cycles, quality_table
from .weeks import Span, Week, parse_week

__all__ = ["weekly_report"]

# The last sync of the bot, or over several bots the latest of their last syncs: a bot retired or not synced for
# a while does not hold the report back (a note names it: _stale_bots).
LAST_SYNC_SQL = """SELECT MAX(last) FROM (SELECT MAX(started_at) AS last FROM syncs
WHERE :bot IS NULL OR bot = :bot GROUP BY bot)"""
LAST_SYNC_BY_BOT_SQL = "SELECT bot, MAX(started_at) FROM syncs GROUP BY bot ORDER BY bot"


def weekly_report(db: str | Path | Database, *, week: str | date | Week | None = None,
                  daily_limit: float | None = None, monthly_limit: float | None = None,
                  datasette_url: str | None = None, bot: str | None = None) -> WeeklyReport:
    """The weekly report of an analytics database, as DataFrames.

    ``db``: a path or an open ``Database``. ``week``: "2025-W42" (or a date in the week); default: the last
    complete ISO week (report timezone) that has data. ``daily_limit`` / ``monthly_limit``: the bot's cost
    limits in USD, default ``$DAILY_COST_LIMIT`` / ``$MONTHLY_COST_LIMIT`` when set. ``datasette_url``: where the
    "What to do this week" links point (default ``$AMIGA_ANALYTICS_DATASETTE_URL``, else what ``serve`` uses).
    ``bot``: one bot of a store of several (``sync --bot``); default: all its bots together, with a table per bot
    (:attr:`WeeklyReport.bots`; empty in a one-bot store, whose report does not change).

    Raises ``NotAnAnalyticsDatabase`` for a missing or foreign file and ``NoDataError`` when the week has no
    tool calls and no tasks (the report never shows zeros that are not facts).
    """
    daily, daily_src = cost_limit(daily_limit, "DAILY_COST_LIMIT", "daily_limit")
    monthly, monthly_src = cost_limit(monthly_limit, "MONTHLY_COST_LIMIT", "monthly_limit")
    opened = not isinstance(db, Database)
    database = db_mod.connect(db)
    try:
        name = Path(db).name if not isinstance(db, Database) else _db_name(database)  # (opened)
        report = _gather(database, week, daily, monthly, {"daily": daily_src, "monthly": monthly_src}, name, bot)
        return _with_actions(database, report, datasette_base(datasette_url))
    finally:
        if opened:
            database.conn.close()


def _with_actions(database: Database, report: WeeklyReport, base: str) -> WeeklyReport:
    """The report with its "What to do this week" table and the bot database's name (from the last sync)."""
    start, end = report.start, report.end
    prev = Week.containing(start).previous()
    frames = {
        "start": start, "end": end, "headline": report.headline, "budget": report.budget,
        "anomalies": report.anomalies, "top_errors": report.top_errors,
        "errors_total": int(report.error_rates_by_tool["failed"].sum()),
        "tasks": queries.task_cost(database, since=start, until=end, limit=None, bot=report.bot).drop(
            columns=["bot"] if report.bot is not None else [], errors="ignore"),  # one bot's: its links say the bot
        "cost_by_tool": report.cost_by_tool, "finished": report.cycle_times,
        "finished_before": finished_cycles(database, prev, report.bot),
    }
    report.actions = for_bot(actions_table(frames, base=base), report.bot)
    report.bot_db = state_value(database, "bot_db") or ""
    return report


def _db_name(database: Database) -> str:
    """The file name of an open database (what the footer names as the source)."""
    try:
        row = database.execute("PRAGMA database_list").fetchone()
        return Path(row[2]).name if row and row[2] else "analytics database"
    except Exception:  # pragma: no cover - exotic connections
        return "analytics database"


def _activity_days(calls_daily: pd.DataFrame, tasks_daily: pd.DataFrame) -> list[date]:
    """The days (report timezone) with any tool call, or any task created or finished."""
    days = set(calls_daily.loc[calls_daily["calls"] > 0, "period_start"].dt.date)
    busy = tasks_daily[(tasks_daily["created"] > 0) | (tasks_daily["finished"] > 0)]
    days |= set(busy["period_start"].dt.date)
    return sorted(days)


def _default_week(database: Database, tz: str, days: list[date], bot: str | None) -> Week:
    """The last complete week with data: the last week that ended before both now and the last sync."""
    now = datetime.now(zone(tz))
    cutoff = now
    last_sync = database.execute(LAST_SYNC_SQL, {"bot": bot}).fetchone()[0]
    if last_sync:
        cutoff = min(now, datetime.fromisoformat(last_sync).astimezone(zone(tz)))
    this_monday = Week.containing(cutoff.date()).start  # weeks before this one are complete
    complete = [d for d in days if d < this_monday]
    if not complete:
        span = f"{days[0]} to {days[-1]}" if days else "nothing yet"
        raise NoDataError(
            f"no complete week with data (data covers {span}; the current week {Week.containing(cutoff.date()).label} "
            f"is not over): give one with --week, e.g. --week {Week.containing(days[-1]).label if days else '2025-W42'}"
        )
    return Week.containing(complete[-1])


def _gather(database: Database, week_arg: str | date | Week | None, daily_limit: float | None,
            monthly_limit: float | None, limit_sources: dict, source: str, bot: str | None) -> WeeklyReport:
    tz = db_mod.report_tz(database)
    days = _activity_days(queries.tool_cost(database, by=None, freq="D", bot=bot),
                          queries.task_throughput(database, freq="D", bot=bot))
    week = _default_week(database, tz, days, bot) if week_arg is None else parse_week(week_arg)
    in_week = [d for d in days if week.start <= d < week.end]
    if not in_week:
        span = (f"the data covers {Week.containing(days[0]).label} ({days[0]}) to {Week.containing(days[-1]).label} "
                f"({days[-1]})") if days else "the database holds no tool calls or tasks yet"
        raise NoDataError(
            f"no tool calls or tasks in {week.label} ({week.start} to {week.end - timedelta(days=1)}, {tz}): "
            f"{span}; pick a week with data"
        )
    headline, notes = _headline(database, week, days, in_week, bot)
    notes += [] if bot is not None else _stale_bots(database, week, tz)
    hist: Span = {"since": max(days[0], week.start - timedelta(days=HISTORY_DAYS)), "until": week.end, "bot": bot}
    cost_per_day = _cost_per_day(database, hist)
    error_per_day = queries.error_rates(database, by=None, freq="D", **hist)

    # Breakdowns of the week.
    w: Span = {"since": week.start, "until": week.end, "bot": bot}
    by_model = queries.tool_cost(database, by="model_id", **w)
    by_tool = queries.tool_cost(database, by="tool_name", **w)
    transcripts = _transcript_coverage(database, w)
    if not transcripts:  # without transcripts the cost split says nothing: the table stays as it was
        by_model, by_tool = (df.drop(columns=list(WITNESS_COLUMNS)) for df in (by_model, by_tool))
    router_week = queries.router_usage(database, **w)
    errors_tool = queries.error_rates(database, by="tool_name", **w)
    return WeeklyReport(
        week=week.label, start=week.start, end=week.end, timezone=tz, previous_week=week.previous().label,
        source=source, headline=headline, cost_per_day=cost_per_day, cost_by_model=cost_by_model(by_model, router_week),
        cost_by_tool=by_tool, budget=budget_table(cost_per_day, week, daily_limit, monthly_limit),
        error_rates_by_tool=errors_tool,
        error_rates_by_category=errors_by_category(queries.error_rates(database, by="error_category", **w)),
        error_rate_per_day=error_per_day, top_errors=_home_as_tilde(top_errors_table(database, w)),
        throughput_per_day=queries.task_throughput(database, freq="D", **w),
        cycle_times=finished_cycles(database, week, bot), subagents=queries.subagent_usage(database, **w),
        anomalies=anomalies_table(database, week, hist, cost_per_day, error_per_day),
        data_quality=quality_table(database, by_tool, errors_tool, router_week, by_model, len(in_week), bot),
        router=router_week, daily_limit=daily_limit, monthly_limit=monthly_limit, limit_sources=limit_sources,
        notes=notes, transcripts=transcripts, bot=bot, bots=_bots_table(database, week, bot),
    )


WITNESS_COLUMNS = ("cost_transcript_usd", "cost_bot_usd")
ANY_TRANSCRIPT_SQL = "SELECT EXISTS (SELECT 1 FROM api_requests WHERE :bot IS NULL OR bot = :bot)"


def _transcript_coverage(database: Database, window: Span) -> dict:
    """The week's transcript coverage (empty when the database holds no transcripts): days with calls, days
    whose calls all take their cost from the transcripts, calls seen by each witness, the cost split."""
    if not _any_transcript(database, window["bot"]):
        return {}
    cov = queries.transcript_coverage(database, **window)
    days = cov[cov["calls"] > 0]
    return {
        "days": int(len(days)), "days_covered": int((days["coverage"] >= 1).sum()),
        "calls": int(cov["calls"].sum()), "calls_cost_transcript": int(cov["calls_cost_transcript"].sum()),
        "calls_both": int(cov["calls_both"].sum()), "calls_bot_only": int(cov["calls_bot_only"].sum()),
        "calls_transcript_only": int(cov["calls_transcript_only"].sum()), "requests": int(cov["requests"].sum()),
        "turns_without_tools_usd": float(cov["turns_without_tools_usd"].sum()),
    }


def _figures(database: Database, w: Week, bot: str | None) -> dict:
    """The headline figures of one week, by :data:`~amiga_analytics.report.stats.HEADLINE` key, and what their
    noise tests need (:data:`~amiga_analytics.report.stats.EVIDENCE`)."""
    window: Span = {"since": w.start, "until": w.end, "bot": bot}
    total = queries.tool_cost(database, by=None, **window).iloc[0]
    errors = queries.error_rates(database, by=None, **window).iloc[0]
    tasks = queries.task_throughput(database, freq=None, **window).iloc[0]
    router = queries.router_usage(database, **window).iloc[0]
    has_tokens = int(total["calls_with_tokens"]) > 0 or int(router["input_tokens"] + router["output_tokens"]) > 0
    has_tokens = has_tokens or float(total["cost_transcript_usd"]) > 0
    daily = _cost_per_day(database, window)
    return {
        # Transcripts: the week's whole transcript cost (turns without tools too), not only the tools' shares.
        "cost_usd": _usd(total["cost_usd"]) + _usd(router["cost_usd"]) + _turns_without_tools(database, window)
        if has_tokens else np.nan,
        "calls": float(total["calls"]),
        "error_rate": float(errors["error_rate"]),
        "tasks_finished": float(tasks["finished"]),
        "success_rate": float(tasks["success_rate"]),
        "median_cycle_s": float(tasks["median_cycle_s"]),
        "failed": float(errors["failed"]), "completed": float(errors["completed"]),
        "tasks_completed": float(tasks["completed"]), "tasks_failed": float(tasks["failed"]),
        "daily_cost": [float(c) for c in daily["cost_usd"].fillna(0.0)],
        "cycle_s": [float(c) for c in finished_cycles(database, w, bot)["cycle_s"]],
    }


def _turns_without_tools(database: Database, window: Span) -> float:
    """The cost of the transcripts' API requests that issued no tool_use, in the window (0 without transcripts)."""
    if not _any_transcript(database, window["bot"]):
        return 0.0
    return float(queries.transcript_coverage(database, **window)["turns_without_tools_usd"].sum())


def _home_as_tilde(top: pd.DataFrame) -> pd.DataFrame:
    """The error texts (and templates, when the query has them) with home directories as ``~``."""
    top = top.copy()
    for col in ("example_error", "error_template"):
        if col in top.columns:
            top[col] = top[col].map(lambda t: tilde(t) if isinstance(t, str) else t)
    return top


def _usd(value: Any) -> float:
    """A cost that may be missing (no priced token) as a number to add (0.0 for missing)."""
    return 0.0 if value is None or pd.isna(value) else float(value)


def _stale_bots(database: Database, week: Week, tz: str) -> list[str]:
    """In a store of several bots, a note for each bot last synced before the week ended: its figures stop there."""
    last = database.execute(LAST_SYNC_BY_BOT_SQL).fetchall()
    if len(last) < 2:
        return []
    notes = []
    for name, at in last:
        synced = datetime.fromisoformat(at).astimezone(zone(tz))
        if synced.date() < week.end:
            notes.append(f"Bot {name} was last synced on {day_text(synced.date())}: its figures stop there (sync "
                         f"it with `amiga-analytics sync BOT_DB ANALYTICS_DB --bot {name}`, or read it with --bot).")
    return notes


def _headline(database: Database, week: Week, days: list[date], in_week: list[date],
              bot: str | None) -> tuple[pd.DataFrame, list[str]]:
    """The week-over-week headline table and the notes on how far the data covers the two weeks."""
    prev = week.previous()
    first_day = days[0]
    notes: list[str] = []
    this = _figures(database, week, bot)
    prev_days = [d for d in days if prev.start <= d < prev.end]
    if prev_days:
        before = _figures(database, prev, bot)
        if first_day > prev.start:
            notes.append(f"The data begins on {day_text(first_day)}, so the week before ({prev.label}) is only "
                         f"partly covered: read its comparison with care.")
    else:
        before = {}
        notes.append(f"There is no data for the week before ({prev.label}), so nothing is compared.")
    headline = week_over_week(this, before)
    if first_day > week.start:
        notes.append(f"The data begins on {day_text(first_day)}, partway through this week.")
    last_active = in_week[-1]
    if last_active < week.end - timedelta(days=1):
        notes.append(f"The data for this week ends on {day_text(last_active)}; later days have no records.")
    return headline, notes


def _cost_per_day(database: Database, hist: Span) -> pd.DataFrame:
    """Daily cost over the history window: tool calls and the web-chat router, each and together (USD)."""
    tools_daily_cost = queries.tool_cost(database, by=None, freq="D", **hist)
    router_daily = queries.router_usage(database, freq="D", **hist)
    cost_per_day = tools_daily_cost[["period_start", "calls", "calls_with_tokens", "cost_usd", "unpriced_tokens"]]
    cost_per_day = cost_per_day.rename(columns={"cost_usd": "tool_cost_usd"})
    router_cost = router_daily.set_index("period_start")["cost_usd"].reindex(cost_per_day["period_start"]).fillna(0.0)
    cost_per_day["router_cost_usd"] = router_cost.to_numpy()
    cost_per_day["cost_usd"] = cost_per_day["tool_cost_usd"].fillna(0.0) + cost_per_day["router_cost_usd"]
    if _any_transcript(database, hist["bot"]):
        # The transcripts' requests that issued no tool_use belong to no tool, but to the day's cost.
        cov = queries.transcript_coverage(database, **hist)
        turns = pd.Series(cov["turns_without_tools_usd"].to_numpy(), index=pd.to_datetime(cov["day"]).dt.date)
        days = cost_per_day["period_start"].dt.date
        cost_per_day["turns_without_tools_usd"] = days.map(turns).fillna(0.0).to_numpy()
        cost_per_day["cost_usd"] = cost_per_day["cost_usd"] + cost_per_day["turns_without_tools_usd"]
    return cost_per_day


def top_errors_table(database: Database, window: Span) -> pd.DataFrame:
    """The week's top errors as the report publishes them: structured fields only (tool, template, category,
    counts), without the free error text (``example_error``), which stays in the database and its view."""
    return queries.top_errors(database, limit=10, **window).drop(columns=["example_error"])


def _any_transcript(database: Database, bot: str | None) -> bool:
    """Whether the store holds any transcript request (of ``bot``; None: of any bot)."""
    return bool(database.execute(ANY_TRANSCRIPT_SQL, {"bot": bot}).fetchone()[0])


BOTS_COLUMNS = ["bot", "calls", "failed", "error_rate", "cost_usd", "tasks_finished"]


def _bots_table(database: Database, week: Week, bot: str | None) -> pd.DataFrame:
    """The week per bot, in a store of several and a report of them all (else empty): ``bot``, ``calls``,
    ``failed`` (failed calls), ``error_rate`` (failed / completed, in [0, 1]), ``cost_usd`` (USD, as the headline's
    cost: NaN when the bot recorded no token), ``tasks_finished``. The bots add up to the headline."""
    names = db_mod.store_bots(database)
    if bot is not None or len(names) < 2:
        return pd.DataFrame({c: pd.Series(dtype="object" if c == "bot" else "float64") for c in BOTS_COLUMNS})
    rows = []
    for name in names:
        f = _figures(database, week, name)
        rows.append({"bot": name, "calls": f["calls"], "failed": f["failed"], "error_rate": f["error_rate"],
                     "cost_usd": f["cost_usd"], "tasks_finished": f["tasks_finished"]})
    return pd.DataFrame(rows, columns=BOTS_COLUMNS).astype({"calls": "int64", "failed": "int64",
                                                            "tasks_finished": "int64"})
