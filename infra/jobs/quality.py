"""The quality job's own parts: what its role may touch, and the alarms on what it publishes.

The job (`retrain_job.quality`) joins prod's matured predictions with their real outcomes and
scores each model version against its archived bundle's holdout metrics. Its role reads only
prod's prediction logs, the outcomes and the archived bundles, writes only its own report
(`quality.json`, under the dated run folder and prod's `latest/`) and the retrain cooldown it
shares with the drift monitor. Key names come from the runtime's layout and report module.
"""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from infra.iam import objects
from infra.jobs.roles import (
    JobResources,
    Statement,
    archived_bundles_statement,
    cooldown_statement,
    list_under,
    optional_submits,
    shared_statements,
)
from ml_deploy.layout import METRICS_NAMESPACE, ObjectLayout
from ml_deploy.quality_report import BELOW_FLOOR_METRIC, COVERAGE_METRIC, REPORT_FILE

# The job publishes once per run (daily by default); a Metrics Insights alarm evaluates at most
# the last three hours (cloudwatch-metrics-insights-limits.html), so it looks at the last hour and
# keeps its state while no run reports ("ignore"): the state is the latest run's verdict.
QUALITY_ALARM_PERIOD_SECONDS = 3600


@dataclass(frozen=True)
class QualityScope:
    """What the quality job is pointed at: the environment it judges and the retrain it may submit."""

    environment: str
    # None when retrainOnQuality is off: the role may then submit nothing.
    retrain_definition_arn_prefix: pulumi.Input[str] | None
    queue_arn: pulumi.Input[str]


def quality_report_keys(layout: ObjectLayout, environment: str) -> list[str]:
    """Where a run writes `quality.json` (`retrain_job.quality.job.report_prefixes`): the dated run
    folder ``reports/dt=<day>/<run id>/`` and ``reports/latest/<environment>/``."""
    return [
        f"{layout.reports_prefix}dt=*/*/{REPORT_FILE}",
        f"{layout.latest_report_prefix(environment)}{REPORT_FILE}",
    ]


def quality_statements(
    resources: JobResources, *, layout: ObjectLayout, scope: QualityScope
) -> list[Statement]:
    """Read prod's logs, the outcomes and archived bundles; write its report and the cooldown."""
    logs, models = resources.log_bucket_arn, resources.model_bucket_arn
    predictions = layout.prediction_logs(scope.environment)
    return [
        {
            "Sid": "ReadWatchedPredictionLogsAndOutcomes",
            "Effect": "Allow",
            "Action": "s3:GetObject",
            "Resource": [objects(logs, predictions), objects(logs, layout.outcomes_prefix)],
        },
        {
            "Sid": "WriteQualityReports",
            "Effect": "Allow",
            "Action": "s3:PutObject",
            "Resource": [
                pulumi.Output.concat(logs, "/", key) for key in quality_report_keys(layout, scope.environment)
            ],
        },
        cooldown_statement(logs, layout),
        list_under(
            "ListLogsOutcomesAndReports",
            logs,
            predictions,
            layout.outcomes_prefix,
            layout.reports_prefix,
            layout.cooldown_key,
        ),
        archived_bundles_statement(models, layout),
        list_under("ListArchivedBundles", models, layout.model_archive_prefix),
        *optional_submits(scope.queue_arn, SubmitRetrainOnQuality=scope.retrain_definition_arn_prefix),
        *shared_statements(resources),
    ]


def insights_query(function: str, metric: str, *, environment: str) -> str:
    """One series over every model version of `environment` (versions are not known in advance)."""
    return (
        f'SELECT {function}({metric}) FROM SCHEMA("{METRICS_NAMESPACE}", Environment, ModelVersion) '
        f"WHERE Environment = '{environment}'"
    )


def quality_alarms(
    name: str, *, environment: str, topic_arn: pulumi.Input[str], parent: pulumi.Resource
) -> list[aws.cloudwatch.MetricAlarm]:
    """A version's quality interval below a floor; no version getting any outcome (outcomes stopped)."""
    below = _insights_alarm(
        f"{name}-quality-below-floor",
        description=(
            f"{environment}: a model version's live quality (from real outcomes) has its interval "
            "below a configured floor (see the quality report, quality.json)"
        ),
        query=insights_query("MAX", BELOW_FLOOR_METRIC, environment=environment),
        comparison="GreaterThanThreshold",
        topic_arn=topic_arn,
        parent=parent,
    )
    coverage = _insights_alarm(
        f"{name}-quality-no-outcomes",
        description=(
            f"{environment}: no matured prediction of any model version got an outcome: are "
            "outcomes still being uploaded (ml-deploy upload-outcomes)?"
        ),
        query=insights_query("MAX", COVERAGE_METRIC, environment=environment),
        comparison="LessThanOrEqualToThreshold",
        topic_arn=topic_arn,
        parent=parent,
    )
    return [below, coverage]


def _insights_alarm(
    resource_name: str,
    *,
    description: str,
    query: str,
    comparison: str,
    topic_arn: pulumi.Input[str],
    parent: pulumi.Resource,
) -> aws.cloudwatch.MetricAlarm:
    """Against 0 on the latest run's datum; between runs the alarm keeps its state."""
    return aws.cloudwatch.MetricAlarm(
        resource_name,
        alarm_description=description,
        comparison_operator=comparison,
        threshold=0,
        evaluation_periods=1,
        treat_missing_data="ignore",
        metric_queries=[
            aws.cloudwatch.MetricAlarmMetricQueryArgs(
                id="quality", expression=query, period=QUALITY_ALARM_PERIOD_SECONDS, return_data=True
            )
        ],
        alarm_actions=[topic_arn],
        ok_actions=[topic_arn],
        opts=pulumi.ResourceOptions(parent=parent),
    )
