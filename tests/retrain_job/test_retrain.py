"""The retrain job end to end against moto: real boto3 calls on in-process S3, CloudWatch, SNS."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
import numpy as np
import pandas as pd
import pytest
from moto import mock_aws

from ml_deploy.bundle import read_bundle, replay, verify_bundle
from ml_deploy_dev import sample_data
from retrain_job import retrain
from retrain_job.retrain.job import split_holdout

BUCKET = "ml-models"
MODEL_KEY = "bundles/current/model-bundle.zip"
ARCHIVE = "bundles/archive/"
DECISIONS = "retrain/decisions/"
REGION = "eu-west-1"


@dataclass
class Aws:
    s3: Any
    sqs: Any
    queue_url: str
    topic_arn: str

    def keys(self, prefix: str) -> list[str]:
        listing = self.s3.list_objects_v2(Bucket=BUCKET, Prefix=prefix)
        return sorted(item["Key"] for item in listing.get("Contents", []))

    def decisions(self) -> list[dict[str, Any]]:
        return [
            json.loads(self.s3.get_object(Bucket=BUCKET, Key=key)["Body"].read())
            for key in self.keys(DECISIONS)
        ]

    def trigger_versions(self) -> list[dict[str, Any]]:
        listing = self.s3.list_object_versions(Bucket=BUCKET, Prefix=MODEL_KEY)
        return list(listing.get("Versions", []))

    def alerts(self) -> list[str]:
        messages = self.sqs.receive_message(QueueUrl=self.queue_url, MaxNumberOfMessages=10)
        return [json.loads(m["Body"])["Subject"] for m in messages.get("Messages", [])]


@pytest.fixture
def aws(monkeypatch: pytest.MonkeyPatch) -> Iterator[Aws]:
    for name, value in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": REGION,
        "MODEL_BUCKET": BUCKET,
        "MODEL_KEY": MODEL_KEY,
        "MODEL_ARCHIVE_PREFIX": ARCHIVE,
        "DECISIONS_PREFIX": DECISIONS,
        "MIN_ROWS": "500",
        "CODE_VERSION": "abc1234",
    }.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("AWS_REGION", raising=False)
    with mock_aws():
        s3 = boto3.client("s3", region_name=REGION)
        s3.create_bucket(Bucket=BUCKET, CreateBucketConfiguration={"LocationConstraint": REGION})
        s3.put_bucket_versioning(Bucket=BUCKET, VersioningConfiguration={"Status": "Enabled"})
        sns = boto3.client("sns", region_name=REGION)
        sqs = boto3.client("sqs", region_name=REGION)
        topic_arn = sns.create_topic(Name="alerts")["TopicArn"]
        queue_url = sqs.create_queue(QueueName="alerts-inbox")["QueueUrl"]
        queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])
        sns.subscribe(TopicArn=topic_arn, Protocol="sqs", Endpoint=queue_arn["Attributes"]["QueueArn"])
        monkeypatch.setenv("ALERTS_TOPIC_ARN", topic_arn)
        yield Aws(s3=s3, sqs=sqs, queue_url=queue_url, topic_arn=topic_arn)


@pytest.fixture
def champion(aws: Aws, trained_bundle: Path) -> dict[str, Any]:
    """The session's trained bundle as the current champion; returns its S3 object head."""
    aws.s3.put_object(Bucket=BUCKET, Key=MODEL_KEY, Body=trained_bundle.read_bytes())
    return dict(aws.s3.head_object(Bucket=BUCKET, Key=MODEL_KEY))


def _parquet(tmp_path: Path, frame: pd.DataFrame, name: str = "train.parquet") -> str:
    path = tmp_path / name
    frame.to_parquet(path)
    return str(path)


@pytest.fixture(scope="module")
def fresh_frame() -> pd.DataFrame:
    return sample_data.generate(4_000, seed=21)


