"""Issue 16: noise tests of the headline, "What to do this week", unpriced cost as missing, the usage reports
and their output flags, relative periods, Monday weeks, cron-safe alerts, sync's zone messages and progress,
home directories as ~, the footer's source.

Expected figures are worked out here by hand (the tests' formulas typed in from the statistics textbooks) or
from the demo's truth JSON, never taken from the code under test.
"""

from __future__ import annotations

import io
import json
import math
import statistics
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import pandas as pd
import pytest
from click.testing import CliRunner

import amiga_analytics as aa
from amiga_analytics.cli import cli
from amiga_analytics.load.progress import LineProgress
from amiga_analytics.queries import reports
from amiga_analytics.report import stats
from amiga_analytics.report.fmt import tilde

DEMO_TZ = ZoneInfo("Europe/Madrid")
W43 = (date(2025, 10, 20), date(2025, 10, 27))
W42 = (date(2025, 10, 13), date(2025, 10, 20))


@pytest.fixture(scope="module")
def w43(demo_pair):
    return aa.weekly_report(demo_pair[2], week="2025-W43")


# --- noise ---------------------------------------------------------------------------------------------------------


def _finished(truth: dict, week: tuple[date, date]) -> list[dict]:
    out = []
    for t in truth["tasks"]:
        if t["final"] in ("completed", "failed", "stopped") and t.get("finished"):
            day = datetime.fromisoformat(t["finished"]).date()
            if week[0] <= day < week[1]:
                out.append(t)
    return out


def test_two_proportion_and_poisson_by_hand():
    # 6 % of 1,000 vs 5 % of 1,000: pooled p = 0.055, se = √(0.055·0.945·0.002) = 0.010196 → z = 0.981
    assert stats.two_proportion_z(60, 1000, 50, 1000) == pytest.approx(0.01 / math.sqrt(0.055 * 0.945 * 0.002))
    assert stats.poisson_z(121, 100) == pytest.approx(21 / math.sqrt(221))
    # Welch: means 3 and 1, variances 2.5 and 0 (n = 5 each) → z = 2 / √(0.5) = 2.83
    assert stats.welch_z([1, 2, 3, 4, 5], [1, 1, 1, 1, 1]) == pytest.approx(2 / math.sqrt(0.5))
    # Mann–Whitney: xs all above ys (n = 3, 3): U = 9, mean 4.5, sd √(9·7/12) → z = 4.5/2.2913
    assert stats.mann_whitney_z([10, 11, 12], [1, 2, 3]) == pytest.approx(4.5 / math.sqrt(63 / 12))


def test_verdicts_beyond_noise_only():
    this = {"error_rate": 0.08, "failed": 80, "completed": 1000, "success_rate": 0.80, "tasks_completed": 40,
            "tasks_failed": 10, "calls": 1000, "tasks_finished": 50}
    before = {"error_rate": 0.05, "failed": 50, "completed": 1000, "success_rate": 0.84, "tasks_completed": 42,
              "tasks_failed": 8, "calls": 1010, "tasks_finished": 50}
    df = stats.week_over_week(this, before).set_index("metric")
    # error rate 8 % vs 5 %: pooled 0.065, z = 0.03/√(0.065·0.935·0.002) = 2.72 → worse
    assert df.loc["error_rate", "z"] == pytest.approx(0.03 / math.sqrt(0.065 * 0.935 * 0.002))
    assert df.loc["error_rate", "verdict"] == "worse"
    # success 40/50 vs 42/50: pooled 0.82, z = −0.04/√(0.82·0.18·0.04) = −0.52 → no clear change
    assert df.loc["success_rate", "verdict"] == "no clear change"
    assert df.loc["calls", "verdict"] == "no clear change"  # −10/√2010 = −0.22
    assert df.loc["tasks_finished", "verdict"] == "unchanged"


