"""The SQL of the figures only the dashboard shows: cost per day by model, calls and error rate per day, latency
percentiles per tool and day, and the key figures of a period. Each read of the rollup is a template of its own
(``DAILY_COST_PICKED_SQL``, ``DAILY_OUTCOMES_SQL``, ``DAILY_LATENCY_COUNTS_SQL``, ``KEY_FIGURES_CALLS_SQL``,
``LATENCY_COUNTS_SQL``) with a ``{daily}`` slot (``tool_daily``, or the canned queries' ``period_daily`` for a
period with a time of day: web/periods.py, ``either``) and a ``{where}`` slot over it; the others take
``{calls_where}`` over ``tool_calls`` / ``{task_where}`` over ``tasks``. The canned queries fill them with their
checked period and filters.

A chart reads at most one page of rows (Datasette's ``max_returned_rows``, 1,000): the per-day figures with a
category (model, tool) keep the most important categories that fit, :data:`CHART_ROWS` ÷ days, at most
:data:`MAX_SERIES`, and add the rest up as ``other models``. Latency keeps :data:`LATENCY_ROWS` ÷ days tools
(five up to 120 days, one for a year), leaves the others out, and takes any one with the tool filter.

Latency percentiles per tool and day are numpy's linear percentiles: the durations at the needed ranks are
looked up in ``duration_ranks`` (written by the sync), or, under a model or agent-type filter, in
``duration_ranks_by_agent`` (the ranks within each tool, day, model id and agent type, and within each tool, day
and one of the two); the number of each (tool, day) comes from the rollup.
"""

from __future__ import annotations

from .duration_buckets import percentiles_cte as bucket_percentiles_cte
from .duration_ranks import group_key
from .measures import COST, DAILY_KEYS, DURATION, OUTCOME_DAILY_MEASURES, error_rate, select_list
from .percentiles import LATENCY_QUANTILES as TOOL_LATENCY_QUANTILES
from .percentiles import pivot

#: A cost no price covers is NULL, never $0 (the rule of ``measures.COST``), per model-day and over a period.
_COST = COST["cost_usd"].daily

CHART_ROWS = 1000
LATENCY_ROWS = 600  # (tool, day) rows of daily_latency: chosen when it ranked the calls (~1 µs each) at query time
MAX_SERIES = 5
_SERIES = f"MAX(1, MIN({MAX_SERIES}, {{budget}} / MAX(1, {{days}})))"  # {days}: the number of days with rows

#: One row per day and model: what the ranking and the labels of DAILY_COST_BY_MODEL_SQL read (its ``{picked}``).
DAILY_COST_PICKED_SQL = """SELECT day, model_id, SUM(calls) AS calls, TOTAL(cost_usd) AS cost_usd, SUM(unpriced_tokens) AS unpriced_tokens
FROM {daily}
WHERE {where}
GROUP BY day, model_id"""

DAILY_COST_BY_MODEL_SQL = f"""WITH picked AS (
{{picked}}
), models AS (
  SELECT model_id, ROW_NUMBER() OVER (ORDER BY TOTAL(cost_usd) DESC, SUM(calls) DESC, model_id) AS rank
  FROM picked
  GROUP BY model_id
), labelled AS (
  SELECT picked.day,
         CASE WHEN models.rank < {_SERIES.format(days="(SELECT COUNT(DISTINCT day) FROM picked)", budget=CHART_ROWS)}
                   OR (SELECT COUNT(*) FROM models) <= {MAX_SERIES}
              THEN COALESCE(NULLIF(picked.model_id, ''), '(unresolved)') ELSE 'other models' END AS model_id,
         picked.calls, picked.cost_usd, picked.unpriced_tokens
  FROM picked JOIN models ON models.model_id = picked.model_id
)
SELECT day, model_id, SUM(calls) AS calls, {_COST} AS cost_usd, SUM(unpriced_tokens) AS unpriced_tokens
FROM labelled
GROUP BY day, model_id
ORDER BY day, cost_usd DESC, model_id"""

DAILY_OUTCOMES_SQL = f"""SELECT day,
       {OUTCOME_DAILY_MEASURES},
       {error_rate("daily")} AS error_rate
FROM {{daily}}
WHERE {{where}}
GROUP BY day"""


LATENCY_QUANTILES = (("p50_ms", 0.5), ("p95_ms", 0.95))

#: The calls with a duration and their sum per day and tool (DAILY_LATENCY_SQL's ``{counts}``).
DAILY_LATENCY_COUNTS_SQL = """SELECT day, tool_name, SUM(duration_count) AS n, TOTAL(duration_sum_ms) AS sum_ms
FROM {daily}
WHERE {where}
GROUP BY day, tool_name
HAVING SUM(duration_count) > 0"""

