"""The read-only Datasette view in a real browser: `amiga-analytics serve` on 127.0.0.1 and headless Chromium.

Needs Debian's Chromium at /usr/bin/chromium (CI's .ci/run installs it); without it the test fails, it never
skips. Screenshots go to tests/artifacts/.
"""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import urlparse
from urllib.request import urlopen

import pytest

from conftest import artifacts_dir

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]
CHARTS = ("cost_per_day", "error_rates_by_tool", "task_throughput")

pytestmark = pytest.mark.browser


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="module")
def server(demo_pair, tmp_path_factory):
    """`amiga-analytics serve` in a subprocess on a free port; yields the base URL."""
    with served(demo_pair[2], tmp_path_factory.mktemp("serve")) as base:
        yield base


@contextlib.contextmanager
def served(analytics_db: Path, log_dir: Path):
    """`amiga-analytics serve ANALYTICS_DB` in a subprocess on a free port, its output in ``log_dir``; yields the
    base URL, and checks that it stops cleanly on SIGTERM."""
    port = free_port()
    log = log_dir / "serve.log"
    with log.open("w") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "amiga_analytics", "serve", str(analytics_db), "--host", "127.0.0.1",
             "--port", str(port)],
            stdout=out, stderr=subprocess.STDOUT, env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            if proc.poll() is not None:
                pytest.fail(f"amiga-analytics serve exited with {proc.returncode}:\n{log.read_text()}")
            try:
                with urlopen(base + "/-/versions.json", timeout=2) as response:
                    if response.status == 200:
                        break
            except OSError:
                pass
            if time.monotonic() > deadline:
                pytest.fail(f"amiga-analytics serve did not answer within 60 s:\n{log.read_text()}")
            time.sleep(0.2)
        yield base
    finally:
        proc.terminate()
        try:
            code = proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
            code = None
    assert code == 0, f"serve did not stop cleanly on SIGTERM ({code}):\n{log.read_text()}"


