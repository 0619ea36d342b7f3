"""The window is exactly [end - hours, end): rows are kept by their own timestamp, at the edges
too, and consecutive scheduled runs tile time with no gap and no overlap."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pandas as pd
import pytest

from ml_deploy.settings import MonitorSettings
from ml_deploy_dev import sample_data
from retrain_job import monitor
from retrain_job.monitor import job
from retrain_job.monitor.log_reader import window_bounds, window_partitions
from tests.retrain_job.conftest import WINDOW_END, World, write_logs

MS = timedelta(milliseconds=1)


@pytest.fixture(scope="module")
def calm_frame() -> pd.DataFrame:
    return sample_data.generate(2_400, seed=25)


def test_rows_are_kept_by_timestamp_at_both_edges(
    world: World, calm_frame: pd.DataFrame, capsys: pytest.CaptureFixture[str]
) -> None:
    """A 1-hour window ending 10:30 holds 09:30:00.000 and 10:29:59.999, not 09:29:59.999 or 10:30."""
    lines = world.lines(calm_frame)
    start = WINDOW_END - timedelta(hours=1)
    for when, part in (
        (start - MS, lines[0:600]),  # just before: out
        (start, lines[600:1200]),  # the first instant: in (a partition that starts before the window)
        (WINDOW_END - MS, lines[1200:1800]),  # the last instant: in
        (WINDOW_END, lines[1800:2400]),  # the end itself: out (the next window's first instant)
    ):
        write_logs(world.s3, part, when=when, objects=1)
    code = monitor.main(["--window-hours", "1"])
    err = capsys.readouterr().err
    report = json.loads(world.report())
    assert code == 0, err
    assert (report["rows"]["seen"], report["rows"]["outside_window"]) == (1_200, 1_200), report["rows"]
    assert report["run"]["window_start"] == start.isoformat(), report["run"]


def _run_at(world: World, now: datetime) -> dict[str, object]:
    settings = MonitorSettings.from_args([], {k: v for k, v in world.env.items() if k != "WINDOW_END"})
    assert job.run(settings, now=now) == 0
    return dict(json.loads(world.report()))


def test_consecutive_scheduled_runs_tile_time(
    world: World, calm_frame: pd.DataFrame, capsys: pytest.CaptureFixture[str]
) -> None:
    """Daily runs at 12:05 and, a day later, 12:47 read [00:00, 00:00) of the days before: the
    row at midnight is read by exactly one of them, the minutes after each run by the next one."""
    lines = world.lines(calm_frame)
    midnight = datetime(2026, 11, 23, tzinfo=UTC)
    write_logs(world.s3, lines[:800], when=midnight - MS, objects=1)  # first run's last instant
    write_logs(world.s3, lines[800:1600], when=midnight, objects=1)  # second run's first instant
    write_logs(world.s3, lines[1600:], when=midnight + timedelta(hours=12, minutes=6), objects=1)
    first = _run_at(world, midnight + timedelta(hours=12, minutes=5))
    second = _run_at(world, midnight + timedelta(days=1, hours=12, minutes=47))
    capsys.readouterr()
    assert first["run"] == first["run"] | {  # type: ignore[operator]
        "window_start": (midnight - timedelta(days=1)).isoformat(), "window_end": midnight.isoformat()
    }, first["run"]  # fmt: skip
    assert second["run"]["window_start"] == midnight.isoformat()  # type: ignore[index]
    assert first["rows"]["seen"] == 800, first["rows"]  # type: ignore[index]
    assert second["rows"]["seen"] == 1_600, second["rows"]  # type: ignore[index]


def test_the_default_window_is_the_last_whole_period() -> None:
    now = datetime(2026, 11, 23, 12, 5, 3, tzinfo=UTC)
    assert window_bounds(hours=24, end=None, now=now) == (
        datetime(2026, 11, 22, tzinfo=UTC), datetime(2026, 11, 23, tzinfo=UTC)
    )  # fmt: skip
    assert window_bounds(hours=1, end=None, now=now) == (now.replace(hour=11, minute=0, second=0),
                                                         now.replace(minute=0, second=0))  # fmt: skip
    given = datetime(2026, 11, 23, 12, 5, tzinfo=UTC)
    assert window_bounds(hours=2, end=given, now=now) == (given - timedelta(hours=2), given)


def test_the_partitions_read_are_those_overlapping_the_window() -> None:
    start, end = datetime(2026, 11, 23, 9, 30, tzinfo=UTC), datetime(2026, 11, 23, 11, 0, tzinfo=UTC)
    assert window_partitions("p/", start=start, end=end) == [
        "p/dt=2026-11-23/hour=09/", "p/dt=2026-11-23/hour=10/"
    ], "an end on the hour must not read the hour it starts; a start inside an hour reads it"  # fmt: skip
    late = datetime(2026, 11, 23, 23, 59, 59, 999_000, tzinfo=UTC)
    assert window_partitions("p/", start=late, end=late + timedelta(seconds=1)) == [
        "p/dt=2026-11-23/hour=23/", "p/dt=2026-11-24/hour=00/"
    ]  # fmt: skip
