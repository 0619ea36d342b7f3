"""Each model version in a window is judged on its own rows, against its own bundle's reference."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from ml_deploy_dev import sample_data
from retrain_job import monitor
from tests.retrain_job.conftest import World, write_logs
from tests.retrain_job.monitor.conftest import OTHER_VERSION, archive


def test_rows_of_another_version_are_never_scored_as_the_champions(
    world: World, other_world: pd.DataFrame, other_bundle: object, capsys: pytest.CaptureFixture[str]
) -> None:
    """2,000 rows of a version trained on the drifted world are that version's normal, not the
    champion's drift: the champion is ok on its 3,000 rows, the other version ok on its own."""
    archive(world, other_bundle, OTHER_VERSION)  # type: ignore[arg-type]
    write_logs(world.s3, world.lines(sample_data.generate(3_000, seed=21)), hours_back=2)
    write_logs(world.s3, world.lines(other_world.head(2_000), model_version=OTHER_VERSION), hours_back=2)
    code = monitor.main([])
    report = json.loads(world.report())
    assert code == 0, capsys.readouterr().err
    assert report["status"] == "ok", f"the other version's rows were scored as the champion's: {report}"
    assert (report["rows"]["seen"], report["rows"]["other_model_versions"]) == (3_000, 2_000), report["rows"]
    versions = {item["version"]: item for item in report["versions"]}
    champion = world.manifest.bundle_version
    assert {v: item["rows"] for v, item in versions.items()} == {champion: 3_000, OTHER_VERSION: 2_000}
    assert versions[OTHER_VERSION]["status"] == "ok", f"judged against the wrong reference: {versions}"


def test_a_version_without_an_archived_bundle_is_counted_not_scored(
    world: World, drifted_frame: pd.DataFrame, capsys: pytest.CaptureFixture[str]
) -> None:
    write_logs(world.s3, world.lines(sample_data.generate(1_000, seed=22)), hours_back=1)
    write_logs(world.s3, world.lines(drifted_frame.head(700), model_version=OTHER_VERSION), hours_back=1)
    assert monitor.main([]) == 0, capsys.readouterr().err
    report = json.loads(world.report())
    assert report["status"] == "ok" and report["rows"]["seen"] == 1_000, report["rows"]
    other = next(item for item in report["versions"] if item["version"] == OTHER_VERSION)
    assert (other["rows"], other["status"]) == (700, "no reference"), other
