"""Scheduled retraining: train a challenger, gate it against the champion, promote or reject.

Exit codes (`retrain_job.common`): 0 promoted (or unchanged: the champion was trained on exactly
this data), 1 failure worth retrying (AWS), 2 bad input (settings, data, champion bundle), and
3 challenger rejected by the gate (the Batch retry strategy must not retry it).
"""

from __future__ import annotations

import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ml_deploy.bundle import GoldenRecords, Manifest, TrainingData, write_bundle
from ml_deploy.layout import BUNDLE_FILE
from ml_deploy.settings import RetrainSettings
from retrain_job.common import EXIT_OK, JobClients, run_job
from retrain_job.retrain import publishing
from retrain_job.retrain.champion import Champion, challenger_features, evaluate_champion, load_champion
from retrain_job.retrain.data import DataLimits, load_training_data, validate_training_data
from retrain_job.retrain.gate import decision_record, gate, unchanged_record
from retrain_job.retrain.training import build_manifest, fingerprint, golden_records, train

EXIT_PROMOTED = EXIT_OK
EXIT_REJECTED = 3


@dataclass(frozen=True)
class Challenger:
    """A model trained on the new data, with its manifest (metrics on the holdout) and the holdout
    rows it carries for the deployment smoke test."""

    model: Any
    manifest: Manifest
    golden_records: GoldenRecords
    training_rows: int
    training_seconds: float


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of `python -m retrain_job.retrain`; user errors are printed once, no traceback."""
    return run_job("retrain", lambda: run(RetrainSettings.from_args(argv)))


def run(settings: RetrainSettings) -> int:
    """The steps of one retrain, top to bottom."""
    clients = JobClients(settings)
    with tempfile.TemporaryDirectory(prefix="retrain-") as scratch:
        workdir = Path(scratch)
        champion = load_champion(clients.s3, settings=settings, workdir=workdir)
        target = champion.manifest.target if champion else settings.target
        data = load_training_data(settings.training_data_uri, s3=clients.s3)
        validate_training_data(
            data,
            features=champion.manifest.features if champion else None,
            target=target,
            limits=DataLimits.of(settings),
        )
        data_fingerprint = fingerprint(data)
        if champion and champion.manifest.training_data.fingerprint == data_fingerprint:
            return report_unchanged(clients, settings=settings, champion=champion)
        train_frame, holdout = split_holdout(data, seed=settings.seed, fraction=settings.holdout_fraction)
        del data
        challenger = train_challenger(
            train_frame, holdout, target=target, champion=champion, settings=settings,
            data_fingerprint=data_fingerprint,
        )  # fmt: skip
        del train_frame
        champion_metrics = evaluate_champion(champion, holdout=holdout, target=target)
        result = gate(challenger.manifest, champion_metrics, settings=settings)
        record = decision_record(
            settings=settings, manifest=challenger.manifest, champion=champion,
            champion_metrics=champion_metrics, result=result,
        )  # fmt: skip
        figures = {"TrainingSeconds": challenger.training_seconds, "TrainingRows": challenger.training_rows}
        if not result.passed:
            return reject(clients, settings=settings, record=record, figures=figures)
        bundle = write_bundle(
            workdir / BUNDLE_FILE,
            model=challenger.model,
            manifest=challenger.manifest,
            golden_records=challenger.golden_records,
        )
        return promote(clients, settings=settings, bundle=bundle, record=record, figures=figures)


def split_holdout(data: pd.DataFrame, *, seed: int, fraction: float) -> tuple[pd.DataFrame, pd.DataFrame]:
    """A fresh random holdout from the new data; champion and challenger are scored on it."""
    order = np.random.default_rng(seed).permutation(len(data))
    cut = round(len(data) * fraction)
    return data.iloc[order[cut:]], data.iloc[order[:cut]]


def train_challenger(
    train_frame: pd.DataFrame,
    holdout: pd.DataFrame,
    *,
    target: str,
    champion: Champion | None,
    settings: RetrainSettings,
    data_fingerprint: str,
) -> Challenger:
    """Fit on the training rows (keeping the champion's schema), measure it on the holdout."""
    started = time.perf_counter()
    features = challenger_features(train_frame, target=target, champion=champion)
    model = train(train_frame, features, target, seed=settings.seed)
    training_seconds = time.perf_counter() - started
    manifest = build_manifest(
        model,
        features=features,
        target=target,
        holdout=holdout,
        training_data=TrainingData(
            fingerprint=data_fingerprint,
            rows=len(train_frame) + len(holdout),
            source=settings.training_data_uri,
        ),
        code_version=settings.code_version,
    )
    return Challenger(
        model=model,
        manifest=manifest,
        golden_records=golden_records(model, holdout=holdout, features=features, seed=settings.seed),
        training_rows=len(train_frame),
        training_seconds=training_seconds,
    )


def reject(
    clients: JobClients, *, settings: RetrainSettings, record: dict[str, Any], figures: dict[str, float]
) -> int:
    """Record and alert; nothing is written near the trigger key."""
    key = publishing.publish_decision(clients, settings=settings, record=record, figures=figures)
    print(f"retrain: rejected: {'; '.join(record['reasons'])} (decision s3://{settings.model_bucket}/{key})")
    return EXIT_REJECTED


def promote(
    clients: JobClients,
    *,
    settings: RetrainSettings,
    bundle: Path,
    record: dict[str, Any],
    figures: dict[str, float],
) -> int:
    """Archive, verify the upload, then copy into the trigger key; record and announce it."""
    archived = publishing.upload_and_verify(
        clients.s3,
        bucket=settings.model_bucket,
        key=settings.archived_bundle_key(record["challenger_version"]),
        path=bundle,
    )
    live = publishing.copy_to_trigger(
        clients.s3, bucket=settings.model_bucket, source=archived, model_key=settings.model_key
    )
    record = {**record, "archive_key": archived.key, "model_object_version": live.version_id}
    key = publishing.publish_decision(clients, settings=settings, record=record, figures=figures)
    print(
        f"retrain: promoted {record['challenger_version']} to "
        f"s3://{settings.model_bucket}/{live.key} (decision {key})"
    )
    return EXIT_PROMOTED


def report_unchanged(clients: JobClients, *, settings: RetrainSettings, champion: Champion) -> int:
    """Same data as the champion's: no new bundle, so no second pipeline run for one data set."""
    record = unchanged_record(settings=settings, champion=champion)
    publishing.publish_decision(clients, settings=settings, record=record, figures={})
    print(f"retrain: unchanged: champion {champion.manifest.bundle_version} was trained on this data")
    return EXIT_PROMOTED
