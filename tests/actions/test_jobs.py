"""Job actions on the simulator: the preview, the write, the outcome, and what refuses."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest

from nomadlab import actions
from nomadlab.audit import audit_log
from nomadlab.client import NomadClient
from nomadlab.errors import NomadError, ServerError
from nomadlab.sim import SimCluster
from nomadlab.sim.faults import Fault
from nomadlab.sim.scenarios import group, job_spec, task

from .conftest import running

CRASHING_IMAGE = "example/boom:1.0"   # scripted in the cluster to crash 5 s after each start


def _version(cluster: SimCluster, job: str) -> tuple[int, int]:
    j = cluster.state.jobs[("default", job)]
    return j["Version"], j["JobModifyIndex"]


def test_scale_preview_matches_what_apply_does(cluster: SimCluster, client: NomadClient) -> None:
    before = len(running(cluster, "web"))
    plan = actions.scale(client, "web", "frontend", before + 2)
    assert plan.changes["frontend"]["Place"] == 2
    assert plan.before == {"count": before} and plan.after == {"count": before + 2}
    assert plan.failures == {}
    outcome = plan.apply(confirm=True, advance=cluster.advance, step=2.0)
    assert outcome.status == "healthy"
    assert len(running(cluster, "web")) == before + 2
    assert cluster.state.jobs[("default", "web")]["TaskGroups"][0]["Count"] == before + 2


def test_scale_is_healthy_only_once_the_allocations_are(cluster: SimCluster, client: NomadClient) -> None:
    outcome = actions.scale(client, "web", "frontend", 5).apply(confirm=True, advance=cluster.advance, step=2.0)
    assert outcome.status == "healthy" and outcome.deployment_id
    with cluster.state.lock:
        allocs = [cluster.state.allocs[i] for i in outcome.allocations]
        deployment = cluster.state.deployments[outcome.deployment_id]
    assert deployment["Status"] == "successful"
    assert allocs and all(a["DeploymentStatus"]["Healthy"] is True for a in allocs)


def test_a_short_timeout_says_timeout_not_healthy(cluster: SimCluster, client: NomadClient) -> None:
    outcome = actions.scale(client, "web", "frontend", 6).apply(
        confirm=True, advance=cluster.advance, step=1.0, timeout=3.0)
    assert outcome.status == "timeout"
    assert "deployment" in outcome.detail and "running" in outcome.detail


@pytest.mark.parametrize("confirm", [None, False, "yes"], ids=["missing", "declined", "not-true"])
def test_no_confirmation_writes_nothing(cluster: SimCluster, client: NomadClient, audit_path: Path,
                                        confirm: object) -> None:
    plan = actions.scale(client, "web", "frontend", 7)
    index = cluster.state.index
    before = _version(cluster, "web")
    with pytest.raises(actions.ConfirmationRequiredError, match=r"apply\(confirm=True\)"):
        plan.apply() if confirm is None else plan.apply(confirm=confirm)  # type: ignore[arg-type]
    assert cluster.state.index == index
    assert _version(cluster, "web") == before
    assert not audit_path.exists()


def test_a_stale_plan_is_refused(cluster: SimCluster, client: NomadClient) -> None:
    plan = actions.scale(client, "web", "frontend", 5)
    cluster.scale_job("default", "web", group="frontend", count=4, message="someone else")
    changed = _version(cluster, "web")
    with pytest.raises(actions.StalePlanError, match="plan again"):
        plan.apply(confirm=True, advance=cluster.advance)
    assert _version(cluster, "web") == changed
    assert cluster.state.jobs[("default", "web")]["TaskGroups"][0]["Count"] == 4


def test_a_stale_submit_is_refused_by_the_cluster_too(cluster: SimCluster, client: NomadClient) -> None:
    spec = client.get("/v1/job/web").body
    spec["TaskGroups"][0]["Count"] = 5
    plan = actions.submit(client, spec)
    cluster.scale_job("default", "web", group="frontend", count=4, message="someone else")
    changed = _version(cluster, "web")
    unchecked = dataclasses.replace(plan, check=None)  # only EnforceIndex stands in the way
    with pytest.raises(ServerError, match="Enforcing job modify index"):
        unchecked.apply(confirm=True, advance=cluster.advance)
    assert _version(cluster, "web") == changed


def test_crashing_tasks_are_reported_failed_with_their_events(cluster: SimCluster, client: NomadClient) -> None:
    cluster.behaviours.script(image=CRASHING_IMAGE, fail="crash", fail_after_s=5)
    spec = job_spec("boom", [group("g", [task("t", image=CRASHING_IMAGE)], count=2)], datacenters=["dc1"])
    plan = actions.submit(client, spec)
    assert plan.changes == {"g": {"Place": 2}}
    outcome = plan.apply(confirm=True, advance=cluster.advance, step=2.0, timeout=900)
    assert outcome.status == "failed"
    events = outcome.task_events
    assert events is not None and set(events["alloc_id"]) <= set(outcome.allocations)
    assert "Terminated" in set(events["type"])
    assert "Exit Code: 1" in set(events["display_message"])
    assert "Not Restarting" in outcome.detail


def test_an_unplaceable_job_is_blocked_with_the_reason(cluster: SimCluster, client: NomadClient) -> None:
    spec = job_spec("big", [group("g", [task("t", cpu=100_000)])], datacenters=["dc1"])
    plan = actions.submit(client, spec)
    assert "DimensionExhausted" in plan.failures["g"] and "cannot place g" in repr(plan)
    outcome = plan.apply(confirm=True, advance=cluster.advance)
    assert outcome.status == "blocked"
    assert outcome.failures["g"]["DimensionExhausted"] == {"cpu": 3}
    assert "DimensionExhausted" in outcome.detail


def test_submit_takes_json_text(cluster: SimCluster, client: NomadClient) -> None:
    spec = job_spec("hello", [group("g", [task("t")])], datacenters=["dc1"])
    outcome = actions.submit(client, json.dumps({"Job": spec})).apply(confirm=True, advance=cluster.advance, step=2.0)
    assert outcome.status == "healthy"
    assert ("default", "hello") in cluster.state.jobs


def test_hcl_needs_the_parse_endpoint_and_says_so(cluster: SimCluster, client: NomadClient) -> None:
    # a cluster that does not serve the parse endpoint answers 404 with an empty body
    cluster.faults.add(Fault("/v1/jobs/parse", kind="error", status=404, body=""))
    index = cluster.state.index
    with pytest.raises(NomadError, match=r"POST /v1/jobs/parse answered 404.*dict or JSON"):
        actions.submit(client, 'job "x" {\n  type = "batch"\n}\n')
    assert cluster.state.index == index


def test_stop_lists_the_allocations_and_stops_them(cluster: SimCluster, client: NomadClient) -> None:
    live = {a["ID"][:8] for a in running(cluster, "web")}
    plan = actions.stop(client, "web")
    assert {s.split()[0] for s in plan.changes["allocations that stop"]} == live
    outcome = plan.apply(confirm=True, advance=cluster.advance)
    assert outcome.status == "done" and outcome.eval_id
    assert cluster.state.jobs[("default", "web")]["Stop"] is True
    assert running(cluster, "web") == []


def test_revert_plans_the_old_spec_and_follows_it_to_healthy(cluster: SimCluster, client: NomadClient) -> None:
    actions.scale(client, "web", "frontend", 4).apply(confirm=True, advance=cluster.advance, step=2.0)
    plan = actions.revert(client, "web", 0)
    assert plan.before == {"version": 1} and plan.after == {"version": 0}
    assert plan.changes["frontend"]["Stop"] == 1
    outcome = plan.apply(confirm=True, advance=cluster.advance, step=2.0)
    assert outcome.status in ("healthy", "done"), outcome
    job = cluster.state.jobs[("default", "web")]
    assert job["Version"] == 2 and job["TaskGroups"][0]["Count"] == 3
    assert len(running(cluster, "web")) == 3
    records = audit_log()
    assert list(records["action"]) == ["scale", "revert"]
    assert records.iloc[-1]["eval_id"] == outcome.eval_id and records.iloc[-1]["after"] == {"version": 0}


def test_a_stale_revert_is_refused_by_the_cluster_too(cluster: SimCluster, client: NomadClient) -> None:
    actions.scale(client, "web", "frontend", 4).apply(confirm=True, advance=cluster.advance, step=2.0)
    plan = actions.revert(client, "web", 0)
    cluster.scale_job("default", "web", group="frontend", count=5, message="someone else")
    changed = _version(cluster, "web")
    unchecked = dataclasses.replace(plan, check=None)  # only EnforcePriorVersion stands in the way
    with pytest.raises(ServerError, match="Current job has version 2; enforcing version 1"):
        unchecked.apply(confirm=True, advance=cluster.advance)
    assert _version(cluster, "web") == changed


def test_a_failed_update_with_auto_revert_is_rolled_back(cluster: SimCluster, client: NomadClient) -> None:
    update = {"MaxParallel": 1, "HealthCheck": "task_states", "MinHealthyTime": 5_000_000_000,
              "HealthyDeadline": 60_000_000_000, "ProgressDeadline": 120_000_000_000, "AutoRevert": True}

    def svc(image: str) -> dict[str, object]:
        return job_spec("svc", [group("g", [task("t", image=image)], count=2, update=update)],
                        datacenters=["dc1"])

    cluster.behaviours.script(image="svc:2", fail="crash", fail_after_s=5)
    first = actions.submit(client, svc("svc:1")).apply(confirm=True, advance=cluster.advance, step=2.0)
    assert first.status == "healthy"
    plan = actions.submit(client, svc("svc:2"))
    assert plan.changes == {"g": {"DestructiveUpdate": 2}}
    outcome = plan.apply(confirm=True, advance=cluster.advance, step=2.0, timeout=900)
    assert outcome.status == "rolled back"
    assert "rolling back to job version 0" in outcome.detail
    assert outcome.task_events is not None and "Terminated" in set(outcome.task_events["type"])
    job = cluster.state.jobs[("default", "svc")]
    assert job["Version"] == 2
    assert job["TaskGroups"][0]["Tasks"][0]["Config"]["image"] == "svc:1"


def _report(cluster: SimCluster) -> None:
    cluster.register_job(job_spec("report", [group("g", [task("t")])], job_type="batch", datacenters=["dc1"],
                                  parameterized={"Payload": "optional", "MetaRequired": ["day"]}))


def test_dispatch_runs_a_child_with_the_payload_and_meta(cluster: SimCluster, client: NomadClient) -> None:
    _report(cluster)
    plan = actions.dispatch(client, "report", payload="hello", meta={"day": "mon"})
    assert plan.changes == {"payload bytes": 5, "meta": {"day": "mon"}}
    outcome = plan.apply(confirm=True, advance=cluster.advance, step=5.0, timeout=300)
    child_id = outcome.reply["DispatchedJobID"]
    assert child_id.startswith("report/dispatch-")
    child = cluster.state.jobs[("default", child_id)]
    assert child["Meta"] == {"day": "mon"} and child["Dispatched"] is True
    # batch work has no health: it is followed until it has finished
    assert outcome.status == "placed" and outcome.allocations
    assert all(cluster.state.allocs[a]["ClientStatus"] == "complete" for a in outcome.allocations)
    assert audit_log().iloc[-1]["outcome"] == "placed"
    cluster.advance(5)
    assert cluster.state.jobs[("default", child_id)]["Status"] == "dead"


def test_a_refused_dispatch_is_sent_once_and_its_error_shown(cluster: SimCluster, client: NomadClient) -> None:
    _report(cluster)
    plan = actions.dispatch(client, "report", payload="hello", meta={"week": "1"})
    jobs = set(cluster.state.jobs)
    with pytest.raises(ServerError, match=r"unpermitted metadata keys: \[week\]"):
        plan.apply(confirm=True)
    assert set(cluster.state.jobs) == jobs
    record = audit_log().iloc[-1]
    assert record["outcome"] == "error" and "unpermitted" in record["detail"]
