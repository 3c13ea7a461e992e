"""The report's statistics: the week-over-week headline table and the robust anomaly rule, pure functions of
DataFrames (tested by hand-computed examples)."""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from datetime import date, timedelta

import numpy as np
import pandas as pd

__all__ = ["ANOMALY_RULE", "HEADLINE", "NOISE_TEST", "change_z", "find_anomalies", "mann_whitney_z", "poisson_z",
           "two_proportion_z", "week_over_week", "welch_z"]

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



# The noise test of the headline (stated in the report once, word for word).
Z_NOISE = 1.96
NOISE_TEST = (
    "A change is called better or worse only when a two-sided test at the 5 % level says it is beyond the week's "
    "noise (|z| > 1.96); otherwise it reads \"no clear change\". Rates (error rate, task success rate) use a "
    "two-proportion z-test on their counts; counts (tool calls, tasks finished) a Poisson test, "
    "z = (this − before) / √(this + before); cost a Welch test on the seven daily costs of each week, "
    "z = (mean − mean′) / √(s²/7 + s′²/7); the median cycle time a Mann–Whitney test on the cycle times of the "
    "tasks finished in each week (normal approximation)."
)
#: headline key → what its test needs from the figures of a week (besides the value itself)
EVIDENCE = {
    "cost_usd": ("daily_cost",),
    "calls": (),
    "error_rate": ("failed", "completed"),
    "tasks_finished": (),
    "success_rate": ("tasks_completed", "tasks_failed"),
    "median_cycle_s": ("cycle_s",),
}


def two_proportion_z(x1: float, n1: float, x2: float, n2: float) -> float:
    """z of the difference of two proportions x1/n1 − x2/n2 (pooled variance); NaN when not testable.

    >>> round(two_proportion_z(60, 1000, 50, 1000), 3)     # 6 % vs 5 % on 1,000 each
    0.981
    """
    if not n1 or not n2:
        return float("nan")
    pooled = (x1 + x2) / (n1 + n2)
    se = math.sqrt(pooled * (1 - pooled) * (1 / n1 + 1 / n2))
    if se == 0:
        return 0.0
    return (x1 / n1 - x2 / n2) / se


def poisson_z(a: float, b: float) -> float:
    """z of two Poisson counts (conditional binomial test, normal approximation): (a − b) / √(a + b).

    >>> poisson_z(900, 1000) < -1.96, round(poisson_z(40, 50), 3)
    (True, -1.054)
    """
    if math.isnan(a) or math.isnan(b):
        return float("nan")
    return 0.0 if a + b == 0 else (a - b) / math.sqrt(a + b)


def welch_z(xs: Sequence[float], ys: Sequence[float]) -> float:
    """Welch's statistic of two samples' means, (mean x − mean y) / √(s²x/nx + s²y/ny) (sample variances)."""
    if len(xs) < 2 or len(ys) < 2:
        return float("nan")
    x, y = np.asarray(xs, dtype=float), np.asarray(ys, dtype=float)
    se = math.sqrt(x.var(ddof=1) / len(x) + y.var(ddof=1) / len(y))
    diff = float(x.mean() - y.mean())
    return 0.0 if se == 0 and diff == 0 else (math.copysign(math.inf, diff) if se == 0 else diff / se)


def mann_whitney_z(xs: Sequence[float], ys: Sequence[float]) -> float:
    """Mann–Whitney's z (normal approximation, mid-ranks for ties): positive when ``xs`` tend to be larger."""
    n1, n2 = len(xs), len(ys)
    if n1 == 0 or n2 == 0:
        return float("nan")
    ranks = pd.Series(list(xs) + list(ys), dtype=float).rank(method="average").to_numpy()
    u = float(ranks[:n1].sum()) - n1 * (n1 + 1) / 2
    sd = math.sqrt(n1 * n2 * (n1 + n2 + 1) / 12)
    return (u - n1 * n2 / 2) / sd


