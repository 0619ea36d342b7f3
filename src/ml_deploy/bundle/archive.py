"""Reading and writing the bundle zip: atomically written, checksummed, never unpickled blindly.

The model is persisted with skops and loaded against an explicit allow-list of types, so reading
a bundle never unpickles anything untrusted.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from ml_deploy.bundle.manifest import (
    MANIFEST_NAME,
    MODEL_NAME,
    TRUSTED_TYPES,
    BundleError,
    Manifest,
    ModelFile,
)


@dataclass(frozen=True)
class Bundle:
    """A verified manifest with its loaded model."""

    manifest: Manifest
    model: Any


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


def pack_bundle(directory: Path | str, path: Path | str) -> Manifest:
    """Zip a bundle's unpacked members back into one bundle and verify it.

    CodePipeline hands the S3 source to CodeBuild unzipped; packing the members named by the
    manifest (and nothing else) restores the bundle the data scientist uploaded.
    """
    directory, path = Path(directory), Path(path)
    manifest_path = directory / MANIFEST_NAME
    if not manifest_path.is_file():
        raise BundleError(f"{directory}: no {MANIFEST_NAME}, so it does not hold an unpacked model bundle")
    manifest = _parse_manifest(manifest_path, manifest_path.read_bytes())
    model_path = directory / manifest.model_file.name
    if not model_path.is_file():
        raise BundleError(f"{directory}: the manifest names {manifest.model_file.name!r}, which is missing")
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temp_name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(handle, "wb") as raw, zipfile.ZipFile(raw, "w", zipfile.ZIP_DEFLATED) as zf:
            zf.write(manifest_path, MANIFEST_NAME)
            zf.write(model_path, manifest.model_file.name)
        verified = verify_bundle(temp_name)
        os.replace(temp_name, path)
    except BaseException:
        Path(temp_name).unlink(missing_ok=True)
        raise
    return verified
