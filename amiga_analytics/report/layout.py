"""The report's layout: one list of sections of blocks, which render_html.py and render_md.py both render (so the
two formats say the same thing). All the report's wording lives here."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from .._version import __version__
from .actions import ACTION_RULE
from .blocks import Actions, Block, Bullets, Cards, Chart, P, Section, Table
from .fmt import change_text, clip, fmt_count, fmt_duration, fmt_kind, fmt_pct, fmt_tokens, fmt_usd, name_or, short_day
from .pngs import chart_specs
from .stats import ANOMALY_RULE, HEADLINE, HISTORY_DAYS, NOISE_TEST, Z_LIMIT

if TYPE_CHECKING:
    from .model import WeeklyReport

__all__ = ["footer", "layout", "subtitle", "title"]


def layout(report: WeeklyReport) -> list[Section]:
    """The report's sections in order: what to do, headline, cost, errors, tasks, sub-agents, anomalies, data quality."""
    page = _Page(report)
    return [_actions(report), _headline(page), _cost(page), _errors(page), _tasks(page), _subagents(page), _anomalies(page),
            _quality(report)]


class _Page:
    """What every section reads: the report, its headline by metric, the week's quality figures, its charts."""

    def __init__(self, report: WeeklyReport) -> None:
        self.report = report
        self.head = report.headline.set_index("metric")
        self._quality = report.data_quality.set_index(["scope", "check_name"])["value"]
        self._charts = chart_specs(report)

    def wq(self, name: str) -> int:
        """A data-quality figure of the week (0 when absent)."""
        return int(self._quality.get(("week", name), 0))

    def chart(self, name: str) -> list[Block]:
        """The chart block, or nothing when the week does not draw that chart."""
        if name not in self._charts:
            return []
        return [Chart(name, self._charts[name][0])]


def title(report: WeeklyReport) -> str:
    """The report's title (with the bot, or the bots, of a store of several)."""
    which = (f", bot {report.bot}" if report.bot is not None else
             f", bots {', '.join(report.bots['bot'])}" if len(report.bots) else "")
    return f"AMIGA weekly report {report.week}{which}"


SECTION_NAMES = {"cost": "Cost", "errors": "Errors", "tasks": "Tasks", "anomalies": "Anomalies"}


def _actions(report: WeeklyReport) -> Section:
    """What to do this week: each action with its evidence and links to its section, CSV and Datasette rows."""
    items = [(a.action, f"Evidence: {a.evidence}.",
              [(f"§ {SECTION_NAMES.get(a.section, a.section)}", f"#{a.section}"), (a.csv, a.csv),
               ("rows in Datasette", a.datasette_url)])
             for a in report.actions.itertuples(index=False)]
    blocks: list[Block] = [Actions(items)] if items else [
        P("Nothing crosses a threshold this week: no limit passed, no day flagged, no rate worse beyond noise, no "
          "error, task or tool large enough to act on.")]
    blocks.append(P(ACTION_RULE, muted=True))
    return Section("What to do this week", "actions", blocks)


def _headline(page: _Page) -> Section:
    """The headline cards and the notes on coverage."""
    report, head = page.report, page.head
    cards = []
    for key, label, kind, _better in HEADLINE:
        row = head.loc[key]
        value = fmt_kind(kind, row["this_week"])
        if key == "cost_usd" and not pd.isna(row["this_week"]) and not _exact_cost(report):
            value += " (floor)"
        cards.append((label, value, change_text(kind, row), row["verdict"]))
    blocks: list[Block] = [Cards(cards), *_by_bot(report)]
    blocks += [P(n, muted=True) for n in report.notes]
    blocks.append(P(NOISE_TEST, muted=True))
    return Section("This week at a glance", "headline", blocks)


def _by_bot(report: WeeklyReport) -> list[Block]:
    """The week per bot, in a report of several bots (nothing otherwise): which bot to look at."""
    rows = [[b.bot, fmt_count(b.calls), fmt_count(b.failed), fmt_pct(b.error_rate), fmt_usd(b.cost_usd),
             fmt_count(b.tasks_finished)] for b in report.bots.itertuples(index=False)]
    return [Table(["bot", "calls", "failed calls", "error rate", "cost", "tasks finished"], rows, "nrrrrr",
                  caption="By bot (the figures above are all bots together)")] if rows else []


