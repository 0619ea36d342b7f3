"""The quality job does its real work under exactly the IAM policy the program renders for it.

As `test_runtime_permissions.py` proves the other runtimes: the job runs against moto with IAM
enforcement on, as a user holding only the rendered `jobs-quality` policy, and every call it makes
is evaluated offline against that policy (`tests/enforcement/aws_calls.py`). The run goes the whole
way: prod's matured logs and their outcomes joined, the archived bundle's holdout read, the report
written, metrics put, quality below the floor alerted, and the retrain submitted under the cooldown.
"""

from __future__ import annotations

import gzip
import json
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ml_deploy import outcomes, payload_log
from ml_deploy.bundle import read_bundle
from ml_deploy.layout import archived_bundle_key
from ml_deploy.quality_report import REPORT_FILE
from ml_deploy_dev.program import Program
from retrain_job import quality
from tests.enforcement.conftest import EnforcedAws
from tests.enforcement.rendered import RuntimeRole, job_role
from tests.enforcement.test_runtime_permissions import _assert_proven, assert_dashboard_published
from tests.retrain_job.conftest import log_lines

NOW = datetime(2026, 12, 31, 6, 0, tzinfo=UTC)
PREDICTED_AT = datetime(2026, 11, 15, 10, 0, tzinfo=UTC)  # 46 days before NOW: in the 30-60 day window
OBSERVED_AT = datetime(2026, 12, 20, 9, 0, tzinfo=UTC)
# Fewer resamples than the stack's default: the permissions, not the interval, are under test.
RUN = {"QUALITY_NOW": NOW.isoformat(), "BOOTSTRAP_SAMPLES": "50"}


def _lay_out_a_changed_world(
    enforced: EnforcedAws, env: dict[str, str], *, bundle: Path, frame: pd.DataFrame
) -> str:
    """prod's predictions of `frame`, 40% of their outcomes flipped (the world moved), the bundle
    archived; the model version."""
    s3 = enforced.admin("s3")
    loaded = read_bundle(bundle)
    version = loaded.manifest.bundle_version
    s3.put_object(
        Bucket=env["MODEL_BUCKET"],
        Key=archived_bundle_key(env["MODEL_ARCHIVE_PREFIX"], version),
        Body=bundle.read_bytes(),
    )
    lines = log_lines(frame, model=loaded.model, features=loaded.manifest.features, model_version=version)
    stamped = [_stamped(line) for line in lines]
    key = payload_log.object_key(f"{env['LOG_PREFIX']}{env['ENVIRONMENT']}/", PREDICTED_AT, writer="test")
    s3.put_object(Bucket=env["LOG_BUCKET"], Key=key, Body=gzip.compress(b"\n".join(stamped) + b"\n"))
    flipped = np.random.default_rng(0).random(len(frame)) < 0.4
    rows = [
        (i, {"request_id": f"req-{i:06d}", "record_index": 0, "label": int(label != flip),
             "observed_at": payload_log.utc_timestamp(OBSERVED_AT)})
        for i, (label, flip) in enumerate(zip(frame["churned"], flipped, strict=True))
    ]  # fmt: skip
    validated = outcomes.validate_rows(rows, now=NOW)
    assert validated.bad == [], validated.bad
    for outcome_key, body in outcomes.encode_objects(validated.records, prefix=env["OUTCOMES_PREFIX"]):
        s3.put_object(Bucket=env["LOG_BUCKET"], Key=outcome_key, Body=body)
    return version


def _stamped(line: bytes) -> bytes:
    record: dict[str, Any] = json.loads(line)
    return json.dumps({**record, "timestamp": payload_log.utc_timestamp(PREDICTED_AT)}).encode()


def test_a_quality_drop_run_is_allowed_by_the_quality_role(
    enforced: EnforcedAws, dev_program: Program, trained_bundle: Path, drifted_frame: pd.DataFrame
) -> None:
    """Below the floor with RETRAIN_ON_QUALITY on: report, cooldown, metrics, alert, retrain submitted."""
    role = job_role(dev_program, "jobs-quality")
    env = role.environment
    assert env["RETRAIN_ON_QUALITY"] == "true", "the dev stack is expected to retrain on a quality drop"
    _lay_out_a_changed_world(enforced, env, bundle=trained_bundle, frame=drifted_frame)

    with enforced.running_as(role, **RUN):
        status = quality.main([])

    _assert_proven(
        enforced, role,
        expected={"s3:GetObject", "s3:HeadObject", "s3:ListObjectsV2", "s3:PutObject", "batch:SubmitJob",
                  "cloudwatch:PutMetricData", "sns:Publish", "codepipeline:ListActionExecutions"},
    )  # fmt: skip
    assert status == 0
    assert_dashboard_published(enforced, env)
    s3 = enforced.admin("s3")
    latest = f"{env['REPORTS_PREFIX']}latest/{env['ENVIRONMENT']}/{REPORT_FILE}"
    report = json.loads(s3.get_object(Bucket=env["LOG_BUCKET"], Key=latest)["Body"].read())
    assert [v["status"] for v in report["versions"]] == ["below_floor"], report["versions"]
    s3.head_object(Bucket=env["LOG_BUCKET"], Key=env["COOLDOWN_KEY"])
    submitted = [c for c in enforced.calls if c.operation == "SubmitJob" and c.error is None]
    assert submitted, "the quality drop did not submit the retrain job"


def test_the_check_catches_a_quality_role_that_cannot_read_the_archive(
    enforced: EnforcedAws, dev_program: Program, trained_bundle: Path, drifted_frame: pd.DataFrame
) -> None:
    """Without its archive read the job only loses the holdout comparison; both checks must say so."""
    role = job_role(dev_program, "jobs-quality")
    crippled = _without(role, "ReadArchivedBundles")
    _lay_out_a_changed_world(enforced, role.environment, bundle=trained_bundle, frame=drifted_frame)

    with enforced.running_as(crippled, **RUN):
        quality.main([])

    problems = enforced.unproven(crippled)
    archive = f"arn:aws:s3:::{role.environment['MODEL_BUCKET']}/{role.environment['MODEL_ARCHIVE_PREFIX']}"
    assert any(f"needs s3:GetObject on {archive}" in p for p in problems), problems


def _without(role: RuntimeRole, sid: str) -> RuntimeRole:
    statements = [s for s in role.policy["Statement"] if s.get("Sid") != sid]
    assert len(statements) == len(role.policy["Statement"]) - 1, f"expected one {sid} statement"
    return replace(role, name=f"quality-without-{sid}", policy={**role.policy, "Statement": statements})
