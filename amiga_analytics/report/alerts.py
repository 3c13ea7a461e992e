"""Cron-safe alerts (``amiga-analytics check``): the report's breaches as one line each."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pandas as pd

from .fmt import fmt_kind, fmt_pct, fmt_usd

if TYPE_CHECKING:
    from .model import WeeklyReport

__all__ = ["breaches"]


def breaches(report: WeeklyReport) -> list[str]:
    """One line per breach: the month projected over the monthly limit, each day over the daily limit, each
    flagged anomaly of the week. Empty when nothing fired."""
    lines = []
    b = report.budget.iloc[0]
    if pd.notna(b["projected_share_of_limit"]) and b["projected_share_of_limit"] > 1:
        lines.append(f"monthly: {b['month']} projected at {fmt_usd(b['projected_month_usd'])}, "
                     f"{fmt_pct(b['projected_share_of_limit'])} of the limit {fmt_usd(b['monthly_limit_usd'])}")
    if pd.notna(b["daily_limit_usd"]):
        cpd = report.cost_per_day
        days = cpd["period_start"].dt.date
        week = cpd[(days >= report.start) & (days < report.end)]
        for row in week[week["cost_usd"] > b["daily_limit_usd"]].itertuples(index=False):
            lines.append(f"daily: {row.period_start.date()} cost {fmt_usd(row.cost_usd)}, over the limit "
                         f"{fmt_usd(b['daily_limit_usd'])}")
    kinds = {"cost_usd": "usd", "calls": "count", "error_rate": "pct"}
    for a in report.anomalies.itertuples(index=False):
        subject = "all activity" if a.subject == "all" else a.subject
        lines.append(f"anomaly: {a.day} {subject} {a.metric} {fmt_kind(kinds[a.metric], a.value)} against a "
                     f"median of {fmt_kind(kinds[a.metric], a.median)} (robust z {a.robust_z:+.1f})")
    return lines
