"""Golden records in the bundle: written by training, covered by the manifest, replayed by verify."""

from __future__ import annotations

import hashlib
import json
import re
import subprocess
import sys
import zipfile
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from ml_deploy.bundle import (
    GOLDEN_RECORDS_NAME,
    MANIFEST_NAME,
    BundleError,
    GoldenRecords,
    Manifest,
    encode_records,
    read_bundle,
    read_golden_records,
    replay,
    verify_bundle,
    write_bundle,
)
from ml_deploy.bundle.golden import record_problem
from ml_deploy_dev.bad_bundles import swapped_model_bundle
from retrain_job.retrain.training import GOLDEN_RECORD_COUNT, golden_records, train


def _members(bundle: Path) -> dict[str, bytes]:
    with zipfile.ZipFile(bundle) as zf:
        return {name: zf.read(name) for name in zf.namelist()}


def _zip(target: Path, members: dict[str, bytes]) -> Path:
    with zipfile.ZipFile(target, "w") as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    return target


def _with_golden(source: Path, target: Path, document: dict[str, Any]) -> Path:
    """`source` with other golden records whose checksum is recomputed, so only their content is wrong."""
    members = _members(source)
    members[GOLDEN_RECORDS_NAME] = json.dumps(document).encode()
    manifest = json.loads(members[MANIFEST_NAME])
    manifest["golden_records"]["sha256"] = hashlib.sha256(members[GOLDEN_RECORDS_NAME]).hexdigest()
    members[MANIFEST_NAME] = json.dumps(manifest).encode()
    return _zip(target, members)


def _legacy(source: Path, target: Path) -> Path:
    """`source` as bundles were before golden records: no member, no manifest entry."""
    members = _members(source)
    del members[GOLDEN_RECORDS_NAME]
    manifest = json.loads(members[MANIFEST_NAME])
    del manifest["golden_records"]
    members[MANIFEST_NAME] = json.dumps(manifest).encode()
    return _zip(target, members)


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "ml_deploy.bundle", *args], capture_output=True, text=True, check=False
    )


