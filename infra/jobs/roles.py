"""IAM for the Batch jobs: what each job may touch, as statements built from Python data.

Kept apart from `infra/jobs/component.py` so the scopes can be read (and reviewed) on one
screen. Every key and prefix comes from the runtime's object layout (`ml_deploy.layout`), the
one the jobs read and write by. Every statement names its resources; the only ``"*"``
resources are for actions AWS grants on nothing else, and each says so.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pulumi

from infra.iam import objects
from ml_deploy.layout import METRICS_NAMESPACE, ObjectLayout

Statement = dict[str, Any]


@dataclass(frozen=True)
class JobResources:
    """The ARNs the job roles are scoped to."""

    model_bucket_arn: pulumi.Input[str]
    training_bucket_arn: pulumi.Input[str]
    log_bucket_arn: pulumi.Input[str]
    key_arn: pulumi.Input[str]
    topic_arn: pulumi.Input[str]
    region: pulumi.Input[str]


def list_under(sid: str, bucket_arn: pulumi.Input[str], *keys: str) -> Statement:
    """ListBucket limited to the given keys/prefixes, so a missing object reads as 404, not 403."""
    return {
        "Sid": sid,
        "Effect": "Allow",
        "Action": "s3:ListBucket",
        "Resource": bucket_arn,
        "Condition": {"StringLike": {"s3:prefix": [k + "*" if k.endswith("/") else k for k in keys]}},
    }


def shared_statements(resources: JobResources) -> list[Statement]:
    """What both jobs need: the stack key (through S3 and SNS only), metrics and alerts."""
    return [
        {
            "Sid": "UseStackKeyThroughS3AndSns",
            "Effect": "Allow",
            "Action": ["kms:Decrypt", "kms:GenerateDataKey"],
            "Resource": resources.key_arn,
            "Condition": {
                "StringEquals": {
                    "kms:ViaService": [
                        pulumi.Output.concat("s3.", resources.region, ".amazonaws.com"),
                        pulumi.Output.concat("sns.", resources.region, ".amazonaws.com"),
                    ]
                }
            },
        },
        {
            # PutMetricData has no resource type: "*" is the only resource AWS accepts; the
            # namespace condition is what scopes it.
            "Sid": "PutJobMetricsInOurNamespace",
            "Effect": "Allow",
            "Action": "cloudwatch:PutMetricData",
            "Resource": "*",
            "Condition": {"StringEquals": {"cloudwatch:namespace": METRICS_NAMESPACE}},
        },
        {
            "Sid": "PublishAlerts",
            "Effect": "Allow",
            "Action": "sns:Publish",
            "Resource": resources.topic_arn,
        },
    ]


def retrain_statements(resources: JobResources, *, layout: ObjectLayout) -> list[Statement]:
    """Retrain reads training data, reads/replaces the bundle, archives it, records decisions."""
    models = resources.model_bucket_arn
    return [
        {
            "Sid": "ReadTrainingData",
            "Effect": "Allow",
            "Action": "s3:GetObject",
            "Resource": objects(resources.training_bucket_arn, layout.training_data_prefix),
        },
        list_under("ListTrainingData", resources.training_bucket_arn, layout.training_data_prefix),
        {
            # Read the champion, upload the challenger that passed the gate (starts the pipeline).
            "Sid": "ReadAndReplaceCurrentBundle",
            "Effect": "Allow",
            "Action": ["s3:GetObject", "s3:PutObject"],
            "Resource": objects(models, layout.model_key),
        },
        {
            # Publishing reads the archived bundle back by VersionId and copies that version to
            # the trigger key (CopySource with VersionId): both are s3:GetObjectVersion.
            "Sid": "ArchiveBundles",
            "Effect": "Allow",
            "Action": ["s3:GetObject", "s3:GetObjectVersion", "s3:PutObject"],
            "Resource": objects(models, layout.model_archive_prefix),
        },
        {
            "Sid": "RecordGateDecisions",
            "Effect": "Allow",
            "Action": "s3:PutObject",
            "Resource": objects(models, layout.decisions_prefix),
        },
        list_under(
            "ListBundlesAndDecisions",
            models,
            layout.model_key,
            layout.model_archive_prefix,
            layout.decisions_prefix,
        ),
        *shared_statements(resources),
    ]


def monitor_statements(
    resources: JobResources,
    *,
    layout: ObjectLayout,
    retrain_definition_arn_prefix: pulumi.Input[str] | None,
    queue_arn: pulumi.Input[str],
    own_definition_arn_prefix: pulumi.Input[str] | None = None,
) -> list[Statement]:
    """Monitor reads prediction logs and the bundle, writes reports, may submit the retrain job.

    With ``retrain_definition_arn_prefix`` None (retrainOnDrift off) it may not submit the retrain;
    with ``own_definition_arn_prefix`` it may submit its own definition (the fan-out's array job
    and the merge job after it) to the same queue.
    """
    models = resources.model_bucket_arn
    return [
        *_monitor_log_statements(resources.log_bucket_arn, layout),
        {
            # The reference statistics live in the bundle's manifest.
            "Sid": "ReadCurrentBundle",
            "Effect": "Allow",
            "Action": "s3:GetObject",
            "Resource": objects(models, layout.model_key),
        },
        archived_bundles_statement(models, layout),
        list_under("ListCurrentAndArchivedBundles", models, layout.model_key, layout.model_archive_prefix),
        *optional_submits(
            queue_arn,
            SubmitRetrainOnDrift=retrain_definition_arn_prefix,
            SubmitOwnFanOutJobs=own_definition_arn_prefix,
        ),
        *shared_statements(resources),
    ]


def _monitor_log_statements(logs: pulumi.Input[str], layout: ObjectLayout) -> list[Statement]:
    """The log bucket: read the logs, write reports, hold the cooldown and the hour summaries."""
    return [
        {
            "Sid": "ReadPredictionLogs",
            "Effect": "Allow",
            "Action": "s3:GetObject",
            "Resource": objects(logs, layout.prediction_log_prefix),
        },
        {
            "Sid": "WriteDriftReports",
            "Effect": "Allow",
            "Action": "s3:PutObject",
            "Resource": objects(logs, layout.reports_prefix),
        },
        cooldown_statement(logs, layout),
        {
            # Closed hours are summarized once (conditional writes) and read back by every window.
            "Sid": "ReadAndWriteHourSummaries",
            "Effect": "Allow",
            "Action": ["s3:GetObject", "s3:PutObject"],
            "Resource": objects(logs, layout.summaries_prefix),
        },
        list_under(
            "ListPredictionLogsAndReports",
            logs,
            layout.prediction_log_prefix,
            layout.reports_prefix,
            layout.cooldown_key,
            layout.summaries_prefix,
        ),
    ]


def cooldown_statement(logs: pulumi.Input[str], layout: ObjectLayout) -> Statement:
    """The retrain cooldown the drift and quality checks share: one retrain per period, claimed
    with conditional writes (which need only s3:PutObject)."""
    return {
        "Sid": "ReadAndWriteRetrainCooldown",
        "Effect": "Allow",
        "Action": ["s3:GetObject", "s3:PutObject"],
        "Resource": objects(logs, layout.cooldown_key),
    }


def archived_bundles_statement(models: pulumi.Input[str], layout: ObjectLayout) -> Statement:
    """Each model version's own archived bundle, read by key: its reference and holdout metrics."""
    return {
        "Sid": "ReadArchivedBundles",
        "Effect": "Allow",
        "Action": "s3:GetObject",
        "Resource": objects(models, layout.model_archive_prefix),
    }


def optional_submits(
    queue_arn: pulumi.Input[str], **definitions: pulumi.Input[str] | None
) -> list[Statement]:
    """One SubmitJob statement per Sid whose definition is given; none for a switched-off one."""
    return [
        submit_jobs_statement(sid, definition_arn_prefixes=[prefix], queue_arn=queue_arn)
        for sid, prefix in definitions.items()
        if prefix is not None
    ]


def submit_jobs_statement(
    sid: str, *, definition_arn_prefixes: list[pulumi.Input[str]], queue_arn: pulumi.Input[str]
) -> Statement:
    """SubmitJob for these job definitions (any revision, so pipeline revisions work) to one queue.

    The request ARN always carries a revision, even for a job submitted by name alone, so the
    definitions are named ``<name>:*``; a bare ``<name>`` would match nothing.
    """
    definitions = [pulumi.Output.concat(prefix, ":*") for prefix in definition_arn_prefixes]
    return {
        "Sid": sid,
        "Effect": "Allow",
        "Action": "batch:SubmitJob",
        "Resource": [*definitions, queue_arn],
    }
