"""The week's derived tables: cycle times of finished tasks, cost by model with the router, failures by category,
the anomalies of every series, and the data-quality figures (all from :mod:`amiga_analytics.queries`)."""

from __future__ import annotations

import numpy as np
import pandas as pd
from sqlite_utils import Database

from .. import queries
from ..store.state_values import state_value
from .stats import MIN_CALLS, SCALE_FLOORS, find_anomalies
from .weeks import Span, Week

__all__ = ["anomalies_table", "cost_by_model", "errors_by_category", "finished_cycles", "quality_table"]

# The one lookup the query functions do not offer: the cycle time of each task finished in a window.
FINISHED_CYCLES_SQL = """SELECT task_id, status, finished_day, cycle_s, agent_type
FROM tasks
WHERE status IN ('completed', 'failed', 'stopped') AND finished_day >= :since_day AND finished_day < :until_day
  AND cycle_s IS NOT NULL AND (:bot IS NULL OR bot = :bot)
ORDER BY finished_day, cycle_s, task_id"""


def finished_cycles(database: Database, week: Week, bot: str | None = None) -> pd.DataFrame:
    """The tasks finished in the week (of ``bot``; None: of every bot): ``task_id``, ``status``, ``finished_day``
    (ISO date), ``cycle_s`` (s), ``agent_type`` (the task type; None when not recorded)."""
    rows = database.execute(FINISHED_CYCLES_SQL, {"since_day": week.start.isoformat(),
                                                  "until_day": week.end.isoformat(), "bot": bot}).fetchall()
    df = pd.DataFrame.from_records(rows, columns=["task_id", "status", "finished_day", "cycle_s", "agent_type"])
    return df.astype({"task_id": "str", "status": "str", "finished_day": "str", "cycle_s": "float64",
                      "agent_type": "object"})


def cost_by_model(by_model: pd.DataFrame, router: pd.DataFrame) -> pd.DataFrame:
    """Tool-call cost by model, plus the web-chat router as its own row (its model is not broken down)."""
    out = by_model[["model_id", "calls", "calls_with_tokens", "input_tokens", "output_tokens", "cache_write_tokens",
                    "cache_read_tokens", "cost_usd", "unpriced_tokens"]].copy()
    out.insert(0, "source", "tool calls")
    r = router.iloc[0]
    if int(r["messages"]) > 0:
        extra = pd.DataFrame([{
            "source": "web-chat router", "model_id": None, "calls": int(r["assistant_messages"]),
            "calls_with_tokens": int(r["assistant_messages"]), "input_tokens": int(r["input_tokens"]),
            "output_tokens": int(r["output_tokens"]), "cache_write_tokens": 0, "cache_read_tokens": 0,
            "cost_usd": float(r["cost_usd"]), "unpriced_tokens": int(r["unpriced_tokens"]),
        }])
        out = pd.concat([out, extra], ignore_index=True)
    return out.astype({"source": "str", "model_id": "str", "cost_usd": "float64"}).reset_index(drop=True)


def errors_by_category(df: pd.DataFrame) -> pd.DataFrame:
    """Failures by category: each category's share of the failures and its rate over all completed calls."""
    completed = int(df["completed"].sum())
    failed_total = int(df["failed"].sum())
    fails = df[df["failed"] > 0][["error_category", "failed"]].copy()
    fails["share_of_failures"] = fails["failed"] / failed_total if failed_total else np.nan
    fails["error_rate"] = fails["failed"] / completed if completed else np.nan
    fails = fails.sort_values(["failed", "error_category"], ascending=[False, True], na_position="last",
                              kind="stable")
    return fails.astype({"share_of_failures": "float64", "error_rate": "float64"}).reset_index(drop=True)


def _series(df: pd.DataFrame, column: str) -> pd.Series:
    """One column of a daily frame as a Series indexed by ``datetime.date``."""
    return pd.Series(df[column].astype("float64").to_numpy(), index=list(df["period_start"].dt.date))


def anomalies_table(database: Database, week: Week, hist: Span, cost_per_day: pd.DataFrame,
                    error_per_day: pd.DataFrame) -> pd.DataFrame:
    """The flagged days of the week: all activity (cost, calls, error rate), then every busy tool.

    Columns: ``day``, ``subject`` ("all" or a tool name), ``metric`` (cost_usd, calls, error_rate), ``value``,
    ``median``, ``mad``, ``scale``, ``robust_z``, ``history_days`` (see :func:`find_anomalies`).
    """
    check = week.days
    frames = []

    def add(subject: str, metric: str, values: pd.Series, eligible=None, rate_counts=None) -> None:
        found = find_anomalies(values, check, floor=SCALE_FLOORS[metric], eligible=eligible, rate_counts=rate_counts)
        if len(found):
            found.insert(0, "metric", metric)
            found.insert(0, "subject", subject)
            frames.append(found)

    add("all", "cost_usd", _series(cost_per_day, "cost_usd"))
    add("all", "calls", _series(cost_per_day, "calls"))
    completed = _series(error_per_day, "completed")
    add("all", "error_rate", _series(error_per_day, "error_rate"), eligible=completed >= MIN_CALLS,
        rate_counts=(_series(error_per_day, "failed"), completed))

    tool_cost_d = queries.tool_cost(database, by="tool_name", freq="D", **hist)
    tool_err_d = queries.error_rates(database, by="tool_name", freq="D", **hist)
    for tool in sorted(set(tool_cost_d["tool_name"].dropna())):
        c = tool_cost_d[tool_cost_d["tool_name"] == tool]
        calls = _series(c, "calls")
        typical = calls.median()
        busy = (calls >= MIN_CALLS) | (typical >= MIN_CALLS)
        if not busy[[d for d in check if d in busy.index]].any():
            continue
        add(tool, "calls", calls)
        cost = _series(c, "cost_usd").fillna(0.0)  # unpriced days count as $0 recorded, like idle ones
        if cost.max() > 0:
            add(tool, "cost_usd", cost)
        e = tool_err_d[tool_err_d["tool_name"] == tool]
        done = _series(e, "completed")
        add(tool, "error_rate", _series(e, "error_rate"), eligible=done >= MIN_CALLS,
            rate_counts=(_series(e, "failed"), done))
    return _in_report_order(frames)


