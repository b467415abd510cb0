from __future__ import annotations

import pandas as pd
import pytest

from nomadlab.analysis import AddNodes, Ask, Drain, DrainDatacenter, RemoveNodeClass, Scale, fit
from nomadlab.client import NomadClient

from .conftest import alloc, make, node


def _frames() -> dict[str, pd.DataFrame]:
    nodes = make("nodes", [
        node("n1", dc="dc1", cpu=4000, mem=8192, rcpu=200, rmem=512),          # free 2300 MHz, 6144 MB
        node("n2", dc="dc2", cpu=2000, mem=4096, cls="small"),                  # free 1700 MHz, 3840 MB
        node("n3", dc="dc1", status="down"),
        node("n4", dc="dc1", eligibility="ineligible"),
        node("n5", dc="dc1", pool="gpu"),
    ])
    allocs = make("allocations", [
        alloc("a1", "n1", cpu=1000, mem=1024, disk=300),
        alloc("a2", "n1", client="pending", cpu=500, mem=512, disk=300),
        alloc("a5", "n2", job="api", group="api", cpu=300, mem=256, disk=100),
    ])
    groups = make("task_groups", [
        {"namespace": "default", "job_id": "api", "task_group": "api", "task": "api", "count": 1,
         "cpu_mhz": 250, "memory_mb": 200, "disk_mb": 100},
        {"namespace": "default", "job_id": "api", "task_group": "api", "task": "envoy", "count": 1,
         "cpu_mhz": 50, "memory_mb": 56, "disk_mb": 100},
    ])
    jobs = make("jobs", [{"namespace": "default", "job_id": "api", "datacenters": ["dc*"], "node_pool": "default"}])
    return {"nodes": nodes, "allocations": allocs, "task_groups": groups, "jobs": jobs}


def _fits(df: pd.DataFrame) -> dict[str, int]:
    return dict(zip(df["node_id"], df["fits"].astype(int), strict=True))


def test_fits_node_by_node_by_hand() -> None:
    out = fit(_frames(), ask=Ask(cpu_mhz=1000, memory_mb=1024), node_pool="default")
    assert _fits(out) == {"n1": 2, "n2": 1, "n3": 0, "n4": 0, "n5": 0}
    assert out.attrs["total"] == 3
    notes = dict(zip(out["node_id"], out["note"], strict=True))
    assert notes["n3"] == "status down" and notes["n4"] == "ineligible" and notes["n5"] == "not in node pool default"
    assert out.loc[out["node_id"] == "n1", "limited_by"].item() == "cpu_mhz"
    assert "approximation" in out.attrs["method"]


def test_a_group_ask_is_its_tasks_summed_and_its_placement_rules() -> None:
    out = fit(_frames(), job="api", group="api")
    assert out.attrs["ask"] == Ask(300, 256, 100)
    # n1: min(2300 // 300, 6144 // 256) = 7; n2: min(1700 // 300, 3840 // 256) = 5; pool gpu left out
    assert _fits(out) == {"n1": 7, "n2": 5, "n3": 0, "n4": 0, "n5": 0}


def test_what_if_drain_moves_the_node_allocations_first() -> None:
    out = fit(_frames(), ask={"cpu_mhz": 1000, "memory_mb": 1024}, node_pool="default", what_if=[Drain("n2")])
    # a5 (300 MHz) moves to n1: 2000 MHz free there → 2
    assert _fits(out) == {"n1": 2, "n2": 0, "n3": 0, "n4": 0, "n5": 0}
    assert out.attrs["displaced"] == 1 and out.attrs["unplaced"] == 0
    assert out.loc[out["node_id"] == "n1", "free_cpu_mhz"].item() == 2000


def test_what_if_datacenter_class_scale_and_new_nodes() -> None:
    frames = _frames()
    ask = {"cpu_mhz": 1000, "memory_mb": 1024}
    assert fit(frames, ask=ask, node_pool="default", what_if=[DrainDatacenter("dc2")]).attrs["total"] == 2
    removed = fit(frames, ask=ask, node_pool="default", what_if=[RemoveNodeClass("small")])
    assert "n2" not in set(removed["node_id"]) and removed.attrs["total"] == 2
    scaled = fit(frames, ask=ask, node_pool="default", what_if=[Scale("api", "api", 4)])
    # three more api instances (300 MHz each) go first on the node with the most free memory (n1)
    assert scaled.attrs["total"] == 2
    added = fit(frames, ask=ask, node_pool="default",
                what_if=[AddNodes(2, cpu_mhz=4000, memory_mb=8192, node_pool="default")])
    assert added.attrs["total"] == 3 + 2 * 4


def test_bad_arguments_say_what_to_give() -> None:
    with pytest.raises(ValueError, match="ask="):
        fit(_frames())
    with pytest.raises(ValueError, match="asks for nothing"):
        fit(_frames(), ask={"cpu_mhz": 0})
    with pytest.raises(ValueError, match="no task group 'nope'"):
        fit(_frames(), job="api", group="nope")
    with pytest.raises(ValueError, match="no node 'zz'"):
        fit(_frames(), ask={"cpu_mhz": 10}, what_if=[Drain("zz")])


def test_plan_asks_nomad_and_both_answers_agree_on_a_plain_cluster() -> None:
    from nomadlab.sim import SimCluster

    client = NomadClient(transport=SimCluster.default().transport())
    out = fit(client, job="web", group="frontend", plan=True)
    plan = out.attrs["plan"]
    assert plan["estimate"] == out.attrs["total"] > 0
    assert plan["asked_count"] == plan["count_now"] + plan["estimate"]
    assert plan["nomad_unplaced"] == 0 and plan["nomad_places"] == plan["estimate"] and plan["agree"]
    # the plan changed nothing
    assert client.get("/v1/job/web").body["TaskGroups"][0]["Count"] == plan["count_now"]


def test_plan_shows_where_the_estimate_is_too_high() -> None:
    from nomadlab.sim import SimCluster

    client = NomadClient(transport=SimCluster.default().transport())
    out = fit(client, job="web", group="frontend", plan=True, what_if=[AddNodes(3, cpu_mhz=64000, memory_mb=262144)])
    plan = out.attrs["plan"]
    assert plan["estimate"] > plan["nomad_places"] and plan["nomad_unplaced"] > 0 and not plan["agree"]
