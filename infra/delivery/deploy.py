"""The CodeBuild projects of the DeployStage and DeployProd stages, one per environment.

Not CodePipeline's ECS action: it renders each revision from the one the *service* runs and
ignores revisions registered without a service update (action-reference-ECS.html), so a
`pulumi up` that changed the task settings would never be deployed. These projects run
`buildspec-deploy.yml`: `ml-deploy deploy` renders the next revision from the revision Pulumi
registered (TASK_DEFINITION, this stack's output, so a `pulumi up` changes it) with the
pipeline's image, updates the service and waits for ECS's verdict (rollback fails the action);
then it exports the smoke-test verdict and the drift-report link the approval message shows.
Each role may touch its own service only.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_aws as aws

from infra.delivery.build import (
    UV_CACHE_DIR,
    clone_through_connection_statements,
    codebuild_log_group,
    locate_artifacts_bucket_statement,
    pipeline_project,
    plain_variable,
    read_pipeline_artifacts_statement,
    write_logs_statement,
)
from infra.delivery.targets import DeployTarget, StackLocation
from infra.iam import ECS_TASKS_PRINCIPAL, objects, service_role
from ml_deploy.layout import ObjectLayout

DEPLOY_BUILDSPEC = "buildspec-deploy.yml"
# A canary bakes for minutes, then the whole deployment for its bake time: room for both and the install.
DEPLOY_TIMEOUT_MINUTES = 90


@dataclass(frozen=True)
class DeployInputs:
    """What one environment's deploy needs to know about the rest of the stack."""

    target: DeployTarget
    key: aws.kms.Key
    artifacts_bucket: aws.s3.Bucket
    # The log bucket: smoke-test verdicts and drift reports, under the layout's reports prefix.
    log_bucket: aws.s3.Bucket
    location: StackLocation
    connection_arn: pulumi.Input[str] | None
    layout: ObjectLayout
    configured_connection_arn: str | None = None


@dataclass(frozen=True)
class DeployProject:
    project: aws.codebuild.Project
    role: aws.iam.Role
    log_group: aws.cloudwatch.LogGroup


def create_deploy_project(
    name: str, *, project_name: str, inputs: DeployInputs, parent: pulumi.Resource
) -> DeployProject:
    """Project, role and encrypted log group of one environment's deploy, all children of `parent`."""
    environment = inputs.target.name
    resource = f"{name}-deploy-{environment}"
    log_group = codebuild_log_group(
        f"{resource}-logs", project_name=project_name, key=inputs.key, parent=parent
    )
    access = service_role(
        resource,
        service="codebuild.amazonaws.com",
        statements=deploy_statements(inputs, log_group),
        parent=parent,
        description=f"CodeBuild: deploy the pipeline's image on Pulumi's task configuration to {environment}",
    )
    target = inputs.target
    project = pipeline_project(
        resource,
        project_name=project_name,
        description=f"Deploys the built service image to {environment} on Pulumi's task settings",
        role=access.role,
        timeout_minutes=DEPLOY_TIMEOUT_MINUTES,
        key=inputs.key,
        buildspec=DEPLOY_BUILDSPEC,
        variables=[
            plain_variable("DEPLOY_ENVIRONMENT", environment),
            plain_variable("CLUSTER_NAME", target.cluster_name),
            plain_variable("SERVICE_NAME", target.service_name),
            plain_variable("TASK_DEFINITION", target.task_definition_arn),
            plain_variable("EVIDENCE_BUCKET", inputs.log_bucket.bucket),
            plain_variable("EVIDENCE_REPORTS_PREFIX", inputs.layout.reports_prefix),
            plain_variable("UV_CACHE_DIR", UV_CACHE_DIR),
        ],
        log_group=log_group,
        installs=True,
        opts=pulumi.ResourceOptions(parent=parent, depends_on=[access.policy]),
    )
    return DeployProject(project=project, role=access.role, log_group=log_group)


def deploy_statements(inputs: DeployInputs, log_group: aws.cloudwatch.LogGroup) -> list[dict[str, Any]]:
    """Read the source, render and register a revision, update one service, read the evidence."""
    return [
        write_logs_statement("WriteDeployLogs", log_group),
        read_pipeline_artifacts_statement(inputs.artifacts_bucket),
        locate_artifacts_bucket_statement(inputs.artifacts_bucket),
        {
            # Artifacts, logs and the log bucket are all under the stack key.
            "Sid": "UseStackKeyForArtifactsLogsAndReports",
            "Effect": "Allow",
            "Action": ["kms:Decrypt", "kms:GenerateDataKey"],
            "Resource": inputs.key.arn,
        },
        *_service_statements(inputs),
        *_evidence_statements(inputs),
        *clone_through_connection_statements(
            inputs.connection_arn, configured_connection_arn=inputs.configured_connection_arn
        ),
    ]


def _service_statements(inputs: DeployInputs) -> list[dict[str, Any]]:
    target, location = inputs.target, inputs.location
    service = location.arn("ecs", "service/", target.cluster_name, "/", target.service_name)
    return [
        {
            # Task definitions are described and registered on no narrower resource than "*".
            "Sid": "RenderTaskDefinitionRevisions",
            "Effect": "Allow",
            "Action": ["ecs:DescribeTaskDefinition", "ecs:RegisterTaskDefinition"],
            "Resource": "*",
        },
        {
            # The rendered revision carries Pulumi's tags: tag-on-create, only at registration.
            "Sid": "TagRevisionsOnRegistration",
            "Effect": "Allow",
            "Action": "ecs:TagResource",
            "Resource": location.arn("ecs", "task-definition/*"),
            "Condition": {"StringEquals": {"ecs:CreateAction": "RegisterTaskDefinition"}},
        },
        {
            "Sid": "UpdateThisEnvironmentsService",
            "Effect": "Allow",
            "Action": ["ecs:UpdateService", "ecs:DescribeServices"],
            "Resource": service,
        },
        {
            # The service authorization reference (as parliament holds it) lists two resource types
            # for it: the service and its deployments (service-deployment/<cluster>/<service>/<id>).
            "Sid": "WatchThisServicesDeployments",
            "Effect": "Allow",
            "Action": "ecs:DescribeServiceDeployments",
            "Resource": [
                service,
                location.arn(
                    "ecs", "service-deployment/", target.cluster_name, "/", target.service_name, "/*"
                ),
            ],
        },
        {
            "Sid": "PassThisEnvironmentsTaskRoles",
            "Effect": "Allow",
            "Action": "iam:PassRole",
            "Resource": list(target.pass_role_arns),
            "Condition": {"StringEquals": {"iam:PassedToService": ECS_TASKS_PRINCIPAL}},
        },
    ]


def _evidence_statements(inputs: DeployInputs) -> list[dict[str, Any]]:
    layout, bucket = inputs.layout, inputs.log_bucket
    return [
        {
            "Sid": "ReadThisEnvironmentsSmokeTestVerdicts",
            "Effect": "Allow",
            "Action": "s3:GetObject",
            "Resource": objects(bucket.arn, layout.smoke_test_key(inputs.target.name, "*")),
        },
        {
            # Only the monitor's dated run folders are listed (the drift-report link); no object is read.
            "Sid": "ListDriftReports",
            "Effect": "Allow",
            "Action": "s3:ListBucket",
            "Resource": bucket.arn,
            "Condition": {"StringEquals": {"s3:prefix": f"{layout.reports_prefix}dt="}},
        },
    ]
