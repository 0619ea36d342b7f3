"""What both images share with the rest of the system, read from the Dockerfiles (no Docker here).

The base comes from ECR Public's mirror of the Docker Official Images, because CodeBuild's shared
egress IPs hit Docker Hub's anonymous pull rate limit; the commit the build passes as a build
argument reaches the runtime as its CODE_VERSION setting; only the shipped library is copied.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from ml_deploy.layout import BUNDLE_FILE
from ml_deploy.settings import RuntimeSettings, ServiceSettings
from tests.dockerfiles import base_image, instructions

REPO = Path(__file__).resolve().parents[1]
DOCKERFILES = {"service": REPO / "service" / "Dockerfile", "jobs": REPO / "retrain_job" / "Dockerfile"}
MIRROR = "public.ecr.aws/docker/library/"


def test_both_images_share_one_base_from_the_ecr_public_mirror() -> None:
    bases = {
        name: {base_image(args) for keyword, args in instructions(path) if keyword == "FROM"}
        for name, path in DOCKERFILES.items()
    }
    assert all(len(found) == 1 for found in bases.values()), f"one base for every stage: {bases}"
    assert bases["service"] == bases["jobs"], f"one pinned base for both images: {bases}"
    (base,) = bases["service"]
    assert base.startswith(MIRROR), f"{base} pulls from Docker Hub"


@pytest.mark.parametrize("image", sorted(DOCKERFILES))
def test_the_commit_the_build_passes_becomes_the_runtime_code_version(image: str) -> None:
    steps = instructions(DOCKERFILES[image])
    variable = RuntimeSettings.variable("code_version")
    assert ("ARG", "COMMIT_ID=unknown") in steps, "the build's --build-arg COMMIT_ID is never declared"
    assert ("ENV", f"{variable}=$COMMIT_ID") in steps, f"{variable} does not carry the commit"
    build = yaml.safe_load((REPO / "buildspec.yml").read_text())["phases"]["build"]["commands"]
    dockerfile = DOCKERFILES[image].relative_to(REPO).as_posix()
    command = next(c for c in build if f"-f {dockerfile}" in c)
    assert '--build-arg COMMIT_ID="$COMMIT_ID"' in command, command


@pytest.mark.parametrize("image", sorted(DOCKERFILES))
def test_images_copy_the_shipped_library_and_no_dev_tools(image: str) -> None:
    copies = [a for k, a in instructions(DOCKERFILES[image]) if k in ("COPY", "ADD")]
    sources = [part for args in copies for part in args.split()[:-1] if not part.startswith("--")]
    assert any(s.rstrip("/") == "src/ml_deploy" for s in sources), copies
    assert not any(s.rstrip("/") in ("src", ".") or "ml_deploy_dev" in s or "infra" in s for s in sources), (
        f"{image} image copies more than the shipped library: {sources}"
    )


def test_the_service_image_serves_the_bundle_where_the_settings_look() -> None:
    steps = instructions(DOCKERFILES["service"])
    default = ServiceSettings.default("model_bundle_path")
    assert default.name == BUNDLE_FILE
    assert ("COPY", f"service/model/{BUNDLE_FILE} {default}") in steps, (
        "the model is not where the service reads it"
    )
