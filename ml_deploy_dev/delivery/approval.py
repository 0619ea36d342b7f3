"""The Approve action: the execution waits, with the program's approval message filled in, until
an answer is written to the state (`ml-deploy --local approve|reject`) or the wait times out."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from pathlib import Path

from ml_deploy_cli.local.records import Approval
from ml_deploy_cli.local.state import edited_state, now, read_checked_state

POLL_SECONDS = 0.3


def wait_for_answer(
    state_file: Path, *, execution_id: str, stage: str, action: str, message: str, link: str, timeout: float,
    say: Callable[[str], None],
) -> bool:  # fmt: skip
    """True on an approval; False on a rejection or a timeout (recorded as a failed approval)."""
    with edited_state(state_file) as state:
        state.execution(execution_id).approval = Approval(
            status="InProgress", stage=stage, action=action, token=str(uuid.uuid4()), since=now(),
            message=message, link=link,
        )  # fmt: skip
    say(f"waiting for approval: {message}")
    say(f"  review: {link}")
    say(
        f'  answer: python -m ml_deploy_cli --local approve|reject --execution {execution_id} --comment "..."'
    )
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        approval = read_checked_state(state_file).execution(execution_id).approval
        if approval is not None and approval.status != "InProgress":
            verb = "approved" if approval.status == "Succeeded" else "rejected"
            say(f'{verb} by {approval.by}: "{approval.summary}"')
            return approval.status == "Succeeded"
        time.sleep(POLL_SECONDS)
    with edited_state(state_file) as state:
        timed_out = state.execution(execution_id).approval
        if timed_out is not None:
            timed_out.status, timed_out.summary, timed_out.by = "Failed", "timed out", None
    say(f"no answer within {timeout:.0f} s: the approval timed out")
    return False
