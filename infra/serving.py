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

from infra.alarms import EnvironmentMetrics, service_alarms
from infra.config import PROJECT_NAMESPACE, EnvironmentConfig, ServingConfig
from infra.iam import assume_role_policy, policy
from infra.network import Network

# The service container's name; the pipeline's imagedefinitions.json must use exactly this.
CONTAINER_NAME = "model-server"
# Container Insights publishes RunningTaskCount/DesiredTaskCount that the alarms compare.
CONTAINER_INSIGHTS = "enabled"
# TLS 1.3 and 1.2 only: AWS's recommended policy for new HTTPS listeners.
TLS_POLICY = "ELBSecurityPolicy-TLS13-1-2-2021-06"
# The access-log bucket's policy admits ELB delivery under alb/AWSLogs/<account>/ only.
ACCESS_LOG_PREFIX = "alb"
HEALTH_CHECK_GRACE_SECONDS = 60

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
        sizing: EnvironmentConfig,
        platform: ServingPlatform,
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        super().__init__("ml-deploy:serving:ServiceEnvironment", name, None, opts)
        self._name = name
        self._environment = environment
        self._sizing = sizing
        self._platform = platform
        self._port = platform.config.container_port
        self._child = pulumi.ResourceOptions(parent=self)

        log_group = aws.cloudwatch.LogGroup(
            f"{name}-logs",
            retention_in_days=platform.config.service_log_retention_days,
            kms_key_id=platform.key.arn,
            opts=self._child,
        )
        execution_role = self._execution_role(log_group)
        task_role = self._task_role()
        task_definition = self._task_definition(
            log_group=log_group, execution_role=execution_role, task_role=task_role
        )
        alb_sg, task_sg = self._security_groups()
        load_balancer, target_group, listeners, scheme = self._load_balancer(alb_sg)
        service = self._service(
            task_definition=task_definition,
            task_sg=task_sg,
            target_group=target_group,
            listeners=listeners,
        )
        self._autoscaling(service=service, load_balancer=load_balancer, target_group=target_group)

        self.cluster_name = platform.cluster.name
        self.service_name = service.name
        self.url = pulumi.Output.concat(scheme, "://", load_balancer.dns_name)
        self.task_role_arn = task_role.arn
        self.execution_role_arn = execution_role.arn
        self.task_family = task_definition.family
        self.metrics = EnvironmentMetrics(
            environment=environment,
            load_balancer=load_balancer.arn_suffix,
            target_group=target_group.arn_suffix,
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

    def _execution_role(self, log_group: aws.cloudwatch.LogGroup) -> aws.iam.Role:
        """What ECS itself needs to start a task: pull the service image, write its log group."""
        role = aws.iam.Role(
            f"{self._name}-execution",
            assume_role_policy=assume_role_policy("ecs-tasks.amazonaws.com"),
            opts=self._child,
        )
        repo_arn = self._platform.service_repo.arn
        aws.iam.RolePolicy(
            f"{self._name}-execution",
            role=role.id,
            policy=policy(
                {
                    "Sid": "AuthenticateToRegistry",
                    "Effect": "Allow",
                    "Action": "ecr:GetAuthorizationToken",
                    # AWS grants GetAuthorizationToken only on "*": it names no repository.
                    "Resource": "*",
                },
                {
                    "Sid": "PullServiceImages",
                    "Effect": "Allow",
                    "Action": ["ecr:BatchCheckLayerAvailability", "ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer"],
                    "Resource": repo_arn,
                },
                {
                    "Sid": "WriteServiceLogs",
                    "Effect": "Allow",
                    "Action": ["logs:CreateLogStream", "logs:PutLogEvents"],
                    "Resource": pulumi.Output.concat(log_group.arn, ":log-stream:*"),
                },
            ),
            opts=self._child,
        )
        return role

    def _task_role(self) -> aws.iam.Role:
        """What the model server may do: write payload logs under its own prefix, nothing more."""
        role = aws.iam.Role(
            f"{self._name}-task",
            assume_role_policy=assume_role_policy("ecs-tasks.amazonaws.com"),
            opts=self._child,
        )
        aws.iam.RolePolicy(
            f"{self._name}-task",
            role=role.id,
            policy=policy(
                {
                    "Sid": "WritePredictionLogsOfThisEnvironment",
                    "Effect": "Allow",
                    "Action": "s3:PutObject",
                    "Resource": pulumi.Output.concat(
                        self._platform.prediction_logs.arn, "/", self._log_prefix, "*"
                    ),
                },
                {
                    "Sid": "EncryptPredictionLogs",
                    "Effect": "Allow",
                    "Action": "kms:GenerateDataKey",
                    "Resource": self._platform.key.arn,
                },
            ),
            opts=self._child,
        )
        return role

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
                "startPeriod": HEALTH_CHECK_GRACE_SECONDS,
            },
            "readonlyRootFilesystem": False,
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

    def _security_groups(self) -> tuple[aws.ec2.SecurityGroup, aws.ec2.SecurityGroup]:
        """The ALB is open on its listener ports; tasks admit the container port from the ALB only."""
        vpc_id = self._platform.network.vpc_id
        alb_sg = aws.ec2.SecurityGroup(
            f"{self._name}-alb", vpc_id=vpc_id, description=f"{self._environment} load balancer",
            opts=self._child,
        )
        task_sg = aws.ec2.SecurityGroup(
            f"{self._name}-tasks", vpc_id=vpc_id, description=f"{self._environment} service tasks",
            opts=self._child,
        )
        for port in self._listener_ports:
            aws.vpc.SecurityGroupIngressRule(
                f"{self._name}-alb-in-{port}",
                security_group_id=alb_sg.id,
                description="Clients from the internet",
                cidr_ipv4="0.0.0.0/0",
                ip_protocol="tcp",
                from_port=port,
                to_port=port,
                opts=self._child,
            )
        aws.vpc.SecurityGroupEgressRule(
            f"{self._name}-alb-to-tasks",
            security_group_id=alb_sg.id,
            description="Forward to the service tasks",
            referenced_security_group_id=task_sg.id,
            ip_protocol="tcp",
            from_port=self._port,
            to_port=self._port,
            opts=self._child,
        )
        aws.vpc.SecurityGroupIngressRule(
            f"{self._name}-tasks-from-alb",
            security_group_id=task_sg.id,
            description="Requests and health checks from this environment's load balancer",
            referenced_security_group_id=alb_sg.id,
            ip_protocol="tcp",
            from_port=self._port,
            to_port=self._port,
            opts=self._child,
        )
        aws.vpc.SecurityGroupEgressRule(
            f"{self._name}-tasks-out-https",
            security_group_id=task_sg.id,
            description="ECR, S3, CloudWatch Logs and STS over HTTPS",
            cidr_ipv4="0.0.0.0/0",
            ip_protocol="tcp",
            from_port=443,
            to_port=443,
            opts=self._child,
        )
        return alb_sg, task_sg

    @property
    def _listener_ports(self) -> tuple[int, ...]:
        return (80, 443) if self._platform.config.certificate_arn else (80,)

    def _load_balancer(
        self, alb_sg: aws.ec2.SecurityGroup
    ) -> tuple[aws.lb.LoadBalancer, aws.lb.TargetGroup, list[aws.lb.Listener], str]:
        """The ALB, its target group and listeners; returns the URL scheme clients should use."""
        platform = self._platform
        load_balancer = aws.lb.LoadBalancer(
            f"{self._name}-alb",
            load_balancer_type="application",
            internal=False,
            subnets=platform.network.public_subnet_ids,
            security_groups=[alb_sg.id],
            drop_invalid_header_fields=True,
            access_logs=aws.lb.LoadBalancerAccessLogsArgs(
                bucket=platform.access_logs.bucket, prefix=ACCESS_LOG_PREFIX, enabled=True
            ),
            opts=self._child,
        )
        target_group = aws.lb.TargetGroup(
            f"{self._name}-tg",
            target_type="ip",
            port=self._port,
            protocol="HTTP",
            vpc_id=platform.network.vpc_id,
            # Tasks drain quickly: the server answers in milliseconds, deploys should not wait.
            deregistration_delay=30,
            health_check=aws.lb.TargetGroupHealthCheckArgs(
                path="/ready",
                matcher="200",
                interval=15,
                timeout=5,
                healthy_threshold=2,
                unhealthy_threshold=3,
            ),
            opts=self._child,
        )
        forward = [aws.lb.ListenerDefaultActionArgs(type="forward", target_group_arn=target_group.arn)]
        certificate = platform.config.certificate_arn
        if not certificate:
            http = aws.lb.Listener(
                f"{self._name}-http",
                load_balancer_arn=load_balancer.arn,
                port=80,
                protocol="HTTP",
                default_actions=forward,
                opts=self._child,
            )
            return load_balancer, target_group, [http], "http"
        redirect = aws.lb.Listener(
            f"{self._name}-http",
            load_balancer_arn=load_balancer.arn,
            port=80,
            protocol="HTTP",
            default_actions=[
                aws.lb.ListenerDefaultActionArgs(
                    type="redirect",
                    redirect=aws.lb.ListenerDefaultActionRedirectArgs(
                        protocol="HTTPS", port="443", status_code="HTTP_301"
                    ),
                )
            ],
            opts=self._child,
        )
        https = aws.lb.Listener(
            f"{self._name}-https",
            load_balancer_arn=load_balancer.arn,
            port=443,
            protocol="HTTPS",
            ssl_policy=TLS_POLICY,
            certificate_arn=certificate,
            default_actions=forward,
            opts=self._child,
        )
        return load_balancer, target_group, [redirect, https], "https"

    def _service(
        self,
        *,
        task_definition: aws.ecs.TaskDefinition,
        task_sg: aws.ec2.SecurityGroup,
        target_group: aws.lb.TargetGroup,
        listeners: list[aws.lb.Listener],
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
                security_groups=[task_sg.id],
                assign_public_ip=False,
            ),
            load_balancers=[
                aws.ecs.ServiceLoadBalancerArgs(
                    target_group_arn=target_group.arn,
                    container_name=CONTAINER_NAME,
                    container_port=self._port,
                )
            ],
            # A deploy whose tasks never get healthy is rolled back to the last good revision.
            deployment_circuit_breaker=aws.ecs.ServiceDeploymentCircuitBreakerArgs(
                enable=True, rollback=True
            ),
            deployment_minimum_healthy_percent=100,
            deployment_maximum_percent=200,
            health_check_grace_period_seconds=HEALTH_CHECK_GRACE_SECONDS,
            propagate_tags="SERVICE",
            enable_ecs_managed_tags=True,
            enable_execute_command=False,
            opts=pulumi.ResourceOptions(
                parent=self,
                # The pipeline owns the task definition, autoscaling the count (see class docstring).
                ignore_changes=["taskDefinition", "desiredCount"],
                # The target group must belong to a load balancer before a service can use it.
                depends_on=listeners,
            ),
        )

    def _autoscaling(
        self,
        *,
        service: aws.ecs.Service,
        load_balancer: aws.lb.LoadBalancer,
        target_group: aws.lb.TargetGroup,
    ) -> None:
        """Track requests per task and CPU; whichever asks for more tasks wins."""
        target = aws.appautoscaling.Target(
            f"{self._name}-scaling",
            service_namespace="ecs",
            scalable_dimension="ecs:service:DesiredCount",
            resource_id=pulumi.Output.concat(
                "service/", self._platform.cluster.name, "/", service.name
            ),
            min_capacity=self._sizing.min_count,
            max_capacity=self._sizing.max_count,
            opts=self._child,
        )
        trackers = {
            "requests": aws.appautoscaling.PolicyTargetTrackingScalingPolicyConfigurationArgs(
                target_value=self._sizing.requests_per_target,
                predefined_metric_specification=aws.appautoscaling.PolicyTargetTrackingScalingPolicyConfigurationPredefinedMetricSpecificationArgs(
                    predefined_metric_type="ALBRequestCountPerTarget",
                    resource_label=pulumi.Output.concat(
                        load_balancer.arn_suffix, "/", target_group.arn_suffix
                    ),
                ),
                scale_in_cooldown=300,
                scale_out_cooldown=60,
            ),
            "cpu": aws.appautoscaling.PolicyTargetTrackingScalingPolicyConfigurationArgs(
                target_value=self._sizing.cpu_target_percent,
                predefined_metric_specification=aws.appautoscaling.PolicyTargetTrackingScalingPolicyConfigurationPredefinedMetricSpecificationArgs(
                    predefined_metric_type="ECSServiceAverageCPUUtilization",
                ),
                scale_in_cooldown=300,
                scale_out_cooldown=60,
            ),
        }
        for metric, tracking in trackers.items():
            aws.appautoscaling.Policy(
                f"{self._name}-scale-on-{metric}",
                policy_type="TargetTrackingScaling",
                service_namespace=target.service_namespace,
                scalable_dimension=target.scalable_dimension,
                resource_id=target.resource_id,
                target_tracking_scaling_policy_configuration=tracking,
                opts=self._child,
            )
