"""System GC and summary reconciliation, client allocation restart/signal/GC, node evaluate/purge.

Facts (REFERENCE §11.4, §11.6, §11.7; ``command/agent/system_endpoint.go``,
``command/agent/alloc_endpoint.go``, ``client/alloc_endpoint.go``, ``client/client.go``
``RestartAllocation``, ``nomad/core_sched.go``, ``nomad/node_endpoint.go``): system endpoints
are PUT only and answer 200 with an empty body; a restart emits ``Restart Signaled`` with the
client's reason, then ``Terminated`` and ``Restarting``; restart and signal answer
``{"Index": 0}``; alloc GC of a live allocation is 500 ``No such allocation on client, or
allocation not eligible for GC``; purge deregisters the node and its allocations are lost.
"""

from __future__ import annotations

import json

import httpx
import pytest

from nomadlab.sim import SimCluster
from tests.conftest import SAMPLES_DIR
from tests.sim.conftest import http, new_cluster, node_named, simple_job

SAMPLES = SAMPLES_DIR


@pytest.fixture
def cluster() -> SimCluster:
    c = new_cluster()
    c.register_job(simple_job("web", count=2, datacenters=["dc1"]))
    c.register_job(simple_job("once", job_type="batch", datacenters=["dc1"]))
    c.advance(60)
    return c


@pytest.fixture
def api(cluster: SimCluster) -> httpx.Client:
    return http(cluster)


def _running(cluster: SimCluster, job: str) -> list[dict]:
    return sorted((a for a in cluster.state.job_allocs("default", job)
                   if a["DesiredStatus"] == "run" and a["ClientStatus"] == "running"), key=lambda a: a["Name"])


# -- system ------------------------------------------------------------------------------------
def test_system_gc_collects_what_is_dead_and_keeps_what_lives(cluster: SimCluster, api: httpx.Client) -> None:
    cluster.deregister_job("default", "web")
    cluster.advance(10)
    assert api.get("/v1/job/web").json()["Status"] == "dead"
    assert api.get("/v1/job/once").json()["Status"] == "dead"
    cluster.register_job(simple_job("live", datacenters=["dc1"]))
    cluster.advance(10)
    down = node_named(cluster, "b1")
    cluster.set_node_status(down["ID"], "down")
    before = cluster.state.index
    r = api.put("/v1/system/gc")
    assert (r.status_code, r.content) == (200, b"")
    assert "content-type" not in r.headers
    assert cluster.state.index > before
    for job in ("web", "once"):
        assert (api.get(f"/v1/job/{job}").status_code, api.get(f"/v1/job/{job}").text) == (404, "job not found")
        assert api.get(f"/v1/job/{job}/allocations").json() == []
    assert api.get("/v1/job/live").json()["Status"] == "running"
    assert len(_running(cluster, "live")) == 1
    assert api.get(f"/v1/node/{down['ID']}").status_code == 404
    assert {e["JobID"] for e in api.get("/v1/evaluations").json()} <= {"live"}
    # a deployment that finished is collected too, but not the job's live allocations
    assert all(d["Status"] in ("running", "paused") for d in api.get("/v1/deployments").json())


def test_system_gc_keeps_a_live_batch_jobs_history(cluster: SimCluster, api: httpx.Client) -> None:
    spec = simple_job("long", job_type="batch", datacenters=["dc1"])
    cluster.behaviours.script(image="long:1", run_s=3600)
    spec["TaskGroups"][0]["Tasks"][0]["Config"]["image"] = "long:1"
    cluster.register_job(spec)
    cluster.advance(10)
    evals = {e["ID"] for e in cluster.job_evals("default", "long")}
    assert api.put("/v1/system/gc").status_code == 200
    assert {e["ID"] for e in cluster.job_evals("default", "long")} == evals
    assert len(cluster.state.job_allocs("default", "long")) == 1


@pytest.mark.parametrize("path", ["/v1/system/gc", "/v1/system/reconcile/summaries"])
@pytest.mark.parametrize("method", ["GET", "POST", "DELETE"])
def test_system_endpoints_are_put_only(api: httpx.Client, path: str, method: str) -> None:
    r = api.request(method, path)
    assert (r.status_code, r.text) == (405, "Invalid method")


def test_reconcile_summaries_rewrites_every_summary(cluster: SimCluster, api: httpx.Client) -> None:
    before = api.get("/v1/job/web/summary").json()
    r = api.put("/v1/system/reconcile/summaries")
    assert (r.status_code, r.content) == (200, b"")
    after = api.get("/v1/job/web/summary").json()
    assert after["Summary"] == before["Summary"] and after["ModifyIndex"] > before["ModifyIndex"]
    assert after["ModifyIndex"] == cluster.state.index


