"""Keeping a bundle at its version's archive key, once: archive keys are immutable.

The deployment smoke test reads a version's golden records from its archived bundle, so every
bundle the pipeline builds must be there, including hand uploads, which write only the trigger
key. The write is S3's conditional PUT (`IfNoneMatch="*"`, conditional-writes.html): it fails
with 412 PreconditionFailed when the key holds an object, and with 409 ConditionalRequestConflict
when a concurrent write to the key raced it (retry). No check-then-put window, no overwrite.

Bundles are compared by content, not zip bytes: the build re-zips the members CodePipeline
unpacked, so the retrain job's archived zip and the build's differ in timestamps while holding
the same manifest, model and golden records.
"""

from __future__ import annotations

import hashlib
import io
import time
import zipfile
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from botocore.exceptions import ClientError

from ml_deploy.layout import archived_bundle_key
from ml_deploy_cli.aws.buckets import default_encryption
from ml_deploy_cli.errors import CliError

PUT_ATTEMPTS = 4
"""Conditional PUTs tried before giving up on a key other writers keep racing (409 each time)."""
CONFLICT_BACKOFF_SECONDS = 0.5

_EXISTS = "PreconditionFailed"  # 412: the key holds an object
_RACED = "ConditionalRequestConflict"  # 409: a concurrent write to the key; AWS says retry
# Deleted between our 412 and our read: write it again. (S3 says NoSuchKey only to a caller that
# may list the bucket; the build role may not, so there it is an AccessDenied, reported as is.)
_GONE = ("NoSuchKey", "404")


@dataclass(frozen=True)
class ArchivedBundle:
    """Where a bundle is archived, and whether this call wrote it or found it there already."""

    bucket: str
    key: str
    content_sha256: str
    written: bool
    version_id: str | None = None

    @property
    def location(self) -> str:
        return f"s3://{self.bucket}/{self.key}"


def content_sha256(data: bytes) -> str:
    """SHA-256 over the zip's members (each name with its SHA-256, by name): equal for the same
    bundle however it was zipped. Data that is no zip gets the SHA-256 of its bytes."""
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            members = sorted((info for info in archive.infolist() if not info.is_dir()), key=_name)
            lines = [f"{info.filename}\0{_sha256(archive.read(info))}\n" for info in members]
    except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, EOFError, NotImplementedError, zlib.error):
        return _sha256(data)
    return _sha256("".join(lines).encode())


def _name(info: zipfile.ZipInfo) -> str:
    return info.filename


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def archive_bundle(
    s3: Any, *, path: Path, bucket: str, archive_prefix: str, bundle_version: str
) -> ArchivedBundle:
    """Put the bundle at its version's archive key (`archived_bundle_key`) unless that key holds it already.

    The same bundle there is a no-op; a different one is a CliError naming both content checksums.
    """
    key = archived_bundle_key(archive_prefix, bundle_version)
    body = path.read_bytes()
    ours = content_sha256(body)
    try:
        put = {
            "Bucket": bucket,
            "Key": key,
            "Body": body,
            "IfNoneMatch": "*",
            "ContentType": "application/zip",
            "ChecksumAlgorithm": "SHA256",
            "Metadata": {"bundle-version": bundle_version, "content-sha256": ours},
            **default_encryption(s3, bucket),
        }
        for attempt in range(PUT_ATTEMPTS):
            time.sleep(CONFLICT_BACKOFF_SECONDS * attempt)
            archived = _conditional_put(s3, put, ours=ours)
            if archived is not None:
                return archived
    except ClientError as error:
        if _code(error) == "NoSuchBucket":
            raise CliError(f"model bucket {bucket!r} does not exist (NoSuchBucket)") from None
        raise
    raise CliError(
        f"s3://{bucket}/{key}: {PUT_ATTEMPTS} conditional writes in a row met a concurrent write "
        f"to the same key (409 {_RACED}); run again"
    )


def _conditional_put(s3: Any, put: dict[str, Any], *, ours: str) -> ArchivedBundle | None:
    """One PUT if the key is free; None when it is to be tried again (409, or deleted after a 412)."""
    bucket, key = put["Bucket"], put["Key"]
    try:
        response = s3.put_object(**put)
    except ClientError as error:
        if _code(error) == _RACED:
            return None
        if _code(error) != _EXISTS:
            raise
        theirs = _archived_content(s3, bucket=bucket, key=key)
        return None if theirs is None else _same_or_refuse(bucket=bucket, key=key, ours=ours, theirs=theirs)
    return ArchivedBundle(bucket, key, ours, written=True, version_id=response.get("VersionId"))


def _archived_content(s3: Any, *, bucket: str, key: str) -> str | None:
    """The content checksum of what the key holds; None when it was deleted in the meantime."""
    try:
        data = s3.get_object(Bucket=bucket, Key=key)["Body"].read()
    except ClientError as error:
        if _code(error) in _GONE:
            return None
        raise
    return content_sha256(data)


def _same_or_refuse(*, bucket: str, key: str, ours: str, theirs: str) -> ArchivedBundle:
    if theirs != ours:
        raise CliError(
            f"s3://{bucket}/{key} already holds a different bundle of this version (content sha256 "
            f"{theirs} archived, {ours} here); archive keys are immutable: give the bundle a new version"
        )
    return ArchivedBundle(bucket, key, ours, written=False)


def _code(error: ClientError) -> str:
    return str(error.response.get("Error", {}).get("Code", ""))
