"""Each runtime does its real work under exactly the IAM policy the Pulumi program renders for it.

Issue 15: the roles were reviewed as minimal; these tests prove them sufficient. Each runtime runs
against moto with IAM enforcement on, as a principal whose only policy is its rendered role's, and
every AWS call it makes is also evaluated offline against that policy with the action, resource
and condition keys AWS would use (`tests/enforcement/aws_calls.py`), including the KMS requests
S3 and SNS make on its behalf. A failure names the call and the permission it lacks.
"""

from __future__ import annotations

import gzip
import io
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from fastapi.testclient import TestClient

from ml_deploy import payload_log
from ml_deploy.bundle import read_bundle
from ml_deploy.settings import ServiceSettings
from ml_deploy.tracking import dashboard_key
from ml_deploy_dev import sample_data
from ml_deploy_dev.program import Program
from ml_deploy_dev.sample_bundle import request_records
from retrain_job import monitor, retrain
from service.app import create_app, log_destination
from service.log_writer import Report, Writer, s3_client
from tests.enforcement.conftest import EnforcedAws
from tests.enforcement.rendered import RuntimeRole, job_role, refused_by_both, task_role, without_statement
from tests.retrain_job.conftest import WINDOW_END, log_lines


def _assert_proven(enforced: EnforcedAws, role: RuntimeRole, *, expected: set[str]) -> None:
    problems = enforced.unproven(role)
    assert not problems, (
        f"the policy rendered for role {role.name} does not cover what the runtime does:\n  "
        + "\n  ".join(problems)
    )
    made = {f"{call.service}:{call.operation}" for call in enforced.calls}
    assert expected <= made, f"the run never reached {sorted(expected - made)}; calls made: {sorted(made)}"


def _put_csv(enforced: EnforcedAws, uri: str, frame: pd.DataFrame) -> None:
    bucket, _, prefix = uri.removeprefix("s3://").partition("/")
    s3 = enforced.admin("s3")
    for listed in s3.list_objects_v2(Bucket=bucket, Prefix=prefix).get("Contents", []):
        s3.delete_object(Bucket=bucket, Key=listed["Key"])
    s3.put_object(Bucket=bucket, Key=f"{prefix}part-000.csv", Body=frame.to_csv(index=False).encode())


def test_retrain_promotion_is_allowed_by_the_retrain_role(
    enforced: EnforcedAws, dev_program: Program
) -> None:
    """First model (no champion yet), then a second that passes the gate and replaces it."""
    role = job_role(dev_program, "jobs-retrain")
    uri, bucket, model_key = (role.environment[k] for k in ("TRAINING_DATA_URI", "MODEL_BUCKET", "MODEL_KEY"))
    statuses = []
    for seed in (21, 22):
        _put_csv(enforced, uri, sample_data.generate(3_000, seed=seed))
        with enforced.running_as(role):
            statuses.append(retrain.main([]))

    _assert_proven(
        enforced, role,
        expected={"s3:GetObject", "s3:ListObjectsV2", "s3:PutObject", "s3:CopyObject",
                  "cloudwatch:PutMetricData", "sns:Publish"},
    )  # fmt: skip
    assert statuses == [retrain.EXIT_PROMOTED] * 2, f"exit statuses {statuses}"
    versions = enforced.admin("s3").list_object_versions(Bucket=bucket, Prefix=model_key)["Versions"]
    assert len(versions) == 2, "both runs should have copied their bundle to the trigger key"


def test_monitor_drift_run_is_allowed_by_the_monitor_role(
    enforced: EnforcedAws, dev_program: Program, trained_bundle: Path, drifted_frame: pd.DataFrame
) -> None:
    """Drift with RETRAIN_ON_DRIFT on: reports, cooldown, metrics, alert, and the retrain submitted."""
    role = job_role(dev_program, "jobs-monitor")
    env = role.environment
    assert env["RETRAIN_ON_DRIFT"] == "true", "the dev stack is expected to retrain on drift"
    s3 = enforced.admin("s3")
    s3.put_object(Bucket=env["MODEL_BUCKET"], Key=env["MODEL_KEY"], Body=trained_bundle.read_bytes())
    _write_prediction_logs(s3, env, bundle=trained_bundle, frame=drifted_frame)

    with enforced.running_as(role, WINDOW_END=WINDOW_END.isoformat()):
        status = monitor.main([])

    _assert_proven(
        enforced, role,
        expected={"s3:GetObject", "s3:ListObjectsV2", "s3:PutObject", "batch:SubmitJob",
                  "cloudwatch:PutMetricData", "sns:Publish", "codepipeline:ListActionExecutions"},
    )  # fmt: skip
    assert status == 0
    jobs = enforced.admin("batch").list_jobs(jobQueue=env["RETRAIN_JOB_QUEUE"], jobStatus="SUBMITTED")
    submitted = [call for call in enforced.calls if call.operation == "SubmitJob" and call.error is None]
    assert submitted or jobs["jobSummaryList"], "the drift run did not submit the retrain job"
    s3.head_object(Bucket=env["LOG_BUCKET"], Key=env["COOLDOWN_KEY"])
    assert_dashboard_published(enforced, env)


