"""The approval's evidence, read from the log bucket the way the stage deploy reads it (moto S3)."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from dataclasses import asdict
from datetime import UTC, datetime
from typing import Any

import boto3
import pytest
from moto import mock_aws

from infra.serving.smoke_hook.handler import Verdict
from ml_deploy.layout import DEFAULT_LAYOUT
from ml_deploy_cli.__main__ import main
from ml_deploy_cli.aws.evidence import drift_report_link, smoke_test_summary

REGION = "eu-west-1"
BUCKET = "ml-deploy-dev-prediction-logs"


@pytest.fixture
def s3() -> Iterator[Any]:
    with mock_aws():
        client = boto3.client("s3", region_name=REGION)
        client.create_bucket(Bucket=BUCKET, CreateBucketConfiguration={"LocationConstraint": REGION})
        yield client


def put_verdict(s3: Any, verdict: Verdict | dict[str, Any], version: str = "v1") -> None:
    """As the smoke hook writes it: its own Verdict class, serialised its way."""
    key = DEFAULT_LAYOUT.smoke_test_key("stage", version)
    document = asdict(verdict) if isinstance(verdict, Verdict) else verdict
    s3.put_object(Bucket=BUCKET, Key=key, Body=json.dumps(document).encode())


def summary(s3: Any, version: str = "v1") -> str:
    return smoke_test_summary(s3, bucket=BUCKET, layout=DEFAULT_LAYOUT, environment="stage", version=version)


def test_a_passed_verdict_is_one_line_with_its_figures(s3: Any) -> None:
    put_verdict(
        s3, Verdict("SUCCEEDED", "stage", records=250, replayed=250, max_abs_diff=3.2e-9, p99_ms=12.4)
    )
    assert summary(s3) == "passed: 250 records, max |Δp| 3e-09, p99 12 ms"


def test_a_failed_verdict_says_why(s3: Any) -> None:
    failed = Verdict("SUCCEEDED", "stage", records=250, replayed=250)
    failed.fail("record 17: served 0.61, recorded 0.58")
    put_verdict(s3, failed)
    assert summary(s3) == "FAILED: 250 records, record 17: served 0.61, recorded 0.58"


def test_a_missing_or_unreadable_verdict_is_said_not_fatal(s3: Any) -> None:
    assert summary(s3, "v9").startswith(
        "no verdict at s3://ml-deploy-dev-prediction-logs/reports/smoke-tests/stage/v9.json (NoSuchKey"
    )
    put_verdict(s3, {"records": 3}, version="v2")
    assert (
        summary(s3, "v2") == f"verdict at s3://{BUCKET}/reports/smoke-tests/stage/v2.json "
        "has no 'status' of ['FAILED', 'SUCCEEDED']"
    )


def test_the_link_is_the_newest_drift_report_written_before_the_model(s3: Any) -> None:
    assert drift_report_link(
        s3, bucket=BUCKET, layout=DEFAULT_LAYOUT, model_created_at=datetime.now(UTC)
    ) == ("none before this model")
    for run in ("run-1", "run-2"):
        for name in ("report.json", "report.html"):
            s3.put_object(Bucket=BUCKET, Key=f"reports/dt=2026-01-01/{run}/{name}", Body=b"{}")
        time.sleep(1.1)  # S3 times have one-second resolution
    model_created_at = datetime.now(UTC)
    time.sleep(1.1)
    s3.put_object(Bucket=BUCKET, Key="reports/dt=2026-01-02/run-3/report.html", Body=b"{}")
    s3.put_object(Bucket=BUCKET, Key="reports/latest/prod/report.html", Body=b"{}")

    link = drift_report_link(s3, bucket=BUCKET, layout=DEFAULT_LAYOUT, model_created_at=model_created_at)

    assert link == (
        f"https://{REGION}.console.aws.amazon.com/s3/object/{BUCKET}"
        f"?region={REGION}&prefix=reports/dt%3D2026-01-01/run-2/report.html"
    ), "not the newest report before the model"


def test_the_cli_prints_the_lines_the_buildspec_exports(s3: Any, capsys: Any) -> None:
    put_verdict(s3, Verdict("SUCCEEDED", "stage", records=5))
    assert main(["--region", REGION, "smoke-test-result", "--log-bucket", BUCKET, "--environment", "stage",
                 "--model-version", "v1"]) == 0  # fmt: skip
    assert capsys.readouterr().out == "passed: 5 records\n"
    assert main(["--region", REGION, "drift-report-link", "--log-bucket", BUCKET,
                 "--model-created-at", "2020-01-01T00:00:00Z"]) == 0  # fmt: skip
    assert capsys.readouterr().out == "none before this model\n"
    assert main(["drift-report-link", "--log-bucket", BUCKET, "--model-created-at", "yesterday"]) == 2
