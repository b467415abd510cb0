"""``POST /v1/search`` (prefix) and ``/v1/scaling/policies`` over HTTP.

Facts (REFERENCE §11.9; ``nomad/search_endpoint.go`` ``PrefixSearch``, ``getPrefixMatches``,
``roundUUIDDownIfOdd``, ``silenceError``; ``nomad/structs/search.go``; ``nomad/search_endpoint_ce.go``;
``command/agent/scaling_endpoint.go``): at most 20 IDs per context with ``Truncations`` as
booleans; every searched context a key, ``null`` when nothing matches; UUID contexts refusing a
non-UUID prefix are left out; an unknown context is 500 with the list of contexts.
"""

from __future__ import annotations

import json

import httpx
import pytest

from nomadlab.sim import SimCluster
from nomadlab.sim.routes.search import CONTEXTS
from tests.conftest import SAMPLES_DIR
from tests.sim.conftest import http, new_cluster, simple_job

SAMPLES = SAMPLES_DIR


@pytest.fixture
def cluster() -> SimCluster:
    c = new_cluster()
    for name in ("api", "apache", "batch"):
        c.register_job(simple_job(name, datacenters=["dc1"]))
    c.advance(30)
    return c


@pytest.fixture
def api(cluster: SimCluster) -> httpx.Client:
    return http(cluster)


def test_search_all_has_every_context_and_nomads_shape(api: httpx.Client) -> None:
    r = api.post("/v1/search", json=json.loads((SAMPLES / "POST_v1_search_request.json").read_text()))
    assert r.status_code == 200
    body = r.json()
    sample = json.loads((SAMPLES / "POST_v1_search.json").read_text())
    assert set(sample) <= set(body)
    # "abc" is hex, so the UUID contexts are searched too
    assert set(body["Matches"]) == set(CONTEXTS) and set(body["Truncations"]) == set(CONTEXTS)
    assert all(v is False for v in body["Truncations"].values()), "booleans, not the doc's strings"
    assert body["Matches"]["jobs"] is None and r.headers["X-Nomad-Index"] == str(body["Index"])


def test_search_jobs_by_prefix_and_uuid_contexts(cluster: SimCluster, api: httpx.Client) -> None:
    body = api.post("/v1/search", json={"Prefix": "ap", "Context": "all"}).json()
    assert body["Matches"]["jobs"] == ["apache", "api"]
    assert "allocs" not in body["Matches"] and "nodes" not in body["Matches"], "'ap' is not a UUID prefix"
    alloc = next(iter(cluster.state.allocs))
    body = api.put("/v1/search", json={"Prefix": alloc[:7], "Context": "allocs"}).json()
    assert body["Matches"] == {"allocs": [alloc]} and body["Truncations"] == {"allocs": False}
    node = next(iter(cluster.state.nodes))
    assert api.post("/v1/search", json={"Prefix": node[:9], "Context": "nodes"}).json()["Matches"] == {
        "nodes": [node]}


def test_search_truncates_at_twenty(cluster: SimCluster, api: httpx.Client) -> None:
    for i in range(25):
        cluster.register_job(simple_job(f"svc-{i:02d}", datacenters=["dc1"]))
    body = api.post("/v1/search", json={"Prefix": "svc-", "Context": "jobs"}).json()
    assert len(body["Matches"]["jobs"]) == 20 and body["Truncations"]["jobs"] is True
    assert body["Matches"]["jobs"][0] == "svc-00"


def test_search_errors(api: httpx.Client) -> None:
    r = api.post("/v1/search", json={"Prefix": "a", "Context": "nope"})
    assert r.status_code == 500
    assert r.text == ("context must be one of [allocs jobs nodes node_pools evals deployment plugins volumes "
                      "scaling_policy vars namespaces host_volumes] or 'all' for all contexts; got \"nope\"")
    assert (api.get("/v1/search").status_code, api.get("/v1/search").text) == (405, "Invalid method")


def test_search_namespaces_and_node_pools_by_name(api: httpx.Client) -> None:
    body = api.post("/v1/search", json={"Prefix": "de", "Context": "all"}).json()
    assert body["Matches"]["namespaces"] == ["default"] and body["Matches"]["node_pools"] == ["default"]


def test_search_with_acls_keeps_to_what_the_token_reads() -> None:
    c = SimCluster(acl=True)
    c.add_node(name="n", datacenter="dc1", cpu_mhz=4000, cores=4, memory_mb=8192, disk_mb=10000, address="10.0.0.1")
    c.register_job(simple_job("api", datacenters=["dc1"]))
    api = http(c)
    c.acl.upsert_policy("ro", 'namespace "default" { policy = "read" }')
    secret = {"X-Nomad-Token": c.acl.create_token(name="ro", policies=["ro"])["SecretID"]}
    body = api.post("/v1/search", json={"Prefix": "a", "Context": "all"}, headers=secret).json()
    assert body["Matches"]["jobs"] == ["api"] and "nodes" not in body["Matches"]
    r = api.post("/v1/search", json={"Prefix": "", "Context": "nodes"}, headers=secret)
    assert (r.status_code, r.text) == (403, "Permission denied")


# -- scaling policies ---------------------------------------------------------------------------
def test_scaling_policies_of_groups_with_a_scaling_block(cluster: SimCluster, api: httpx.Client) -> None:
    spec = simple_job("scaled", count=2, datacenters=["dc1"])
    spec["TaskGroups"][0]["Scaling"] = {"Min": 1, "Max": 5, "Enabled": True, "Policy": {"cooldown": "1m"}}
    cluster.register_job(spec)
    stubs = api.get("/v1/scaling/policies").json()
    assert len(stubs) == 1
    stub = stubs[0]
    assert set(stub) == {"ID", "Enabled", "Type", "Target", "CreateIndex", "ModifyIndex"}
    assert stub["Target"] == {"Namespace": "default", "Job": "scaled", "Group": "g"} and stub["Type"] == "horizontal"
    full = api.get(f"/v1/scaling/policy/{stub['ID']}").json()
    assert (full["Min"], full["Max"], full["Policy"]) == (1, 5, {"cooldown": "1m"})
    assert api.get("/v1/scaling/policies", params={"job": "api"}).json() == []
    cluster.advance(60)  # the deployment completes: scaling is blocked while it runs
    cluster.scale_job("default", "scaled", group="g", count=3)
    assert api.get("/v1/scaling/policies").json()[0]["ID"] == stub["ID"], "the ID lives as long as its target"
    assert api.post("/v1/search", json={"Prefix": stub["ID"][:4], "Context": "scaling_policy"}).json()[
        "Matches"]["scaling_policy"] == [stub["ID"]]
    r = api.get("/v1/scaling/policy/nope")
    assert (r.status_code, r.text) == (404, "policy not found")
