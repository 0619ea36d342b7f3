"""Where tasks and jobs run: a VPC with public and private subnets in two AZs, or an existing one."""

from __future__ import annotations

import ipaddress

import pulumi
import pulumi_aws as aws

from infra.platform_config import NetworkConfig

AZ_COUNT = 2
# Interface endpoints that keep image pulls, logs and credentials off the NAT gateway.
INTERFACE_ENDPOINT_SERVICES = ("ecr.api", "ecr.dkr", "logs", "sts")


class Network(pulumi.ComponentResource):
    """Private subnets for tasks and jobs (egress through NAT), public subnets for load balancers."""

    vpc_id: pulumi.Output[str]
    vpc_cidr: pulumi.Output[str]
    public_subnet_ids: list[pulumi.Output[str]]
    private_subnet_ids: list[pulumi.Output[str]]
    # What must exist before anything in the public subnets is reachable from the internet (the
    # internet gateway and the public routes to it); empty for an existing VPC, which has them.
    internet_access: list[pulumi.Resource]
    # The NAT gateways' public addresses: what the private subnets' requests to the internet come
    # from (the smoke-test hook's, to the load balancers' test port). Unknown for an existing VPC.
    nat_public_ips: list[pulumi.Output[str]]

    def __init__(
        self, name: str, *, config: NetworkConfig, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("ml-deploy:network:Network", name, None, opts)
        if config.vpc_id:
            self._use_existing(config)
        else:
            self._create(name, config)
        self.register_outputs(
            {
                "vpc_id": self.vpc_id,
                "public_subnet_ids": self.public_subnet_ids,
                "private_subnet_ids": self.private_subnet_ids,
            }
        )

    def _use_existing(self, config: NetworkConfig) -> None:
        vpc = aws.ec2.get_vpc_output(id=config.vpc_id, opts=pulumi.InvokeOutputOptions(parent=self))
        self.vpc_id = vpc.id
        self.vpc_cidr = vpc.cidr_block
        self.public_subnet_ids = [pulumi.Output.from_input(s) for s in config.public_subnet_ids]
        self.private_subnet_ids = [pulumi.Output.from_input(s) for s in config.private_subnet_ids]
        self.internet_access = []
        self.nat_public_ips = []

    def _create(self, name: str, config: NetworkConfig) -> None:
        child = pulumi.ResourceOptions(parent=self)
        zones = aws.get_availability_zones_output(
            state="available", opts=pulumi.InvokeOutputOptions(parent=self)
        )
        # /20 per subnet: public subnets first, then private ones.
        blocks = [str(block) for block in ipaddress.ip_network(config.vpc_cidr).subnets(new_prefix=20)]
        vpc = aws.ec2.Vpc(
            f"{name}-vpc",
            cidr_block=config.vpc_cidr,
            enable_dns_hostnames=True,
            enable_dns_support=True,
            opts=child,
        )
        public, nat_gateways, self.internet_access = self._public_subnets(
            name, vpc=vpc, zones=zones.names, blocks=blocks[:AZ_COUNT], single_nat=config.single_nat_gateway
        )
        private, private_routes = self._private_subnets(
            name,
            vpc=vpc,
            zones=zones.names,
            blocks=blocks[AZ_COUNT : 2 * AZ_COUNT],
            nat_gateways=nat_gateways,
        )

        region = aws.get_region_output(opts=pulumi.InvokeOutputOptions(parent=self))
        aws.ec2.VpcEndpoint(
            f"{name}-s3",
            vpc_id=vpc.id,
            service_name=pulumi.Output.concat("com.amazonaws.", region.region, ".s3"),
            vpc_endpoint_type="Gateway",
            route_table_ids=[routes.id for routes in private_routes],
            opts=child,
        )
        if config.interface_endpoints:
            self._interface_endpoints(name, vpc=vpc, subnets=private, region=region.region)

        self.vpc_id = vpc.id
        self.vpc_cidr = vpc.cidr_block
        self.nat_public_ips = [nat.public_ip for nat in nat_gateways]
        self.public_subnet_ids = [subnet.id for subnet in public]
        self.private_subnet_ids = [subnet.id for subnet in private]

    def _public_subnets(
        self,
        name: str,
        *,
        vpc: aws.ec2.Vpc,
        zones: pulumi.Output[list[str]],
        blocks: list[str],
        single_nat: bool,
    ) -> tuple[list[aws.ec2.Subnet], list[aws.ec2.NatGateway], list[pulumi.Resource]]:
        """One public subnet per zone, routed to the internet gateway, with the NAT gateway(s).

        Also returns the gateway and the public routes: what an internet-facing load balancer
        in these subnets needs before it is created.
        """
        child = pulumi.ResourceOptions(parent=self)
        gateway = aws.ec2.InternetGateway(f"{name}-igw", vpc_id=vpc.id, opts=child)
        routes = aws.ec2.RouteTable(
            f"{name}-public",
            vpc_id=vpc.id,
            routes=[aws.ec2.RouteTableRouteArgs(cidr_block="0.0.0.0/0", gateway_id=gateway.id)],
            opts=child,
        )
        subnets, nat_gateways = [], []
        internet_access: list[pulumi.Resource] = [gateway, routes]
        for index, block in enumerate(blocks):
            subnet = aws.ec2.Subnet(
                f"{name}-public-{index}",
                vpc_id=vpc.id,
                cidr_block=block,
                availability_zone=zones[index],
                map_public_ip_on_launch=False,
                opts=child,
            )
            internet_access.append(
                aws.ec2.RouteTableAssociation(
                    f"{name}-public-{index}", subnet_id=subnet.id, route_table_id=routes.id, opts=child
                )
            )
            subnets.append(subnet)
            if index == 0 or not single_nat:
                address = aws.ec2.Eip(f"{name}-nat-{index}", domain="vpc", opts=child)
                nat_gateways.append(
                    aws.ec2.NatGateway(
                        f"{name}-nat-{index}",
                        subnet_id=subnet.id,
                        allocation_id=address.id,
                        opts=pulumi.ResourceOptions(parent=self, depends_on=[gateway]),
                    )
                )
        return subnets, nat_gateways, internet_access

    def _private_subnets(
        self,
        name: str,
        *,
        vpc: aws.ec2.Vpc,
        zones: pulumi.Output[list[str]],
        blocks: list[str],
        nat_gateways: list[aws.ec2.NatGateway],
    ) -> tuple[list[aws.ec2.Subnet], list[aws.ec2.RouteTable]]:
        """One private subnet per zone, its egress through that zone's NAT (or the single one)."""
        child = pulumi.ResourceOptions(parent=self)
        subnets, route_tables = [], []
        for index, block in enumerate(blocks):
            subnet = aws.ec2.Subnet(
                f"{name}-private-{index}",
                vpc_id=vpc.id,
                cidr_block=block,
                availability_zone=zones[index],
                opts=child,
            )
            nat = nat_gateways[min(index, len(nat_gateways) - 1)]
            routes = aws.ec2.RouteTable(
                f"{name}-private-{index}",
                vpc_id=vpc.id,
                routes=[aws.ec2.RouteTableRouteArgs(cidr_block="0.0.0.0/0", nat_gateway_id=nat.id)],
                opts=child,
            )
            aws.ec2.RouteTableAssociation(
                f"{name}-private-{index}", subnet_id=subnet.id, route_table_id=routes.id, opts=child
            )
            subnets.append(subnet)
            route_tables.append(routes)
        return subnets, route_tables

    def _interface_endpoints(
        self,
        name: str,
        *,
        vpc: aws.ec2.Vpc,
        subnets: list[aws.ec2.Subnet],
        region: pulumi.Output[str],
    ) -> None:
        child = pulumi.ResourceOptions(parent=self)
        endpoint_group = aws.ec2.SecurityGroup(
            f"{name}-endpoints",
            vpc_id=vpc.id,
            description="HTTPS from inside the VPC to AWS interface endpoints",
            ingress=[
                aws.ec2.SecurityGroupIngressArgs(
                    protocol="tcp", from_port=443, to_port=443, cidr_blocks=[vpc.cidr_block]
                )
            ],
            opts=child,
        )
        for service in INTERFACE_ENDPOINT_SERVICES:
            aws.ec2.VpcEndpoint(
                f"{name}-{service.replace('.', '-')}",
                vpc_id=vpc.id,
                service_name=pulumi.Output.concat("com.amazonaws.", region, ".", service),
                vpc_endpoint_type="Interface",
                private_dns_enabled=True,
                subnet_ids=[subnet.id for subnet in subnets],
                security_group_ids=[endpoint_group.id],
                opts=child,
            )
