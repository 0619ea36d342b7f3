"""`ml-deploy`: the operator CLI. `main(argv) -> int`; errors meant for users are printed on one
line (exit 1), usage errors by argparse (exit 2)."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

from botocore.exceptions import BotoCoreError, ClientError

from ml_deploy_cli.aws import ClientFactory
from ml_deploy_cli.backend import LOCAL_VARIABLE, Connect, connector
from ml_deploy_cli.commands import (
    approvals,
    archive,
    bootstrap,
    deploy,
    first_model,
    history,
    rollback,
    status,
    upload,
)
from ml_deploy_cli.errors import CliError, one_line
from ml_deploy_cli.outputs import OUTPUTS_VARIABLE

Command = Callable[[argparse.Namespace, Connect], int]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="ml-deploy",
        description=(
            "Operate a deployed ml-deploy stack: first deploy, status, approvals, model uploads, rollbacks."
        ),
        epilog=(
            f"Names come from the stack outputs: --outputs FILE, ${OUTPUTS_VARIABLE}, or else "
            "`pulumi stack output --json` run here."
        ),
    )
    parser.add_argument(
        "--outputs",
        type=Path,
        metavar="FILE",
        help=f"stack outputs from `pulumi stack output --json` (default ${OUTPUTS_VARIABLE})",
    )
    parser.add_argument("--stack", help="the Pulumi stack to ask when no outputs file is given")
    parser.add_argument("--region", help="AWS region (default: the region of the stack's ARNs)")
    parser.add_argument(
        "--local", action="store_true", help=f"the local backend instead of AWS (or {LOCAL_VARIABLE}=1)"
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for module in (status, approvals, upload, first_model, bootstrap, rollback, history, deploy, archive):
        module.register(commands)
    return parser


def main(
    argv: Sequence[str] | None = None,
    *,
    environ: Mapping[str, str] | None = None,
    client: ClientFactory | None = None,
) -> int:
    """Run one command; `client` stands in for boto3's client factory (tests hand in moto/Stubber)."""
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as stop:  # --help (0) or a usage error (2), already printed by argparse
        return stop.code if isinstance(stop.code, int) else 2
    connect = connector(
        local=args.local,
        outputs=args.outputs,
        stack=args.stack,
        region=args.region,
        environ=os.environ if environ is None else environ,
        client=client,
    )
    # Commands that need no stack outputs (deploy) take the clients directly.
    args.clients = client
    command: Command = args.run
    try:
        return command(args, connect)
    except (CliError, ClientError, BotoCoreError) as error:
        print(f"ml-deploy: {args.command}: {one_line(error)}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("ml-deploy: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
