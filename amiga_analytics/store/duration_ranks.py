"""``duration_ranks``: the rank of every known duration within its tool and day, written by the sync.

One row per call with a duration: ``(bot, tool_name, day, rank)`` (rank 0 = the day's shortest call of that bot's tool) and
its ``duration_ms``. A per-day percentile of a tool then needs two primary-key look-ups per quantile instead of
ranking the day's calls by window at query time (the cost of the whole-history ``daily_latency`` canned query).
Ties are ranked by ``call_id``; equal durations have equal values, so any order of ties gives the same percentile.

The sync rebuilds the ranks of exactly the days whose rollups it rebuilds (:func:`rebuild_sql`), so an incremental
sync leaves the table equal to a full one. Migration m008 creates and fills it for an existing database.
"""

from __future__ import annotations

CREATE_SQL = """CREATE TABLE IF NOT EXISTS duration_ranks (
  bot TEXT NOT NULL DEFAULT 'main',
  tool_name TEXT NOT NULL,
  day TEXT NOT NULL,
  rank INTEGER NOT NULL,
  duration_ms REAL NOT NULL,
  PRIMARY KEY (bot, tool_name, day, rank)
) WITHOUT ROWID"""

_FILL_SQL = """INSERT INTO duration_ranks (bot, tool_name, day, rank, duration_ms)
SELECT bot, tool_name, day, ROW_NUMBER() OVER (PARTITION BY bot, tool_name, day ORDER BY duration_ms, call_id) - 1,
       duration_ms
FROM tool_calls
WHERE duration_ms IS NOT NULL AND tool_name IS NOT NULL AND day IS NOT NULL {and_days}"""

_DAYS = "IN (SELECT value FROM json_each(:days))"

DELETE_DAYS_SQL = "DELETE FROM duration_ranks WHERE day " + _DAYS
DELETE_ALL_SQL = "DELETE FROM duration_ranks"
FILL_DAYS_SQL = _FILL_SQL.format(and_days="AND day " + _DAYS)
FILL_ALL_SQL = _FILL_SQL.format(and_days="")

# The table as migration m008 built it, before m011 put each bot's calls in ranks of their own (m011 rebuilds it).
M008_CREATE_SQL = """CREATE TABLE IF NOT EXISTS duration_ranks (
  tool_name TEXT NOT NULL,
  day TEXT NOT NULL,
  rank INTEGER NOT NULL,
  duration_ms REAL NOT NULL,
  PRIMARY KEY (tool_name, day, rank)
) WITHOUT ROWID"""
M008_FILL_ALL_SQL = """INSERT INTO duration_ranks (tool_name, day, rank, duration_ms)
SELECT tool_name, day, ROW_NUMBER() OVER (PARTITION BY tool_name, day ORDER BY duration_ms, call_id) - 1,
       duration_ms
FROM tool_calls
WHERE duration_ms IS NOT NULL AND tool_name IS NOT NULL AND day IS NOT NULL """
