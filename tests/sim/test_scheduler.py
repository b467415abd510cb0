"""Scheduler behaviour: bin-packing by CPU MHz and memory MB, feasibility, failure metrics,
blocked evaluations, and the semantics of service, batch, system and sysbatch jobs.

Expected values are derived from Nomad's scheduler: nodes are feasible only when ready,
eligible, not draining, in the job's datacenters and node pool; a group that does not fit
reports ``FailedTGAllocs`` whose ``DimensionExhausted`` names the first exhausted dimension in
``ComparableResources.Superset`` order (``cpu``, ``memory``, ``disk``), and leaves one
``blocked`` evaluation triggered by ``queued-allocs``.
"""

from __future__ import annotations

import pytest

from nomadlab.sim import SimCluster
from nomadlab.sim.scenarios import group, job_spec, task
from tests.sim.conftest import (
    NODE_CPU,
    NODE_DISK,
    NODE_MEM,
    allocs_of,
    evals_of,
    node_named,
    simple_job,
)


def live(allocs):
    return [a for a in allocs if a["DesiredStatus"] == "run"]


def test_register_creates_eval_then_allocations(cluster: SimCluster) -> None:
    reply = cluster.register_job(simple_job("web", count=2))
    evals = evals_of(cluster, "web")
    assert [e["ID"] for e in evals] == [reply["EvalID"]]
    ev = evals[0]
    assert ev["TriggeredBy"] == "job-register"
    assert ev["Status"] == "complete"
    assert ev["FailedTGAllocs"] is None
    allocs = allocs_of(cluster, "web")
    assert len(allocs) == 2
    assert {a["EvalID"] for a in allocs} == {ev["ID"]}
    assert sorted(a["Name"] for a in allocs) == ["web.g[0]", "web.g[1]"]
    # Allocations are written after the eval: at a later Raft index.
    assert all(a["CreateIndex"] > ev["CreateIndex"] for a in allocs)


def test_binpack_prefers_the_fuller_node(make_cluster) -> None:
    cluster = make_cluster((("a1", "dc1"), ("a2", "dc1")))
    cluster.register_job(simple_job("first", cpu=400, memory_mb=400, datacenters=["dc1"]))
    first_node = allocs_of(cluster, "first")[0]["NodeID"]
    # A different job that fits on both nodes goes where it packs tighter.
    cluster.register_job(simple_job("second", cpu=400, memory_mb=400, datacenters=["dc1"]))
    assert allocs_of(cluster, "second")[0]["NodeID"] == first_node


def test_cpu_capacity_spreads_a_group_that_cannot_share_a_node(make_cluster) -> None:
    cluster = make_cluster((("a1", "dc1"), ("a2", "dc1")))
    cluster.register_job(simple_job("web", count=2, cpu=600, datacenters=["dc1"]))
    nodes = {a["NodeID"] for a in allocs_of(cluster, "web")}
    assert len(nodes) == 2  # 2 x 600 MHz does not fit one 1000 MHz node


@pytest.mark.parametrize(
    ("ask", "dimension"),
    [
        pytest.param({"cpu": NODE_CPU + 1}, "cpu", id="cpu"),
        pytest.param({"memory_mb": NODE_MEM + 1}, "memory", id="memory"),
        pytest.param({"disk_mb": NODE_DISK + 1}, "disk", id="disk"),
        pytest.param(
            {"cpu": NODE_CPU + 1, "memory_mb": NODE_MEM + 1}, "cpu", id="cpu-checked-first"
        ),
    ],
)
def test_group_that_does_not_fit_reports_exhausted_dimension(
    cluster: SimCluster, ask, dimension
) -> None:
    reply = cluster.register_job(simple_job("big", count=2, **ask))
    assert allocs_of(cluster, "big") == []
    ev = cluster.state.evals[reply["EvalID"]]
    assert ev["Status"] == "complete"
    metric = ev["FailedTGAllocs"]["g"]
    nodes = len(cluster.state.nodes)
    assert metric["NodesEvaluated"] == nodes
    assert metric["NodesExhausted"] == nodes
    assert metric["DimensionExhausted"] == {dimension: nodes}
    assert metric["NodesAvailable"] == {"dc1": 2, "dc2": 1}
    assert metric["CoalescedFailures"] == 1  # the second instance failed the same way
    assert ev["QueuedAllocations"] == {"g": 2}
    blocked = cluster.state.evals[ev["BlockedEval"]]
    assert blocked["Status"] == "blocked"
    assert blocked["TriggeredBy"] == "queued-allocs"
    assert blocked["PreviousEval"] == ev["ID"]
    summary = cluster.state.job_summaries[("default", "big")]["Summary"]["g"]
    assert summary["Queued"] == 2
    assert cluster.state.jobs[("default", "big")]["Status"] == "pending"


