"""What a deployed model version is, read from its bundle at the archive key (where every bundle
the pipeline built is kept by version, `ml-deploy archive-bundle`): its manifest, with the holdout
metrics `diff` compares."""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

from botocore.exceptions import ClientError

from ml_deploy.bundle import BundleError, Manifest, read_manifest
from ml_deploy.layout import BUNDLE_FILE, archived_bundle_key
from ml_deploy_cli.errors import CliError

_MISSING = ("NoSuchKey", "404", "NotFound")


def archived_manifest(s3: Any, *, bucket: str, archive_prefix: str, version: str) -> Manifest | None:
    """The manifest of bundle `version` at its archive key; None when it is not archived."""
    key = archived_bundle_key(archive_prefix, version)
    with tempfile.TemporaryDirectory(prefix="ml-deploy-diff-") as folder:
        path = Path(folder) / BUNDLE_FILE
        try:
            s3.download_file(bucket, key, str(path))
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") in _MISSING:
                return None
            raise
        try:
            return read_manifest(path)
        except BundleError as error:
            raise CliError(f"s3://{bucket}/{key} is not a sound bundle: {error}") from None
