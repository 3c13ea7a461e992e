"""The Datasette canned queries, built from the figures' SQL in :mod:`amiga_analytics.store.figures`.

Each canned query equals a query function call (named in its description; ``tests/test_datasette.py`` checks
the rows): the measures, groupings, top errors, task cost and percentiles are the very SQL the query functions
run. What only the browser needs is added here: the period filter on two ``YYYY-MM-DD`` dates (``:since``
inclusive, ``:until`` exclusive, empty = open), the SQL ``ORDER BY`` (the query functions sort in pandas), the
zero-filled days of the per-day queries (pandas spreads periods in Python) and the two shares of
``error_rates_by_category``.
"""

from __future__ import annotations

from typing import Any

from ..store import figures
from ..store.percentiles import pivot


def period(column: str) -> str:
    """The period filter on a ``YYYY-MM-DD`` column: ``:since`` inclusive, ``:until`` exclusive, '' = open.

    Any date string is ``>= ''``, and ``'9999-12-31'`` stands in for an empty ``:until``, so the filter stays a
    plain range that SQLite can answer from the day indexes.

    >>> period("day")
    "day >= :since AND day < COALESCE(NULLIF(:until, ''), '9999-12-31')"
    """
    return f"{column} >= :since AND {column} < COALESCE(NULLIF(:until, ''), '9999-12-31')"


def _indent(text: str, extra: int) -> str:
    return "\n".join(" " * extra + line for line in text.splitlines())


# Every day from the first to the last of the period appears, with zeros when nothing happened; an open side of
# the period ends at the first / last day with data (as the query functions' freq="D").
DAYS_CTE = """\
bounds AS (
  SELECT first_day,
         COALESCE(date(NULLIF(:until, ''), '-1 day'),
                  CASE WHEN last_data_day > first_day THEN last_data_day ELSE first_day END) AS last_day
  FROM (SELECT COALESCE(NULLIF(:since, ''), MIN(day), date(NULLIF(:until, ''), '-1 day')) AS first_day,
               MAX(day) AS last_data_day
        FROM {activity})
), days(day) AS (
  SELECT first_day FROM bounds WHERE first_day <= last_day
  UNION ALL
  SELECT date(days.day, '+1 day') FROM days, bounds WHERE days.day < bounds.last_day
)"""

COST_PER_DAY_SQL = """\
WITH per_day AS (
{per_day}
), {days}
SELECT days.day,
       {zero_filled}
FROM days LEFT JOIN per_day ON per_day.day = days.day
ORDER BY days.day"""

ERROR_CATEGORIES_SQL = """\
WITH by_category AS (
{by_category}
), totals AS (
  SELECT SUM(failed) AS failed, SUM(completed) AS completed FROM by_category
)
SELECT by_category.*,
       CAST(by_category.failed AS REAL) / NULLIF(totals.failed, 0) AS share_of_failures,
       CAST(by_category.failed AS REAL) / NULLIF(totals.completed, 0) AS share_of_completed
FROM by_category, totals
ORDER BY by_category.failed DESC, by_category.calls DESC, by_category.error_category IS NULL,
         by_category.error_category"""

TASK_THROUGHPUT_SQL = """\
WITH created AS (
{created}
), finished AS (
{finished}
), {percentiles}, cycles AS (
  SELECT k AS day,
         {cycles}
  FROM percentiles
  GROUP BY k
), activity AS (
  SELECT day FROM created UNION SELECT day FROM finished
), {days}
SELECT days.day,
       COALESCE(created.created, 0) AS created,
       COALESCE(finished.completed, 0) AS completed,
       COALESCE(finished.failed, 0) AS failed,
       COALESCE(finished.stopped, 0) AS stopped,
       COALESCE(finished.completed + finished.failed + finished.stopped, 0) AS finished,
       CAST(finished.completed AS REAL) / NULLIF(finished.completed + finished.failed, 0) AS success_rate,
       cycles.median_cycle_s,
       cycles.p90_cycle_s
FROM days
LEFT JOIN created ON created.day = days.day
LEFT JOIN finished ON finished.day = days.day
LEFT JOIN cycles ON cycles.day = days.day
ORDER BY days.day"""

TOP_N = "50"
"""Rows of the top-N canned queries (a constant: a ``:limit`` would become a form field)."""

COST_ORDER = "cost_usd DESC, calls DESC"
FAILURES_ORDER = "failed DESC, calls DESC"


def _grouped(key: str, measures: str, order: str) -> str:
    """Totals over the period per group of the rollup; the NULL group sorts last."""
    key_expr = figures.DAILY_KEYS[key]
    return figures.grouped_sql("tool_daily", {key: key_expr}, measures, period("day"),
                               order_by=f"{order}, {key_expr} IS NULL, {key_expr}")


OUTCOME_WITH_RATE = figures.OUTCOME_DAILY_MEASURES + ",\n       " + figures.error_rate("daily") + " AS error_rate"


def cost_per_day_sql() -> str:
    per_day = figures.grouped_sql("tool_daily", {"day": "day"}, figures.COST_DAILY_MEASURES, period("day"))
    zero_filled = ",\n       ".join(
        # the cost stays NULL (unpriced, or an idle day: no token priced), never $0; its witness shares are 0
        f"per_day.{name} AS {name}" if name == "cost_usd" else f"COALESCE(per_day.{name}, 0) AS {name}"
        for name in figures.COST
    )
    return COST_PER_DAY_SQL.format(per_day=_indent(per_day, 2), days=DAYS_CTE.format(activity="per_day"),
                                   zero_filled=zero_filled)


