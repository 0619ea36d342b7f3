"""A local delivery on moto_server: the program's pipeline, the dev stack's buckets and rule."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from ml_deploy.bundle import GoldenRecords, Manifest, write_bundle
from ml_deploy_dev.delivery.actions import LocalSite
from ml_deploy_dev.delivery.definition import PipelineDefinition, load_definition
from ml_deploy_dev.delivery.ecs import stop_all
from ml_deploy_dev.delivery.runner import LocalPipeline
from ml_deploy_dev.demo_delivery import DemoDelivery
from ml_deploy_dev.dev_stack import dev_stack
from ml_deploy_dev.local_aws import create_bucket, create_trigger_stand_in, moto_server

ROOT = Path(__file__).resolve().parents[2]
# A fast subset instead of the buildspec's whole suite (~100 s): the build still runs `make pytest`.
FAST_TESTS = "tests/ml_deploy/test_schema.py -q -p no:cacheprovider"


@pytest.fixture(scope="session")
def definition() -> PipelineDefinition:
    return load_definition()


@contextmanager
def prepared_delivery(workdir: Path, definition: PipelineDefinition) -> Iterator[tuple[LocalPipeline, str]]:
    """The dev stack's pipeline on moto_server, not running yet: (the pipeline, its trigger queue).
    Every task it started is stopped when the block ends."""
    stack = dev_stack()
    with moto_server() as aws:
        create_bucket(aws, stack.model_bucket, versioned=True, eventbridge=True)
        create_bucket(aws, stack.log_bucket)
        queue_url = create_trigger_stand_in(aws, rule_name="model-upload", pattern=stack.event_pattern)
        site = LocalSite(
            repository=ROOT, workdir=workdir, aws=aws, model_bucket=stack.model_bucket,
            pytest_args=FAST_TESTS, ready_timeout=60.0, approval_timeout=300.0,
        )  # fmt: skip
        pipeline = LocalPipeline(definition, site, say=print)
        pipeline.prepare(stack)
        try:
            yield pipeline, queue_url
        finally:
            stop_all(site.state_file)


@contextmanager
def running_delivery(workdir: Path, definition: PipelineDefinition) -> Iterator[DemoDelivery]:
    """The dev stack's pipeline running on moto_server, seen as the demo sees it (CLI, state, /version)."""
    with prepared_delivery(workdir, definition) as (pipeline, queue_url), pipeline.running(queue_url):
        yield DemoDelivery(pipeline.site.state_file, say=print)


@pytest.fixture
def delivery(tmp_path: Path, definition: PipelineDefinition) -> Iterator[DemoDelivery]:
    """A fresh local delivery: no execution yet, nothing serving."""
    with running_delivery(tmp_path / "delivery", definition) as running:
        yield running


def bundle_maker(
    folder: Path, model: Any, manifest: Manifest, golden_records: GoldenRecords
) -> Callable[[str], Path]:
    """A real bundle of the session's model under another bundle version."""

    def make(version: str) -> Path:
        versioned = manifest.model_copy(update={"bundle_version": version})
        return write_bundle(
            folder / f"{version}.zip", model=model, manifest=versioned, golden_records=golden_records
        )

    return make


@pytest.fixture
def bundle_factory(
    tmp_path: Path, trained_model: Any, trained_manifest: Manifest, trained_golden_records: GoldenRecords
) -> Callable[[str], Path]:
    return bundle_maker(tmp_path, trained_model, trained_manifest, trained_golden_records)
