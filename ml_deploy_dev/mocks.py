"""The mocks the program runs against: answers to its provider calls, and a record of each resource.

They answer the calls the program makes (caller identity, region, zones, IAM policy documents
rendered to real JSON) with deterministic names and ARNs, and record every registration with its
inputs, provider, `ignore_changes` and explicit `depends_on`. Physical names are given as
pulumi-aws gives them (`ml_deploy_dev.autonaming`), so a name AWS would refuse is seen here.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar

import pulumi
from pulumi.runtime.mocks import MockMonitor

from ml_deploy_dev.autonaming import generated_name, physical_name

ACCOUNT = "123456789012"
REGION = "eu-west-1"
# The Route 53 zone of every Application Load Balancer of the region: the alias target's zone id
# ("Elastic Load Balancing endpoints and quotas", https://docs.aws.amazon.com/general/latest/gr/elb.html).
ALB_HOSTED_ZONE_ID = "Z32O12XQLNTSW2"
# The account's Route 53 hosted zones: id -> (name, private). Another id is not found, as in Route 53.
HOSTED_ZONES: dict[str, tuple[str, bool]] = {
    "Z0EXAMPLEPUBLIC1": ("example.com", False),
    "Z0EXAMPLEPRIVATE": ("example.com", True),
    "Z0OTHERPUBLIC001": ("example.org", False),
}
# The registry after the pipeline's first Build: each repository holds the image it pushed
# (`<commit12>-<model version>`), under the names the program gives its repositories.
FIRST_BUILD_IMAGES: dict[str, list[str]] = {
    generated_name(repository): ["1a2b3c4d5e6f-20261101T000000Z-0a1b2c3d"]
    for repository in ("images-service", "images-jobs")
}


@dataclass
class Resource:
    type: str
    name: str
    inputs: dict[str, Any]
    state: dict[str, Any]
    id: str
    provider: str | None = None
    # Input names the engine is told to ignore (`ignore_changes`, as the engine receives them).
    ignore_changes: list[str] = field(default_factory=list)
    # URNs of the explicit `depends_on` (what the engine is told beyond the inputs' own sources).
    depends_on: list[str] = field(default_factory=list)
    # Input name -> URNs of the resources its value came from (the SDK's `propertyDependencies`).
    input_sources: dict[str, list[str]] = field(default_factory=dict)
    # The input pulumi-aws filled with a generated name (absent from the program's inputs), if any.
    autonamed: str | None = None


def _arn(service: str, resource: str, *, region: str = REGION) -> str:
    return f"arn:aws:{service}:{region}:{ACCOUNT}:{resource}"


class RecordingMocks(pulumi.runtime.Mocks):
    """Answers like AWS would, closely enough for the program's outputs to flow between components."""

    def __init__(
        self,
        *,
        images: Mapping[str, Sequence[str]] | None = None,
        parameters: Mapping[str, str] | None = None,
    ) -> None:
        self.resources: list[Resource] = []
        # Repository name -> the tags pushed there (ListImages); a repository not named is empty,
        # as a new one is.
        self.images = dict(images or {})
        # SSM parameter name -> the value written outside the program (PutParameter by the
        # pipeline); a parameter not named holds what the program created it with.
        self.parameters = dict(parameters or {})
        # (type, name) -> ignoreChanges and explicit dependencies of the registration in flight;
        # see RecordingMonitor.
        self.ignore_changes: dict[tuple[str, str], list[str]] = {}
        self.depends_on: dict[tuple[str, str], list[str]] = {}
        self.input_sources: dict[tuple[str, str], dict[str, list[str]]] = {}

    def new_resource(self, args: pulumi.runtime.MockResourceArgs) -> tuple[str, dict[str, Any]]:
        resource_id = f"{args.name}-id"
        generated = physical_name(args.typ, args.name, args.inputs)
        inputs = {**args.inputs, **generated}
        state = dict(inputs)
        state.update(_computed_state(args.typ, args.name, inputs))
        state.setdefault("arn", _arn(args.typ.split(":")[1].split("/")[0], f"{args.name}"))
        # A provider reference is "<provider urn>::<provider id>"; keep the provider's name.
        provider = args.provider.split("::")[3] if args.provider else None
        ignored = self.ignore_changes.pop((args.typ, args.name), [])
        depends_on = self.depends_on.pop((args.typ, args.name), [])
        sources = self.input_sources.pop((args.typ, args.name), {})
        self.resources.append(
            Resource(
                args.typ,
                args.name,
                inputs,
                state,
                resource_id,
                provider,
                ignored,
                depends_on,
                sources,
                autonamed=next(iter(generated), None),
            )
        )
        return state.get("id", resource_id), state

    # Pulumi accepts a plain dict here (the outputs) as well as the typed (outputs, failures) tuple.
    def call(self, args: pulumi.runtime.MockCallArgs) -> dict[str, Any]:  # type: ignore[override]
        token = args.token
        if token == "aws:index/getCallerIdentity:getCallerIdentity":
            return {
                "accountId": ACCOUNT,
                "arn": f"arn:aws:iam::{ACCOUNT}:user/ci",
                "userId": "AIDA",
                "id": ACCOUNT,
            }
        if token == "aws:index/getRegion:getRegion":
            return {
                "region": REGION,
                "name": REGION,
                "id": REGION,
                "endpoint": f"ec2.{REGION}.amazonaws.com",
            }
        if token == "aws:index/getPartition:getPartition":
            return {"partition": "aws", "dnsSuffix": "amazonaws.com", "id": "aws"}
        if token == "aws:index/getAvailabilityZones:getAvailabilityZones":
            names = [f"{REGION}a", f"{REGION}b", f"{REGION}c"]
            return {"names": names, "zoneIds": ["euw1-az1", "euw1-az2", "euw1-az3"], "id": REGION}
        if token == "aws:elb/getServiceAccount:getServiceAccount":
            return {"arn": "arn:aws:iam::156460612806:root", "id": "156460612806"}
        if token == "aws:ec2/getVpc:getVpc":
            return {
                "id": args.args.get("id"),
                "cidrBlock": "10.0.0.0/16",
                "arn": _arn("ec2", "vpc/x"),
            }
        if token == "aws:route53/getZone:getZone":
            return _hosted_zone(args.args)
        if token == "aws:iam/getPolicyDocument:getPolicyDocument":
            return {"json": json.dumps(render_policy_document(args.args)), "id": "policy"}
        if token in self._ACCOUNT_READS:
            return self._ACCOUNT_READS[token](self, args.args)
        raise AssertionError(f"the program calls {token}, which the test mocks do not answer")

    def _list_images(self, repository: str) -> dict[str, Any]:
        """ListImages as the aws_ecr_images data source returns it: one id per image, tagged or not."""
        tags = self.images.get(repository, ())
        image_ids = [
            {"imageDigest": f"sha256:{index:064x}", **({"imageTag": tag} if tag else {})}
            for index, tag in enumerate(tags, start=1)
        ]
        return {"id": repository, "repositoryName": repository, "imageIds": image_ids}

    def _images_of(self, args: dict[str, Any]) -> dict[str, Any]:
        return self._list_images(str(args["repositoryName"]))

    def _parameter_of(self, args: dict[str, Any]) -> dict[str, Any]:
        return self._get_parameter(str(args["name"]))

    # What the account holds beyond the program's own resources: pushed images, written parameters.
    _ACCOUNT_READS: ClassVar[dict[str, Callable[[RecordingMocks, dict[str, Any]], dict[str, Any]]]] = {
        "aws:ecr/getImages:getImages": _images_of,
        "aws:ssm/getParameter:getParameter": _parameter_of,
    }

    def _get_parameter(self, name: str) -> dict[str, Any]:
        """GetParameter as the aws_ssm_parameter data source returns it: the value last written."""
        created = [
            r
            for r in self.resources
            if r.type == "aws:ssm/parameter:Parameter" and r.state.get("name") == name
        ]
        if name in self.parameters:
            value = self.parameters[name]
        elif created:
            value = str(created[-1].inputs.get("insecureValue", created[-1].inputs.get("value")))
        else:
            raise AssertionError(
                f"ParameterNotFound: the program reads SSM parameter {name}, which is not there"
            )
        return {
            "id": name,
            "name": name,
            "type": "String",
            "value": value,
            "insecureValue": value,
            "arn": _arn("ssm", f"parameter/{name.lstrip('/')}"),
            "version": 2 if name in self.parameters else 1,
            "withDecryption": True,
        }


