"""The report's charts: which ones a week draws (with their alt text) and their PNG bytes. matplotlib is imported
only when a chart is drawn."""

from __future__ import annotations

import io
from collections.abc import Callable
from typing import TYPE_CHECKING

import pandas as pd

from .stats import MIN_CALLS

if TYPE_CHECKING:
    from matplotlib.axes import Axes

    from .model import WeeklyReport

__all__ = ["chart_specs", "render_charts"]


def chart_specs(report: WeeklyReport) -> dict[str, tuple[str, Callable[[], Axes]]]:
    """File name → (alt text, function drawing it on a new Axes). Only charts with something to show."""
    from . import charts

    highlight = (pd.Timestamp(report.start), pd.Timestamp(report.end))

    def flagged(metric: str) -> list:
        a = report.anomalies
        sel = a[(a["subject"] == "all") & (a["metric"] == metric)]
        return [pd.Timestamp(d) for d in sel["day"]]

    specs: dict[str, tuple[str, Callable[[], Axes]]] = {}
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


def render_charts(report: WeeklyReport) -> dict[str, bytes]:
    """The charts as PNG bytes by file name, in layout order (reproducible: no software or date stamp)."""
    import matplotlib.pyplot as plt

    from . import charts
    from .chart_style import figure_of

    out = {}
    for name, (_alt, draw) in chart_specs(report).items():
        ax = draw()
        buf = io.BytesIO()
        try:
            figure_of(ax).savefig(buf, format="png", dpi=charts.DPI, metadata={"Software": None})
        finally:
            plt.close(figure_of(ax))
        out[name] = buf.getvalue()
    return out
