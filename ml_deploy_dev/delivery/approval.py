"""The Approve action: the execution waits, with the program's approval message filled in, until
an answer is written to the state (`ml-deploy --local approve|reject`) or the wait times out."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ml_deploy_cli.local.state import now, read_state, update_state

POLL_SECONDS = 0.3


def wait_for_answer(
    state_file: Path, *, execution_id: str, stage: str, action: str, message: str, link: str, timeout: float,
    say: Callable[[str], None],
) -> bool:  # fmt: skip
    """True on an approval; False on a rejection or a timeout (recorded as a failed approval)."""
    with update_state(state_file) as state:
        record = _execution(state, execution_id)
        record["approval"] = {
            "status": "InProgress", "stage": stage, "action": action, "token": str(uuid.uuid4()),
            "since": now(), "message": message, "link": link,
        }  # fmt: skip
    say(f"waiting for approval: {message}")
    say(f"  review: {link}")
    say(
        f'  answer: python -m ml_deploy_cli --local approve|reject --execution {execution_id} --comment "..."'
    )
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        approval = _execution(read_state(state_file), execution_id)["approval"]
        if approval["status"] != "InProgress":
            verb = "approved" if approval["status"] == "Succeeded" else "rejected"
            say(f'{verb} by {approval.get("by")}: "{approval.get("summary")}"')
            return bool(approval["status"] == "Succeeded")
        time.sleep(POLL_SECONDS)
    with update_state(state_file) as state:
        _execution(state, execution_id)["approval"].update(status="Failed", summary="timed out", by=None)
    say(f"no answer within {timeout:.0f} s: the approval timed out")
    return False


def _execution(state: dict[str, Any], execution_id: str) -> dict[str, Any]:
    executions = state["executions"]
    assert isinstance(executions, list)
    (record,) = [e for e in executions if e["id"] == execution_id]
    assert isinstance(record, dict)
    return record
