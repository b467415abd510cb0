"""Nomad service registrations: ``/v1/job/:id/services``, ``/v1/services``, ``/v1/service/:name``.

Facts (REFERENCE §11.6; ``client/serviceregistration/id.go`` ``MakeAllocServiceID``;
``command/agent/service_registration_endpoint.go``; ``nomad/service_registration_endpoint.go``):
only ``provider = "nomad"`` services are registered, with IDs
``_nomad-task-<alloc>-<task or group-<group>>-<name>-<port label>``; the list groups service
names and tags by namespace; lists are ``[]`` when empty.
"""

from __future__ import annotations

import json

import httpx
import pytest

from nomadlab.sim import SimCluster
from tests.conftest import SAMPLES_DIR
from tests.sim.conftest import http, new_cluster

SAMPLES = SAMPLES_DIR

JOB = '''
job "shop" {
  datacenters = ["dc1"]
  group "web" {
    count = 2
    network {
      port "http" { static = 8080 }
    }
    service {
      name     = "shop-web"
      port     = "http"
      provider = "nomad"
      tags     = ["public", "v1"]
    }
    service {
      name = "shop-consul"
      port = "http"
    }
    task "server" {
      driver = "docker"
      config { image = "shop:1" }
      service {
        name     = "shop-metrics"
        port     = "http"
        provider = "nomad"
      }
    }
  }
}
'''


@pytest.fixture
def cluster() -> SimCluster:
    c = new_cluster(nodes=(("a1", "dc1"), ("a2", "dc1")))
    api = http(c)
    job = api.post("/v1/jobs/parse", json={"JobHCL": JOB, "Canonicalize": True}).json()
    assert api.post("/v1/jobs", json={"Job": job}).status_code == 200
    c.advance(30)
    return c


@pytest.fixture
def api(cluster: SimCluster) -> httpx.Client:
    return http(cluster)


def test_job_services_are_the_nomad_provider_registrations(cluster: SimCluster, api: httpx.Client) -> None:
    r = api.get("/v1/job/shop/services")
    assert r.status_code == 200
    regs = r.json()
    sample = json.loads((SAMPLES / "GET_v1_job_id_services.json").read_text())
    assert all(set(reg) == set(sample[0]) for reg in regs)
    assert sorted({reg["ServiceName"] for reg in regs}) == ["shop-metrics", "shop-web"]
    assert len(regs) == 4, "two allocations, one group and one task service each"
    web = next(reg for reg in regs if reg["ServiceName"] == "shop-web")
    alloc = cluster.state.allocs[web["AllocID"]]
    assert web["ID"] == f"_nomad-task-{alloc['ID']}-group-web-shop-web-http"
    assert (web["Port"], web["Tags"], web["JobID"], web["Datacenter"]) == (8080, ["public", "v1"], "shop", "dc1")
    assert web["Address"] == cluster.state.nodes[alloc["NodeID"]]["HTTPAddr"].rsplit(":", 1)[0]
    metrics = next(reg for reg in regs if reg["ServiceName"] == "shop-metrics" and reg["AllocID"] == alloc["ID"])
    assert metrics["ID"] == f"_nomad-task-{alloc['ID']}-server-shop-metrics-http"


def test_services_list_and_one_service(cluster: SimCluster, api: httpx.Client) -> None:
    assert api.get("/v1/services").json() == [{"Namespace": "default", "Services": [
        {"ServiceName": "shop-metrics", "Tags": []}, {"ServiceName": "shop-web", "Tags": ["public", "v1"]}]}]
    regs = api.get("/v1/service/shop-web").json()
    assert len(regs) == 2 and {r["AllocID"] for r in regs} == {
        a["ID"] for a in cluster.state.job_allocs("default", "shop")}
    assert api.get("/v1/service/nope").json() == []
    r = api.get("/v1/service/")
    assert (r.status_code, r.text) == (400, "missing service name")
    assert api.post("/v1/services").status_code == 405


def test_registrations_go_when_the_allocations_stop(cluster: SimCluster, api: httpx.Client) -> None:
    cluster.deregister_job("default", "shop")
    cluster.advance(10)
    assert api.get("/v1/job/shop/services").json() == []
    assert api.get("/v1/services").json() == []