def error_categories_sql() -> str:
    by_category = figures.grouped_sql("tool_daily", {"error_category": figures.DAILY_KEYS["error_category"]},
                                      OUTCOME_WITH_RATE, period("day"))
    return ERROR_CATEGORIES_SQL.format(by_category=_indent(by_category, 2))


def task_throughput_sql() -> str:
    return TASK_THROUGHPUT_SQL.format(
        created=_indent(figures.TASKS_CREATED_SQL.format(where=period("created_day")), 2),
        finished=_indent(figures.TASKS_FINISHED_SQL.format(where=period("finished_day")), 2),
        percentiles=figures.percentiles_cte(key="finished_day", value="cycle_s", source="tasks",
                                            where=f"{figures.FINISHED_TASKS} AND {period('finished_day')}",
                                            quantiles=figures.CYCLE_QUANTILES),
        cycles=pivot(figures.CYCLE_QUANTILES, indent=9),
        days=DAYS_CTE.format(activity="activity"),
    )


def latency_sql() -> str:
    # `+day` keeps SQLite on the (tool_name, duration_ms, day) index that serve adds rather than the day index,
    # which would read every row of a long period through the table.
    return figures.latency_sql(key="tool_name", key_expr="tool_name", table="tool_daily", where=period("day"),
                               calls_where=period("+day"), order_by="counts.calls DESC, counts.k")


#: The canned queries: title, description (naming the query function each equals), SQL.
QUERIES: dict[str, dict[str, Any]] = {
    "cost_per_day": {
        "title": "Cost per day",
        "description": "Tool calls, tokens and cost (USD) per day in the report timezone, every day of the period "
        "(zeros included). Tokens no price covers are counted in unpriced_tokens, never priced at $0. "
        "= tool_cost(by=None, freq='D').",
        "sql": cost_per_day_sql(),
    },
    "tool_cost_by_tool": {
        "title": "Tool cost by tool",
        "description": "Calls, tokens and cost (USD) per tool over the period, most expensive first. "
        "= tool_cost(by='tool_name').",
        "sql": _grouped("tool_name", figures.COST_DAILY_MEASURES, COST_ORDER),
    },
    "tool_cost_by_model": {
        "title": "Tool cost by model",
        "description": "Calls, tokens and cost (USD) per resolved model id over the period, most expensive first "
        "(model_id empty: calls whose model could not be resolved, such as interactive CLI sessions). "
        "= tool_cost(by='model_id').",
        "sql": _grouped("model_id", figures.COST_DAILY_MEASURES, COST_ORDER),
    },
    "error_rates_by_tool": {
        "title": "Error rate by tool",
        "description": "error_rate = failed / completed, where completed = success + failure; calls with an "
        "unknown outcome (never completed) are counted in unknown and left out of the rate. Most failures "
        "first. = error_rates(by='tool_name').",
        "sql": _grouped("tool_name", OUTCOME_WITH_RATE, FAILURES_ORDER),
    },
    "error_rates_by_category": {
        "title": "Errors by category",
        "description": "Calls per error category over the period (the empty category holds the calls that did "
        "not fail), with each category's share of all failures and of all completed calls (its part of the "
        "overall error rate). = error_rates(by='error_category'), plus the two shares.",
        "sql": error_categories_sql(),
    },
    "task_throughput": {
        "title": "Tasks per day",
        "description": "Tasks created per day, and tasks that reached completed, failed or stopped that day "
        "(finished = their sum); success_rate = completed / (completed + failed); median and 90th-percentile "
        "cycle time (created to finished, s) of the tasks finished that day. = task_throughput(freq='D').",
        "sql": task_throughput_sql(),
        "hide_sql": True,
    },
    "top_errors": {
        "title": "Top errors",
        "description": "The 50 most frequent failures over the period by tool and error template (the error "
        "text with paths, URLs, quoted values, ids, tokens and numbers replaced), with the bot's category, the "
        "group's share of all failures, its latest error text (secrets masked), when it was first and last seen "
        "(UTC) and how many tasks it hit. = top_errors(limit=50).",
        "sql": figures.TOP_ERRORS_SQL.format(where=period("day"), limit=TOP_N),
    },
    "most_expensive_tasks": {
        "title": "Most expensive tasks",
        "description": "The 50 tasks created in the period with the highest cost of their tool calls (USD). "
        "= task_cost(limit=50).",
        "sql": figures.TASK_COST_SQL.format(where=period("created_day"), limit=TOP_N),
    },
    "latency_by_tool": {
        "title": "Latency percentiles per tool",
        "description": "Duration of tool calls per tool (ms, start of the call to its completion, hook latency "
        "included): median, 90th and 99th percentile (linear interpolation) and mean over the calls with a "
        "known duration in the period. = latency(by='tool_name').",
        "sql": latency_sql(),
        "hide_sql": True,
    },
    "data_quality_latest": {
        "title": "Data quality of the last sync",
        "description": "How far to trust the figures: the checks the last sync measured (rows merged, calls "
        "with an unknown outcome, unpriced tokens, secrets masked, ...). = data_quality().",
        "sql": figures.DATA_QUALITY_SQL,
    },
}

PERIOD_PARAMS = ["since", "until"]
"""The period parameters, in the order the form shows them."""
