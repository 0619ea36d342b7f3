"""Training time and peak memory of the retrain model at growing row counts (prints a table).

Each size runs in its own subprocess, so peak RSS (getrusage maxrss: numpy allocations included,
which tracemalloc misses) belongs to that size alone. Targets: time at most linear in rows,
1M rows under 60 s, peak memory under 4 GiB at 5M rows.

    .venv/bin/python bench/retrain.py [--sizes 100000 1000000 5000000]

One run on the 2-core dev machine (shared with other jobs, load average 4-7), 2 OpenMP threads:
100k 1.6 s / 250 MiB; 1M 15-18 s / 555 MiB; 2M 46 s / 886 MiB; 5M 135 s / 1870 MiB. Per row and
iteration, 5M costs ~1.4x 1M: the gradient and binned arrays outgrow the 32 MiB L3 cache.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "src"), str(ROOT)]


def measure(rows: int) -> dict[str, float]:
    """Generate `rows`, then infer the schema and train as the retrain job does; time each step."""
    from ml_deploy_dev import sample_data
    from retrain_job.retrain.training import infer_features, train

    started = time.perf_counter()
    frame = sample_data.generate(rows, seed=0)
    generated = time.perf_counter()
    features = infer_features(frame, sample_data.TARGET)
    model = train(frame, features, sample_data.TARGET, seed=0)
    trained = time.perf_counter()
    peak_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux
    return {
        "rows": rows,
        "generate_s": generated - started,
        "train_s": trained - generated,
        "iterations": float(model.n_iter_),
        "peak_mib": peak_kib / 1024,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sizes", type=int, nargs="+", default=[100_000, 1_000_000, 5_000_000])
    parser.add_argument("--child", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        print(json.dumps(measure(args.child)))
        return 0
    print(f"{'rows':>10} {'gen s':>7} {'train s':>8} {'iters':>6} {'us/row/iter':>12} "
          f"{'peak MiB':>9} {'time/row vs prev':>17}")  # fmt: skip
    previous: dict[str, float] | None = None
    for rows in args.sizes:
        child = subprocess.run(
            [sys.executable, __file__, "--child", str(rows)],
            capture_output=True,
            text=True,
            check=True,
        )
        result = json.loads(child.stdout.strip().splitlines()[-1])
        per_row_iter = result["train_s"] / rows / result["iterations"] * 1e6
        growth = "-"
        if previous:
            ratio = (result["train_s"] / rows) / (previous["train_s"] / previous["rows"])
            growth = f"{ratio:.2f}x"
        print(f"{rows:>10,} {result['generate_s']:>7.1f} {result['train_s']:>8.1f} "
              f"{result['iterations']:>6.0f} {per_row_iter:>12.3f} {result['peak_mib']:>9.0f} "
              f"{growth:>17}", flush=True)  # fmt: skip
        previous = result
    return 0


if __name__ == "__main__":
    sys.exit(main())
