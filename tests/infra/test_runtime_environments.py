"""The environments infra gives the service and the jobs parse with the runtimes' own settings models.

`infra/serving/task_definition.py` and `infra/jobs/definitions.py` build them with
`ml_deploy.settings.environment`; here each is read back exactly as the runtime reads it
(`<Model>.from_env`), so a variable the runtime renamed, dropped or validates differently fails
this test rather than a task in production. Expected values come from Pulumi.dev.yaml.
"""

from __future__ import annotations

import ast
import json
from pathlib import Path
from typing import Any

import pytest

from infra.config import PROJECT_NAMESPACE, StackConfig, parse_config
from ml_deploy.layout import METRICS_NAMESPACE, SERVICE_CONTAINER, ObjectLayout
from ml_deploy.settings import (
    EnvSettings,
    MonitorSettings,
    QualitySettings,
    RetrainSettings,
    ServiceSettings,
    environment,
)
from ml_deploy_dev import dev_stack
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
    # The fan-out: its own definition by name (Batch runs the latest ACTIVE revision), same queue.
    assert settings.fanout_job_definition == dev_program.outputs["monitorJobDefinitionName"]
    assert settings.fanout_job_queue == settings.retrain_job_queue
    assert (settings.shard_objects, settings.max_array_size, settings.summary_grace_minutes) == (
        jobs.monitor_shard_objects,
        jobs.monitor_max_array_size,
        jobs.summary_grace_minutes,
    )
    assert settings.summaries_prefix == layout.summaries_prefix
    _assert_dashboard_sources(settings, dev_program, layout=layout)


def _assert_dashboard_sources(
    settings: MonitorSettings | QualitySettings, program: Program, *, layout: ObjectLayout
) -> None:
    """What the dashboard a run regenerates reads: the retrain decisions and the stack's pipeline."""
    assert settings.decisions_prefix == layout.decisions_prefix
    pipeline = program.outputs["pipelineName"]
    assert settings.pipeline_name == pipeline, f"PIPELINE_NAME {settings.pipeline_name} is not {pipeline}"


def test_the_quality_job_reads_its_environment(dev_program: Program, dev_config: StackConfig) -> None:
    settings = QualitySettings.from_env(job_environment(dev_program, "quality"))
    layout, jobs = dev_config.storage.layout, dev_config.jobs
    # It judges what prod served, from prod's logs and the outcomes beside them.
    assert settings.environment == "prod"
    assert settings.log_bucket == dev_program.outputs["predictionLogBucket"]
    assert settings.environment_log_prefix == layout.prediction_logs("prod")
    assert settings.outcomes_prefix == layout.outcomes_prefix == dev_program.outputs["outcomesPrefix"]
    assert settings.reports_prefix == layout.reports_prefix
    assert settings.model_bucket == dev_program.outputs["modelBucket"]
    assert settings.model_archive_prefix == layout.model_archive_prefix
    # One cooldown for drift- and quality-triggered retrains.
    assert settings.cooldown_key == layout.cooldown_key
    assert settings.retrain_cooldown_hours == jobs.retrain_cooldown_hours
    assert (settings.maturity_min_days, settings.maturity_max_days) == (
        jobs.maturity_min_days,
        jobs.maturity_max_days,
    )
    assert (settings.min_outcomes, settings.bootstrap_samples) == (jobs.min_outcomes, jobs.bootstrap_samples)
    assert settings.floors() == {"roc_auc": jobs.auc_floor}
    assert settings.retrain_on_quality is jobs.retrain_on_quality is True
    assert settings.retrain_job_queue == dev_program.one("aws:batch/jobQueue:JobQueue").state["name"]
    assert settings.retrain_job_definition == dev_program.outputs["retrainJobDefinitionName"]
    assert settings.metrics_namespace == METRICS_NAMESPACE
    assert settings.alerts_topic_arn == dev_program.outputs["alertsTopicArn"]
    assert settings.aws_region == REGION
    _assert_dashboard_sources(settings, dev_program, layout=layout)


def _variables_of(*models: type[EnvSettings]) -> set[str]:
    return {field.alias for model in models for field in model.model_fields.values() if field.alias}


