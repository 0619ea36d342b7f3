"""The demo's jobs and traffic: the real retrain and monitor jobs in their own processes, requests to
the served model, and what the jobs leave in the local S3 (the drift report, the gate's decision)."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pandas as pd

from ml_deploy.payload_log import RECORD_KEY
from ml_deploy.settings import MonitorSettings
from ml_deploy_dev import processes, sample_data
from ml_deploy_dev.dev_stack import DevStack, monitor_environment, retrain_environment
from ml_deploy_dev.local_aws import LocalAws

EXIT_REJECTED = 3  # retrain_job.retrain.EXIT_REJECTED; a test keeps the two equal


class DemoError(Exception):
    """A step did not do what the lifecycle needs; the message says which and why."""


def expect(condition: bool, message: str) -> None:
    if not condition:
        raise DemoError(message)


@dataclass
class Progress:
    """Numbered steps with the time since start, so a newcomer sees where the minutes go."""

    started: float = field(default_factory=time.monotonic)
    summary: list[str] = field(default_factory=list)

    def step(self, title: str) -> None:
        print(f"\n[{time.monotonic() - self.started:6.1f}s] == {title}", flush=True)

    def say(self, line: str, *, remember: bool = False) -> None:
        print(f"         {line}", flush=True)
        if remember:
            self.summary.append(line)


def upload_training_data(aws: LocalAws, stack: DevStack, frame: pd.DataFrame, *, name: str) -> None:
    """Replace the training prefix with one Parquet file: the retrain job reads the whole prefix."""
    s3 = aws.client("s3")
    listed = s3.list_objects_v2(Bucket=stack.training_bucket, Prefix=stack.layout.training_data_prefix)
    for item in listed.get("Contents", []):
        s3.delete_object(Bucket=stack.training_bucket, Key=item["Key"])
    body = frame.to_parquet(index=False)
    s3.put_object(
        Bucket=stack.training_bucket, Key=f"{stack.layout.training_data_prefix}{name}.parquet", Body=body
    )


def retrain(aws: LocalAws, stack: DevStack, say: Callable[[str], None]) -> int:
    """The retrain job as Batch runs it; its exit status (0 promoted, EXIT_REJECTED rejected)."""
    return processes.run_job("retrain_job.retrain", {**aws.environment, **retrain_environment(stack)}, say)


def monitor(aws: LocalAws, stack: DevStack, say: Callable[[str], None]) -> int:
    """The monitor on the traffic just sent: its window ends now, not at the last whole period
    (a scheduled run's default), which would not hold minutes-old traffic yet."""
    end = {MonitorSettings.variable("end"): datetime.now(UTC).isoformat()}
    return processes.run_job(
        "retrain_job.monitor", {**aws.environment, **monitor_environment(stack), **end}, say
    )


def send_traffic(
    url: str, frame: pd.DataFrame, label: str, progress: Progress, *, keys: Sequence[str] | None = None
) -> None:
    """One record per request, as clients call it, with the caller's `keys` (customer ids) when
    given; the answers are counted by status."""
    features = frame.drop(columns=[sample_data.TARGET, sample_data.TIMESTAMP])
    records = json.loads(features.to_json(orient="records"))
    for record, key in zip(records, keys or [], strict=False):
        record[RECORD_KEY] = key
    statuses: dict[int, int] = {}
    probabilities = []
    with httpx.Client(base_url=url, timeout=10.0) as client:
        for record in records:
            response = client.post("/predict", json={"record": record})
            statuses[response.status_code] = statuses.get(response.status_code, 0) + 1
            if response.status_code == 200:
                probabilities.append(_probability(response.json()))
    mean = float(np.mean(probabilities)) if probabilities else float("nan")
    progress.say(
        f"{label} traffic: {len(records)} requests, statuses {dict(sorted(statuses.items()))}, "
        f"mean churn probability {mean:.3f}",
        remember=True,
    )
    expect(statuses.get(200, 0) > 0, f"no {label} request was answered with 200: {statuses}")


def _probability(body: dict[str, Any]) -> float:
    answer = body["predictions"][0] if "predictions" in body else body
    return float(answer["probability"])


def wait_for_logs(aws: LocalAws, stack: DevStack, environment: str, progress: Progress) -> None:
    """Until the environment's prediction-log objects stop changing: the service flushes every second."""
    s3 = aws.client("s3")
    prefix = f"{stack.layout.prediction_log_prefix}{environment}/"
    seen, stable_since = -1, time.monotonic()
    while time.monotonic() - stable_since < 2.5:
        listed = s3.list_objects_v2(Bucket=stack.log_bucket, Prefix=prefix).get("Contents", [])
        if len(listed) != seen:
            seen, stable_since = len(listed), time.monotonic()
        time.sleep(0.5)
    expect(seen > 0, f"{environment} wrote no prediction log under s3://{stack.log_bucket}/{prefix}")
    progress.say(f"{seen} prediction-log objects under s3://{stack.log_bucket}/{prefix}")


def show_drift_report(aws: LocalAws, stack: DevStack, folder: Path, progress: Progress) -> None:
    s3 = aws.client("s3")
    listed = s3.list_objects_v2(Bucket=stack.log_bucket, Prefix=stack.layout.reports_prefix).get(
        "Contents", []
    )
    reports = sorted(item["Key"] for item in listed if item["Key"].endswith("report.json"))
    expect(
        bool(reports),
        f"the monitor wrote no report under s3://{stack.log_bucket}/{stack.layout.reports_prefix}",
    )
    folder.mkdir(parents=True, exist_ok=True)
    for item in listed:
        if item["Key"].endswith((".json", ".html")):
            target = folder / item["Key"].removeprefix(stack.layout.reports_prefix)
            target.parent.mkdir(parents=True, exist_ok=True)
            s3.download_file(stack.log_bucket, item["Key"], str(target))
    report = json.loads((folder / reports[-1].removeprefix(stack.layout.reports_prefix)).read_text())
    progress.say(
        f"status {report['status']}: rows seen {report['rows']['seen']}, "
        f"drifted features {report['drifted_features']}",
        remember=True,
    )
    for feature in report["features"]:
        progress.say(
            f"  {feature['name']:18s} {feature['status']:9s} PSI {feature['psi']:.3f}  "
            f"{feature['test']} {feature['statistic']:.3f}"
        )
    html = sorted(folder.rglob("report.html"))
    if html:
        progress.say(f"HTML report: {html[-1]}", remember=True)


def show_decision(aws: LocalAws, stack: DevStack, outcome: int, progress: Progress) -> None:
    """The gate's verdict, with the champion's and the challenger's score on the same holdout."""
    verdict = {0: "promoted", EXIT_REJECTED: "rejected"}.get(outcome, f"failed (exit {outcome})")
    s3 = aws.client("s3")
    listed = s3.list_objects_v2(Bucket=stack.model_bucket, Prefix=stack.layout.decisions_prefix).get(
        "Contents", []
    )
    scores = ""
    if listed:
        latest = max(listed, key=lambda item: item["LastModified"])
        record = json.loads(s3.get_object(Bucket=stack.model_bucket, Key=latest["Key"])["Body"].read())
        metric = record.get("primary_metric", "roc_auc")
        champion = (record.get("champion_metrics") or {}).get(metric)
        challenger = (record.get("challenger_metrics") or {}).get(metric)
        if isinstance(champion, float) and isinstance(challenger, float):
            scores = f" ({metric}: champion {champion:.3f}, challenger {challenger:.3f} on the same holdout)"
    progress.say(f"challenger trained on drifted data: {verdict}{scores}", remember=True)


def shuffled_labels(frame: pd.DataFrame) -> pd.DataFrame:
    """The same rows with the labels permuted: a challenger trained on it learns nothing."""
    shuffled = frame.copy()
    shuffled[sample_data.TARGET] = np.random.default_rng(5).permutation(
        shuffled[sample_data.TARGET].to_numpy()
    )
    return shuffled


def model_key_version(aws: LocalAws, stack: DevStack) -> str:
    return str(aws.client("s3").head_object(Bucket=stack.model_bucket, Key=stack.model_key)["VersionId"])