def _cost(page: _Page) -> Section:
    """Cost: the total, cost per day, the budget, cost by model and by tool."""
    report, head, wq, chart = page.report, page.head, page.wq, page.chart
    cost = head.loc["cost_usd", "this_week"]
    r = report.router.iloc[0]
    tool_cost = float(report.cost_by_tool["cost_usd"].sum())
    calls, with_tokens = wq("calls"), wq("calls_with_tokens")
    blocks: list[Block] = []
    if pd.isna(cost):
        blocks.append(P("No call recorded any tokens this week, so there is no cost figure (not $0: unknown)."))
    else:
        blocks.append(P(_cost_text(report, cost, tool_cost, r, _ratio(with_tokens, calls))))
    blocks += chart("cost_per_day.png")
    blocks.append(_budget_block(report))
    cbm = report.cost_by_model
    rows = []
    for rec in cbm.itertuples(index=False):
        label = (name_or(rec.model_id, "(no model: CLI sessions)") if rec.source == "tool calls"
                 else "web-chat router (answers)")
        rows.append([label, fmt_count(rec.calls), fmt_count(rec.calls_with_tokens),
                     fmt_tokens(rec.input_tokens + rec.output_tokens + rec.cache_write_tokens + rec.cache_read_tokens),
                     _cost_cell(rec.cost_usd, rec.calls_with_tokens, rec.unpriced_tokens),
                     fmt_tokens(rec.unpriced_tokens) if rec.unpriced_tokens else "–"])
    tok = ["with bot tokens", "bot tokens"] if report.transcripts else ["with tokens", "tokens"]
    blocks.append(Table(["model", "calls", *tok, "cost", "unpriced tokens"], rows, "nrrrrr",
                        caption="Cost by model"))
    blocks += chart("cost_by_tool.png")
    tools = report.cost_by_tool
    shown = tools[(tools["cost_usd"] > 0) | (tools["unpriced_tokens"] > 0)]
    rest = tools.drop(shown.index)
    rows = [[name_or(t.tool_name, "(none)"), fmt_count(t.calls), fmt_count(t.calls_with_tokens),
             fmt_tokens(t.input_tokens + t.output_tokens + t.cache_write_tokens + t.cache_read_tokens),
             _cost_cell(t.cost_usd, t.calls_with_tokens, t.unpriced_tokens),
             fmt_tokens(t.unpriced_tokens) if t.unpriced_tokens else "–"]
            for t in shown.itertuples(index=False)]
    if len(rest):
        rows.append([f"{len(rest)} other tools", fmt_count(rest["calls"].sum()),
                     fmt_count(rest["calls_with_tokens"].sum()), "–", "no tokens", "–"])
    blocks.append(Table(["tool", "calls", *tok, "cost", "unpriced tokens"], rows, "nrrrrr",
                        caption="Cost by tool"))
    return Section("Cost", "cost", blocks)


def _errors(page: _Page) -> Section:
    """Errors: the error rate, its charts, and failures by tool, by category and the top errors."""
    report, head, wq, chart = page.report, page.head, page.wq, page.chart
    er = head.loc["error_rate"]
    unknown = wq("calls_unknown_outcome")
    errors_tool = report.error_rates_by_tool
    blocks: list[Block] = [P(
        f"{fmt_count(errors_tool['failed'].sum())} of {fmt_count(errors_tool['completed'].sum())} completed calls "
        f"failed: an error rate of {fmt_pct(er['this_week'])} ({change_text('pct', er)}). "
        f"{fmt_count(unknown)} calls never reported an outcome and are left out of the rate. A failure is the bot's "
        f"own judgement (its post-hook found an error in the tool's output).")]
    blocks += chart("error_rate_per_day.png")
    blocks += chart("error_rates_by_tool.png")
    et = errors_tool[errors_tool["failed"] > 0]
    rows = [[name_or(t.tool_name, "(none)"), fmt_count(t.calls), fmt_count(t.completed), fmt_count(t.failed),
             fmt_count(t.unknown), fmt_pct(t.error_rate)] for t in et.itertuples(index=False)]
    if not rows:
        blocks.append(P("No tool call failed this week."))
    else:
        blocks.append(Table(["tool", "calls", "completed", "failed", "unknown", "error rate"], rows, "nrrrrr",
                            caption="Error rate by tool (tools with failures)"))
    cat = report.error_rates_by_category
    if len(cat):
        rows = [[name_or(c.error_category, "(no category)"), fmt_count(c.failed), fmt_pct(c.share_of_failures),
                 fmt_pct(c.error_rate, digits=2)] for c in cat.itertuples(index=False)]
        blocks.append(Table(["error category", "failed", "share of failures", "of completed calls"], rows, "nrrr",
                            caption="Failures by the bot's error category"))
    top = report.top_errors
    if len(top):
        rows = [[name_or(t.tool_name, "(none)"), clip(t.error_template, 90) or "(no text)",
                 name_or(t.error_category, "(none)"), fmt_count(t.count), fmt_pct(t.share),
                 short_day(t.last_seen.date())]
                for t in top.itertuples(index=False)]
        blocks.append(Table(["tool", "error template", "category", "failed", "share", "last seen"], rows,
                            "nlnrrn", caption="Top errors (by tool and error template)"))
    return Section("Errors", "errors", blocks)


