"""How long the project's short-lived commands take to start, against `python -c pass`.

A local pipeline run starts ~30 of these (and CodeBuild and every operator command more): the
build's `aws`/`docker` stand-ins, `python -m ml_deploy.bundle show`, `ml-deploy --help` and a
pipeline step up to its first AWS call (`smoke-test-result` against a closed port on 127.0.0.1),
and the promote build's `retrain_job.job_revision`. Each is a fresh interpreter; the figure is the
median wall time of --repeat runs, and the ratio is to `python -c pass` measured in the same run.
With --against REV the same commands also run on that revision's code (`git archive` into a temp
folder), interleaved with this checkout's, so before/after come from one run on one load.

    .venv/bin/python bench/startup.py [--repeat 5] [--against main]

Numbers on a shared machine move with the neighbours' load; compare ratios within one run.
"""

from __future__ import annotations

import argparse
import io
import os
import socket
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
from pathlib import Path

from _common import ROOT

from ml_deploy_dev.sample_bundle import write_sample_bundle

Command = tuple[str, list[str]]  # (label, arguments after `python`)


def _closed_port() -> int:
    """A loopback port nothing listens on: the step fails at its first call, after its start-up."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def commands(bundle: Path) -> list[Command]:
    standins = ["-m", "ml_deploy_dev.delivery.standins"]
    step = ["smoke-test-result", "--log-bucket", "logs", "--environment", "stage", "--model-version", "v1"]
    return [
        ("python -c pass (baseline)", ["-c", "pass"]),
        ("standins aws ecr get-login-password", [*standins, "aws", "ecr", "get-login-password"]),
        ("standins docker login", [*standins, "docker", "login"]),
        (
            "bundle show --field bundle_version",
            ["-m", "ml_deploy.bundle", "show", "--field", "bundle_version", str(bundle)],
        ),
        ("bundle --help", ["-m", "ml_deploy.bundle", "--help"]),
        ("ml-deploy --help", ["-m", "ml_deploy_cli", "--help"]),
        ("ml-deploy smoke-test-result (to its AWS call)", ["-m", "ml_deploy_cli", *step]),
        ("retrain_job.job_revision --help", ["-m", "retrain_job.job_revision", "--help"]),
    ]


def _environment(tree: Path, port: int) -> dict[str, str]:
    return {
        **os.environ,
        "PYTHONPATH": f"{tree / 'src'}{os.pathsep}{tree}",
        "AWS_ENDPOINT_URL": f"http://127.0.0.1:{port}",
        "AWS_REGION": "eu-west-1",
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_MAX_ATTEMPTS": "1",
    }


def _seconds(arguments: list[str], *, tree: Path, env: dict[str, str]) -> float:
    started = time.perf_counter()
    subprocess.run([sys.executable, *arguments], cwd=tree, env=env, input=b"", capture_output=True)
    return time.perf_counter() - started


def _export(revision: str, into: Path) -> Path:
    """The revision's files, as `git archive` writes them (no worktree, nothing in this checkout)."""
    archive = subprocess.run(["git", "archive", revision], cwd=ROOT, check=True, capture_output=True).stdout
    with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
        tar.extractall(into, filter="data")
    return into


def measure(trees: dict[str, Path], bundle: Path, repeat: int) -> dict[tuple[str, str], float]:
    """Median seconds per (tree, command); the trees' runs alternate so both see the same load."""
    port = _closed_port()
    samples: dict[tuple[str, str], list[float]] = {}
    for _ in range(repeat):
        for label, arguments in commands(bundle):
            for name, tree in trees.items():
                seconds = _seconds(arguments, tree=tree, env=_environment(tree, port))
                samples.setdefault((name, label), []).append(seconds)
    return {key: statistics.median(values) for key, values in samples.items()}


def report(medians: dict[tuple[str, str], float], trees: list[str], bundle: Path, repeat: int) -> None:
    labels = [label for label, _ in commands(bundle)]
    baseline = labels[0]
    header = "".join(f" {name + ' s':>12} {'x pass':>7}" for name in trees)
    versus = f" {trees[0] + '/' + trees[1]:>14}" if len(trees) == 2 else ""
    print(f"median of {repeat} runs, wall seconds; `x pass`: times `python -c pass` in the same tree")
    print(f"{'command':48}{header}{versus}")
    for label in labels:
        cells = "".join(
            f" {medians[name, label]:12.3f} {medians[name, label] / medians[name, baseline]:7.1f}"
            for name in trees
        )
        ratio = f" {medians[trees[0], label] / medians[trees[1], label]:14.2f}" if versus else ""
        print(f"{label:48}{cells}{ratio}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5, help="runs per command (the median is shown)")
    parser.add_argument("--against", metavar="REV", help="also time this git revision's code, e.g. main")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as scratch:
        bundle = write_sample_bundle(Path(scratch) / "bundle.zip", code_version="bench")
        trees = {"this": ROOT}
        if args.against:
            trees[args.against] = _export(args.against, Path(scratch) / "against")
        medians = measure(trees, bundle, args.repeat)
    report(medians, list(trees), bundle, args.repeat)


if __name__ == "__main__":
    main()
