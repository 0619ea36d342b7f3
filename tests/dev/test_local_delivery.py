"""The local delivery end to end, in one run of the dev stack's pipeline (execution mode QUEUED):
uploads through the CLI, approvals and a rollback answered by the CLI in another process, and what
each environment serves (`/version` through its stable address) after each step."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pandas as pd
import pytest
from sklearn.ensemble import HistGradientBoostingClassifier

from ml_deploy.schema import FeatureSpec, encode_frame
from ml_deploy_dev import sample_data
from ml_deploy_dev.autonaming import generated_name
from ml_deploy_dev.bad_bundles import swapped_model_bundle, unloadable_bundle
from ml_deploy_dev.demo_delivery import DemoDelivery

A, B, C, D, E = (
    f"2026010{day}T000000Z-0000000{letter}" for day, letter in zip("12345", "abcde", strict=True)
)


def upload(delivery: DemoDelivery, bundle: Path) -> None:
    uploaded = delivery.cli("upload-model", str(bundle))
    assert uploaded.returncode == 0, uploaded.stderr


def approve(delivery: DemoDelivery, number: int, comment: str) -> None:
    answered = delivery.cli("approve", "--comment", comment)
    assert answered.returncode == 0, answered.stderr
    execution = delivery.wait_for(number, approval=False)
    assert execution["status"] == "Succeeded", execution
    assert execution["stages"]["PromoteJobs"] == "Succeeded", execution


def another_model(frame: pd.DataFrame, features: list[FeatureSpec]) -> HistGradientBoostingClassifier:
    """A model that scores the same features with other probabilities (a skewed image's model)."""
    target = frame[sample_data.TARGET].to_numpy()
    return HistGradientBoostingClassifier(max_iter=3, random_state=1).fit(
        encode_frame(frame, features), target
    )


@pytest.mark.timeout(720)
def test_queued_uploads_approvals_rollback_never_ready_and_rejection(
    delivery: DemoDelivery,
    bundle_factory: Callable[[str], Path],
    tmp_path: Path,
    sample_frame: pd.DataFrame,
    sample_features: list[FeatureSpec],
) -> None:
    # Two uploads back to back: the second waits (QUEUED) while the first runs, then runs.
    upload(delivery, bundle_factory(A))
    upload(delivery, bundle_factory(B))
    delivery.wait_for(1, approval=True)
    assert delivery.executions()[1]["status"] == "Queued", "the second upload did not wait for the first"
    # The approver sees the stage smoke test: the bundle's golden records replayed on the new task.
    message = delivery.executions()[0]["approval"]["message"]
    assert "Stage smoke test: passed: 256 records, max |Δp| " in message, message
    assert delivery.serving("stage") == A
    assert delivery.serving("prod") is None, "prod serves before its approval"
    assert "waiting for approval" in delivery.cli("status").stdout
    approve(delivery, 1, "looks good on stage")
    assert delivery.serving("prod") == A

    delivery.wait_for(2, approval=True)
    assert delivery.serving("stage") == B
    approve(delivery, 2, "B as well")
    assert delivery.serving("prod") == B

    # An operator puts prod back on the image it ran before.
    rolled_back = delivery.cli("rollback", "prod")
    assert rolled_back.returncode == 0, rolled_back.stderr
    service = generated_name("serving-prod-service")
    assert f"{service}:2" in rolled_back.stdout and f"{service}:1" in rolled_back.stdout
    assert delivery.serving("prod") == A, "rollback prod did not bring back the previous model"

    # A bundle that verifies but cannot load: its stage task never becomes ready and is rolled back.
    upload(delivery, unloadable_bundle(bundle_factory(C), tmp_path / "unloadable.zip", version=C))
    execution = delivery.wait_for(3, approval=False)
    assert execution["status"] == "Failed" and execution["stages"]["DeployStage"] == "Failed", execution
    assert "Approve" not in execution["stages"], execution
    assert delivery.serving("stage") == B, "the old stage task stopped serving after the failed deploy"
    assert delivery.serving("prod") == A
    assert "deploy failed" in delivery.cli("status").stdout

    # A rejection stops the execution: prod untouched.
    upload(delivery, bundle_factory(D))
    delivery.wait_for(4, approval=True)
    assert delivery.serving("stage") == D
    rejected = delivery.cli("reject", "--comment", "not this one")
    assert rejected.returncode == 0, rejected.stderr
    execution = delivery.wait_for(4, approval=False)
    assert execution["status"] == "Failed" and execution["stages"]["Approve"] == "Failed", execution
    assert delivery.serving("prod") == A, "a rejected execution changed prod"

    # A model swapped after its golden records were written: the stage smoke test fails the deploy.
    swapped = swapped_model_bundle(
        bundle_factory(E), tmp_path / "swapped.zip", model=another_model(sample_frame, sample_features)
    )
    upload(delivery, swapped)
    execution = delivery.wait_for(5, approval=False)
    assert execution["status"] == "Failed" and execution["stages"]["DeployStage"] == "Failed", execution
    assert delivery.serving("stage") == D, "the skewed model reached stage"
    assert delivery.serving("prod") == A

    history = delivery.cli("history")
    assert "approval: rejected by" in history.stdout and '"not this one"' in history.stdout
    statuses = [e["status"] for e in delivery.executions()]
    assert statuses == ["Succeeded", "Succeeded", "Failed", "Failed", "Failed"], statuses
