"""The short-lived commands stay light: each runs in a fresh interpreter, ~30 per local pipeline run
(and in CodeBuild, and for every operator command), so what it imports is paid every time.

Each entry point is run in its own process, as the build and operators run it, and the test lists
the heavy packages the process imported by the time it ended. Speed itself is measured by
`bench/startup.py`; this holds the cause (an import some module-level line pulled in) away.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

from ml_deploy.bundle import read_manifest
from tests.cli.test_failures import closed_port

ROOT = Path(__file__).resolve().parents[1]
# Data and plotting libraries a command that prints one line or parses arguments never needs.
HEAVY = ("pandas", "numpy", "sklearn", "scipy", "pyarrow", "httpx", "rich", "plotly")
# Runs the module as `python -m` does, then writes which top-level packages were imported.
PROBE = """
import json, runpy, sys
out, module, *argv = sys.argv[1:]
sys.argv = [module, *argv]
try:
    runpy.run_module(module, run_name="__main__", alter_sys=True)
except SystemExit:
    pass
finally:
    with open(out, "w") as handle:
        json.dump(sorted({name.split(".")[0] for name in sys.modules}), handle)
"""


@dataclass(frozen=True)
class Run:
    packages: set[str]  # top-level packages imported by the end
    stdout: str
    stderr: str


def run(module: str, *argv: str, tmp_path: Path, env: dict[str, str] | None = None) -> Run:
    """`python -m module argv...` in a fresh interpreter: what it printed and imported."""
    out = tmp_path / "imported.json"
    environ = {**os.environ, **(env or {}), "PYTHONPATH": f"{ROOT / 'src'}{os.pathsep}{ROOT}"}
    finished = subprocess.run(
        [sys.executable, "-c", PROBE, str(out), module, *argv],
        env=environ,
        cwd=tmp_path,
        input="",
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert out.exists(), f"python -m {module} {' '.join(argv)} did not finish: {finished.stderr}"
    return Run(packages=set(json.loads(out.read_text())), stdout=finished.stdout, stderr=finished.stderr)


def heavy_in(packages: set[str], *, also: tuple[str, ...] = ()) -> list[str]:
    return sorted(packages & {*HEAVY, *also})


@pytest.mark.parametrize(
    ("argv", "printed"),
    [
        (("aws", "ecr", "get-login-password"), "local-registry-password"),
        (("aws", "ecr-public", "get-login-password"), "local-registry-password"),
        (
            ("docker", "login", "--username", "AWS", "--password-stdin", "registry.example"),
            "Login Succeeded (local registry)",
        ),
    ],
    ids=["aws ecr", "aws ecr-public", "docker login"],
)
def test_build_stand_ins_import_neither_the_delivery_nor_boto3(
    argv: tuple[str, ...], printed: str, tmp_path: Path
) -> None:
    done = run("ml_deploy_dev.delivery.standins", *argv, tmp_path=tmp_path)
    assert done.stdout.strip() == printed, done.stderr
    heavy = heavy_in(done.packages, also=("boto3", "botocore", "pydantic"))
    assert heavy == [], f"the `{' '.join(argv)}` stand-in imports {heavy}"


def test_bundle_show_reads_the_manifest_without_numpy_pandas_or_sklearn(
    trained_bundle: Path, tmp_path: Path
) -> None:
    argv = ("show", "--field", "bundle_version", str(trained_bundle))
    done = run("ml_deploy.bundle", *argv, tmp_path=tmp_path)
    assert done.stdout.strip() == read_manifest(trained_bundle).bundle_version, done.stderr
    heavy = heavy_in(done.packages, also=("boto3", "skops"))
    assert heavy == [], f"`python -m ml_deploy.bundle show` imports {heavy}"


def test_bundle_help_is_light(tmp_path: Path) -> None:
    done = run("ml_deploy.bundle", "--help", tmp_path=tmp_path)
    assert "show --field FIELD PATH" in done.stdout, done.stderr
    assert heavy_in(done.packages, also=("boto3", "skops")) == []


@pytest.mark.parametrize("argv", [("--help",), ("deploy", "--help"), ("status", "--help")], ids=" ".join)
def test_cli_help_imports_no_data_library_and_no_boto3(argv: tuple[str, ...], tmp_path: Path) -> None:
    done = run("ml_deploy_cli", *argv, tmp_path=tmp_path)
    assert done.stdout.startswith("usage: ml-deploy"), done.stderr
    heavy = heavy_in(done.packages, also=("boto3",))
    assert heavy == [], f"`ml-deploy {' '.join(argv)}` imports {heavy}"


def test_a_pipeline_step_reaches_its_first_aws_call_without_data_libraries(tmp_path: Path) -> None:
    """`smoke-test-result` against a closed port: it makes its client and fails at the call."""
    env = {
        "AWS_ENDPOINT_URL": f"http://127.0.0.1:{closed_port()}",
        "AWS_REGION": "eu-west-1",
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_MAX_ATTEMPTS": "1",
    }
    argv = ("smoke-test-result", "--log-bucket", "logs", "--environment", "stage", "--model-version", "v1")
    done = run("ml_deploy_cli", *argv, tmp_path=tmp_path, env=env)
    assert "Could not connect to the endpoint URL" in done.stderr, done.stderr
    assert heavy_in(done.packages) == [], f"`ml-deploy smoke-test-result` imports {heavy_in(done.packages)}"


def test_job_revision_imports_only_the_standard_library(tmp_path: Path) -> None:
    """The promote build installs nothing: `retrain_job.job_revision` must run on a bare python3."""
    done = run("retrain_job.job_revision", "--help", tmp_path=tmp_path)
    assert done.stdout.startswith("usage:"), done.stderr
    assert heavy_in(done.packages, also=("boto3", "botocore", "pydantic", "pulumi")) == []
