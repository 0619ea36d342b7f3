"""ECR repositories for the service image and the jobs image."""

from __future__ import annotations

import json

import pulumi
import pulumi_aws as aws

from infra.config_sections import RegistryConfig


def lifecycle_policy(untagged_days: int) -> str:
    """Expire untagged images only; never a tagged one, because a tagged one may be running.

    Nothing in ECR knows which image ECS and Batch run: prod runs the last approved build,
    stage the last one that reached it, the jobs the last promoted one, and a rollback the one
    before. Any rule over tagged images ("the newest N", "younger than N days") can expire one
    of those when builds stop at stage or approval, or when prod stays on one image long
    enough; a task replaced or scaled out later then cannot pull its image. Every image the
    pipeline pushes is tagged and the tags are immutable, so an untagged image is one nothing
    names (an interrupted push), safe to expire. Tagged images share their layers, so each
    build adds little; delete old ones by hand (or tag what is deployed and expire the rest).
    Rules as documented in "Lifecycle policy properties in Amazon ECR"
    (https://docs.aws.amazon.com/AmazonECR/latest/userguide/lifecycle_policy_parameters.html).
    """
    return json.dumps(
        {
            "rules": [
                {
                    "rulePriority": 1,
                    "description": f"Expire untagged images after {untagged_days} day(s); never a tagged one",
                    "selection": {
                        "tagStatus": "untagged",
                        "countType": "sinceImagePushed",
                        "countUnit": "days",
                        "countNumber": untagged_days,
                    },
                    "action": {"type": "expire"},
                }
            ]
        }
    )


class Registry(pulumi.ComponentResource):
    """Immutable, scanned, KMS-encrypted repositories; the pipeline pushes, ECS and Batch pull."""

    service_repo: aws.ecr.Repository
    jobs_repo: aws.ecr.Repository

    def __init__(
        self,
        name: str,
        *,
        config: RegistryConfig,
        key: aws.kms.Key,
        force_delete: bool,
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        super().__init__("ml-deploy:registry:Registry", name, None, opts)
        self._config = config
        self._key = key
        self._force_delete = force_delete
        self.service_repo = self._repository(f"{name}-service")
        self.jobs_repo = self._repository(f"{name}-jobs")
        self.register_outputs(
            {
                "service_repo_url": self.service_repo.repository_url,
                "jobs_repo_url": self.jobs_repo.repository_url,
            }
        )

    def _repository(self, name: str) -> aws.ecr.Repository:
        child = pulumi.ResourceOptions(parent=self)
        repository = aws.ecr.Repository(
            name,
            # Tags name a commit and a model version; a tag that could move would lie about both.
            image_tag_mutability="IMMUTABLE",
            image_scanning_configuration=aws.ecr.RepositoryImageScanningConfigurationArgs(scan_on_push=True),
            encryption_configurations=[
                aws.ecr.RepositoryEncryptionConfigurationArgs(encryption_type="KMS", kms_key=self._key.arn)
            ],
            force_delete=self._force_delete,
            opts=child,
        )
        aws.ecr.LifecyclePolicy(
            name,
            repository=repository.name,
            policy=lifecycle_policy(self._config.untagged_image_days),
            opts=child,
        )
        return repository
