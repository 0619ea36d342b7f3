"""The pipeline role's policy: what CodePipeline itself does, on this stack's resources only.

Kept apart from `infra/delivery/pipeline.py` (the component) so the scopes are read in one
place; the CodeBuild projects' own roles live next to their projects
(`infra/delivery/build.py`, `infra/delivery/promote_jobs.py`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_aws as aws

from infra.delivery.targets import (
    CodeSource,
    DeployTarget,
    StackLocation,
    code_repository_arn,
    connection_service,
)
from infra.iam import ECS_TASKS_PRINCIPAL, objects, policy


@dataclass(frozen=True)
class PipelineResources:
    """Everything the pipeline role acts on."""

    location: StackLocation
    code: CodeSource
    model_bucket: aws.s3.Bucket
    model_key: str
    artifacts_bucket: aws.s3.Bucket
    key: aws.kms.Key
    build_project: aws.codebuild.Project
    promote_project: aws.codebuild.Project
    approval_topic: aws.sns.Topic
    targets: Sequence[DeployTarget]


def pipeline_policy(resources: PipelineResources) -> pulumi.Output[str]:
    """Everything the pipeline does, on this stack's resources only."""
    model_bucket, artifacts_bucket = resources.model_bucket, resources.artifacts_bucket
    statements: list[dict[str, Any]] = [
        {
            # The S3 source action's documented object permissions (action-reference-S3.html).
            "Sid": "ReadModelBundle",
            "Effect": "Allow",
            "Action": [
                "s3:GetObject",
                "s3:GetObjectVersion",
                "s3:GetObjectTagging",
                "s3:GetObjectVersionTagging",
            ],
            "Resource": objects(model_bucket.arn, resources.model_key),
        },
        {
            "Sid": "ReadWriteArtifacts",
            "Effect": "Allow",
            "Action": ["s3:GetObject", "s3:GetObjectVersion", "s3:PutObject"],
            "Resource": pulumi.Output.concat(artifacts_bucket.arn, "/*"),
        },
        {
            "Sid": "InspectSourceAndArtifactBuckets",
            "Effect": "Allow",
            "Action": ["s3:GetBucketVersioning", "s3:GetBucketLocation"],
            "Resource": [model_bucket.arn, artifacts_bucket.arn],
        },
        {
            # The S3 source action reads the source bucket's ACL (action-reference-S3.html).
            "Sid": "ReadModelBucketAcl",
            "Effect": "Allow",
            "Action": "s3:GetBucketAcl",
            "Resource": model_bucket.arn,
        },
        {
            "Sid": "UseStackKey",
            "Effect": "Allow",
            "Action": ["kms:Decrypt", "kms:Encrypt", "kms:GenerateDataKey"],
            "Resource": resources.key.arn,
        },
        {
            "Sid": "RunThisBuild",
            "Effect": "Allow",
            "Action": ["codebuild:StartBuild", "codebuild:BatchGetBuilds"],
            "Resource": resources.build_project.arn,
        },
        {
            "Sid": "RunJobPromotion",
            "Effect": "Allow",
            "Action": ["codebuild:StartBuild", "codebuild:BatchGetBuilds"],
            "Resource": resources.promote_project.arn,
        },
        {
            "Sid": "AskApprovers",
            "Effect": "Allow",
            "Action": "sns:Publish",
            "Resource": resources.approval_topic.arn,
        },
        *deploy_statements(resources.targets, location=resources.location),
        code_source_statement(resources.code, location=resources.location),
    ]
    return policy(*statements)


def code_source_statement(code: CodeSource, *, location: StackLocation) -> dict[str, Any]:
    """Use the connection (GitHub), or read the CodeCommit repository."""
    if code.connection_arn is not None:
        return {
            "Sid": "UseCodeConnection",
            "Effect": "Allow",
            "Action": f"{connection_service(code.configured_connection_arn)}:UseConnection",
            "Resource": code.connection_arn,
        }
    return {
        "Sid": "ReadCodeCommitRepository",
        "Effect": "Allow",
        "Action": [
            "codecommit:GetBranch",
            "codecommit:GetCommit",
            "codecommit:GetRepository",
            "codecommit:UploadArchive",
            "codecommit:GetUploadArchiveStatus",
            "codecommit:CancelUploadArchive",
        ],
        "Resource": code_repository_arn(location, code.repository),
    }


def deploy_statements(targets: Sequence[DeployTarget], *, location: StackLocation) -> list[dict[str, Any]]:
    """The ECS deploy action: register a task definition revision, update the two services."""
    return [
        {
            "Sid": "UpdateStageAndProdServices",
            "Effect": "Allow",
            "Action": ["ecs:DescribeServices", "ecs:UpdateService"],
            "Resource": [
                location.arn("ecs", "service/", t.cluster_name, "/", t.service_name) for t in targets
            ],
        },
        {
            "Sid": "WatchDeploymentTasks",
            "Effect": "Allow",
            "Action": "ecs:DescribeTasks",
            "Resource": [location.arn("ecs", "task/", t.cluster_name, "/*") for t in targets],
        },
        {
            # Task definitions are registered and described on no narrower resource.
            "Sid": "RegisterTaskDefinitionRevisions",
            "Effect": "Allow",
            "Action": ["ecs:RegisterTaskDefinition", "ecs:DescribeTaskDefinition"],
            "Resource": "*",
        },
        {
            # The new revision copies the service's task-definition tags, so RegisterTaskDefinition
            # is also authorized as ecs:TagResource (tag-on-create), as the ECS deploy action's
            # documented service-role policy grants. The condition limits it to tags given at
            # registration; the family is not narrower than RegisterTaskDefinition's own "*".
            "Sid": "TagTaskDefinitionRevisionsOnRegistration",
            "Effect": "Allow",
            "Action": "ecs:TagResource",
            "Resource": location.arn("ecs", "task-definition/*"),
            "Condition": {"StringEquals": {"ecs:CreateAction": "RegisterTaskDefinition"}},
        },
        {
            "Sid": "PassTaskRolesToEcs",
            "Effect": "Allow",
            "Action": "iam:PassRole",
            "Resource": [arn for t in targets for arn in t.pass_role_arns],
            "Condition": {"StringEquals": {"iam:PassedToService": ECS_TASKS_PRINCIPAL}},
        },
    ]
