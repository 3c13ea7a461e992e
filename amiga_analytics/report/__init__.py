"""The weekly report: the query functions' DataFrames for one ISO week, written as HTML, Markdown, CSV and PNG.

>>> import amiga_analytics as aa
>>> report = aa.weekly_report(analytics_db)      # the last complete ISO week with data
>>> report.week
'2025-W43'
>>> list(report.headline["metric"])
['cost_usd', 'calls', 'error_rate', 'tasks_finished', 'success_rate', 'median_cycle_s']

:func:`weekly_report` gathers the numbers (full precision, from :mod:`amiga_analytics.queries`) into a
:class:`WeeklyReport`; :meth:`WeeklyReport.write` (or :func:`write_report`, what the CLI and cron call) renders
them. All rounding happens in the rendering. The output is a function of the analytics database and the options
alone (no generation time, stable order, PNGs without a software or date stamp), so the same input gives
byte-identical files.

Weeks are ISO weeks (Monday to Sunday) in the report timezone of the database. The default is the last
*complete* week that has data: the last week that ended before both now and the last sync.
"""

from __future__ import annotations

import base64
import html
import io
import math
import os
import re
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Callable

import numpy as np
import pandas as pd
from sqlite_utils import Database

from ..store import connect as db_mod
from .. import queries
from ..errors import InputError, NoDataError
from ..timeutil import zone

__all__ = [
    "ANOMALY_RULE",
    "FORMATS",
    "WeeklyReport",
    "find_anomalies",
    "parse_week",
    "week_over_week",
    "weekly_report",
    "write_report",
]

FORMATS = ("html", "md", "csv")

# Anomaly rule (stated in the report, word for word).
HISTORY_DAYS = 28
MIN_HISTORY_DAYS = 7
Z_LIMIT = 3.0
MAD_TO_SIGMA = 1.4826
RELATIVE_FLOOR = 0.10
MIN_CALLS = 20
SCALE_FLOORS = {"cost_usd": 0.01, "calls": 1.0, "error_rate": 0.01}
ANOMALY_RULE = (
    f"A day of the report week is flagged when its value lies more than {Z_LIMIT:g} robust z-scores from the "
    f"median of the {HISTORY_DAYS} days before it: z = (value − median) / ({MAD_TO_SIGMA} × MAD), where MAD is the "
    f"median absolute deviation of those days. Idle days count as 0 calls and $0; at least {MIN_HISTORY_DAYS} days "
    f"of history are needed. So that a flat history does not flag tiny moves, the scale is never taken below "
    f"{RELATIVE_FLOOR:.0%} of the median, 1 call, $0.01 or 1 percentage point, and for an error rate never below "
    f"the sampling noise of a rate measured on that day's n completed calls, √(p(1−p)/n), with p the error rate "
    f"of the {HISTORY_DAYS} days. The rule runs for all calls together and for every tool with at least "
    f"{MIN_CALLS} calls that day or on a typical day; error rates are compared only on days with at least "
    f"{MIN_CALLS} completed calls."
)

# Headline metrics: key, label, how to show it, which direction is better (None: neutral).
HEADLINE = (
    ("cost_usd", "Cost", "usd", "down"),
    ("calls", "Tool calls", "count", None),
    ("error_rate", "Error rate", "pct", "down"),
    ("tasks_finished", "Tasks finished", "count", "up"),
    ("success_rate", "Task success rate", "pct", "up"),
    ("median_cycle_s", "Median cycle time", "duration", "down"),
)

# The one lookup the query functions do not offer: the cycle time of each task finished in a window.
FINISHED_CYCLES_SQL = """SELECT task_id, status, finished_day, cycle_s
FROM tasks
WHERE status IN ('completed', 'failed', 'stopped') AND finished_day >= :since_day AND finished_day < :until_day
  AND cycle_s IS NOT NULL
ORDER BY finished_day, cycle_s, task_id"""
LAST_SYNC_SQL = "SELECT MAX(started_at) FROM syncs"

CHART_FILES = ("cost_per_day.png", "cost_by_tool.png", "error_rate_per_day.png", "error_rates_by_tool.png",
               "throughput.png", "cycle_times.png", "subagents.png")

WEEK_RE = re.compile(r"^\s*(\d{4})-?W(\d{1,2})\s*$", re.IGNORECASE)


# --------------------------------------------------------------------------------------------------------------
# Weeks


@dataclass(frozen=True)
class Week:
    """An ISO week: ``start`` is its Monday, ``end`` the next Monday (exclusive)."""

    year: int
    number: int

    @property
    def label(self) -> str:
        return f"{self.year}-W{self.number:02d}"

    @property
    def start(self) -> date:
        return date.fromisocalendar(self.year, self.number, 1)

    @property
    def end(self) -> date:
        return self.start + timedelta(days=7)

    @property
    def days(self) -> list[date]:
        return [self.start + timedelta(days=i) for i in range(7)]

    def previous(self) -> Week:
        return Week.containing(self.start - timedelta(days=7))

    @classmethod
    def containing(cls, day: date) -> Week:
        iso = day.isocalendar()
        return cls(iso[0], iso[1])


def parse_week(text) -> Week:
    """``"2025-W42"`` (also ``2025W42``, a ``date``, or a ``Week``) → :class:`Week`; anything else is an InputError.

    >>> parse_week("2025-W42").start
    datetime.date(2025, 10, 13)
    >>> parse_week("2025-W60")
    Traceback (most recent call last):
    ...
    amiga_analytics.errors.InputError: week '2025-W60' does not exist: give an ISO week such as 2025-W42 (2025 has weeks 1 to 52)
    """
    if isinstance(text, Week):
        return text
    if isinstance(text, datetime):
        return Week.containing(text.date())
    if isinstance(text, date):
        return Week.containing(text)
    match = WEEK_RE.match(str(text))
    if not match:
        raise InputError(f"week {text!r} is not an ISO week: write it like 2025-W42 (year, W, week number)")
    year, number = int(match.group(1)), int(match.group(2))
    try:
        date.fromisocalendar(year, number, 1)
    except ValueError:
        last = date(year, 12, 28).isocalendar()[1]
        raise InputError(
            f"week {text!r} does not exist: give an ISO week such as 2025-W42 ({year} has weeks 1 to {last})"
        ) from None
    return Week(year, number)


# --------------------------------------------------------------------------------------------------------------
# Pure helpers (tested by hand-computed examples)


def _verdict(change: float, better: str | None) -> str:
    if change is None or (isinstance(change, float) and math.isnan(change)):
        return "n/a"
    if change == 0:
        return "unchanged"
    if better is None:
        return "more" if change > 0 else "fewer"
    return "better" if (change > 0) == (better == "up") else "worse"


def week_over_week(this_week: dict, previous_week: dict) -> pd.DataFrame:
    """The headline table: each metric this week, the week before, the change and whether it is better.

    ``this_week`` and ``previous_week`` map the metric keys of :data:`HEADLINE` to numbers (NaN: not known).

    Returns one row per metric, in :data:`HEADLINE` order:

    - ``metric``: the key (``cost_usd``, ``calls``, ``error_rate``, ``tasks_finished``, ``success_rate``,
      ``median_cycle_s``)
    - ``this_week``, ``previous_week``: the values, in the metric's unit (USD, count, fraction, s)
    - ``change``: ``this_week - previous_week`` (for rates: in fraction points)
    - ``change_pct``: ``change / previous_week``; NaN when the week before was 0 or unknown
    - ``verdict``: ``better``/``worse`` (cost, error rate, cycle time up = worse; tasks finished, success rate up
      = better), ``more``/``fewer`` for calls, ``unchanged``, or ``n/a``

    >>> df = week_over_week({"cost_usd": 12.0, "calls": 90}, {"cost_usd": 10.0, "calls": 100})
    >>> [(r.metric, r.change, r.change_pct, r.verdict) for r in df.head(2).itertuples()]
    [('cost_usd', 2.0, 0.2, 'worse'), ('calls', -10.0, -0.1, 'fewer')]
    """
    rows = []
    for key, _label, _kind, better in HEADLINE:
        now = float(this_week.get(key, np.nan))
        before = float(previous_week.get(key, np.nan))
        change = now - before
        change_pct = change / before if before and not math.isnan(before) else np.nan
        rows.append({"metric": key, "this_week": now, "previous_week": before, "change": change,
                     "change_pct": change_pct, "verdict": _verdict(change, better)})
    df = pd.DataFrame(rows)
    return df.astype({"this_week": "float64", "previous_week": "float64", "change": "float64",
                      "change_pct": "float64"})


