"""Benchmark of the quality job's join: predictions joined with outcomes, against a pandas merge.

    .venv/bin/python bench/quality.py [--predictions 1000000] [--rows-per-object 1000] [--share 0.5]

Builds gzip JSON-lines prediction logs in the service's format (10 features a record, a caller
key on each) and outcomes for `--share` of them (half named by request id + index, half by key,
with 1% duplicates), all in memory. Then, in the same run:

- ours: `OutcomeIndex.build` + the job's streamed join (`map_window` over the objects, `join_block`
  per block), as `retrain_job.quality.job.join_window` runs it, with an in-memory object store in
  place of S3 so that the figure is the join's, not the network's;
- baseline: every object read with `pandas.read_json(lines=True)`, concatenated, and joined with
  `DataFrame.merge` on (request_id, record_index) and on key; its merge alone is timed too.

Prints seconds, rows/s and the RSS each phase adds (sampled /proc/self/statm). It is not a test.
"""

from __future__ import annotations

import argparse
import gzip
import io
import os
import resource
import sys
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "src"), str(ROOT)]

import numpy as np  # noqa: E402
import orjson  # noqa: E402
import pandas as pd  # noqa: E402

from ml_deploy import outcomes, payload_log  # noqa: E402
from retrain_job.monitor.log_reader import LogObject, map_window  # noqa: E402
from retrain_job.quality.join import Joined, OutcomeIndex, join_block, parse_lines  # noqa: E402

START = datetime(2026, 10, 1, tzinfo=UTC)
END = START + timedelta(days=30)
OBSERVED = END + timedelta(days=10)


class MemoryStore:
    """`get_object` over objects held in memory: the S3 calls `map_window` makes, minus the network."""

    def __init__(self, objects: dict[str, bytes]) -> None:
        self.objects = objects

    def get_object(self, *, Bucket: str, Key: str) -> dict[str, Any]:
        return {"Body": io.BytesIO(self.objects[Key])}


