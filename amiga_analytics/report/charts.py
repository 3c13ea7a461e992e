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

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.ticker import FuncFormatter, MaxNLocator

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

# Sized to be read on a phone: the report shows a chart about 360 px wide there (640 px at most on a desktop),
# so the figure is narrow in inches and its text large for it.
FIGSIZE = (4.8, 3.2)
FONT_SIZE = 11
TITLE_SIZE = 12
DPI = 200

# Okabe-Ito: distinguishable with the common colour-vision deficiencies.
COLORS = {
    "main": "#0072B2",  # blue: cost, calls
    "bad": "#D55E00",  # vermillion: failures, error rates, anomalies
    "good": "#009E73",  # bluish green: completed
    "muted": "#999999",  # grey: stopped, history
    "accent": "#E69F00",  # orange: created, limits, medians
    "highlight": "#FFF3D6",  # pale yellow band: the report week
    "text": "#222222",
    "grid": "#DDDDDD",
}


# --------------------------------------------------------------------------------------------------------------
# Shared helpers


def _axes(ax: Axes | None, figsize: tuple[float, float] = FIGSIZE) -> Axes:
    if ax is not None:
        return ax
    fig, new_ax = plt.subplots(figsize=figsize, dpi=DPI, layout="constrained")
    fig.patch.set_facecolor("white")
    return new_ax


def _style(ax: Axes, *, title: str | None, xlabel: str | None, ylabel: str | None, grid_axis: str = "y") -> Axes:
    """The one style every chart shares (set explicitly, so it does not depend on rcParams)."""
    ax.set_facecolor("white")
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)
    for side in ("left", "bottom"):
        ax.spines[side].set_color("#888888")
    ax.tick_params(labelsize=FONT_SIZE - 0.5, colors=COLORS["text"], length=3)
    ax.grid(axis=grid_axis, color=COLORS["grid"], linewidth=0.8)
    ax.set_axisbelow(True)
    if title:
        ax.set_title(title, fontsize=TITLE_SIZE, color=COLORS["text"], loc="left", pad=8)
    if xlabel is not None:
        ax.set_xlabel(xlabel, fontsize=FONT_SIZE, color=COLORS["text"])
    if ylabel is not None:
        ax.set_ylabel(ylabel, fontsize=FONT_SIZE, color=COLORS["text"])
    return ax


def _empty(ax: Axes, message: str) -> Axes:
    ax.text(0.5, 0.5, message, transform=ax.transAxes, ha="center", va="center", fontsize=FONT_SIZE,
            color=COLORS["muted"])
    ax.set_xticks([])
    ax.set_yticks([])
    return ax


def _usd(value: float, _pos: Any = None) -> str:
    """Tick labels in dollars, without trailing zeros ($0, $0.25, $2.5, $1,200)."""
    if value == 0:
        return "$0"
    decimals = 0 if abs(value) >= 100 else 2 if abs(value) >= 0.01 else 4
    text = f"{abs(value):,.{decimals}f}"
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return ("-$" if value < 0 else "$") + text


def _usd_label(value: float) -> str:
    """Dollars as people read them: 2 decimals, 4 for amounts under a cent."""
    if pd.isna(value):
        return "n/a"
    if value != 0 and abs(value) < 0.01:
        return f"${value:,.4f}"
    return f"${value:,.2f}"


def _pct(value: float, _pos: Any = None) -> str:
    return f"{value:.0f}%" if float(value).is_integer() else f"{value:.1f}%"


def _day_ticks(ax: Axes, periods: Sequence) -> None:
    """Day positions 0..n-1 labelled for people (the timestamps are already in the report timezone).

    Up to 10 days every day is labelled "Mon\n13"; longer spans label each Monday "13 Oct" (weeks start on
    Monday, like the report's) with a small tick for every day.
    """
    stamps = list(pd.to_datetime(pd.Series(list(periods))))
    n = len(stamps)
    if n <= 10:
        ax.set_xticks(range(n))
        ax.set_xticklabels([f"{ts:%a}\n{ts.day}" for ts in stamps])
    else:
        mondays = [i for i, ts in enumerate(stamps) if ts.day_of_week == 0]
        if len(mondays) > 6:
            mondays = mondays[::2]
        ax.set_xticks(mondays)
        ax.set_xticklabels([f"{stamps[i].day} {stamps[i]:%b}" for i in mondays])
        ax.set_xticks(range(n), minor=True)
        ax.tick_params(axis="x", which="minor", length=2, color="#888888")
    ax.set_xlim(-0.6, n - 0.4)


