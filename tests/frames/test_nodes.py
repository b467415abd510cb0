"""The ``nodes`` and ``node_events`` frames: official samples, the demo cluster, fuzzed wire dicts."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from nomadlab.client import NomadClient
from nomadlab.frames.nodes import NODE_EVENTS, NODES, node_events, nodes
from nomadlab.sim import SimCluster
from nomadlab.sources import CachedSource, LiveSource

from .conftest import StaticSource, load_sample, mutated_wire


def _full_node_source(node: dict[str, Any]) -> StaticSource:
    stub: dict[str, Any] = {k: node[k] for k in ("ID", "Name", "Datacenter", "NodePool", "Status") if k in node}
    return StaticSource(lists={"nodes": [stub]}, details={"node": {node["ID"]: node}})


# --- official samples ------------------------------------------------------------------------------


def test_nodes_from_an_old_stub_without_resources_keep_the_schema(samples: Path) -> None:
    df = nodes(StaticSource(lists={"nodes": load_sample(samples, "GET_v1_nodes.json")}))
    NODES.validate(df)
    row = df.iloc[0]
    assert row["node_id"] == "f7476465-4d6e-c0de-26d0-e383c49be941"
    assert (row["name"], row["datacenter"], row["node_pool"], row["address"]) == (
        "nomad-4", "dc1", "default", "10.138.0.5")
    assert row["status"] == "ready" and row["eligibility"] == "eligible" and not row["drain"]
    assert row["drivers"] == "docker,exec,java,raw_exec,rkt"  # qemu is not healthy
    capacity = ["cpu_mhz", "cores", "memory_mb", "disk_mb", "reserved_cpu_mhz", "allocatable_cpu_mhz",
                "allocatable_memory_mb", "allocatable_disk_mb"]
    assert df[capacity].isna().all().all()
    assert pd.isna(row["last_drain_status"]) and pd.isna(row["last_drain_started"])
    assert (row["create_index"], row["modify_index"]) == (6, 2526)


def test_nodes_capacity_from_the_full_node_sample(samples: Path) -> None:
    node = load_sample(samples, "GET_v1_node_id.json")
    df = nodes(StaticSource(lists={"nodes": [node]}))
    NODES.validate(df)
    row = df.iloc[0]
    assert (row["cpu_mhz"], row["memory_mb"], row["disk_mb"]) == (32000, 15803, 7890)
    assert (row["reserved_cpu_mhz"], row["reserved_memory_mb"], row["reserved_disk_mb"]) == (0, 0, 0)
    assert (row["allocatable_cpu_mhz"], row["allocatable_memory_mb"], row["allocatable_disk_mb"]) == (
        32000, 15803, 7890)
    assert pd.isna(row["cores"])  # the doc sample predates TotalCpuCores
    assert row["last_drain_status"] == "complete"
    assert row["last_drain_started"] == pd.Timestamp("2021-03-31T12:12:20Z")
    assert row["last_drain_updated"] == pd.Timestamp("2021-03-31T12:12:20Z")
    assert row["drivers"] == "docker,raw_exec"


def test_node_events_from_the_full_node_sample(samples: Path) -> None:
    node = load_sample(samples, "GET_v1_node_id.json")
    df = node_events(_full_node_source(node))
    NODE_EVENTS.validate(df)
    assert df["message"].tolist() == ["Node registered", "Node drain strategy set", "Node drain complete"]
    assert df["subsystem"].tolist() == ["Cluster", "Drain", "Drain"]
    assert df["time"].iloc[1] == pd.Timestamp("2021-03-31T12:12:20.213412Z")
    assert df["create_index"].tolist() == [6, 11, 12]
    assert set(df["node_name"]) == {"mew"} and set(df["datacenter"]) == {"dc1"}
    assert df.attrs["errors"] == {}


def test_node_events_record_failed_reads(samples: Path) -> None:
    node = load_sample(samples, "GET_v1_node_id.json")
    broken = {"ID": "0000dead-0000-0000-0000-000000000000", "Name": "gone", "Datacenter": "dc1"}
    src = StaticSource(lists={"nodes": [broken, {"ID": node["ID"], "Name": node["Name"]}]},
                       details={"node": {node["ID"]: node}},
                       errors={"node": {broken["ID"]: "500 Internal Server Error: rpc error"}})
    df = node_events(src)
    NODE_EVENTS.validate(df)
    assert len(df) == 3
    assert df.attrs["errors"] == {broken["ID"]: "500 Internal Server Error: rpc error"}


def test_node_events_window_and_node_selection(samples: Path) -> None:
    node = load_sample(samples, "GET_v1_node_id.json")
    src = _full_node_source(node)
    assert node_events(src, since="2021-03-31T12:12:00Z")["message"].tolist() == [
        "Node drain strategy set", "Node drain complete"]
    assert node_events(src, until=pd.Timestamp("2021-03-31T12:12:00Z"))["message"].tolist() == ["Node registered"]
    assert len(node_events(src, node="mew")) == 3
    assert len(node_events(src, node="1ac61e33")) == 3  # an ID prefix
    assert len(node_events(src, node=["other", "1ac61e33-a465-2ace-f63f-cffa1285e7eb"])) == 3
    empty = node_events(src, node="nope")
    NODE_EVENTS.validate(empty)
    assert empty.empty
    assert src.calls[-1] == ("details", "node", {"keys": []})  # nothing fetched for no node


def test_nodes_filters(samples: Path) -> None:
    node = load_sample(samples, "GET_v1_node_id.json")
    other = dict(copy.deepcopy(node), ID="22222222-0000-0000-0000-000000000000", Name="b", Datacenter="dc2",
                 NodePool="gpu", Status="down")
    src = StaticSource(lists={"nodes": [node, other]})
    assert nodes(src, datacenter="dc2")["name"].tolist() == ["b"]
    assert nodes(src, node_pool=["default", "gpu"])["name"].tolist() == ["mew", "b"]
    assert nodes(src, status="down")["name"].tolist() == ["b"]
    assert nodes(src, filter='Datacenter == "dc1"')["name"].tolist() == ["mew"]
    assert ("list", "nodes", {"namespace": "*", "filter": 'Datacenter == "dc1"'}) in src.calls
    with pytest.raises(ValueError, match="unknown node status"):
        nodes(src, status="running")


def test_empty_sources_give_typed_empty_frames() -> None:
    src = StaticSource()
    for frame, schema in ((nodes(src), NODES), (node_events(src), NODE_EVENTS)):
        schema.validate(frame)
        assert frame.empty
    assert list(nodes(src)["status"].cat.categories) == ["initializing", "ready", "down", "disconnected"]


# --- the demo cluster ------------------------------------------------------------------------------


def test_demo_nodes(demo: CachedSource) -> None:
    df = nodes(demo)
    NODES.validate(df)
    assert len(df) == 40
    assert df["node_id"].is_unique
    assert set(df["node_pool"]) == {"default", "batch", "gpu"}
    assert df[["cpu_mhz", "cores", "memory_mb", "disk_mb"]].notna().all().all()
    for resource in ("cpu_mhz", "memory_mb", "disk_mb"):
        expected = df[resource] - df[f"reserved_{resource}"]
        assert (df[f"allocatable_{resource}"] == expected).all()
        assert (df[f"allocatable_{resource}"] <= df[resource]).all()
    counts = df["status"].value_counts()
    assert counts["down"] == 1 and counts["initializing"] == 0  # empty categories still count


def test_demo_down_and_drained_nodes_are_visible(demo: CachedSource) -> None:
    df = nodes(demo)
    down = df[df["status"] == "down"]
    assert len(down) == 1
    drained = df[df["last_drain_status"] == "complete"]
    assert len(drained) == 1
    row = drained.iloc[0]
    assert row["eligibility"] == "ineligible" and not row["drain"]
    assert row["last_drain_started"] <= row["last_drain_updated"]
    assert nodes(demo, status="down")["node_id"].tolist() == down["node_id"].tolist()


def test_demo_node_events(demo: CachedSource) -> None:
    df = node_events(demo)
    NODE_EVENTS.validate(df)
    assert df.attrs["errors"] == {}
    assert df["time"].is_monotonic_increasing
    frame = nodes(demo)
    assert set(df["node_id"]) == set(frame["node_id"])  # every node has at least its registration
    down_id = frame.loc[frame["status"] == "down", "node_id"].iloc[0]
    drained_id = frame.loc[frame["last_drain_status"] == "complete", "node_id"].iloc[0]
    assert "Node heartbeat missed" in set(df.loc[df["node_id"] == down_id, "message"])
    drained = df[df["node_id"] == drained_id]
    assert {"Node drain strategy set", "Node drain complete"} <= set(drained["message"])
    assert (drained["subsystem"] == "Drain").sum() == 2
    name = frame.loc[frame["node_id"] == drained_id, "name"].iloc[0]
    assert node_events(demo, node=name)["node_id"].unique().tolist() == [drained_id]


def test_nodes_docstring_cluster_matches_the_simulator() -> None:
    df = nodes(NomadClient(transport=SimCluster.default().transport()))
    NODES.validate(df)
    assert len(df) == 5
    assert (df["allocatable_memory_mb"] == df["memory_mb"] - df["reserved_memory_mb"]).all()


# --- fuzzed wire dicts -----------------------------------------------------------------------------


def _sim_stubs_and_nodes() -> tuple[list[dict[str, Any]], dict[str, dict[str, Any]]]:
    src = LiveSource(NomadClient(transport=SimCluster.default().transport()))
    stubs = src.list("nodes")[:2]
    full = src.details("node", [s["ID"] for s in stubs]).objects
    return stubs, {str(k): v for k, v in full.items()}


_STUBS, _FULL = _sim_stubs_and_nodes()

_JUNK = st.one_of(st.none(), st.booleans(), st.integers(-(2**70), 2**70), st.floats(), st.text(max_size=5),
                  st.lists(st.integers(), max_size=2), st.dictionaries(st.text(max_size=3), st.integers(), max_size=2))


@st.composite
def retyped(draw: st.DrawFn, obj: Any, depth: int = 4) -> Any:
    """``obj`` with some values replaced by a value of another JSON type."""
    if isinstance(obj, dict) and depth > 0:
        return {k: (draw(_JUNK) if draw(st.integers(0, 5)) == 0 else draw(retyped(v, depth - 1)))
                for k, v in obj.items()}
    if isinstance(obj, list) and depth > 0:
        return [draw(retyped(v, depth - 1)) for v in obj]
    return copy.deepcopy(obj)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(stubs=st.lists(st.sampled_from(_STUBS), min_size=0, max_size=3).flatmap(
    lambda rows: st.tuples(*[mutated_wire(r) for r in rows]).map(list)))
def test_nodes_survive_missing_null_and_unknown_fields(stubs: list[dict[str, Any]]) -> None:
    df = nodes(StaticSource(lists={"nodes": stubs}))
    NODES.validate(df)
    assert len(df) == len(stubs)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(stub=st.sampled_from(_STUBS).flatmap(retyped))
def test_nodes_survive_values_of_the_wrong_type(stub: dict[str, Any]) -> None:
    df = nodes(StaticSource(lists={"nodes": [stub]}))
    NODES.validate(df)
    assert len(df) == 1


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(full=st.sampled_from(list(_FULL.values())).flatmap(
    lambda n: st.one_of(mutated_wire(n), retyped(n))))
def test_node_events_survive_mangled_nodes(full: dict[str, Any]) -> None:
    node_id = next(iter(_FULL))
    src = StaticSource(lists={"nodes": [{"ID": node_id, "Name": "n"}]}, details={"node": {node_id: full}})
    df = node_events(src)
    NODE_EVENTS.validate(df)
    assert df.attrs["errors"] == {}
