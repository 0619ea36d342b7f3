"""What the monitor and quality roles need to regenerate the model-tracking dashboard after a run.

The page (`retrain_job.dashboard`) is rebuilt from what the jobs already write: the dated run
folders' `report.json` and `quality.json`, the release events, the retrain job's decision
records (model bucket), and the delivery pipeline's action history. Each key pattern is the one
the reader lists and gets (`retrain_job/dashboard/history.py`); the only object written is the
environment's page, `reports/dashboard/<environment>/index.html`.
"""

from __future__ import annotations

from dataclasses import dataclass

import pulumi

from infra.iam import objects
from infra.jobs.roles import JobResources, Statement, list_under
from ml_deploy.layout import ObjectLayout, folder
from ml_deploy.quality_report import REPORT_FILE as QUALITY_FILE
from ml_deploy.tracking import dashboard_key, events_prefix

DRIFT_FILE = "report.json"  # `retrain_job.monitor.publishing`: the run folder's JSON report
RUN_FOLDERS = "dt="  # `<reports>dt=YYYY-MM-DD/<run id>/`, the runs' dated folders


@dataclass(frozen=True)
class DashboardScope:
    """The page of one environment, and the pipeline whose deploys and approvals it shows."""

    environment: str
    pipeline_arn: pulumi.Input[str]


def dashboard_statements(
    resources: JobResources, *, layout: ObjectLayout, scope: DashboardScope
) -> list[Statement]:
    """Read the run history, decisions and pipeline actions; write this environment's page only."""
    logs, models = resources.log_bucket_arn, resources.model_bucket_arn
    runs = f"{folder(layout.reports_prefix)}{RUN_FOLDERS}"
    events = events_prefix(layout.reports_prefix)
    return [
        {
            "Sid": "ListDashboardHistory",
            "Effect": "Allow",
            "Action": "s3:ListBucket",
            "Resource": logs,
            "Condition": {"StringLike": {"s3:prefix": [f"{runs}*", f"{events}*"]}},
        },
        {
            "Sid": "ReadDashboardHistory",
            "Effect": "Allow",
            "Action": "s3:GetObject",
            "Resource": [
                pulumi.Output.concat(logs, "/", runs, "*/", DRIFT_FILE),
                pulumi.Output.concat(logs, "/", runs, "*/", QUALITY_FILE),
                objects(logs, events),
            ],
        },
        {
            "Sid": "WriteThisEnvironmentsDashboard",
            "Effect": "Allow",
            "Action": "s3:PutObject",
            "Resource": pulumi.Output.concat(
                logs, "/", dashboard_key(layout.reports_prefix, scope.environment)
            ),
        },
        {
            # The release timeline's retrains: the gate's decision records.
            "Sid": "ReadRetrainDecisions",
            "Effect": "Allow",
            "Action": "s3:GetObject",
            "Resource": objects(models, layout.decisions_prefix),
        },
        list_under("ListRetrainDecisions", models, layout.decisions_prefix),
        {
            # Deploys and answered approvals (with their comments), read from the pipeline itself.
            "Sid": "ReadPipelineActionHistory",
            "Effect": "Allow",
            "Action": "codepipeline:ListActionExecutions",
            "Resource": scope.pipeline_arn,
        },
    ]
