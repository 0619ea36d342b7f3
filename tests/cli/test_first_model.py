"""`ml-deploy first-model`: a fresh stack gets its first bundle at modelKey from the training bucket.

The retrain job runs as its own process, as on Batch, so the stack is a moto_server on 127.0.0.1
that both this test and the job reach through AWS_ENDPOINT_URL.
"""

from __future__ import annotations

import json
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from moto.server import ThreadedMotoServer

from ml_deploy.bundle import read_manifest
from ml_deploy.layout import DEFAULT_LAYOUT
from ml_deploy_cli.__main__ import main
from ml_deploy_dev import sample_data

REGION = "eu-west-1"
MODEL_BUCKET, TRAINING_BUCKET = "stack-models", "stack-training-data"


@pytest.fixture
def stack(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[Any, Path]]:
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0)
    server.start()
    host, port = server.get_host_and_port()
    endpoint = f"http://{host}:{port}"
    # moto's backends are process-wide: start from an empty account whatever ran before.
    urllib.request.urlopen(urllib.request.Request(f"{endpoint}/moto-api/reset", method="POST"))
    for name, value in {
        "AWS_ENDPOINT_URL": endpoint,
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": REGION,
    }.items():
        monkeypatch.setenv(name, value)
    s3 = boto3.client("s3", region_name=REGION)
    for bucket in (MODEL_BUCKET, TRAINING_BUCKET):
        s3.create_bucket(Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": REGION})
        s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
    outputs = tmp_path / "outputs.json"
    outputs.write_text(
        json.dumps(
            {
                "modelBucket": MODEL_BUCKET,
                "modelKey": DEFAULT_LAYOUT.model_key,
                "trainingDataBucket": TRAINING_BUCKET,
                "alertsTopicArn": f"arn:aws:sns:{REGION}:123456789012:alerts",
            }
        )
    )
    try:
        yield s3, outputs
    finally:
        server.stop()


def _upload_training_data(s3: Any, rows: int) -> None:
    body = sample_data.generate(rows, seed=1).to_parquet(index=False)
    s3.put_object(
        Bucket=TRAINING_BUCKET, Key=f"{DEFAULT_LAYOUT.training_data_prefix}first.parquet", Body=body
    )


def test_first_model_trains_from_the_training_bucket_and_fills_model_key(
    stack: tuple[Any, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    s3, outputs = stack
    _upload_training_data(s3, 3_000)

    assert main(["--outputs", str(outputs), "first-model"]) == 0

    target = tmp_path / "champion.zip"
    s3.download_file(MODEL_BUCKET, DEFAULT_LAYOUT.model_key, str(target))
    manifest = read_manifest(target)
    assert manifest.code_version == "first-model"
    archived = s3.list_objects_v2(Bucket=MODEL_BUCKET, Prefix=DEFAULT_LAYOUT.model_archive_prefix)
    assert [item["Key"] for item in archived["Contents"]] == [
        DEFAULT_LAYOUT.archived_bundle_key(manifest.bundle_version)
    ], "the first bundle must go through the archive, as every promoted bundle does"
    assert "the pipeline starts" in capsys.readouterr().out

    assert main(["--outputs", str(outputs), "first-model"]) == 1, "a second first model replaces the champion"
    assert "already holds a model" in capsys.readouterr().err


def test_first_model_without_training_data_fails_with_the_jobs_reason(
    stack: tuple[Any, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    s3, outputs = stack
    assert main(["--outputs", str(outputs), "first-model"]) == 1
    assert "retrain job exited 2" in capsys.readouterr().err
    listed = s3.list_objects_v2(Bucket=MODEL_BUCKET)
    assert "Contents" not in listed, "a failed first model must leave nothing behind"
