"""The Datasette canned queries, built from the figures' SQL in :mod:`amiga_analytics.store.figures`.

Each canned query equals a query function call (named in its description; ``tests/test_datasette.py`` checks
the rows): the measures, groupings, top errors, task cost and percentiles are the very SQL the query functions
run. What only the browser needs is added here: the checked period (:mod:`.periods`: ``:since`` inclusive,
``:until`` exclusive, empty = open; a bad value stops the query with an error saying what to give), the
optional filters of the dashboard (``:tool``, ``:model``, ``:agent_type``; and ``:bot`` on the period queries, for a
store of several bots), the SQL ``ORDER BY`` (the query functions sort in pandas), the
zero-filled days of the per-day queries (pandas spreads periods in Python) and the two shares of
``error_rates_by_category``.
"""

from __future__ import annotations

from typing import Any

from ..store import duration_buckets, figures
from ..store import view_figures as vf
from ..store.percentiles import pivot
from .periods import OPEN_UNTIL, by_day_or_edges, edges, either, exact, matches, period, with_period  # noqa: F401


def _indent(text: str, extra: int) -> str:
    return "\n".join(" " * extra + line for line in text.splitlines())


# Every day from the first to the last of the period appears, with zeros when nothing happened; an open side of
# the period ends at the first / last day with data (as the query functions' freq="D").
DAYS_CTE = """\
bounds AS (
  SELECT first_day,
         COALESCE(date((SELECT until_or_null FROM period), '-1 day'),
                  CASE WHEN last_data_day > first_day THEN last_data_day ELSE first_day END) AS last_day
  FROM (SELECT COALESCE((SELECT since_or_null FROM period), MIN(day),
                        date((SELECT until_or_null FROM period), '-1 day')) AS first_day,
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


#: The ``:bot`` filter of the canned queries (empty: all bots added up), on a table's ``bot`` column.
BOT = {"bot": "bot"}


ALL = "1"


def _rollup(keys: dict[str, str], measures: str, columns: dict[str, str]) -> str:
    """The period's sums per group of the rollup (:func:`.periods.either`), under the filters on ``columns``."""
    return either(figures.grouped_sql("{daily}", keys, measures, "{where}"), filtered(ALL, columns))


def _grouped(key: str, measures: str, order: str) -> str:
    """Totals over the period per group of the rollup; the NULL group sorts last."""
    key_expr = figures.DAILY_KEYS[key]
    return (f"SELECT * FROM (\n{_rollup({key: key_expr}, measures, BOT)}\n)\n"
            f"ORDER BY {order}, {key_expr} IS NULL, {key_expr}")


OUTCOME_WITH_RATE = figures.OUTCOME_DAILY_MEASURES + ",\n       " + figures.error_rate("daily") + " AS error_rate"


def cost_per_day_sql() -> str:
    per_day = _rollup({"day": "day"}, figures.COST_DAILY_MEASURES, BOT)
    zero_filled = ",\n       ".join(
        # the cost stays NULL (unpriced, or an idle day: no token priced), never $0; its witness shares are 0
        f"per_day.{name} AS {name}" if name == "cost_usd" else f"COALESCE(per_day.{name}, 0) AS {name}"
        for name in figures.COST
    )
    return COST_PER_DAY_SQL.format(per_day=_indent(per_day, 2), days=DAYS_CTE.format(activity="per_day"),
                                   zero_filled=zero_filled)


def error_categories_sql() -> str:
    by_category = _rollup({"error_category": figures.DAILY_KEYS["error_category"]}, OUTCOME_WITH_RATE, BOT)
    return ERROR_CATEGORIES_SQL.format(by_category=_indent(by_category, 2))


def filtered(where: str, columns: dict[str, str]) -> str:
    """``where`` and the dashboard's filters on ``columns`` (filter name → column expression)."""
    return " AND ".join([where] + [matches(name, column) for name, column in columns.items()])


#: The period on the tasks' own times (exact for any bound; the day columns narrow it to the days it touches).
CREATED = exact("created_day", "created_at")
FINISHED = exact("finished_day", "finished_at")
#: The period on the calls' start.
STARTED = exact("day", "started_at")


