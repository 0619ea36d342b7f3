"""The local run's state: one JSON file, shared by the runner and the CLI in another process.

The runner writes executions, stage statuses and what each environment runs; the CLI writes
approval answers and requests (`requests.py`) into it. Both read and edit it as `LocalState`
(`records.py`). Every change is a read-modify-write under an exclusive `flock`, written to a
temporary file and renamed, so a reader never sees half a file and needs no lock (a read-only
command leaves no `.lock` file beside whatever the variable names).
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

from pydantic import ValidationError

from ml_deploy_cli.errors import CliError
from ml_deploy_cli.local.records import LocalState

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


# What the CLI reads of a state (`ml_deploy_dev.delivery.runner` writes it): key -> (type, what it is).
_REQUIRED: dict[str, tuple[type, str]] = {
    "aws": (dict, "an object: the local AWS stand-in's endpoint, region and keys"),
    "model_bucket": (str, "the model bucket's name"),
    "model_key": (str, "the key whose upload starts the pipeline"),
    "executions": (list, "a list of pipeline executions"),
    "environments": (dict, "an object of stage and prod"),
}
_AWS_KEYS = ("endpoint", "region", "access_key_id", "secret_access_key")


def read_state(path: Path) -> State:
    """The whole state as written (no lock: writers replace the file in one rename)."""
    try:
        return _load(path)
    except FileNotFoundError:
        raise CliError(
            f"no local delivery state at {path}: start one with `make demo` (or point "
            f"{STATE_VARIABLE} at the state.json of a running local delivery)"
        ) from None


def read_checked_state(path: Path) -> LocalState:
    """The state, refused in one line unless it holds what the CLI reads (a runner wrote it)."""
    state = read_state(path)
    for key, (kind, what) in _REQUIRED.items():
        if not isinstance(state.get(key), kind):
            raise CliError(_not_a_state(path, f"has no {key!r} ({what})"))
    missing = [key for key in _AWS_KEYS if not isinstance(state["aws"].get(key), str)]
    if missing:
        raise CliError(_not_a_state(path, f"names no {', '.join(missing)} under 'aws'"))
    return _typed(path, state)


def _typed(path: Path, state: State) -> LocalState:
    try:
        return LocalState.model_validate(state)
    except ValidationError as error:
        first = error.errors()[0]
        where = ".".join(str(part) for part in first["loc"])
        raise CliError(_not_a_state(path, f"{where}: {first['msg'].lower()}")) from None


@contextmanager
def edited_state(path: Path) -> Iterator[LocalState]:
    """The checked state to change in the block, under the lock; written back when the block ends
    without an error, so a refused change leaves nothing half-written."""
    read_checked_state(path)  # refused before a lock file is made beside something else
    with update_state(path) as raw:
        state = _typed(path, raw)
        yield state
        raw.clear()
        raw.update(state.model_dump(mode="json"))


def write_state(path: Path, state: LocalState) -> None:
    """A new run's first state (the runner's `prepare`)."""
    with update_state(path) as raw:
        raw.clear()
        raw.update(state.model_dump(mode="json"))


def _not_a_state(path: Path, problem: str) -> str:
    return (
        f"{path} {problem}: it is not a local delivery's state; point {STATE_VARIABLE} at the "
        "state.json a local delivery wrote (`make demo` starts one)"
    )


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
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise
    except IsADirectoryError:
        raise CliError(f"{path} is a directory, not a state file: {_POINT}") from None
    except (OSError, UnicodeDecodeError) as error:
        reason = error.strerror if isinstance(error, OSError) and error.strerror else str(error)
        raise CliError(f"cannot read local delivery state {path}: {reason}; {_POINT}") from None
    try:
        document = json.loads(text)
    except json.JSONDecodeError as error:
        raise CliError(f"{path} is not JSON ({error.msg} at line {error.lineno}): {_POINT}") from None
    if not isinstance(document, dict):
        raise CliError(f"{path} is not a local delivery state (a JSON object): {_POINT}")
    return document


_POINT = f"point {STATE_VARIABLE} at the state.json a local delivery wrote (`make demo` starts one)"
