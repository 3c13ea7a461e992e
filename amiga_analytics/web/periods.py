"""The checked parameters of the canned queries: the period (``:since`` / ``:until``), the dashboard filters
(``:tool``, ``:model``, ``:agent_type``) and the bot (``:bot``), in plain SQL so that the plain ``datasette -m
metadata.yml`` command checks them exactly as ``amiga-analytics serve`` does.

A period bound is empty (open), a date ``YYYY-MM-DD`` or an ISO date-time ``YYYY-MM-DD[T| ]HH:MM[:SS[.ffffff]]``,
read in the report timezone as the Python API reads it (:func:`amiga_analytics.timeutil.parse_bound`: a time in a
DST gap keeps the offset before it, a repeated one is its first occurrence), or with an explicit offset (``Z``,
``+02:00``), or ``7d`` / ``4w`` (that many days / weeks before today in the report zone, at midnight, as the
Python API). The conversion to UTC is plain SQL over ``report_offsets`` (:mod:`amiga_analytics.store.zone_offsets`),
so ``2025-10-20`` and ``2025-10-20T00:00`` give the same figures and ``2025-10-20T08:00`` really means 08:00.
Anything else stops the query with an error that says what to give: Datasette shows it
on the page and answers JSON with 400. The error is raised in SQL by ``json_extract('{}', <message>)``, whose "JSON
path error near '<message>'" carries the message.

The ``period`` row gives each kind of query what it reads (UTC times as the tables store them,
``YYYY-MM-DDTHH:MM:SS.ffffff+00:00``; days in the report timezone):

- ``since_day`` / ``until_end``: the whole days inside the period, for the daily rollups (:func:`period`);
- ``a_from`` .. ``a_to`` and ``b_from`` .. ``b_to``: the parts of the period outside those days (the partial first
  and last days, or the whole period when it holds no whole day), for the raw rows (:func:`edges`);
- ``since_at`` / ``until_at`` and the days the period touches, for raw rows filtered exactly (:func:`exact`,
  :func:`by_day_or_edges`).

A query that answers only whole days (:func:`with_period` with ``times=False``) refuses a time of day instead.

A filter is empty (everything) or a value the rollup holds (an unknown tool is an error, never an empty page).

>>> import sqlite3
>>> from amiga_analytics.store import zone_offsets
>>> conn = sqlite3.connect(":memory:")
>>> _ = conn.execute(zone_offsets.CREATE_SQL)
>>> zone_offsets.write(conn, "Europe/Berlin")
>>> sql = with_period("SELECT since_day, until_end, a_from, a_to, b_from, b_to FROM period", times=True)
>>> conn.execute(sql, {"since": "2025-10-20T00:00", "until": "2025-10-27"}).fetchone()[:2]  # edges: empty
('2025-10-20', '2025-10-27')
>>> # 02:30 happened twice on the 26th: its first occurrence (CEST); no whole day inside, so one edge
>>> for column in conn.execute(sql, {"since": "2025-10-26T02:30", "until": "2025-10-27T08:00"}).fetchone():
...     print(column)
2025-10-27
2025-10-27
2025-10-26T00:30:00.000000+00:00
2025-10-27T07:00:00.000000+00:00
<BLANKLINE>
<BLANKLINE>
>>> conn.execute(sql, {"since": "last week", "until": ""}).fetchone()
Traceback (most recent call last):
...
sqlite3.OperationalError: JSON path error near 'since: "last week" is not a date or time: give YYYY-MM-DD, an ISO time such as 2025-10-20T08:00 (report timezone) or 2025-10-20T08:00+02:00, or 7d / 4w (days / weeks ago), or leave it empty'
"""

from __future__ import annotations

import re

from ..store.measures import COST, ROLLUP_EXTRA, ROLLUP_KEYS
from ..store.zone_offsets import END_YEAR, FIRST_YEAR

#: The parameters the canned queries may take, in the order their forms show them.
PARAMS = ("since", "until", "tool", "model", "agent_type", "bot")

OPEN_UNTIL = "9999-12-31T00:00:00.000000+00:00"

_BAD = ("'{name}: \"' || v || '\" is not a date or time: give YYYY-MM-DD, an ISO time such as 2025-10-20T08:00 "
        "(report timezone) or 2025-10-20T08:00+02:00, or 7d / 4w (days / weeks ago), or leave it empty'")
_NOT_MIDNIGHT = ("'{name}: ' || {v} || ' is not a whole day: this query counts whole days of the report timezone, "
                 "so give a date (until is exclusive: until=2025-10-27 includes the 26th)'")
_YEARS = (f"'{{name}}: ' || v || ' is outside the years the view converts ({FIRST_YEAR + 1}-{END_YEAR - 1}): give "
          "a date in them, or leave it empty'")

