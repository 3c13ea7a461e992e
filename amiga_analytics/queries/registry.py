"""The query functions by name (:data:`QUERIES`), and running one by name with the command line's options."""

from __future__ import annotations

import inspect
from typing import Callable

import pandas as pd

from ..errors import InputError
from .calls import file_activity, subagent_usage, top_errors
from .periods import DB, Bound
from .tasks import (
    data_quality,
    router_usage,
    task_cost,
    task_throughput,
    tasks_per_user,
)
from .tools import cache_savings, error_rates, latency, tool_cost
from .usage import usage

QUERIES: dict[str, Callable[..., pd.DataFrame]] = {
    "tool_cost": tool_cost,
    "error_rates": error_rates,
    "task_throughput": task_throughput,
    "latency": latency,
    "task_cost": task_cost,
    "cache_savings": cache_savings,
    "top_errors": top_errors,
    "subagent_usage": subagent_usage,
    "file_activity": file_activity,
    "tasks_per_user": tasks_per_user,
    "data_quality": data_quality,
    "router_usage": router_usage,
    "usage": usage,
}

OPTIONS = ("since", "until", "by", "freq", "limit", "bot")


def query_function(name: str) -> Callable[..., pd.DataFrame]:
    """The query function called ``name`` (``-`` may stand for ``_``), or an InputError listing them.

    >>> query_function("tool-cost").__name__
    'tool_cost'
    """
    key = name.strip().replace("-", "_") if isinstance(name, str) else name
    func = QUERIES.get(key)
    if func is None:
        raise InputError(f"unknown query {name!r}: choose one of {', '.join(QUERIES)}")
    return func


def run_query(db: DB, name: str, *, since: Bound = None, until: Bound = None, by: str | None = None,
              freq: str | None = None, limit: int | None = None, bot: str | None = None) -> pd.DataFrame:
    """Run the query ``name`` with the options given (None: not passed, the function's default applies).

    ``by="none"`` / ``freq="none"`` ask for totals. An option the query does not take or an unknown name raise
    ``InputError``.
    """
    func = query_function(name)
    accepted = [p for p in inspect.signature(func).parameters if p in OPTIONS]
    given = {"since": since, "until": until, "by": by, "freq": freq, "limit": limit, "bot": bot}
    kwargs = {}
    for option, value in given.items():
        if value is None:
            continue
        if option not in accepted:
            takes = ", ".join(f"--{p}" for p in accepted) or "no options"
            raise InputError(f"{func.__name__} does not take --{option}; it takes {takes}")
        if option in ("by", "freq") and isinstance(value, str) and value.strip().lower() == "none":
            value = None
        kwargs[option] = value
    return func(db, **kwargs)
