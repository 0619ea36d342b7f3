"""The monitor's Batch fan-out, end to end under only its rendered role (issue 27's array-job path).

A backlog larger than SHARD_OBJECTS makes the check submit its own job definition twice: an
array job (`arrayProperties`) whose children summarize a shard each, and a merge job that
`dependsOn` it. Each step then runs here as Batch would run it, under the same role: every child
with its AWS_BATCH_JOB_ARRAY_INDEX, then the merge, which ends in the check, its report and the
dashboard. moto enforces the role; the offline evaluation holds each SubmitJob to the definition's
revision ARN and the queue, and catches a role without the fan-out grant.
"""

from __future__ import annotations

import gzip
from datetime import timedelta
from pathlib import Path
from typing import Any

import pandas as pd

from ml_deploy import payload_log
from ml_deploy.bundle import read_bundle
from ml_deploy_dev.program import ACCOUNT, REGION, Program
from retrain_job import monitor
from retrain_job.monitor import fanout
from tests.enforcement.conftest import EnforcedAws
from tests.enforcement.rendered import RuntimeRole, job_role, without_statement
from tests.enforcement.test_runtime_permissions import _assert_proven, assert_dashboard_published
from tests.retrain_job.conftest import WINDOW_END, log_lines

# Three log objects in two closed hours, one object a shard, two shards an array: the first hour
# goes to the array job, the merge job's check summarizes the second itself.
FAN_OUT = {"WINDOW_END": WINDOW_END.isoformat(), "SHARD_OBJECTS": "1", "MAX_ARRAY_SIZE": "2"}


def _write_backlog(enforced: EnforcedAws, env: dict[str, str], *, bundle: Path, frame: pd.DataFrame) -> None:
    s3 = enforced.admin("s3")
    s3.put_object(Bucket=env["MODEL_BUCKET"], Key=env["MODEL_KEY"], Body=bundle.read_bytes())
    loaded = read_bundle(bundle)
    lines = log_lines(
        frame, model=loaded.model, features=loaded.manifest.features,
        model_version=loaded.manifest.bundle_version,
    )  # fmt: skip
    prefix = f"{env['LOG_PREFIX']}{env['ENVIRONMENT']}/"
    for part, hours_back in enumerate((4, 4, 3)):
        when = WINDOW_END - timedelta(hours=hours_back, minutes=part)
        key = payload_log.object_key(prefix, when, writer=f"test{part}")
        body = gzip.compress(b"\n".join(lines[part::3]) + b"\n")
        s3.put_object(Bucket=env["LOG_BUCKET"], Key=key, Body=body)


def _submitted(enforced: EnforcedAws) -> list[dict[str, Any]]:
    return [c.params for c in enforced.calls if c.operation == "SubmitJob" and c.error is None]


def _run_fan_out(enforced: EnforcedAws, role: RuntimeRole) -> list[dict[str, Any]]:
    """The check that fans out, then each child and the merge, as Batch would start them."""
    with enforced.running_as(role, **FAN_OUT):
        assert monitor.main([]) == 0
    submitted = _submitted(enforced)
    if len(submitted) != 2:
        return submitted
    array, merge = submitted
    for index in range(array["arrayProperties"]["size"]):
        with enforced.running_as(role, **FAN_OUT, **{fanout.ARRAY_INDEX: str(index)}):
            assert monitor.main(array["containerOverrides"]["command"][len(fanout.COMMAND) :]) == 0
    enforced.monkeypatch.delenv(fanout.ARRAY_INDEX)
    with enforced.running_as(role, **FAN_OUT):
        assert monitor.main(merge["containerOverrides"]["command"][len(fanout.COMMAND) :]) == 0
    return submitted


def test_the_array_job_path_is_allowed_by_the_monitor_role(
    enforced: EnforcedAws, dev_program: Program, trained_bundle: Path, sample_frame: pd.DataFrame
) -> None:
    role = job_role(dev_program, "jobs-monitor")
    env = role.environment
    _write_backlog(enforced, env, bundle=trained_bundle, frame=sample_frame)

    submitted = _run_fan_out(enforced, role)

    _assert_proven(
        enforced, role,
        expected={"batch:SubmitJob", "s3:GetObject", "s3:PutObject", "s3:ListObjectsV2",
                  "cloudwatch:PutMetricData", "codepipeline:ListActionExecutions"},
    )  # fmt: skip
    assert [(job["jobDefinition"], job["jobQueue"]) for job in submitted] == [
        (env["MONITOR_JOB_DEFINITION"], env["MONITOR_JOB_QUEUE"])
    ] * 2, f"the fan-out did not submit the monitor's own definition twice: {submitted}"
    array, merge = submitted
    assert array["arrayProperties"] == {"size": 2}, array
    assert merge["dependsOn"][0]["jobId"], merge
    enforced.admin("s3").head_object(
        Bucket=env["LOG_BUCKET"], Key=f"{env['REPORTS_PREFIX']}latest/prod/report.json"
    )
    assert_dashboard_published(enforced, env)


def test_the_check_catches_a_monitor_role_that_cannot_submit_itself(
    enforced: EnforcedAws, dev_program: Program, trained_bundle: Path, sample_frame: pd.DataFrame
) -> None:
    """moto authorizes Batch on "*" (the retrain grant lets it through); the offline check must not."""
    role = job_role(dev_program, "jobs-monitor")
    crippled = without_statement(
        role, name="monitor-without-fan-out", dropped=lambda s: s.get("Sid") == "SubmitOwnFanOutJobs"
    )
    _write_backlog(enforced, role.environment, bundle=trained_bundle, frame=sample_frame)

    with enforced.running_as(crippled, **FAN_OUT):
        monitor.main([])

    own = f"arn:aws:batch:{REGION}:{ACCOUNT}:job-definition/{role.environment['MONITOR_JOB_DEFINITION']}:1"
    problems = enforced.unproven(crippled)
    assert any(f"needs batch:SubmitJob on {own}" in p for p in problems), problems
