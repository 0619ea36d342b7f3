"""`ml-deploy run-job retrain|monitor|quality [--follow]`: submit the Batch job now, as its schedule would,
and (with --follow) print its state changes and its log until it ends; exit 1 if it failed.

This replaces copy-pasting the `retrainSubmitCommand` output. Each kind's definition is named by
the stack output `<kind>JobDefinitionName`. `run-job monitor --backfill FROM TO` submits the
monitor with the command `backfill --from FROM --to TO`: it rebuilds the hour summaries of
[FROM, TO), fanning out on Batch itself when the range is large.
"""

from __future__ import annotations

import argparse
import time
from datetime import UTC, datetime

from ml_deploy_cli.aws.clients import ClientFactory
from ml_deploy_cli.aws.jobs import JOB_KINDS, BatchJobs, JobKind, JobState
from ml_deploy_cli.backend import Connect
from ml_deploy_cli.commands.arguments import positive_number
from ml_deploy_cli.errors import CliError
from ml_deploy_cli.local.jobs import LocalJobs
from ml_deploy_cli.local.state import default_state_path
from ml_deploy_cli.outputs import load_outputs

DEFAULT_POLL_SECONDS = 10.0


def register(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = commands.add_parser(
        "run-job", help="submit the retrain, monitor or quality job now (--follow to watch it)"
    )
    parser.add_argument("kind", choices=JOB_KINDS, metavar="JOB", help=", ".join(JOB_KINDS))
    parser.add_argument("--follow", action="store_true", help="print its state and log until it ends")
    parser.add_argument(
        "--backfill",
        nargs=2,
        metavar=("FROM", "TO"),
        help="monitor only: rebuild the hour summaries of [FROM, TO), ISO 8601 times (UTC if no zone)",
    )
    parser.add_argument(
        "--poll-seconds",
        type=positive_number,
        default=DEFAULT_POLL_SECONDS,
        metavar="N",
        help=f"how often --follow looks (default {DEFAULT_POLL_SECONDS:g})",
    )
    parser.set_defaults(run=run)


def run(args: argparse.Namespace, connect: Connect) -> int:
    del connect  # the jobs are Batch's: named by the stack outputs, reached with the stack's clients
    if args.backfill is None:
        jobs = _jobs(args)
        job_id = jobs.submit(args.kind)
        print(f"submitted {args.kind} job {job_id}")
    else:
        arguments = backfill_arguments(args.kind, args.backfill)
        if args.local:
            raise CliError(
                "run-job --backfill: the local run summarizes every hour as it checks; there is no "
                "Batch to backfill on (use it against a stack)"
            )
        jobs = batch_jobs(args, kind=args.kind)
        job_id = jobs.submit(args.kind, arguments=arguments)
        print(f"submitted {args.kind} backfill of [{arguments[2]}, {arguments[4]}) as job {job_id}")
    if not args.follow:
        return 0
    return follow(jobs, job_id, poll=args.poll_seconds)


def backfill_arguments(kind: str, span: list[str]) -> tuple[str, ...]:
    """`backfill --from FROM --to TO` for the monitor, the times checked and written in UTC."""
    if kind != "monitor":
        raise CliError(f"run-job {kind} --backfill: only the monitor backfills (its hour summaries)")
    start, end = (_utc_time(name, text) for name, text in zip(("FROM", "TO"), span, strict=True))
    if not start < end:
        raise CliError(f"run-job monitor --backfill: FROM ({span[0]}) must be before TO ({span[1]})")
    return ("backfill", "--from", f"{start:%Y-%m-%dT%H:%M:%SZ}", "--to", f"{end:%Y-%m-%dT%H:%M:%SZ}")


def _utc_time(name: str, text: str) -> datetime:
    try:
        value = datetime.fromisoformat(text)
    except ValueError:
        raise CliError(
            f"run-job monitor --backfill: {name} {text!r} is not an ISO 8601 time, e.g. 2026-11-23T10:00Z"
        ) from None
    return value.astimezone(UTC) if value.tzinfo else value.replace(tzinfo=UTC)


def _jobs(args: argparse.Namespace) -> BatchJobs | LocalJobs:
    if args.local:  # the local runner runs them, as the local Batch stand-in
        return LocalJobs(default_state_path(args.environ))
    return batch_jobs(args, kind=args.kind)


def batch_jobs(args: argparse.Namespace, *, kind: JobKind) -> BatchJobs:
    """The stack's queue and the `kind` job's definition, named by its outputs, with clients in its
    region; only that kind's output is required (a stack from before the quality job still runs
    retrain and monitor)."""
    outputs = load_outputs(args.outputs, environ=args.environ, stack=args.stack)
    clients: ClientFactory = args.stack_clients(outputs.region)
    return BatchJobs(
        clients("batch"),
        clients("logs"),
        queue=outputs.require("jobQueueName"),
        definitions={kind: outputs.require(f"{kind}JobDefinitionName")},
    )


def follow(jobs: BatchJobs | LocalJobs, job_id: str, *, poll: float) -> int:
    """State changes (with the time since submission) and new log lines, until the job ends."""
    started = time.monotonic()
    shown: str | None = None
    cursor: str | None = None
    while True:
        state = jobs.state(job_id)
        if state.status != shown:
            shown = state.status
            print(
                f"{state.name} {job_id}: {state.status} after {time.monotonic() - started:.0f} s", flush=True
            )
        page = jobs.logs(state, cursor=cursor)
        cursor = page.cursor
        for line in page.lines:
            print(f"  {line.message}", flush=True)
        if state.ended:
            return _verdict(state)
        time.sleep(poll)


def _verdict(state: JobState) -> int:
    if state.status == "SUCCEEDED":
        return 0
    raise CliError(f"job {state.job_id} FAILED: {state.reason or 'no reason given'}")