def test_demo_last_week_labels_match_the_stated_test_by_hand(demo_pair, w43):
    """Recompute every W43 headline z from the demo's own numbers (truth JSON and the report's daily figures)."""
    truth = demo_pair[1]
    h = w43.headline.set_index("metric")
    fin_now, fin_before = _finished(truth, W43), _finished(truth, W42)
    done = lambda ts, s: sum(t["final"] == s for t in ts)  # noqa: E731
    a, b = done(fin_now, "completed"), done(fin_before, "completed")
    na, nb = a + done(fin_now, "failed"), b + done(fin_before, "failed")
    p = (a + b) / (na + nb)
    z_success = (a / na - b / nb) / math.sqrt(p * (1 - p) * (1 / na + 1 / nb))
    assert h.loc["success_rate", "z"] == pytest.approx(z_success, rel=1e-9)
    z_finished = (len(fin_now) - len(fin_before)) / math.sqrt(len(fin_now) + len(fin_before))
    assert h.loc["tasks_finished", "z"] == pytest.approx(z_finished)
    calls_now, calls_before = h.loc["calls", "this_week"], h.loc["calls", "previous_week"]
    assert h.loc["calls", "z"] == pytest.approx((calls_now - calls_before) / math.sqrt(calls_now + calls_before))
    # cost: Welch on the 7 daily costs of each week (from the report's cost per day)
    cpd = w43.cost_per_day.set_index(w43.cost_per_day["period_start"].dt.date)["cost_usd"]
    now = [cpd.get(W43[0] + timedelta(days=i), 0.0) for i in range(7)]
    before = [cpd.get(W42[0] + timedelta(days=i), 0.0) for i in range(7)]
    z_cost = (statistics.mean(now) - statistics.mean(before)) / math.sqrt(
        statistics.variance(now) / 7 + statistics.variance(before) / 7)
    assert h.loc["cost_usd", "z"] == pytest.approx(z_cost)
    for metric, z in h["z"].items():
        better = dict((k, d) for k, _l, _k, d in stats.HEADLINE)[metric]
        change = h.loc[metric, "change"]
        expected = ("no clear change" if abs(z) <= 1.96 else
                    ("more" if change > 0 else "fewer") if better is None else
                    "better" if (change > 0) == (better == "up") else "worse")
        assert h.loc[metric, "verdict"] == expected, metric
    md = w43.to_markdown()
    assert md.count(stats.NOISE_TEST) == 1  # named once


# --- what to do this week ------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def written(demo_pair, tmp_path_factory):
    return aa.write_report(demo_pair[2], out_dir=tmp_path_factory.mktemp("r16"), week="2025-W43")


def test_actions_link_to_their_evidence(w43, written):
    acts = w43.actions
    assert 1 <= len(acts) <= 5
    sections = {"cost", "errors", "tasks", "anomalies"}
    for a in acts.itertuples(index=False):
        assert a.section in sections and a.csv.endswith(".csv")
        assert a.datasette_url.startswith("http://127.0.0.1:8001/analytics/")
    html = written.read_text()
    assert html.index('id="actions"') < html.index('id="headline"')
    block = html[html.index('<ol class="actions">'):html.index("</ol>")]
    assert block.count("<li>") == len(acts)
    for a in acts.itertuples(index=False):
        assert f'href="#{a.section}"' in block and f'href="{a.csv}"' in block
        assert f'href="{a.datasette_url.replace("&", "&amp;")}"' in block
        assert (written.parent / a.csv).exists()


