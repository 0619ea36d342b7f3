"""The stack's buckets: models, training data, prediction logs, pipeline artifacts, LB access logs.

Every bucket is private (public access blocked, ownership enforced), encrypted by default,
TLS-only by policy, and has lifecycle rules so nothing grows forever: `private_bucket` makes each,
these five and the WAF's log bucket (`serving/edge.py`) alike.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import pulumi
import pulumi_aws as aws

from infra.iam import deny_insecure_transport, policy
from infra.platform_config import StorageConfig

# The Buckets component's name in the program: each bucket's logical name is `<this>-<purpose>`
# (`ml-models`), and its physical name that plus a random suffix.
BUCKETS_NAME = "ml"
QUERY_RESULT_DAYS = 7


@dataclass(frozen=True)
class _BucketSpec:
    """How one bucket differs from the hardened baseline."""

    purpose: str
    versioned: bool = False
    eventbridge: bool = False
    # S3-managed keys where the writer cannot use KMS (ALB access logs).
    sse_s3_only: bool = False
    lifecycle: list[aws.s3.BucketLifecycleConfigurationRuleArgs] = field(default_factory=list)


class Buckets(pulumi.ComponentResource):
    """The five buckets; other components use the attributes, never bucket names of their own."""

    models: aws.s3.Bucket
    training_data: aws.s3.Bucket
    prediction_logs: aws.s3.Bucket
    artifacts: aws.s3.Bucket
    access_logs: aws.s3.Bucket
    # What admits load balancers to write access logs: an ALB is refused until it exists.
    access_logs_policy: aws.s3.BucketPolicy

    def __init__(
        self,
        name: str,
        *,
        config: StorageConfig,
        key: aws.kms.Key,
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        super().__init__("ml-deploy:storage:Buckets", name, None, opts)
        self._config = config
        self._key = key
        self._name = name
        self._policies: dict[str, aws.s3.BucketPolicy] = {}

        specs = bucket_specs(config)
        self.models = self._bucket(specs["models"])
        self.training_data = self._bucket(specs["training-data"])
        self.prediction_logs = self._bucket(specs["prediction-logs"])
        self.artifacts = self._bucket(specs["artifacts"])
        self.access_logs = self._bucket(specs["access-logs"], delivery_from_load_balancers=True)
        self.access_logs_policy = self._policies["access-logs"]
        self.register_outputs(
            {
                "models": self.models.bucket,
                "training_data": self.training_data.bucket,
                "prediction_logs": self.prediction_logs.bucket,
                "artifacts": self.artifacts.bucket,
                "access_logs": self.access_logs.bucket,
            }
        )

    def _bucket(self, spec: _BucketSpec, *, delivery_from_load_balancers: bool = False) -> aws.s3.Bucket:
        bucket, self._policies[spec.purpose] = private_bucket(
            f"{self._name}-{spec.purpose}",
            parent=self,
            force_destroy=self._config.force_destroy,
            encryption=self._encryption_rule(spec),
            lifecycle=spec.lifecycle,
            versioned=spec.versioned,
            eventbridge=spec.eventbridge,
            statements=(
                (lambda bucket: [_load_balancer_log_delivery(bucket, parent=self)])
                if delivery_from_load_balancers
                else None
            ),
        )
        return bucket

    def _encryption_rule(self, spec: _BucketSpec) -> aws.s3.BucketServerSideEncryptionConfigurationRuleArgs:
        if spec.sse_s3_only or self._config.bucket_encryption == "sse-s3":
            return sse_s3_rule()
        return _stack_key_rule(self._key)


def private_bucket(
    name: str,
    *,
    parent: pulumi.Resource,
    force_destroy: bool,
    encryption: aws.s3.BucketServerSideEncryptionConfigurationRuleArgs,
    lifecycle: Sequence[aws.s3.BucketLifecycleConfigurationRuleArgs],
    bucket_prefix: str | None = None,
    versioned: bool = False,
    eventbridge: bool = False,
    statements: Callable[[aws.s3.Bucket], list[dict[str, Any]]] | None = None,
) -> tuple[aws.s3.Bucket, aws.s3.BucketPolicy]:
    """A bucket as every bucket of the stack is made: owner-enforced, no public access, encrypted by
    default, with its lifecycle, and a policy denying plain HTTP plus `statements(bucket)`."""
    child = pulumi.ResourceOptions(parent=parent)
    bucket = aws.s3.Bucket(name, bucket_prefix=bucket_prefix, force_destroy=force_destroy, opts=child)
    aws.s3.BucketOwnershipControls(
        name,
        bucket=bucket.id,
        rule=aws.s3.BucketOwnershipControlsRuleArgs(object_ownership="BucketOwnerEnforced"),
        opts=child,
    )
    access_block = aws.s3.BucketPublicAccessBlock(
        name,
        bucket=bucket.id,
        block_public_acls=True,
        block_public_policy=True,
        ignore_public_acls=True,
        restrict_public_buckets=True,
        opts=child,
    )
    aws.s3.BucketServerSideEncryptionConfiguration(name, bucket=bucket.id, rules=[encryption], opts=child)
    if versioned:
        aws.s3.BucketVersioning(
            name,
            bucket=bucket.id,
            versioning_configuration=aws.s3.BucketVersioningVersioningConfigurationArgs(status="Enabled"),
            opts=child,
        )
    if eventbridge:
        # S3 -> EventBridge "Object Created" events: how a bundle upload starts the pipeline.
        aws.s3.BucketNotification(name, bucket=bucket.id, eventbridge=True, opts=child)
    aws.s3.BucketLifecycleConfiguration(name, bucket=bucket.id, rules=list(lifecycle), opts=child)
    bucket_policy = aws.s3.BucketPolicy(
        name,
        bucket=bucket.id,
        policy=policy(deny_insecure_transport(bucket.arn), *(statements(bucket) if statements else [])),
        # A policy put before the public access block could be judged "public" and refused.
        opts=pulumi.ResourceOptions(parent=parent, depends_on=[access_block]),
    )
    return bucket, bucket_policy


def sse_s3_rule() -> aws.s3.BucketServerSideEncryptionConfigurationRuleArgs:
    """S3-managed keys: for the buckets AWS services write to without a grant on the stack's key."""
    default = aws.s3.BucketServerSideEncryptionConfigurationRuleApplyServerSideEncryptionByDefaultArgs(
        sse_algorithm="AES256"
    )
    return aws.s3.BucketServerSideEncryptionConfigurationRuleArgs(
        apply_server_side_encryption_by_default=default
    )


