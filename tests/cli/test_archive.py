"""`ml-deploy archive-bundle`: every built bundle at its immutable archive key (moto S3).

What S3 documents for the conditional write the command relies on is held here as data, and the
tests hold moto to it where moto answers (412); moto never answers 409, so that one is injected
before the call (as botocore's Stubber answers) into the client the command uses.
"""

from __future__ import annotations

import io
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from botocore.awsrequest import AWSResponse

from infra.serving.smoke_hook.handler import HookSettings, golden_records
from ml_deploy.bundle import read_bundle, read_manifest
from ml_deploy.layout import DEFAULT_LAYOUT
from ml_deploy_cli.aws import archive
from ml_deploy_cli.aws.archive import content_sha256
from tests.cli.conftest import MODEL_BUCKET, MODEL_KEY, Result, Stack


@dataclass(frozen=True)
class Documented:
    page: str
    says: str


# https://docs.aws.amazon.com/AmazonS3/latest/userguide/conditional-writes.html
CONDITIONAL_WRITES = "https://docs.aws.amazon.com/AmazonS3/latest/userguide/conditional-writes.html"
# https://docs.aws.amazon.com/AmazonS3/latest/API/API_PutObject.html (IfNoneMatch)
PUT_OBJECT = "https://docs.aws.amazon.com/AmazonS3/latest/API/API_PutObject.html"
S3_CONDITIONAL_WRITE = {
    "key exists": Documented(PUT_OBJECT, "412 PreconditionFailed: the key name already exists"),
    "concurrent write": Documented(
        PUT_OBJECT, "409 ConditionalRequestConflict: a conflicting operation occurred; retry the upload"
    ),
    "value": Documented(CONDITIONAL_WRITES, "If-None-Match expects the '*' (asterisk) value"),
    "versioned bucket": Documented(CONDITIONAL_WRITES, "If-None-Match applies to the current version"),
    "permission": Documented(CONDITIONAL_WRITES, "a write with If-None-Match needs s3:PutObject only"),
}


def archive_key(version: str) -> str:
    return DEFAULT_LAYOUT.archived_bundle_key(version)


def run_archive(stack: Stack, bundle: Path, *extra: str) -> Result:
    return stack.cli("archive-bundle", str(bundle), "--model-bucket", MODEL_BUCKET, *extra)


def repacked(source: Path, target: Path) -> Path:
    """The same members zipped again, as the build re-zips what CodePipeline unpacked."""
    with zipfile.ZipFile(source) as original, zipfile.ZipFile(target, "w", zipfile.ZIP_STORED) as copy:
        for name in reversed(original.namelist()):
            copy.writestr(zipfile.ZipInfo(name, date_time=(2020, 1, 1, 0, 0, 0)), original.read(name))
    return target


def test_the_first_archive_writes_the_bundle_at_its_versions_key_encrypted(
    stack: Stack, trained_bundle: Path
) -> None:
    version = read_manifest(trained_bundle).bundle_version

    result = run_archive(stack, trained_bundle)

    assert result.code == 0, result.err
    head = stack.s3.head_object(Bucket=MODEL_BUCKET, Key=archive_key(version))
    assert f"archived bundle {version} at s3://{MODEL_BUCKET}/{archive_key(version)}" in result.out
    assert f"object version {head['VersionId']}" in result.out
    assert head["ServerSideEncryption"] == "aws:kms" and head["SSEKMSKeyId"] == stack.kms_key_arn
    assert head["Metadata"] == {
        "bundle-version": version,
        "content-sha256": content_sha256(trained_bundle.read_bytes()),
    }
    body = stack.s3.get_object(Bucket=MODEL_BUCKET, Key=archive_key(version))["Body"].read()
    assert body == trained_bundle.read_bytes()
    assert "Contents" not in stack.s3.list_objects_v2(Bucket=MODEL_BUCKET, Prefix=MODEL_KEY), (
        "archiving must not touch the trigger key (it would start the pipeline)"
    )


