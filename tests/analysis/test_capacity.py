from __future__ import annotations

import httpx
import numpy as np
import pandas as pd
import pytest

from nomadlab.analysis import capacity
from nomadlab.analysis.capacity import FIGURES
from nomadlab.client import NomadClient
from nomadlab.sim import SimCluster

from .conftest import T0, alloc, make, node, ns

MiB = 1024 * 1024


def _frames() -> dict[str, pd.DataFrame]:
    nodes = make("nodes", [
        node("n1", dc="dc1", cpu=4000, mem=8192, disk=10_000, rcpu=200, rmem=512, rdisk=1000),
        node("n2", dc="dc2", cpu=2000, mem=4096, disk=5000),
        node("n3", dc="dc1", status="down", cpu=8000, mem=16384, disk=20_000),
    ])
    allocs = make("allocations", [
        alloc("a1", "n1", cpu=1000, mem=1024, disk=300),
        alloc("a2", "n1", client="pending", cpu=500, mem=512, disk=300),
        alloc("a3", "n1", client="complete", cpu=9000, mem=9000, disk=9000),       # terminal: not counted
        alloc("a4", "n1", desired="stop", cpu=9000, mem=9000, disk=9000),          # being stopped: not counted
        alloc("a5", "n2", job="api", cpu=300, mem=256, disk=100),
        alloc("a6", "n3", client="unknown", cpu=100, mem=100, disk=100),           # on a node not counted
    ])
    t1 = T0 + pd.Timedelta("30s")
    usage = make("alloc_stats", [
        {"time": ns(T0), "alloc_id": "a1", "node_id": "n1", "metric": "cpu_total_ticks", "value": 400.0},
        {"time": ns(t1), "alloc_id": "a1", "node_id": "n1", "metric": "cpu_total_ticks", "value": 600.0},
        {"time": ns(t1), "alloc_id": "a1", "node_id": "n1", "metric": "memory_usage_bytes", "value": 512.0 * MiB},
        {"time": ns(t1), "alloc_id": "a1", "node_id": "n1", "task": "app", "metric": "cpu_total_ticks",
         "value": 9999.0},                                                           # a task row: not the total
        {"time": ns(t1), "alloc_id": "a5", "node_id": "n2", "metric": "cpu_total_ticks", "value": 100.0},
        {"time": ns(t1), "alloc_id": "a5", "node_id": "n2", "metric": "memory_usage_bytes", "value": 128.0 * MiB},
    ])
    return {"nodes": nodes, "allocations": allocs, "usage": usage}


def _row(df: pd.DataFrame, resource: str, **keys: str) -> dict[str, object]:
    sel = df["resource"] == resource
    for k, v in keys.items():
        sel &= df[k] == v
    rows = df[sel].to_dict("records")
    assert len(rows) == 1
    return rows[0]


def test_per_node_figures_by_hand() -> None:
    cap = capacity(_frames())
    n1 = _row(cap, "cpu", node_id="n1")
    assert (n1["capacity"], n1["reserved"], n1["allocatable"]) == (4000, 200, 3800)
    assert n1["allocated"] == 1500              # a1 + a2 (pending holds its resources); a3, a4 do not
    assert n1["used"] == 600                    # the latest sample of a1's total, not the task row
    assert n1["headroom"] == 2300
    assert n1["allocated_pct"] == pytest.approx(1500 * 100 / 3800)
    assert n1["used_pct"] == pytest.approx(600 * 100 / 3800)
    assert n1["slack"] == 900
    mem = _row(cap, "memory", node_id="n1")
    assert (mem["allocatable"], mem["allocated"], mem["used"]) == (7680, 1536, 512)
    disk = _row(cap, "disk", node_id="n1")
    assert (disk["allocatable"], disk["allocated"]) == (9000, 600)
    assert np.isnan(disk["used"])               # Nomad reports no per-allocation disk use
    n3 = _row(cap, "cpu", node_id="n3")
    assert not n3["counted"]
    assert n3["note"] == "not counted: status down"
    assert cap.attrs["excluded"] == {"n3": "not counted: status down"}


def test_rollups_sum_the_counted_nodes() -> None:
    frames = _frames()
    by_node = capacity(frames)
    by_dc = capacity(frames, by="datacenter")
    dc1 = _row(by_dc, "cpu", datacenter="dc1")
    assert dc1["nodes"] == 1 and dc1["capacity"] == 4000      # the down node n3 is left out
    counted = by_node[by_node["counted"]]
    for fig in ("capacity", "reserved", "allocatable", "allocated", "used", "headroom"):
        for resource in ("cpu", "memory"):
            assert by_dc.loc[by_dc["resource"] == resource, fig].sum() == pytest.approx(
                counted.loc[counted["resource"] == resource, fig].sum())