@pytest.mark.parametrize(
    ("count", "queued", "coalesced"), [(3, 1, 0), (4, 2, 1)], ids=["one-short", "two-short"]
)
def test_partial_fit_queues_exactly_the_unplaced(make_cluster, count, queued, coalesced) -> None:
    cluster = make_cluster((("a1", "dc1"), ("a2", "dc1")))
    reply = cluster.register_job(simple_job("web", count=count, cpu=600, datacenters=["dc1"]))
    assert len(allocs_of(cluster, "web")) == 2
    ev = cluster.state.evals[reply["EvalID"]]
    assert ev["FailedTGAllocs"]["g"]["CoalescedFailures"] == coalesced
    assert ev["QueuedAllocations"] == {"g": queued}
    assert cluster.state.job_summaries[("default", "web")]["Summary"]["g"]["Queued"] == queued


def test_reserved_resources_are_not_allocatable(make_cluster) -> None:
    cluster = make_cluster((("a1", "dc1"),), reserved_cpu_mhz=500)
    reply = cluster.register_job(simple_job("web", cpu=600, datacenters=["dc1"]))
    assert allocs_of(cluster, "web") == []
    assert cluster.state.evals[reply["EvalID"]]["FailedTGAllocs"]["g"]["DimensionExhausted"] == {
        "cpu": 1
    }


def test_only_nodes_of_the_job_datacenters_are_used(cluster: SimCluster) -> None:
    cluster.register_job(simple_job("web", count=3, datacenters=["dc2"]))
    b1 = node_named(cluster, "b1")["ID"]
    assert {a["NodeID"] for a in allocs_of(cluster, "web")} == {b1}


def test_datacenter_with_no_nodes_fails_with_no_available_nodes(cluster: SimCluster) -> None:
    reply = cluster.register_job(simple_job("web", datacenters=["dc9"]))
    metric = cluster.state.evals[reply["EvalID"]]["FailedTGAllocs"]["g"]
    assert metric["NodesEvaluated"] == 0
    assert metric["NodesAvailable"] in ({}, None)


def test_node_pool_confines_placement(cluster: SimCluster) -> None:
    cluster.add_node_pool("gpu", "GPU nodes")
    gpu = cluster.add_node(
        name="g1",
        datacenter="dc1",
        node_pool="gpu",
        cpu_mhz=NODE_CPU,
        cores=2,
        memory_mb=NODE_MEM,
        disk_mb=NODE_DISK,
        address="10.0.1.1",
    )
    spec = simple_job("train", count=2)
    spec["NodePool"] = "gpu"
    cluster.register_job(spec)
    assert {a["NodeID"] for a in allocs_of(cluster, "train")} == {gpu["ID"]}
    cluster.register_job(simple_job("web", count=4))
    assert gpu["ID"] not in {a["NodeID"] for a in allocs_of(cluster, "web")}


@pytest.mark.parametrize("how", ["ineligible", "down", "draining"])
def test_unusable_nodes_get_no_placements(make_cluster, how) -> None:
    cluster = make_cluster((("a1", "dc1"), ("a2", "dc1")))
    a1 = node_named(cluster, "a1")["ID"]
    if how == "ineligible":
        cluster.set_eligibility(a1, "ineligible")
    elif how == "down":
        cluster.set_node_status(a1, "down")
    else:
        cluster.drain_node(a1, {"Deadline": 3_600_000_000_000, "IgnoreSystemJobs": False})
    cluster.register_job(simple_job("web", count=3, datacenters=["dc1"]))
    assert a1 not in {a["NodeID"] for a in allocs_of(cluster, "web")}
    assert len(allocs_of(cluster, "web")) == 3


