"""Every frame against the demo cluster: non-empty, on schema, and joinable on the shared keys."""

from __future__ import annotations

import importlib

import pandas as pd
import pytest

import nomadlab.frames
from nomadlab.frames import FETCHERS, schema
from nomadlab.sources import CachedSource

# ``allocation_frames`` returns the allocations, tasks and task_events frames together.
FRAME_FETCHERS = sorted(name for name in FETCHERS if name != "allocation_frames")


def fetch(name: str, source: CachedSource) -> pd.DataFrame:
    frame = getattr(nomadlab.frames, name)(source)
    assert isinstance(frame, pd.DataFrame)
    return frame


@pytest.mark.parametrize("name", FRAME_FETCHERS)
def test_every_frame_is_non_empty_and_matches_its_schema(name: str, demo: CachedSource) -> None:
    frame = fetch(name, demo)
    schema(name).validate(frame)
    assert len(frame) > 0, f"{name} is empty on the demo cluster"
    assert not frame.attrs.get("errors"), f"{name} could not read everything: {frame.attrs.get('errors')}"


def test_allocations_join_nodes(demo: CachedSource) -> None:
    allocs = fetch("allocations", demo)
    nodes = fetch("nodes", demo)
    merged = allocs.merge(nodes, on="node_id", how="left", suffixes=("", "_node"), validate="many_to_one",
                          indicator=True)
    assert len(merged) == len(allocs)
    assert (merged["_merge"] == "both").all(), "some allocations name a node the nodes frame lacks"
    inner = allocs.merge(nodes, on="node_id")  # the plain join just works
    assert len(inner) == len(allocs)


def test_usage_joins_its_entities(demo: CachedSource) -> None:
    allocs = fetch("allocations", demo)
    usage = fetch("alloc_stats", demo)
    assert set(usage["alloc_id"]) <= set(allocs["alloc_id"])
    hosts = fetch("node_stats", demo)
    assert set(hosts["node_id"]) <= set(fetch("nodes", demo)["node_id"])
    assert set(usage["node_id"]) <= set(hosts["node_id"])  # every running allocation's host answers


def test_fetcher_names_are_functions_even_after_their_modules_are_imported() -> None:
    importlib.import_module("nomadlab.frames.allocations")
    importlib.import_module("nomadlab.frames.jobs")
    for name in FETCHERS:
        assert callable(getattr(nomadlab.frames, name)), name
        assert not isinstance(getattr(nomadlab.frames, name), type(importlib)), name
    assert sorted(FETCHERS) == sorted(n for n in nomadlab.frames.__all__ if n in FETCHERS)
