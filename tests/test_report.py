"""The weekly report: figures against the query functions and the demo's ground truth, the week-over-week
arithmetic, the anomaly rule on a planted spike, the files it writes, and the CLI's exit codes.

Ground-truth figures are worked out here with plain Python from the demo's truth JSON (naive local times of a
Europe/Madrid host, converted with zoneinfo) and list prices typed in from shared/pricing.md.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import math
import re
import sqlite3
import statistics
import tomllib
from datetime import date, datetime, timedelta, timezone
from html.parser import HTMLParser
from pathlib import Path
from zoneinfo import ZoneInfo

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

import amiga_analytics as aa
from amiga_analytics import queries, report as report_mod
from amiga_analytics.bot_schema import create_bot_database
from amiga_analytics.cli import cli
from amiga_analytics.errors import InputError, NoDataError, NotAnAnalyticsDatabase
from amiga_analytics.sync import sync

UTC = timezone.utc
DEMO_TZ = ZoneInfo("Europe/Madrid")
W43 = (date(2025, 10, 20), date(2025, 10, 27))  # the demo's last week: Monday, next Monday
W42 = (date(2025, 10, 13), date(2025, 10, 20))

# shared/pricing.md, USD per million tokens (input, output, cache write 5 min, cache read), and what the aliases
# meant in W43 (Haiku 4.5 became the haiku alias on 2025-10-15). The router stores claude-haiku-4-5.
W43_PRICES = {
    "sonnet": (3.0, 15.0, 3.75, 0.30),
    "opus": (15.0, 75.0, 18.75, 1.50),
    "haiku": (1.0, 5.0, 1.25, 0.10),
}
ROUTER_PRICE = (1.0, 5.0)


# --- helpers -----------------------------------------------------------------------------------------------------


def local(naive: str, tz: ZoneInfo = DEMO_TZ) -> datetime:
    """A truth timestamp (the host's naive local time) as an aware datetime."""
    return datetime.fromisoformat(naive).replace(tzinfo=tz)


def in_week(naive: str | None, week: tuple[date, date], tz: ZoneInfo = DEMO_TZ) -> bool:
    if not naive:
        return False
    start = datetime.combine(week[0], datetime.min.time(), tz)
    end = datetime.combine(week[1], datetime.min.time(), tz)
    return start <= local(naive, tz) < end


def truth_week(truth: dict, week: tuple[date, date]) -> dict:
    """The headline figures of a week, from the ground truth alone."""
    calls = [c for c in truth["calls"] if in_week(c["start"], week)]
    success = sum(c["outcome"] == "success" for c in calls)
    failure = sum(c["outcome"] == "failure" for c in calls)
    finished = [t for t in truth["tasks"]
                if t["final"] in ("completed", "failed", "stopped") and in_week(t.get("finished"), week)]
    completed = sum(t["final"] == "completed" for t in finished)
    failed = sum(t["final"] == "failed" for t in finished)
    cycles = [(local(t["finished"]) - local(t["created"])).total_seconds() for t in finished]
    task_ids = {t["task_id"] for t in truth["tasks"]}
    return {
        "calls": len(calls),
        "error_rate": failure / (success + failure),
        "tasks_finished": len(finished),
        "success_rate": completed / (completed + failed),
        "median_cycle_s": statistics.median(cycles),
        "unknown": sum(c["outcome"] == "unknown" for c in calls),
        "calls_with_tokens": sum(c["tokens"] is not None for c in calls),
        "priced_calls": [c for c in calls if c["tokens"] is not None and c["task_id"] in task_ids],
        "messages": [m for m in truth["messages"] if in_week(m["at"], week)],
    }


def truth_cost_w43(truth: dict) -> float:
    """Tool-call cost plus router cost of W43 at list prices; CLI-session calls have no model (unpriced)."""
    figures = truth_week(truth, W43)
    total = 0.0
    for call in figures["priced_calls"]:
        tin, tout, tcw, tcr = (call["tokens"].get(k) or 0 for k in (
            "input_tokens", "output_tokens", "cache_creation_tokens", "cache_read_tokens"))
        p = W43_PRICES[call["model"]]
        total += (tin * p[0] + tout * p[1] + tcw * p[2] + tcr * p[3]) / 1e6
    for m in figures["messages"]:
        tin, tout = m.get("tokens_input") or 0, m.get("tokens_output") or 0
        total += (tin * ROUTER_PRICE[0] + tout * ROUTER_PRICE[1]) / 1e6
    return total


@pytest.fixture(scope="module")
def demo_report(demo_pair):
    return aa.weekly_report(demo_pair[2])


@pytest.fixture(scope="module")
def written(demo_pair, tmp_path_factory):
    out = tmp_path_factory.mktemp("report-out")
    path = aa.write_report(demo_pair[2], out_dir=out, daily_limit=3.0, monthly_limit=50.0)
    return path


# --- which week ----------------------------------------------------------------------------------------------------


def test_default_week_is_the_last_complete_iso_week_with_data(demo_report):
    # The demo ends on Sunday 2025-10-26 and was synced after it, so W43 is complete and the last with data.
    assert demo_report.week == "2025-W43"
    assert (demo_report.start, demo_report.end) == W43
    assert demo_report.previous_week == "2025-W42"
    assert demo_report.timezone == "Europe/Madrid"


def test_week_parsing():
    assert report_mod.parse_week("2025-W42").start == date(2025, 10, 13)
    assert report_mod.parse_week("2025w01").start == date(2024, 12, 30)  # ISO week 1 can begin in December
    assert report_mod.parse_week(date(2025, 10, 19)).label == "2025-W42"
    for bad in ("2025-42", "W42", "2025-W00", "2025-W53", "next week"):
        with pytest.raises(InputError, match="ISO week"):
            report_mod.parse_week(bad)
    assert report_mod.parse_week("2026-W53").start == date(2026, 12, 28)  # 2026 has 53 weeks


def test_the_current_incomplete_week_is_never_the_default(tmp_path):
    bot = tmp_path / "bot.db"
    create_bot_database(bot).close()
    now = datetime.now(UTC).replace(tzinfo=None)
    conn = sqlite3.connect(bot)
    conn.execute("INSERT INTO tool_usage (timestamp, task_id, tool_name, parameters, success) VALUES (?, ?, ?, ?, 1)",
                 (now.isoformat(), "0" * 8 + "-1111-2222-3333-" + "4" * 12, "Read", '{"file_path": "/a"}'))
    conn.commit()
    conn.close()
    out = tmp_path / "analytics.db"
    sync(bot, out, source_tz="UTC")
    with pytest.raises(NoDataError, match="no complete week with data"):
        aa.weekly_report(out)
    this_week = report_mod.Week.containing(now.date()).label
    assert aa.weekly_report(out, week=this_week).value("calls") == 1  # asked for explicitly, it is reported


# --- figures ---------------------------------------------------------------------------------------------------------


def test_headline_equals_the_query_functions(demo_pair, demo_report):
    db = demo_pair[2]
    for which, (since, until) in (("this_week", W43), ("previous_week", W42)):
        cost = queries.tool_cost(db, by=None, since=since, until=until).iloc[0]
        router = queries.router_usage(db, since=since, until=until).iloc[0]
        errors = queries.error_rates(db, by=None, since=since, until=until).iloc[0]
        tasks = queries.task_throughput(db, freq=None, since=since, until=until).iloc[0]
        assert demo_report.value("cost_usd", which) == pytest.approx(cost["cost_usd"] + router["cost_usd"], rel=1e-12)
        assert demo_report.value("calls", which) == cost["calls"]
        assert demo_report.value("error_rate", which) == pytest.approx(errors["error_rate"], rel=1e-12)
        assert demo_report.value("tasks_finished", which) == tasks["finished"]
        assert demo_report.value("success_rate", which) == pytest.approx(tasks["success_rate"], rel=1e-12)
        assert demo_report.value("median_cycle_s", which) == pytest.approx(tasks["median_cycle_s"], rel=1e-12)
    by_tool = queries.tool_cost(db, since=W43[0], until=W43[1])
    # Without transcripts the report leaves out the witness split (all of it is the bot's). A row with no priced
    # token has cost_usd NaN (issue 16: unpriced is never $0); its parts are both 0.
    priced = by_tool["cost_usd"].notna()
    assert priced.any() and (by_tool.loc[priced, "cost_bot_usd"] == by_tool.loc[priced, "cost_usd"]).all()
    assert (by_tool.loc[~priced, "cost_bot_usd"] == 0).all() and (by_tool["cost_transcript_usd"] == 0).all()
    pd.testing.assert_frame_equal(demo_report.cost_by_tool, by_tool.drop(columns=["cost_transcript_usd", "cost_bot_usd"]))
    pd.testing.assert_frame_equal(demo_report.error_rates_by_tool, queries.error_rates(db, since=W43[0], until=W43[1]))
    pd.testing.assert_frame_equal(demo_report.subagents, queries.subagent_usage(db, since=W43[0], until=W43[1]))
    pd.testing.assert_frame_equal(demo_report.throughput_per_day,
                                  queries.task_throughput(db, freq="D", since=W43[0], until=W43[1]))


def test_headline_equals_the_ground_truth(demo_pair, demo_report):
    truth = demo_pair[1]
    assert truth["timezone"] == "Europe/Madrid"
    for which, week in (("this_week", W43), ("previous_week", W42)):
        expected = truth_week(truth, week)
        assert demo_report.value("calls", which) == expected["calls"]
        assert demo_report.value("error_rate", which) == pytest.approx(expected["error_rate"], rel=1e-12)
        assert demo_report.value("tasks_finished", which) == expected["tasks_finished"]
        assert demo_report.value("success_rate", which) == pytest.approx(expected["success_rate"], rel=1e-12)
        # the bot stores its own finishing time, within a second of the truth's
        assert demo_report.value("median_cycle_s", which) == pytest.approx(expected["median_cycle_s"], abs=1.0)
    assert demo_report.value("cost_usd") == pytest.approx(truth_cost_w43(truth), rel=1e-9)


def test_cycle_times_are_the_tasks_finished_in_the_week(demo_pair, demo_report):
    truth = demo_pair[1]
    expected = sorted((local(t["finished"]) - local(t["created"])).total_seconds() for t in truth["tasks"]
                      if t["final"] in ("completed", "failed", "stopped") and in_week(t.get("finished"), W43))
    assert sorted(demo_report.cycle_times["cycle_s"]) == pytest.approx(expected, abs=1.0)


def test_data_quality_figures_of_the_week(demo_pair, demo_report):
    expected = truth_week(demo_pair[1], W43)
    q = demo_report.data_quality
    week = q[q["scope"] == "week"].set_index("check_name")["value"]
    assert week["calls"] == expected["calls"]
    assert week["calls_unknown_outcome"] == expected["unknown"]
    assert week["calls_with_tokens"] == expected["calls_with_tokens"]
    assert week["days_with_data"] == 7
    whole = q[q["scope"] == "database"].set_index("check_name")["value"]
    pd.testing.assert_series_equal(
        whole, aa.data_quality(demo_pair[2]).set_index("check_name")["value"], check_names=False)


def test_error_categories_share_and_rate(demo_report):
    cat = demo_report.error_rates_by_category
    failed = demo_report.error_rates_by_tool["failed"].sum()
    completed = demo_report.error_rates_by_tool["completed"].sum()
    assert cat["failed"].sum() == failed
    assert cat["share_of_failures"].sum() == pytest.approx(1.0)
    assert (cat["error_rate"] == cat["failed"] / completed).all()
    assert list(cat["failed"]) == sorted(cat["failed"], reverse=True)


# --- week over week ------------------------------------------------------------------------------------------------


def test_week_over_week_arithmetic_by_hand():
    this = {"cost_usd": 12.50, "calls": 900, "error_rate": 0.06, "tasks_finished": 40, "success_rate": 0.80,
            "median_cycle_s": 300.0}
    before = {"cost_usd": 10.00, "calls": 1000, "error_rate": 0.05, "tasks_finished": 50, "success_rate": 0.80,
              "median_cycle_s": 240.0}
    df = report_mod.week_over_week(this, before).set_index("metric")
    # cost +2.50 = +25 % → worse; calls −100 = −10 % → fewer; error rate +0.01 (+20 %) → worse;
    # tasks −10 = −20 % → worse; success rate unchanged; cycle time +60 s = +25 % → worse.
    assert df.loc["cost_usd", "change"] == pytest.approx(2.5)
    assert df.loc["cost_usd", "change_pct"] == pytest.approx(0.25)
    assert df.loc["calls", "change"] == -100 and df.loc["calls", "change_pct"] == pytest.approx(-0.10)
    assert df.loc["error_rate", "change"] == pytest.approx(0.01)
    assert df.loc["error_rate", "change_pct"] == pytest.approx(0.20)
    assert df.loc["tasks_finished", "change_pct"] == pytest.approx(-0.20)
    assert df.loc["median_cycle_s", "change"] == 60.0
    # Without the tests' evidence (daily costs, counts, cycle times) only the counts can be tested: calls
    # z = −100/√1900 = −2.29 → fewer; tasks z = −10/√90 = −1.05 → no clear change; the rest untestable.
    assert dict(df["verdict"]) == {"cost_usd": "no clear change", "calls": "fewer", "error_rate": "no clear change",
                                   "tasks_finished": "no clear change", "success_rate": "unchanged",
                                   "median_cycle_s": "no clear change"}
    assert df.loc["calls", "z"] == pytest.approx(-100 / math.sqrt(1900))
    better = report_mod.week_over_week(before, this).set_index("metric")["verdict"]
    assert dict(better) == {"cost_usd": "no clear change", "calls": "more", "error_rate": "no clear change",
                            "tasks_finished": "no clear change", "success_rate": "unchanged",
                            "median_cycle_s": "no clear change"}


def test_week_over_week_unknowns_and_zero():
    df = report_mod.week_over_week({"cost_usd": 3.0, "calls": 10, "error_rate": float("nan")},
                                   {"cost_usd": 0.0, "calls": float("nan")}).set_index("metric")
    assert df.loc["cost_usd", "change"] == 3.0 and math.isnan(df.loc["cost_usd", "change_pct"])
    assert df.loc["cost_usd", "verdict"] == "no clear change"  # no daily costs given: the test cannot run
    assert df.loc["calls", "verdict"] == "n/a" and df.loc["error_rate", "verdict"] == "n/a"
    assert df.dtypes["this_week"] == "float64" and df.dtypes["change_pct"] == "float64"


def test_report_headline_arithmetic_and_words(demo_report, written):
    h = demo_report.headline.set_index("metric")
    for metric, row in h.iterrows():
        assert row["change"] == pytest.approx(row["this_week"] - row["previous_week"])
        assert row["change_pct"] == pytest.approx(row["change"] / row["previous_week"])
    md = written.with_name("report.md").read_text()
    cost = h.loc["cost_usd"]
    expected = (f"| Cost | ${cost['this_week']:,.2f} (floor) | "
                f"{'+' if cost['change'] >= 0 else '−'}${abs(cost['change']):,.2f} "
                f"({cost['change_pct'] * 100:+.1f}%) vs ${cost['previous_week']:,.2f} — ").replace("(-", "(−")
    assert expected in md
    er = h.loc["error_rate"]
    assert f"| Error rate | {er['this_week'] * 100:.1f}% | {er['change'] * 100:+.1f} pp vs".replace("| -", "| −") in \
        md.replace("| -", "| −")
    html = written.read_text()
    for verdict in set(h["verdict"]):
        tone = verdict if verdict in ("better", "worse") else "neutral"
        assert f'class="card {tone}"' in html and f'<span class="verdict">{verdict}</span>' in html


def test_previous_week_without_data_is_not_compared(demo_pair):
    first = aa.weekly_report(demo_pair[2], week="2025-W41")  # the demo begins on Monday 2025-10-06
    assert first.headline["previous_week"].isna().all()
    assert set(first.headline["verdict"]) == {"n/a"}
    md = first.to_markdown()
    assert "no figure for the week before" in md and "There is no data for the week before (2025-W40)" in md


# --- budget --------------------------------------------------------------------------------------------------------


def test_month_projection_against_the_limits(demo_report, written):
    days = demo_report.cost_per_day
    per_day = dict(zip(days["period_start"].dt.date, days["cost_usd"]))
    mtd = sum(v for d, v in per_day.items() if date(2025, 10, 1) <= d < W43[1])
    week = [per_day[W43[0] + timedelta(days=i)] for i in range(7)]
    b = pd.read_csv(written.with_name("budget.csv")).iloc[0]
    assert b["month"] == "2025-10" and b["days_elapsed"] == 26 and b["days_in_month"] == 31
    assert b["month_to_date_usd"] == pytest.approx(mtd)
    assert b["daily_average_usd"] == pytest.approx(sum(week) / 7)
    assert b["projected_month_usd"] == pytest.approx(mtd + sum(week) / 7 * 5)
    assert b["projected_share_of_limit"] == pytest.approx(b["projected_month_usd"] / 50.0)
    assert b["days_over_daily_limit"] == sum(v > 3.0 for v in week)
    assert b["max_daily_usd"] == pytest.approx(max(week))
    md = written.with_name("report.md").read_text()
    assert "of the monthly limit of $50.00 (given as an option)" in md
    assert "Daily limit $3.00 (given as an option)" in md


def test_limits_come_from_the_environment(demo_pair, monkeypatch):
    monkeypatch.setenv("DAILY_COST_LIMIT", "100")
    monkeypatch.setenv("MONTHLY_COST_LIMIT", "1000")
    r = aa.weekly_report(demo_pair[2])
    assert (r.daily_limit, r.monthly_limit) == (100.0, 1000.0)
    assert "of the monthly limit of $1,000.00 (from $MONTHLY_COST_LIMIT)" in r.to_markdown()
    assert aa.weekly_report(demo_pair[2], monthly_limit=20).monthly_limit == 20.0  # the option wins
    monkeypatch.setenv("DAILY_COST_LIMIT", "lots")
    with pytest.raises(InputError, match="DAILY_COST_LIMIT='lots' is not a cost limit"):
        aa.weekly_report(demo_pair[2])


def test_no_limits_are_said_so(demo_report):
    md = demo_report.to_markdown()
    assert "No monthly limit is set" in md and "No daily limit is set" in md
    assert demo_report.budget["monthly_limit_usd"].isna().all()


# --- anomalies -----------------------------------------------------------------------------------------------------

PLANT_START = date(2025, 9, 1)  # 35 days: 2025-09-01 .. 2025-10-05; the report week is 2025-W40 (Sep 29 - Oct 5)
READ_SPIKE = date(2025, 10, 1)
BASH_SPIKE = date(2025, 10, 3)


def read_calls(i: int) -> int:
    day = PLANT_START + timedelta(days=i)
    return 160 if day == READ_SPIKE else 40 + (i * 7 % 9) - 4  # 36..44, a steady mix


def bash_failures(i: int) -> int:
    day = PLANT_START + timedelta(days=i)
    return 20 if day == BASH_SPIKE else 2 + i % 3  # of 40 calls: 5-10 %, then 50 % on the spike day


@pytest.fixture(scope="module")
def planted(tmp_path_factory):
    """A bot database written by hand (one row per call, as the bot writes with its server down), synced in UTC."""
    base = tmp_path_factory.mktemp("planted")
    bot = base / "bot.db"
    create_bot_database(bot).close()
    rows = []
    session = "5e55104a-0000-4000-8000-00000000000{}"
    for i in range(35):
        day = PLANT_START + timedelta(days=i)
        t = datetime.combine(day, datetime.min.time()) + timedelta(hours=8)
        for k in range(read_calls(i)):
            rows.append((t.isoformat(), session.format(i % 10), "Read", json.dumps({"file_path": f"/ws/{i}/{k}.py"}),
                         1, None, None))
            t += timedelta(seconds=30)
        for k in range(40):
            failed = k < bash_failures(i)
            rows.append((t.isoformat(), session.format(i % 10), "Bash", json.dumps({"command": f"make t{i}-{k}"}),
                         0 if failed else 1, "Error: build failed" if failed else None,
                         "unknown_error" if failed else None))
            t += timedelta(seconds=30)
    conn = sqlite3.connect(bot)
    conn.executemany("INSERT INTO tool_usage (timestamp, task_id, tool_name, parameters, success, error, "
                     "error_category) VALUES (?, ?, ?, ?, ?, ?, ?)", rows)
    conn.commit()
    conn.close()
    out = base / "analytics.db"
    sync(bot, out, source_tz="UTC")
    return out


def test_anomaly_rule_flags_the_planted_spikes_and_nothing_else(planted):
    r = aa.weekly_report(planted, week="2025-W40")
    flags = {(d, s, m) for d, s, m in r.anomalies[["day", "subject", "metric"]].itertuples(index=False)}
    assert flags == {
        (READ_SPIKE, "all", "calls"),
        (READ_SPIKE, "Read", "calls"),
        (BASH_SPIKE, "all", "error_rate"),
        (BASH_SPIKE, "Bash", "error_rate"),
    }


def test_anomaly_z_score_by_hand(planted):
    r = aa.weekly_report(planted, week="2025-W40")
    row = r.anomalies[(r.anomalies["subject"] == "Read") & (r.anomalies["metric"] == "calls")].iloc[0]
    spike = (READ_SPIKE - PLANT_START).days
    history = [read_calls(i) for i in range(spike - 28, spike)]
    median = float(np.median(history))
    mad = float(np.median([abs(x - median) for x in history]))
    scale = max(1.4826 * mad, 0.1 * median, 1.0)
    assert (row["value"], row["median"], row["mad"]) == (160.0, median, mad)
    assert row["robust_z"] == pytest.approx((160 - median) / scale)
    assert row["history_days"] == 28

    bash = r.anomalies[(r.anomalies["subject"] == "Bash")].iloc[0]
    b = (BASH_SPIKE - PLANT_START).days
    rates = [bash_failures(i) / 40 for i in range(b - 28, b)]
    median = float(np.median(rates))
    mad = float(np.median([abs(x - median) for x in rates]))
    pooled = sum(bash_failures(i) for i in range(b - 28, b)) / (40 * 28)
    scale = max(1.4826 * mad, 0.1 * median, 0.01, math.sqrt(pooled * (1 - pooled) / 40))
    assert bash["value"] == 0.5
    assert bash["robust_z"] == pytest.approx((0.5 - median) / scale)


def test_anomaly_rule_is_stated_and_flags_are_shown(planted, tmp_path):
    path = aa.write_report(planted, week="2025-W40", out_dir=tmp_path, formats="md")
    md = path.read_text()
    assert report_mod.ANOMALY_RULE in md
    assert "more than 3 robust z-scores" in md and "median absolute deviation" in md
    assert re.search(r"\| Wed 1 Oct \| Read \| calls \| 160 \| \d+ \| \+\d+\.\d \| above usual \|", md)
    assert re.search(r"\| Fri 3 Oct \| Bash \| error rate \| 50\.0% \|", md)


def test_charts_not_drawn_this_week_are_removed_and_other_files_kept(planted, tmp_path):
    folder = tmp_path / "2025-W40"
    folder.mkdir()
    (folder / "cost_per_day.png").write_bytes(b"stale")  # this week has no cost: no cost chart
    (folder / "notes.txt").write_text("mine")
    aa.write_report(planted, week="2025-W40", out_dir=tmp_path, formats="html")
    assert not (folder / "cost_per_day.png").exists()
    assert (folder / "notes.txt").read_text() == "mine"
    assert (folder / "error_rate_per_day.png").is_file()


def test_without_any_tokens_cost_is_unknown_not_zero(planted):
    r = aa.weekly_report(planted, week="2025-W40")
    assert math.isnan(r.value("cost_usd"))
    md = r.to_markdown()
    assert "| Cost | n/a |" in md
    assert "No call recorded any tokens this week, so there is no cost figure" in md
    assert "$0.00" not in md


def test_a_quiet_week_flags_nothing(planted):
    r = aa.weekly_report(planted, week="2025-W39")  # Sep 22-28: steady, 21-27 days of history
    assert r.anomalies.empty
    assert "Nothing was flagged this week" in r.to_markdown()


def test_find_anomalies_needs_history():
    days = [date(2025, 10, 1) + timedelta(days=i) for i in range(7)]
    s = pd.Series([10, 10, 10, 10, 10, 10, 100], index=days, dtype=float)
    assert report_mod.find_anomalies(s, days[-1:], floor=1).empty  # 6 days of history: not enough
    s.index = [d + timedelta(days=0) for d in days]
    longer = pd.concat([pd.Series([10.0], index=[date(2025, 9, 30)]), s])
    assert len(report_mod.find_anomalies(longer, days[-1:], floor=1)) == 1


# --- files ---------------------------------------------------------------------------------------------------------


def tree(root: Path) -> dict[str, str]:
    return {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(root.rglob("*"))
            if p.is_file()}


def test_files_written_and_returned_path(written, demo_report):
    folder = written.parent
    assert written.name == "report.html" and folder.name == "2025-W43"
    names = {p.name for p in folder.iterdir()}
    assert {f"{t}.csv" for t in demo_report.tables} <= names
    assert {"report.html", "report.md", "cost_per_day.png", "error_rate_per_day.png", "throughput.png"} <= names
    assert not [n for n in names if ".tmp-" in n]


def test_same_input_gives_byte_identical_files(demo_pair, tmp_path):
    a = aa.write_report(demo_pair[2], out_dir=tmp_path / "a", daily_limit=3)
    b = aa.write_report(demo_pair[2], out_dir=tmp_path / "b", daily_limit=3)
    ta, tb = tree(a.parent), tree(b.parent)
    assert ta == tb and len(ta) > 15
    again = aa.write_report(demo_pair[2], out_dir=tmp_path / "a", daily_limit=3)  # rewriting in place
    assert tree(again.parent) == ta


def test_formats(demo_pair, tmp_path):
    md = aa.write_report(demo_pair[2], out_dir=tmp_path / "md", formats="md")
    names = {p.name for p in md.parent.iterdir()}
    assert md.name == "report.md" and "report.html" not in names and not any(n.endswith(".csv") for n in names)
    assert "cost_per_day.png" in names
    csv = aa.write_report(demo_pair[2], out_dir=tmp_path / "csv", formats="csv")
    names = {p.name for p in csv.parent.iterdir()}
    assert csv.name == "actions.csv" and all(n.endswith(".csv") for n in names)
    html = aa.write_report(demo_pair[2], out_dir=tmp_path / "both", formats=" csv , HTML ")
    assert html.name == "report.html"
    with pytest.raises(InputError, match="unknown report format pdf"):
        aa.write_report(demo_pair[2], out_dir=tmp_path / "x", formats="html,pdf")
    assert not (tmp_path / "x").exists()


class _Refs(HTMLParser):
    def __init__(self):
        super().__init__()
        self.refs: list[tuple[str, str, str]] = []
        self.tags: list[str] = []

    def handle_starttag(self, tag, attrs):
        self.tags.append(tag)
        for name, value in attrs:
            if name in ("src", "href", "srcset", "action", "poster", "data"):
                self.refs.append((tag, name, value or ""))


def test_html_is_one_self_contained_responsive_file(written):
    html = written.read_text()
    parser = _Refs()
    parser.feed(html)
    assert parser.refs, "expected embedded images"
    for tag, name, value in parser.refs:
        if tag == "a":  # links to evidence: a section, a CSV file beside the report, or the Datasette view
            assert (value.startswith("#") or re.fullmatch(r"[a-z_]+\.csv", value)
                    or value.startswith("http://127.0.0.1:8001/analytics/")), value
            continue
        assert value.startswith("data:image/png;base64,"), (tag, name, value[:40])
    assert "script" not in parser.tags and "link" not in parser.tags and "iframe" not in parser.tags
    assert "@import" not in html and "url(" not in html
    assert '<meta name="viewport" content="width=device-width, initial-scale=1">' in html
    assert "max-width" in html and "overflow-x: auto" in html
    assert html.count('<div class="scroll"><table>') == html.count("<table>")
    n_png = len([p for p in written.parent.glob("*.png")])
    assert html.count("data:image/png;base64,") == n_png



def _fake_png(width: int, height: int) -> bytes:
    """The first 24 bytes of a PNG: signature, then the IHDR chunk's length, type, width and height."""
    return b"\x89PNG\r\n\x1a\n" + b"\x00\x00\x00\rIHDR" + width.to_bytes(4, "big") + height.to_bytes(4, "big")


def test_html_escapes_every_text_and_attribute_quotes_included(demo_report):
    """Text that comes from the data is escaped, quotes as &quot; and &#x27; (the bytes the report has always had)."""
    report = dataclasses.replace(demo_report, notes=["<b>\"x\" & 'y'</b>"], source="odd<'name'>.db",
                                 bot_db="")
    pngs = {name: _fake_png(10, 20) for name in report_mod.pngs.chart_specs(report)}
    page = report.to_html(pngs)
    assert '<p class="muted">&lt;b&gt;&quot;x&quot; &amp; &#x27;y&#x27;&lt;/b&gt;</p>' in page
    assert "from odd&lt;&#x27;name&#x27;&gt;.db." in page
    assert "<b>" not in page and "odd<" not in page
    assert 'alt="Bar chart of this week&#x27;s cost by sub-agent" width="10" height="20"' in page
    assert page.count('width="10" height="20"') == len(pngs)


def test_html_comes_from_the_templates_and_the_stylesheet_file(written):
    root = Path(report_mod.__file__).parent
    css = (root / "static" / "report.css").read_text(encoding="utf-8")
    assert '"Segoe UI"' in css and f"<style>\n{css.strip()}\n</style>" in written.read_text()
    for module in root.glob("*.py"):
        text = module.read_text(encoding="utf-8")
        assert not re.search(r"<(html|head|style|main|section|div|table|tr|td|figure|img|ul|li|p)[ >]", text), module
        assert "import __version__" not in text or "from .._version import __version__" in text, module
    # The templates and the stylesheet ship with the package.
    pyproject = tomllib.loads((Path(__file__).parents[1] / "pyproject.toml").read_text(encoding="utf-8"))
    globs = pyproject["tool"]["setuptools"]["package-data"]["amiga_analytics.report"]
    data_files = [p.relative_to(root) for p in [*(root / "templates").iterdir(), *(root / "static").iterdir()]]
    assert {"report.html.j2", "blocks.html.j2", "report.css"} <= {p.name for p in data_files}
    assert all(any(p.match(g) for g in globs) for p in data_files), (data_files, globs)


def test_markdown_has_the_same_sections_and_references_the_pngs(written):
    md = written.with_name("report.md").read_text()
    html = written.read_text()
    titles = re.findall(r"^## (.+)$", md, flags=re.M)
    assert titles == re.findall(r"<h2>(.+?)</h2>", html)
    assert titles[:2] == ["What to do this week", "This week at a glance"] and titles[-1].startswith("Data quality")
    images = re.findall(r"!\[[^\]]+\]\(([^)]+)\)", md)
    assert images and all((written.parent / name).is_file() for name in images)
    assert {p.name for p in written.parent.glob("*.png")} == set(images)


def test_no_unknown_is_printed_as_a_number(written):
    for name in ("report.md", "report.html"):
        text = written.with_name(name).read_text()
        assert not re.search(r"\bnan\b|\bNaN\b|\bNaT\b|\bNone\b %|inf%", text), name


def test_trust_statements(demo_report, written):
    md = written.with_name("report.md").read_text()
    q = demo_report.data_quality.set_index(["scope", "check_name"])["value"]
    share = q[("week", "calls_with_tokens")] / q[("week", "calls")] * 100
    assert f"Tokens are recorded for only {share:.1f}% of calls" in md
    assert "so every cost here is a floor" in md
    assert f"{q[('database', 'secrets_masked')]:,} secrets" in md
    assert "never reported an outcome" in md


def test_csv_keep_full_precision(written, demo_report):
    back = pd.read_csv(written.with_name("cost_by_tool.csv"))
    assert list(back.columns) == list(demo_report.cost_by_tool.columns)
    # exact, not rounded; unpriced tools stay missing (NaN), never $0
    assert back["cost_usd"].fillna(-1).tolist() == demo_report.cost_by_tool["cost_usd"].fillna(-1).tolist()
    headline = pd.read_csv(written.with_name("headline.csv"))
    assert headline["this_week"].tolist() == demo_report.headline["this_week"].tolist()
    per_day = pd.read_csv(written.with_name("cost_per_day.csv"))
    assert per_day["period_start"].iloc[-1] == "2025-10-26T00:00:00+02:00"  # still CEST at midnight (DST ends at 3:00)


# --- errors --------------------------------------------------------------------------------------------------------


def test_api_errors(demo_pair, tmp_path):
    with pytest.raises(NotAnAnalyticsDatabase, match="no such analytics database"):
        aa.weekly_report(tmp_path / "missing.db")
    with pytest.raises(NotAnAnalyticsDatabase, match="not an analytics database"):
        aa.weekly_report(demo_pair[0])  # the bot database itself
    with pytest.raises(NoDataError, match=r"no tool calls or tasks in 2024-W01 .*the data covers 2025-W41"):
        aa.weekly_report(demo_pair[2], week="2024-W01")
    assert issubclass(NoDataError, InputError)


def test_an_open_database_is_accepted_and_left_open(demo_pair):
    db = aa.connect(demo_pair[2])
    r = aa.weekly_report(db, week="2025-W42")
    assert r.week == "2025-W42" and r.source == Path(demo_pair[2]).name
    assert db.execute("SELECT 1").fetchone() == (1,)
    db.conn.close()


def run_cli(*args):
    return CliRunner().invoke(cli, ["report", *map(str, args)])


def one_line_error(result) -> str:
    assert result.exit_code == 2, (result.exit_code, result.output)
    assert result.stdout == ""
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: "), result.stderr
    return lines[0]


def test_cli_exit_codes(demo_pair, tmp_path):
    bot, _truth, analytics = demo_pair
    assert "no such analytics database" in one_line_error(run_cli(tmp_path / "missing.db", "--out", tmp_path))
    text = tmp_path / "notes.txt"
    text.write_text("not a database\n")
    assert "is not an analytics database" in one_line_error(run_cli(text, "--out", tmp_path))
    assert "is not an analytics database" in one_line_error(run_cli(bot, "--out", tmp_path))
    line = one_line_error(run_cli(analytics, "--week", "2024-W01", "--out", tmp_path))
    assert "no tool calls or tasks in 2024-W01" in line and "pick a week with data" in line
    assert "ISO week" in one_line_error(run_cli(analytics, "--week", "2025-W77", "--out", tmp_path))
    assert "unknown report format" in one_line_error(run_cli(analytics, "--format", "pdf", "--out", tmp_path))
    assert not (tmp_path / "2024-W01").exists()

    ok = run_cli(analytics, "--out", tmp_path / "r", "--week", "2025-W42")
    assert ok.exit_code == 0, ok.output
    assert ok.stdout == f"{tmp_path / 'r' / '2025-W42' / 'report.html'}\n" and ok.stderr == ""

    quiet = run_cli(analytics, "--out", tmp_path / "q", "--quiet", "--format", "md")
    assert quiet.exit_code == 0 and quiet.stdout == "" and quiet.stderr == ""
    assert (tmp_path / "q" / "2025-W43" / "report.md").is_file()


def test_cli_limits_options(demo_pair, tmp_path):
    result = run_cli(demo_pair[2], "--out", tmp_path, "--format", "md", "--daily-limit", "2.5", "--monthly-limit", "40")
    assert result.exit_code == 0, result.output
    md = (tmp_path / "2025-W43" / "report.md").read_text()
    assert "Daily limit $2.50 (given as an option)" in md and "monthly limit of $40.00" in md
    bad = run_cli(demo_pair[2], "--out", tmp_path, "--daily-limit", "-1")
    assert "is not a cost limit" in one_line_error(bad)


# --- make report: the embedded demo with its transcripts ------------------------------------------------------------

# shared/pricing.md, USD per million tokens: input, output, 5-minute cache write, 1-hour cache write, cache read;
# a Sonnet 4.5 request whose whole input exceeds 200,000 tokens pays the long-context rates on all its tokens.
REQUEST_PRICES = {
    "claude-sonnet-4-5-20250929": (3.00, 15.00, 3.75, 6.00, 0.30),
    "claude-opus-4-1-20250805": (15.00, 75.00, 18.75, 30.00, 1.50),
    "claude-haiku-4-5-20251001": (1.00, 5.00, 1.25, 2.00, 0.10),
    "claude-3-5-haiku-20241022": (0.80, 4.00, 1.00, 1.60, 0.08),
}
SONNET_LONG = (6.00, 22.50, 7.50, 12.00, 0.60)
REQUEST_FIELDS = ("input", "output", "cache_write_5m", "cache_write_1h", "cache_read")


def request_cost(r: dict) -> float:
    prices = REQUEST_PRICES[r["model"]]
    if r["model"] == "claude-sonnet-4-5-20250929" and sum(r[f] for f in REQUEST_FIELDS if f != "output") > 200_000:
        prices = SONNET_LONG
    return sum(r[f] * p for f, p in zip(REQUEST_FIELDS, prices)) / 1e6


@pytest.fixture(scope="module")
def made_report(tmp_path_factory):
    """What `make report` runs with no BOT_DB: the embedded demo and its transcripts → sync → report."""
    from amiga_analytics import pipeline

    build = tmp_path_factory.mktemp("make-report")
    said: list[str] = []
    html = pipeline.run(build, echo=said.append)
    truth = json.loads((build / "demo-bot.db.truth.json").read_text())
    ttruth = json.loads((build / "demo-bot.db.transcripts.truth.json").read_text())
    return build, html, "\n".join(said), truth, ttruth


def test_make_report_reads_the_demos_transcripts(made_report):
    build, html, said, _, ttruth = made_report
    assert html == build / "reports" / "2025-W43" / "report.html"
    assert f"its transcripts {build / 'demo-bot.claude'}" in said
    assert f"transcripts: {ttruth['notes']['requests']:,} API requests" in said
    assert int(aa.usage(build / "analytics.db", by=None)["requests"].iloc[0]) == ttruth["notes"]["requests"]


def test_make_report_cost_is_the_transcripts_bill(made_report):
    """The week's cost: every W43 request of the transcripts' truth (report days in Europe/Madrid) priced by hand,
    plus the web-chat router's answers; no "floor" where the transcripts cover every day."""
    build, _, _, truth, ttruth = made_report
    out = build / "reports" / "2025-W43"
    requests = [r for r in ttruth["requests"] if W43[0].isoformat() <= r["day_local"] < W43[1].isoformat()]
    router = sum(((m.get("tokens_input") or 0) * ROUTER_PRICE[0] + (m.get("tokens_output") or 0) * ROUTER_PRICE[1])
                 / 1e6 for m in truth["messages"] if in_week(m["at"], W43))
    expected = sum(request_cost(r) for r in requests) + router
    headline = pd.read_csv(out / "headline.csv").set_index("metric")
    assert headline.loc["cost_usd", "this_week"] == pytest.approx(expected, rel=1e-9)
    md = (out / "report.md").read_text()
    assert f"| Cost | ${expected:,.2f} |" in md
    assert (f"Claude Code's session transcripts ({len(requests):,} API requests) give the cost of 100.0% of the "
            f"calls and cover 7 of the 7 days with calls: this is the bill, not a floor.") in md
    # "floor" is left only in that sentence and in the data-quality check that names the bot's floor
    assert [line for line in md.splitlines() if "floor" in line and "not a floor" not in line] == [
        "| bot tasks with calls whose transcript was never read (their cost is the bot's floor) | 0 |"]
    assert "(floor)" not in (out / "report.html").read_text()


def test_make_report_with_a_bot_db_reads_only_the_transcripts_given(demo_pair, tmp_path):
    from amiga_analytics import pipeline

    bot = demo_pair[0]
    pipeline.run(tmp_path / "no-tx", bot, "Europe/Madrid", echo=lambda _: None)
    assert not aa.connect(tmp_path / "no-tx" / "analytics.db")["api_requests"].count
    md = next((tmp_path / "no-tx" / "reports").glob("*/report.md")).read_text()
    assert "It is a floor, not the bill" in md
    pipeline.run(tmp_path / "tx", bot, "Europe/Madrid", echo=lambda _: None,
                 transcripts=[bot.with_name("demo-bot.claude")])
    assert aa.connect(tmp_path / "tx" / "analytics.db")["api_requests"].count > 0
    done = CliRunner().invoke(pipeline.main, ["--build-dir", str(tmp_path / "bad" / "build"), "--bot-db", str(bot),
                                              "--transcripts", str(tmp_path / "missing")])
    assert done.exit_code == 2 and len(done.output.strip().splitlines()) == 1
    assert not (tmp_path / "bad").exists()  # bad input: the build directory it would have made is not left
    before = (tmp_path / "tx" / "analytics.db").read_bytes()
    done = CliRunner().invoke(pipeline.main, ["--build-dir", str(tmp_path / "tx"), "--bot-db", str(bot),
                                              "--source-tz", "Mars/Olympus"])
    assert done.exit_code == 2 and "Mars/Olympus" in done.output
    assert (tmp_path / "tx" / "analytics.db").read_bytes() == before  # a directory that was there stays as it was
