"""The deploy stages: Pulumi owns the task configuration, the pipeline the image, both reach the service.

Under the recording mocks: each environment's deploy project gets the revision Pulumi registered
and a role scoped to its own service. Against moto's ECS: the ownership rule itself, a `pulumi up`
between two deploys included. The wait on ECS's service deployment (which moto does not model) is
checked with botocore's Stubber answering as DescribeServiceDeployments documents.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
import yaml
from botocore.stub import Stubber
from moto import mock_aws

from infra.delivery.deploy import DEPLOY_BUILDSPEC
from infra.delivery.stages import APPROVAL_MESSAGE, BUILD_NAMESPACE, DEPLOY_NAMESPACES, SOURCE_ARTIFACT
from ml_deploy.layout import SERVICE_CONTAINER
from ml_deploy_cli.aws.deploy import DEPLOYED_TAG, DeployFailed, start_deployment, wait_for_deployment
from ml_deploy_cli.errors import CliError
from ml_deploy_dev.program import ACCOUNT, REGION, ROOT, Program
from tests.infra.pipeline_program import action, run_pipeline

PROJECT = "aws:codebuild/project:Project"
ROLE_POLICY = "aws:iam/rolePolicy:RolePolicy"
TASK = "aws:ecs/taskDefinition:TaskDefinition"
STACK_TAGS = [{"key": "project", "value": "ml-deploy"}, {"key": "managed-by", "value": "pulumi"}]
REPO = f"{ACCOUNT}.dkr.ecr.{REGION}.amazonaws.com/images-service"
X, Y = f"{REPO}:0123456789ab-model-x", f"{REPO}:fedcba987654-model-y"
_USED = re.compile(r"\$\{?!?([A-Za-z_][A-Za-z0-9_]*)")
_ASSIGNED = re.compile(r"(?:^|[;\s])(?:export\s+)?([A-Za-z_][A-Za-z0-9_]*)=")


@pytest.fixture(scope="module")
def program() -> Program:
    return run_pipeline()


def project(program: Program, environment: str) -> dict[str, Any]:
    return program.one(PROJECT, f"delivery-deploy-{environment}").inputs


def project_environment(program: Program, environment: str) -> dict[str, str]:
    return {
        v["name"]: v["value"] for v in project(program, environment)["environment"]["environmentVariables"]
    }


def statements(program: Program, environment: str) -> list[dict[str, Any]]:
    return list(
        json.loads(program.one(ROLE_POLICY, f"delivery-deploy-{environment}").inputs["policy"])["Statement"]
    )


def granting(found: list[dict[str, Any]], name: str) -> list[dict[str, Any]]:
    return [s for s in found if name in (s["Action"] if isinstance(s["Action"], list) else [s["Action"]])]


# --- under the mocks ---------------------------------------------------------------------


@pytest.mark.parametrize(("stage", "environment"), [("DeployStage", "stage"), ("DeployProd", "prod")])
def test_each_deploy_renders_from_the_revision_pulumi_registered(
    program: Program, stage: str, environment: str
) -> None:
    deploy = action(program, stage)
    assert (deploy["category"], deploy["provider"]) == ("Build", "CodeBuild"), (
        f"{stage} is {deploy['provider']}: the ECS action renders from the running revision, not Pulumi's"
    )
    assert deploy["configuration"]["ProjectName"] == project(program, environment)["name"]
    assert (
        deploy["inputArtifacts"] == [SOURCE_ARTIFACT]
        and deploy["namespace"] == DEPLOY_NAMESPACES[environment]
    )
    variables = project_environment(program, environment)
    registered = program.one(TASK, f"serving-{environment}-task").state["arn"]
    assert variables["TASK_DEFINITION"] == registered, "the deploy does not start from Pulumi's revision"
    service = program.one("aws:ecs/service:Service", f"serving-{environment}-service")
    assert (
        variables["SERVICE_NAME"] == service.state["name"] and variables["DEPLOY_ENVIRONMENT"] == environment
    )
    assert project(program, environment)["source"] == {"type": "CODEPIPELINE", "buildspec": DEPLOY_BUILDSPEC}
    assert project(program, environment)["environment"]["privilegedMode"] is False


def test_the_approval_shows_stages_smoke_test_and_the_drift_report(program: Program) -> None:
    message = action(program, "Approve")["configuration"]["CustomData"]
    assert message == APPROVAL_MESSAGE
    for name in ("SMOKE_TEST", "DRIFT_REPORT"):
        assert f"#{{{DEPLOY_NAMESPACES['stage']}.{name}}}" in message, f"the approval does not show {name}"
    assert len(message) <= 500, "CodePipeline limits CustomData to 500 characters"
    exported = yaml.safe_load((ROOT / DEPLOY_BUILDSPEC).read_text())["env"]["exported-variables"]
    assert {"SMOKE_TEST", "DRIFT_REPORT"} <= set(exported), (
        "the deploy does not export what the approval reads"
    )


@pytest.mark.parametrize("environment", ["stage", "prod"])
def test_each_deploy_role_touches_its_own_service_and_roles_only(program: Program, environment: str) -> None:
    found = statements(program, environment)
    other = "prod" if environment == "stage" else "stage"
    cluster = program.one("aws:ecs/cluster:Cluster").state["name"]
    names = {
        env: program.one("aws:ecs/service:Service", f"serving-{env}-service").state["name"]
        for env in ("stage", "prod")
    }
    service_arn = f"arn:aws:ecs:{REGION}:{ACCOUNT}:service/{cluster}/{names[environment]}"
    (update,) = granting(found, "ecs:UpdateService")
    assert update["Resource"] == service_arn, f"{environment} may update {update['Resource']}"
    (watch,) = granting(found, "ecs:DescribeServiceDeployments")
    assert watch["Resource"] == [
        service_arn,
        f"arn:aws:ecs:{REGION}:{ACCOUNT}:service-deployment/{cluster}/{names[environment]}/*",
    ]
    (pass_role,) = granting(found, "iam:PassRole")
    roles = sorted(
        program.one("aws:iam/role:Role", f"serving-{environment}-{r}").state["arn"]
        for r in ("task", "execution")
    )
    assert sorted(pass_role["Resource"]) == roles
    assert pass_role["Condition"] == {"StringEquals": {"iam:PassedToService": "ecs-tasks.amazonaws.com"}}
    assert names[other] not in json.dumps(found), f"the {environment} deploy role names the {other} service"
    (tag,) = granting(found, "ecs:TagResource")
    assert tag["Condition"] == {"StringEquals": {"ecs:CreateAction": "RegisterTaskDefinition"}}
    log_bucket = program.one("aws:s3/bucket:Bucket", "ml-prediction-logs").state["arn"]
    (verdicts,) = granting(found, "s3:GetObject") and [
        s for s in granting(found, "s3:GetObject") if log_bucket in s["Resource"]
    ]
    assert verdicts["Resource"] == f"{log_bucket}/reports/smoke-tests/{environment}/*.json"
    (listing,) = granting(found, "s3:ListBucket")
    assert listing["Condition"] == {"StringEquals": {"s3:prefix": "reports/dt="}}
    assert not granting(found, "s3:PutObject"), "the deploy writes nothing to S3"


def test_every_deploy_variable_is_set_somewhere(program: Program) -> None:
    buildspec = yaml.safe_load((ROOT / DEPLOY_BUILDSPEC).read_text())
    lines = [c for phase in buildspec["phases"].values() for c in phase.get("commands", [])]
    used = {name for line in lines for name in _USED.findall(line)}
    assigned = {name for line in lines for name in _ASSIGNED.findall(line)}
    for stage, environment in (("DeployStage", "stage"), ("DeployProd", "prod")):
        passed = json.loads(action(program, stage)["configuration"]["EnvironmentVariables"])
        assert all(v["value"] == f"#{{{BUILD_NAMESPACE}.{v['name']}}}" for v in passed)
        known = set(project_environment(program, environment)) | {v["name"] for v in passed}
        assert not sorted(used - assigned - known), (
            f"{DEPLOY_BUILDSPEC} reads {sorted(used - assigned - known)}"
        )


# --- the ownership rule, against moto's ECS ------------------------------------------------


def pulumi_registration(
    program: Program, environment: str, *, variables: dict[str, str] | None = None, **changes: Any
) -> dict[str, Any]:
    """RegisterTaskDefinition input of the revision `pulumi up` registers, with `changes` applied."""
    inputs = program.one(TASK, f"serving-{environment}-task").inputs
    request = {
        key: inputs[key]
        for key in (
            "family",
            "requiresCompatibilities",
            "networkMode",
            "cpu",
            "memory",
            "executionRoleArn",
            "taskRoleArn",
        )
    }
    request["containerDefinitions"] = json.loads(inputs["containerDefinitions"])
    request.update(changes)
    container = model_server(request["containerDefinitions"])
    container["environment"] += [{"name": k, "value": v} for k, v in (variables or {}).items()]
    return {**request, "tags": [*STACK_TAGS, DEPLOYED_TAG]}


@pytest.fixture
def ecs(dev_program: Program) -> Iterator[tuple[Any, str, str]]:
    """moto ECS with stage's service on the first revision Pulumi registered (its bootstrap image)."""
    with mock_aws():
        client = boto3.client("ecs", region_name=REGION)
        client.create_cluster(clusterName="serving")
        first = client.register_task_definition(**pulumi_registration(dev_program, "stage"))["taskDefinition"]
        client.create_service(
            cluster="serving", serviceName="stage", taskDefinition=first["taskDefinitionArn"], desiredCount=1
        )
        yield client, "serving", first["taskDefinitionArn"]


