"""Query functions: the analytics database → documented pandas DataFrames.

Every function takes an analytics database (a path, or the ``sqlite_utils.Database`` that
:func:`amiga_analytics.connect` returns) and keyword-only filters, and returns a DataFrame whose columns are
listed in its docstring, in that order, with fixed dtypes: counts ``int64``, money ``float64`` USD, rates
``float64`` in [0, 1] or NaN, times timezone-aware ``datetime64[us, <report tz>]``, names pandas ``str`` (NULL →
NaN). Values keep full precision; rounding belongs to presentation (:func:`run_named` rounds its ``table``
output only).

Windows
    ``since`` is inclusive, ``until`` exclusive. Both accept a date, an ISO string, a ``datetime``, a pandas
    ``Timestamp`` or ``7d`` / ``4w`` (that many days / weeks ago, at midnight). Naive values and bare dates are
    read in the *report timezone* of the database (:func:`amiga_analytics.db.report_tz`); aware values are
    honoured. A window whose bounds fall on local midnight is answered from the daily rollup ``tool_daily`` (its
    ``day`` column); any other bound is answered from ``tool_calls`` filtered on ``started_at`` (indexed), so
    ``since="2025-10-06T08:00"`` really means 08:00.

Periods
    ``freq`` is a pandas offset alias of a day or longer: ``D``, ``W-MON`` (weeks starting Monday; ``W-SUN``
    starts them on Sunday; a bare ``W`` means ``W-MON``), ``MS``, ``QS``, ``YS``, optionally with a multiple (``2D``). A period starts on the
    anchor on or before its first day, in the report timezone, and ``period_start`` is that local midnight as a
    timezone-aware timestamp. Every period between the window's first and last day appears, with zero counts if
    nothing happened; an unbounded side of the window ends at the first / last day that has data. With a ``by``
    column every group seen in the window appears in every period (zero rows included), in the same order as in
    the totals, so the frame pivots cleanly and sums over periods equal the totals.

Groups
    ``by`` names one column (each function lists the ones it accepts) or ``None`` for one total row. A NULL
    group value (an unresolved model, a CLI-session call with no task, a failure with no category) is its own
    group, shown as NaN and sorted last.

Aggregation runs in SQLite (the rollup, or indexed ``tool_calls`` / ``tasks`` / ``router_messages`` with SQL
``GROUP BY``); pandas only reshapes small per-day frames. The SQL of every figure lives in
:mod:`amiga_analytics.store.figures`, shared with the daily rollup and the Datasette canned queries.

Modules: :mod:`.periods` (windows, periods, options), :mod:`.frames` (dtypes, spreading over periods),
:mod:`.columns` (the documented columns), :mod:`.tools`, :mod:`.calls` and :mod:`.tasks` (the query functions),
:mod:`.registry` (:data:`QUERIES` and running one by name). The ``query`` command's text output lives in
:mod:`amiga_analytics.cli_output`.
"""

from __future__ import annotations

from typing import Any

# The SQL measure fragments and group keys of 0.1 are defined once in store/ now (the SQL templates moved there
# too, with a {where} condition slot: amiga_analytics.store.figures); these names stay importable from here.
from ..store.measures import (  # noqa: F401
    CALLS_KEYS,
    COST_CALLS_MEASURES,
    COST_DAILY_MEASURES,
    DAILY_KEYS,
    OUTCOME_CALLS_MEASURES,
    OUTCOME_DAILY_MEASURES,
)
from ..store.percentiles import LATENCY_QUANTILES as QUANTILES  # noqa: F401
from .calls import file_activity, subagent_usage, top_errors
from .columns import (  # noqa: F401 - the documented columns, importable from here as in 0.1
    CACHE_SAVINGS_BY,
    CACHE_SAVINGS_MEASURES,
    DATA_QUALITY_COLUMNS,
    DEFAULT_LIMIT,
    ERROR_RATE_MEASURES,
    ERROR_RATES_BY,
    FILE_ACTIVITY_COLUMNS,
    FLOAT,
    INT,
    LATENCY_BY,
    LATENCY_MEASURES,
    ROUTER_USAGE_MEASURES,
    STR,
    SUBAGENT_COLUMNS,
    TASK_COST_COLUMNS,
    TASKS_PER_USER_COLUMNS,
    THROUGHPUT_COLUMNS,
    TIME,
    TOOL_COST_BY,
    TOOL_COST_MEASURES,
    TOP_ERRORS_COLUMNS,
)
from .periods import DB, Bound  # noqa: F401
from .registry import QUERIES, query_function, run_query  # noqa: F401
from .tasks import (
    data_quality,
    router_usage,
    task_cost,
    task_throughput,
    tasks_per_user,
)
from .tools import cache_savings, error_rates, latency, tool_cost
from .usage import transcript_coverage, transcript_gaps, usage

__all__ = [
    "QUERIES",
    "cache_savings",
    "data_quality",
    "error_rates",
    "file_activity",
    "latency",
    "router_usage",
    "run_named",
    "subagent_usage",
    "task_cost",
    "task_throughput",
    "tasks_per_user",
    "tool_cost",
    "usage",
    "top_errors",
    "transcript_coverage",
    "transcript_gaps",
]

# The query command's text output moved to amiga_analytics.cli_output (the layer above); the 0.1 names stay
# importable from here, loaded on first use so that this stage imports nothing above it.
_CLI_OUTPUT = ("run_named", "format_frame", "FORMATS")


def __getattr__(name: str) -> Any:
    if name not in _CLI_OUTPUT:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    from .. import cli_output

    value = getattr(cli_output, name)
    globals()[name] = value
    return value
