"""The ``query`` command's output: a query function's DataFrame as an aligned table, CSV or JSON text.

Presentation only: the figures keep full precision in the DataFrames (:mod:`amiga_analytics.queries`); the
``table`` format rounds for people, ``csv`` and ``json`` keep every digit.
"""

from __future__ import annotations

import json

import pandas as pd

from .errors import InputError
from .queries.periods import DB, Bound
from .queries.registry import query_function, run_query

FORMATS = ("table", "csv", "json")


def run_named(path: DB, name: str, *, since: Bound = None, until: Bound = None, by: str | None = None,
              freq: str | None = None, limit: int | None = None, fmt: str = "table") -> str:
    """Run the query ``name`` on the analytics database at ``path`` and format its DataFrame as text.

    Options left as None are not passed (the function's default applies); ``by="none"`` / ``freq="none"`` ask
    for totals. An option the query does not take, an unknown name or format raise ``InputError``.

    ``fmt``: ``table`` (aligned text for people: USD rounded to 4 decimals, rates to 3, other floats to 1;
    times shown as dates when they are all local midnights), ``csv`` (full precision) or ``json`` (records,
    full precision; times as ISO 8601 strings with their UTC offset in the report timezone; NaN as null).

    >>> run_named(analytics_db, "nonsense")
    Traceback (most recent call last):
    ...
    amiga_analytics.errors.InputError: unknown query 'nonsense': choose one of tool_cost, error_rates, task_throughput, latency, task_cost, cache_savings, top_errors, subagent_usage, file_activity, tasks_per_user, data_quality, router_usage
    >>> print(run_named(analytics_db, "tool_cost", by="none", fmt="csv").splitlines()[0])
    calls,calls_with_tokens,input_tokens,output_tokens,cache_write_tokens,cache_read_tokens,cost_usd,unpriced_tokens,cost_transcript_usd,cost_bot_usd
    """
    query_function(name)  # an unknown name is the first thing to report
    if fmt not in FORMATS:
        raise InputError(f"unknown format {fmt!r}: choose one of {', '.join(FORMATS)}")
    df = run_query(path, name, since=since, until=until, by=by, freq=freq, limit=limit)
    return format_frame(df, fmt)


def format_frame(df: pd.DataFrame, fmt: str = "table") -> str:
    """A query's DataFrame as ``table``, ``csv`` or ``json`` text (see :func:`run_named`)."""
    if fmt == "csv":
        return df.to_csv(index=False)
    if fmt == "json":
        # json.dumps rather than DataFrame.to_json: floats keep their shortest exact repr (to_json rounds them
        # to a fixed number of decimals) and times keep the report timezone's offset (to_json converts to UTC).
        out = df.astype(object)
        for col in df.columns:
            if pd.api.types.is_datetime64_any_dtype(df[col]):
                out[col] = df[col].map(lambda t: None if pd.isna(t) else t.isoformat()).astype(object)
        out = out.where(df.notna(), None)
        return json.dumps(out.to_dict(orient="records"), separators=(",", ":"), ensure_ascii=False) + "\n"
    if fmt != "table":
        raise InputError(f"unknown format {fmt!r}: choose one of {', '.join(FORMATS)}")
    if df.empty:
        return "  ".join(df.columns) + "\n(no rows)\n"
    shown = df.copy()
    for col in shown.columns:
        if pd.api.types.is_float_dtype(shown[col]):
            digits = 4 if col.endswith("_usd") else 3 if col.endswith("_rate") else 1
            shown[col] = shown[col].round(digits)
        elif isinstance(shown[col].dtype, pd.DatetimeTZDtype):
            stamps = shown[col]
            midnight = stamps.isna() | ((stamps.dt.hour == 0) & (stamps.dt.minute == 0) & (stamps.dt.second == 0)
                                        & (stamps.dt.microsecond == 0))
            pattern = "%Y-%m-%d" if midnight.all() else "%Y-%m-%d %H:%M:%S%z"
            shown[col] = stamps.dt.strftime(pattern).fillna("")
    return shown.to_string(index=False) + "\n"