@pytest.fixture(scope="module")
def browser():
    if not CHROMIUM.exists():
        pytest.fail(f"{CHROMIUM} is missing: install Debian's chromium package (apt-get install chromium)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        chromium = pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            yield chromium
        finally:
            chromium.close()


class Watched:
    """A page that records console errors, uncaught exceptions, failed requests and every requested URL."""

    def __init__(self, browser):
        self.page = browser.new_page(viewport={"width": 1280, "height": 900})
        self.errors: list[str] = []
        self.urls: list[str] = []
        self.page.on("console", lambda m: self.errors.append(f"console: {m.text}") if m.type == "error" else None)
        self.page.on("pageerror", lambda e: self.errors.append(f"pageerror: {e}"))
        self.page.on("requestfailed", lambda r: self.errors.append(f"request failed: {r.url}"))
        self.page.on("request", lambda r: self.urls.append(r.url))
        self.page.on("response", lambda r: self.errors.append(f"HTTP {r.status}: {r.url}") if r.status >= 400 else None)

    def open(self, url: str, screenshot: str) -> None:
        response = self.page.goto(url, wait_until="networkidle")
        assert response is not None and response.status == 200, url
        self.page.screenshot(path=str(artifacts_dir() / screenshot), full_page=True)

    def check(self) -> None:
        assert self.errors == []
        foreign = []
        for url in self.urls:
            parts = urlparse(url)
            if parts.scheme in ("http", "https", "ws", "wss") and parts.hostname != "127.0.0.1":
                foreign.append(url)
            elif parts.scheme not in ("http", "https", "ws", "wss", "data", "blob", "about"):
                foreign.append(url)
        assert foreign == []
        self.page.close()


def test_index_and_table_page_with_facets(server, browser):
    page = Watched(browser)
    page.open(server + "/", "datasette-index.png")
    assert "AMIGA bot analytics" in page.page.title() or page.page.locator("h1").first.inner_text()
    assert page.page.locator("text=tool_calls").count() > 0
    assert page.page.locator("text=sync_state").count() == 0  # internal tables are hidden
    page.open(server + "/analytics/tool_calls", "datasette-tool-calls.png")
    facets = page.page.locator(".facet-info")
    assert facets.count() == 2, facets.all_inner_texts()  # error_category, program
    assert "parameters" not in page.page.locator("table.rows-and-columns thead").inner_text()  # free text: asked for only
    assert "error_category" in page.page.locator(".facet-results").inner_text()
    page.check()


@pytest.mark.parametrize("query", CHARTS)
def test_chart_pages_draw_their_chart(server, browser, query):
    page = Watched(browser)
    page.open(server + f"/analytics/{query}", f"datasette-chart-{query}.png")
    chart = page.page.locator(f"#chart-{query}")
    chart.locator("canvas, svg").first.wait_for(state="visible", timeout=15_000)
    box = chart.bounding_box()
    assert box is not None and box["width"] > 300 and box["height"] > 100, box
    assert any(u.endswith(f"/analytics/{query}.json?sql=&_shape=objects") or f"/analytics/{query}.json?" in u
               for u in page.urls), page.urls
    page.check()


def test_chart_page_follows_the_period(server, browser):
    page = Watched(browser)
    page.open(server + "/analytics/cost_per_day?since=2031-01-01&until=2031-01-08", "datasette-chart-empty.png")
    page.page.locator("#chart-cost_per_day").locator("canvas, svg").first.wait_for(state="visible", timeout=15_000)
    assert any("since=2031-01-01" in u and ".json" in u for u in page.urls)
    page.open(server + "/-/dashboards/amiga", "datasette-dashboards.png")
    for query in CHARTS:
        assert page.page.locator(f'a[href="/analytics/{query}"]').count() == 1
    page.check()


# --- the dashboard ---------------------------------------------------------------------------------------------

DASHBOARD_CHARTS = ("cost", "calls", "tasks", "latency", "expensive", "errors")


def wait_for_charts(page) -> dict[str, str]:
    """Wait until every chart card is drawn or shows an error; their states."""
    page.wait_for_function(
        "[...document.querySelectorAll('.aa-chart')].every(e => e.dataset.state)", timeout=30_000)
    return page.evaluate("Object.fromEntries([...document.querySelectorAll('.aa-chart')]"
                         ".map(e => [e.id.replace('aa-chart-', ''), e.dataset.state]))")


def test_dashboard_draws_every_chart(server, browser):
    page = Watched(browser)
    page.page.goto(server + "/analytics/dashboard", wait_until="networkidle")
    assert "since=" in page.page.url  # the morning view: the last 28 days with data
    states = wait_for_charts(page.page)
    assert states == {slug: "drawn" for slug in DASHBOARD_CHARTS}, states
    for slug in DASHBOARD_CHARTS:
        chart = page.page.locator(f"#aa-chart-{slug}")
        chart.locator("svg").first.wait_for(state="visible", timeout=15_000)
        box = chart.bounding_box()
        assert box is not None and box["width"] > 250 and box["height"] > 150, (slug, box)
        assert chart.locator("svg .mark-rect path, svg .mark-line path, svg .mark-rect, svg .mark-line").count() > 0
    keys = page.page.locator(".aa-key").all_inner_texts()
    assert len(keys) == 6 and keys[1].startswith("Cost") and "$" in keys[1], keys
    assert "Data through" in page.page.locator("#aa-fresh").inner_text()
    page.page.screenshot(path=str(artifacts_dir() / "dashboard.png"), full_page=True)
    page.check()


def test_period_picker_changes_every_chart(server, browser):
    page = Watched(browser)
    page.page.goto(server + "/analytics/dashboard?since=2025-10-06&until=2025-10-27", wait_until="networkidle")
    wait_for_charts(page.page)
    before = page.page.locator(".aa-key").all_inner_texts()
    page.urls.clear()
    form = page.page.locator("#aa-picker form.sql")
    form.locator("input[name=since]").fill("2025-10-13")
    form.locator("input[name=until]").fill("2025-10-20")
    with page.page.expect_navigation():
        form.locator("input[type=submit]").click()
    page.page.wait_for_load_state("networkidle")
    states = wait_for_charts(page.page)
    assert set(states.values()) <= {"drawn", "empty"}, states
    queries = ("dashboard", "daily_cost_by_model", "daily_calls", "task_throughput", "daily_latency",
               "most_expensive_tasks", "top_errors")
    for query in queries:
        assert any(f"/analytics/{query}.json?" in u and "since=2025-10-13" in u and "until=2025-10-20" in u
                   for u in page.urls), (query, page.urls)
    after = page.page.locator(".aa-key").all_inner_texts()
    assert after != before and "2025-10-13 – 2025-10-19" in after[-1], after
    page.page.screenshot(path=str(artifacts_dir() / "dashboard-picked-week.png"), full_page=True)
    page.check()


def test_a_bad_period_shows_an_error(server, browser):
    page = Watched(browser)
    response = page.page.goto(server + "/analytics/dashboard?since=last+week&until=", wait_until="networkidle")
    assert response is not None and response.status == 400
    assert "is not a date" in page.page.locator(".message-error").first.inner_text()
    states = wait_for_charts(page.page)
    assert set(states.values()) == {"error"}, states
    assert "since: \"last week\" is not a date" in page.page.locator("#aa-chart-cost .aa-error").inner_text()
    page.page.screenshot(path=str(artifacts_dir() / "dashboard-bad-period.png"), full_page=True)
    # the failed fetches are the 400s the page shows; nothing else went wrong
    page.errors = [e for e in page.errors if "400" not in e]
    page.check()


def test_phone_dashboard_has_no_sideways_scrolling(server, browser):
    phone = browser.new_page(viewport={"width": 390, "height": 844}, device_scale_factor=2, is_mobile=True)
    phone.goto(server + "/analytics/dashboard?since=2025-10-06&until=2025-10-27", wait_until="networkidle")
    wait_for_charts(phone)
    width = phone.evaluate("window.innerWidth")
    assert phone.evaluate("document.documentElement.scrollWidth") <= width
    for box in [phone.locator(sel).bounding_box() for sel in ("#aa-keys", "#aa-fresh", "#aa-chart-cost")]:
        assert box is not None and box["x"] >= 0 and box["x"] + box["width"] <= width + 0.5, box
    for i in range(phone.locator(".aa-key").count()):
        box = phone.locator(".aa-key").nth(i).bounding_box()
        assert box["x"] >= 0 and box["x"] + box["width"] <= width + 0.5, box
    phone.screenshot(path=str(artifacts_dir() / "dashboard-phone.png"), full_page=True)
    phone.close()