def task_throughput_sql() -> str:
    tasks = vf.TASKS_FILTER_COLUMNS | BOT
    return TASK_THROUGHPUT_SQL.format(
        created=_indent(figures.TASKS_CREATED_SQL.format(where=filtered(CREATED, tasks)), 2),
        finished=_indent(figures.TASKS_FINISHED_SQL.format(where=filtered(FINISHED, tasks)), 2),
        percentiles=figures.percentiles_cte(key="finished_day", value="cycle_s", source="tasks",
                                            where=filtered(f"{figures.FINISHED_TASKS} AND {FINISHED}", tasks),
                                            quantiles=figures.CYCLE_QUANTILES),
        cycles=pivot(figures.CYCLE_QUANTILES, indent=9),
        days=DAYS_CTE.format(activity="activity"),
    )


#: The period is the whole history (no since, no until) of one bot (the checked ``:bot`` filter's, else the store's
#: only one): latency_by_tool reads the sync's ``latency_totals`` of that bot.
BOT_FILTER = "(SELECT bot FROM filters)"
TOTALS_BOT = f"COALESCE(NULLIF({BOT_FILTER}, ''), {vf.SOLE_BOT_SQL})"
WHOLE_HISTORY = ("(SELECT since_day FROM period) = '' AND (SELECT until_end FROM period) = '9999-12-31' "
                 f"AND {TOTALS_BOT} IS NOT NULL")


def latency_sql() -> str:
    """latency(by='tool_name'): the percentiles from the per-day duration buckets
    (:mod:`amiga_analytics.store.duration_buckets`), the counts and means from the rollup; over the whole history
    the same SQL's answer, written by the sync (``latency_totals``)."""
    partial = f"NOT ({WHOLE_HISTORY})"
    in_period = by_day_or_edges("+calls.day", "+calls.started_at")  # whole days: the duration index alone
    buckets = duration_buckets.percentiles_cte(where=f"{filtered(period('day'), BOT)} AND {partial}",
                                               calls_where=filtered(in_period, {"bot": "calls.bot"}),
                                               edge_where=filtered(f"{edges('started_at')} AND +day IS NOT NULL", BOT),
                                               quantiles=figures.LATENCY_QUANTILES)
    measures = figures.select_list(figures.DURATION, "daily", indent=7)
    return vf.latency_by_tool_sql(
        measures=measures, where="", percentiles=buckets,
        counts=either(vf.LATENCY_COUNTS_SQL.replace("{measures}", measures), f"{filtered(ALL, BOT)} AND {partial}"),
        pivot=pivot(figures.LATENCY_QUANTILES, indent=9),
        whole=WHOLE_HISTORY, totals_bot=TOTALS_BOT,
    )


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
    },
    "top_errors": {
        "title": "Top errors",
        "description": "The 50 most frequent failures over the period by tool and error template (the error "
        "text with paths, URLs, quoted values, ids, tokens and numbers replaced), with the bot's category, the "
        "group's share of all failures, its latest error text (secrets masked), when it was first and last seen "
        "(UTC) and how many tasks it hit. = top_errors(limit=50).",
        "sql": figures.TOP_ERRORS_SQL.format(calls=figures.FAILURES_BY_GROUP, limit=TOP_N,
                                             where=filtered(STARTED, vf.CALLS_FILTER_COLUMNS | BOT)),
    },
    "most_expensive_tasks": {
        "title": "Most expensive tasks",
        "description": "The 50 tasks created in the period with the highest cost of their tool calls (USD). "
        "= task_cost(limit=50).",
        "sql": figures.TASK_COST_SQL.format(where=filtered(CREATED, vf.TASKS_FILTER_COLUMNS | BOT),
                                            limit=TOP_N),
    },
    "latency_by_tool": {
        "title": "Latency percentiles per tool",
        "description": "Duration of tool calls per tool (ms, start of the call to its completion, hook latency "
        "included): median, 90th and 99th percentile (linear interpolation) and mean over the calls with a "
        "known duration in the period. = latency(by='tool_name').",
        "sql": latency_sql(),
    },
    "data_quality_latest": {
        "title": "Data quality of the last sync",
        "description": "How far to trust the figures: the checks the last sync measured (rows merged, calls "
        "with an unknown outcome, unpriced tokens, secrets masked, ...). = data_quality().",
        "sql": figures.DATA_QUALITY_SQL.format(where="1"),
    },
}

PERIOD_PARAMS = ["since", "until"]
"""The period parameters, in the order the form shows them."""

DASHBOARD_NOTE = (" Takes the dashboard's filters: tool, model (a model id), agent_type, bot (a store of several "
                  "bots); empty = all.")