def test_actions_top_error_from_truth(demo_pair, w43):
    """Errors are grouped by tool, error template and category (issue 15). The truth JSON has no error text, so:
    the groups of all W43 failures must partition the truth's failures by (tool, category) exactly; then an
    action is due for each of the two largest groups with >= 10 failures and >= 10 % of the truth's total."""
    truth, db = demo_pair[1], demo_pair[2]
    counts: dict = {}
    for c in truth["calls"]:
        if c.get("outcome") == "failure" and W43[0] <= datetime.fromisoformat(c["start"]).date() < W43[1]:
            key = (c.get("tool"), c.get("error_category"))
            counts[key] = counts.get(key, 0) + 1
    total = sum(counts.values())
    assert total > 0
    groups = aa.queries.top_errors(db, since=W43[0], until=W43[1], limit=None)
    summed: dict = {}
    for g in groups.itertuples(index=False):
        key = (g.tool_name, None if pd.isna(g.error_category) else g.error_category)
        summed[key] = summed.get(key, 0) + g.count
    assert summed == counts
    assert int(w43.error_rates_by_tool["failed"].sum()) == total
    pd.testing.assert_frame_equal(w43.top_errors.reset_index(drop=True),
                                  groups.head(10).drop(columns=["example_error"]).reset_index(drop=True))
    due = [g for g in groups.head(2).itertuples(index=False) if g.count >= 10 and g.count / total >= 0.10]
    errs = w43.actions[w43.actions["section"] == "errors"]
    assert len(errs) == len(due)
    for g, (_, a) in zip(due, errs.iterrows()):
        assert f"{g.tool_name} error ({g.error_category})" in a["action"] and g.error_template[:60] in a["action"]
        assert f"tool_name={g.tool_name}&outcome=failure" in a["datasette_url"]
        assert a["evidence"].startswith(f"{g.count} failures")


def test_actions_budget_over_limit_and_nothing_to_do(demo_pair):
    rep = aa.weekly_report(demo_pair[2], week="2025-W43", monthly_limit=1.0, daily_limit=0.001,
                           datasette_url="https://ds.example/")
    first = rep.actions.iloc[0]
    assert first["csv"] == "budget.csv" and "monthly limit" in first["action"]
    assert first["datasette_url"].startswith("https://ds.example/analytics/tool_daily?day__gte=2025-10-01")
    from amiga_analytics.report.actions import actions_table

    empty = {"start": W43[0], "end": W43[1], "headline": rep.headline.assign(verdict="no clear change"),
             "budget": rep.budget.assign(projected_share_of_limit=0.5, daily_limit_usd=float("nan")),
             "anomalies": rep.anomalies.iloc[0:0], "top_errors": rep.top_errors.iloc[0:0], "errors_total": 0,
             "tasks": aa.queries.task_cost(demo_pair[2]).iloc[0:0], "cost_by_tool": rep.cost_by_tool.iloc[0:0],
             "finished": rep.cycle_times, "finished_before": rep.cycle_times}
    assert actions_table(empty, base="x").empty
    import dataclasses

    quiet = dataclasses.replace(rep, actions=actions_table(empty, base="x"))
    assert "Nothing crosses a threshold this week" in quiet.to_markdown()


def test_actions_use_error_template_when_present(w43):
    """A hand-made week of 120 failures: a group of 30 (25 %) is an action, named by its template and linked by
    tool, category and template; a group of 9 (< 10 failures) is not."""
    from amiga_analytics.report.actions import _errors

    assert "example_error" not in w43.top_errors.columns  # the report publishes no free error text
    row = w43.top_errors.iloc[0]
    top = pd.DataFrame([
        row.to_dict() | {"tool_name": "Edit", "error_template": "File has not been read yet <PATH>",
                         "error_category": "unknown_error", "count": 30, "share": 0.25},
        row.to_dict() | {"tool_name": "Bash", "error_template": "fatal: not a git repository", "error_category":
                         "git_error", "count": 9, "share": 0.075}])
    rows = _errors({"top_errors": top, "errors_total": 120, "start": W43[0], "end": W43[1]}, "http://h")
    assert len(rows) == 1
    assert rows[0]["action"] == ("Fix the most frequent Edit error (unknown_error): "
                                 "\u201cFile has not been read yet <PATH>\u201d")
    assert rows[0]["evidence"] == "30 failures, 25.0% of the week's 120"
    assert rows[0]["datasette_url"] == (
        "http://h/analytics/tool_calls?tool_name=Edit&outcome=failure&error_category=unknown_error"
        "&error_template=File+has+not+been+read+yet+%3CPATH%3E&day__gte=2025-10-20&day__lt=2025-10-27")


# --- unpriced is never $0 ------------------------------------------------------------------------------------------


