"""The ``query`` and report commands' output: a DataFrame as an aligned table, CSV, JSON or newline-delimited
JSON text.

Presentation only: the figures keep full precision in the DataFrames (:mod:`amiga_analytics.queries`); the
``table`` format rounds for people, ``csv``, ``json`` and ``nl`` keep every digit. A frame with ``cost_usd`` gets
a ``cost_note`` column saying why a cost is missing (never shown as $0): ``no tokens``, ``no model: CLI
sessions``, ``unknown model X``.
"""

from __future__ import annotations

import json
from typing import Any

import pandas as pd

from .errors import InputError
from .queries.periods import DB, Bound
from .queries.registry import query_function, run_query
from .queries.reports import data_range, resolve_window, totals

FORMATS = ("table", "csv", "json", "nl")


def run_named(path: DB, name: str, *, since: Bound = None, until: Bound = None, by: str | None = None,
              freq: str | None = None, limit: int | None = None, fmt: str = "table", bot: str | None = None) -> str:
    """Run the query ``name`` on the analytics database at ``path`` and format its DataFrame as text.

    Options left as None are not passed (the function's default applies); ``by="none"`` / ``freq="none"`` ask
    for totals. An option the query does not take, an unknown name or format raise ``InputError``.

    ``fmt``: ``table`` (aligned text for people: USD rounded to 4 decimals, rates to 3, other floats to 1;
    times shown as dates when they are all local midnights), ``csv`` (full precision), ``json`` (records,
    full precision; times as ISO 8601 strings with their UTC offset in the report timezone; NaN as null) or
    ``nl`` (one JSON object a line). ``since``/``until`` also take relative periods (``last-week``,
    ``this-month``, ...). An empty table says which days the data covers.

    >>> run_named(analytics_db, "nonsense")
    Traceback (most recent call last):
    ...
    amiga_analytics.errors.InputError: unknown query 'nonsense': choose one of tool_cost, error_rates, task_throughput, latency, task_cost, cache_savings, top_errors, subagent_usage, file_activity, tasks_per_user, data_quality, router_usage, usage
    >>> print(run_named(analytics_db, "tool_cost", by="none", fmt="csv").splitlines()[0])
    calls,calls_with_tokens,input_tokens,output_tokens,cache_write_tokens,cache_read_tokens,cost_usd,unpriced_tokens,cost_transcript_usd,cost_bot_usd,cost_note
    """
    query_function(name)  # an unknown name is the first thing to report
    if fmt not in FORMATS:
        raise InputError(f"unknown format {fmt!r}: choose one of {', '.join(FORMATS)}")
    since, until = _resolved(path, since, until)
    df = run_query(path, name, since=since, until=until, by=by, freq=freq, limit=limit, bot=bot)
    text = format_frame(df, fmt)
    if df.empty and fmt == "table":
        text = text.replace("(no rows)\n", _empty_note(path, since, until))
    return text


def run_report(kind: str, path: DB, *, since: Bound = None, until: Bound = None, by: str | None = None,
               breakdown: bool = False, bot: str | None = None) -> tuple[pd.DataFrame, str]:
    """Run a usage report (``daily``, ``weekly``, ``monthly``, ``tasks``, ``sessions``) and say, for stderr, where
    its figures come from and, when it is empty, which days the data covers."""
    from .queries import reports

    func = getattr(reports, kind)
    kwargs = {"by": by, "breakdown": breakdown} if kind in ("daily", "weekly", "monthly") else {}
    df = func(path, since=since, until=until, bot=bot, **kwargs)
    source = df.attrs.get("source", "")
    note = {"transcripts": "(from Claude Code's transcripts: every API request, the true cost)",
            "tool calls": "(from the bot's tool calls: tokens recorded on only some calls, so cost is a floor; "
                          "sync with --transcripts for the true cost)",
            "tasks": "(the bot's tasks: no transcripts are loaded, so sessions are the bot's tasks)"
            if kind == "sessions" else ""}.get(source, "")
    if df.empty:
        note = (note + "\n" if note else "") + _empty_note(path, since, until).strip()
    return df, note


def _resolved(path: DB, since: Bound, until: Bound) -> tuple[Bound, Bound]:
    from .queries.periods import _opened
    from .store import connect as db_mod

    with _opened(path) as database:
        return resolve_window(since, until, db_mod.report_tz(database))


