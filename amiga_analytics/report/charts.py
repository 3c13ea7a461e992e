"""Charts for the weekly report and for notebooks: DataFrame in, matplotlib ``Axes`` out.

Every function takes a DataFrame shaped like the output of a query function (see each docstring) and an
optional ``ax``; without one it makes a figure of :data:`FIGSIZE` inches. None of them calls ``plt.show()`` or
saves anything: the caller decides (``ax.figure.savefig(...)``, then ``plt.close(ax.figure)``). All of them use
one style: colour-blind-safe colours (Okabe-Ito), light horizontal grid, no top/right spines, axes labelled with
their units, and text sized to stay readable when the figure is shown about 360 px wide on a phone.

Rounding happens here (labels, tick formats) and never in the DataFrames.

>>> import pandas as pd
>>> import amiga_analytics.charts as charts
>>> df = pd.DataFrame({"tool_name": ["Bash", "Read"], "calls": [10, 20], "completed": [10, 20],
...                    "failed": [2, 1], "error_rate": [0.2, 0.05]})
>>> ax = charts.plot_error_rates(df)
>>> ax.get_xlabel()
'error rate (%)'
>>> charts.close(ax)
"""


from collections.abc import Sequence

import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.ticker import FuncFormatter, MaxNLocator

from . import chart_style as cs
from .chart_style import COLORS, FIGSIZE, close, save
from .chart_style import DPI as DPI
from .chart_style import FONT_SIZE as FONT_SIZE

__all__ = [
    "COLORS",
    "FIGSIZE",
    "close",
    "plot_calls_per_day",
    "plot_cost_by",
    "plot_cost_per_day",
    "plot_cycle_times",
    "plot_error_rates",
    "plot_error_rate_per_day",
    "plot_subagent_usage",
    "plot_throughput",
    "save",
]

# --------------------------------------------------------------------------------------------------------------
# Daily series


def plot_cost_per_day(df: pd.DataFrame, *, ax: Axes | None = None, daily_limit: float | None = None,
                      highlight: tuple | None = None, flagged: Sequence | None = None,
                      title: str | None = "Cost per day") -> Axes:
    """Bars of ``cost_usd`` per day (USD).

    ``df``: ``tool_cost(..., freq="D")`` (rows of one period are summed, so a ``by`` column is fine).
    ``daily_limit`` draws the limit as a dashed line; ``highlight=(start, end)`` shades those days (the report
    week); ``flagged`` circles the days listed (anomalies).
    """
    ax, values = cs.daily_bars(df, "cost_usd", ax=ax, title=title, ylabel="cost (USD)", color=COLORS["main"],
                               fmt=cs.usd_tick, highlight=highlight, flagged=flagged)
    if values is not None and daily_limit is not None:
        ax.axhline(daily_limit, color=COLORS["accent"], linestyle="--", linewidth=1.5, zorder=3,
                   label=f"daily limit {cs.usd_label(daily_limit)}")
        top = max(float(values.max(skipna=True) or 0), daily_limit)
        ax.set_ylim(0, top * 1.12)
    cs.legend(ax, loc="upper left")
    return ax


def plot_calls_per_day(df: pd.DataFrame, *, ax: Axes | None = None, highlight: tuple | None = None,
                       flagged: Sequence | None = None, title: str | None = "Tool calls per day") -> Axes:
    """Bars of ``calls`` per day (logical tool calls). ``df``: ``tool_cost`` or ``error_rates`` with ``freq="D"``."""
    ax, _values = cs.daily_bars(df, "calls", ax=ax, title=title, ylabel="calls", color=COLORS["main"],
                                highlight=highlight, flagged=flagged)
    cs.legend(ax, loc="upper left")
    return ax


def plot_error_rate_per_day(df: pd.DataFrame, *, ax: Axes | None = None, highlight: tuple | None = None,
                            flagged: Sequence | None = None, title: str | None = "Error rate per day") -> Axes:
    """Line of the daily error rate (%) = failed / completed. ``df``: ``error_rates(..., by=None, freq="D")``.

    Rows of one day are pooled (failed and completed summed) before dividing, so a ``by`` column is fine.
    """
    ax = cs.axes(ax)
    cs.style(ax, title=title, xlabel=None, ylabel="error rate (%)")
    if df is None or len(df) == 0:
        return cs.empty(ax, "no data")
    daily = cs.per_day(df, ["failed", "completed"])
    completed = daily["completed"].astype("float64")
    rate = (daily["failed"].astype("float64") / completed.where(completed > 0)) * 100
    xs = np.arange(len(daily))
    cs.shade(ax, daily["period_start"], highlight)
    ax.plot(xs, rate.to_numpy(), color=COLORS["bad"], marker="o", markersize=4, linewidth=1.8, zorder=3)
    cs.circle(ax, daily["period_start"], rate, flagged)
    cs.day_ticks(ax, daily["period_start"])
    ax.yaxis.set_major_formatter(FuncFormatter(cs.pct_tick))
    top = float(rate.max(skipna=True)) if rate.notna().any() else 1.0
    ax.set_ylim(0, max(top * 1.15, 1.0))
    cs.legend(ax, loc="upper left")
    return ax



