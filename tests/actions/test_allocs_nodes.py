"""Allocation, node and cluster actions on the simulator."""

from __future__ import annotations

import pytest

from nomadlab import actions
from nomadlab.audit import audit_log
from nomadlab.client import NomadClient
from nomadlab.errors import NomadError, NotFoundError
from nomadlab.sim import SimCluster
from nomadlab.sim.faults import Fault

from .conftest import running


def test_stop_alloc_plans_the_allocation_and_replaces_it(cluster: SimCluster, client: NomadClient) -> None:
    victim = running(cluster, "web")[0]
    before = {a["ID"] for a in running(cluster, "web")}
    plan = actions.stop_alloc(client, str(victim["ID"])[:8])
    assert plan.changes["allocation"] == victim["ID"] and plan.changes["job"] == "web"
    outcome = plan.apply(confirm=True, advance=cluster.advance, step=2.0)
    after = {a["ID"] for a in running(cluster, "web")}
    assert victim["ID"] not in after and len(after) == len(before)
    assert outcome.status == "healthy" and set(outcome.allocations) == after - before


def test_stop_alloc_refuses_an_allocation_that_already_stopped(cluster: SimCluster, client: NomadClient) -> None:
    victim = str(running(cluster, "web")[0]["ID"])
    plan = actions.stop_alloc(client, victim)
    client.post(f"/v1/allocation/{victim}/stop")
    index = cluster.state.index
    with pytest.raises(actions.StalePlanError, match="plan again"):
        plan.apply(confirm=True)
    assert cluster.state.index == index
    with pytest.raises(NomadError, match="nothing to stop"):
        actions.stop_alloc(client, victim)


def test_restart_alloc_restarts_the_task_in_place(cluster: SimCluster, client: NomadClient) -> None:
    victim = running(cluster, "web")[0]
    with pytest.raises(NomadError, match="no task 'nope'"):
        actions.restart_alloc(client, str(victim["ID"]), task="nope")
    plan = actions.restart_alloc(client, str(victim["ID"]), task="nginx")
    assert "restart nginx" in plan.summary and plan.before == {"restarts": {"nginx": 0}}
    outcome = plan.apply(confirm=True, advance=cluster.advance, step=1.0)
    assert (outcome.status, outcome.allocations) == ("healthy", (victim["ID"],))
    state = cluster.state.allocs[victim["ID"]]["TaskStates"]["nginx"]
    assert state["Restarts"] == 1 and state["State"] == "running"
    types = [e["Type"] for e in state["Events"]]
    assert types[-4:] == ["Restart Signaled", "Terminated", "Restarting", "Started"]
    assert audit_log().iloc[-1]["action"] == "restart_alloc"


def test_restart_alloc_says_when_the_cluster_cannot(cluster: SimCluster, client: NomadClient) -> None:
    victim = running(cluster, "web")[0]
    cluster.faults.add(Fault("/v1/client/allocation/*/restart", kind="error", status=404, body=""))
    plan = actions.restart_alloc(client, str(victim["ID"]), task="nginx")
    with pytest.raises(NomadError, match=r"does not serve PUT /v1/client/allocation/.+/restart \(404\)"):
        plan.apply(confirm=True)


def test_drain_lists_what_migrates_and_waits_for_the_drain(cluster: SimCluster, client: NomadClient) -> None:
    node = next(n for n in cluster.state.nodes.values() if n["Name"] == "dev-client-2")
    with cluster.state.lock:
        here = {a["ID"][:8] for a in cluster.state.node_allocs(node["ID"])
                if a["DesiredStatus"] == "run" and a["ClientStatus"] == "running"}
    plan = actions.drain(client, "dev-client-2", deadline="30m")
    assert here and {s.split()[0] for s in plan.changes["allocations that migrate"]} == here
    outcome = plan.apply(confirm=True, advance=cluster.advance, step=5.0, timeout=1800)
    assert (outcome.status, outcome.detail) == ("done", "drain complete")
    with cluster.state.lock:
        left = [a for a in cluster.state.node_allocs(node["ID"])
                if a["DesiredStatus"] == "run" and a["ClientStatus"] == "running"]
    assert left == [] and cluster.state.nodes[node["ID"]]["SchedulingEligibility"] == "ineligible"
    actions.undrain(client, "dev-client-2").apply(confirm=True)
    assert cluster.state.nodes[node["ID"]]["SchedulingEligibility"] == "eligible"


def test_eligibility_and_a_stale_node_plan(cluster: SimCluster, client: NomadClient) -> None:
    node = next(n for n in cluster.state.nodes.values() if n["Name"] == "dev-client-3")
    plan = actions.set_eligibility(client, "dev-client-3", False)
    assert plan.before == {"eligibility": "eligible", "draining": False}
    stale = actions.set_eligibility(client, "dev-client-3", False)
    assert plan.apply(confirm=True).status == "done"
    assert cluster.state.nodes[node["ID"]]["SchedulingEligibility"] == "ineligible"
    with pytest.raises(actions.StalePlanError):
        stale.apply(confirm=True)
    with pytest.raises(ValueError, match="duration"):
        actions.drain(client, "dev-client-3", deadline="soon")


def test_gc_collects_a_stopped_job(cluster: SimCluster, client: NomadClient) -> None:
    actions.stop(client, "web").apply(confirm=True, advance=cluster.advance, step=2.0)
    cluster.advance(10)
    plan = actions.gc(client)
    assert plan.target == "cluster" and "default/web" in plan.changes["dead jobs that may go"]
    outcome = plan.apply(confirm=True)
    assert outcome.status == "done"
    assert ("default", "web") not in cluster.state.jobs
    with pytest.raises(NotFoundError):
        client.get("/v1/job/web")
    assert list(audit_log()["action"]) == ["stop", "gc"]


def test_gc_is_sent_once_and_its_absence_is_reported(cluster: SimCluster, client: NomadClient) -> None:
    plan = actions.gc(client)
    fault = cluster.faults.add(Fault("/v1/system/gc", kind="error", status=404, body=""))
    with pytest.raises(NotFoundError):
        plan.apply(confirm=True)
    assert cluster.faults.fired(fault) == 1
