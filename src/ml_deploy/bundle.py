"""The model bundle: one zip holding `model.skops` and `manifest.json`. The format lives only here.

The model is persisted with skops and loaded against an explicit allow-list of types, so reading
a bundle never unpickles anything untrusted. `python -m ml_deploy.bundle verify PATH` is the check
the build runs before it builds an image.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import secrets
import sys
import tempfile
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from ml_deploy.reference import Reference
from ml_deploy.schema import FeatureSpec, SchemaError, encode_frame, encode_records

__all__ = [
    "FORMAT_VERSION",
    "MANIFEST_NAME",
    "MODEL_NAME",
    "TRUSTED_TYPES",
    "Bundle",
    "BundleError",
    "FeatureSpec",
    "Manifest",
    "ModelFile",
    "SchemaError",
    "TrainingData",
    "encode_frame",
    "encode_records",
    "new_bundle_version",
    "read_bundle",
    "read_manifest",
    "verify_bundle",
    "write_bundle",
]

FORMAT_VERSION = 1
MANIFEST_NAME = "manifest.json"
MODEL_NAME = "model.skops"
# Every type a bundled HistGradientBoostingClassifier needs beyond skops' defaults. Loading refuses
# anything else, so a tampered model file cannot smuggle in a callable.
TRUSTED_TYPES: tuple[str, ...] = ("sklearn.ensemble._hist_gradient_boosting.predictor.TreePredictor",)
_VERSION_PATTERN = r"^\d{8}T\d{6}Z-[0-9a-f]{8}$"


class BundleError(ValueError):
    """A bundle is missing, malformed or tampered with; the message says exactly what."""


class TrainingData(BaseModel):
    """Which data trained the model: a fingerprint to detect retraining on identical data."""

    model_config = ConfigDict(extra="forbid")

    fingerprint: str = Field(pattern=r"^[0-9a-f]{64}$")
    rows: int = Field(ge=0)
    source: str


class ModelFile(BaseModel):
    """The model member of the zip and its SHA-256, checked before anything is loaded."""

    model_config = ConfigDict(extra="forbid")

    name: str = MODEL_NAME
    sha256: str = Field(default="0" * 64, pattern=r"^[0-9a-f]{64}$")
    format: Literal["skops"] = "skops"


class Manifest(BaseModel):
    """What a bundle is: its version, schema, metrics, provenance and reference statistics."""

    model_config = ConfigDict(extra="forbid")

    format_version: int = FORMAT_VERSION
    bundle_version: str = Field(pattern=_VERSION_PATTERN)
    created_at: datetime
    target: str
    features: list[FeatureSpec] = Field(min_length=1)
    primary_metric: Literal["roc_auc"] = "roc_auc"
    metrics: dict[str, float]
    training_data: TrainingData
    code_version: str
    model_file: ModelFile = Field(default_factory=ModelFile)
    reference: Reference

    @field_validator("format_version")
    @classmethod
    def _supported_format(cls, value: int) -> int:
        if value != FORMAT_VERSION:
            raise ValueError(f"unsupported format_version {value}, this code reads {FORMAT_VERSION}")
        return value

    @field_validator("created_at")
    @classmethod
    def _utc(cls, value: datetime) -> datetime:
        if value.tzinfo is None or value.utcoffset() != timedelta(0):
            raise ValueError("created_at must be a UTC timestamp (ending in Z or +00:00)")
        return value

    @field_validator("features")
    @classmethod
    def _unique_names(cls, value: list[FeatureSpec]) -> list[FeatureSpec]:
        names = [spec.name for spec in value]
        duplicates = sorted({name for name in names if names.count(name) > 1})
        if duplicates:
            raise ValueError(f"duplicate feature names {duplicates}")
        return value

    @model_validator(mode="after")
    def _primary_metric_present(self) -> Manifest:
        if self.primary_metric not in self.metrics:
            raise ValueError(f"metrics lack the primary metric {self.primary_metric!r}")
        return self

    @property
    def feature_names(self) -> list[str]:
        return [spec.name for spec in self.features]

    @property
    def primary_score(self) -> float:
        """The holdout value of the metric the retrain gate compares."""
        return self.metrics[self.primary_metric]


@dataclass(frozen=True)
class Bundle:
    """A verified manifest with its loaded model."""

    manifest: Manifest
    model: Any


def new_bundle_version(now: datetime | None = None) -> str:
    """A unique version that sorts by creation time, e.g. `20261123T101500Z-3f9a1c2b`."""
    moment = (now or datetime.now(UTC)).astimezone(UTC)
    return f"{moment:%Y%m%dT%H%M%SZ}-{secrets.token_hex(4)}"


def write_bundle(path: Path | str, *, model: Any, manifest: Manifest) -> Path:
    """Write model and manifest into one zip, atomically; the model checksum is filled in here."""
    import skops.io as sio  # imports all of sklearn: only pay for it when a model is touched

    path = Path(path)
    model_bytes = sio.dumps(model)
    untrusted = _untrusted_types(model_bytes)
    if untrusted:
        raise BundleError(f"model uses types outside the bundle allow-list: {untrusted}")
    model_file = ModelFile(name=MODEL_NAME, sha256=hashlib.sha256(model_bytes).hexdigest())
    final_manifest = manifest.model_copy(update={"model_file": model_file})
    manifest_json = final_manifest.model_dump_json(indent=1)
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temp_name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(handle, "wb") as raw, zipfile.ZipFile(raw, "w", zipfile.ZIP_DEFLATED) as zf:
            zf.writestr(MANIFEST_NAME, manifest_json)
            zf.writestr(MODEL_NAME, model_bytes)
        os.replace(temp_name, path)
    except BaseException:
        Path(temp_name).unlink(missing_ok=True)
        raise
    return path


def verify_bundle(path: Path | str) -> Manifest:
    """Check zip, manifest schema, model checksum and model types without loading the model."""
    manifest, _ = _read_verified(Path(path))
    return manifest


def read_manifest(path: Path | str) -> Manifest:
    """The manifest of a bundle whose zip and model checksum are sound, for readers of the manifest
    alone (the monitor): it skips listing the model's types, which imports skops and scikit-learn."""
    manifest, _ = _read_checksummed(Path(path))
    return manifest


