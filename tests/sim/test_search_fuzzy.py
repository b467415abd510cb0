"""``POST /v1/search/fuzzy`` (``Search.FuzzySearch``, ``nomad/search_endpoint.go``).

Names containing the text, case-insensitively, per context, each with its ``Scope`` of parent
IDs; jobs expand into groups, services, tasks and driver fields; UUID contexts by prefix; the
agent's default ``search`` block (first 20 objects walked, 100 results, terms of 2 bytes or
more); ACLs checked per context, or per object under ``namespace=*``.
"""

from __future__ import annotations

import httpx
import pytest

from nomadlab.sim import SimCluster
from nomadlab.sim.routes.search import CONTEXTS, DEFAULT_SEARCH_CONFIG
from nomadlab.sim.scenarios import group, job_spec, task
from tests.sim.conftest import http, simple_job


def _fuzzy(api: httpx.Client, text: str, context: str = "all", **kw: str) -> httpx.Response:
    return api.post("/v1/search/fuzzy", json={"Text": text, "Context": context, **kw})


def test_agent_defaults_are_nomads() -> None:
    cfg = DEFAULT_SEARCH_CONFIG
    assert (cfg.fuzzy_enabled, cfg.limit_query, cfg.limit_results, cfg.min_term_length) == (True, 20, 100, 2)


def test_job_expands_into_its_parts_with_scopes(cluster: SimCluster, api: httpx.Client) -> None:
    spec = job_spec("webapp", [group("webgroup", [task("webtask", image="example/web:1")], count=0)])
    spec["TaskGroups"][0]["Services"] = [{"Name": "web-svc", "PortLabel": "http"}]
    cluster.register_job(spec)
    r = _fuzzy(api, "WEB", "jobs")
    assert r.status_code == 200
    m = r.json()["Matches"]
    assert m["jobs"] == [{"ID": "webapp", "Scope": ["default", "webapp"]}]
    assert m["groups"] == [{"ID": "webgroup", "Scope": ["default", "webapp"]}]
    assert m["services"] == [{"ID": "web-svc", "Scope": ["default", "webapp", "webgroup"]}]
    assert m["tasks"] == [{"ID": "webtask", "Scope": ["default", "webapp", "webgroup"]}]
    assert m["images"] == [{"ID": "example/web:1", "Scope": ["default", "webapp", "webgroup", "webtask"]}]
    assert r.json()["Truncations"] == {"jobs": False}
    assert r.headers["X-Nomad-Index"] == str(cluster.state.table_index["jobs"])


def test_sorted_by_position_then_length_then_name(cluster: SimCluster, api: httpx.Client) -> None:
    for name in ("xx-api", "api-long", "api", "b-api", "a-api"):
        cluster.register_job(simple_job(name, count=0))
    ids = [m["ID"] for m in _fuzzy(api, "api", "jobs").json()["Matches"]["jobs"]]
    assert ids == ["api", "api-long", "a-api", "b-api", "xx-api"]


def test_single_contexts_and_their_scopes(cluster: SimCluster, api: httpx.Client) -> None:
    cluster.register_job(simple_job("cache"))
    cluster.advance(30)
    body = _fuzzy(api, "a1", "nodes").json()
    node = next(n for n in cluster.state.nodes.values() if n["Name"] == "a1")
    assert body["Matches"]["nodes"] == [{"ID": "a1", "Scope": [node["ID"]]}]
    alloc = cluster.state.job_allocs("default", "cache")[0]
    assert _fuzzy(api, "cache.g", "allocs").json()["Matches"]["allocs"] == [
        {"ID": "cache.g[0]", "Scope": ["default", alloc["ID"]]}]
    assert _fuzzy(api, "defa", "namespaces").json()["Matches"]["namespaces"] == [{"ID": "default"}]
    assert _fuzzy(api, "defa", "node_pools").json()["Matches"]["node_pools"] == [
        {"ID": "default", "Scope": ["default"]}]


def test_uuid_contexts_match_by_prefix(cluster: SimCluster, api: httpx.Client) -> None:
    cluster.register_job(simple_job("cache"))
    ev = next(iter(cluster.state.evals.values()))
    body = _fuzzy(api, ev["ID"][:6], "evals").json()
    assert body["Matches"] == {"evals": [{"ID": ev["ID"]}]} and body["Truncations"] == {"evals": False}


