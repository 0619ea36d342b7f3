"""Callers in other VPCs and accounts: prod as a VPC endpoint service (AWS PrivateLink).

Why PrivateLink rather than VPC peering or a transit gateway: a consumer gets an interface
endpoint in its own VPC and reaches exactly this service, one way, whatever its CIDR (peering
needs non-overlapping ranges and opens routes between whole networks, both ways). Only the
principals in ``privateLinkAllowedPrincipals`` may create an endpoint, and each connection still
waits for acceptance (``acceptance_required``). Endpoint services front a Network Load Balancer
("Create a service powered by AWS PrivateLink",
https://docs.aws.amazon.com/vpc/latest/privatelink/create-endpoint-service.html), so an internal
NLB forwards TCP to the ALB itself (target type ``alb``, "Use an Application Load Balancer as a
target of a Network Load Balancer",
https://docs.aws.amazon.com/elasticloadbalancing/latest/network/application-load-balancer-target.html):
the ALB's listeners, mutual TLS and rules stay the one front door. Peered or VPN ranges are the
other documented path: ``ingressCidrs``.
"""

from __future__ import annotations

import pulumi
import pulumi_aws as aws

from infra.network import Network
from infra.serving.ingress import Ingress


def endpoint_service(
    name: str,
    *,
    ingress: Ingress,
    network: Network,
    port: int,
    allowed_principals: list[str],
    parent: pulumi.Resource,
) -> aws.ec2.VpcEndpointService:
    """An internal NLB in the private subnets forwarding `port` to the ALB, offered to the principals.

    `port` is the ALB's serving listener (HTTPS with a certificate): a consumer connects with TLS
    end to end, through its endpoint, to the ALB. The NLB has no security group, so the ALB
    sees its private addresses, which the ALB's group admits as part of the VPC.
    """
    child = pulumi.ResourceOptions(parent=parent)
    nlb = aws.lb.LoadBalancer(
        f"{name}-private-link",
        load_balancer_type="network",
        internal=True,
        subnets=network.private_subnet_ids,
        enable_cross_zone_load_balancing=True,
        opts=child,
    )
    to_alb = aws.lb.TargetGroup(
        f"{name}-private-link",
        target_type="alb",
        protocol="TCP",
        port=port,
        vpc_id=network.vpc_id,
        opts=child,
    )
    aws.lb.TargetGroupAttachment(
        f"{name}-private-link",
        target_group_arn=to_alb.arn,
        target_id=ingress.load_balancer.arn,
        port=port,
        # The ALB must already listen on `port` to be registered on it.
        opts=pulumi.ResourceOptions(parent=parent, depends_on=ingress.listeners),
    )
    aws.lb.Listener(
        f"{name}-private-link",
        load_balancer_arn=nlb.arn,
        port=port,
        protocol="TCP",
        default_actions=[aws.lb.ListenerDefaultActionArgs(type="forward", target_group_arn=to_alb.arn)],
        opts=child,
    )
    return aws.ec2.VpcEndpointService(
        f"{name}-private-link",
        acceptance_required=True,
        allowed_principals=allowed_principals,
        network_load_balancer_arns=[nlb.arn],
        opts=child,
    )