def read_bundle(path: Path | str) -> Bundle:
    """Verify a bundle, then load its model trusting only TRUSTED_TYPES."""
    import skops.io as sio

    manifest, model_bytes = _read_verified(Path(path))
    try:
        model = sio.loads(model_bytes, trusted=list(TRUSTED_TYPES))
    except Exception as error:  # skops raises several types for a malformed file
        raise BundleError(f"{path}: {MODEL_NAME} could not be loaded: {error}") from error
    return Bundle(manifest=manifest, model=model)


def _read_verified(path: Path) -> tuple[Manifest, bytes]:
    manifest, model_bytes = _read_checksummed(path)
    untrusted = _untrusted_types(model_bytes)
    if untrusted:
        raise BundleError(f"{path}: {manifest.model_file.name} contains untrusted types {untrusted}")
    return manifest, model_bytes


def _read_checksummed(path: Path) -> tuple[Manifest, bytes]:
    manifest_bytes, model_bytes, manifest = _read_members(path)
    del manifest_bytes
    actual = hashlib.sha256(model_bytes).hexdigest()
    if actual != manifest.model_file.sha256:
        raise BundleError(
            f"{path}: checksum mismatch for {manifest.model_file.name}: "
            f"manifest says sha256 {manifest.model_file.sha256}, file has sha256 {actual}"
        )
    return manifest, model_bytes


