"""The SQL of every figure, once. The query functions (:mod:`amiga_analytics.queries`), the daily rollup
(:mod:`amiga_analytics.load.sync`) and the Datasette canned queries (:mod:`amiga_analytics.web.canned`) are all
built from this module, :mod:`.measures` (the tool-call measures and the rollup) and :mod:`.percentiles`.

Every template takes a ``{where}`` slot: a condition on the table's day or time columns (``"1"`` for none). The
query functions fill it with their window's conditions (``day >= :since_day``, or ``started_at >= :since_at``
for a window that does not fall on day bounds), the canned queries with their ``:since`` / ``:until`` period.
Other slots (``{limit}``, keys) are filled from constants only; values always travel as named ``:params``.
Columns a caller does not show (the canned queries' extra ``tasks`` or ``description``) are dropped by it.
"""

from __future__ import annotations

from .measures import (  # noqa: F401 - re-exported: the figures' one namespace
    CALL_MEASURES_SQL,
    CALLS_KEYS,
    COST,
    COST_CALLS_MEASURES,
    COST_DAILY_MEASURES,
    DAILY_KEYS,
    DURATION,
    OUTCOME,
    OUTCOME_CALLS_MEASURES,
    OUTCOME_DAILY_MEASURES,
    ROLLUP_SQL,
    error_rate,
    grouped_sql,
    select_list,
)
from .percentiles import LATENCY_QUANTILES, percentiles_cte, pivot
from .schema import FAILURE_GROUPS_INDEX

FINISHED = "status IN ('completed', 'failed', 'stopped')"
"""A task that reached a final status."""
FINISHED_TASKS = f"finished_day IS NOT NULL AND {FINISHED}"
"""The tasks whose cycle times a period holds: finished (on a known day)."""

TASKS_CREATED_SQL = """SELECT created_day AS day, COUNT(*) AS created
FROM tasks
WHERE created_day IS NOT NULL AND {where}
GROUP BY created_day"""
TASKS_FINISHED_SQL = f"""SELECT finished_day AS day,
       COALESCE(SUM(status = 'completed'), 0) AS completed,
       COALESCE(SUM(status = 'failed'), 0) AS failed,
       COALESCE(SUM(status = 'stopped'), 0) AS stopped
FROM tasks
WHERE finished_day IS NOT NULL AND {FINISHED} AND {{where}}
GROUP BY finished_day"""
TASK_CYCLES_SQL = f"""SELECT finished_day AS day, cycle_s
FROM tasks
WHERE {FINISHED_TASKS} AND cycle_s IS NOT NULL AND {{where}}"""
CYCLE_QUANTILES = (("median_cycle_s", 0.5), ("p90_cycle_s", 0.9))

# A task none of whose tokens is priced has no cost (NULL), never $0.
TASK_COST_SQL = """SELECT task_id, status, model_id, agent_type, created_at, cycle_s, calls, input_tokens,
       output_tokens, cache_write_tokens, cache_read_tokens, NULLIF(cost_usd, 0) AS cost_usd, unpriced_tokens, cost_transcript_usd,
       cost_bot_usd, description, bot
FROM tasks
WHERE {where}
ORDER BY cost_usd DESC, task_id, bot
LIMIT {limit}"""

# Failures grouped by tool and error template (load/templates.py: computed at sync time from the masked error
# text). The bot's category is a key as well, so that a group never mixes two categories (it is a substring test
# on the same text, so a template almost always has one). example_error is the group's latest text, masked.
# Both groupings read the failures in the order of the partial index schema.FAILURE_GROUPS_INDEX (keyed by these
# very expressions, covering every column), so neither sorts nor looks up the failures of a long period: ``{calls}``
# is FAILURES_BY_GROUP where the index exists (SQLite's planner, without statistics, prefers a day index and sorts).
FAILURES_BY_GROUP = f"tool_calls INDEXED BY {FAILURE_GROUPS_INDEX}"

