"""The bad bundles the demo and the tests upload, made from a good one.

- `tampered_bundle`: the model file changed after the bundle was packed; `verify_bundle` (the
  CLI's upload and the build) refuses it on its checksum, before anything reaches S3.
- `unloadable_bundle`: a model file whose checksum and type list are sound (what `verify_bundle`
  checks without loading the model) but one of whose arrays is cut short, as a writer that died
  half-way and checksummed what it had left would produce. It passes the upload and the build; the
  service's start loads the model, fails, and never becomes ready: the deploy is rolled back.
- `swapped_model_bundle`: another model put in after training wrote the golden records, with the
  checksum recomputed. Everything checks and loads, and the service answers 200 with other
  numbers; only replaying the golden records (`python -m ml_deploy.bundle verify`, and the
  deployment smoke test at stage) catches it, naming the record and both probabilities.
"""

from __future__ import annotations

import hashlib
import io
import json
import zipfile
from pathlib import Path
from typing import Any

from ml_deploy.bundle import BundleError
from ml_deploy.bundle.manifest import MANIFEST_NAME


def tampered_bundle(source: Path, target: Path) -> Path:
    """`source` with one byte appended to its model file, the manifest's checksum left as it was."""
    members = _members(source)
    manifest = json.loads(members[MANIFEST_NAME])
    model_name = manifest["model_file"]["name"]
    members[model_name] += b"\0"
    return _write(target, members)


def unloadable_bundle(source: Path, target: Path, *, version: str) -> Path:
    """`source` as bundle `version`, its model's largest array cut in half and the checksum recomputed."""
    members = _members(source)
    manifest = json.loads(members[MANIFEST_NAME])
    model_name = manifest["model_file"]["name"]
    model = _members_of(members[model_name])
    arrays = [name for name in model if name.endswith(".npy")]
    if not arrays:
        raise BundleError(f"{source}: the model file holds no array to cut short")
    largest = max(arrays, key=lambda name: len(model[name]))
    model[largest] = model[largest][: len(model[largest]) // 2]
    members[model_name] = _zipped(model)
    manifest["bundle_version"] = version
    manifest["model_file"]["sha256"] = hashlib.sha256(members[model_name]).hexdigest()
    members[MANIFEST_NAME] = json.dumps(manifest, indent=1).encode()
    return _write(target, members)


def swapped_model_bundle(source: Path, target: Path, *, model: Any, version: str | None = None) -> Path:
    """`source` with `model` (fitted on the same features) in place of its own, checksum recomputed."""
    import skops.io as sio

    members = _members(source)
    manifest = json.loads(members[MANIFEST_NAME])
    if not manifest.get("golden_records"):
        raise BundleError(f"{source}: has no golden records, so a swapped model would go unnoticed")
    model_name = manifest["model_file"]["name"]
    members[model_name] = sio.dumps(model)
    manifest["model_file"]["sha256"] = hashlib.sha256(members[model_name]).hexdigest()
    if version:
        manifest["bundle_version"] = version
    members[MANIFEST_NAME] = json.dumps(manifest, indent=1).encode()
    return _write(target, members)


def _members(path: Path) -> dict[str, bytes]:
    return _members_of(path.read_bytes())


def _members_of(data: bytes) -> dict[str, bytes]:
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        return {name: archive.read(name) for name in archive.namelist()}


def _zipped(members: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return buffer.getvalue()


def _write(target: Path, members: dict[str, bytes]) -> Path:
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_bytes(_zipped(members))
    return target
