"""Node reads, drain and eligibility over HTTP (REFERENCE §4).

A drain marks the node ineligible, sets ``DrainStrategy`` (``Deadline`` ns; ``ForceDeadline``
and ``StartedAt`` RFC3339), migrates service/batch allocations to other nodes with
``node-drain`` evals, stops system allocations last unless ``IgnoreSystemJobs``, and ends with
``DrainStrategy`` null and ``LastDrain.Status`` ``complete``. The drain and eligibility replies
are ``{NodeModifyIndex, EvalIDs, EvalCreateIndex, Index}``.
"""

from __future__ import annotations

import re

import httpx
import pytest

from nomadlab.sim import SimCluster
from tests.sim.conftest import NODE_CPU, NODE_DISK, NODE_MEM, allocs_of, node_named, simple_job

RFC3339 = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)$")
HOUR_NS = 3_600_000_000_000


def test_node_list_stub_and_full_node(cluster: SimCluster, api: httpx.Client) -> None:
    r = api.get("/v1/nodes")
    stubs = r.json()
    assert [s["ID"] for s in stubs] == sorted(n["ID"] for n in cluster.state.nodes.values())
    stub = next(s for s in stubs if s["Name"] == "a1")
    assert stub["Datacenter"] == "dc1" and stub["NodePool"] == "default"
    assert stub["Status"] == "ready" and stub["SchedulingEligibility"] == "eligible"
    assert stub["Drain"] is False
    assert "NodeResources" not in stub and "ReservedResources" not in stub
    assert stub["Address"] == "10.0.0.10"
    node = api.get(f"/v1/node/{stub['ID']}").json()
    assert "Drain" not in node  # removed from the full Node (REFERENCE §4 ⚠)
    assert node["NodeResources"]["Cpu"]["CpuShares"] == NODE_CPU
    assert node["NodeResources"]["Memory"]["MemoryMB"] == NODE_MEM
    assert node["NodeResources"]["Disk"]["DiskMB"] == NODE_DISK
    assert set(node["ReservedResources"]) >= {"Cpu", "Memory", "Disk", "Networks"}
    assert node["SecretID"] == ""
    assert isinstance(node["StatusUpdatedAt"], int) and node["StatusUpdatedAt"] < 10**11  # seconds
    assert node["DrainStrategy"] is None


def test_node_list_resources_and_os(api: httpx.Client) -> None:
    stub = api.get("/v1/nodes?resources=true").json()[0]
    assert stub["NodeResources"]["Cpu"]["CpuShares"] == NODE_CPU
    assert "ReservedResources" in stub
    with_os = api.get("/v1/nodes?os=true").json()[0]
    assert set(with_os["Attributes"]) == {"os.name"}


def test_reserved_resources_shown(make_cluster) -> None:
    cluster = make_cluster((("a1", "dc1"),), reserved_cpu_mhz=200, reserved_memory_mb=128)
    node = next(iter(cluster.state.nodes.values()))
    assert node["ReservedResources"]["Cpu"]["CpuShares"] == 200
    assert node["ReservedResources"]["Memory"]["MemoryMB"] == 128


def test_node_allocations_are_full_objects(cluster: SimCluster, api: httpx.Client) -> None:
    cluster.register_job(simple_job("web", count=1))
    alloc = allocs_of(cluster, "web")[0]
    listed = api.get(f"/v1/node/{alloc['NodeID']}/allocations").json()
    assert [a["ID"] for a in listed] == [alloc["ID"]]
    assert "Job" in listed[0] and "AllocatedResources" in listed[0]
    other = next(n for n in cluster.state.nodes if n != alloc["NodeID"])
    assert api.get(f"/v1/node/{other}/allocations").json() == []


