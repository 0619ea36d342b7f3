"""What both jobs share: the exit-code rule, AWS clients, metric batches and the alert subject."""

from __future__ import annotations

import boto3
import pytest
from botocore.exceptions import ClientError
from moto import mock_aws

from ml_deploy.settings import MonitorSettings, RetrainSettings, SettingsError
from retrain_job import common, monitor, retrain


def test_metrics_are_sent_in_batches_of_at_most_1000() -> None:
    with mock_aws():
        cloudwatch = boto3.client("cloudwatch", region_name="us-east-1")
        metrics = [common.metric("PSI", 0.1, dimensions={"Feature": f"f{i}"}) for i in range(1_001)]
        assert common.put_metrics(cloudwatch, namespace="MlDeploy", metrics=metrics) == 2
        pages = cloudwatch.get_paginator("list_metrics").paginate(Namespace="MlDeploy")
        assert sum(len(page["Metrics"]) for page in pages) == 1_001, "metrics lost between batches"


@pytest.mark.parametrize("job", ["retrain", "monitor"])
def test_alert_subjects_follow_one_rule_and_fit_sns(job: str) -> None:
    assert common.alert_subject(job, "promoted model v1") == f"ml-deploy {job}: promoted model v1"
    long = common.alert_subject(job, "drift in prod: " + ", ".join(f"feature_{i}" for i in range(40)))
    assert len(long) == common.SUBJECT_LIMIT and long.endswith("..."), long


def _raise(error: Exception) -> int:
    raise error


@pytest.mark.parametrize(
    ("error", "code", "says"),
    [
        (SettingsError("MIN_ROWS / --min-rows = '5': too small"), common.EXIT_INVALID_INPUT, "invalid input"),
        (common.JobInputError("training data has 3 rows"), common.EXIT_INVALID_INPUT, "invalid input"),
        (
            ClientError({"Error": {"Code": "SlowDown"}}, "PutObject"),
            common.EXIT_FAILED,
            "failed, safe to retry",
        ),
        (common.JobFailure("upload reads back wrong"), common.EXIT_FAILED, "failed, safe to retry"),
    ],
    ids=["settings", "input", "aws", "failure"],
)
def test_user_errors_are_one_line_with_the_job_name_and_its_exit_code(
    error: Exception, code: int, says: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert common.run_job("retrain", lambda: _raise(error)) == code
    err = capsys.readouterr().err
    assert err.startswith(f"retrain: {says}: ") and err.count("\n") == 1 and "Traceback" not in err, err


def test_both_jobs_share_the_exit_codes() -> None:
    assert (retrain.EXIT_INVALID_INPUT, monitor.EXIT_INVALID_INPUT) == (2, 2)
    assert (retrain.EXIT_FAILED, monitor.EXIT_FAILED) == (1, 1)
    assert (retrain.EXIT_PROMOTED, monitor.EXIT_CHECKED, retrain.EXIT_REJECTED) == (0, 0, 3)


def test_a_missing_region_names_the_setting(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("AWS_REGION", "AWS_DEFAULT_REGION", "AWS_CONFIG_FILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", "/nonexistent")
    settings = RetrainSettings.from_args([], {"MODEL_BUCKET": "b", "TRAINING_DATA_URI": "/d"})
    with pytest.raises(common.JobInputError, match="no AWS region: set AWS_REGION"):
        common.JobClients(settings)


def test_clients_use_the_region_from_the_settings() -> None:
    settings = MonitorSettings.from_args(
        ["--aws-region", "eu-central-1"], {"MODEL_BUCKET": "b", "LOG_BUCKET": "l"}
    )
    assert common.JobClients(settings).s3.meta.region_name == "eu-central-1"
