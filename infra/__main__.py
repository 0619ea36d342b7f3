"""ml-deploy: the Pulumi program. Reads like a table of contents: config, components, outputs."""

import sys
from pathlib import Path

import pulumi

# Pulumi runs this file as a script from infra/; make the repository root importable so the
# components import as the `infra` package, exactly as the tests import them, and `src` so the
# runtime contract (`ml_deploy.settings`, `ml_deploy.layout`: pydantic only) imports uninstalled.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "src"))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from infra.alerts import Alerts
from infra.analytics.component import Analytics, AnalyticsArgs
from infra.config import load_config
from infra.delivery.pipeline import Pipeline, PipelineArgs, pipeline_physical_name
from infra.delivery.targets import DeployTarget, JobsTarget
from infra.encryption import StackKey
from infra.jobs.component import Jobs, JobsArgs
from infra.jobs.environments import WATCHED_ENVIRONMENT
from infra.network import Network
from infra.registry import Registry
from infra.serving.cluster import ServingCluster
from infra.serving.dashboard import ServingDashboard
from infra.serving.domain import serving_certificate
from infra.serving.edge import public_edge
from infra.serving.environment import ServiceEnvironment, ServingPlatform
from infra.serving.task_definition import CONTAINER_NAME
from infra.storage import BUCKETS_NAME, Buckets
from infra.tagging import component_options

config = load_config()
# Where things are in the buckets (model key, prefixes), as the service and the jobs read it: given
# once to every component that names an object.
layout = config.storage.layout

encryption = StackKey("data", opts=component_options("encryption", config=config))
network = Network("net", config=config.network, opts=component_options("network", config=config))
buckets = Buckets(
    BUCKETS_NAME,
    config=config.storage,
    key=encryption.key,
    opts=component_options("storage", config=config),
)
registry = Registry(
    "images",
    config=config.registry,
    key=encryption.key,
    force_delete=config.storage.force_destroy,
    opts=component_options("registry", config=config),
)
alerts = Alerts(
    "alerts",
    config=config.alerts,
    key=encryption.key,
    opts=component_options("alerts", config=config),
)

serving_options = component_options("serving", config=config)
serving_cluster = ServingCluster("serving", opts=serving_options)
# With domainName in hostedZoneId: one certificate for stage. and prod.<domainName>, issued here.
certificate_arn = serving_certificate("serving", config=config.serving, opts=serving_options)
serving_platform = ServingPlatform(
    cluster=serving_cluster.cluster,
    network=network,
    service_repo=registry.service_repo,
    images_pushed=registry.service_images_pushed,
    models=buckets.models,
    prediction_logs=buckets.prediction_logs,
    layout=layout,
    access_logs=buckets.access_logs,
    access_log_policy=buckets.access_logs_policy,
    key=encryption.key,
    alerts_topic=alerts.topic,
    config=config.serving,
    certificate_arn=certificate_arn,
    # publicEndpoint only: the client trust store (mutual TLS) and the web ACL; else None.
    edge=public_edge(
        "serving",
        config=config.serving,
        ca_bucket=buckets.models,
        log_retention_days=config.storage.log_expiration_days,
        force_destroy=config.storage.force_destroy,
        opts=serving_options,
    ),
)
stage, prod = (
    ServiceEnvironment(f"serving-{env}", environment=env, platform=serving_platform, opts=serving_options)
    for env in ("stage", "prod")
)
serving_dashboard = ServingDashboard(
    "serving",
    environments=[stage.metrics, prod.metrics],
    # The environment the quality job judges: its live quality gets a row of its own.
    quality_environment=WATCHED_ENVIRONMENT,
    opts=serving_options,
)
jobs = Jobs(
    "jobs",
    args=JobsArgs(
        config=config.jobs,
        layout=layout,
        buckets=buckets,
        jobs_repo=registry.jobs_repo,
        jobs_images_pushed=registry.jobs_images_pushed,
        alerts_topic=alerts.topic,
        network=network,
        key=encryption.key,
        # Named, not taken from `pipeline` below: its PromoteJobs stage needs the jobs first.
        pipeline_name=pipeline_physical_name(),
    ),
    opts=component_options("jobs", config=config),
)
# The logs and outcomes as Athena tables, one enforced workgroup, and the analysts' policy.
analytics = Analytics(
    "analytics",
    args=AnalyticsArgs(
        config=config.analytics,
        layout=layout,
        log_bucket=buckets.prediction_logs,
        key=encryption.key,
        environments=("stage", "prod"),
        retention_days=config.storage.log_expiration_days,
        force_destroy=config.storage.force_destroy,
        region=config.region,
    ),
    opts=component_options("analytics", config=config),
)
pipeline = Pipeline(
    "delivery",
    args=PipelineArgs(
        config=config.pipeline,
        key=encryption.key,
        buckets=buckets,
        registry=registry,
        alerts=alerts,
        stage=DeployTarget.of(stage),
        prod=DeployTarget.of(prod),
        jobs=JobsTarget.of(jobs),
        container_name=CONTAINER_NAME,
        layout=layout,
    ),
    opts=component_options("pipeline", config=config),
)

