"""The image repositories: immutable, scanned, encrypted, pruned."""

from __future__ import annotations

import json

from ml_deploy_dev.autonaming import generated_name
from ml_deploy_dev.program import Program

REPOSITORY = "aws:ecr/repository:Repository"


def test_service_and_jobs_repositories_exist(dev_program: Program) -> None:
    assert sorted(r.name for r in dev_program.of_type(REPOSITORY)) == [
        "images-jobs",
        "images-service",
    ]
    assert dev_program.outputs["serviceRepositoryUrl"].endswith(f"/{generated_name('images-service')}")


def test_repositories_are_immutable_scanned_and_encrypted(dev_program: Program) -> None:
    key_arn = dev_program.one("aws:kms/key:Key").state["arn"]
    for repository in dev_program.of_type(REPOSITORY):
        assert repository.inputs["imageTagMutability"] == "IMMUTABLE", f"{repository.name} tags can move"
        assert repository.inputs["imageScanningConfiguration"]["scanOnPush"] is True
        assert repository.inputs["encryptionConfigurations"] == [{"encryptionType": "KMS", "kmsKey": key_arn}]


# "Lifecycle policy properties in Amazon ECR":
# https://docs.aws.amazon.com/AmazonECR/latest/userguide/lifecycle_policy_parameters.html
# tagStatus is tagged, untagged or any; "any" evaluates every image; an untagged rule must omit
# tagPrefixList and tagPatternList; sinceImagePushed counts in countUnit "days".
TAG_STATUSES = {"tagged", "untagged", "any"}
COUNT_TYPES = {"imageCountMoreThan", "sinceImagePushed"}


def test_lifecycle_policy_can_never_expire_a_tagged_image(dev_program: Program) -> None:
    """Every image the pipeline pushes is tagged, and one of them is what prod, stage, the jobs or
    a rollback runs; ECR cannot know which, so no rule may select a tagged image at all."""
    policies = dev_program.of_type("aws:ecr/lifecyclePolicy:LifecyclePolicy")
    assert {p.inputs["repository"] for p in policies} == {
        generated_name("images-service"),
        generated_name("images-jobs"),
    }
    for lifecycle in policies:
        rules = json.loads(lifecycle.inputs["policy"])["rules"]
        for rule in rules:
            selection = rule["selection"]
            assert selection["tagStatus"] in TAG_STATUSES and selection["countType"] in COUNT_TYPES
            assert selection["tagStatus"] == "untagged", (
                f"{lifecycle.name}: rule {rule['rulePriority']} can expire a running image: {selection}"
            )
            assert "tagPrefixList" not in selection and "tagPatternList" not in selection
        assert [r["selection"] for r in rules] == [
            {"tagStatus": "untagged", "countType": "sinceImagePushed", "countUnit": "days", "countNumber": 1}
        ], rules
        assert all(r["action"] == {"type": "expire"} for r in rules)
