"""`ml-deploy diff [CANDIDATE BASE] | --execution ID`: what the base (prod) would change to: what
the candidate environment runs (`diff stage prod`, the default) or what a pipeline execution
carries (`--execution`, e.g. the one waiting for approval).

Field by field, side by side: commit, model version, image and its digest, the bundle manifest's
holdout metrics (read from the archived bundle of each model version), and between environments
the task's cpu and memory and the container settings that differ beyond the ones that name the
environment. `--json` prints `records.DiffDocument`.
"""

from __future__ import annotations

import argparse
import json
from dataclasses import dataclass, field

from ml_deploy.settings import ServiceSettings
from ml_deploy_cli.backend import Connect
from ml_deploy_cli.commands import records
from ml_deploy_cli.commands.approvals import execution_id
from ml_deploy_cli.commands.formatting import NONE
from ml_deploy_cli.delivery import (
    ENVIRONMENTS,
    BundleEvidence,
    Delivery,
    Deployment,
    Environment,
    ExecutionFacts,
)
from ml_deploy_cli.errors import CliError

DIFF_SCHEMA = records.DIFF_SCHEMA
# Settings that differ between stage and prod by design: not a change a deploy would make.
_PER_ENVIRONMENT = {ServiceSettings.variable("environment")}
_SEARCHED = 20  # executions looked through for --execution


@dataclass(frozen=True)
class Side:
    """What one side runs or carries; None where it does not say (an execution has no task settings)."""

    commit: str | None
    model_version: str | None
    image: str | None
    cpu: str | None = None
    memory: str | None = None
    settings: dict[str, str] | None = field(default=None)