def _empty_note(path: DB, since: Bound, until: Bound) -> str:
    first, last = data_range(path)
    asked = " ".join(f"{word} {value}" for word, value in (("since", since), ("until", until)) if value is not None)
    covers = f"the data covers {first} to {last}" if first else "the database holds no tool calls or tasks yet"
    return f"(no rows{' ' + asked if asked else ''}: {covers})\n"


def cost_notes(df: pd.DataFrame) -> pd.Series:
    """Why each row's ``cost_usd`` is missing ('' when it is known): no tokens recorded, no model (CLI
    sessions), or an unknown model."""
    notes = []
    for _, row in df.iterrows():
        if not pd.isna(row["cost_usd"]):
            notes.append("")
        elif "unpriced_tokens" in df.columns and not row["unpriced_tokens"]:
            notes.append("no tokens")
        elif "model_id" in df.columns and pd.isna(row["model_id"]):
            notes.append("no model: CLI sessions")
        elif "model_id" in df.columns:
            notes.append(f"unknown model {row['model_id']}")
        else:
            notes.append("unpriced tokens only")
    return pd.Series(notes, index=df.index, dtype=object)


def with_cost_note(df: pd.DataFrame) -> pd.DataFrame:
    """``df`` with a ``cost_note`` column after its columns when it has ``cost_usd`` (see :func:`cost_notes`)."""
    if "cost_usd" not in df.columns or "cost_note" in df.columns:
        return df
    out = df.copy()
    out["cost_note"] = cost_notes(df)
    out.attrs = dict(df.attrs)
    return out


def format_report(df: pd.DataFrame, fmt: str = "table") -> str:
    """A usage report (:mod:`amiga_analytics.queries.reports`) with its totals row: in the table and CSV as a
    last row ``Total``, in JSON as ``{"source", "rows", "totals"}``; money as $ in the table."""
    if fmt not in FORMATS:
        raise InputError(f"unknown format {fmt!r}: choose one of {', '.join(FORMATS)}")
    source = df.attrs.get("source", "")
    if df.empty:
        return format_frame(df, fmt)
    total = pd.DataFrame([totals(df)], columns=df.columns)
    if fmt == "json":
        rows = json.loads(format_frame(df, "json"))
        tot = json.loads(format_frame(total.astype(object), "json"))[0]
        return json.dumps({"source": source, "rows": rows, "totals": tot}, separators=(",", ":"),
                          ensure_ascii=False) + "\n"
    if fmt == "nl":
        return format_frame(df, "nl")
    both = pd.concat([df.astype(object), total.astype(object)], ignore_index=True)
    if fmt == "csv":
        return format_frame(both, "csv")
    shown = with_cost_note(both)
    for col in shown.columns:
        if col == "cost_usd":
            shown[col] = [_money(v, note) for v, note in zip(shown[col], shown["cost_note"])]
        elif col.endswith("_tokens") or col in ("calls", "requests"):
            shown[col] = [f"{int(v):,}" if v is not None and not pd.isna(v) else "" for v in shown[col]]
        elif col == "cycle_s":
            shown[col] = [f"{float(v):.0f}" if v is not None and not pd.isna(v) else "" for v in shown[col]]
        elif isinstance(df[col].dtype, pd.DatetimeTZDtype) if col in df.columns else False:
            shown[col] = [v.strftime("%Y-%m-%d %H:%M") if isinstance(v, pd.Timestamp) else "" for v in shown[col]]
    shown = shown.drop(columns=["cost_note"]).fillna("")
    return shown.to_string(index=False) + "\n"


def _money(value: Any, note: str) -> str:
    if value is None or pd.isna(value):
        return f"({note})" if note else ""
    return f"${float(value):,.2f}"


def format_frame(df: pd.DataFrame, fmt: str = "table") -> str:
    """A query's DataFrame as ``table``, ``csv``, ``json`` or ``nl`` text (see :func:`run_named`), with a
    ``cost_note`` column when it has ``cost_usd``."""
    df = with_cost_note(df)
    if fmt == "nl":
        records = json.loads(format_frame(df, "json")) if len(df) else []
        return "".join(json.dumps(r, separators=(",", ":"), ensure_ascii=False) + "\n" for r in records)
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