@pytest.fixture(scope="module")
def other_model(sample_frame: pd.DataFrame, sample_features: list[Any]) -> Any:
    """A model fitted on the same features but other rows: what a swapped model file would hold."""
    return train(sample_frame.iloc[: len(sample_frame) // 2], sample_features, "churned", seed=3)


def test_training_writes_golden_records_the_manifest_checksums(trained_bundle: Path) -> None:
    manifest = verify_bundle(trained_bundle)
    golden = read_golden_records(trained_bundle)
    assert golden is not None and len(golden.records) == GOLDEN_RECORD_COUNT
    assert manifest.golden_records is not None
    assert manifest.golden_records.records == GOLDEN_RECORD_COUNT
    stored = _members(trained_bundle)[GOLDEN_RECORDS_NAME]
    assert manifest.golden_records.sha256 == hashlib.sha256(stored).hexdigest()


def test_golden_records_are_requests_the_service_accepts_with_a_spread_of_probabilities(
    trained_bundle: Path,
) -> None:
    bundle = read_bundle(trained_bundle)
    assert bundle.golden_records is not None
    features = bundle.manifest.features
    problems = [record_problem(golden.record, features) for golden in bundle.golden_records.records]
    assert problems == [None] * len(problems)
    assert any(None in golden.record.values() for golden in bundle.golden_records.records), (
        "some golden records should carry a missing value, as real requests do"
    )
    probabilities = bundle.golden_records.probabilities
    assert min(probabilities) < 0.1 and max(probabilities) > 0.6, "a spread, not one corner of the model"


def test_recorded_probabilities_are_the_models_on_the_serving_path(trained_bundle: Path) -> None:
    bundle = read_bundle(trained_bundle)
    assert bundle.golden_records is not None
    records = [golden.record for golden in bundle.golden_records.records]
    rows = encode_records(records, bundle.manifest.features)
    served = bundle.model.predict_proba(rows)[:, 1]
    np.testing.assert_allclose(served, bundle.golden_records.probabilities, rtol=0, atol=1e-12)
    result = replay(bundle.model, bundle.golden_records, bundle.manifest.features)
    assert result.passed and result.records == GOLDEN_RECORD_COUNT and result.max_abs_diff <= 1e-12


def test_selection_is_seeded_and_bounded_by_the_holdout(
    trained_model: Any, holdout_frame: pd.DataFrame, sample_features: list[Any]
) -> None:
    first = golden_records(trained_model, holdout=holdout_frame, features=sample_features, seed=5)
    again = golden_records(trained_model, holdout=holdout_frame, features=sample_features, seed=5)
    other = golden_records(trained_model, holdout=holdout_frame, features=sample_features, seed=6)
    assert first == again and first != other
    few = golden_records(trained_model, holdout=holdout_frame.iloc[:40], features=sample_features, count=300)
    assert 30 <= len(few.records) <= 40, "a small holdout gives what it has"


def test_a_swapped_model_passes_the_checksums_but_not_the_replay(
    tmp_path: Path, trained_bundle: Path, other_model: Any
) -> None:
    swapped = swapped_model_bundle(trained_bundle, tmp_path / "swapped.zip", model=other_model)
    verify_bundle(swapped)  # manifest, checksums and types are all sound
    result = _cli("verify", str(swapped))
    assert result.returncode == 1, result.stdout
    match = re.search(r"record (\d+): recorded probability ([\d.e-]+), replayed ([\d.e-]+)", result.stderr)
    assert match, result.stderr
    index, recorded = int(match[1]), float(match[2])
    golden = read_golden_records(trained_bundle)
    assert golden is not None and golden.records[index].probability == recorded
    assert "Traceback" not in result.stderr


def test_cli_verify_replays_a_sound_bundle(trained_bundle: Path) -> None:
    result = _cli("verify", str(trained_bundle))
    assert result.returncode == 0, result.stderr
    assert f"golden_records={GOLDEN_RECORD_COUNT}" in result.stdout and not result.stderr


def test_changed_golden_records_fail_their_checksum(tmp_path: Path, trained_bundle: Path) -> None:
    members = _members(trained_bundle)
    stored = members[GOLDEN_RECORDS_NAME]
    members[GOLDEN_RECORDS_NAME] = stored.replace(b'"probability":0.', b'"probability":1.')
    changed = _zip(tmp_path / "changed.zip", members)
    with pytest.raises(BundleError, match=rf"checksum mismatch for {GOLDEN_RECORDS_NAME}"):
        verify_bundle(changed)


def test_a_golden_record_outside_the_schema_is_named(tmp_path: Path, trained_bundle: Path) -> None:
    golden = read_golden_records(trained_bundle)
    assert golden is not None
    document = json.loads(golden.to_json())
    document["records"][7]["record"]["contract"] = "lifetime"
    bad = _with_golden(trained_bundle, tmp_path / "bad.zip", document)
    with pytest.raises(BundleError, match=r"record 7: feature 'contract': 'lifetime' is not one of"):
        verify_bundle(bad)
    document["records"][7]["record"].pop("contract")
    with pytest.raises(BundleError, match=r"record 7: feature 'contract' is missing but not nullable"):
        verify_bundle(_with_golden(trained_bundle, tmp_path / "bad2.zip", document))


def test_a_malformed_golden_file_names_the_field(tmp_path: Path, trained_bundle: Path) -> None:
    bad = _with_golden(trained_bundle, tmp_path / "bad.zip", {"records": [{"record": {}, "probability": 2}]})
    with pytest.raises(BundleError, match=r"field records\.0\.probability"):
        verify_bundle(bad)


def test_a_manifest_naming_missing_golden_records_is_refused(tmp_path: Path, trained_bundle: Path) -> None:
    members = _members(trained_bundle)
    del members[GOLDEN_RECORDS_NAME]
    with pytest.raises(BundleError, match=rf"manifest names '{GOLDEN_RECORDS_NAME}' but the zip has no"):
        verify_bundle(_zip(tmp_path / "missing.zip", members))


def test_a_bundle_from_before_golden_records_loads_and_verifies_with_a_warning(
    tmp_path: Path, trained_bundle: Path
) -> None:
    legacy = _legacy(trained_bundle, tmp_path / "legacy.zip")
    assert verify_bundle(legacy).golden_records is None
    assert read_bundle(legacy).golden_records is None and read_golden_records(legacy) is None
    result = _cli("verify", str(legacy))
    assert result.returncode == 0, result.stderr
    assert "golden_records=0" in result.stdout
    assert "WARNING" in result.stderr and "no golden records" in result.stderr


def test_the_build_packs_golden_records_and_refuses_a_bundle_without_them(
    tmp_path: Path, trained_bundle: Path
) -> None:
    unpacked = tmp_path / "source"  # as CodePipeline hands the model artifact to CodeBuild
    unpacked.mkdir()
    for name, data in _members(trained_bundle).items():
        (unpacked / name).write_bytes(data)
    packed = _cli("pack", str(unpacked), str(tmp_path / "packed.zip"))
    assert packed.returncode == 0, packed.stderr
    assert read_golden_records(tmp_path / "packed.zip") == read_golden_records(trained_bundle)

    legacy = tmp_path / "legacy"
    legacy.mkdir()
    for name, data in _members(_legacy(trained_bundle, tmp_path / "legacy.zip")).items():
        (legacy / name).write_bytes(data)
    refused = _cli("pack", str(legacy), str(tmp_path / "out.zip"))
    assert refused.returncode == 1
    assert "no golden records" in refused.stderr and "smoke test" in refused.stderr
    assert not (tmp_path / "out.zip").exists(), "a refused bundle is not left where the image build looks"


def test_write_bundle_refuses_golden_records_outside_the_schema(
    tmp_path: Path, trained_model: Any, trained_manifest: Manifest, trained_golden_records: GoldenRecords
) -> None:
    first = trained_golden_records.records[0]
    bad = GoldenRecords(records=[first.model_copy(update={"record": {**first.record, "age": -500.0}})])
    with pytest.raises(BundleError, match=r"record 0: feature 'age': -500.0 is outside"):
        write_bundle(tmp_path / "x.zip", model=trained_model, manifest=trained_manifest, golden_records=bad)
    assert not (tmp_path / "x.zip").exists()