# --------------------------------------------------------------------------------------------------------------
# Breakdowns


def plot_cost_by(df: pd.DataFrame, *, ax: Axes | None = None, by: str | None = None, top: int = 10,
                 title: str | None = None) -> Axes:
    """Horizontal bars of ``cost_usd`` per ``by`` value (USD), the largest first; beyond ``top`` summed as 'other'.

    ``df``: ``tool_cost(..., by="tool_name")`` or ``by="model_id"`` (``by`` defaults to the first text column).
    Groups with no priced cost are left out.
    """
    by = by or cs.label_column(df)
    title = title or f"Cost by {by.replace('_', ' ')}"
    data = df[[by, "cost_usd"]].copy()
    data["cost_usd"] = data["cost_usd"].astype("float64")
    priced = data[data["cost_usd"].fillna(0) > 0].sort_values(["cost_usd", by], ascending=[False, True])
    if priced.empty:
        ax = cs.axes(ax)
        cs.style(ax, title=title, xlabel="cost (USD)", ylabel=None)
        return cs.empty(ax, "no priced cost")
    labels = cs.category_labels(priced[by])
    values = priced["cost_usd"].to_numpy()
    if len(priced) > top:
        labels = labels[: top - 1] + [f"{len(priced) - top + 1} others"]
        values = np.append(values[: top - 1], values[top - 1:].sum())
    return cs.hbars(ax, labels, values, [cs.usd_label(v) for v in values], color=COLORS["main"], title=title,
                    xlabel="cost (USD)", xfmt=cs.usd_tick, headroom=1.35)


def plot_error_rates(df: pd.DataFrame, *, ax: Axes | None = None, by: str | None = None, top: int = 12,
                     min_completed: int = 1, title: str | None = None) -> Axes:
    """Horizontal bars of ``error_rate`` (%) per ``by`` value, highest first, labelled "rate (failed/completed)".

    ``df``: ``error_rates(..., by="tool_name")`` (or any frame with ``failed``, ``completed`` and
    ``error_rate``). Groups with fewer than ``min_completed`` completed calls are left out (their rate is noise).
    """
    by = by or cs.label_column(df)
    title = title or f"Error rate by {by.replace('_', ' ')}"
    data = df[df["completed"].fillna(0) >= max(min_completed, 1)].copy()
    data["pct"] = data["error_rate"].astype("float64") * 100
    data = data.sort_values(["pct", "completed", by], ascending=[False, False, True]).head(top)
    if data.empty:
        ax = cs.axes(ax)
        cs.style(ax, title=title, xlabel="error rate (%)", ylabel=None)
        return cs.empty(ax, "no completed calls")
    texts = [f"{p:.1f}% ({int(f):,}/{int(c):,})" for p, f, c in zip(data["pct"], data["failed"], data["completed"])]
    ax = cs.hbars(ax, cs.category_labels(data[by]), data["pct"].to_numpy(), texts, color=COLORS["bad"], title=title,
                  xlabel="error rate (%)", xfmt=cs.pct_tick, headroom=1.75)
    if float(data["pct"].max()) == 0:
        ax.set_xlim(0, 10)
    return ax


def plot_subagent_usage(df: pd.DataFrame, *, ax: Axes | None = None, by: str | None = None, value: str = "calls",
                        top: int = 10, title: str | None = None) -> Axes:
    """Horizontal bars of ``value`` (``calls`` or ``cost_usd``) per sub-agent, largest first.

    ``df``: ``subagent_usage(...)``; ``by`` defaults to its first text column (``subagent_type``). Beyond ``top``
    the rest is summed as 'others'.
    """
    by = by or cs.label_column(df)
    usd = value.endswith("_usd")
    xlabel = "cost (USD)" if usd else value.replace("_", " ")
    title = title or ("Sub-agent cost (Task tool)" if usd else "Sub-agent calls (Task tool)")
    data = df[[by, value]].copy()
    data[value] = data[value].astype("float64")
    data = data[data[value].fillna(0) > 0].sort_values([value, by], ascending=[False, True])
    if data.empty:
        ax = cs.axes(ax)
        cs.style(ax, title=title, xlabel=xlabel, ylabel=None)
        return cs.empty(ax, "no sub-agent calls")
    labels = cs.category_labels(data[by], missing="(not recorded)")
    values = data[value].to_numpy()
    if len(values) > top:
        labels = labels[: top - 1] + [f"{len(values) - top + 1} others"]
        values = np.append(values[: top - 1], values[top - 1:].sum())
    texts = [cs.usd_label(v) if usd else f"{v:,.0f}" for v in values]
    return cs.hbars(ax, labels, values, texts, color=COLORS["main"], title=title, xlabel=xlabel,
                    xfmt=cs.usd_tick if usd else None, headroom=1.3 if usd else 1.2)


