"""Read endpoints and wire conventions (REFERENCE §1, §3, §6, §11.2, §11.8).

Headers: ``X-Nomad-Index`` (decimal), ``X-Nomad-KnownLeader`` (``true``/``false``),
``X-Nomad-LastContact`` (ms), ``X-Nomad-NextToken`` only when non-empty. ``?namespace=``
defaults to ``default``; ``*`` lists every namespace. ``?pretty`` (any value but ``0``) gives a
4-space indent and a trailing newline.
"""

from __future__ import annotations

import json

import httpx
import pytest

from nomadlab.sim import SimCluster
from tests.sim.conftest import allocs_of, simple_job

LISTS = ["/v1/jobs", "/v1/allocations", "/v1/evaluations", "/v1/deployments"]


@pytest.fixture
def two_namespaces(cluster: SimCluster) -> SimCluster:
    cluster.add_namespace("team", "A team")
    cluster.register_job(simple_job("web", count=1))
    spec = simple_job("api", count=1)
    spec["Namespace"] = "team"
    cluster.register_job(spec)
    return cluster


@pytest.mark.parametrize("path", LISTS)
def test_list_namespace_default_and_star(
    two_namespaces: SimCluster, api: httpx.Client, path: str
) -> None:
    default = api.get(path).json()
    assert default and {o["Namespace"] for o in default} == {"default"}
    assert api.get(path + "?namespace=default").json() == default
    team = api.get(path + "?namespace=team").json()
    assert team and {o["Namespace"] for o in team} == {"team"}
    everything = api.get(path + "?namespace=*").json()
    assert {o["Namespace"] for o in everything} == {"default", "team"}
    assert len(everything) == len(default) + len(team)


@pytest.mark.parametrize("path", LISTS + ["/v1/nodes", "/v1/namespaces", "/v1/node/pools"])
def test_list_meta_headers(two_namespaces: SimCluster, api: httpx.Client, path: str) -> None:
    r = api.get(path)
    assert r.status_code == 200
    assert r.headers["content-type"] == "application/json"
    assert int(r.headers["X-Nomad-Index"]) > 0
    assert r.headers["X-Nomad-KnownLeader"] == "true"
    assert r.headers["X-Nomad-LastContact"].isdigit()
    assert "X-Nomad-NextToken" not in r.headers  # only when non-empty
    assert isinstance(r.json(), list)


def test_index_headers_follow_the_tables(two_namespaces: SimCluster, api: httpx.Client) -> None:
    state = two_namespaces.state
    assert int(api.get("/v1/jobs").headers["X-Nomad-Index"]) == max(
        state.table_index["jobs"], state.table_index["job_summary"]
    )
    assert int(api.get("/v1/allocations").headers["X-Nomad-Index"]) == state.table_index["allocs"]
    assert int(api.get("/v1/evaluations").headers["X-Nomad-Index"]) == state.table_index["evals"]
    alloc = allocs_of(two_namespaces, "web")[0]
    r = api.get(f"/v1/allocation/{alloc['ID']}")
    assert int(r.headers["X-Nomad-Index"]) == r.json()["ModifyIndex"]


def test_prefix_filters_by_id(two_namespaces: SimCluster, api: httpx.Client) -> None:
    allocs = api.get("/v1/allocations?namespace=*").json()
    target = allocs[0]["ID"]
    got = api.get(f"/v1/allocations?namespace=*&prefix={target[:4]}").json()
    assert target in {a["ID"] for a in got}
    assert all(a["ID"].startswith(target[:4]) for a in got)
    assert [j["ID"] for j in api.get("/v1/jobs?prefix=we").json()] == ["web"]
    assert api.get("/v1/jobs?prefix=zz").json() == []
    evals = api.get("/v1/evaluations").json()
    assert [e["ID"] for e in api.get(f"/v1/evaluations?prefix={evals[0]['ID'][:6]}").json()] == [
        evals[0]["ID"]
    ]
    node = api.get("/v1/nodes").json()[0]
    assert [n["ID"] for n in api.get(f"/v1/nodes?prefix={node['ID'][:6]}").json()] == [node["ID"]]
    assert [n["Name"] for n in api.get("/v1/namespaces?prefix=te").json()] == ["team"]


@pytest.mark.parametrize("value", ["", "true", "1"], ids=["bare", "true", "one"])
def test_pretty_prints_with_four_spaces(api: httpx.Client, value: str) -> None:
    path = "/v1/regions?pretty" + (f"={value}" if value else "")
    r = api.get(path)
    assert r.text == json.dumps(["global"], indent=4) + "\n"


def test_pretty_zero_and_default_are_compact(two_namespaces: SimCluster, api: httpx.Client) -> None:
    compact = api.get("/v1/jobs").content
    assert b"\n" not in compact and b": " not in compact
    assert api.get("/v1/jobs?pretty=0").content == compact
    pretty = api.get("/v1/jobs?pretty").text
    assert pretty.endswith("\n") and '\n    {\n        "' in pretty
    assert json.loads(pretty) == json.loads(compact)