def _daily(df: pd.DataFrame, columns: Sequence[str]) -> pd.DataFrame:
    """One row per period_start (summing over any grouping column), in time order."""
    if "period_start" not in df.columns:
        raise ValueError("expected a daily DataFrame with a period_start column (use freq='D')")
    out = df.groupby("period_start", sort=True)[list(columns)].sum(min_count=1)
    return out.reset_index()


def _highlight(ax: Axes, periods: pd.Series, highlight: tuple | None) -> None:
    if highlight is None:
        return
    start, end = (pd.Timestamp(x) for x in highlight)
    stamps = pd.to_datetime(periods)
    tz = getattr(stamps.dt, "tz", None)
    if tz is not None:
        start = start.tz_localize(tz) if start.tzinfo is None else start.tz_convert(tz)
        end = end.tz_localize(tz) if end.tzinfo is None else end.tz_convert(tz)
    inside = np.flatnonzero(((stamps >= start) & (stamps < end)).to_numpy())
    if len(inside):
        ax.axvspan(inside[0] - 0.5, inside[-1] + 0.5, color=COLORS["highlight"], zorder=0, linewidth=0)


def _flag(ax: Axes, periods: pd.Series, values: pd.Series, flagged: Sequence | None) -> None:
    if not flagged:
        return
    stamps = pd.to_datetime(periods).reset_index(drop=True)
    wanted = set()
    for item in flagged:
        ts = pd.Timestamp(item)
        tz = getattr(stamps.dt, "tz", None)
        if tz is not None:
            ts = ts.tz_localize(tz) if ts.tzinfo is None else ts.tz_convert(tz)
        wanted.add(ts)
    xs, ys = [], []
    for i, ts in enumerate(stamps):
        if ts in wanted and pd.notna(values.iloc[i]):
            xs.append(i)
            ys.append(values.iloc[i])
    if xs:
        ax.scatter(xs, ys, s=90, facecolors="none", edgecolors=COLORS["bad"], linewidths=2, zorder=5,
                   label="anomaly", clip_on=False)


def _legend(ax: Axes, **kwargs) -> None:
    handles, labels = ax.get_legend_handles_labels()
    if handles:
        ax.legend(frameon=False, fontsize=FONT_SIZE - 1, **kwargs)


def _label_column(df: pd.DataFrame, exclude: Sequence[str] = ()) -> str:
    """The grouping column of a query result: the first column that is not a period or a number."""
    for col in df.columns:
        if col in exclude or col == "period_start":
            continue
        if not pd.api.types.is_numeric_dtype(df[col]):
            return col
    raise ValueError("expected a grouping column (tool_name, model_id, …) in the DataFrame")


def _category_labels(values: pd.Series, missing: str = "(none)", width: int = 22) -> list[str]:
    """Bar labels; long names lose their middle (mcp__playwright__browser_navigate → mcp__play…wser_navigate),
    so the distinguishing end stays readable."""
    out = []
    for v in values:
        text = missing if v is None or (isinstance(v, float) and np.isnan(v)) or v == "" else str(v)
        if len(text) > width:
            head = (width - 1) * 2 // 5
            text = text[:head] + "…" + text[len(text) - (width - 1 - head):]
        out.append(text)
    return out


def _bar_axes(ax: Axes | None, n: int) -> Axes:
    """Horizontal bar charts grow with their number of bars, so bars keep one thickness."""
    if ax is not None:
        return ax
    return _axes(None, (FIGSIZE[0], min(1.3 + 0.32 * max(n, 1), 6.0)))


def save(ax: Axes, path, *, close_figure: bool = True) -> None:
    """Save the chart's figure reproducibly (no software or date stamp) as PNG or SVG, then close it."""
    from pathlib import Path

    path = Path(path)
    fig = ax.figure
    if path.suffix.lower() == ".svg":
        with plt.rc_context({"svg.hashsalt": "amiga-analytics"}):
            fig.savefig(path, format="svg", metadata={"Date": None, "Creator": None})
    else:
        fig.savefig(path, format="png", dpi=DPI, metadata={"Software": None})
    if close_figure:
        plt.close(fig)


def close(ax: Axes) -> None:
    """Close the figure an Axes belongs to (what tests and loops should do after each chart)."""
    plt.close(ax.figure)


# --------------------------------------------------------------------------------------------------------------
# Daily series


