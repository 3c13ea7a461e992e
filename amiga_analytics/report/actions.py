""""What to do this week": at most five actions, each from one figure of the report that crossed a threshold,
with its evidence and links to the rows behind it (the report's section and CSV, and the Datasette view).

Candidates, most urgent first (the first :data:`MAX_ACTIONS` are kept):

1. the month's projection over the monthly limit; days over the daily limit;
2. days the anomaly rule flagged;
3. headline rates worse beyond noise, and task types (``agent_type``) whose success rate fell beyond noise
   (the two-proportion test of :data:`~amiga_analytics.report.stats.NOISE_TEST`);
4. the most frequent errors (by error template when ``top_errors`` has an ``error_template`` column, else by
   category and tool) with at least :data:`MIN_ERROR_FAILURES` failures and :data:`MIN_ERROR_SHARE` of all;
5. the most expensive task (at least :data:`TASK_COST_SHARE` of the week's cost) and tool (at least
   :data:`TOOL_COST_SHARE`);
6. tasks that wrote the prompt cache and never read it (at least :data:`MIN_UNREAD_CACHE_TOKENS` tokens).
"""

from __future__ import annotations

import os
from datetime import date
from urllib.parse import urlencode

import pandas as pd

from .fmt import clip, fmt_count, fmt_pct, fmt_tokens, fmt_usd, name_or, short_day
from .stats import Z_NOISE, two_proportion_z

__all__ = ["ACTION_COLUMNS", "ACTION_RULE", "MAX_ACTIONS", "actions_table", "datasette_base", "for_bot"]

MAX_ACTIONS = 5
MIN_ERROR_FAILURES = 10
MIN_ERROR_SHARE = 0.10
TASK_COST_SHARE = 0.10
TOOL_COST_SHARE = 0.50
MIN_UNREAD_CACHE_TOKENS = 10_000
MIN_TYPE_TASKS = 10
DEFAULT_DATASETTE = "http://127.0.0.1:8001"
ACTION_RULE = (
    f"An action is listed only when its figure crosses a threshold: a cost limit passed or projected to pass, a "
    f"day the anomaly rule flagged, a rate worse beyond noise, an error with at least {MIN_ERROR_FAILURES} "
    f"failures and {MIN_ERROR_SHARE:.0%} of all failures, a task with {TASK_COST_SHARE:.0%} or a tool with "
    f"{TOOL_COST_SHARE:.0%} of the week's cost, or tasks whose prompt-cache writes ({fmt_count(MIN_UNREAD_CACHE_TOKENS)}"
    f" tokens or more) were never read back. At most {MAX_ACTIONS}, the most urgent first."
)
ACTION_COLUMNS = ["action", "evidence", "section", "csv", "datasette_url"]


def datasette_base(value: str | None = None) -> str:
    """The Datasette address the links point at: ``value``, else ``$AMIGA_ANALYTICS_DATASETTE_URL``, else the
    address ``amiga-analytics serve`` listens on by default."""
    base = value or os.environ.get("AMIGA_ANALYTICS_DATASETTE_URL", "").strip() or DEFAULT_DATASETTE
    return base.rstrip("/")


def _url(base: str, table: str, **filters: object) -> str:
    query = urlencode({k: v for k, v in filters.items() if v is not None})
    return f"{base}/analytics/{table}" + (f"?{query}" if query else "")


def actions_table(f: dict, *, base: str) -> pd.DataFrame:
    """The week's actions (at most :data:`MAX_ACTIONS`), columns :data:`ACTION_COLUMNS`: ``action`` (what to do),
    ``evidence`` (the figure behind it), ``section`` (the report's anchor), ``csv`` (the report's CSV file with
    the rows) and ``datasette_url`` (the rows in Datasette).

    ``f`` holds the week's frames: ``start``, ``end`` (dates), ``headline``, ``budget``, ``anomalies``,
    ``top_errors``, ``errors_total`` (failed calls), ``tasks`` (task_cost of the week), ``cost_by_tool``,
    ``finished`` and ``finished_before`` (finished tasks with ``status`` and ``agent_type``, this week and the
    week before).
    """
    rows: list[dict] = []
    for make in (_budget, _anomalies, _worse, _task_types, _errors, _expensive, _cache):
        rows += make(f, base)
    return pd.DataFrame(rows[:MAX_ACTIONS], columns=ACTION_COLUMNS).astype(str)


