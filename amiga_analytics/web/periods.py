"""The checked parameters of the canned queries: the period (``:since`` / ``:until``), the dashboard filters
(``:tool``, ``:model``, ``:agent_type``) and the bot (``:bot``), in plain SQL so that the plain ``datasette -m
metadata.yml`` command checks them exactly as ``amiga-analytics serve`` does.

A period bound is empty (open), a date ``YYYY-MM-DD`` or an ISO date-time at midnight (``2025-10-20T00:00``,
``2025-10-20 00:00:00.000``), read in the report timezone as the Python API reads it
(:func:`amiga_analytics.timeutil.parse_bound`): ``2025-10-20`` and ``2025-10-20T00:00`` give the same figures.
The view answers whole days of the report timezone (its figures read the daily rollups), so a time other than
midnight, an offset (``+02:00``, ``Z``), a relative period (``7d``) or anything else stops the query with an error
that says what to give: Datasette shows it on the page and answers JSON with 400. The error is raised in SQL by
``json_extract('{}', <message>)``, whose "JSON path error near '<message>'" carries the message.

A filter is empty (everything) or a value the rollup holds (an unknown tool is an error, never an empty page).

>>> import sqlite3
>>> conn = sqlite3.connect(":memory:")
>>> sql = with_period("SELECT since_day, until_end FROM period")
>>> conn.execute(sql, {"since": "2025-10-20T00:00", "until": ""}).fetchone()
('2025-10-20', '9999-12-31')
>>> conn.execute(sql, {"since": "last week", "until": ""}).fetchone()
Traceback (most recent call last):
...
sqlite3.OperationalError: JSON path error near 'since: "last week" is not a date: give YYYY-MM-DD or a time at midnight such as 2025-10-20T00:00 (report timezone), or leave it empty'
"""

from __future__ import annotations

#: The parameters the canned queries may take, in the order their forms show them.
PARAMS = ("since", "until", "tool", "model", "agent_type", "bot")

_BAD_DATE = ("'{name}: \"' || {v} || '\" is not a date: give YYYY-MM-DD or a time at midnight such as "
             "2025-10-20T00:00 (report timezone), or leave it empty'")
_NOT_MIDNIGHT = ("'{name}: ' || {v} || ' is not a whole day: the view counts whole days of the report timezone, "
                 "so give a date (until is exclusive: until=2025-10-27 includes the 26th), or use "
                 "amiga-analytics query for part of a day'")


def _bound(name: str) -> str:
    """The day of one bound ('' when empty), or an error for anything but a date or a midnight date-time."""
    v = f"given.{name}"
    day = f"substr({v}, 1, 10)"
    clock = f"substr({v}, 12)"
    return f"""CASE WHEN {v} = '' THEN ''
              WHEN {v} GLOB '[0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9]*'
                   AND date({day}, '+0 days') = {day}
                   AND (length({v}) = 10
                        OR (substr({v}, 11, 1) IN ('T', ' ') AND {clock} GLOB '[0-9][0-9]:[0-9][0-9]*'
                            AND {clock} NOT GLOB '*[^0-9:.]*' AND datetime({v}) IS NOT NULL))
              THEN CASE WHEN {clock} NOT GLOB '*[1-9]*' THEN {day}
                        ELSE json_extract('{{}}', {_NOT_MIDNIGHT.format(name=name, v=v)}) END
              ELSE json_extract('{{}}', {_BAD_DATE.format(name=name, v=v)}) END"""


PERIOD_CTE = f"""period_days AS (
  SELECT {_bound("since")} AS since_day,
         {_bound("until")} AS until_day
  FROM (SELECT trim(COALESCE(:since, '')) AS since, trim(COALESCE(:until, '')) AS until) AS given
), period AS (
  SELECT since_day,
         CASE WHEN until_day <> '' AND since_day > until_day
              THEN json_extract('{{}}', 'since ' || since_day || ' is after until ' || until_day
                                        || ': since is the first day included, until the first one excluded')
              ELSE COALESCE(NULLIF(until_day, ''), '9999-12-31') END AS until_end,
         NULLIF(since_day, '') AS since_or_null,
         NULLIF(until_day, '') AS until_or_null
  FROM period_days
)"""
"""``period``: one row, ``since_day`` ('' when open), ``until_end`` (exclusive; '9999-12-31' when open) and the two
bounds as NULL when open; any bad bound raises."""

# A filter: '' (everything) or a value some rollup row holds (tool_daily keeps '' for a NULL model / agent type).
_FILTER = """CASE WHEN trim(COALESCE(:{name}, '')) = '' THEN ''
              WHEN EXISTS (SELECT 1 FROM tool_daily WHERE {column} = trim(:{name})) THEN trim(:{name})
              ELSE json_extract('{{}}', '{name}: "' || :{name} || '" is not {what} of this database: '
                                        || 'leave it empty for all, or pick one from the {source} facet') END"""

FILTERS = {
    "tool": ("tool_name", "a tool", "tool_daily tool_name"),
    "model": ("model_id", "a model id", "tool_daily model_id"),
    "agent_type": ("agent_type", "an agent type", "tasks agent_type"),
    "bot": ("bot", "a bot", "tool_daily bot"),  # a store of several bots (sync --bot)
}



def filter_cte(names: list[str]) -> str:
    """``filters``: one row, a column per filter in ``names``: '' for all, else the checked value."""
    return "filters AS (\n  SELECT " + ",\n         ".join(
        _FILTER.format(name=name, column=FILTERS[name][0], what=FILTERS[name][1], source=FILTERS[name][2])
        + f" AS {name}" for name in names
    ) + "\n)"


def period(column: str) -> str:
    """The period filter on a ``YYYY-MM-DD`` column: ``since`` inclusive, ``until`` exclusive, empty = open.

    A range on constants (the ``period`` row), so SQLite answers it from the day indexes.

    >>> period("day")
    'day >= (SELECT since_day FROM period) AND day < (SELECT until_end FROM period)'
    """
    return f"{column} >= (SELECT since_day FROM period) AND {column} < (SELECT until_end FROM period)"


def matches(filter_name: str, column: str) -> str:
    """``column`` equals the filter's value, or the filter is empty. ``column`` holds '' for NULL (the rollup);
    wrap a nullable column in ``COALESCE(column, '')``."""
    value = f"(SELECT {filter_name} FROM filters)"
    return f"({value} = '' OR {column} = {value})"


def with_ctes(sql: str, *ctes: str) -> str:
    """``sql`` with the CTEs put in front of its own (or a ``WITH`` added)."""
    head = ",\n".join(ctes)
    if sql.lstrip().upper().startswith("WITH "):
        return "WITH " + head + ",\n" + sql.lstrip()[5:]
    return "WITH " + head + "\n" + sql


def with_period(sql: str) -> str:
    """``sql`` with the checked ``period`` row (and with ``filters`` if it reads them)."""
    used = [name for name in FILTERS if f"(SELECT {name} FROM filters)" in sql]
    return with_ctes(sql, PERIOD_CTE, filter_cte(used)) if used else with_ctes(sql, PERIOD_CTE)


def params_of(sql: str) -> list[str]:
    """The parameters ``sql`` takes, in form order."""
    return [name for name in PARAMS if f":{name}" in sql]
