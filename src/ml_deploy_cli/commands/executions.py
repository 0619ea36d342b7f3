"""`ml-deploy retry` and `ml-deploy release`: the console's "Retry" and "Release change", so a
failed run is fixed or restarted from the terminal.

`retry` retries the failed actions of the failed stage (a flaky build, a deploy that timed out);
`release` starts a new execution from the sources' current revisions (after a fix outside them,
e.g. a `pulumi up`).
"""

from __future__ import annotations

import argparse

from ml_deploy_cli.backend import Connect
from ml_deploy_cli.commands.approvals import execution_id
from ml_deploy_cli.commands.hints import hint


def register(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    retry = commands.add_parser("retry", help="retry the failed actions of the pipeline's failed stage")
    retry.add_argument(
        "--execution",
        type=execution_id,
        metavar="ID",
        help="the execution whose failed stage to retry (default: the one failed stage)",
    )
    retry.set_defaults(run=run_retry)
    release = commands.add_parser("release", help="start a new pipeline execution from the current sources")
    release.set_defaults(run=run_release)


def run_retry(args: argparse.Namespace, connect: Connect) -> int:
    retried = connect().retry(args.execution)
    print(f"retrying the failed actions of {retried.stage} in execution {retried.execution_id}")
    print(f"  follow it with {hint(args, 'status --watch')}")
    return 0


def run_release(args: argparse.Namespace, connect: Connect) -> int:
    started = connect().release()
    print(f"started execution {started} from the sources' current revisions")
    print(f"  follow it with {hint(args, 'status --watch')}")
    return 0
