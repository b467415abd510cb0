"""Deployment fail, pause/resume, promote and allocation health over HTTP.

Facts (REFERENCE §11.7; ``command/agent/deployment_endpoint.go``, ``nomad/deployment_endpoint.go``,
``nomad/deploymentwatcher/deployment_watcher.go``, ``nomad/structs/deployment.go``,
``nomad/structs/errors.go``): PUT/POST only; the body's ``DeploymentID`` must be given and match
(400); the deployment is looked up (500 ``deployment not found``) and must be active (``can't
fail terminal deployment``, ...); the answer is a DeploymentUpdateResponse; a pause creates no
evaluation, everything else a ``deployment-watcher`` one; failing rolls back to the latest
stable version when a group auto-reverts.
"""

from __future__ import annotations

import json

import httpx
import pytest

from nomadlab.sim import SimCluster
from tests.conftest import SAMPLES_DIR
from tests.sim.conftest import http, new_cluster, simple_job

SAMPLES = SAMPLES_DIR
S = 1_000_000_000
UPDATE = {"MaxParallel": 2, "HealthCheck": "task_states", "MinHealthyTime": 10 * S, "HealthyDeadline": 300 * S,
          "ProgressDeadline": 600 * S, "AutoRevert": True}


def _spec(image: str) -> dict:
    spec = simple_job("web", count=2, datacenters=["dc1"], update=UPDATE)
    spec["TaskGroups"][0]["Tasks"][0]["Config"]["image"] = image
    return spec


@pytest.fixture
def cluster() -> SimCluster:
    c = new_cluster()
    c.behaviours.script(image="slow:2", start_s=120)
    c.register_job(_spec("fast:1"))
    c.advance(30)
    assert c.state.jobs[("default", "web")]["Stable"] is True
    c.register_job(_spec("slow:2"))  # version 1: its allocations take two minutes to start
    c.advance(5)
    return c


@pytest.fixture
def api(cluster: SimCluster) -> httpx.Client:
    return http(cluster)


def _current(cluster: SimCluster) -> dict:
    dep = cluster.latest_deployment("default", "web")
    assert dep is not None and dep["JobVersion"] == 1
    return dep


def _keys(name: str) -> set[str]:
    return set(json.loads((SAMPLES / name).read_text()))


def test_fail_rolls_back_to_the_stable_version(cluster: SimCluster, api: httpx.Client) -> None:
    dep = _current(cluster)
    r = api.post(f"/v1/deployment/fail/{dep['ID']}")
    assert r.status_code == 200
    reply = r.json()
    assert set(reply) == _keys("POST_v1_deployment_fail_id.json")
    assert reply["RevertedJobVersion"] == 0 and r.headers["X-Nomad-Index"] == str(reply["Index"])
    assert reply["EvalCreateIndex"] == reply["DeploymentModifyIndex"] == reply["Index"]
    assert cluster.state.evals[reply["EvalID"]]["TriggeredBy"] == "deployment-watcher"
    got = api.get(f"/v1/deployment/{dep['ID']}").json()
    assert (got["Status"], got["StatusDescription"]) == (
        "failed", "Deployment marked as failed - rolling back to job version 0")
    job = api.get("/v1/job/web").json()
    assert job["Version"] == 2 and job["TaskGroups"][0]["Tasks"][0]["Config"]["image"] == "fast:1"
    r = api.post(f"/v1/deployment/fail/{dep['ID']}")
    assert (r.status_code, r.text) == (500, "can't fail terminal deployment")


def test_fail_with_no_stable_version_to_revert_to() -> None:
    c = new_cluster()
    c.behaviours.script(image="slow:2", start_s=120)
    c.register_job(_spec("slow:2"))
    c.advance(5)
    dep = c.latest_deployment("default", "web")
    assert dep is not None
    reply = http(c).post(f"/v1/deployment/fail/{dep['ID']}").json()
    assert reply["RevertedJobVersion"] is None
    assert c.state.deployments[dep["ID"]]["StatusDescription"] == (
        "Deployment marked as failed - no stable job version to auto revert to")


def test_pause_then_resume_counts_the_health_reported_meanwhile(cluster: SimCluster, api: httpx.Client) -> None:
    dep = _current(cluster)
    r = api.post(f"/v1/deployment/pause/{dep['ID']}", json={"DeploymentID": dep["ID"], "Pause": True})
    reply = r.json()
    assert r.status_code == 200 and set(_keys("POST_v1_deployment_pause_id.json")) <= set(reply)
    assert (reply["EvalID"], reply["EvalCreateIndex"]) == ("", 0)
    assert (cluster.state.deployments[dep["ID"]]["Status"],
            cluster.state.deployments[dep["ID"]]["StatusDescription"]) == ("paused", "Deployment is paused")
    cluster.advance(150)  # the allocations start and turn healthy while the deployment is paused
    assert cluster.state.deployments[dep["ID"]]["Status"] == "paused"
    r = api.put(f"/v1/deployment/pause/{dep['ID']}", json={"DeploymentID": dep["ID"], "Pause": False})
    reply = r.json()
    assert reply["EvalID"] and cluster.state.evals[reply["EvalID"]]["TriggeredBy"] == "deployment-watcher"
    got = cluster.state.deployments[dep["ID"]]
    assert got["Status"] == "successful" and got["TaskGroups"]["g"]["HealthyAllocs"] == 2
    assert cluster.state.jobs[("default", "web")]["Stable"] is True
    r = api.put(f"/v1/deployment/pause/{dep['ID']}", json={"DeploymentID": dep["ID"], "Pause": False})
    assert (r.status_code, r.text) == (500, "can't resume terminal deployment")
    r = api.put(f"/v1/deployment/pause/{dep['ID']}", json={"DeploymentID": dep["ID"], "Pause": True})
    assert (r.status_code, r.text) == (500, "can't pause terminal deployment")


