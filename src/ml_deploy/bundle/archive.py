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
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from ml_deploy.bundle.golden import GoldenRecords, parse_golden_records
from ml_deploy.bundle.manifest import (
    GOLDEN_RECORDS_NAME,
    MANIFEST_NAME,
    MODEL_NAME,
    TRUSTED_TYPES,
    BundleError,
    GoldenRecordsFile,
    Manifest,
    ModelFile,
)


@dataclass(frozen=True)
class Bundle:
    """A verified manifest with its loaded model (and its golden records, when it has them)."""

    manifest: Manifest
    model: Any
    golden_records: GoldenRecords | None = None


@dataclass(frozen=True)
class _Members:
    manifest: Manifest
    model_bytes: bytes
    golden_bytes: bytes | None


def write_bundle(
    path: Path | str, *, model: Any, manifest: Manifest, golden_records: GoldenRecords | None = None
) -> Path:
    """Write model, manifest and golden records into one zip, atomically.

    The checksums of the model and the golden records are filled in here; without golden records
    the bundle loads and serves but the build refuses it (training always passes them).
    """
    import skops.io as sio  # imports all of sklearn: only pay for it when a model is touched

    path = Path(path)
    model_bytes = sio.dumps(model)
    untrusted = _untrusted_types(model_bytes)
    if untrusted:
        raise BundleError(f"model uses types outside the bundle allow-list: {untrusted}")
    model_file = ModelFile(name=MODEL_NAME, sha256=_sha256(model_bytes))
    members = {MODEL_NAME: model_bytes}
    golden_file = None
    if golden_records is not None:
        members[GOLDEN_RECORDS_NAME] = golden_records.to_json()
        parse_golden_records(members[GOLDEN_RECORDS_NAME], manifest.features, source=str(path))
        golden_file = GoldenRecordsFile(
            sha256=_sha256(members[GOLDEN_RECORDS_NAME]), records=len(golden_records.records)
        )
    final_manifest = manifest.model_copy(update={"model_file": model_file, "golden_records": golden_file})
    members[MANIFEST_NAME] = final_manifest.model_dump_json(indent=1).encode()
    with _atomic_zip(path, members):
        pass
    return path


def verify_bundle(path: Path | str) -> Manifest:
    """Check zip, manifest schema, checksums, golden records' shape and model types, without
    loading the model (which `python -m ml_deploy.bundle verify` does to replay golden records)."""
    return _read_verified(Path(path)).manifest


def read_manifest(path: Path | str) -> Manifest:
    """The manifest of a bundle whose zip and model checksum are sound, for readers of the manifest
    alone (the monitor): it skips listing the model's types, which imports skops and scikit-learn."""
    return _read_checksummed(Path(path)).manifest


def read_golden_records(path: Path | str) -> GoldenRecords | None:
    """A sound bundle's golden records, checked against its schema; None for a bundle without them."""
    path = Path(path)
    members = _read_checksummed(path)
    return _golden_records(path, members)


def read_bundle(path: Path | str) -> Bundle:
    """Verify a bundle, then load its model trusting only TRUSTED_TYPES."""
    import skops.io as sio

    path = Path(path)
    members = _read_verified(path)
    try:
        model = sio.loads(members.model_bytes, trusted=list(TRUSTED_TYPES))
    except Exception as error:  # skops raises several types for a malformed file
        raise BundleError(f"{path}: {MODEL_NAME} could not be loaded: {error}") from error
    return Bundle(manifest=members.manifest, model=model, golden_records=_golden_records(path, members))


def _golden_records(path: Path, members: _Members) -> GoldenRecords | None:
    if members.golden_bytes is None:
        return None
    return parse_golden_records(members.golden_bytes, members.manifest.features, source=str(path))


def _read_verified(path: Path) -> _Members:
    members = _read_checksummed(path)
    _golden_records(path, members)
    untrusted = _untrusted_types(members.model_bytes)
    if untrusted:
        name = members.manifest.model_file.name
        raise BundleError(f"{path}: {name} contains untrusted types {untrusted}")
    return members


def _read_checksummed(path: Path) -> _Members:
    members = _read_members(path)
    manifest = members.manifest
    _check_sha256(path, manifest.model_file.name, members.model_bytes, expected=manifest.model_file.sha256)
    golden = manifest.golden_records
    if golden is not None:
        if members.golden_bytes is None:
            _require_member(path, golden.name, names=[])
        else:
            _check_sha256(path, golden.name, members.golden_bytes, expected=golden.sha256)
    return members


def _require_member(path: Path, name: str, names: list[str]) -> None:
    if name not in names:
        listed = f" (members: {sorted(names)})" if names else ""
        raise BundleError(f"{path}: manifest names {name!r} but the zip has no such member{listed}")


def _check_sha256(path: Path, name: str, data: bytes, *, expected: str) -> None:
    actual = _sha256(data)
    if actual != expected:
        raise BundleError(
            f"{path}: checksum mismatch for {name}: manifest says sha256 {expected}, file has sha256 {actual}"
        )


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _read_members(path: Path) -> _Members:
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
            manifest = _parse_manifest(path, zf.read(MANIFEST_NAME))
            _require_member(path, manifest.model_file.name, names)
            model_bytes = zf.read(manifest.model_file.name)
            golden = manifest.golden_records
            golden_bytes = zf.read(golden.name) if golden is not None and golden.name in names else None
    except zipfile.BadZipFile as error:
        raise BundleError(_bad_zip_message(path, error)) from None
    except (EOFError, OSError) as error:
        raise BundleError(f"{path}: truncated or unreadable zip ({error})") from None
    return _Members(manifest=manifest, model_bytes=model_bytes, golden_bytes=golden_bytes)


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
    names = [manifest.model_file.name]
    if manifest.golden_records is not None:
        names.append(manifest.golden_records.name)
    members = {MANIFEST_NAME: manifest_path.read_bytes()}
    for name in names:
        if not (directory / name).is_file():
            raise BundleError(f"{directory}: the manifest names {name!r}, which is missing")
        members[name] = (directory / name).read_bytes()
    with _atomic_zip(path, members) as written:
        verified = verify_bundle(written)
    return verified


@contextmanager
def _atomic_zip(path: Path, members: dict[str, bytes]) -> Iterator[Path]:
    """Write the zip beside `path` and yield it for checks; move it into place only if they pass."""
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temp_name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(handle, "wb") as raw, zipfile.ZipFile(raw, "w", zipfile.ZIP_DEFLATED) as zf:
            for name in sorted(members, key=lambda name: name != MANIFEST_NAME):
                zf.writestr(name, members[name])
        yield Path(temp_name)
        os.replace(temp_name, path)
    except BaseException:
        Path(temp_name).unlink(missing_ok=True)
        raise