def find_anomalies(values: pd.Series, check_days, *, floor: float, eligible: pd.Series | None = None,
                   rate_counts: tuple[pd.Series, pd.Series] | None = None, history_days: int = HISTORY_DAYS,
                   min_history: int = MIN_HISTORY_DAYS, z_limit: float = Z_LIMIT) -> pd.DataFrame:
    """Apply the anomaly rule (:data:`ANOMALY_RULE`) to one daily series.

    ``values`` is indexed by ``datetime.date`` with one entry per day since the data began (NaN: no value that
    day). For each day of ``check_days`` (that ``eligible`` allows, when given) the history is the
    ``history_days`` days before it that have a value (and are eligible). ``floor`` is the smallest scale (1 call,
    $0.01, 0.01 for a rate). For a rate, ``rate_counts=(failed, completed)`` adds the sampling-noise floor
    √(p(1−p)/n). Returns the flagged days only, columns ``day``, ``value``, ``median``, ``mad``, ``scale``,
    ``robust_z``, ``history_days``.

    >>> days = [date(2025, 10, 1) + timedelta(days=i) for i in range(15)]
    >>> s = pd.Series([10, 12, 11, 9, 10, 11, 10, 12, 9, 11, 10, 10, 11, 40, 10], index=days, dtype=float)
    >>> flagged = find_anomalies(s, days[-2:], floor=1.0)      # 40 calls against a median of 10, MAD 1
    >>> [(str(r.day), r.value, r.median, round(r.scale, 4), round(r.robust_z, 2)) for r in flagged.itertuples()]
    [('2025-10-14', 40.0, 10.0, 1.4826, 20.23)]
    """
    ok = values.notna()
    if eligible is not None:
        ok &= eligible.reindex(values.index).fillna(False).astype(bool)
    rows = []
    for day in check_days:
        if day not in values.index or not ok.get(day, False):
            continue
        in_history = (values.index >= day - timedelta(days=history_days)) & (values.index < day) & ok
        window = values[in_history]
        if len(window) < min_history:
            continue
        median = float(window.median())
        mad = float((window - median).abs().median())
        scale = max(MAD_TO_SIGMA * mad, RELATIVE_FLOOR * abs(median), floor)
        if rate_counts is not None:
            failed, completed = rate_counts
            n_hist = float(completed[in_history].sum())
            p = float(failed[in_history].sum()) / n_hist if n_hist else 0.0
            n_day = float(completed[day])
            if n_day > 0:
                scale = max(scale, math.sqrt(p * (1 - p) / n_day))
        value = float(values[day])
        z = (value - median) / scale
        if abs(z) > z_limit:
            rows.append({"day": day, "value": value, "median": median, "mad": mad, "scale": scale, "robust_z": z,
                         "history_days": len(window)})
    columns = ["day", "value", "median", "mad", "scale", "robust_z", "history_days"]
    return pd.DataFrame(rows, columns=columns).astype(
        {"value": "float64", "median": "float64", "mad": "float64", "scale": "float64", "robust_z": "float64",
         "history_days": "int64"})


# --------------------------------------------------------------------------------------------------------------
# The report's data


@dataclass
class WeeklyReport:
    """Everything the weekly report shows, as DataFrames at full precision (rounding happens when rendering).

    Attributes: ``week`` ("2025-W42"), ``start``/``end`` (Monday, next Monday; dates in ``timezone``),
    ``previous_week``, ``source`` (the database file name), the limits and where they came from, and the tables
    listed in :attr:`tables` (each written as a CSV of the same name).
    """

    week: str
    start: date
    end: date
    timezone: str
    previous_week: str
    source: str
    headline: pd.DataFrame
    cost_per_day: pd.DataFrame
    cost_by_model: pd.DataFrame
    cost_by_tool: pd.DataFrame
    budget: pd.DataFrame
    error_rates_by_tool: pd.DataFrame
    error_rates_by_category: pd.DataFrame
    error_rate_per_day: pd.DataFrame
    top_errors: pd.DataFrame
    throughput_per_day: pd.DataFrame
    cycle_times: pd.DataFrame
    subagents: pd.DataFrame
    anomalies: pd.DataFrame
    data_quality: pd.DataFrame
    router: pd.DataFrame
    daily_limit: float | None = None
    monthly_limit: float | None = None
    limit_sources: dict = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

    TABLES = (
        "headline", "cost_per_day", "cost_by_model", "cost_by_tool", "budget", "error_rates_by_tool",
        "error_rates_by_category", "error_rate_per_day", "top_errors", "throughput_per_day", "cycle_times",
        "subagents", "anomalies", "data_quality",
    )

    @property
    def tables(self) -> dict[str, pd.DataFrame]:
        """The report's tables by name, in report order (the CSV files)."""
        return {name: getattr(self, name) for name in self.TABLES}

    def value(self, metric: str, which: str = "this_week") -> float:
        """A headline figure: ``report.value("error_rate")``; ``which="previous_week"`` for the week before."""
        return float(self.headline.set_index("metric").loc[metric, which])

    # Rendering --------------------------------------------------------------------------------------------

    def chart_pngs(self) -> dict[str, bytes]:
        """The charts as PNG bytes by file name (reproducible: no software or date stamp)."""
        return _render_charts(self)

    def to_markdown(self) -> str:
        """The report as Markdown; charts are referenced as the PNG files written beside it."""
        return _markdown(self)

    def to_html(self, pngs: dict[str, bytes] | None = None) -> str:
        """The report as one self-contained HTML page (charts embedded as base64 PNG)."""
        return _html(self, self.chart_pngs() if pngs is None else pngs)

    def write(self, out_dir, *, formats="html,md,csv") -> list[Path]:
        """Write the report to ``out_dir/<week>/``; returns the files written (report.html first if written)."""
        wanted = _parse_formats(formats)
        target = Path(out_dir) / self.week
        try:
            target.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise InputError(f"cannot create the report directory {target}: {exc.strerror or exc}") from None
        documents: list[Path] = []
        images: list[Path] = []
        tables: list[Path] = []
        if "html" in wanted or "md" in wanted:
            pngs = self.chart_pngs()
            # The charts first, so report.md never points at a missing file; a chart this week does not draw
            # (say, no sub-agent calls) is removed rather than left over from an earlier run.
            images = [_write(target / name, data) for name, data in pngs.items()]
            for name in set(CHART_FILES) - set(pngs):
                (target / name).unlink(missing_ok=True)
            if "html" in wanted:
                documents.append(_write(target / "report.html", self.to_html(pngs).encode("utf-8")))
            if "md" in wanted:
                documents.append(_write(target / "report.md", self.to_markdown().encode("utf-8")))
        if "csv" in wanted:
            tables = [_write(target / f"{name}.csv", _csv(df).encode("utf-8")) for name, df in self.tables.items()]
        return documents + images + tables


def _write(path: Path, data: bytes) -> Path:
    """Write a file atomically (a temp file renamed over it), so a reader never sees half a report."""
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    try:
        tmp.write_bytes(data)
        os.replace(tmp, path)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        raise InputError(f"cannot write {path}: {exc.strerror or exc}") from None
    return path


def _csv(df: pd.DataFrame) -> str:
    out = df.copy()
    for col in out.columns:
        if isinstance(out[col].dtype, pd.DatetimeTZDtype):
            out[col] = out[col].map(lambda t: "" if pd.isna(t) else t.isoformat())
    return out.to_csv(index=False, lineterminator="\n")


def _parse_formats(formats) -> set[str]:
    items = formats.split(",") if isinstance(formats, str) else list(formats)
    wanted = {str(f).strip().lower() for f in items if str(f).strip()}
    unknown = sorted(wanted - set(FORMATS))
    if unknown or not wanted:
        shown = ", ".join(unknown) if unknown else repr(formats)
        raise InputError(f"unknown report format {shown}: give a comma-separated list of {', '.join(FORMATS)}")
    return wanted


