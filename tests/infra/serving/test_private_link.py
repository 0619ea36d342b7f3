"""Issue 29: callers in other VPCs and accounts reach prod through PrivateLink, only if named."""

from __future__ import annotations

import pytest

from ml_deploy_dev.program import Program, run_program

SERVICE = "aws:ec2/vpcEndpointService:VpcEndpointService"
LOAD_BALANCER = "aws:lb/loadBalancer:LoadBalancer"
TARGET_GROUP = "aws:lb/targetGroup:TargetGroup"
ATTACHMENT = "aws:lb/targetGroupAttachment:TargetGroupAttachment"
LISTENER = "aws:lb/listener:Listener"
PRINCIPALS = ["arn:aws:iam::210987654321:root", "arn:aws:iam::210987654321:role/churn-caller"]
# "Create a service powered by AWS PrivateLink"
# (https://docs.aws.amazon.com/vpc/latest/privatelink/create-endpoint-service.html): endpoint
# services require a Network Load Balancer (or a Gateway Load Balancer).
ENDPOINT_SERVICE_LOAD_BALANCER = "network"
# "Use an Application Load Balancer as a target of a Network Load Balancer"
# (https://docs.aws.amazon.com/elasticloadbalancing/latest/network/application-load-balancer-target.html):
# target type "alb", TCP, one ALB per target group, both in the same VPC.
ALB_TARGET_TYPE = "alb"
ALB_TARGET_PROTOCOL = "TCP"


@pytest.fixture(scope="module")
def private_link_program() -> Program:
    return run_program(overrides={"ml-deploy:privateLinkAllowedPrincipals": PRINCIPALS})


def test_prod_is_offered_only_to_the_named_principals_and_each_connection_is_accepted(
    private_link_program: Program, dev_program: Program
) -> None:
    assert not dev_program.of_type(SERVICE), "an endpoint service only when principals are named"
    assert "prodPrivateLinkServiceName" not in dev_program.outputs
    (service,) = private_link_program.of_type(SERVICE)
    assert service.name == "serving-prod-private-link", "stage stays inside the VPC"
    assert service.inputs["allowedPrincipals"] == PRINCIPALS
    assert service.inputs["acceptanceRequired"] is True
    nlb = private_link_program.one(LOAD_BALANCER, "serving-prod-private-link")
    assert service.inputs["networkLoadBalancerArns"] == [nlb.state["arn"]]
    assert private_link_program.outputs["prodPrivateLinkServiceName"] == service.state["serviceName"]


def test_the_network_load_balancer_is_internal_and_forwards_to_prods_alb(
    private_link_program: Program,
) -> None:
    program = private_link_program
    nlb = program.one(LOAD_BALANCER, "serving-prod-private-link").inputs
    assert nlb["loadBalancerType"] == ENDPOINT_SERVICE_LOAD_BALANCER and nlb["internal"] is True
    assert nlb["subnets"] == program.outputs["privateSubnetIds"]
    group = program.one(TARGET_GROUP, "serving-prod-private-link").inputs
    assert (group["targetType"], group["protocol"]) == (ALB_TARGET_TYPE, ALB_TARGET_PROTOCOL)
    alb = program.one(LOAD_BALANCER, "serving-prod-alb")
    (attachment,) = program.of_type(ATTACHMENT)
    assert attachment.inputs["targetId"] == alb.state["arn"]
    # The port of the ALB listener that serves clients (HTTP on the dev stack, which has no certificate).
    served = program.one(LISTENER, "serving-prod-http").inputs["port"]
    assert attachment.inputs["port"] == group["port"] == served
    assert program.one(LISTENER, "serving-prod-private-link").inputs["port"] == served
    listener = program.one(LISTENER, "serving-prod-http")
    assert program.depends_explicitly_on(attachment, listener), "the ALB must listen before it is registered"