TOP_ERRORS_SQL = """WITH groups AS (
  SELECT tool_name, error_template, NULLIF(error_category, '') AS error_category, COUNT(*) AS count,
         COUNT(DISTINCT task_id) AS tasks, MIN(started_at) AS first_seen, MAX(started_at) AS last_seen
  FROM {calls}
  WHERE outcome = 'failure' AND {where}
  GROUP BY tool_name, error_template, NULLIF(error_category, '')
), latest AS (
  -- SQLite: with a single MAX(), the bare column comes from the row that holds the maximum
  SELECT tool_name, error_template, NULLIF(error_category, '') AS error_category, MAX(started_at) AS at, error
  FROM {calls}
  WHERE outcome = 'failure' AND error IS NOT NULL AND {where}
  GROUP BY tool_name, error_template, NULLIF(error_category, '')
)
SELECT g.tool_name, g.error_template, g.error_category, g.count,
       CAST(g.count AS REAL) / (SELECT SUM(count) FROM groups) AS share,
       latest.error AS example_error, g.first_seen, g.last_seen, g.tasks
FROM groups g
LEFT JOIN latest ON latest.tool_name IS g.tool_name AND latest.error_template IS g.error_template
  AND latest.error_category IS g.error_category
ORDER BY g.count DESC, g.tool_name, g.error_template IS NULL, g.error_template, g.error_category IS NULL,
         g.error_category
LIMIT {limit}"""

LATENCY_SQL = """WITH counts AS (
  SELECT {key_expr} AS k,
         {measures}
  FROM {table}
  WHERE {where}{group_by}
), {percentiles}
SELECT counts.k AS {key}, counts.calls, counts.calls_with_duration,
       {pivot},
       counts.mean_ms
FROM counts
LEFT JOIN percentiles ON percentiles.k IS counts.k
GROUP BY counts.k{order_by}"""


def latency_sql(*, key: str, key_expr: str | None, table: str, where: str, calls_where: str,
                order_by: str = "") -> str:
    """Counts, mean and percentiles of the call durations per group (``key_expr`` None: one total row).

    The counts and mean come from ``table`` (``tool_daily`` or ``tool_calls``) under ``where``; the percentiles
    rank the durations of ``tool_calls`` under ``calls_where``.
    """
    source = "daily" if table == "tool_daily" else "calls"
    return LATENCY_SQL.format(
        key_expr=key_expr or "NULL",
        measures=select_list({k: v for k, v in DURATION.items()}, source, indent=9),
        table=table,
        where=where,
        group_by=f"\n  GROUP BY {key_expr}" if key_expr else "",
        percentiles=percentiles_cte(key=key_expr or "NULL", value="duration_ms", source="tool_calls",
                                    where=calls_where, quantiles=LATENCY_QUANTILES),
        key=key,
        pivot=pivot(LATENCY_QUANTILES),
        order_by=f"\nORDER BY {order_by}" if order_by else "",
    )


# Cached tokens per group, day and model, for pricing them (load.pricing.PriceBook holds the price-on-a-day rule).
CACHE_USAGE_SQL = """SELECT {keys}day AS day, {model} AS price_model,
       COALESCE(SUM(cache_read_tokens), 0) AS cache_read_tokens,
       COALESCE(SUM(cache_write_tokens), 0) AS cache_write_tokens
FROM {table}
WHERE {where}
GROUP BY {group_keys}day, price_model
HAVING SUM(cache_read_tokens) > 0 OR SUM(cache_write_tokens) > 0"""
MODEL_PRICES_SQL = """SELECT model_id, effective_from, input_usd_per_mtok, output_usd_per_mtok,
       cache_write_5m_usd_per_mtok, cache_write_1h_usd_per_mtok, cache_read_usd_per_mtok, source
FROM model_prices
ORDER BY model_id, effective_from"""

SUBAGENT_USAGE_SQL = """SELECT subagent_type, COUNT(*) AS calls,
       COALESCE(SUM(outcome = 'failure'), 0) AS failed,
       COALESCE(SUM(outcome = 'unknown'), 0) AS unknown,
       COALESCE(SUM(input_tokens), 0) AS input_tokens,
       COALESCE(SUM(output_tokens), 0) AS output_tokens,
       NULLIF(TOTAL(cost_usd), 0) AS cost_usd
FROM tool_calls
WHERE tool_name = 'Task' AND {where}
GROUP BY subagent_type
ORDER BY cost_usd DESC, calls DESC, subagent_type IS NULL, subagent_type"""

