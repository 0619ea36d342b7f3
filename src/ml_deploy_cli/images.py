"""What an image reference says about the code and model inside it.

`buildspec.yml` tags every service image ``<first 12 characters of the commit>-<model version>``
(`IMAGE_TAG`), and the repositories are immutable, so the tag names one commit and one model
version forever. The first task definition runs ``initialImageTag`` (``bootstrap``), which names
neither.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_COMMIT = re.compile(r"^[0-9a-f]{7,40}$")


@dataclass(frozen=True)
class ImageRef:
    """An image reference split into its parts; `commit` and `model_version` are None when the tag
    is not one the build writes (the bootstrap image, a digest reference)."""

    image: str
    tag: str | None
    commit: str | None
    model_version: str | None

    @property
    def label(self) -> str:
        """The short form people compare: the tag, or the whole reference without one."""
        return self.tag or self.image


def parse_image(image: str) -> ImageRef:
    """Split ``<repository>:<commit>-<model version>``; anything else keeps only what it has."""
    if "@" in image:
        return ImageRef(image=image, tag=None, commit=None, model_version=None)
    repository, _, tag = image.rpartition(":")
    if not repository or "/" in tag:
        return ImageRef(image=image, tag=None, commit=None, model_version=None)
    commit, separator, model_version = tag.partition("-")
    if not separator or not model_version or not _COMMIT.match(commit):
        return ImageRef(image=image, tag=tag, commit=None, model_version=None)
    return ImageRef(image=image, tag=tag, commit=commit, model_version=model_version)