def test_first_run_from_s3_csv_promotes_to_archive_and_trigger(aws: Aws, fresh_frame) -> None:
    aws.s3.create_bucket(Bucket="data", CreateBucketConfiguration={"LocationConstraint": REGION})
    for part, start in enumerate(range(0, len(fresh_frame), 1_500)):
        body = fresh_frame.iloc[start : start + 1_500].to_csv(index=False).encode()
        aws.s3.put_object(Bucket="data", Key=f"train/part-{part:03}.csv", Body=body)

    status = retrain.main(["--training-data-uri", "s3://data/train/"])

    assert status == retrain.EXIT_PROMOTED
    archived = aws.keys(ARCHIVE)
    assert len(archived) == 1 and archived[0].endswith("/model-bundle.zip"), archived
    live = aws.s3.get_object(Bucket=BUCKET, Key=MODEL_KEY)["Body"].read()
    assert live == aws.s3.get_object(Bucket=BUCKET, Key=archived[0])["Body"].read()
    [decision] = aws.decisions()
    assert decision["decision"] == "promoted" and decision["champion_version"] is None
    assert archived[0] == f"{ARCHIVE}{decision['challenger_version']}/model-bundle.zip"
    assert any("promoted" in subject for subject in aws.alerts())
    metrics = boto3.client("cloudwatch", region_name=REGION).list_metrics(Namespace="MlDeploy")
    names = {m["MetricName"] for m in metrics["Metrics"]}
    assert {"ChallengerRocAuc", "RetrainPromoted", "TrainingSeconds"} <= names, names


def test_good_challenger_replaces_champion(
    aws: Aws, champion: dict[str, Any], fresh_frame, tmp_path: Path
) -> None:
    status = retrain.main(["--training-data-uri", _parquet(tmp_path, fresh_frame)])

    assert status == retrain.EXIT_PROMOTED
    assert len(aws.trigger_versions()) == 2, "the trigger key should have a second version"
    bundle = tmp_path / "live.zip"
    bundle.write_bytes(aws.s3.get_object(Bucket=BUCKET, Key=MODEL_KEY)["Body"].read())
    manifest = verify_bundle(bundle)
    [decision] = aws.decisions()
    assert manifest.bundle_version == decision["challenger_version"]
    assert decision["champion_metrics"]["roc_auc"] > 0.7, "champion scored on the same holdout"
    assert manifest.code_version == "abc1234"


def test_a_promoted_bundle_carries_golden_records_its_model_reproduces(
    aws: Aws, fresh_frame, tmp_path: Path
) -> None:
    """The deployment smoke test replays them; the build refuses a bundle without them."""
    assert retrain.main(["--training-data-uri", _parquet(tmp_path, fresh_frame)]) == retrain.EXIT_PROMOTED
    bundle_path = tmp_path / "live.zip"
    bundle_path.write_bytes(aws.s3.get_object(Bucket=BUCKET, Key=MODEL_KEY)["Body"].read())
    bundle = read_bundle(bundle_path)
    assert bundle.golden_records is not None and len(bundle.golden_records.records) == 256
    _, holdout = split_holdout(fresh_frame, seed=0, fraction=0.2)
    unseen = set(zip(holdout["monthly_charges"], holdout["tenure_months"], strict=True))
    records = [golden.record for golden in bundle.golden_records.records]
    golden_keys = {(record["monthly_charges"], record["tenure_months"]) for record in records}
    assert golden_keys <= unseen, "golden records come from the holdout, rows the model never trained on"
    assert replay(bundle.model, bundle.golden_records, bundle.manifest.features).passed


