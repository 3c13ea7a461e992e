"""amiga-analytics: analytics for the AMIGA bot's SQLite database.

>>> import amiga_analytics as aa
>>> df = aa.tool_cost(aa.demo_analytics())
>>> list(df.columns)[:3]
['tool_name', 'calls', 'calls_with_tokens']
"""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version

from .db import connect
from .errors import InputError, NoDataError, NotABotDatabase, NotAnAnalyticsDatabase
from .embedded import database_from_env, demo_analytics, demo_bot_database
from .queries import (
    QUERIES,
    cache_savings,
    data_quality,
    error_rates,
    file_activity,
    latency,
    router_usage,
    subagent_usage,
    task_cost,
    task_throughput,
    tasks_per_user,
    tool_cost,
    top_errors,
)
from .report import WeeklyReport, weekly_report, write_report
from .sync import SyncResult, sync

try:
    __version__ = version("amiga-analytics")
except PackageNotFoundError:  # pragma: no cover - running from a source tree without install
    __version__ = "0.0.0"

__all__ = [
    "QUERIES",
    "InputError",
    "NoDataError",
    "NotABotDatabase",
    "NotAnAnalyticsDatabase",
    "SyncResult",
    "WeeklyReport",
    "__version__",
    "cache_savings",
    "connect",
    "data_quality",
    "database_from_env",
    "demo_analytics",
    "demo_bot_database",
    "error_rates",
    "file_activity",
    "latency",
    "router_usage",
    "subagent_usage",
    "sync",
    "task_cost",
    "task_throughput",
    "tasks_per_user",
    "tool_cost",
    "top_errors",
    "weekly_report",
    "write_report",
]
