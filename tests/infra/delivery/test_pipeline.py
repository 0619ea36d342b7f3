"""The delivery pipeline's shape, triggers, approval and IAM scopes, under the recording mocks."""

from __future__ import annotations

import json
from typing import Any

import pytest

from infra.delivery.build import BUILD_IMAGE
from infra.delivery.model_trigger import model_upload_pattern
from infra.delivery.stages import (
    MODEL_ARTIFACT,
    SOURCE_ARTIFACT,
    STAGE_ORDER,
)
from ml_deploy_dev.program import ACCOUNT, Program, Resource
from tests.infra import iam_lint
from tests.infra.pipeline_program import (
    action,
    deploy_target,
    event_pattern,
    run_pipeline,
    stages,
    the_pipeline,
)

RULE = "aws:cloudwatch/eventRule:EventRule"
BUCKET = "aws:s3/bucket:Bucket"
TARGET = "aws:cloudwatch/eventTarget:EventTarget"
ROLE_POLICY = "aws:iam/rolePolicy:RolePolicy"
# Actions AWS authorizes on no resource narrower than "*"; nothing else may use "*".
STAR_ONLY_ACTIONS = {
    # ECR Public's login (cli/latest/reference/ecr-public/get-login-password.html): no resource type.
    "ecr-public:GetAuthorizationToken",
    "sts:GetServiceBearerToken",
    "ecr:GetAuthorizationToken",
    # The deploy projects render revisions; ECS authorizes these on no narrower resource.
    "ecs:RegisterTaskDefinition",
    "ecs:DescribeTaskDefinition",
    # The promote build reads the latest revision; Batch authorizes Describe* only on "*".
    "batch:DescribeJobDefinitions",
}


@pytest.fixture(scope="module")
def program() -> Program:
    return run_pipeline()


@pytest.fixture(scope="module")
def codecommit_program() -> Program:
    return run_pipeline({"codeSource": "codecommit", "codeRepository": "churn-model"})


def role_policy(program: Program, role_name: str) -> dict[str, Any]:
    (found,) = [r for r in program.of_type(ROLE_POLICY) if r.inputs["role"] == f"{role_name}-id"]
    return dict(json.loads(found.inputs["policy"]))


def statement(document: dict[str, Any], sid: str) -> dict[str, Any]:
    (found,) = [s for s in document["Statement"] if s["Sid"] == sid]
    return dict(found)


def as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def test_stages_run_source_build_stage_approval_prod_then_promote_jobs_in_order(program: Program) -> None:
    names = tuple(stage["name"] for stage in stages(program))
    assert names == STAGE_ORDER, f"pipeline stages are {names}, expected {STAGE_ORDER}"
    assert names[-2:] == ("DeployProd", "PromoteJobs"), "jobs must get the new image only after prod"


def test_pipeline_is_v2_with_configured_execution_mode(program: Program) -> None:
    pipeline = the_pipeline(program).inputs
    assert pipeline["pipelineType"] == "V2", "git triggers and QUEUED mode need a V2 pipeline"
    assert pipeline["executionMode"] == "QUEUED", "dev config says QUEUED"
    superseded = the_pipeline(run_pipeline({"pipelineExecutionMode": "SUPERSEDED"})).inputs
    assert superseded["executionMode"] == "SUPERSEDED", "pipelineExecutionMode is not passed on"


def test_artifact_store_is_the_artifacts_bucket_encrypted_with_the_stack_key(
    program: Program,
) -> None:
    (store,) = the_pipeline(program).inputs["artifactStores"]
    bucket = program.one(BUCKET, "ml-artifacts")
    key = program.one("aws:kms/key:Key")
    assert store["location"] == bucket.state["bucket"], "artifacts must go to the artifacts bucket"
    assert store["encryptionKey"] == {"type": "KMS", "id": key.state["arn"]}, "artifacts not KMS-encrypted"


def test_both_sources_feed_the_build_with_code_as_primary(program: Program) -> None:
    code = action(program, "Source", "Code")
    model = action(program, "Source", "Model")
    build = action(program, "Build")
    assert code["outputArtifacts"] == [SOURCE_ARTIFACT] and code["namespace"] == "SourceVariables"
    assert model["outputArtifacts"] == [MODEL_ARTIFACT] and model["namespace"] == "ModelVariables"
    assert build["inputArtifacts"] == [SOURCE_ARTIFACT, MODEL_ARTIFACT], "build must get code and model"
    assert build["configuration"]["PrimarySource"] == SOURCE_ARTIFACT, "buildspec.yml is in the code"
    assert build["namespace"] == "BuildVariables"
    assert not build.get("outputArtifacts"), "the deploys read the build's variables, not an artifact"


