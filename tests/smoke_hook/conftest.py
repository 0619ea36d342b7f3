"""A real model server per bundle (`python -m service`), buckets in moto, and the documented hook event."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from moto import mock_aws

from ml_deploy.layout import DEFAULT_LAYOUT
from ml_deploy.settings import SmokeHookSettings, environment
from ml_deploy_dev.bad_bundles import swapped_model_bundle
from ml_deploy_dev.servers import serving
from retrain_job.retrain.training import train

REGION = "eu-west-1"
MODELS, RESULTS = "ml-models", "ml-logs"

# The POST_TEST_TRAFFIC_SHIFT example payload of "Lifecycle hooks for Amazon ECS service
# deployments", Amazon ECS Developer Guide
# (https://docs.aws.amazon.com/AmazonECS/latest/developerguide/deployment-lifecycle-hooks.html),
# as the page gives it; the function answers {"hookStatus": "SUCCEEDED" | "FAILED" | "IN_PROGRESS"}.
DOCUMENTED_POST_TEST_TRAFFIC_SHIFT = {
    "serviceArn": "arn:aws:ecs:us-west-2:1234567890:service/myCluster/myService",
    "targetServiceRevisionArn": (
        "arn:aws:ecs:us-west-2:1234567890:service-revision/myCluster/myService/01275892"
    ),
    "testTrafficWeights": {},
    "productionTrafficWeights": {},
}


class LambdaContext:
    """The one method of Lambda's context object the handler calls, with a fixed time budget."""

    def __init__(self, seconds: float = 60.0) -> None:
        self._deadline = time.monotonic() + seconds

    def get_remaining_time_in_millis(self) -> int:
        return int((self._deadline - time.monotonic()) * 1000)


def serve(bundle: Path) -> Iterator[str]:
    """`python -m service` on `bundle`, as stage's task runs it (no payload log); yields its base URL."""
    with serving(bundle, ENVIRONMENT="stage", LOG_LEVEL="warning", LOG_BUCKET=None) as url:
        yield url


@pytest.fixture(scope="module")
def other_model(sample_frame: Any, sample_features: Any) -> Any:
    """A model on the same features fitted on other rows: what a swapped model file holds."""
    return train(sample_frame.iloc[: len(sample_frame) // 2], sample_features, "churned", seed=3)


@pytest.fixture(scope="module")
def swapped_bundle(tmp_path_factory: pytest.TempPathFactory, trained_bundle: Path, other_model: Any) -> Path:
    """The session's bundle with another model put in after its golden records were written."""
    return swapped_model_bundle(
        trained_bundle, tmp_path_factory.mktemp("swapped") / "model-bundle.zip", model=other_model
    )


@pytest.fixture(scope="module")
def good_service(trained_bundle: Path) -> Iterator[str]:
    yield from serve(trained_bundle)


@pytest.fixture(scope="module")
def swapped_service(swapped_bundle: Path) -> Iterator[str]:
    yield from serve(swapped_bundle)


@pytest.fixture
def s3(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """The model and result buckets in moto; the handler's own boto3 client lands here too."""
    for name, value in {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
                        "AWS_DEFAULT_REGION": REGION}.items():  # fmt: skip
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    with mock_aws():
        client = boto3.client("s3", region_name=REGION)
        for bucket in (MODELS, RESULTS):
            client.create_bucket(Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": REGION})
        yield client


@pytest.fixture
def archive(s3: Any) -> Callable[[Path, str], str]:
    """Put a bundle where the retrain job archives bundle `version`; returns the key."""

    def put(bundle: Path, version: str) -> str:
        key = DEFAULT_LAYOUT.archived_bundle_key(version)
        s3.put_object(Bucket=MODELS, Key=key, Body=bundle.read_bytes())
        return key

    return put


def hook_environment(test_url: str, **overrides: Any) -> dict[str, str]:
    """The Lambda's environment as infra builds it: from `SmokeHookSettings` by field name."""
    values: dict[str, Any] = {
        "environment": "stage",
        "model_bucket": MODELS,
        "test_url": test_url,
        "bundle_key_template": DEFAULT_LAYOUT.archived_bundle_key("{version}"),
        "result_bucket": RESULTS,
        "result_key_template": DEFAULT_LAYOUT.smoke_test_key("{environment}", "{version}"),
        **overrides,
    }
    return {name: str(value) for name, value in environment(SmokeHookSettings, **values).items()}
