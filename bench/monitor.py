"""Benchmark of the monitor: summarizing closed hours, and a window merged from summaries vs read in full.

    .venv/bin/python bench/monitor.py [--rows-per-hour 50000] [--rows-per-object 1000]

Starts a local `moto_server` on 127.0.0.1, writes a champion bundle with 20 features and 24 hours
of gzip JSON-lines logs (a few distinct objects built once, then copied server-side), then prints:
summarize throughput in-process (objects already in memory: parse, bin, no S3) and end to end
(`backfill` against moto, whose own CPU is counted apart), the same through a proxy that delays
every GET by 20-50 ms (S3's real latency) with 8 and with 32 concurrent fetches, and windows of
6, 12 and 24 hours merged from summaries against a full read of the same rows (the check with a
grace period so long that no hour counts as closed). Each job run is its own subprocess; peak RSS
is `RUSAGE_CHILDREN` of a lean wrapper around it (Linux carries a forking process's high-water
mark across exec). Prints a table; it is not a test.
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

from bench.latency_proxy import latency_proxy  # noqa: E402 - after the path set-up above

END = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)
ROWS_PER_OBJECT = 1_000  # what a service task flushes at moderate traffic; --rows-per-object
DISTINCT_OBJECTS = 4
N_NUMERIC, N_CATEGORICAL = 14, 6
LOG_BUCKET, MODEL_BUCKET, MODEL_KEY = "bench-logs", "bench-models", "models/bundle.zip"
REGION = "us-east-1"
ENVIRONMENT = "bench"


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


def upload_hours(s3: Any, *, hours: int, rows_per_hour: int, sources: list[str]) -> None:
    """`rows_per_hour` rows in each of the `hours` hours before END, as copies of the distinct objects."""
    from ml_deploy import payload_log

    for hour in range(hours):
        when = END - timedelta(hours=hour + 1, minutes=-30)
        for i in range(rows_per_hour // ROWS_PER_OBJECT):
            key = payload_log.object_key(f"predictions/{ENVIRONMENT}/", when, writer=f"bench{i}")
            source = {"Bucket": LOG_BUCKET, "Key": sources[i % len(sources)]}
            s3.copy_object(Bucket=LOG_BUCKET, Key=key, CopySource=source)


def job_argv(**flags: Any) -> list[str]:
    argv = ["--model-bucket", MODEL_BUCKET, "--model-key", MODEL_KEY, "--log-bucket", LOG_BUCKET,
            "--environment", ENVIRONMENT, "--end", END.isoformat(), "--aws-region", REGION]  # fmt: skip
    for name, value in flags.items():
        argv += [f"--{name.replace('_', '-')}", str(value)]
    return argv


def child_run(spec: str) -> None:
    """One monitor run in this process (`python -m retrain_job.monitor ARGV`); prints its wall seconds."""
    from retrain_job.monitor import log_reader, modes

    task = json.loads(spec)
    if task.get("fetchers"):
        log_reader.FETCHERS = int(task["fetchers"])
    started = time.perf_counter()
    sys.stdout = io.StringIO()  # the job's own summary is not part of the table
    code = modes.main(task["argv"])
    seconds = time.perf_counter() - started
    sys.stdout = sys.__stdout__
    print(json.dumps({"code": code, "seconds": seconds}))


def measure(spec: str) -> None:
    """The lean wrapper: run one monitor child, add the child's peak RSS and CPU to its JSON line."""
    result = subprocess.run([sys.executable, __file__, "--child", spec], capture_output=True, text=True)
    if result.returncode:
        raise SystemExit(result.stderr)
    outcome = json.loads(result.stdout.strip().splitlines()[-1])
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    outcome |= {"peak_kib": usage.ru_maxrss, "cpu_seconds": usage.ru_utime + usage.ru_stime}
    print(json.dumps(outcome))