def model_server(containers: list[dict[str, Any]]) -> dict[str, Any]:
    (container,) = [c for c in containers if c["name"] == SERVICE_CONTAINER]
    return container


def running(client: Any) -> dict[str, Any]:
    arn = client.describe_services(cluster="serving", services=["stage"])["services"][0]["taskDefinition"]
    described = client.describe_task_definition(taskDefinition=arn, include=["TAGS"])
    container = model_server(described["taskDefinition"]["containerDefinitions"])
    return {
        "cpu": described["taskDefinition"]["cpu"],
        "image": container["image"],
        "marker": {e["name"]: e["value"] for e in container["environment"]}.get("MARKER"),
        "tags": described["tags"],
    }


def test_a_pulumi_up_reaches_the_next_deploy_and_never_rolls_the_image_back(
    ecs: tuple[Any, str, str], dev_program: Program
) -> None:
    client, cluster, bootstrap = ecs
    config_a = client.register_task_definition(
        **pulumi_registration(dev_program, "stage", cpu="512", variables={"MARKER": "A"})
    )["taskDefinition"]["taskDefinitionArn"]

    start_deployment(client, cluster=cluster, service="stage", configuration=config_a, image=X)
    assert running(client) == {
        "cpu": "512",
        "image": X,
        "marker": "A",
        "tags": [*STACK_TAGS, DEPLOYED_TAG],
    }, "not A + X"

    # `pulumi up` with new settings registers B; the service keeps running A + X (ignore_changes).
    config_b = client.register_task_definition(
        **pulumi_registration(dev_program, "stage", cpu="1024", variables={"MARKER": "B"})
    )["taskDefinition"]["taskDefinitionArn"]
    assert running(client)["image"] == X, "a pulumi up rolled the image back"

    result = start_deployment(client, cluster=cluster, service="stage", configuration=config_b, image=Y)
    assert running(client) == {
        "cpu": "1024",
        "image": Y,
        "marker": "B",
        "tags": [*STACK_TAGS, DEPLOYED_TAG],
    }, "the next deploy did not bring Pulumi's new settings with the new image"
    assert result.configuration_revision.endswith(":4") and result.deployed_revision.endswith(":5")
    assert bootstrap.endswith(":1"), "the bootstrap image is never deployed again"


