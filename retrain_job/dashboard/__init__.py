"""The model-tracking dashboard: a static page of drift, predictions, quality and releases over time."""

from ml_deploy.tracking import dashboard_key
from retrain_job.dashboard.history import DashboardSources
from retrain_job.dashboard.publish import publish_dashboard

__all__ = ["DashboardSources", "dashboard_key", "publish_dashboard"]
