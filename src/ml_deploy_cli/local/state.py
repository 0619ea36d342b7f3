"""The local run's state: one JSON file, shared by the runner and the CLI in another process.

The runner writes executions, stage statuses and what each environment runs; the CLI writes
approval answers and rollbacks into it. Every change is a read-modify-write under an exclusive
`flock`, written to a temporary file and renamed, so a reader never sees half a file.
"""

from __future__ import annotations

import fcntl
import json
import os
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from ml_deploy_cli.errors import CliError

STATE_VARIABLE = "ML_DEPLOY_LOCAL_STATE"
DEFAULT_STATE = Path(".demo") / "delivery" / "state.json"

State = dict[str, Any]


def default_state_path(environ: Mapping[str, str]) -> Path:
    """$ML_DEPLOY_LOCAL_STATE, else `.demo/delivery/state.json` under the current folder."""
    return Path(environ[STATE_VARIABLE]) if environ.get(STATE_VARIABLE) else DEFAULT_STATE


def now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def parse_time(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value) if value else None


def read_state(path: Path) -> State:
    try:
        with _locked(path):
            return _load(path)
    except FileNotFoundError:
        raise CliError(
            f"no local delivery state at {path}: start one with `make demo` (or point "
            f"{STATE_VARIABLE} at the state.json of a running local delivery)"
        ) from None


@contextmanager
def update_state(path: Path) -> Iterator[State]:
    """The state to change in the block; written back when the block ends without an error."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with _locked(path):
        state = _load(path) if path.exists() else {}
        yield state
        temporary = path.with_suffix(".tmp")
        temporary.write_text(json.dumps(state, indent=2, sort_keys=True))
        os.replace(temporary, path)


@contextmanager
def _locked(path: Path) -> Iterator[None]:
    if not path.parent.exists():
        raise FileNotFoundError(path)
    with open(path.with_suffix(".lock"), "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def _load(path: Path) -> State:
    document = json.loads(path.read_text())
    if not isinstance(document, dict):
        raise CliError(f"{path} is not a local delivery state (a JSON object)")
    return document


def execution(state: State, execution_id: str) -> dict[str, Any]:
    for record in state.get("executions", []):
        if record["id"] == execution_id:
            found: dict[str, Any] = record
            return found
    raise CliError(f"no execution {execution_id} in the local delivery state")
