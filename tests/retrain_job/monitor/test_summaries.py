"""Closed hours are summarized once; a window merged from summaries equals a full read of its rows."""

from __future__ import annotations

import random
from datetime import datetime, timedelta

import numpy as np
import pandas as pd
import pytest

from ml_deploy import payload_log
from retrain_job import monitor
from retrain_job.monitor import hours, job, summary
from retrain_job.monitor.log_reader import list_window_objects, window_partitions
from retrain_job.monitor.versions import Tally
from tests.retrain_job.conftest import LOG_BUCKET, World
from tests.retrain_job.monitor.conftest import FIRST_HOUR, HOURS, OTHER_VERSION, put_rows, settings
from tests.retrain_job.monitor.conftest import fill as _fill

SAMPLE_ROWS = "300"  # smaller than a version's rows in most windows: the bottom-k choice is tested


def _merged(world: World, *, window: tuple[datetime, datetime], now: datetime) -> Tally:
    config = settings(world, SAMPLE_ROWS=SAMPLE_ROWS, CONCEPT_DRIFT="true")
    catalog = job.load_catalog(world.s3, config)
    plan = hours.plan(world.s3, config, bucket=LOG_BUCKET, window=window, now=now)
    return hours.window_tally(world.s3, config, bucket=LOG_BUCKET, hours=plan, catalog=catalog, window=window)


def _recomputed(world: World, *, window: tuple[datetime, datetime]) -> Tally:
    """Every row of the window read at once, as the monitor did before summaries."""
    config = settings(world, SAMPLE_ROWS=SAMPLE_ROWS, CONCEPT_DRIFT="true")
    prefixes = window_partitions("predictions/prod/", start=window[0], end=window[1])
    objects = list_window_objects(world.s3, bucket=LOG_BUCKET, prefixes=prefixes)
    catalog = job.load_catalog(world.s3, config)
    return hours.read_rows(world.s3, bucket=LOG_BUCKET, objects=objects, catalog=catalog, bounds=window,
                           settings=config)  # fmt: skip


def _assert_equal(merged: Tally, full: Tally, where: str) -> None:
    assert merged.rows() == full.rows(), f"{where}: rows per version {merged.rows()} != {full.rows()}"
    assert (merged.malformed, merged.outside_window) == (full.malformed, full.outside_window), where
    for version, part in full.versions.items():
        mine = merged.versions[version]
        assert np.array_equal(mine.counts.probabilities, part.counts.probabilities), f"{where} {version}"
        assert mine.counts.positives == part.counts.positives, f"{where} {version}: positives"
        for name, feature in part.counts.features.items():
            other = mine.counts.features[name]
            assert np.array_equal(other.counts, feature.counts), f"{where} {version} {name}: bin counts"
            assert (other.missing, dict(other.unseen)) == (feature.missing, dict(feature.unseen)), name
        order, mine_order = np.argsort(part.sample.keys), np.argsort(mine.sample.keys)
        assert np.array_equal(mine.sample.keys[mine_order], part.sample.keys[order]), f"{where}: sample keys"
        assert np.array_equal(mine.sample.rows[mine_order], part.sample.rows[order], equal_nan=True), where


def test_a_window_merged_from_summaries_equals_a_full_read(
    world: World, frames: list[pd.DataFrame], other_bundle: object
) -> None:
    _fill(world, frames, other_bundle)
    rng = random.Random(27)
    for attempt in range(8):
        first = rng.randrange(HOURS - 1)
        length = rng.randrange(1, HOURS - first + 1)
        end = FIRST_HOUR + timedelta(hours=first + length, minutes=rng.choice([0, 0, 15]))
        window = (end - timedelta(hours=length), end)
        now = end + timedelta(minutes=rng.choice([5, 40, 300]))  # the last hour open, closed, long closed
        where = f"window {window[0]:%H:%M}-{window[1]:%H:%M}, now {now:%H:%M} (attempt {attempt})"
        full = _recomputed(world, window=window)
        assert all(part.sample.keys.size for part in full.versions.values()), f"{where}: no sample drawn"
        _assert_equal(_merged(world, window=window, now=now), full, where + ", summaries made")
        _assert_equal(_merged(world, window=window, now=now), full, where + ", summaries read")
    stored = world.s3.list_objects_v2(Bucket=LOG_BUCKET, Prefix="monitor/summaries/prod/")["KeyCount"]
    assert stored > 0, "no summary was written"


def _summary(world: World, hour: datetime) -> tuple[summary.HourSummary, str]:
    key = hours.summary_key(settings(world), hour)
    found, etag = hours.read_summary(world.s3, bucket=LOG_BUCKET, key=key)
    assert found is not None and etag, f"no summary at {key}"
    return found, etag


def test_a_late_object_is_detected_and_the_hour_resummarized(
    world: World, frames: list[pd.DataFrame], other_bundle: object
) -> None:
    _fill(world, frames, other_bundle)
    window = (FIRST_HOUR, FIRST_HOUR + timedelta(hours=4))
    now = window[1] + timedelta(hours=1)
    before = _merged(world, window=window, now=now)
    first, etag = _summary(world, FIRST_HOUR + timedelta(hours=1))
    late_start = FIRST_HOUR + timedelta(hours=1, minutes=59)
    late = put_rows(world.s3, world.lines(frames[0].head(50)), start=late_start, objects=1)
    after = _merged(world, window=window, now=now)
    second, new_etag = _summary(world, FIRST_HOUR + timedelta(hours=1))
    assert new_etag != etag, "the hour changed after its summary but the summary was not rewritten"
    assert second.objects.count == first.objects.count + len(late), "the late object is not in the summary"
    assert after.rows() == {k: v + (50 if k != OTHER_VERSION else 0) for k, v in before.rows().items()}
    _assert_equal(after, _recomputed(world, window=window), "after the late object")