def _read_members(path: Path) -> tuple[bytes, bytes, Manifest]:
    if not path.exists():
        raise BundleError(f"bundle file not found: {path}")
    if not path.is_file():
        raise BundleError(f"bundle path is not a file: {path}")
    try:
        with zipfile.ZipFile(path) as zf:
            names = zf.namelist()
            if MANIFEST_NAME not in names:
                raise BundleError(
                    f"{path}: zip has no {MANIFEST_NAME}, so it is not a model bundle "
                    f"(members: {sorted(names)[:10]})"
                )
            manifest_bytes = zf.read(MANIFEST_NAME)
            manifest = _parse_manifest(path, manifest_bytes)
            if manifest.model_file.name not in names:
                raise BundleError(
                    f"{path}: manifest names model file {manifest.model_file.name!r} "
                    f"but the zip has no such member (members: {sorted(names)})"
                )
            model_bytes = zf.read(manifest.model_file.name)
    except zipfile.BadZipFile as error:
        raise BundleError(_bad_zip_message(path, error)) from None
    except (EOFError, OSError) as error:
        raise BundleError(f"{path}: truncated or unreadable zip ({error})") from None
    return manifest_bytes, model_bytes, manifest


def _bad_zip_message(path: Path, error: zipfile.BadZipFile) -> str:
    with path.open("rb") as handle:
        head = handle.read(4)
    if head == b"PK\x03\x04":
        return f"{path}: truncated or corrupt zip ({error}); re-upload the complete bundle"
    if not head:
        return f"{path}: empty file, not a zip (a bundle is a zip with {MANIFEST_NAME})"
    return f"{path}: not a zip file (a bundle is a zip with {MANIFEST_NAME} and {MODEL_NAME})"


def _parse_manifest(path: Path, raw: bytes) -> Manifest:
    try:
        document = json.loads(raw)
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise BundleError(f"{path}: {MANIFEST_NAME} is not valid JSON ({error})") from None
    if not isinstance(document, dict):
        raise BundleError(f"{path}: {MANIFEST_NAME} must be a JSON object")
    try:
        manifest = Manifest.model_validate(document)
    except ValidationError as error:
        problems = "; ".join(
            f"field {'.'.join(str(part) for part in item['loc']) or '<root>'}: {item['msg']}"
            for item in error.errors()
        )
        raise BundleError(f"{path}: bad {MANIFEST_NAME}: {problems}") from None
    reference_names = set(manifest.reference.features)
    if reference_names != set(manifest.feature_names):
        raise BundleError(
            f"{path}: bad {MANIFEST_NAME}: field reference.features covers "
            f"{sorted(reference_names)} but features are {manifest.feature_names}"
        )
    return manifest


def _untrusted_types(model_bytes: bytes) -> list[str]:
    import skops.io as sio

    try:
        found = sio.get_untrusted_types(data=model_bytes)
    except Exception as error:  # skops raises several types for a malformed file
        raise BundleError(f"{MODEL_NAME} is not a readable skops file ({error})") from error
    return sorted(set(found) - set(TRUSTED_TYPES))


def main(argv: Sequence[str] | None = None) -> int:
    """`verify PATH...`: exit 0 when every bundle is sound, 1 with the reason otherwise."""
    parser = argparse.ArgumentParser(prog="python -m ml_deploy.bundle", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    verify = commands.add_parser("verify", help="check a bundle's manifest and model checksum")
    verify.add_argument("paths", nargs="+", type=Path, metavar="PATH")
    verify.add_argument("--json", action="store_true", help="print the manifest as JSON")
    args = parser.parse_args(argv)
    status = 0
    for path in args.paths:
        try:
            manifest = verify_bundle(path)
        except BundleError as error:
            print(f"bundle verification failed: {error}", file=sys.stderr)
            status = 1
            continue
        if args.json:
            print(manifest.model_dump_json(indent=2))
        else:
            print(
                f"OK {path}: bundle_version={manifest.bundle_version} "
                f"features={len(manifest.features)} "
                f"{manifest.primary_metric}={manifest.primary_score:.4f} "
                f"sha256={manifest.model_file.sha256}"
            )
    return status


if __name__ == "__main__":
    sys.exit(main())
