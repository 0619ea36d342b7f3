"""The monitor regenerates the model-tracking dashboard after its check, and a dashboard that fails
changes nothing of the run: same exit code, same report, one line and one counted failure."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pandas as pd
import pytest

from ml_deploy.tracking import dashboard_key
from ml_deploy_dev import sample_data
from retrain_job import monitor
from retrain_job.refresh_dashboard import FAILURE_METRIC
from tests.retrain_job.conftest import LOG_BUCKET, MODEL_BUCKET, World, write_logs

PAGE = dashboard_key("reports/", "prod")


@pytest.fixture(scope="module")
def frame() -> pd.DataFrame:
    return sample_data.generate(1_000, seed=31)


def _decision(world: World) -> None:
    """One retrain decision record from yesterday, where the retrain job keeps them."""
    decided = datetime.now(UTC) - timedelta(days=1)
    record = {"decision": "rejected", "decided_at": decided.isoformat(), "challenger_version": "v-new",
              "reasons": ["roc_auc 0.61 below the floor 0.7"]}  # fmt: skip
    key = f"retrain/decisions/{decided:%Y%m%dT%H%M%SZ}-v-new.json"
    world.s3.put_object(Bucket=MODEL_BUCKET, Key=key, Body=json.dumps(record).encode())


def test_a_check_regenerates_the_dashboard_with_its_run_and_the_retrain_decisions(
    world: World, frame: pd.DataFrame, capsys: pytest.CaptureFixture[str]
) -> None:
    write_logs(world.s3, world.lines(frame), hours_back=2)
    _decision(world)

    code = monitor.main([])
    out, err = capsys.readouterr()

    assert code == 0, err
    page = world.s3.get_object(Bucket=LOG_BUCKET, Key=PAGE)
    html = page["Body"].read().decode()
    assert "from 1 monitor runs, 0 quality runs and 1 release events" in html, html[:800]
    assert page["ContentType"].startswith("text/html"), page["ContentType"]
    assert f"dashboard s3://{LOG_BUCKET}/{PAGE}" in out, out


def test_a_dashboard_that_fails_leaves_the_exit_code_and_the_report_alone(
    world: World, frame: pd.DataFrame, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A pipeline the dashboard cannot read (moto has no CodePipeline execution API) fails the page."""
    write_logs(world.s3, world.lines(frame), hours_back=2)
    monkeypatch.setenv("PIPELINE_NAME", "ml-deploy-dev")

    code = monitor.main([])
    _, err = capsys.readouterr()

    assert code == 0, err
    assert json.loads(world.report())["status"] in ("ok", "drift"), "the run's report was lost"
    failures = [line for line in err.splitlines() if "dashboard not regenerated" in line]
    assert len(failures) == 1, f"expected one line about the dashboard, got: {err!r}"
    assert "Traceback" not in err, err
    assert "Contents" not in world.s3.list_objects_v2(Bucket=LOG_BUCKET, Prefix=PAGE), "a page was written"
    counted = world.cloudwatch.list_metrics(Namespace="MlDeploy", MetricName=FAILURE_METRIC)["Metrics"]
    dimensions = [{d["Name"]: d["Value"] for d in m["Dimensions"]} for m in counted]
    assert dimensions == [{"Environment": "prod", "Job": "monitor"}], dimensions
