"""Chart functions: DataFrame in, Axes out; units on the axes; no show(), no saving, no leaked figures."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402
from matplotlib.axes import Axes  # noqa: E402

from amiga_analytics import charts  # noqa: E402

TZ = "Europe/Madrid"


@pytest.fixture(autouse=True)
def _no_show_and_no_leaks(monkeypatch):
    def refuse(*_a, **_k):
        raise AssertionError("chart functions must never call plt.show()")

    monkeypatch.setattr(plt, "show", refuse)
    before = set(plt.get_fignums())
    yield
    leaked = set(plt.get_fignums()) - before
    plt.close("all")
    assert not leaked, f"test left figures open: {leaked}"


def days(n: int, start: str = "2025-09-22") -> pd.DatetimeIndex:
    return pd.date_range(start, periods=n, freq="D", tz=TZ)


@pytest.fixture
def daily() -> pd.DataFrame:
    rng = np.random.default_rng(7)
    d = days(35)
    df = pd.DataFrame({
        "period_start": d,
        "calls": rng.integers(100, 400, len(d)).astype("int64"),
        "cost_usd": rng.gamma(2.0, 1.5, len(d)),
        "completed": rng.integers(90, 300, len(d)).astype("int64"),
    })
    df["failed"] = (df["completed"] * 0.06).astype("int64")
    df["error_rate"] = df["failed"] / df["completed"]
    return df


@pytest.fixture
def by_tool() -> pd.DataFrame:
    return pd.DataFrame({
        "tool_name": ["Bash", "Read", "Edit", "Task", "mcp__playwright__browser_navigate", "Glob"],
        "calls": [500, 800, 300, 40, 20, 90],
        "completed": [480, 790, 290, 38, 20, 90],
        "failed": [48, 20, 29, 2, 5, 0],
        "cost_usd": [0.0, 0.0, 0.0, 12.3, 0.0, 0.004],
    }).assign(error_rate=lambda d: d["failed"] / d["completed"])


def bar_widths(ax: Axes) -> list[float]:
    """Horizontal bars top to bottom."""
    bars = sorted(ax.patches, key=lambda p: -p.get_y())
    return [p.get_width() for p in bars]


def test_cost_per_day_returns_axes_with_units_limit_and_flags(daily):
    flagged = [daily["period_start"].iloc[30]]
    ax = charts.plot_cost_per_day(daily, daily_limit=8.0, flagged=flagged)
    assert isinstance(ax, Axes)
    assert ax.get_ylabel() == "cost (USD)"
    heights = [p.get_height() for p in ax.patches]
    np.testing.assert_allclose(heights, daily["cost_usd"].to_numpy())  # full precision drawn, rounding only in labels
    labels = ax.get_legend_handles_labels()[1]
    assert "daily limit $8.00" in labels and "anomaly" in labels
    assert ax.get_ylim()[1] >= 8.0
    charts.close(ax)


def test_daily_charts_label_mondays_over_long_spans_and_every_day_over_a_week(daily):
    ax = charts.plot_calls_per_day(daily)
    labels = [t.get_text() for t in ax.get_xticklabels()]
    assert labels == ["22 Sep", "29 Sep", "6 Oct", "13 Oct", "20 Oct"]  # the Mondays
    assert ax.get_ylabel() == "calls"
    charts.close(ax)
    ax = charts.plot_calls_per_day(daily.tail(7))
    assert [t.get_text() for t in ax.get_xticklabels()][0] == "Mon\n20"
    charts.close(ax)


def test_highlight_shades_the_report_week(daily):
    start = pd.Timestamp("2025-10-20")
    ax = charts.plot_cost_per_day(daily, highlight=(start, start + pd.Timedelta(days=7)))
    spans = [p for p in ax.patches if p.get_facecolor()[:3] == matplotlib.colors.to_rgb(charts.COLORS["highlight"])]
    assert len(spans) == 1
    x0 = spans[0].get_x() if hasattr(spans[0], "get_x") else spans[0].get_xy()[0][0]
    assert x0 == pytest.approx(28 - 0.5)  # day 28 of the frame is Monday 20 October
    charts.close(ax)


def test_error_rate_per_day_pools_groups_before_dividing(daily):
    two_groups = pd.concat([daily.assign(tool_name="A"), daily.assign(tool_name="B", failed=0)])
    ax = charts.plot_error_rate_per_day(two_groups)
    line = ax.get_lines()[0]
    expected = daily["failed"] / (2 * daily["completed"]) * 100
    np.testing.assert_allclose(line.get_ydata(), expected.to_numpy())
    assert ax.get_ylabel() == "error rate (%)"
    charts.close(ax)


def test_error_rates_sorted_in_percent_and_filtered_by_volume(by_tool):
    ax = charts.plot_error_rates(by_tool, min_completed=30)
    widths = bar_widths(ax)
    kept = by_tool[by_tool["completed"] >= 30].sort_values("error_rate", ascending=False)
    np.testing.assert_allclose(widths, (kept["error_rate"] * 100).to_numpy())
    assert ax.get_xlabel() == "error rate (%)"
    texts = [t.get_text() for t in ax.texts]
    assert "10.0% (48/480)" in texts
    charts.close(ax)


def test_cost_by_leaves_out_unpriced_groups_and_labels_dollars(by_tool):
    ax = charts.plot_cost_by(by_tool, by="tool_name")
    assert bar_widths(ax) == pytest.approx([12.3, 0.004])
    assert [t.get_text() for t in ax.texts] == ["$12.30", "$0.0040"]
    assert ax.get_xlabel() == "cost (USD)"
    charts.close(ax)


def test_long_names_keep_their_distinguishing_end(by_tool):
    ax = charts.plot_error_rates(by_tool)
    names = [t.get_text() for t in ax.get_yticklabels()]
    assert any(n.startswith("mcp__") and n.endswith("navigate") and "…" in n for n in names)
    charts.close(ax)


def test_subagent_usage_calls_or_cost_with_others_bucket():
    df = pd.DataFrame({"subagent_type": [f"agent{i}" for i in range(12)] + [None],
                       "calls": list(range(13, 0, -1)), "cost_usd": np.linspace(5, 0.5, 13)})
    ax = charts.plot_subagent_usage(df, top=5)
    assert bar_widths(ax) == [13, 12, 11, 10, sum(range(1, 10))]
    assert [t.get_text() for t in ax.get_yticklabels()][-1] == "9 others"
    assert ax.get_xlabel() == "calls"
    charts.close(ax)
    ax = charts.plot_subagent_usage(df, value="cost_usd")
    assert ax.get_xlabel() == "cost (USD)"
    charts.close(ax)


def test_throughput_stacks_finished_and_draws_created():
    d = days(7, "2025-10-20")
    df = pd.DataFrame({"period_start": d, "created": [5, 9, 10, 9, 7, 7, 14], "completed": [5, 8, 6, 10, 6, 5, 9],
                       "failed": [0, 1, 2, 0, 1, 1, 2], "stopped": [0, 0, 1, 0, 0, 1, 1]})
    ax = charts.plot_throughput(df)
    tops = {}
    for p in ax.patches:
        x = round(p.get_x() + p.get_width() / 2)
        tops[x] = max(tops.get(x, 0), p.get_y() + p.get_height())
    assert [tops[i] for i in range(7)] == list(df["completed"] + df["failed"] + df["stopped"])
    assert list(ax.get_lines()[0].get_ydata()) == list(df["created"])
    assert ax.get_ylabel() == "tasks"
    assert sorted(ax.get_legend_handles_labels()[1]) == ["completed", "created", "failed", "stopped"]
    charts.close(ax)


def test_cycle_times_unit_follows_the_median_and_marks_median_and_p90():
    seconds = pd.DataFrame({"cycle_s": [60.0, 200.0, 300.0, 400.0, 900.0, 3000.0]})
    ax = charts.plot_cycle_times(seconds)
    assert ax.get_xlabel() == "cycle time (min, log scale)"
    assert ax.get_xscale() == "log"
    median_line, p90_line = ax.get_lines()
    assert median_line.get_xdata()[0] == pytest.approx(350.0 / 60)
    assert p90_line.get_xdata()[0] == pytest.approx(np.quantile([60, 200, 300, 400, 900, 3000], 0.9) / 60)
    assert sum(p.get_height() for p in ax.patches) == 6
    charts.close(ax)
    ax = charts.plot_cycle_times(pd.DataFrame({"cycle_s": [5.0, 8.0, 30.0]}))
    assert ax.get_xlabel() == "cycle time (s, log scale)"
    charts.close(ax)


@pytest.mark.parametrize("func, frame", [
    (charts.plot_cost_per_day, pd.DataFrame({"period_start": [], "cost_usd": []})),
    (charts.plot_calls_per_day, pd.DataFrame({"period_start": [], "calls": []})),
    (charts.plot_error_rate_per_day, pd.DataFrame({"period_start": [], "failed": [], "completed": []})),
    (charts.plot_throughput, pd.DataFrame({"period_start": [], "created": [], "completed": [], "failed": [],
                                           "stopped": []})),
    (charts.plot_cycle_times, pd.DataFrame({"cycle_s": []})),
    (charts.plot_error_rates, pd.DataFrame({"tool_name": pd.Series([], dtype="str"), "completed": [], "failed": [],
                                            "error_rate": []})),
    (charts.plot_cost_by, pd.DataFrame({"tool_name": ["Read"], "cost_usd": [0.0]})),
    (charts.plot_subagent_usage, pd.DataFrame({"subagent_type": pd.Series([], dtype="str"), "calls": []})),
])
def test_empty_frames_say_so_instead_of_failing(func, frame):
    ax = func(frame)
    assert isinstance(ax, Axes)
    assert ax.texts and ax.texts[0].get_text().startswith("no ")
    charts.close(ax)


def test_draws_on_the_axes_it_is_given(daily, by_tool):
    fig, (a, b) = plt.subplots(1, 2)
    assert charts.plot_cost_per_day(daily, ax=a) is a
    assert charts.plot_error_rates(by_tool, ax=b) is b
    assert b.get_title(loc="left") == "Error rate by tool name"
    assert len(plt.get_fignums()) >= 1
    plt.close(fig)


def test_functions_do_not_save(tmp_path, daily, monkeypatch):
    monkeypatch.chdir(tmp_path)
    ax = charts.plot_cost_per_day(daily)
    charts.close(ax)
    assert list(tmp_path.iterdir()) == []


def test_save_is_byte_identical_for_png_and_svg(tmp_path, daily):
    outputs = {}
    for run in (1, 2):
        for suffix in ("png", "svg"):
            ax = charts.plot_cost_per_day(daily, daily_limit=5)
            path = tmp_path / f"{run}.{suffix}"
            charts.save(ax, path)
            outputs[(run, suffix)] = path.read_bytes()
    assert outputs[(1, "png")] == outputs[(2, "png")]
    assert outputs[(1, "svg")] == outputs[(2, "svg")]
    assert b"Software" not in outputs[(1, "png")]
    assert b"<dc:date>" not in outputs[(1, "svg")]


def test_one_style_across_charts(daily, by_tool):
    axes = [charts.plot_cost_per_day(daily), charts.plot_error_rates(by_tool), charts.plot_cycle_times(
        pd.DataFrame({"cycle_s": [100.0, 200.0, 400.0]}))]
    for ax in axes:
        assert not ax.spines["top"].get_visible() and not ax.spines["right"].get_visible()
        assert ax.xaxis.get_ticklabels()[0].get_fontsize() == pytest.approx(charts.FONT_SIZE - 0.5)
        assert ax.figure.get_dpi() == charts.DPI
        charts.close(ax)
