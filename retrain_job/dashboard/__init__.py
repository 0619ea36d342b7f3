"""The model-tracking dashboard: a static page of drift, predictions, quality and releases over time."""

from retrain_job.dashboard.history import DashboardSources
from retrain_job.dashboard.publish import dashboard_key, publish_dashboard

__all__ = ["DashboardSources", "dashboard_key", "publish_dashboard"]
