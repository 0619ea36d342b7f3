"""The HTTP API: `create_app(settings)` builds it; the lifespan loads and verifies the bundle once.

`POST /predict` parses and validates the body itself (pydantic-core straight from bytes, no
intermediate dict) so that every bad input gets one well-formed 4xx naming the field, and so the hot
path stays short: validate, encode to floats, one batched model call, orjson out, enqueue the log.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from typing import Any

import orjson
from fastapi import FastAPI, Request, Response
from pydantic import ValidationError

from ml_deploy.bundle import read_bundle
from ml_deploy.payload_log import RECORD_KEY
from ml_deploy.settings import ServiceSettings
from service.limits import BodyLimitMiddleware
from service.metrics import CONTENT_TYPE, ServiceMetrics
from service.middleware import MetricsMiddleware
from service.model import ModelService
from service.openapi import JSON, contract
from service.payload_logger import LogPolicy, LogTarget, PayloadLogger
from service.problems import describe_validation_error, problem, request_id_of

log = logging.getLogger("service")


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    """Load, verify and smoke-test the bundle (a BundleError stops the start), start the log writer,
    flush at exit."""
    settings: ServiceSettings = app.state.settings
    metrics: ServiceMetrics = app.state.metrics
    bundle = read_bundle(settings.model_bundle_path)
    model = ModelService(
        bundle,
        unknown_category=settings.unknown_category,
        max_batch_size=settings.max_batch_size,
        max_batch_wait=settings.max_batch_wait_ms / 1000.0,
        on_batch=metrics.model_batch_rows.observe,
    )
    model.check_answers(model.load_check_records())
    manifest = model.manifest
    metrics.describe_model(manifest, environment=settings.environment, code_version=settings.code_version)
    payload_logger = _payload_logger(settings, metrics=metrics, model_version=manifest.bundle_version)
    if payload_logger is not None:
        payload_logger.start()
    app.state.payload_logger = payload_logger
    app.state.model = model
    log.info("serving model %s from %s", manifest.bundle_version, settings.model_bundle_path)
    try:
        yield
    finally:
        app.state.model = None
        if payload_logger is not None:
            payload_logger.close(settings.log_shutdown_timeout_seconds)
        metrics.worker_exited()


def _payload_logger(
    settings: ServiceSettings, *, metrics: ServiceMetrics, model_version: str
) -> PayloadLogger | None:
    if not settings.log_bucket:
        return None
    target, policy = log_destination(settings, model_version=model_version)
    return PayloadLogger(target=target, policy=policy, metrics=metrics)


def log_destination(settings: ServiceSettings, *, model_version: str) -> tuple[LogTarget, LogPolicy]:
    """Where the log writer process puts this worker's records, and its batching and time limits."""
    assert settings.log_bucket, "payload logging is off without LOG_BUCKET"
    target = LogTarget(
        bucket=settings.log_bucket, prefix=settings.environment_log_prefix, environment=settings.environment,
        model_version=model_version, region=settings.aws_region,
    )  # fmt: skip
    policy = LogPolicy(
        batch_size=settings.log_batch_size, flush_seconds=settings.log_flush_seconds,
        buffer_max_records=settings.log_buffer_max_records,
        retry_base_seconds=settings.log_retry_base_seconds, retry_max_seconds=settings.log_retry_max_seconds,
        shutdown_seconds=settings.log_shutdown_timeout_seconds,
    )  # fmt: skip
    return target, policy


def create_app(settings: ServiceSettings) -> FastAPI:
    """The service app; nothing is loaded until the lifespan runs, so /ready answers 503 until then."""
    app = FastAPI(title="ml-deploy model service", lifespan=lifespan)
    app.state.settings = settings
    app.state.metrics = ServiceMetrics()
    app.state.model = None
    app.state.payload_logger = None
    app.add_middleware(BodyLimitMiddleware, max_body_bytes=settings.max_body_bytes)
    app.add_middleware(MetricsMiddleware, metrics=app.state.metrics)  # outermost: counts the 413s too
    app.add_exception_handler(Exception, _unexpected_error)
    app.add_api_route("/predict", predict, methods=["POST"])
    app.add_api_route("/health", health, methods=["GET"])
    app.add_api_route("/ready", ready, methods=["GET"])
    app.add_api_route("/version", version, methods=["GET"])
    app.add_api_route("/metrics", metrics_endpoint, methods=["GET"])
    app.openapi = lambda: contract(app)  # type: ignore[method-assign]
    return app


def is_json(content_type: str | None) -> bool:
    if not content_type:
        return False
    media_type = content_type.split(";", 1)[0].strip().lower()
    return media_type == JSON or (media_type.startswith("application/") and media_type.endswith("+json"))