# -- client: restart ----------------------------------------------------------------------------
def test_restart_of_one_task_emits_nomads_events(cluster: SimCluster, api: httpx.Client) -> None:
    alloc = _running(cluster, "web")[0]
    r = api.put(f"/v1/client/allocation/{alloc['ID']}/restart", json={"TaskName": "t"})
    assert (r.status_code, r.json()) == (200, {"Index": 0})
    state = cluster.state.allocs[alloc["ID"]]["TaskStates"]["t"]
    types = [e["Type"] for e in state["Events"]][-3:]
    assert types == ["Restart Signaled", "Terminated", "Restarting"]
    signaled = state["Events"][-3]
    assert signaled["RestartReason"] == "User requested task to restart"
    assert signaled["DisplayMessage"] == "User requested task to restart"
    assert state["Events"][-1]["StartDelay"] == 0
    assert state["Restarts"] == 1 and state["State"] == "pending"
    cluster.advance(5)
    state = cluster.state.allocs[alloc["ID"]]["TaskStates"]["t"]
    assert state["State"] == "running" and state["Events"][-1]["Type"] == "Started"
    assert cluster.state.allocs[alloc["ID"]]["ClientStatus"] == "running"


@pytest.mark.parametrize(
    ("body", "reason"),
    [(None, "User requested running tasks to restart"), ({"AllTasks": True}, "User requested all tasks to restart")],
    ids=["running", "all"],
)
def test_restart_without_a_task_restarts_the_running_ones(cluster: SimCluster, api: httpx.Client,
                                                          body: dict | None, reason: str) -> None:
    alloc = _running(cluster, "web")[0]
    r = api.post(f"/v1/client/allocation/{alloc['ID']}/restart", json=body)
    assert r.status_code == 200
    events = cluster.state.allocs[alloc["ID"]]["TaskStates"]["t"]["Events"]
    assert events[-3]["Type"] == "Restart Signaled" and events[-3]["RestartReason"] == reason


def test_restart_any_method_and_its_errors(cluster: SimCluster, api: httpx.Client) -> None:
    alloc = _running(cluster, "web")[0]["ID"]
    assert api.get(f"/v1/client/allocation/{alloc}/restart").status_code == 200
    cluster.advance(5)
    cases = [
        ({"TaskName": "nope"}, 500, "Could not find task runner for task: nope"),
        ({"TaskName": "t", "AllTasks": True}, 500, "task name cannot be set when restarting all tasks"),
    ]
    for body, status, text in cases:
        r = api.put(f"/v1/client/allocation/{alloc}/restart", json=body)
        assert (r.status_code, r.text) == (status, text)
    r = api.put(f"/v1/client/allocation/{alloc}/restart", content=b"{nope")
    assert (r.status_code, r.text) == (500, "invalid character 'n' looking for beginning of object key string")
    r = api.put("/v1/client/allocation/00000000-0000-0000-0000-000000000000/restart")
    assert (r.status_code, r.text) == (404, 'Unknown allocation "00000000-0000-0000-0000-000000000000"')
    done = cluster.state.job_allocs("default", "once")[0]["ID"]
    r = api.put(f"/v1/client/allocation/{done}/restart", json={"TaskName": "t"})
    assert (r.status_code, r.text) == (500, "Task not running")


def test_restart_on_a_node_that_is_down_has_no_path(cluster: SimCluster, api: httpx.Client) -> None:
    alloc = _running(cluster, "web")[0]
    cluster.set_node_status(alloc["NodeID"], "down")
    r = api.put(f"/v1/client/allocation/{alloc['ID']}/restart")
    assert (r.status_code, r.text) == (404, "No path to node")


# -- client: signal ----------------------------------------------------------------------------
def test_signal_records_a_signaling_event(cluster: SimCluster, api: httpx.Client) -> None:
    request = json.loads((SAMPLES / "POST_v1_client_allocation_id_signal_request.json").read_text())
    alloc = _running(cluster, "web")[0]["ID"]
    r = api.post(f"/v1/client/allocation/{alloc}/signal", json=dict(request, Task="t"))
    assert (r.status_code, r.json()) == (200, {"Index": 0})
    state = cluster.state.allocs[alloc]["TaskStates"]["t"]
    # the alloc runner records the requested signal in Details only (SetSignalText)
    event = state["Events"][-1]
    assert (event["Type"], event["TaskSignal"], event["Details"]) == ("Signaling", "", {"signal": "SIGUSR1"})
    assert event["DisplayMessage"] == "Task being sent a signal"
    assert state["State"] == "running"
    r = api.post(f"/v1/client/allocation/{alloc}/signal", json=request)
    assert (r.status_code, r.text) == (500, "Task not found")


