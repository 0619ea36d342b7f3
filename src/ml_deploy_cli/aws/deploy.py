"""A deploy that keeps both owners: Pulumi's task configuration, the pipeline's image.

CodePipeline's ECS action builds each new revision from the revision the *service* runs and
ignores revisions registered without a service update (action-reference-ECS.html), so a
`pulumi up` that changes cpu, memory, environment, roles or logging would never be deployed.
Here the next revision is rendered from the revision Pulumi registered (its ARN is a stack
output handed to the deploy project) with only the model server's image replaced; the service
is updated to it and the ECS service deployment is watched until it succeeds or rolls back,
with a progress line (stage, task counts, rollout state, elapsed time) at least every minute.
"""

from __future__ import annotations

import copy
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

from ml_deploy.layout import SERVICE_CONTAINER
from ml_deploy_cli.errors import CliError

# Fields DescribeTaskDefinition returns that RegisterTaskDefinition does not accept.
READ_ONLY_FIELDS = (
    "taskDefinitionArn",
    "revision",
    "status",
    "requiresAttributes",
    "compatibilities",
    "registeredAt",
    "registeredBy",
    "deregisteredAt",
)
# Service deployment states (service-deployment.html): only SUCCESSFUL is a deploy that held.
FINISHED_STATES = frozenset({"SUCCESSFUL", "STOPPED", "ROLLBACK_SUCCESSFUL", "ROLLBACK_FAILED"})
POLL_SECONDS = 15.0
# A progress line when the deployment's status or stage changes, else at most once a minute.
PROGRESS_SECONDS = 60.0
# Marks the revisions a deploy registered: Pulumi's own (the bootstrap image) are no rollback target.
DEPLOYED_TAG = {"key": "ml-deploy:registered-by", "value": "deploy"}


class DeployFailed(CliError):
    """ECS did not complete the deployment (rolled back, stopped, or out of time)."""


@dataclass(frozen=True)
class Watch:
    """Where the wait reports its progress: the service (for its rollout state) and a printer."""

    cluster: str
    service: str
    report: Callable[[str], None]
    every_seconds: float = PROGRESS_SECONDS


@dataclass(frozen=True)
class DeployResult:
    configuration_revision: str  # family:revision Pulumi registered, whose settings the service runs
    deployed_revision: str  # the revision this deploy registered: Pulumi's settings, the new image
    deployment_arn: str | None
    status: str


def next_task_definition(described: dict[str, Any], image: str) -> dict[str, Any]:
    """RegisterTaskDefinition input: the described revision (and its tags) with only the image changed."""
    if not image or ":" not in image.rsplit("/", 1)[-1]:
        raise CliError(f"image {image!r} names no tag; expected <repository uri>:<tag>")
    definition = described.get("taskDefinition")
    if not isinstance(definition, dict):
        raise CliError("the DescribeTaskDefinition response holds no taskDefinition")
    request = {k: copy.deepcopy(v) for k, v in definition.items() if k not in READ_ONLY_FIELDS}
    containers = request.get("containerDefinitions", [])
    served = [c for c in containers if c.get("name") == SERVICE_CONTAINER]
    if len(served) != 1:
        raise CliError(
            f"task definition {definition.get('family')}:{definition.get('revision')} has no container "
            f"{SERVICE_CONTAINER!r} (containers: {[c.get('name') for c in containers]})"
        )
    served[0]["image"] = image
    tags = [t for t in described.get("tags", []) if t.get("key") != DEPLOYED_TAG["key"]]
    request["tags"] = [*copy.deepcopy(tags), dict(DEPLOYED_TAG)]
    return request


def deploy_image(
    ecs: Any,
    *,
    cluster: str,
    service: str,
    configuration: str,
    image: str,
    timeout_seconds: float,
    report: Callable[[str], None] | None = None,
    sleep: Callable[[float], None] | None = None,
) -> DeployResult:
    """Register Pulumi's revision with `image`, point the service at it, wait for ECS's verdict
    (telling `report` how it goes while it waits)."""
    started = start_deployment(
        ecs, cluster=cluster, service=service, configuration=configuration, image=image
    )
    if not started.deployment_arn:
        raise DeployFailed(f"{service}: UpdateService started no service deployment to watch")
    watch = Watch(cluster=cluster, service=service, report=report) if report else None
    status = wait_for_deployment(
        ecs, started.deployment_arn, timeout_seconds=timeout_seconds, sleep=sleep or time.sleep, watch=watch
    )
    return replace(started, status=status)


