"""The local run follows the program's own pipeline, and refuses one it cannot run."""

from __future__ import annotations

import dataclasses

from ml_deploy.settings import SmokeHookSettings
from ml_deploy_dev.delivery.actions import check_definition
from ml_deploy_dev.delivery.definition import Action, PipelineDefinition, Stage
from ml_deploy_dev.dev_stack import dev_stack


def test_the_local_runner_knows_every_stage_and_action_of_the_program(definition: PipelineDefinition) -> None:
    problems = check_definition(definition, model_key=dev_stack().model_key)
    assert not problems, f"the Pulumi program's pipeline has actions the local runner cannot run: {problems}"


def test_the_stages_come_from_the_program(definition: PipelineDefinition) -> None:
    names = [stage.name for stage in definition.stages]
    assert names == ["Source", "Build", "DeployStage", "Approve", "DeployProd", "PromoteJobs"]
    assert set(definition.services.values()) == {"stage", "prod"}


def test_an_action_the_runner_does_not_know_is_named(definition: PipelineDefinition) -> None:
    extra = Stage(
        "Smoke",
        (Action(stage="Smoke", name="Invoke", category="Invoke", provider="Lambda", configuration={}),),
    )
    changed = dataclasses.replace(definition, stages=(*definition.stages, extra))
    assert check_definition(changed, model_key=dev_stack().model_key) == [
        "Smoke/Invoke (Invoke, Lambda): no local handler"
    ]


def test_each_environment_has_the_smoke_hook_the_program_gives_ecs(definition: PipelineDefinition) -> None:
    """The local deploy runs the same hook: the Lambda's own variables, by the environment it tests."""
    assert set(definition.smoke_hooks) == {"stage", "prod"}
    for environment, variables in definition.smoke_hooks.items():
        settings = SmokeHookSettings.from_env(variables)
        assert settings.environment == environment
        assert settings.test_url.endswith(":9000"), "ECS's test listener, which the local run replaces"
