"""The network: private subnets behind NAT in two AZs, or an existing VPC."""

from __future__ import annotations

from ml_deploy_dev.program import Program, run_program

SUBNET = "aws:ec2/subnet:Subnet"


def test_two_public_and_two_private_subnets_in_different_zones(dev_program: Program) -> None:
    subnets = dev_program.of_type(SUBNET)
    public = [s for s in subnets if "-public-" in s.name]
    private = [s for s in subnets if "-private-" in s.name]
    assert len(public) == 2 and len(private) == 2
    assert len({s.inputs["availabilityZone"] for s in private}) == 2, "private subnets share a zone"
    assert not any(s.inputs.get("mapPublicIpOnLaunch") for s in subnets), "subnets hand out public IPs"
    cidrs = [s.inputs["cidrBlock"] for s in subnets]
    assert len(set(cidrs)) == 4 and all(c.startswith("10.40.") for c in cidrs)


def test_dev_uses_one_nat_gateway_and_private_routes_go_through_it(dev_program: Program) -> None:
    nats = dev_program.of_type("aws:ec2/natGateway:NatGateway")
    assert len(nats) == 1
    private_tables = [
        t for t in dev_program.of_type("aws:ec2/routeTable:RouteTable") if "-private-" in t.name
    ]
    assert len(private_tables) == 2
    for table in private_tables:
        assert table.inputs["routes"][0]["natGatewayId"] == nats[0].id


def test_one_nat_gateway_per_zone_when_configured() -> None:
    program = run_program(overrides={"ml-deploy:singleNatGateway": False})
    nats = program.of_type("aws:ec2/natGateway:NatGateway")
    assert len(nats) == 2
    private_tables = [t for t in program.of_type("aws:ec2/routeTable:RouteTable") if "-private-" in t.name]
    assert {t.inputs["routes"][0]["natGatewayId"] for t in private_tables} == {n.id for n in nats}


def test_s3_gateway_endpoint_serves_the_private_route_tables(dev_program: Program) -> None:
    endpoints = dev_program.of_type("aws:ec2/vpcEndpoint:VpcEndpoint")
    assert [e.inputs["serviceName"] for e in endpoints] == ["com.amazonaws.eu-west-1.s3"]
    private_tables = {
        t.id for t in dev_program.of_type("aws:ec2/routeTable:RouteTable") if "-private-" in t.name
    }
    assert set(endpoints[0].inputs["routeTableIds"]) == private_tables


def test_interface_endpoints_are_optional() -> None:
    program = run_program(overrides={"ml-deploy:interfaceEndpoints": True})
    interface = [
        e
        for e in program.of_type("aws:ec2/vpcEndpoint:VpcEndpoint")
        if e.inputs["vpcEndpointType"] == "Interface"
    ]
    services = sorted(e.inputs["serviceName"].removeprefix("com.amazonaws.eu-west-1.") for e in interface)
    assert services == ["ecr.api", "ecr.dkr", "logs", "sts"]
    assert all(e.inputs["privateDnsEnabled"] for e in interface)


def test_existing_vpc_is_used_as_given() -> None:
    program = run_program(
        overrides={
            "ml-deploy:vpcId": "vpc-0123456789abcdef0",
            "ml-deploy:publicSubnetIds": ["subnet-0aaaaaaaaaaaaaa01", "subnet-0aaaaaaaaaaaaaa02"],
            "ml-deploy:privateSubnetIds": ["subnet-0bbbbbbbbbbbbbb01", "subnet-0bbbbbbbbbbbbbb02"],
            # The existing VPC's NAT addresses, unknown to the stack (see tests/infra/serving).
            "ml-deploy:testListenerCidrs": ["198.51.100.20/32"],
        }
    )
    assert not program.of_type("aws:ec2/vpc:Vpc"), "a VPC was created although vpcId was given"
    assert not program.of_type(SUBNET)
    assert program.outputs["vpcId"] == "vpc-0123456789abcdef0"
    assert program.outputs["privateSubnetIds"] == ["subnet-0bbbbbbbbbbbbbb01", "subnet-0bbbbbbbbbbbbbb02"]
