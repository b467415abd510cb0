"""Job writes and reads over HTTP: register/update, versions, plan, scale, stop, purge, summary.

Facts from REFERENCE §2: register answers a JobRegisterResponse with ``X-Nomad-Index``; a
spec change makes a new ``Version`` and ``JobModifyIndex``; plan answers annotations,
``FailedTGAllocs`` and a diff only when asked; scale validates with Nomad's texts, bumps the
version, creates a ``job-scaling`` eval and records a ScalingEvent (none without ``Count``);
DELETE keeps the job with ``Stop: true`` (dead once its allocs are terminal), ``purge=true``
removes it (404 afterwards).
"""

from __future__ import annotations

import httpx
import pytest

from nomadlab.sim import SimCluster
from tests.sim.conftest import allocs_of, simple_job

REGISTER_KEYS = {
    "EvalID",
    "EvalCreateIndex",
    "JobModifyIndex",
    "Warnings",
    "Index",
    "LastContact",
    "KnownLeader",
    "NextToken",
}


def register(api: httpx.Client, spec: dict) -> dict:
    r = api.post("/v1/jobs", json={"Job": spec})
    assert r.status_code == 200, r.text
    assert r.headers["content-type"] == "application/json"
    return r.json()


def test_register_response_and_job_read(api: httpx.Client) -> None:
    r = api.post("/v1/jobs", json={"Job": simple_job("web", count=2)})
    assert r.status_code == 200
    body = r.json()
    assert set(body) >= REGISTER_KEYS
    assert body["EvalID"] and body["EvalCreateIndex"] > 0
    assert int(r.headers["X-Nomad-Index"]) >= body["JobModifyIndex"]
    job = api.get("/v1/job/web").json()
    assert job["Version"] == 0
    assert job["JobModifyIndex"] == body["JobModifyIndex"]
    assert job["Namespace"] == "default"
    assert isinstance(job["SubmitTime"], int) and job["SubmitTime"] > 10**18  # ns
    ev = api.get(f"/v1/evaluation/{body['EvalID']}").json()
    assert ev["JobModifyIndex"] == body["JobModifyIndex"]
    assert ev["TriggeredBy"] == "job-register"


def test_update_makes_a_new_version(api: httpx.Client) -> None:
    first = register(api, simple_job("web", cpu=100))
    second = register(api, simple_job("web", cpu=200))
    assert second["JobModifyIndex"] > first["JobModifyIndex"]
    job = api.get("/v1/job/web").json()
    assert job["Version"] == 1
    assert job["JobModifyIndex"] == second["JobModifyIndex"]
    versions = api.get("/v1/job/web/versions").json()
    assert [v["Version"] for v in versions["Versions"]] == [1, 0]
    assert versions["Diffs"] is None
    cpus = [v["TaskGroups"][0]["Tasks"][0]["Resources"]["CPU"] for v in versions["Versions"]]
    assert cpus == [200, 100]
    with_diffs = api.get("/v1/job/web/versions?diffs=true").json()
    assert len(with_diffs["Diffs"]) == 1
    assert with_diffs["Diffs"][0]["Type"] == "Edited"


def test_update_of_resources_replaces_allocations(cluster: SimCluster, api: httpx.Client) -> None:
    register(api, simple_job("web", count=2, cpu=100))
    cluster.advance(60)
    old = {a["ID"] for a in allocs_of(cluster, "web")}
    register(api, simple_job("web", count=2, cpu=200))
    cluster.advance(120)
    running = [a for a in allocs_of(cluster, "web") if a["ClientStatus"] == "running"]
    assert len(running) == 2
    assert not old & {a["ID"] for a in running}
    stubs = api.get("/v1/job/web/allocations").json()
    assert {s["JobVersion"] for s in stubs if s["ClientStatus"] == "running"} == {1}


def test_count_only_update_keeps_allocations(cluster: SimCluster, api: httpx.Client) -> None:
    register(api, simple_job("web", count=2))
    cluster.advance(60)
    old = {a["ID"] for a in allocs_of(cluster, "web")}
    register(api, simple_job("web", count=3))
    cluster.advance(60)
    running = {a["ID"] for a in allocs_of(cluster, "web") if a["ClientStatus"] == "running"}
    assert old < running and len(running) == 3


