"""The ``dev`` scenario: what ``nomad agent -dev [-node NAME]`` starts (one server and client).

Facts: ``command/agent/agent.go`` dev mode runs the server and a client in one agent; client
endpoints without ``node_id`` are then answered by the local client (``rpcHandlerForNode``
picks the local client when one runs), while a server-only agent answers 400 ``No local Node and
node_id not provided``.
"""

from __future__ import annotations

import pytest

from nomadlab.sim.scenarios import SCENARIOS, build_scenario
from tests.sim.conftest import http, new_cluster, simple_job


def test_dev_is_one_ready_node_and_nothing_else() -> None:
    cluster = build_scenario("dev", node_name="laptop")
    api = http(cluster)
    nodes = api.get("/v1/nodes").json()
    assert [(n["Name"], n["Datacenter"], n["NodePool"], n["Status"], n["SchedulingEligibility"]) for n in nodes] == [
        ("laptop", "dc1", "default", "ready", "eligible")]
    assert api.get("/v1/jobs", params={"namespace": "*"}).json() == []
    assert [ns["Name"] for ns in api.get("/v1/namespaces").json()] == ["default"]
    me = api.get("/v1/agent/self").json()
    assert me["config"]["NodeName"] == "laptop" and me["config"]["Client"]["Enabled"] is True
    assert "dev" in SCENARIOS and SCENARIOS["dev"].params == ("node_name",)


def test_dev_answers_client_endpoints_without_a_node_id() -> None:
    cluster = build_scenario("dev")
    api = http(cluster)
    stats = api.get("/v1/client/stats")
    assert stats.status_code == 200 and stats.json()["Memory"]["Total"] > 0
    assert api.put("/v1/client/gc").status_code == 200
    server_only = http(new_cluster())
    r = server_only.get("/v1/client/stats")
    assert (r.status_code, r.text) == (400, "No local Node and node_id not provided")


def test_dev_runs_a_job() -> None:
    cluster = build_scenario("dev")
    cluster.register_job(simple_job("hello", datacenters=["dc1"]))
    cluster.advance(30)
    assert [a["ClientStatus"] for a in cluster.state.job_allocs("default", "hello")] == ["running"]


def test_dev_needs_a_node_name() -> None:
    with pytest.raises(ValueError, match="needs a name"):
        build_scenario("dev", node_name="")
