"""``/v1/metrics``: the client gauges in go-metrics' JSON summary and in Prometheus' format.

Facts (REFERENCE §11.2; ``command/agent/metrics_endpoint.go``; ``client/client.go``
``emitHostStats``/``emitClientMetrics``; ``client/allocrunner/taskrunner/task_runner.go``):
GET only; ``format=prometheus`` needs ``prometheus_metrics`` (415 ``Prometheus is not enabled``
otherwise); node gauges carry ``node_id``, ``datacenter``, ``node_class``, ``node_pool``;
allocation gauges ``job``, ``task_group``, ``alloc_id``, ``task``, ``namespace``.
"""

from __future__ import annotations

import json
import re

import httpx
import pytest

from nomadlab.sim import SimCluster
from tests.conftest import SAMPLES_DIR
from tests.sim.conftest import http, new_cluster, simple_job

SAMPLES = SAMPLES_DIR


@pytest.fixture
def cluster() -> SimCluster:
    c = new_cluster(nodes=(("a1", "dc1"),))
    c.register_job(simple_job("web", count=2, cpu=200, memory_mb=128, datacenters=["dc1"]))
    c.advance(60)
    return c


@pytest.fixture
def api(cluster: SimCluster) -> httpx.Client:
    return http(cluster)


def _gauge(body: dict, name: str, **labels: str) -> float:
    found = [g["Value"] for g in body["Gauges"] if g["Name"] == name
             and all(g["Labels"].get(k) == v for k, v in labels.items())]
    assert len(found) == 1, (name, labels, found)
    return float(found[0])


def test_json_summary_has_nomads_shape_and_agrees_with_the_stats(cluster: SimCluster, api: httpx.Client) -> None:
    body = api.get("/v1/metrics").json()
    sample = json.loads((SAMPLES / "GET_v1_metrics.json").read_text())
    assert set(sample) <= set(body) and re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d \+0000 UTC", body["Timestamp"])
    node = next(iter(cluster.state.nodes.values()))
    base = {"node_id": node["ID"], "datacenter": "dc1", "node_pool": "default"}
    assert _gauge(body, "nomad.client.allocated.cpu", **base) == 400
    assert _gauge(body, "nomad.client.allocated.memory", **base) == 256
    assert _gauge(body, "nomad.client.unallocated.cpu", **base) == 1000 - 400
    assert _gauge(body, "nomad.client.allocations.running", **base) == 2
    stats = api.get("/v1/client/stats", params={"node_id": node["ID"]}).json()
    assert _gauge(body, "nomad.client.host.memory.used", **base) == stats["Memory"]["Used"]
    alloc = next(a for a in cluster.state.job_allocs("default", "web"))
    usage = api.get(f"/v1/client/allocation/{alloc['ID']}/stats").json()["Tasks"]["t"]["ResourceUsage"]
    labels = {"alloc_id": alloc["ID"], "task": "t", "job": "web", "task_group": "g", "namespace": "default"}
    ticks = usage["CpuStats"]["TotalTicks"]
    assert _gauge(body, "nomad.client.allocs.cpu.total_ticks", **labels) == pytest.approx(ticks)
    assert _gauge(body, "nomad.client.allocs.memory.usage", **labels) == usage["MemoryStats"]["Usage"]
    assert _gauge(body, "nomad.client.allocs.memory.allocated", **labels) == 128 * 1024 * 1024


def test_prometheus_format(cluster: SimCluster, api: httpx.Client) -> None:
    r = api.get("/v1/metrics", params={"format": "prometheus"})
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/plain; version=0.0.4")
    lines = r.text.splitlines()
    assert "# TYPE nomad_client_allocated_cpu gauge" in lines
    node = next(iter(cluster.state.nodes))
    sample = re.compile(r'^[a-z_]+\{([a-z_]+="[^"]*",?)+\} -?[0-9.e+]+$')
    assert all(sample.match(line) for line in lines if not line.startswith("#"))
    assert any(line.startswith("nomad_client_allocated_cpu{") and f'node_id="{node}"' in line
               and line.endswith(" 400.0") for line in lines)
    assert any(line.startswith("nomad_client_allocs_memory_usage{") and 'job="web"' in line for line in lines)
    cluster.prometheus_metrics = False
    r = api.get("/v1/metrics", params={"format": "prometheus"})
    assert (r.status_code, r.text) == (415, "Prometheus is not enabled")
    assert api.get("/v1/metrics", params={"format": "other"}).json()["Gauges"], "any other format is JSON"
    assert (api.post("/v1/metrics").status_code, api.post("/v1/metrics").text) == (405, "Invalid method")


def test_a_node_that_is_down_publishes_nothing(cluster: SimCluster, api: httpx.Client) -> None:
    node = next(iter(cluster.state.nodes))
    cluster.set_node_status(node, "down")
    assert api.get("/v1/metrics").json()["Gauges"] == []