def _limit(value, env_name: str, option: str) -> tuple[float | None, str | None]:
    if value is not None:
        source = option
    else:
        raw = os.environ.get(env_name, "").strip()
        if not raw:
            return None, None
        value, source = raw, env_name
    try:
        number = float(value)
    except (TypeError, ValueError):
        number = float("nan")
    if not math.isfinite(number) or number <= 0:
        raise InputError(f"{source}={value!r} is not a cost limit: give a positive number of USD, e.g. 100")
    return number, source


# --------------------------------------------------------------------------------------------------------------
# Gathering


def weekly_report(db, *, week=None, daily_limit: float | None = None,
                  monthly_limit: float | None = None) -> WeeklyReport:
    """The weekly report of an analytics database, as DataFrames.

    ``db``: a path or an open ``Database``. ``week``: "2025-W42" (or a date in the week); default: the last
    complete ISO week (report timezone) that has data. ``daily_limit`` / ``monthly_limit``: the bot's cost
    limits in USD, default ``$DAILY_COST_LIMIT`` / ``$MONTHLY_COST_LIMIT`` when set.

    Raises ``NotAnAnalyticsDatabase`` for a missing or foreign file and ``NoDataError`` when the week has no
    tool calls and no tasks (the report never shows zeros that are not facts).
    """
    daily, daily_src = _limit(daily_limit, "DAILY_COST_LIMIT", "daily_limit")
    monthly, monthly_src = _limit(monthly_limit, "MONTHLY_COST_LIMIT", "monthly_limit")
    opened = not isinstance(db, Database)
    database = db_mod.connect(db)
    try:
        name = Path(db).name if opened else _db_name(database)
        return _gather(database, week, daily, monthly, {"daily": daily_src, "monthly": monthly_src}, name)
    finally:
        if opened:
            database.conn.close()


def _db_name(database: Database) -> str:
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


def _default_week(database: Database, tz: str, days: list[date]) -> Week:
    now = datetime.now(zone(tz))
    cutoff = now
    last_sync = database.execute(LAST_SYNC_SQL).fetchone()[0]
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


def _gather(database: Database, week_arg, daily_limit, monthly_limit, limit_sources, source) -> WeeklyReport:
    tz = db_mod.report_tz(database)
    calls_all = queries.tool_cost(database, by=None, freq="D")
    tasks_all = queries.task_throughput(database, freq="D")
    days = _activity_days(calls_all, tasks_all)
    week = _default_week(database, tz, days) if week_arg is None else parse_week(week_arg)
    in_week = [d for d in days if week.start <= d < week.end]
    if not in_week:
        span = (f"the data covers {Week.containing(days[0]).label} ({days[0]}) to {Week.containing(days[-1]).label} "
                f"({days[-1]})") if days else "the database holds no tool calls or tasks yet"
        raise NoDataError(
            f"no tool calls or tasks in {week.label} ({week.start} to {week.end - timedelta(days=1)}, {tz}): "
            f"{span}; pick a week with data"
        )
    prev = week.previous()
    first_day = days[0]
    notes: list[str] = []

    def window(w: Week) -> dict:
        return {"since": w.start, "until": w.end}

    # Headline figures, this week and the week before.
    def figures(w: Week) -> dict:
        total = queries.tool_cost(database, by=None, **window(w)).iloc[0]
        errors = queries.error_rates(database, by=None, **window(w)).iloc[0]
        tasks = queries.task_throughput(database, freq=None, **window(w)).iloc[0]
        router = queries.router_usage(database, **window(w)).iloc[0]
        has_tokens = int(total["calls_with_tokens"]) > 0 or int(router["input_tokens"] + router["output_tokens"]) > 0
        return {
            "cost_usd": float(total["cost_usd"] + router["cost_usd"]) if has_tokens else np.nan,
            "calls": float(total["calls"]),
            "error_rate": float(errors["error_rate"]),
            "tasks_finished": float(tasks["finished"]),
            "success_rate": float(tasks["success_rate"]),
            "median_cycle_s": float(tasks["median_cycle_s"]),
        }

    this = figures(week)
    prev_days = [d for d in days if prev.start <= d < prev.end]
    if prev_days:
        before = figures(prev)
        if first_day > prev.start:
            notes.append(f"The data begins on {_day_text(first_day)}, so the week before ({prev.label}) is only "
                         f"partly covered: read its comparison with care.")
    else:
        before = {}
        notes.append(f"There is no data for the week before ({prev.label}), so nothing is compared.")
    headline = week_over_week(this, before)
    if first_day > week.start:
        notes.append(f"The data begins on {_day_text(first_day)}, partway through this week.")
    last_active = in_week[-1]
    if last_active < week.end - timedelta(days=1):
        notes.append(f"The data for this week ends on {_day_text(last_active)}; later days have no records.")

    # Daily history (the report week and the 28 days before it, from the first day with data).
    hist_start = max(first_day, week.start - timedelta(days=HISTORY_DAYS))
    hist = {"since": hist_start, "until": week.end}
    tools_daily_cost = queries.tool_cost(database, by=None, freq="D", **hist)
    router_daily = queries.router_usage(database, freq="D", **hist)
    cost_per_day = tools_daily_cost[["period_start", "calls", "calls_with_tokens", "cost_usd", "unpriced_tokens"]]
    cost_per_day = cost_per_day.rename(columns={"cost_usd": "tool_cost_usd"})
    router_cost = router_daily.set_index("period_start")["cost_usd"].reindex(cost_per_day["period_start"]).fillna(0.0)
    cost_per_day["router_cost_usd"] = router_cost.to_numpy()
    cost_per_day["cost_usd"] = cost_per_day["tool_cost_usd"] + cost_per_day["router_cost_usd"]
    error_per_day = queries.error_rates(database, by=None, freq="D", **hist)

    # Breakdowns of the week.
    w = window(week)
    by_model = queries.tool_cost(database, by="model_id", **w)
    by_tool = queries.tool_cost(database, by="tool_name", **w)
    router_week = queries.router_usage(database, **w)
    errors_tool = queries.error_rates(database, by="tool_name", **w)
    errors_cat = queries.error_rates(database, by="error_category", **w)
    top = queries.top_errors(database, limit=10, **w)
    throughput = queries.task_throughput(database, freq="D", **w)
    subagents = queries.subagent_usage(database, **w)
    cycles = _finished_cycles(database, week, tz)

    cost_by_model = _cost_by_model(by_model, router_week)
    errors_by_category = _errors_by_category(errors_cat)
    budget = _budget(cost_per_day, week, daily_limit, monthly_limit)
    anomalies = _anomalies(database, week, hist, cost_per_day, error_per_day)
    quality = _quality(database, by_tool, errors_tool, router_week, by_model, len(in_week))

    return WeeklyReport(
        week=week.label, start=week.start, end=week.end, timezone=tz, previous_week=prev.label, source=source,
        headline=headline, cost_per_day=cost_per_day, cost_by_model=cost_by_model, cost_by_tool=by_tool,
        budget=budget, error_rates_by_tool=errors_tool, error_rates_by_category=errors_by_category,
        error_rate_per_day=error_per_day, top_errors=top, throughput_per_day=throughput, cycle_times=cycles,
        subagents=subagents, anomalies=anomalies, data_quality=quality, router=router_week,
        daily_limit=daily_limit, monthly_limit=monthly_limit, limit_sources=limit_sources, notes=notes,
    )


def _finished_cycles(database: Database, week: Week, tz: str) -> pd.DataFrame:
    rows = database.execute(FINISHED_CYCLES_SQL, {"since_day": week.start.isoformat(),
                                                  "until_day": week.end.isoformat()}).fetchall()
    df = pd.DataFrame.from_records(rows, columns=["task_id", "status", "finished_day", "cycle_s"])
    return df.astype({"task_id": "str", "status": "str", "finished_day": "str", "cycle_s": "float64"})