def test_the_smoke_hook_finds_the_golden_records_the_build_archived(
    stack: Stack, trained_bundle: Path
) -> None:
    """The reason for the command: the hook reads the deployed version's archived bundle."""
    version = read_manifest(trained_bundle).bundle_version
    assert run_archive(stack, trained_bundle).code == 0

    settings = HookSettings.from_environ(
        {
            "MODEL_BUCKET": MODEL_BUCKET,
            "TEST_URL": "http://test-listener",
            "BUNDLE_KEY_TEMPLATE": DEFAULT_LAYOUT.archived_bundle_key("{version}"),
            "RESULT_KEY_TEMPLATE": DEFAULT_LAYOUT.smoke_test_key("stage", "{version}"),
        }
    )
    golden = golden_records(stack.s3, settings=settings, version=version)

    recorded = read_bundle(trained_bundle).golden_records
    assert recorded is not None and golden.records == [r.record for r in recorded.records]


def test_the_same_bundle_again_is_a_no_op_even_zipped_anew(
    stack: Stack, trained_bundle: Path, tmp_path: Path
) -> None:
    """The retrain job archives its zip; the build re-zips the same members: that is no conflict."""
    version = read_manifest(trained_bundle).bundle_version
    assert run_archive(stack, trained_bundle).code == 0
    rezipped = repacked(trained_bundle, tmp_path / "model-bundle.zip")
    assert rezipped.read_bytes() != trained_bundle.read_bytes(), "the test needs other zip bytes"

    again = run_archive(stack, trained_bundle)
    rebuilt = run_archive(stack, rezipped)

    for result in (again, rebuilt):
        assert result.code == 0, result.err
        assert f"already holds bundle {version}: nothing to do" in result.out
    versions = stack.s3.list_object_versions(Bucket=MODEL_BUCKET, Prefix=archive_key(version))["Versions"]
    assert len(versions) == 1, "a no-op wrote a new object version"


def test_a_different_bundle_under_an_archived_version_fails_naming_both_checksums(
    stack: Stack, trained_bundle: Path, other_bundle_same_version: Path
) -> None:
    version = read_manifest(trained_bundle).bundle_version
    assert read_manifest(other_bundle_same_version).bundle_version == version
    assert run_archive(stack, trained_bundle).code == 0

    result = run_archive(stack, other_bundle_same_version)

    assert result.code == 1
    [line] = result.err.strip().splitlines()
    assert line.startswith(f"ml-deploy: archive-bundle: s3://{MODEL_BUCKET}/{archive_key(version)} ")
    assert "already holds a different bundle" in line
    assert content_sha256(trained_bundle.read_bytes()) in line, "the archived bundle's checksum"
    assert content_sha256(other_bundle_same_version.read_bytes()) in line, "this bundle's checksum"
    body = stack.s3.get_object(Bucket=MODEL_BUCKET, Key=archive_key(version))["Body"].read()
    assert body == trained_bundle.read_bytes(), "the archived bundle was replaced"


def test_a_missing_bucket_is_named(stack: Stack, trained_bundle: Path) -> None:
    result = stack.cli("archive-bundle", str(trained_bundle), "--model-bucket", "no-such-models")

    assert result.code == 1
    assert result.err.strip() == (
        "ml-deploy: archive-bundle: model bucket 'no-such-models' does not exist (NoSuchBucket)"
    )


def test_an_unsound_bundle_is_refused_before_s3(stack: Stack, tmp_path: Path) -> None:
    bad = tmp_path / "model-bundle.zip"
    bad.write_text("not a zip")

    result = run_archive(stack, bad)

    assert result.code == 1
    assert "refusing to archive:" in result.err and "not a zip file" in result.err
    assert "Contents" not in stack.s3.list_objects_v2(Bucket=MODEL_BUCKET)


@pytest.mark.parametrize("prefix", ["/bundles/archive/", "bundles/archive"])
def test_a_malformed_archive_prefix_is_a_usage_error(stack: Stack, trained_bundle: Path, prefix: str) -> None:
    result = run_archive(stack, trained_bundle, "--archive-prefix", prefix)

    assert result.code == 2
    assert "--archive-prefix" in result.err and "without a leading '/' that ends in '/'" in result.err


def test_the_archive_prefix_is_the_one_given(stack: Stack, trained_bundle: Path) -> None:
    version = read_manifest(trained_bundle).bundle_version

    assert run_archive(stack, trained_bundle, "--archive-prefix", "kept/bundles/").code == 0

    stack.s3.head_object(Bucket=MODEL_BUCKET, Key=f"kept/bundles/{version}/model-bundle.zip")


# --- 409: a concurrent conditional write to the same key --------------------------------------

