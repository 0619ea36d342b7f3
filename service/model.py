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
from ml_deploy.schema import FeatureSpec, encode_records

UnknownCategoryPolicy = Literal["reject", "missing"]
THRESHOLD = 0.5  # the decision threshold training's evaluation uses
MAX_CATEGORY_LENGTH = 256


def record_model(
    features: Sequence[FeatureSpec], *, unknown_category: UnknownCategoryPolicy
) -> type[BaseModel]:
    """A pydantic model of one record: strict numbers within the manifest range, known categories.

    A nullable feature may be absent or null (the model sees NaN); any other feature is required.
    """
    fields: dict[str, Any] = {}
    for spec in features:
        annotation: Any
        if spec.type == "numeric":
            annotation = Annotated[float, Field(strict=True, ge=spec.min, le=spec.max, allow_inf_nan=False)]
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

    fields: dict[str, Any] = {
        "record": (record | None, None),
        "records": (list[record] | None, Field(None, min_length=1, max_length=max_batch_size)),  # type: ignore[valid-type]
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
        self._classes = [_plain(label) for label in getattr(bundle.model, "classes_", [0, 1])]
        self._categories = [
            (spec.name, spec.category_index) for spec in self.features if spec.type == "categorical"
        ]
        # Two OpenMP threads per worker on a 2-core task spin against each other and against the
        # other worker; one thread per worker process is fastest for request-sized inputs.
        threadpool_limits(limits=1, user_api="openmp")
        self._batcher = MicroBatcher(self._predict_proba, max_wait=max_batch_wait, on_batch=on_batch)

    @property
    def version(self) -> str:
        return str(self.manifest.bundle_version)

    def encode(self, records: Sequence[Mapping[str, Any]]) -> np.ndarray:
        return np.asarray(encode_records(records, self.features), dtype=np.float64)

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

    def smoke_test(self) -> None:
        """One prediction on a row of missing values before the service says it is ready.

        A bundle can pass every check that runs without the model (manifest, checksum, types)
        and still not fit its manifest, e.g. a model trained on other features: without this,
        such a bundle would report ready and answer every /predict with a 500.
        """
        row = np.full((1, len(self.features)), np.nan)
        try:
            probability = self._predict_proba(row)[:, -1]
        except Exception as error:  # whatever the estimator raises, the bundle is unusable
            raise BundleError(
                f"model {self.version} cannot score a row of its manifest's {len(self.features)} "
                f"features: {error}"
            ) from error
        if probability.shape != (1,) or not 0.0 <= float(probability[0]) <= 1.0:
            raise BundleError(f"model {self.version} answered {probability!r} for one row, not a probability")

    def labels_of(self, probabilities: Sequence[float]) -> list[Any]:
        negative, positive = self._classes[0], self._classes[-1]
        return [positive if p >= THRESHOLD else negative for p in probabilities]


def _plain(value: Any) -> Any:
    """numpy scalars as Python values, so responses and log lines serialise them as numbers."""
    return value.item() if isinstance(value, np.generic) else value
