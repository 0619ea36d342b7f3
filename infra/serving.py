"""Where the model server runs: one ECS cluster, and stage and prod as two ServiceEnvironments.

Each environment is the same component with its own sizing: a Fargate service in private
subnets behind its own Application Load Balancer, autoscaling on requests and CPU, and the
alarms on-call needs (see ``infra/alarms.py``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

import pulumi
import pulumi_aws as aws

from infra.alarms import EnvironmentMetrics, error_rate_alarm, service_alarms, target_dimensions
from infra.autoscaling import service_autoscaling
from infra.config import PROJECT_NAMESPACE
from infra.config_sections import EnvironmentConfig, ServingConfig
from infra.ingress import Ingress, create_ingress
from infra.network import Network
from infra.task_roles import execution_role, task_role

# The service container's name; the pipeline's imagedefinitions.json must use exactly this.
CONTAINER_NAME = "model-server"
STOP_TIMEOUT_SECONDS = 40
# Container Insights publishes RunningTaskCount/DesiredTaskCount that the alarms compare.
CONTAINER_INSIGHTS = "enabled"

Environment = Literal["stage", "prod"]


class ServingCluster(pulumi.ComponentResource):
    """The ECS cluster stage and prod share; Container Insights on for the task-count alarms."""

    cluster: aws.ecs.Cluster
    cluster_name: pulumi.Output[str]

    def __init__(self, name: str, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("ml-deploy:serving:Cluster", name, None, opts)
        self.cluster = aws.ecs.Cluster(
            f"{name}-cluster",
            settings=[aws.ecs.ClusterSettingArgs(name="containerInsights", value=CONTAINER_INSIGHTS)],
            opts=pulumi.ResourceOptions(parent=self),
        )
        self.cluster_name = self.cluster.name
        self.register_outputs({"cluster_name": self.cluster_name})


@dataclass(frozen=True)
class ServingPlatform:
    """What stage and prod share: where they run, what they pull, where they log and alert."""

    cluster: aws.ecs.Cluster
    network: Network
    service_repo: aws.ecr.Repository
    prediction_logs: aws.s3.Bucket
    prediction_log_prefix: str
    access_logs: aws.s3.Bucket
    key: aws.kms.Key
    alerts_topic: aws.sns.Topic
    config: ServingConfig

    def sizing(self, environment: Environment) -> EnvironmentConfig:
        """The environment's own settings (``ml-deploy:stage`` or ``ml-deploy:prod``)."""
        return self.config.prod if environment == "prod" else self.config.stage


