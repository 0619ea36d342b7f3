"""What archiving the built bundle adds to the Build stage, against moto_server on 127.0.0.1.

Trains a bundle on sample data, starts `moto_server`, and times the buildspec's step as the build
runs it (`python -m ml_deploy_cli archive-bundle`, a fresh interpreter each time): the first
archive (conditional PUT) and a rebuild of the same bundle (412, GET, content compare: a no-op),
against a step the build already runs, `python -m ml_deploy.bundle show --field bundle_version`.
In process, it also times the content checksum against a plain SHA-256 of the zip's bytes.

    .venv/bin/python bench/archive_bundle.py [--repeat 3]

Numbers on a shared machine move with the neighbours' load; compare ratios within one run.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from _common import best, timed

from ml_deploy_dev.sample_bundle import write_sample_bundle


def _seconds(command: list[str], env: dict[str, str]) -> float:
    started = time.perf_counter()
    subprocess.run(command, env=env, check=True, capture_output=True)
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    repeat = parser.parse_args().repeat

    from ml_deploy_cli.aws.archive import content_sha256
    from ml_deploy_dev.local_aws import create_bucket, moto_server

    with tempfile.TemporaryDirectory() as scratch, moto_server() as aws:
        bundle = write_sample_bundle(Path(scratch) / "bundle.zip", code_version="bench")
        env = {**os.environ, **aws.environment}
        python = sys.executable
        archive = [python, "-m", "ml_deploy_cli", "archive-bundle", str(bundle), "--model-bucket"]
        show = [python, "-m", "ml_deploy.bundle", "show", "--field", "bundle_version", str(bundle)]
        buckets = iter(range(10_000))

        def first_archive() -> float:
            bucket = f"bench-models-{next(buckets)}"
            create_bucket(aws, bucket, versioned=True)
            return _seconds([*archive, bucket], env)

        create_bucket(aws, "bench-models-kept", versioned=True)
        again = [*archive, "bench-models-kept"]
        subprocess.run(again, env=env, check=True, capture_output=True)

        baseline = best(lambda: _seconds(show, env), repeat)
        written = best(first_archive, repeat)
        no_op = best(lambda: _seconds(again, env), repeat)
        data = bundle.read_bytes()
        plain = best(lambda: timed(lambda: hashlib.sha256(data).hexdigest()), repeat * 10)
        content = best(lambda: timed(lambda: content_sha256(data)), repeat * 10)

    print(f"bundle {len(data) / 1e6:.2f} MB, best of {repeat}")
    print(f"{'step':68} {'seconds':>10} {'ratio':>6}")
    rows = [
        ("baseline: bundle show --field bundle_version (a step already run)", baseline, baseline),
        ("archive-bundle, first archive (conditional PUT)", written, baseline),
        ("archive-bundle, same bundle again (412, GET, compare: no-op)", no_op, baseline),
        ("baseline: sha256 of the zip bytes (in process)", plain, plain),
        ("content sha256 of the zip's members (in process)", content, plain),
    ]
    for name, seconds, against in rows:
        print(f"{name:68} {seconds:10.5f} {seconds / against:6.2f}")


if __name__ == "__main__":
    main()
