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

from infra.delivery.targets import CodeSource, StackLocation, code_repository_arn, connection_service
from infra.iam import objects, policy


@dataclass(frozen=True)
class PipelineResources:
    """Everything the pipeline role acts on."""

    location: StackLocation
    code: CodeSource
    model_bucket: aws.s3.Bucket
    model_key: str
    artifacts_bucket: aws.s3.Bucket
    key: aws.kms.Key
    # Build, deploy-stage, deploy-prod and promote-jobs: the pipeline only starts and watches them.
    projects: Sequence[aws.codebuild.Project]
    approval_topic: aws.sns.Topic


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
            # The deploys are builds too: the pipeline role itself touches no ECS service.
            "Sid": "RunThisStacksBuilds",
            "Effect": "Allow",
            "Action": ["codebuild:StartBuild", "codebuild:BatchGetBuilds"],
            "Resource": [project.arn for project in resources.projects],
        },
        {
            "Sid": "AskApprovers",
            "Effect": "Allow",
            "Action": "sns:Publish",
            "Resource": resources.approval_topic.arn,
        },
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