def for_bot(actions: pd.DataFrame, bot: str | None) -> pd.DataFrame:
    """The actions with their Datasette links filtered to ``bot`` too (unchanged for None: all bots)."""
    if bot is None:
        return actions
    out = actions.copy()
    out["datasette_url"] = [u + ("&" if "?" in u else "?") + urlencode({"bot": bot}) for u in out["datasette_url"]]
    return out


def _row(action: str, evidence: str, section: str, csv: str, url: str) -> dict:
    return {"action": action, "evidence": evidence, "section": section, "csv": csv, "datasette_url": url}


def _days(f: dict) -> dict:
    return {"day__gte": f["start"].isoformat(), "day__lt": f["end"].isoformat()}


def _budget(f: dict, base: str) -> list[dict]:
    b = f["budget"].iloc[0]
    month_start = date.fromisoformat(b["month"] + "-01")
    url = _url(base, "tool_daily", day__gte=month_start.isoformat(), day__lt=f["end"].isoformat())
    out = []
    if pd.notna(b["projected_share_of_limit"]) and b["projected_share_of_limit"] > 1:
        out.append(_row(
            "Cut spending or raise the monthly limit: the month is projected over it.",
            f"projected {fmt_usd(b['projected_month_usd'])} against a limit of {fmt_usd(b['monthly_limit_usd'])} "
            f"({fmt_pct(b['projected_share_of_limit'])})", "cost", "budget.csv", url))
    if pd.notna(b["daily_limit_usd"]) and int(b["days_over_daily_limit"]) > 0:
        n = int(b["days_over_daily_limit"])
        out.append(_row(
            "Find what drove the days over the daily limit.",
            f"{n} day{'s' if n > 1 else ''} over {fmt_usd(b['daily_limit_usd'])}; the most expensive day cost "
            f"{fmt_usd(b['max_daily_usd'])}", "cost", "cost_per_day.csv", url))
    return out


def _anomalies(f: dict, base: str) -> list[dict]:
    an = f["anomalies"]
    if not len(an):
        return []
    first = an.iloc[0]
    subject = "all activity" if first["subject"] == "all" else first["subject"]
    tool = None if first["subject"] == "all" else first["subject"]
    word = {"cost_usd": "cost", "calls": "calls", "error_rate": "error rate"}[first["metric"]]
    return [_row(
        f"Look into what the anomaly rule flagged ({len(an)} value{'s' if len(an) > 1 else ''} of the week).",
        f"first: {short_day(first['day'])}, {subject}, {word} at robust z {first['robust_z']:+.1f}".replace("-", "−"),
        "anomalies", "anomalies.csv", _url(base, "tool_calls", day=first["day"].isoformat(), tool_name=tool))]


def _worse(f: dict, base: str) -> list[dict]:
    head = f["headline"].set_index("metric")
    out = []
    if head.loc["error_rate", "verdict"] == "worse":
        er = head.loc["error_rate"]
        out.append(_row(
            "The error rate rose beyond noise: start with the top errors below.",
            f"{fmt_pct(er['previous_week'])} → {fmt_pct(er['this_week'])} (z = {er['z']:+.2f})".replace("-", "−"),
            "errors", "error_rates_by_tool.csv", _url(base, "tool_calls", outcome="failure", **_days(f))))
    if head.loc["success_rate", "verdict"] == "worse":
        sr = head.loc["success_rate"]
        out.append(_row(
            "The task success rate fell beyond noise: read the failed tasks.",
            f"{fmt_pct(sr['previous_week'])} → {fmt_pct(sr['this_week'])} (z = {sr['z']:+.2f})".replace("-", "−"),
            "tasks", "throughput_per_day.csv",
            _url(base, "tasks", status="failed", finished_day__gte=f["start"].isoformat(),
                 finished_day__lt=f["end"].isoformat())))
    return out


def _success_counts(finished: pd.DataFrame) -> pd.DataFrame:
    done = finished[finished["status"].isin(["completed", "failed"])]
    counts = done.assign(ok=done["status"] == "completed").groupby("agent_type")["ok"].agg(["sum", "count"])
    return counts.rename(columns={"sum": "completed", "count": "n"})


