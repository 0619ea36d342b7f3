"""`ml-deploy history`: recent pipeline executions, what started them, what they carried, who approved."""

from __future__ import annotations

import argparse
import json

from ml_deploy_cli.backend import Connect
from ml_deploy_cli.commands import records
from ml_deploy_cli.commands.formatting import facts_line, moment, who
from ml_deploy_cli.delivery import ApprovalOutcome, ExecutionRecord

HISTORY_SCHEMA = records.HISTORY_SCHEMA
MAX_LIMIT = 100  # ListPipelineExecutions returns at most 100 per call

_ANSWERS = {"Succeeded": "approved", "Failed": "rejected", "InProgress": "waiting", "Abandoned": "abandoned"}


def register(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = commands.add_parser("history", help="recent pipeline executions and their approvals")
    parser.add_argument("--limit", type=limit, default=10, metavar="N", help="executions to show (1-100, 10)")
    parser.add_argument("--json", action="store_true", help=f"one JSON document (schema {HISTORY_SCHEMA})")
    parser.set_defaults(run=run)


def limit(value: str) -> int:
    try:
        number = int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{value!r} is not a whole number") from None
    if not 1 <= number <= MAX_LIMIT:
        raise argparse.ArgumentTypeError(f"{number} is not between 1 and {MAX_LIMIT}")
    return number


def run(args: argparse.Namespace, connect: Connect) -> int:
    found = connect().history(args.limit)
    if args.json:
        print(json.dumps(records.history(found), indent=2))
        return 0
    if not found:
        print("no pipeline executions yet")
    for record in found:
        print("\n".join(record_lines(record)))
    return 0


def record_lines(record: ExecutionRecord) -> list[str]:
    return [
        f"{record.execution_id}  {record.status:<10} {moment(record.started)}  {record.trigger}",
        f"  {facts_line(record.facts)}",
        f"  {approval_line(record.facts.approval)}",
    ]


def approval_line(approval: ApprovalOutcome | None) -> str:
    if approval is None:
        return "approval: not reached"
    answer = _ANSWERS.get(approval.status, approval.status.lower())
    by = f" by {who(approval.by)}" if approval.status in ("Succeeded", "Failed") else ""
    said = f': "{approval.summary}"' if approval.summary else ""
    return f"approval: {answer}{by}{said}"
