"""The dashboard in a real browser: headless Chromium opens the page from a file with every
network request refused, and every chart is drawn with its data traces, without a console error.

Set ML_DEPLOY_DASHBOARD_SCREENSHOT=docs/dashboard.png to keep a screenshot of the page there;
otherwise it goes to the test's tmp folder.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import Any

import pytest

from retrain_job.dashboard.publish import build_dashboard
from tests.retrain_job.dashboard.conftest import LOG_BUCKET, MODEL_BUCKET
from tests.retrain_job.dashboard.fixture_history import NOW, write_history
from tests.retrain_job.dashboard.test_page import SOURCES, charts

SCREENSHOT_VARIABLE = "ML_DEPLOY_DASHBOARD_SCREENSHOT"
CHROMIUM = next(
    (
        p
        for p in ("/usr/bin/chromium", shutil.which("chromium"), shutil.which("chromium-browser"))
        if p and Path(p).exists()
    ),
    None,
)
sync_api = pytest.importorskip("playwright.sync_api", reason="playwright (the dev extra) is not installed")
pytestmark = pytest.mark.skipif(
    CHROMIUM is None,
    reason="no Chromium: install Debian's `chromium` package to run the dashboard browser test",
)

# Per chart: how many plotted traces it has, and how many of them hold drawn points or lines.
_DRAWN = """
() => Array.from(document.querySelectorAll('.plotly-graph-div')).map(div => ({
  id: div.id,
  traces: (div.data || []).length,
  drawn: div.querySelectorAll('g.trace, g.scatterlayer .trace, g.barlayer .trace').length,
  marks: div.querySelectorAll('path.point, path.js-line, g.points path').length,
  svg: div.querySelector('svg.main-svg') !== null,
}))
"""


def test_every_chart_is_drawn_without_console_errors(s3: Any, tmp_path: Path) -> None:
    write_history(s3, log_bucket=LOG_BUCKET, model_bucket=MODEL_BUCKET)
    html = build_dashboard(s3, sources=SOURCES, now=NOW)
    page_file = tmp_path / "index.html"
    page_file.write_text(html, encoding="utf-8")
    expected = charts(html)
    assert len(expected) >= 4

    problems: list[str] = []
    requests: list[str] = []
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 900})
            page.on(
                "console",
                lambda m: problems.append(f"console {m.type}: {m.text}") if m.type == "error" else None,
            )
            page.on("pageerror", lambda error: problems.append(f"page error: {error}"))
            page.route("**/*", lambda route: _only_the_file(route, requests))
            page.goto(page_file.as_uri(), wait_until="load")
            page.wait_for_function("document.querySelectorAll('.plotly-graph-div svg.main-svg').length >= 5")
            drawn = page.evaluate(_DRAWN)
            screenshot = Path(os.environ.get(SCREENSHOT_VARIABLE) or tmp_path / "dashboard.png")
            page.screenshot(path=str(screenshot), full_page=True)
        finally:
            browser.close()

    assert problems == [], problems
    assert requests == [], f"the page fetched {requests}"
    assert {chart["id"] for chart in drawn} == set(expected)
    for chart in drawn:
        assert chart["svg"], f"{chart['id']} has no SVG"
        assert chart["traces"] == len(expected[chart["id"]]), chart
        assert chart["drawn"] >= chart["traces"] > 0, f"{chart['id']}: not every trace was drawn: {chart}"
        assert chart["marks"] > 0, f"{chart['id']} shows no point, line or bar: {chart}"
    assert screenshot.stat().st_size > 20_000


def _only_the_file(route: Any, requests: list[str]) -> None:
    """The locked-down network: the page's own file loads, anything else is refused and noted."""
    if route.request.url.startswith("file://"):
        route.continue_()
    else:
        requests.append(route.request.url)
        route.abort()
