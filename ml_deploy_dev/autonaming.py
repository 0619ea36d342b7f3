"""Physical names as pulumi-aws v7 generates them, for the mocks (which otherwise never name anything).

Pulumi's mocks skip the provider, so a resource registered without a name has none there, and a
generated name AWS would refuse goes unseen until `pulumi up`. The rules, from pulumi-aws v7's
provider mapping (github.com/pulumi/pulumi-aws, `provider/`):

- every resource with a `name` input gets `tfbridge.AutoName("name", 255, "-")` (`setAutonaming`,
  which replaces `prov.SetAutonaming(255, "-")`), unless the mapping names the field otherwise;
- the overrides of the types this program registers: `aws_lb_target_group` 32 (legacy aliases),
  `aws_iam_role` 64, `aws_cloudwatch_event_rule` 64, `aws_lambda_function` 64 (`function_name`,
  the SDK's `name`), `aws_sqs_queue` 80, `aws_sns_topic` 80, `aws_s3_bucket` `bucket` 63 lower-cased,
  `aws_kms_alias` 238 then `alias/`, `aws_cloudwatch_event_target` `targetId` 255.

The generated name is `<logical name>-<7 random hex>` (the bridge's `NewUniqueHex`); when the
prefix and the 7 characters exceed the maximum the engine refuses the program at preview ("name
'…' plus 7 random chars is longer than maximum length …"). A `namePrefix` (`bucketPrefix`) is
completed by the Terraform provider with a 26-character unique id (`id.PrefixedUniqueId`).
Here the random part is fixed (`RANDOM_PART`, the suffix the mocks always gave buckets), so runs
are deterministic and a test can spell a physical name: only lengths and characters matter to AWS.
"""

from __future__ import annotations

import importlib
import keyword
from dataclasses import dataclass
from functools import cache
from typing import Any

RANDOM_LENGTH = 7
# Stands in for the engine's 7 random lower-case hex characters.
RANDOM_PART = "0a1b2c3"
SEPARATOR = "-"
# What the Terraform provider appends to a name prefix: a timestamp and a counter.
PREFIXED_UNIQUE_ID_LENGTH = 26
PREFIXED_UNIQUE_ID = "20261207000000000000000001"
DEFAULT_MAX_LENGTH = 255


@dataclass(frozen=True)
class AutoName:
    """One resource type's generated name: which input, its maximum length, and its shape."""

    field: str = "name"
    max_length: int = DEFAULT_MAX_LENGTH
    prefix_field: str | None = "namePrefix"
    lower: bool = False
    # Added after the generated part (KMS aliases must start with "alias/").
    leading: str = ""


# The types whose mapping overrides the default; every other type with a `name` input gets the default.
OVERRIDES: dict[str, AutoName] = {
    "aws:lb/targetGroup:TargetGroup": AutoName(max_length=32),
    "aws:iam/role:Role": AutoName(max_length=64),
    "aws:cloudwatch/eventRule:EventRule": AutoName(max_length=64),
    "aws:lambda/function:Function": AutoName(max_length=64, prefix_field=None),
    "aws:sqs/queue:Queue": AutoName(max_length=80),
    "aws:sns/topic:Topic": AutoName(max_length=80),
    "aws:s3/bucket:Bucket": AutoName(field="bucket", max_length=63, prefix_field="bucketPrefix", lower=True),
    "aws:kms/alias:Alias": AutoName(max_length=238, leading="alias/"),
    "aws:cloudwatch/eventTarget:EventTarget": AutoName(field="targetId", prefix_field=None),
}


def autoname_of(type_token: str) -> AutoName | None:
    """How pulumi-aws names `type_token` when the program does not, or None if it does not."""
    if type_token in OVERRIDES:
        return OVERRIDES[type_token]
    return AutoName() if _has_name_input(type_token) else None


@cache
def _has_name_input(type_token: str) -> bool:
    """Whether the type's SDK args take `name` (the SDK is generated from the same schema)."""
    package, module_and_file, class_name = type_token.split(":")
    if package != "aws":
        return False
    module = module_and_file.split("/")[0]
    module = f"{module}_" if keyword.iskeyword(module) else module
    args = getattr(importlib.import_module(f"pulumi_aws.{module}"), f"{class_name}Args", None)
    return args is not None and isinstance(getattr(args, "name", None), property)


def physical_name(type_token: str, logical_name: str, inputs: dict[str, Any]) -> dict[str, str]:
    """The input pulumi-aws adds to `inputs` ({field: generated name}), or {} when the program named it."""
    rule = autoname_of(type_token)
    if rule is None or inputs.get(rule.field):
        return {}
    prefix = inputs.get(rule.prefix_field) if rule.prefix_field else None
    if prefix:
        return {rule.field: f"{prefix}{PREFIXED_UNIQUE_ID}"}
    base = logical_name.lower() if rule.lower else logical_name
    return {rule.field: f"{rule.leading}{base}{SEPARATOR}{RANDOM_PART}"}


def generated_name(logical_name: str) -> str:
    """The physical name the mocks give a resource the program leaves unnamed (default rule)."""
    return f"{logical_name}{SEPARATOR}{RANDOM_PART}"