class ServiceEnvironment(pulumi.ComponentResource):
    """One environment of the model server (stage or prod) behind its own load balancer.

    Who owns what after the first ``pulumi up``: Pulumi creates the service with a first task
    definition whose image is ``<service repo>:<initialImageTag>``, so the stack is deployable
    before the pipeline ever ran. From then on the pipeline registers new task-definition
    revisions and autoscaling sets the desired count, so the service ignores changes to both;
    a later ``pulumi up`` never rolls an environment back to an old image or task count.

    Why one ALB per environment rather than one shared ALB with host/path rules: stage and
    prod stay isolated (a listener change or a flood on stage cannot touch prod), each has its
    own security group, its own ALB metrics for its alarms, and its own URL.
    """

    cluster_name: pulumi.Output[str]
    service_name: pulumi.Output[str]
    url: pulumi.Output[str]
    task_role_arn: pulumi.Output[str]
    execution_role_arn: pulumi.Output[str]
    task_family: pulumi.Output[str]
    metrics: EnvironmentMetrics

    def __init__(
        self,
        name: str,
        *,
        environment: Environment,
        platform: ServingPlatform,
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        super().__init__("ml-deploy:serving:ServiceEnvironment", name, None, opts)
        self._name = name
        self._environment = environment
        self._sizing = platform.sizing(environment)
        self._platform = platform
        self._port = platform.config.container_port
        self._child = pulumi.ResourceOptions(parent=self)

        log_group = aws.cloudwatch.LogGroup(
            f"{name}-logs",
            retention_in_days=platform.config.service_log_retention_days,
            kms_key_id=platform.key.arn,
            opts=self._child,
        )
        execution = execution_role(name, service_repo=platform.service_repo, log_group=log_group, parent=self)
        task = task_role(
            name,
            prediction_logs=platform.prediction_logs,
            log_prefix=self._log_prefix,
            key=platform.key,
            parent=self,
        )
        task_definition = self._task_definition(log_group=log_group, execution_role=execution, task_role=task)
        ingress = create_ingress(
            name,
            environment=environment,
            network=platform.network,
            container_port=self._port,
            access_logs=platform.access_logs,
            certificate_arn=platform.config.certificate_arn,
            parent=self,
        )
        error_rate = error_rate_alarm(
            name,
            environment=environment,
            target_dimensions=target_dimensions(
                ingress.load_balancer.arn_suffix, ingress.target_group.arn_suffix
            ),
            config=platform.config,
            topic_arn=platform.alerts_topic.arn,
            parent=self,
        )
        service = self._service(task_definition=task_definition, ingress=ingress, rollback_alarm=error_rate)
        service_autoscaling(
            name,
            cluster_name=platform.cluster.name,
            service=service,
            ingress=ingress,
            sizing=self._sizing,
            parent=self,
        )

        self.environment = environment
        self.cluster_name = platform.cluster.name
        self.service_name = service.name
        self.url = ingress.url
        self.task_role_arn = task.arn
        self.execution_role_arn = execution.arn
        self.task_family = task_definition.family
        self.metrics = EnvironmentMetrics(
            environment=environment,
            load_balancer=ingress.load_balancer.arn_suffix,
            target_group=ingress.target_group.arn_suffix,
            cluster_name=self.cluster_name,
            service_name=self.service_name,
        )
        service_alarms(
            name,
            metrics=self.metrics,
            config=platform.config,
            topic_arn=platform.alerts_topic.arn,
            parent=self,
        )
        self.register_outputs(
            {
                "cluster_name": self.cluster_name,
                "service_name": self.service_name,
                "url": self.url,
                "task_role_arn": self.task_role_arn,
                "execution_role_arn": self.execution_role_arn,
                "task_family": self.task_family,
            }
        )

    @property
    def _log_prefix(self) -> str:
        """``predictions/stage/``: each environment's payload logs under a prefix of its own."""
        return f"{self._platform.prediction_log_prefix}{self._environment}/"

    def _task_definition(
        self,
        *,
        log_group: aws.cloudwatch.LogGroup,
        execution_role: aws.iam.Role,
        task_role: aws.iam.Role,
    ) -> aws.ecs.TaskDefinition:
        platform = self._platform
        region = aws.get_region_output(opts=pulumi.InvokeOutputOptions(parent=self)).region
        health_probe = (
            "import urllib.request; "
            f"urllib.request.urlopen('http://127.0.0.1:{self._port}/health', timeout=3)"
        )
        container: dict[str, Any] = {
            "name": CONTAINER_NAME,
            "image": pulumi.Output.concat(
                platform.service_repo.repository_url, ":", platform.config.initial_image_tag
            ),
            "essential": True,
            # SIGTERM to SIGKILL: room for the server's graceful stop (10 s) and the final flush
            # of buffered prediction logs (LOG_SHUTDOWN_TIMEOUT_SECONDS, 20 s).
            "stopTimeout": STOP_TIMEOUT_SECONDS,
            "portMappings": [{"containerPort": self._port, "protocol": "tcp"}],
            "environment": [
                {"name": "ENVIRONMENT", "value": self._environment},
                {"name": "LOG_BUCKET", "value": platform.prediction_logs.bucket},
                {"name": "LOG_PREFIX", "value": self._log_prefix},
                {"name": "WEB_CONCURRENCY", "value": str(self._sizing.workers)},
                {"name": "AWS_REGION", "value": region},
            ],
            "logConfiguration": {
                "logDriver": "awslogs",
                "options": {
                    "awslogs-group": log_group.name,
                    "awslogs-region": region,
                    "awslogs-stream-prefix": self._environment,
                },
            },
            # The image has python but no curl; an exception (refused, 5xx) exits non-zero.
            "healthCheck": {
                "command": ["CMD", "python", "-c", health_probe],
                "interval": 15,
                "timeout": 5,
                "retries": 3,
                "startPeriod": self._platform.config.startup_grace_seconds,
            },
        }
        return aws.ecs.TaskDefinition(
            f"{self._name}-task",
            family=f"{PROJECT_NAMESPACE}-{pulumi.get_stack()}-{self._environment}",
            requires_compatibilities=["FARGATE"],
            network_mode="awsvpc",
            cpu=str(self._sizing.cpu),
            memory=str(self._sizing.memory),
            execution_role_arn=execution_role.arn,
            task_role_arn=task_role.arn,
            runtime_platform=aws.ecs.TaskDefinitionRuntimePlatformArgs(
                operating_system_family="LINUX", cpu_architecture="X86_64"
            ),
            container_definitions=pulumi.Output.json_dumps([container]),
            opts=self._child,
        )

    def _service(
        self,
        *,
        task_definition: aws.ecs.TaskDefinition,
        ingress: Ingress,
        rollback_alarm: aws.cloudwatch.MetricAlarm,
    ) -> aws.ecs.Service:
        network = self._platform.network
        return aws.ecs.Service(
            f"{self._name}-service",
            cluster=self._platform.cluster.arn,
            task_definition=task_definition.arn,
            desired_count=self._sizing.min_count,
            launch_type="FARGATE",
            # Two private subnets in two AZs: Fargate spreads the tasks across both.
            network_configuration=aws.ecs.ServiceNetworkConfigurationArgs(
                subnets=network.private_subnet_ids,
                security_groups=[ingress.task_security_group.id],
                assign_public_ip=False,
            ),
            load_balancers=[
                aws.ecs.ServiceLoadBalancerArgs(
                    target_group_arn=ingress.target_group.arn,
                    container_name=CONTAINER_NAME,
                    container_port=self._port,
                )
            ],
            # A deploy whose tasks never get healthy is rolled back to the last good revision.
            deployment_circuit_breaker=aws.ecs.ServiceDeploymentCircuitBreakerArgs(
                enable=True, rollback=True
            ),
            # ...and so is one whose new tasks answer 5xx while the deploy is under way.
            alarms=aws.ecs.ServiceAlarmsArgs(alarm_names=[rollback_alarm.name], enable=True, rollback=True),
            deployment_minimum_healthy_percent=100,
            deployment_maximum_percent=200,
            # Loading the model takes a while; the ALB's /ready verdict counts only after it.
            health_check_grace_period_seconds=self._platform.config.startup_grace_seconds,
            propagate_tags="SERVICE",
            enable_ecs_managed_tags=True,
            enable_execute_command=False,
            opts=pulumi.ResourceOptions(
                parent=self,
                # The pipeline owns the task definition, autoscaling the count (see the class).
                ignore_changes=["taskDefinition", "desiredCount"],
                # The target group must belong to a load balancer before a service can use it.
                depends_on=ingress.listeners,
            ),
        )
