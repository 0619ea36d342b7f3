"""The quality report (`quality.json`): live model quality per model version, from real outcomes.

Written by the quality job (`retrain_job.quality`) beside the drift monitor's reports and read by
the dashboard; fields may be added, never renamed. Light on purpose (pydantic only). The
CloudWatch metric names are here too, so the stack's alarms and dashboard read what the job writes.
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

REPORT_FILE = "quality.json"
METRIC_NAMES = ("roc_auc", "log_loss", "brier", "calibration_error", "precision", "recall")
"""Every metric of a version, in report order: the same names as the bundle manifest's holdout metrics."""
HIGHER_IS_BETTER = frozenset({"roc_auc", "precision", "recall"})
"""The metrics a floor applies to: the interval's low bound is compared with it."""
CALIBRATION_BINS = 10
"""Equal-width probability bins of `calibration_error` (ECE), as training's holdout computes it."""

Status = Literal["ok", "below_floor", "insufficient"]


def cloudwatch_metric(name: str, *, bound: Literal["value", "low", "high"] = "value") -> str:
    """``QualityRocAuc`` (``QualityRocAucLow``...): a report metric's CloudWatch name."""
    camel = "".join(part.capitalize() for part in name.split("_"))
    return f"Quality{camel}{'' if bound == 'value' else bound.capitalize()}"


COVERAGE_METRIC = "QualityCoverage"
"""Share of a version's matured predictions that got an outcome."""
BELOW_FLOOR_METRIC = "QualityBelowFloor"
"""1 when a version's interval fell below a floor, else 0: what an alarm watches."""


class MetricValue(BaseModel):
    """One metric of one version: its value on the joined rows, its interval, and what to compare."""

    model_config = ConfigDict(extra="forbid")

    value: float | None = Field(description="On the joined rows; null when undefined (e.g. one class).")
    low: float | None = Field(description="Lower bound of the interval (see the report's `interval`).")
    high: float | None = Field(description="Upper bound of the interval.")
    holdout: float | None = Field(description="The bundle's own holdout value, from its manifest.")
    floor: float | None = Field(description="The configured floor the low bound is held to, if any.")


class VersionQuality(BaseModel):
    """The quality of one model version's matured predictions; versions are never mixed."""

    model_config = ConfigDict(extra="forbid", protected_namespaces=())

    model_version: str
    predictions: int = Field(ge=0, description="Predictions of this version in the window.")
    with_outcome: int = Field(ge=0, description="Of those, the ones an outcome was joined to.")
    coverage: float = Field(ge=0, le=1, description="with_outcome / predictions (0 without predictions).")
    status: Status
    positive_rate_predicted: float = Field(description="Share predicted positive at the decision threshold.")
    positive_rate_observed: float | None = Field(description="Share of joined outcomes that are positive.")
    metrics: dict[str, MetricValue]


class QualityWindow(BaseModel):
    model_config = ConfigDict(extra="forbid")

    start: datetime
    end: datetime


class OutcomeCounts(BaseModel):
    """What happened to the outcomes read (an added field: the dashboard may ignore it)."""

    model_config = ConfigDict(extra="forbid")

    read: int = Field(0, ge=0, description="Valid outcome lines read.")
    duplicates: int = Field(0, ge=0, description="Outcomes superseded by a later one for the same record.")
    unmatched: int = Field(0, ge=0, description="Outcomes naming no prediction of the window.")
    before_prediction: int = Field(0, ge=0, description="Outcomes observed before the prediction they name.")
    malformed: int = Field(0, ge=0, description="Outcome lines that are not the outcome format.")


class QualityReport(BaseModel):
    """`quality.json`: one run of the quality job."""

    model_config = ConfigDict(extra="forbid")

    kind: Literal["quality"] = "quality"
    generated_at: datetime
    environment: str
    window: QualityWindow = Field(description="Predictions stamped in [start, end) were judged.")
    interval: str = Field(description="How intervals are computed, e.g. 'bootstrap-95' (percentile).")
    versions: list[VersionQuality]
    outcomes: OutcomeCounts = Field(default_factory=OutcomeCounts)
