"""The dashboard of a store of several bots (issue #18), in-process: its ``bot`` filter drives the key figures and
every chart (each per bot as its truth file says, empty = the sum); the page offers the store's bots; the per-day
latency under a bot filter is numpy's percentile of that bot's durations. Expected figures come from the truth
files or from the raw rows (numpy), never from the view's SQL.
"""

from __future__ import annotations

import collections
import json
import sqlite3
from datetime import datetime
from pathlib import Path
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

import numpy as np
import pytest

from amiga_analytics.web.dashboard import CHARTS
from test_datasette import fetch_one
from test_datasette_browser import browser  # noqa: F401 - the fixture
from test_multibot import SAMPLES, _copy, _sync

FIXTURES = Path(__file__).parent / "fixtures"
DASHBOARD_QUERIES = ["dashboard", *sorted({c["query"] for c in CHARTS.values()})]


def _truth(name: str) -> dict:
    return json.loads((FIXTURES / SAMPLES[name][1]).read_text())


def _utc_day(stamp: str, zone: str) -> str:
    return datetime.fromisoformat(stamp).replace(tzinfo=ZoneInfo(zone)).astimezone(ZoneInfo("UTC")).date().isoformat()


def truth_of(bot: str) -> dict:
    """Per bot ('' = both): calls per UTC day, failures, tasks (as the truth files count them)."""
    names = [bot] if bot else list(SAMPLES)
    days: collections.Counter = collections.Counter()
    failures = tasks = 0
    for name in names:
        truth, zone = _truth(name), SAMPLES[name][2]
        days += collections.Counter(_utc_day(c["start"], zone) for c in truth["calls"])
        failures += sum(c["outcome"] == "failure" for c in truth["calls"])
        tasks += len(truth["tasks"])
    return {"days": days, "calls": sum(days.values()), "failures": failures, "tasks": tasks}


@pytest.fixture(scope="module")
def two(tmp_path_factory):
    from amiga_analytics.web.serve import build_datasette

    work = tmp_path_factory.mktemp("multibot_dashboard")
    shared = work / "analytics.db"
    for name in SAMPLES:
        _sync(_copy(work, name), shared, name, SAMPLES[name][2])
    return {"db": shared, "ds": build_datasette(shared, settings={"sql_time_limit_ms": 30_000})}


def rows(ds, query: str, **params) -> list[dict]:
    response = fetch_one(ds, f"/{ds.amiga_database}/{query}.json?" + urlencode({**params, "_shape": "objects",
                                                                               "_size": "max"}))
    assert response.status_code == 200, (query, params, response.text[:300])
    return response.json()["rows"]


@pytest.mark.parametrize("bot", ["alpha", "beta", ""])
def test_the_bot_filter_drives_the_key_figures_and_every_chart(two, bot):
    ds, want = two["ds"], truth_of(bot)
    key = rows(ds, "dashboard", bot=bot)[0]
    assert key["calls"] == want["calls"] and key["failed"] == want["failures"]
    assert key["tasks_created"] == want["tasks"] and key["bots"] == "alpha,beta"
    daily = rows(ds, "daily_calls", bot=bot)
    assert {r["day"]: r["calls"] for r in daily if r["calls"]} == dict(want["days"])
    assert sum(r["calls"] for r in rows(ds, "daily_cost_by_model", bot=bot)) == want["calls"]
    finished = rows(ds, "task_throughput", bot=bot)
    assert sum(r["created"] for r in finished) == want["tasks"]
    assert sum(r["count"] for r in rows(ds, "top_errors", bot=bot)) == want["failures"]
    tasks = rows(ds, "most_expensive_tasks", bot=bot)
    assert len(tasks) == min(50, want["tasks"])
    assert {r["bot"] for r in tasks} == ({bot} if bot else set(SAMPLES))
    latency_days = {r["day"] for r in rows(ds, "daily_latency", bot=bot)}
    assert latency_days and latency_days <= set(want["days"])


