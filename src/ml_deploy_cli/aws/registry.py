"""Which image a tag names: ECR's digest for `<account>.dkr.ecr.<region>.amazonaws.com/<repo>:<tag>`.

The repositories are immutable (infra/registry.py), so a tag names one digest forever; `diff`
shows it beside the tag so an operator can match what runs with what was scanned or signed.
"""

from __future__ import annotations

import re
from typing import Any

from botocore.exceptions import ClientError

_ECR_IMAGE = re.compile(
    r"^(?P<registry>\d{12})\.dkr\.ecr\.[a-z0-9-]+\.amazonaws\.com(?:\.cn)?/(?P<repository>[^:@]+)"
)


def image_digest(ecr: Any, image: str) -> str | None:
    """The digest of an image reference: its own (`repo@sha256:...`), else ECR's for its tag; None for
    an image outside ECR or a tag ECR does not hold."""
    if "@" in image:
        return image.rpartition("@")[2]
    match = _ECR_IMAGE.match(image)
    repository_part, _, tag = image.rpartition(":")
    if not match or not tag or "/" in tag or not repository_part:
        return None
    try:
        response = ecr.describe_images(
            registryId=match["registry"],
            repositoryName=match["repository"],
            imageIds=[{"imageTag": tag}],
        )
    except ClientError as error:
        if error.response.get("Error", {}).get("Code") in (
            "ImageNotFoundException",
            "RepositoryNotFoundException",
        ):
            return None
        raise
    details = response.get("imageDetails", [])
    return str(details[0]["imageDigest"]) if details else None
