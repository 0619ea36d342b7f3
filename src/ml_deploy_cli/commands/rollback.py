"""`ml-deploy rollback ENV`: put an environment back on the image it ran before.

The service is pointed at the newest earlier task-definition revision whose image differs from the
one running (ECS's own circuit breaker rolls back the same way). The pipeline stays the owner of
the image: its next execution deploys over the rollback.
"""

from __future__ import annotations

import argparse

from ml_deploy_cli.backend import Connect
from ml_deploy_cli.commands.dashboard import record_rollback
from ml_deploy_cli.commands.hints import hint
from ml_deploy_cli.delivery import ENVIRONMENTS


def register(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = commands.add_parser("rollback", help="redeploy the image an environment ran before")
    parser.add_argument("environment", choices=ENVIRONMENTS, metavar="ENV", help="stage or prod")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace, connect: Connect) -> int:
    delivery = connect()
    rollback = delivery.roll_back(args.environment)
    record_rollback(delivery, rollback)
    print(
        f"{rollback.environment}: rolling back {rollback.service} from {rollback.from_revision} "
        f"({rollback.from_image.label}) to {rollback.to_revision} ({rollback.to_image.label})"
    )
    print(f"  ECS replaces the tasks now; {hint(args, 'status')} shows when the deploy is complete")
    return 0
