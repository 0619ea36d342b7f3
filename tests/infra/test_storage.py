"""Every bucket private, encrypted, TLS-only and with lifecycle rules; the model bucket versioned."""

from __future__ import annotations

import json

import pytest

from ml_deploy_dev.program import Program, Resource, run_program

BUCKET = "aws:s3/bucket:Bucket"
PURPOSES = ("models", "training-data", "prediction-logs", "artifacts", "access-logs")


def _companion(program: Program, type_token: str, bucket: Resource) -> Resource:
    found = [r for r in program.of_type(type_token) if r.inputs.get("bucket") == bucket.state["bucket"]]
    assert len(found) == 1, f"{bucket.name} should have exactly one {type_token}, has {len(found)}"
    return found[0]


def test_the_stack_has_its_five_buckets(dev_program: Program) -> None:
    names = sorted(r.name for r in dev_program.of_type(BUCKET))
    assert names == sorted(f"ml-{p}" for p in PURPOSES)


@pytest.mark.parametrize("purpose", PURPOSES)
def test_bucket_blocks_every_kind_of_public_access(dev_program: Program, purpose: str) -> None:
    bucket = _bucket(dev_program, purpose)
    block = _companion(dev_program, "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock", bucket)
    for flag in (
        "blockPublicAcls",
        "blockPublicPolicy",
        "ignorePublicAcls",
        "restrictPublicBuckets",
    ):
        assert block.inputs.get(flag) is True, f"{bucket.name}: {flag} is not on"
    ownership = _companion(dev_program, "aws:s3/bucketOwnershipControls:BucketOwnershipControls", bucket)
    assert ownership.inputs["rule"]["objectOwnership"] == "BucketOwnerEnforced"


@pytest.mark.parametrize("purpose", PURPOSES)
def test_bucket_policy_denies_requests_without_tls(dev_program: Program, purpose: str) -> None:
    bucket = _bucket(dev_program, purpose)
    policy = _companion(dev_program, "aws:s3/bucketPolicy:BucketPolicy", bucket)
    statements = json.loads(policy.inputs["policy"])["Statement"]
    deny = [
        s
        for s in statements
        if s["Effect"] == "Deny"
        and s.get("Condition", {}).get("Bool", {}).get("aws:SecureTransport") == "false"
    ]
    assert deny, f"{bucket.name} has no statement denying non-TLS access"
    assert set(deny[0]["Resource"]) == {bucket.state["arn"], bucket.state["arn"] + "/*"}


@pytest.mark.parametrize("purpose", [p for p in PURPOSES if p != "access-logs"])
def test_data_buckets_are_encrypted_with_the_stack_key(dev_program: Program, purpose: str) -> None:
    bucket = _bucket(dev_program, purpose)
    encryption = _companion(
        dev_program,
        "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration",
        bucket,
    )
    default = encryption.inputs["rules"][0]["applyServerSideEncryptionByDefault"]
    key = dev_program.one("aws:kms/key:Key")
    assert default["sseAlgorithm"] == "aws:kms"
    assert default["kmsMasterKeyId"] == key.state["arn"], f"{bucket.name} is not encrypted with the stack key"


def test_access_log_bucket_uses_s3_managed_keys_because_load_balancers_cannot_use_kms(
    dev_program: Program,
) -> None:
    bucket = _bucket(dev_program, "access-logs")
    encryption = _companion(
        dev_program,
        "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration",
        bucket,
    )
    assert encryption.inputs["rules"][0]["applyServerSideEncryptionByDefault"]["sseAlgorithm"] == "AES256"


def test_sse_s3_can_be_chosen_by_config() -> None:
    program = run_program(overrides={"ml-deploy:bucketEncryption": "sse-s3"})
    algorithms = {
        r.inputs["rules"][0]["applyServerSideEncryptionByDefault"]["sseAlgorithm"]
        for r in program.of_type(
            "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration"
        )
    }
    assert algorithms == {"AES256"}


def test_model_bucket_is_versioned_and_sends_events_to_eventbridge(dev_program: Program) -> None:
    models = _bucket(dev_program, "models")
    versioning = _companion(dev_program, "aws:s3/bucketVersioning:BucketVersioning", models)
    assert versioning.inputs["versioningConfiguration"]["status"] == "Enabled"
    notification = _companion(dev_program, "aws:s3/bucketNotification:BucketNotification", models)
    assert notification.inputs.get("eventbridge") is True, "uploads would not reach EventBridge"


@pytest.mark.parametrize("purpose", PURPOSES)
def test_every_bucket_has_lifecycle_rules(dev_program: Program, purpose: str) -> None:
    bucket = _bucket(dev_program, purpose)
    lifecycle = _companion(
        dev_program, "aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration", bucket
    )
    rules = lifecycle.inputs["rules"]
    assert rules and all(rule["status"] == "Enabled" for rule in rules)


def test_lifecycle_rules_follow_the_stack_config(dev_program: Program) -> None:
    def rules(purpose: str) -> dict[str, dict]:
        lifecycle = _companion(
            dev_program,
            "aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration",
            _bucket(dev_program, purpose),
        )
        return {rule["id"]: rule for rule in lifecycle.inputs["rules"]}

    # Pulumi.dev.yaml: noncurrentVersionDays 30, artifactExpirationDays 14, logs 30 -> IA, 90 -> gone.
    models = rules("models")["expire-replaced-bundle-versions"]
    assert models["noncurrentVersionExpiration"]["noncurrentDays"] == 30
    assert rules("artifacts")["expire-old-pipeline-artifacts"]["expiration"]["days"] == 14
    logs = rules("prediction-logs")["tier-then-expire-prediction-logs"]
    assert logs["transitions"] == [{"days": 30, "storageClass": "STANDARD_IA"}]
    assert logs["expiration"]["days"] == 90


def test_force_destroy_follows_config(dev_program: Program) -> None:
    assert all(r.inputs.get("forceDestroy") is True for r in dev_program.of_type(BUCKET))
    program = run_program(overrides={"ml-deploy:forceDestroy": False})
    assert all(r.inputs.get("forceDestroy") is False for r in program.of_type(BUCKET))


def _bucket(program: Program, purpose: str) -> Resource:
    return program.one(BUCKET, f"ml-{purpose}")


def test_query_results_expire_after_a_week_under_the_workgroups_result_location(dev_program: Program) -> None:
    """The log bucket keeps logs for `logExpirationDays`; Athena's answers are a cache, kept 7 days.
    Where two expiration rules cover an object, S3 honours the shorter one ("How Amazon S3 handles
    conflicts in lifecycle configurations",
    https://docs.aws.amazon.com/AmazonS3/latest/userguide/lifecycle-conflicts.html)."""
    lifecycle = _companion(
        dev_program,
        "aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration",
        _bucket(dev_program, "prediction-logs"),
    )
    rule = {r["id"]: r for r in lifecycle.inputs["rules"]}["expire-query-results"]
    (workgroup,) = dev_program.of_type("aws:athena/workgroup:Workgroup")
    location = workgroup.inputs["configuration"]["resultConfiguration"]["outputLocation"]

    assert rule["expiration"]["days"] == 7
    assert rule["filter"]["prefix"] and location.endswith("/" + rule["filter"]["prefix"]), (location, rule)
