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

The package's modules, in the order the data flows: :mod:`.weeks` (ISO weeks), :mod:`.gather` (the figures
from the query functions) with :mod:`.tables`, :mod:`.stats` and :mod:`.budget`; :mod:`.model`
(:class:`WeeklyReport`); then the presentation: :mod:`.fmt` (numbers for people), :mod:`.layout` (the sections,
as the :mod:`.blocks`), :mod:`.pngs` and :mod:`.charts` (matplotlib), :mod:`.render_html` (Jinja2 templates in
``templates/``, the stylesheet in ``static/``), :mod:`.render_md`, and :mod:`.write` (the files).
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date
from pathlib import Path

from sqlite_utils import Database

from .alerts import breaches as breaches
from .fmt import fmt_count as fmt_count
from .fmt import fmt_duration as fmt_duration
from .fmt import fmt_pct as fmt_pct
from .fmt import fmt_tokens as fmt_tokens
from .fmt import fmt_usd as fmt_usd
from .gather import weekly_report
from .model import WeeklyReport
from .stats import ANOMALY_RULE, find_anomalies, week_over_week
from .stats import HEADLINE as HEADLINE
from .stats import HISTORY_DAYS as HISTORY_DAYS
from .stats import MIN_CALLS as MIN_CALLS
from .stats import Z_LIMIT as Z_LIMIT
from .weeks import Week as Week
from .weeks import parse_week
from .write import CHART_FILES as CHART_FILES
from .write import FORMATS, parse_formats

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

def write_report(db: str | Path | Database, *, week: str | date | Week | None = None, out_dir: str | Path = "reports",
                 formats: str | Iterable[str] = "html,md,csv", daily_limit: float | None = None,
                 monthly_limit: float | None = None, datasette_url: str | None = None,
                 bot: str | None = None) -> Path:
    """Write the weekly report to ``out_dir/<week>/`` and return the path of report.html (or of the first file
    written when HTML is not asked for). ``formats``: a comma-separated list of html, md, csv (PNG charts come
    with html and md). ``bot``: one bot of a store of several (default: all). What the ``report`` command and
    ``make report`` run."""
    parse_formats(formats)
    report = weekly_report(db, week=week, daily_limit=daily_limit, monthly_limit=monthly_limit,
                           datasette_url=datasette_url, bot=bot)
    return report.write(out_dir, formats=formats)[0]
