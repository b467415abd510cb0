"""``/v1/jobs/statuses``: the job list of Nomad's web UI (``nomad/job_endpoint_statuses.go``).

One ``JobStatusesJob`` per job, most recently modified first, children left out unless asked
for, a POST body selecting jobs, ``next_token`` a ``ModifyIndex``, and a blocking query whose
index is the highest one seen on the page (so a change off the page does not wake it).
"""

from __future__ import annotations

import threading
import time

import httpx
import pytest

from nomadlab.sim import SimCluster
from nomadlab.sim.scenarios import group, job_spec, task
from tests.sim.conftest import http, simple_job

ROW_FIELDS = {
    "ID", "Namespace", "Name", "Type", "NodePool", "Datacenters", "Priority", "Version", "SubmitTime",
    "ModifyIndex", "Allocs", "GroupCountSum", "ChildStatuses", "ParentID", "LatestDeployment", "Stop",
    "IsPack", "Status",
}
ALLOC_FIELDS = {"ID", "Group", "ClientStatus", "NodeID", "DeploymentStatus", "JobVersion", "FollowupEvalID",
                "HasPausedTask"}
DEPLOYMENT_FIELDS = {"ID", "IsActive", "JobVersion", "Status", "StatusDescription", "AllAutoPromote",
                     "RequiresPromotion"}


def _periodic(job_id: str) -> dict:
    return job_spec(job_id, [group("g", [task("t", cpu=50, memory_mb=32)], count=1)], job_type="batch",
                    periodic={"Enabled": True, "Spec": "0 * * * *", "SpecType": "cron"})


def test_rows_have_nomads_fields_and_shape(cluster: SimCluster, api: httpx.Client) -> None:
    spec = simple_job("web", count=2)
    spec["Meta"] = {"pack.name": "web"}  # set by nomad-pack
    cluster.register_job(spec)
    cluster.advance(60)
    r = api.get("/v1/jobs/statuses")
    assert r.status_code == 200
    (row,) = r.json()
    assert set(row) == ROW_FIELDS
    assert row["ID"] == "web" and row["Namespace"] == "default" and row["GroupCountSum"] == 2
    assert row["IsPack"] is True and row["ChildStatuses"] is None and row["Status"] == "running"
    assert len(row["Allocs"]) == 2
    for a in row["Allocs"]:
        assert set(a) == ALLOC_FIELDS
        assert set(a["DeploymentStatus"]) == {"Canary", "Healthy"}
        assert a["ClientStatus"] == "running" and a["Group"] == "g"
    assert set(row["LatestDeployment"]) == DEPLOYMENT_FIELDS
    assert r.headers["X-Nomad-Index"] == str(max(
        [row["ModifyIndex"], *(a["ModifyIndex"] for a in cluster.state.job_allocs("default", "web")),
         next(iter(cluster.state.deployments.values()))["ModifyIndex"]]))


def test_most_recently_modified_first_and_reverse(cluster: SimCluster, api: httpx.Client) -> None:
    for name in ("a", "b", "c"):
        cluster.register_job(simple_job(name))
    ids = [j["ID"] for j in api.get("/v1/jobs/statuses").json()]
    assert ids == ["c", "b", "a"]
    assert [j["ID"] for j in api.get("/v1/jobs/statuses", params={"reverse": "true"}).json()] == ["a", "b", "c"]


def test_pages_follow_modify_index_tokens(cluster: SimCluster, api: httpx.Client) -> None:
    for name in ("a", "b", "c"):
        cluster.register_job(simple_job(name))
    first = api.get("/v1/jobs/statuses", params={"per_page": 2})
    assert [j["ID"] for j in first.json()] == ["c", "b"]
    token = first.headers["X-Nomad-NextToken"]
    assert token == str(cluster.state.jobs[("default", "a")]["ModifyIndex"])
    second = api.get("/v1/jobs/statuses", params={"per_page": 2, "next_token": token})
    assert [j["ID"] for j in second.json()] == ["a"]
    assert "X-Nomad-NextToken" not in second.headers


def test_children_only_with_include_children(cluster: SimCluster, api: httpx.Client) -> None:
    cluster.register_job(_periodic("report"))
    child = cluster.launch_periodic_child("default", "report")
    rows = api.get("/v1/jobs/statuses").json()
    assert [r["ID"] for r in rows] == ["report"]
    assert rows[0]["ChildStatuses"] == [child["Status"]] and rows[0]["Allocs"] is None
    with_children = api.get("/v1/jobs/statuses", params={"include_children": "true"}).json()
    assert {r["ID"] for r in with_children} == {"report", child["ID"]}
    bad = api.get("/v1/jobs/statuses", params={"include_children": "maybe"})
    assert bad.status_code == 400
    assert bad.text == ('Failed to parse value of "include_children" (maybe) as a bool: '
                        'strconv.ParseBool: parsing "maybe": invalid syntax')