DAILY_LATENCY_SQL = """WITH counts AS (
{counts}
), shown AS (  -- the most used tools' rows (counts read once: SQLite copies a CTE per reference)
  SELECT day, tool_name, n, sum_ms
  FROM (SELECT day, tool_name, n, sum_ms, DENSE_RANK() OVER (ORDER BY tool_n DESC, tool_name) AS rank,
               MAX(day_rank) OVER () AS days
        FROM (SELECT day, tool_name, n, sum_ms, SUM(n) OVER (PARTITION BY tool_name) AS tool_n,
                     DENSE_RANK() OVER (ORDER BY day) AS day_rank
              FROM counts))
  WHERE rank <= {series}
), ranked AS (
  SELECT tool_name, day, duration_ms AS v,
         ROW_NUMBER() OVER (PARTITION BY tool_name, day ORDER BY duration_ms) - 1 AS i
  FROM tool_calls
  WHERE tool_name IN (SELECT tool_name FROM shown WHERE NOT ({sole})) AND duration_ms IS NOT NULL
        AND {calls_where}
  UNION ALL  -- the edges of the period (partial days) of a one-bot store: their calls ranked, few
  SELECT tool_name, day, duration_ms,
         ROW_NUMBER() OVER (PARTITION BY tool_name, day ORDER BY duration_ms) - 1
  FROM tool_calls
  WHERE {edges} AND +tool_name IN (SELECT tool_name FROM shown WHERE {sole}) AND duration_ms IS NOT NULL
        AND {edge_where}
), needed(tool_name, day, i, n, sum_ms) AS (  -- shown read once: SQLite copies a CTE per reference
  {needed}
), picked AS (
  SELECT needed.day, needed.tool_name, needed.n, needed.sum_ms, ranked.i, ranked.v
  FROM ranked JOIN needed ON needed.tool_name = ranked.tool_name AND needed.day = ranked.day
                         AND needed.i = ranked.i
  UNION ALL
  SELECT needed.day, needed.tool_name, needed.n, needed.sum_ms, needed.i, ranks.duration_ms AS v
  FROM needed
  JOIN duration_ranks AS ranks ON ranks.bot = {sole_bot} AND ranks.tool_name = needed.tool_name
                              AND ranks.day = needed.day AND ranks.rank = needed.i
  WHERE {all_calls} AND {whole}
  UNION ALL
  SELECT needed.day, needed.tool_name, needed.n, needed.sum_ms, needed.i, ranks.duration_ms
  FROM needed
  JOIN duration_ranks_by_agent AS ranks ON ranks.bot = {sole_bot} AND ranks.tool_name = needed.tool_name
                                       AND ranks.day = needed.day AND ranks.model_id = {model_group}
                                       AND ranks.agent_type = {agent_group} AND ranks.rank = needed.i
  WHERE {by_agent} AND {whole}
)
SELECT day, tool_name, n AS calls_with_duration,
       {interpolated},
       sum_ms / n AS mean_ms
FROM picked
GROUP BY day, tool_name
ORDER BY day, tool_name"""


def _interpolated() -> str:
    """numpy's rounding-safe linear interpolation between the values at the two ranks around each position."""
    out = []
    for name, q in LATENCY_QUANTILES:
        pos = f"(n - 1) * {q!r}"
        lo_rank = f"CAST({pos} AS INTEGER)"
        t = f"({pos} - {lo_rank})"
        lo = f"MAX(CASE WHEN i = {lo_rank} THEN v END)"
        hi = f"MAX(CASE WHEN i = MIN({lo_rank} + 1, n - 1) THEN v END)"
        out.append(f"CASE WHEN {t} >= 0.5 THEN {hi} - ({hi} - {lo}) * (1 - {t})\n"
                   f"            ELSE {lo} + ({hi} - {lo}) * {t} END AS {name}")
    return ",\n       ".join(out)


def _needed() -> str:
    """The ranks each (tool, day) of ``shown`` needs: lo and lo + 1 of every quantile (with its n and sum_ms)."""
    offsets = " UNION ALL ".join(f"SELECT {q!r} AS q, {d} AS d" for _, q in LATENCY_QUANTILES for d in (0, 1))
    return ("SELECT DISTINCT shown.tool_name, shown.day, CAST((shown.n - 1) * offsets.q AS INTEGER) + offsets.d,\n"
            f"         shown.n, shown.sum_ms\n  FROM shown, ({offsets}) AS offsets")


