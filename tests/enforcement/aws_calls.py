"""Every boto3 call a runtime makes, and what AWS authorizes for it: the table that grows with the code.

`CallRecorder` hooks botocore's built-in handlers, so every client of every session made while it
records (the jobs' own `boto3.session.Session`, the service's `boto3.client`) reports service,
operation, parameters and the error code of the answer. `REQUIREMENTS` maps each (service,
operation) to the IAM requests AWS evaluates for it (as AWS documents each operation's
permissions; the notes beside the entries say where it is not obvious), and every request it
builds is checked against AWS's service reference. A call missing from the table fails the check.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import boto3
import botocore.handlers
import pytest

from tests.enforcement.policy_eval import Request

# What S3 answers for a missing key when the caller may list the bucket (else AccessDenied).
MISSING_KEY_ERRORS = {"NoSuchKey", "404", "NotFound"}
DENIED_ERRORS = {"AccessDenied", "AccessDeniedException", "403", "AuthorizationError"}
_SHOWN_PARAMS = ("Bucket", "Key", "VersionId", "Prefix", "CopySource", "TopicArn", "Namespace",
                 "jobQueue", "jobDefinition", "IfMatch", "IfNoneMatch", "pipelineName")  # fmt: skip


@dataclass
class Call:
    """One API call as the runtime made it, and how it was answered."""

    service: str  # botocore's service name: "s3", "cloudwatch", "sns", "batch"
    operation: str  # "GetObject"
    params: dict[str, Any]
    error: str | None = None  # the answer's error code; None for success

    def __str__(self) -> str:
        shown = ", ".join(f"{k}={self.params[k]}" for k in _SHOWN_PARAMS if k in self.params)
        answered = f" -> {self.error}" if self.error else ""
        return f"{self.service} {self.operation}({shown}){answered}"


class CallRecorder:
    """Records the calls of every botocore client created after `install`, while `recording`."""

    def __init__(self) -> None:
        self.calls: list[Call] = []
        self._active = False

    def install(self, monkeypatch: pytest.MonkeyPatch) -> None:
        handlers = [("before-parameter-build", self._before), ("after-call", self._after)]
        monkeypatch.setattr(
            botocore.handlers, "BUILTIN_HANDLERS", [*botocore.handlers.BUILTIN_HANDLERS, *handlers]
        )
        monkeypatch.setattr(boto3, "DEFAULT_SESSION", None)  # boto3.client() builds a session that has them

    @contextmanager
    def recording(self) -> Iterator[list[Call]]:
        """Record until the block ends (adding to what earlier blocks recorded)."""
        self._active = True
        try:
            yield self.calls
        finally:
            self._active = False

    def _before(self, params: dict[str, Any], model: Any, context: dict[str, Any], **_: Any) -> None:
        if self._active:
            shown = {
                k: f"<{len(v)} bytes>" if k == "Body" and hasattr(v, "__len__") else v
                for k, v in params.items()
            }
            call = Call(model.service_model.service_name, model.name, shown)
            context["recorded_call"] = call
            self.calls.append(call)

    def _after(self, parsed: Mapping[str, Any], context: dict[str, Any], **_: Any) -> None:
        call = context.get("recorded_call")
        if call is not None and "Error" in parsed:
            call.error = str(parsed["Error"].get("Code"))


@dataclass(frozen=True)
class StackFacts:
    """What the mapping needs to know of the stack besides the call: region, keys, job definitions."""

    region: str
    account: str
    bucket_keys: Mapping[str, str]  # bucket name -> KMS key ARN of its default SSE-KMS encryption
    topic_keys: Mapping[str, str]  # topic ARN -> KMS key ARN of its server-side encryption
    job_definition_revision: Callable[[str], int]  # name -> latest ACTIVE revision
    resource_policies: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)  # ARN -> policy

    def kms_via(self, service: str, key_arn: str | None, *actions: str) -> list[Request]:
        if key_arn is None:
            return []
        context = {
            "kms:ViaService": f"{service}.{self.region}.amazonaws.com",
            "kms:CallerAccount": self.account,
        }
        return [Request(action, key_arn, context) for action in actions]

    def batch_arn(self, kind: str, name_or_arn: str) -> str:
        if name_or_arn.startswith("arn:"):
            return name_or_arn
        if kind == "job-definition" and ":" not in name_or_arn:
            # Submitted by name, the request is authorized on the latest revision's ARN.
            name_or_arn = f"{name_or_arn}:{self.job_definition_revision(name_or_arn)}"
        return f"arn:aws:batch:{self.region}:{self.account}:{kind}/{name_or_arn}"


Mapper = Callable[[Call, StackFacts], list[Request]]


def _object(bucket: str, key: str) -> str:
    return f"arn:aws:s3:::{bucket}/{key}"


def _read_object(bucket: str, key: str, version: str | None) -> Request:
    # GetObject/HeadObject with a VersionId is authorized as s3:GetObjectVersion.
    return Request("s3:GetObjectVersion" if version else "s3:GetObject", _object(bucket, key))


def _list_bucket(bucket: str, prefix: str | None, action: str = "s3:ListBucket") -> Request:
    # A listing without a Prefix parameter has no s3:prefix key in its request context.
    return Request(action, f"arn:aws:s3:::{bucket}", {} if prefix is None else {"s3:prefix": prefix})


def _get_object(call: Call, stack: StackFacts) -> list[Request]:
    p = call.params
    needs = [_read_object(p["Bucket"], p["Key"], p.get("VersionId"))]
    if call.error in MISSING_KEY_ERRORS:
        # S3 answers 404 for a missing key only to a caller allowed s3:ListBucket on the bucket;
        # we model that request with the key as its s3:prefix, as the job roles scope it.
        needs.append(_list_bucket(p["Bucket"], p["Key"]))
    elif call.operation == "GetObject":  # HEAD returns metadata only: no decryption
        needs += stack.kms_via("s3", stack.bucket_keys.get(p["Bucket"]), "kms:Decrypt")
    return needs


def _put_object(call: Call, stack: StackFacts) -> list[Request]:
    p = call.params
    needs = [Request("s3:PutObject", _object(p["Bucket"], p["Key"]))]
    if p.get("Tagging"):
        needs.append(Request("s3:PutObjectTagging", _object(p["Bucket"], p["Key"])))
    if p.get("ACL"):
        needs.append(Request("s3:PutObjectAcl", _object(p["Bucket"], p["Key"])))
    key = p.get("SSEKMSKeyId") or stack.bucket_keys.get(p["Bucket"])
    return needs + stack.kms_via("s3", key, "kms:GenerateDataKey")


def _copy_object(call: Call, stack: StackFacts) -> list[Request]:
    """Read the source (its version, when named), write the target: both sides, both keys."""
    source = call.params["CopySource"]
    if isinstance(source, str):
        path, _, query = source.lstrip("/").partition("?versionId=")
        bucket, _, key = path.partition("/")
        source = {"Bucket": bucket, "Key": key, **({"VersionId": query} if query else {})}
    needs = [_read_object(source["Bucket"], source["Key"], source.get("VersionId"))]
    needs += stack.kms_via("s3", stack.bucket_keys.get(source["Bucket"]), "kms:Decrypt")
    # The target is written like a PutObject (tags only when the copy replaces them).
    replaced_tags = call.params.get("Tagging") if call.params.get("TaggingDirective") == "REPLACE" else None
    target = {**call.params, "Tagging": replaced_tags}
    return needs + _put_object(Call("s3", "PutObject", target), stack)


def _list_objects(call: Call, stack: StackFacts) -> list[Request]:
    return [_list_bucket(call.params["Bucket"], call.params.get("Prefix"))]


def _list_versions(call: Call, stack: StackFacts) -> list[Request]:
    return [_list_bucket(call.params["Bucket"], call.params.get("Prefix"), "s3:ListBucketVersions")]


def _get_bucket_encryption(call: Call, stack: StackFacts) -> list[Request]:
    # API_GetBucketEncryption.html: s3:GetEncryptionConfiguration on the bucket.
    return [Request("s3:GetEncryptionConfiguration", f"arn:aws:s3:::{call.params['Bucket']}")]


def _put_metric_data(call: Call, stack: StackFacts) -> list[Request]:
    # PutMetricData has no resource type; the namespace condition key is what scopes it.
    return [Request("cloudwatch:PutMetricData", "*", {"cloudwatch:namespace": call.params["Namespace"]})]


def _publish(call: Call, stack: StackFacts) -> list[Request]:
    # Publishing to an SSE topic needs kms:GenerateDataKey and kms:Decrypt on its key (SNS SSE docs).
    topic = call.params["TopicArn"]
    encryption = stack.kms_via("sns", stack.topic_keys.get(topic), "kms:GenerateDataKey", "kms:Decrypt")
    return [Request("sns:Publish", topic), *encryption]


def _submit_job(call: Call, stack: StackFacts) -> list[Request]:
    # Authorized on the job definition (revision) and on the queue; tags need TagResource too.
    p = call.params
    needs = [
        Request("batch:SubmitJob", stack.batch_arn("job-definition", p["jobDefinition"])),
        Request("batch:SubmitJob", stack.batch_arn("job-queue", p["jobQueue"])),
    ]
    if p.get("tags"):
        needs.append(Request("batch:TagResource", f"arn:aws:batch:{stack.region}:{stack.account}:job/*"))
    return needs


def _list_action_executions(call: Call, stack: StackFacts) -> list[Request]:
    # API_ListActionExecutions.html; the service reference names the pipeline as its resource.
    pipeline = f"arn:aws:codepipeline:{stack.region}:{stack.account}:{call.params['pipelineName']}"
    return [Request("codepipeline:ListActionExecutions", pipeline)]


REQUIREMENTS: dict[tuple[str, str], Mapper] = {
    ("s3", "GetObject"): _get_object,
    ("s3", "HeadObject"): _get_object,
    ("s3", "PutObject"): _put_object,
    ("s3", "CopyObject"): _copy_object,
    ("s3", "ListObjectsV2"): _list_objects,
    ("s3", "ListObjects"): _list_objects,
    ("s3", "ListObjectVersions"): _list_versions,
    ("s3", "GetBucketEncryption"): _get_bucket_encryption,
    ("cloudwatch", "PutMetricData"): _put_metric_data,
    ("sns", "Publish"): _publish,
    ("batch", "SubmitJob"): _submit_job,
    ("codepipeline", "ListActionExecutions"): _list_action_executions,
}


def requests_for(call: Call, stack: StackFacts) -> list[Request] | None:
    """The IAM requests AWS evaluates for `call`; None when the table does not know the operation."""
    mapper = REQUIREMENTS.get((call.service, call.operation))
    return None if mapper is None else mapper(call, stack)
