"""`ml-deploy dashboard [--env prod] [--open]`: where the model-tracking dashboard is.

On AWS a presigned URL of the page the monitor jobs write to the log bucket (it opens in a
browser without AWS credentials until it expires); under --local a copy of it on disk. Also the
rollback's release event, which only the CLI sees.
"""

from __future__ import annotations

import argparse
import sys
import webbrowser
from datetime import UTC, datetime

from botocore.exceptions import BotoCoreError, ClientError

from ml_deploy.tracking import ReleaseEvent
from ml_deploy_cli.aws.dashboard import MAX_EXPIRES_SECONDS
from ml_deploy_cli.backend import Connect
from ml_deploy_cli.delivery import ENVIRONMENTS, Delivery, Rollback
from ml_deploy_cli.errors import CliError


def register(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = commands.add_parser("dashboard", help="the model-tracking dashboard's URL (or local file)")
    parser.add_argument("--env", choices=ENVIRONMENTS, default="prod", help="environment (default prod)")
    parser.add_argument("--open", action="store_true", help="open it in the default browser")
    parser.add_argument(
        "--expires-in",
        type=expiry,
        default=3600,
        metavar="SECONDS",
        help=f"how long the URL works (1-{MAX_EXPIRES_SECONDS}, 3600; ends with temporary credentials)",
    )
    parser.set_defaults(run=run)


def expiry(value: str) -> int:
    try:
        seconds = int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{value!r} is not a whole number of seconds") from None
    if not 1 <= seconds <= MAX_EXPIRES_SECONDS:
        raise argparse.ArgumentTypeError(f"{seconds} is not between 1 and {MAX_EXPIRES_SECONDS} (7 days)")
    return seconds


def run(args: argparse.Namespace, connect: Connect) -> int:
    where = connect().dashboard(args.env, expires_in=args.expires_in)
    print(where)
    if args.open:
        target = where if "://" in where else f"file://{where}"
        if not webbrowser.open(target):
            raise CliError(f"no browser could be started; open {where} yourself")
    return 0


def record_rollback(delivery: Delivery, rollback: Rollback) -> None:
    """Note the rollback for the dashboard's timeline; the rollback stands even if this fails."""
    event = ReleaseEvent(
        kind="rollback",
        at=datetime.now(UTC),
        environment=rollback.environment,
        model_version=rollback.to_image.model_version,
        detail=f"{rollback.from_revision} ({rollback.from_image.label}) -> "
        f"{rollback.to_revision} ({rollback.to_image.label})",
    )
    try:
        delivery.record_release(event)
    except (ClientError, BotoCoreError, CliError) as error:
        print(f"  the dashboard will not show this rollback: {error}", file=sys.stderr)