def test_blocked_eval_is_unblocked_when_capacity_arrives(make_cluster) -> None:
    cluster = make_cluster((("a1", "dc1"),))
    reply = cluster.register_job(simple_job("big", cpu=1500, datacenters=["dc1"]))
    blocked_id = cluster.state.evals[reply["EvalID"]]["BlockedEval"]
    assert cluster.state.evals[blocked_id]["Status"] == "blocked"
    big = cluster.add_node(
        name="big",
        datacenter="dc1",
        cpu_mhz=4000,
        cores=4,
        memory_mb=4096,
        disk_mb=NODE_DISK,
        address="10.0.2.1",
    )
    allocs = allocs_of(cluster, "big")
    assert [a["NodeID"] for a in allocs] == [big["ID"]]
    assert cluster.state.evals[blocked_id]["Status"] == "complete"
    assert cluster.state.job_summaries[("default", "big")]["Summary"]["g"]["Queued"] == 0


def test_only_one_blocked_eval_per_job(make_cluster) -> None:
    cluster = make_cluster((("a1", "dc1"),))
    cluster.register_job(simple_job("big", cpu=1500, datacenters=["dc1"]))
    cluster.register_job(simple_job("big", cpu=1600, datacenters=["dc1"]))
    blocked = [e for e in evals_of(cluster, "big") if e["Status"] == "blocked"]
    assert len(blocked) == 1


def test_system_job_runs_once_per_eligible_node(cluster: SimCluster) -> None:
    a2 = node_named(cluster, "a2")["ID"]
    cluster.set_eligibility(a2, "ineligible")
    cluster.register_job(simple_job("agent", job_type="system"))
    allocs = allocs_of(cluster, "agent")
    expected = {node_named(cluster, n)["ID"] for n in ("a1", "b1")}
    assert sorted(a["NodeID"] for a in allocs) == sorted(expected)
    # A new node gets its own instance; existing ones are left alone.
    new = cluster.add_node(
        name="a3",
        datacenter="dc1",
        cpu_mhz=NODE_CPU,
        cores=2,
        memory_mb=NODE_MEM,
        disk_mb=NODE_DISK,
        address="10.0.0.99",
    )
    allocs = allocs_of(cluster, "agent")
    assert sorted(a["NodeID"] for a in allocs) == sorted(expected | {new["ID"]})
    # Eligible again: one more.
    cluster.set_eligibility(a2, "eligible")
    assert len({a["NodeID"] for a in live(allocs_of(cluster, "agent"))}) == 4


def test_system_job_honours_datacenters(cluster: SimCluster) -> None:
    cluster.register_job(simple_job("agent", job_type="system", datacenters=["dc2"]))
    assert [a["NodeID"] for a in allocs_of(cluster, "agent")] == [node_named(cluster, "b1")["ID"]]


def test_sysbatch_runs_once_per_node_and_is_not_rerun(cluster: SimCluster) -> None:
    cluster.behaviours.script(image="t:latest", run_s=5)
    cluster.register_job(simple_job("patch", job_type="sysbatch"))
    assert len(allocs_of(cluster, "patch")) == 3
    cluster.advance(30)
    allocs = allocs_of(cluster, "patch")
    assert len(allocs) == 3
    assert {a["ClientStatus"] for a in allocs} == {"complete"}
    cluster.evaluate_job("default", "patch")
    assert len(allocs_of(cluster, "patch")) == 3
    assert cluster.state.jobs[("default", "patch")]["Status"] == "dead"


def test_batch_completes_and_is_not_replaced(cluster: SimCluster) -> None:
    cluster.behaviours.script(image="t:latest", run_s=10)
    cluster.register_job(simple_job("report", count=2, job_type="batch"))
    cluster.advance(30)
    allocs = allocs_of(cluster, "report")
    assert len(allocs) == 2
    assert {a["ClientStatus"] for a in allocs} == {"complete"}
    assert cluster.state.jobs[("default", "report")]["Status"] == "dead"
    summary = cluster.state.job_summaries[("default", "report")]["Summary"]["g"]
    assert (summary["Complete"], summary["Running"], summary["Queued"]) == (2, 0, 0)


