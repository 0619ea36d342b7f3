"""`ml-deploy upload-model`: the build's verification, then one encrypted PUT to the trigger key."""

from __future__ import annotations

import json
import shutil
import zipfile
from pathlib import Path

import pytest

from ml_deploy.bundle import verify_bundle
from ml_deploy.bundle.__main__ import main as build_verify
from tests.cli.conftest import MODEL_BUCKET, MODEL_KEY, Stack


def test_a_sound_bundle_lands_on_the_trigger_key_encrypted_and_versioned(
    stack: Stack, trained_bundle: Path
) -> None:
    result = stack.cli("upload-model", str(trained_bundle))

    assert result.code == 0, result.err
    head = stack.s3.head_object(Bucket=MODEL_BUCKET, Key=MODEL_KEY)
    assert f"object version {head['VersionId']}" in result.out
    assert head["ServerSideEncryption"] == "aws:kms"
    assert head["SSEKMSKeyId"] == stack.kms_key_arn
    version = verify_bundle(trained_bundle).bundle_version
    assert head["Metadata"]["bundle-version"] == version
    assert f"uploaded bundle {version}" in result.out
    body = stack.s3.get_object(Bucket=MODEL_BUCKET, Key=MODEL_KEY)["Body"].read()
    assert body == trained_bundle.read_bytes()


def _truncated(source: Path, target: Path) -> None:
    target.write_bytes(source.read_bytes()[: source.stat().st_size // 2])


def _checksum_mismatch(source: Path, target: Path) -> None:
    with zipfile.ZipFile(source) as original, zipfile.ZipFile(target, "w") as changed:
        manifest = json.loads(original.read("manifest.json"))
        manifest["model_file"]["sha256"] = "0" * 64
        changed.writestr("manifest.json", json.dumps(manifest))
        changed.writestr("model.skops", original.read("model.skops"))


def _no_manifest(source: Path, target: Path) -> None:
    with zipfile.ZipFile(source) as original, zipfile.ZipFile(target, "w") as changed:
        changed.writestr("model.skops", original.read("model.skops"))


def _not_a_zip(source: Path, target: Path) -> None:
    target.write_text("a,b\n1,2\n")


@pytest.mark.parametrize(
    ("spoil", "reason"),
    [
        (_truncated, "truncated or corrupt zip"),
        (_checksum_mismatch, "checksum mismatch for model.skops"),
        (_no_manifest, "zip has no manifest.json"),
        (_not_a_zip, "not a zip file"),
    ],
)
def test_a_bundle_the_build_would_reject_is_refused_before_s3(
    stack: Stack, trained_bundle: Path, tmp_path: Path, spoil: object, reason: str
) -> None:
    bad = tmp_path / "model-bundle.zip"
    shutil.copy(trained_bundle, bad)
    spoil(trained_bundle, bad)  # type: ignore[operator]
    assert build_verify(["verify", str(bad)]) == 1, "the build's own check should reject it too"

    result = stack.cli("upload-model", str(bad))

    assert result.code == 1
    lines = result.err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("ml-deploy: upload-model: refusing to upload:"), result.err
    assert reason in lines[0]
    assert "Versions" not in stack.s3.list_object_versions(Bucket=MODEL_BUCKET, Prefix=MODEL_KEY)


def test_a_missing_bundle_file_is_named(stack: Stack, tmp_path: Path) -> None:
    result = stack.cli("upload-model", str(tmp_path / "nope.zip"))

    assert result.code == 1
    assert f"bundle file not found: {tmp_path / 'nope.zip'}" in result.err


def test_a_bad_bundle_is_refused_before_the_outputs_are_needed(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from ml_deploy_cli.__main__ import main

    bad = tmp_path / "model-bundle.zip"
    bad.write_bytes(b"")

    code = main(["--outputs", str(tmp_path / "missing.json"), "upload-model", str(bad)], environ={})

    assert code == 1
    assert "empty file, not a zip" in capsys.readouterr().err
