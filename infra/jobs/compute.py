"""Where the jobs run: Fargate (or Fargate Spot) in the private subnets, behind one job queue."""

from __future__ import annotations

import pulumi
import pulumi_aws as aws

from infra.jobs.config import JobsConfig
from infra.jobs.waiting import runnable_time_limits
from infra.network import Network


def job_queue(
    name: str, *, network: Network, config: JobsConfig, parent: pulumi.Resource
) -> aws.batch.JobQueue:
    """`<name>-queue` on its compute environment: nothing comes in, HTTPS goes out."""
    child = pulumi.ResourceOptions(parent=parent)
    security_group = aws.ec2.SecurityGroup(
        f"{name}-tasks",
        vpc_id=network.vpc_id,
        description="Batch jobs: no inbound; outbound HTTPS to S3, ECR, SNS, CloudWatch",
        opts=child,
    )
    aws.vpc.SecurityGroupEgressRule(
        f"{name}-tasks-https-out",
        security_group_id=security_group.id,
        description="AWS APIs over HTTPS (through NAT or VPC endpoints)",
        ip_protocol="tcp",
        from_port=443,
        to_port=443,
        cidr_ipv4="0.0.0.0/0",
        opts=child,
    )
    compute = aws.batch.ComputeEnvironment(
        f"{name}-fargate",
        type="MANAGED",
        state="ENABLED",
        # No service_role: Batch uses its service-linked role.
        compute_resources=aws.batch.ComputeEnvironmentComputeResourcesArgs(
            type="FARGATE_SPOT" if config.use_fargate_spot else "FARGATE",
            max_vcpus=config.max_vcpus,
            subnets=network.private_subnet_ids,
            security_group_ids=[security_group.id],
        ),
        opts=child,
    )
    return aws.batch.JobQueue(
        f"{name}-queue",
        state="ENABLED",
        priority=1,
        compute_environment_orders=[
            aws.batch.JobQueueComputeEnvironmentOrderArgs(order=1, compute_environment=compute.arn)
        ],
        # A job stuck RUNNABLE (no Spot capacity, a vCPU quota) is cancelled and alerted.
        job_state_time_limit_actions=runnable_time_limits(),
        opts=child,
    )
