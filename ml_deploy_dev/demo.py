"""`make demo`: the whole model lifecycle on this machine, against a local stand-in for AWS.

It uses what the dev stack defines (Pulumi.dev.yaml read through the stack's own config object,
the program's own model-upload event pattern) and runs the real jobs and the real service as the
cloud runs them: separate processes configured by environment variables, talking to S3 through
`AWS_ENDPOINT_URL`. Everything it starts is stopped however a step ends; the reports stay in
the work folder.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Iterator, Sequence
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pandas as pd

from ml_deploy.layout import BUNDLE_FILE
from ml_deploy_dev import processes, sample_data
from ml_deploy_dev.dev_stack import (
    DevStack,
    dev_stack,
    monitor_environment,
    retrain_environment,
    service_environment,
)
from ml_deploy_dev.local_aws import LocalAws, create_bucket, create_trigger_stand_in, drain_events, free_port
from ml_deploy_dev.local_aws import moto_server as start_moto_server

ROOT = Path(__file__).resolve().parents[1]
EXIT_REJECTED = 3  # retrain_job.retrain.EXIT_REJECTED; a test keeps the two equal


class DemoError(Exception):
    """A step did not do what the lifecycle needs; the message says which and why."""


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


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m ml_deploy_dev.demo", description=__doc__)
    parser.add_argument("--workdir", type=Path, default=ROOT / ".demo", help="where reports are left")
    parser.add_argument("--rows", type=int, default=20_000, help="rows of training data per retrain")
    parser.add_argument("--requests", type=int, default=600, help="prediction requests per traffic phase")
    args = parser.parse_args(argv)
    try:
        run(workdir=args.workdir, rows=args.rows, requests=args.requests)
    except (DemoError, processes.ProcessError) as error:
        print(f"\ndemo failed: {error}", file=sys.stderr)
        return 1
    return 0


def run(*, workdir: Path, rows: int, requests: int) -> list[str]:
    """The lifecycle, step by step; returns the summary lines."""
    progress = Progress()
    stack = dev_stack()
    workdir.mkdir(parents=True, exist_ok=True)
    with ExitStack() as cleanup:
        progress.step("1. Local AWS: moto_server on 127.0.0.1, buckets and the model-upload rule")
        aws = cleanup.enter_context(start_moto_server())
        starts = provision(aws, stack, progress)

        progress.step("2. First model: sample data -> retrain job -> bundle at the trigger key")
        upload_training_data(aws, stack, sample_data.generate(rows, seed=1), name="initial")
        outcome = run_job("retrain_job.retrain", {**aws.environment, **retrain_environment(stack)}, progress)
        expect(outcome == 0, f"the first retrain exited {outcome}, expected 0 (promoted)")
        expect_pipeline_starts(aws, starts, stack, progress, expected=1)
        champion = download_bundle(aws, stack, workdir / BUNDLE_FILE)

        progress.step("3. Service on 127.0.0.1 with that bundle, payload logging to local S3")
        with serve(aws, stack, champion, progress) as url:
            send_traffic(url, sample_data.generate(requests, seed=2), "normal", progress)
            send_traffic(url, sample_data.generate(requests, seed=3, drifted=True), "drifted", progress)
            progress.say("stopping the service (SIGTERM): buffered prediction logs are flushed to S3")

        progress.step("4. Monitor job: the logged window against the bundle's reference")
        run_job("retrain_job.monitor", {**aws.environment, **monitor_environment(stack)}, progress)
        show_drift_report(aws, stack, workdir / "reports", progress)

        progress.step("5. Retrain on drifted data, then a deliberately bad challenger")
        drifted = sample_data.generate(rows, seed=4, drifted=True)
        upload_training_data(aws, stack, drifted, name="drifted")
        outcome = run_job("retrain_job.retrain", {**aws.environment, **retrain_environment(stack)}, progress)
        show_decision(aws, stack, outcome, progress)
        expect_pipeline_starts(aws, starts, stack, progress, expected=1 if outcome == 0 else 0)
        reject_bad_challenger(aws, stack, drifted, starts, progress)

        progress.step("6. Stopping moto_server and the service; reports stay in " + str(workdir))
    progress.step("Summary")
    for line in progress.summary:
        print(f"  - {line}")
    return progress.summary


def expect(condition: bool, message: str) -> None:
    if not condition:
        raise DemoError(message)


def provision(aws: LocalAws, stack: DevStack, progress: Progress) -> str:
    create_bucket(aws, stack.model_bucket, versioned=True, eventbridge=True)
    create_bucket(aws, stack.training_bucket, versioned=True)
    create_bucket(aws, stack.log_bucket)
    queue_url = create_trigger_stand_in(aws, rule_name="model-upload", pattern=stack.event_pattern)
    progress.say(f"buckets {stack.model_bucket} (versioned, EventBridge on), {stack.training_bucket}, ")
    progress.say(f"        {stack.log_bucket}; rule pattern {json.dumps(stack.event_pattern)}")
    progress.say("the rule's target is an SQS queue standing in for CodePipeline: one message = one start")
    return queue_url


def expect_pipeline_starts(
    aws: LocalAws, queue_url: str, stack: DevStack, progress: Progress, *, expected: int
) -> None:
    events = drain_events(aws, queue_url, wait_seconds=3.0 if expected else 1.0)
    keys = [event["detail"]["object"]["key"] for event in events]
    expect(len(events) == expected, f"expected {expected} pipeline start(s), the rule delivered {keys}")
    expect(all(key == stack.model_key for key in keys), f"the rule matched other keys: {keys}")
    if events:
        version = events[-1]["detail"]["object"].get("version-id")
        progress.say(f"pipeline would start: upload of {stack.model_key} (version {version})", remember=True)
    else:
        progress.say("no pipeline start, as expected", remember=True)


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


def run_job(module: str, environment: dict[str, str], progress: Progress) -> int:
    return processes.run_job(module, environment, progress.say)


@contextmanager
def serve(aws: LocalAws, stack: DevStack, bundle: Path, progress: Progress) -> Iterator[str]:
    port = free_port()
    environment = {**aws.environment, **service_environment(stack, bundle=bundle, port=port)}
    with processes.serve(environment, url=f"http://127.0.0.1:{port}") as url:
        progress.say(f"service ready at {url} ({bundle.name})")
        yield url


def download_bundle(aws: LocalAws, stack: DevStack, target: Path) -> Path:
    aws.client("s3").download_file(stack.model_bucket, stack.model_key, str(target))
    return target


def send_traffic(url: str, frame: pd.DataFrame, label: str, progress: Progress) -> None:
    """One record per request, as clients call it; the answers are counted by status."""
    features = frame.drop(columns=[sample_data.TARGET, sample_data.TIMESTAMP])
    records = json.loads(features.to_json(orient="records"))
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


def reject_bad_challenger(
    aws: LocalAws, stack: DevStack, drifted: pd.DataFrame, queue_url: str, progress: Progress
) -> None:
    """Shuffled labels teach nothing: the gate must reject it and leave the trigger key alone."""
    s3 = aws.client("s3")
    before = s3.head_object(Bucket=stack.model_bucket, Key=stack.model_key)["VersionId"]
    shuffled = drifted.copy()
    shuffled[sample_data.TARGET] = np.random.default_rng(5).permutation(
        shuffled[sample_data.TARGET].to_numpy()
    )
    upload_training_data(aws, stack, shuffled, name="shuffled-labels")
    outcome = run_job("retrain_job.retrain", {**aws.environment, **retrain_environment(stack)}, progress)
    after = s3.head_object(Bucket=stack.model_bucket, Key=stack.model_key)["VersionId"]
    expect(outcome == EXIT_REJECTED, f"the bad challenger exited {outcome}, expected {EXIT_REJECTED}")
    expect(before == after, "the trigger key changed although the challenger was rejected")
    progress.say(
        f"bad challenger rejected (exit {outcome}); trigger key still at version {after}", remember=True
    )
    expect_pipeline_starts(aws, queue_url, stack, progress, expected=0)


if __name__ == "__main__":
    sys.exit(main())
