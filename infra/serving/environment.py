"""Where the model server runs: stage and prod as two ServiceEnvironments on one ECS cluster.

Each environment is the same component with its own sizing and deployment strategy: a Fargate
service in private subnets behind its own Application Load Balancer, autoscaling on requests and
CPU, the alarms on-call needs (`infra/serving/alarms.py`), and ECS's own deployments: prod a
canary, stage blue/green, both judged by the smoke-test hook before production traffic moves
(`infra/serving/deployment.py`, `infra/serving/deployment_hook.py`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import pulumi
import pulumi_aws as aws

from infra.config import ConfigError
from infra.iam import execution_role
from infra.network import Network
from infra.serving.alarms import EnvironmentMetrics, rollback_alarms, service_alarms
from infra.serving.autoscaling import service_autoscaling
from infra.serving.config import EnvironmentConfig, ServingConfig
from infra.serving.deployment import (
    ECS_SWAPPED_SERVICE_INPUTS,
    InfrastructureRole,
    advanced_configuration,
    deployment_configuration,
    infrastructure_role,
)
from infra.serving.deployment_hook import HookInputs, smoke_hook
from infra.serving.domain import alias_records
from infra.serving.edge import PublicEdge
from infra.serving.ingress import HTTP_PORT, HTTPS_PORT, IP_ADDRESS_TYPE, Ingress, create_ingress
from infra.serving.model_alarms import model_alarms
from infra.serving.private_link import endpoint_service
from infra.serving.roles import model_server_role
from infra.serving.task_definition import CONTAINER_NAME, TaskInputs, create_task_definition
from ml_deploy.layout import ObjectLayout

Environment = Literal["stage", "prod"]


@dataclass(frozen=True)
class ServingPlatform:
    """What stage and prod share: where they run, what they pull, where they log and alert."""

    cluster: aws.ecs.Cluster
    network: Network
    service_repo: aws.ecr.Repository
    # Whether the service repository holds a pushed image (`Registry.service_images_pushed`).
    images_pushed: pulumi.Output[bool]
    # Where the smoke test reads the archived bundles from.
    models: aws.s3.Bucket
    # Prediction logs, and the reports beside them (drift reports, smoke-test verdicts).
    prediction_logs: aws.s3.Bucket
    layout: ObjectLayout
    access_logs: aws.s3.Bucket
    # The access-log bucket's policy: ELB checks at creation that it may write there.
    access_log_policy: aws.s3.BucketPolicy
    key: aws.kms.Key
    alerts_topic: aws.sns.Topic
    config: ServingConfig
    # What the HTTPS listeners serve (`infra/serving/domain.py` serving_certificate); None: HTTP only.
    certificate_arn: pulumi.Input[str] | None
    # The trust store and web ACL of an internet-facing stack (`infra/serving/edge.py`); None: internal.
    edge: PublicEdge | None = None

    def sizing(self, environment: Environment) -> EnvironmentConfig:
        """The environment's own settings (``ml-deploy:stage`` or ``ml-deploy:prod``)."""
        return self.config.prod if environment == "prod" else self.config.stage

    def task_counts(self, environment: Environment) -> tuple[pulumi.Output[int], pulumi.Output[int]]:
        """(fewest, most) tasks; none at all until the pipeline has pushed an image to run."""
        sizing = self.sizing(environment)
        return (
            self.images_pushed.apply(lambda pushed: sizing.min_count if pushed else 0),
            self.images_pushed.apply(lambda pushed: sizing.max_count if pushed else 0),
        )


