"""Prometheus metrics of one app instance, multiprocess-aware when several uvicorn workers serve.

With `PROMETHEUS_MULTIPROC_DIR` set (`python -m service` sets it when WEB_CONCURRENCY > 1), every
worker writes its values to files there and `/metrics` aggregates all workers, so a scrape that
lands on any worker sees the whole container.
"""

from __future__ import annotations

import os

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

# `*_created` series double the exposition and no dashboard or alarm here reads them.
disable_created_metrics()  # type: ignore[no-untyped-call]

LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.0075, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)
PROBABILITY_BUCKETS = tuple(round(0.1 * step, 1) for step in range(1, 11))
ENDPOINTS = frozenset({"/predict", "/health", "/ready", "/version", "/metrics"})
CONTENT_TYPE = CONTENT_TYPE_LATEST


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
            "predictions_total", "Scored records by predicted class.", ["prediction"], registry=registry
        )
        self.probability = Histogram(
            "prediction_probability", "Predicted probability of the positive class per record.",
            buckets=PROBABILITY_BUCKETS, registry=registry,
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
        for reason in ("buffer_full", "shutdown", "writer_failed"):
            self.log_dropped.labels(reason=reason)

    def prediction_counter(self, label: object) -> Counter:
        """The child counter of one predicted class, looked up once per class, not per request."""
        child = self._prediction_children.get(label)
        if child is None:
            child = self._prediction_children[label] = self.predictions.labels(prediction=str(label))
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
