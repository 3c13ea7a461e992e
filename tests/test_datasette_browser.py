"""The read-only Datasette view in a real browser: `amiga-analytics serve` on 127.0.0.1 and headless Chromium.

Needs Debian's Chromium at /usr/bin/chromium (CI's .ci/run installs it); without it the test fails, it never
skips. Screenshots go to tests/artifacts/.
"""

from __future__ import annotations

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
    port = free_port()
    log = tmp_path_factory.mktemp("serve") / "serve.log"
    with log.open("w") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "amiga_analytics", "serve", str(demo_pair[2]), "--host", "127.0.0.1",
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
    assert facets.count() == 5, facets.all_inner_texts()  # tool_name, outcome, error_category, program, model_id
    assert "parameters" not in page.page.locator("table.rows-and-columns thead").inner_text()  # free text: asked for only
    assert "tool_name" in page.page.locator(".facet-results").inner_text()
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