_NO_OFFSETS = ("'this analytics database has no report_offsets for ' || v || ': sync it again with this version of "
               "amiga-analytics (migration m014 writes them)'")

_CLOCK = "substr(body, 12)"
_NOW = "strftime('%Y-%m-%d %H:%M:%S', 'now')"
_VALID = f"""body GLOB '[0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9]*' AND date(substr(body, 1, 10), '+0 days') = substr(body, 1, 10)
                   AND NOT (has_zone AND zone_s IS NULL)
                   AND ((length(body) = 10 AND NOT has_zone)
                        OR (substr(body, 11, 1) IN ('T', ' ') AND substr(body, 12, 2) < '24'
                            AND ({_CLOCK} GLOB '[0-2][0-9]:[0-5][0-9]' OR {_CLOCK} GLOB '[0-2][0-9]:[0-5][0-9]:[0-5][0-9]'
                                 OR ({_CLOCK} GLOB '[0-2][0-9]:[0-5][0-9]:[0-5][0-9].[0-9]*' AND length(body) <= 26
                                     AND substr(body, 21) NOT GLOB '*[^0-9]*'))))"""


def _offset_at_local(local: str) -> str:
    """The report zone's offset (s) for a local ``YYYY-MM-DD HH:MM:SS`` (zoneinfo's fold=0 reading)."""
    return (f"(SELECT o.offset_s FROM report_offsets AS o WHERE o.local_from <= {local} "
            "ORDER BY o.local_from DESC LIMIT 1)")


def _offset_at_utc(utc: str) -> str:
    return f"(SELECT o.offset_s FROM report_offsets AS o WHERE o.utc_from <= {utc} ORDER BY o.utc_from DESC LIMIT 1)"


def _today() -> str:
    """SQL: today's date in the report zone (the ``7d`` / ``4w`` bounds count back from it, as parse_bound)."""
    return f"date({_NOW}, printf('%+d seconds', {_offset_at_utc(_NOW)}))"


def day_start(day: str) -> str:
    """SQL: the UTC time (as stored) at which the report zone's ``day`` starts."""
    local = f"({day} || ' 00:00:00')"
    return (f"strftime('%Y-%m-%dT%H:%M:%S', {local}, printf('%+d seconds', -{_offset_at_local(local)})) "
            "|| '.000000+00:00'")


_TODAY = _today()

_BOUNDS = f"""period_given(name, v) AS (
  SELECT 'since', trim(COALESCE(:since, '')) UNION ALL SELECT 'until', trim(COALESCE(:until, ''))
), period_zoned AS MATERIALIZED (  -- an explicit zone suffix (Z or +HH:MM / -HH:MM): zone_s, the offset; NULL: the report zone
  SELECT name, v, has_zone,
         CASE WHEN v GLOB '[0-9]*[dw]' AND substr(v, 1, length(v) - 1) NOT GLOB '*[^0-9]*' AND length(v) <= 7
              THEN date({_TODAY}, printf('-%d days', substr(v, 1, length(v) - 1) * (CASE substr(v, -1) WHEN 'w'
                                                                                 THEN 7 ELSE 1 END)))
              WHEN NOT has_zone THEN v WHEN substr(v, -1) IN ('Z', 'z') THEN substr(v, 1, length(v) - 1)
              ELSE substr(v, 1, length(v) - 6) END AS body,
         CASE WHEN NOT has_zone THEN NULL WHEN substr(v, -1) IN ('Z', 'z') THEN 0
              WHEN substr(v, -5) GLOB '[0-2][0-9]:[0-5][0-9]' AND substr(v, -5, 2) < '24'
              THEN (CASE substr(v, -6, 1) WHEN '-' THEN -60 ELSE 60 END) * (substr(v, -5, 2) * 60 + substr(v, -2))
         END AS zone_s
  FROM (SELECT name, v, (length(v) > 10 AND substr(v, -1) IN ('Z', 'z'))
                        OR (length(v) > 16 AND substr(v, -6, 1) IN ('+', '-')) AS has_zone FROM period_given)
), period_local AS MATERIALIZED (  -- local: YYYY-MM-DD HH:MM:SS (in the report zone, or in zone_s), frac: its microseconds
  SELECT name, v, zone_s,
         CASE WHEN v = '' THEN NULL
              WHEN {_VALID}
              THEN CASE WHEN substr(body, 1, 4) > '{FIRST_YEAR}' AND substr(body, 1, 4) < '{END_YEAR}'
                        THEN substr(body, 1, 10) || ' '
                             || CASE WHEN length(body) = 10 THEN '00:00:00' ELSE substr({_CLOCK} || ':00', 1, 8) END
                        ELSE json_extract('{{}}', {_YEARS.format(name="' || name || '")}) END
              ELSE json_extract('{{}}', {_BAD.format(name="' || name || '")}) END AS local,
         substr(CASE WHEN length(body) > 20 THEN substr(body, 21) ELSE '' END || '000000', 1, 6) AS frac
  FROM period_zoned
), period_utc AS MATERIALIZED (
  SELECT name, v, frac,
         strftime('%Y-%m-%d %H:%M:%S', local,
                  printf('%+d seconds', -COALESCE(zone_s, {_offset_at_local("local")}, json_extract('{{}}', {_NO_OFFSETS})))) AS utc_s
  FROM period_local WHERE local IS NOT NULL
), period_bound AS MATERIALIZED (  -- each given bound: at (UTC, as stored), its day (report zone), whether it starts that day
  SELECT name, v, at, day, at = {day_start("day")} AS whole
  FROM (SELECT name, v, replace(utc_s, ' ', 'T') || '.' || frac || '+00:00' AS at,
               date(utc_s, printf('%+d seconds', COALESCE({_offset_at_utc("utc_s")},
                                                           json_extract('{{}}', {_NO_OFFSETS})))) AS day
        FROM period_utc)
)"""


