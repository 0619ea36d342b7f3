"""The local delivery end to end on the dev stack's pipeline (execution mode QUEUED): uploads
through the CLI, approvals and a rollback answered by the CLI in another process, and what each
environment serves (`/version` through its stable address) after each step.

Independent scenarios, so xdist spreads them over its workers: the queued uploads with a rollback
start from an empty delivery; the failures start from one that serves a first model, prepared once
per worker (`serving_pipeline`), and assert against what served before them, whatever ran first."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from sklearn.ensemble import HistGradientBoostingClassifier

from ml_deploy.bundle import GoldenRecords, Manifest
from ml_deploy.schema import FeatureSpec, encode_frame
from ml_deploy_dev import sample_data
from ml_deploy_dev.autonaming import generated_name
from ml_deploy_dev.bad_bundles import swapped_model_bundle, unloadable_bundle
from ml_deploy_dev.delivery.definition import PipelineDefinition
from ml_deploy_dev.delivery.runner import LocalPipeline
from ml_deploy_dev.demo_delivery import DemoDelivery
from tests.dev.conftest import bundle_maker, prepared_delivery

A, B, C, D, E, F = (
    f"2026010{day}T000000Z-0000000{letter}" for day, letter in zip("123456", "abcdef", strict=True)
)


def upload(delivery: DemoDelivery, bundle: Path) -> None:
    uploaded = delivery.cli("upload-model", str(bundle))
    assert uploaded.returncode == 0, uploaded.stderr


def approve(delivery: DemoDelivery, number: int, comment: str) -> None:
    answered = delivery.cli("approve", "--comment", comment)
    assert answered.returncode == 0, answered.stderr
    execution = delivery.wait_for(number, approval=False)
    assert execution.status == "Succeeded", execution
    assert execution.stages["PromoteJobs"] == "Succeeded", execution


def another_model(frame: pd.DataFrame, features: list[FeatureSpec]) -> HistGradientBoostingClassifier:
    """A model that scores the same features with other probabilities (a skewed image's model)."""
    target = frame[sample_data.TARGET].to_numpy()
    return HistGradientBoostingClassifier(max_iter=3, random_state=1).fit(
        encode_frame(frame, features), target
    )


@pytest.fixture(scope="session")
def serving_pipeline(
    tmp_path_factory: pytest.TempPathFactory, definition: PipelineDefinition, trained_model: Any,
    trained_manifest: Manifest, trained_golden_records: GoldenRecords,
) -> Iterator[tuple[LocalPipeline, str]]:  # fmt: skip
    """A delivery whose first execution (model F) was approved: stage and prod serve F.

    Prepared once per xdist worker (a module-scoped one is torn down whenever the worker's next
    test is in another module; `--dist loadgroup` could keep the three scenarios on one worker, but
    groups nothing under pytest 9.2: https://github.com/pytest-dev/pytest-xdist/issues/1386).
    Between scenarios only its tasks, moto_server and the state go on:
    its runner (threads of this process) runs during a scenario only (`serving`), so no other test
    in the worker sees its calls to AWS."""
    folder = tmp_path_factory.mktemp("serving")
    with prepared_delivery(folder / "delivery", definition) as (pipeline, queue_url):
        with pipeline.running(queue_url, stop_tasks=False):
            delivery = DemoDelivery(pipeline.site.state_file, say=print)
            upload(delivery, bundle_maker(folder, trained_model, trained_manifest, trained_golden_records)(F))
            delivery.wait_for(1, approval=True)
            approve(delivery, 1, "the first model")
        yield pipeline, queue_url


@pytest.fixture
def serving(serving_pipeline: tuple[LocalPipeline, str]) -> Iterator[DemoDelivery]:
    """The serving delivery, running for one scenario; every scenario on it starts the next execution."""
    pipeline, queue_url = serving_pipeline
    with pipeline.running(queue_url, stop_tasks=False):
        yield DemoDelivery(pipeline.site.state_file, say=print)


def next_number(delivery: DemoDelivery) -> int:
    return len(delivery.executions()) + 1


@pytest.mark.timeout(480)
def test_queued_uploads_wait_their_turn_and_approvals_and_a_rollback_move_prod(
    delivery: DemoDelivery, bundle_factory: Callable[[str], Path]
) -> None:
    # Two uploads back to back: the second waits (QUEUED) while the first runs, then runs.
    upload(delivery, bundle_factory(A))
    upload(delivery, bundle_factory(B))
    delivery.wait_for(1, approval=True)
    assert delivery.executions()[1].status == "Queued", "the second upload did not wait for the first"
    # The approver sees the stage smoke test: the bundle's golden records replayed on the new task.
    approval = delivery.executions()[0].approval
    assert approval is not None and approval.message is not None
    assert "Stage smoke test: passed: 256 records, max |Δp| " in approval.message, approval.message
    assert delivery.serving("stage") == A
    assert delivery.serving("prod") is None, "prod serves before its approval"
    assert "waiting for approval" in delivery.cli("status").stdout
    approve(delivery, 1, "looks good on stage")
    assert delivery.serving("prod") == A

    delivery.wait_for(2, approval=True)
    assert delivery.serving("stage") == B
    approve(delivery, 2, "B as well")
    assert delivery.serving("prod") == B

    # An operator puts prod back on the image it ran before: the runner performs the request.
    rolled_back = delivery.cli("rollback", "prod")
    assert rolled_back.returncode == 0, rolled_back.stderr
    service = generated_name("serving-prod-service")
    assert f"{service}:2" in rolled_back.stdout and f"{service}:1" in rolled_back.stdout
    assert delivery.serving("prod") == A, "rollback prod did not bring back the previous model"
    assert [e.status for e in delivery.executions()] == ["Succeeded", "Succeeded"]


@pytest.mark.timeout(480)
def test_a_task_that_never_gets_ready_is_rolled_back_at_stage(
    serving: DemoDelivery, bundle_factory: Callable[[str], Path], tmp_path: Path
) -> None:
    stage, prod, number = serving.serving("stage"), serving.serving("prod"), next_number(serving)
    # A bundle that verifies but cannot load: its stage task never becomes ready and is rolled back.
    upload(serving, unloadable_bundle(bundle_factory(C), tmp_path / "unloadable.zip", version=C))
    execution = serving.wait_for(number, approval=False)
    assert execution.status == "Failed" and execution.stages["DeployStage"] == "Failed", execution
    assert "Approve" not in execution.stages, execution
    assert serving.serving("stage") == stage, "the old stage task stopped serving after the failed deploy"
    assert serving.serving("prod") == prod
    assert "deploy failed" in serving.cli("status").stdout


@pytest.mark.timeout(480)
def test_a_rejection_stops_the_execution_and_leaves_prod(
    serving: DemoDelivery, bundle_factory: Callable[[str], Path]
) -> None:
    prod, number = serving.serving("prod"), next_number(serving)
    upload(serving, bundle_factory(D))
    serving.wait_for(number, approval=True)
    assert serving.serving("stage") == D
    rejected = serving.cli("reject", "--comment", "not this one")
    assert rejected.returncode == 0, rejected.stderr
    execution = serving.wait_for(number, approval=False)
    assert execution.status == "Failed" and execution.stages["Approve"] == "Failed", execution
    assert serving.serving("prod") == prod, "a rejected execution changed prod"
    history = serving.cli("history")
    assert "approval: rejected by" in history.stdout and '"not this one"' in history.stdout


@pytest.mark.timeout(480)
def test_a_skewed_model_fails_the_stage_smoke_test(
    serving: DemoDelivery,
    bundle_factory: Callable[[str], Path],
    tmp_path: Path,
    sample_frame: pd.DataFrame,
    sample_features: list[FeatureSpec],
) -> None:
    stage, prod, number = serving.serving("stage"), serving.serving("prod"), next_number(serving)
    # A model swapped after its golden records were written: the stage smoke test fails the deploy.
    swapped = swapped_model_bundle(
        bundle_factory(E), tmp_path / "swapped.zip", model=another_model(sample_frame, sample_features)
    )
    upload(serving, swapped)
    execution = serving.wait_for(number, approval=False)
    assert execution.status == "Failed" and execution.stages["DeployStage"] == "Failed", execution
    assert serving.serving("stage") == stage, "the skewed model reached stage"
    assert serving.serving("prod") == prod