def test_drain_migrates_allocations(cluster: SimCluster, api: httpx.Client) -> None:
    cluster.register_job(simple_job("web", count=2, datacenters=["dc1"]))
    cluster.register_job(simple_job("agent", job_type="system", datacenters=["dc1"]))
    cluster.advance(60)
    a1 = node_named(cluster, "a1")["ID"]
    on_a1 = [a for a in cluster.state.node_allocs(a1) if a["JobID"] == "web"]
    assert len(on_a1) == 1
    r = api.post(
        f"/v1/node/{a1}/drain",
        json={
            "DrainSpec": {"Deadline": HOUR_NS, "IgnoreSystemJobs": False},
            "Meta": {"reason": "kernel"},
        },
    )
    assert r.status_code == 200
    reply = r.json()
    assert set(reply) == {"NodeModifyIndex", "EvalIDs", "EvalCreateIndex", "Index"}
    assert r.headers["X-Nomad-Index"] == str(reply["Index"])
    assert len(reply["EvalIDs"]) == 1
    ev = api.get(f"/v1/evaluation/{reply['EvalIDs'][0]}").json()
    assert (ev["TriggeredBy"], ev["JobID"], ev["NodeID"]) == ("node-drain", "web", a1)
    node = api.get(f"/v1/node/{a1}").json()
    assert node["SchedulingEligibility"] == "ineligible"
    strategy = node["DrainStrategy"]
    assert strategy["Deadline"] == HOUR_NS and strategy["IgnoreSystemJobs"] is False
    assert RFC3339.match(strategy["ForceDeadline"]) and RFC3339.match(strategy["StartedAt"])
    assert node["LastDrain"]["Status"] == "draining"
    assert node["LastDrain"]["Meta"] == {"reason": "kernel"}
    assert (
        api.get("/v1/nodes").json()[[n["ID"] for n in api.get("/v1/nodes").json()].index(a1)][
            "Drain"
        ]
        is True
    )
    cluster.advance(30)
    web = [a for a in allocs_of(cluster, "web") if a["ClientStatus"] == "running"]
    assert len(web) == 2 and a1 not in {a["NodeID"] for a in web}
    migrated = on_a1[0]
    assert migrated["DesiredStatus"] == "stop" and migrated["ClientStatus"] == "complete"
    assert migrated["DesiredTransition"]["Migrate"] is True
    assert migrated["NextAllocation"] in {a["ID"] for a in web}
    # System allocations leave last, when the drain completes.
    agent_on_a1 = [a for a in cluster.state.node_allocs(a1) if a["JobID"] == "agent"]
    assert [a["DesiredStatus"] for a in agent_on_a1] == ["stop"]
    node = api.get(f"/v1/node/{a1}").json()
    assert node["DrainStrategy"] is None
    assert node["LastDrain"]["Status"] == "complete"
    assert node["SchedulingEligibility"] == "ineligible"
    stub = next(n for n in api.get("/v1/nodes").json() if n["ID"] == a1)
    assert stub["Drain"] is False


def test_drain_ignoring_system_jobs_leaves_them_running(
    cluster: SimCluster, api: httpx.Client
) -> None:
    cluster.register_job(simple_job("agent", job_type="system", datacenters=["dc1"]))
    cluster.advance(30)
    a1 = node_named(cluster, "a1")["ID"]
    api.post(
        f"/v1/node/{a1}/drain", json={"DrainSpec": {"Deadline": HOUR_NS, "IgnoreSystemJobs": True}}
    )
    cluster.advance(30)
    agent = [a for a in cluster.state.node_allocs(a1) if a["JobID"] == "agent"]
    assert [(a["DesiredStatus"], a["ClientStatus"]) for a in agent] == [("run", "running")]
    assert cluster.state.nodes[a1]["LastDrain"]["Status"] == "complete"


def test_cancel_drain_with_null_spec(cluster: SimCluster, api: httpx.Client) -> None:
    a1 = node_named(cluster, "a1")["ID"]
    cluster.register_job(simple_job("web", count=3, datacenters=["dc1"]))
    cluster.advance(30)
    api.post(f"/v1/node/{a1}/drain", json={"DrainSpec": {"Deadline": HOUR_NS}})
    r = api.post(f"/v1/node/{a1}/drain", json={"DrainSpec": None, "MarkEligible": True})
    assert r.status_code == 200
    node = api.get(f"/v1/node/{a1}").json()
    assert node["DrainStrategy"] is None
    assert node["SchedulingEligibility"] == "eligible"


@pytest.mark.parametrize("method", ["PUT", "POST"])
def test_eligibility_toggle(cluster: SimCluster, api: httpx.Client, method: str) -> None:
    a1 = node_named(cluster, "a1")["ID"]
    before = cluster.state.nodes[a1]["ModifyIndex"]
    r = api.request(method, f"/v1/node/{a1}/eligibility", json={"Eligibility": "ineligible"})
    assert r.status_code == 200
    reply = r.json()
    assert set(reply) == {"NodeModifyIndex", "EvalIDs", "EvalCreateIndex", "Index"}
    node = api.get(f"/v1/node/{a1}").json()
    assert node["SchedulingEligibility"] == "ineligible"
    assert node["ModifyIndex"] == reply["NodeModifyIndex"] > before
    cluster.register_job(simple_job("web", count=4, datacenters=["dc1"]))
    assert a1 not in {a["NodeID"] for a in allocs_of(cluster, "web")}
    api.request(method, f"/v1/node/{a1}/eligibility", json={"Eligibility": "eligible"})
    assert api.get(f"/v1/node/{a1}").json()["SchedulingEligibility"] == "eligible"


def test_eligibility_change_does_not_move_running_work(
    cluster: SimCluster, api: httpx.Client
) -> None:
    cluster.register_job(simple_job("web", count=1, datacenters=["dc2"]))
    cluster.advance(30)
    alloc = allocs_of(cluster, "web")[0]
    api.post(f"/v1/node/{alloc['NodeID']}/eligibility", json={"Eligibility": "ineligible"})
    cluster.advance(30)
    assert (alloc["DesiredStatus"], alloc["ClientStatus"]) == ("run", "running")


def test_node_blocking_read_index_is_node_modify_index(
    cluster: SimCluster, api: httpx.Client
) -> None:
    a1 = node_named(cluster, "a1")["ID"]
    api.post(f"/v1/node/{a1}/eligibility", json={"Eligibility": "ineligible"})
    r = api.get(f"/v1/node/{a1}")
    assert int(r.headers["X-Nomad-Index"]) == r.json()["ModifyIndex"]
