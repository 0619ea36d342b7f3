"""What the deployment smoke test costs, against the real server on 127.0.0.1 (prints figures).

Trains a bundle on sample data, serves it with `python -m service`, puts it in an in-process moto
S3, and times: the smoke test as the Lambda runs it (256 golden records one per request over one
keep-alive connection), the same requests with a new connection each (what a naive urllib loop
pays), and all 256 in one batch request (the floor, with no per-request latency to report).
Also the in-process replay `python -m ml_deploy.bundle verify` adds to verifying a bundle.

    .venv/bin/python bench/smoke_hook.py [--repeat 3]

Numbers on a shared machine move with the neighbours' load; compare ratios within one run.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any

import _common  # noqa: F401  (first: this checkout's code on the path)

from ml_deploy_dev.sample_bundle import write_sample_bundle
from ml_deploy_dev.servers import serving


def _post_seconds(url: str, body: dict[str, Any], *, timeout: float) -> float:
    """One POST /predict on a new connection, read to the end: seconds it took."""
    request = urllib.request.Request(
        f"{url}/predict", data=json.dumps(body).encode(), headers={"Content-Type": "application/json"}
    )
    started = time.perf_counter()
    with urllib.request.urlopen(request, timeout=timeout) as answer:
        answer.read()
    return time.perf_counter() - started


def _new_connection_each(url: str, records: list[dict[str, Any]]) -> list[float]:
    return [_post_seconds(url, {"record": record}, timeout=10) * 1000.0 for record in records]


def _one_batch(url: str, records: list[dict[str, Any]]) -> float:
    return _post_seconds(url, {"records": records}, timeout=30)


def _p(values: list[float], percent: float) -> float:
    ordered = sorted(values)
    return ordered[max(0, -(-len(ordered) * int(percent) // 100) - 1)]


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    os.environ.update(
        AWS_ACCESS_KEY_ID="bench", AWS_SECRET_ACCESS_KEY="bench", AWS_DEFAULT_REGION="eu-west-1"
    )
    os.environ.pop("AWS_ENDPOINT_URL", None)
    import boto3
    from moto import mock_aws

    from infra.serving.smoke_hook import handler as hook
    from ml_deploy.bundle import read_bundle, replay, verify_bundle
    from ml_deploy.layout import DEFAULT_LAYOUT
    from ml_deploy.settings import SmokeHookSettings, environment

    with tempfile.TemporaryDirectory() as scratch, mock_aws():
        bundle_path = write_sample_bundle(Path(scratch) / "bundle.zip", code_version="bench")
        bundle = read_bundle(bundle_path)
        assert bundle.golden_records is not None
        records = [golden.record for golden in bundle.golden_records.records]
        version = bundle.manifest.bundle_version
        s3 = boto3.client("s3", region_name="eu-west-1")
        s3.create_bucket(Bucket="models", CreateBucketConfiguration={"LocationConstraint": "eu-west-1"})
        key = DEFAULT_LAYOUT.archived_bundle_key(version)
        s3.put_object(Bucket="models", Key=key, Body=bundle_path.read_bytes())

        started = time.perf_counter()
        for _ in range(args.repeat):
            verify_bundle(bundle_path)
        plain = (time.perf_counter() - started) / args.repeat
        started = time.perf_counter()
        for _ in range(args.repeat):
            loaded = read_bundle(bundle_path)
            assert loaded.golden_records is not None
            replay(loaded.model, loaded.golden_records, loaded.manifest.features)
        replayed = (time.perf_counter() - started) / args.repeat
        print(
            f"verify_bundle {plain * 1000:.1f} ms; "
            f"with model load + replay of 256 records {replayed * 1000:.1f} ms"
        )

        with serving(bundle_path, ENVIRONMENT="stage", LOG_LEVEL="warning", LOG_BUCKET=None) as url:
            environ = {
                name: str(value)
                for name, value in environment(
                    SmokeHookSettings, environment="bench", model_bucket="models", test_url=url,
                    bundle_key_template=DEFAULT_LAYOUT.archived_bundle_key("{version}"),
                    result_key_template=DEFAULT_LAYOUT.smoke_test_key("{environment}", "{version}"),
                ).items()
            }  # fmt: skip
            _one_batch(url, records)  # warm up
            hook_runs = [hook.smoke_test(environ, s3=s3) for _ in range(args.repeat)]
            assert all(run.status == "SUCCEEDED" for run in hook_runs), [run.failures for run in hook_runs]
            fresh = [_new_connection_each(url, records) for _ in range(args.repeat)]
            batch = statistics.median(_one_batch(url, records) for _ in range(args.repeat))
    hook_seconds = statistics.median(run.seconds for run in hook_runs)
    hook_p50 = statistics.median(run.p50_ms or 0.0 for run in hook_runs)
    hook_p99 = statistics.median(run.p99_ms or 0.0 for run in hook_runs)
    fresh_seconds = statistics.median(sum(run) / 1000.0 for run in fresh)
    fresh_p50 = statistics.median(_p(run, 50) for run in fresh)
    fresh_p99 = statistics.median(_p(run, 99) for run in fresh)
    rows = [
        (
            "smoke test (keep-alive, 1 record/request)",
            hook_seconds,
            f"p50 {hook_p50:.2f} ms, p99 {hook_p99:.2f} ms",
        ),
        ("new connection per request", fresh_seconds, f"p50 {fresh_p50:.2f} ms, p99 {fresh_p99:.2f} ms"),
        ("one batch of 256 (no per-request latency)", batch, ""),
    ]
    for label, seconds, detail in rows:
        print(f"{label:<44} {seconds * 1000:8.1f} ms  {detail}")
    print(
        f"ratios: new connection each / smoke test {fresh_seconds / hook_seconds:.2f}x; "
        f"smoke test / one batch {hook_seconds / batch:.0f}x"
    )


if __name__ == "__main__":
    main()
