"""The Source stage's two actions: the code at HEAD, and the exact S3 object version uploaded.

The code artifact is `git archive HEAD` (what is committed, not the working tree), with the
variables the CodeConnections action sets; the model artifact is the object version the upload
event names, unzipped as CodePipeline hands an S3 source to CodeBuild.
"""

from __future__ import annotations

import io
import subprocess
import tarfile
import zipfile
from pathlib import Path
from typing import Any


def code_at_head(repository: Path, target: Path) -> dict[str, str]:
    """Extract HEAD into `target`; the action's output variables (SourceVariables)."""
    commit = _git(repository, "rev-parse", "HEAD").strip()
    archive = subprocess.run(
        ["git", "-C", str(repository), "archive", "--format=tar", commit], capture_output=True, check=True
    ).stdout
    target.mkdir(parents=True, exist_ok=True)
    with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
        tar.extractall(target, filter="data")
    return {
        "CommitId": commit,
        "BranchName": _git(repository, "rev-parse", "--abbrev-ref", "HEAD").strip(),
        "CommitMessage": _git(repository, "log", "-1", "--format=%s").strip(),
        "AuthorDate": _git(repository, "log", "-1", "--format=%aI").strip(),
        "FullRepositoryName": repository.name,
    }


def model_object(s3: Any, *, bucket: str, key: str, version_id: str, target: Path) -> dict[str, str]:
    """Fetch exactly `version_id` of the key and unzip it into `target`; ModelVariables."""
    response = s3.get_object(Bucket=bucket, Key=key, VersionId=version_id)
    target.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(io.BytesIO(response["Body"].read())) as bundle:
        bundle.extractall(target)
    return {"VersionId": response["VersionId"], "ETag": response["ETag"].strip('"'), "ObjectKey": key}


def _git(repository: Path, *args: str) -> str:
    return subprocess.run(
        ["git", "-C", str(repository), *args], capture_output=True, text=True, check=True
    ).stdout