def run_measured(env: dict[str, str], argv: list[str], *, fetchers: int | None = None) -> dict[str, Any]:
    spec = json.dumps({"argv": argv, "fetchers": fetchers})
    result = subprocess.run([sys.executable, __file__, "--measure", spec], env=env, capture_output=True,
                            text=True)  # fmt: skip
    if result.returncode:
        raise SystemExit(f"monitor run {argv} failed: {result.stderr or result.stdout}")
    outcome: dict[str, Any] = json.loads(result.stdout.strip().splitlines()[-1])
    if outcome["code"] != 0:
        raise SystemExit(f"monitor run {argv} exited {outcome['code']}")
    return outcome


class InMemoryS3:
    """The objects of one hour held in memory: summarize without any S3 in the way (a bench stand-in)."""

    def __init__(self, bodies: dict[str, bytes]) -> None:
        self.bodies = bodies

    def get_object(self, *, Bucket: str, Key: str) -> dict[str, Any]:
        return {"Body": io.BytesIO(self.bodies[Key])}


def in_process_rate(s3: Any, manifest: Any, *, hours: int = 2) -> tuple[int, float, float]:
    """(rows, wall s, CPU s) of summarizing `hours` hours whose objects are already in memory."""
    from ml_deploy.settings import MonitorSettings
    from retrain_job.monitor.hours import read_rows
    from retrain_job.monitor.log_reader import LogObject
    from retrain_job.monitor.versions import Catalog

    settings = MonitorSettings.from_args(job_argv())
    bodies: dict[str, bytes] = {}
    pages = s3.get_paginator("list_objects_v2").paginate(
        Bucket=LOG_BUCKET, Prefix=f"predictions/{ENVIRONMENT}/"
    )
    for item in [item for page in pages for item in page.get("Contents", [])]:
        if len(bodies) >= hours * 10_000:
            break
        bodies[item["Key"]] = s3.get_object(Bucket=LOG_BUCKET, Key=item["Key"])["Body"].read()
    catalog = Catalog(manifest, load=lambda version: None)
    objects = [LogObject(key, len(body)) for key, body in bodies.items()]
    started, cpu = time.perf_counter(), time.process_time()
    tally = read_rows(InMemoryS3(bodies), bucket=LOG_BUCKET, objects=objects, catalog=catalog,
                      bounds=(None, None), settings=settings)  # fmt: skip
    return sum(tally.rows().values()), time.perf_counter() - started, time.process_time() - cpu