def test_model_source_is_the_bundle_key_and_never_polls(program: Program) -> None:
    model = action(program, "Source", "Model")["configuration"]
    assert model["S3Bucket"] == program.one(BUCKET, "ml-models").state["bucket"]
    assert model["S3ObjectKey"] == "bundles/current/model-bundle.zip"
    assert model["PollForSourceChanges"] == "false", "polling would start a second execution per upload"


def test_code_source_is_the_branch_through_a_connection_with_clone_ref(program: Program) -> None:
    code = action(program, "Source", "Code")
    config = code["configuration"]
    assert code["provider"] == "CodeStarSourceConnection"
    assert config["FullRepositoryId"] == "acme-ml/churn-model" and config["BranchName"] == "main"
    assert config["DetectChanges"] == "true"
    assert config["OutputArtifactFormat"] == "CODEBUILD_CLONE_REF", "the build must see the commit"
    connection = program.one("aws:codeconnections/connection:Connection")
    assert config["ConnectionArn"] == connection.state["arn"], "the created connection is not used"
    assert connection.inputs["providerType"] == "GitHub"


def test_push_trigger_is_filtered_to_the_branch(program: Program) -> None:
    (trigger,) = the_pipeline(program).inputs["triggers"]
    git = trigger["gitConfiguration"]
    assert trigger["providerType"] == "CodeStarSourceConnection" and git["sourceActionName"] == "Code"
    assert git["pushes"] == [{"branches": {"includes": ["main"]}}], f"push filter is {git['pushes']}"


def test_a_configured_connection_is_used_and_none_is_created() -> None:
    arn = "arn:aws:codeconnections:eu-west-1:123456789012:connection/existing"
    program = run_pipeline({"codeConnectionArn": arn})
    assert not program.of_type("aws:codeconnections/connection:Connection"), "made a second connection"
    assert action(program, "Source", "Code")["configuration"]["ConnectionArn"] == arn


def test_model_upload_starts_the_pipeline_with_the_uploaded_version(program: Program) -> None:
    rule = program.one(RULE, "delivery-model-upload")
    bucket = program.one(BUCKET, "ml-models").state["bucket"]
    expected = model_upload_pattern(bucket, "bundles/current/model-bundle.zip")
    assert event_pattern(rule) == expected, "the trigger must match exactly the bundle key"
    target = program.one(TARGET, "delivery-model-upload")
    assert target.inputs["arn"] == the_pipeline(program).state["arn"], "the trigger targets another ARN"
    template = json.loads(target.inputs["inputTransformer"]["inputTemplate"].replace("<versionId>", "v1"))
    assert template["sourceRevisions"] == [
        {"actionName": "Model", "revisionType": "S3_OBJECT_VERSION_ID", "revisionValue": "v1"}
    ], "the execution must build the bundle version that triggered it"
    paths = target.inputs["inputTransformer"]["inputPaths"]
    assert paths == {"versionId": "$.detail.object.version-id"}


def test_trigger_role_may_only_start_this_pipeline(program: Program) -> None:
    target = program.one(TARGET, "delivery-model-upload")
    role = program.by_id(target.inputs["roleArn"])
    document = role_policy(program, role.name)
    assert document["Statement"] == [
        {
            "Sid": "StartThisPipeline",
            "Effect": "Allow",
            "Action": "codepipeline:StartPipelineExecution",
            "Resource": the_pipeline(program).state["arn"],
        }
    ], f"the trigger role can do more than start this pipeline: {document}"


def test_approval_names_commit_model_metrics_and_links_the_stage_url(program: Program) -> None:
    approval = action(program, "Approve")
    config = approval["configuration"]
    assert approval["provider"] == "Manual"
    for variable in (
        "#{SourceVariables.CommitId}",
        "#{ModelVariables.VersionId}",
        "#{BuildVariables.MODEL_VERSION}",
        "#{BuildVariables.MODEL_METRICS}",
        "#{StageDeployVariables.SMOKE_TEST}",
        "#{StageDeployVariables.DRIFT_REPORT}",
    ):
        assert variable in config["CustomData"], f"approval message lacks {variable}"
    assert len(config["CustomData"]) <= 500, "CodePipeline limits CustomData to 500 characters"
    assert config["ExternalEntityLink"] == deploy_target(program, "stage").url, "approvers need the stage URL"
    topic = program.one("aws:sns/topic:Topic", "delivery-approvals")
    assert config["NotificationArn"] == topic.state["arn"], "approvals go to the approval topic"


