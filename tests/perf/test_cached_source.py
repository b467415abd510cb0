"""CachedSource: several frames from one paged, projected fetch, each frame equal to its own fetch."""

from __future__ import annotations

from typing import Any

import httpx
import pandas as pd
import pytest

from nomadlab.client import NomadClient
from nomadlab.frames.allocations import WIRE_FIELDS, allocation_frames, allocations, task_events, tasks
from nomadlab.sim.scenarios import build_scenario
from nomadlab.sources import CachedSource, LiveSource


class _Counting(httpx.BaseTransport):
    """Counts the requests that reach the simulator, by path, with their query."""

    def __init__(self, inner: httpx.BaseTransport) -> None:
        self.inner = inner
        self.seen: list[httpx.URL] = []

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        self.seen.append(request.url)
        return self.inner.handle_request(request)

    def lists(self) -> list[httpx.URL]:
        return [u for u in self.seen if u.path == "/v1/allocations"]


@pytest.fixture(scope="module")
def cluster() -> Any:
    # 5,000 allocations: three pages of PAGE_SIZES["allocations"]
    return build_scenario("large", nodes=500, allocs=5000)


def test_three_frames_from_one_cached_fetch_equal_allocation_frames(cluster: Any) -> None:
    counting = _Counting(cluster.transport())
    src = CachedSource(LiveSource(NomadClient(transport=counting)))
    a, t, e = allocations(src), tasks(src), task_events(src)
    pages = counting.lists()
    assert len(pages) == 3                                   # one paged fetch, read once
    assert all(u.params.get("per_page") == "2000" for u in pages)
    expected = allocation_frames(NomadClient(transport=cluster.transport()))
    pd.testing.assert_frame_equal(a, expected.allocations)
    pd.testing.assert_frame_equal(t, expected.tasks)
    pd.testing.assert_frame_equal(e, expected.task_events)


def test_cached_pages_are_the_projection_and_list_is_whole(cluster: Any) -> None:
    counting = _Counting(cluster.transport())
    src = CachedSource(LiveSource(NomadClient(transport=counting)))
    projected = [obj for page in src.pages("allocations", fields=WIRE_FIELDS) for obj in page]
    assert len(projected) == 5000 and not isinstance(projected[0], dict)   # records, not dicts
    again = [obj for page in src.pages("allocations", fields=WIRE_FIELDS) for obj in page]
    assert all(x is y for x, y in zip(projected, again, strict=True))
    assert len(counting.lists()) == 3
    whole = src.list("allocations")             # a different question: whole objects
    assert len(counting.lists()) == 4
    assert isinstance(whole[0], dict) and {"AllocatedResources", "TaskStates", "CreateTime"} <= whole[0].keys()
    # pages without a projection are now answered from the whole list
    assert [o for p in src.pages("allocations") for o in p] == whole
    assert len(counting.lists()) == 4


def test_a_reader_that_stops_early_leaves_nothing_half_kept(cluster: Any) -> None:
    counting = _Counting(cluster.transport())
    src = CachedSource(LiveSource(NomadClient(transport=counting)))
    each = src.pages("allocations", fields=WIRE_FIELDS)
    first = next(each)
    each.close()
    assert len(first) == 2000
    rest = [obj for page in src.pages("allocations", fields=WIRE_FIELDS) for obj in page]
    assert len(rest) == 5000                     # asked again from the start, not from the half kept
    src.clear()
    before = len(counting.lists())
    assert len(allocations(src)) == 5000 and len(counting.lists()) == before + 3


def test_the_three_frames_are_built_once_and_handed_out_as_copies(cluster: Any) -> None:
    counting = _Counting(cluster.transport())
    src = CachedSource(LiveSource(NomadClient(transport=counting)))
    first = tasks(src, status="running")
    fetched = len(counting.lists())
    assert fetched >= 1 and not src._pages                   # one fetch; its decoded pages not kept
    events, allocs = task_events(src, status="running"), allocations(src, status="running")
    assert len(counting.lists()) == fetched                  # built with the tasks, not fetched again
    expected = allocation_frames(NomadClient(transport=cluster.transport()), status="running")
    pd.testing.assert_frame_equal(allocs, expected.allocations)
    pd.testing.assert_frame_equal(events, expected.task_events)
    first.loc[0, "restarts"] = 99                           # a caller's change stays in its own copy
    first["extra"] = 1
    again = tasks(src, status="running")
    pd.testing.assert_frame_equal(again, expected.tasks)
    assert len(first) > 0 and again.attrs == expected.tasks.attrs and "extra" not in again
    tasks(src, status="failed")                              # other filters: another fetch and build
    assert len(counting.lists()) > fetched
