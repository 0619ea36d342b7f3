"""Release events: what changed which model runs where, as one small JSON record per event.

The dashboard's timeline reads deploys and approvals from CodePipeline and retrains from the retrain
job's decision records; what neither keeps (a rollback, done outside the pipeline) is written
here, under `<reports prefix>events/dt=YYYY-MM-DD/<UTC stamp>-<kind>[-<environment>].json`, so
keys sort by time and a reader lists only the days it shows.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from ml_deploy.layout import folder

EVENTS_FOLDER = "events/"
DASHBOARD_FILE = "index.html"
ReleaseKind = Literal["deploy", "approved", "rejected", "rollback", "retrain"]


class ReleaseEvent(BaseModel):
    """One point on the release timeline; `detail` is the comment, the gate's reasons or the images."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    kind: ReleaseKind
    at: AwareDatetime
    environment: str | None = Field(None, pattern=r"^[A-Za-z0-9_-]{1,64}$")
    model_version: str | None = Field(None, max_length=200)
    outcome: str | None = Field(None, max_length=64, description="e.g. the gate's promoted/rejected")
    by: str | None = Field(None, max_length=300)
    detail: str = Field("", max_length=2000)


def events_prefix(reports_prefix: str) -> str:
    """``reports/events/``: where the event records of every environment are."""
    return f"{folder(reports_prefix)}{EVENTS_FOLDER}"


def event_day_prefix(reports_prefix: str, day: datetime) -> str:
    """The folder of one UTC day's events."""
    return f"{events_prefix(reports_prefix)}dt={day.astimezone(UTC):%Y-%m-%d}/"


def event_key(reports_prefix: str, event: ReleaseEvent) -> str:
    """Where `event` is stored: its day's folder, then a stamp that sorts by time."""
    at = event.at.astimezone(UTC)
    where = f"-{event.environment}" if event.environment else ""
    return f"{event_day_prefix(reports_prefix, at)}{at:%Y%m%dT%H%M%S%fZ}-{event.kind}{where}.json"


def dashboard_key(reports_prefix: str, environment: str) -> str:
    """``reports/dashboard/prod/index.html``: the page the monitor jobs regenerate after each run."""
    return f"{folder(reports_prefix)}dashboard/{environment}/{DASHBOARD_FILE}"
