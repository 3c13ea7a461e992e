"""``duration_buckets``: how many known durations of each tool and day fall in each duration bucket, written by
the sync; and the percentiles over any period that it gives by look-ups.

A bucket holds the durations whose whole milliseconds have the same two leading digits: one bucket a millisecond
below 100 ms, then 100–109.99…, 110–119.99…, …, 1,000–1,099.99…, (90 buckets a decade). ``bucket`` is that
leading value (a monotone function of the duration, so the durations of one bucket are a contiguous range of
values, and buckets sort as their durations do); a row keeps the bucket's ``calls`` of that tool and day and their
smallest and largest duration.

The percentiles of a tool over a period (numpy's linear method, exactly, as :mod:`.percentiles`) then need no
ranking of the period's calls: the counts of the period's days are added per bucket (one pass over the rollup in
primary-key order), a running sum finds the bucket that holds each needed rank and the rank within it, and only
the period's calls of those buckets (a range of the ``(tool_name, duration_ms, day)`` index) are ranked. On a
million calls that is about a hundred buckets of a few thousand calls, whatever the period's length.

The sync rebuilds the buckets of exactly the days whose rollups it rebuilds (``load/ranks.py``), so an incremental
sync leaves the table equal to a full one. Migration m009 creates and fills it for an existing database.

>>> import sqlite3
>>> conn = sqlite3.connect(":memory:")
>>> [conn.execute(f"SELECT {bucket_of('d')} FROM (SELECT ? AS d)", (d,)).fetchone()[0]
...  for d in (0.4, 8.9, 99.99, 100.0, 109.9, 1234.5)]
[0, 8, 99, 100, 100, 1200]
"""

from __future__ import annotations

CREATE_SQL = """CREATE TABLE IF NOT EXISTS duration_buckets (
  bot TEXT NOT NULL DEFAULT 'main',
  tool_name TEXT NOT NULL,
  bucket INTEGER NOT NULL,
  day TEXT NOT NULL,
  calls INTEGER NOT NULL,
  min_ms REAL NOT NULL,
  max_ms REAL NOT NULL,
  PRIMARY KEY (bot, tool_name, bucket, day)
) WITHOUT ROWID"""


def bucket_of(duration: str) -> str:
    """The bucket of a duration (ms): its whole milliseconds truncated to two leading digits, in SQL."""
    whole = f"CAST({duration} AS INTEGER)"
    return (f"CAST(substr({whole}, 1, 2) || substr('000000000000000000', 1, MAX(length({whole}) - 2, 0)) "
            "AS INTEGER)")


_FILL_SQL = f"""INSERT INTO duration_buckets (bot, tool_name, bucket, day, calls, min_ms, max_ms)
SELECT bot, tool_name, {bucket_of("duration_ms")} AS bucket, day, COUNT(*), MIN(duration_ms), MAX(duration_ms)
FROM tool_calls
WHERE duration_ms IS NOT NULL AND tool_name IS NOT NULL AND day IS NOT NULL {{and_days}}
GROUP BY bot, tool_name, bucket, day"""

_DAYS = "IN (SELECT value FROM json_each(:days))"

DELETE_DAYS_SQL = "DELETE FROM duration_buckets WHERE day " + _DAYS
DELETE_ALL_SQL = "DELETE FROM duration_buckets"
FILL_DAYS_SQL = _FILL_SQL.format(and_days="AND day " + _DAYS)
FILL_ALL_SQL = _FILL_SQL.format(and_days="")