def _task_types(f: dict, base: str) -> list[dict]:
    now, before = _success_counts(f["finished"]), _success_counts(f["finished_before"])
    out = []
    for agent in sorted(set(now.index) & set(before.index)):
        a, b = now.loc[agent], before.loc[agent]
        if a["n"] < MIN_TYPE_TASKS or b["n"] < MIN_TYPE_TASKS:
            continue
        z = two_proportion_z(a["completed"], a["n"], b["completed"], b["n"])
        if z < -Z_NOISE:
            out.append(_row(
                f"Tasks of type {agent} succeed less often: read their failures.",
                f"success {fmt_pct(b['completed'] / b['n'])} of {int(b['n'])} → {fmt_pct(a['completed'] / a['n'])} "
                f"of {int(a['n'])} (z = {z:+.2f})".replace("-", "−"), "tasks", "cycle_times.csv",
                _url(base, "tasks", agent_type=agent, status="failed", finished_day__gte=f["start"].isoformat(),
                     finished_day__lt=f["end"].isoformat())))
    return out


def _errors(f: dict, base: str) -> list[dict]:
    top, total = f["top_errors"], f["errors_total"]
    if not len(top) or not total:
        return []
    key = "error_template" if "error_template" in top.columns else "example_error"
    out = []
    for t in top.head(2).itertuples(index=False):
        if t.count < MIN_ERROR_FAILURES or t.count / total < MIN_ERROR_SHARE:
            continue
        tool = name_or(t.tool_name, "(no tool)")
        text = clip(getattr(t, key), 70) or "(no text)"
        template = getattr(t, "error_template", None) if key == "error_template" else None
        out.append(_row(
            f"Fix the most frequent {tool} error ({name_or(t.error_category, 'no category')}): \u201c{text}\u201d",
            f"{fmt_count(t.count)} failures, {fmt_pct(t.count / total)} of the week's {fmt_count(total)}",
            "errors", "top_errors.csv",
            _url(base, "tool_calls", tool_name=None if pd.isna(t.tool_name) else t.tool_name, outcome="failure",
                 error_category=None if pd.isna(t.error_category) else t.error_category, error_template=template,
                 **_days(f))))
    return out


def _expensive(f: dict, base: str) -> list[dict]:
    tasks, tools = f["tasks"], f["cost_by_tool"]
    week_cost = float(tools["cost_usd"].sum())
    out: list[dict] = []
    if week_cost <= 0:
        return out
    priced = tasks[tasks["cost_usd"].notna()].sort_values("cost_usd", ascending=False)
    if len(priced) and priced["cost_usd"].iloc[0] >= TASK_COST_SHARE * week_cost:
        t = priced.iloc[0]
        of_bot = f" of bot {t['bot']}" if "bot" in t else ""  # a store of several bots
        out.append(_row(
            f"Review the most expensive task, {t['task_id']}{of_bot} ({name_or(t['agent_type'], 'no agent type')}, "
            f"{name_or(t['model_id'], 'no model')}).",
            f"{fmt_usd(t['cost_usd'])}, {fmt_pct(t['cost_usd'] / week_cost)} of the week's tool-call cost, "
            f"{fmt_count(t['calls'])} calls", "cost", "cost_by_model.csv",
            _url(base, "tool_calls", task_id=t["task_id"], bot=t.get("bot"))))
    top_tool = tools[tools["cost_usd"].notna()].sort_values("cost_usd", ascending=False)
    if len(top_tool) and top_tool["cost_usd"].iloc[0] >= TOOL_COST_SHARE * week_cost:
        t = top_tool.iloc[0]
        out.append(_row(
            f"Most of the cost is {t['tool_name']} calls: check which of them need the larger models.",
            f"{fmt_usd(t['cost_usd'])}, {fmt_pct(t['cost_usd'] / week_cost)} of the week's tool-call cost",
            "cost", "cost_by_tool.csv", _url(base, "tool_calls", tool_name=t["tool_name"], _sort_desc="cost_usd",
                                             **_days(f))))
    return out


def _cache(f: dict, base: str) -> list[dict]:
    tasks = f["tasks"]
    unread = tasks[(tasks["cache_write_tokens"] > 0) & (tasks["cache_read_tokens"] == 0)]
    tokens = int(unread["cache_write_tokens"].sum())
    if tokens < MIN_UNREAD_CACHE_TOKENS:
        return []
    return [_row(
        "Stop paying for cache writes nobody reads: these tasks wrote the prompt cache and never read it back.",
        f"{len(unread)} tasks, {fmt_tokens(tokens)} cache-write tokens never re-read", "cost", "cost_by_model.csv",
        _url(base, "tasks", cache_read_tokens=0, cache_write_tokens__gt=0, created_day__gte=f["start"].isoformat(),
             created_day__lt=f["end"].isoformat()))]
