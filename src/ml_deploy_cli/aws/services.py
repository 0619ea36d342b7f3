"""The ECS side: what each environment runs, and rolling it back to the image it ran before.

Each deploy (`ml-deploy deploy`) registers a revision: Pulumi's latest with the new image, tagged
`DEPLOYED_TAG`. The family also holds the revisions `pulumi up` registered, which name the
bootstrap image: a rollback never picks one of those.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ml_deploy.layout import SERVICE_CONTAINER
from ml_deploy_cli.aws.deploy import DEPLOYED_TAG
from ml_deploy_cli.delivery import Deployment, Environment, Rollback
from ml_deploy_cli.errors import CliError
from ml_deploy_cli.images import parse_image

# The model server's container in every task definition (infra/serving.py CONTAINER_NAME; the
# pipeline's imagedefinitions.json names it too).


class EcsServices:
    """Stage and prod services of one cluster."""

    def __init__(self, ecs: Any, *, cluster: str, services: Mapping[Environment, str]) -> None:
        self._ecs = ecs
        self._cluster = cluster
        self._services = services

    def deployment(self, environment: Environment) -> Deployment:
        service = self._describe_service(environment)
        task_definition = self._task_definition(service["taskDefinition"])
        container = _service_container(task_definition)
        deployments: list[dict[str, Any]] = service.get("deployments", [])
        primary = next((d for d in deployments if d.get("status") == "PRIMARY"), {})
        return Deployment(
            environment=environment,
            service=service["serviceName"],
            revision=_revision_name(task_definition),
            image=parse_image(container["image"]),
            running=int(service.get("runningCount", 0)),
            desired=int(service.get("desiredCount", 0)),
            rollout=primary.get("rolloutState"),
            container_environment={e["name"]: e["value"] for e in container.get("environment", [])},
            cpu=_text(task_definition.get("cpu")),
            memory=_text(task_definition.get("memory")),
        )

    def roll_back(self, environment: Environment) -> Rollback:
        """Point the service at the newest earlier revision whose image differs from the current one."""
        service = self._describe_service(environment)
        current = self._task_definition(service["taskDefinition"])
        current_image = _service_container(current)["image"]
        for arn in self._earlier_revisions(current):
            candidate = self._task_definition(arn)
            if _registered_by_pulumi(self._ecs, arn):
                continue
            if _service_container(candidate)["image"] != current_image:
                self._ecs.update_service(
                    cluster=self._cluster, service=service["serviceName"], taskDefinition=arn
                )
                return Rollback(
                    environment=environment,
                    service=service["serviceName"],
                    from_revision=_revision_name(current),
                    from_image=parse_image(current_image),
                    to_revision=_revision_name(candidate),
                    to_image=parse_image(_service_container(candidate)["image"]),
                )
        raise CliError(
            f"{environment}: no earlier ACTIVE revision of task family {current['family']} runs an image "
            f"other than {parse_image(current_image).label}; nothing to roll back to"
        )

    def log_location(self, environment: Environment) -> tuple[str, str]:
        """(log group, stream prefix) of the model server's awslogs driver in the running revision.

        awslogs names each stream `<awslogs-stream-prefix>/<container name>/<task id>`.
        """
        service = self._describe_service(environment)
        container = _service_container(self._task_definition(service["taskDefinition"]))
        configuration = container.get("logConfiguration") or {}
        options = configuration.get("options") or {}
        if configuration.get("logDriver") != "awslogs" or "awslogs-group" not in options:
            raise CliError(f"{environment}: the running revision does not send its logs to CloudWatch Logs")
        prefix = options.get("awslogs-stream-prefix")
        return options["awslogs-group"], f"{prefix}/{SERVICE_CONTAINER}/" if prefix else ""

    def _describe_service(self, environment: Environment) -> dict[str, Any]:
        name = self._services[environment]
        response = self._ecs.describe_services(cluster=self._cluster, services=[name])
        found = [s for s in response.get("services", []) if s.get("status") != "INACTIVE"]
        if not found:
            raise CliError(f"{environment}: ECS service {name} not found in cluster {self._cluster}")
        return dict(found[0])

    def _task_definition(self, arn: str) -> dict[str, Any]:
        return dict(self._ecs.describe_task_definition(taskDefinition=arn)["taskDefinition"])

    def _earlier_revisions(self, current: dict[str, Any]) -> list[str]:
        """ARNs of the family's ACTIVE revisions older than `current`, newest first."""
        family, revision = current["family"], int(current["revision"])
        pages = self._ecs.get_paginator("list_task_definitions").paginate(
            familyPrefix=family, status="ACTIVE", sort="DESC"
        )
        earlier: list[tuple[int, str]] = []
        for page in pages:
            for arn in page.get("taskDefinitionArns", []):
                # familyPrefix matches by prefix: `...-prod` would also list `...-prod2`.
                arn_family, _, arn_revision = arn.rpartition("/")[2].rpartition(":")
                if arn_family == family and int(arn_revision) < revision:
                    earlier.append((int(arn_revision), arn))
        return [arn for _, arn in sorted(earlier, reverse=True)]


def _registered_by_pulumi(ecs: Any, arn: str) -> bool:
    """Tagged by the stack (managed-by pulumi) and not by a deploy: its image is the bootstrap one."""
    tags = {
        t["key"]: t["value"]
        for t in ecs.describe_task_definition(taskDefinition=arn, include=["TAGS"]).get("tags", [])
    }
    return tags.get("managed-by") == "pulumi" and DEPLOYED_TAG["key"] not in tags


def _service_container(task_definition: dict[str, Any]) -> dict[str, Any]:
    containers = task_definition.get("containerDefinitions", [])
    for container in containers:
        if container.get("name") == SERVICE_CONTAINER:
            return dict(container)
    raise CliError(
        f"task definition {_revision_name(task_definition)} has no container {SERVICE_CONTAINER!r} "
        f"(containers: {[c.get('name') for c in containers]})"
    )


def _revision_name(task_definition: dict[str, Any]) -> str:
    return f"{task_definition['family']}:{task_definition['revision']}"


def _text(value: object) -> str | None:
    return None if value is None else str(value)