# Resources whose ARN embeds their physical name, shaped as AWS shapes it.
_NAMED_ARNS = {
    "aws:codepipeline/pipeline:Pipeline": ("codepipeline", "{}"),
    "aws:codebuild/project:Project": ("codebuild", "project/{}"),
    "aws:codebuild/reportGroup:ReportGroup": ("codebuild", "report-group/{}"),
    "aws:cloudwatch/logGroup:LogGroup": ("logs", "log-group:{}"),
    "aws:codeconnections/connection:Connection": ("codeconnections", "connection/{}-uuid"),
    "aws:batch/jobQueue:JobQueue": ("batch", "job-queue/{}"),
    "aws:batch/computeEnvironment:ComputeEnvironment": ("batch", "compute-environment/{}"),
    "aws:sqs/queue:Queue": ("sqs", "{}"),
    "aws:lambda/function:Function": ("lambda", "function:{}"),
    "aws:ssm/parameter:Parameter": ("ssm", "parameter/{}"),
    "aws:athena/workgroup:Workgroup": ("athena", "workgroup/{}"),
    "aws:glue/catalogDatabase:CatalogDatabase": ("glue", "database/{}"),
}


class RecordingMonitor(MockMonitor):
    """The mock monitor, also recording what MockResourceArgs does not carry: ignoreChanges, the
    explicit dependencies and the resources each input came from.

    The SDK sends `dependencies` as every resource this one waits for: its `depends_on` and the
    sources of its inputs (`propertyDependencies`, per input); the difference is `depends_on`.
    """

    mocks: RecordingMocks

    def RegisterResource(self, request: Any) -> Any:
        key = (request.type, request.name)
        self.mocks.ignore_changes[key] = list(request.ignoreChanges)
        through_inputs = {urn for deps in request.propertyDependencies.values() for urn in deps.urns}
        self.mocks.depends_on[key] = [urn for urn in request.dependencies if urn not in through_inputs]
        self.mocks.input_sources[key] = {
            name: list(deps.urns) for name, deps in request.propertyDependencies.items()
        }
        return super().RegisterResource(request)  # type: ignore[no-untyped-call]


