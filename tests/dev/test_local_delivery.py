"""The local delivery end to end: uploads through the CLI, the program's pipeline, approvals
answered by the CLI in another process, and what each environment serves after each step."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.dev.conftest import Delivery


def serving(delivery: Delivery, environment: str) -> str | None:
    """The model version the environment answers /version with; None when nothing serves."""
    try:
        response = httpx.get(f"{delivery.url(environment)}/version", timeout=5.0)
    except httpx.HTTPError:
        return None
    return str(response.json()["model_version"]) if response.status_code == 200 else None


def waiting_approval(state: dict[str, Any]) -> bool:
    failed = [e for e in state["executions"] if e["status"] == "Failed" and not e.get("approval")]
    assert not failed, f"an execution failed before its approval: {failed}"
    return any((e.get("approval") or {}).get("status") == "InProgress" for e in state["executions"])


def finished(count: int) -> Callable[[dict[str, Any]], bool]:
    return lambda state: sum(e["status"] in ("Succeeded", "Failed") for e in state["executions"]) >= count


@pytest.mark.timeout(600)
def test_upload_approve_then_upload_reject(delivery: Delivery, bundle_factory: Callable[[str], Path]) -> None:
    uploaded = delivery.cli("upload-model", str(bundle_factory("20260101T000000Z-0000000a")))
    assert uploaded.returncode == 0, uploaded.stderr
    delivery.wait_for("the first approval", waiting_approval)
    assert serving(delivery, "stage") == "20260101T000000Z-0000000a"
    assert serving(delivery, "prod") is None, "prod serves before its approval"
    status = delivery.cli("status")
    assert "waiting for approval" in status.stdout, status.stdout + status.stderr

    approved = delivery.cli("approve", "--comment", "looks good on stage")
    assert approved.returncode == 0, approved.stderr
    state = delivery.wait_for("the first execution", finished(1))
    assert [e["status"] for e in state["executions"]] == ["Succeeded"], state["executions"]
    assert serving(delivery, "prod") == "20260101T000000Z-0000000a"
    assert state["executions"][0]["stages"]["PromoteJobs"] == "Succeeded"

    assert delivery.cli("upload-model", str(bundle_factory("20260102T000000Z-0000000b"))).returncode == 0
    delivery.wait_for("the second approval", waiting_approval)
    assert serving(delivery, "stage") == "20260102T000000Z-0000000b"
    rejected = delivery.cli("reject", "--comment", "not this one")
    assert rejected.returncode == 0, rejected.stderr
    state = delivery.wait_for("the second execution", finished(2))
    assert [e["status"] for e in state["executions"]] == ["Succeeded", "Failed"]
    assert serving(delivery, "prod") == "20260101T000000Z-0000000a", "a rejected execution changed prod"
    assert serving(delivery, "stage") == "20260102T000000Z-0000000b"

    history = delivery.cli("history")
    assert "approval: rejected by" in history.stdout and '"not this one"' in history.stdout
