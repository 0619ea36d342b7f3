"""The model-tracking dashboard in the log bucket: a presigned link to it, a local copy of it, and
the release events the CLI records for its timeline (`ml_deploy.tracking`)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from botocore.exceptions import ClientError

from ml_deploy.tracking import ReleaseEvent, dashboard_key, event_key
from ml_deploy_cli.delivery import Environment
from ml_deploy_cli.errors import CliError

# SigV4 presigned URLs last at most 7 days (https://docs.aws.amazon.com/cli/latest/reference/s3/presign.html);
# one made with temporary credentials ends with them.
MAX_EXPIRES_SECONDS = 604_800
_MISSING = ("NoSuchKey", "404", "NotFound")
_SIGV4_HANDLER = "ml-deploy-dashboard-sigv4"


def _sigv4(**_: Any) -> str:
    return "s3v4"


class Dashboards:
    """The dashboards the monitor jobs write under the reports prefix of the log bucket."""

    def __init__(self, s3: Any, *, log_bucket: str | None, reports_prefix: str) -> None:
        self._s3 = s3
        self._log_bucket = log_bucket
        self._reports_prefix = reports_prefix

    def url(self, environment: Environment, *, expires_in: int) -> str:
        """A presigned GET of the environment's page, once it is known to exist.

        Signed with SigV4 whatever the client's default: botocore presigns S3 with SigV2 unless told
        otherwise, and S3 refuses SigV2 for a KMS-encrypted object, as the log bucket's are
        (https://github.com/boto/boto3/issues/2680).
        """
        bucket, key = self._existing(environment)
        events, event = self._s3.meta.events, "choose-signer.s3.GetObject"
        events.register(event, _sigv4, unique_id=_SIGV4_HANDLER)
        try:
            url = self._s3.generate_presigned_url(
                "get_object", Params={"Bucket": bucket, "Key": key}, ExpiresIn=expires_in
            )
        finally:
            events.unregister(event, unique_id=_SIGV4_HANDLER)
        return str(url)

    def save(self, environment: Environment, target: Path) -> Path:
        """The page copied to `target` (replaced in one rename, never left half-written)."""
        bucket, key = self._existing(environment)
        body = self._s3.get_object(Bucket=bucket, Key=key)["Body"].read()
        target.parent.mkdir(parents=True, exist_ok=True)
        partial = target.with_name(f".{target.name}.partial")
        partial.write_bytes(body)
        partial.replace(target)
        return target

    def record(self, event: ReleaseEvent) -> str:
        """Store one release event; its S3 URL."""
        bucket = self._bucket()
        key = event_key(self._reports_prefix, event)
        self._s3.put_object(
            Bucket=bucket, Key=key, Body=event.model_dump_json().encode(), ContentType="application/json"
        )
        return f"s3://{bucket}/{key}"

    def _existing(self, environment: Environment) -> tuple[str, str]:
        bucket, key = self._bucket(), dashboard_key(self._reports_prefix, environment)
        try:
            self._s3.head_object(Bucket=bucket, Key=key)
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") in _MISSING:
                raise CliError(
                    f"no dashboard for {environment} yet at s3://{bucket}/{key}: the monitor writes it "
                    "at the end of each run (`ml-deploy run-job monitor` runs one now)"
                ) from None
            raise
        return bucket, key

    def _bucket(self) -> str:
        if not self._log_bucket:
            raise CliError("the stack outputs have no 'predictionLogBucket', where the dashboard is")
        return self._log_bucket
