"""amiga-analytics: analytics for the AMIGA bot's SQLite database.

>>> import amiga_analytics as aa
>>> df = aa.tool_cost(aa.demo_analytics())
>>> list(df.columns)[:3]
['tool_name', 'calls', 'calls_with_tokens']

The report's names load on first use (PEP 562), so the command line's sync and migrate do not pay for
matplotlib.
"""

from __future__ import annotations

import sys
from importlib import import_module
from typing import TYPE_CHECKING, Any

from . import _moved
from ._version import __version__
from .store.connect import connect
from .demo.embedded import database_from_env, demo_analytics, demo_bot_database
from .errors import InputError, NoDataError, NotABotDatabase, NotAnAnalyticsDatabase
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
    transcript_coverage,
    transcript_gaps,
    usage,
)
from .load.sync import SyncResult, sync

_moved.install(sys.modules)

_LAZY = {"WeeklyReport": "report", "weekly_report": "report", "write_report": "report", "export_parquet": "export"}

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
    "export_parquet",
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
    "transcript_coverage",
    "transcript_gaps",
    "usage",
    "weekly_report",
    "write_report",
]


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'amiga_analytics' has no attribute {name!r}")
    value = getattr(import_module(f".{module}", __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return __all__


if TYPE_CHECKING:  # for type checkers; at run time the report's names load lazily
    from .export import export_parquet
    from .report import WeeklyReport, weekly_report, write_report
