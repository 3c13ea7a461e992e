"""The report's data: :class:`WeeklyReport`, the week's DataFrames at full precision, and its rendering methods."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

import pandas as pd

from .actions import ACTION_COLUMNS
from .pngs import render_charts
from .render_html import html
from .render_md import markdown
from .write import write_files

__all__ = ["WeeklyReport"]


@dataclass
class WeeklyReport:
    """Everything the weekly report shows, as DataFrames at full precision (rounding happens when rendering).

    Attributes: ``week`` ("2025-W42"), ``start``/``end`` (Monday, next Monday; dates in ``timezone``),
    ``previous_week``, ``source`` (the analytics database's file name), ``bot_db`` (the bot database's file name,
    as the last sync recorded it), ``bot`` (the one bot reported, or None for all of them), ``bots`` (the week per
    bot in a report of several bots, see :func:`~.gather.weekly_report`; empty otherwise), ``actions`` ("What to do
    this week", see :mod:`.actions`), the limits and where they came from, and the tables listed in :attr:`tables`
    (each written as a CSV of the same name).
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
    actions: pd.DataFrame = field(default_factory=lambda: pd.DataFrame(columns=ACTION_COLUMNS))
    bot_db: str = ""
    daily_limit: float | None = None
    monthly_limit: float | None = None
    limit_sources: dict = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    transcripts: dict = field(default_factory=dict)  # the week's transcript coverage; empty without transcripts
    bot: str | None = None  # the one bot reported (--bot), None for all the store's bots
    bots: pd.DataFrame = field(default_factory=pd.DataFrame)  # per bot, in a report of several; else empty

    TABLES = (
        "actions", "headline", "bots", "cost_per_day", "cost_by_model", "cost_by_tool", "budget", "error_rates_by_tool",
        "error_rates_by_category", "error_rate_per_day", "top_errors", "throughput_per_day", "cycle_times",
        "subagents", "anomalies", "data_quality",
    )

    @property
    def tables(self) -> dict[str, pd.DataFrame]:
        """The report's tables by name, in report order (the CSV files); ``bots`` only in a report of several."""
        return {name: getattr(self, name) for name in self.TABLES if name != "bots" or len(self.bots)}

    def value(self, metric: str, which: str = "this_week") -> float:
        """A headline figure: ``report.value("error_rate")``; ``which="previous_week"`` for the week before."""
        return float(self.headline.set_index("metric").loc[metric, which])

    # Rendering --------------------------------------------------------------------------------------------

    def chart_pngs(self) -> dict[str, bytes]:
        """The charts as PNG bytes by file name (reproducible: no software or date stamp)."""
        return render_charts(self)

    def to_markdown(self) -> str:
        """The report as Markdown; charts are referenced as the PNG files written beside it."""
        return markdown(self)

    def to_html(self, pngs: dict[str, bytes] | None = None) -> str:
        """The report as one self-contained HTML page (charts embedded as base64 PNG)."""
        return html(self, self.chart_pngs() if pngs is None else pngs)

    def write(self, out_dir: str | Path, *, formats: str | Iterable[str] = "html,md,csv") -> list[Path]:
        """Write the report to ``out_dir/<week>/``; returns the files written (report.html first if written)."""
        return write_files(self, out_dir, formats)