def build(n: int, *, rows_per_object: int, share: float, seed: int) -> tuple[dict[str, bytes], list[bytes]]:
    """(prediction objects by key, outcome objects): n predictions, outcomes for `share` of them."""
    rng = np.random.default_rng(seed)
    probabilities = rng.random(n)
    stamps = [START + (END - START) * float(share) for share in rng.random(n // rows_per_object + 1)]
    objects: dict[str, bytes] = {}
    for number, first in enumerate(range(0, n, rows_per_object)):
        size = min(rows_per_object, n - first)
        lines = payload_log.encode_lines(
            request_id=f"req-{number:07d}", timestamp=payload_log.utc_timestamp(stamps[number]),
            model_version="v1" if number % 3 else "v2", environment="prod",
            inputs=[{f"f{i}": float(i) for i in range(10)}] * size,
            outputs=[(int(p >= 0.5), float(p)) for p in probabilities[first : first + size]],
            keys=[f"customer-{first + i}" for i in range(size)],
        )  # fmt: skip
        objects[f"predictions/prod/{number:07d}.jsonl.gz"] = gzip.compress(b"".join(lines), compresslevel=6)
    chosen = rng.choice(n, int(n * share), replace=False)
    chosen = np.concatenate([chosen, chosen[: len(chosen) // 100]])  # 1% duplicates
    stamp = payload_log.utc_timestamp(OBSERVED)
    labels = (rng.random(len(chosen)) < probabilities[chosen]).tolist()
    rows = []
    for i, label in zip(chosen.tolist(), labels, strict=True):
        named = (
            {
                "request_id": f"req-{i // rows_per_object:07d}",
                "record_index": i % rows_per_object,
                "key": None,
            }
            if i % 2
            else {"request_id": None, "record_index": None, "key": f"customer-{i}"}
        )
        rows.append({**named, "label": int(label), "observed_at": stamp})
    body = b"".join(orjson.dumps(row, option=orjson.OPT_APPEND_NEWLINE) for row in rows)
    return objects, [gzip.compress(body)]


def ours(objects: dict[str, bytes], outcome_objects: list[bytes]) -> tuple[Joined, OutcomeIndex]:
    tables = [parse_lines(gzip.decompress(body), outcomes.reader_schema())[0] for body in outcome_objects]
    index = OutcomeIndex.build(tables)
    total = Joined()
    listed = [LogObject(key, len(body)) for key, body in objects.items()]
    for part in map_window(
        MemoryStore(objects), bucket="memory", objects=listed, workers=2,
        summarise=lambda block: join_block(block, index, start=START, end=END),
        on_corrupt=lambda key, error: print(f"corrupt {key}: {error}"),
    ):  # fmt: skip
        total.merge(part)
    return total, index


def baseline(objects: dict[str, bytes], outcome_objects: list[bytes]) -> tuple[int, float]:
    """Joined rows and the seconds of the merges alone."""
    frames = [pd.read_json(io.BytesIO(gzip.decompress(body)), lines=True) for body in objects.values()]
    predictions = pd.concat(frames, ignore_index=True)
    predictions["probability"] = [output["probability"] for output in predictions["output"]]
    labels = pd.concat([pd.read_json(io.BytesIO(gzip.decompress(b)), lines=True) for b in outcome_objects])
    labels = labels.sort_values("observed_at")
    started = time.perf_counter()
    by_request = labels.dropna(subset=["request_id"]).drop_duplicates(
        ["request_id", "record_index"], keep="last"
    )
    by_key = labels.dropna(subset=["key"]).drop_duplicates(["key"], keep="last")
    columns = ["request_id", "record_index", "key", "probability", "model_version"]
    on_request = ["request_id", "record_index"]
    joined = pd.concat(
        [
            predictions[columns].merge(by_request[[*on_request, "label"]], on=on_request),
            predictions[columns].merge(by_key[["key", "label"]], on="key"),
        ]
    )
    return len(joined), time.perf_counter() - started


def rss_mib() -> float:
    """Peak RSS of this process so far (a high-water mark: includes building the data)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


class RssSampler:
    """The highest current RSS (/proc/self/statm) seen while running: what a phase adds on top."""

    def __init__(self) -> None:
        self.peak = self.before = self._current()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)

    @staticmethod
    def _current() -> float:
        return int(Path("/proc/self/statm").read_text().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20

    def _sample(self) -> None:
        while not self._stop.wait(0.01):
            self.peak = max(self.peak, self._current())

    def __enter__(self) -> RssSampler:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join()

    @property
    def added(self) -> float:
        return self.peak - self.before


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--predictions", type=int, default=1_000_000)
    parser.add_argument("--rows-per-object", type=int, default=1_000)
    parser.add_argument("--share", type=float, default=0.5, help="share of predictions with an outcome")
    args = parser.parse_args()
    n = args.predictions
    objects, outcome_objects = build(n, rows_per_object=args.rows_per_object, share=args.share, seed=0)
    compressed = sum(map(len, objects.values())) / 2**20
    print(
        f"{n:,} predictions in {len(objects):,} objects ({compressed:.0f} MiB gzip), "
        f"built in a process of {rss_mib():.0f} MiB"
    )

    started, cpu = time.perf_counter(), time.process_time()
    with RssSampler() as memory:
        joined, index = ours(objects, outcome_objects)
    seconds, cpu = time.perf_counter() - started, time.process_time() - cpu
    matched = sum(rows.joined()[0].size for rows in joined.versions.values())
    print(
        f"ours:     {seconds:6.2f} s  {n / seconds:10,.0f} predictions/s  joined {matched:,} "
        f"(outcomes {index.read:,}, duplicates {index.duplicates:,}); "
        f"CPU {cpu:.2f} s; RSS +{memory.added:.0f} MiB"
    )

    started, cpu = time.perf_counter(), time.process_time()
    with RssSampler() as memory:
        rows, merge_seconds = baseline(objects, outcome_objects)
    seconds, cpu = time.perf_counter() - started, time.process_time() - cpu
    print(
        f"baseline: {seconds:6.2f} s  {n / seconds:10,.0f} predictions/s  joined {rows:,} "
        f"(read_json + merge; merges alone {merge_seconds:.2f} s); "
        f"CPU {cpu:.2f} s; RSS +{memory.added:.0f} MiB"
    )
    print(f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores (the machine is shared)")


if __name__ == "__main__":
    main()