def test_register_with_enforce_index_conflict(api: httpx.Client) -> None:
    first = register(api, simple_job("web"))
    r = api.post(
        "/v1/jobs",
        json={
            "Job": simple_job("web", cpu=300),
            "EnforceIndex": True,
            "JobModifyIndex": first["JobModifyIndex"] + 100,
        },
    )
    assert r.status_code == 500
    assert r.text.startswith("Enforcing job modify index")
    ok = api.post(
        "/v1/jobs",
        json={
            "Job": simple_job("web", cpu=300),
            "EnforceIndex": True,
            "JobModifyIndex": first["JobModifyIndex"],
        },
    )
    assert ok.status_code == 200


def test_plan_reports_annotations_without_changing_state(
    cluster: SimCluster, api: httpx.Client
) -> None:
    register(api, simple_job("web", count=2))
    index_before = cluster.state.index
    allocs_before = len(cluster.state.allocs)
    r = api.post("/v1/job/web/plan", json={"Job": simple_job("web", count=3)})
    assert r.status_code == 200
    plan = r.json()
    assert set(plan) >= {
        "Annotations",
        "FailedTGAllocs",
        "JobModifyIndex",
        "CreatedEvals",
        "Diff",
        "NextPeriodicLaunch",
        "Warnings",
        "Index",
    }
    assert plan["Diff"] is None  # not asked for
    updates = plan["Annotations"]["DesiredTGUpdates"]["g"]
    assert updates["Place"] == 1
    assert updates["Stop"] == 0
    assert plan["FailedTGAllocs"] is None
    assert len(cluster.state.allocs) == allocs_before
    assert cluster.state.index == index_before
    assert api.get("/v1/job/web").json()["TaskGroups"][0]["Count"] == 2


def test_plan_with_diff_and_failed_allocs(api: httpx.Client) -> None:
    register(api, simple_job("web", count=1))
    plan = api.post(
        "/v1/job/web/plan", json={"Job": simple_job("web", count=1, cpu=5000), "Diff": True}
    ).json()
    assert plan["FailedTGAllocs"]["g"]["DimensionExhausted"] == {"cpu": 3}
    diff = plan["Diff"]
    assert diff["Type"] == "Edited" and diff["ID"] == "web"
    assert plan["Annotations"]["DesiredTGUpdates"]["g"]["DestructiveUpdate"] == 1


def test_plan_for_a_new_job(api: httpx.Client) -> None:
    plan = api.post(
        "/v1/job/new/plan", json={"Job": simple_job("new", count=2), "Diff": True}
    ).json()
    assert plan["Annotations"]["DesiredTGUpdates"]["g"]["Place"] == 2
    assert plan["JobModifyIndex"] == 0
    assert plan["Diff"]["Type"] == "Added"
    assert api.get("/v1/job/new").status_code == 404


def test_scale_up_and_down(cluster: SimCluster, api: httpx.Client) -> None:
    register(api, simple_job("web", count=1))
    cluster.advance(60)
    before = api.get("/v1/job/web").json()
    r = api.post(
        "/v1/job/web/scale",
        json={"Count": 3, "Target": {"Group": "g"}, "Message": "more", "Meta": {"by": "test"}},
    )
    assert r.status_code == 200, r.text
    reply = r.json()
    assert reply["EvalID"] and reply["EvalCreateIndex"] > 0
    job = api.get("/v1/job/web").json()
    assert job["Version"] == before["Version"] + 1
    assert job["JobModifyIndex"] > before["JobModifyIndex"]
    assert job["TaskGroups"][0]["Count"] == 3
    assert job["SubmitTime"] >= before["SubmitTime"]
    ev = api.get(f"/v1/evaluation/{reply['EvalID']}").json()
    assert ev["TriggeredBy"] == "job-scaling"
    assert len([a for a in allocs_of(cluster, "web") if a["DesiredStatus"] == "run"]) == 3
    status = api.get("/v1/job/web/scale").json()
    group = status["TaskGroups"]["g"]
    assert group["Desired"] == 3
    event = group["Events"][0]
    assert (event["Count"], event["PreviousCount"], event["Message"]) == (3, 1, "more")
    assert event["EvalID"] == reply["EvalID"]
    assert event["Meta"] == {"by": "test"}
    assert event["CreateIndex"] > 0  # the index of the scaling-event write
    cluster.advance(60)
    api.post("/v1/job/web/scale", json={"Count": 1, "Target": {"Group": "g"}})
    cluster.advance(10)
    status = api.get("/v1/job/web/scale").json()["TaskGroups"]["g"]
    assert status["Desired"] == 1 and status["Placed"] == 1
    assert [e["Count"] for e in status["Events"]] == [1, 3]  # newest first
    assert status["Events"][0]["CreateIndex"] > status["Events"][1]["CreateIndex"]