PERCENTILES_CTE = """bucket_day_sums AS (  -- summed in primary-key order (no sort of the period's rows), then over the bots
  SELECT tool_name AS k, bucket, SUM(calls) AS calls, MIN(min_ms) AS min_ms, MAX(max_ms) AS max_ms
  FROM (SELECT tool_name, bucket, SUM(calls) AS calls, MIN(min_ms) AS min_ms, MAX(max_ms) AS max_ms
        FROM duration_buckets
        WHERE {where}
        GROUP BY bot, tool_name, bucket)
  GROUP BY tool_name, bucket
), bucket_sums AS (  -- and the buckets of the calls of part of a day (edge_where), counted from the calls
  SELECT k, bucket, SUM(calls) AS calls, MIN(min_ms) AS min_ms, MAX(max_ms) AS max_ms
  FROM (SELECT k, bucket, calls, min_ms, max_ms FROM bucket_day_sums
        UNION ALL
        SELECT tool_name, {bucket}, COUNT(*), MIN(duration_ms), MAX(duration_ms)
        FROM tool_calls
        WHERE duration_ms IS NOT NULL AND +tool_name IS NOT NULL AND {edge_where}
        GROUP BY 1, 2)
  GROUP BY k, bucket
), bucket_runs AS (
  SELECT k, bucket, calls, min_ms, max_ms,
         SUM(calls) OVER (PARTITION BY k ORDER BY bucket) - calls AS before,
         SUM(calls) OVER (PARTITION BY k) AS n
  FROM bucket_sums
), bucket_quantiles(name, q) AS (
  VALUES {quantile_rows}
), bucket_positions AS (
  SELECT k, n, name, q, CAST((n - 1) * q AS INTEGER) AS lo, MIN(CAST((n - 1) * q AS INTEGER) + 1, n - 1) AS hi
  FROM (SELECT DISTINCT k, n FROM bucket_runs) CROSS JOIN bucket_quantiles
), bucket_wanted(k, r) AS (
  SELECT k, lo FROM bucket_positions UNION SELECT k, hi FROM bucket_positions
), bucket_located AS (
  SELECT wanted.k, wanted.r, runs.bucket, runs.min_ms, runs.max_ms, wanted.r - runs.before AS j
  FROM bucket_wanted AS wanted
  JOIN bucket_runs AS runs ON runs.k = wanted.k AND wanted.r >= runs.before AND wanted.r < runs.before + runs.calls
), bucket_slices AS (
  SELECT DISTINCT k, bucket, min_ms, max_ms FROM bucket_located
), bucket_ranked AS (
  SELECT slices.k, slices.bucket, calls.duration_ms AS v,
         ROW_NUMBER() OVER (PARTITION BY slices.k, slices.bucket ORDER BY calls.duration_ms) - 1 AS j
  FROM bucket_slices AS slices
  CROSS JOIN tool_calls AS calls
  WHERE calls.tool_name = slices.k AND calls.duration_ms >= slices.min_ms AND calls.duration_ms <= slices.max_ms
        AND {calls_where}
), bucket_values AS (
  SELECT located.k, located.r, ranked.v
  FROM bucket_located AS located
  JOIN bucket_ranked AS ranked ON ranked.k = located.k AND ranked.bucket = located.bucket AND ranked.j = located.j
), bucket_bounds AS (
  SELECT positions.k, positions.name, (positions.n - 1) * positions.q - positions.lo AS t,
         MAX(CASE WHEN found.r = positions.lo THEN found.v END) AS lo,
         MAX(CASE WHEN found.r = positions.hi THEN found.v END) AS hi
  FROM bucket_positions AS positions
  JOIN bucket_values AS found ON found.k = positions.k
  GROUP BY positions.k, positions.name
), {name} AS (
  SELECT k, name, CASE WHEN t >= 0.5 THEN hi - (hi - lo) * (1 - t) ELSE lo + (hi - lo) * t END AS value
  FROM bucket_bounds
)"""


def percentiles_cte(*, where: str, calls_where: str, quantiles: tuple[tuple[str, float], ...],
                    name: str = "percentiles", edge_where: str = "0") -> str:
    """CTEs ending in ``percentiles(k, name, value)``: per tool (``k``), the percentiles of the durations of the
    days that ``where`` keeps (a condition on ``day`` of the rollup). ``calls_where`` is the same condition on the
    calls (``calls.day``; write it ``+calls.day`` so that SQLite reads the duration index, not the day index).
    ``edge_where`` adds calls of days ``where`` leaves out (a condition on ``tool_calls``: the partial days of a
    period with a time of day), counted into buckets from the calls; ``calls_where`` must then keep them too.
    ``name`` renames the last CTE. Every slot is filled from constants, never from user input."""
    return PERCENTILES_CTE.format(where=where, calls_where=calls_where,
                                  quantile_rows=", ".join(f"('{n}', {q!r})" for n, q in quantiles), name=name,
                                  edge_where=edge_where, bucket=bucket_of("duration_ms"))


# The table as migration m009 built it, before m011 counted each bot's calls apart (m011 rebuilds it).
M009_CREATE_SQL = """CREATE TABLE IF NOT EXISTS duration_buckets (
  tool_name TEXT NOT NULL,
  bucket INTEGER NOT NULL,
  day TEXT NOT NULL,
  calls INTEGER NOT NULL,
  min_ms REAL NOT NULL,
  max_ms REAL NOT NULL,
  PRIMARY KEY (tool_name, bucket, day)
) WITHOUT ROWID"""
M009_FILL_ALL_SQL = f"""INSERT INTO duration_buckets (tool_name, bucket, day, calls, min_ms, max_ms)
SELECT tool_name, {bucket_of("duration_ms")} AS bucket, day, COUNT(*), MIN(duration_ms), MAX(duration_ms)
FROM tool_calls
WHERE duration_ms IS NOT NULL AND tool_name IS NOT NULL AND day IS NOT NULL
GROUP BY tool_name, bucket, day"""