def test_promote_marks_the_groups_promoted(cluster: SimCluster, api: httpx.Client) -> None:
    dep = _current(cluster)
    r = api.post(f"/v1/deployment/promote/{dep['ID']}", json={"DeploymentID": dep["ID"], "Groups": ["g"]})
    assert r.status_code == 200 and set(r.json()) >= _keys("POST_v1_deployment_promote_id.json")
    assert cluster.state.deployments[dep["ID"]]["TaskGroups"]["g"]["Promoted"] is True


def test_allocation_health_by_hand(cluster: SimCluster, api: httpx.Client) -> None:
    dep = _current(cluster)
    allocs = [a["ID"] for a in cluster.state.allocs.values() if a.get("DeploymentID") == dep["ID"]]
    assert len(allocs) == 2
    r = api.post(f"/v1/deployment/allocation-health/{dep['ID']}",
                 json={"DeploymentID": dep["ID"], "HealthyAllocationIDs": allocs[:1]})
    assert r.status_code == 200 and set(r.json()) == _keys("POST_v1_deployment_allocation-health_id.json")
    assert cluster.state.allocs[allocs[0]]["DeploymentStatus"]["Healthy"] is True
    assert cluster.state.deployments[dep["ID"]]["TaskGroups"]["g"]["HealthyAllocs"] == 1
    r = api.post(f"/v1/deployment/allocation-health/{dep['ID']}",
                 json={"DeploymentID": dep["ID"], "UnhealthyAllocationIDs": allocs[1:]})
    reply = r.json()
    got = cluster.state.deployments[dep["ID"]]
    assert (got["Status"], got["StatusDescription"]) == (
        "failed", "Failed due to unhealthy allocations - rolling back to job version 0")
    assert reply["RevertedJobVersion"] == 0 and got["TaskGroups"]["g"]["UnhealthyAllocs"] == 1


@pytest.mark.parametrize(
    ("body", "status", "text"),
    [
        ({}, 400, "DeploymentID must be specified"),
        ({"DeploymentID": "other"}, 400, "Deployment ID does not match"),
        ({"DeploymentID": "{id}"}, 500, "must specify at least one healthy/unhealthy allocation ID"),
        ({"DeploymentID": "{id}", "HealthyAllocationIDs": ["nope"]}, 500, 'unknown alloc "nope"'),
        ({"DeploymentID": "{id}", "HealthyAllocationIDs": "x"}, 400,
         "json: cannot unmarshal string into Go struct field DeploymentAllocHealthRequest.HealthyAllocationIDs "
         "of type []string"),
    ],
    ids=["no-id", "other-id", "no-allocs", "unknown-alloc", "bad-type"],
)
def test_allocation_health_errors(cluster: SimCluster, api: httpx.Client, body: dict, status: int,
                                  text: str) -> None:
    dep = _current(cluster)
    body = {k: (v.replace("{id}", dep["ID"]) if isinstance(v, str) else v) for k, v in body.items()}
    r = api.post(f"/v1/deployment/allocation-health/{dep['ID']}", json=body)
    assert (r.status_code, r.text) == (status, text)
    assert cluster.state.deployments[dep["ID"]]["Status"] == "running"


def test_an_allocation_of_another_deployment_and_unknown_deployments(cluster: SimCluster, api: httpx.Client) -> None:
    dep = _current(cluster)
    old = next(a["ID"] for a in cluster.state.allocs.values() if a.get("DeploymentID") != dep["ID"])
    r = api.post(f"/v1/deployment/allocation-health/{dep['ID']}",
                 json={"DeploymentID": dep["ID"], "HealthyAllocationIDs": [old]})
    assert (r.status_code, r.text) == (500, f'alloc "{old}" is not part of deployment "{dep["ID"]}"')
    for path, body in (("fail/nope", None), ("pause/nope", {"DeploymentID": "nope"}),
                       ("promote/nope", {"DeploymentID": "nope", "All": True})):
        r = api.post(f"/v1/deployment/{path}", json=body)
        assert (r.status_code, r.text) == (500, "deployment not found"), path
    assert api.get(f"/v1/deployment/fail/{dep['ID']}").status_code == 405