def server_cpu_seconds(pid: int) -> float:
    """CPU time of the local S3 stand-in: it shares this machine's cores with the job."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _row(what: str, *cells: Any) -> None:
    def text(cell: Any) -> str:
        if cell is None:
            return ""
        if isinstance(cell, float):
            return f"{cell:,.0f}" if cell >= 1000 else f"{cell:.1f}"
        return f"{cell:,}" if isinstance(cell, int) else str(cell)

    print(f"{what:62s} " + " ".join(f"{text(cell):>12s}" for cell in cells), flush=True)


def main() -> int:
    global ROWS_PER_OBJECT
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rows-per-hour", type=int, default=50_000)
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
        s3 = boto3.client("s3", endpoint_url=aws.endpoint, region_name=REGION)
        manifest = setup(s3)
        upload_hours(s3, hours=24, rows_per_hour=args.rows_per_hour, sources=SOURCES)
        print(f"load average before: {os.getloadavg()[0]:.1f} (2 cores; other work shares them)")
        _row("what", "rows", "wall s", "rows/s", "job CPU s", "rows/CPU-s", "peak RSS MiB")
        rows, wall, cpu = in_process_rate(s3, manifest)
        _row("summarize in-process (2 workers, no S3)", rows, wall, rows / wall, cpu, rows / cpu, None)
        env = {**os.environ, "AWS_ENDPOINT_URL": aws.endpoint}
        day = 24 * args.rows_per_hour
        summarized = end_to_end(aws, env, job_argv(), rows=day, label="summarize 24 h end to end (backfill)")
        with latency_proxy(aws.endpoint) as slow:
            for fetchers in (8, 32):
                prefix = f"monitor/proxy{fetchers}/"
                end_to_end(aws, {**env, "AWS_ENDPOINT_URL": slow}, job_argv(summaries_prefix=prefix),
                           rows=6 * args.rows_per_hour, hours=6, fetchers=fetchers,
                           label=f"summarize 6 h, GETs +20-50 ms, {fetchers} fetches")  # fmt: skip
        compare_windows(aws, env, rows_per_hour=args.rows_per_hour)
        print(f"summaries written in {summarized:.1f} s; load average after: {os.getloadavg()[0]:.1f}")
    return 0


SOURCES: list[str] = []


def setup(s3: Any) -> Any:
    with tempfile.TemporaryDirectory() as folder:
        bundle, model, manifest = make_bundle(Path(folder))
        for bucket in (LOG_BUCKET, MODEL_BUCKET):
            s3.create_bucket(Bucket=bucket)
        s3.upload_file(str(bundle), MODEL_BUCKET, MODEL_KEY)
    for seed in range(DISTINCT_OBJECTS):
        SOURCES.append(f"sources/{seed}.jsonl.gz")
        s3.put_object(Bucket=LOG_BUCKET, Key=SOURCES[-1], Body=log_object(manifest, model, seed=seed))
    return manifest


def end_to_end(
    aws: Any,
    env: dict[str, str],
    argv: list[str],
    *,
    rows: int,
    label: str,
    hours: int = 24,
    fetchers: int | None = None,
) -> float:
    """`backfill` of the `hours` hours before END in a measured child; one table row."""
    span = ["backfill", "--from", (END - timedelta(hours=hours)).isoformat(), "--to", END.isoformat()]
    before = server_cpu_seconds(aws.pid)
    outcome = run_measured(env, span + argv, fetchers=fetchers)
    server = server_cpu_seconds(aws.pid) - before
    seconds, cpu = outcome["seconds"], outcome["cpu_seconds"]
    _row(f"{label} (+{server:.1f} CPU s in moto)", rows, seconds, rows / seconds, cpu, rows / cpu,
         outcome["peak_kib"] / 1024)  # fmt: skip
    return float(seconds)


def window_step(s3: Any, *, hours: int, full: bool) -> float:
    """Wall seconds of the window step alone (list the hours, merge or read), in this process."""
    from ml_deploy.settings import MonitorSettings
    from retrain_job.monitor import job
    from retrain_job.monitor.hours import window_tally
    from retrain_job.monitor.log_reader import window_bounds

    grace = {"summary_grace_minutes": 10**7} if full else {}
    settings = MonitorSettings.from_args(job_argv(window_hours=hours, **grace))
    catalog = job.load_catalog(s3, settings)
    window = window_bounds(hours=hours, end=END, now=datetime.now(UTC))
    started = time.perf_counter()
    planned = job.plan_window(s3, settings, window=window, now=datetime.now(UTC))
    window_tally(s3, settings, bucket=LOG_BUCKET, hours=planned, catalog=catalog, window=window)
    return time.perf_counter() - started


def compare_windows(aws: Any, env: dict[str, str], *, rows_per_hour: int) -> None:
    """Each window merged from its hours' summaries, then read in full (no hour closed)."""
    import boto3

    s3 = boto3.client("s3", endpoint_url=aws.endpoint, region_name=REGION)
    for hours in (6, 12, 24):
        merge_step, full_step = (
            window_step(s3, hours=hours, full=False),
            window_step(s3, hours=hours, full=True),
        )
        ratio = full_step / merge_step
        print(f"  {hours} h window step alone (no start-up, bundle or report): merge {merge_step:.2f} s, "
              f"full read {full_step:.2f} s: {ratio:.0f}x", flush=True)  # fmt: skip
    for hours in (6, 12, 24):
        merged = run_measured(env, job_argv(window_hours=hours))
        full = run_measured(env, job_argv(window_hours=hours, summary_grace_minutes=10**7))
        rows = hours * rows_per_hour
        for label, outcome in ((f"window {hours} h merged from summaries", merged),
                               (f"window {hours} h read in full", full)):  # fmt: skip
            _row(label, rows, outcome["seconds"], rows / outcome["seconds"], outcome["cpu_seconds"], None,
                 outcome["peak_kib"] / 1024)  # fmt: skip
        print(
            f"  {hours} h: merge {full['seconds'] / merged['seconds']:.1f}x faster than the full read",
            flush=True,
        )


if __name__ == "__main__":
    sys.exit(main())
