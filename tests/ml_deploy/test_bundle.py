from __future__ import annotations

import hashlib
import json
import subprocess
import sys
import zipfile
from fractions import Fraction
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import skops.io as sio

from ml_deploy.bundle import (
    MANIFEST_NAME,
    MODEL_NAME,
    BundleError,
    Manifest,
    read_bundle,
    read_manifest,
    verify_bundle,
    write_bundle,
)
from ml_deploy.schema import encode_frame


def _rewrite(source: Path, target: Path, *, replace: dict[str, bytes]) -> Path:
    """Copy a bundle zip, swapping the given members' bytes."""
    with zipfile.ZipFile(source) as zin, zipfile.ZipFile(target, "w") as zout:
        for name in zin.namelist():
            zout.writestr(name, replace.get(name, zin.read(name)))
    return target


def _manifest_document(bundle: Path) -> dict[str, object]:
    with zipfile.ZipFile(bundle) as zf:
        document: dict[str, object] = json.loads(zf.read(MANIFEST_NAME))
    return document


def test_round_trip_predicts_like_the_original(
    trained_bundle: Path, trained_model, holdout_frame: pd.DataFrame
) -> None:
    bundle = read_bundle(trained_bundle)
    X = encode_frame(holdout_frame, bundle.manifest.features)
    np.testing.assert_allclose(bundle.model.predict_proba(X), trained_model.predict_proba(X))
    assert bundle.manifest.metrics["roc_auc"] > 0.7, bundle.manifest.metrics


def test_manifest_has_sortable_version_and_checksum(trained_bundle: Path) -> None:
    manifest = verify_bundle(trained_bundle)
    assert manifest.bundle_version[:8].isdigit() and manifest.bundle_version[8] == "T"
    assert manifest.created_at.utcoffset() is not None
    assert manifest.model_file.name == MODEL_NAME and manifest.model_file.format == "skops"
    assert manifest.model_file.sha256 != "0" * 64
    assert manifest.training_data.rows == 4_000


def test_missing_file_is_reported(tmp_path: Path) -> None:
    with pytest.raises(BundleError, match="bundle file not found"):
        verify_bundle(tmp_path / "nope.zip")


def test_non_zip_is_reported(tmp_path: Path) -> None:
    path = tmp_path / "b.zip"
    path.write_text("hello")
    with pytest.raises(BundleError, match="not a zip file"):
        verify_bundle(path)


def test_truncated_zip_is_reported(tmp_path: Path, trained_bundle: Path) -> None:
    data = trained_bundle.read_bytes()
    path = tmp_path / "truncated.zip"
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(BundleError, match="truncated or corrupt zip"):
        verify_bundle(path)


def test_foreign_zip_without_manifest_is_reported(tmp_path: Path) -> None:
    path = tmp_path / "foreign.zip"
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("readme.txt", "not a model")
    with pytest.raises(BundleError, match=r"no manifest\.json.*readme\.txt"):
        verify_bundle(path)


def test_tampered_model_fails_checksum_with_both_hashes(tmp_path: Path, trained_bundle: Path) -> None:
    other = sio.dumps({"weights": [1, 2, 3]})
    path = _rewrite(trained_bundle, tmp_path / "tampered.zip", replace={MODEL_NAME: other})
    with pytest.raises(
        BundleError,
        match=r"checksum mismatch.*manifest says sha256 [0-9a-f]{64}, file has sha256 [0-9a-f]{64}",
    ):
        verify_bundle(path)


def test_read_manifest_checks_the_checksum_too(tmp_path: Path, trained_bundle: Path) -> None:
    assert read_manifest(trained_bundle) == verify_bundle(trained_bundle)
    other = sio.dumps({"weights": [1, 2, 3]})
    path = _rewrite(trained_bundle, tmp_path / "tampered.zip", replace={MODEL_NAME: other})
    with pytest.raises(BundleError, match="checksum mismatch"):
        read_manifest(path)


def test_read_manifest_does_not_import_the_model_libraries(trained_bundle: Path) -> None:
    """The monitor reads only the manifest: scikit-learn and skops would add seconds to every run."""
    probe = (
        "import sys; from ml_deploy.bundle import read_manifest; "
        f"read_manifest({str(trained_bundle)!r}); "
        "print(sorted(m for m in ('sklearn', 'skops') if m in sys.modules))"
    )
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "[]", f"read_manifest imported {result.stdout.strip()}"


def test_bad_manifest_field_is_named(tmp_path: Path, trained_bundle: Path) -> None:
    document = _manifest_document(trained_bundle)
    document["features"][0]["type"] = "text"  # type: ignore[index]
    path = _rewrite(
        trained_bundle, tmp_path / "bad.zip", replace={MANIFEST_NAME: json.dumps(document).encode()}
    )
    with pytest.raises(BundleError, match=r"field features\.0\.type"):
        verify_bundle(path)


def test_missing_manifest_field_is_named(tmp_path: Path, trained_bundle: Path) -> None:
    document = _manifest_document(trained_bundle)
    del document["training_data"]
    path = _rewrite(
        trained_bundle, tmp_path / "bad.zip", replace={MANIFEST_NAME: json.dumps(document).encode()}
    )
    with pytest.raises(BundleError, match=r"field training_data: Field required"):
        verify_bundle(path)


def test_manifest_that_is_not_json_is_reported(tmp_path: Path, trained_bundle: Path) -> None:
    path = _rewrite(trained_bundle, tmp_path / "bad.zip", replace={MANIFEST_NAME: b"{oops"})
    with pytest.raises(BundleError, match="not valid JSON"):
        verify_bundle(path)


def test_untrusted_types_are_refused_without_loading(
    tmp_path: Path, trained_bundle: Path, trained_model: object, trained_manifest: Manifest
) -> None:
    with pytest.raises(BundleError, match="allow-list"):
        write_bundle(tmp_path / "x.zip", model=Fraction(1, 3), manifest=trained_manifest)
    # A bundle whose checksum matches but whose model holds an untrusted type.
    smuggled = sio.dumps(Fraction(1, 3))
    document = _manifest_document(trained_bundle)
    document["model_file"]["sha256"] = hashlib.sha256(smuggled).hexdigest()  # type: ignore[index]
    path = _rewrite(
        trained_bundle,
        tmp_path / "smuggled.zip",
        replace={MODEL_NAME: smuggled, MANIFEST_NAME: json.dumps(document).encode()},
    )
    with pytest.raises(BundleError, match=r"untrusted types \['fractions.Fraction'\]"):
        verify_bundle(path)


def test_cli_verify_reports_each_bundle_and_fails_on_a_bad_one(tmp_path: Path, trained_bundle: Path) -> None:
    bad = tmp_path / "bad.zip"
    bad.write_bytes(b"garbage")
    result = subprocess.run(
        [sys.executable, "-m", "ml_deploy.bundle", "verify", str(trained_bundle), str(bad)],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert result.returncode == 1, "one bad bundle must fail the build step"
    assert f"OK {trained_bundle}" in result.stdout and "bundle_version=" in result.stdout
    assert "bundle verification failed" in result.stderr and "not a zip" in result.stderr
    assert "Traceback" not in result.stderr