def test_scale_without_count_only_records_an_event(cluster: SimCluster, api: httpx.Client) -> None:
    register(api, simple_job("web", count=1))
    before = api.get("/v1/job/web").json()
    evals_before = len(cluster.state.evals)
    r = api.post(
        "/v1/job/web/scale",
        json={"Target": {"Group": "g"}, "Message": "autoscaler says hi", "Error": True},
    )
    assert r.status_code == 200
    reply = r.json()
    assert reply["EvalID"] == "" and reply["EvalCreateIndex"] == 0
    job = api.get("/v1/job/web").json()
    assert (job["Version"], job["JobModifyIndex"]) == (before["Version"], before["JobModifyIndex"])
    assert len(cluster.state.evals) == evals_before
    event = api.get("/v1/job/web/scale").json()["TaskGroups"]["g"]["Events"][0]
    assert event["Count"] is None and event["Error"] is True and event["EvalID"] is None
    assert event["Message"] == "autoscaler says hi"


def test_scale_status_of_unscaled_group_has_null_events(api: httpx.Client) -> None:
    register(api, simple_job("web", count=2))
    status = api.get("/v1/job/web/scale").json()
    assert status["JobID"] == "web" and status["JobStopped"] is False
    assert status["TaskGroups"]["g"]["Events"] is None
    assert status["TaskGroups"]["g"]["Desired"] == 2


def test_stop_keeps_job_then_purge_removes_it(cluster: SimCluster, api: httpx.Client) -> None:
    register(api, simple_job("web", count=2))
    cluster.advance(60)
    r = api.delete("/v1/job/web")
    assert r.status_code == 200
    body = r.json()
    assert set(body) >= {
        "EvalID",
        "EvalCreateIndex",
        "JobModifyIndex",
        "VolumeEvalID",
        "VolumeEvalIndex",
        "Index",
        "LastContact",
        "KnownLeader",
        "NextToken",
    }
    assert r.headers["X-Nomad-Index"] == str(body["Index"])
    assert api.get(f"/v1/evaluation/{body['EvalID']}").json()["TriggeredBy"] == "job-deregister"
    job = api.get("/v1/job/web").json()
    assert job["Stop"] is True
    # Dead as soon as every allocation is desired-stopped (Allocation.TerminalStatus), even
    # while the client is still killing the tasks.
    assert {a["ClientStatus"] for a in allocs_of(cluster, "web")} == {"running"}
    assert job["Status"] == "dead"
    cluster.advance(10)
    assert api.get("/v1/job/web").json()["Status"] == "dead"
    assert {a["ClientStatus"] for a in allocs_of(cluster, "web")} == {"complete"}
    stubs = api.get("/v1/jobs").json()
    assert [(j["ID"], j["Stop"], j["Status"]) for j in stubs] == [("web", True, "dead")]
    r = api.delete("/v1/job/web?purge=true")
    assert r.status_code == 200
    missing = api.get("/v1/job/web")
    assert (missing.status_code, missing.text) == (404, "job not found")
    assert api.get("/v1/jobs").json() == []


