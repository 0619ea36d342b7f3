"""`ml-deploy diff [--execution ID]`: what prod would change to: the image stage runs (by default)
or what a pipeline execution carries (`--execution`, e.g. the one waiting for approval).

Field by field, prod now and the candidate: commit, model version, image, and (against stage) the
container settings that differ beyond the ones that name the environment. `--json` prints
`DIFF_SCHEMA`.
"""

from __future__ import annotations

import argparse
import json
from dataclasses import dataclass
from typing import Any

from ml_deploy.settings import ServiceSettings
from ml_deploy_cli.backend import Connect
from ml_deploy_cli.commands.approvals import execution_id
from ml_deploy_cli.commands.formatting import NONE
from ml_deploy_cli.delivery import Delivery, Deployment, ExecutionFacts
from ml_deploy_cli.errors import CliError

DIFF_SCHEMA = "ml-deploy/diff/v1"
# Settings that differ between stage and prod by design: not a change a deploy would make.
_PER_ENVIRONMENT = {ServiceSettings.variable("environment")}


@dataclass(frozen=True)
class Change:
    field: str
    prod: str | None
    candidate: str | None


def register(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = commands.add_parser("diff", help="what prod would change to: stage's image, or an execution's")
    parser.add_argument(
        "--execution",
        type=execution_id,
        metavar="ID",
        help="compare what this pipeline execution carries (default: what stage runs)",
    )
    parser.add_argument("--json", action="store_true", help=f"one JSON document (schema {DIFF_SCHEMA})")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace, connect: Connect) -> int:
    delivery = connect()
    prod = delivery.deployment("prod")
    if args.execution:
        candidate_name = f"execution {args.execution}"
        rows = _against_facts(prod, _facts(delivery, args.execution))
    else:
        candidate_name = "stage"
        rows = _against_stage(prod, delivery.deployment("stage"))
    changes = [row for row in rows if row.prod != row.candidate]
    if args.json:
        document: dict[str, Any] = {
            "schema": DIFF_SCHEMA,
            "candidate": candidate_name,
            "fields": [vars(row) for row in rows],
            "changes": [row.field for row in changes],
        }
        print(json.dumps(document, indent=2))
        return 0
    width = max(len(row.field) for row in rows)
    print(f"prod now -> {candidate_name}" + ("" if changes else ": no change"))
    for row in rows:
        mark = "~" if row in changes else " "
        print(f"{mark} {row.field:<{width}}  {row.prod or NONE}  ->  {row.candidate or NONE}")
    return 0


def _facts(delivery: Delivery, wanted: str) -> ExecutionFacts:
    for approval in delivery.pipeline_state().approvals:
        if approval.execution_id == wanted:
            return approval.facts
    for record in delivery.history(20):
        if record.execution_id == wanted:
            return record.facts
    raise CliError(f"execution {wanted} is neither waiting nor among the 20 newest executions")


def _against_facts(prod: Deployment, facts: ExecutionFacts) -> list[Change]:
    return [
        Change("commit", _commit(prod), facts.commit[:12] if facts.commit else None),
        Change("model", prod.image.model_version, facts.model_version),
        Change("image tag", prod.image.tag, facts.image_tag),
    ]


def _against_stage(prod: Deployment, stage: Deployment) -> list[Change]:
    rows = [
        Change("commit", _commit(prod), _commit(stage)),
        Change("model", prod.image.model_version, stage.image.model_version),
        Change("image", prod.image.image, stage.image.image),
    ]
    names = sorted((set(prod.container_environment) | set(stage.container_environment)) - _PER_ENVIRONMENT)
    for name in names:
        before, after = prod.container_environment.get(name), stage.container_environment.get(name)
        if before != after:
            rows.append(Change(f"setting {name}", before, after))
    return rows


def _commit(deployment: Deployment) -> str | None:
    variables = deployment.container_environment
    commit = deployment.image.commit or variables.get(ServiceSettings.variable("code_version"))
    return commit[:12] if commit else None
