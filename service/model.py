"""The model wrapper the routes call: request schema from the manifest, encoding and batched predict.

Concurrent requests of one worker are coalesced into one `predict_proba` call (see `MicroBatcher`):
the per-call overhead of a scikit-learn model is far larger than the per-row cost, so one call for
the rows of many requests keeps throughput near the HTTP floor under load without adding latency
when a request arrives alone.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence
from typing import Annotated, Any, Literal

import numpy as np
import sklearn
from pydantic import BaseModel, ConfigDict, Field, create_model, model_validator
from threadpoolctl import threadpool_limits

from ml_deploy.bundle import Bundle, BundleError, Manifest
from ml_deploy.payload_log import DECISION_THRESHOLD, KEY_MAX_LENGTH, RECORD_KEY
from ml_deploy.schema import FeatureSpec, encode_records
from service.parsing import validate_body

UnknownCategoryPolicy = Literal["reject", "missing"]
THRESHOLD = DECISION_THRESHOLD  # the decision threshold training's evaluation uses
MAX_CATEGORY_LENGTH = 256


def record_model(
    features: Sequence[FeatureSpec], *, unknown_category: UnknownCategoryPolicy
) -> type[BaseModel]:
    """A pydantic model of one record: what is physically valid, not what training happened to see.

    Numbers must be finite, and non-negative when the manifest's range starts at or above zero
    (counts, money, ages); a value beyond the training range is scored and counted (see
    `ModelService.out_of_range`), and the drift monitor judges the shift. Categories must be known
    unless the policy scores unknown ones as missing. A nullable feature may be absent or null.
    The optional `key` (payload_log.RECORD_KEY) is the caller's name for the record, logged so an
    outcome can refer to it; it is never scored.
    """
    if any(spec.name == RECORD_KEY for spec in features):
        raise BundleError(f"a feature is named {RECORD_KEY!r}, the name of the record's optional caller key")
    fields: dict[str, Any] = {
        RECORD_KEY: (Annotated[str, Field(strict=True, min_length=1, max_length=KEY_MAX_LENGTH)] | None, None)
    }
    for spec in features:
        annotation: Any
        if spec.type == "numeric":
            floor = 0.0 if spec.min is not None and spec.min >= 0.0 else None
            annotation = Annotated[float, Field(strict=True, ge=floor, allow_inf_nan=False)]
        elif unknown_category == "reject":
            annotation = Literal[tuple(spec.categories or ())]
        else:
            annotation = Annotated[str, Field(strict=True, max_length=MAX_CATEGORY_LENGTH)]
        fields[spec.name] = (annotation | None, None) if spec.nullable else (annotation, ...)
    config = ConfigDict(extra="forbid", protected_namespaces=())
    return create_model("Record", __config__=config, **fields)


def request_model(record: type[BaseModel], *, max_batch_size: int) -> type[BaseModel]:
    """The body of POST /predict: `{"record": {...}}` or `{"records": [...]}`, never both."""

    def _exactly_one(value: Any) -> Any:
        if (value.record is None) == (value.records is None):
            raise ValueError("give exactly one of 'record' (an object) or 'records' (a list of objects)")
        return value

    # Absent is the default; an explicit null is refused like any other wrong type, as the document says.
    fields: dict[str, Any] = {
        "record": (record, None),
        "records": (list[record], Field(None, min_length=1, max_length=max_batch_size)),  # type: ignore[valid-type]
    }
    validators: dict[str, Any] = {"exactly_one": model_validator(mode="after")(_exactly_one)}
    return create_model(
        "PredictRequest",
        __config__=ConfigDict(extra="forbid"),
        __validators__=validators,
        **fields,
    )


class MicroBatcher:
    """Coalesces concurrent predict calls of one worker into one model call.

    When calls have recently arrived together (`expected` > 1), a call waits up to `max_wait`
    seconds for as many companions as last time, so concurrent clients share one model call; a
    lone caller (expected == 1) is flushed on the next loop turn with no added wait. `expected`
    follows the observed batch sizes: up at once, halfway down per smaller batch.
    """

    def __init__(self, predict_proba: Any, *, max_wait: float, on_batch: Any = None) -> None:
        self._predict_proba = predict_proba
        self._max_wait = max_wait
        self._on_batch = on_batch
        self._pending: list[tuple[np.ndarray, asyncio.Future[np.ndarray]]] = []
        self._timer: asyncio.TimerHandle | None = None  # the pending max_wait deadline
        self._flush_soon = False  # a flush is already queued for the next loop turn
        self._expected = 1

    async def predict(self, rows: np.ndarray) -> np.ndarray:
        loop = asyncio.get_running_loop()
        future: asyncio.Future[np.ndarray] = loop.create_future()
        self._pending.append((rows, future))
        if len(self._pending) >= self._expected or self._max_wait <= 0:
            if not self._flush_soon:
                self._flush_soon = True
                loop.call_soon(self._flush)
        elif self._timer is None and not self._flush_soon:
            self._timer = loop.call_later(self._max_wait, self._deadline_reached)
        return await future

    def _deadline_reached(self) -> None:
        # Requests read in this loop turn are queued behind this timer callback; flushing on the
        # next turn lets them join instead of starting a second model call right after this one.
        self._timer = None
        if not self._flush_soon:
            self._flush_soon = True
            asyncio.get_running_loop().call_soon(self._flush)

    def _flush(self) -> None:
        self._flush_soon = False
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        pending, self._pending = self._pending, []
        if not pending:
            return
        count = len(pending)
        self._expected = count if count >= self._expected else max(1, (self._expected + count) // 2)
        try:
            matrix = pending[0][0] if count == 1 else np.concatenate([rows for rows, _ in pending])
            positive = np.asarray(self._predict_proba(matrix)[:, 1], dtype=np.float64)
        except Exception as error:  # every waiting request gets the failure, none hangs
            for _, future in pending:
                if not future.done():
                    future.set_exception(error)
            return
        if self._on_batch is not None:
            self._on_batch(len(matrix))
        start = 0
        for rows, future in pending:
            stop = start + len(rows)
            if not future.done():
                future.set_result(positive[start:stop])
            start = stop


class ModelService:
    """A loaded, verified bundle and everything a request needs from it, built once at start."""

    def __init__(
        self,
        bundle: Bundle,
        *,
        unknown_category: UnknownCategoryPolicy,
        max_batch_size: int,
        max_batch_wait: float = 0.0,
        on_batch: Any = None,
    ) -> None:
        self.manifest: Manifest = bundle.manifest
        self.unknown_category = unknown_category
        self.features = list(bundle.manifest.features)
        self.record_model = record_model(self.features, unknown_category=unknown_category)
        self.request_model = request_model(self.record_model, max_batch_size=max_batch_size)
        self._model = bundle.model
        self._golden = bundle.golden_records
        self._classes = [_plain(label) for label in getattr(bundle.model, "classes_", [0, 1])]
        self._categories = [
            (spec.name, spec.category_index) for spec in self.features if spec.type == "categorical"
        ]
        self.feature_names = frozenset(spec.name for spec in self.features)
        self._record_fields = self.feature_names | {RECORD_KEY}
        ranged = [
            (column, spec) for column, spec in enumerate(self.features)
            if spec.type == "numeric" and (spec.min is not None or spec.max is not None)
        ]  # fmt: skip
        self._ranged_names = [spec.name for _, spec in ranged]
        self._ranged_columns = np.array([column for column, _ in ranged], dtype=np.intp)
        self._range_low = np.array([-np.inf if s.min is None else s.min for _, s in ranged], dtype=np.float64)
        self._range_high = np.array([np.inf if s.max is None else s.max for _, s in ranged], dtype=np.float64)
        # Two OpenMP threads per worker on a 2-core task spin against each other and against the
        # other worker; one thread per worker process is fastest for request-sized inputs.
        threadpool_limits(limits=1, user_api="openmp")
        self._batcher = MicroBatcher(self._predict_proba, max_wait=max_batch_wait, on_batch=on_batch)

    @property
    def classes(self) -> list[Any]:
        """The model's class labels, negative first."""
        return list(self._classes)

    @property
    def version(self) -> str:
        return str(self.manifest.bundle_version)

    def encode(self, records: Sequence[Mapping[str, Any]]) -> np.ndarray:
        return np.asarray(encode_records(records, self.features), dtype=np.float64)

    def parse(self, body: bytes) -> Any:
        """The validated request body (raises pydantic's ValidationError naming the field)."""
        return validate_body(self.request_model, body, feature_names=self._record_fields)

    def out_of_range(self, rows: np.ndarray) -> dict[str, int]:
        """How many values per numeric feature lie outside the manifest's training range."""
        if not self._ranged_names:
            return {}
        values = rows[:, self._ranged_columns]
        outside = ((values < self._range_low) | (values > self._range_high)).sum(axis=0)  # NaN: never
        if not outside.any():
            return {}
        return {name: int(n) for name, n in zip(self._ranged_names, outside, strict=True) if n}

    def unknown_categories(self, records: Sequence[Mapping[str, Any]]) -> dict[str, int]:
        """How many values per categorical feature are not in the manifest (encoded as missing)."""
        counts: dict[str, int] = {}
        for name, index in self._categories:
            unknown = sum(
                1 for record in records if (value := record.get(name)) is not None and value not in index
            )
            if unknown:
                counts[name] = unknown
        return counts

    async def predict_proba(self, rows: np.ndarray) -> np.ndarray:
        """Probability of the positive class for each encoded row, through the micro-batcher."""
        return await self._batcher.predict(rows)

    def predict_proba_now(self, rows: np.ndarray) -> np.ndarray:
        """The same without batching: the raw model cost, for benchmarks."""
        return np.asarray(self._predict_proba(rows)[:, 1], dtype=np.float64)

    def _predict_proba(self, rows: np.ndarray) -> np.ndarray:
        # The request schema has already checked every value (finite numbers or NaN for missing), so
        # sklearn's own re-validation is skipped: it is about a sixth of a one-row call.
        with sklearn.config_context(assume_finite=True, skip_parameter_validation=True):
            return np.asarray(self._model.predict_proba(rows), dtype=np.float64)

    def load_check_records(self) -> list[dict[str, Any]]:
        """What the load-time check scores: the bundle's golden records (real holdout rows) when it
        carries them, else records built from the manifest's schema."""
        if self._golden is not None:
            return [dict(golden.record) for golden in self._golden.records]
        return schema_records(self.features)

    def check_answers(self, records: Sequence[Mapping[str, Any]]) -> None:
        """Score `records` before the service says it is ready; BundleError unless one probability per row.

        A bundle can pass every check that runs without the model (manifest, checksum, types) and
        still not fit its manifest (a model trained on other features, a regressor): without this it
        would report ready and answer every /predict with a 500, which no circuit breaker catches.
        """
        n = len(records)
        what = (
            f"model {self.version} cannot score {n} records of its manifest's {len(self.features)} features"
        )
        try:
            answer = self._predict_proba(self.encode(records))
        except Exception as error:  # whatever the estimator raises, the bundle is unusable
            raise BundleError(f"{what}: {type(error).__name__}: {error}") from error
        if answer.shape != (n, 2) or len(self._classes) != 2:
            raise BundleError(f"{what}: expected ({n}, 2) class probabilities, got shape {answer.shape}")
        if not (np.isfinite(answer).all() and (answer >= 0.0).all() and (answer <= 1.0).all()):
            raise BundleError(f"{what}: answered values outside [0, 1]")

    def labels_of(self, probabilities: Sequence[float]) -> list[Any]:
        negative, positive = self._classes[0], self._classes[-1]
        return [positive if p >= THRESHOLD else negative for p in probabilities]


def _plain(value: Any) -> Any:
    """numpy scalars as Python values, so responses and log lines serialise them as numbers."""
    return value.item() if isinstance(value, np.generic) else value


def schema_records(features: Sequence[FeatureSpec]) -> list[dict[str, Any]]:
    """Records built from the manifest alone: every category, each range's ends and middle, nulls.

    The load-time check scores these when the bundle carries no golden records of its own.
    """
    choices: dict[str, list[Any]] = {}
    for spec in features:
        values: list[Any]
        if spec.type == "categorical":
            values = list(spec.categories or [])
        elif spec.min is not None and spec.max is not None:
            values = [spec.min, (spec.min + spec.max) / 2.0, spec.max]
        else:
            values = [spec.min if spec.min is not None else spec.max if spec.max is not None else 0.0]
        choices[spec.name] = [*values, None] if spec.nullable else values
    count = max((len(values) for values in choices.values()), default=1)
    return [{name: values[i % len(values)] for name, values in choices.items()} for i in range(count)]