def test_unpriced_cost_is_missing_with_a_reason(demo_pair):
    db = demo_pair[2]
    by_model = aa.queries.tool_cost(db, by="model_id")
    no_model = by_model[by_model["model_id"].isna()].iloc[0]
    assert no_model["unpriced_tokens"] > 0 and math.isnan(no_model["cost_usd"])
    weekly = aa.queries.tool_cost(db, by="model_id", freq="W-MON")
    assert weekly.loc[weekly["model_id"].isna(), "cost_usd"].isna().all()
    out = CliRunner().invoke(cli, ["query", str(db), "tool_cost", "--by", "model_id", "--json"])
    rows = json.loads(out.output)
    blank = [r for r in rows if r["model_id"] is None][0]
    assert blank["cost_usd"] is None and blank["cost_note"] == "no model: CLI sessions"
    assert all(r["cost_usd"] is not None and r["cost_usd"] > 0 for r in rows if r["model_id"] and r["unpriced_tokens"]
               == 0 and r["calls_with_tokens"] > 0)


# --- usage reports, flags, periods ---------------------------------------------------------------------------------


def test_daily_totals_match_truth_calls(demo_pair):
    db, truth = demo_pair[2], demo_pair[1]
    df = reports.daily(db, since="2025-10-20", until="2025-10-27")
    expected = {}
    for c in truth["calls"]:
        d = datetime.fromisoformat(c["start"]).date()
        if W43[0] <= d < W43[1]:
            expected[d.isoformat()] = expected.get(d.isoformat(), 0) + 1
    assert dict(zip(df["period"], df["calls"])) == {k: v for k, v in sorted(expected.items())}
    out = CliRunner().invoke(cli, ["daily", str(db), "--since", "2025-10-20", "--until", "2025-10-27"])
    assert out.exit_code == 0, out.output
    last = [line for line in out.output.splitlines() if line.strip().startswith("Total")][0]
    assert f"{sum(expected.values()):,}" in last and "$" in last


def test_weekly_breakdown_json_totals_and_monday_weeks(demo_pair):
    db = demo_pair[2]
    out = CliRunner().invoke(cli, ["weekly", str(db), "--breakdown", "--json"])
    doc = json.loads(out.stdout if hasattr(out, "stdout") else out.output)
    assert doc["source"] == "tool calls" and doc["totals"]["period"] == "Total"
    assert doc["totals"]["calls"] == sum(r["calls"] for r in doc["rows"])
    assert {r["period"] for r in doc["rows"]} >= {"2025-W42", "2025-W43"}
    w = aa.queries.tool_cost(db, by=None, freq="W")
    assert (w["period_start"].dt.day_of_week == 0).all()  # --freq W means W-MON


def test_relative_periods_and_empty_range_message(demo_pair):
    assert reports.resolve_window("last-week", None, "UTC", today=date(2025, 10, 29)) == (W43[0], W43[1])
    assert reports.resolve_window("this-month", None, "UTC", today=date(2025, 10, 29)) == (
        date(2025, 10, 1), date(2025, 11, 1))
    assert reports.resolve_window("yesterday", None, "UTC", today=date(2025, 10, 1)) == (
        date(2025, 9, 30), date(2025, 10, 1))
    out = CliRunner().invoke(cli, ["query", str(demo_pair[2]), "tool_cost", "--since", "7d"])
    first = min(c["start"] for c in demo_pair[1]["calls"])[:10]
    assert "(no rows since 7d: the data covers" in out.output and first in out.output


def test_output_flags(demo_pair):
    db = str(demo_pair[2])
    nl = CliRunner().invoke(cli, ["query", db, "tool_cost", "--by", "none", "--nl"]).output.splitlines()
    assert len(nl) == 1 and json.loads(nl[0])["calls"] == len(demo_pair[1]["calls"])
    csv = CliRunner().invoke(cli, ["query", db, "tool_cost", "--csv"]).output
    assert csv.splitlines()[0].startswith("tool_name,calls")
    bad = CliRunner().invoke(cli, ["query", db, "tool_cost", "--csv", "--format", "json"])
    assert bad.exit_code == 2


