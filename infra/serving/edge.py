"""The internet-facing edge (``publicEndpoint: true``): who may call, and what the firewall stops.

Only a stack that asks for the internet gets one; a private stack's load balancers are internal
and need neither. Two layers, both in front of the tasks:

- Mutual TLS (`TrustStore`): the HTTPS listeners verify a client certificate issued by one of the
  CAs in ``clientCaBundle`` during the TLS handshake, so a caller without one never gets an HTTP
  exchange, let alone the task. Client certificates fit machine callers (no token endpoint, no
  secret in a header, rotated by the caller's PKI). The CA bundle is the user's (the company's
  PKI issues its systems' certificates; a CA the stack made would need its private key kept
  somewhere, and AWS Private CA costs more than the rest of a dev stack); the stack uploads the
  file to the model bucket and pins the trust store to that object version, so a changed bundle
  is a reviewed `pulumi up`.
- AWS WAF (`WebAcl`, REGIONAL, one per stack, associated with each load balancer by the
  environment): a per-address rate limit and AWS's managed rule groups, logging every request to
  a bucket of its own (WAF logs only to a bucket named ``aws-waf-logs-*``).
"""

from __future__ import annotations

from typing import Any

import pulumi
import pulumi_aws as aws

from infra.serving.config import ServingConfig
from infra.serving.edge_checks import ca_bundle_path
from infra.storage import lifecycle_rule, private_bucket, sse_s3_rule

# Where the stack keeps the uploaded CA bundle in the (versioned) model bucket.
CA_BUNDLE_KEY = "trust-store/client-ca-bundle.pem"
# ALBs are regional resources: their web ACL's scope (CLOUDFRONT is for distributions only).
WAF_SCOPE = "REGIONAL"
# WAF delivers logs only to destinations whose names start with this ("Logging web ACL traffic",
# https://docs.aws.amazon.com/waf/latest/developerguide/logging-s3.html).
WAF_LOG_BUCKET_PREFIX = "aws-waf-logs-"
# The service principal that writes vended logs (WAF's) to S3 ("Logs sent to Amazon S3",
# https://docs.aws.amazon.com/AmazonCloudWatch/latest/logs/AWS-logs-and-resource-policy.html).
LOG_DELIVERY_PRINCIPAL = "delivery.logs.amazonaws.com"
# AWS managed rule groups, in evaluation order after the rate limit: known-bad sources first,
# then the common (OWASP-style) rules, then request patterns known to exploit software.
MANAGED_RULE_GROUPS = (
    "AWSManagedRulesAmazonIpReputationList",
    "AWSManagedRulesCommonRuleSet",
    "AWSManagedRulesKnownBadInputsRuleSet",
)
# The common rule set blocks bodies over 8 KB (SizeRestrictions_BODY); a batch of records is
# larger, and the service answers an oversized body with its own 413 (issue 29), so that one
# rule only counts.
COUNTED_MANAGED_RULES: dict[str, tuple[str, ...]] = {
    "AWSManagedRulesCommonRuleSet": ("SizeRestrictions_BODY",),
}
RATE_LIMIT_RULE = "RateLimitPerAddress"


