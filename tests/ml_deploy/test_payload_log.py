from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

from ml_deploy import payload_log


def test_partition_is_the_utc_hour() -> None:
    local = datetime(2026, 11, 23, 1, 30, tzinfo=timezone(timedelta(hours=2)))
    assert (
        payload_log.partition_prefix("predictions/prod/", local) == "predictions/prod/dt=2026-11-22/hour=23/"
    )


def test_object_keys_are_unique_and_in_their_partition() -> None:
    when = datetime(2026, 11, 23, 10, 5, tzinfo=UTC)
    keys = {payload_log.object_key("p/", when, writer="task1") for _ in range(100)}
    assert len(keys) == 100
    assert all(k.startswith("p/dt=2026-11-23/hour=10/") and k.endswith(".jsonl.gz") for k in keys)


def test_window_covers_the_hours_before_the_end_oldest_first() -> None:
    end = datetime(2026, 11, 23, 1, 59, tzinfo=UTC)
    prefixes = list(payload_log.window_prefixes("p/", end=end, hours=3))
    assert prefixes == ["p/dt=2026-11-22/hour=23/", "p/dt=2026-11-23/hour=00/", "p/dt=2026-11-23/hour=01/"]


def test_timestamp_is_utc_with_milliseconds() -> None:
    when = datetime(2026, 11, 23, 10, 5, 7, 123456, tzinfo=UTC)
    assert payload_log.utc_timestamp(when) == "2026-11-23T10:05:07.123Z"
