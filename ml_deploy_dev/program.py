"""Run the real Pulumi program under Pulumi's in-process mocks and record what it registers.

Used by the infra tests (through `tests/infra/program.py`) and by the local delivery, which reads
the pipeline the program defines from it.

The mocks answer the provider calls the program makes (caller identity, region, zones, IAM
policy documents rendered to real JSON) and record every resource with its inputs, so tests
can ask for "all buckets" or "every policy document" and assert on the lot.
"""

from __future__ import annotations

import asyncio
import json
import logging
import runpy
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pulumi
import yaml
from pulumi.runtime import settings
from pulumi.runtime.mocks import MockMonitor
from pulumi.runtime.stack import run_pulumi_func
from pulumi.runtime.sync_await import _sync_await

ROOT = Path(__file__).resolve().parents[1]
MAIN = ROOT / "infra" / "__main__.py"
ACCOUNT = "123456789012"
REGION = "eu-west-1"


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


@dataclass
class Program:
    """What one run of the program registered and exported."""

    resources: list[Resource]
    outputs: dict[str, Any]
    warnings: list[str] = field(default_factory=list)

    def of_type(self, type_token: str) -> list[Resource]:
        return [r for r in self.resources if r.type == type_token]

    def one(self, type_token: str, name: str | None = None) -> Resource:
        found = [r for r in self.of_type(type_token) if name is None or r.name == name]
        assert len(found) == 1, f"expected one {type_token} {name or ''}, found {[r.name for r in found]}"
        return found[0]

    def named(self, name: str) -> Resource:
        found = [r for r in self.resources if r.name == name]
        assert len(found) == 1, f"expected one resource named {name}, found {len(found)}"
        return found[0]

    def urn_of(self, resource: Resource) -> str:
        """The URN suffix that names `resource` (type and name), as dependencies carry it."""
        return f"{resource.type}::{resource.name}"

    def depends_explicitly_on(self, dependent: Resource, dependency: Resource) -> bool:
        """`dependency` is in `dependent`'s `depends_on` (directly, not through an input)."""
        suffix = self.urn_of(dependency)
        return any(urn.endswith(suffix) for urn in dependent.depends_on)

    def by_id(self, resource_id: str) -> Resource:
        found = [r for r in self.resources if r.id == resource_id or r.state.get("arn") == resource_id]
        assert found, f"no resource has id or ARN {resource_id}"
        return found[0]

    def policy_documents(self) -> Iterator[tuple[Resource, str, dict[str, Any]]]:
        """Every IAM/resource policy the program registers: (resource, input name, parsed JSON)."""
        for resource in self.resources:
            for key in ("policy", "assumeRolePolicy", "accessPolicy"):
                value = resource.inputs.get(key)
                if isinstance(value, str) and value.strip().startswith("{") and '"Statement"' in value:
                    yield resource, key, json.loads(value)


def _arn(service: str, resource: str, *, region: str = REGION) -> str:
    return f"arn:aws:{service}:{region}:{ACCOUNT}:{resource}"


