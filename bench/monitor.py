"""Benchmark of the monitoring job: rows/s and peak memory by window size, and a naive baseline.

    .venv/bin/python bench/monitor.py [--sizes 100000,1000000,10000000] [--rows-per-object 1000]

Starts a local `moto_server` on 127.0.0.1, writes a champion bundle with 20 features and windows
of gzip JSON-lines logs (a few distinct objects built once, then copied server-side), and runs
the real job (`retrain_job.monitor.job.run`) once per size, each in its own subprocess. Peak RSS is
`RUSAGE_CHILDREN` read by a lean wrapper process around each run: Linux carries the forking
process's high-water mark across exec, so a child forked straight from this (large) process would
report this process's size instead of its own. Prints a table; it is not a test.
"""

from __future__ import annotations

import argparse
import gzip
import io
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from ml_deploy_dev.local_aws import moto_server

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "src"), str(ROOT)]

END = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)
ROWS_PER_OBJECT = 1_000  # what a service task flushes at moderate traffic; --rows-per-object
DISTINCT_OBJECTS = 4
N_NUMERIC, N_CATEGORICAL = 14, 6
LOG_BUCKET, MODEL_BUCKET, MODEL_KEY = "bench-logs", "bench-models", "models/bundle.zip"
REGION = "us-east-1"


def frame(n: int, *, seed: int) -> Any:
    """A 20-feature world: skewed and normal numerics with gaps, categoricals of 3 to 12 values."""
    import numpy as np
    import pandas as pd

    rng = np.random.default_rng(seed)
    columns: dict[str, Any] = {}
    for i in range(N_NUMERIC):
        values = rng.gamma(2.0, 10.0, n) if i % 2 else rng.normal(50.0 + i, 10.0, n)
        values = np.round(values, 2)
        values[rng.random(n) < 0.02] = np.nan
        columns[f"num_{i:02d}"] = values
    for i in range(N_CATEGORICAL):
        categories = [f"c{i}_{k}" for k in range(3 + 2 * i)]
        columns[f"cat_{i:02d}"] = pd.Categorical.from_codes(rng.integers(0, len(categories), n), categories)
    logit = 0.03 * (columns["num_00"] - 50.0) - 0.02 * np.nan_to_num(columns["num_01"])
    columns["target"] = (rng.random(n) < 1 / (1 + np.exp(-logit))).astype(np.int8)
    return pd.DataFrame(columns)


def make_bundle(folder: Path) -> tuple[Path, Any, Any]:
    from ml_deploy.bundle import TrainingData, write_bundle
    from retrain_job.retrain.training import build_manifest, infer_features, train

    training, holdout = frame(5_000, seed=1), frame(5_000, seed=2)
    features = infer_features(training, "target")
    model = train(training, features, "target", seed=0, params={"max_iter": 30})
    manifest = build_manifest(
        model, features=features, target="target", holdout=holdout, code_version="bench",
        training_data=TrainingData(fingerprint="0" * 64, rows=len(training), source="bench"),
    )  # fmt: skip
    return write_bundle(folder / "bundle.zip", model=model, manifest=manifest), model, manifest


def log_object(manifest: Any, model: Any, *, seed: int) -> bytes:
    import orjson

    from ml_deploy import payload_log
    from ml_deploy.schema import encode_frame

    data = frame(ROWS_PER_OBJECT, seed=100 + seed)
    probabilities = model.predict_proba(encode_frame(data, manifest.features))[:, 1]
    names = [spec.name for spec in manifest.features]
    values = {n: data[n].astype(object).where(data[n].notna(), None).tolist() for n in names}
    stamp, version = payload_log.utc_timestamp(END), manifest.bundle_version
    lines = [
        orjson.dumps(
            {
                "request_id": f"{seed:02d}{i:010d}",
                "record_index": 0,
                "timestamp": stamp,
                "model_version": version,
                "environment": "prod",
                "input": {n: values[n][i] for n in names},
                "output": {"prediction": int(p >= 0.5), "probability": float(p)},
            }
        )
        for i, p in enumerate(probabilities)
    ]
    return gzip.compress(b"\n".join(lines) + b"\n", compresslevel=6)


