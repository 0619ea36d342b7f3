"""Prometheus metrics of one app instance, multiprocess-aware when several uvicorn workers serve.

With `PROMETHEUS_MULTIPROC_DIR` set (`python -m service` sets it when WEB_CONCURRENCY > 1), every
worker writes its values to files there and `/metrics` aggregates all workers, so a scrape that
lands on any worker sees the whole container.
"""

from __future__ import annotations

import itertools
import os
from typing import TYPE_CHECKING

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    disable_created_metrics,
    generate_latest,
    multiprocess,
)

if TYPE_CHECKING:
    from ml_deploy.bundle.manifest import Manifest
    from ml_deploy.reference import PredictionReference

# `*_created` series double the exposition and no dashboard or alarm here reads them.
disable_created_metrics()  # type: ignore[no-untyped-call]

LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.0075, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)
PROBABILITY_BUCKETS = tuple(round(0.1 * step, 1) for step in range(1, 11))
ENDPOINTS = frozenset({"/predict", "/health", "/ready", "/version", "/metrics"})
CONTENT_TYPE = CONTENT_TYPE_LATEST
# How far the live mean probability may stray from the model's holdout mean before it alarms.
MEAN_PROBABILITY_TOLERANCE = 0.1


def expected_mean_probability(reference: PredictionReference) -> tuple[float, float]:
    """The band of normal live mean probabilities: the holdout mean (from the manifest's
    probability histogram, at bin midpoints) +- MEAN_PROBABILITY_TOLERANCE, within 0..1."""
    edges, counts = reference.bin_edges, reference.counts
    total = sum(counts)
    midpoints = [(low + high) / 2 for low, high in itertools.pairwise(edges)]
    mean = sum(m * c for m, c in zip(midpoints, counts, strict=True)) / total if total else 0.5
    return max(0.0, mean - MEAN_PROBABILITY_TOLERANCE), min(1.0, mean + MEAN_PROBABILITY_TOLERANCE)


def multiprocess_dir() -> str | None:
    return os.environ.get("PROMETHEUS_MULTIPROC_DIR") or None


