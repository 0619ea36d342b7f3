"""Everything the retrain job reads from and writes to AWS: bundles, decision records, metrics, alerts.

A new bundle goes to its archive key first, is re-downloaded and verified there, and only then is
copied server-side to the trigger key: S3 writes are atomic, so the pipeline never sees a partial
or unverified bundle.
"""

from __future__ import annotations

import hashlib
import json
import tempfile
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from botocore.exceptions import ClientError

from ml_deploy.bundle import BundleError, verify_bundle
from ml_deploy.layout import BUNDLE_FILE
from ml_deploy.settings import RetrainSettings
from retrain_job.common import JobClients, JobFailure, metric, put_metrics, send_alert


class PublishError(JobFailure):
    """An uploaded bundle does not read back as written; the run can be retried."""


@dataclass(frozen=True)
class StoredObject:
    """Where an object is and which version of it, so a decision record can point at it."""

    key: str
    version_id: str | None
    etag: str


def download_champion(s3: Any, *, bucket: str, key: str, target: Path) -> StoredObject | None:
    """Fetch the bundle at the trigger key into `target`; None when there is none yet."""
    try:
        response = s3.get_object(Bucket=bucket, Key=key)
    except ClientError as error:
        if error.response.get("Error", {}).get("Code") in {"NoSuchKey", "404"}:
            return None
        raise
    target.write_bytes(response["Body"].read())
    return StoredObject(key=key, version_id=response.get("VersionId"), etag=response["ETag"])


def upload_and_verify(s3: Any, *, bucket: str, key: str, path: Path) -> StoredObject:
    """Upload a local bundle, then download it again and verify it byte for byte."""
    body = path.read_bytes()
    response = s3.put_object(
        Bucket=bucket,
        Key=key,
        Body=body,
        ContentType="application/zip",
        ChecksumAlgorithm="SHA256",
    )
    stored = StoredObject(key=key, version_id=response.get("VersionId"), etag=response["ETag"])
    extra = {"VersionId": stored.version_id} if stored.version_id else {}
    uploaded = s3.get_object(Bucket=bucket, Key=key, **extra)["Body"].read()
    expected, actual = hashlib.sha256(body).hexdigest(), hashlib.sha256(uploaded).hexdigest()
    if actual != expected:
        raise PublishError(f"s3://{bucket}/{key}: uploaded sha256 {actual} != local {expected}")
    with tempfile.TemporaryDirectory() as scratch:
        copy = Path(scratch) / BUNDLE_FILE
        copy.write_bytes(uploaded)
        try:
            verify_bundle(copy)
        except BundleError as error:
            raise PublishError(f"s3://{bucket}/{key} fails verification: {error}") from None
    return stored


def copy_to_trigger(s3: Any, *, bucket: str, source: StoredObject, model_key: str) -> StoredObject:
    """Server-side copy of a verified archive object to the trigger key (complete or nothing)."""
    copy_source = {"Bucket": bucket, "Key": source.key}
    if source.version_id:
        copy_source["VersionId"] = source.version_id
    response = s3.copy_object(Bucket=bucket, Key=model_key, CopySource=copy_source, MetadataDirective="COPY")
    return StoredObject(
        key=model_key,
        version_id=response.get("VersionId"),
        etag=response["CopyObjectResult"]["ETag"],
    )


def write_decision(s3: Any, *, bucket: str, prefix: str, record: dict[str, Any]) -> str:
    """Store one JSON decision record, keyed by time and challenger version so keys sort."""
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    key = f"{prefix}{stamp}-{record['decision']}-{record.get('challenger_version') or 'none'}.json"
    s3.put_object(
        Bucket=bucket,
        Key=key,
        Body=json.dumps(record, indent=2, sort_keys=True, default=str).encode(),
        ContentType="application/json",
    )
    return key


def publish_decision(
    clients: JobClients, *, settings: RetrainSettings, record: dict[str, Any], figures: dict[str, float]
) -> str:
    """Keep the decision record, publish the run's metrics, alert on a promotion or rejection.

    Returns the record's key.
    """
    key = write_decision(
        clients.s3, bucket=settings.model_bucket, prefix=settings.decisions_prefix, record=record
    )
    put_metrics(
        clients.cloudwatch,
        namespace=settings.metrics_namespace,
        metrics=run_metrics(record, figures=figures, model_key=settings.model_key),
    )
    if record["decision"] != "unchanged":
        send_alert(clients, settings, job="retrain", summary=_alert_summary(record), body=_alert_body(record))
    return key


def run_metrics(record: dict[str, Any], *, figures: dict[str, float], model_key: str) -> list[dict[str, Any]]:
    """Every figure of this run, dimensioned by the trigger key, for one PutMetricData call."""
    primary = record.get("primary_metric", "roc_auc")
    values = {
        **figures,
        "RetrainPromoted": float(record["decision"] == "promoted"),
        "RetrainRejected": float(record["decision"] == "rejected"),
    }
    if record.get("challenger_metrics"):
        values["ChallengerRocAuc"] = record["challenger_metrics"][primary]
    if record.get("champion_metrics"):
        values["ChampionRocAuc"] = record["champion_metrics"][primary]
    dimensions = {"ModelKey": model_key}
    return [metric(name, value, dimensions=dimensions) for name, value in sorted(values.items())]


def _alert_summary(record: dict[str, Any]) -> str:
    if record["decision"] == "promoted":
        return f"promoted model {record['challenger_version']}"
    return f"rejected challenger {record['challenger_version']}"


def _alert_body(record: dict[str, Any]) -> str:
    """A message a person can read, with the full decision record below the summary."""
    summary = "; ".join(record.get("reasons", [])) or record["decision"]
    return f"{summary}\n\n{json.dumps(record, indent=2, sort_keys=True, default=str)}"