def daily_latency_sql(where: str, calls_where: str, model: str, agent_type: str, bot: str = "''", *,
                      counts: str | None = None, edges: str = "0", edge_where: str = "1", whole: str = "1") -> str:
    """p50 / p95 / mean duration per day of the most used tools (ms), of the calls that ``where`` keeps (over
    ``tool_daily``) with the filters' values ``model`` and ``agent_type`` (SQL; ``''`` for all).

    Ranks are looked up, never computed: without a model or agent-type filter in ``duration_ranks``, else in
    ``duration_ranks_by_agent``'s group of the two values (:mod:`.duration_ranks`), the same ranks of the same
    durations as ranking the filtered calls. The ranks are per bot, so they answer a store that holds one bot
    (:data:`SOLE_BOT_SQL`) or the one bot of the filter's value ``bot`` (SQL; ``''`` for all); the calls of
    several bots (``calls_where``: the period and filters on ``tool_calls``) are ranked by window. ``counts``
    replaces the read of ``tool_daily`` under ``where`` (:data:`DAILY_LATENCY_COUNTS_SQL` over another rollup). A
    period with partial days gives their calls by ``edges`` (a condition on ``tool_calls``, with the filters
    ``edge_where``), ranked by window, and ``whole``, the condition on ``needed.day`` of the days whose ranks are
    looked up."""
    sole_bot = f"COALESCE(NULLIF({bot}, ''), {SOLE_BOT_SQL})"
    sole = f"{sole_bot} IS NOT NULL"
    plain = f"{model} = '' AND {agent_type} = ''"
    counts = counts or DAILY_LATENCY_COUNTS_SQL.format(daily="tool_daily", where=where)
    return DAILY_LATENCY_SQL.format(counts=counts, edges=edges, edge_where=edge_where, whole=whole,
                                    series=_SERIES.format(days="days", budget=LATENCY_ROWS),
                                    calls_where=calls_where, needed=_needed(), interpolated=_interpolated(),
                                    sole=sole, all_calls=f"{sole} AND {plain}", by_agent=f"{sole} AND NOT ({plain})",
                                    sole_bot=sole_bot, model_group=group_key(model),
                                    agent_group=group_key(agent_type))


#: The name of the store's one bot ('main' for a store synced without --bot), or NULL when it holds several
#: (the registry of ``sync --bot``, ``sync_state`` key ``bots``: see load/bots.py).
SOLE_BOT_SQL = """(SELECT CASE WHEN COUNT(*) = 1 THEN MIN(key) END
 FROM json_each(COALESCE((SELECT value FROM sync_state WHERE key = 'bots'), '{"main": {}}')))"""
#: The store's bots by name, comma-separated and sorted (the registry's keys; "main" for a store without --bot).
STORE_BOTS_SQL = """(SELECT group_concat(key, ',') FROM (SELECT key
 FROM json_each(COALESCE((SELECT value FROM sync_state WHERE key = 'bots'), '{"main": {}}')) ORDER BY key))"""


#: The calls' key figures over the rollup (KEY_FIGURES_SQL's ``{calls}``): one row.
KEY_FIGURES_CALLS_SQL = f"""SELECT {OUTCOME_DAILY_MEASURES},
       {_COST} AS cost_usd,
       {error_rate("daily")} AS error_rate,
       MIN(day) AS first_day, MAX(day) AS last_day
FROM {{daily}}
WHERE {{where}}"""

KEY_FIGURES_SQL = """WITH calls AS (
{calls}
), created AS (
  SELECT COUNT(*) AS tasks FROM tasks WHERE {created_where}
), finished AS (
  SELECT COALESCE(SUM(status = 'completed'), 0) AS completed, COALESCE(SUM(status = 'failed'), 0) AS failed
  FROM tasks WHERE {finished_where}
)
SELECT calls.first_day, calls.last_day, calls.calls, calls.cost_usd, calls.failed, calls.completed,
       calls.error_rate, created.tasks AS tasks_created, finished.completed AS tasks_completed,
       finished.failed AS tasks_failed,
       CAST(finished.completed AS REAL) / NULLIF(finished.completed + finished.failed, 0) AS task_success_rate,
       (SELECT MAX(started_at) FROM tool_calls  -- in the bot's last day: walking the started_at index back to an
        WHERE day = (SELECT MAX(day) FROM tool_daily WHERE {bot_where})  -- older bot's rows read them all
          AND {bot_where}) AS data_through,
       (SELECT MAX(finished_at) FROM syncs WHERE {bot_where}) AS synced_at,
       {bots} AS bots,
       {period_columns}
FROM calls, created, finished"""