@pytest.mark.parametrize("bot", ["alpha", "beta"])
def test_the_daily_latency_of_one_bot_is_numpys(two, bot):
    """Under a bot filter the ranks are that bot's (duration_ranks): numpy's percentiles of its raw durations."""
    conn = sqlite3.connect(f"file:{two['db']}?mode=ro", uri=True)
    durations = collections.defaultdict(list)
    for day, tool, d in conn.execute("SELECT day, tool_name, duration_ms FROM tool_calls WHERE bot = ? AND "
                                     "duration_ms IS NOT NULL", (bot,)):
        durations[(day, tool)].append(d)
    conn.close()
    got = rows(two["ds"], "daily_latency", bot=bot)
    assert got
    for r in got:
        values = durations[(r["day"], r["tool_name"])]
        assert r["calls_with_duration"] == len(values)
        assert r["p50_ms"] == pytest.approx(np.percentile(values, 50), rel=1e-12)
        assert r["p95_ms"] == pytest.approx(np.percentile(values, 95), rel=1e-12)


def test_an_unknown_bot_is_a_400_on_every_dashboard_query(two):
    ds = two["ds"]
    for query in DASHBOARD_QUERIES:
        response = fetch_one(ds, f"/{ds.amiga_database}/{query}.json?bot=gamma")
        assert response.status_code == 400, query
        assert 'bot: "gamma" is not a bot of this database' in response.json()["error"], query


def test_the_page_offers_the_bot_filter_and_a_one_bot_store_names_its_bot(two, sample_analytics):
    from amiga_analytics.web.serve import build_datasette

    ds = two["ds"]
    page = fetch_one(ds, f"/{ds.amiga_database}/dashboard").text
    assert 'name="bot"' in page and "function botField" in page
    one = build_datasette(sample_analytics)
    assert rows(one, "dashboard")[0]["bots"] == "main"  # the page hides the filter for a single bot


# --- in a real browser (headless Chromium, as tests/test_datasette_browser.py) ---------------------------------


@pytest.mark.browser
def test_the_bot_picker_in_a_browser(two, tmp_path, browser):  # noqa: F811 - the imported fixture
    """The picker offers all bots and each bot of the store; picking beta redraws every chart with bot=beta and
    the key figures become beta's truth."""
    from test_datasette_browser import Watched, served, wait_for_charts

    with served(two["db"], tmp_path) as base:
        page = Watched(browser)
        page.page.goto(base + "/analytics/dashboard?since=&until=", wait_until="networkidle")
        wait_for_charts(page.page)
        select = page.page.locator("#aa-picker form.sql select[name=bot]")
        assert select.locator("option").all_inner_texts() == ["all bots", "alpha", "beta"]
        assert page.page.locator(".aa-key").first.inner_text().endswith(f"{truth_of('')['calls']:,}")
        page.urls.clear()
        select.select_option("beta")
        with page.page.expect_navigation():
            page.page.locator("#aa-picker form.sql input[type=submit]").click()
        page.page.wait_for_load_state("networkidle")
        states = wait_for_charts(page.page)
        assert set(states.values()) == {"drawn"}, states
        for query in DASHBOARD_QUERIES:
            assert any(f"/analytics/{query}.json?" in u and "bot=beta" in u for u in page.urls), (query, page.urls)
        assert page.page.locator(".aa-key").first.inner_text().endswith(f"{truth_of('beta')['calls']:,}")
        assert page.page.locator("#aa-picker select[name=bot]").input_value() == "beta"
        page.check()


@pytest.mark.browser
def test_a_one_bot_store_hides_the_bot_filter(sample_analytics, tmp_path, browser):  # noqa: F811
    from test_datasette_browser import Watched, served, wait_for_charts

    with served(sample_analytics, tmp_path) as base:
        page = Watched(browser)
        page.page.goto(base + "/analytics/dashboard?since=&until=", wait_until="networkidle")
        wait_for_charts(page.page)
        assert not page.page.locator("#aa-picker input[name=bot]").is_visible()
        assert page.page.locator("#aa-picker input[name=tool]").is_visible()
        page.check()