def test_signal_errors(cluster: SimCluster, api: httpx.Client) -> None:
    alloc = _running(cluster, "web")[0]["ID"]
    r = api.post(f"/v1/client/allocation/{alloc}/signal", content=b"[")
    assert (r.status_code, r.text) == (400, "Failed to decode body: unexpected EOF")
    assert api.get(f"/v1/client/allocation/{alloc}/signal").status_code == 405
    r = api.post(f"/v1/client/allocation/{alloc}/signal", json={"Signal": "SIGNOPE"})
    assert (r.status_code, r.text) == (
        500, "1 error occurred:\n\t* Failed to signal task: t, err: invalid signal 'SIGNOPE'\n\n")


# -- client: GC ----------------------------------------------------------------------------------
def test_alloc_gc_drops_a_terminal_allocation_from_its_client(cluster: SimCluster, api: httpx.Client) -> None:
    live = _running(cluster, "web")[0]["ID"]
    r = api.put(f"/v1/client/allocation/{live}/gc")
    assert (r.status_code, r.text) == (500, "No such allocation on client, or allocation not eligible for GC")
    done = cluster.state.job_allocs("default", "once")[0]["ID"]
    assert api.get(f"/v1/client/allocation/{done}/stats").status_code == 200
    r = api.put(f"/v1/client/allocation/{done}/gc")
    assert (r.status_code, r.content) == (200, b"")
    r = api.get(f"/v1/client/allocation/{done}/stats")
    assert (r.status_code, r.text) == (404, f'Unknown allocation "{done}"')
    assert api.get(f"/v1/allocation/{done}").status_code == 200, "the server still has it"


def test_client_gc_by_node(cluster: SimCluster, api: httpx.Client) -> None:
    r = api.put("/v1/client/gc")
    assert (r.status_code, r.text) == (400, "No local Node and node_id not provided")
    r = api.put("/v1/client/gc", params={"node_id": "nope"})
    assert (r.status_code, r.text) == (500, 'Unknown node "nope"')
    done = cluster.state.job_allocs("default", "once")[0]
    r = api.put("/v1/client/gc", params={"node_id": done["NodeID"]})
    assert (r.status_code, r.content) == (200, b"")
    assert api.get(f"/v1/client/allocation/{done['ID']}/stats").status_code == 404
    assert api.get(f"/v1/client/allocation/{_running(cluster, 'web')[0]['ID']}/stats").status_code == 200


def test_unknown_client_allocation_paths_are_resource_not_found(api: httpx.Client) -> None:
    for path in ("/v1/client/allocation/x/nope", "/v1/client/allocation/x", "/v1/client/allocation/x/y/z"):
        assert (api.get(path).status_code, api.get(path).text) == (404, "resource not found"), path


# -- nodes ---------------------------------------------------------------------------------------
def test_node_evaluate_creates_node_update_evaluations(cluster: SimCluster, api: httpx.Client) -> None:
    node = _running(cluster, "web")[0]["NodeID"]
    r = api.post(f"/v1/node/{node}/evaluate")
    assert r.status_code == 200
    reply = r.json()
    assert set(json.loads((SAMPLES / "POST_v1_node_id_purge.json").read_text())) <= set(reply)
    assert r.headers["X-Nomad-Index"] == str(reply["Index"]) and reply["EvalCreateIndex"] == reply["Index"]
    evals = [cluster.state.evals[e] for e in reply["EvalIDs"]]
    assert {e["JobID"] for e in evals} >= {"web"}
    assert all(e["TriggeredBy"] == "node-update" and e["NodeID"] == node for e in evals)
    r = api.post("/v1/node/nope/evaluate")
    assert (r.status_code, r.text) == (500, "node not found")


def test_node_purge_deregisters_and_replaces(cluster: SimCluster, api: httpx.Client) -> None:
    victim = _running(cluster, "web")[0]
    node = victim["NodeID"]
    r = api.put(f"/v1/node/{node}/purge")
    assert r.status_code == 200
    reply = r.json()
    assert reply["EvalIDs"] and reply["NodeModifyIndex"] == reply["Index"]
    assert (api.get(f"/v1/node/{node}").status_code, api.get(f"/v1/node/{node}").text) == (404, "node not found")
    assert cluster.state.allocs[victim["ID"]]["ClientStatus"] == "lost"
    cluster.advance(30)
    live = _running(cluster, "web")
    assert len(live) == 2 and all(a["NodeID"] != node for a in live)
    r = api.put(f"/v1/node/{node}/purge")
    assert (r.status_code, r.text) == (500, "node not found")