def _tasks(page: _Page) -> Section:
    """Tasks: created and finished, success rate, cycle times, tasks per day."""
    report, head, chart = page.report, page.head, page.chart
    tp = report.throughput_per_day
    created, completed = int(tp["created"].sum()), int(tp["completed"].sum())
    failed, stopped = int(tp["failed"].sum()), int(tp["stopped"].sum())
    cyc = report.cycle_times["cycle_s"]
    blocks: list[Block] = [P(
        f"{created} tasks created and {completed + failed + stopped} finished: {completed} completed, {failed} failed, "
        f"{stopped} stopped. Success rate (completed of completed + failed) "
        f"{fmt_pct(head.loc['success_rate', 'this_week'])}. Cycle time (created to finished, queue included): "
        f"median {fmt_duration(head.loc['median_cycle_s', 'this_week'])}, "
        f"90th percentile {fmt_duration(cyc.quantile(0.9) if len(cyc) else np.nan)}.")]
    blocks += chart("throughput.png")
    blocks += chart("cycle_times.png")
    rows = [[short_day(t.period_start.date()), fmt_count(t.created), fmt_count(t.completed), fmt_count(t.failed),
             fmt_count(t.stopped), fmt_pct(t.success_rate), fmt_duration(t.median_cycle_s), fmt_duration(t.p90_cycle_s)]
            for t in tp.itertuples(index=False)]
    blocks.append(Table(["day", "created", "completed", "failed", "stopped", "success", "median cycle", "p90 cycle"],
                        rows, "nrrrrrrr", caption="Tasks per day"))
    return Section("Tasks", "tasks", blocks)


def _subagents(page: _Page) -> Section:
    """Sub-agents: Task calls by sub-agent type."""
    report, chart = page.report, page.chart
    sa = report.subagents
    if len(sa):
        said = (" Tokens and cost here are what the bot recorded on the Task calls; the transcripts count the "
                "sub-agents' own API requests in the tasks' and tools' cost above." if report.transcripts else
                " Their tokens are the only ones the bot records, so this is where almost all of the recorded cost "
                "comes from.")
        blocks: list[Block] = [P(f"{fmt_count(sa['calls'].sum())} Task calls delegated work to {len(sa)} sub-agent "
                                 f"types.{said}")]
        blocks += chart("subagents.png")
        rows = [[name_or(s.subagent_type, "(not recorded)"), fmt_count(s.calls), fmt_count(s.failed),
                 fmt_count(s.unknown), fmt_tokens(s.input_tokens + s.output_tokens), fmt_usd(s.cost_usd)]
                for s in sa.itertuples(index=False)]
        blocks.append(Table(["sub-agent", "calls", "failed", "unknown", "tokens", "cost"], rows, "nrrrrr",
                            caption="Sub-agent usage"))
    else:
        blocks = [P("No Task (sub-agent) calls this week.")]
    return Section("Sub-agents", "subagents", blocks)


def _anomalies(page: _Page) -> Section:
    """Anomalies: the rule, then the flagged days."""
    report = page.report
    blocks: list[Block] = [P(ANOMALY_RULE, muted=True)]
    an = report.anomalies
    if len(an):
        rows = []
        for a in an.itertuples(index=False):
            kind = {"cost_usd": "usd", "calls": "count", "error_rate": "pct"}[a.metric]
            word = {"cost_usd": "cost", "calls": "calls", "error_rate": "error rate"}[a.metric]
            z = f"{a.robust_z:+.1f}"
            if abs(float(z)) <= Z_LIMIT:  # rounding would hide why it is flagged
                z = f"{a.robust_z:+.2f}"
            subject = "all activity" if a.subject == "all" else a.subject
            rows.append([short_day(a.day), subject, word, fmt_kind(kind, a.value), fmt_kind(kind, a.median),
                         z.replace("-", "−"), "above usual" if a.robust_z > 0 else "below usual"])
        blocks.append(Table(["day", "what", "measure", "value", f"{HISTORY_DAYS}-day median", "robust z", ""], rows,
                            "nnnrrrn", caption="Flagged days"))
    else:
        blocks.append(P("Nothing was flagged this week: every day and every busy tool stayed within its usual range."))
    return Section("Anomalies", "anomalies", blocks)


