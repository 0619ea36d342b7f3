"""Writing validated outcome objects (`ml_deploy.outcomes`) into the prediction-log bucket.

Each object is one PUT with the bucket's default encryption named explicitly (as bundle uploads
do); when a later PUT of the same upload fails, the objects already written are deleted again,
so a failed upload leaves nothing half-written for the quality job to read.
"""

from __future__ import annotations

import contextlib
from collections.abc import Sequence
from typing import Any

from botocore.exceptions import ClientError

from ml_deploy import outcomes
from ml_deploy_cli.aws.buckets import default_encryption


def put_outcome_objects(s3: Any, *, bucket: str, objects: Sequence[tuple[str, bytes]]) -> list[str]:
    """PUT every (key, gzip body); their S3 URLs. All or none: a failure removes the written ones."""
    encryption = default_encryption(s3, bucket)
    written: list[str] = []
    try:
        for key, body in objects:
            s3.put_object(
                Bucket=bucket, Key=key, Body=body, ContentType=outcomes.CONTENT_TYPE,
                ContentEncoding=outcomes.CONTENT_ENCODING, **encryption,
            )  # fmt: skip
            written.append(key)
    except ClientError:
        for key in written:
            with contextlib.suppress(ClientError):  # the original error is the one to report
                s3.delete_object(Bucket=bucket, Key=key)
        raise
    return [f"s3://{bucket}/{key}" for key in written]
