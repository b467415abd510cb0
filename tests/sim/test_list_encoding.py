"""Big lists are joined from cached per-allocation encodings: the bytes are those of encoding the page.

The reference is the rendering before the cache: every stub built and the page encoded at
once (``orjson.dumps`` of the list of dicts, as ``json_response`` does). Both are compared on
the same cluster for each projection, with filters, namespaces and pages, and again after the
cluster changed, so a stale encoding would show.
"""

from __future__ import annotations

from typing import Any

import httpx
import orjson
import pytest

from nomadlab.sim import SimCluster, wire
from nomadlab.sim.clock import NS_PER_S
from nomadlab.sim.scenarios_large import build_large

QUERIES = [
    "namespace=*&resources=true&task_states=true",
    "namespace=*&resources=true&task_states=false",
    "namespace=*",
    "namespace=platform&task_states=false",
    "namespace=*&resources=true&per_page=37",
    "namespace=*&filter=ClientStatus%20%3D%3D%20%22complete%22",
    "namespace=*&prefix=a",
    "namespace=*&reverse=true&per_page=50",
]


def _reference(cluster: SimCluster, client: httpx.Client, query: str) -> bytes:
    """The page as encoded before the cache: the same stubs (IDs from the served page), each
    built from its allocation and the list encoded whole."""
    served = orjson.loads(client.get(f"/v1/allocations?{query}").content)
    params = dict(p.split("=", 1) for p in query.split("&"))
    resources = params.get("resources") == "true"
    task_states = params.get("task_states", "true") == "true"
    with cluster.state.lock:
        stubs = [wire.alloc_stub(cluster.state.allocs[s["ID"]], resources=resources, task_states=task_states)
                 for s in served]
    return orjson.dumps(stubs, option=orjson.OPT_NON_STR_KEYS)


@pytest.fixture(scope="module")
def cluster() -> SimCluster:
    c = SimCluster(seed=1)
    build_large(c, nodes=300, allocs=3_000)
    return c


def _pages(client: httpx.Client, query: str) -> list[bytes]:
    out = []
    r = client.get(f"/v1/allocations?{query}")
    out.append(r.content)
    while r.headers.get("x-nomad-nexttoken") and len(out) < 5:
        r = client.get(f"/v1/allocations?{query}&next_token={r.headers['x-nomad-nexttoken']}")
        out.append(r.content)
    return out


@pytest.mark.parametrize("query", QUERIES)
def test_joined_encodings_are_the_bytes_of_the_encoded_page(cluster: SimCluster, query: str) -> None:
    client = httpx.Client(transport=cluster.transport(), base_url="http://nomad")
    first = client.get(f"/v1/allocations?{query}").content
    assert first == _reference(cluster, client, query)
    assert client.get(f"/v1/allocations?{query}").content == first  # from the cache: the same bytes
    for page in _pages(client, query)[1:]:
        assert page.startswith(b"[")


def test_a_changed_allocation_is_encoded_again(cluster: SimCluster) -> None:
    client = httpx.Client(transport=cluster.transport(), base_url="http://nomad")
    query = QUERIES[0]
    before = client.get(f"/v1/allocations?{query}").content
    running = [a["ID"] for a in cluster.state.allocs.values() if a["ClientStatus"] == "running"]
    cluster.signal_alloc(running[0], signal="SIGHUP")          # task events, ModifyIndex
    cluster.stop_alloc(running[1])                            # desired transition, replacement
    cluster.advance(3 * NS_PER_S / NS_PER_S)                  # batch exits: client status
    after = client.get(f"/v1/allocations?{query}").content
    assert after != before
    assert after == _reference(cluster, client, query)
    changed = {s["ID"]: s for s in orjson.loads(after)}
    assert changed[running[0]]["TaskStates"]["main"]["Events"][-1]["Type"] == "Signaling"
    assert (changed[running[1]]["DesiredTransition"] or {}).get("Migrate") is True


def test_pretty_lists_are_indented_from_the_same_stubs(cluster: SimCluster) -> None:
    client = httpx.Client(transport=cluster.transport(), base_url="http://nomad")
    compact: list[dict[str, Any]] = orjson.loads(client.get("/v1/allocations?namespace=*&per_page=20").content)
    pretty = client.get("/v1/allocations?namespace=*&per_page=20&pretty=true").content
    assert pretty.startswith(b"[\n    {")
    assert orjson.loads(pretty) == compact
