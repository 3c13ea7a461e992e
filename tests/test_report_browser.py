"""The weekly report as a person sees it: report.html opened from a file:// URL in headless Chromium.

Needs Debian's Chromium at /usr/bin/chromium (``apt-get install -y chromium``; ``.ci/run`` installs it). Without it
these tests fail: a report nobody has looked at in a browser is not tested. Screenshots go to tests/artifacts/.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from playwright.sync_api import sync_playwright

import amiga_analytics as aa
from conftest import artifacts_dir

pytestmark = pytest.mark.browser

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]
VIEWPORTS = {
    "desktop": {"viewport": {"width": 1280, "height": 900}},
    "phone": {"viewport": {"width": 390, "height": 844}, "device_scale_factor": 3, "is_mobile": True,
              "has_touch": True},
}


@pytest.fixture(scope="module")
def report_html(demo_pair, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("browser-report")
    return aa.write_report(demo_pair[2], out_dir=out, daily_limit=3.0, monthly_limit=100.0)


@pytest.fixture(scope="module")
def browser():
    assert CHROMIUM.is_file(), (
        f"{CHROMIUM} is missing: install Debian's Chromium (apt-get update && apt-get install -y chromium) to run "
        f"the browser tests; .ci/run does this"
    )
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True)
        try:
            yield b
        finally:
            b.close()


@pytest.mark.parametrize("name", list(VIEWPORTS))
def test_report_renders_offline_without_errors(browser, report_html, name):
    context = browser.new_context(**VIEWPORTS[name])
    page = context.new_page()
    errors: list[str] = []
    outside: list[str] = []
    page.on("console", lambda m: errors.append(f"console.{m.type}: {m.text}") if m.type == "error" else None)
    page.on("pageerror", lambda exc: errors.append(f"page error: {exc}"))

    def guard(route):
        url = route.request.url
        if url.startswith(("file://", "data:")):
            route.continue_()
        else:
            outside.append(url)
            route.abort()

    context.route("**/*", guard)
    page.on("request", lambda r: None if r.url.startswith(("file://", "data:")) else outside.append(r.url))
    try:
        response = page.goto(report_html.as_uri(), wait_until="load")
        assert response is None or response.ok
        page.wait_for_function("Array.from(document.images).every(i => i.complete)")

        assert errors == []
        assert outside == [], f"the report asked the network for {outside}"

        state = page.evaluate("""() => ({
            title: document.title,
            innerWidth: window.innerWidth,
            scrollWidth: document.documentElement.scrollWidth,
            images: Array.from(document.images).map(i => ({w: i.naturalWidth, shown: i.getBoundingClientRect().width,
                                                            right: i.getBoundingClientRect().right})),
            cards: document.querySelectorAll('.card').length,
            verdicts: Array.from(document.querySelectorAll('.card .verdict')).map(v => v.textContent),
            worseColour: (() => { const w = document.querySelector('.card.worse .verdict');
                                  return w ? getComputedStyle(w).color : null; })(),
            tables: Array.from(document.querySelectorAll('table')).map(t => ({
                boxOverflow: getComputedStyle(t.parentElement).overflowX,
                boxRight: t.parentElement.getBoundingClientRect().right})),
            bodyFont: parseFloat(getComputedStyle(document.body).fontSize),
        })""")
        assert state["title"] == "AMIGA weekly report 2025-W43"
        assert state["cards"] == 6 and all(v for v in state["verdicts"])
        assert state["images"] and all(i["w"] > 0 for i in state["images"]), "a chart did not decode"
        # Nothing wider than the screen: the page never scrolls sideways, wide tables scroll inside their box.
        assert state["scrollWidth"] <= state["innerWidth"]
        assert all(i["right"] <= state["innerWidth"] + 0.5 for i in state["images"])
        # wide tables scroll inside their box on a desktop; on a phone their rows stack (see the next test)
        assert all(t["boxOverflow"] == ("visible" if name == "phone" else "auto")
                   and t["boxRight"] <= state["innerWidth"] + 0.5 for t in state["tables"])
        assert state["bodyFont"] >= 16
        if state["worseColour"] is not None:
            assert state["worseColour"] == "rgb(196, 50, 10)"
        if name == "phone":
            assert all(i["shown"] <= 390 for i in state["images"])

        shot = artifacts_dir() / f"report-{name}.png"
        page.screenshot(path=str(shot), full_page=True)
        assert shot.stat().st_size > 10_000
    finally:
        context.close()


def test_debian_chromium_is_the_browser_used(browser):
    assert "chrom" in browser.browser_type.name and browser.version
    assert shutil.which("chromium") or CHROMIUM.is_file()


def test_phone_tables_keep_every_key_column_on_screen(browser, report_html):
    """At 390 px no cell of any table (the name, the counts, the cost) starts or ends off-screen, nothing scrolls
    sideways, and every "What to do this week" item shows its links."""
    context = browser.new_context(**VIEWPORTS["phone"])
    page = context.new_page()
    try:
        page.goto(report_html.as_uri(), wait_until="load")
        state = page.evaluate("""() => ({
            innerWidth: window.innerWidth,
            scrollWidth: document.documentElement.scrollWidth,
            cells: Array.from(document.querySelectorAll('td')).map(td => {
                const r = td.getBoundingClientRect();
                const header = td.getAttribute('data-label');
                return {header, left: r.left, right: r.right, width: r.width,
                        caption: td.closest('table').caption ? td.closest('table').caption.textContent : ''};
            }),
            costCells: Array.from(document.querySelectorAll('td[data-label="cost"]')).length,
            actions: Array.from(document.querySelectorAll('ol.actions li')).map(li => ({
                links: li.querySelectorAll('a').length,
                right: Math.max(...Array.from(li.querySelectorAll('a')).map(a => a.getBoundingClientRect().right)),
            })),
        })""")
        width = state["innerWidth"]
        assert width == 390 and state["scrollWidth"] <= width
        assert state["cells"] and state["costCells"] > 0
        off = [c for c in state["cells"] if c["left"] < 0 or c["right"] > width + 0.5 or c["width"] <= 0]
        assert off == [], f"cells off-screen at {width} px: {off[:5]}"
        assert state["actions"] and all(a["links"] == 3 and a["right"] <= width + 0.5 for a in state["actions"])
        page.screenshot(path=str(artifacts_dir() / "report-phone-390.png"), full_page=True)
        page.locator("#cost").screenshot(path=str(artifacts_dir() / "report-phone-390-cost.png"))
        page.locator("#actions").screenshot(path=str(artifacts_dir() / "report-phone-390-actions.png"))
    finally:
        context.close()