def test_purge_of_a_running_job_stops_its_allocations(
    cluster: SimCluster, api: httpx.Client
) -> None:
    register(api, simple_job("web", count=2))
    cluster.advance(60)
    assert api.delete("/v1/job/web?purge=true").status_code == 200
    cluster.advance(10)
    assert {a["DesiredStatus"] for a in allocs_of(cluster, "web")} == {"stop"}
    assert {a["ClientStatus"] for a in allocs_of(cluster, "web")} == {"complete"}


def test_stopped_job_is_restarted_by_register(cluster: SimCluster, api: httpx.Client) -> None:
    register(api, simple_job("web"))
    api.delete("/v1/job/web")
    cluster.advance(10)
    register(api, simple_job("web"))
    cluster.advance(60)
    job = api.get("/v1/job/web").json()
    assert job["Stop"] is False and job["Status"] == "running"


def test_summary_counts_and_blocking_index(cluster: SimCluster, api: httpx.Client) -> None:
    register(api, simple_job("web", count=2))
    r = api.get("/v1/job/web/summary")
    summary = r.json()
    assert summary["JobID"] == "web" and summary["Namespace"] == "default"
    assert summary["Summary"]["g"] == {
        "Queued": 0,
        "Complete": 0,
        "Failed": 0,
        "Running": 0,
        "Starting": 2,
        "Lost": 0,
        "Unknown": 0,
    }
    cluster.advance(10)
    summary = api.get("/v1/job/web/summary").json()
    assert summary["Summary"]["g"]["Running"] == 2 and summary["Summary"]["g"]["Starting"] == 0
    assert int(api.get("/v1/job/web/summary").headers["X-Nomad-Index"]) == summary["ModifyIndex"]


def test_job_list_stub_embeds_summary_and_meta(api: httpx.Client) -> None:
    spec = simple_job("web")
    spec["Meta"] = {"team": "core"}
    register(api, spec)
    stub = api.get("/v1/jobs").json()[0]
    assert stub["JobSummary"]["Summary"]["g"]["Starting"] == 1
    assert "Meta" not in stub
    assert api.get("/v1/jobs?meta=true").json()[0]["Meta"] == {"team": "core"}


@pytest.mark.parametrize("method", ["PUT", "POST"])
def test_update_via_job_path(api: httpx.Client, method: str) -> None:
    register(api, simple_job("web"))
    r = api.request(method, "/v1/job/web", json={"Job": simple_job("web", cpu=250)})
    assert r.status_code == 200
    assert api.get("/v1/job/web").json()["Version"] == 1


def test_job_evaluations_and_allocations_lists(cluster: SimCluster, api: httpx.Client) -> None:
    reply = register(api, simple_job("web", count=2))
    evals = api.get("/v1/job/web/evaluations").json()
    assert [e["ID"] for e in evals] == [reply["EvalID"]]
    assert "FailedTGAllocs" in evals[0]  # full Evaluation objects
    allocs = api.get("/v1/job/web/allocations").json()
    assert len(allocs) == 2 and all("Job" not in a for a in allocs)  # stubs
    assert api.get("/v1/job/nope/allocations").json() == []


def test_service_scaled_to_zero_is_dead_before_its_tasks_exit(
    cluster: SimCluster, api: httpx.Client
) -> None:
    register(api, simple_job("web", count=1))
    cluster.advance(60)
    assert (
        api.post("/v1/job/web/scale", json={"Count": 0, "Target": {"Group": "g"}}).status_code
        == 200
    )
    assert {a["ClientStatus"] for a in allocs_of(cluster, "web")} == {"running"}
    assert api.get("/v1/job/web").json()["Status"] == "dead"


def test_system_job_without_placements_is_running(make_cluster) -> None:
    cluster = make_cluster((("b1", "dc2"),))
    cluster.register_job(simple_job("agent", job_type="system", datacenters=["dc1"]))
    assert allocs_of(cluster, "agent") == []
    assert cluster.state.jobs[("default", "agent")]["Status"] == "running"
    cluster.deregister_job("default", "agent")
    assert cluster.state.jobs[("default", "agent")]["Status"] == "dead"
