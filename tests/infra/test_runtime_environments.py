"""The environments infra gives the service and the jobs parse with the runtimes' own settings models.

`infra/serving/task_definition.py` and `infra/jobs/definitions.py` build them with
`ml_deploy.settings.environment`; here each is read back exactly as the runtime reads it
(`<Model>.from_env`), so a variable the runtime renamed, dropped or validates differently fails
this test rather than a task in production. Expected values come from Pulumi.dev.yaml.
"""

from __future__ import annotations

import ast
import json
from typing import Any

import pytest

from infra.config import PROJECT_NAMESPACE, StackConfig, parse_config
from ml_deploy.layout import METRICS_NAMESPACE, SERVICE_CONTAINER
from ml_deploy.settings import EnvSettings, MonitorSettings, RetrainSettings, ServiceSettings
from ml_deploy_dev.program import REGION, ROOT, Program, dev_stack_config

ENVIRONMENTS = ("stage", "prod")


@pytest.fixture(scope="module")
def dev_config() -> StackConfig:
    values = dev_stack_config()
    prefix = f"{PROJECT_NAMESPACE}:"
    raw = {key.removeprefix(prefix): value for key, value in values.items() if key.startswith(prefix)}
    return parse_config(raw, region=values["aws:region"])


def _variables(entries: list[dict[str, Any]]) -> dict[str, str]:
    variables = {entry["name"]: entry["value"] for entry in entries}
    assert len(variables) == len(entries), f"a variable is set twice: {[e['name'] for e in entries]}"
    not_text = {name: value for name, value in variables.items() if not isinstance(value, str)}
    assert not not_text, f"ECS and Batch take only string values: {not_text}"
    return variables


def task_environment(program: Program, env: str) -> dict[str, str]:
    task = program.one("aws:ecs/taskDefinition:TaskDefinition", f"serving-{env}-task")
    definitions = json.loads(task.inputs["containerDefinitions"])
    (container,) = [c for c in definitions if c["name"] == SERVICE_CONTAINER]
    return _variables(container["environment"])


def job_environment(program: Program, kind: str) -> dict[str, str]:
    definition = program.one("aws:batch/jobDefinition:JobDefinition", f"jobs-{kind}")
    return _variables(json.loads(definition.inputs["containerProperties"])["environment"])


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_the_service_reads_its_task_environment(
    dev_program: Program, dev_config: StackConfig, env: str
) -> None:
    settings = ServiceSettings.from_env(task_environment(dev_program, env))
    assert settings.environment == env
    assert settings.log_bucket == dev_program.outputs["predictionLogBucket"]
    assert settings.log_prefix == dev_config.storage.prediction_log_prefix == "predictions/"
    # ...so the service writes exactly where its task role may write.
    assert (
        settings.environment_log_prefix
        == dev_config.storage.layout.prediction_logs(env)
        == f"predictions/{env}/"
    )
    assert settings.web_concurrency == getattr(dev_config.serving, env).workers
    assert settings.aws_region == REGION
    assert settings.payload_logging, f"{env}: prediction logging is off"


def test_the_retrain_job_reads_its_environment(dev_program: Program, dev_config: StackConfig) -> None:
    settings = RetrainSettings.from_env(job_environment(dev_program, "retrain"))
    layout, jobs = dev_config.storage.layout, dev_config.jobs
    assert settings.model_bucket == dev_program.outputs["modelBucket"]
    assert settings.model_key == layout.model_key == dev_program.outputs["modelKey"]
    assert settings.model_archive_prefix == layout.model_archive_prefix
    assert settings.decisions_prefix == layout.decisions_prefix
    training = dev_program.outputs["trainingDataBucket"]
    assert settings.training_data_uri == f"s3://{training}/{layout.training_data_prefix}"
    assert (
        (settings.gate_tolerance, settings.gate_floor)
        == (jobs.gate_tolerance, jobs.gate_floor)
        == (0.01, 0.7)
    )
    assert settings.alerts_topic_arn == dev_program.outputs["alertsTopicArn"]
    assert settings.metrics_namespace == METRICS_NAMESPACE
    assert settings.aws_region == REGION


def test_the_monitor_reads_its_environment(dev_program: Program, dev_config: StackConfig) -> None:
    settings = MonitorSettings.from_env(job_environment(dev_program, "monitor"))
    layout, jobs = dev_config.storage.layout, dev_config.jobs
    # The monitor watches prod's logs, under the same root prefix the service writes below.
    assert settings.environment == "prod"
    assert settings.log_bucket == dev_program.outputs["predictionLogBucket"]
    assert settings.log_prefix == layout.prediction_log_prefix
    assert settings.environment_log_prefix == layout.prediction_logs("prod")
    assert settings.model_bucket == dev_program.outputs["modelBucket"]
    assert settings.model_key == layout.model_key
    assert settings.reports_prefix == layout.reports_prefix
    assert settings.cooldown_key == layout.cooldown_key
    assert settings.window_hours == jobs.drift_window_hours == 24
    assert (
        (settings.psi_threshold, settings.ks_threshold)
        == (jobs.psi_threshold, jobs.ks_threshold)
        == (0.25, 0.1)
    )
    assert settings.retrain_on_drift is jobs.retrain_on_drift is True
    assert settings.retrain_cooldown_hours == jobs.retrain_cooldown_hours == 24
    assert settings.retrain_job_queue == dev_program.one("aws:batch/jobQueue:JobQueue").state["name"]
    assert settings.retrain_job_definition == dev_program.outputs["retrainJobDefinitionName"]
    assert settings.metrics_namespace == METRICS_NAMESPACE
    assert settings.alerts_topic_arn == dev_program.outputs["alertsTopicArn"]


def _variables_of(*models: type[EnvSettings]) -> set[str]:
    return {field.alias for model in models for field in model.model_fields.values() if field.alias}


SMOKE_HOOK_CODE = ROOT / "infra" / "serving" / "smoke_hook"


def test_infra_spells_no_runtime_variable_name() -> None:
    """Names come from the settings models through `environment(...)`, never as a string here."""
    names = _variables_of(ServiceSettings, RetrainSettings, MonitorSettings)
    spelled = {}
    for path in sorted((ROOT / "infra").rglob("*.py")):
        module = str(path.relative_to(ROOT))
        if path.is_relative_to(SMOKE_HOOK_CODE):
            continue  # the Lambda's own code, a runtime: tests/test_contract.py holds its names
        strings = {
            node.value
            for node in ast.walk(ast.parse(path.read_text()))
            if isinstance(node, ast.Constant) and isinstance(node.value, str)
        }
        found = strings & names
        if found:
            spelled[module] = sorted(found)
    assert not spelled, (
        f"runtime variable names spelled in infra (use ml_deploy.settings.environment): {spelled}"
    )


def test_the_name_scan_knows_the_names_infra_sets() -> None:
    """Guards the guard: the scan's notion of 'a variable name' covers the ones infra sets."""
    names = _variables_of(ServiceSettings, RetrainSettings, MonitorSettings)
    assert {"LOG_PREFIX", "ENVIRONMENT", "MODEL_BUCKET", "COOLDOWN_KEY", "PSI_THRESHOLD"} <= names