def test_namespace_and_filter(cluster: SimCluster, api: httpx.Client) -> None:
    cluster.add_namespace("platform")
    cluster.register_job(simple_job("web"))
    cluster.register_job(simple_job("api"), namespace="platform")
    assert [r["ID"] for r in api.get("/v1/jobs/statuses").json()] == ["web"]
    assert {r["ID"] for r in api.get("/v1/jobs/statuses", params={"namespace": "*"}).json()} == {"web", "api"}
    picked = api.get("/v1/jobs/statuses", params={"namespace": "*", "filter": 'Namespace == "platform"'})
    assert [r["ID"] for r in picked.json()] == ["api"]
    broken = api.get("/v1/jobs/statuses", params={"filter": "Namespace =="})
    assert broken.status_code == 500
    assert broken.text.startswith("failed to create result paginator: failed to read filter expression: ")


def test_post_selects_jobs_across_namespaces(cluster: SimCluster, api: httpx.Client) -> None:
    cluster.add_namespace("platform")
    for name in ("web", "db", "cache"):
        cluster.register_job(simple_job(name))
    cluster.register_job(simple_job("api"), namespace="platform")
    body = {"jobs": [{"id": "web"}, {"id": "api", "namespace": "platform"}]}
    rows = api.post("/v1/jobs/statuses", json=body).json()
    assert {(r["Namespace"], r["ID"]) for r in rows} == {("default", "web"), ("platform", "api")}
    assert "X-Nomad-NextToken" not in api.post("/v1/jobs/statuses", json=body).headers


@pytest.mark.parametrize(
    ("body", "text"),
    [
        pytest.param(b"{}", "no jobs in request", id="no-jobs"),
        pytest.param(b'{"Jobs": []}', "no jobs in request", id="empty-jobs"),
        pytest.param(b"{", "error decoding request: unexpected EOF", id="truncated"),
        pytest.param(b'{"Jobs": "web"}',
                     "error decoding request: json: cannot unmarshal string into Go struct field "
                     "JobStatusesRequest.Jobs of type []api.NamespacedID", id="wrong-type"),
    ],
)
def test_post_body_errors(api: httpx.Client, body: bytes, text: str) -> None:
    r = api.post("/v1/jobs/statuses", content=body)
    assert (r.status_code, r.text) == (400, text)


def test_other_methods_are_refused(api: httpx.Client) -> None:
    assert api.delete("/v1/jobs/statuses").status_code == 405


def test_blocking_wakes_for_a_change_on_the_page(cluster: SimCluster, api: httpx.Client) -> None:
    cluster.register_job(simple_job("web"))
    first = api.get("/v1/jobs/statuses")
    index = int(first.headers["X-Nomad-Index"])
    out: dict = {}

    def watch() -> None:
        with http(cluster) as client:
            out["r"] = client.get("/v1/jobs/statuses", params={"index": index, "wait": "4s"}, timeout=30)

    t = threading.Thread(target=watch, daemon=True)
    t.start()
    time.sleep(0.2)
    cluster.register_job(simple_job("web", count=2))
    t.join(10)
    r = out["r"]
    assert int(r.headers["X-Nomad-Index"]) > index
    assert r.json()[0]["GroupCountSum"] == 2


def test_blocking_ignores_changes_off_the_page(cluster: SimCluster, api: httpx.Client) -> None:
    """A watcher of ``web`` (POST with one job) is not woken by writes to another job."""
    cluster.register_job(simple_job("web"))
    cluster.register_job(simple_job("other"))
    body = {"Jobs": [{"ID": "web", "Namespace": "default"}]}
    index = int(api.post("/v1/jobs/statuses", json=body).headers["X-Nomad-Index"])
    out: dict = {}

    def watch() -> None:
        with http(cluster) as client:
            start = time.monotonic()
            out["r"] = client.post("/v1/jobs/statuses", params={"index": index, "wait": "1s"}, json=body,
                                   timeout=30)
            out["took"] = time.monotonic() - start

    t = threading.Thread(target=watch, daemon=True)
    t.start()
    time.sleep(0.1)
    cluster.register_job(simple_job("other", count=2))
    t.join(10)
    assert out["took"] >= 1.0
    assert int(out["r"].headers["X-Nomad-Index"]) == index