def _stack_key_rule(key: aws.kms.Key) -> aws.s3.BucketServerSideEncryptionConfigurationRuleArgs:
    default = aws.s3.BucketServerSideEncryptionConfigurationRuleApplyServerSideEncryptionByDefaultArgs(
        sse_algorithm="aws:kms", kms_master_key_id=key.arn
    )
    # Bucket keys cut KMS request costs for the high-volume prediction logs.
    return aws.s3.BucketServerSideEncryptionConfigurationRuleArgs(
        apply_server_side_encryption_by_default=default, bucket_key_enabled=True
    )


def lifecycle_rule(
    rule_id: str, *, prefix: str = "", **settings: Any
) -> aws.s3.BucketLifecycleConfigurationRuleArgs:
    """An enabled lifecycle rule over the bucket, or over the objects under `prefix`."""
    return aws.s3.BucketLifecycleConfigurationRuleArgs(
        id=rule_id,
        status="Enabled",
        filter=aws.s3.BucketLifecycleConfigurationRuleFilterArgs(prefix=prefix),
        **settings,
    )


def _abort_incomplete_uploads() -> aws.s3.BucketLifecycleConfigurationRuleArgs:
    return lifecycle_rule(
        "abort-incomplete-multipart-uploads",
        abort_incomplete_multipart_upload=aws.s3.BucketLifecycleConfigurationRuleAbortIncompleteMultipartUploadArgs(
            days_after_initiation=7
        ),
    )


def _load_balancer_log_delivery(bucket: aws.s3.Bucket, *, parent: pulumi.Resource) -> dict[str, Any]:
    """ALB access-log delivery into this account's prefix only.

    Regions launched before August 2022 deliver as the regional ELB account, newer ones as
    the log-delivery service principal; naming both keeps the policy right in every region.
    """
    invoke = pulumi.InvokeOutputOptions(parent=parent)
    identity = aws.get_caller_identity_output(opts=invoke)
    elb_account = aws.elb.get_service_account_output(opts=invoke)
    return {
        "Sid": "LoadBalancersDeliverAccessLogs",
        "Effect": "Allow",
        "Principal": {
            "AWS": elb_account.arn,
            "Service": "logdelivery.elasticloadbalancing.amazonaws.com",
        },
        "Action": "s3:PutObject",
        "Resource": pulumi.Output.concat(bucket.arn, "/alb/AWSLogs/", identity.account_id, "/*"),
    }


def bucket_specs(config: StorageConfig) -> dict[str, _BucketSpec]:
    """Each bucket's purpose, versioning and lifecycle: what sets it apart from the baseline."""
    noncurrent = aws.s3.BucketLifecycleConfigurationRuleNoncurrentVersionExpirationArgs
    expire = aws.s3.BucketLifecycleConfigurationRuleExpirationArgs
    specs = [
        _BucketSpec(
            purpose="models",
            # The pipeline's S3 source needs versions; every bundle ever deployed is kept.
            versioned=True,
            eventbridge=True,
            lifecycle=[
                lifecycle_rule(
                    "expire-replaced-bundle-versions",
                    noncurrent_version_expiration=noncurrent(
                        noncurrent_days=config.noncurrent_version_days, newer_noncurrent_versions=10
                    ),
                ),
                _abort_incomplete_uploads(),
            ],
        ),
        _BucketSpec(
            purpose="training-data",
            versioned=True,
            lifecycle=[
                lifecycle_rule(
                    "expire-replaced-data-versions",
                    noncurrent_version_expiration=noncurrent(noncurrent_days=config.noncurrent_version_days),
                ),
                _abort_incomplete_uploads(),
            ],
        ),
        _BucketSpec(
            purpose="prediction-logs",
            lifecycle=[
                lifecycle_rule(
                    "tier-then-expire-prediction-logs",
                    transitions=[
                        aws.s3.BucketLifecycleConfigurationRuleTransitionArgs(
                            days=config.log_transition_days, storage_class="STANDARD_IA"
                        )
                    ],
                    expiration=expire(days=config.log_expiration_days),
                ),
                # Query results are a cache of answers, not data: a week. Where two expiration rules
                # cover an object, S3 applies the shorter one.
                lifecycle_rule(
                    "expire-query-results",
                    prefix=config.layout.query_results_prefix,
                    expiration=expire(days=QUERY_RESULT_DAYS),
                ),
                _abort_incomplete_uploads(),
            ],
        ),
        _BucketSpec(
            purpose="artifacts",
            lifecycle=[
                lifecycle_rule(
                    "expire-old-pipeline-artifacts", expiration=expire(days=config.artifact_expiration_days)
                ),
                _abort_incomplete_uploads(),
            ],
        ),
        _BucketSpec(
            purpose="access-logs",
            sse_s3_only=True,
            lifecycle=[
                lifecycle_rule("expire-access-logs", expiration=expire(days=config.log_expiration_days))
            ],
        ),
    ]
    return {spec.purpose: spec for spec in specs}