def _cost_cell(cost: float, calls_with_tokens: int, unpriced: int) -> str:
    """A cost that is not a fact is not shown as $0: no tokens → 'no tokens'; only unpriced tokens → 'unpriced'."""
    if not pd.isna(cost) and cost > 0:  # the bot's tokens, or the transcripts' requests
        return fmt_usd(cost)
    if not calls_with_tokens:
        return "no tokens"
    if pd.isna(cost) or (not cost and unpriced):
        return "unpriced"
    return fmt_usd(cost)


def _exact_cost(report: WeeklyReport) -> bool:
    """True when Claude Code's transcripts give the cost of every call of the week (no floor)."""
    t = report.transcripts
    return bool(t) and t["calls"] > 0 and t["calls_cost_transcript"] == t["calls"]


def _cost_text(report: WeeklyReport, cost: float, tool_cost: float, r: pd.Series, token_share: float) -> str:
    """The cost paragraph: the bot's floor, or the transcripts' cost and how far they cover the week."""
    t = report.transcripts
    if not t:
        return (f"Recorded cost this week: {fmt_usd(cost)} — {fmt_usd(tool_cost)} from tool calls and "
                f"{fmt_usd(r['cost_usd'])} from {fmt_count(r['assistant_messages'])} web-chat router answers. "
                f"It is a floor, not the bill: tokens are recorded for only {fmt_pct(token_share)} of "
                f"calls (see Data quality).")
    text = (f"Cost this week: {fmt_usd(cost)} — {fmt_usd(tool_cost)} from tool calls, "
            f"{fmt_usd(t['turns_without_tools_usd'])} from model turns that called no tool, and "
            f"{fmt_usd(r['cost_usd'])} from {fmt_count(r['assistant_messages'])} web-chat router answers. "
            f"Claude Code's session transcripts ({fmt_count(t['requests'])} API requests) give the cost of "
            f"{fmt_pct(_ratio(t['calls_cost_transcript'], t['calls']))} of the calls and cover "
            f"{t['days_covered']} of the {t['days']} days with calls")
    if _exact_cost(report):
        return text + ": this is the bill, not a floor."
    return text + ("; for the rest the cost is the bot's recorded tokens, a floor, so the total is a floor too.")


def _coverage_text(t: dict) -> str:
    """The data-quality bullet on the two witnesses."""
    return (f"Claude Code's transcripts cover {t['days_covered']} of the {t['days']} days with calls: "
            f"{fmt_count(t['calls_both'])} calls were seen by both the bot and the transcripts, "
            f"{fmt_count(t['calls_bot_only'])} only in the bot's rows, {fmt_count(t['calls_transcript_only'])} "
            f"only in the transcripts; {fmt_pct(_ratio(t['calls_cost_transcript'], t['calls']))} of the calls take "
            f"their cost from the transcripts" + ("." if t["calls_cost_transcript"] == t["calls"] else
                                                  ", the rest from the bot's recorded tokens (a floor)."))


def _ratio(a: float, b: float) -> float:
    return float(a) / float(b) if b else float("nan")


def _budget_block(report: WeeklyReport) -> P:
    b = report.budget.iloc[0]
    month = datetime.strptime(b["month"], "%Y-%m")
    if pd.isna(b["projected_month_usd"]):
        return P(f"No cost was recorded in {month:%B %Y} up to this week's end, so there is nothing to project "
                 f"against the cost limits.")
    parts = [
        f"Month to date ({month:%B %Y}, through {short_day(report.end - timedelta(days=1))}): "
        f"{fmt_usd(b['month_to_date_usd'])}. At this week's pace ({fmt_usd(b['daily_average_usd'])} a day) the month "
        f"would end near {fmt_usd(b['projected_month_usd'])}."
    ]
    if not pd.isna(b["monthly_limit_usd"]):
        share = b["projected_share_of_limit"]
        verdict = "over" if share > 1 else "within"
        parts.append(f"That is {fmt_pct(share)} of the monthly limit of {fmt_usd(b['monthly_limit_usd'])} "
                     f"({_limit_source(report.limit_sources.get('monthly'))}): {verdict} the limit.")
    else:
        parts.append("No monthly limit is set (MONTHLY_COST_LIMIT or --monthly-limit).")
    if not pd.isna(b["daily_limit_usd"]):
        over = int(b["days_over_daily_limit"])
        source = _limit_source(report.limit_sources.get("daily"))
        parts.append(f"Daily limit {fmt_usd(b['daily_limit_usd'])} ({source}): "
                     f"{'no day' if over == 0 else f'{over} day' + ('s' if over > 1 else '')} over it this week; "
                     f"the most expensive day cost {fmt_usd(b['max_daily_usd'])}.")
    else:
        parts.append("No daily limit is set (DAILY_COST_LIMIT or --daily-limit).")
    if not _exact_cost(report):
        parts.append("Recorded cost is a floor, so the real spend reaches a limit sooner than this projection says.")
    return P(" ".join(parts))


