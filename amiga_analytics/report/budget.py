"""The cost limits (option or environment) and the month's budget: month to date and a straight-line projection."""

from __future__ import annotations

import math
import os
from datetime import timedelta

import numpy as np
import pandas as pd

from ..errors import InputError
from .weeks import Week

__all__ = ["budget_table", "cost_limit"]


def cost_limit(value: float | str | None, env_name: str, option: str) -> tuple[float | None, str | None]:
    """A cost limit in USD from the option (``value``) or else the environment variable, with where it came from."""
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


def budget_table(cost_per_day: pd.DataFrame, week: Week, daily_limit: float | None,
                 monthly_limit: float | None) -> pd.DataFrame:
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
