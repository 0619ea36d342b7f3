"""`make demo` end to end: the lifecycle on moto_server, with the real jobs and the real service."""

from __future__ import annotations

from pathlib import Path

import pytest

from ml_deploy_dev import demo
from retrain_job import retrain


def test_demo_and_retrain_job_agree_on_the_rejected_exit_code() -> None:
    assert demo.EXIT_REJECTED == retrain.EXIT_REJECTED


def test_demo_reads_names_and_settings_from_the_dev_stack() -> None:
    stack = demo.dev_stack()
    assert stack.model_key == "bundles/current/model-bundle.zip"
    assert stack.event_pattern["detail"]["object"]["key"] == [stack.model_key]
    assert stack.event_pattern["detail"]["bucket"]["name"] == [stack.model_bucket]


@pytest.mark.timeout(240)
def test_lifecycle_runs_end_to_end_and_cleans_up(tmp_path: Path) -> None:
    summary = demo.run(workdir=tmp_path, rows=6_000, requests=150)
    text = "\n".join(summary)
    starts = [line for line in summary if line.startswith("pipeline would start")]
    assert len(starts) == 2, f"expected the first model and the retrained one to start the pipeline:\n{text}"
    assert "normal traffic: 150 requests" in text and "drifted traffic: 150 requests" in text
    assert "challenger trained on drifted data: promoted" in text
    assert "bad challenger rejected (exit 3)" in text
    drift_line = next(line for line in summary if line.startswith("status drift"))
    assert "payment_method" in drift_line, f"the unseen payment method was not flagged: {drift_line}"
    assert list(tmp_path.rglob("report.html")), "the HTML drift report was not left in the work folder"
