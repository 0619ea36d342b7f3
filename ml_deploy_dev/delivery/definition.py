"""The pipeline the Pulumi program defines, read under the mocks: what the local run executes.

Stages, actions, their order, artifacts, namespaces, configuration (the approval message, the
build's variables) and the execution mode come from the registered `aws:codepipeline/pipeline:
Pipeline`; the CodeBuild projects (buildspec, environment), the ECS services (which environment
each one is) and the Batch job definitions from the resources it points at. Nothing here is a
second list of stages.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from ml_deploy.layout import SERVICE_CONTAINER
from ml_deploy.settings import ServiceSettings, SmokeHookSettings
from ml_deploy_dev.program import Program, Resource, run_program

PIPELINE_TYPE = "aws:codepipeline/pipeline:Pipeline"
_VARIABLE = re.compile(r"#\{([A-Za-z0-9_-]+)\.([A-Za-z0-9_-]+)\}")


class DefinitionError(Exception):
    """The program defines something the local run cannot follow; the message names it."""


@dataclass(frozen=True)
class Action:
    stage: str
    name: str
    category: str
    provider: str
    configuration: Mapping[str, str]
    input_artifacts: tuple[str, ...] = ()
    output_artifacts: tuple[str, ...] = ()
    namespace: str | None = None

    @property
    def label(self) -> str:
        return f"{self.stage}/{self.name} ({self.category}, {self.provider})"


@dataclass(frozen=True)
class Stage:
    name: str
    actions: tuple[Action, ...]


@dataclass(frozen=True)
class BuildProject:
    """A CodeBuild project: its buildspec and the environment variables the project sets."""

    name: str
    buildspec: str
    environment: Mapping[str, str]


@dataclass(frozen=True)
class PipelineDefinition:
    name: str
    execution_mode: str
    stages: tuple[Stage, ...]
    projects: Mapping[str, BuildProject]
    # ECS service name -> the environment its task definition sets (stage, prod).
    services: Mapping[str, str]
    # Batch job-definition name -> RegisterJobDefinition input as `pulumi up` registers it.
    job_definitions: Mapping[str, dict[str, Any]] = field(default_factory=dict)
    # Environment -> the variables of the smoke-test Lambda ECS calls during its deployments.
    smoke_hooks: Mapping[str, Mapping[str, str]] = field(default_factory=dict)

    @property
    def actions(self) -> list[Action]:
        return [action for stage in self.stages for action in stage.actions]

    def action(self, provider: str, **configuration: str) -> Action:
        found = [
            action
            for action in self.actions
            if action.provider == provider
            and all(action.configuration.get(k) == v for k, v in configuration.items())
        ]
        if len(found) != 1:
            raise DefinitionError(f"expected one {provider} action with {configuration}, found {len(found)}")
        return found[0]


def load_definition(program: Program | None = None) -> PipelineDefinition:
    """Run the program under the mocks with the dev stack config (a few seconds) and read it."""
    return read_definition(program or run_program())


def read_definition(program: Program) -> PipelineDefinition:
    pipeline = program.one(PIPELINE_TYPE)
    stages = tuple(_stage(stage) for stage in pipeline.inputs["stages"])
    projects = {
        resource.state["name"]: _project(resource)
        for resource in program.of_type("aws:codebuild/project:Project")
    }
    return PipelineDefinition(
        name=str(pipeline.inputs.get("name", pipeline.name)),
        execution_mode=str(pipeline.inputs.get("executionMode", "SUPERSEDED")),
        stages=stages,
        projects=projects,
        services=_service_environments(program),
        job_definitions={
            resource.state["name"]: _job_definition(resource)
            for resource in program.of_type("aws:batch/jobDefinition:JobDefinition")
        },
        smoke_hooks=_smoke_hooks(program),
    )


def _stage(stage: dict[str, Any]) -> Stage:
    actions = tuple(
        Action(
            stage=stage["name"],
            name=action["name"],
            category=action["category"],
            provider=action["provider"],
            configuration={key: str(value) for key, value in action.get("configuration", {}).items()},
            input_artifacts=tuple(action.get("inputArtifacts", ())),
            output_artifacts=tuple(action.get("outputArtifacts", ())),
            namespace=action.get("namespace"),
        )
        for action in sorted(stage["actions"], key=lambda a: int(a.get("runOrder", 1)))
    )
    return Stage(name=stage["name"], actions=actions)


def _project(resource: Resource) -> BuildProject:
    variables = resource.inputs["environment"].get("environmentVariables", [])
    return BuildProject(
        name=resource.state["name"],
        buildspec=resource.inputs["source"].get("buildspec", "buildspec.yml"),
        environment={variable["name"]: str(variable["value"]) for variable in variables},
    )


def _smoke_hooks(program: Program) -> dict[str, dict[str, str]]:
    """The smoke-test Lambdas by the environment they test (their ENVIRONMENT variable)."""
    variable = SmokeHookSettings.variable("environment")
    hooks = {}
    for function in program.of_type("aws:lambda/function:Function"):
        variables = dict((function.inputs.get("environment") or {}).get("variables") or {})
        if SmokeHookSettings.variable("test_url") in variables:
            hooks[variables[variable]] = variables
    return hooks


def _service_environments(program: Program) -> dict[str, str]:
    """Which environment each ECS service serves: the ENVIRONMENT its task definition sets."""
    variable = ServiceSettings.variable("environment")
    services = {}
    for service in program.of_type("aws:ecs/service:Service"):
        task = program.by_id(service.inputs["taskDefinition"])
        (container,) = [
            c for c in json.loads(task.inputs["containerDefinitions"]) if c["name"] == SERVICE_CONTAINER
        ]
        values = {item["name"]: item["value"] for item in container.get("environment", [])}
        if variable in values:
            services[service.state["name"]] = values[variable]
    return services


def _job_definition(resource: Resource) -> dict[str, Any]:
    inputs = resource.inputs
    request: dict[str, Any] = {
        "jobDefinitionName": resource.state["name"],
        "type": inputs.get("type", "container"),
        "containerProperties": json.loads(inputs["containerProperties"]),
    }
    if inputs.get("platformCapabilities"):
        request["platformCapabilities"] = list(inputs["platformCapabilities"])
    return request


def action_variables(action: Action) -> dict[str, str]:
    """A CodeBuild action's `EnvironmentVariables` (JSON in the configuration), still unresolved."""
    listed = json.loads(action.configuration.get("EnvironmentVariables", "[]"))
    return {item["name"]: str(item["value"]) for item in listed}


def resolve(text: str, variables: Mapping[str, Mapping[str, str]]) -> str:
    """Fill `#{Namespace.Name}` from the variables earlier actions produced, as CodePipeline does."""

    def value(match: re.Match[str]) -> str:
        namespace, name = match.groups()
        try:
            return variables[namespace][name]
        except KeyError:
            known = {space: sorted(values) for space, values in variables.items()}
            raise DefinitionError(
                f"#{{{namespace}.{name}}} is not produced by an earlier action: {known}"
            ) from None

    return _VARIABLE.sub(value, text)
