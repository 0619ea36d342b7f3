"""What AWS accepts for each name, name prefix and description the program registers.

Each (pulumi type, input) maps to the API member that receives it. Where botocore's service model
constrains that member (min, max, pattern), the model is the source; where it is silent, the row
holds the limits the AWS documentation states, with the page. The autoname maxima Pulumi itself
enforces are in `ml_deploy_dev.autonaming`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache

import botocore.loaders
import botocore.model


@dataclass(frozen=True)
class Limit:
    """Length bounds and a full-match pattern; `source` says where they come from."""

    min_length: int
    max_length: int | None
    pattern: str | None
    source: str

    def problems(self, value: str) -> list[str]:
        found = []
        if len(value) < self.min_length or (self.max_length is not None and len(value) > self.max_length):
            found.append(f"{len(value)} characters, allowed {self.min_length}..{self.max_length}")
        if self.pattern is not None and re.fullmatch(self.pattern, value) is None:
            found.append(f"does not match {self.pattern}")
        return found


@dataclass(frozen=True)
class Documented:
    """A limit the API model does not carry, as the named AWS page states it."""

    min_length: int
    max_length: int
    pattern: str | None
    url: str


SG_TEXT = r"[a-zA-Z0-9 ._\-:/()#,@\[\]+=&;{}!$*]*"
SG_PAGE = "https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_CreateSecurityGroup.html"
RULE_PAGE = "https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_IpRange.html"
TARGET_GROUP_NAME = r"(?!internal-)[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?"
BATCH_NAME = r"[A-Za-z0-9][A-Za-z0-9_-]*"
ECS_NAME = r"[a-zA-Z0-9_-]+"

# (pulumi type token, input) -> (botocore service, operation, member) whose shape constrains it.
MODELLED: dict[tuple[str, str], tuple[str, str, str]] = {
    ("aws:iam/role:Role", "name"): ("iam", "CreateRole", "RoleName"),
    ("aws:iam/role:Role", "description"): ("iam", "CreateRole", "Description"),
    ("aws:iam/rolePolicy:RolePolicy", "name"): ("iam", "PutRolePolicy", "PolicyName"),
    ("aws:cloudwatch/eventRule:EventRule", "name"): ("events", "PutRule", "Name"),
    ("aws:cloudwatch/eventRule:EventRule", "description"): ("events", "PutRule", "Description"),
    ("aws:cloudwatch/logGroup:LogGroup", "name"): ("logs", "CreateLogGroup", "logGroupName"),
    ("aws:cloudwatch/metricAlarm:MetricAlarm", "name"): ("cloudwatch", "PutMetricAlarm", "AlarmName"),
    ("aws:codebuild/project:Project", "name"): ("codebuild", "CreateProject", "name"),
    ("aws:codebuild/project:Project", "description"): ("codebuild", "CreateProject", "description"),
    ("aws:codebuild/reportGroup:ReportGroup", "name"): ("codebuild", "CreateReportGroup", "name"),
    ("aws:codeconnections/connection:Connection", "name"): (
        "codeconnections",
        "CreateConnection",
        "ConnectionName",
    ),
    ("aws:ecr/repository:Repository", "name"): ("ecr", "CreateRepository", "repositoryName"),
    ("aws:kms/alias:Alias", "name"): ("kms", "CreateAlias", "AliasName"),
    ("aws:kms/key:Key", "description"): ("kms", "CreateKey", "Description"),
    ("aws:lambda/function:Function", "description"): ("lambda", "CreateFunction", "Description"),
    ("aws:ssm/parameter:Parameter", "name"): ("ssm", "PutParameter", "Name"),
    ("aws:ssm/parameter:Parameter", "description"): ("ssm", "PutParameter", "Description"),
    ("aws:scheduler/schedule:Schedule", "name"): ("scheduler", "CreateSchedule", "Name"),
    ("aws:scheduler/schedule:Schedule", "description"): ("scheduler", "CreateSchedule", "Description"),
    ("aws:iam/policy:Policy", "name"): ("iam", "CreatePolicy", "PolicyName"),
    ("aws:iam/policy:Policy", "description"): ("iam", "CreatePolicy", "Description"),
    ("aws:athena/workgroup:Workgroup", "name"): ("athena", "CreateWorkGroup", "Name"),
    ("aws:athena/workgroup:Workgroup", "description"): ("athena", "CreateWorkGroup", "Description"),
    ("aws:appautoscaling/policy:Policy", "name"): (
        "application-autoscaling",
        "PutScalingPolicy",
        "PolicyName",
    ),
}
# Members nested in a structure: (pulumi type, input) -> (service, shape name).
MODELLED_SHAPES: dict[tuple[str, str], tuple[str, str]] = {
    ("aws:codepipeline/pipeline:Pipeline", "name"): ("codepipeline", "PipelineName"),
    ("aws:cloudwatch/eventTarget:EventTarget", "targetId"): ("events", "TargetId"),
}

DOCUMENTED: dict[tuple[str, str], Documented] = {
    ("aws:lb/targetGroup:TargetGroup", "name"): Documented(
        1,
        32,
        TARGET_GROUP_NAME,
        "https://docs.aws.amazon.com/elasticloadbalancing/latest/APIReference/API_CreateTargetGroup.html",
    ),
    ("aws:lb/loadBalancer:LoadBalancer", "name"): Documented(
        1,
        32,
        TARGET_GROUP_NAME,
        "https://docs.aws.amazon.com/elasticloadbalancing/latest/APIReference/API_CreateLoadBalancer.html",
    ),
    ("aws:ec2/securityGroup:SecurityGroup", "name"): Documented(1, 255, r"(?!sg-)" + SG_TEXT, SG_PAGE),
    ("aws:ec2/securityGroup:SecurityGroup", "description"): Documented(0, 255, SG_TEXT, SG_PAGE),
    ("aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule", "description"): Documented(
        0, 255, SG_TEXT, RULE_PAGE
    ),
    ("aws:vpc/securityGroupEgressRule:SecurityGroupEgressRule", "description"): Documented(
        0, 255, SG_TEXT, RULE_PAGE
    ),
    ("aws:lambda/function:Function", "name"): Documented(
        1, 64, r"[a-zA-Z0-9_-]+", "https://docs.aws.amazon.com/lambda/latest/api/API_CreateFunction.html"
    ),
    ("aws:batch/computeEnvironment:ComputeEnvironment", "name"): Documented(
        1,
        128,
        BATCH_NAME,
        "https://docs.aws.amazon.com/batch/latest/APIReference/API_CreateComputeEnvironment.html",
    ),
    ("aws:batch/jobQueue:JobQueue", "name"): Documented(
        1, 128, BATCH_NAME, "https://docs.aws.amazon.com/batch/latest/APIReference/API_CreateJobQueue.html"
    ),
    ("aws:batch/jobDefinition:JobDefinition", "name"): Documented(
        1,
        128,
        BATCH_NAME,
        "https://docs.aws.amazon.com/batch/latest/APIReference/API_RegisterJobDefinition.html",
    ),
    ("aws:ecs/cluster:Cluster", "name"): Documented(
        1, 255, ECS_NAME, "https://docs.aws.amazon.com/AmazonECS/latest/APIReference/API_CreateCluster.html"
    ),
    ("aws:ecs/service:Service", "name"): Documented(
        1, 255, ECS_NAME, "https://docs.aws.amazon.com/AmazonECS/latest/APIReference/API_CreateService.html"
    ),
    ("aws:ecs/taskDefinition:TaskDefinition", "family"): Documented(
        1,
        255,
        ECS_NAME,
        "https://docs.aws.amazon.com/AmazonECS/latest/APIReference/API_RegisterTaskDefinition.html",
    ),
    ("aws:sns/topic:Topic", "name"): Documented(
        1, 256, r"[A-Za-z0-9_-]+", "https://docs.aws.amazon.com/sns/latest/api/API_CreateTopic.html"
    ),
    ("aws:sqs/queue:Queue", "name"): Documented(
        1,
        80,
        r"[A-Za-z0-9_-]+",
        "https://docs.aws.amazon.com/AWSSimpleQueueService/latest/APIReference/API_CreateQueue.html",
    ),
    ("aws:s3/bucket:Bucket", "bucket"): Documented(
        3,
        63,
        r"[a-z0-9][a-z0-9.-]*[a-z0-9]",
        "https://docs.aws.amazon.com/AmazonS3/latest/userguide/bucketnamingrules.html",
    ),
    ("aws:cloudwatch/dashboard:Dashboard", "dashboardName"): Documented(
        1,
        255,
        r"[A-Za-z0-9_-]+",
        "https://docs.aws.amazon.com/AmazonCloudWatch/latest/APIReference/API_PutDashboard.html",
    ),
}
# Glue's own NameString pattern (surrogate ranges) does not compile in Python; Athena's rule for the
# databases and tables it queries is stricter anyway: lower-case letters, digits and '_', at most 255.
ATHENA_NAMES = "https://docs.aws.amazon.com/athena/latest/ug/tables-databases-columns-names.html"
GLUE_DESCRIPTION = "https://docs.aws.amazon.com/glue/latest/webapi/API_DatabaseInput.html"
for _glue_type in ("aws:glue/catalogDatabase:CatalogDatabase", "aws:glue/catalogTable:CatalogTable"):
    DOCUMENTED[(_glue_type, "name")] = Documented(1, 255, r"[a-z0-9_]+", ATHENA_NAMES)
    # DescriptionString: up to 2048 characters of the same printable range as names.
    DOCUMENTED[(_glue_type, "description")] = Documented(0, 2048, r"[\x20-\x7e\t]*", GLUE_DESCRIPTION)
# Name prefixes the Terraform provider completes with a 26-character id; AWS checks the whole name.
PREFIX_OF = {"namePrefix": "name", "bucketPrefix": "bucket"}


@cache
def _service(name: str) -> botocore.model.ServiceModel:
    return botocore.model.ServiceModel(botocore.loaders.Loader().load_service_model(name, "service-2"), name)


def _from_shape(service: str, shape: botocore.model.Shape) -> Limit:
    meta = shape.metadata
    pattern = meta.get("pattern")
    # The models write some patterns anchored, and Java's \p{Print} is printable ASCII.
    if pattern is not None:
        pattern = pattern.removeprefix("^").removesuffix("$").replace(r"\p{Print}", r"[\x20-\x7e]")
    return Limit(meta.get("min", 0), meta.get("max"), pattern, f"botocore {service} {shape.name}")


def limit_for(type_token: str, field: str) -> Limit | None:
    """The constraint on `field` of `type_token`, or None if this table does not know it."""
    key = (type_token, field)
    if key in MODELLED:
        service, operation, member = MODELLED[key]
        shape = _service(service).operation_model(operation).input_shape.members[member]
        return _from_shape(service, shape)
    if key in MODELLED_SHAPES:
        service, shape_name = MODELLED_SHAPES[key]
        return _from_shape(service, _service(service).shape_for(shape_name))
    if key in DOCUMENTED:
        d = DOCUMENTED[key]
        return Limit(d.min_length, d.max_length, d.pattern, d.url)
    return None
