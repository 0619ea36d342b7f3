"""`ml-deploy status`: what runs where, what the pipeline is doing, what the jobs last decided, and
where to look next (the stage and prod URLs, the pipeline's and the dashboard's console pages).

Each section is read on its own: one that cannot be read (no permission, a missing output) is
reported on stderr and the others still print; the exit status is then 1. Sections failing for
the same reason share one line. `--json` prints one document (`STATUS_SCHEMA`); `--watch` redraws
until interrupted.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from ml_deploy.settings import ServiceSettings
from ml_deploy_cli.backend import Connect
from ml_deploy_cli.commands import records
from ml_deploy_cli.commands.arguments import positive_number
from ml_deploy_cli.commands.formatting import NONE, facts_line, moment
from ml_deploy_cli.commands.hints import hint
from ml_deploy_cli.delivery import ENVIRONMENTS, Delivery, Deployment, Environment, PipelineState
from ml_deploy_cli.errors import CliError, one_line

# The environment whose drift the monitor watches (retrain_job/monitor.py writes latest/<env>/).
DRIFT_ENVIRONMENT: Environment = "prod"
STATUS_SCHEMA = records.STATUS_SCHEMA
DEFAULT_WATCH_SECONDS = 10.0
_CLEAR = "\x1b[H\x1b[2J"  # cursor home, clear screen: what `watch` does between two redraws


def register(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = commands.add_parser(
        "status",
        help="what stage and prod run, where the pipeline is, the last retrain decision and drift report",
    )
    parser.add_argument("--json", action="store_true", help=f"one JSON document (schema {STATUS_SCHEMA})")
    parser.add_argument("--watch", action="store_true", help="redraw until interrupted (Ctrl-C)")
    parser.add_argument(
        "--interval",
        type=positive_number,
        default=DEFAULT_WATCH_SECONDS,
        metavar="SECONDS",
        help=f"how often --watch redraws (default {DEFAULT_WATCH_SECONDS:g})",
    )
    parser.set_defaults(run=run)


@dataclass
class Report:
    """What one look at the stack found: each section's data and lines, and what failed."""

    data: dict[str, Any] = field(default_factory=dict)
    lines: list[str] = field(default_factory=list)
    errors: dict[str, list[str]] = field(default_factory=dict)  # message -> sections


Section = Callable[[Delivery, argparse.Namespace], tuple[Any, list[str]]]


def run(args: argparse.Namespace, connect: Connect) -> int:
    delivery = connect()
    if not args.watch:
        return _show(look(delivery, args), args=args)
    try:
        while True:
            report = look(delivery, args)
            if sys.stdout.isatty() and not args.json:
                print(_CLEAR, end="")
            _show(report, args=args)
            print(f"(every {args.interval:g} s; Ctrl-C ends)" if not args.json else "", flush=True)
            time.sleep(args.interval)
    except KeyboardInterrupt:  # the way a watch ends: not an error
        return 0


def look(delivery: Delivery, args: argparse.Namespace) -> Report:
    sections: list[tuple[str, Section]] = [
        *((environment, _environment_section(environment)) for environment in ENVIRONMENTS),
        ("pipeline", _pipeline_section),
        ("retrain", _decision_section),
        ("drift", _drift_section),
        ("links", _links_section),
    ]
    report = Report()
    for name, section in sections:
        try:
            data, lines = section(delivery, args)
        except (CliError, ClientError, BotoCoreError) as error:
            report.errors.setdefault(one_line(error), []).append(name)
            report.data[name] = None
            report.lines.append(f"{name}: unavailable")
            continue
        report.data[name] = data
        report.lines += lines
    return report


def _show(report: Report, *, args: argparse.Namespace) -> int:
    for message, names in report.errors.items():
        print(f"ml-deploy: status: {', '.join(names)}: {message}", file=sys.stderr)
    if args.json:
        document: records.StatusDocument = {
            "schema": STATUS_SCHEMA,
            "backend": "local" if args.local else "aws",
            "environments": {"stage": report.data["stage"], "prod": report.data["prod"]},
            "pipeline": report.data["pipeline"],
            "retrain": report.data["retrain"],
            "drift": report.data["drift"],
            "links": report.data["links"],
            "errors": [{"sections": names, "message": message} for message, names in report.errors.items()],
        }
        print(json.dumps(document, indent=2))
    else:
        print("\n".join(report.lines))
    return 1 if report.errors else 0


def _environment_section(environment: Environment) -> Section:
    def section(delivery: Delivery, args: argparse.Namespace) -> tuple[Any, list[str]]:
        deployment = delivery.deployment(environment)
        return records.deployment(deployment), deployment_lines(deployment)

    return section


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


def _pipeline_section(delivery: Delivery, args: argparse.Namespace) -> tuple[Any, list[str]]:
    state = delivery.pipeline_state()
    return records.pipeline(state), pipeline_lines(state, args=args)


def pipeline_lines(state: PipelineState, *, args: argparse.Namespace) -> list[str]:
    lines = [f"pipeline {state.pipeline}:"]
    lines += [f"  {run.stage:<12} {run.status:<11} {run.execution_id}" for run in state.stages]
    for approval in state.approvals:
        answer = hint(args, f'approve --execution {approval.execution_id} --comment "..."')
        lines += [
            f"  waiting for approval: execution {approval.execution_id} at "
            f"{approval.stage}/{approval.action} since {moment(approval.since)}",
            f"    {facts_line(approval.facts)}",
            f"    answer: {answer.strip('`')}",
        ]
    waiting = {approval.execution_id for approval in state.approvals}
    for run in (run for run in state.in_flight if run.execution_id not in waiting):
        lines.append(f"  in flight: execution {run.execution_id} in {run.stage}")
    if not state.in_flight:
        lines.append("  nothing in flight")
    return lines


def _decision_section(delivery: Delivery, args: argparse.Namespace) -> tuple[Any, list[str]]:
    decision = delivery.last_decision()
    if decision is None:
        return None, ["retrain: no decision recorded yet"]
    challenger, champion = decision.challenger_version or NONE, decision.champion_version or NONE
    lines = [
        f"retrain: {decision.decision} at {decision.decided_at or NONE} "
        f"(challenger {challenger} vs champion {champion})"
    ]
    lines += [f"  {reason}" for reason in decision.reasons[:5]]
    lines.append(f"  {decision.location}")
    return records.decision(decision), lines


def _drift_section(delivery: Delivery, args: argparse.Namespace) -> tuple[Any, list[str]]:
    report = delivery.drift_report(DRIFT_ENVIRONMENT)
    if report is None:
        return None, [f"drift ({DRIFT_ENVIRONMENT}): no report yet"]
    drifted = ", ".join(report.drifted_features) or "none"
    rows = NONE if report.rows_seen is None else str(report.rows_seen)
    return records.drift(report, environment=DRIFT_ENVIRONMENT), [
        f"drift ({DRIFT_ENVIRONMENT}): {report.status}, window ending {report.window_end or NONE}, "
        f"{rows} rows, drifted features: {drifted}",
        f"  {report.location}",
    ]


def _links_section(delivery: Delivery, args: argparse.Namespace) -> tuple[Any, list[str]]:
    links = delivery.links()
    if not links:
        return links, ["links: none exported"]
    width = max(len(name) for name in links)
    return links, ["links:", *(f"  {name:<{width}}  {url}" for name, url in links.items())]