def _cost_by_model(by_model: pd.DataFrame, router: pd.DataFrame) -> pd.DataFrame:
    """Tool-call cost by model, plus the web-chat router as its own row (its model is not broken down)."""
    out = by_model[["model_id", "calls", "calls_with_tokens", "input_tokens", "output_tokens", "cache_write_tokens",
                    "cache_read_tokens", "cost_usd", "unpriced_tokens"]].copy()
    out.insert(0, "source", "tool calls")
    r = router.iloc[0]
    if int(r["messages"]) > 0:
        extra = pd.DataFrame([{
            "source": "web-chat router", "model_id": None, "calls": int(r["assistant_messages"]),
            "calls_with_tokens": int(r["assistant_messages"]), "input_tokens": int(r["input_tokens"]),
            "output_tokens": int(r["output_tokens"]), "cache_write_tokens": 0, "cache_read_tokens": 0,
            "cost_usd": float(r["cost_usd"]), "unpriced_tokens": 0,
        }])
        out = pd.concat([out, extra], ignore_index=True)
    return out.astype({"source": "str", "model_id": "str", "cost_usd": "float64"}).reset_index(drop=True)


def _errors_by_category(df: pd.DataFrame) -> pd.DataFrame:
    """Failures by category: each category's share of the failures and its rate over all completed calls."""
    completed = int(df["completed"].sum())
    failed_total = int(df["failed"].sum())
    fails = df[df["failed"] > 0][["error_category", "failed"]].copy()
    fails["share_of_failures"] = fails["failed"] / failed_total if failed_total else np.nan
    fails["error_rate"] = fails["failed"] / completed if completed else np.nan
    fails = fails.sort_values(["failed", "error_category"], ascending=[False, True], na_position="last",
                              kind="stable")
    return fails.astype({"share_of_failures": "float64", "error_rate": "float64"}).reset_index(drop=True)


def _budget(cost_per_day: pd.DataFrame, week: Week, daily_limit, monthly_limit) -> pd.DataFrame:
    """Month-to-date cost at the end of the week and a straight-line projection of the month."""
    last = week.end - timedelta(days=1)
    month_start = last.replace(day=1)
    next_month = (month_start + timedelta(days=32)).replace(day=1)
    days_in_month = (next_month - month_start).days
    days = cost_per_day["period_start"].dt.date
    known = (cost_per_day["calls_with_tokens"] > 0) | (cost_per_day["router_cost_usd"] > 0)
    in_month = (days >= month_start) & (days < week.end)
    in_week = (days >= week.start) & (days < week.end)
    # With no token recorded at all there is no cost to project: unknown, not $0.
    mtd = float(cost_per_day.loc[in_month, "cost_usd"].sum()) if known[in_month].any() else np.nan
    week_costs = cost_per_day.loc[in_week, "cost_usd"]
    if not known[in_week].any():
        week_costs = week_costs * np.nan
    daily_average = float(week_costs.sum(min_count=1)) / 7
    elapsed = (week.end - month_start).days
    projected = mtd + daily_average * (days_in_month - elapsed)
    row = {
        "month": f"{month_start:%Y-%m}",
        "month_to_date_usd": mtd,
        "days_elapsed": elapsed,
        "days_in_month": days_in_month,
        "daily_average_usd": daily_average,
        "projected_month_usd": projected,
        "monthly_limit_usd": monthly_limit if monthly_limit is not None else np.nan,
        "projected_share_of_limit": projected / monthly_limit if monthly_limit else np.nan,
        "daily_limit_usd": daily_limit if daily_limit is not None else np.nan,
        "max_daily_usd": float(week_costs.max()) if week_costs.notna().any() else np.nan,
        "days_over_daily_limit": int((week_costs > daily_limit).sum()) if daily_limit else 0,
    }
    return pd.DataFrame([row])


def _anomalies(database: Database, week: Week, hist: dict, cost_per_day: pd.DataFrame,
               error_per_day: pd.DataFrame) -> pd.DataFrame:
    check = week.days
    frames = []

    def add(subject: str, metric: str, values: pd.Series, eligible=None, rate_counts=None) -> None:
        found = find_anomalies(values, check, floor=SCALE_FLOORS[metric], eligible=eligible, rate_counts=rate_counts)
        if len(found):
            found.insert(0, "metric", metric)
            found.insert(0, "subject", subject)
            frames.append(found)

    def series(df: pd.DataFrame, column: str) -> pd.Series:
        return pd.Series(df[column].astype("float64").to_numpy(), index=list(df["period_start"].dt.date))

    add("all", "cost_usd", series(cost_per_day, "cost_usd"))
    add("all", "calls", series(cost_per_day, "calls"))
    completed = series(error_per_day, "completed")
    add("all", "error_rate", series(error_per_day, "error_rate"), eligible=completed >= MIN_CALLS,
        rate_counts=(series(error_per_day, "failed"), completed))

    tool_cost_d = queries.tool_cost(database, by="tool_name", freq="D", **hist)
    tool_err_d = queries.error_rates(database, by="tool_name", freq="D", **hist)
    for tool in sorted(set(tool_cost_d["tool_name"].dropna())):
        c = tool_cost_d[tool_cost_d["tool_name"] == tool]
        calls = series(c, "calls")
        typical = calls.median()
        busy = (calls >= MIN_CALLS) | (typical >= MIN_CALLS)
        if not busy[[d for d in check if d in busy.index]].any():
            continue
        add(tool, "calls", calls)
        cost = series(c, "cost_usd")
        if cost.max() > 0:
            add(tool, "cost_usd", cost)
        e = tool_err_d[tool_err_d["tool_name"] == tool]
        done = series(e, "completed")
        add(tool, "error_rate", series(e, "error_rate"), eligible=done >= MIN_CALLS,
            rate_counts=(series(e, "failed"), done))
    columns = ["day", "subject", "metric", "value", "median", "mad", "scale", "robust_z", "history_days"]
    if not frames:
        return pd.DataFrame({c: pd.Series(dtype="float64" if c in ("value", "median", "mad", "scale", "robust_z") else
                                          "int64" if c == "history_days" else "object") for c in columns})
    out = pd.concat(frames, ignore_index=True)[columns]
    order = {"cost_usd": 0, "calls": 1, "error_rate": 2}
    out["_m"] = out["metric"].map(order)
    out["_s"] = out["subject"] != "all"
    out = out.sort_values(["day", "_s", "subject", "_m"], kind="stable").drop(columns=["_m", "_s"])
    return out.reset_index(drop=True)


QUALITY_LABELS = {
    "days_with_data": "days of the week with any record",
    "calls": "logical tool calls",
    "calls_with_tokens": "calls that carry token counts",
    "task_calls_with_tokens": "of them, Task (sub-agent) calls",
    "calls_unknown_outcome": "calls with no recorded outcome",
    "recorded_tokens": "tokens recorded (tool calls and router)",
    "unpriced_tokens": "tokens no price covers (not in the cost)",
    "calls_without_model": "calls with no resolved model (CLI sessions)",
}


def _quality(database: Database, by_tool: pd.DataFrame, errors_tool: pd.DataFrame, router: pd.DataFrame,
             by_model: pd.DataFrame, days_with_data: int) -> pd.DataFrame:
    """The week's own data-quality figures, then the whole-database checks of the last sync."""
    calls = int(by_tool["calls"].sum())
    with_tokens = int(by_tool["calls_with_tokens"].sum())
    task_tokens = int(by_tool.loc[by_tool["tool_name"] == "Task", "calls_with_tokens"].sum())
    token_cols = ["input_tokens", "output_tokens", "cache_write_tokens", "cache_read_tokens"]
    r = router.iloc[0]
    recorded = int(by_tool[token_cols].to_numpy().sum()) + int(r["input_tokens"] + r["output_tokens"])
    no_model = int(by_model.loc[by_model["model_id"].isna(), "calls"].sum())
    week_rows = {
        "days_with_data": days_with_data,
        "calls": calls,
        "calls_with_tokens": with_tokens,
        "task_calls_with_tokens": task_tokens,
        "calls_unknown_outcome": int(errors_tool["unknown"].sum()),
        "recorded_tokens": recorded,
        "unpriced_tokens": int(by_tool["unpriced_tokens"].sum()),
        "calls_without_model": no_model,
    }
    rows = [{"scope": "week", "check_name": k, "value": v, "detail": QUALITY_LABELS[k]} for k, v in week_rows.items()]
    whole = queries.data_quality(database)
    for rec in whole.itertuples(index=False):
        rows.append({"scope": "database", "check_name": rec.check_name, "value": int(rec.value),
                     "detail": rec.detail})
    return pd.DataFrame(rows).astype({"scope": "str", "check_name": "str", "value": "int64", "detail": "str"})


