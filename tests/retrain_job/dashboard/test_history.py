"""The history the dashboard reads: its environment only, bounded in days and runs, tolerant of
extra fields, and naming what it could not read."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import pytest

from retrain_job.dashboard.history import DashboardSources, read_history
from tests.retrain_job.dashboard.conftest import LOG_BUCKET, MODEL_BUCKET
from tests.retrain_job.dashboard.fixture_history import (
    DECISIONS,
    NEW,
    NOW,
    OLD,
    REPORTS,
    drift_report,
    write_history,
)


def _sources(**changes: Any) -> DashboardSources:
    values: dict[str, Any] = {
        "log_bucket": LOG_BUCKET,
        "reports_prefix": REPORTS,
        "environment": "prod",
        "model_bucket": MODEL_BUCKET,
        "decisions_prefix": DECISIONS,
    }
    return DashboardSources(**{**values, **changes})


def test_reads_every_run_event_and_decision_of_the_environment_oldest_first(s3: Any) -> None:
    written = write_history(s3, log_bucket=LOG_BUCKET, model_bucket=MODEL_BUCKET)
    write_history(s3, log_bucket=LOG_BUCKET, model_bucket=MODEL_BUCKET, environment="stage")

    history = read_history(s3, _sources(), now=NOW)

    assert len(history.drift) == written.drift_runs, "stage's runs must not be shown as prod's"
    assert {run.run.environment for run in history.drift} == {"prod"}
    ends = [run.run.window_end for run in history.drift]
    assert ends == sorted(ends)
    assert len(history.quality) == written.quality_runs
    kinds = sorted(event.kind for event in history.events)
    assert kinds == ["retrain", "retrain", "rollback"], kinds
    promoted = next(e for e in history.events if e.outcome == "promoted")
    assert promoted.model_version == NEW and "passed the gate" in promoted.detail
    assert history.skipped == []


def test_versions_come_from_the_per_version_section_or_else_champion_and_the_rest(s3: Any) -> None:
    write_history(s3, log_bucket=LOG_BUCKET, model_bucket=MODEL_BUCKET)

    runs = read_history(s3, _sources(), now=NOW).drift

    first, last = runs[0].version_rows(), runs[-1].version_rows()
    assert [(v.model_version, v.rows) for v in first] == [(OLD, 4000)]
    assert [(v.model_version, v.rows) for v in last] == [(OLD, 4000 - 2400), (NEW, 2400)]
    without_section = drift_report(11, end=NOW, environment="prod")
    del without_section["versions"]
    from retrain_job.dashboard.records import DriftRun

    fallback = DriftRun.model_validate(without_section).version_rows()
    assert [(v.model_version, v.rows) for v in fallback] == [(OLD, 1600), ("other versions", 2400)]


def test_reads_only_the_last_days_and_at_most_max_runs(s3: Any) -> None:
    write_history(s3, log_bucket=LOG_BUCKET, model_bucket=MODEL_BUCKET)

    two_days = read_history(s3, _sources(days=2), now=NOW)
    capped = read_history(s3, _sources(max_runs=3), now=NOW)

    assert all(run.run.window_end.date() >= (NOW - timedelta(days=1)).date() for run in two_days.drift)
    assert 0 < len(two_days.drift) < 12
    assert [e.outcome for e in two_days.events if e.kind == "retrain"] == [], "decisions of 4-5 days ago"
    assert len(capped.drift) == 3 and capped.drift[-1].run.window_end == NOW, "the newest runs are kept"


def test_an_unreadable_report_is_skipped_and_named_not_fatal(s3: Any) -> None:
    write_history(s3, log_bucket=LOG_BUCKET, model_bucket=MODEL_BUCKET)
    broken = f"{REPORTS}dt={NOW:%Y-%m-%d}/zzz-broken/report.json"
    s3.put_object(Bucket=LOG_BUCKET, Key=broken, Body=b"{not json")
    wrong = f"{REPORTS}dt={NOW:%Y-%m-%d}/zzz-wrong/quality.json"
    s3.put_object(
        Bucket=LOG_BUCKET, Key=wrong, Body=json.dumps({"kind": "quality", "environment": "prod"}).encode()
    )

    history = read_history(s3, _sources(), now=NOW)

    assert len(history.drift) == 12
    assert len(history.skipped) == 2
    assert any(broken in skip and "not JSON" in skip for skip in history.skipped)
    assert any(wrong in skip and "generated_at" in skip for skip in history.skipped), history.skipped


@pytest.mark.parametrize(("field", "value"), [("days", 0), ("days", 400), ("max_runs", 0)])
def test_unbounded_reads_are_refused(field: str, value: int) -> None:
    with pytest.raises(ValueError, match=f"^{field}: expected"):
        _sources(**{field: value})