def test_shuffled_label_challenger_is_rejected_and_trigger_untouched(
    aws: Aws, champion: dict[str, Any], fresh_frame, tmp_path: Path, capsys
) -> None:
    labels = np.random.default_rng(1).permutation(fresh_frame[sample_data.TARGET].to_numpy())
    shuffled = fresh_frame.assign(**{sample_data.TARGET: labels})

    status = retrain.main(["--training-data-uri", _parquet(tmp_path, shuffled)])

    assert status == retrain.EXIT_REJECTED == 3
    head = aws.s3.head_object(Bucket=BUCKET, Key=MODEL_KEY)
    assert (head["VersionId"], head["ETag"]) == (champion["VersionId"], champion["ETag"])
    assert len(aws.trigger_versions()) == 1 and aws.keys(ARCHIVE) == []
    [decision] = aws.decisions()
    assert decision["decision"] == "rejected"
    assert any("GATE_FLOOR" in reason for reason in decision["reasons"]), decision["reasons"]
    assert any("rejected" in subject for subject in aws.alerts())
    assert "rejected" in capsys.readouterr().out


def test_rerun_on_the_same_data_does_not_trigger_again(aws: Aws, fresh_frame, tmp_path: Path) -> None:
    uri = _parquet(tmp_path, fresh_frame)
    assert retrain.main(["--training-data-uri", uri]) == retrain.EXIT_PROMOTED
    assert retrain.main(["--training-data-uri", uri]) == retrain.EXIT_PROMOTED
    assert len(aws.trigger_versions()) == 1, "same data must not produce a second trigger"
    assert [d["decision"] for d in sorted(aws.decisions(), key=lambda d: d["decided_at"])] == [
        "promoted",
        "unchanged",
    ]


@pytest.mark.parametrize(
    ("spoil", "message"),
    [
        (lambda df: df.drop(columns=["monthly_charges"]), "lacks column(s) ['monthly_charges']"),
        (lambda df: df.assign(age="old"), "column 'age': expected numeric values"),
        (lambda df: df.head(100), "has 100 rows, MIN_ROWS requires at least 500"),
        (
            lambda df: df.assign(churned=np.where(np.arange(len(df)) < 20, 1, 0)),
            "MAX_LABEL_IMBALANCE",
        ),
        (lambda df: df.drop(columns=["churned"]), "no target column 'churned'"),
    ],
    ids=["missing-column", "wrong-type", "too-few-rows", "imbalance", "no-target"],
)
def test_bad_data_exits_2_with_a_clear_message(
    aws: Aws, champion: dict[str, Any], fresh_frame, tmp_path: Path, capsys, spoil, message: str
) -> None:
    status = retrain.main(["--training-data-uri", _parquet(tmp_path, spoil(fresh_frame))])

    assert status == retrain.EXIT_INVALID_INPUT == 2
    err = capsys.readouterr().err
    assert message in err, f"expected {message!r} in {err!r}"
    assert "Traceback" not in err
    assert len(aws.trigger_versions()) == 1 and aws.keys(ARCHIVE) == [] and aws.decisions() == []


def test_corrupt_champion_is_a_clear_input_error(aws: Aws, fresh_frame, tmp_path: Path, capsys) -> None:
    aws.s3.put_object(Bucket=BUCKET, Key=MODEL_KEY, Body=b"PK\x03\x04 truncated")
    status = retrain.main(["--training-data-uri", _parquet(tmp_path, fresh_frame)])
    assert status == retrain.EXIT_INVALID_INPUT
    assert "champion bundle" in capsys.readouterr().err


def test_missing_setting_names_the_variable(aws: Aws, monkeypatch: pytest.MonkeyPatch, capsys) -> None:
    monkeypatch.delenv("TRAINING_DATA_URI", raising=False)
    assert retrain.main([]) == retrain.EXIT_INVALID_INPUT
    err = capsys.readouterr().err
    assert "TRAINING_DATA_URI / --training-data-uri: Field required" in err, err
    assert err.count("\n") == 1 and "Traceback" not in err, err


def test_missing_local_data_names_the_path(aws: Aws, tmp_path: Path, capsys) -> None:
    assert retrain.main(["--training-data-uri", str(tmp_path / "nothing")]) == 2
    assert "nothing: no such file or directory" in capsys.readouterr().err
