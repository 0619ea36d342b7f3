"""The published page: self-contained (plotly.js inlined exactly once, nothing fetched), every chart
with data from the history, data text escaped, written whole in one PUT under the reports prefix."""

from __future__ import annotations

import json
import re
from typing import Any

import plotly.offline
import pytest

from ml_deploy.tracking import ReleaseEvent, event_key
from retrain_job.dashboard import DashboardSources, dashboard_key, publish_dashboard
from retrain_job.dashboard.publish import build_dashboard
from tests.retrain_job.dashboard.conftest import LOG_BUCKET, MODEL_BUCKET
from tests.retrain_job.dashboard.fixture_history import DECISIONS, NEW, NOW, OLD, REPORTS, write_history

SOURCES = DashboardSources(
    log_bucket=LOG_BUCKET,
    reports_prefix=REPORTS,
    environment="prod",
    model_bucket=MODEL_BUCKET,
    decisions_prefix=DECISIONS,
)
_NEW_PLOT = re.compile(r'Plotly\.newPlot\(\s*"(?P<id>[^"]+)",\s*(?P<data>\[.*?\]),\s*\{', re.S)


def charts(page: str) -> dict[str, list[dict[str, Any]]]:
    """Each chart's div id and its traces, as the page hands them to Plotly.newPlot."""
    return {m["id"]: json.loads(m["data"]) for m in _NEW_PLOT.finditer(page)}


@pytest.fixture
def page(s3: Any) -> str:
    write_history(s3, log_bucket=LOG_BUCKET, model_bucket=MODEL_BUCKET)
    return build_dashboard(s3, sources=SOURCES, now=NOW)


def test_the_page_carries_plotly_js_once_and_fetches_nothing(page: str) -> None:
    library = plotly.offline.get_plotlyjs()
    assert page.count(library[:2000]) == 1, "plotly.js must be inlined exactly once"
    assert not re.search(r"<(script|link|img|iframe)[^>]+(src|href)=", page), "no external asset"
    around_the_library = page.replace(library, "")
    assert not re.search(r"https?://", around_the_library), "the page itself names no URL to fetch"


def test_every_chart_has_traces_with_data_from_the_history(page: str) -> None:
    found = charts(page)
    assert set(found) == {
        "chart-releases",
        "chart-drift",
        "chart-quality",
        "chart-predictions",
        "chart-traffic",
    }
    for div_id, traces in found.items():
        assert traces and all(t.get("x") or t.get("y") for t in traces), f"{div_id} has an empty trace"
    drift_names = {t["name"] for t in found["chart-drift"]}
    assert drift_names == {"tenure_months", "monthly_charges", "contract"}
    assert {t["name"] for t in found["chart-traffic"]} == {OLD, NEW}
    auc = next(t for t in found["chart-quality"] if t["name"] == OLD and t.get("error_y"))
    assert auc["y"] == pytest.approx([0.83, 0.78, 0.73, 0.68])
    assert auc["error_y"]["array"] == pytest.approx([0.03] * 4)
    assert {t["name"] for t in found["chart-releases"]} == {"retrain", "rollback"}


def test_the_text_summary_says_the_newest_numbers(page: str) -> None:
    assert (
        "Drift (window to 2026-11-23 10:30Z): drift; drifted: monthly_charges, contract; "
        f"rows: {OLD} 1600, {NEW} 2400" in page
    )
    assert f"Quality of {OLD}: below_floor, ROC AUC 0.680 [0.650, 0.710]" in page
    assert "<noscript>" in page


def test_text_from_data_is_escaped(s3: Any) -> None:
    hostile = "<img src=x onerror=alert(1)>"
    event = ReleaseEvent(kind="rollback", at=NOW, environment="prod", model_version=hostile, detail=hostile)
    s3.put_object(Bucket=LOG_BUCKET, Key=event_key(REPORTS, event), Body=event.model_dump_json().encode())

    page = build_dashboard(s3, sources=SOURCES, now=NOW)

    assert hostile not in page, "a model version or comment must never become markup"
    assert "&lt;img src=x onerror=alert(1)&gt;" in page


def test_an_empty_history_still_publishes_a_page_that_says_so(s3: Any) -> None:
    page = build_dashboard(s3, sources=SOURCES, now=NOW)
    assert "No monitor runs, quality runs or releases yet." in page
    assert len(charts(page)) == 5


def test_publish_writes_one_html_object_under_the_reports_prefix(s3: Any) -> None:
    write_history(s3, log_bucket=LOG_BUCKET, model_bucket=MODEL_BUCKET)

    url = publish_dashboard(s3, sources=SOURCES, now=NOW)

    key = "reports/dashboard/prod/index.html"
    assert dashboard_key(REPORTS, "prod") == key and url == f"s3://{LOG_BUCKET}/{key}"
    stored = s3.get_object(Bucket=LOG_BUCKET, Key=key)
    assert stored["ContentType"] == "text/html; charset=utf-8"
    body = stored["Body"].read()
    assert body.startswith(b"<!doctype html>") and body.endswith(b"</html>")
    library = len(plotly.offline.get_plotlyjs())
    assert len(body) - library < 400_000, f"the data part weighs {len(body) - library} bytes"