def change_z(key: str, this_week: dict, previous_week: dict) -> float:
    """The test statistic of a headline metric's change (see :data:`NOISE_TEST`); NaN when it cannot be run."""
    if any(k not in this_week or k not in previous_week for k in EVIDENCE[key]):
        return float("nan")
    a, b = this_week, previous_week
    if key == "error_rate":
        return two_proportion_z(a["failed"], a["completed"], b["failed"], b["completed"])
    if key == "success_rate":
        return two_proportion_z(a["tasks_completed"], a["tasks_completed"] + a["tasks_failed"],
                                b["tasks_completed"], b["tasks_completed"] + b["tasks_failed"])
    if key == "cost_usd":
        return welch_z(a["daily_cost"], b["daily_cost"])
    if key == "median_cycle_s":
        return mann_whitney_z(a["cycle_s"], b["cycle_s"])
    return poisson_z(float(a.get(key, np.nan)), float(b.get(key, np.nan)))


def _verdict(change: float, better: str | None, z: float) -> str:
    if change is None or (isinstance(change, float) and math.isnan(change)):
        return "n/a"
    if change == 0:
        return "unchanged"
    if math.isnan(z) or abs(z) <= Z_NOISE:
        return "no clear change"
    if better is None:
        return "more" if change > 0 else "fewer"
    return "better" if (change > 0) == (better == "up") else "worse"


def week_over_week(this_week: dict, previous_week: dict) -> pd.DataFrame:
    """The headline table: each metric this week, the week before, the change and whether it is beyond noise.

    ``this_week`` and ``previous_week`` map the metric keys of :data:`HEADLINE` to numbers (NaN: not known),
    plus what each test needs (:data:`EVIDENCE`): ``failed``/``completed`` calls, ``tasks_completed``/
    ``tasks_failed``, ``daily_cost`` (the 7 daily costs, USD) and ``cycle_s`` (the cycle times, s).

    Returns one row per metric, in :data:`HEADLINE` order:

    - ``metric``: the key (``cost_usd``, ``calls``, ``error_rate``, ``tasks_finished``, ``success_rate``,
      ``median_cycle_s``)
    - ``this_week``, ``previous_week``: the values, in the metric's unit (USD, count, fraction, s)
    - ``change``: ``this_week - previous_week`` (for rates: in fraction points)
    - ``change_pct``: ``change / previous_week``; NaN when the week before was 0 or unknown
    - ``z``: the statistic of the metric's test (:data:`NOISE_TEST`); NaN when it cannot be run
    - ``verdict``: beyond noise (``|z| > 1.96``) ``better``/``worse`` (cost, error rate, cycle time up = worse;
      tasks finished, success rate up = better) or ``more``/``fewer`` for calls; else ``no clear change``;
      ``unchanged`` for no change at all, ``n/a`` when a week is unknown

    >>> df = week_over_week({"cost_usd": 12.0, "calls": 900}, {"cost_usd": 10.0, "calls": 1000})
    >>> [(r.metric, r.change, r.change_pct, r.verdict) for r in df.head(2).itertuples()]
    [('cost_usd', 2.0, 0.2, 'no clear change'), ('calls', -100.0, -0.1, 'fewer')]
    """
    rows = []
    for key, _label, _kind, better in HEADLINE:
        now = float(this_week.get(key, np.nan))
        before = float(previous_week.get(key, np.nan))
        change = now - before
        change_pct = change / before if before and not math.isnan(before) else np.nan
        z = change_z(key, this_week, previous_week)
        rows.append({"metric": key, "this_week": now, "previous_week": before, "change": change,
                     "change_pct": change_pct, "z": z, "verdict": _verdict(change, better, z)})
    df = pd.DataFrame(rows)
    return df.astype({"this_week": "float64", "previous_week": "float64", "change": "float64",
                      "change_pct": "float64", "z": "float64"})


def find_anomalies(values: pd.Series, check_days: Iterable[date], *, floor: float, eligible: pd.Series | None = None,
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