def daily_cost_by_model_sql() -> str:
    return vf.DAILY_COST_BY_MODEL_SQL.format(picked=either(vf.DAILY_COST_PICKED_SQL,
                                                           filtered(ALL, vf.DAILY_FILTER_COLUMNS)))


def daily_calls_sql() -> str:
    per_day = either(vf.DAILY_OUTCOMES_SQL, filtered(ALL, vf.DAILY_FILTER_COLUMNS))
    zero_filled = ",\n       ".join(f"COALESCE(per_day.{name}, 0) AS {name}"
                                    for name in ("calls", "completed", "failed", "unknown"))
    return DAILY_CALLS_SQL.format(per_day=_indent(per_day, 2), days=DAYS_CTE.format(activity="per_day"),
                                  zero_filled=zero_filled)


DAILY_CALLS_SQL = """\
WITH per_day AS (
{per_day}
), {days}
SELECT days.day,
       {zero_filled},
       per_day.error_rate
FROM days LEFT JOIN per_day ON per_day.day = days.day
ORDER BY days.day"""


def daily_latency_sql() -> str:
    calls_filters = {k: v for k, v in vf.CALLS_FILTER_COLUMNS.items() if k != "tool"}
    return vf.daily_latency_sql("",
                                filtered(exact("+day", "+started_at"), calls_filters),
                                "(SELECT model FROM filters)", "(SELECT agent_type FROM filters)", BOT_FILTER,
                                counts=either(vf.DAILY_LATENCY_COUNTS_SQL, filtered(ALL, vf.DAILY_FILTER_COLUMNS)),
                                edges=edges("started_at"), edge_where=filtered(ALL, calls_filters),
                                whole=period("needed.day"))


#: The period as the calls' start (UTC, as stored; NULL: open), for the dashboard's links to the rows of a period.
PERIOD_COLUMNS = ("NULLIF((SELECT since_at FROM period), '') AS period_from,\n       "
                  f"NULLIF((SELECT until_at FROM period), '{OPEN_UNTIL}') AS period_until")


def key_figures_sql() -> str:
    tasks = vf.TASKS_FILTER_COLUMNS
    return vf.KEY_FIGURES_SQL.format(
        calls=either(vf.KEY_FIGURES_CALLS_SQL, filtered(ALL, vf.DAILY_FILTER_COLUMNS)),
        period_columns=PERIOD_COLUMNS,
        created_where=filtered(CREATED, tasks),
        finished_where=filtered(f"{figures.FINISHED_TASKS} AND {FINISHED}", tasks),
        bot_where=filtered("1", BOT), bots=vf.STORE_BOTS_SQL,
    )


#: The dashboard's queries: its key figures (the page itself) and the per-day series its charts draw.
DASHBOARD_QUERIES: dict[str, dict[str, Any]] = {
    "dashboard": {
        "title": "Dashboard",
        "description": "The morning view: key figures of the period (calls, cost, error rate, tasks and their "
        "success rate, how fresh the data is) and the charts of the period." + DASHBOARD_NOTE,
        "sql": key_figures_sql(),
    },
    "daily_cost_by_model": {
        "title": "Cost per day by model",
        "description": "Calls and cost (USD) per day and model; the models beyond what one chart holds are added "
        "up as 'other models', unresolved ones as '(unresolved)'." + DASHBOARD_NOTE,
        "sql": daily_cost_by_model_sql(),
    },
    "daily_calls": {
        "title": "Calls and error rate per day",
        "description": "Tool calls per day (zeros included), completed (success + failure), failed, unknown and "
        "error_rate = failed / completed." + DASHBOARD_NOTE,
        "sql": daily_calls_sql(),
    },
    "daily_latency": {
        "title": "Latency per tool and day",
        "description": "Median, 95th percentile (linear interpolation) and mean duration (ms) of the calls of "
        "each day, for the most used tools of the period: five up to 120 days, fewer for longer periods (one for "
        "a year, to stay fast); pick any tool with the tool filter." + DASHBOARD_NOTE,
        "sql": daily_latency_sql(),
    },
}
QUERIES.update(DASHBOARD_QUERIES)
for _spec in QUERIES.values():  # the checked period (and filters) in front; SQL collapsed on every page
    if "FROM period" in _spec["sql"]:
        _spec["sql"] = with_period(_spec["sql"], times=True)
    _spec["hide_sql"] = True