def test_all_lists_every_context_in_truncations(cluster: SimCluster, api: httpx.Client) -> None:
    body = _fuzzy(api, "zz").json()
    assert set(body["Truncations"]) == set(CONTEXTS)
    assert not any(body["Truncations"].values())


def test_only_the_first_twenty_objects_are_walked(cluster: SimCluster, api: httpx.Client) -> None:
    for i in range(22):
        cluster.register_job(simple_job(f"job-{i:02d}", count=0))
    body = _fuzzy(api, "job-", "jobs").json()
    assert [m["ID"] for m in body["Matches"]["jobs"]] == [f"job-{i:02d}" for i in range(20)]
    assert body["Truncations"]["jobs"] is True
    # the 20th walked job does not match: nothing says more were left
    assert _fuzzy(api, "job-0", "jobs").json()["Truncations"]["jobs"] is False


def test_results_stop_at_the_limit(cluster: SimCluster, api: httpx.Client) -> None:
    groups = [group(f"grp{i:03d}", [task("t")], count=0) for i in range(101)]
    cluster.register_job(job_spec("big", groups))
    body = _fuzzy(api, "grp", "jobs").json()
    assert len(body["Matches"]["groups"]) == 100
    assert body["Truncations"]["groups"] is True


@pytest.mark.parametrize(
    ("body", "status", "text"),
    [
        pytest.param({"Text": "a", "Context": "all"}, 500, "fuzzy search query must be at least 2 characters, got 1",
                     id="short"),
        pytest.param({"Text": "é", "Context": "all"}, 200, None, id="two-bytes-is-enough"),
        pytest.param({"Text": "ab", "Context": "groups"}, 500,
                     "context must be one of [allocs jobs nodes node_pools evals deployment plugins volumes "
                     "scaling_policy vars namespaces host_volumes] or 'all' for all contexts; got \"groups\"",
                     id="sub-context"),
    ],
)
def test_errors(api: httpx.Client, body: dict, status: int, text: str | None) -> None:
    r = api.post("/v1/search/fuzzy", json=body)
    assert r.status_code == status
    if text is not None:
        assert r.text == text


def test_methods_and_bodies(api: httpx.Client) -> None:
    assert (api.get("/v1/search/fuzzy").status_code, api.get("/v1/search/fuzzy").text) == (405, "Invalid method")
    assert api.post("/v1/search/fuzzy", content=b"").text == "Request body is empty"
    assert api.post("/v1/search/fuzzy", content=b"{").status_code == 400


def _acl_world() -> tuple[SimCluster, httpx.Client, dict[str, str]]:
    c = SimCluster(acl=True, seed=3)
    c.add_namespace("team")
    c.register_job(simple_job("web-a", count=0))
    c.register_job(simple_job("web-b", count=0), namespace="team")
    mgmt = c.acl.bootstrap()["SecretID"]
    c.acl.upsert_policy("read", 'namespace "default" { policy = "read" }')
    read = c.acl.create_token(name="read", policies=["read"])["SecretID"]
    return c, http(c), {"mgmt": mgmt, "read": read}


def test_acl_denies_an_unreadable_namespace_and_filters_star() -> None:
    _, api, tokens = _acl_world()
    read = {"X-Nomad-Token": tokens["read"]}
    denied = api.post("/v1/search/fuzzy", json={"Text": "web", "Context": "jobs", "Namespace": "team"},
                      headers=read)
    assert (denied.status_code, denied.text) == (403, "Permission denied")
    star = api.post("/v1/search/fuzzy", json={"Text": "web", "Context": "jobs", "Namespace": "*"}, headers=read)
    assert [m["ID"] for m in star.json()["Matches"]["jobs"]] == ["web-a"]
    everything = api.post("/v1/search/fuzzy", json={"Text": "web", "Context": "jobs", "Namespace": "*"},
                          headers={"X-Nomad-Token": tokens["mgmt"]})
    assert [m["ID"] for m in everything.json()["Matches"]["jobs"]] == ["web-a", "web-b"]


def test_acl_all_keeps_the_readable_contexts() -> None:
    _, api, tokens = _acl_world()
    body = api.post("/v1/search/fuzzy", json={"Text": "web", "Context": "all"},
                    headers={"X-Nomad-Token": tokens["read"]}).json()
    assert "nodes" not in body["Truncations"]  # no node:read
    assert body["Truncations"]["jobs"] is False and "jobs" in body["Matches"]