class ServiceEnvironment(pulumi.ComponentResource):
    """One environment of the model server (stage or prod) behind its own load balancer.

    Who owns what: Pulumi owns the task configuration (cpu, memory, environment, roles,
    logging: the task definition it registers, exported as ``task_definition_arn``), the
    pipeline owns the image. Each deploy renders the next revision from Pulumi's latest one with
    only the model server's image replaced (`ml_deploy_cli/aws/deploy.py`), so a ``pulumi up``
    that changes the settings reaches the service at the next deploy, with the running image.
    The service ignores changes to its task definition (the pipeline points it at each rendered
    revision), to its desired count (autoscaling's) and to which of its two target groups is the
    primary one (ECS swaps them at every deployment, and moves the listener rules' weights), so a
    ``pulumi up`` never rolls an environment back to an old image or task count, nor starts a
    deployment into the group that serves production. The first task definition's image is
    ``<service repo>:<initialImageTag>``, a tag nothing has pushed yet; so until ECR lists an
    image the pipeline pushed (`infra/registry.py`) the service runs no task (desired count 0,
    autoscaling 0..0). The first ``pulumi up`` after that reaches the running service through the
    scalable target: registering a new minimum moves the current count into the new range.

    Why one ALB per environment rather than one shared ALB with host/path rules: stage and
    prod stay isolated (a listener change or a flood on stage cannot touch prod), each has its
    own security group, its own ALB metrics for its alarms, and its own URL.
    """

    environment: Environment
    cluster_name: pulumi.Output[str]
    service_name: pulumi.Output[str]
    url: pulumi.Output[str]
    # What a DNS name of the user's points at when the stack does not write DNS (certificateArn).
    load_balancer_dns_name: pulumi.Output[str]
    task_role_arn: pulumi.Output[str]
    execution_role_arn: pulumi.Output[str]
    task_family: pulumi.Output[str]
    task_definition_arn: pulumi.Output[str]
    metrics: EnvironmentMetrics
    # What other accounts' VPC endpoints name (prod with privateLinkAllowedPrincipals), else None.
    private_link_service_name: pulumi.Output[str] | None

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
        self._sizing = platform.sizing(environment)
        self._platform = platform

        task_definition, task, execution = self._task_definition(environment)
        ingress = self._ingress(environment)
        if platform.config.hosted_zone_id is not None:
            # <environment>.<domainName> in the stack's zone names this load balancer.
            alias_records(
                name,
                config=platform.config,
                environment=environment,
                load_balancer=ingress.load_balancer,
                ip_address_type=IP_ADDRESS_TYPE,
                parent=self,
            )
        self._edge(ingress)
        self.private_link_service_name = self._private_link(environment, ingress)
        rollback = self._rollback_alarms(environment, ingress)
        hook = self._smoke_hook(environment, ingress)
        deployments = infrastructure_role(name, hook=hook, parent=self)
        service = self._service(
            task_definition=task_definition,
            ingress=ingress,
            rollback_alarms=rollback,
            deployment=deployment_configuration(
                strategy=platform.config.strategy(environment),
                sizing=self._sizing,
                hook=hook,
                role=deployments.role,
            ),
            deployments=deployments,
            desired_count=platform.task_counts(environment)[0],
        )
        service_autoscaling(
            name,
            cluster_name=platform.cluster.name,
            service=service,
            ingress=ingress,
            sizing=self._sizing,
            counts=platform.task_counts(environment),
            parent=self,
        )

        self.environment = environment
        self.cluster_name = platform.cluster.name
        self.service_name = service.name
        self.url = ingress.url
        self.load_balancer_dns_name = ingress.load_balancer.dns_name
        self.task_role_arn = task.arn
        self.execution_role_arn = execution.arn
        self.task_family = task_definition.family
        # The revision Pulumi registered: the deploy step renders each new revision from it.
        self.task_definition_arn = task_definition.arn
        self.metrics = EnvironmentMetrics(
            environment=environment,
            load_balancer=ingress.load_balancer.arn_suffix,
            target_group=ingress.target_group.arn_suffix,
            cluster_name=self.cluster_name,
            service_name=self.service_name,
            alternate_target_group=ingress.alternate_target_group.arn_suffix,
        )
        service_alarms(
            name,
            metrics=self.metrics,
            topic_arn=platform.alerts_topic.arn,
            parent=self,
        )
        model_alarms(name, environment=environment, topic_arn=platform.alerts_topic.arn, parent=self)
        self.register_outputs(
            {
                "cluster_name": self.cluster_name,
                "service_name": self.service_name,
                "url": self.url,
                "task_role_arn": self.task_role_arn,
                "execution_role_arn": self.execution_role_arn,
                "task_family": self.task_family,
                "task_definition_arn": self.task_definition_arn,
            }
        )

    def _ingress(self, environment: Environment) -> Ingress:
        network = self._platform.network
        return create_ingress(
            self._name,
            environment=environment,
            network=network,
            config=self._platform.config,
            access_logs=self._platform.access_logs,
            test_sources=self._test_sources(),
            certificate_arn=self._platform.certificate_arn,
            trust_store_arn=None if self._platform.edge is None else self._platform.edge.trust_store_arn,
            host=self._platform.config.host(environment),
            # An internet-facing ALB is refused in a VPC without an internet gateway, and its access
            # logs are refused until the bucket policy admits ELB: both must exist before it is created.
            depends_on=[
                *(network.internet_access if self._platform.config.public_endpoint else []),
                self._platform.access_log_policy,
            ],
            parent=self,
        )

    def _edge(self, ingress: Ingress) -> None:
        """An internet-facing load balancer answers only through the stack's web ACL."""
        edge = self._platform.edge
        if edge is not None:
            aws.wafv2.WebAclAssociation(
                f"{self._name}-firewall",
                resource_arn=ingress.load_balancer.arn,
                web_acl_arn=edge.web_acl_arn,
                opts=pulumi.ResourceOptions(parent=self),
            )

    def _private_link(self, environment: Environment, ingress: Ingress) -> pulumi.Output[str] | None:
        """Prod as an endpoint service for the named principals' VPCs; stage stays in the VPC."""
        config = self._platform.config
        if environment != "prod" or not config.private_link_allowed_principals:
            return None
        service = endpoint_service(
            self._name,
            ingress=ingress,
            network=self._platform.network,
            port=HTTPS_PORT if config.serves_https else HTTP_PORT,
            allowed_principals=config.private_link_allowed_principals,
            parent=self,
        )
        return service.service_name

    def _test_sources(self) -> list[pulumi.Input[str]]:
        """Who may reach an internet-facing test listener: the NAT gateways the hook's requests leave by.

        None for an internal one: the hook's own security group is admitted (`deployment_hook`).
        """
        config = self._platform.config
        if not config.public_endpoint:
            return []
        nat = [pulumi.Output.concat(address, "/32") for address in self._platform.network.nat_public_ips]
        if not nat and not config.test_listener_cidrs:
            raise ConfigError(
                "ml-deploy:testListenerCidrs is required with vpcId: list the public addresses "
                "(CIDRs) of the NAT gateways of the private subnets, the only sources the "
                "smoke-test hook's requests to the test listener come from"
            )
        return [*nat, *config.test_listener_cidrs]

    def _rollback_alarms(
        self, environment: Environment, ingress: Ingress
    ) -> list[aws.cloudwatch.MetricAlarm]:
        """5xx rate, p99 and never-healthy targets of both target groups: ECS rolls back on any."""
        return rollback_alarms(
            self._name,
            environment=environment,
            load_balancer=ingress.load_balancer.arn_suffix,
            target_groups={
                "": ingress.target_group.arn_suffix,
                "-alternate": ingress.alternate_target_group.arn_suffix,
            },
            config=self._platform.config,
            topic_arn=self._platform.alerts_topic.arn,
            parent=self,
        )

    def _smoke_hook(self, environment: Environment, ingress: Ingress) -> aws.lambda_.Function:
        platform = self._platform
        inputs = HookInputs(
            environment=environment,
            network=platform.network,
            models=platform.models,
            results=platform.prediction_logs,
            layout=platform.layout,
            key=platform.key,
            test_url=ingress.test_url,
            load_balancer_security_group=None
            if platform.config.public_endpoint
            else ingress.load_balancer_security_group,
            config=platform.config,
            cluster_name=platform.cluster.name,
        )
        return smoke_hook(self._name, inputs=inputs, parent=self)

    def _task_definition(
        self, environment: Environment
    ) -> tuple[aws.ecs.TaskDefinition, aws.iam.Role, aws.iam.Role]:
        """The first task definition, its log groups (the containers', the metrics') and its two roles."""
        platform = self._platform
        log_group = aws.cloudwatch.LogGroup(
            f"{self._name}-logs",
            retention_in_days=platform.config.service_log_retention_days,
            kms_key_id=platform.key.arn,
            opts=pulumi.ResourceOptions(parent=self),
        )
        metrics_log_group = aws.cloudwatch.LogGroup(
            f"{self._name}-metrics-logs",
            retention_in_days=platform.config.service_log_retention_days,
            kms_key_id=platform.key.arn,
            opts=pulumi.ResourceOptions(parent=self),
        )
        execution = execution_role(
            self._name, repository=platform.service_repo, log_group=log_group, parent=self
        )
        task = model_server_role(
            self._name,
            prediction_logs=platform.prediction_logs,
            log_prefix=platform.layout.prediction_logs(environment),
            key=platform.key,
            metrics_log_group=metrics_log_group,
            parent=self,
        )
        inputs = TaskInputs(
            environment=environment,
            sizing=self._sizing,
            config=platform.config,
            layout=platform.layout,
            service_repo=platform.service_repo,
            prediction_logs=platform.prediction_logs,
            log_group=log_group,
            metrics_log_group=metrics_log_group,
            execution_role=execution,
            task_role=task,
        )
        return create_task_definition(self._name, inputs=inputs, parent=self), task, execution

    def _service(
        self,
        *,
        task_definition: aws.ecs.TaskDefinition,
        ingress: Ingress,
        rollback_alarms: list[aws.cloudwatch.MetricAlarm],
        deployment: aws.ecs.ServiceDeploymentConfigurationArgs,
        deployments: InfrastructureRole,
        desired_count: pulumi.Input[int],
    ) -> aws.ecs.Service:
        network = self._platform.network
        return aws.ecs.Service(
            f"{self._name}-service",
            cluster=self._platform.cluster.arn,
            task_definition=task_definition.arn,
            # Only the first count: autoscaling owns it from then on (see ignore_changes below).
            desired_count=desired_count,
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
                    container_port=self._platform.config.container_port,
                    advanced_configuration=advanced_configuration(ingress, role=deployments.role),
                )
            ],
            # ECS's own deployments (not CodeDeploy's): the strategy, its bake times and the hook.
            deployment_controller=aws.ecs.ServiceDeploymentControllerArgs(type="ECS"),
            deployment_configuration=deployment,
            # The circuit breaker: for rolling updates only by the API reference, for blue/green
            # too by the developer guide (deployment-failure-detection.html); on, not relied on...
            deployment_circuit_breaker=aws.ecs.ServiceDeploymentCircuitBreakerArgs(
                enable=True, rollback=True
            ),
            # ...while under BLUE_GREEN and CANARY the alarms roll back a revision whose new tasks
            # never pass /ready, or answer 5xx or slowly (`rollback_alarms`).
            alarms=aws.ecs.ServiceAlarmsArgs(
                alarm_names=[alarm.name for alarm in rollback_alarms], enable=True, rollback=True
            ),
            deployment_minimum_healthy_percent=100,
            deployment_maximum_percent=200,
            # Loading the model takes a while; the ALB's /ready verdict counts only after it.
            health_check_grace_period_seconds=self._platform.config.startup_grace_seconds,
            propagate_tags="SERVICE",
            enable_ecs_managed_tags=True,
            enable_execute_command=False,
            opts=pulumi.ResourceOptions(
                parent=self,
                # The pipeline owns the task definition, autoscaling the count (see the class),
                # ECS which of the two target groups is the service's (each deployment swaps them).
                ignore_changes=["taskDefinition", "desiredCount", *ECS_SWAPPED_SERVICE_INPUTS],
                # The target groups must belong to a load balancer (through the listeners and
                # rules) before a service can use them; ECS checks its role when it is given.
                depends_on=[
                    *ingress.listeners,
                    ingress.production_rule,
                    ingress.test_rule,
                    *deployments.grants,
                ],
            ),
        )
