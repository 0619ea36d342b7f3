"""`ml-deploy status`: what runs where, what the pipeline is doing, what the jobs last decided.

Each section is read on its own: one that cannot be read (no permission, a missing output) is
reported on stderr and the others still print; the exit status is then 1.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable

from botocore.exceptions import BotoCoreError, ClientError

from ml_deploy.settings import ServiceSettings
from ml_deploy_cli.backend import Connect
from ml_deploy_cli.commands.formatting import NONE, facts_line, moment
from ml_deploy_cli.delivery import ENVIRONMENTS, Delivery, Deployment, Environment, PipelineState
from ml_deploy_cli.errors import CliError, one_line

# The environment whose drift the monitor watches (retrain_job/monitor.py writes latest/<env>/).
DRIFT_ENVIRONMENT: Environment = "prod"


def register(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = commands.add_parser(
        "status",
        help="what stage and prod run, where the pipeline is, the last retrain decision and drift report",
    )
    parser.set_defaults(run=run)


def run(args: argparse.Namespace, connect: Connect) -> int:
    delivery = connect()
    sections: list[tuple[str, Callable[[Delivery], list[str]]]] = [
        *((environment, _environment_section(environment)) for environment in ENVIRONMENTS),
        ("pipeline", _pipeline_lines),
        ("retrain", _decision_lines),
        ("drift", _drift_lines),
    ]
    failed = False
    for name, section in sections:
        try:
            lines = section(delivery)
        except (CliError, ClientError, BotoCoreError) as error:
            print(f"ml-deploy: status: {name}: {one_line(error)}", file=sys.stderr)
            print(f"{name}: unavailable")
            failed = True
            continue
        print("\n".join(lines))
    return 1 if failed else 0


def _environment_section(environment: Environment) -> Callable[[Delivery], list[str]]:
    return lambda delivery: deployment_lines(delivery.deployment(environment))


def deployment_lines(deployment: Deployment) -> list[str]:
    image, variables = deployment.image, deployment.container_environment
    commit = image.commit or variables.get(ServiceSettings.variable("code_version")) or NONE
    model = image.model_version or NONE
    rollout = f", deploy {deployment.rollout.lower().replace('_', ' ')}" if deployment.rollout else ""
    return [
        f"{deployment.environment}: commit {commit}, model {model} "
        f"({deployment.revision}, tasks {deployment.running}/{deployment.desired}{rollout})",
        f"  image {image.image}",
    ]


def _pipeline_lines(delivery: Delivery) -> list[str]:
    return pipeline_lines(delivery.pipeline_state())


def pipeline_lines(state: PipelineState) -> list[str]:
    lines = [f"pipeline {state.pipeline}:"]
    lines += [f"  {run.stage:<12} {run.status:<11} {run.execution_id}" for run in state.stages]
    for approval in state.approvals:
        lines += [
            f"  waiting for approval: execution {approval.execution_id} at "
            f"{approval.stage}/{approval.action} since {moment(approval.since)}",
            f"    {facts_line(approval.facts)}",
            f'    answer: ml-deploy approve --execution {approval.execution_id} --comment "..."',
        ]
    waiting = {approval.execution_id for approval in state.approvals}
    for run in (run for run in state.in_flight if run.execution_id not in waiting):
        lines.append(f"  in flight: execution {run.execution_id} in {run.stage}")
    if not state.in_flight:
        lines.append("  nothing in flight")
    return lines


def _decision_lines(delivery: Delivery) -> list[str]:
    decision = delivery.last_decision()
    if decision is None:
        return ["retrain: no decision recorded yet"]
    challenger, champion = decision.challenger_version or NONE, decision.champion_version or NONE
    lines = [
        f"retrain: {decision.decision} at {decision.decided_at or NONE} "
        f"(challenger {challenger} vs champion {champion})"
    ]
    lines += [f"  {reason}" for reason in decision.reasons[:5]]
    lines.append(f"  {decision.location}")
    return lines


def _drift_lines(delivery: Delivery) -> list[str]:
    report = delivery.drift_report(DRIFT_ENVIRONMENT)
    if report is None:
        return [f"drift ({DRIFT_ENVIRONMENT}): no report yet"]
    drifted = ", ".join(report.drifted_features) or "none"
    rows = NONE if report.rows_seen is None else str(report.rows_seen)
    return [
        f"drift ({DRIFT_ENVIRONMENT}): {report.status}, window ending {report.window_end or NONE}, "
        f"{rows} rows, drifted features: {drifted}",
        f"  {report.location}",
    ]
