"""Queries over single tool calls: the top errors, delegation to sub-agents and file activity."""

from __future__ import annotations

import pandas as pd

from ..store import figures
from .columns import (
    DEFAULT_LIMIT,
    FILE_ACTIVITY_COLUMNS,
    SUBAGENT_COLUMNS,
    TOP_ERRORS_COLUMNS,
)
from .frames import _frame, _query
from .periods import DB, Bound, _check_limit, _opened, _window


def _calls_frame(db: DB, since: Bound, until: Bound, bot: str | None, sql: str, spec: dict[str, str], extra: dict | None = None
                 ) -> pd.DataFrame:
    """Run a ``{where}``-templated query over the window's ``tool_calls`` and type its columns by ``spec``."""
    with _opened(db) as database:
        window = _window(database, since, until, bot)
        where, params = window.calls_condition()
        sql = sql.format(where=where, limit=":limit", calls=_failures_source(database))
        columns, rows = _query(database, sql, params | (extra or {}))
    return _frame(columns, rows, spec, window.tz)


def _failures_source(database) -> str:
    """The failures in group order where the database has that index (a database no sync of this version migrated
    has not; its top errors are the same, sorted)."""
    found = database.execute("SELECT 1 FROM sqlite_master WHERE type = 'index' AND name = ?",
                             [figures.FAILURE_GROUPS_INDEX]).fetchone()
    return figures.FAILURES_BY_GROUP if found else "tool_calls"


def top_errors(db: DB, *, since: Bound = None, until: Bound = None, limit: int | None = DEFAULT_LIMIT,
               bot: str | None = None) -> pd.DataFrame:
    """The most frequent failures, by tool and error template.

    The template (``tool_calls.error_template``, computed at sync time from the masked error text) replaces
    paths, URLs, hosts, quoted values, ids, tokens and numbers by placeholders, so the errors of one kind form
    one group whatever file, task or count they name; it also splits the bot's catch-all ``unknown_error``.

    Parameters
    ----------
    db : path or sqlite_utils.Database
        The analytics database.
    since, until : date, str, datetime or pandas.Timestamp, optional
        Window on the calls' start, ``since`` inclusive, ``until`` exclusive.
    limit : int or None, default 20 (None: all rows)
        Rows at most.

    Returns
    -------
    pandas.DataFrame
        - ``tool_name``: the tool
        - ``error_template``: the error text's template; NaN for failures with no error text
        - ``error_category``: the bot's category of these failures; NaN when it wrote none
        - ``count``: failed calls, count
        - ``share``: their part of all failed calls in the window, fraction (0..1)
        - ``example_error``: the group's latest error text (secrets masked); NaN if none was written
        - ``first_seen``, ``last_seen``: start of the first and the last failed call, aware, report timezone

        Sorted by ``count`` descending, then tool and template.

    Examples
    --------
    >>> db = analytics_db
    >>> df = top_errors(db, limit=5)
    >>> list(df.columns)
    ['tool_name', 'error_template', 'error_category', 'count', 'share', 'example_error', 'first_seen', 'last_seen']
    >>> bool((df["first_seen"] <= df["last_seen"]).all())
    True
    """
    return _calls_frame(db, since, until, bot, figures.TOP_ERRORS_SQL, TOP_ERRORS_COLUMNS, {"limit": _check_limit(limit)})


def subagent_usage(db: DB, *, since: Bound = None, until: Bound = None, bot: str | None = None) -> pd.DataFrame:
    """Delegation to sub-agents: the ``Task`` tool calls by their ``subagent_type``.

    Parameters
    ----------
    db : path or sqlite_utils.Database
        The analytics database.
    since, until : date, str, datetime or pandas.Timestamp, optional
        Window on the calls' start, ``since`` inclusive, ``until`` exclusive.

    Returns
    -------
    pandas.DataFrame
        - ``subagent_type``: the sub-agent (NaN when the call named none)
        - ``calls``: Task calls, count
        - ``failed``: of them with outcome failure, count
        - ``unknown``: of them that never completed, count
        - ``input_tokens``, ``output_tokens``: tokens the bot recorded for them, tokens
        - ``cost_usd``: their priced cost, USD

        Sorted by ``cost_usd`` descending, then ``calls`` descending, then the name.

    Examples
    --------
    >>> db = analytics_db
    >>> df = subagent_usage(db)
    >>> list(df.columns)
    ['subagent_type', 'calls', 'failed', 'unknown', 'input_tokens', 'output_tokens', 'cost_usd']
    >>> from amiga_analytics.queries import tool_cost
    >>> int(df["calls"].sum()) == int(tool_cost(db).set_index("tool_name").loc["Task", "calls"])
    True
    """
    return _calls_frame(db, since, until, bot, figures.SUBAGENT_USAGE_SQL, SUBAGENT_COLUMNS)


def file_activity(db: DB, *, since: Bound = None, until: Bound = None,
                  limit: int | None = DEFAULT_LIMIT, bot: str | None = None) -> pd.DataFrame:
    """The files the file tools touched most.

    Parameters
    ----------
    db : path or sqlite_utils.Database
        The analytics database.
    since, until : date, str, datetime or pandas.Timestamp, optional
        Window on the calls' start, ``since`` inclusive, ``until`` exclusive.
    limit : int or None, default 20 (None: all rows)
        Rows at most.

    Returns
    -------
    pandas.DataFrame
        - ``file_path``: the file
        - ``reads``: Read calls, count
        - ``edits``: Edit, MultiEdit and NotebookEdit calls, count
        - ``writes``: Write calls, count
        - ``calls``: their sum, count
        - ``failed``: of them with outcome failure, count

        Sorted by ``calls`` descending, then ``file_path``.

    Examples
    --------
    >>> db = analytics_db
    >>> df = file_activity(db, limit=5)
    >>> list(df.columns)
    ['file_path', 'reads', 'edits', 'writes', 'calls', 'failed']
    >>> bool((df["calls"] == df["reads"] + df["edits"] + df["writes"]).all())
    True
    """
    return _calls_frame(db, since, until, bot, figures.FILE_ACTIVITY_SQL, FILE_ACTIVITY_COLUMNS,
                        {"limit": _check_limit(limit)})
