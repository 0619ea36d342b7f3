"""`ml-deploy status`: ECS and S3 in moto, the pipeline's state through the Stubber."""

from __future__ import annotations

import json

from ml_deploy_cli.commands import records
from tests.cli.conftest import LOG_BUCKET, MODEL_BUCKET, PIPELINE, Stack
from tests.cli.pipeline_shapes import COMMIT, MODEL_VERSION, WAITING, action_executions, pipeline_state
from tests.cli.schemas import assert_schema

NEW_TAG = f"{COMMIT[:12]}-{MODEL_VERSION}"


def expect_pipeline(stack: Stack, *, waiting: bool) -> None:
    stack.pipeline.add_response("get_pipeline_state", pipeline_state(waiting=waiting), {"name": PIPELINE})
    if waiting:
        stack.pipeline.add_response(
            "list_action_executions",
            action_executions(WAITING),
            {"pipelineName": PIPELINE, "filter": {"pipelineExecutionId": WAITING}},
        )


def write_decision(stack: Stack, key: str, record: dict[str, object]) -> None:
    """As retrain_job/publishing.py writes_decision: `<prefix><stamp>-<decision>-<version>.json`."""
    stack.s3.put_object(Bucket=MODEL_BUCKET, Key=f"retrain/decisions/{key}", Body=json.dumps(record).encode())


def test_status_shows_each_environment_the_pipeline_and_the_jobs(stack: Stack) -> None:
    stack.deploy("stage", NEW_TAG)
    expect_pipeline(stack, waiting=True)
    write_decision(
        stack,
        "20261116T030000Z-rejected-20261116T030000Z-aaaaaaaa.json",
        {"decision": "rejected", "reasons": ["too weak"], "challenger_version": "old"},
    )
    write_decision(
        stack,
        "20261123T030000Z-promoted-20261123T101500Z-3f9a1c2b.json",
        {
            "decision": "promoted",
            "decided_at": "2026-11-23T03:00:00+00:00",
            "challenger_version": MODEL_VERSION,
            "champion_version": "20261116T030000Z-bbbbbbbb",
            "reasons": ["challenger roc_auc 0.8123 passed the gate"],
        },
    )
    report = {"status": "drift", "run": {"window_end": "2026-11-23T00:00:00+00:00"}, "rows": {"seen": 12000}}
    stack.s3.put_object(
        Bucket=LOG_BUCKET,
        Key="reports/latest/prod/report.json",
        Body=json.dumps({**report, "drifted_features": ["tenure_months"]}).encode(),
    )

    result = stack.cli("status")
    print(result.out)

    assert result.code == 0, result.err
    lines = result.out.splitlines()
    assert f"stage: commit {COMMIT[:12]}, model {MODEL_VERSION} (ml-deploy-dev-stage:2" in lines[0]
    assert lines[2].startswith("prod: commit -, model - (ml-deploy-dev-prod:1"), "prod still runs bootstrap"
    assert (
        f"  waiting for approval: execution {WAITING} at Approve/ApproveProd since 2026-11-23 10:15Z" in lines
    )
    assert f"ml-deploy approve --execution {WAITING}" in result.out
    assert (
        "retrain: promoted at 2026-11-23T03:00:00+00:00 (challenger 20261123T101500Z-3f9a1c2b" in result.out
    )
    assert "drift (prod): drift, window ending 2026-11-23T00:00:00+00:00, 12000 rows" in result.out
    assert "drifted features: tenure_months" in result.out


def test_status_of_a_fresh_stack_says_what_is_not_there_yet(stack: Stack) -> None:
    expect_pipeline(stack, waiting=False)

    result = stack.cli("status")
    print(result.out)

    assert result.code == 0, result.err
    assert "nothing in flight" in result.out
    assert "retrain: no decision recorded yet" in result.out
    assert "drift (prod): no report yet" in result.out


def test_a_section_that_cannot_be_read_fails_alone(stack: Stack) -> None:
    stack.write_outputs(predictionLogBucket=None)
    expect_pipeline(stack, waiting=False)

    result = stack.cli("status")
    print(result.out)

    assert result.code == 1
    assert "stage: commit" in result.out and "retrain: no decision" in result.out
    assert "drift: unavailable" in result.out
    assert result.err.strip() == (
        "ml-deploy: status: drift: the stack outputs have no 'predictionLogBucket', where drift reports are"
    )


def test_status_links_and_json_on_aws(stack: Stack) -> None:
    """The console addresses as AWS's consoles spell them (the pipeline's view page, the dashboard)."""
    stack.write_outputs(dashboardName="ml-deploy-dev-serving")
    expect_pipeline(stack, waiting=True)
    expect_pipeline(stack, waiting=True)
    region = "eu-west-1"

    text = stack.cli("status")
    document = json.loads(stack.cli("status", "--json").out)

    assert text.code == 0, text.err
    assert "  stage      http://stage.example" in text.out.splitlines()
    links = {
        "stage": "http://stage.example",
        "prod": "http://prod.example",
        "pipeline": f"https://{region}.console.aws.amazon.com/codesuite/codepipeline/pipelines/{PIPELINE}"
        f"/view?region={region}",
        "dashboard": f"https://{region}.console.aws.amazon.com/cloudwatch/home?region={region}"
        "#dashboards/dashboard/ml-deploy-dev-serving",
    }
    assert document["links"] == links
    assert document["schema"] == "ml-deploy/status/v1" and document["backend"] == "aws"
    assert document["environments"]["prod"]["image"].endswith(":bootstrap")
    assert document["environments"]["prod"]["commit"] is None, "the bootstrap image names no commit"
    assert document["pipeline"]["waiting_approvals"][0]["execution_id"] == WAITING
    assert document["errors"] == []
    assert_schema(document, records.StatusDocument)