FILE_ACTIVITY_SQL = """SELECT file_path,
       COALESCE(SUM(tool_name = 'Read'), 0) AS reads,
       COALESCE(SUM(tool_name IN ('Edit', 'MultiEdit', 'NotebookEdit')), 0) AS edits,
       COALESCE(SUM(tool_name = 'Write'), 0) AS writes,
       COUNT(*) AS calls,
       COALESCE(SUM(outcome = 'failure'), 0) AS failed
FROM tool_calls
WHERE file_path IS NOT NULL AND tool_name IN ('Read', 'Write', 'Edit', 'MultiEdit', 'NotebookEdit') AND {where}
GROUP BY file_path
ORDER BY calls DESC, file_path
LIMIT {limit}"""

TASKS_PER_USER_SQL = """WITH t AS (
    SELECT user_ref, COUNT(*) AS tasks,
           COALESCE(SUM(status = 'completed'), 0) AS completed,
           COALESCE(SUM(status = 'failed'), 0) AS failed,
           COALESCE(SUM(status = 'stopped'), 0) AS stopped,
           TOTAL(cost_usd) AS cost_usd
    FROM tasks WHERE {task_where}
    GROUP BY user_ref
), m AS (
    SELECT user_ref, COUNT(*) AS router_messages, TOTAL(cost_usd) AS router_cost_usd
    FROM router_messages WHERE {message_where}
    GROUP BY user_ref
), u AS (
    SELECT user_ref FROM t UNION SELECT user_ref FROM m
)
SELECT u.user_ref, COALESCE(t.tasks, 0) AS tasks, COALESCE(t.completed, 0) AS completed,
       COALESCE(t.failed, 0) AS failed, COALESCE(t.stopped, 0) AS stopped, NULLIF(t.cost_usd, 0) AS cost_usd,
       COALESCE(m.router_messages, 0) AS router_messages, COALESCE(m.router_cost_usd, 0.0) AS router_cost_usd
FROM u LEFT JOIN t ON t.user_ref IS u.user_ref LEFT JOIN m ON m.user_ref IS u.user_ref
ORDER BY tasks DESC, COALESCE(cost_usd, 0) DESC, router_messages DESC, u.user_ref IS NULL, u.user_ref"""

DATA_QUALITY_SQL = """SELECT data_quality.check_name, data_quality.value, data_quality.detail, data_quality.sync_id,
       syncs.finished_at AS measured_at, data_quality.bot
FROM data_quality
LEFT JOIN syncs ON syncs.sync_id = data_quality.sync_id AND syncs.bot = data_quality.bot
WHERE data_quality.sync_id = (SELECT MAX(latest.sync_id) FROM data_quality AS latest WHERE latest.bot = data_quality.bot)
  AND {where}
ORDER BY data_quality.bot, data_quality.rowid"""

ROUTER_USAGE_MEASURES = """COUNT(*) AS messages,
       COALESCE(SUM(role = 'assistant'), 0) AS assistant_messages,
       COALESCE(SUM(created_task), 0) AS tasks_created,
       COALESCE(SUM(input_tokens), 0) AS input_tokens,
       COALESCE(SUM(output_tokens), 0) AS output_tokens,
       NULLIF(TOTAL(cost_usd), 0) AS cost_usd,
       COALESCE(SUM(unpriced_tokens), 0) AS unpriced_tokens"""

# The days that hold data (report timezone): what an empty answer reports as the range the data covers.
DATA_RANGE_SQL = """SELECT MIN(d), MAX(d) FROM (
    SELECT MIN(day) AS d FROM tool_daily UNION ALL SELECT MAX(day) FROM tool_daily
    UNION ALL SELECT MIN(created_day) FROM tasks UNION ALL SELECT MAX(COALESCE(finished_day, created_day)) FROM tasks
)"""
