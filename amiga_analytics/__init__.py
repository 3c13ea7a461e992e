"""amiga-analytics: analytics for the AMIGA bot's SQLite database.

>>> import amiga_analytics as aa
>>> df = aa.tool_cost(aa.demo_analytics())
>>> list(df.columns)[:3]
['tool_name', 'calls', 'calls_with_tokens']

The report's names and the query functions load on first use (PEP 562), so the command line's sync and migrate
do not pay for matplotlib or pandas (and the command line imports sqlite-utils without them: see ``_lean``).
"""

from __future__ import annotations

import sys
from importlib import import_module
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # for type checkers; at run time these names load lazily
    from .export import export_parquet
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
    )
    from .queries.usage import usage
    from .report import WeeklyReport, weekly_report, write_report

from . import _lean, _moved

_lean.import_sqlite_utils()  # the command line's processes: without pandas and numpy (see _lean)

from ._version import __version__  # noqa: E402
from .store.connect import connect  # noqa: E402
from .demo.embedded import database_from_env, demo_analytics, demo_bot_database  # noqa: E402
from .errors import InputError, NoDataError, NotABotDatabase, NotAnAnalyticsDatabase  # noqa: E402
from .load.sync import SyncResult, sync  # noqa: E402

_moved.install(sys.modules)

#: names that load on first use: the report's (matplotlib), the export's (pyarrow), the query functions' (pandas)
_LAZY = {"WeeklyReport": "report", "weekly_report": "report", "write_report": "report", "export_parquet": "export"}
_QUERY_NAMES = ("QUERIES", "cache_savings", "data_quality", "error_rates", "file_activity", "latency",
                "router_usage", "subagent_usage", "task_cost", "task_throughput", "tasks_per_user", "tool_cost",
                "top_errors", "transcript_coverage", "transcript_gaps", "usage")
_LAZY.update(dict.fromkeys(_QUERY_NAMES, "queries"))

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