def write_report(db, *, week=None, out_dir="reports", formats="html,md,csv", daily_limit: float | None = None,
                 monthly_limit: float | None = None) -> Path:
    """Write the weekly report to ``out_dir/<week>/`` and return the path of report.html (or of the first file
    written when HTML is not asked for). ``formats``: a comma-separated list of html, md, csv (PNG charts come
    with html and md). What the ``report`` command and ``make report`` run."""
    _parse_formats(formats)
    report = weekly_report(db, week=week, daily_limit=daily_limit, monthly_limit=monthly_limit)
    return report.write(out_dir, formats=formats)[0]


# --------------------------------------------------------------------------------------------------------------
# Presentation: numbers for people


def fmt_usd(value) -> str:
    """$ with 2 decimals, 4 for amounts under a cent; 'n/a' when unknown.

    >>> fmt_usd(1234.5), fmt_usd(0.00123), fmt_usd(float("nan"))
    ('$1,234.50', '$0.0012', 'n/a')
    """
    if value is None or pd.isna(value):
        return "n/a"
    value = float(value)
    if value != 0 and abs(value) < 0.01:
        return f"${value:,.4f}"
    return f"${value:,.2f}"


def fmt_pct(value, *, digits: int = 1) -> str:
    """A fraction as a percentage with 1 decimal: 0.0523 → '5.2%'."""
    if value is None or pd.isna(value):
        return "n/a"
    return f"{float(value) * 100:.{digits}f}%"


def fmt_count(value) -> str:
    if value is None or pd.isna(value):
        return "n/a"
    return f"{int(round(float(value))):,}"


def fmt_duration(seconds) -> str:
    """Seconds for people: '45 s', '7.5 min', '2.3 h'."""
    if seconds is None or pd.isna(seconds):
        return "n/a"
    s = float(seconds)
    if abs(s) < 120:
        return f"{s:.0f} s"
    if abs(s) < 2 * 3600:
        return f"{s / 60:.1f} min"
    return f"{s / 3600:.1f} h"


def fmt_tokens(value) -> str:
    if value is None or pd.isna(value):
        return "n/a"
    v = float(value)
    if abs(v) >= 1e6:
        return f"{v / 1e6:.1f} M"
    if abs(v) >= 1e4:
        return f"{v / 1e3:.0f} k"
    return f"{v:,.0f}"


def _fmt(kind: str, value) -> str:
    return {"usd": fmt_usd, "count": fmt_count, "pct": fmt_pct, "duration": fmt_duration}[kind](value)


def _change_text(kind: str, row) -> str:
    change, before = row["change"], row["previous_week"]
    if pd.isna(before):
        return "no figure for the week before"
    if pd.isna(change):
        return f"week before: {_fmt(kind, before)}"
    if kind == "pct":
        delta = f"{change * 100:+.1f} pp"
    elif kind == "usd":
        delta = ("+" if change >= 0 else "−") + fmt_usd(abs(change))
    elif kind == "duration":
        delta = ("+" if change >= 0 else "−") + fmt_duration(abs(change))
    else:
        delta = f"{change:+,.0f}".replace("-", "−")
    if kind != "pct" and not pd.isna(row["change_pct"]):
        delta += f" ({row['change_pct'] * 100:+.1f}%)".replace("-", "−")
    return f"{delta.replace('-', '−')} vs {_fmt(kind, before)}"


def _day_text(day: date) -> str:
    return f"{day:%a} {day:%Y-%m-%d}"


def _short_day(day: date) -> str:
    return f"{day:%a} {day.day} {day:%b}"


def _title(report: WeeklyReport) -> str:
    return f"AMIGA weekly report {report.week}"


def _clip(text, width: int) -> str:
    if text is None or (isinstance(text, float) and math.isnan(text)):
        return ""
    text = " ".join(str(text).split())
    return text if len(text) <= width else text[: width - 1] + "…"


def _name(value, missing: str) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)) or value == "":
        return missing
    return str(value)


# --------------------------------------------------------------------------------------------------------------
# Layout: one list of blocks, rendered to HTML and to Markdown (so both say the same thing)


@dataclass
class P:
    text: str
    muted: bool = False


@dataclass
class Bullets:
    items: list[str]


@dataclass
class Table:
    headers: list[str]
    rows: list[list[str]]
    align: str  # one letter per column: l (text, wraps), n (a name: left, never wraps), r (a number)
    caption: str | None = None


@dataclass
class Chart:
    file: str
    alt: str


@dataclass
class Cards:
    items: list[tuple[str, str, str, str]]  # label, value, change text, verdict


@dataclass
class Section:
    title: str
    anchor: str
    blocks: list


def _chart_specs(report: WeeklyReport) -> dict[str, tuple[str, Callable]]:
    """File name → (alt text, function drawing it on a new Axes). Only charts with something to show."""
    from . import charts

    highlight = (pd.Timestamp(report.start), pd.Timestamp(report.end))

    def flagged(metric: str) -> list:
        a = report.anomalies
        sel = a[(a["subject"] == "all") & (a["metric"] == metric)]
        return [pd.Timestamp(d) for d in sel["day"]]

    specs: dict[str, tuple[str, Callable]] = {}
    cpd = report.cost_per_day
    if ((cpd["calls_with_tokens"] > 0) | (cpd["router_cost_usd"] > 0)).any():  # else every bar would be a fake $0
        specs["cost_per_day.png"] = (
            "Bar chart of cost per day in USD over the report week and the weeks before it",
            lambda: charts.plot_cost_per_day(report.cost_per_day, daily_limit=report.daily_limit,
                                             highlight=highlight, flagged=flagged("cost_usd"),
                                             title="Cost per day (report week shaded)"),
        )
    if int((report.cost_by_tool["cost_usd"] > 0).sum()) >= 3:  # one or two bars say less than the table
        specs["cost_by_tool.png"] = (
            "Bar chart of this week's cost by tool in USD",
            lambda: charts.plot_cost_by(report.cost_by_tool, by="tool_name", title="Cost by tool this week"),
        )
    specs["error_rate_per_day.png"] = (
        "Line chart of the daily error rate in percent over the report week and the weeks before it",
        lambda: charts.plot_error_rate_per_day(report.error_rate_per_day, highlight=highlight,
                                               flagged=flagged("error_rate"),
                                               title="Error rate per day (report week shaded)"),
    )
    if (report.error_rates_by_tool["completed"] >= MIN_CALLS).any():
        specs["error_rates_by_tool.png"] = (
            f"Bar chart of this week's error rate by tool, tools with at least {MIN_CALLS} completed calls",
            lambda: charts.plot_error_rates(report.error_rates_by_tool, by="tool_name", min_completed=MIN_CALLS,
                                            top=10, title="Error rate by tool"),
        )
    specs["throughput.png"] = (
        "Stacked bar chart of tasks finished per day by status, with tasks created as a line",
        lambda: charts.plot_throughput(report.throughput_per_day, title="Tasks per day"),
    )
    if len(report.cycle_times):
        specs["cycle_times.png"] = (
            "Histogram of the cycle times of the tasks finished this week, log scale",
            lambda: charts.plot_cycle_times(report.cycle_times, title="Cycle time of tasks finished this week"),
        )
    if len(report.subagents):
        by_cost = bool((report.subagents["cost_usd"] > 0).any())
        specs["subagents.png"] = (
            f"Bar chart of this week's {'cost' if by_cost else 'calls'} by sub-agent",
            lambda: charts.plot_subagent_usage(report.subagents, value="cost_usd" if by_cost else "calls",
                                               title=f"Sub-agent {'cost' if by_cost else 'calls'} this week"),
        )
    return specs


def _render_charts(report: WeeklyReport) -> dict[str, bytes]:
    import matplotlib.pyplot as plt

    from . import charts

    out = {}
    for name, (_alt, draw) in _chart_specs(report).items():
        ax = draw()
        buf = io.BytesIO()
        try:
            ax.figure.savefig(buf, format="png", dpi=charts.DPI, metadata={"Software": None})
        finally:
            plt.close(ax.figure)
        out[name] = buf.getvalue()
    return out