_CONFLICT = {
    "Error": {
        "Code": "ConditionalRequestConflict",
        "Message": "A conflicting conditional operation is currently in progress against this resource.",
    },
    "ResponseMetadata": {"HTTPStatusCode": 409},
}


@pytest.fixture
def conflicts(stack: Stack, monkeypatch: pytest.MonkeyPatch) -> Iterator[list[int]]:
    """Answer the next N PutObject calls with S3's 409 (set N by appending to the list).

    Answered at `before-call`, as botocore's Stubber answers, so the request never reaches moto.
    """
    monkeypatch.setattr(archive, "CONFLICT_BACKOFF_SECONDS", 0.0)
    remaining: list[int] = []
    client = stack.client("s3")

    def answer(**_: Any) -> tuple[AWSResponse, dict[str, Any]] | None:
        if not remaining or remaining[0] <= 0:
            return None
        remaining[0] -= 1
        return AWSResponse("https://s3.amazonaws.com", 409, {}, None), _CONFLICT

    client.meta.events.register_first("before-call.s3.PutObject", answer)
    yield remaining
    client.meta.events.unregister("before-call.s3.PutObject", answer)


def _run_with_client(stack: Stack, bundle: Path, monkeypatch: pytest.MonkeyPatch) -> Result:
    """The command with the stack's S3 client (main hands it to the step), where the 409s are injected."""
    del monkeypatch
    return run_archive(stack, bundle)


def test_a_409_is_retried_and_the_bundle_archived(
    stack: Stack, trained_bundle: Path, conflicts: list[int], monkeypatch: pytest.MonkeyPatch
) -> None:
    assert "retry" in S3_CONDITIONAL_WRITE["concurrent write"].says
    conflicts.append(2)

    result = _run_with_client(stack, trained_bundle, monkeypatch)

    assert result.code == 0, result.err
    assert conflicts == [0], "both 409s should have been answered before the write"
    stack.s3.head_object(Bucket=MODEL_BUCKET, Key=archive_key(read_manifest(trained_bundle).bundle_version))


def test_409s_that_do_not_stop_fail_with_the_reason(
    stack: Stack, trained_bundle: Path, conflicts: list[int], monkeypatch: pytest.MonkeyPatch
) -> None:
    conflicts.append(archive.PUT_ATTEMPTS)

    result = _run_with_client(stack, trained_bundle, monkeypatch)

    assert result.code == 1
    assert f"{archive.PUT_ATTEMPTS} conditional writes in a row" in result.err
    assert "409 ConditionalRequestConflict" in result.err
    assert "Contents" not in stack.s3.list_objects_v2(Bucket=MODEL_BUCKET)


def test_moto_answers_an_existing_key_as_s3_documents(stack: Stack) -> None:
    """The 412 the command reads as "archived already" is what S3 (and moto) answer."""
    assert S3_CONDITIONAL_WRITE["key exists"].says.startswith("412 PreconditionFailed")
    key = archive_key("v1")
    stack.s3.put_object(Bucket=MODEL_BUCKET, Key=key, Body=b"first", IfNoneMatch="*")
    with pytest.raises(stack.s3.exceptions.ClientError) as raised:
        stack.s3.put_object(Bucket=MODEL_BUCKET, Key=key, Body=b"second", IfNoneMatch="*")
    error = raised.value.response
    assert (error["Error"]["Code"], error["ResponseMetadata"]["HTTPStatusCode"]) == (
        "PreconditionFailed",
        412,
    )
    assert stack.s3.get_object(Bucket=MODEL_BUCKET, Key=key)["Body"].read() == b"first"


def test_content_checksum_ignores_zip_bytes_but_not_members(trained_bundle: Path, tmp_path: Path) -> None:
    data = trained_bundle.read_bytes()
    same = repacked(trained_bundle, tmp_path / "same.zip").read_bytes()
    with zipfile.ZipFile(io.BytesIO(data)) as original, zipfile.ZipFile(tmp_path / "more.zip", "w") as more:
        for name in original.namelist():
            more.writestr(name, original.read(name))
        more.writestr("extra.txt", b"x")

    assert content_sha256(same) == content_sha256(data)
    assert content_sha256((tmp_path / "more.zip").read_bytes()) != content_sha256(data)
    assert content_sha256(b"not a zip") != content_sha256(data)
