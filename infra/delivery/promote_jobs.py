"""The CodeBuild project of the pipeline's PromoteJobs stage, with its log group and role.

After prod is approved, it records the jobs image tag this execution built in the stack's SSM
parameter (the one `pulumi up` reads: `infra/jobs/image.py`), then registers a new revision of the
retrain and monitor job definitions that runs it (`buildspec-promote-jobs.yml`, which calls
`retrain_job/job_revision.py`). No docker, no privileged mode: it only calls SSM and Batch, so its
role may overwrite that one parameter, register those two definitions and pass the jobs' roles to
Batch, nothing else.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_aws as aws

from infra.delivery.build import (
    clone_through_connection_statements,
    codebuild_log_group,
    locate_artifacts_bucket_statement,
    pipeline_project,
    plain_variable,
    read_pipeline_artifacts_statement,
    write_logs_statement,
)
from infra.delivery.targets import StackLocation
from infra.iam import service_role

PROMOTE_BUILDSPEC = "buildspec-promote-jobs.yml"
PROMOTE_TIMEOUT_MINUTES = 10


@dataclass(frozen=True)
class PromoteInputs:
    """What the promotion needs to know about the rest of the stack."""

    key: aws.kms.Key
    artifacts_bucket: aws.s3.Bucket
    jobs_repo: aws.ecr.Repository
    retrain_definition_name: pulumi.Input[str]
    monitor_definition_name: pulumi.Input[str]
    quality_definition_name: pulumi.Input[str]
    # The roles the job definitions name (job and execution roles): iam:PassRole to Batch.
    pass_role_arns: Sequence[pulumi.Input[str]]
    # The parameter recording the promoted jobs image tag (written first, read by `pulumi up`).
    image_parameter_name: pulumi.Input[str]
    image_parameter_arn: pulumi.Input[str]
    location: StackLocation
    # The connection the CODEBUILD_CLONE_REF source artifact is cloned through (GitHub only).
    connection_arn: pulumi.Input[str] | None
    configured_connection_arn: str | None = None


@dataclass(frozen=True)
class PromoteProject:
    project: aws.codebuild.Project
    role: aws.iam.Role
    log_group: aws.cloudwatch.LogGroup


def create_promote_project(
    name: str, *, project_name: str, inputs: PromoteInputs, parent: pulumi.Resource
) -> PromoteProject:
    """Project, role and encrypted log group, all children of `parent`."""
    log_group = codebuild_log_group(
        f"{name}-promote-jobs-logs", project_name=project_name, key=inputs.key, parent=parent
    )
    access = service_role(
        f"{name}-promote-jobs",
        service="codebuild.amazonaws.com",
        statements=promote_statements(inputs, log_group),
        parent=parent,
        description="CodeBuild: register job-definition revisions that run the approved jobs image",
    )
    project = pipeline_project(
        f"{name}-promote-jobs",
        project_name=project_name,
        description="Registers retrain, monitor and quality job revisions on the approved jobs image",
        role=access.role,
        timeout_minutes=PROMOTE_TIMEOUT_MINUTES,
        key=inputs.key,
        buildspec=PROMOTE_BUILDSPEC,
        variables=[
            plain_variable("JOBS_REPOSITORY_URI", inputs.jobs_repo.repository_url),
            plain_variable("RETRAIN_DEFINITION", inputs.retrain_definition_name),
            plain_variable("MONITOR_DEFINITION", inputs.monitor_definition_name),
            plain_variable("QUALITY_DEFINITION", inputs.quality_definition_name),
            plain_variable("JOBS_IMAGE_PARAMETER", inputs.image_parameter_name),
        ],
        log_group=log_group,
        # A build that starts before its role may act fails on its first call.
        opts=pulumi.ResourceOptions(parent=parent, depends_on=[access.policy]),
    )
    return PromoteProject(project=project, role=access.role, log_group=log_group)


def promote_statements(inputs: PromoteInputs, log_group: aws.cloudwatch.LogGroup) -> list[dict[str, Any]]:
    """Record the promoted tag, describe any job definition, register revisions of the jobs', pass
    only the jobs' roles."""
    return [
        write_logs_statement("WritePromoteLogs", log_group),
        read_pipeline_artifacts_statement(inputs.artifacts_bucket),
        locate_artifacts_bucket_statement(inputs.artifacts_bucket),
        {
            "Sid": "UseStackKeyForArtifactsAndLogs",
            "Effect": "Allow",
            "Action": ["kms:Decrypt", "kms:GenerateDataKey"],
            "Resource": inputs.key.arn,
        },
        {
            # The one record of the promoted image: overwrite its value, nothing else in SSM.
            "Sid": "RecordPromotedJobsImage",
            "Effect": "Allow",
            "Action": "ssm:PutParameter",
            "Resource": inputs.image_parameter_arn,
        },
        *_revision_statements(inputs),
        *clone_through_connection_statements(
            inputs.connection_arn, configured_connection_arn=inputs.configured_connection_arn
        ),
    ]


def _revision_statements(inputs: PromoteInputs) -> list[dict[str, Any]]:
    """New revisions of the job definitions only, running the jobs' own roles."""
    definitions = [
        arn
        for name in (
            inputs.retrain_definition_name,
            inputs.monitor_definition_name,
            inputs.quality_definition_name,
        )
        for arn in (
            inputs.location.arn("batch", "job-definition/", name),
            inputs.location.arn("batch", "job-definition/", name, ":*"),
        )
    ]
    return [
        {
            # DescribeJobDefinitions is authorized on no narrower resource than "*".
            "Sid": "DescribeJobDefinitions",
            "Effect": "Allow",
            "Action": "batch:DescribeJobDefinitions",
            "Resource": "*",
        },
        {
            # Only revisions of the retrain and monitor definitions, only with an image of the
            # jobs repository.
            "Sid": "RegisterRetrainAndMonitorRevisions",
            "Effect": "Allow",
            "Action": "batch:RegisterJobDefinition",
            "Resource": definitions,
            "Condition": {
                "StringLike": {"batch:Image": pulumi.Output.concat(inputs.jobs_repo.repository_url, ":*")}
            },
        },
        {
            # The copied revision carries the stack's tags; tags given at registration are
            # authorized as TagResource on the new revision.
            "Sid": "TagRetrainAndMonitorRevisions",
            "Effect": "Allow",
            "Action": "batch:TagResource",
            "Resource": definitions,
        },
        {
            "Sid": "PassJobRolesToBatch",
            "Effect": "Allow",
            "Action": "iam:PassRole",
            "Resource": list(inputs.pass_role_arns),
            "Condition": {"StringEquals": {"iam:PassedToService": "batch.amazonaws.com"}},
        },
    ]
