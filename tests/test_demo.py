"""`make demo` end to end: the lifecycle on moto_server, with the real jobs, the real build and the
real service, delivered by the program's pipeline run here and answered with the CLI."""

from __future__ import annotations

from pathlib import Path

import pytest

from ml_deploy_cli.local.state import read_checked_state
from ml_deploy_dev import demo
from retrain_job import retrain


def test_demo_and_retrain_job_agree_on_the_rejected_exit_code() -> None:
    assert demo.EXIT_REJECTED == retrain.EXIT_REJECTED


def test_demo_reads_names_and_settings_from_the_dev_stack() -> None:
    stack = demo.dev_stack()
    assert stack.model_key == "bundles/current/model-bundle.zip"
    assert stack.event_pattern["detail"]["object"]["key"] == [stack.model_key]
    assert stack.event_pattern["detail"]["bucket"]["name"] == [stack.model_bucket]


def line(summary: list[str], start: str) -> str:
    found = [entry for entry in summary if entry.startswith(start)]
    assert len(found) == 1, f"expected one summary line starting {start!r}:\n" + "\n".join(summary)
    return found[0]


def first_deploy(summary: list[str]) -> str:
    """The model bootstrap's first deploy put on stage and prod (every part starts with it)."""
    first = line(summary, "execution 1 (model ")
    assert "Succeeded; prod serves" in first and "jobs promoted (PromoteJobs Succeeded)" in first
    assert first.endswith("approved by `ml-deploy bootstrap`"), (
        f"the first deploy was not bootstrap's: {first}"
    )
    return first.split("(model ")[1].split(")")[0]


def assert_cleaned_up(workdir: Path) -> None:
    environments = read_checked_state(workdir / "delivery" / "state.json").environments
    assert all(record.running is None for record in environments.values()), "a task was left running"


def assert_quality_dropped_and_alerted(summary: list[str]) -> None:
    """Outcomes of normal traffic keep the model ok; the concept-drifted ones push it below the floor."""
    before = line(summary, "quality before drift: ")
    assert before.startswith("quality before drift: ok, roc_auc "), before
    after = line(summary, "quality after drift: ")
    assert after.startswith("quality after drift: below_floor, roc_auc "), after
    assert "ml-deploy quality: quality below floor in prod" in line(summary, "alert published to ")
    assert "off locally" in line(summary, "retrain on quality: ")


def assert_dashboard_drawn(entry: str) -> None:
    page = Path(entry.removeprefix("dashboard: ").split(" (")[0])
    assert page.is_file(), f"the dashboard's path does not exist: {entry}"
    charts = page.read_text().count('class="plotly-graph-div"')
    assert charts >= 4, f"the dashboard draws {charts} charts, expected at least four: {page}"


# The demo's two parts after the first deploy, each a test of its own so xdist runs them side by
# side: the model's life (three pipeline runs, a drift check, two retrains; ~2 min on 2 cores)
# and the bundles the delivery stops (two runs, a stage rollback).
@pytest.mark.timeout(480)
def test_lifecycle_traffic_drift_and_retrains_end_to_end_and_cleans_up(tmp_path: Path) -> None:
    # 250 requests per phase: the quality job scores a version from 200 joined outcomes (the stack's).
    summary = demo.run(workdir=tmp_path, rows=6_000, requests=250, parts=["lifecycle"])
    model_1 = first_deploy(summary)
    assert "normal traffic: 250 requests" in "\n".join(summary)
    drift_line = line(summary, "status drift")
    assert "payment_method" in drift_line, f"the unseen payment method was not flagged: {drift_line}"
    assert line(summary, "challenger trained on drifted data: ").split(": ")[1].startswith("promoted")

    second = line(summary, "execution 2 (model ")
    model_2 = second.split("(model ")[1].split(")")[0]
    assert f"rejected at Approve; prod still serves {model_1}, stage {model_2}" in second
    assert "no execution started" in line(summary, "bad challenger rejected (exit 3)")
    assert list(tmp_path.rglob("report.html")), "the HTML drift report was not left in the work folder"
    assert_quality_dropped_and_alerted(summary)
    assert_dashboard_drawn(line(summary, "dashboard: "))
    assert not [entry for entry in summary if "tampered" in entry], "a part not asked for ran"
    assert_cleaned_up(tmp_path)


@pytest.mark.timeout(480)
def test_bad_uploads_are_refused_or_rolled_back_end_to_end_and_cleans_up(tmp_path: Path) -> None:
    summary = demo.run(workdir=tmp_path, rows=6_000, requests=150, parts=["bad-uploads"])
    model_1 = first_deploy(summary)
    assert "checksum mismatch" in line(summary, "tampered bundle refused by `ml-deploy upload-model`")
    second = line(summary, "execution 2 (model ")
    assert f"failed at DeployStage, rolled back; stage still serves {model_1}, prod {model_1}" in second
    assert not [entry for entry in summary if "traffic" in entry], "a part not asked for ran"
    assert_cleaned_up(tmp_path)
