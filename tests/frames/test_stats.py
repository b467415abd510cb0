"""The ``node_stats`` and ``alloc_stats`` frames: official samples, the demo cluster, fuzzed payloads."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from nomadlab.client import NomadClient
from nomadlab.frames.stats import ALLOC_METRICS, ALLOC_STATS, NODE_METRICS, NODE_STATS, alloc_stats, node_stats
from nomadlab.sim import SimCluster
from nomadlab.sources import CachedSource, LiveSource

from .conftest import StaticSource, load_sample, mutated_wire
from .test_nodes import retyped

NODE_ID = "f7476465-4d6e-c0de-26d0-e383c49be941"


def _wide(df: pd.DataFrame, index: list[str]) -> pd.DataFrame:
    return df.pivot(index=index, columns="metric", values="value")


# --- official samples ------------------------------------------------------------------------------


def test_node_stats_from_the_stale_doc_sample(samples: Path) -> None:
    stats = load_sample(samples, "GET_v1_client_stats.json")
    src = StaticSource(lists={"nodes": [{"ID": NODE_ID, "Status": "ready"}]}, details={"node_stats": {NODE_ID: stats}})
    df = node_stats(src)
    NODE_STATS.validate(df)
    assert df.attrs["errors"] == {}
    assert set(df["time"]) == {pd.Timestamp(1495743032992498200, tz="UTC")}
    got = dict(zip(df["metric"], df["value"], strict=True))
    assert set(got) == set(NODE_METRICS)
    # The sample's cores carry the pre-1.0 ``Total`` instead of ``TotalPercent``.
    assert got["cpu_percent"] == pytest.approx(sum(c["Total"] for c in stats["CPU"]) / len(stats["CPU"]))
    assert got["cpu_ticks_consumed"] == pytest.approx(1126.8044804480448)
    assert got["memory_total_bytes"] == 17179869184
    assert got["memory_used_bytes"] == 10947624960
    assert got["disk_size_bytes"] == 249783500800 and got["alloc_dir_used_bytes"] == 106578206720
    assert got["uptime_seconds"] == 193520
    units = dict(zip(df["metric"], df["unit"], strict=True))
    assert units["cpu_percent"] == "percent" and units["cpu_ticks_consumed"] == "MHz"
    assert units["memory_used_bytes"] == "bytes" and units["uptime_seconds"] == "seconds"


def test_node_stats_skip_metrics_the_host_does_not_report(samples: Path) -> None:
    stats = load_sample(samples, "GET_v1_client_stats.json")
    del stats["Memory"]["Total"]
    stats["DiskStats"] = []
    src = StaticSource(lists={"nodes": [{"ID": NODE_ID, "Status": "ready"}]}, details={"node_stats": {NODE_ID: stats}})
    metrics = set(node_stats(src)["metric"])
    assert "memory_total_bytes" not in metrics and "disk_used_bytes" not in metrics
    assert "memory_used_bytes" in metrics


def test_node_stats_count_each_disk_device_once() -> None:
    disk = {"Device": "/dev/sda1", "Mountpoint": "/", "Size": 100, "Used": 40, "Available": 60}
    stats = {"Timestamp": 1, "DiskStats": [disk, dict(disk, Mountpoint="/var/lib/docker"),
                                           dict(disk, Device="/dev/sdb1", Size=10, Used=1, Available=9)]}
    src = StaticSource(lists={"nodes": [{"ID": "n", "Status": "ready"}]}, details={"node_stats": {"n": stats}})
    got = dict(zip(*node_stats(src)[["metric", "value"]].to_dict("list").values(), strict=True))
    assert got == {"disk_size_bytes": 110, "disk_used_bytes": 41, "disk_available_bytes": 69}


def test_node_stats_skip_unreachable_nodes_and_record_failures() -> None:
    nodes = [{"ID": "up", "Status": "ready"}, {"ID": "gone", "Status": "down"},
             {"ID": "cut", "Status": "disconnected"}, {"ID": "err", "Status": "ready", "Name": "e"}]
    src = StaticSource(lists={"nodes": nodes}, details={"node_stats": {"up": {"Timestamp": 5, "Uptime": 9}}},
                       errors={"node_stats": {"err": "404 Not Found: No path to node"}})
    df = node_stats(src)
    NODE_STATS.validate(df)
    assert df["node_id"].tolist() == ["up"] and df["metric"].tolist() == ["uptime_seconds"]
    assert df.attrs["errors"] == {"err": "404 Not Found: No path to node"}
    assert src.calls[-1] == ("details", "node_stats", {"keys": ["up", "err"]})
    assert node_stats(src, node="e").attrs["errors"] == {"err": "404 Not Found: No path to node"}
    assert node_stats(src, node="u")["node_id"].tolist() == ["up"]  # an ID prefix


def _alloc_source(samples: Path, **overrides: Any) -> StaticSource:
    stubs = load_sample(samples, "GET_v1_allocations.json")
    stubs[0].update(overrides)
    usage = load_sample(samples, "GET_v1_client_allocation_id_stats.json")
    return StaticSource(lists={"allocations": stubs}, details={"alloc_stats": {stubs[0]["ID"]: usage}})


def test_alloc_stats_from_the_doc_sample(samples: Path) -> None:
    df = alloc_stats(_alloc_source(samples))
    ALLOC_STATS.validate(df)
    assert df.attrs["errors"] == {}
    assert set(df["alloc_id"]) == {"5457f16d-0f87-8e6b-5e91-0c7da3a41eb7"}
    assert set(df["job_id"]) == {"example"} and set(df["namespace"]) == {"default"}
    assert set(df["node_id"]) == {"f476d2b4-02dc-c216-d031-273396727347"}
    assert df["task"].isna().sum() == len(df) // 2 and set(df["task"].dropna()) == {"redis"}
    total = dict(zip(df.loc[df["task"].isna(), "metric"], df.loc[df["task"].isna(), "value"], strict=True))
    # ``Usage`` is absent from this old sample; the rest is measured.
    assert set(total) == set(ALLOC_METRICS) - {"memory_usage_bytes"}
    assert total["memory_rss_bytes"] == 1486848 and total["memory_max_usage_bytes"] == 4710400
    assert total["cpu_total_ticks"] == pytest.approx(3.256693934837093)
    assert set(df["time"]) == {pd.Timestamp(1495743243970720000, tz="UTC")}
    units = dict(zip(df["metric"], df["unit"], strict=True))
    assert units["cpu_total_ticks"] == "MHz" and units["cpu_throttled_time"] == "ns"
    assert units["cpu_throttled_periods"] == "count" and units["memory_rss_bytes"] == "bytes"


def test_alloc_stats_leave_out_what_the_driver_does_not_measure(samples: Path) -> None:
    src = _alloc_source(samples)
    usage = src.detail_objects["alloc_stats"]["5457f16d-0f87-8e6b-5e91-0c7da3a41eb7"]
    for part in (usage["ResourceUsage"], usage["Tasks"]["redis"]["ResourceUsage"]):
        part["MemoryStats"].update(Usage=123, Measured=["Cache", "Swap", "Usage"])
    metrics = set(alloc_stats(src)["metric"])
    assert "memory_usage_bytes" in metrics
    assert not metrics & {"memory_rss_bytes", "memory_max_usage_bytes"}


def test_alloc_stats_selection(samples: Path) -> None:
    src = _alloc_source(samples)
    assert not alloc_stats(src, job="example").empty
    assert alloc_stats(src, job="other").empty
    assert not alloc_stats(src, alloc="5457f16d").empty
    assert alloc_stats(src, alloc=["0000"]).empty
    assert alloc_stats(src, namespace="web").empty
    assert src.calls[-1] == ("details", "alloc_stats", {"keys": []})
    ALLOC_STATS.validate(alloc_stats(_alloc_source(samples, ClientStatus="complete")))
    assert alloc_stats(_alloc_source(samples, ClientStatus="pending")).empty


def test_alloc_stats_record_failures_and_skip_allocations_without_a_sample() -> None:
    stubs = [{"ID": "a1", "ClientStatus": "running"}, {"ID": "a2", "ClientStatus": "running"},
             {"ID": "a3", "ClientStatus": "running"}]
    no_task = {"ResourceUsage": {"CpuStats": {"Percent": 0}, "MemoryStats": {"Usage": 0}}, "Tasks": {}, "Timestamp": 0}
    src = StaticSource(lists={"allocations": stubs}, details={"alloc_stats": {"a1": no_task}},
                       errors={"alloc_stats": {"a3": "404 Not Found: Unknown allocation"}})
    df = alloc_stats(src)
    ALLOC_STATS.validate(df)
    assert df.empty
    assert set(df.attrs["errors"]) == {"a2", "a3"}


def test_empty_sources_give_typed_empty_frames() -> None:
    for frame, schema in ((node_stats(StaticSource()), NODE_STATS), (alloc_stats(StaticSource()), ALLOC_STATS)):
        schema.validate(frame)
        assert frame.empty and frame.attrs["errors"] == {}
    assert list(node_stats(StaticSource())["metric"].cat.categories) == list(NODE_METRICS)


# --- the demo cluster ------------------------------------------------------------------------------


def test_live_source_asks_each_node_for_its_stats() -> None:
    """``LiveSource.details("node_stats")`` reaches ``/v1/client/stats?node_id=<id>``.

    It writes the query into the path; ``NomadClient`` hands its own (possibly empty) params to
    httpx, which then replaces the path's query, so ``node_id`` never reaches Nomad ("No local
    Node and node_id not provided"). ``details("job")``'s ``?namespace=`` is lost the same way.
    """
    cluster = SimCluster.default()
    src = LiveSource(NomadClient(transport=cluster.transport()))
    ids = [n["ID"] for n in src.list("nodes")]
    got = src.details("node_stats", ids)
    assert got.errors == {}
    assert set(got.objects) == set(ids)


def test_demo_node_stats(demo: CachedSource) -> None:
    from nomadlab.frames.nodes import nodes

    df = node_stats(demo)
    NODE_STATS.validate(df)
    assert df.attrs["errors"] == {}
    assert not df.empty
    frame = nodes(demo)
    reachable = set(frame.loc[~frame["status"].isin(["down", "disconnected"]), "node_id"])
    assert set(df["node_id"]) == reachable
    wide = _wide(df, ["node_id"])
    assert set(wide.columns) == set(NODE_METRICS)
    assert (wide["memory_used_bytes"] <= wide["memory_total_bytes"]).all()
    assert ((wide["cpu_percent"] >= 0) & (wide["cpu_percent"] <= 100)).all()
    capacity = frame.set_index("node_id")["cpu_mhz"].astype("float64")
    assert (wide["cpu_ticks_consumed"] <= capacity.reindex(wide.index) + 1e-6).all()
    memory = frame.set_index("node_id")["memory_mb"].astype("float64") * 1024 * 1024
    assert (wide["memory_total_bytes"] == memory.reindex(wide.index)).all()


def test_demo_alloc_stats(demo: CachedSource) -> None:
    df = alloc_stats(demo)
    ALLOC_STATS.validate(df)
    assert df.attrs["errors"] == {}
    assert not df.empty
    running = {a["ID"] for a in demo.list("allocations") if a["ClientStatus"] == "running"}
    assert set(df["alloc_id"]) <= running
    assert df["time"].notna().all()
    # The cluster's nodes run cgroup v2: RSS and MaxUsage are not measured, so not reported.
    assert not set(df["metric"]) & {"memory_rss_bytes", "memory_max_usage_bytes"}
    # The allocation total is the sum of its tasks.
    mem = df[df["metric"] == "memory_usage_bytes"]
    totals = mem[mem["task"].isna()].set_index("alloc_id")["value"]
    by_tasks = mem[mem["task"].notna()].groupby("alloc_id")["value"].sum()
    pd.testing.assert_series_equal(totals.sort_index(), by_tasks.sort_index(), check_names=False)
    one_job = df["job_id"].iloc[0]
    assert set(alloc_stats(demo, job=one_job)["job_id"]) == {one_job}
    assert set(alloc_stats(demo, namespace="platform")["namespace"]) == {"platform"}


def test_demo_host_memory_covers_its_allocations(demo: CachedSource) -> None:
    """Host memory used ≥ the sum of its allocations' usage sampled at the same time."""
    hosts = node_stats(demo)
    allocs = alloc_stats(demo)
    used = hosts[hosts["metric"] == "memory_used_bytes"].set_index(["node_id", "time"])["value"]
    ticks = hosts[hosts["metric"] == "cpu_ticks_consumed"].set_index(["node_id", "time"])["value"]
    total = allocs[allocs["task"].isna()]
    alloc_mem = total[total["metric"] == "memory_usage_bytes"].groupby(["node_id", "time"])["value"].sum()
    alloc_cpu = total[total["metric"] == "cpu_total_ticks"].groupby(["node_id", "time"])["value"].sum()
    assert len(alloc_mem) > 0
    assert alloc_mem.index.isin(used.index).all()  # same nodes, same sample times
    assert (used.reindex(alloc_mem.index) >= alloc_mem).all()
    assert (ticks.reindex(alloc_cpu.index) + 1e-6 >= alloc_cpu).all()


