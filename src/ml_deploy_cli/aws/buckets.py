"""The S3 side: shipping a bundle to the trigger key, and reading what the jobs last wrote.

Decision records are `<decisions prefix><UTC stamp>-<decision>-<version>.json`
(retrain_job/publishing.py), so the greatest key is the newest; the monitor keeps each
environment's newest report at `<reports prefix>latest/<environment>/report.json`.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from botocore.exceptions import ClientError

from ml_deploy.bundle import Manifest
from ml_deploy_cli.delivery import DriftReport, Environment, RetrainDecision, UploadedBundle
from ml_deploy_cli.errors import CliError

_MISSING = ("NoSuchKey", "404", "NotFound")


class Buckets:
    """The model bucket (bundles, decisions) and the log bucket (drift reports)."""

    def __init__(
        self,
        s3: Any,
        *,
        model_bucket: str,
        model_key: str,
        log_bucket: str | None,
        decisions_prefix: str,
        reports_prefix: str,
    ) -> None:
        self._s3 = s3
        self._model_bucket = model_bucket
        self._model_key = model_key
        self._log_bucket = log_bucket
        self._decisions_prefix = decisions_prefix
        self._reports_prefix = reports_prefix

    def upload_bundle(self, path: Path, *, manifest: Manifest) -> UploadedBundle:
        """One PUT to the trigger key with the bucket's own default encryption named explicitly."""
        with path.open("rb") as body:
            response = self._s3.put_object(
                Bucket=self._model_bucket,
                Key=self._model_key,
                Body=body,
                ContentType="application/zip",
                ChecksumAlgorithm="SHA256",
                Metadata={"bundle-version": manifest.bundle_version, "uploaded-with": "ml-deploy"},
                **self._encryption(),
            )
        return UploadedBundle(
            bucket=self._model_bucket,
            key=self._model_key,
            version_id=response.get("VersionId"),
            encryption=response.get("ServerSideEncryption"),
        )

    def model_at_key(self) -> str | None:
        """`s3://bucket/key (object version ...)` when the trigger key holds a bundle; None when not."""
        try:
            head = self._s3.head_object(Bucket=self._model_bucket, Key=self._model_key)
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") in _MISSING:
                return None
            raise
        version = f" (object version {head['VersionId']})" if head.get("VersionId") else ""
        return f"s3://{self._model_bucket}/{self._model_key}{version}"

    def last_decision(self) -> RetrainDecision | None:
        newest = self._newest_key(self._model_bucket, self._decisions_prefix)
        if newest is None:
            return None
        record = self._json(self._model_bucket, newest)
        return RetrainDecision(
            location=f"s3://{self._model_bucket}/{newest}",
            decision=str(record.get("decision", "?")),
            decided_at=record.get("decided_at"),
            challenger_version=record.get("challenger_version"),
            champion_version=record.get("champion_version"),
            reasons=[str(reason) for reason in record.get("reasons", [])],
        )

    def drift_report(self, environment: Environment) -> DriftReport | None:
        if not self._log_bucket:
            raise CliError("the stack outputs have no 'predictionLogBucket', where drift reports are")
        key = f"{self._reports_prefix}latest/{environment}/report.json"
        try:
            report = self._json(self._log_bucket, key)
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") in _MISSING:
                return None
            raise
        return DriftReport(
            location=f"s3://{self._log_bucket}/{key}",
            status=str(report.get("status", "?")),
            window_end=report.get("run", {}).get("window_end"),
            rows_seen=report.get("rows", {}).get("seen"),
            drifted_features=[str(name) for name in report.get("drifted_features", [])],
        )

    def _encryption(self) -> dict[str, Any]:
        return default_encryption(self._s3, self._model_bucket)

    def _newest_key(self, bucket: str, prefix: str) -> str | None:
        pages = self._s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix)
        keys = [item["Key"] for page in pages for item in page.get("Contents", [])]
        return max((key for key in keys if key.endswith(".json")), default=None)

    def _json(self, bucket: str, key: str) -> dict[str, Any]:
        body = self._s3.get_object(Bucket=bucket, Key=key)["Body"].read()
        try:
            document = json.loads(body)
        except (UnicodeDecodeError, json.JSONDecodeError) as error:
            raise CliError(f"s3://{bucket}/{key} is not JSON ({error})") from None
        if not isinstance(document, dict):
            raise CliError(f"s3://{bucket}/{key} is not a JSON object")
        return document


def default_encryption(s3: Any, bucket: str) -> dict[str, Any]:
    """The bucket's default encryption as PUT arguments, so a policy requiring them is met."""
    try:
        config = s3.get_bucket_encryption(Bucket=bucket)
    except ClientError as error:
        if error.response.get("Error", {}).get("Code") in (
            "ServerSideEncryptionConfigurationNotFoundError",
            "AccessDenied",
        ):
            return {}  # the bucket's default applies either way
        raise
    rules = config.get("ServerSideEncryptionConfiguration", {}).get("Rules", [])
    rule = rules[0] if rules else {}
    default = rule.get("ApplyServerSideEncryptionByDefault", {})
    arguments: dict[str, Any] = {}
    if default.get("SSEAlgorithm"):
        arguments["ServerSideEncryption"] = default["SSEAlgorithm"]
    if default.get("KMSMasterKeyID"):
        arguments["SSEKMSKeyId"] = default["KMSMasterKeyID"]
        arguments["BucketKeyEnabled"] = bool(rule.get("BucketKeyEnabled"))
    return arguments
