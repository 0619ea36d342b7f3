"""`ml-deploy --local run-job`: the runner runs the job in its own process, as the local Batch
stand-in does (a request it answers); its state and log are read from the state file, in the
shapes `run-job --follow` prints for Batch."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

from ml_deploy_cli.aws.jobs import JobKind, JobState
from ml_deploy_cli.delivery import LogLine, LogPage
from ml_deploy_cli.errors import CliError
from ml_deploy_cli.local.logs import read_log
from ml_deploy_cli.local.requests import ask
from ml_deploy_cli.local.state import read_checked_state

SUBMIT_TIMEOUT = 30.0  # the runner only starts the process


class LocalJobs:
    """The local run's jobs; refused in one line when its runner runs none."""

    def __init__(self, path: Path) -> None:
        self._path = path
        if read_checked_state(path).jobs_dir is None:
            raise CliError(
                f"the local run has no job queue: {path} names no jobs_dir (no runner runs jobs for it); "
                "`make demo` starts a local delivery that does"
            )

    def submit(self, kind: JobKind) -> str:
        answer = ask(self._path, kind="run-job", arguments={"job": kind}, timeout=SUBMIT_TIMEOUT)
        return answer.result["job"]

    def state(self, job_id: str) -> JobState:
        found = [job for job in read_checked_state(self._path).jobs if job.id == job_id]
        if not found:
            raise CliError(f"the local run knows no job {job_id}")
        (job,) = found
        return JobState(
            job_id=job_id,
            name=f"{job.kind}-manual",
            status=job.status,
            reason=None if job.exit_code is None else f"the job exited {job.exit_code}",
            log_group="local",
            log_stream=job.log,
        )

    def logs(self, state: JobState, *, cursor: str | None) -> LogPage:
        """The job process's output from its start (or where `cursor` left off)."""
        if not state.log_stream:
            return LogPage(lines=[], cursor=cursor or "")
        return read_log(Path(state.log_stream), cursor=cursor, source=state.name, what=state.name)

    def kind_logs(self, kind: JobKind, *, since: datetime, cursor: str | None) -> LogPage:
        """Every run of `kind` started since `since` or still running, oldest first, each from where
        `cursor` (a JSON map of log file to its own cursor) left it; a new run is read from its start."""
        offsets: dict[str, str] = json.loads(cursor) if cursor else {}
        runs = [
            job
            for job in read_checked_state(self._path).jobs
            if job.kind == kind and (job.status == "RUNNING" or _started(job.started) >= since)
        ]
        lines: list[LogLine] = []
        for job in sorted(runs, key=lambda run: run.started):
            source = f"{kind}-{job.id[:8]}"
            page = read_log(Path(job.log), cursor=offsets.get(job.log), source=source, what=source)
            lines += page.lines
            offsets[job.log] = page.cursor
        return LogPage(lines=lines, cursor=json.dumps(offsets))


def _started(stamp: str) -> datetime:
    """When a run started; a stamp the state cannot vouch for counts as long ago (not shown)."""
    try:
        when = datetime.fromisoformat(stamp)
    except ValueError:
        return datetime.min.replace(tzinfo=UTC)
    return when if when.tzinfo else when.replace(tzinfo=UTC)
