"""A realistic week of history in moto S3: what the monitor, the quality job, the retrain job and
`ml-deploy rollback` write, for two model versions, with drift rising and quality falling.

Drift reports are made by the monitor's own `build_report`, so a change of its shape reaches
these tests; quality reports follow the quality job's documented schema.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np

from ml_deploy.tracking import ReleaseEvent, event_key
from retrain_job.monitor.drift import FeatureDrift, PredictionDrift, Thresholds
from retrain_job.monitor.report import build_report
from retrain_job.monitor.window import FeatureCounts, WindowCounts

NOW = datetime(2026, 11, 23, 10, 30, tzinfo=UTC)
REPORTS = "reports/"
DECISIONS = "retrain/decisions/"
OLD, NEW = "20261101T090000Z-1a2b3c4d", "20261119T140000Z-5e6f7a8b"
FEATURES = (("tenure_months", "numeric"), ("monthly_charges", "numeric"), ("contract", "categorical"))
RUNS = 12  # two a day for six days


@dataclass(frozen=True)
class Written:
    drift_runs: int
    quality_runs: int
    events: int
    decisions: int


def write_history(s3: Any, *, log_bucket: str, model_bucket: str, environment: str = "prod") -> Written:
    for run in range(RUNS):
        end = NOW - timedelta(hours=12 * (RUNS - 1 - run))
        _put(
            s3,
            log_bucket,
            f"{REPORTS}dt={end:%Y-%m-%d}/{end:%Y%m%dT%H%M%SZ}-{environment}{run:03x}/report.json",
            drift_report(run, end=end, environment=environment),
        )
    for run in range(4):
        end = NOW - timedelta(days=2 * (3 - run))
        _put(
            s3,
            log_bucket,
            f"{REPORTS}dt={end:%Y-%m-%d}/{end:%Y%m%dT%H%M%SZ}-q{environment}/quality.json",
            quality_report(run, end=end, environment=environment),
        )
    rollback = ReleaseEvent(
        kind="rollback",
        at=NOW - timedelta(days=1, hours=3),
        environment=environment,
        model_version=OLD,
        by="jane",
        detail="from rev 7 to rev 6",
    )
    _put(s3, log_bucket, event_key(REPORTS, rollback), rollback.model_dump(mode="json"))
    decisions = [
        (
            "rejected",
            NOW - timedelta(days=5),
            "20261118T020000Z-0badc0de",
            ["challenger roc_auc 0.6900 is below GATE_FLOOR 0.7000"],
        ),
        ("promoted", NOW - timedelta(days=4), NEW, ["challenger roc_auc 0.8312 passed the gate"]),
    ]
    for decision, at, version, reasons in decisions:
        record = {
            "decision": decision,
            "decided_at": at.isoformat(),
            "challenger_version": version,
            "champion_version": OLD,
            "reasons": reasons,
            "gate": {"tolerance": 0.01, "floor": 0.7},
        }
        _put(s3, model_bucket, f"{DECISIONS}{at:%Y%m%dT%H%M%SZ}-{decision}-{version}.json", record)
    return Written(drift_runs=RUNS, quality_runs=4, events=1, decisions=len(decisions))


def drift_report(run: int, *, end: datetime, environment: str) -> dict[str, Any]:
    """The monitor's report of run `run`: drift grows with time, NEW takes traffic from day 3."""
    shift = run / (RUNS - 1)
    new_rows = 0 if run < 6 else 400 * (run - 5)
    old_rows = 4000 - new_rows
    features = [_feature(name, kind, shift=shift * (i + 1) / 3) for i, (name, kind) in enumerate(FEATURES)]
    document = build_report(
        run={
            "run_id": f"run-{run}",
            "environment": environment,
            "window_start": (end - timedelta(hours=24)).isoformat(),
            "window_end": end.isoformat(),
            "window_hours": 24,
            "champion_version": OLD,
            "model_version_filter": "all",
        },
        counts=WindowCounts(
            features={n: FeatureCounts(counts=np.zeros(3, dtype=np.int64)) for n, _ in FEATURES},
            probabilities=np.zeros(20, dtype=np.int64),
            rows=old_rows,
            filtered=new_rows,
        ),
        thresholds=Thresholds(),
        status="drift" if any(f.status == "drift" for f in features) else "ok",
        features=features,
        prediction=_prediction(shift),
        concept=None,
    )
    if new_rows:  # the per-version section, in the shape `report._version` writes
        document["versions"] = [
            {"version": OLD, "rows": old_rows, "prediction": _shares(shift)},
            {"version": NEW, "rows": new_rows, "prediction": _shares(shift / 3), "extra": "ignored"},
        ]
    return document


