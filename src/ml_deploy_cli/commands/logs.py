"""`ml-deploy logs ENV|JOB [--since 10m] [--follow]`: what an environment's model server, or the
retrain, monitor or quality job's runs, logged.

On AWS the CloudWatch Logs streams of the running revision's awslogs driver, or of the job
definition's (as `aws logs tail` reads them); on the local delivery the output of the task the
local run started, or of the job runs its runner ran.
"""

from __future__ import annotations

import argparse
import re
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta

from ml_deploy_cli.aws.jobs import JOB_KINDS
from ml_deploy_cli.aws.logs import read_events
from ml_deploy_cli.backend import Connect
from ml_deploy_cli.commands.arguments import positive_number
from ml_deploy_cli.commands.run_job import batch_jobs
from ml_deploy_cli.delivery import ENVIRONMENTS, LogLine, LogPage
from ml_deploy_cli.local.jobs import LocalJobs
from ml_deploy_cli.local.state import default_state_path

_DURATION = re.compile(r"^(\d+)([smhd])$")
_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days"}
DEFAULT_FOLLOW_SECONDS = 2.0

Reader = Callable[[str | None], LogPage]  # cursor -> the lines after it


def register(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = commands.add_parser(
        "logs",
        help="what stage's or prod's model server, or a job (retrain, monitor, quality), logged (--follow)",
    )
    parser.add_argument(
        "target",
        choices=(*ENVIRONMENTS, *JOB_KINDS),
        metavar="ENV|JOB",
        help="stage or prod (the model server), retrain, monitor or quality (the job's runs)",
    )
    parser.add_argument(
        "--since", type=duration, default=timedelta(minutes=10), metavar="AGE", help="10m (s, m, h, d)"
    )
    parser.add_argument(
        "--tail", type=_count, metavar="N", help="only the last N lines of what is there (as `kubectl logs`)"
    )
    parser.add_argument("--follow", action="store_true", help="go on printing new lines until Ctrl-C")
    parser.add_argument(
        "--interval",
        type=positive_number,
        default=DEFAULT_FOLLOW_SECONDS,
        metavar="SECONDS",
        help=f"how often --follow looks (default {DEFAULT_FOLLOW_SECONDS:g})",
    )
    parser.set_defaults(run=run)


def duration(value: str) -> timedelta:
    """`30s`, `10m`, `2h`, `1d`: how far back to start."""
    match = _DURATION.match(value.strip())
    if not match or int(match.group(1)) == 0:
        raise argparse.ArgumentTypeError(f"{value!r} is not an age like 30s, 10m, 2h or 1d")
    return timedelta(**{_UNITS[match.group(2)]: int(match.group(1))})


def _count(value: str) -> int:
    if not value.isdigit() or int(value) < 1:
        raise argparse.ArgumentTypeError(f"{value!r} is not a whole number above 0")
    return int(value)


def run(args: argparse.Namespace, connect: Connect) -> int:
    since = datetime.now(UTC) - args.since
    read = (
        _job_reader(args, since=since) if args.target in JOB_KINDS else _service_reader(args, connect, since)
    )
    page = read(None)
    _print(page.lines[-args.tail :] if args.tail else page.lines)
    try:
        while args.follow:
            time.sleep(args.interval)
            page = read(page.cursor)
            _print(page.lines)
    except KeyboardInterrupt:  # the way a follow ends
        return 0
    return 0


def _service_reader(args: argparse.Namespace, connect: Connect, since: datetime) -> Reader:
    delivery = connect()
    return lambda cursor: delivery.service_logs(args.target, since=since, cursor=cursor)


def _job_reader(args: argparse.Namespace, *, since: datetime) -> Reader:
    """Every run of the job kind since `since`: the streams of its definition's group and prefix."""
    if args.local:  # the runs `run-job` asked the local runner for; their lines carry no time
        local = LocalJobs(default_state_path(args.environ))
        return lambda cursor: local.kind_logs(args.target, since=since, cursor=cursor)
    jobs = batch_jobs(args, kind=args.target)
    group, prefix = jobs.log_location(args.target)
    return lambda cursor: read_events(
        jobs.logs_client, group=group, stream_prefix=prefix, since=since, cursor=cursor
    )


def _print(lines: Sequence[LogLine]) -> None:
    for line in lines:
        at = f"{line.at:%Y-%m-%dT%H:%M:%S}Z " if line.at else ""
        print(f"{at}{line.source} {line.message}", flush=True)