def _in_report_order(frames: list[pd.DataFrame]) -> pd.DataFrame:
    """The flagged rows by day, all activity first, then tools by name; cost, calls, error rate."""
    columns = ["day", "subject", "metric", "value", "median", "mad", "scale", "robust_z", "history_days"]
    if not frames:
        return pd.DataFrame({c: pd.Series(dtype="float64" if c in ("value", "median", "mad", "scale", "robust_z") else
                                          "int64" if c == "history_days" else "object") for c in columns})
    out = pd.concat(frames, ignore_index=True)[columns]
    order = {"cost_usd": 0, "calls": 1, "error_rate": 2}
    out["_m"] = out["metric"].map(order)
    out["_s"] = out["subject"] != "all"
    out = out.sort_values(["day", "_s", "subject", "_m"], kind="stable").drop(columns=["_m", "_s"])
    return out.reset_index(drop=True)


QUALITY_LABELS = {
    "days_with_data": "days of the week with any record",
    "calls": "logical tool calls",
    "calls_with_tokens": "calls that carry token counts",
    "task_calls_with_tokens": "of them, Task (sub-agent) calls",
    "calls_unknown_outcome": "calls with no recorded outcome",
    "recorded_tokens": "tokens recorded (tool calls and router)",
    "unpriced_tokens": "tokens no price covers (not in the cost)",
    "calls_without_model": "calls with no resolved model (CLI sessions)",
}


def _unknown_models_of_all_bots(database: Database) -> int | None:
    """The model names no bot of a store of several could resolve, each counted once (a name two bots use is one
    name, where adding their checks up counts it twice); None for one bot, or when a bot registered before the
    names were kept (then the sum stands)."""
    bots = state_value(database, "bots") or {}
    if len(bots) < 2 or any("unknown_models" not in entry for entry in bots.values()):
        return None
    return len(set().union(*(entry["unknown_models"] for entry in bots.values())))


def quality_table(database: Database, by_tool: pd.DataFrame, errors_tool: pd.DataFrame, router: pd.DataFrame,
                  by_model: pd.DataFrame, days_with_data: int, bot: str | None = None) -> pd.DataFrame:
    """The week's own data-quality figures, then the whole-database checks of the last sync."""
    calls = int(by_tool["calls"].sum())
    with_tokens = int(by_tool["calls_with_tokens"].sum())
    task_tokens = int(by_tool.loc[by_tool["tool_name"] == "Task", "calls_with_tokens"].sum())
    token_cols = ["input_tokens", "output_tokens", "cache_write_tokens", "cache_read_tokens"]
    r = router.iloc[0]
    recorded = int(by_tool[token_cols].to_numpy().sum()) + int(r["input_tokens"] + r["output_tokens"])
    no_model = int(by_model.loc[by_model["model_id"].isna(), "calls"].sum())
    week_rows = {
        "days_with_data": days_with_data,
        "calls": calls,
        "calls_with_tokens": with_tokens,
        "task_calls_with_tokens": task_tokens,
        "calls_unknown_outcome": int(errors_tool["unknown"].sum()),
        "recorded_tokens": recorded,
        "unpriced_tokens": int(by_tool["unpriced_tokens"].sum()) + int(r["unpriced_tokens"]),
        "calls_without_model": no_model,
    }
    rows = [{"scope": "week", "check_name": k, "value": v, "detail": QUALITY_LABELS[k]} for k, v in week_rows.items()]
    whole = queries.data_quality(database, bot=bot)  # over several bots: each bot's counts, added up
    whole = whole.groupby("check_name", sort=False, as_index=False).agg(value=("value", "sum"),
                                                                        detail=("detail", "first"))
    distinct = None if bot is not None else _unknown_models_of_all_bots(database)
    for rec in whole.itertuples(index=False):
        value = distinct if rec.check_name == "unknown_models" and distinct is not None else int(rec.value)
        rows.append({"scope": "database", "check_name": rec.check_name, "value": value, "detail": rec.detail})
    return pd.DataFrame(rows).astype({"scope": "str", "check_name": "str", "value": "int64", "detail": "str"})
