"""The demo's quality story: outcomes for the traffic it sent, the quality job run through the local
runner (`ml-deploy --local run-job quality --follow`), the alert it publishes and the dashboard.

The job judges predictions 30 to 60 days old (the stack's maturity window); the demo's traffic is
minutes old, so its quality job runs "in the future" (`QUALITY_NOW`, mid-window), never with a
shorter window than the stack's. The alert goes to a topic in the local account whose queue the
demo reads, as an operator's mail would.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pandas as pd

from ml_deploy.quality_report import REPORT_FILE, QualityReport, VersionQuality
from ml_deploy.settings import QualitySettings
from ml_deploy_dev import sample_data
from ml_deploy_dev.demo_delivery import DemoDelivery
from ml_deploy_dev.demo_jobs import Progress, expect
from ml_deploy_dev.dev_stack import DevStack
from ml_deploy_dev.local_aws import LocalAws

ALERTS = "ml-deploy-dev-alerts"  # the local stand-in of the stack's alerts topic
PLOTLY_DIV = 'class="plotly-graph-div"'


@dataclass(frozen=True)
class QualityClock:
    """The quality job's 'now' (mid maturity window) and the alert topic and queue it reports to."""

    now: datetime
    topic_arn: str
    queue_url: str

    def job_environment(self) -> dict[str, str]:
        return {
            QualitySettings.variable("end"): self.now.isoformat(),
            QualitySettings.variable("alerts_topic_arn"): self.topic_arn,
        }


def quality_clock(aws: LocalAws, stack: DevStack) -> QualityClock:
    """A topic with a queue subscribed, and a 'now' that makes today's traffic mature."""
    jobs = stack.config.jobs
    ahead = (jobs.maturity_min_days + jobs.maturity_max_days) // 2
    sns, sqs = aws.client("sns"), aws.client("sqs")
    topic_arn = sns.create_topic(Name=ALERTS)["TopicArn"]
    queue_url = sqs.create_queue(QueueName=f"{ALERTS}-inbox")["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"]
    sns.subscribe(TopicArn=topic_arn, Protocol="sqs", Endpoint=queue_arn["QueueArn"])
    return QualityClock(
        now=datetime.now(UTC) + timedelta(days=ahead), topic_arn=topic_arn, queue_url=queue_url
    )


def customer_keys(prefix: str, count: int) -> list[str]:
    """The caller's key per record (a customer id): what the outcomes are joined on."""
    return [f"{prefix}-{number:05d}" for number in range(count)]


def write_outcomes(frame: pd.DataFrame, keys: Sequence[str], path: Path) -> Path:
    """What really happened to each customer, as the CRM exports it: key, label, observed_at."""
    observed_at = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="") as out:
        writer = csv.writer(out)
        writer.writerow(["key", "label", "observed_at"])
        for key, label in zip(keys, frame[sample_data.TARGET].tolist(), strict=True):
            writer.writerow([key, int(label), observed_at])
    return path


def upload_outcomes(delivery: DemoDelivery, path: Path) -> None:
    done = delivery.cli("upload-outcomes", str(path))
    expect(done.returncode == 0, f"`ml-deploy --local upload-outcomes {path}` exited {done.returncode}")


def run_quality(
    aws: LocalAws, stack: DevStack, delivery: DemoDelivery, *, label: str, progress: Progress
) -> VersionQuality:
    """The quality job as `run-job` submits it; its verdict on prod's model, as one summary line."""
    # A local job ends in seconds: looking every second, not every 10 s as against Batch's API.
    done = delivery.cli("run-job", "quality", "--follow", "--poll-seconds", "1", timeout=300)
    expect(done.returncode == 0, f"`ml-deploy --local run-job quality --follow` exited {done.returncode}")
    key = f"{stack.layout.latest_report_prefix('prod')}{REPORT_FILE}"
    body = aws.client("s3").get_object(Bucket=stack.log_bucket, Key=key)["Body"].read()
    report = QualityReport.model_validate_json(body)
    expect(len(report.versions) == 1, f"expected one model version judged, got {len(report.versions)}")
    (version,) = report.versions
    auc = version.metrics["roc_auc"]
    shown = "n/a" if auc.value is None or auc.low is None or auc.high is None else (
        f"{auc.value:.3f} [{auc.low:.3f}, {auc.high:.3f}]"
    )  # fmt: skip
    holdout = "none" if auc.holdout is None else f"{auc.holdout:.3f}"
    progress.say(
        f"quality {label}: {version.status}, roc_auc {shown} ({report.interval}) vs holdout {holdout}, "
        f"floor {auc.floor}; {version.with_outcome} outcomes joined",
        remember=True,
    )
    return version