def test_approval_topic_is_encrypted_and_reaches_the_approvers(program: Program) -> None:
    topic = program.one("aws:sns/topic:Topic", "delivery-approvals")
    assert topic.inputs["kmsMasterKeyId"] == program.one("aws:kms/key:Key").state["arn"]
    emails = [
        s.inputs["endpoint"]
        for s in program.of_type("aws:sns/topicSubscription:TopicSubscription")
        if s.inputs["topic"] == topic.state["arn"]
    ]
    assert emails == ["ml-approvers@example.com"], f"approval subscriptions are {emails}"
    topic_policy = json.loads(
        program.one("aws:sns/topicPolicy:TopicPolicy", "delivery-approvals").inputs["policy"]
    )
    publish = statement(topic_policy, "PipelineAsksForApproval")
    pipeline_role = the_pipeline(program).inputs["roleArn"]
    assert publish["Principal"] == {"AWS": pipeline_role}, "only the pipeline role may ask approvers"
    ask = statement(role_policy(program, "delivery-pipeline"), "AskApprovers")
    assert ask["Resource"] == topic.state["arn"]


def test_build_project_runs_docker_with_logs_reports_cache_and_key(program: Program) -> None:
    project = program.one("aws:codebuild/project:Project", "delivery-build").inputs
    key_arn = program.one("aws:kms/key:Key").state["arn"]
    environment = project["environment"]
    assert environment["image"] == BUILD_IMAGE and environment["type"] == "LINUX_CONTAINER"
    assert environment["privilegedMode"] is True, "docker build needs privileged mode"
    assert project["buildTimeout"] == 60 and project["encryptionKey"] == key_arn
    assert sorted(project["cache"]["modes"]) == [
        "LOCAL_CUSTOM_CACHE",  # uv's downloads, the buildspec's cache paths
        "LOCAL_DOCKER_LAYER_CACHE",
        "LOCAL_SOURCE_CACHE",
    ]
    log_group = program.one("aws:cloudwatch/logGroup:LogGroup", "delivery-build-logs")
    assert log_group.inputs["kmsKeyId"] == key_arn, "build logs must be KMS-encrypted"
    assert project["logsConfig"]["cloudwatchLogs"]["groupName"] == log_group.inputs["name"]
    for group in program.of_type("aws:codebuild/reportGroup:ReportGroup"):
        report = group.inputs
        destination = report["exportConfig"]["s3Destination"]
        assert report["type"] == "TEST"
        assert destination["bucket"] == program.one(BUCKET, "ml-artifacts").state["bucket"]
        assert destination["encryptionKey"] == key_arn, "exported test reports must be encrypted"


def test_build_timeout_comes_from_config() -> None:
    program = run_pipeline({"buildTimeoutMinutes": 25})
    assert program.one("aws:codebuild/project:Project", "delivery-build").inputs["buildTimeout"] == 25


def test_failures_and_waiting_approvals_reach_the_alerts_topic(program: Program) -> None:
    alerts_arn = program.one("aws:sns/topic:Topic", "alerts-topic").state["arn"]
    failed = event_pattern(program.one(RULE, "delivery-execution-failed"))
    assert failed["detail"] == {"pipeline": ["ml-deploy-dev"], "state": ["FAILED", "SUPERSEDED"]}
    assert failed["detail-type"] == ["CodePipeline Pipeline Execution State Change"]
    waiting = event_pattern(program.one(RULE, "delivery-approval-waiting"))
    assert waiting["detail"]["type"] == {"category": ["Approval"]} and waiting["detail"]["state"] == [
        "STARTED"
    ]
    for name in ("delivery-execution-failed", "delivery-approval-waiting"):
        target = program.one(TARGET, name)
        assert target.inputs["arn"] == alerts_arn, f"{name} does not alert on-call"
        message = json.loads(target.inputs["inputTransformer"]["inputTemplate"])
        assert "<pipeline>" in message and "<execution>" in message, f"{name} message names nothing"


def test_codecommit_variant_uses_a_push_rule_instead_of_a_connection(
    codecommit_program: Program,
) -> None:
    program = codecommit_program
    code = action(program, "Source", "Code")
    assert code["provider"] == "CodeCommit"
    assert code["configuration"]["RepositoryName"] == "churn-model"
    assert code["configuration"]["PollForSourceChanges"] == "false"
    assert not program.of_type("aws:codeconnections/connection:Connection")
    assert "triggers" not in the_pipeline(program).inputs, "git triggers are for connection sources"
    pattern = event_pattern(program.one(RULE, "delivery-codecommit-push"))
    assert pattern["resources"] == [f"arn:aws:codecommit:eu-west-1:{ACCOUNT}:churn-model"]
    assert pattern["detail"]["referenceName"] == ["main"]
    target = program.one(TARGET, "delivery-codecommit-push")
    assert target.inputs["arn"] == the_pipeline(program).state["arn"]
    read = statement(role_policy(program, "delivery-pipeline"), "ReadCodeCommitRepository")
    assert read["Resource"] == f"arn:aws:codecommit:eu-west-1:{ACCOUNT}:churn-model"


def _documents(program: Program) -> list[tuple[Resource, dict[str, Any]]]:
    return [(resource, document) for resource, _, document in program.policy_documents()]