class RecordingMocks(pulumi.runtime.Mocks):
    """Answers like AWS would, closely enough for the program's outputs to flow between components."""

    def __init__(self) -> None:
        self.resources: list[Resource] = []
        # (type, name) -> ignoreChanges and explicit dependencies of the registration in flight;
        # see RecordingMonitor.
        self.ignore_changes: dict[tuple[str, str], list[str]] = {}
        self.depends_on: dict[tuple[str, str], list[str]] = {}

    def new_resource(self, args: pulumi.runtime.MockResourceArgs) -> tuple[str, dict[str, Any]]:
        resource_id = f"{args.name}-id"
        state = dict(args.inputs)
        state.update(_computed_state(args.typ, args.name, args.inputs))
        state.setdefault("arn", _arn(args.typ.split(":")[1].split("/")[0], f"{args.name}"))
        # A provider reference is "<provider urn>::<provider id>"; keep the provider's name.
        provider = args.provider.split("::")[3] if args.provider else None
        ignored = self.ignore_changes.pop((args.typ, args.name), [])
        depends_on = self.depends_on.pop((args.typ, args.name), [])
        self.resources.append(
            Resource(
                args.typ, args.name, dict(args.inputs), state, resource_id, provider, ignored, depends_on
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
        if token == "aws:iam/getPolicyDocument:getPolicyDocument":
            return {"json": json.dumps(render_policy_document(args.args)), "id": "policy"}
        raise AssertionError(f"the program calls {token}, which the test mocks do not answer")


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
}


class RecordingMonitor(MockMonitor):
    """The mock monitor, also recording what MockResourceArgs does not carry: ignoreChanges and
    the explicit dependencies.

    The SDK sends `dependencies` as every resource this one waits for: its `depends_on` and the
    sources of its inputs (`propertyDependencies`, per input); the difference is `depends_on`.
    """

    mocks: RecordingMocks

    def RegisterResource(self, request: Any) -> Any:
        key = (request.type, request.name)
        self.mocks.ignore_changes[key] = list(request.ignoreChanges)
        through_inputs = {urn for deps in request.propertyDependencies.values() for urn in deps.urns}
        self.mocks.depends_on[key] = [urn for urn in request.dependencies if urn not in through_inputs]
        return super().RegisterResource(request)  # type: ignore[no-untyped-call]


def _bucket(name: str, inputs: dict[str, Any]) -> dict[str, Any]:
    bucket = f"{name}-0a1b2c3"
    return {"bucket": bucket, "arn": f"arn:aws:s3:::{bucket}", "id": bucket}


def _repository(name: str, inputs: dict[str, Any]) -> dict[str, Any]:
    return {
        "name": name,
        "repositoryUrl": f"{ACCOUNT}.dkr.ecr.{REGION}.amazonaws.com/{name}",
        "arn": _arn("ecr", f"repository/{name}"),
    }


def _load_balancer(name: str, inputs: dict[str, Any]) -> dict[str, Any]:
    return {
        "dnsName": f"{name}-1234567890.{REGION}.elb.amazonaws.com",
        "arnSuffix": f"app/{name}/50dc6c495c0c9188",
        "arn": _arn("elasticloadbalancing", f"loadbalancer/app/{name}/50dc6c495c0c9188"),
    }


def _target_group(name: str, inputs: dict[str, Any]) -> dict[str, Any]:
    return {
        "arnSuffix": f"targetgroup/{name}/73e2d6bc24d8a067",
        "arn": _arn("elasticloadbalancing", f"targetgroup/{name}/73e2d6bc24d8a067"),
    }


def _job_definition(name: str, inputs: dict[str, Any]) -> dict[str, Any]:
    prefix = _arn("batch", f"job-definition/{name}")
    return {"name": name, "arn": f"{prefix}:1", "arnPrefix": prefix, "revision": 1}


_COMPUTED: dict[str, Callable[[str, dict[str, Any]], dict[str, Any]]] = {
    "aws:s3/bucket:Bucket": _bucket,
    "aws:ecr/repository:Repository": _repository,
    "aws:kms/key:Key": lambda name, _: {"keyId": f"{name}-key-id", "arn": _arn("kms", f"key/{name}-key-id")},
    "aws:sns/topic:Topic": lambda name, _: {"name": name, "arn": _arn("sns", name)},
    "aws:iam/role:Role": lambda name, _: {"name": name, "arn": f"arn:aws:iam::{ACCOUNT}:role/{name}"},
    "aws:ec2/vpc:Vpc": lambda _, inputs: {"cidrBlock": inputs.get("cidrBlock", "10.0.0.0/16")},
    "aws:lb/loadBalancer:LoadBalancer": _load_balancer,
    "aws:lb/targetGroup:TargetGroup": _target_group,
    "aws:batch/jobDefinition:JobDefinition": _job_definition,
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


def dev_stack_config() -> dict[str, Any]:
    """The `config:` block of Pulumi.dev.yaml, as `pulumi up -s dev` would pass it."""
    with (ROOT / "Pulumi.dev.yaml").open() as handle:
        return dict(yaml.safe_load(handle)["config"])


class _Capture(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(record.getMessage())


def run_program(
    config: dict[str, Any] | None = None,
    *,
    overrides: dict[str, Any] | None = None,
    remove: tuple[str, ...] = (),
    stack: str = "dev",
) -> Program:
    """Run infra/__main__.py with the dev stack config (or `config`), changed by overrides."""
    return run_under_mocks(
        lambda: runpy.run_path(str(MAIN), run_name="__main__"),
        config=config,
        overrides=overrides,
        remove=remove,
        stack=stack,
    )


def run_under_mocks(
    build: Callable[[], object],
    *,
    config: dict[str, Any] | None = None,
    overrides: dict[str, Any] | None = None,
    remove: tuple[str, ...] = (),
    stack: str = "dev",
) -> Program:
    """Run `build` (the whole program, or a few components) under the mocks and record it."""
    values = dict(dev_stack_config() if config is None else config)
    for key in remove:
        values.pop(key, None)
    values.update(overrides or {})
    pulumi.runtime.set_all_config(
        {key: value if isinstance(value, str) else json.dumps(value) for key, value in values.items()}
    )
    mocks = RecordingMocks()
    capture = _Capture()
    logger = logging.getLogger(f"pulumi-mocks-{id(capture)}")
    logger.addHandler(capture)
    logger.propagate = False
    # Pulumi's runtime uses the thread's current event loop; tests of async code (the service)
    # may have closed or unset it, so each run gets its own.
    asyncio.set_event_loop(asyncio.new_event_loop())
    settings.set_root_resource(None)  # type: ignore[arg-type]
    pulumi.runtime.set_mocks(
        mocks,
        project="ml-deploy",
        stack=stack,
        preview=False,
        logger=logger,
        monitor=RecordingMonitor(mocks),
    )

    def program() -> None:
        build()

    _sync_await(run_pulumi_func(program))

    root = settings.get_root_resource()
    outputs = {
        name: _sync_await(pulumi.Output.from_input(value).future())
        for name, value in getattr(root, "outputs", {}).items()
    }
    return Program(resources=mocks.resources, outputs=outputs, warnings=capture.messages)
