"""What the dashboard reads, as pydantic models that ignore fields they do not use.

`DriftRun` is the monitor's `report.json` (`retrain_job.monitor.report.build_report`); an optional
per-version section (`versions`) is read where the monitor writes one. `QualityReport` is the
quality job's `quality.json`, exactly its documented schema.
"""

from __future__ import annotations

from typing import Literal

from pydantic import AliasChoices, AwareDatetime, BaseModel, ConfigDict, Field

QUALITY_METRICS = ("roc_auc", "log_loss", "brier", "calibration_error", "precision", "recall")


class _Record(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)


class RunFacts(_Record):
    run_id: str
    environment: str
    window_end: AwareDatetime
    champion_version: str | None = None


class Rows(_Record):
    seen: int = Field(ge=0)
    other_model_versions: int = Field(0, ge=0)


class Thresholds(_Record):
    ks: float
    category: float
    psi_drift: float


class FeatureStatistic(_Record):
    name: str
    kind: Literal["numeric", "categorical"]
    status: str
    psi: float | None = None
    statistic: float | None = None  # KS D for numeric features
    distance: float | None = None  # total variation for categorical ones

    @property
    def effect(self) -> float | None:
        """The effect size drift is decided on: KS for numeric, total variation for categorical."""
        return self.statistic if self.kind == "numeric" else self.distance


class PredictionShares(_Record):
    positive_rate_current: float | None = None
    current_shares: list[float] = Field(default_factory=list)


class VersionRows(_Record):
    """One model version's part of a window (the monitor's `versions` section names it `version`)."""

    model_config = ConfigDict(extra="ignore", frozen=True, populate_by_name=True)

    model_version: str = Field(validation_alias=AliasChoices("version", "model_version"))
    rows: int = Field(ge=0)
    prediction: PredictionShares | None = None


class DriftRun(_Record):
    run: RunFacts
    status: str
    rows: Rows
    thresholds: Thresholds
    prediction: PredictionShares | None = None
    features: list[FeatureStatistic] = Field(default_factory=list)
    versions: list[VersionRows] | None = None

    def version_rows(self) -> list[VersionRows]:
        """Rows per model version: the report's own section, else the champion and the rest."""
        if self.versions:
            return [self._with_top_level_prediction(version) for version in self.versions]
        champion = VersionRows(
            model_version=self.run.champion_version or "champion",
            rows=self.rows.seen,
            prediction=self.prediction,
        )
        if self.rows.other_model_versions:
            other = VersionRows(model_version="other versions", rows=self.rows.other_model_versions)
            return [champion, other]
        return [champion]

    def _with_top_level_prediction(self, version: VersionRows) -> VersionRows:
        """The judged version's distribution is the report's top level where its entry has none."""
        if version.prediction is None and version.model_version == self.run.champion_version:
            return version.model_copy(update={"prediction": self.prediction})
        return version


class Metric(_Record):
    value: float | None = None
    low: float | None = None
    high: float | None = None
    holdout: float | None = None
    floor: float | None = None


class VersionQuality(_Record):
    model_version: str
    predictions: int = Field(ge=0)
    with_outcome: int = Field(ge=0)
    coverage: float
    status: Literal["ok", "below_floor", "insufficient"]
    positive_rate_predicted: float
    positive_rate_observed: float | None = None
    metrics: dict[str, Metric] = Field(default_factory=dict)


class Window(_Record):
    start: AwareDatetime
    end: AwareDatetime


class QualityReport(_Record):
    kind: Literal["quality"]
    generated_at: AwareDatetime
    environment: str
    window: Window
    interval: str
    versions: list[VersionQuality] = Field(default_factory=list)