# period_bound's two rows as one (s_*: since, u_*: until; NULL when open), so that each copy SQLite makes of
# ``period`` (one per reference: the canned queries hold hundreds) expands the bounds' CTEs once, not twice
_PIVOT = "(SELECT " + ", ".join(f"MAX(CASE name WHEN '{name}' THEN {column} END) AS {name[0]}_{column}"
                                for name in ("since", "until") for column in ("at", "whole", "day", "v")) \
         + " FROM period_bound)"


def _period_row(times: bool) -> str:
    """``period``: the one row the queries read (see the module's docstring)."""
    since_day = "CASE WHEN s_at IS NULL THEN '' WHEN s_whole THEN s_day ELSE date(s_day, '+1 day') END"
    if not times:
        since_day = (f"CASE WHEN s_at IS NOT NULL AND NOT s_whole THEN json_extract('{{}}', "
                     f"{_NOT_MIDNIGHT.format(name='since', v='s_v')}) "
                     f"WHEN u_at IS NOT NULL AND NOT u_whole THEN json_extract('{{}}', "
                     f"{_NOT_MIDNIGHT.format(name='until', v='u_v')}) ELSE {since_day} END")
    return f"""period_ends AS (
  SELECT {since_day} AS since_day,
         CASE WHEN u_at IS NULL THEN '9999-12-31' ELSE u_day END AS until_end,
         s_day AS since_or_null,
         CASE WHEN u_at IS NULL THEN NULL WHEN u_whole THEN u_day ELSE date(u_day, '+1 day') END AS until_or_null,
         COALESCE(s_at, '') AS since_at,
         CASE WHEN s_at > u_at
              THEN json_extract('{{}}', 'since ' || s_v || ' is after until ' || u_v
                                        || ': since is the first moment included, until the first one excluded')
              ELSE COALESCE(u_at, '{OPEN_UNTIL}') END AS until_at,
         NOT (COALESCE(s_whole, 1) AND COALESCE(u_whole, 1)) AS timed
  FROM {_PIVOT}
), period AS (
  SELECT since_day, until_end, since_or_null, until_or_null, since_at, until_at, timed,
         CASE WHEN timed THEN '' ELSE until_end END AS days_end,
         CASE WHEN timed THEN until_end ELSE '' END AS timed_days_end,
         COALESCE(since_or_null, '') AS first_touched, COALESCE(until_or_null, '9999-12-31') AS end_touched,
         since_at AS a_from,
         CASE WHEN since_at = '' THEN '' WHEN since_day >= until_end THEN until_at
              ELSE {day_start("since_day")} END AS a_to,
         CASE WHEN until_end = '9999-12-31' OR since_day >= until_end THEN '' ELSE {day_start("until_end")} END AS b_from,
         CASE WHEN until_end = '9999-12-31' OR since_day >= until_end THEN '' ELSE until_at END AS b_to
  FROM period_ends
)"""


def period_cte(times: bool) -> str:
    """The checked ``period`` row's CTEs: with ``times``, a bound may have a time of day (queries that read the
    edges); without, only whole days of the report zone (a time of day is an error)."""
    return _BOUNDS + ", " + _period_row(times)


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


def exact(day_col: str, time_col: str) -> str:
    """The period on raw rows, exactly: ``time_col`` (a UTC time as stored) in [since, until), with the days the
    period touches on ``day_col`` so that SQLite reads a day index."""
    p = "(SELECT {} FROM period)".format
    return (f"{_touched(day_col)} AND {time_col} >= {p('since_at')} AND {time_col} < {p('until_at')}")