def _layout(report: WeeklyReport) -> list[Section]:
    charts_available = _chart_specs(report)

    def chart(name: str) -> list:
        if name not in charts_available:
            return []
        return [Chart(name, charts_available[name][0])]

    head = report.headline.set_index("metric")
    q = report.data_quality.set_index(["scope", "check_name"])["value"]

    def wq(name: str) -> int:
        return int(q.get(("week", name), 0))

    sections: list[Section] = []

    # Headline --------------------------------------------------------------------------------------------
    cards = []
    for key, label, kind, _better in HEADLINE:
        row = head.loc[key]
        value = _fmt(kind, row["this_week"])
        if key == "cost_usd" and not pd.isna(row["this_week"]):
            value += " (floor)"
        cards.append((label, value, _change_text(kind, row), row["verdict"]))
    blocks: list = [Cards(cards)]
    blocks += [P(n, muted=True) for n in report.notes]
    sections.append(Section("This week at a glance", "headline", blocks))

    # Cost ------------------------------------------------------------------------------------------------
    cost = head.loc["cost_usd", "this_week"]
    r = report.router.iloc[0]
    tool_cost = float(report.cost_by_tool["cost_usd"].sum())
    calls, with_tokens = wq("calls"), wq("calls_with_tokens")
    blocks = []
    if pd.isna(cost):
        blocks.append(P("No call recorded any tokens this week, so there is no cost figure (not $0: unknown)."))
    else:
        blocks.append(P(
            f"Recorded cost this week: {fmt_usd(cost)} — {fmt_usd(tool_cost)} from tool calls and "
            f"{fmt_usd(r['cost_usd'])} from {fmt_count(r['assistant_messages'])} web-chat router answers. "
            f"It is a floor, not the bill: tokens are recorded for only {fmt_pct(_ratio(with_tokens, calls))} of "
            f"calls (see Data quality)."))
    blocks += chart("cost_per_day.png")
    blocks.append(_budget_block(report))
    cbm = report.cost_by_model
    rows = []
    for rec in cbm.itertuples(index=False):
        label = (_name(rec.model_id, "(no model: CLI sessions)") if rec.source == "tool calls"
                 else "web-chat router (answers)")
        rows.append([label, fmt_count(rec.calls), fmt_count(rec.calls_with_tokens),
                     fmt_tokens(rec.input_tokens + rec.output_tokens + rec.cache_write_tokens + rec.cache_read_tokens),
                     _cost_cell(rec.cost_usd, rec.calls_with_tokens, rec.unpriced_tokens),
                     fmt_tokens(rec.unpriced_tokens) if rec.unpriced_tokens else "–"])
    blocks.append(Table(["model", "calls", "with tokens", "tokens", "cost", "unpriced tokens"], rows, "nrrrrr",
                        caption="Cost by model"))
    blocks += chart("cost_by_tool.png")
    tools = report.cost_by_tool
    shown = tools[(tools["cost_usd"] > 0) | (tools["unpriced_tokens"] > 0)]
    rest = tools.drop(shown.index)
    rows = [[_name(t.tool_name, "(none)"), fmt_count(t.calls), fmt_count(t.calls_with_tokens),
             fmt_tokens(t.input_tokens + t.output_tokens + t.cache_write_tokens + t.cache_read_tokens),
             _cost_cell(t.cost_usd, t.calls_with_tokens, t.unpriced_tokens),
             fmt_tokens(t.unpriced_tokens) if t.unpriced_tokens else "–"]
            for t in shown.itertuples(index=False)]
    if len(rest):
        rows.append([f"{len(rest)} other tools", fmt_count(rest["calls"].sum()),
                     fmt_count(rest["calls_with_tokens"].sum()), "–", "no tokens", "–"])
    blocks.append(Table(["tool", "calls", "with tokens", "tokens", "cost", "unpriced tokens"], rows, "nrrrrr",
                        caption="Cost by tool"))
    sections.append(Section("Cost", "cost", blocks))

    # Errors ----------------------------------------------------------------------------------------------
    er = head.loc["error_rate"]
    unknown = wq("calls_unknown_outcome")
    errors_tool = report.error_rates_by_tool
    blocks = [P(
        f"{fmt_count(errors_tool['failed'].sum())} of {fmt_count(errors_tool['completed'].sum())} completed calls "
        f"failed: an error rate of {fmt_pct(er['this_week'])} ({_change_text('pct', er)}). "
        f"{fmt_count(unknown)} calls never reported an outcome and are left out of the rate. A failure is the bot's "
        f"own judgement (its post-hook found an error in the tool's output).")]
    blocks += chart("error_rate_per_day.png")
    blocks += chart("error_rates_by_tool.png")
    et = errors_tool[errors_tool["failed"] > 0]
    rows = [[_name(t.tool_name, "(none)"), fmt_count(t.calls), fmt_count(t.completed), fmt_count(t.failed),
             fmt_count(t.unknown), fmt_pct(t.error_rate)] for t in et.itertuples(index=False)]
    if not rows:
        blocks.append(P("No tool call failed this week."))
    else:
        blocks.append(Table(["tool", "calls", "completed", "failed", "unknown", "error rate"], rows, "nrrrrr",
                            caption="Error rate by tool (tools with failures)"))
    cat = report.error_rates_by_category
    if len(cat):
        rows = [[_name(c.error_category, "(no category)"), fmt_count(c.failed), fmt_pct(c.share_of_failures),
                 fmt_pct(c.error_rate, digits=2)] for c in cat.itertuples(index=False)]
        blocks.append(Table(["error category", "failed", "share of failures", "of completed calls"], rows, "nrrr",
                            caption="Failures by the bot's error category"))
    top = report.top_errors
    if len(top):
        rows = [[_name(t.error_category, "(none)"), _name(t.tool_name, "(none)"), fmt_count(t.count),
                 _clip(t.example_error, 90) or "(no text)", _short_day(t.last_seen.date())]
                for t in top.itertuples(index=False)]
        blocks.append(Table(["category", "tool", "failed", "latest error text (secrets masked)", "last seen"], rows,
                            "nnrln", caption="Top errors"))
    sections.append(Section("Errors", "errors", blocks))

    # Tasks -----------------------------------------------------------------------------------------------
    tp = report.throughput_per_day
    created, completed = int(tp["created"].sum()), int(tp["completed"].sum())
    failed, stopped = int(tp["failed"].sum()), int(tp["stopped"].sum())
    cyc = report.cycle_times["cycle_s"]
    blocks = [P(
        f"{created} tasks created and {completed + failed + stopped} finished: {completed} completed, {failed} failed, "
        f"{stopped} stopped. Success rate (completed of completed + failed) "
        f"{fmt_pct(head.loc['success_rate', 'this_week'])}. Cycle time (created to finished, queue included): "
        f"median {fmt_duration(head.loc['median_cycle_s', 'this_week'])}, "
        f"90th percentile {fmt_duration(cyc.quantile(0.9) if len(cyc) else np.nan)}.")]
    blocks += chart("throughput.png")
    blocks += chart("cycle_times.png")
    rows = [[_short_day(t.period_start.date()), fmt_count(t.created), fmt_count(t.completed), fmt_count(t.failed),
             fmt_count(t.stopped), fmt_pct(t.success_rate), fmt_duration(t.median_cycle_s), fmt_duration(t.p90_cycle_s)]
            for t in tp.itertuples(index=False)]
    blocks.append(Table(["day", "created", "completed", "failed", "stopped", "success", "median cycle", "p90 cycle"],
                        rows, "nrrrrrrr", caption="Tasks per day"))
    sections.append(Section("Tasks", "tasks", blocks))

    # Sub-agents ------------------------------------------------------------------------------------------
    sa = report.subagents
    if len(sa):
        blocks = [P(f"{fmt_count(sa['calls'].sum())} Task calls delegated work to {len(sa)} sub-agent types. Their "
                    f"tokens are the only ones the bot records, so this is where almost all of the recorded cost "
                    f"comes from.")]
        blocks += chart("subagents.png")
        rows = [[_name(s.subagent_type, "(not recorded)"), fmt_count(s.calls), fmt_count(s.failed),
                 fmt_count(s.unknown), fmt_tokens(s.input_tokens + s.output_tokens), fmt_usd(s.cost_usd)]
                for s in sa.itertuples(index=False)]
        blocks.append(Table(["sub-agent", "calls", "failed", "unknown", "tokens", "cost"], rows, "nrrrrr",
                            caption="Sub-agent usage"))
    else:
        blocks = [P("No Task (sub-agent) calls this week.")]
    sections.append(Section("Sub-agents", "subagents", blocks))

    # Anomalies -------------------------------------------------------------------------------------------
    blocks = [P(ANOMALY_RULE, muted=True)]
    an = report.anomalies
    if len(an):
        rows = []
        for a in an.itertuples(index=False):
            kind = {"cost_usd": "usd", "calls": "count", "error_rate": "pct"}[a.metric]
            word = {"cost_usd": "cost", "calls": "calls", "error_rate": "error rate"}[a.metric]
            z = f"{a.robust_z:+.1f}"
            if abs(float(z)) <= Z_LIMIT:  # rounding would hide why it is flagged
                z = f"{a.robust_z:+.2f}"
            subject = "all activity" if a.subject == "all" else a.subject
            rows.append([_short_day(a.day), subject, word, _fmt(kind, a.value), _fmt(kind, a.median),
                         z.replace("-", "−"), "above usual" if a.robust_z > 0 else "below usual"])
        blocks.append(Table(["day", "what", "measure", "value", f"{HISTORY_DAYS}-day median", "robust z", ""], rows,
                            "nnnrrrn", caption="Flagged days"))
    else:
        blocks.append(P("Nothing was flagged this week: every day and every busy tool stayed within its usual range."))
    sections.append(Section("Anomalies", "anomalies", blocks))

    # Data quality ----------------------------------------------------------------------------------------
    sections.append(Section("Data quality: how far to trust these figures", "data-quality", _quality_blocks(report)))
    return sections


