"""The end of a monitor or quality run: regenerate the environment's model-tracking dashboard.

The page is a view of what the runs wrote; the run's own report is already written when this
runs. So a dashboard that cannot be built or written (an unreadable history, a permission
missing) must not fail the run nor lose its report: it is logged in one line and counted as the
``DashboardFailures`` metric, and the next run tries again.
"""

from __future__ import annotations

import sys
from datetime import datetime

from ml_deploy.settings import MonitorSettings, QualitySettings
from retrain_job.common import JobClients, metric, put_metrics
from retrain_job.dashboard.history import DashboardSources
from retrain_job.dashboard.publish import publish_dashboard

FAILURE_METRIC = "DashboardFailures"


def dashboard_sources(settings: MonitorSettings | QualitySettings) -> DashboardSources:
    """What the page reads, from the job's own settings (the same layout it writes by)."""
    if not settings.log_bucket:
        raise ValueError(f"{settings.variable('log_bucket')} is required")
    return DashboardSources(
        log_bucket=settings.log_bucket,
        reports_prefix=settings.reports_prefix,
        environment=settings.environment,
        model_bucket=settings.model_bucket,
        decisions_prefix=settings.decisions_prefix,
        pipeline=settings.pipeline_name,
    )


def refresh_dashboard(
    clients: JobClients, settings: MonitorSettings | QualitySettings, *, job: str, now: datetime
) -> str | None:
    """Publish the page; its S3 URL, or None (logged and counted) when that failed."""
    try:
        url = publish_dashboard(
            clients.s3,
            sources=dashboard_sources(settings),
            now=now,
            codepipeline=clients.codepipeline if settings.pipeline_name else None,
        )
    except Exception as error:  # any failure of the page leaves the run's result alone
        first = str(error).splitlines()[0] if str(error) else type(error).__name__
        print(f"{job}: dashboard not regenerated: {first}", file=sys.stderr)
        _count_failure(clients, settings, job=job)
        return None
    print(f"{job}: dashboard {url}")
    return url


def _count_failure(clients: JobClients, settings: MonitorSettings | QualitySettings, *, job: str) -> None:
    dimensions = {"Environment": settings.environment, "Job": job}
    try:
        put_metrics(
            clients.cloudwatch,
            namespace=settings.metrics_namespace,
            metrics=[metric(FAILURE_METRIC, 1, dimensions=dimensions, unit="Count")],
        )
    except Exception as error:  # the count is best effort, as the page is
        print(f"{job}: dashboard failure not counted: {type(error).__name__}", file=sys.stderr)