def quality_report(run: int, *, end: datetime, environment: str) -> dict[str, Any]:
    versions = [_version_quality(OLD, run, auc=0.83 - 0.05 * run, holdout=0.84)]
    if run >= 2:
        versions.append(_version_quality(NEW, run, auc=0.82, holdout=0.83))
    return {
        "kind": "quality",
        "generated_at": end.isoformat(),
        "environment": environment,
        "window": {
            "start": (end - timedelta(days=60)).isoformat(),
            "end": (end - timedelta(days=30)).isoformat(),
        },
        "interval": "bootstrap-95",
        "versions": versions,
        "added_later": True,
    }


def _version_quality(version: str, run: int, *, auc: float, holdout: float) -> dict[str, Any]:
    metrics = {}
    for name, value, reference in (
        ("roc_auc", auc, holdout),
        ("log_loss", 0.45 + 0.04 * run, 0.44),
        ("brier", 0.15 + 0.01 * run, 0.14),
        ("calibration_error", 0.03 + 0.01 * run, 0.02),
        ("precision", 0.7 - 0.02 * run, 0.72),
        ("recall", 0.65 - 0.03 * run, 0.66),
    ):
        metrics[name] = {
            "value": value,
            "low": value - 0.03,
            "high": value + 0.03,
            "holdout": reference,
            "floor": 0.75 if name == "roc_auc" else None,
        }
    status = "below_floor" if auc - 0.03 < 0.75 else "ok"
    return {
        "model_version": version,
        "predictions": 5000,
        "with_outcome": 3100 + 100 * run,
        "coverage": 0.62,
        "status": status,
        "positive_rate_predicted": 0.26,
        "positive_rate_observed": 0.24 + 0.01 * run,
        "metrics": metrics,
    }


def _feature(name: str, kind: str, *, shift: float) -> FeatureDrift:
    effect = 0.02 + 0.2 * shift
    return FeatureDrift(
        name=name,
        kind=kind,
        status="drift" if effect >= 0.1 else "ok",
        psi=0.01 + 0.4 * shift**2,  # type: ignore[arg-type]
        test="ks" if kind == "numeric" else "chi2",
        statistic=effect if kind == "numeric" else 30 * effect,
        p_value=0.01,
        rows=4000,
        missing_rate_reference=0.0,
        missing_rate_current=0.0,
        bin_labels=["a", "b", "c"],
        reference_shares=[0.3, 0.4, 0.3],
        current_shares=[0.3 - effect / 2, 0.4, 0.3 + effect / 2],
        distance=None if kind == "numeric" else effect,
    )


def _prediction(shift: float) -> PredictionDrift:
    shares = _shares(shift)
    return PredictionDrift(
        psi=0.3 * shift,
        ks=0.2 * shift,
        p_value=0.01,
        positive_rate_reference=0.25,
        positive_rate_current=shares["positive_rate_current"],
        status="ok",
        reference_shares=[0.05] * 20,
        current_shares=shares["current_shares"],
    )


def _shares(shift: float) -> dict[str, Any]:
    weights = np.exp(-((np.arange(20) - (5 + 6 * shift)) ** 2) / 18)
    shares = (weights / weights.sum()).tolist()
    return {"positive_rate_current": float(sum(shares[10:])), "current_shares": shares}


def _put(s3: Any, bucket: str, key: str, document: dict[str, Any]) -> None:
    s3.put_object(Bucket=bucket, Key=key, Body=json.dumps(document).encode(), ContentType="application/json")
