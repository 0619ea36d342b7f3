"""`AwsDelivery`: the `Delivery` of a stack on AWS, named by its stack outputs.

Each part is built on first use, so a command reads only the outputs it needs and a missing one
fails with its name.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from functools import cached_property
from pathlib import Path

from ml_deploy.bundle import Manifest
from ml_deploy.layout import DEFAULT_LAYOUT
from ml_deploy.tracking import ReleaseEvent
from ml_deploy_cli.aws.buckets import Buckets
from ml_deploy_cli.aws.bundles import archived_manifest
from ml_deploy_cli.aws.clients import ClientFactory
from ml_deploy_cli.aws.dashboard import Dashboards
from ml_deploy_cli.aws.executions import Executions
from ml_deploy_cli.aws.logs import read_events
from ml_deploy_cli.aws.outcomes import put_outcome_objects
from ml_deploy_cli.aws.pipeline import Pipeline
from ml_deploy_cli.aws.quotas import shortfalls
from ml_deploy_cli.aws.registry import image_digest
from ml_deploy_cli.aws.services import EcsServices
from ml_deploy_cli.aws.stack import pulumi_up
from ml_deploy_cli.aws.training import first_model_environment
from ml_deploy_cli.delivery import (
    ApprovalAnswer,
    Deployment,
    DriftReport,
    Environment,
    ExecutionRecord,
    LogPage,
    PipelineState,
    RetrainDecision,
    Rollback,
    StageRun,
    UploadedBundle,
)
from ml_deploy_cli.outputs import StackOutputs


class AwsDelivery:
    """A deployed stack on AWS."""

    def __init__(self, outputs: StackOutputs, *, client: ClientFactory, region: str | None = None) -> None:
        self._outputs = outputs
        self._client = client
        self._region = region or outputs.region  # --region wins over the stack's ARNs

    @cached_property
    def _services(self) -> EcsServices:
        outputs = self._outputs
        return EcsServices(
            self._client("ecs"),
            cluster=outputs.require("clusterName"),
            services={
                "stage": outputs.require("stageServiceName"),
                "prod": outputs.require("prodServiceName"),
            },
        )

    @cached_property
    def _executions(self) -> Executions:
        return Executions(
            self._client("codepipeline"),
            pipeline=self._outputs.require("pipelineName"),
            model_rule=self._outputs.values.get("modelTriggerRuleName"),
        )

    @cached_property
    def _pipeline(self) -> Pipeline:
        return Pipeline(
            self._client("codepipeline"),
            name=self._outputs.require("pipelineName"),
            executions=self._executions,
        )

    @cached_property
    def _buckets(self) -> Buckets:
        outputs = self._outputs
        return Buckets(
            self._client("s3"),
            model_bucket=outputs.require("modelBucket"),
            model_key=outputs.require("modelKey"),
            log_bucket=outputs.values.get("predictionLogBucket"),
            decisions_prefix=outputs.decisions_prefix,
            reports_prefix=outputs.reports_prefix,
        )

    @cached_property
    def _dashboards(self) -> Dashboards:
        return Dashboards(
            self._client("s3"),
            log_bucket=self._outputs.values.get("predictionLogBucket"),
            reports_prefix=self._outputs.reports_prefix,
        )

    def deployment(self, environment: Environment) -> Deployment:
        return self._services.deployment(environment)

    def pipeline_state(self) -> PipelineState:
        return self._pipeline.state()

    def answer_approval(self, *, approve: bool, comment: str, execution_id: str | None) -> ApprovalAnswer:
        return self._pipeline.answer(approve=approve, comment=comment, execution_id=execution_id)

    def upload_bundle(self, path: Path, *, manifest: Manifest) -> UploadedBundle:
        return self._buckets.upload_bundle(path, manifest=manifest)

    def upload_outcomes(self, objects: Sequence[tuple[str, bytes]]) -> list[str]:
        bucket = self._outputs.require("predictionLogBucket")
        return put_outcome_objects(self._client("s3"), bucket=bucket, objects=objects)

    def roll_back(self, environment: Environment) -> Rollback:
        return self._services.roll_back(environment)

    def history(self, limit: int) -> list[ExecutionRecord]:
        return self._executions.history(limit)

    def last_decision(self) -> RetrainDecision | None:
        return self._buckets.last_decision()

    def drift_report(self, environment: Environment) -> DriftReport | None:
        return self._buckets.drift_report(environment)

    def dashboard(self, environment: Environment, *, expires_in: int) -> str:
        return self._dashboards.url(environment, expires_in=expires_in)

    def record_release(self, event: ReleaseEvent) -> str:
        return self._dashboards.record(event)

    def model_at_key(self) -> str | None:
        return self._buckets.model_at_key()

    def first_model_environment(self, *, code_version: str) -> dict[str, str]:
        return first_model_environment(self._outputs, region=self._region, code_version=code_version)

    def apply_program(self, *, stack: str | None) -> str:
        return pulumi_up(stack=stack)

    def urls(self) -> dict[Environment, str]:
        return {"stage": self._outputs.require("stageUrl"), "prod": self._outputs.require("prodUrl")}

    def retry(self, execution_id: str | None) -> StageRun:
        return self._pipeline.retry(execution_id)

    def release(self) -> str:
        return self._pipeline.release()

    def service_logs(self, environment: Environment, *, since: datetime, cursor: str | None) -> LogPage:
        group, stream_prefix = self._services.log_location(environment)
        return read_events(
            self._client("logs"), group=group, stream_prefix=stream_prefix, since=since, cursor=cursor
        )

    def links(self) -> dict[str, str]:
        values = self._outputs.values
        found = {name: values[key] for name, key in (("stage", "stageUrl"), ("prod", "prodUrl"))
                 if isinstance(values.get(key), str)}  # fmt: skip
        region = self._region or self._client("codepipeline").meta.region_name
        console = f"https://{region}.console.aws.amazon.com"
        if isinstance(values.get("pipelineName"), str):
            found["pipeline"] = (
                f"{console}/codesuite/codepipeline/pipelines/{values['pipelineName']}/view?region={region}"
            )
        if isinstance(values.get("dashboardName"), str):
            found["dashboard"] = (
                f"{console}/cloudwatch/home?region={region}#dashboards/dashboard/{values['dashboardName']}"
            )
        return found

    def quota_shortfalls(self) -> list[str] | None:
        found = shortfalls(self._client("service-quotas"))
        return None if found is None else [shortfall.line() for shortfall in found]

    def bundle_manifest(self, model_version: str) -> Manifest | None:
        return archived_manifest(
            self._client("s3"),
            bucket=self._outputs.require("modelBucket"),
            archive_prefix=self._outputs.prefix("modelArchivePrefix", DEFAULT_LAYOUT.model_archive_prefix),
            version=model_version,
        )

    def image_digest(self, image: str) -> str | None:
        return image_digest(self._client("ecr"), image)