SMOKE_HOOK_CODE = ROOT / "infra" / "serving" / "smoke_hook"


def test_infra_spells_no_runtime_variable_name() -> None:
    """Names come from the settings models through `environment(...)`, never as a string here."""
    names = _variables_of(ServiceSettings, RetrainSettings, MonitorSettings, QualitySettings)
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


# --- the demo runs what the cloud runs (ml_deploy_dev/dev_stack.py) -----------------------------

# Where things are: the only variables whose values differ between the cloud and a laptop run.
ENDPOINT_FIELDS = (
    "aws_region",
    "model_bucket",
    "log_bucket",
    "training_data_uri",
    "alerts_topic_arn",
    "retrain_job_queue",
    "retrain_job_definition",
    "fanout_job_queue",
    "fanout_job_definition",
    "pipeline_name",
    "port",
    "model_bundle_path",
)


def _endpoints(model: type[EnvSettings]) -> set[str]:
    return {model.variable(field) for field in ENDPOINT_FIELDS if field in model.model_fields}


def _beyond_endpoints(model: type[EnvSettings], variables: dict[str, str]) -> dict[str, str]:
    return {name: value for name, value in variables.items() if name not in _endpoints(model)}


def _demo_environments() -> dict[str, tuple[type[EnvSettings], dict[str, str]]]:
    stack = dev_stack.dev_stack()
    return {
        "retrain": (RetrainSettings, dev_stack.retrain_environment(stack)),
        "monitor": (MonitorSettings, dev_stack.monitor_environment(stack)),
        "quality": (QualitySettings, dev_stack.quality_environment(stack)),
        "prod": (ServiceSettings, dev_stack.service_environment(stack, bundle=Path("model.zip"), port=9000)),
    }


def _program_environment(program: Program, name: str) -> dict[str, str]:
    return task_environment(program, name) if name == "prod" else job_environment(program, name)


@pytest.mark.parametrize("name", ["retrain", "monitor", "quality", "prod"])
def test_the_demo_runs_the_environment_the_program_renders(dev_program: Program, name: str) -> None:
    """Beyond endpoints, the demo's environment is the program's plus the declared laptop-run settings."""
    model, demo = _demo_environments()[name]
    program = _program_environment(dev_program, name)
    expected = {**_beyond_endpoints(model, program), **environment(model, **dev_stack.LOCAL_RUN[model])}
    actual = _beyond_endpoints(model, demo)
    differences = {
        variable: {"program": expected.get(variable), "demo": actual.get(variable)}
        for variable in sorted(set(expected) | set(actual))
        if expected.get(variable) != actual.get(variable)
    }
    assert not differences, f"the demo's {name} environment is not the dev stack's: {differences}"
    model.from_env({**demo, "AWS_DEFAULT_REGION": REGION})  # and the runtime accepts it


def test_the_laptop_run_changes_no_stack_setting_but_retraining(dev_program: Program) -> None:
    """A threshold or window the demo set itself would make it judge drift unlike the cloud."""
    changed = {
        variable
        for model, settings in dev_stack.LOCAL_RUN.items()
        for variable in environment(model, **settings)
    }
    rendered = {
        variable
        for name in ("retrain", "monitor", "quality", "prod")
        for variable in _program_environment(dev_program, name)
    }
    assert changed & rendered == {
        MonitorSettings.variable("retrain_on_drift"),
        QualitySettings.variable("retrain_on_quality"),
    }


def test_the_demo_names_its_buckets_after_the_programs(dev_program: Program) -> None:
    stack = dev_stack.dev_stack()
    for bucket, purpose in ((stack.model_bucket, "models"), (stack.log_bucket, "prediction-logs")):
        logical = dev_program.one("aws:s3/bucket:Bucket", f"ml-{purpose}").name
        assert bucket == f"{logical}-{dev_stack.STACK}"
    demo = dev_stack.monitor_environment(stack)
    assert demo[MonitorSettings.variable("model_bucket")] == stack.model_bucket
    assert demo[MonitorSettings.variable("log_bucket")] == stack.log_bucket