def _hosted_zone(args: dict[str, Any]) -> dict[str, Any]:
    """aws.route53.getZone by id, as the provider answers it (the name without its final dot)."""
    zone_id = args.get("zoneId")
    if zone_id not in HOSTED_ZONES:
        raise AssertionError(f"NoSuchHostedZone: No hosted zone found with ID: {zone_id}")
    name, private = HOSTED_ZONES[zone_id]
    return {
        "id": zone_id,
        "zoneId": zone_id,
        "name": name,
        "privateZone": private,
        "arn": f"arn:aws:route53:::hostedzone/{zone_id}",
        "nameServers": ["ns-1.awsdns-01.org"],
        "primaryNameServer": "ns-1.awsdns-01.org",
    }


def _certificate(name: str, inputs: dict[str, Any]) -> dict[str, Any]:
    """ACM's DNS validation: one CNAME per name on the certificate, under ``_<token>.<name>.``."""
    names = [inputs["domainName"], *inputs.get("subjectAlternativeNames", [])]
    options = []
    for domain in names:
        token = hashlib.sha256(domain.encode()).hexdigest()[:32]
        options.append(
            {
                "domainName": domain,
                "resourceRecordName": f"_{token}.{domain}.",
                "resourceRecordType": "CNAME",
                "resourceRecordValue": f"_{token[::-1]}.xlfgrmvvlj.acm-validations.aws.",
            }
        )
    return {"domainValidationOptions": options, "arn": _arn("acm", f"certificate/{name}-0a1b2c3d")}


def _bucket(name: str, inputs: dict[str, Any]) -> dict[str, Any]:
    bucket = inputs.get("bucket", name)
    return {"bucket": bucket, "arn": f"arn:aws:s3:::{bucket}", "id": bucket}


def _repository(name: str, inputs: dict[str, Any]) -> dict[str, Any]:
    name = inputs.get("name", name)
    return {
        "name": name,
        "repositoryUrl": f"{ACCOUNT}.dkr.ecr.{REGION}.amazonaws.com/{name}",
        "arn": _arn("ecr", f"repository/{name}"),
    }


def _load_balancer(name: str, inputs: dict[str, Any]) -> dict[str, Any]:
    name = inputs.get("name", name)
    return {
        "dnsName": f"{name}-1234567890.{REGION}.elb.amazonaws.com",
        "zoneId": ALB_HOSTED_ZONE_ID,
        "arnSuffix": f"app/{name}/50dc6c495c0c9188",
        "arn": _arn("elasticloadbalancing", f"loadbalancer/app/{name}/50dc6c495c0c9188"),
    }


def _target_group(name: str, inputs: dict[str, Any]) -> dict[str, Any]:
    name = inputs.get("name", name)
    return {
        "arnSuffix": f"targetgroup/{name}/73e2d6bc24d8a067",
        "arn": _arn("elasticloadbalancing", f"targetgroup/{name}/73e2d6bc24d8a067"),
    }


def _listener(name: str, inputs: dict[str, Any]) -> dict[str, Any]:
    return {"arn": _arn("elasticloadbalancing", f"listener/app/{name}/50dc6c495c0c9188/f2f7dc8efc522ab2")}


