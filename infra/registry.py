"""ECR repositories for the service image and the jobs image."""

from __future__ import annotations

import json

import pulumi
import pulumi_aws as aws

from infra.platform_config import RegistryConfig


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


def holds_a_tagged_image(repository: aws.ecr.Repository, *, parent: pulumi.Resource) -> pulumi.Output[bool]:
    """Whether the pipeline has pushed to `repository`: ECR lists at least one tagged image there.

    Asked at every `pulumi up` (the aws_ecr_images data source, ListImages), so "the images exist"
    is a fact of the account, not a stack setting a later `pulumi up` from CI could undo. A new
    repository lists no image; an untagged one is an interrupted push, which nothing can pull by tag.
    """
    listed = aws.ecr.get_images_output(
        repository_name=repository.name, opts=pulumi.InvokeOutputOptions(parent=parent)
    )
    return listed.image_ids.apply(lambda ids: any(image.image_tag for image in ids))


class Registry(pulumi.ComponentResource):
    """Immutable, scanned, KMS-encrypted repositories; the pipeline pushes, ECS and Batch pull."""

    service_repo: aws.ecr.Repository
    jobs_repo: aws.ecr.Repository
    # Whether each repository holds an image the pipeline pushed: until then nothing may pull one.
    service_images_pushed: pulumi.Output[bool]
    jobs_images_pushed: pulumi.Output[bool]

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
        self.service_images_pushed = holds_a_tagged_image(self.service_repo, parent=self)
        self.jobs_images_pushed = holds_a_tagged_image(self.jobs_repo, parent=self)
        self.register_outputs(
            {
                "service_repo_url": self.service_repo.repository_url,
                "jobs_repo_url": self.jobs_repo.repository_url,
                "service_images_pushed": self.service_images_pushed,
                "jobs_images_pushed": self.jobs_images_pushed,
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
