"""Scheduled retraining: train a challenger, gate it against the champion, promote or reject.

Exit codes: 0 promoted (or unchanged: the champion was trained on exactly this data), 1 failure
worth retrying (AWS), 2 bad input (settings, data, champion bundle), 3 challenger rejected by
the gate (the Batch retry strategy must not retry it).
"""

from __future__ import annotations

import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from botocore.exceptions import BotoCoreError, ClientError

from ml_deploy.bundle import BundleError, Manifest, TrainingData, read_bundle, write_bundle
from ml_deploy.schema import FeatureSpec, SchemaError, encode_frame
from ml_deploy.training import build_manifest, evaluate, fingerprint, infer_features, labels, train
from retrain_job import publishing
from retrain_job.data import DataLimits, RetrainInputError, load_training_data
from retrain_job.data import validate_training_data as validate_data
from retrain_job.settings import Settings, parse_settings

EXIT_PROMOTED = 0
EXIT_FAILED = 1
EXIT_INVALID_INPUT = 2
EXIT_REJECTED = 3


@dataclass(frozen=True)
class Champion:
    """The bundle currently at the trigger key, loaded."""

    manifest: Manifest
    model: Any
    stored: publishing.StoredObject


@dataclass
class GateResult:
    passed: bool
    reasons: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class Clients:
    s3: Any
    cloudwatch: Any
    sns: Any


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point: user errors are printed once, without a traceback."""
    try:
        return run(parse_settings(argv))
    except (RetrainInputError, SchemaError, BundleError) as error:
        print(f"retrain: invalid input: {error}", file=sys.stderr)
        return EXIT_INVALID_INPUT
    except (BotoCoreError, ClientError, publishing.PublishError) as error:
        print(f"retrain: failed, safe to retry: {error}", file=sys.stderr)
        return EXIT_FAILED


def run(settings: Settings) -> int:
    """The steps of one retrain, top to bottom."""
    clients = make_clients(settings)
    with tempfile.TemporaryDirectory(prefix="retrain-") as scratch:
        workdir = Path(scratch)
        champion = load_champion(clients.s3, settings=settings, workdir=workdir)
        target = champion.manifest.target if champion else settings.target
        data = load_training_data(settings.training_data_uri, s3=clients.s3)
        validate_training_data(data, champion=champion, target=target, settings=settings)
        data_fingerprint = fingerprint(data)
        if champion and champion.manifest.training_data.fingerprint == data_fingerprint:
            return report_unchanged(clients, settings=settings, champion=champion)
        train_frame, holdout = split_holdout(data, seed=settings.seed, fraction=settings.holdout_fraction)
        del data
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
        champion_metrics = evaluate_champion(champion, holdout=holdout, target=target)
        result = gate(manifest, champion_metrics, settings=settings)
        record = decision_record(
            settings=settings, manifest=manifest, champion=champion,
            champion_metrics=champion_metrics, result=result,
        )  # fmt: skip
        figures = {"TrainingSeconds": training_seconds, "TrainingRows": float(len(train_frame))}
        if not result.passed:
            return reject(clients, settings=settings, record=record, figures=figures)
        bundle_path = write_bundle(workdir / publishing.BUNDLE_FILE, model=model, manifest=manifest)
        return promote(clients, settings=settings, bundle_path=bundle_path, record=record, figures=figures)


def make_clients(settings: Settings) -> Clients:
    """boto3 clients for this run, created here (never at import) so tests can wrap them."""
    import boto3

    session = boto3.session.Session(region_name=settings.region)
    if session.region_name is None:
        raise RetrainInputError("no AWS region: set AWS_REGION (or AWS_DEFAULT_REGION) or --region")
    return Clients(
        s3=session.client("s3"), cloudwatch=session.client("cloudwatch"), sns=session.client("sns")
    )


def load_champion(s3: Any, *, settings: Settings, workdir: Path) -> Champion | None:
    """The current bundle at MODEL_KEY, or None on the first run."""
    path = workdir / "champion.zip"
    stored = publishing.download_champion(
        s3, bucket=settings.model_bucket, key=settings.model_key, target=path
    )
    if stored is None:
        print(f"retrain: no champion at s3://{settings.model_bucket}/{settings.model_key}")
        return None
    try:
        bundle = read_bundle(path)
    except BundleError as error:
        raise RetrainInputError(
            f"champion bundle s3://{settings.model_bucket}/{settings.model_key} is invalid, "
            f"fix or replace it before retraining: {error}"
        ) from None
    return Champion(manifest=bundle.manifest, model=bundle.model, stored=stored)


def validate_training_data(
    data: pd.DataFrame, *, champion: Champion | None, target: str, settings: Settings
) -> None:
    """Schema (against the champion, when there is one), size and label balance."""
    validate_data(
        data,
        features=champion.manifest.features if champion else None,
        target=target,
        limits=DataLimits(min_rows=settings.min_rows, max_label_imbalance=settings.max_label_imbalance),
    )


def split_holdout(data: pd.DataFrame, *, seed: int, fraction: float) -> tuple[pd.DataFrame, pd.DataFrame]:
    """A fresh random holdout from the new data; champion and challenger are scored on it."""
    order = np.random.default_rng(seed).permutation(len(data))
    cut = round(len(data) * fraction)
    return data.iloc[order[cut:]], data.iloc[order[:cut]]


def challenger_features(
    train_frame: pd.DataFrame, *, target: str, champion: Champion | None
) -> list[FeatureSpec]:
    """Schema inferred from the new data, restricted to the champion's features and types.

    Categories and ranges follow the data (a new category is learnt); the feature set does not
    change under the service's feet.
    """
    if champion is None:
        return infer_features(train_frame, target)
    names = champion.manifest.feature_names
    inferred = {spec.name: spec for spec in infer_features(train_frame[[*names, target]], target)}
    for spec in champion.manifest.features:
        if inferred[spec.name].type != spec.type:
            raise RetrainInputError(
                f"training data column {spec.name!r}: expected {spec.type} as in the champion, "
                f"inferred {inferred[spec.name].type}"
            )
    return [inferred[name] for name in names]


def evaluate_champion(
    champion: Champion | None, *, holdout: pd.DataFrame, target: str
) -> dict[str, float] | None:
    if champion is None:
        return None
    X = encode_frame(holdout, champion.manifest.features)
    return evaluate(champion.model, X, labels(holdout, target))


def gate(manifest: Manifest, champion_metrics: dict[str, float] | None, *, settings: Settings) -> GateResult:
    """Pass iff the challenger clears the floor and is within tolerance of the champion."""
    metric = manifest.primary_metric
    challenger = manifest.metrics[metric]
    result = GateResult(passed=True)
    if not challenger >= settings.gate_floor:
        result.passed = False
        result.reasons.append(
            f"challenger {metric} {challenger:.4f} is below GATE_FLOOR {settings.gate_floor:.4f}"
        )
    if champion_metrics is not None:
        champion = champion_metrics[metric]
        if not challenger >= champion - settings.gate_tolerance:
            result.passed = False
            result.reasons.append(
                f"challenger {metric} {challenger:.4f} is worse than champion {champion:.4f} "
                f"by more than GATE_TOLERANCE {settings.gate_tolerance:.4f}"
            )
    if result.passed:
        result.reasons.append(f"challenger {metric} {challenger:.4f} passed the gate")
    return result


def decision_record(
    *,
    settings: Settings,
    manifest: Manifest,
    champion: Champion | None,
    champion_metrics: dict[str, float] | None,
    result: GateResult,
) -> dict[str, Any]:
    """The JSON kept for every decision: what was compared, on what, and why."""
    return {
        "decision": "promoted" if result.passed else "rejected",
        "reasons": result.reasons,
        "decided_at": datetime.now(UTC).isoformat(),
        "code_version": settings.code_version,
        "primary_metric": manifest.primary_metric,
        "gate": {"tolerance": settings.gate_tolerance, "floor": settings.gate_floor},
        "training_data": manifest.training_data.model_dump(),
        "challenger_version": manifest.bundle_version,
        "challenger_metrics": manifest.metrics,
        "champion_version": champion.manifest.bundle_version if champion else None,
        "champion_object_version": champion.stored.version_id if champion else None,
        "champion_metrics": champion_metrics,
        "model_key": settings.model_key,
    }


def reject(clients: Clients, *, settings: Settings, record: dict[str, Any], figures: dict[str, float]) -> int:
    """Record and alert; nothing is written near the trigger key."""
    key = publishing.write_decision(
        clients.s3, bucket=settings.model_bucket, prefix=settings.decisions_prefix, record=record
    )
    publish_run_metrics(clients, settings=settings, record=record, figures=figures)
    alert(
        clients,
        settings=settings,
        subject=f"Retrain rejected challenger {record['challenger_version']}",
        record=record,
    )
    print(f"retrain: rejected: {'; '.join(record['reasons'])} (decision s3://{settings.model_bucket}/{key})")
    return EXIT_REJECTED


def promote(
    clients: Clients,
    *,
    settings: Settings,
    bundle_path: Path,
    record: dict[str, Any],
    figures: dict[str, float],
) -> int:
    """Archive, verify the upload, then copy into the trigger key; record and announce it."""
    archived = publishing.upload_and_verify(
        clients.s3,
        bucket=settings.model_bucket,
        key=publishing.archive_key(settings.archive_prefix, record["challenger_version"]),
        path=bundle_path,
    )
    live = publishing.promote(
        clients.s3, bucket=settings.model_bucket, source=archived, model_key=settings.model_key
    )
    record = {**record, "archive_key": archived.key, "model_object_version": live.version_id}
    key = publishing.write_decision(
        clients.s3, bucket=settings.model_bucket, prefix=settings.decisions_prefix, record=record
    )
    publish_run_metrics(clients, settings=settings, record=record, figures=figures)
    alert(
        clients,
        settings=settings,
        subject=f"Retrain promoted model {record['challenger_version']}",
        record=record,
    )
    print(
        f"retrain: promoted {record['challenger_version']} to "
        f"s3://{settings.model_bucket}/{live.key} (decision {key})"
    )
    return EXIT_PROMOTED


def report_unchanged(clients: Clients, *, settings: Settings, champion: Champion) -> int:
    """Same data as the champion's: no new bundle, so no second pipeline run for one data set."""
    record = {
        "decision": "unchanged",
        "reasons": ["training data fingerprint equals the champion's; nothing to retrain"],
        "decided_at": datetime.now(UTC).isoformat(),
        "code_version": settings.code_version,
        "champion_version": champion.manifest.bundle_version,
        "champion_object_version": champion.stored.version_id,
        "training_data": champion.manifest.training_data.model_dump(),
        "model_key": settings.model_key,
    }
    publishing.write_decision(
        clients.s3, bucket=settings.model_bucket, prefix=settings.decisions_prefix, record=record
    )
    publish_run_metrics(clients, settings=settings, record=record, figures={})
    print(f"retrain: unchanged: champion {champion.manifest.bundle_version} was trained on this data")
    return EXIT_PROMOTED


def publish_run_metrics(
    clients: Clients, *, settings: Settings, record: dict[str, Any], figures: dict[str, float]
) -> None:
    metric = record.get("primary_metric", "roc_auc")
    values = {
        **figures,
        "RetrainPromoted": float(record["decision"] == "promoted"),
        "RetrainRejected": float(record["decision"] == "rejected"),
    }
    if record.get("challenger_metrics"):
        values["ChallengerRocAuc"] = record["challenger_metrics"][metric]
    if record.get("champion_metrics"):
        values["ChampionRocAuc"] = record["champion_metrics"][metric]
    publishing.publish_metrics(
        clients.cloudwatch,
        namespace=settings.metrics_namespace,
        model_key=settings.model_key,
        values=values,
    )


def alert(clients: Clients, *, settings: Settings, subject: str, record: dict[str, Any]) -> None:
    if settings.alerts_topic_arn:
        publishing.send_alert(
            clients.sns, topic_arn=settings.alerts_topic_arn, subject=subject, record=record
        )


if __name__ == "__main__":
    sys.exit(main())
