"""Hours of prediction logs of two model versions, each row stamped a millisecond apart.

Distinct timestamps give every row a distinct sampling key, so the bounded sample a merge of
summaries keeps is exactly the one a full read keeps (see `concept.row_keys`).
"""

from __future__ import annotations

import gzip
import json
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from ml_deploy import payload_log
from ml_deploy.bundle import Manifest, TrainingData, write_bundle
from ml_deploy.layout import archived_bundle_key
from ml_deploy.settings import MonitorSettings
from ml_deploy_dev import sample_data
from retrain_job.retrain.training import build_manifest
from tests.retrain_job.conftest import LOG_BUCKET, MODEL_BUCKET, World

OTHER_VERSION = "20261101T000000Z-0badc0de"
FIRST_HOUR = datetime.fromisoformat("2026-11-23T00:00:00+00:00")
HOURS = 8


@pytest.fixture(scope="module")
def frames() -> list[pd.DataFrame]:
    return [sample_data.generate(400, seed=40 + hour) for hour in range(HOURS)]


@pytest.fixture(scope="session")
def other_world(drifted_frame: pd.DataFrame) -> pd.DataFrame:
    """The drifted world without its new payment method (the other version knows no more categories)."""
    frame = drifted_frame.copy()
    frame["payment_method"] = frame["payment_method"].where(
        frame["payment_method"] != sample_data.NEW_PAYMENT_METHOD, None
    )
    return frame


@pytest.fixture(scope="session")
def other_bundle(
    tmp_path_factory: pytest.TempPathFactory,
    trained_model: Any,
    trained_manifest: Manifest,
    other_world: pd.DataFrame,
) -> Path:
    """Another version whose reference is the drifted world: its normal is the champion's drift."""
    holdout = other_world
    manifest = build_manifest(
        trained_model, features=trained_manifest.features, target=sample_data.TARGET, holdout=holdout,
        training_data=TrainingData(fingerprint="0" * 64, rows=len(holdout), source="drifted"),
        code_version="test",
    ).model_copy(update={"bundle_version": OTHER_VERSION})  # fmt: skip
    return write_bundle(
        tmp_path_factory.mktemp("other") / "model-bundle.zip", model=trained_model, manifest=manifest
    )


def archive(world: World, bundle: Path, version: str) -> None:
    world.s3.put_object(
        Bucket=MODEL_BUCKET, Key=archived_bundle_key("bundles/archive/", version), Body=bundle.read_bytes()
    )


def settings(world: World, **overrides: str) -> MonitorSettings:
    return MonitorSettings.from_env({**world.env, **overrides})


def put_rows(s3: Any, lines: list[bytes], *, start: datetime, objects: int = 2) -> list[str]:
    """`lines` as gzip objects in the partition of `start`, row i stamped `start` + i ms."""
    keys = []
    per_object = -(-len(lines) // objects)
    for first in range(0, len(lines), per_object):
        chunk = []
        for i in range(first, min(first + per_object, len(lines))):
            record = json.loads(lines[i])
            record["timestamp"] = payload_log.utc_timestamp(start + timedelta(milliseconds=i))
            chunk.append(json.dumps(record).encode())
        key = payload_log.object_key("predictions/prod/", start, writer=f"t{first}")
        s3.put_object(Bucket=LOG_BUCKET, Key=key, Body=gzip.compress(b"\n".join(chunk) + b"\n"))
        keys.append(key)
    return keys


def fill(world: World, frames: list[pd.DataFrame], other_bundle: object) -> None:
    """Eight hours; from hour 3 on, a second version serves a third of the traffic."""
    archive(world, other_bundle, OTHER_VERSION)  # type: ignore[arg-type]
    for hour, frame in enumerate(frames):
        start = FIRST_HOUR + timedelta(hours=hour, minutes=5)
        champion = frame if hour < 3 else frame.iloc[: len(frame) * 2 // 3]
        put_rows(world.s3, world.lines(champion), start=start, objects=1 + hour % 3)
        if hour >= 3:
            other = world.lines(frame.iloc[len(frame) * 2 // 3 :], model_version=OTHER_VERSION)
            put_rows(world.s3, other, start=start + timedelta(minutes=20), objects=1)