def _daily_bars(df, column, *, ax, title, ylabel, color, fmt=None, highlight=None, flagged=None, scale=1.0):
    ax = _axes(ax)
    _style(ax, title=title, xlabel=None, ylabel=ylabel)
    if df is None or len(df) == 0:
        _empty(ax, "no data")
        return ax, None
    daily = _daily(df, [column])
    values = daily[column].astype("float64") * scale
    xs = np.arange(len(daily))
    _highlight(ax, daily["period_start"], highlight)
    ax.bar(xs, values.fillna(0).to_numpy(), color=color, width=0.75, zorder=2)
    _flag(ax, daily["period_start"], values, flagged)
    _day_ticks(ax, daily["period_start"])
    if fmt is not None:
        ax.yaxis.set_major_formatter(FuncFormatter(fmt))
    else:
        ax.yaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_ylim(bottom=0)
    return ax, values


def plot_cost_per_day(df: pd.DataFrame, *, ax: Axes | None = None, daily_limit: float | None = None,
                      highlight: tuple | None = None, flagged: Sequence | None = None,
                      title: str | None = "Cost per day") -> Axes:
    """Bars of ``cost_usd`` per day (USD).

    ``df``: ``tool_cost(..., freq="D")`` (rows of one period are summed, so a ``by`` column is fine).
    ``daily_limit`` draws the limit as a dashed line; ``highlight=(start, end)`` shades those days (the report
    week); ``flagged`` circles the days listed (anomalies).
    """
    ax, values = _daily_bars(df, "cost_usd", ax=ax, title=title, ylabel="cost (USD)", color=COLORS["main"],
                             fmt=_usd, highlight=highlight, flagged=flagged)
    if values is not None and daily_limit is not None:
        ax.axhline(daily_limit, color=COLORS["accent"], linestyle="--", linewidth=1.5, zorder=3,
                   label=f"daily limit {_usd_label(daily_limit)}")
        top = max(float(values.max(skipna=True) or 0), daily_limit)
        ax.set_ylim(0, top * 1.12)
    _legend(ax, loc="upper left")
    return ax


def plot_calls_per_day(df: pd.DataFrame, *, ax: Axes | None = None, highlight: tuple | None = None,
                       flagged: Sequence | None = None, title: str | None = "Tool calls per day") -> Axes:
    """Bars of ``calls`` per day (logical tool calls). ``df``: ``tool_cost`` or ``error_rates`` with ``freq="D"``."""
    ax, _values = _daily_bars(df, "calls", ax=ax, title=title, ylabel="calls", color=COLORS["main"],
                              highlight=highlight, flagged=flagged)
    _legend(ax, loc="upper left")
    return ax


def plot_error_rate_per_day(df: pd.DataFrame, *, ax: Axes | None = None, highlight: tuple | None = None,
                            flagged: Sequence | None = None, title: str | None = "Error rate per day") -> Axes:
    """Line of the daily error rate (%) = failed / completed. ``df``: ``error_rates(..., by=None, freq="D")``.

    Rows of one day are pooled (failed and completed summed) before dividing, so a ``by`` column is fine.
    """
    ax = _axes(ax)
    _style(ax, title=title, xlabel=None, ylabel="error rate (%)")
    if df is None or len(df) == 0:
        return _empty(ax, "no data")
    daily = _daily(df, ["failed", "completed"])
    completed = daily["completed"].astype("float64")
    rate = (daily["failed"].astype("float64") / completed.where(completed > 0)) * 100
    xs = np.arange(len(daily))
    _highlight(ax, daily["period_start"], highlight)
    ax.plot(xs, rate.to_numpy(), color=COLORS["bad"], marker="o", markersize=4, linewidth=1.8, zorder=3)
    _flag(ax, daily["period_start"], rate, flagged)
    _day_ticks(ax, daily["period_start"])
    ax.yaxis.set_major_formatter(FuncFormatter(_pct))
    top = float(rate.max(skipna=True)) if rate.notna().any() else 1.0
    ax.set_ylim(0, max(top * 1.15, 1.0))
    _legend(ax, loc="upper left")
    return ax


# --------------------------------------------------------------------------------------------------------------
# Breakdowns


