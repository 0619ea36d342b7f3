"""The local run's logs: a task's or a job's output file, read in complete lines from a cursor."""

from __future__ import annotations

from pathlib import Path

from ml_deploy_cli.delivery import LogLine, LogPage
from ml_deploy_cli.errors import CliError


def read_log(path: Path, *, cursor: str | None, source: str, what: str) -> LogPage:
    """The complete lines of `path` after `cursor` (`<path>:<offset>`), and the next cursor."""
    offset = int(cursor.rpartition(":")[2]) if cursor and cursor.startswith(f"{path}:") else 0
    try:
        with path.open("rb") as log:
            log.seek(offset)
            text = log.read()
    except FileNotFoundError:
        raise CliError(f"{what}: the log {path} is gone") from None
    complete = text[: text.rfind(b"\n") + 1]  # a line still being written waits for the next read
    lines = [
        LogLine(at=None, source=source, message=line)
        for line in complete.decode("utf-8", errors="replace").splitlines()
    ]
    return LogPage(lines=lines, cursor=f"{path}:{offset + len(complete)}")