@pytest.mark.parametrize("variant", ["github", "codecommit"])
def test_policies_are_parliament_clean(variant: str, program: Program, codecommit_program: Program) -> None:
    chosen = program if variant == "github" else codecommit_program
    for resource, document in _documents(chosen):
        if resource.type != ROLE_POLICY or not resource.name.startswith("delivery"):
            continue  # other components' policies are linted by their own tests
        for item in document["Statement"]:
            assert item.get("Sid"), f"{resource.name} has a statement without Sid"
            if "*" in as_list(item.get("Resource")):
                actions = set(as_list(item["Action"]))
                assert actions <= STAR_ONLY_ACTIONS, f"{resource.name} grants {actions} on *"
        unexpected = iam_lint.findings(document, star_only_actions=STAR_ONLY_ACTIONS)
        assert not unexpected, f"{resource.name}: {unexpected}"


def test_pipeline_role_names_only_this_stacks_resources(program: Program) -> None:
    document = role_policy(program, "delivery-pipeline")
    allowed = [
        f"arn:aws:s3:::{program.one(BUCKET, 'ml-models').state['bucket']}",
        f"arn:aws:s3:::{program.one(BUCKET, 'ml-artifacts').state['bucket']}",
        program.one("aws:kms/key:Key").state["arn"],
        program.one("aws:codebuild/project:Project", "delivery-build").state["arn"],
        program.one("aws:codebuild/project:Project", "delivery-promote-jobs").state["arn"],
        program.one("aws:sns/topic:Topic", "delivery-approvals").state["arn"],
        program.one("aws:codeconnections/connection:Connection").state["arn"],
    ]
    allowed += [
        program.one("aws:codebuild/project:Project", f"delivery-deploy-{env}").state["arn"]
        for env in ("stage", "prod")
    ]
    for item in document["Statement"]:
        for resource in as_list(item["Resource"]):
            owned = resource == "*" or any(
                resource == p or resource.startswith(p.rstrip("/") + "/") for p in allowed
            )
            assert owned, f"pipeline role {item['Sid']} names {resource}, not this stack's"
    ecs = [s for s in document["Statement"] if any(a.startswith("ecs:") for a in as_list(s["Action"]))]
    assert not ecs, f"the pipeline role itself touches ECS (the deploy projects do): {ecs}"
    model_read = statement(document, "ReadModelBundle")
    assert model_read["Resource"].endswith("/bundles/current/model-bundle.zip"), "reads more than the bundle"


def test_build_role_pushes_to_the_two_repositories_only(program: Program) -> None:
    document = role_policy(program, "delivery-build")
    push = statement(document, "PushServiceAndJobsImages")
    repos = sorted(r.state["arn"] for r in program.of_type("aws:ecr/repository:Repository"))
    assert sorted(push["Resource"]) == repos, f"build pushes to {push['Resource']}"
    login = statement(document, "LogInToRegistry")
    assert login["Action"] == "ecr:GetAuthorizationToken" and login["Resource"] == "*"
    reports = statement(document, "PublishTestReports")
    groups = sorted(g.state["arn"] for g in program.of_type("aws:codebuild/reportGroup:ReportGroup"))
    assert sorted(reports["Resource"]) == groups
    public = statement(document, "LogInToEcrPublicForBaseImages")
    # cli/latest/reference/ecr-public/get-login-password.html: "This command requires the
    # 'ecr-public:GetAuthorizationToken' and 'sts:GetServiceBearerToken' permissions."
    assert sorted(public["Action"]) == ["ecr-public:GetAuthorizationToken", "sts:GetServiceBearerToken"]
    assert public["Resource"] == "*"


def test_no_deprecated_arguments(program: Program, codecommit_program: Program) -> None:
    for run in (program, codecommit_program):
        deprecated = [w for w in run.warnings if "is deprecated" in w]
        assert not deprecated, f"the pipeline uses deprecated arguments: {deprecated}"


# Connection.ConnectionStatus, CodeConnections API reference (API_Connection.html):
# PENDING | AVAILABLE | ERROR. Only AVAILABLE serves the Source stage.
@pytest.mark.parametrize(("status", "needed"), [("PENDING", True), ("AVAILABLE", False), ("ERROR", True)])
def test_the_handshake_output_follows_the_connection_status(status: str, needed: bool) -> None:
    from infra.delivery.pipeline import needs_handshake

    assert needs_handshake(status) is needed


def test_a_new_connection_reports_the_handshake_it_needs_until_refreshed_available(program: Program) -> None:
    """The mocks create the connection without a status (as AWS returns PENDING at creation)."""
    connection = program.one("aws:codeconnections/connection:Connection")
    assert connection.state.get("connectionStatus") in (None, "PENDING")
    assert program.outputs["codeConnectionNeedsHandshake"] is True