def start_deployment(ecs: Any, *, cluster: str, service: str, configuration: str, image: str) -> DeployResult:
    """The next revision (Pulumi's settings, `image`) registered and set on the service; not waited for."""
    described = ecs.describe_task_definition(taskDefinition=configuration, include=["TAGS"])
    registered = ecs.register_task_definition(**next_task_definition(described, image))["taskDefinition"]
    updated = ecs.update_service(
        cluster=cluster, service=service, taskDefinition=registered["taskDefinitionArn"]
    )["service"]
    return DeployResult(
        configuration_revision=_name(described["taskDefinition"]),
        deployed_revision=_name(registered),
        deployment_arn=updated.get("currentServiceDeployment"),
        status="PENDING",
    )


def wait_for_deployment(
    ecs: Any,
    deployment_arn: str,
    *,
    timeout_seconds: float,
    sleep: Callable[[float], None] = time.sleep,
    watch: Watch | None = None,
) -> str:
    """SUCCESSFUL, or DeployFailed naming the state ECS ended in and why (a rollback, an alarm)."""
    waited = 0.0
    reported: tuple[float, tuple[str, str]] | None = None
    while True:
        (found,) = ecs.describe_service_deployments(serviceDeploymentArns=[deployment_arn])[
            "serviceDeployments"
        ]
        status = str(found["status"])
        state = (status, str(found.get("lifecycleStage", "")))
        if watch and (
            reported is None or state != reported[1] or waited - reported[0] >= watch.every_seconds
        ):
            watch.report(progress_line(found, rollout=_rollout(ecs, watch), waited=waited))
            reported = (waited, state)
        if status == "SUCCESSFUL":
            return status
        if status in FINISHED_STATES or status.startswith("ROLLBACK"):
            reason = found.get("statusReason") or found.get("rollback", {}).get("reason") or "no reason given"
            raise DeployFailed(f"service deployment {deployment_arn} ended {status}: {reason}")
        if waited >= timeout_seconds:
            raise DeployFailed(
                f"service deployment {deployment_arn} still {status} after {timeout_seconds:.0f} s"
            )
        sleep(POLL_SECONDS)
        waited += POLL_SECONDS


def progress_line(found: dict[str, Any], *, rollout: str | None, waited: float) -> str:
    """One line on a service deployment: elapsed, status, stage, the new revision's tasks, rollout."""
    minutes, seconds = divmod(int(waited), 60)
    target = found.get("targetServiceRevision") or {}
    parts = [f"[{minutes:3d}m{seconds:02d}s] {found['status']}"]
    if found.get("lifecycleStage"):
        parts.append(f"stage {found['lifecycleStage']}")
    if "requestedTaskCount" in target:
        parts.append(
            f"new revision {target.get('runningTaskCount', 0)}/{target['requestedTaskCount']} tasks running"
            + (f" ({target['pendingTaskCount']} pending)" if target.get("pendingTaskCount") else "")
        )
    if "requestedProductionTrafficWeight" in target:
        parts.append(f"{target['requestedProductionTrafficWeight']:g}% of production traffic")
    if rollout:
        parts.append(f"rollout {rollout}")
    alarms = found.get("alarms") or {}
    if alarms.get("triggeredAlarmNames"):
        parts.append(f"alarms in ALARM: {', '.join(alarms['triggeredAlarmNames'])}")
    return ", ".join(parts)


def _rollout(ecs: Any, watch: Watch) -> str | None:
    """The rollout state of the service's PRIMARY deployment (what DescribeServices reports)."""
    services = ecs.describe_services(cluster=watch.cluster, services=[watch.service])["services"]
    primary = [d for s in services for d in s.get("deployments", []) if d.get("status") == "PRIMARY"]
    if not primary or "rolloutState" not in primary[0]:
        return None
    deployment = primary[0]
    counts = f"{deployment.get('runningCount', 0)}/{deployment.get('desiredCount', 0)}"
    return f"{deployment['rolloutState']}, service {counts} tasks running"


def _name(definition: dict[str, Any]) -> str:
    return f"{definition['family']}:{definition['revision']}"