def test_sessions_falls_back_to_tasks(demo_pair):
    df = reports.sessions(demo_pair[2])
    assert df.attrs["source"] == "tasks" and len(df) == len(demo_pair[1]["tasks"])


# --- alerts --------------------------------------------------------------------------------------------------------


def test_check_exit_codes(demo_pair, w43):
    db = str(demo_pair[2])
    r = CliRunner().invoke(cli, ["check", db, "--week", "2025-W43", "--monthly-limit", "1", "--daily-limit", "1"])
    assert r.exit_code == 3
    lines = r.output.splitlines()
    cpd = w43.cost_per_day
    week = cpd[(cpd["period_start"].dt.date >= W43[0]) & (cpd["period_start"].dt.date < W43[1])]
    over = int((week["cost_usd"] > 1).sum())
    assert sum(line.startswith("daily: ") for line in lines) == over
    assert sum(line.startswith("monthly: ") for line in lines) == 1
    assert sum(line.startswith("anomaly: ") for line in lines) == len(w43.anomalies)
    quiet_week = None
    for wk in ("2025-W42", "2025-W41"):
        if aa.weekly_report(db, week=wk).anomalies.empty:
            quiet_week = wk
    if quiet_week:
        ok = CliRunner().invoke(cli, ["check", db, "--week", quiet_week, "--monthly-limit", "100000"])
        assert ok.exit_code == 0 and ok.output == ""


# --- sync messages and progress -----------------------------------------------------------------------------------


def test_sync_names_zones_and_warns_about_the_machine_zone(demo_pair, tmp_path):
    out = CliRunner().invoke(cli, ["sync", str(demo_pair[0]), str(tmp_path / "a.db")])
    assert out.exit_code == 0
    assert "zones: source " in out.output and "(from this machine)" in out.output
    assert "set it with --source-tz" in out.output
    out2 = CliRunner().invoke(cli, ["sync", str(demo_pair[0]), str(tmp_path / "b.db"), "--source-tz",
                                    "Europe/Madrid"])
    assert "source Europe/Madrid (from --source-tz), report Europe/Madrid (from the source zone)" in out2.output
    assert "Warning" not in out2.output
    quiet = CliRunner().invoke(cli, ["sync", str(demo_pair[0]), str(tmp_path / "c.db"), "--quiet",
                                     "--source-tz", "Europe/Madrid"])
    assert quiet.output == ""


def test_line_progress_prints_every_few_seconds():
    buf, now = io.StringIO(), [0.0]
    p = LineProgress(buf, interval=5.0, clock=lambda: now[0])
    for done, t in ((0, 0.0), (10_000, 1.0), (20_000, 5.5), (30_000, 6.0), (40_000, 11.0), (50_000, 11.5)):
        now[0] = t
        p("tool calls", done, 50_000)
    assert buf.getvalue().splitlines() == [
        "tool calls: 0 of 50,000 rows (0 %)", "tool calls: 20,000 of 50,000 rows (40 %)",
        "tool calls: 40,000 of 50,000 rows (80 %)", "tool calls: 50,000 of 50,000 rows (100 %)"]


# --- small things ------------------------------------------------------------------------------------------------


def test_home_dirs_as_tilde_and_footer_source(w43, demo_pair, written):
    assert tilde("open /Users/maria/src/a.py and /home/dev/x") == "open ~/src/a.py and ~/x"
    md = w43.to_markdown()
    assert "/Users/" not in md and "/home/" not in md
    # The report's table (and its CSV) carries the error templates, not the free text (issue 15).
    assert "example_error" not in w43.top_errors.columns
    texts = " ".join(w43.top_errors["error_template"].dropna())
    assert "/Users/" not in texts and "/home/" not in texts
    raw = aa.queries.top_errors(demo_pair[2], since=W43[0], until=W43[1], limit=10)
    homes = raw[raw["example_error"].str.contains("/Users/|/home/", na=False)]
    assert len(homes)  # the demo plants home paths: they are there in the data, and shown as ~
    assert all("~/" in t for t in homes["error_template"])
    csv = (written.parent / "top_errors.csv").read_text()
    assert "example_error" not in csv.splitlines()[0] and "/Users/" not in csv and "/home/" not in csv
    assert "~/" in csv
    assert f"from the bot database {demo_pair[0].name} (synced into" in md
    assert "agentlab.db" not in md