def _hbars(ax: Axes | None, labels: list[str], values: np.ndarray, texts: list[str], *, color: str,
           title: str | None, xlabel: str, xfmt=None, headroom: float = 1.25) -> Axes:
    """Horizontal bars, first item on top, each labelled with its value; the one look of every breakdown."""
    own_figure = ax is None
    ax = _bar_axes(ax, len(values))
    _style(ax, title=None if own_figure else title, xlabel=xlabel, ylabel=None, grid_axis="x")
    if own_figure and title:
        # Long bar labels push the axes right; a figure-level title stays at the left edge like the others.
        ax.figure.suptitle(title, x=0.02, ha="left", fontsize=TITLE_SIZE, color=COLORS["text"])
    ys = np.arange(len(values))[::-1]
    ax.barh(ys, values, color=color, height=0.65, zorder=2)
    ax.set_yticks(ys)
    ax.set_yticklabels(labels)
    ax.set_ylim(-0.6, len(values) - 0.4)
    if xfmt is not None:
        ax.xaxis.set_major_formatter(FuncFormatter(xfmt))
    ax.xaxis.set_major_locator(MaxNLocator(nbins=4, integer=xfmt is None))
    vmax = max(float(np.nanmax(values)) if len(values) else 0.0, 1e-9)
    for y, v, text in zip(ys, values, texts):
        ax.text(v + vmax * 0.015, y, text, va="center", fontsize=FONT_SIZE - 1.5, color=COLORS["text"])
    ax.set_xlim(0, vmax * headroom)
    ax.tick_params(axis="y", length=0)
    return ax


def plot_cost_by(df: pd.DataFrame, *, ax: Axes | None = None, by: str | None = None, top: int = 10,
                 title: str | None = None) -> Axes:
    """Horizontal bars of ``cost_usd`` per ``by`` value (USD), the largest first; beyond ``top`` summed as 'other'.

    ``df``: ``tool_cost(..., by="tool_name")`` or ``by="model_id"`` (``by`` defaults to the first text column).
    Groups with no priced cost are left out.
    """
    by = by or _label_column(df)
    title = title or f"Cost by {by.replace('_', ' ')}"
    data = df[[by, "cost_usd"]].copy()
    data["cost_usd"] = data["cost_usd"].astype("float64")
    priced = data[data["cost_usd"].fillna(0) > 0].sort_values(["cost_usd", by], ascending=[False, True])
    if priced.empty:
        ax = _axes(ax)
        _style(ax, title=title, xlabel="cost (USD)", ylabel=None)
        return _empty(ax, "no priced cost")
    labels = _category_labels(priced[by])
    values = priced["cost_usd"].to_numpy()
    if len(priced) > top:
        labels = labels[: top - 1] + [f"{len(priced) - top + 1} others"]
        values = np.append(values[: top - 1], values[top - 1:].sum())
    return _hbars(ax, labels, values, [_usd_label(v) for v in values], color=COLORS["main"], title=title,
                  xlabel="cost (USD)", xfmt=_usd, headroom=1.35)


def plot_error_rates(df: pd.DataFrame, *, ax: Axes | None = None, by: str | None = None, top: int = 12,
                     min_completed: int = 1, title: str | None = None) -> Axes:
    """Horizontal bars of ``error_rate`` (%) per ``by`` value, highest first, labelled "rate (failed/completed)".

    ``df``: ``error_rates(..., by="tool_name")`` (or any frame with ``failed``, ``completed`` and
    ``error_rate``). Groups with fewer than ``min_completed`` completed calls are left out (their rate is noise).
    """
    by = by or _label_column(df)
    title = title or f"Error rate by {by.replace('_', ' ')}"
    data = df[df["completed"].fillna(0) >= max(min_completed, 1)].copy()
    data["pct"] = data["error_rate"].astype("float64") * 100
    data = data.sort_values(["pct", "completed", by], ascending=[False, False, True]).head(top)
    if data.empty:
        ax = _axes(ax)
        _style(ax, title=title, xlabel="error rate (%)", ylabel=None)
        return _empty(ax, "no completed calls")
    texts = [f"{p:.1f}% ({int(f):,}/{int(c):,})" for p, f, c in zip(data["pct"], data["failed"], data["completed"])]
    ax = _hbars(ax, _category_labels(data[by]), data["pct"].to_numpy(), texts, color=COLORS["bad"], title=title,
                xlabel="error rate (%)", xfmt=_pct, headroom=1.75)
    if float(data["pct"].max()) == 0:
        ax.set_xlim(0, 10)
    return ax