#: The group keys the filters compare on ``tool_daily`` ('' for NULL) and on the nullable ``tool_calls`` columns.
DAILY_FILTER_COLUMNS = {"tool": "tool_name", "model": "model_id", "agent_type": "agent_type", "bot": "bot"}
CALLS_FILTER_COLUMNS = {"tool": "tool_name", "model": "COALESCE(model_id, '')",
                        "agent_type": "COALESCE(agent_type, '')", "bot": "bot"}
TASKS_FILTER_COLUMNS = {"model": "COALESCE(model_id, '')", "agent_type": "COALESCE(agent_type, '')", "bot": "bot"}
assert set(DAILY_KEYS) >= {"tool_name", "model_id", "agent_type"}


# --- latency per tool over any period, without ranking every call ------------------------------------------------
#
# Ranking all the calls of a year (ROW_NUMBER over every duration) costs most of a second. The canned
# latency_by_tool reads instead the per-day duration buckets the sync writes (:mod:`.duration_buckets`): it adds
# their counts over the period, finds the bucket of each rank its percentiles need and ranks only the period's calls
# of those buckets. It gives numpy's linear percentiles exactly, over any period. The whole history (no period:
# the page as it opens) is the same SQL's answer, written by the sync into ``latency_totals`` at the end of every
# sync (a function of the calls, so an incremental sync writes what a full one does) and read back as it is.

LATENCY_COUNTS_SQL = """SELECT tool_name AS k,
       {measures}
FROM {daily}
WHERE {where}
GROUP BY tool_name"""

LATENCY_BY_TOOL_SQL = """WITH counts AS (
{counts}
), {percentiles}, computed AS (
  SELECT counts.k AS tool_name, counts.calls, counts.calls_with_duration,
         {pivot},
         counts.mean_ms
  FROM counts
  LEFT JOIN percentiles ON percentiles.k IS counts.k
  GROUP BY counts.k
)
SELECT * FROM computed{cached}
ORDER BY calls DESC, tool_name"""

LATENCY_TOTALS_CREATE_SQL = """CREATE TABLE IF NOT EXISTS latency_totals (
  bot TEXT NOT NULL DEFAULT 'main',
  tool_name TEXT,
  calls INTEGER NOT NULL,
  calls_with_duration INTEGER NOT NULL,
  p50_ms REAL,
  p90_ms REAL,
  p99_ms REAL,
  mean_ms REAL
)"""
LATENCY_TOTALS_COLUMNS = "tool_name, calls, calls_with_duration, p50_ms, p90_ms, p99_ms, mean_ms"
LATENCY_TOTALS_DELETE_SQL = "DELETE FROM latency_totals"


def latency_by_tool_sql(*, measures: str, where: str, percentiles: str, pivot: str, whole: str | None = None,
                        totals_bot: str = "'main'", counts: str | None = None) -> str:
    """Calls, calls with a duration, the percentiles and the mean duration per tool (ms) of the period ``where``
    keeps (``percentiles``: the CTEs of :func:`.duration_buckets.percentiles_cte` over the same period). With
    ``whole``, a constant condition true when the period is the whole history, that case reads ``latency_totals``
    of the bot ``totals_bot`` (SQL)
    (the ``where``/``percentiles`` must then be false for it, so nothing else is computed)."""
    cached = "" if whole is None else (f"\nUNION ALL\nSELECT {LATENCY_TOTALS_COLUMNS} FROM latency_totals "
                                       f"WHERE {whole} AND bot = {totals_bot}")
    counts = counts or LATENCY_COUNTS_SQL.format(measures=measures, daily="tool_daily", where=where)
    return LATENCY_BY_TOOL_SQL.format(counts=counts, percentiles=percentiles, pivot=pivot, cached=cached)


LATENCY_TOTALS_FILL_SQL = f"""INSERT INTO latency_totals ({LATENCY_TOTALS_COLUMNS})
SELECT {LATENCY_TOTALS_COLUMNS} FROM (
{latency_by_tool_sql(measures=select_list(DURATION, "daily", indent=9), where="1",
                     percentiles=bucket_percentiles_cte(where="1", calls_where="1", quantiles=TOOL_LATENCY_QUANTILES),
                     pivot=pivot(TOOL_LATENCY_QUANTILES, indent=9))}
)"""
"""The whole history's latency per tool, as the canned ``latency_by_tool`` computes it for any period."""