def _cost_cell(cost, calls_with_tokens, unpriced) -> str:
    """A cost that is not a fact is not shown as $0: no tokens → 'no tokens'; only unpriced tokens → 'unpriced'."""
    if not calls_with_tokens:
        return "no tokens"
    if not cost and unpriced:
        return "unpriced"
    return fmt_usd(cost)


def _ratio(a, b) -> float:
    return float(a) / float(b) if b else float("nan")


def _budget_block(report: WeeklyReport):
    b = report.budget.iloc[0]
    month = datetime.strptime(b["month"], "%Y-%m")
    if pd.isna(b["projected_month_usd"]):
        return P(f"No cost was recorded in {month:%B %Y} up to this week's end, so there is nothing to project "
                 f"against the cost limits.")
    parts = [
        f"Month to date ({month:%B %Y}, through {_short_day(report.end - timedelta(days=1))}): "
        f"{fmt_usd(b['month_to_date_usd'])}. At this week's pace ({fmt_usd(b['daily_average_usd'])} a day) the month "
        f"would end near {fmt_usd(b['projected_month_usd'])}."
    ]
    if not pd.isna(b["monthly_limit_usd"]):
        share = b["projected_share_of_limit"]
        verdict = "over" if share > 1 else "within"
        parts.append(f"That is {fmt_pct(share)} of the monthly limit of {fmt_usd(b['monthly_limit_usd'])} "
                     f"({_limit_source(report.limit_sources.get('monthly'))}): {verdict} the limit.")
    else:
        parts.append("No monthly limit is set (MONTHLY_COST_LIMIT or --monthly-limit).")
    if not pd.isna(b["daily_limit_usd"]):
        over = int(b["days_over_daily_limit"])
        source = _limit_source(report.limit_sources.get("daily"))
        parts.append(f"Daily limit {fmt_usd(b['daily_limit_usd'])} ({source}): "
                     f"{'no day' if over == 0 else f'{over} day' + ('s' if over > 1 else '')} over it this week; "
                     f"the most expensive day cost {fmt_usd(b['max_daily_usd'])}.")
    else:
        parts.append("No daily limit is set (DAILY_COST_LIMIT or --daily-limit).")
    parts.append("Recorded cost is a floor, so the real spend reaches a limit sooner than this projection says.")
    return P(" ".join(parts))


def _limit_source(source: str | None) -> str:
    return f"from ${source}" if source and source.isupper() else "given as an option"


def _quality_blocks(report: WeeklyReport) -> list:
    q = report.data_quality
    week = q[q["scope"] == "week"].set_index("check_name")["value"]
    whole = q[q["scope"] == "database"].set_index("check_name")["value"]
    calls, with_tokens = int(week["calls"]), int(week["calls_with_tokens"])
    task_tokens = int(week["task_calls_with_tokens"])
    recorded, unpriced = int(week["recorded_tokens"]), int(week["unpriced_tokens"])
    unknown, no_model = int(week["calls_unknown_outcome"]), int(week["calls_without_model"])
    items = []
    if with_tokens:
        items.append(
            f"Tokens are recorded for only {fmt_pct(_ratio(with_tokens, calls))} of calls ({fmt_count(with_tokens)} of "
            f"{fmt_count(calls)}), {fmt_pct(_ratio(task_tokens, with_tokens))} of them sub-agent (Task) calls. The "
            f"main agent's own tokens are never recorded, so every cost here is a floor.")
    else:
        items.append("No call recorded tokens this week: there is no cost figure at all.")
    if unpriced:
        items.append(
            f"{fmt_tokens(unpriced)} tokens ({fmt_pct(_ratio(unpriced, recorded))} of those recorded) have no "
            f"price — "
            f"mostly calls of interactive CLI sessions, which have no model ({fmt_count(no_model)} calls; "
            f"amiga-analytics sync --default-model assigns one). They are left out of the cost, not priced at $0.")
    else:
        items.append("Every recorded token has a price.")
    items.append(
        f"{fmt_count(unknown)} calls ({fmt_pct(_ratio(unknown, calls))}) never reported an outcome (still running, "
        f"killed, or failed before the bot's post-hook); error rates leave them out. A failure is the bot's own "
        f"heuristic on the tool's output, not a flag from the tool.")
    secrets = int(whole.get("secrets_masked", 0))
    items.append(
        f"{fmt_count(secrets)} secrets (API keys, tokens, passwords, e-mail addresses) were masked when the "
        f"database was loaded; none reaches this report." if secrets else
        "No secrets were found when the database was loaded.")
    odd = int(whole.get("unparseable_timestamps", 0)) + int(whole.get("dst_ambiguous_timestamps", 0))
    if odd:
        items.append(f"{fmt_count(odd)} timestamps in the whole database were unreadable or fell in a DST change; "
                     f"their day may be off by one.")
    days = int(week["days_with_data"])
    if days < 7:
        items.append(f"Only {days} of the 7 days have any record.")
    def rows(scope: str) -> list[list[str]]:
        return [[c.detail, fmt_count(c.value)] for c in q[q["scope"] == scope].itertuples(index=False)]

    return [
        Bullets(items),
        Table(["check (this week)", "value"], rows("week"), "lr", caption="This week"),
        Table(["check (whole database, last sync)", "value"], rows("database"), "lr",
              caption="Whole database (as of the last sync)"),
    ]


def _subtitle(report: WeeklyReport) -> str:
    last = report.end - timedelta(days=1)
    return (f"{_short_day(report.start)} – {_short_day(last)} {last:%Y} ({report.timezone}), "
            f"compared with the week before ({report.previous_week})")


def _footer(report: WeeklyReport) -> str:
    from .._version import __version__

    return (f"Made by amiga-analytics {__version__} from {report.source}. Calls are logical tool calls (the bot "
            f"writes up to four rows per call); days and weeks are in {report.timezone}. Every table is also a CSV "
            f"file beside this report, at full precision.")


# --------------------------------------------------------------------------------------------------------------
# Markdown


def _md_escape(text: str) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