def by_day_or_edges(day_col: str, time_col: str) -> str:
    """The period on raw rows, exactly, reading ``time_col`` only on the days it touches partly: a row of a whole
    day by ``day_col`` alone (an index holding the day answers, the row is not read), any other by its time in the
    edges."""
    return f"({period(day_col)} OR ({_touched(day_col)} AND {edges(time_col)}))"


def _touched(day_col: str) -> str:
    p = "(SELECT {} FROM period)".format
    return f"{day_col} >= {p('first_touched')} AND {day_col} < {p('end_touched')}"


def _days(end: str) -> str:
    """The whole days on ``tool_daily.day`` up to the ``period`` column ``end`` ('' when that reader must not read)."""
    return f"day >= (SELECT since_day FROM period) AND day < (SELECT {end} FROM period)"


def edges(time_col: str) -> str:
    """Raw rows in the parts of the period that :func:`period`'s whole days leave out (none for a period of whole
    days): two ranges of ``time_col``, each read from its index."""
    p = "(SELECT {} FROM period)".format
    return (f"(({time_col} >= {p('a_from')} AND {time_col} < {p('a_to')}) "
            f"OR ({time_col} >= {p('b_from')} AND {time_col} < {p('b_to')}))")


#: tool_daily's columns: the rollup's keys, and each measure as the sync computes it from the calls.
_DAILY_COLUMNS: dict[str, str] = ({"bot": "bot"} | ROLLUP_KEYS | {name: m.calls for name, m in COST.items()}
                                  | ROLLUP_EXTRA)
_KEYS = ("bot", *ROLLUP_KEYS)

PERIOD_DAILY_CTE = """period_daily AS (  -- tool_daily of the period: its whole days, and its edges rolled up from the calls
  SELECT {columns}
  FROM tool_daily
  WHERE {days}
  UNION ALL
  SELECT {exprs}
  FROM tool_calls
  WHERE {edges} AND +day IS NOT NULL
  GROUP BY {keys}
)"""
"""``period_daily``: rows like ``tool_daily``'s (its columns, the same sums) that add up to the period's figures,
whatever its bounds: the rollup's rows of the whole days inside it, and the calls of its edges grouped as the sync
groups them (read from the ``started_at`` index: a short edge reads few rows). A query reads it instead of
``tool_daily``, without the period condition."""


def period_daily_cte(sql: str) -> str:
    """:data:`PERIOD_DAILY_CTE` with the columns ``sql`` names (fewer columns: a faster pass over the rollup)."""
    used = [name for name in _DAILY_COLUMNS if re.search(rf"\b{name}\b", sql)]
    keys = [name for name in used if name in _KEYS]
    return PERIOD_DAILY_CTE.format(columns=", ".join(used), days=_days("timed_days_end"), edges=edges("started_at"),
                                   exprs=",\n         ".join(f"{_DAILY_COLUMNS[name]} AS {name}" for name in used),
                                   keys=", ".join(_DAILY_COLUMNS[name] for name in keys))


TIMED = "(SELECT timed FROM period)"
"""True when a bound of the period has a time of day (the period has edges)."""


def either(select: str, where: str) -> str:
    """One read of the rollup (``select``, a template with ``{daily}`` and ``{where}`` slots) for every period:
    from ``tool_daily`` over the period's days when it is whole days (SQLite reads the rollup in index order, as
    fast as before times of day), else from ``period_daily``. ``where``: the filters; exactly one half answers."""
    # each half's range of days is empty when the other half answers, so it reads nothing
    days = select.format(daily="tool_daily", where=f"{_days('days_end')} AND {where}")
    timed = select.format(daily="period_daily", where=where)
    return (f"SELECT * FROM (\n{days}\n) WHERE NOT {TIMED}\nUNION ALL\n"
            f"SELECT * FROM (\n{timed}\n) WHERE {TIMED}")


def with_period(sql: str, times: bool = False) -> str:
    """``sql`` with the checked ``period`` row (with ``period_daily`` and ``filters`` if it reads them); ``times``:
    see :func:`period_cte` (a query that reads ``period_daily`` takes times)."""
    used = [name for name in FILTERS if f"(SELECT {name} FROM filters)" in sql]
    ctes = [period_cte(times or "period_daily" in sql)]
    if "period_daily" in sql:
        ctes.append(period_daily_cte(sql))
    if used:
        ctes.append(filter_cte(used))
    return with_ctes(sql, *ctes)


def params_of(sql: str) -> list[str]:
    """The parameters ``sql`` takes, in form order."""
    return [name for name in PARAMS if f":{name}" in sql]
