"""The monitor's verdict on a window: its status, the metrics that record it, and its summary."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from ml_deploy.bundle import Manifest
from ml_deploy.settings import MonitorSettings
from retrain_job.common import metric
from retrain_job.monitor import concept, drift
from retrain_job.monitor.publishing import RetrainDecision
from retrain_job.monitor.text import clip
from retrain_job.monitor.window import WindowCounts

CONCEPT_MIN_SAMPLE = 100  # fewer sampled rows than this: the classifier check is skipped
MAX_REASONS = 6  # per feature in the alert; the report lists every one


@dataclass
class Verdict:
    status: str  # drift | ok | not enough data | no data
    features: list[drift.FeatureDrift]
    prediction: drift.PredictionDrift | None
    concept: concept.ConceptDrift | None

    @property
    def drifted(self) -> list[drift.FeatureDrift]:
        """Features that alert: drifted, or absent from every row of the window."""
        return [feature for feature in self.features if feature.status in drift.ALERTING]


def thresholds_of(settings: MonitorSettings) -> drift.Thresholds:
    """The effect sizes and row count that mark drift, as this run is configured."""
    return drift.Thresholds(
        psi_drift=settings.psi_threshold,
        psi_moderate=settings.psi_moderate,
        ks=settings.ks_threshold,
        category=settings.category_threshold,
        missing=settings.missing_threshold,
        unseen=settings.unseen_threshold,
        min_rows=settings.min_rows,
    )


def assess(
    manifest: Manifest, counts: WindowCounts, *, sample: concept.Sample | None, settings: MonitorSettings
) -> Verdict:
    """Statistics per feature and for predictions; the window's status decides what follows."""
    if counts.rows == 0:
        return Verdict("no data", [], None, None)
    thresholds = thresholds_of(settings)
    features = drift.compare(manifest, counts, thresholds=thresholds)
    prediction = drift.compare_predictions(manifest.reference.prediction, counts, thresholds=thresholds)
    if counts.rows < thresholds.min_rows:
        return Verdict("not enough data", features, prediction, None)
    found = None
    if sample is not None and len(sample.rows) >= CONCEPT_MIN_SAMPLE:
        found = concept.detect(manifest, sample, threshold=settings.concept_auc_threshold)
    drifted = any(f.status in drift.ALERTING for f in features) or prediction.status == "drift"
    drifted = drifted or bool(found and found.drifted)
    return Verdict("drift" if drifted else "ok", features, prediction, found)


def metrics_of(verdict: Verdict, counts: WindowCounts, *, dimensions: dict[str, str]) -> list[dict[str, Any]]:
    metrics = [
        metric("RowsSeen", counts.rows, dimensions=dimensions, unit="Count"),
        metric("MalformedRows", counts.malformed, dimensions=dimensions, unit="Count"),
    ]
    if verdict.status in ("no data", "not enough data"):
        return metrics  # statistics of a handful of rows would only page people
    metrics.append(metric("DriftedFeatures", len(verdict.drifted), dimensions=dimensions, unit="Count"))
    if verdict.prediction:
        metrics.append(metric("PredictionPSI", verdict.prediction.psi, dimensions=dimensions))
    if verdict.concept:
        metrics.append(metric("ConceptAUC", verdict.concept.auc, dimensions=dimensions))
    for feature in verdict.features:
        per_feature = {**dimensions, "Feature": feature.name}
        metrics.append(metric("MissingRate", feature.missing_rate_current, dimensions=per_feature))
        if feature.status == "absent":
            continue  # no distribution to measure; CloudWatch refuses NaN
        metrics.append(metric("PSI", feature.psi, dimensions=per_feature))
        if feature.ks is not None:
            metrics.append(metric("KS", feature.ks, dimensions=per_feature))
        if feature.distance is not None:
            metrics.append(metric("CategoryDistance", feature.distance, dimensions=per_feature))
    return metrics


def alert_summary(verdict: Verdict, *, environment: str) -> str:
    """What the alert's subject says: where, and which features drifted."""
    names = ", ".join(clip(f.name, 40) for f in verdict.drifted) or "predictions"
    return f"drift in {environment}: {len(verdict.drifted)} feature(s): {names}"


def _measures(feature: drift.FeatureDrift) -> str:
    """`name (KS 0.123, PSI 0.456)`: the feature's effect sizes, whatever decided its status."""
    measures = [f"KS {feature.ks:.3f}"] if feature.ks is not None else []
    measures += [f"TV {feature.distance:.3f}"] if feature.distance is not None else []
    measures += [f"PSI {feature.psi:.3f}"] if math.isfinite(feature.psi) else []
    return f"{clip(feature.name)} ({', '.join(measures)})" if measures else clip(feature.name)


def summary(
    verdict: Verdict, counts: WindowCounts, *, report_url: str, retrain: RetrainDecision | None
) -> str:
    """What happened, in words: the job's log line and the alert body."""
    lines = [f"Monitor result: {verdict.status}. Rows {counts.rows}, malformed {counts.malformed}."]
    if verdict.status == "no data":
        lines.append("No prediction logs in the window: nothing to compare (is the service logging?).")
    if counts.corrupt_objects:
        lines.append(
            f"{len(counts.corrupt_objects)} log object(s) were truncated or not gzip; see the report."
        )
    if counts.outside_window:
        lines.append(
            f"{counts.outside_window} row(s) in the partitions read were stamped outside the window."
        )
    for feature in verdict.drifted:
        lines.append(f"- {_measures(feature)}: " + "; ".join(feature.reasons[:MAX_REASONS]))
    if verdict.prediction and verdict.status != "no data":
        p = verdict.prediction
        lines.append(
            f"Predictions: PSI {p.psi:.3f}, KS {p.ks:.3f}, positive rate "
            f"{p.positive_rate_reference:.3f} -> {p.positive_rate_current:.3f} ({p.status})."
        )
    if verdict.concept:
        c = verdict.concept
        lines.append(f"Reference-vs-production classifier AUC {c.auc:.3f} (threshold {c.threshold}).")
    if retrain:
        lines.append(
            f"Retrain: {'submitted job ' + str(retrain.job_id) if retrain.submitted else retrain.reason}."
        )
    lines.append(
        f"Report: {report_url} (report.json beside it; the newest is always under latest/<environment>/)."
    )
    return "\n".join(lines)