def plot_subagent_usage(df: pd.DataFrame, *, ax: Axes | None = None, by: str | None = None, value: str = "calls",
                        top: int = 10, title: str | None = None) -> Axes:
    """Horizontal bars of ``value`` (``calls`` or ``cost_usd``) per sub-agent, largest first.

    ``df``: ``subagent_usage(...)``; ``by`` defaults to its first text column (``subagent_type``). Beyond ``top``
    the rest is summed as 'others'.
    """
    by = by or _label_column(df)
    usd = value.endswith("_usd")
    xlabel = "cost (USD)" if usd else value.replace("_", " ")
    title = title or ("Sub-agent cost (Task tool)" if usd else "Sub-agent calls (Task tool)")
    data = df[[by, value]].copy()
    data[value] = data[value].astype("float64")
    data = data[data[value].fillna(0) > 0].sort_values([value, by], ascending=[False, True])
    if data.empty:
        ax = _axes(ax)
        _style(ax, title=title, xlabel=xlabel, ylabel=None)
        return _empty(ax, "no sub-agent calls")
    labels = _category_labels(data[by], missing="(not recorded)")
    values = data[value].to_numpy()
    if len(values) > top:
        labels = labels[: top - 1] + [f"{len(values) - top + 1} others"]
        values = np.append(values[: top - 1], values[top - 1:].sum())
    texts = [_usd_label(v) if usd else f"{v:,.0f}" for v in values]
    return _hbars(ax, labels, values, texts, color=COLORS["main"], title=title, xlabel=xlabel,
                  xfmt=_usd if usd else None, headroom=1.3 if usd else 1.2)


# --------------------------------------------------------------------------------------------------------------
# Tasks


def plot_throughput(df: pd.DataFrame, *, ax: Axes | None = None, highlight: tuple | None = None,
                    title: str | None = "Tasks per day") -> Axes:
    """Stacked bars of tasks finished per day (completed, failed, stopped) and a line of tasks created.

    ``df``: ``task_throughput(..., freq="D")``.
    """
    ax = _axes(ax)
    _style(ax, title=title, xlabel=None, ylabel="tasks")
    if df is None or len(df) == 0:
        return _empty(ax, "no tasks")
    daily = _daily(df, ["created", "completed", "failed", "stopped"])
    xs = np.arange(len(daily))
    _highlight(ax, daily["period_start"], highlight)
    bottom = np.zeros(len(daily))
    for column, color in (("completed", COLORS["good"]), ("failed", COLORS["bad"]), ("stopped", COLORS["muted"])):
        vals = daily[column].fillna(0).astype("float64").to_numpy()
        ax.bar(xs, vals, bottom=bottom, color=color, width=0.75, label=column, zorder=2)
        bottom = bottom + vals
    ax.plot(xs, daily["created"].fillna(0).astype("float64").to_numpy(), color=COLORS["text"], marker="o",
            markersize=3.5, linewidth=1.4, label="created", zorder=4)
    _day_ticks(ax, daily["period_start"])
    ax.yaxis.set_major_locator(MaxNLocator(integer=True))
    top = max(float(bottom.max()), float(daily["created"].fillna(0).max()), 1.0)
    ax.set_ylim(0, top * 1.3)
    _legend(ax, loc="upper left", ncols=4, handlelength=1.2, columnspacing=1.0)
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
    ax = _axes(ax)
    if df is None or len(df) == 0 or df[column].dropna().empty:
        _style(ax, title=title, xlabel="cycle time", ylabel="tasks")
        return _empty(ax, "no finished tasks")
    seconds = df[column].dropna().astype("float64")
    seconds = seconds[seconds >= 0]
    divisor, unit = _time_unit(seconds)
    values = (seconds / divisor).clip(lower=1e-3 * (60 / divisor if divisor > 1 else 1))
    _style(ax, title=title, xlabel=f"cycle time ({unit}, log scale)", ylabel="tasks")
    lo, hi = float(values.min()), float(values.max())
    if hi <= lo:
        lo, hi = lo / 1.5, hi * 1.5
    bins = np.geomspace(lo, hi * 1.0001, num=min(25, max(6, int(np.sqrt(len(values))) + 3)))
    ax.set_xscale("log")
    ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _p: f"{v:g}"))
    ax.yaxis.set_major_locator(MaxNLocator(integer=True))
    counts, _edges, _patches = ax.hist(values.to_numpy(), bins=bins, color=COLORS["main"], edgecolor="white",
                                       linewidth=0.6, zorder=2)
    # Headroom above the tallest bar for the legend; the marker lines stop below it.
    ax.set_ylim(0, max(float(np.max(counts)), 1.0) * 1.45)
    median, p90 = float(values.median()), float(values.quantile(0.9))

    def num(v: float) -> str:
        return f"{v:.1f}" if v >= 1 else f"{v:.2g}"

    ax.axvline(median, ymax=0.7, color=COLORS["accent"], linewidth=2, label=f"median {num(median)} {unit}", zorder=3)
    ax.axvline(p90, ymax=0.7, color=COLORS["bad"], linewidth=2, linestyle="--", label=f"90th pct {num(p90)} {unit}",
               zorder=3)
    _legend(ax, loc="upper center", ncols=2, handlelength=1.4, columnspacing=1.2)
    return ax