def test_service_keeps_running_and_replaces_a_stopped_allocation(cluster: SimCluster) -> None:
    cluster.register_job(simple_job("web", count=2))
    cluster.advance(60)
    allocs = allocs_of(cluster, "web")
    assert {a["ClientStatus"] for a in allocs} == {"running"}
    assert cluster.state.jobs[("default", "web")]["Status"] == "running"
    stopped = allocs[0]
    cluster.stop_alloc(stopped["ID"])
    cluster.advance(10)
    running = [a for a in allocs_of(cluster, "web") if a["ClientStatus"] == "running"]
    assert len(running) == 2
    assert stopped["ID"] not in {a["ID"] for a in running}
    assert stopped["NextAllocation"] in {a["ID"] for a in running}


def test_scale_down_stops_the_highest_indexes(cluster: SimCluster) -> None:
    cluster.register_job(simple_job("web", count=3))
    cluster.advance(60)  # let the deployment finish: scaling is refused while it is active
    cluster.scale_job("default", "web", group="g", count=1)
    remaining = live(allocs_of(cluster, "web"))
    assert [a["Name"] for a in remaining] == ["web.g[0]"]


def test_distinct_hosts_constraint(make_cluster) -> None:
    cluster = make_cluster((("a1", "dc1"), ("a2", "dc1")))
    spec = job_spec(
        "web",
        [
            group(
                "g",
                [task("t", cpu=10, memory_mb=10)],
                count=3,
                constraints=[{"Operand": "distinct_hosts", "RTarget": "true"}],
            )
        ],
        datacenters=["dc1"],
    )
    reply = cluster.register_job(spec)
    assert len({a["NodeID"] for a in allocs_of(cluster, "web")}) == 2
    assert cluster.state.evals[reply["EvalID"]]["FailedTGAllocs"]["g"] is not None


def test_a_lower_count_with_a_destructive_change_stops_the_surplus() -> None:
    from tests.sim.conftest import new_cluster, simple_job

    c = new_cluster()
    c.register_job(simple_job("web", count=3))
    c.advance(30)
    spec = simple_job("web", count=1)
    spec["TaskGroups"][0]["Meta"] = {"changed": "yes"}  # a destructive change
    plan = c.plan_job(spec)
    assert plan["Annotations"]["DesiredTGUpdates"]["g"]["DestructiveUpdate"] == 1
    assert plan["Annotations"]["DesiredTGUpdates"]["g"]["Stop"] == 2
    c.register_job(spec)
    c.advance(30)
    live = [a for a in c.state.job_allocs("default", "web") if a["DesiredStatus"] == "run"]
    assert [(a["Name"], a["Job"]["Version"]) for a in live] == [("web.g[0]", 1)]
    stopped = {a["Name"]: a["DesiredDescription"] for a in c.state.job_allocs("default", "web")
               if a["Job"]["Version"] == 0}
    assert stopped == {"web.g[0]": "alloc is being updated due to job update",
                       "web.g[1]": "alloc not needed due to job update",
                       "web.g[2]": "alloc not needed due to job update"}


def test_a_lower_count_with_an_inplace_change_does_not_update_the_surplus() -> None:
    from tests.sim.conftest import new_cluster, simple_job

    c = new_cluster()
    c.register_job(simple_job("web", count=4))
    c.advance(30)
    updates = c.plan_job(simple_job("web", count=3))["Annotations"]["DesiredTGUpdates"]["g"]
    assert (updates["Stop"], updates["InPlaceUpdate"]) == (1, 3)


def test_a_huge_count_stops_at_exhaustion_with_coalesced_failures() -> None:
    import time

    from tests.sim.conftest import new_cluster, simple_job

    c = new_cluster()
    started = time.monotonic()
    reply = c.register_job(simple_job("huge", count=2_000_000_000, cpu=10, memory_mb=10))
    assert time.monotonic() - started < 20, "placement costs what fits, not what is asked"
    placed = len(c.state.job_allocs("default", "huge"))
    assert 0 < placed < 1000
    failure = c.state.evals[reply["EvalID"]]["FailedTGAllocs"]["g"]
    assert 1 + failure["CoalescedFailures"] == 2_000_000_000 - placed
    assert c.state.job_summaries[("default", "huge")]["Summary"]["g"]["Queued"] == 2_000_000_000 - placed
    names = sorted(int(a["Name"].split("[")[1][:-1]) for a in c.state.job_allocs("default", "huge"))
    assert names == list(range(placed))