def register(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = commands.add_parser(
        "diff", help="what prod would change to: stage's image, or an execution's (metrics side by side)"
    )
    parser.add_argument(
        "environments",
        nargs="*",
        type=_environment,
        metavar="ENV",
        help="CANDIDATE BASE: what would go where (default: stage prod)",
    )
    parser.add_argument(
        "--execution",
        type=execution_id,
        metavar="ID",
        help="compare what this pipeline execution carries with prod (instead of an environment)",
    )
    parser.add_argument("--json", action="store_true", help=f"one JSON document (schema {DIFF_SCHEMA})")
    parser.set_defaults(run=run)


def _environment(value: str) -> Environment:
    for environment in ENVIRONMENTS:
        if value == environment:
            return environment
    raise argparse.ArgumentTypeError(f"{value!r} is not an environment (stage or prod)")


def run(args: argparse.Namespace, connect: Connect) -> int:
    candidate_env, base_env = _which(args)
    delivery = connect()
    base_deployment = delivery.deployment(base_env)
    base = _deployed(base_deployment)
    if args.execution:
        candidate_name = f"execution {args.execution}"
        candidate = _carried(_facts(delivery, args.execution), repository=_repository(base_deployment))
    else:
        candidate_name = candidate_env
        candidate = _deployed(delivery.deployment(candidate_env))
    fields = compare(base, candidate, evidence=delivery if isinstance(delivery, BundleEvidence) else None)
    document: records.DiffDocument = {
        "schema": DIFF_SCHEMA,
        "base": base_env,
        "candidate": candidate_name,
        "fields": fields,
        "changes": [row["field"] for row in fields if row["prod"] != row["candidate"]],
    }
    print(json.dumps(document, indent=2) if args.json else "\n".join(lines(document)))
    return 0


def _which(args: argparse.Namespace) -> tuple[Environment, Environment]:
    named: list[Environment] = args.environments
    if args.execution and named:
        raise CliError("compare an execution with prod, or two environments (`diff stage prod`), not both")
    if not named:
        return "stage", "prod"
    if len(named) != 2 or named[0] == named[1]:
        raise CliError(f"name two environments, CANDIDATE BASE (`diff stage prod`), not {' '.join(named)}")
    return named[0], named[1]


def lines(document: records.DiffDocument) -> list[str]:
    fields, changes = document["fields"], set(document["changes"])
    width = max(len(row["field"]) for row in fields)
    head = f"{document['base']} now -> {document['candidate']}" + ("" if changes else ": no change")
    return [head] + [
        f"{'~' if row['field'] in changes else ' '} {row['field']:<{width}}  "
        f"{_shown(row['prod'])}  ->  {_shown(row['candidate'])}"
        for row in fields
    ]


def _shown(value: records.Value) -> str:
    if value is None:
        return NONE
    return f"{value:.4f}" if isinstance(value, float) else str(value)


def compare(base: Side, candidate: Side, *, evidence: BundleEvidence | None) -> list[records.DiffField]:
    """The rows, in the order an approver reads them: code, model, image, then its evidence."""
    image_row = "image" if candidate.settings is not None else "image tag"
    rows: list[records.DiffField] = [
        {"field": "commit", "prod": base.commit, "candidate": candidate.commit},
        {"field": "model", "prod": base.model_version, "candidate": candidate.model_version},
        {
            "field": image_row,
            "prod": _image_field(base, image_row),
            "candidate": _image_field(candidate, image_row),
        },
    ]
    if evidence is not None:
        rows.append(
            {
                "field": "image digest",
                "prod": _digest(evidence, base),
                "candidate": _digest(evidence, candidate),
            }
        )
        rows += _metric_rows(evidence, base, candidate)
    if candidate.settings is not None and base.settings is not None:
        rows += [
            {"field": "cpu", "prod": base.cpu, "candidate": candidate.cpu},
            {"field": "memory", "prod": base.memory, "candidate": candidate.memory},
        ]
        rows += _setting_rows(base.settings, candidate.settings)
    return rows


def _metric_rows(evidence: BundleEvidence, base: Side, candidate: Side) -> list[records.DiffField]:
    before, after = _metrics(evidence, base), _metrics(evidence, candidate)
    return [
        {"field": f"metric {name}", "prod": before.get(name), "candidate": after.get(name)}
        for name in sorted(set(before) | set(after))
    ]


def _metrics(evidence: BundleEvidence, side: Side) -> dict[str, float]:
    manifest = evidence.bundle_manifest(side.model_version) if side.model_version else None
    return dict(manifest.metrics) if manifest else {}


def _setting_rows(before: dict[str, str], after: dict[str, str]) -> list[records.DiffField]:
    names = sorted((set(before) | set(after)) - _PER_ENVIRONMENT)
    return [
        {"field": f"setting {name}", "prod": before.get(name), "candidate": after.get(name)}
        for name in names
        if before.get(name) != after.get(name)
    ]


def _image_field(side: Side, row: str) -> str | None:
    if side.image is None or row == "image":
        return side.image
    return side.image.rpartition(":")[2] if ":" in side.image.rpartition("/")[2] else side.image


def _digest(evidence: BundleEvidence, side: Side) -> str | None:
    return evidence.image_digest(side.image) if side.image else None


def _deployed(deployment: Deployment) -> Side:
    variables = deployment.container_environment
    commit = deployment.image.commit or variables.get(ServiceSettings.variable("code_version"))
    return Side(
        commit=commit[:12] if commit else None,
        model_version=deployment.image.model_version,
        image=deployment.image.image,
        cpu=deployment.cpu,
        memory=deployment.memory,
        settings=dict(variables),
    )


def _carried(facts: ExecutionFacts, *, repository: str | None) -> Side:
    """What an execution would deploy: its build's image tag, in the repository the base runs from."""
    tag = facts.image_tag
    image = f"{repository}:{tag}" if repository and tag else tag
    return Side(
        commit=facts.commit[:12] if facts.commit else None, model_version=facts.model_version, image=image
    )


def _repository(deployment: Deployment) -> str | None:
    name, _, tag = deployment.image.image.rpartition(":")
    return name if name and "/" not in tag and "@" not in deployment.image.image else None


def _facts(delivery: Delivery, wanted: str) -> ExecutionFacts:
    for approval in delivery.pipeline_state().approvals:
        if approval.execution_id == wanted:
            return approval.facts
    for record in delivery.history(_SEARCHED):
        if record.execution_id == wanted:
            return record.facts
    raise CliError(
        f"execution {wanted} is neither waiting nor among the {_SEARCHED} newest executions "
        "(`ml-deploy history --limit 100` lists more)"
    )