def test_two_concurrent_runs_write_one_summary(
    world: World, frames: list[pd.DataFrame], other_bundle: object
) -> None:
    _fill(world, frames, other_bundle)
    world.s3.put_bucket_versioning(Bucket=LOG_BUCKET, VersioningConfiguration={"Status": "Enabled"})
    config = settings(world)
    hour = FIRST_HOUR + timedelta(hours=4)
    window, now = (hour, hour + timedelta(hours=1)), hour + timedelta(hours=3)
    # Both runs list the hour before either writes: both find it unsummarized.
    planned = [hours.plan(world.s3, config, bucket=LOG_BUCKET, window=window, now=now)[0] for _ in range(2)]
    assert all(entry.summarizable and entry.summary is None for entry in planned)
    made = [
        hours.summarize_hour(world.s3, config, bucket=LOG_BUCKET, hour=entry,
                             catalog=job.load_catalog(world.s3, config))
        for entry in planned
    ]  # fmt: skip
    key = hours.summary_key(config, hour)
    versions = world.s3.list_object_versions(Bucket=LOG_BUCKET, Prefix=key).get("Versions", [])
    assert len(versions) == 1, f"{len(versions)} summaries written for one hour by two runs"
    assert summary.encode(made[0]) == summary.encode(made[1]), "the two runs computed different summaries"


def test_a_summary_of_another_code_version_is_recomputed_not_mixed(
    world: World, frames: list[pd.DataFrame], other_bundle: object, monkeypatch: pytest.MonkeyPatch
) -> None:
    _fill(world, frames, other_bundle)
    window = (FIRST_HOUR + timedelta(hours=2), FIRST_HOUR + timedelta(hours=3))
    now = window[1] + timedelta(hours=1)
    _merged(world, window=window, now=now)
    _, etag = _summary(world, window[0])
    monkeypatch.setattr(summary, "FORMAT", summary.FORMAT + 1)
    _merged(world, window=window, now=now)
    rewritten, new_etag = _summary(world, window[0])
    assert new_etag != etag and rewritten.format == summary.FORMAT, "an old-format summary was reused"


def test_a_summary_made_with_other_bins_is_recomputed(
    world: World, frames: list[pd.DataFrame], other_bundle: object
) -> None:
    _fill(world, frames, other_bundle)
    window = (FIRST_HOUR + timedelta(hours=2), FIRST_HOUR + timedelta(hours=3))
    now = window[1] + timedelta(hours=1)
    _merged(world, window=window, now=now)
    stored, etag = _summary(world, window[0])
    version = next(iter(stored.fingerprints))
    stored.fingerprints[version] = "0" * 32  # as if binned on another reference
    key = hours.summary_key(settings(world), window[0])
    assert hours.write_summary(world.s3, bucket=LOG_BUCKET, key=key, summary=stored, replaces=etag)
    _merged(world, window=window, now=now)
    again, _ = _summary(world, window[0])
    assert again.fingerprints[version] != "0" * 32, "a summary binned on other bins was reused"


def test_an_open_hour_is_never_summarized(
    world: World, frames: list[pd.DataFrame], other_bundle: object
) -> None:
    _fill(world, frames, other_bundle)
    hour = FIRST_HOUR + timedelta(hours=5)
    window = (hour, hour + timedelta(hours=1))
    _merged(world, window=window, now=window[1] + timedelta(minutes=10))  # inside the grace period
    prefix = payload_log.partition_prefix("monitor/summaries/prod/", hour).rstrip("/")
    assert world.s3.list_objects_v2(Bucket=LOG_BUCKET, Prefix=prefix)["KeyCount"] == 0


def test_backfill_rebuilds_the_summaries_of_a_range(
    world: World, frames: list[pd.DataFrame], other_bundle: object, capsys: pytest.CaptureFixture[str]
) -> None:
    _fill(world, frames, other_bundle)
    world.s3.put_bucket_versioning(Bucket=LOG_BUCKET, VersioningConfiguration={"Status": "Enabled"})
    window = (FIRST_HOUR + timedelta(hours=1), FIRST_HOUR + timedelta(hours=3))
    _merged(world, window=window, now=window[1] + timedelta(hours=1))
    key = hours.summary_key(settings(world), window[0])
    args = [
        "backfill",
        "--from",
        FIRST_HOUR.isoformat(),
        "--to",
        (FIRST_HOUR + timedelta(hours=HOURS)).isoformat(),
    ]
    assert monitor.main(args) == 0, capsys.readouterr().err
    assert f"summarized {HOURS} closed hour(s)" in capsys.readouterr().out
    written = world.s3.list_object_versions(Bucket=LOG_BUCKET, Prefix=key)["Versions"]
    assert len(written) == 2, "backfill left an existing summary as it was"
    for hour in range(HOURS):
        _summary(world, FIRST_HOUR + timedelta(hours=hour))
    assert monitor.main(["backfill", "--from", "yesterday"]) == monitor.EXIT_INVALID_INPUT