class PublicEdge(pulumi.ComponentResource):
    """The trust store the HTTPS listeners verify clients against, and the stack's web ACL."""

    trust_store_arn: pulumi.Output[str]
    web_acl_arn: pulumi.Output[str]
    waf_log_bucket: aws.s3.Bucket

    def __init__(
        self,
        name: str,
        *,
        config: ServingConfig,
        ca_bucket: aws.s3.Bucket,
        log_retention_days: int,
        force_destroy: bool,
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        super().__init__("ml-deploy:serving:PublicEdge", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        assert config.client_ca_bundle is not None, "the config requires it with publicEndpoint"
        bundle = aws.s3.BucketObjectv2(
            f"{name}-client-ca-bundle",
            bucket=ca_bucket.id,
            key=CA_BUNDLE_KEY,
            source=pulumi.FileAsset(str(ca_bundle_path(config.client_ca_bundle))),
            content_type="application/x-pem-file",
            # CA certificates are public: S3-managed keys, so reading the bundle when the trust
            # store is created or renewed needs no grant on the stack's KMS key.
            server_side_encryption="AES256",
            opts=child,
        )
        trust_store = aws.lb.TrustStore(
            f"{name}-clients",
            ca_certificates_bundle_s3_bucket=ca_bucket.bucket,
            ca_certificates_bundle_s3_key=bundle.key,
            ca_certificates_bundle_s3_object_version=bundle.version_id,
            opts=child,
        )
        web_acl = aws.wafv2.WebAcl(
            f"{name}-firewall",
            description="ml-deploy load balancers: per-address rate limit and AWS managed rules",
            scope=WAF_SCOPE,
            default_action=aws.wafv2.WebAclDefaultActionArgs(allow=aws.wafv2.WebAclDefaultActionAllowArgs()),
            rules=web_acl_rules(rate_limit=config.waf_rate_limit),
            visibility_config=_visibility("ml-deploy-firewall"),
            opts=child,
        )
        self.waf_log_bucket = _waf_log_bucket(
            name, retention_days=log_retention_days, force_destroy=force_destroy, parent=self
        )
        aws.wafv2.WebAclLoggingConfiguration(
            f"{name}-firewall-logs",
            resource_arn=web_acl.arn,
            log_destination_configs=[self.waf_log_bucket.arn],
            opts=child,
        )
        self.trust_store_arn = trust_store.arn
        self.web_acl_arn = web_acl.arn
        self.register_outputs({"trust_store_arn": self.trust_store_arn, "web_acl_arn": self.web_acl_arn})


def public_edge(
    name: str,
    *,
    config: ServingConfig,
    ca_bucket: aws.s3.Bucket,
    log_retention_days: int,
    force_destroy: bool,
    opts: pulumi.ResourceOptions | None = None,
) -> PublicEdge | None:
    """The edge of an internet-facing stack; None for a private one (internal load balancers)."""
    if not config.public_endpoint:
        return None
    return PublicEdge(
        name,
        config=config,
        ca_bucket=ca_bucket,
        log_retention_days=log_retention_days,
        force_destroy=force_destroy,
        opts=opts,
    )


def web_acl_rules(*, rate_limit: int) -> list[aws.wafv2.WebAclRuleArgs]:
    """The rate limit per client address (priority 0, blocks), then each managed group in order."""
    rate = aws.wafv2.WebAclRuleArgs(
        name=RATE_LIMIT_RULE,
        priority=0,
        action=aws.wafv2.WebAclRuleActionArgs(block=aws.wafv2.WebAclRuleActionBlockArgs()),
        statement=aws.wafv2.WebAclRuleStatementArgs(
            rate_based_statement=aws.wafv2.WebAclRuleStatementRateBasedStatementArgs(
                limit=rate_limit, aggregate_key_type="IP"
            )
        ),
        visibility_config=_rule_visibility(RATE_LIMIT_RULE),
    )
    return [rate, *(_managed(group, priority) for priority, group in enumerate(MANAGED_RULE_GROUPS, start=1))]


def _managed(group: str, priority: int) -> aws.wafv2.WebAclRuleArgs:
    """A managed group with its own actions (``override_action: none``), some rules only counted."""
    overrides = [
        aws.wafv2.WebAclRuleStatementManagedRuleGroupStatementRuleActionOverrideArgs(
            name=rule,
            action_to_use=aws.wafv2.WebAclRuleStatementManagedRuleGroupStatementRuleActionOverrideActionToUseArgs(
                count=aws.wafv2.WebAclRuleStatementManagedRuleGroupStatementRuleActionOverrideActionToUseCountArgs()
            ),
        )
        for rule in COUNTED_MANAGED_RULES.get(group, ())
    ]
    return aws.wafv2.WebAclRuleArgs(
        name=group,
        priority=priority,
        # "none": the group's own actions apply (it blocks what it blocks), not overridden to count.
        # (The SDK's empty NoneArgs has an untyped __init__: it takes no fields.)
        override_action=aws.wafv2.WebAclRuleOverrideActionArgs(
            none=aws.wafv2.WebAclRuleOverrideActionNoneArgs()  # type: ignore[no-untyped-call]
        ),
        statement=aws.wafv2.WebAclRuleStatementArgs(
            managed_rule_group_statement=aws.wafv2.WebAclRuleStatementManagedRuleGroupStatementArgs(
                vendor_name="AWS", name=group, rule_action_overrides=overrides or None
            )
        ),
        visibility_config=_rule_visibility(group),
    )


def _visibility(metric_name: str) -> aws.wafv2.WebAclVisibilityConfigArgs:
    """CloudWatch metrics and sampled requests for the whole ACL: what it lets through and blocks."""
    return aws.wafv2.WebAclVisibilityConfigArgs(
        cloudwatch_metrics_enabled=True, metric_name=metric_name, sampled_requests_enabled=True
    )


def _rule_visibility(metric_name: str) -> aws.wafv2.WebAclRuleVisibilityConfigArgs:
    """Every request a rule matches is counted in CloudWatch under the rule's name, and sampled."""
    return aws.wafv2.WebAclRuleVisibilityConfigArgs(
        cloudwatch_metrics_enabled=True, metric_name=metric_name, sampled_requests_enabled=True
    )


def _waf_log_bucket(
    name: str, *, retention_days: int, force_destroy: bool, parent: pulumi.Resource
) -> aws.s3.Bucket:
    """A private, TLS-only, SSE-S3 bucket named ``aws-waf-logs-…`` that only log delivery writes to.

    The stack's log bucket cannot take WAF logs: its name is not WAF's prefix. SSE-S3 as for the
    ALB access logs, so delivery needs no grant on the stack's key.
    """
    bucket, _ = private_bucket(
        f"{name}-waf-logs",
        parent=parent,
        force_destroy=force_destroy,
        bucket_prefix=WAF_LOG_BUCKET_PREFIX,
        encryption=sse_s3_rule(),
        lifecycle=[
            lifecycle_rule(
                "expire-waf-logs",
                expiration=aws.s3.BucketLifecycleConfigurationRuleExpirationArgs(days=retention_days),
            )
        ],
        statements=lambda bucket: _log_delivery(bucket, parent=parent),
    )
    return bucket


def _log_delivery(bucket: aws.s3.Bucket, *, parent: pulumi.Resource) -> list[dict[str, Any]]:
    """Log delivery writes this account's logs under AWSLogs/<account>/ and checks the bucket's ACL.

    The statements WAF would otherwise add itself ("Logs sent to Amazon S3"); written here
    because the bucket has a policy of ours, confined to this account's own log sources.
    """
    invoke = pulumi.InvokeOutputOptions(parent=parent)
    identity = aws.get_caller_identity_output(opts=invoke)
    region = aws.get_region_output(opts=invoke)
    from_this_account = {
        "StringEquals": {"aws:SourceAccount": identity.account_id},
        "ArnLike": {
            "aws:SourceArn": pulumi.Output.concat(
                "arn:aws:logs:", region.region, ":", identity.account_id, ":*"
            )
        },
    }
    return [
        {
            "Sid": "LogDeliveryWritesWafLogs",
            "Effect": "Allow",
            "Principal": {"Service": LOG_DELIVERY_PRINCIPAL},
            "Action": "s3:PutObject",
            "Resource": pulumi.Output.concat(bucket.arn, "/AWSLogs/", identity.account_id, "/*"),
            "Condition": {
                **from_this_account,
                "StringEquals": {
                    "aws:SourceAccount": identity.account_id,
                    "s3:x-amz-acl": "bucket-owner-full-control",
                },
            },
        },
        {
            "Sid": "LogDeliveryChecksBucketAcl",
            "Effect": "Allow",
            "Principal": {"Service": LOG_DELIVERY_PRINCIPAL},
            "Action": "s3:GetBucketAcl",
            "Resource": bucket.arn,
            "Condition": from_this_account,
        },
    ]