class ServiceMetrics:
    """Every metric the service exports; each app gets its own registry so tests stay isolated."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        registry = self.registry
        self.requests = Counter(
            "http_requests_total", "HTTP requests by endpoint, method and status.",
            ["endpoint", "method", "status"], registry=registry,
        )  # fmt: skip
        self.latency = Histogram(
            "http_request_duration_seconds", "HTTP request latency by endpoint, method and status.",
            ["endpoint", "method", "status"], buckets=LATENCY_BUCKETS, registry=registry,
        )  # fmt: skip
        self.errors = Counter(
            "http_request_errors_total", "Requests answered with a 4xx or 5xx, by endpoint and kind.",
            ["endpoint", "kind"], registry=registry,
        )  # fmt: skip
        self.predictions = Counter(
            "predictions_total", "Scored records by predicted class and model version.",
            ["prediction", "model_version"], registry=registry,
        )  # fmt: skip
        self.probability_by_model = Histogram(
            "prediction_probability", "Predicted positive-class probability per record, by model version.",
            ["model_version"], buckets=PROBABILITY_BUCKETS, registry=registry,
        )  # fmt: skip
        self.batch_rows = Histogram(
            "predict_request_records", "Records per /predict request.",
            buckets=(1, 2, 5, 10, 50, 100, 500, 1000, 5000), registry=registry,
        )  # fmt: skip
        self.model_batch_rows = Histogram(
            "model_call_rows", "Rows per model call (requests coalesced by the micro-batcher).",
            buckets=(1, 2, 4, 8, 16, 32, 64, 128, 512, 2048), registry=registry,
        )  # fmt: skip
        self.unknown_categories = Counter(
            "unknown_category_values_total", "Unknown category values scored as missing, by feature.",
            ["feature"], registry=registry,
        )  # fmt: skip
        self.out_of_range = Counter(
            "feature_values_out_of_range_total",
            "Numeric values outside the training range, scored anyway, by feature.",
            ["feature"], registry=registry,
        )  # fmt: skip
        self.model_info = Gauge(
            "model_info", "The model this container serves (value is always 1).",
            ["model_version", "environment", "code_version", "bundle_created_at"],
            multiprocess_mode="livemax", registry=registry,
        )  # fmt: skip
        # A number per model version, so CloudWatch can see two versions serving side by side as
        # Maximum > Minimum of one metric (it cannot count distinct dimension values).
        self.model_created = Gauge(
            "model_bundle_created_timestamp_seconds", "When the served bundle was created (Unix time).",
            multiprocess_mode="livemax", registry=registry,
        )  # fmt: skip
        self.expected_mean_low = Gauge(
            "model_expected_mean_probability_low", "Lowest normal live mean probability for this model.",
            multiprocess_mode="livemax", registry=registry,
        )  # fmt: skip
        self.expected_mean_high = Gauge(
            "model_expected_mean_probability_high", "Highest normal live mean probability for this model.",
            multiprocess_mode="livemax", registry=registry,
        )  # fmt: skip
        self.log_written = Counter(
            "payload_log_records_written_total", "Prediction-log records written to S3.", registry=registry
        )
        self.log_retried = Counter(
            "payload_log_records_retried_total",
            "Prediction-log records whose S3 write failed and was retried.",
            registry=registry,
        )  # fmt: skip
        self.log_dropped = Counter(
            "payload_log_records_dropped_total", "Prediction-log records given up, by reason.",
            ["reason"], registry=registry,
        )  # fmt: skip
        self.log_buffered = Gauge(
            "payload_log_records_buffered", "Prediction-log records waiting to be written.",
            multiprocess_mode="livesum", registry=registry,
        )  # fmt: skip
        self._prediction_children: dict[object, Counter] = {}
        self._model_version: str | None = None
        self._probability: Histogram | None = None
        for reason in ("buffer_full", "shutdown", "writer_failed"):
            self.log_dropped.labels(reason=reason)

    def describe_model(self, manifest: Manifest, *, environment: str, code_version: str) -> None:
        """Say which model serves here: its info, creation time and expected band; and label the
        prediction series with its version from now on."""
        version = manifest.bundle_version
        self.model_info.labels(
            model_version=version, environment=environment,
            code_version=code_version, bundle_created_at=manifest.created_at.isoformat(),
        ).set(1)  # fmt: skip
        self.model_created.set(manifest.created_at.timestamp())
        low, high = expected_mean_probability(manifest.reference.prediction)
        self.expected_mean_low.set(low)
        self.expected_mean_high.set(high)
        self._model_version = version
        self._probability = self.probability_by_model.labels(model_version=version)
        self._prediction_children.clear()

    @property
    def probability(self) -> Histogram:
        """The probability histogram of the model described by `describe_model`."""
        if self._probability is None:
            raise RuntimeError("describe_model() must run before predictions are observed")
        return self._probability

    def prediction_counter(self, label: object) -> Counter:
        """The child counter of one predicted class, looked up once per class, not per request."""
        child = self._prediction_children.get(label)
        if child is None:
            if self._model_version is None:
                raise RuntimeError("describe_model() must run before predictions are counted")
            child = self._prediction_children[label] = self.predictions.labels(
                prediction=str(label), model_version=self._model_version
            )
        return child

    def exposition(self) -> bytes:
        """The text exposition: all workers' values in multiprocess mode, else this registry's."""
        directory = multiprocess_dir()
        if directory is None:
            return generate_latest(self.registry)
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry, path=directory)  # type: ignore[no-untyped-call]
        return generate_latest(registry)

    def worker_exited(self) -> None:
        """Drop this worker's live gauges so a restarted worker does not leave a stale value."""
        if multiprocess_dir() is not None:
            multiprocess.mark_process_dead(os.getpid())  # type: ignore[no-untyped-call]
