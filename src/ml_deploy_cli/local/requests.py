"""What the CLI asks of the local runner: the runner owns the task and job processes, so a
rollback, a deploy, a retry, a release or a job is a request written into the state, performed by
the runner (`ml_deploy_dev.delivery.answers`) and answered there, as approvals already are."""

from __future__ import annotations

import os
import time
import uuid
from pathlib import Path

from ml_deploy_cli.errors import CliError
from ml_deploy_cli.local.records import Request, RequestKind
from ml_deploy_cli.local.state import edited_state, now, read_checked_state

POLL_SECONDS = 0.2


def ask(
    path: Path, *, kind: RequestKind, arguments: dict[str, str], timeout: float, poll: float = POLL_SECONDS
) -> Request:
    """Write the request, wait for the runner's answer; CliError with its reason, or on no answer."""
    _runner_answers(path)
    request_id = str(uuid.uuid4())
    with edited_state(path) as state:
        state.requests.append(Request(id=request_id, kind=kind, arguments=arguments, made=now()))
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        answer = _request(path, request_id)
        if answer.status == "Succeeded":
            return answer
        if answer.status == "Failed":
            raise CliError(answer.error or f"the local runner refused the {kind}")
        time.sleep(poll)
    with edited_state(path) as state:
        late = next(r for r in state.requests if r.id == request_id)
        if late.status != "Pending":  # answered in the last moment
            return _settled(late, kind)
        late.status = "Abandoned"  # so a runner that comes back later does not perform it
    raise CliError(
        f"the local runner did not answer the {kind} within {timeout:.0f} s: is the local delivery "
        "running? (`make demo` starts one)"
    )


def _runner_answers(path: Path) -> None:
    """Refused at once, not after the timeout, when no runner is there to answer."""
    pid = read_checked_state(path).runner_pid
    if pid is None or not process_alive(pid):
        raise CliError(
            f"no local runner answers {path} (a rollback, retry, release, deploy or job needs the "
            "running local delivery): start one with `make demo`"
        )


def process_alive(pid: int) -> bool:
    """Whether `pid` runs (and is no zombie); the runner and the tasks are not this process's children."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        return " Z " not in Path(f"/proc/{pid}/stat").read_text().split(")", 1)[1][:4]
    except OSError:
        return True


def _settled(request: Request, kind: str) -> Request:
    if request.status == "Failed":
        raise CliError(request.error or f"the local runner refused the {kind}")
    return request


def _request(path: Path, request_id: str) -> Request:
    for request in read_checked_state(path).requests:
        if request.id == request_id:
            return request
    raise CliError(f"request {request_id} vanished from {path}: another local delivery replaced the state")