def _render_markdown_body(sections: list[Section]) -> list[str]:
    lines: list[str] = []
    for section in sections:
        lines += [f"## {section.title}", ""]
        for block in section.blocks:
            if isinstance(block, Cards):
                lines += ["| | this week | change |", "| --- | ---: | --- |"]
                for label, value, change, verdict in block.items:
                    mark = {"better": "better", "worse": "**worse**"}.get(verdict, verdict)
                    lines.append(f"| {_md_escape(label)} | {_md_escape(value)} | {_md_escape(change)} — {mark} |")
                lines.append("")
            elif isinstance(block, P):
                lines += [f"_{block.text}_" if block.muted else block.text, ""]
            elif isinstance(block, Bullets):
                lines += [f"- {item}" for item in block.items] + [""]
            elif isinstance(block, Chart):
                lines += [f"![{block.alt}]({block.file})", ""]
            elif isinstance(block, Table):
                if block.caption:
                    lines += [f"**{block.caption}**", ""]
                lines.append("| " + " | ".join(_md_escape(h) for h in block.headers) + " |")
                lines.append("| " + " | ".join("---:" if a == "r" else "---" for a in block.align) + " |")
                lines += ["| " + " | ".join(_md_escape(c) for c in row) + " |" for row in block.rows]
                lines.append("")
    return lines


def _markdown(report: WeeklyReport) -> str:
    lines = [f"# {_title(report)}", "", _subtitle(report), ""]
    lines += _render_markdown_body(_layout(report))
    lines += ["---", "", f"_{_footer(report)}_", ""]
    return "\n".join(lines)


# --------------------------------------------------------------------------------------------------------------
# HTML

CSS = """
:root { --text: #1f2328; --muted: #59636e; --line: #d1d9e0; --bg: #ffffff; --soft: #f6f8fa;
        --better: #1a7f37; --worse: #c4320a; --neutral: #59636e; }
* { box-sizing: border-box; }
html { -webkit-text-size-adjust: 100%; text-size-adjust: 100%; }
body { margin: 0; background: var(--bg); color: var(--text);
       font: 16px/1.5 -apple-system, BlinkMacSystemFont, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif; }
main { max-width: 60rem; margin: 0 auto; padding: 1rem 1rem 3rem; }
h1 { font-size: 1.6rem; line-height: 1.25; margin: 0.5rem 0 0.25rem; }
h2 { font-size: 1.25rem; margin: 2.2rem 0 0.6rem; padding-bottom: 0.3rem; border-bottom: 1px solid var(--line); }
.subtitle, .muted, footer { color: var(--muted); }
.muted { font-size: 0.92rem; }
nav { margin: 0.8rem 0 0; font-size: 0.92rem; display: flex; flex-wrap: wrap; gap: 0.3rem 1rem; }
nav a { color: #0969da; text-decoration: none; }
.cards { display: grid; grid-template-columns: repeat(auto-fill, minmax(15rem, 1fr)); gap: 0.75rem;
         margin: 0.5rem 0 1rem; }
.card { border: 1px solid var(--line); border-left: 6px solid var(--neutral); border-radius: 8px; padding: 0.7rem 0.9rem;
        background: var(--soft); }
.card.better { border-left-color: var(--better); }
.card.worse { border-left-color: var(--worse); }
.card .label { font-size: 0.9rem; color: var(--muted); }
.card .value { font-size: 1.55rem; font-weight: 650; font-variant-numeric: tabular-nums; line-height: 1.3; }
.card .change { font-size: 0.9rem; font-variant-numeric: tabular-nums; }
.verdict { font-weight: 650; }
.better .verdict { color: var(--better); }
.worse .verdict { color: var(--worse); }
.neutral .verdict { color: var(--neutral); }
figure { margin: 1rem 0; }
figure img { display: block; width: 100%; max-width: 40rem; height: auto; margin: 0 auto; }
.scroll { overflow-x: auto; -webkit-overflow-scrolling: touch; margin: 0.6rem 0 1.2rem; border: 1px solid var(--line);
          border-radius: 6px; }
table { border-collapse: collapse; width: 100%; font-size: 0.92rem; font-variant-numeric: tabular-nums; }
caption { text-align: left; font-weight: 650; padding: 0.5rem 0.7rem; background: var(--soft);
          border-bottom: 1px solid var(--line); }
th, td { padding: 0.35rem 0.7rem; border-bottom: 1px solid var(--line); vertical-align: top; }
th { text-align: left; background: var(--soft); font-weight: 600; white-space: nowrap; }
tr:last-child td { border-bottom: none; }
td.r, th.r { text-align: right; white-space: nowrap; }
td.n { white-space: nowrap; }
td.l { overflow-wrap: break-word; min-width: 12rem; }
ul { padding-left: 1.3rem; }
li { margin: 0.35rem 0; }
footer { margin-top: 2.5rem; font-size: 0.85rem; border-top: 1px solid var(--line); padding-top: 0.8rem; }
@media (max-width: 30rem) {
  main { padding: 0.75rem 0.75rem 2rem; }
  h1 { font-size: 1.35rem; }
  .cards { grid-template-columns: 1fr 1fr; gap: 0.5rem; }
  .card { padding: 0.5rem 0.6rem; border-left-width: 5px; }
  .card .value { font-size: 1.25rem; }
  .card .label, .card .change { font-size: 0.8rem; }
  table { font-size: 0.85rem; }
  th, td { padding: 0.3rem 0.5rem; }
}
""".strip()


def _h(text) -> str:
    return html.escape(str(text), quote=True)


def _html(report: WeeklyReport, pngs: dict[str, bytes]) -> str:
    sections = _layout(report)
    out = [
        "<!DOCTYPE html>",
        '<html lang="en">',
        "<head>",
        '<meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        '<meta name="color-scheme" content="light">',
        f"<title>{_h(_title(report))}</title>",
        f"<style>\n{CSS}\n</style>",
        "</head>",
        "<body>",
        "<main>",
        f"<h1>{_h(_title(report))}</h1>",
        f'<p class="subtitle">{_h(_subtitle(report))}</p>',
        "<nav>" + "".join(f'<a href="#{s.anchor}">{_h(s.title.split(":")[0])}</a>' for s in sections) + "</nav>",
    ]
    for section in sections:
        out.append(f'<section id="{section.anchor}">')
        out.append(f"<h2>{_h(section.title)}</h2>")
        for block in section.blocks:
            out.append(_html_block(block, pngs))
        out.append("</section>")
    out += [f"<footer>{_h(_footer(report))}</footer>", "</main>", "</body>", "</html>", ""]
    return "\n".join(out)


def _html_block(block, pngs: dict[str, bytes]) -> str:
    if isinstance(block, Cards):
        cards = []
        for label, value, change, verdict in block.items:
            tone = verdict if verdict in ("better", "worse") else "neutral"
            cards.append(
                f'<div class="card {tone}"><div class="label">{_h(label)}</div>'
                f'<div class="value">{_h(value)}</div>'
                f'<div class="change">{_h(change)} — <span class="verdict">{_h(verdict)}</span></div></div>')
        return '<div class="cards">' + "".join(cards) + "</div>"
    if isinstance(block, P):
        return f'<p class="muted">{_h(block.text)}</p>' if block.muted else f"<p>{_h(block.text)}</p>"
    if isinstance(block, Bullets):
        return "<ul>" + "".join(f"<li>{_h(i)}</li>" for i in block.items) + "</ul>"
    if isinstance(block, Chart):
        png = pngs[block.file]
        width, height = int.from_bytes(png[16:20], "big"), int.from_bytes(png[20:24], "big")  # the IHDR chunk
        data = base64.b64encode(png).decode("ascii")
        return (f'<figure><img src="data:image/png;base64,{data}" alt="{_h(block.alt)}" width="{width}" '
                f'height="{height}"></figure>')
    if isinstance(block, Table):
        head = "".join(f'<th class="{a}" scope="col">{_h(h)}</th>' for h, a in zip(block.headers, block.align))
        body = "".join("<tr>" + "".join(f'<td class="{a}">{_h(c)}</td>' for c, a in zip(row, block.align)) + "</tr>"
                       for row in block.rows)
        caption = f"<caption>{_h(block.caption)}</caption>" if block.caption else ""
        return f'<div class="scroll"><table>{caption}<thead><tr>{head}</tr></thead><tbody>{body}</tbody></table></div>'
    raise TypeError(block)  # pragma: no cover
