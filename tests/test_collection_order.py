"""The suite's collection order (tests/conftest.py): the long end-to-end runs first, each beside an
ordinary test, and never a test lost, whatever part of the suite is collected."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from tests.conftest import END_TO_END, pytest_collection_modifyitems


@dataclass(frozen=True)
class Item:
    nodeid: str


LONG = [Item(f"{start}test_x") if start.endswith("::") else Item(f"{start}_x") for start in END_TO_END]
SHORT = [Item(f"tests/cli/test_a.py::test_{n}") for n in range(6)]


@pytest.mark.parametrize(
    "collected",
    [LONG + SHORT, SHORT + LONG[::-1], LONG[::-1], SHORT, LONG[:1] + SHORT[:1]],
    ids=["long-then-short", "short-then-long", "only-long", "only-short", "one-each"],
)
def test_every_collected_test_stays_and_the_long_runs_lead(collected: list[Item]) -> None:
    items = list(collected)

    pytest_collection_modifyitems(items)  # type: ignore[arg-type]

    assert sorted(i.nodeid for i in items) == sorted(i.nodeid for i in collected), "a test was lost"
    long_runs = [item for item in items if item in LONG]
    assert long_runs == [item for item in LONG if item in collected], "not longest first"
    if long_runs and len(items) > len(long_runs):
        assert items[0] in LONG and items[1] not in LONG, "a long run is not beside an ordinary test"
