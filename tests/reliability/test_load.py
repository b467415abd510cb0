"""Load at target: 100 blocking watchers, an event follower and a live view under writes (see ``load``)."""

from __future__ import annotations

import pytest

from . import load
from .figures import Figure, failures

# The run takes about a minute on two idle cores, several on loaded ones.
pytestmark = [pytest.mark.wire, pytest.mark.slow, pytest.mark.timeout(600)]


@pytest.fixture(scope="module")
def figures() -> list[Figure]:
    return load.measure(load.run_apart())


def test_every_load_figure_is_at_target(figures: list[Figure]) -> None:
    assert len(figures) == 5
    assert failures(figures) == []


def test_the_run_is_the_size_it_claims(figures: list[Figure]) -> None:
    by_case = {f.case: f for f in figures}
    assert by_case[f"{load.WATCHERS} blocking watchers end at the last write"].tried == load.WATCHERS >= 100
    assert by_case[f"{load.WRITES} writes, each reaching the cluster once"].tried == load.WRITES


def test_missing_events_and_growth_are_counted() -> None:
    """The figures fail on what they are for: a lost event, a write sent twice, memory kept."""
    r = load.LoadResult(writes=[10, 11, 12], arrived=4, events=[10, 12, 12], watcher_last=[12, 11],
                        watcher_rises=[True, True], live_index=12, growth_kib=load.GROWTH_LIMIT_KIB + 100)
    writes, follower, watchers, _, memory = load.measure(r)
    assert writes.duplicated == 1 and follower.lost == 1 and follower.duplicated == 1
    assert watchers.lost == 1 and memory.leaked == 100