def test_allocation_list_and_read(two_namespaces: SimCluster, api: httpx.Client) -> None:
    stubs = api.get("/v1/allocations").json()
    stub = stubs[0]
    assert "AllocatedResources" not in stub  # only with ?resources=true
    assert stub["TaskStates"] is not None
    assert stub["JobType"] == "service" and stub["JobVersion"] == 0
    assert isinstance(stub["CreateTime"], int) and stub["CreateTime"] > 10**18
    with_res = api.get("/v1/allocations?resources=true&task_states=false").json()[0]
    assert with_res["AllocatedResources"]["Tasks"]["t"]["Cpu"]["CpuShares"] == 100
    assert with_res["TaskStates"] is None
    full = api.get(f"/v1/allocation/{stub['ID']}").json()
    assert full["Job"]["ID"] == "web"
    assert "JobVersion" not in full  # only the stub has it
    assert full["AllocatedResources"]["Shared"]["DiskMB"] == 300


def test_stopped_allocation_reply(cluster: SimCluster, api: httpx.Client) -> None:
    cluster.register_job(simple_job("web"))
    cluster.advance(30)
    alloc = allocs_of(cluster, "web")[0]
    r = api.post(f"/v1/allocation/{alloc['ID']}/stop")
    assert r.status_code == 200
    body = r.json()
    assert set(body) == {"EvalID", "Index"}
    assert r.headers["X-Nomad-Index"] == str(body["Index"])
    assert api.get(f"/v1/evaluation/{body['EvalID']}").json()["TriggeredBy"] == "alloc-stop"


def test_evaluation_reads(two_namespaces: SimCluster, api: httpx.Client) -> None:
    evals = api.get("/v1/evaluations").json()
    ev = evals[0]
    assert ev["Status"] == "complete"
    assert isinstance(ev["CreateTime"], int) and isinstance(ev["Wait"], int)
    assert api.get(f"/v1/evaluation/{ev['ID']}").json() == ev
    allocs = api.get(f"/v1/evaluation/{ev['ID']}/allocations").json()
    assert {a["EvalID"] for a in allocs} == {ev["ID"]}
    assert api.get("/v1/evaluation/00000000-0000-0000-0000-000000000000/allocations").json() == []
    assert [e["JobID"] for e in api.get("/v1/evaluations?job=web").json()] == ["web"]
    assert {e["Status"] for e in api.get("/v1/evaluations?status=complete").json()} == {"complete"}
    assert api.get("/v1/evaluations?status=blocked").json() == []


def test_deployment_reads(cluster: SimCluster, api: httpx.Client) -> None:
    cluster.register_job(simple_job("web", count=2))
    deps = api.get("/v1/deployments").json()
    assert len(deps) == 1
    dep = deps[0]
    assert dep["Status"] == "running" and dep["JobID"] == "web"
    assert dep["TaskGroups"]["g"]["DesiredTotal"] == 2
    assert api.get("/v1/job/web/deployment").json()["ID"] == dep["ID"]
    assert [d["ID"] for d in api.get("/v1/job/web/deployments").json()] == [dep["ID"]]
    assert api.get(f"/v1/deployment/{dep['ID']}").json()["ID"] == dep["ID"]
    assert len(api.get(f"/v1/deployment/allocations/{dep['ID']}").json()) == 2
    cluster.advance(120)
    dep = api.get(f"/v1/deployment/{dep['ID']}").json()
    assert dep["Status"] == "successful"
    assert dep["TaskGroups"]["g"]["HealthyAllocs"] == 2
    assert api.get("/v1/job/web").json()["Stable"] is True
    assert api.get("/v1/job/nojob/deployment").json() is None


def test_namespaces_and_node_pools(two_namespaces: SimCluster, api: httpx.Client) -> None:
    names = [n["Name"] for n in api.get("/v1/namespaces").json()]
    assert names == ["default", "team"]
    assert api.get("/v1/namespace/team").json()["Description"] == "A team"
    pools = api.get("/v1/node/pools").json()
    assert [p["Name"] for p in pools] == ["all", "default"]
    by_name = {p["Name"]: p for p in pools}
    assert by_name["all"]["Description"] == "Node pool with all nodes in the cluster."
    assert by_name["default"]["Description"] == "Default node pool."
    assert by_name["default"]["NodeIdentityTTL"] == 86_400_000_000_000
    assert by_name["default"]["CreateIndex"] == 1
    assert api.get("/v1/node/pool/default").json()["Name"] == "default"


def test_status_agent_regions(api: httpx.Client) -> None:
    leader = api.get("/v1/status/leader")
    assert leader.status_code == 200
    assert isinstance(leader.json(), str) and ":" in leader.json()
    assert api.get("/v1/regions").json() == ["global"]
    me = api.get("/v1/agent/self").json()
    version = me["config"]["Version"]
    assert {"Version", "VersionPrerelease", "VersionMetadata"} <= set(version)
    assert me["config"]["Region"] == "global"
    members = api.get("/v1/agent/members").json()
    assert members["ServerRegion"] == "global"
    assert isinstance(members["Members"][0]["Addr"], str)
    assert isinstance(members["Members"][0]["Port"], int)
