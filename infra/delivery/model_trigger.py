"""What starts the pipeline besides a GitHub push: an upload of the bundle key, a CodeCommit push.

The model-upload trigger: an S3 "Object Created" event for the bundle key starts the pipeline.

S3 sends every object event of the model bucket to EventBridge (the bucket has EventBridge
notifications on); the rule below matches exactly the bundle's bucket and key, so archive
copies, decision records and other keys never start a deploy. The pipeline's S3 source does
not poll. The target passes the object's version id as a source revision override, so the
execution builds the bundle version that triggered it even if another upload follows.
"""

from __future__ import annotations

import json
from typing import Any

import pulumi
import pulumi_aws as aws

from infra.iam import service_role


def model_upload_pattern(bucket_name: str, key: str) -> dict[str, Any]:
    """The EventBridge pattern for an upload of exactly `key` to `bucket_name`.

    Pure data so the program, the local demo and the moto test share one definition.
    """
    return {
        "source": ["aws.s3"],
        "detail-type": ["Object Created"],
        "detail": {"bucket": {"name": [bucket_name]}, "object": {"key": [key]}},
    }


def source_revision_template(model_action_name: str) -> str:
    """Input template that starts the pipeline with the uploaded object version.

    `<versionId>` is filled by EventBridge from `$.detail.object.version-id`.
    """
    return json.dumps(
        {
            "sourceRevisions": [
                {
                    "actionName": model_action_name,
                    "revisionType": "S3_OBJECT_VERSION_ID",
                    "revisionValue": "<versionId>",
                }
            ]
        }
    )


def create_start_role(
    name: str, *, pipeline: aws.codepipeline.Pipeline, parent: pulumi.Resource
) -> aws.iam.Role:
    """The role EventBridge rules use to start this pipeline, and no other."""
    start_this_pipeline = {
        "Sid": "StartThisPipeline",
        "Effect": "Allow",
        "Action": "codepipeline:StartPipelineExecution",
        "Resource": pipeline.arn,
    }
    return service_role(
        f"{name}-events-start",
        service="events.amazonaws.com",
        statements=[start_this_pipeline],
        parent=parent,
        description="EventBridge starts the delivery pipeline (model upload, CodeCommit push)",
    ).role


def create_model_trigger(
    name: str,
    *,
    model_bucket: aws.s3.Bucket,
    model_key: str,
    pipeline: aws.codepipeline.Pipeline,
    model_action_name: str,
    start_role: aws.iam.Role,
    parent: pulumi.Resource,
) -> aws.cloudwatch.EventRule:
    """The rule matching exactly the bundle key, and its pipeline target."""
    child = pulumi.ResourceOptions(parent=parent)
    rule = aws.cloudwatch.EventRule(
        f"{name}-model-upload",
        description=f"Start the pipeline when the model bundle {model_key} is uploaded",
        event_pattern=pulumi.Output.json_dumps(
            model_bucket.bucket.apply(lambda bucket: model_upload_pattern(bucket, model_key))
        ),
        opts=child,
    )
    aws.cloudwatch.EventTarget(
        f"{name}-model-upload",
        rule=rule.name,
        arn=pipeline.arn,
        role_arn=start_role.arn,
        input_transformer=aws.cloudwatch.EventTargetInputTransformerArgs(
            input_paths={"versionId": "$.detail.object.version-id"},
            input_template=source_revision_template(model_action_name),
        ),
        opts=child,
    )
    return rule


def create_codecommit_push_rule(
    name: str,
    *,
    repository_arn: pulumi.Input[str],
    branch: str,
    pipeline: aws.codepipeline.Pipeline,
    start_role: aws.iam.Role,
    parent: pulumi.Resource,
) -> None:
    """CodeCommit has no V2 git trigger: a push to `branch` starts the pipeline through EventBridge."""
    child = pulumi.ResourceOptions(parent=parent)
    rule = aws.cloudwatch.EventRule(
        f"{name}-codecommit-push",
        description=f"Start the pipeline on a push to {branch}",
        event_pattern=pulumi.Output.json_dumps(
            {
                "source": ["aws.codecommit"],
                "detail-type": ["CodeCommit Repository State Change"],
                "resources": [repository_arn],
                "detail": {
                    "event": ["referenceCreated", "referenceUpdated"],
                    "referenceType": ["branch"],
                    "referenceName": [branch],
                },
            }
        ),
        opts=child,
    )
    aws.cloudwatch.EventTarget(
        f"{name}-codecommit-push",
        rule=rule.name,
        arn=pipeline.arn,
        role_arn=start_role.arn,
        opts=child,
    )
