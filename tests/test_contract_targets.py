"""One read-only contract, run against the served simulator and, with ``-m live``, a real Nomad.

The live target is the cluster at ``NOMAD_ADDR`` (with ``NOMAD_TOKEN``, ``NOMAD_CACERT``...
as the CLI reads them), captured when this module is imported, before the autouse fixture
clears ``NOMAD_*`` from each test's environment. Every check only reads, and relies only on
facts true of any Nomad cluster, so nothing here is specific to the simulator.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator

import pytest

from nomadlab.client import NomadClient
from nomadlab.config import NomadConfig
from nomadlab.errors import NotFoundError

_LIVE_ENV = {k: v for k, v in os.environ.items() if k.startswith("NOMAD_")}


@pytest.fixture(
    scope="module",
    params=[
        pytest.param("sim", marks=pytest.mark.wire),
        pytest.param("live", marks=pytest.mark.live),
    ],
)
def client(request: pytest.FixtureRequest) -> Iterator[NomadClient]:
    if request.param == "live":
        if "NOMAD_ADDR" not in _LIVE_ENV:
            pytest.skip("NOMAD_ADDR is not set: no live cluster to test against")
        with NomadClient(NomadConfig.from_env(environ=_LIVE_ENV)) as c:
            yield c
        return
    from nomadlab.sim import SimCluster

    cluster = SimCluster.default(seed=9)
    with cluster.serve(port=0) as url, NomadClient(NomadConfig(address=url)) as c:
        yield c


def test_jobs_list_is_an_array_with_an_index(client: NomadClient) -> None:
    reply = client.get("/v1/jobs", namespace="*")
    assert isinstance(reply.body, list)
    assert reply.meta.index is not None and reply.meta.index > 0
    for stub in reply.body:
        assert {"ID", "Namespace", "Type", "Status", "JobSummary", "CreateIndex", "ModifyIndex"} <= set(stub)
        assert stub["Type"] in {"service", "batch", "system", "sysbatch"}
        assert stub["Status"] in {"pending", "running", "dead"}


def test_unknown_job_is_404_job_not_found(client: NomadClient) -> None:
    with pytest.raises(NotFoundError) as exc:
        client.get(f"/v1/job/nomadlab-contract-{uuid.uuid4()}")
    assert exc.value.status == 404
    assert exc.value.body == "job not found"


def test_nodes_carry_capacity_with_resources(client: NomadClient) -> None:
    nodes = client.get("/v1/nodes", params={"resources": "true"}).body
    assert isinstance(nodes, list)
    for node in nodes:
        assert node["Status"] in {"initializing", "ready", "down", "disconnected"}
        assert node["SchedulingEligibility"] in {"eligible", "ineligible"}
        assert isinstance(node["Drain"], bool)
        assert isinstance(node["NodeResources"]["Cpu"]["CpuShares"], int)
        assert isinstance(node["ReservedResources"]["Memory"]["MemoryMB"], int)


def test_allocation_stubs_and_their_task_states(client: NomadClient) -> None:
    allocs = client.get("/v1/allocations", namespace="*", per_page=50).body
    assert isinstance(allocs, list)
    for a in allocs:
        assert a["ClientStatus"] in {"pending", "running", "complete", "failed", "lost", "unknown"}
        assert a["DesiredStatus"] in {"run", "stop", "evict"}
        assert isinstance(a["CreateTime"], int)
        for state in (a.get("TaskStates") or {}).values():
            assert state["State"] in {"pending", "running", "dead"}
            assert isinstance(state["StartedAt"], str)
            for event in state.get("Events") or []:
                assert isinstance(event["Time"], int) and isinstance(event["Type"], str)


def test_paging_walks_every_node_exactly_once(client: NomadClient) -> None:
    whole = [n["ID"] for n in client.get("/v1/nodes").body]
    paged = [n["ID"] for page in client.pages("/v1/nodes", per_page=2) for n in page.body]
    assert paged == whole


def test_bad_filter_is_400_with_nomads_prefix(client: NomadClient) -> None:
    from nomadlab.errors import BadRequestError

    with pytest.raises(BadRequestError) as exc:
        client.get("/v1/jobs", filter="Status ==")
    assert exc.value.body.startswith("failed to create result paginator: failed to read filter expression:")


def test_blocking_query_returns_at_the_wait_with_the_same_index(client: NomadClient) -> None:
    first = client.get("/v1/regions")
    assert isinstance(first.body, list) and first.body
    jobs = client.get("/v1/jobs", namespace="*")
    again = client.get("/v1/jobs", namespace="*", index=jobs.meta.index, wait=0.5)
    assert again.meta.index is not None and jobs.meta.index is not None
    assert again.meta.index >= jobs.meta.index
