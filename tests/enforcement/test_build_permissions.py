"""The Build stage's own AWS calls under exactly the policy the program renders for the build role.

`ml-deploy archive-bundle` runs in the build (buildspec.yml) with the project's variables; here it
runs against moto with IAM enforcement on, as a principal holding only the build role's rendered
policy, and each call it makes is also evaluated offline against that policy (with the KMS
requests S3 makes for it), as the runtimes are in test_runtime_permissions.py.
"""

from __future__ import annotations

from pathlib import Path

from ml_deploy.bundle import read_manifest
from ml_deploy.layout import archived_bundle_key
from ml_deploy_cli.__main__ import main
from ml_deploy_dev.program import Program
from tests.enforcement.conftest import EnforcedAws
from tests.enforcement.rendered import RuntimeRole, project_role, refused_by_both, without_statement


def archive(role: RuntimeRole, bundle: Path) -> int:
    """The buildspec's step, with the variables the build project sets."""
    env = role.environment
    return main(
        ["archive-bundle", str(bundle), "--model-bucket", env["MODEL_BUCKET"],
         "--archive-prefix", env["MODEL_ARCHIVE_PREFIX"]],
        environ={},
    )  # fmt: skip


def test_archiving_is_allowed_by_the_build_role(
    enforced: EnforcedAws, dev_program: Program, trained_bundle: Path, other_bundle_same_version: Path
) -> None:
    """First archive (writes), the same bundle again (412, read, no-op), another one (412, read, refused)."""
    role = project_role(dev_program, "delivery-build")
    with enforced.running_as(role):
        statuses = [
            archive(role, bundle) for bundle in (trained_bundle, trained_bundle, other_bundle_same_version)
        ]

    problems = enforced.unproven(role)
    assert not problems, "the build role's policy does not cover archive-bundle:\n  " + "\n  ".join(problems)
    made = {f"{call.service}:{call.operation}:{call.error}" for call in enforced.calls}
    expected = {"s3:GetBucketEncryption:ServerSideEncryptionConfigurationNotFoundError",
                "s3:PutObject:None", "s3:PutObject:PreconditionFailed", "s3:GetObject:None"}  # fmt: skip
    assert expected <= made, f"the run never reached {sorted(expected - made)}; calls made: {sorted(made)}"
    assert statuses == [0, 0, 1], f"exit statuses {statuses}"
    key = archived_bundle_key(
        role.environment["MODEL_ARCHIVE_PREFIX"], read_manifest(trained_bundle).bundle_version
    )
    body = enforced.admin("s3").get_object(Bucket=role.environment["MODEL_BUCKET"], Key=key)["Body"].read()
    assert body == trained_bundle.read_bytes()


def test_the_check_catches_a_build_role_that_cannot_archive(
    enforced: EnforcedAws, dev_program: Program, trained_bundle: Path
) -> None:
    role = project_role(dev_program, "delivery-build")
    crippled = without_statement(
        role, name="build-without-archive", dropped=lambda s: s.get("Sid") == "ArchiveBuiltBundles"
    )

    with enforced.running_as(crippled):
        status = archive(crippled, trained_bundle)

    assert status == 1
    problems = enforced.unproven(crippled)
    prefix = "arn:aws:s3:::ml-models-0a1b2c3/bundles/archive/"
    assert refused_by_both(problems, action="s3:PutObject", resource_prefix=prefix, role=crippled), problems
