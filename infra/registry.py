"""ECR repositories for the service image and the jobs image."""

from __future__ import annotations

import json

import pulumi
import pulumi_aws as aws

from infra.config_sections import RegistryConfig


def lifecycle_policy(keep: int) -> str:
    """Keep the newest `keep` images; tags are immutable, so old ones are only ever expired."""
    return json.dumps(
        {
            "rules": [
                {
                    "rulePriority": 1,
                    "description": f"Keep the last {keep} images",
                    "selection": {
                        "tagStatus": "any",
                        "countType": "imageCountMoreThan",
                        "countNumber": keep,
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
            policy=lifecycle_policy(self._config.image_retain_count),
            opts=child,
        )
        return repository
