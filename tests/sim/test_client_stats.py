"""Client usage stats: ``/v1/client/stats``, ``/v1/client/allocation/:id/stats`` (§5)."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest

from nomadlab.sim import SimCluster
from nomadlab.sim.scenarios import group, job_spec, task
from nomadlab.sim.usage import alloc_usage, host_stats, task_limits
from tests.conftest import SAMPLES_DIR
from tests.shapes import assert_same_shape

SAMPLES = SAMPLES_DIR


def _client(cluster: SimCluster) -> httpx.Client:
    return httpx.Client(transport=cluster.transport(), base_url="http://nomad")


def _sample(name: str) -> Any:
    path = SAMPLES / name
    if not SAMPLES.is_dir():  # in CI the run fails at its start instead (tests/conftest.py)
        pytest.skip(f"sample responses not found at {SAMPLES}")
    return json.loads(path.read_text())


def _running_allocs(cluster: SimCluster) -> list[dict[str, Any]]:
    return [a for a in cluster.state.allocs.values() if a["ClientStatus"] == "running"]


@pytest.fixture
def default() -> SimCluster:
    return SimCluster.default(seed=0)


# -- shapes --------------------------------------------------------------------------------------
def test_host_stats_shape_matches_sample(default: SimCluster) -> None:
    node = next(iter(default.state.nodes.values()))
    body = _client(default).get("/v1/client/stats", params={"node_id": node["ID"]}).json()
    # ⚠ the doc sample's CPU entries carry the stale `Total` (now TotalPercent/TotalTicks).
    assert_same_shape(_sample("GET_v1_client_stats.json"), body, ignore=["$.CPU[*].Total"])
    for cpu in body["CPU"]:
        assert set(cpu) == {"CPU", "User", "System", "Idle", "TotalPercent", "TotalTicks"}
    assert set(body["Memory"]) == {"Total", "Available", "Used", "Free"}
    assert body["DeviceStats"] == []
    assert body["AllocDirStats"]["Device"] == "" and body["AllocDirStats"]["Mountpoint"] == ""
    assert isinstance(body["Uptime"], int) and isinstance(body["Timestamp"], int)


def test_alloc_stats_shape_matches_sample(default: SimCluster) -> None:
    alloc = _running_allocs(default)[0]
    body = _client(default).get(f"/v1/client/allocation/{alloc['ID']}/stats").json()
    assert_same_shape(_sample("GET_v1_client_allocation_id_stats.json"), body, maps=["$.Tasks"])
    # ⚠ the doc sample lacks these current fields.
    ms = body["ResourceUsage"]["MemoryStats"]
    assert {"MappedFile", "Usage"} <= set(ms)
    assert body["ResourceUsage"]["DeviceStats"] == []
    for usage in body["Tasks"].values():
        assert usage["Pids"] is None
        assert usage["Timestamp"] == body["Timestamp"]


# -- determinism ---------------------------------------------------------------------------------
def test_same_seed_and_time_give_the_same_answer() -> None:
    a, b = SimCluster.default(seed=4), SimCluster.default(seed=4)
    for cluster in (a, b):
        cluster.advance(123)
    ca, cb = _client(a), _client(b)
    for node_id in a.state.nodes:
        ra = ca.get("/v1/client/stats", params={"node_id": node_id}).json()
        assert ra == cb.get("/v1/client/stats", params={"node_id": node_id}).json()
        assert ra == ca.get("/v1/client/stats", params={"node_id": node_id}).json()
    for alloc in _running_allocs(a):
        path = f"/v1/client/allocation/{alloc['ID']}/stats"
        assert ca.get(path).json() == cb.get(path).json()


def test_usage_moves_with_time(default: SimCluster) -> None:
    alloc = _running_allocs(default)[0]
    node = default.state.nodes[alloc["NodeID"]]
    before = alloc_usage(default.seed, alloc, default.now_ns(), node=node)
    default.advance(4 * 3600)
    after = alloc_usage(default.seed, alloc, default.now_ns(), node=node)
    assert before["Timestamp"] < after["Timestamp"]
    assert (
        before["ResourceUsage"]["CpuStats"]["TotalTicks"]
        != after["ResourceUsage"]["CpuStats"]["TotalTicks"]
    )


def test_timestamps_follow_the_simulated_clock(default: SimCluster) -> None:
    node = next(iter(default.state.nodes.values()))
    body = _client(default).get("/v1/client/stats", params={"node_id": node["ID"]}).json()
    assert 0 <= default.now_ns() - body["Timestamp"] < 1_000_000_000


# -- consistency ---------------------------------------------------------------------------------
@pytest.mark.parametrize("hours", [0, 3, 9, 14, 20])
def test_host_usage_covers_its_allocations(default: SimCluster, hours: int) -> None:
    default.advance(hours * 3600)
    api = _client(default)
    for node_id, node in default.state.nodes.items():
        host = api.get("/v1/client/stats", params={"node_id": node_id}).json()
        ticks = mem = 0.0
        for alloc in default.state.node_allocs(node_id):
            usage = api.get(f"/v1/client/allocation/{alloc['ID']}/stats").json()
            ticks += usage["ResourceUsage"]["CpuStats"]["TotalTicks"]
            mem += usage["ResourceUsage"]["MemoryStats"]["Usage"]
        assert host["CPUTicksConsumed"] >= ticks - 1e-6
        assert host["Memory"]["Used"] >= mem
        assert host["Memory"]["Used"] <= host["Memory"]["Total"]
        assert host["CPUTicksConsumed"] <= node["NodeResources"]["Cpu"]["CpuShares"] + 1e-6
        assert host["CPUTicksConsumed"] >= sum(c["TotalTicks"] for c in host["CPU"]) - 1e-6
        for cpu in host["CPU"]:
            assert 0.0 <= cpu["TotalPercent"] <= 100.0
            assert cpu["Idle"] == pytest.approx(100.0 - cpu["TotalPercent"])


def test_task_usage_stays_within_its_limits(default: SimCluster) -> None:
    for _ in range(6):
        default.advance(1800)
        for alloc in _running_allocs(default):
            node = default.state.nodes[alloc["NodeID"]]
            per_core = (
                node["NodeResources"]["Cpu"]["CpuShares"]
                / node["NodeResources"]["Cpu"]["TotalCpuCores"]
            )
            usage = alloc_usage(default.seed, alloc, default.now_ns(), node=node)
            for name, tu in usage["Tasks"].items():
                cpu_ask, mem_limit = task_limits(alloc, name)
                cs, ms = tu["ResourceUsage"]["CpuStats"], tu["ResourceUsage"]["MemoryStats"]
                assert 0 < cs["TotalTicks"] <= cpu_ask
                assert cs["Percent"] == pytest.approx(cs["TotalTicks"] / per_core * 100.0)
                assert 0 < ms["Usage"] <= mem_limit
                assert ms["Cache"] <= ms["Usage"]


def test_memory_max_is_the_limit_with_oversubscription() -> None:
    cluster = SimCluster()
    cluster.add_node(
        name="n1",
        datacenter="dc1",
        address="10.0.0.10",
        cpu_mhz=4000,
        cores=2,
        memory_mb=4096,
        disk_mb=10_000,
    )
    cluster.behaviours.script(image="app:latest", mem_profile=1.0)
    cluster.register_job(
        job_spec(
            "over",
            [
                group(
                    "g",
                    [
                        task(
                            "app",
                            memory_mb=100,
                            memory_max_mb=400,
                        )
                    ],
                )
            ],
            datacenters=["dc1"],
        )
    )
    cluster.advance(120)
    alloc = _running_allocs(cluster)[0]
    cpu_ask, limit = task_limits(alloc, "app")
    assert limit == 400 * 1024 * 1024
    usage = alloc_usage(cluster.seed, alloc, cluster.now_ns(), behaviours=cluster.behaviours)
    assert (
        100 * 1024 * 1024 < usage["Tasks"]["app"]["ResourceUsage"]["MemoryStats"]["Usage"] <= limit
    )


def _oom_cluster() -> SimCluster:
    cluster = SimCluster()
    cluster.add_node(
        name="n1",
        datacenter="dc1",
        address="10.0.0.10",
        cpu_mhz=4000,
        cores=2,
        memory_mb=4096,
        disk_mb=10_000,
    )
    cluster.behaviours.script(image="app:latest", fail="oom", fail_after_s=60)
    cluster.register_job(
        job_spec(
            "leaky",
            [
                group(
                    "g",
                    [task("app", memory_mb=256)],
                )
            ],
            datacenters=["dc1"],
        )
    )
    return cluster


def test_oom_task_climbs_to_its_limit_then_shows_the_kill() -> None:
    cluster = _oom_cluster()
    cluster.advance(3)  # started at +2 s
    alloc = next(iter(cluster.state.allocs.values()))
    _, limit = task_limits(alloc, "app")
    seen = []
    for _ in range(58):
        usage = alloc_usage(cluster.seed, alloc, cluster.now_ns(), behaviours=cluster.behaviours)
        seen.append(usage["Tasks"]["app"]["ResourceUsage"]["MemoryStats"]["Usage"])
        cluster.advance(1)
    assert all(u <= limit for u in seen)
    assert seen == sorted(seen), "memory only climbs toward the OOM kill"
    assert seen[-1] > 0.9 * limit
    cluster.advance(5)  # past the kill at +62 s
    events = alloc["TaskStates"]["app"]["Events"]
    oom = [
        e for e in events if e["Type"] == "Terminated" and e["Details"].get("oom_killed") == "true"
    ]
    assert oom and oom[-1]["ExitCode"] == 137
    # Waiting to restart: not running, so no usage reported for it.
    assert alloc["TaskStates"]["app"]["State"] == "pending"
    assert alloc_usage(cluster.seed, alloc, cluster.now_ns(), behaviours=cluster.behaviours)["Tasks"] == {}


def test_terminal_allocation_reports_no_usage() -> None:
    cluster = SimCluster()
    cluster.add_node(
        name="n1",
        datacenter="dc1",
        address="10.0.0.10",
        cpu_mhz=4000,
        cores=2,
        memory_mb=4096,
        disk_mb=10_000,
    )
    cluster.behaviours.script(command="/usr/local/bin/job", run_s=10)
    cluster.register_job(
        job_spec(
            "once",
            [group("g", [task("job", driver="exec")])],
            job_type="batch",
            datacenters=["dc1"],
        )
    )
    cluster.advance(60)
    alloc = next(iter(cluster.state.allocs.values()))
    assert alloc["ClientStatus"] == "complete"
    body = _client(cluster).get(f"/v1/client/allocation/{alloc['ID']}/stats").json()
    assert body["Tasks"] == {}
    assert body["Timestamp"] == 0
    assert body["ResourceUsage"]["CpuStats"]["TotalTicks"] == 0
    assert body["ResourceUsage"]["MemoryStats"]["Usage"] == 0
    node = cluster.state.nodes[alloc["NodeID"]]
    host = host_stats(cluster.seed, node, [alloc], cluster.now_ns())
    assert host["CPUTicksConsumed"] > 0  # the OS still uses some


def test_task_filter(default: SimCluster) -> None:
    alloc = next(a for a in _running_allocs(default) if len(a["TaskStates"]) > 1)
    api = _client(default)
    path = f"/v1/client/allocation/{alloc['ID']}/stats"
    whole = api.get(path).json()
    assert set(whole["Tasks"]) == set(alloc["TaskStates"])
    name = sorted(alloc["TaskStates"])[0]
    one = api.get(path, params={"task": name}).json()
    assert set(one["Tasks"]) == {name}
    assert (
        one["ResourceUsage"]["CpuStats"]["TotalTicks"]
        == one["Tasks"][name]["ResourceUsage"]["CpuStats"]["TotalTicks"]
    )
    total = sum(t["ResourceUsage"]["CpuStats"]["TotalTicks"] for t in whole["Tasks"].values())
    assert whole["ResourceUsage"]["CpuStats"]["TotalTicks"] == pytest.approx(total)
    none = api.get(path, params={"task": "nope"})
    assert none.status_code == 200 and none.json()["Tasks"] == {}


def test_executor_tasks_report_system_and_user_mode(default: SimCluster) -> None:
    alloc = next(
        a
        for a in _running_allocs(default)
        if any(t["Driver"] == "exec" for g in a["Job"]["TaskGroups"] for t in g["Tasks"])
    )
    usage = alloc_usage(default.seed, alloc, default.now_ns())
    for tu in usage["Tasks"].values():
        assert "System Mode" in tu["ResourceUsage"]["CpuStats"]["Measured"]


# -- errors --------------------------------------------------------------------------------------
def test_client_stats_errors(default: SimCluster) -> None:
    api = _client(default)
    r = api.get("/v1/client/stats")
    assert (r.status_code, r.text) == (400, "No local Node and node_id not provided")
    r = api.get("/v1/client/stats", params={"node_id": "no-such-node"})
    assert (r.status_code, r.text) == (404, 'Unknown node "no-such-node"')
    r = api.get("/v1/client/allocation/no-such-alloc/stats")
    assert (r.status_code, r.text) == (404, 'Unknown allocation "no-such-alloc"')
    assert r.headers["content-type"].startswith("text/plain")


def test_unreachable_node_has_no_path(default: SimCluster) -> None:
    alloc = _running_allocs(default)[0]
    default.set_node_status(alloc["NodeID"], "down")
    api = _client(default)
    r = api.get("/v1/client/stats", params={"node_id": alloc["NodeID"]})
    assert (r.status_code, r.text) == (404, "No path to node")
    r = api.get(f"/v1/client/allocation/{alloc['ID']}/stats")
    assert (r.status_code, r.text) == (404, "No path to node")


def test_scripted_working_set_is_the_memory_usage_and_the_oom_climb_ends_at_the_limit() -> None:
    cluster = SimCluster()
    cluster.add_node(name="n1", datacenter="dc1", address="10.0.0.10", cpu_mhz=4000, cores=2,
                     memory_mb=4096, disk_mb=10_000)
    cluster.behaviours.script(image="steady:1", memory_mb=200, warmup_s=60)
    cluster.behaviours.script(image="leaky:1", memory_mb=400, warmup_s=60)
    cluster.register_job(job_spec("steady", [group("g", [task("app", image="steady:1", memory_mb=512)])],
                                  datacenters=["dc1"]))
    cluster.register_job(job_spec("leaky", [group("g", [task("app", image="leaky:1", memory_mb=256)],
                                                  restart={"Attempts": 0, "Mode": "fail"})],
                                  datacenters=["dc1"]))
    cluster.advance(3)  # both started at +2 s; leaky reaches 256 MB at 0.4 + 0.6 t/60 = 0.64: t = 24 s
    by_job = {a["JobID"]: a for a in cluster.state.allocs.values()}
    seen = []
    for _ in range(22):
        usage = alloc_usage(cluster.seed, by_job["leaky"], cluster.now_ns(), behaviours=cluster.behaviours)
        seen.append(usage["Tasks"]["app"]["ResourceUsage"]["MemoryStats"]["Usage"])
        cluster.advance(1)
    assert seen == sorted(seen) and seen[-1] <= 256 * 1024 * 1024
    assert seen[-1] > 0.9 * 256 * 1024 * 1024
    cluster.advance(60)
    assert by_job["leaky"]["ClientStatus"] == "failed"
    steady = alloc_usage(cluster.seed, by_job["steady"], cluster.now_ns(), behaviours=cluster.behaviours)
    used = steady["Tasks"]["app"]["ResourceUsage"]["MemoryStats"]["Usage"] / 1024 / 1024
    assert 200 * 0.96 < used < 200 * 1.04  # the working set, within the noise
    # The same objects through the HTTP route consult the same table.
    body = _client(cluster).get(f"/v1/client/allocation/{by_job['steady']['ID']}/stats").json()
    assert 200 * 0.96 < body["Tasks"]["app"]["ResourceUsage"]["MemoryStats"]["Usage"] / 2**20 < 200 * 1.04