def test_by_job_shares_of_the_cluster() -> None:
    by_job = capacity(_frames(), by="job")
    web = _row(by_job, "cpu", job_id="web")
    assert web["allocated"] == 1500 and web["used"] == 600
    assert web["allocated_pct"] == pytest.approx(1500 * 100 / (3800 + 2000))
    assert np.isnan(web["capacity"]) and np.isnan(web["headroom"])
    assert set(by_job["job_id"]) == {"web", "api"}          # a6 sits on a node not counted


def test_without_usage_used_is_missing_never_zero() -> None:
    frames = _frames()
    del frames["usage"]
    cap = capacity(frames, usage=False)
    assert cap["used"].isna().all() and cap["slack"].isna().all()


def test_a_node_whose_allocations_have_no_sample_has_no_used_figure() -> None:
    frames = _frames()
    frames["usage"] = frames["usage"][frames["usage"]["alloc_id"] != "a5"]
    cap = capacity(frames)
    assert np.isnan(_row(cap, "cpu", node_id="n2")["used"])
    by_dc = capacity(frames, by="datacenter")
    assert np.isnan(_row(by_dc, "cpu", datacenter="dc2")["used"])


def test_bad_by_and_missing_frames_say_what_to_do() -> None:
    with pytest.raises(ValueError, match="choose one of"):
        capacity(_frames(), by="rack")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="allocations"):
        capacity({"nodes": _frames()["nodes"]})


def _nomad_apm(http: httpx.Client, pool: str) -> dict[str, float]:
    """The nomad-apm plugin's node-pool percentages, computed its way from Nomad's raw API."""
    allocatable = {"cpu": 0, "mem": 0}
    allocated = {"cpu": 0, "mem": 0}
    for stub in http.get("/v1/nodes").json():
        if stub["NodePool"] != pool or stub["Status"] != "ready":
            continue
        info = http.get(f"/v1/node/{stub['ID']}").json()
        allocatable["cpu"] += info["NodeResources"]["Cpu"]["CpuShares"] - info["ReservedResources"]["Cpu"]["CpuShares"]
        allocatable["mem"] += (info["NodeResources"]["Memory"]["MemoryMB"]
                               - info["ReservedResources"]["Memory"]["MemoryMB"])
        for a in http.get(f"/v1/node/{stub['ID']}/allocations").json():
            if a["DesiredStatus"] != "run" or a["ClientStatus"] in ("complete", "failed", "lost"):
                continue
            allocated["cpu"] += a["Resources"]["CPU"]
            allocated["mem"] += a["Resources"]["MemoryMB"]
    return {"cpu": allocated["cpu"] * 100 / allocatable["cpu"], "memory": allocated["mem"] * 100 / allocatable["mem"]}


def test_agrees_with_the_nomad_autoscaler_formulas() -> None:
    cluster = SimCluster.default()
    http = httpx.Client(transport=cluster.transport(), base_url="http://nomad")
    cap = capacity(NomadClient(transport=cluster.transport()), by="node_pool", usage=False)
    expected = _nomad_apm(http, "default")
    for resource in ("cpu", "memory"):
        assert _row(cap, resource, node_pool="default")["allocated_pct"] == pytest.approx(expected[resource])


def test_demo_rollups_equal_the_node_sums_and_show_used(demo: NomadClient) -> None:
    import nomadlab.frames as nf

    frames = {"nodes": nf.nodes(demo), "allocations": nf.allocations(demo), "usage": nf.alloc_stats(demo)}
    by_node = capacity(frames)
    counted = by_node[by_node["counted"]]
    assert set(by_node.loc[~by_node["counted"], "status"].astype(str)) == {"down"}
    for by in ("datacenter", "node_pool", "node_class"):
        roll = capacity(frames, by=by)  # type: ignore[arg-type]
        for resource in ("cpu", "memory", "disk"):
            for fig in ("capacity", "reserved", "allocatable", "allocated", "headroom"):
                assert roll.loc[roll["resource"] == resource, fig].sum() == pytest.approx(
                    counted.loc[counted["resource"] == resource, fig].sum()), (by, resource, fig)
    by_dc = capacity(frames, by="datacenter")
    cpu = by_dc[by_dc["resource"] == "cpu"]
    assert cpu["used"].notna().all() and (cpu["used"] > 0).all()
    assert (cpu["used"] < cpu["allocated"]).all()       # "used" is not "allocated"
    assert list(by_dc.columns[-len(FIGURES):]) == list(FIGURES)