def _listener_rule(name: str, inputs: dict[str, Any]) -> dict[str, Any]:
    rule = f"listener-rule/app/{name}/50dc6c495c0c9188/f2f7dc8efc522ab2/9683b2d02a6cabee"
    return {"arn": _arn("elasticloadbalancing", rule)}


def _job_definition(name: str, inputs: dict[str, Any]) -> dict[str, Any]:
    name = inputs.get("name", name)
    prefix = _arn("batch", f"job-definition/{name}")
    return {"name": name, "arn": f"{prefix}:1", "arnPrefix": prefix, "revision": 1}


_COMPUTED: dict[str, Callable[[str, dict[str, Any]], dict[str, Any]]] = {
    "aws:s3/bucket:Bucket": _bucket,
    "aws:ecr/repository:Repository": _repository,
    "aws:kms/key:Key": lambda name, _: {"keyId": f"{name}-key-id", "arn": _arn("kms", f"key/{name}-key-id")},
    "aws:sns/topic:Topic": lambda name, inputs: {"arn": _arn("sns", inputs.get("name", name))},
    "aws:iam/role:Role": lambda name, inputs: {
        "arn": f"arn:aws:iam::{ACCOUNT}:role/{inputs.get('name', name)}"
    },
    "aws:iam/policy:Policy": lambda name, inputs: {
        "arn": f"arn:aws:iam::{ACCOUNT}:policy/{inputs.get('name', name)}"
    },
    # A table's ARN names its database ("Specifying AWS Glue resource ARNs").
    "aws:glue/catalogTable:CatalogTable": lambda name, inputs: {
        "arn": _arn("glue", f"table/{inputs['databaseName']}/{inputs['name']}")
    },
    "aws:ec2/vpc:Vpc": lambda _, inputs: {"cidrBlock": inputs.get("cidrBlock", "10.0.0.0/16")},
    "aws:lb/loadBalancer:LoadBalancer": _load_balancer,
    "aws:lb/targetGroup:TargetGroup": _target_group,
    "aws:lb/listener:Listener": _listener,
    "aws:lb/listenerRule:ListenerRule": _listener_rule,
    "aws:batch/jobDefinition:JobDefinition": _job_definition,
    "aws:acm/certificate:Certificate": _certificate,
    # Route 53 answers a record's name fully qualified, without the final dot.
    "aws:route53/record:Record": lambda _, inputs: {"fqdn": str(inputs["name"]).rstrip(".")},
    # S3 gives each object written to a versioned bucket a version id.
    "aws:s3/bucketObjectv2:BucketObjectv2": lambda name, _: {
        "versionId": f"3HL4kqtJlcpXroDTDmJ+rmSpXd3dIbrH.{name}"
    },
    "aws:ec2/vpcEndpointService:VpcEndpointService": lambda name, _: {
        "serviceName": f"com.amazonaws.vpce.{REGION}.vpce-svc-0a1b2c3d4e5f6a7b8"
    },
    # Documentation addresses (RFC 5737), one per gateway.
    "aws:ec2/natGateway:NatGateway": lambda name, _: {"publicIp": f"203.0.113.{10 + int(name[-1])}"},
}


def _computed_state(type_token: str, name: str, inputs: dict[str, Any]) -> dict[str, Any]:
    """The few attributes AWS computes that the program passes on to other resources."""
    if type_token in _COMPUTED:
        return _COMPUTED[type_token](name, inputs)
    if type_token in _NAMED_ARNS:
        service, resource = _NAMED_ARNS[type_token]
        physical = inputs.get("name", name)
        return {"name": physical, "arn": _arn(service, resource.format(physical))}
    return {"name": inputs.get("name", name)}


def render_policy_document(args: dict[str, Any]) -> dict[str, Any]:
    """What aws.iam.getPolicyDocument returns, built from the statements the program passed."""
    statements = []
    for given in args.get("statements", []):
        statement: dict[str, Any] = {}
        if given.get("sid"):
            statement["Sid"] = given["sid"]
        statement["Effect"] = given.get("effect", "Allow")
        for key, name in (
            ("actions", "Action"),
            ("notActions", "NotAction"),
            ("resources", "Resource"),
            ("notResources", "NotResource"),
        ):
            if given.get(key):
                statement[name] = given[key]
        if given.get("principals"):
            statement["Principal"] = {p["type"]: p["identifiers"] for p in given["principals"]}
        if given.get("conditions"):
            condition: dict[str, dict[str, Any]] = {}
            for c in given["conditions"]:
                condition.setdefault(c["test"], {})[c["variable"]] = c["values"]
            statement["Condition"] = condition
        statements.append(statement)
    return {"Version": args.get("version", "2012-10-17"), "Statement": statements}
