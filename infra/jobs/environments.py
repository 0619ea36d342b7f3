"""The retrain, monitor and quality jobs' environments, built once for the Batch job definitions and the demo.

Each is built from the job's own settings model (`ml_deploy.settings`), so no variable name is
spelled here: a setting renamed or removed in the runtime fails the program. The program passes
the stack's resources (Outputs); `ml_deploy_dev/dev_stack.py` passes the local account's names.
Those endpoints are the only thing that differs between the cloud and the demo.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pulumi

from infra.jobs.config import JobsConfig
from ml_deploy.layout import METRICS_NAMESPACE, ObjectLayout
from ml_deploy.settings import MonitorSettings, QualitySettings, RetrainSettings, environment

# The monitor and the quality job watch what prod serves; stage traffic is testing, not the world.
WATCHED_ENVIRONMENT = "prod"


@dataclass(frozen=True)
class JobContext:
    """What both jobs are told about the stack: where its things are, its layout and its settings.

    Region and alerts topic are None where there is none to name (a local run takes the local
    account's region and has no topic); an unset endpoint is left out of the environment.
    """

    model_bucket: pulumi.Input[str]
    training_bucket: pulumi.Input[str]
    log_bucket: pulumi.Input[str]
    layout: ObjectLayout
    config: JobsConfig
    region: pulumi.Input[str] | None = None
    alerts_topic_arn: pulumi.Input[str] | None = None
    # The delivery pipeline whose deploys and approvals the jobs' dashboard shows (None: none).
    pipeline_name: pulumi.Input[str] | None = None


def retrain_environment(context: JobContext) -> dict[str, Any]:
    layout, jobs = context.layout, context.config
    return _set(
        environment(
            RetrainSettings,
            aws_region=context.region,
            model_bucket=context.model_bucket,
            model_key=layout.model_key,
            model_archive_prefix=layout.model_archive_prefix,
            decisions_prefix=layout.decisions_prefix,
            training_data_uri=s3_uri(context.training_bucket, layout.training_data_prefix),
            alerts_topic_arn=context.alerts_topic_arn,
            metrics_namespace=METRICS_NAMESPACE,
            gate_tolerance=jobs.gate_tolerance,
            gate_floor=jobs.gate_floor,
        )
    )


def monitor_environment(
    context: JobContext,
    *,
    queue_name: pulumi.Input[str] | None = None,
    retrain_definition_name: pulumi.Input[str] | None = None,
    monitor_definition_name: pulumi.Input[str] | None = None,
) -> dict[str, Any]:
    """Every stack setting of the monitor; the retrain it submits is named by queue and definition.

    Its fan-out submits its own definition by name (a definition cannot hold its own ARN; Batch
    runs a name's latest ACTIVE revision), so without a name it never fans out.
    """
    layout, jobs = context.layout, context.config
    return _set(
        environment(
            MonitorSettings,
            summaries_prefix=layout.summaries_prefix,
            summary_grace_minutes=jobs.summary_grace_minutes,
            shard_objects=jobs.monitor_shard_objects,
            max_array_size=jobs.monitor_max_array_size,
            fanout_job_queue=queue_name if monitor_definition_name is not None else None,
            fanout_job_definition=monitor_definition_name,
            **_dashboard(context),
            aws_region=context.region,
            environment=WATCHED_ENVIRONMENT,
            model_bucket=context.model_bucket,
            model_key=layout.model_key,
            log_bucket=context.log_bucket,
            log_prefix=layout.prediction_log_prefix,
            reports_prefix=layout.reports_prefix,
            window_hours=jobs.drift_window_hours,
            psi_threshold=jobs.psi_threshold,
            ks_threshold=jobs.ks_threshold,
            category_threshold=jobs.category_threshold,
            missing_threshold=jobs.missing_threshold,
            unseen_threshold=jobs.unseen_threshold,
            alerts_topic_arn=context.alerts_topic_arn,
            metrics_namespace=METRICS_NAMESPACE,
            retrain_on_drift=jobs.retrain_on_drift,
            retrain_cooldown_hours=jobs.retrain_cooldown_hours,
            retrain_job_queue=queue_name,
            retrain_job_definition=retrain_definition_name,
            cooldown_key=layout.cooldown_key,
        )
    )


def quality_environment(
    context: JobContext,
    *,
    queue_name: pulumi.Input[str] | None = None,
    retrain_definition_name: pulumi.Input[str] | None = None,
) -> dict[str, Any]:
    """Every stack setting of the quality job; it shares the monitor's cooldown and retrain target."""
    layout, jobs = context.layout, context.config
    return _set(
        environment(
            QualitySettings,
            **_dashboard(context),
            aws_region=context.region,
            environment=WATCHED_ENVIRONMENT,
            model_bucket=context.model_bucket,
            model_key=layout.model_key,
            model_archive_prefix=layout.model_archive_prefix,
            log_bucket=context.log_bucket,
            log_prefix=layout.prediction_log_prefix,
            outcomes_prefix=layout.outcomes_prefix,
            reports_prefix=layout.reports_prefix,
            cooldown_key=layout.cooldown_key,
            maturity_min_days=jobs.maturity_min_days,
            maturity_max_days=jobs.maturity_max_days,
            min_outcomes=jobs.min_outcomes,
            auc_floor=jobs.auc_floor,
            precision_floor=jobs.precision_floor,
            recall_floor=jobs.recall_floor,
            bootstrap_samples=jobs.bootstrap_samples,
            alerts_topic_arn=context.alerts_topic_arn,
            metrics_namespace=METRICS_NAMESPACE,
            retrain_on_quality=jobs.retrain_on_quality,
            retrain_cooldown_hours=jobs.retrain_cooldown_hours,
            retrain_job_queue=queue_name,
            retrain_job_definition=retrain_definition_name,
        )
    )


def _dashboard(context: JobContext) -> dict[str, Any]:
    """What both jobs' dashboard reads besides their reports: decisions and the pipeline's history."""
    return {"decisions_prefix": context.layout.decisions_prefix, "pipeline_name": context.pipeline_name}


def s3_uri(bucket: pulumi.Input[str], prefix: str) -> pulumi.Input[str]:
    """`s3://<bucket>/<prefix>`: text for a bucket named locally, an Output for the stack's bucket."""
    if isinstance(bucket, str):
        return f"s3://{bucket}/{prefix}"
    return pulumi.Output.concat("s3://", bucket, "/", prefix)


def _set(variables: dict[str, Any]) -> dict[str, Any]:
    """The variables with a value: an endpoint a run has none of is left to the runtime's default."""
    return {name: value for name, value in variables.items() if value is not None}