def assert_dashboard_published(enforced: EnforcedAws, env: dict[str, str]) -> None:
    """The run ended by regenerating the environment's dashboard (its history read, one page written)."""
    key = dashboard_key(env["REPORTS_PREFIX"], env["ENVIRONMENT"])
    page = enforced.admin("s3").get_object(Bucket=env["LOG_BUCKET"], Key=key)["Body"].read().decode()
    assert "<h1>Model tracking: prod</h1>" in page, page[:500]
    assert f"pipelineName={env['PIPELINE_NAME']}" in "\n".join(map(str, enforced.calls)), (
        "the dashboard did not read the stack's pipeline"
    )


def _write_prediction_logs(s3: Any, env: dict[str, str], *, bundle: Path, frame: pd.DataFrame) -> None:
    loaded = read_bundle(bundle)
    lines = log_lines(
        frame, model=loaded.model, features=loaded.manifest.features,
        model_version=loaded.manifest.bundle_version,
    )  # fmt: skip
    prefix = f"{env['LOG_PREFIX']}{env['ENVIRONMENT']}/"
    key = payload_log.object_key(prefix, WINDOW_END, writer="test")
    s3.put_object(Bucket=env["LOG_BUCKET"], Key=key, Body=gzip.compress(b"\n".join(lines) + b"\n"))


@pytest.mark.parametrize("task_definition", ["serving-prod-task", "serving-stage-task"])
def test_payload_logging_is_allowed_by_the_model_server_task_role(
    enforced: EnforcedAws,
    dev_program: Program,
    trained_bundle: Path,
    sample_frame: pd.DataFrame,
    task_definition: str,
) -> None:
    role = task_role(dev_program, task_definition)
    settings = _serve_predictions(enforced, role, bundle=trained_bundle, frame=sample_frame)

    _assert_proven(enforced, role, expected={"s3:PutObject"})
    listed = enforced.admin("s3").list_objects_v2(
        Bucket=settings.log_bucket, Prefix=settings.environment_log_prefix
    )
    assert listed.get("KeyCount", 0) >= 1, f"no prediction log under {settings.environment_log_prefix}"


def test_the_check_catches_a_role_without_an_action_its_runtime_needs(
    enforced: EnforcedAws, dev_program: Program, trained_bundle: Path, sample_frame: pd.DataFrame
) -> None:
    """The same run as above under the prod task role minus s3:PutObject must be refused, by both."""
    role = task_role(dev_program, "serving-prod-task")
    crippled = without_statement(
        role, name="prod-task-without-put", dropped=lambda s: s["Action"] == "s3:PutObject"
    )

    _serve_predictions(enforced, crippled, bundle=trained_bundle, frame=sample_frame)

    problems = enforced.unproven(crippled)
    prefix = "arn:aws:s3:::ml-prediction-logs-0a1b2c3/predictions/prod/"
    assert refused_by_both(problems, action="s3:PutObject", resource_prefix=prefix, role=crippled), problems


def _serve_predictions(
    enforced: EnforcedAws, role: RuntimeRole, *, bundle: Path, frame: pd.DataFrame
) -> ServiceSettings:
    """Serve a few predictions, then write their log as the writer process does, as `role`.

    The service hands its records to `service.log_writer` in a process of its own, out of reach of
    in-process moto; so the predictions come from the service over HTTP and the writer's own loop
    (`Writer.run`, its S3 client and retries) writes them here, under the role's policy.
    """
    settings = ServiceSettings.from_env(
        {**role.environment, "MODEL_BUNDLE_PATH": str(bundle), "LOG_BATCH_SIZE": "5",
         "LOG_RETRY_BASE_SECONDS": "0.05", "LOG_SHUTDOWN_TIMEOUT_SECONDS": "0.5"}
    )  # fmt: skip
    records = request_records(frame, 5)
    with TestClient(create_app(settings.model_copy(update={"log_bucket": None}))) as client:
        answers = [client.post("/predict", json={"record": record}) for record in records]
    assert all(answer.status_code == 200 for answer in answers), [a.text for a in answers]
    outputs = [(a.json()["prediction"], a.json()["probability"]) for a in answers]
    target, policy = log_destination(settings, model_version=answers[0].json()["model_version"])
    with enforced.running_as(role):
        writer = Writer(
            target=target, policy=policy, report=Report(io.BytesIO()),
            client_factory=lambda: s3_client(target, policy),
        )  # fmt: skip
        lines = payload_log.encode_lines(
            request_id="enforced", timestamp=payload_log.utc_timestamp(datetime.now(UTC)),
            model_version=target.model_version, environment=target.environment,
            inputs=records, outputs=outputs,
        )  # fmt: skip
        writer.add(time.time(), len(lines), b"".join(lines))
        writer.stop()
        writer.run()
    return settings