# --------------------------------------------------------------------------------------------------------------
# Tasks


def plot_throughput(df: pd.DataFrame, *, ax: Axes | None = None, highlight: tuple | None = None,
                    title: str | None = "Tasks per day") -> Axes:
    """Stacked bars of tasks finished per day (completed, failed, stopped) and a line of tasks created.

    ``df``: ``task_throughput(..., freq="D")``.
    """
    ax = cs.axes(ax)
    cs.style(ax, title=title, xlabel=None, ylabel="tasks")
    if df is None or len(df) == 0:
        return cs.empty(ax, "no tasks")
    daily = cs.per_day(df, ["created", "completed", "failed", "stopped"])
    xs = np.arange(len(daily))
    cs.shade(ax, daily["period_start"], highlight)
    bottom = np.zeros(len(daily))
    for column, color in (("completed", COLORS["good"]), ("failed", COLORS["bad"]), ("stopped", COLORS["muted"])):
        vals = daily[column].fillna(0).astype("float64").to_numpy()
        ax.bar(xs, vals, bottom=bottom, color=color, width=0.75, label=column, zorder=2)
        bottom = bottom + vals
    ax.plot(xs, daily["created"].fillna(0).astype("float64").to_numpy(), color=COLORS["text"], marker="o",
            markersize=3.5, linewidth=1.4, label="created", zorder=4)
    cs.day_ticks(ax, daily["period_start"])
    ax.yaxis.set_major_locator(MaxNLocator(integer=True))
    top = max(float(bottom.max()), float(daily["created"].fillna(0).max()), 1.0)
    ax.set_ylim(0, top * 1.3)
    cs.legend(ax, loc="upper left", ncols=4, handlelength=1.2, columnspacing=1.0)
    return ax


def _time_unit(seconds: pd.Series) -> tuple[float, str]:
    median = float(seconds.median()) if len(seconds) else 0.0
    if median >= 2 * 3600:
        return 3600.0, "h"
    if median >= 120:
        return 60.0, "min"
    return 1.0, "s"


def plot_cycle_times(df: pd.DataFrame, *, ax: Axes | None = None, column: str = "cycle_s",
                     title: str | None = "Cycle time of finished tasks") -> Axes:
    """Histogram of task cycle times (created → finished) on a log axis, with the median and 90th percentile.

    ``df``: one row per finished task with a ``cycle_s`` column (seconds); the axis is in s, min or h,
    whichever suits the median.
    """
    ax = cs.axes(ax)
    if df is None or len(df) == 0 or df[column].dropna().empty:
        cs.style(ax, title=title, xlabel="cycle time", ylabel="tasks")
        return cs.empty(ax, "no finished tasks")
    seconds = df[column].dropna().astype("float64")
    seconds = seconds[seconds >= 0]
    divisor, unit = _time_unit(seconds)
    values = (seconds / divisor).clip(lower=1e-3 * (60 / divisor if divisor > 1 else 1))
    cs.style(ax, title=title, xlabel=f"cycle time ({unit}, log scale)", ylabel="tasks")
    lo, hi = float(values.min()), float(values.max())
    if hi <= lo:
        lo, hi = lo / 1.5, hi * 1.5
    bins = np.geomspace(lo, hi * 1.0001, num=min(25, max(6, int(np.sqrt(len(values))) + 3)))
    ax.set_xscale("log")
    ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _p: f"{v:g}"))
    ax.yaxis.set_major_locator(MaxNLocator(integer=True))
    counts, _edges, _patches = ax.hist(values.to_numpy(), bins=bins.tolist(), color=COLORS["main"], edgecolor="white",
                                       linewidth=0.6, zorder=2)
    # Headroom above the tallest bar for the legend; the marker lines stop below it.
    ax.set_ylim(0, max(float(np.max(counts)), 1.0) * 1.45)
    median, p90 = float(values.median()), float(values.quantile(0.9))

    def num(v: float) -> str:
        return f"{v:.1f}" if v >= 1 else f"{v:.2g}"

    ax.axvline(median, ymax=0.7, color=COLORS["accent"], linewidth=2, label=f"median {num(median)} {unit}", zorder=3)
    ax.axvline(p90, ymax=0.7, color=COLORS["bad"], linewidth=2, linestyle="--", label=f"90th pct {num(p90)} {unit}",
               zorder=3)
    cs.legend(ax, loc="upper center", ncols=2, handlelength=1.4, columnspacing=1.2)
    return ax