def upload_window(s3: Any, *, environment: str, rows: int, sources: list[str]) -> None:
    """`rows` rows as copies of the distinct objects, spread over the window's 24 hours."""
    from ml_deploy import payload_log

    for i in range(rows // ROWS_PER_OBJECT):
        when = END - timedelta(hours=i % 24)
        key = payload_log.object_key(f"predictions/{environment}/", when, writer=f"bench{i}")
        s3.copy_object(
            Bucket=LOG_BUCKET, Key=key, CopySource={"Bucket": LOG_BUCKET, "Key": sources[i % len(sources)]}
        )


def child_run(environment: str) -> None:
    """One monitor run in this process; prints its wall seconds as JSON."""
    from ml_deploy.settings import MonitorSettings
    from retrain_job.monitor import job

    argv = ["--model-bucket", MODEL_BUCKET, "--model-key", MODEL_KEY, "--log-bucket", LOG_BUCKET,
            "--environment", environment, "--end", END.isoformat(), "--aws-region", REGION]  # fmt: skip
    settings = MonitorSettings.from_args(argv, os.environ)
    started = time.perf_counter()
    sys.stdout = io.StringIO()  # the job's summary is not part of the table
    code = job.run(settings)
    seconds = time.perf_counter() - started
    sys.stdout = sys.__stdout__
    print(json.dumps({"code": code, "seconds": seconds}))


def measure(environment: str) -> None:
    """The lean wrapper: run one monitor child, add the child's peak RSS to its JSON line."""
    result = subprocess.run(
        [sys.executable, __file__, "--child", environment], capture_output=True, text=True, check=True
    )
    outcome = json.loads(result.stdout.strip().splitlines()[-1])
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    outcome |= {"peak_kib": usage.ru_maxrss, "cpu_seconds": usage.ru_utime + usage.ru_stime}
    print(json.dumps(outcome))


def run_measured(environment: str, env: dict[str, str]) -> dict[str, Any]:
    result = subprocess.run(
        [sys.executable, __file__, "--measure", environment],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    outcome: dict[str, Any] = json.loads(result.stdout.strip().splitlines()[-1])
    return outcome


def server_cpu_seconds(pid: int) -> float:
    """CPU time of the local S3 stand-in: it shares this machine's cores with the job."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def naive_baseline(s3: Any, manifest: Any, *, environment: str) -> tuple[int, float]:
    """A generic drift check: pandas parses every line into a DataFrame, then histograms."""
    import numpy as np
    import pandas as pd

    started = time.perf_counter()
    rows = 0
    reference = manifest.reference.features
    prefix = f"predictions/{environment}/"
    pages = s3.get_paginator("list_objects_v2").paginate(Bucket=LOG_BUCKET, Prefix=prefix)
    for item in (item for page in pages for item in page.get("Contents", [])):
        raw = gzip.decompress(s3.get_object(Bucket=LOG_BUCKET, Key=item["Key"])["Body"].read())
        logs = pd.read_json(io.BytesIO(raw), lines=True)
        inputs = pd.json_normalize(logs["input"].tolist())
        for spec in manifest.features:
            if spec.type == "numeric":
                np.histogram(
                    inputs[spec.name].dropna(), bins=[-np.inf, *reference[spec.name].bin_edges, np.inf]
                )
            else:
                inputs[spec.name].value_counts()
        rows += len(logs)
    return rows, time.perf_counter() - started


def statistics_alone(manifest: Any, model: Any, *, rows: int) -> float:
    """Rows/s of binning a parsed block plus the drift statistics, one core."""
    from retrain_job.monitor import drift
    from retrain_job.monitor.log_parser import LogLayout, parse_block
    from retrain_job.monitor.window import Binning, count_block

    raw = gzip.decompress(log_object(manifest, model, seed=0))
    columns = parse_block(raw, LogLayout.from_features(manifest.features, model_version=None))
    binning = Binning.from_manifest(manifest)
    repeats = max(rows // columns.rows, 1)
    started = time.perf_counter()
    total = binning.empty_counts()
    for _ in range(repeats):
        total.merge(count_block(columns, binning))
    drift.compare(manifest, total, thresholds=drift.Thresholds())
    drift.compare_predictions(manifest.reference.prediction, total, thresholds=drift.Thresholds())
    return repeats * columns.rows / (time.perf_counter() - started)


def _row(what: str, *cells: Any) -> None:
    def text(cell: Any) -> str:
        if cell is None:
            return ""
        if isinstance(cell, float):
            return f"{cell:,.0f}" if cell >= 1000 else f"{cell:.1f}"
        return f"{cell:,}" if isinstance(cell, int) else str(cell)

    print(f"{what:46s} " + " ".join(f"{text(cell):>12s}" for cell in cells), flush=True)


def main() -> int:
    global ROWS_PER_OBJECT
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sizes", default="100000,1000000,10000000")
    parser.add_argument("--rows-per-object", type=int, default=1_000)
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--measure", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child_run(args.child)
        return 0
    if args.measure:
        measure(args.measure)
        return 0
    import boto3

    ROWS_PER_OBJECT = args.rows_per_object
    os.environ.update(
        {"AWS_ACCESS_KEY_ID": "bench", "AWS_SECRET_ACCESS_KEY": "bench", "AWS_DEFAULT_REGION": REGION}
    )
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    with moto_server() as aws:
        url = aws.endpoint
        env = {**os.environ, "AWS_ENDPOINT_URL": url}
        s3 = boto3.client("s3", endpoint_url=url, region_name=REGION)
        with tempfile.TemporaryDirectory() as folder:
            bundle, model, manifest = make_bundle(Path(folder))
            for bucket in (LOG_BUCKET, MODEL_BUCKET):
                s3.create_bucket(Bucket=bucket)
            s3.upload_file(str(bundle), MODEL_BUCKET, MODEL_KEY)
        sources = []
        for seed in range(DISTINCT_OBJECTS):
            sources.append(f"sources/{seed}.jsonl.gz")
            s3.put_object(Bucket=LOG_BUCKET, Key=sources[-1], Body=log_object(manifest, model, seed=seed))
        print(f"load average before: {os.getloadavg()[0]:.1f} (2 cores; other work shares them)")
        _row("what", "rows", "wall s", "rows/s", "job CPU s", "rows/CPU-s", "peak RSS MiB")
        stats_rate = statistics_alone(manifest, model, rows=2_000_000)
        _row(
            "statistics alone (bin + compare), one core", 2_000_000, None, stats_rate, None, stats_rate, None
        )
        sizes = [int(size) for size in args.sizes.split(",")]
        seconds_by_size: dict[int, float] = {}
        for size in sizes:
            environment = f"bench{size}"
            upload_window(s3, environment=environment, rows=size, sources=sources)
            server_before = server_cpu_seconds(aws.pid)
            outcome = run_measured(environment, env)
            server_seconds = server_cpu_seconds(aws.pid) - server_before
            seconds_by_size[size] = outcome["seconds"]
            _row(f"monitor end to end ({server_seconds:.1f} CPU s in moto)", size, outcome["seconds"],
                 size / outcome["seconds"], outcome["cpu_seconds"], size / outcome["cpu_seconds"],
                 outcome["peak_kib"] / 1024)  # fmt: skip
        if len(sizes) > 1:
            small, large = sizes[-2], sizes[-1]
            extra = seconds_by_size[large] - seconds_by_size[small]
            _row(f"marginal rate {small:,} -> {large:,} (no startup)", large - small, extra,
                 (large - small) / extra, None, None, None)  # fmt: skip
        started_cpu = time.process_time()
        rows, seconds = naive_baseline(s3, manifest, environment=f"bench{sizes[0]}")
        cpu = time.process_time() - started_cpu
        _row(
            "naive: pd.read_json(lines) + json_normalize",
            rows,
            seconds,
            rows / seconds,
            cpu,
            rows / cpu,
            None,
        )
        print(f"load average after: {os.getloadavg()[0]:.1f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
