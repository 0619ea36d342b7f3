"""`ml-deploy approve` / `ml-deploy reject`: answer the prod approval the pipeline waits on."""

from __future__ import annotations

import argparse
import re

from ml_deploy_cli.backend import Connect
from ml_deploy_cli.commands.formatting import facts_line, moment

_EXECUTION_ID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")
SUMMARY_LIMIT = 512  # PutApprovalResult's summary is at most 512 characters


def register(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    for name, approve, verb in (("approve", True, "approve"), ("reject", False, "reject")):
        parser = commands.add_parser(name, help=f"{verb} the deploy to prod that waits for approval")
        parser.add_argument(
            "--execution",
            type=execution_id,
            metavar="ID",
            help="the pipeline execution you mean (default: the one waiting, if only one waits)",
        )
        parser.add_argument(
            "--comment", required=True, type=comment, metavar="TEXT", help="why; recorded with the approval"
        )
        parser.set_defaults(run=run, approve=approve)


def execution_id(value: str) -> str:
    if not _EXECUTION_ID.match(value):
        raise argparse.ArgumentTypeError(f"{value!r} is not a pipeline execution id (a lowercase UUID)")
    return value


def comment(value: str) -> str:
    if not value.strip():
        raise argparse.ArgumentTypeError("the comment must say something")
    if len(value) > SUMMARY_LIMIT:
        raise argparse.ArgumentTypeError(f"the comment has {len(value)} characters, at most {SUMMARY_LIMIT}")
    return value


def run(args: argparse.Namespace, connect: Connect) -> int:
    delivery = connect()
    answer = delivery.answer_approval(approve=args.approve, comment=args.comment, execution_id=args.execution)
    verb = "approved" if answer.approved else "rejected"
    then = "prod deploys next" if answer.approved else "the execution stops before prod"
    print(f"{verb} execution {answer.execution_id} at {moment(answer.answered_at)}: {then}")
    print(f"  {facts_line(answer.facts)}")
    return 0
