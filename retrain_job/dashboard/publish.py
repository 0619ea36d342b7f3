"""Regenerate an environment's dashboard at the end of a monitor or quality run.

    publish_dashboard(s3, sources=DashboardSources(...), now=now, codepipeline=codepipeline)

The page is built whole in memory and written with one PUT, so a reader sees the old page or the
new one, never half of one. It goes to `<reports prefix>dashboard/<environment>/index.html`.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from ml_deploy.tracking import dashboard_key
from retrain_job.dashboard.history import DashboardSources, read_history
from retrain_job.dashboard.page import render_page
from retrain_job.dashboard.pipeline import pipeline_events


def build_dashboard(s3: Any, *, sources: DashboardSources, now: datetime, codepipeline: Any = None) -> str:
    """The page's HTML from the bounded history (and the pipeline's actions when a client is given)."""
    now = now.astimezone(UTC)
    history = read_history(s3, sources, now=now)
    if codepipeline is not None and sources.pipeline:
        since = now - timedelta(days=sources.days)
        history.events += pipeline_events(
            codepipeline, pipeline=sources.pipeline, since=since, limit=sources.max_runs
        )
    return render_page(history, environment=sources.environment, now=now)


def publish_dashboard(s3: Any, *, sources: DashboardSources, now: datetime, codepipeline: Any = None) -> str:
    """Build and write the page; its S3 URL."""
    page = build_dashboard(s3, sources=sources, now=now, codepipeline=codepipeline)
    key = dashboard_key(sources.reports_prefix, sources.environment)
    s3.put_object(
        Bucket=sources.log_bucket,
        Key=key,
        Body=page.encode(),
        ContentType="text/html; charset=utf-8",
        CacheControl="no-cache",
    )
    return f"s3://{sources.log_bucket}/{key}"