# --- fuzzed payloads -------------------------------------------------------------------------------


def _sim_payloads() -> tuple[dict[str, Any], dict[str, Any]]:
    cluster = SimCluster.default()
    client = NomadClient(transport=cluster.transport())
    node_id = client.get("/v1/nodes").body[0]["ID"]
    host = client.get("/v1/client/stats", params={"node_id": node_id}).body
    alloc = next(a for a in client.get("/v1/allocations", params={"namespace": "*"}).body
                 if a["ClientStatus"] == "running")
    usage = client.get(f"/v1/client/allocation/{alloc['ID']}/stats").body
    return host, usage


_HOST, _USAGE = _sim_payloads()
_FUZZ = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@_FUZZ
@given(host=st.one_of(mutated_wire(_HOST), retyped(_HOST)))
def test_node_stats_survive_mangled_payloads(host: Any) -> None:
    src = StaticSource(lists={"nodes": [{"ID": "n", "Status": "ready"}]}, details={"node_stats": {"n": host}})
    df = node_stats(src)
    NODE_STATS.validate(df)
    assert len(df) <= len(NODE_METRICS)


@_FUZZ
@given(usage=st.one_of(mutated_wire(_USAGE, depth=6), retyped(_USAGE, depth=6)),
       stub=mutated_wire({"ID": "a", "ClientStatus": "running", "Namespace": "default", "JobID": "j",
                          "TaskGroup": "g", "NodeID": "n"}))
def test_alloc_stats_survive_mangled_payloads(usage: Any, stub: dict[str, Any]) -> None:
    stub = dict(stub, ID="a", ClientStatus="running")
    src = StaticSource(lists={"allocations": [stub]}, details={"alloc_stats": {"a": copy.deepcopy(usage)}})
    df = alloc_stats(src)
    ALLOC_STATS.validate(df)
    assert set(df["alloc_id"]) <= {"a"}
