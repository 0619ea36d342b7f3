"""A local delivery on moto_server: the program's pipeline, the dev stack's buckets and rule."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from ml_deploy.bundle import Manifest, write_bundle
from ml_deploy_cli.local.state import read_state
from ml_deploy_dev.delivery.actions import LocalSite
from ml_deploy_dev.delivery.definition import PipelineDefinition, load_definition
from ml_deploy_dev.delivery.runner import LocalPipeline
from ml_deploy_dev.dev_stack import dev_stack
from ml_deploy_dev.local_aws import create_bucket, create_trigger_stand_in, moto_server

ROOT = Path(__file__).resolve().parents[2]
# A fast subset instead of the buildspec's whole suite (~100 s): the build still runs `make pytest`.
FAST_TESTS = "tests/ml_deploy/test_schema.py -q -p no:cacheprovider"


@pytest.fixture(scope="session")
def definition() -> PipelineDefinition:
    return load_definition()


@dataclass
class Delivery:
    pipeline: LocalPipeline
    state_file: Path

    def cli(self, *argv: str) -> subprocess.CompletedProcess[str]:
        """`python -m ml_deploy_cli --local ARGV` in another process, as an operator types it."""
        environment = {
            **os.environ,
            "PYTHONPATH": f"{ROOT / 'src'}{os.pathsep}{ROOT}",
            "ML_DEPLOY_LOCAL_STATE": str(self.state_file),
        }
        return subprocess.run(
            [sys.executable, "-m", "ml_deploy_cli", "--local", *argv],
            env=environment, capture_output=True, text=True, timeout=120, check=False,
        )  # fmt: skip

    def wait_for(
        self, what: str, found: Callable[[dict[str, Any]], bool], timeout: float = 240
    ) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            state = read_state(self.state_file)
            if found(state):
                return state
            time.sleep(0.3)
        raise AssertionError(f"timed out waiting for {what}: {read_state(self.state_file)['executions']}")

    def url(self, environment: str) -> str:
        return str(read_state(self.state_file)["environments"][environment]["url"])


@pytest.fixture
def delivery(tmp_path: Path, definition: PipelineDefinition) -> Iterator[Delivery]:
    stack = dev_stack()
    with moto_server() as aws:
        create_bucket(aws, stack.model_bucket, versioned=True, eventbridge=True)
        create_bucket(aws, stack.log_bucket)
        queue_url = create_trigger_stand_in(aws, rule_name="model-upload", pattern=stack.event_pattern)
        site = LocalSite(
            repository=ROOT, workdir=tmp_path / "delivery", aws=aws, model_bucket=stack.model_bucket,
            pytest_args=FAST_TESTS, ready_timeout=60.0, approval_timeout=300.0,
        )  # fmt: skip
        pipeline = LocalPipeline(definition, site, say=print)
        pipeline.prepare(stack)
        with pipeline.running(queue_url):
            yield Delivery(pipeline, site.state_file)


@pytest.fixture
def bundle_factory(tmp_path: Path, trained_model: Any, trained_manifest: Manifest) -> Callable[[str], Path]:
    """A real bundle of the session's model under another bundle version."""

    def make(version: str) -> Path:
        manifest = trained_manifest.model_copy(update={"bundle_version": version})
        return write_bundle(tmp_path / f"{version}.zip", model=trained_model, manifest=manifest)

    return make