def _limit_source(source: str | None) -> str:
    """How a limit was given: an environment variable (upper case) or an option."""
    return f"from ${source}" if source and source.isupper() else "given as an option"


def _quality(report: WeeklyReport) -> Section:
    """Data quality: how far to trust the figures (bullets), then the checks of the week and of the database."""
    q = report.data_quality
    week = q[q["scope"] == "week"].set_index("check_name")["value"]
    whole = q[q["scope"] == "database"].set_index("check_name")["value"]
    calls, with_tokens = int(week["calls"]), int(week["calls_with_tokens"])
    task_tokens = int(week["task_calls_with_tokens"])
    recorded, unpriced = int(week["recorded_tokens"]), int(week["unpriced_tokens"])
    unknown, no_model = int(week["calls_unknown_outcome"]), int(week["calls_without_model"])
    items = []
    if report.transcripts:
        items.append(_coverage_text(report.transcripts))
    elif with_tokens:
        items.append(
            f"Tokens are recorded for only {fmt_pct(_ratio(with_tokens, calls))} of calls ({fmt_count(with_tokens)} of "
            f"{fmt_count(calls)}), {fmt_pct(_ratio(task_tokens, with_tokens))} of them sub-agent (Task) calls. The "
            f"main agent's own tokens are never recorded, so every cost here is a floor.")
    else:
        items.append("No call recorded tokens this week: there is no cost figure at all.")
    if unpriced:
        items.append(
            f"{fmt_tokens(unpriced)} tokens ({fmt_pct(_ratio(unpriced, recorded))} of those recorded) have no "
            f"price — "
            f"mostly calls of interactive CLI sessions, which have no model ({fmt_count(no_model)} calls; "
            f"amiga-analytics sync --default-model assigns one). They are left out of the cost, not priced at $0.")
    else:
        items.append("Every recorded token has a price.")
    items.append(
        f"{fmt_count(unknown)} calls ({fmt_pct(_ratio(unknown, calls))}) never reported an outcome (still running, "
        f"killed, or failed before the bot's post-hook); error rates leave them out. A failure is the bot's own "
        f"heuristic on the tool's output, not a flag from the tool.")
    secrets = int(whole.get("secrets_masked", 0))
    items.append(
        f"{fmt_count(secrets)} secrets (API keys, tokens, passwords, e-mail addresses) were masked when the "
        f"database was loaded; none reaches this report." if secrets else
        "No secrets were found when the database was loaded.")
    odd = int(whole.get("unparseable_timestamps", 0)) + int(whole.get("dst_ambiguous_timestamps", 0))
    if odd:
        items.append(f"{fmt_count(odd)} timestamps in the whole database were unreadable or fell in a DST change; "
                     f"their day may be off by one.")
    days = int(week["days_with_data"])
    if days < 7:
        items.append(f"Only {days} of the 7 days have any record.")
    def rows(scope: str) -> list[list[str]]:
        return [[c.detail, fmt_count(c.value)] for c in q[q["scope"] == scope].itertuples(index=False)]

    return Section("Data quality: how far to trust these figures", "data-quality", [
        Bullets(items),
        Table(["check (this week)", "value"], rows("week"), "lr", caption="This week"),
        Table(["check (whole database, last sync)", "value"], rows("database"), "lr",
              caption="Whole database (as of the last sync)"),
    ])


def subtitle(report: WeeklyReport) -> str:
    """The week's days and timezone, and the week it is compared with."""
    last = report.end - timedelta(days=1)
    return (f"{short_day(report.start)} – {short_day(last)} {last:%Y} ({report.timezone}), "
            f"compared with the week before ({report.previous_week})")


def footer(report: WeeklyReport) -> str:
    """Where the report comes from (version, database) and how to read it."""
    source = f"the bot database {report.bot_db} (synced into {report.source})" if report.bot_db else report.source
    return (f"Made by amiga-analytics {__version__} from {source}. Calls are logical tool calls (the bot "
            f"writes up to four rows per call); days and weeks are in {report.timezone}. Every table is also a CSV "
            f"file beside this report, at full precision.")