def test_only_the_model_server_image_changes(ecs: tuple[Any, str, str]) -> None:
    client, cluster, bootstrap = ecs
    before = client.describe_task_definition(taskDefinition=bootstrap)["taskDefinition"]
    start_deployment(client, cluster=cluster, service="stage", configuration=bootstrap, image=X)
    after = client.describe_task_definition(
        taskDefinition=client.describe_services(cluster=cluster, services=["stage"])["services"][0][
            "taskDefinition"
        ]
    )["taskDefinition"]
    old, new = model_server(before["containerDefinitions"]), model_server(after["containerDefinitions"])
    assert new["image"] == X
    assert {**new, "image": None} == {**old, "image": None}, "the deploy changed more than the image"
    sidecars = [c for c in after["containerDefinitions"] if c["name"] != SERVICE_CONTAINER]
    assert sidecars == [c for c in before["containerDefinitions"] if c["name"] != SERVICE_CONTAINER], (
        "the deploy changed another container than the model server"
    )
    for key in ("cpu", "memory", "taskRoleArn", "executionRoleArn", "networkMode", "family"):
        assert after[key] == before[key], f"{key} differs from Pulumi's revision"


def test_an_image_without_a_tag_is_refused(ecs: tuple[Any, str, str]) -> None:
    client, cluster, bootstrap = ecs
    with pytest.raises(CliError, match="names no tag"):
        start_deployment(client, cluster=cluster, service="stage", configuration=bootstrap, image=REPO)