def show_alert(aws: LocalAws, clock: QualityClock, progress: Progress) -> None:
    """The message the quality job published, read from the topic's queue."""
    sqs = aws.client("sqs")
    messages = sqs.receive_message(QueueUrl=clock.queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=2)
    notes = [json.loads(message["Body"]) for message in messages.get("Messages", [])]
    quality = [note for note in notes if "quality" in str(note.get("Subject", ""))]
    expect(bool(quality), f"the quality job published no alert to {clock.topic_arn}")
    progress.say(f"alert published to {ALERTS}: {quality[-1]['Subject']}", remember=True)
    for line in str(quality[-1]["Message"]).splitlines()[:3]:
        progress.say(f"  | {line}")


def publish_dashboard_now(aws: LocalAws, stack: DevStack, clock: QualityClock) -> None:
    """Rebuild the page once over the demo's whole span. The jobs rebuild it after each run, each
    over the last days of its own clock; the demo moves the quality job's clock into the maturity
    window (`QUALITY_NOW`), so neither job's page holds both today's drift runs and the quality
    reports dated ahead of them."""
    from retrain_job.dashboard.history import DashboardSources
    from retrain_job.dashboard.publish import publish_dashboard

    sources = DashboardSources(
        log_bucket=stack.log_bucket, reports_prefix=stack.layout.reports_prefix, environment="prod",
        model_bucket=stack.model_bucket, decisions_prefix=stack.layout.decisions_prefix,
        days=stack.config.jobs.maturity_max_days + 1,
    )  # fmt: skip
    publish_dashboard(aws.client("s3"), sources=sources, now=clock.now)


def show_dashboard(delivery: DemoDelivery, progress: Progress) -> Path:
    """`ml-deploy --local dashboard`: the page's local copy, and how many charts it draws."""
    done = delivery.cli("dashboard")
    expect(done.returncode == 0, f"`ml-deploy --local dashboard` exited {done.returncode}")
    page = Path(done.stdout.strip().splitlines()[-1])
    charts = page.read_text().count(PLOTLY_DIV)
    progress.say(f"dashboard: {page} ({charts} charts)", remember=True)
    return page


@dataclass(frozen=True)
class Traffic:
    """One phase of the demo's traffic: the customers sent, with their keys and real outcomes."""

    label: str
    frame: pd.DataFrame
    keys: list[str]


def quality_drop(
    aws: LocalAws, stack: DevStack, delivery: DemoDelivery, *, clock: QualityClock,
    phases: Sequence[Traffic], folder: Path, progress: Progress,
) -> None:  # fmt: skip
    """Outcomes arrive phase by phase; the quality job judges prod's model after each arrival."""
    verdicts = []
    for phase, label in zip(phases, ("before drift", "after drift"), strict=True):
        upload_outcomes(delivery, write_outcomes(phase.frame, phase.keys, folder / f"{phase.label}.csv"))
        verdicts.append(run_quality(aws, stack, delivery, label=label, progress=progress))
    expect(verdicts[0].status == "ok", f"quality on normal traffic was {verdicts[0].status}, expected ok")
    expect(
        verdicts[1].status == "below_floor",
        f"quality after the drifted outcomes was {verdicts[1].status}, expected below_floor",
    )
    show_alert(aws, clock, progress)
    expect(delivery.cli("logs", "quality", "--since", "1h", "--tail", "4").returncode == 0, "logs failed")
    publish_dashboard_now(aws, stack, clock)
    show_dashboard(delivery, progress)
    progress.say(
        "retrain on quality: off locally (no Batch queue to submit to); the demo runs the retrain next",
        remember=True,
    )