pulumi.export("vpcId", network.vpc_id)
pulumi.export("privateSubnetIds", network.private_subnet_ids)
pulumi.export("publicSubnetIds", network.public_subnet_ids)
pulumi.export("kmsKeyArn", encryption.key.arn)
pulumi.export("modelBucket", buckets.models.bucket)
# The layout, so the operator CLI reads and writes where the runtimes do on this stack.
pulumi.export("modelKey", layout.model_key)
pulumi.export("modelArchivePrefix", layout.model_archive_prefix)
pulumi.export("decisionsPrefix", layout.decisions_prefix)
pulumi.export("trainingDataPrefix", layout.training_data_prefix)
pulumi.export("reportsPrefix", layout.reports_prefix)
pulumi.export("outcomesPrefix", layout.outcomes_prefix)
pulumi.export("trainingDataBucket", buckets.training_data.bucket)
pulumi.export("predictionLogBucket", buckets.prediction_logs.bucket)
pulumi.export("artifactBucket", buckets.artifacts.bucket)
pulumi.export("accessLogBucket", buckets.access_logs.bucket)
pulumi.export("serviceRepositoryUrl", registry.service_repo.repository_url)
pulumi.export("jobsRepositoryUrl", registry.jobs_repo.repository_url)
pulumi.export("alertsTopicArn", alerts.topic.arn)
pulumi.export("clusterName", serving_cluster.cluster_name)
pulumi.export("stageUrl", stage.url)
pulumi.export("prodUrl", prod.url)
# Where stage.<domain> and prod.<domain> point (the stack writes those records only with hostedZoneId).
pulumi.export("stageLoadBalancerDnsName", stage.load_balancer_dns_name)
pulumi.export("prodLoadBalancerDnsName", prod.load_balancer_dns_name)
# What another account's VPC endpoint names to reach prod (privateLinkAllowedPrincipals).
if prod.private_link_service_name is not None:
    pulumi.export("prodPrivateLinkServiceName", prod.private_link_service_name)
pulumi.export("stageServiceName", stage.service_name)
pulumi.export("prodServiceName", prod.service_name)
pulumi.export("dashboardName", serving_dashboard.dashboard_name)
pulumi.export("jobQueueName", jobs.queue.name)
pulumi.export("retrainJobDefinitionName", jobs.retrain_definition.name)
pulumi.export("monitorJobDefinitionName", jobs.monitor_definition.name)
pulumi.export("qualityJobDefinitionName", jobs.quality_definition.name)
pulumi.export("retrainSubmitCommand", jobs.retrain_submit_command)
pulumi.export("monitorSubmitCommand", jobs.monitor_submit_command)
pulumi.export("qualitySubmitCommand", jobs.quality_submit_command)
pulumi.export("glueDatabaseName", analytics.database_name)
pulumi.export("athenaWorkgroupName", analytics.workgroup_name)
pulumi.export("analystPolicyArn", analytics.analyst_policy_arn)
pulumi.export("pipelineName", pipeline.pipeline_name)
pulumi.export("approvalTopicArn", pipeline.approval_topic_arn)
pulumi.export("modelTriggerRuleName", pipeline.model_trigger_rule_name)
pulumi.export("codeConnectionArn", pipeline.connection_arn)
pulumi.export("codeConnectionNeedsHandshake", pipeline.connection_needs_handshake)
