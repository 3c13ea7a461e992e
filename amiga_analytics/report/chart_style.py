"""The one look of every chart (sizes, Okabe-Ito colours, spines, grid, tick formats) and the builders the plot
functions of :mod:`.charts` share: day axes, shaded report week, circled anomalies, horizontal breakdown bars."""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from typing import Any, Literal

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.ticker import FuncFormatter, MaxNLocator

__all__ = ["COLORS", "DPI", "FIGSIZE", "FONT_SIZE", "TITLE_SIZE", "axes", "bar_axes", "category_labels", "circle",
           "close", "daily_bars", "day_ticks", "empty", "hbars", "label_column", "legend", "pct_tick", "per_day", "save",
           "shade", "style", "usd_label", "usd_tick"]

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


def axes(ax: Axes | None, figsize: tuple[float, float] = FIGSIZE) -> Axes:
    if ax is not None:
        return ax
    fig, new_ax = plt.subplots(figsize=figsize, dpi=DPI, layout="constrained")
    fig.patch.set_facecolor("white")
    return new_ax


def style(ax: Axes, *, title: str | None, xlabel: str | None, ylabel: str | None, grid_axis: Literal["both", "x", "y"] = "y") -> Axes:
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


def empty(ax: Axes, message: str) -> Axes:
    ax.text(0.5, 0.5, message, transform=ax.transAxes, ha="center", va="center", fontsize=FONT_SIZE,
            color=COLORS["muted"])
    ax.set_xticks([])
    ax.set_yticks([])
    return ax


def usd_tick(value: float, _pos: Any = None) -> str:
    """Tick labels in dollars, without trailing zeros ($0, $0.25, $2.5, $1,200)."""
    if value == 0:
        return "$0"
    decimals = 0 if abs(value) >= 100 else 2 if abs(value) >= 0.01 else 4
    text = f"{abs(value):,.{decimals}f}"
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return ("-$" if value < 0 else "$") + text


def usd_label(value: float) -> str:
    """Dollars as people read them: 2 decimals, 4 for amounts under a cent."""
    if pd.isna(value):
        return "n/a"
    if value != 0 and abs(value) < 0.01:
        return f"${value:,.4f}"
    return f"${value:,.2f}"


def pct_tick(value: float, _pos: Any = None) -> str:
    return f"{value:.0f}%" if float(value).is_integer() else f"{value:.1f}%"


def day_ticks(ax: Axes, periods: Sequence) -> None:
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


def per_day(df: pd.DataFrame, columns: Sequence[str]) -> pd.DataFrame:
    """One row per period_start (summing over any grouping column), in time order."""
    if "period_start" not in df.columns:
        raise ValueError("expected a daily DataFrame with a period_start column (use freq='D')")
    out = df.groupby("period_start", sort=True)[list(columns)].sum(min_count=1)
    return out.reset_index()


def shade(ax: Axes, periods: pd.Series, highlight: tuple | None) -> None:
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


def circle(ax: Axes, periods: pd.Series, values: pd.Series, flagged: Sequence | None) -> None:
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


def legend(ax: Axes, **kwargs: Any) -> None:
    handles, labels = ax.get_legend_handles_labels()
    if handles:
        ax.legend(frameon=False, fontsize=FONT_SIZE - 1, **kwargs)


def label_column(df: pd.DataFrame, exclude: Sequence[str] = ()) -> str:
    """The grouping column of a query result: the first column that is not a period or a number."""
    for col in df.columns:
        if col in exclude or col == "period_start":
            continue
        if not pd.api.types.is_numeric_dtype(df[col]):
            return col
    raise ValueError("expected a grouping column (tool_name, model_id, …) in the DataFrame")


def category_labels(values: pd.Series, missing: str = "(none)", width: int = 22) -> list[str]:
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


def bar_axes(ax: Axes | None, n: int) -> Axes:
    """Horizontal bar charts grow with their number of bars, so bars keep one thickness."""
    if ax is not None:
        return ax
    return axes(None, (FIGSIZE[0], min(1.3 + 0.32 * max(n, 1), 6.0)))


def save(ax: Axes, path: str | os.PathLike[str], *, close_figure: bool = True) -> None:
    """Save the chart's figure reproducibly (no software or date stamp) as PNG or SVG, then close it."""
    from pathlib import Path

    path = Path(path)
    fig = figure_of(ax)
    if path.suffix.lower() == ".svg":
        with plt.rc_context({"svg.hashsalt": "amiga-analytics"}):
            fig.savefig(path, format="svg", metadata={"Date": None, "Creator": None})
    else:
        fig.savefig(path, format="png", dpi=DPI, metadata={"Software": None})
    if close_figure:
        plt.close(fig)


def close(ax: Axes) -> None:
    """Close the figure an Axes belongs to (what tests and loops should do after each chart)."""
    plt.close(figure_of(ax))


def figure_of(ax: Axes) -> Figure:
    """The figure an Axes is drawn on (every chart here draws on a top-level figure, not a subfigure)."""
    fig = ax.figure
    if not isinstance(fig, Figure):
        raise TypeError(f"a chart's Axes must belong to a top-level Figure, not {type(fig).__name__}")
    return fig


def daily_bars(df: pd.DataFrame | None, column: str, *, ax: Axes | None, title: str | None, ylabel: str, color: str,
               fmt: Any = None, highlight: tuple | None = None, flagged: Sequence | None = None,
               scale: float = 1.0) -> tuple[Axes, pd.Series | None]:
    """Bars of one column per day, report week shaded and anomalies circled; returns the Axes and the values
    drawn (None when there is no data)."""
    ax = axes(ax)
    style(ax, title=title, xlabel=None, ylabel=ylabel)
    if df is None or len(df) == 0:
        empty(ax, "no data")
        return ax, None
    daily = per_day(df, [column])
    values = daily[column].astype("float64") * scale
    xs = np.arange(len(daily))
    shade(ax, daily["period_start"], highlight)
    ax.bar(xs, values.fillna(0).to_numpy(), color=color, width=0.75, zorder=2)
    circle(ax, daily["period_start"], values, flagged)
    day_ticks(ax, daily["period_start"])
    if fmt is not None:
        ax.yaxis.set_major_formatter(FuncFormatter(fmt))
    else:
        ax.yaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_ylim(bottom=0)
    return ax, values


def hbars(ax: Axes | None, labels: list[str], values: np.ndarray, texts: list[str], *, color: str,
          title: str | None, xlabel: str, xfmt: Callable[[float, int], str] | None = None, headroom: float = 1.25) -> Axes:
    """Horizontal bars, first item on top, each labelled with its value; the one look of every breakdown."""
    own_figure = ax is None
    ax = bar_axes(ax, len(values))
    style(ax, title=None if own_figure else title, xlabel=xlabel, ylabel=None, grid_axis="x")
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
