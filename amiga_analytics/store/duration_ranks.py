"""``duration_ranks``: the rank of every known duration within its tool and day, written by the sync.

One row per call with a duration: ``(bot, tool_name, day, rank)`` (rank 0 = the day's shortest call of that bot's tool) and
its ``duration_ms``. A per-day percentile of a tool then needs two primary-key look-ups per quantile instead of
ranking the day's calls by window at query time (the cost of the whole-history ``daily_latency`` canned query).
Ties are ranked by ``call_id``; equal durations have equal values, so any order of ties gives the same percentile.

``duration_ranks_by_agent`` does the same for the dashboard's model and agent-type filters: the rank of every
known duration within its tool, day, model id and agent type (``''`` for NULL, as ``tool_daily``), and again
within its tool, day and model id of any agent type (``agent_type = '*'``) and within its tool, day and agent type
of any model (``model_id = '*'``): three rows a call, so that ``daily_latency`` under any combination of the two
filters looks its ranks up too (:func:`group_key` gives the group of a filter's value).

The sync rebuilds the ranks of exactly the days whose rollups it rebuilds (``load/ranks.py``), so an incremental
sync leaves the tables equal to a full one. Migrations m008 and m012 create and fill them for an existing database.
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

BY_AGENT_CREATE_SQL = """CREATE TABLE IF NOT EXISTS duration_ranks_by_agent (
  bot TEXT NOT NULL DEFAULT 'main',
  tool_name TEXT NOT NULL,
  day TEXT NOT NULL,
  model_id TEXT NOT NULL,
  agent_type TEXT NOT NULL,
  rank INTEGER NOT NULL,
  duration_ms REAL NOT NULL,
  PRIMARY KEY (bot, tool_name, day, model_id, agent_type, rank)
) WITHOUT ROWID"""

ANY = "*"
"""The ``model_id`` / ``agent_type`` of a group that takes every model / agent type (no model id or agent type is
``*``)."""

_MODEL, _AGENT = "COALESCE(model_id, '')", "COALESCE(agent_type, '')"
_GROUPINGS = ((_MODEL, _AGENT), (_MODEL, f"'{ANY}'"), (f"'{ANY}'", _AGENT))

_BY_AGENT_FILL_SQL = ("INSERT INTO duration_ranks_by_agent (bot, tool_name, day, model_id, agent_type, rank, "
                      "duration_ms)\n") + "\nUNION ALL\n".join(f"""SELECT bot, tool_name, day, {model}, {agent},
       ROW_NUMBER() OVER (PARTITION BY bot, tool_name, day, {model}, {agent} ORDER BY duration_ms, call_id) - 1,
       duration_ms
FROM tool_calls
WHERE duration_ms IS NOT NULL AND tool_name IS NOT NULL AND day IS NOT NULL {{and_days}}""" for model, agent in _GROUPINGS)

BY_AGENT_DELETE_DAYS_SQL = "DELETE FROM duration_ranks_by_agent WHERE day " + _DAYS
BY_AGENT_DELETE_ALL_SQL = "DELETE FROM duration_ranks_by_agent"
BY_AGENT_FILL_DAYS_SQL = _BY_AGENT_FILL_SQL.format(and_days="AND day " + _DAYS)
BY_AGENT_FILL_ALL_SQL = _BY_AGENT_FILL_SQL.format(and_days="")


def group_key(value: str) -> str:
    """SQL for the ``model_id`` (or ``agent_type``) of the group that a filter's ``value`` (``''``: all) picks."""
    return f"CASE WHEN {value} = '' THEN '{ANY}' ELSE {value} END"
