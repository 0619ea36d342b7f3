"""Golden records: holdout rows with the probability the model gave each at training time.

Training writes a few hundred of them into the bundle; `python -m ml_deploy.bundle verify` replays
them through the serving encoding (`encode_records`), and the deployment smoke hook replays them
over HTTP against the new revision. A library or encoding skew between training and serving then
shows as a probability that moved, naming the record.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from ml_deploy.bundle.manifest import GOLDEN_RECORDS_NAME, BundleError
from ml_deploy.schema_types import FeatureSpec

GOLDEN_TOLERANCE = 1e-6
"""Largest |replayed - recorded| probability accepted: float64 noise, far below any real skew."""

Value = float | str | None


class GoldenRecord(BaseModel):
    """One request record as the service accepts it, and the probability training recorded."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    record: dict[str, Value]
    probability: float = Field(ge=0.0, le=1.0)


class GoldenRecords(BaseModel):
    """The file `golden_records.json` inside a bundle."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    records: list[GoldenRecord] = Field(min_length=1)

    def to_json(self) -> bytes:
        return self.model_dump_json(indent=None).encode()

    @property
    def probabilities(self) -> list[float]:
        return [golden.probability for golden in self.records]


@dataclass(frozen=True)
class Mismatch:
    """A record whose replayed probability differs from the recorded one."""

    index: int
    recorded: float
    replayed: float

    def __str__(self) -> str:
        return (
            f"record {self.index}: recorded probability {self.recorded!r}, replayed {self.replayed!r} "
            f"(|diff| {abs(self.replayed - self.recorded):.3g})"
        )


@dataclass(frozen=True)
class Replay:
    """How a model reproduces the golden records."""

    records: int
    max_abs_diff: float
    mismatches: list[Mismatch]

    @property
    def passed(self) -> bool:
        return not self.mismatches


def parse_golden_records(raw: bytes, features: Sequence[FeatureSpec], *, source: str) -> GoldenRecords:
    """Parse and check golden records against the manifest's schema; errors name record and feature."""
    try:
        golden = GoldenRecords.model_validate(json.loads(raw))
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise BundleError(f"{source}: {GOLDEN_RECORDS_NAME} is not valid JSON ({error})") from None
    except ValidationError as error:
        problems = "; ".join(
            f"field {'.'.join(str(part) for part in item['loc']) or '<root>'}: {item['msg']}"
            for item in error.errors()[:5]
        )
        raise BundleError(f"{source}: bad {GOLDEN_RECORDS_NAME}: {problems}") from None
    for index, golden_record in enumerate(golden.records):
        problem = record_problem(golden_record.record, features)
        if problem:
            raise BundleError(f"{source}: bad {GOLDEN_RECORDS_NAME}: record {index}: {problem}")
    return golden


def record_problem(record: dict[str, Value], features: Sequence[FeatureSpec]) -> str | None:
    """Why the service would refuse `record` under this schema, or None when it accepts it."""
    names = [spec.name for spec in features]
    unknown = sorted(set(record) - set(names))
    if unknown:
        return f"fields {unknown} are not features of the manifest"
    for spec in features:
        value = record.get(spec.name)
        if value is None:
            if not spec.nullable:
                return f"feature {spec.name!r} is missing but not nullable"
        elif spec.type == "numeric":
            if isinstance(value, str) or not math.isfinite(value):
                return f"feature {spec.name!r}: expected a finite number, got {value!r}"
            if (spec.min is not None and value < spec.min) or (spec.max is not None and value > spec.max):
                return f"feature {spec.name!r}: {value!r} is outside [{spec.min}, {spec.max}]"
        elif value not in (spec.categories or []):
            return f"feature {spec.name!r}: {value!r} is not one of its categories"
    return None


def replay(
    model: Any,
    golden: GoldenRecords,
    features: Sequence[FeatureSpec],
    *,
    tolerance: float = GOLDEN_TOLERANCE,
) -> Replay:
    """Score the golden records as the service does (`encode_records`) and compare."""
    from ml_deploy.schema import encode_records  # numpy and pandas: only when a model is scored

    rows = encode_records([golden_record.record for golden_record in golden.records], features)
    replayed = [float(p) for p in model.predict_proba(rows)[:, -1]]
    return compare(golden.probabilities, replayed, tolerance=tolerance)


def compare(recorded: Sequence[float], replayed: Sequence[float], *, tolerance: float) -> Replay:
    """Pair recorded and replayed probabilities; a mismatch is beyond `tolerance` (or NaN)."""
    if len(recorded) != len(replayed):
        raise BundleError(f"replayed {len(replayed)} probabilities for {len(recorded)} golden records")
    diffs = [abs(new - old) for old, new in zip(recorded, replayed, strict=True)]
    mismatches = [
        Mismatch(index=index, recorded=old, replayed=new)
        for index, (old, new, diff) in enumerate(zip(recorded, replayed, diffs, strict=True))
        if not diff <= tolerance
    ]
    finite = [diff for diff in diffs if math.isfinite(diff)]
    worst = math.inf if len(finite) < len(diffs) else max(finite, default=0.0)
    return Replay(records=len(recorded), max_abs_diff=worst, mismatches=mismatches)