async def predict(request: Request) -> Response:
    """Score one record or a batch; answers with prediction, probability, model version and request id."""
    request_id = request_id_of(request)
    model: ModelService | None = request.app.state.model
    if model is None:
        return problem(503, "the model is not loaded yet", request_id=request_id)
    if not is_json(request.headers.get("content-type")):
        got = request.headers.get("content-type") or "none"
        return problem(415, f"Content-Type must be {JSON}, got {got}", request_id=request_id)
    body = await request.body()
    if not body.strip():
        return problem(
            400, "empty request body: send a JSON object with 'record' or 'records'", request_id=request_id
        )
    try:
        parsed: Any = model.parse(body)
    except ValidationError as error:
        status, summary, details = describe_validation_error(error)
        return problem(status, summary, request_id=request_id, detail=details)
    single = parsed.record is not None
    rows, keys = split_keys([parsed.record] if single else parsed.records)
    metrics: ServiceMetrics = request.app.state.metrics
    if model.unknown_category == "missing":
        for feature, count in model.unknown_categories(rows).items():
            metrics.unknown_categories.labels(feature=feature).inc(count)
    encoded = model.encode(rows)
    for feature, count in model.out_of_range(encoded).items():
        metrics.out_of_range.labels(feature=feature).inc(count)
    probabilities = (await model.predict_proba(encoded)).tolist()
    labels = model.labels_of(probabilities)
    _observe(metrics, labels=labels, probabilities=probabilities)
    payload_logger: PayloadLogger | None = request.app.state.payload_logger
    if payload_logger is not None:
        payload_logger.submit(
            request_id=request_id,
            records=rows,
            outputs=list(zip(labels, probabilities, strict=True)),
            keys=keys,
        )
    answer: dict[str, Any] = {"request_id": request_id, "model_version": model.version}
    if single:
        answer["prediction"], answer["probability"] = labels[0], probabilities[0]
    else:
        answer["predictions"] = [
            {"prediction": label, "probability": probability}
            for label, probability in zip(labels, probabilities, strict=True)
        ]
    return Response(orjson.dumps(answer), media_type=JSON, headers={"x-request-id": request_id})


def split_keys(records: Sequence[Any]) -> tuple[list[dict[str, Any]], list[str | None] | None]:
    """The records' features, and their caller keys (None when no record has one): the key is
    logged for outcomes to refer to, never scored."""
    rows = [dict(record.__dict__) for record in records]
    keys = [row.pop(RECORD_KEY) for row in rows]
    return rows, keys if any(key is not None for key in keys) else None


def _observe(metrics: ServiceMetrics, *, labels: list[Any], probabilities: list[float]) -> None:
    metrics.batch_rows.observe(len(labels))
    counts: dict[Any, int] = {}
    for label in labels:
        counts[label] = counts.get(label, 0) + 1
    for label, count in counts.items():
        metrics.prediction_counter(label).inc(count)
    for probability in probabilities:
        metrics.probability.observe(probability)


async def health() -> Response:
    """Alive: the process answers HTTP (the container HEALTHCHECK)."""
    return Response(b'{"status":"ok"}', media_type=JSON)


async def ready(request: Request) -> Response:
    """Ready: the model is loaded and verified (the load balancer's health check)."""
    model: ModelService | None = request.app.state.model
    if model is None:
        return Response(b'{"status":"loading"}', status_code=503, media_type=JSON)
    return Response(orjson.dumps({"status": "ready", "model_version": model.version}), media_type=JSON)


async def version(request: Request) -> Response:
    """Which code and which model answer here."""
    settings: ServiceSettings = request.app.state.settings
    model: ModelService | None = request.app.state.model
    manifest = model.manifest if model is not None else None
    return Response(
        orjson.dumps({
            "code_version": settings.code_version,
            "environment": settings.environment,
            "model_version": manifest.bundle_version if manifest else None,
            "bundle_created_at": manifest.created_at.isoformat() if manifest else None,
            "bundle_code_version": manifest.code_version if manifest else None,
        }),
        media_type=JSON,
    )  # fmt: skip


async def metrics_endpoint(request: Request) -> Response:
    metrics: ServiceMetrics = request.app.state.metrics
    return Response(metrics.exposition(), media_type=CONTENT_TYPE)


async def _unexpected_error(request: Request, error: Exception) -> Response:
    log.exception("unhandled error on %s %s", request.method, request.url.path, exc_info=error)
    return problem(500, f"internal error ({type(error).__name__})", request_id=request_id_of(request))


def app_from_env() -> FastAPI:
    """The uvicorn factory `python -m service` runs in every worker."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    return create_app(ServiceSettings.from_env())
