"""The frames' contract, over a socket against the served simulator and, with ``-m live``, a real Nomad.

Same two targets as ``test_contract_targets`` (its ``client`` fixture). Every check only reads
and holds on any cluster: every fetcher's frame is on its schema, the allocation frames read
page by page over the wire equal the frames of the one-list read, and the documented joins
work. Nothing here relies on what the simulator holds.
"""

from __future__ import annotations

from typing import Any

import pandas as pd
import pytest

import nomadlab.frames
from nomadlab import sources
from nomadlab.client import NomadClient
from nomadlab.frames import FETCHERS, allocation_frames, schema
from nomadlab.sources import CachedSource, LiveSource

from .test_contract_targets import client  # noqa: F401 - the fixture, used by name

FRAME_FETCHERS = sorted(name for name in FETCHERS if name != "allocation_frames")


@pytest.fixture(scope="module")
def source(client: NomadClient) -> CachedSource:  # noqa: F811
    return CachedSource(LiveSource(client))


class OneList:
    """The live source without ``pages``: the allocation list read in one ``get_all``."""

    def __init__(self, live: LiveSource) -> None:
        self._live = live

    def list(self, kind: Any, *, namespace: str = "*", filter: str | None = None) -> list[Any]:
        return self._live.list(kind, namespace=namespace, filter=filter)

    def details(self, kind: Any, keys: Any) -> Any:
        return self._live.details(kind, keys)


def allocations_index(client: NomadClient) -> int | None:  # noqa: F811
    return client.get("/v1/allocations", params={"namespace": "*"}, per_page=1).index


@pytest.mark.parametrize("name", FRAME_FETCHERS)
def test_every_fetcher_gives_a_frame_on_its_schema(name: str, source: CachedSource) -> None:
    frame = getattr(nomadlab.frames, name)(source)
    assert isinstance(frame, pd.DataFrame)
    schema(name).validate(frame)
    assert frame.attrs["frame"] == name
    for error in (frame.attrs.get("errors") or {}).values():  # reported per object, never raised
        assert isinstance(error, str) and error


def test_the_default_namespace_is_listed(source: CachedSource) -> None:
    assert "default" in set(nomadlab.frames.namespaces(source)["namespace"])


def test_paged_allocation_frames_equal_the_one_list_read(client: NomadClient,  # noqa: F811
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    # small pages, so that any cluster with a few allocations is read in several
    monkeypatch.setitem(sources.PAGE_SIZES, "allocations", 3)
    live = LiveSource(client)
    before = allocations_index(client)
    paged = allocation_frames(live)
    whole = allocation_frames(OneList(live))
    if allocations_index(client) != before:
        pytest.skip("the allocations changed between the two reads")
    for name in paged._fields:
        pd.testing.assert_frame_equal(getattr(paged, name), getattr(whole, name), obj=name)


def test_allocations_join_nodes_and_tasks_join_allocations(source: CachedSource) -> None:
    allocs = nomadlab.frames.allocations(source)
    nodes = nomadlab.frames.nodes(source)
    merged = allocs.merge(nodes, on="node_id", suffixes=("", "_node"))
    assert len(merged) <= len(allocs)          # one node per allocation at most
    tasks = nomadlab.frames.tasks(source)
    assert set(tasks["alloc_id"]) <= set(allocs["alloc_id"])
    events = nomadlab.frames.task_events(source)
    keys = ["alloc_id", "task"]
    assert len(events.merge(tasks[keys], on=keys)) == len(events)   # every event has its task
