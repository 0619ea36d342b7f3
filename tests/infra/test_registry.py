"""The image repositories: immutable, scanned, encrypted, pruned."""

from __future__ import annotations

import json

from tests.infra.program import Program

REPOSITORY = "aws:ecr/repository:Repository"


def test_service_and_jobs_repositories_exist(dev_program: Program) -> None:
    assert sorted(r.name for r in dev_program.of_type(REPOSITORY)) == [
        "images-jobs",
        "images-service",
    ]
    assert dev_program.outputs["serviceRepositoryUrl"].endswith("/images-service")


def test_repositories_are_immutable_scanned_and_encrypted(dev_program: Program) -> None:
    key_arn = dev_program.one("aws:kms/key:Key").state["arn"]
    for repository in dev_program.of_type(REPOSITORY):
        assert repository.inputs["imageTagMutability"] == "IMMUTABLE", f"{repository.name} tags can move"
        assert repository.inputs["imageScanningConfiguration"]["scanOnPush"] is True
        assert repository.inputs["encryptionConfigurations"] == [{"encryptionType": "KMS", "kmsKey": key_arn}]


def test_lifecycle_policy_keeps_the_configured_number_of_images(dev_program: Program) -> None:
    policies = dev_program.of_type("aws:ecr/lifecyclePolicy:LifecyclePolicy")
    assert {p.inputs["repository"] for p in policies} == {"images-service", "images-jobs"}
    for lifecycle in policies:
        (rule,) = json.loads(lifecycle.inputs["policy"])["rules"]
        assert rule["selection"] == {
            "tagStatus": "any",
            "countType": "imageCountMoreThan",
            "countNumber": 20,
        }
        assert rule["action"] == {"type": "expire"}