# --- ECS's verdict ---------------------------------------------------------------------------

DEPLOYMENT = f"arn:aws:ecs:{REGION}:{ACCOUNT}:service-deployment/serving/stage/abc123"


def stubbed(*answers: dict[str, Any]) -> tuple[Any, Stubber]:
    client = boto3.client("ecs", region_name=REGION, aws_access_key_id="x", aws_secret_access_key="x")
    stubber = Stubber(client)
    for answer in answers:
        stubber.add_response(
            "describe_service_deployments",
            {"serviceDeployments": [{"serviceDeploymentArn": DEPLOYMENT, **answer}]},
            {"serviceDeploymentArns": [DEPLOYMENT]},
        )
    stubber.activate()
    return client, stubber


def test_the_wait_returns_when_ecs_reports_success() -> None:
    client, stubber = stubbed({"status": "PENDING"}, {"status": "IN_PROGRESS"}, {"status": "SUCCESSFUL"})
    slept: list[float] = []
    assert wait_for_deployment(client, DEPLOYMENT, timeout_seconds=600, sleep=slept.append) == "SUCCESSFUL"
    assert len(slept) == 2
    stubber.assert_no_pending_responses()


@pytest.mark.parametrize(
    "status", ["ROLLBACK_IN_PROGRESS", "ROLLBACK_SUCCESSFUL", "ROLLBACK_FAILED", "STOPPED"]
)
def test_a_rollback_fails_the_deploy_with_ecss_reason(status: str) -> None:
    client, _ = stubbed({"status": "IN_PROGRESS"}, {"status": status, "statusReason": "alarm 5xx in ALARM"})
    with pytest.raises(DeployFailed, match=f"ended {status}: alarm 5xx in ALARM"):
        wait_for_deployment(client, DEPLOYMENT, timeout_seconds=600, sleep=lambda _: None)


def test_a_deployment_that_never_finishes_fails_after_the_timeout() -> None:
    client, _ = stubbed(*[{"status": "IN_PROGRESS"}] * 3)
    with pytest.raises(DeployFailed, match="still IN_PROGRESS after 30 s"):
        wait_for_deployment(client, DEPLOYMENT, timeout_seconds=30, sleep=lambda _: None)