def test_reports_read_the_transcripts_when_loaded(tmp_path):
    """With api_requests loaded, daily/sessions come from the transcripts: per (day, model) request counts and
    the CLI sessions equal the fixture's truth (tests/fixtures/sample_par.transcripts.truth.json)."""
    from pathlib import Path

    from sqlite_utils import Database

    from amiga_analytics.load.transcripts import TaskIndex, read_transcripts, request_rows, write_requests
    from amiga_analytics.store import schema
    from amiga_analytics.store.transcripts_schema import m004_api_requests

    fixtures = Path(__file__).parent / "fixtures"
    truth = json.loads((fixtures / "sample_par.transcripts.truth.json").read_text())
    db = Database(tmp_path / "t.db")
    schema.migrate(db)
    m004_api_requests(db)
    db["sync_state"].insert({"key": "report_tz", "value": json.dumps("UTC")}, pk="key", replace=True)
    tasks = TaskIndex.from_tasks([(task_id, None, None) for task_id in truth["tasks"]])
    write_requests(db, request_rows(read_transcripts(fixtures / "sample_par.claude"), report_tz="UTC", tasks=tasks))
    daily = reports.daily(db, breakdown=True)
    assert daily.attrs["source"] == "transcripts"
    expected = {(day, model): sums["requests"] for day, models in truth["daily_utc"].items()
                for model, sums in models.items() if sums["requests"]}
    assert {(r.period, r.model_id): r.calls for r in daily.itertuples(index=False)} == expected
    sessions = reports.sessions(db)
    assert sessions.attrs["source"] == "transcripts"
    assert set(truth["cli_sessions"]) <= set(sessions["session_id"])
    note = CliRunner().invoke(cli, ["sessions", str(tmp_path / "t.db"), "--csv"])
    assert note.exit_code == 0 and "from Claude Code's transcripts" in note.output


def test_task_type_fall_and_unread_cache_writes_by_hand():
    from amiga_analytics.report.actions import _cache, _task_types

    def finished(agent: str, completed: int, failed: int) -> pd.DataFrame:
        return pd.DataFrame({"agent_type": [agent] * (completed + failed),
                             "status": ["completed"] * completed + ["failed"] * failed})

    f = {"start": W43[0], "end": W43[1],
         "finished": pd.concat([finished("code_agent", 15, 15), finished("research_agent", 19, 1)]),
         "finished_before": pd.concat([finished("code_agent", 28, 2), finished("research_agent", 20, 0)])}
    rows = _task_types(f, "http://h")
    # code_agent 15/30 vs 28/30: pooled 43/60, z = (0.5 − 0.9333)/√(0.7167·0.2833·(2/30)) = −3.73 → listed;
    # research_agent 19/20 vs 20/20: z = −1.01 → not
    assert len(rows) == 1 and "code_agent" in rows[0]["action"]
    p = 43 / 60
    z = (0.5 - 28 / 30) / math.sqrt(p * (1 - p) * (2 / 30))
    assert f"z = {z:+.2f}".replace("-", "−") in rows[0]["evidence"]
    assert "agent_type=code_agent&status=failed" in rows[0]["datasette_url"]

    tasks = pd.DataFrame({"cache_write_tokens": [6_000, 5_000, 50_000], "cache_read_tokens": [0, 0, 10]})
    cache = _cache({"tasks": tasks, "start": W43[0], "end": W43[1]}, "http://h")
    assert len(cache) == 1 and "2 tasks, 11 k cache-write tokens" in cache[0]["evidence"]
    assert _cache({"tasks": tasks.iloc[:1], "start": W43[0], "end": W43[1]}, "http://h") == []
