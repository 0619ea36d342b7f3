"""`ml-deploy`: the operator CLI. `main(argv) -> int`; every failure is one line on stderr with an
exit code from `errors.EXIT_CODES` (the table `--help` ends with): 1 an error the line names, 2 a
usage error, 3 a bug, 130 interrupted.
"""

from __future__ import annotations

import argparse
import os
import sys
import traceback
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any, NoReturn, cast

from botocore.exceptions import BotoCoreError, ClientError

from ml_deploy_cli.aws.clients import ClientFactory, session_clients
from ml_deploy_cli.backend import LOCAL_VARIABLE, Connect, connector, is_local, step_clients
from ml_deploy_cli.commands import (
    approvals,
    archive,
    bootstrap,
    completion,
    dashboard,
    deploy,
    diff,
    executions,
    first_model,
    history,
    logs,
    outcomes,
    pipeline_steps,
    rollback,
    run_job,
    status,
    upload,
)
from ml_deploy_cli.errors import CliError, ExitCode, exit_code_table, one_line
from ml_deploy_cli.outputs import OUTPUTS_VARIABLE

Command = Callable[[argparse.Namespace, Connect], int]

BUG_EXIT = ExitCode.BUG
DEBUG_VARIABLE = "ML_DEPLOY_DEBUG"
OPERATOR_COMMANDS = (
    status,
    history,
    logs,
    diff,
    approvals,
    executions,
    run_job,
    upload,
    outcomes,
    first_model,
    bootstrap,
    rollback,
    dashboard,
    completion,
)
# What CodeBuild runs (buildspec*.yml): kept out of the operator's command list in --help.
PIPELINE_STEPS = (deploy, archive)


class OneLineParser(argparse.ArgumentParser):
    """argparse, with a usage error as one line naming the command and where its help is (exit 2)."""

    def error(self, message: str) -> NoReturn:
        command = self.prog.partition(" ")[2]
        where = f"{command}: " if command else ""
        help_command = f"ml-deploy {command} --help" if command else "ml-deploy --help"
        self.exit(ExitCode.USAGE, f"ml-deploy: {where}{message} (see `{help_command}`)\n")


def _version() -> str:
    from importlib import metadata  # ~25 ms at start-up: only `--version` reads it

    try:
        return metadata.version("ml-deploy")
    except metadata.PackageNotFoundError:  # run from a source tree that was never installed
        return "unknown (not installed)"


class VersionAction(argparse.Action):
    """argparse's `version` action, with the version read when `--version` is given, not at every start."""

    def __init__(self, option_strings: Sequence[str], dest: str, **kwargs: Any) -> None:
        super().__init__(
            option_strings,
            dest=argparse.SUPPRESS,
            default=argparse.SUPPRESS,
            nargs=0,
            help="show program's version number and exit",
        )

    def __call__(
        self,
        parser: argparse.ArgumentParser,
        namespace: argparse.Namespace,
        values: str | Sequence[Any] | None,
        option_string: str | None = None,
    ) -> None:
        print(f"ml-deploy {_version()}")
        parser.exit()


def _add_global_options(parser: argparse.ArgumentParser, *, default: object) -> None:
    """The options every command takes, before or after its name (`ml-deploy status --local`)."""
    group = parser.add_argument_group("global options")
    group.add_argument(
        "--outputs",
        type=Path,
        metavar="FILE",
        default=default,
        help=f"stack outputs from `pulumi stack output --json` (default ${OUTPUTS_VARIABLE})",
    )
    group.add_argument(
        "--stack", default=default, help="the Pulumi stack to ask when no outputs file is given"
    )
    group.add_argument(
        "--region", default=default, help="AWS region (default: the region of the stack's ARNs)"
    )
    group.add_argument(
        "--local",
        action="store_true",
        default=default,
        help=f"the local delivery instead of AWS (or {LOCAL_VARIABLE}=1)",
    )


def build_parser() -> argparse.ArgumentParser:
    parser = OneLineParser(
        prog="ml-deploy",
        description=(
            "Operate a deployed ml-deploy stack: first deploy, status, approvals, model uploads, rollbacks."
        ),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action=VersionAction)
    _add_global_options(parser, default=None)
    # Every subparser is a OneLineParser too (argparse makes them of the parent's class).
    commands = cast(
        "argparse._SubParsersAction[argparse.ArgumentParser]",
        parser.add_subparsers(dest="command", required=True, metavar="COMMAND", title="commands"),
    )
    for module in OPERATOR_COMMANDS:
        module.register(commands)
    steps = pipeline_steps.Unlisted(commands)
    for module in PIPELINE_STEPS:
        module.register(steps)  # duck-typed: add_parser is the one method they call
    parser.epilog = (
        f"{pipeline_steps.epilog(steps.names)}\n\nNames come from the stack outputs: --outputs FILE, "
        f"${OUTPUTS_VARIABLE}, or else `pulumi stack output --json` run here.\n\n{exit_code_table()}"
    )
    for subparser in commands.choices.values():
        # SUPPRESS: an option not given after the command keeps the value given before it.
        _add_global_options(subparser, default=argparse.SUPPRESS)
    parser.set_defaults(parser=parser)  # `completion` reads the whole tree
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
        return stop.code if isinstance(stop.code, int) else ExitCode.USAGE
    environ = os.environ if environ is None else environ
    args.local = is_local(flag=bool(args.local), environ=environ)
    args.environ = environ
    connect = connector(
        local=args.local,
        outputs=args.outputs,
        stack=args.stack,
        region=args.region,
        environ=environ,
        client=client,
    )
    # Pipeline steps take no stack outputs, only clients: the local stand-in's under --local.
    args.clients = step_clients(local=args.local, region=args.region, environ=environ, client=client)
    # Commands that read the outputs themselves (run-job): clients in the stack's region.
    args.stack_clients = lambda stack_region: client or session_clients(args.region or stack_region)
    command: Command = args.run
    try:
        refusal = getattr(args, "local_refusal", None)  # a command with no local meaning declares it
        if args.local and refusal:
            raise CliError(f"--local: {refusal}")
        return command(args, connect)
    except (CliError, ClientError, BotoCoreError) as error:
        print(f"ml-deploy: {args.command}: {one_line(error)}", file=sys.stderr)
        return ExitCode.FAILED
    except KeyboardInterrupt:
        print("ml-deploy: interrupted", file=sys.stderr)
        return ExitCode.INTERRUPTED
    except Exception as error:  # a bug: still one line, the traceback on request
        if environ.get(DEBUG_VARIABLE):
            traceback.print_exc()
        print(
            f"ml-deploy: {args.command}: unexpected {type(error).__name__}: {one_line(error)} "
            f"(a bug; {DEBUG_VARIABLE}=1 shows the traceback)",
            file=sys.stderr,
        )
        return BUG_EXIT


if __name__ == "__main__":
    sys.exit(main())
