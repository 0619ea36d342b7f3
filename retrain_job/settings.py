"""Retrain job settings: every flag has an environment variable, so Batch and a laptop agree."""

from __future__ import annotations

import argparse
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from retrain_job.data import RetrainInputError


@dataclass(frozen=True)
class Settings:
    """Everything one retrain run needs, read once at start."""

    model_bucket: str
    model_key: str
    archive_prefix: str
    decisions_prefix: str
    training_data_uri: str
    alerts_topic_arn: str | None
    metrics_namespace: str
    gate_tolerance: float
    gate_floor: float
    min_rows: int
    max_label_imbalance: float
    code_version: str
    region: str | None
    target: str
    holdout_fraction: float
    seed: int


# flag, environment variable, default (None = required), type, help
_OPTIONS: tuple[tuple[str, str, str | None, type, str], ...] = (
    ("--model-bucket", "MODEL_BUCKET", None, str, "bucket holding the model bundles"),
    ("--model-key", "MODEL_KEY", "bundles/current/model-bundle.zip", str, "trigger key"),
    ("--archive-prefix", "MODEL_ARCHIVE_PREFIX", "bundles/archive/", str, "archive prefix"),
    ("--decisions-prefix", "DECISIONS_PREFIX", "retrain/decisions/", str, "decision records"),
    ("--training-data-uri", "TRAINING_DATA_URI", None, str, "s3://bucket/prefix/ or a path"),
    ("--alerts-topic-arn", "ALERTS_TOPIC_ARN", "", str, "SNS topic for alerts (optional)"),
    ("--metrics-namespace", "METRICS_NAMESPACE", "MlDeploy", str, "CloudWatch namespace"),
    ("--gate-tolerance", "GATE_TOLERANCE", "0.01", float, "allowed drop vs the champion"),
    ("--gate-floor", "GATE_FLOOR", "0.70", float, "absolute minimum of the primary metric"),
    ("--min-rows", "MIN_ROWS", "1000", int, "fewest training rows accepted"),
    ("--max-label-imbalance", "MAX_LABEL_IMBALANCE", "0.95", float, "max majority share"),
    ("--code-version", "CODE_VERSION", "unknown", str, "commit that built this job"),
    ("--region", "AWS_REGION", "", str, "AWS region (else AWS_DEFAULT_REGION)"),
    ("--target", "TARGET_COLUMN", "churned", str, "target column when there is no champion"),
    ("--holdout-fraction", "HOLDOUT_FRACTION", "0.2", float, "share of rows held out"),
    ("--seed", "SEED", "0", int, "random seed for split and training"),
)


def parse_settings(argv: Sequence[str] | None, environ: Mapping[str, str] = os.environ) -> Settings:
    """Flags win over environment variables, which win over defaults; bad values name both."""
    parser = argparse.ArgumentParser(
        prog="python -m retrain_job.retrain",
        description="Train a challenger, gate it against the champion, promote it if it passes.",
    )
    for flag, env, default, _, help_text in _OPTIONS:
        parser.add_argument(flag, default=None, help=f"{help_text} [env {env}, default {default!r}]")
    args = vars(parser.parse_args(argv))
    values: dict[str, object] = {}
    for flag, env, default, kind, _ in _OPTIONS:
        name = flag.removeprefix("--").replace("-", "_")
        raw = args[name] if args[name] is not None else environ.get(env, default)
        if name == "region" and not raw:
            raw = environ.get("AWS_DEFAULT_REGION", "")
        if raw is None or (default is None and raw == ""):
            raise RetrainInputError(f"missing setting: set {env} or pass {flag}")
        try:
            values[name] = kind(raw)
        except ValueError:
            raise RetrainInputError(f"{env} / {flag} = {raw!r}: expected {kind.__name__}") from None
    values["alerts_topic_arn"] = values["alerts_topic_arn"] or None
    values["region"] = values["region"] or None
    settings = Settings(**values)  # type: ignore[arg-type]
    _check_ranges(settings)
    return settings


def _check_ranges(settings: Settings) -> None:
    checks = (
        ("GATE_TOLERANCE", settings.gate_tolerance, 0.0, 1.0),
        ("GATE_FLOOR", settings.gate_floor, 0.0, 1.0),
        ("MAX_LABEL_IMBALANCE", settings.max_label_imbalance, 0.5, 1.0),
        ("HOLDOUT_FRACTION", settings.holdout_fraction, 0.01, 0.9),
    )
    for env, value, low, high in checks:
        if not low <= value <= high:
            raise RetrainInputError(f"{env} = {value}: expected a value in [{low}, {high}]")
    if settings.min_rows < 10:
        raise RetrainInputError(f"MIN_ROWS = {settings.min_rows}: expected at least 10")
    for env, prefix in (
        ("MODEL_ARCHIVE_PREFIX", settings.archive_prefix),
        ("DECISIONS_PREFIX", settings.decisions_prefix),
    ):
        if prefix and not prefix.endswith("/"):
            raise RetrainInputError(f"{env} = {prefix!r}: expected a prefix ending in '/'")
