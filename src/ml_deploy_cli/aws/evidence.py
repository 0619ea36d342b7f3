"""What the approver sees besides commit, model and metrics: stage's smoke test and the drift before.

The stage deploy action runs these after ECS accepted the revision and exports one line each
(`buildspec-deploy.yml`), which the approval message names as #{StageDeployVariables.*}. Both
always answer a line: a missing verdict or report is said, never a failed deploy (the smoke
hook fails the deployment itself, so a verdict is only missing when the hook did not run).
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any
from urllib.parse import quote

from botocore.exceptions import ClientError

from ml_deploy.layout import ObjectLayout

_MISSING = ("NoSuchKey", "404", "NotFound")
# Without s3:ListBucket on the bucket, S3 answers a missing key with 403, not 404.
_UNREADABLE = ("AccessDenied", "403")
# The verdict the smoke hook writes (`ObjectLayout.smoke_test_key`; `Verdict` in
# infra/serving/smoke_hook/handler.py): the fields read here. tests/cli writes it with that class.
STATUS, RECORDS, MAX_DIFFERENCE, P99_MS, FAILURES = "status", "records", "max_abs_diff", "p99_ms", "failures"
OUTCOMES = {"SUCCEEDED": "passed", "FAILED": "FAILED"}
# The monitor's run folders (`retrain_job/monitor/publishing.py`): <reports prefix>dt=<day>/<run>/.
DRIFT_REPORT_FILE = "report.html"


def smoke_test_summary(s3: Any, *, bucket: str, layout: ObjectLayout, environment: str, version: str) -> str:
    """`passed: 250 records, max |Δp| 3e-09, p99 12 ms`, or why there is no such line."""
    key = layout.smoke_test_key(environment, version)
    try:
        body = s3.get_object(Bucket=bucket, Key=key)["Body"].read()
    except ClientError as error:
        code = error.response.get("Error", {}).get("Code")
        if code in _MISSING or code in _UNREADABLE:
            return f"no verdict at s3://{bucket}/{key} ({code}: did the smoke hook run?)"
        raise
    try:
        verdict = json.loads(body)
    except (UnicodeDecodeError, json.JSONDecodeError):
        return f"unreadable verdict at s3://{bucket}/{key}"
    if not isinstance(verdict, dict) or verdict.get(STATUS) not in OUTCOMES:
        return f"verdict at s3://{bucket}/{key} has no {STATUS!r} of {sorted(OUTCOMES)}"
    passed = verdict[STATUS] == "SUCCEEDED"
    failures = verdict.get(FAILURES) or []
    facts = [
        f"{verdict[RECORDS]} records" if verdict.get(RECORDS) is not None else None,
        f"max |Δp| {float(verdict[MAX_DIFFERENCE]):.1g}" if verdict.get(MAX_DIFFERENCE) is not None else None,
        f"p99 {float(verdict[P99_MS]):.0f} ms" if verdict.get(P99_MS) is not None else None,
        str(failures[0]) if not passed and failures else None,
    ]
    return f"{OUTCOMES[verdict[STATUS]]}: {', '.join(fact for fact in facts if fact)}"


def drift_report_link(s3: Any, *, bucket: str, layout: ObjectLayout, model_created_at: datetime) -> str:
    """The S3 console link of the newest drift report written before the model, or `none before it`."""
    pages = s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=f"{layout.reports_prefix}dt=")
    earlier = [
        item
        for page in pages
        for item in page.get("Contents", [])
        if item["Key"].endswith(f"/{DRIFT_REPORT_FILE}") and item["LastModified"] < model_created_at
    ]
    if not earlier:
        return "none before this model"
    newest = max(earlier, key=lambda item: item["LastModified"])
    return console_url(bucket, newest["Key"], region=s3.meta.region_name)


def console_url(bucket: str, key: str, *, region: str) -> str:
    """The S3 console's page of one object (what an approver can open with their own login)."""
    return (
        f"https://{region}.console.aws.amazon.com/s3/object/{bucket}"
        f"?region={region}&prefix={quote(key, safe='/')}"
    )
