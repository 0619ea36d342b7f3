"""What a bundle says about itself: the manifest schema, its version rule, its summary line."""

from __future__ import annotations

import secrets
from datetime import UTC, datetime, timedelta
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from ml_deploy.reference_types import Reference
from ml_deploy.schema_types import FeatureSpec

FORMAT_VERSION = 1
MANIFEST_NAME = "manifest.json"
MODEL_NAME = "model.skops"
GOLDEN_RECORDS_NAME = "golden_records.json"
# Every type a bundled HistGradientBoostingClassifier needs beyond skops' defaults. Loading refuses
# anything else, so a tampered model file cannot smuggle in a callable.
TRUSTED_TYPES: tuple[str, ...] = ("sklearn.ensemble._hist_gradient_boosting.predictor.TreePredictor",)
_VERSION_PATTERN = r"^\d{8}T\d{6}Z-[0-9a-f]{8}$"


class BundleError(ValueError):
    """A bundle is missing, malformed or tampered with; the message says exactly what."""


class TrainingData(BaseModel):
    """Which data trained the model: a fingerprint to detect retraining on identical data."""

    model_config = ConfigDict(extra="forbid")

    fingerprint: str = Field(pattern=r"^[0-9a-f]{64}$")
    rows: int = Field(ge=0)
    source: str


class ModelFile(BaseModel):
    """The model member of the zip and its SHA-256, checked before anything is loaded."""

    model_config = ConfigDict(extra="forbid")

    name: str = MODEL_NAME
    sha256: str = Field(default="0" * 64, pattern=r"^[0-9a-f]{64}$")
    format: Literal["skops"] = "skops"


class GoldenRecordsFile(BaseModel):
    """The golden-records member of the zip (see `golden`), its SHA-256 and how many it holds."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(GOLDEN_RECORDS_NAME, pattern=r"^[\w.-]+$")
    sha256: str = Field(pattern=r"^[0-9a-f]{64}$")
    records: int = Field(ge=1)


class Manifest(BaseModel):
    """What a bundle is: its version, schema, metrics, provenance and reference statistics."""

    model_config = ConfigDict(extra="forbid")

    format_version: int = FORMAT_VERSION
    bundle_version: str = Field(pattern=_VERSION_PATTERN)
    created_at: datetime
    target: str
    features: list[FeatureSpec] = Field(min_length=1)
    primary_metric: Literal["roc_auc"] = "roc_auc"
    metrics: dict[str, float]
    training_data: TrainingData
    code_version: str
    model_file: ModelFile = Field(default_factory=ModelFile)
    # None in bundles written before golden records existed: they still load and serve, but the
    # build (`pack`) refuses them, because the deployment smoke test has nothing to replay.
    golden_records: GoldenRecordsFile | None = None
    reference: Reference

    @field_validator("format_version")
    @classmethod
    def _supported_format(cls, value: int) -> int:
        if value != FORMAT_VERSION:
            raise ValueError(f"unsupported format_version {value}, this code reads {FORMAT_VERSION}")
        return value

    @field_validator("created_at")
    @classmethod
    def _utc(cls, value: datetime) -> datetime:
        if value.tzinfo is None or value.utcoffset() != timedelta(0):
            raise ValueError("created_at must be a UTC timestamp (ending in Z or +00:00)")
        return value

    @field_validator("features")
    @classmethod
    def _unique_names(cls, value: list[FeatureSpec]) -> list[FeatureSpec]:
        names = [spec.name for spec in value]
        duplicates = sorted({name for name in names if names.count(name) > 1})
        if duplicates:
            raise ValueError(f"duplicate feature names {duplicates}")
        return value

    @model_validator(mode="after")
    def _primary_metric_present(self) -> Manifest:
        if self.primary_metric not in self.metrics:
            raise ValueError(f"metrics lack the primary metric {self.primary_metric!r}")
        return self

    @property
    def feature_names(self) -> list[str]:
        return [spec.name for spec in self.features]

    @property
    def primary_score(self) -> float:
        """The holdout value of the metric the retrain gate compares."""
        return self.metrics[self.primary_metric]


def new_bundle_version(now: datetime | None = None) -> str:
    """A unique version that sorts by creation time, e.g. `20261123T101500Z-3f9a1c2b`."""
    moment = (now or datetime.now(UTC)).astimezone(UTC)
    return f"{moment:%Y%m%dT%H%M%SZ}-{secrets.token_hex(4)}"


def metrics_summary(manifest: Manifest, *, limit: int = 200) -> str:
    """``n=500, roc_auc=0.9123``: the holdout metrics on one line, as the approval request shows them."""
    parts = [
        f"{name}={value:.4g}" if isinstance(value, float) and not value.is_integer() else f"{name}={value:g}"
        for name, value in sorted(manifest.metrics.items())
    ]
    return ", ".join(parts)[:limit] or "none"
