"""Blocking queries (REFERENCE §1): ``?index=N`` (N > 0) holds the read until the endpoint's
index passes N or ``wait`` runs out; a timeout is a normal 200 with the current data and
index. Bad values give 400 ``Invalid wait time`` / ``Invalid index``.

These tests assert causality, not timing: a blocked read released by a write carries an index
greater than the one it asked for and sees the write; an idle read returns the same index
after at least its wait.
"""

from __future__ import annotations

import threading
import time

import httpx
import pytest

from nomadlab.sim import SimCluster
from nomadlab.sim.http import Request
from nomadlab.sim.router import DEFAULT_BLOCKING_S, MAX_BLOCKING_S, blocking
from tests.sim.conftest import http, simple_job


def blocked_get(cluster: SimCluster, path: str) -> tuple[threading.Thread, dict]:
    out: dict = {}

    def run() -> None:
        with http(cluster) as client:
            out["response"] = client.get(path, timeout=30)
            out["done"] = time.monotonic()

    t = threading.Thread(target=run, daemon=True)
    t.start()
    return t, out


@pytest.mark.parametrize(
    ("path", "write"),
    [
        pytest.param("/v1/jobs", lambda c: c.register_job(simple_job("new")), id="jobs"),
        pytest.param(
            "/v1/allocations", lambda c: c.register_job(simple_job("new")), id="allocations"
        ),
        pytest.param(
            "/v1/evaluations", lambda c: c.register_job(simple_job("new")), id="evaluations"
        ),
        pytest.param(
            "/v1/nodes",
            lambda c: c.set_eligibility(next(iter(c.state.nodes)), "ineligible"),
            id="nodes",
        ),
        pytest.param("/v1/namespaces", lambda c: c.add_namespace("late"), id="namespaces"),
    ],
)
def test_write_from_another_thread_releases_a_blocked_read(
    cluster: SimCluster, api: httpx.Client, path, write
) -> None:
    cluster.register_job(simple_job("seed"))
    first = api.get(path)
    index = int(first.headers["X-Nomad-Index"])
    cluster.max_blocking_wait_s = 20.0
    thread, out = blocked_get(cluster, f"{path}?index={index}&wait=10s")
    time.sleep(0.2)
    assert "response" not in out, "the read returned before any write"
    written = time.monotonic()
    write(cluster)
    thread.join(15)
    assert not thread.is_alive()
    r = out["response"]
    assert r.status_code == 200
    assert int(r.headers["X-Nomad-Index"]) > index
    assert out["done"] >= written
    assert r.json() != first.json()


def test_blocked_job_read_sees_the_update(cluster: SimCluster, api: httpx.Client) -> None:
    cluster.register_job(simple_job("web", cpu=100))
    r = api.get("/v1/job/web")
    index = int(r.headers["X-Nomad-Index"])
    thread, out = blocked_get(cluster, f"/v1/job/web?index={index}&wait=10s")
    time.sleep(0.1)
    cluster.register_job(simple_job("web", cpu=300))
    thread.join(15)
    job = out["response"].json()
    assert job["Version"] == 1
    assert int(out["response"].headers["X-Nomad-Index"]) > index


def test_idle_read_returns_after_the_wait_with_the_same_index(
    cluster: SimCluster, api: httpx.Client
) -> None:
    index = int(api.get("/v1/jobs").headers["X-Nomad-Index"])
    start = time.monotonic()
    r = api.get(f"/v1/jobs?index={index}&wait=200ms")
    elapsed = time.monotonic() - start
    assert r.status_code == 200
    assert int(r.headers["X-Nomad-Index"]) == index
    assert r.json() == []
    assert elapsed >= 0.2


def test_index_behind_returns_at_once(cluster: SimCluster, api: httpx.Client) -> None:
    cluster.register_job(simple_job("web"))
    current = int(api.get("/v1/jobs").headers["X-Nomad-Index"])
    start = time.monotonic()
    r = api.get(f"/v1/jobs?index={current - 1}&wait=20s")
    assert time.monotonic() - start < 10
    assert int(r.headers["X-Nomad-Index"]) == current


def test_write_to_another_table_does_not_release(cluster: SimCluster, api: httpx.Client) -> None:
    index = int(api.get("/v1/namespaces").headers["X-Nomad-Index"])
    thread, out = blocked_get(cluster, f"/v1/namespaces?index={index}&wait=400ms")
    time.sleep(0.1)
    cluster.register_job(simple_job("web"))  # jobs/allocs/evals, not namespaces
    thread.join(15)
    assert int(out["response"].headers["X-Nomad-Index"]) == index


@pytest.mark.parametrize(
    ("wait", "expected"),
    [
        pytest.param("", DEFAULT_BLOCKING_S, id="missing-defaults-to-300s"),
        pytest.param("0s", DEFAULT_BLOCKING_S, id="zero-defaults-to-300s"),
        pytest.param("-5s", DEFAULT_BLOCKING_S, id="negative-defaults-to-300s"),
        pytest.param("10m", MAX_BLOCKING_S, id="capped-at-300s"),
        pytest.param("2s", 2.0, id="given"),
    ],
)
def test_wait_default_cap_and_jitter(cluster: SimCluster, wait: str, expected: float) -> None:
    """The time handed to the state store: wait (default/capped) plus jitter below wait/16."""
    seen: list[float] = []
    cluster.state.wait_for = lambda tables, index, timeout: seen.append(timeout) or index  # type: ignore[method-assign]
    cluster.max_blocking_wait_s = 10_000.0
    query = "index=5" + (f"&wait={wait}" if wait else "")
    for _ in range(50):
        blocking(cluster, Request.build("GET", "/v1/jobs", query), ["jobs"])
    assert all(expected <= s < expected + expected / 16 for s in seen), (min(seen), max(seen))
    assert max(seen) > expected  # jitter is added


def test_no_index_means_no_blocking(cluster: SimCluster) -> None:
    called: list[float] = []
    cluster.state.wait_for = lambda *a: called.append(1) or 0  # type: ignore[method-assign]
    blocking(cluster, Request.build("GET", "/v1/jobs", "wait=5s"), ["jobs"])
    blocking(cluster, Request.build("GET", "/v1/jobs", "index=0&wait=5s"), ["jobs"])
    assert called == []


@pytest.mark.parametrize(
    ("query", "body"),
    [
        pytest.param("index=1&wait=soon", "Invalid wait time", id="bad-wait"),
        pytest.param("index=1&wait=10", "Invalid wait time", id="wait-without-unit"),
        pytest.param("index=abc", "Invalid index", id="bad-index"),
        pytest.param("index=-1", "Invalid index", id="negative-index"),
        # strconv.ParseUint(idx, 10, 64): no sign, no spaces, no underscores, below 2**64
        pytest.param("index=18446744073709551616", "Invalid index", id="index-beyond-uint64"),
        pytest.param("index=%2B5", "Invalid index", id="plus-sign"),
        pytest.param("index=1_000", "Invalid index", id="underscore"),
    ],
)
@pytest.mark.parametrize("path", ["/v1/jobs", "/v1/allocations", "/v1/nodes"])
def test_bad_blocking_params(api: httpx.Client, path: str, query: str, body: str) -> None:
    r = api.get(f"{path}?{query}")
    assert (r.status_code, r.text) == (400, body)
    assert r.headers["content-type"].startswith("text/plain")


def _single_object_paths(c: SimCluster) -> dict[str, tuple[str, int]]:
    """Each single-object read of job ``w`` and its objects, with the object's ModifyIndex."""
    job = c.state.jobs[("default", "w")]
    alloc = c.state.job_allocs("default", "w")[0]
    ev = c.state.evals[alloc["EvalID"]]
    dep = next(d for d in c.state.deployments.values() if d["JobID"] == "w")
    node = c.state.nodes[alloc["NodeID"]]
    summary = c.state.job_summaries[("default", "w")]
    return {
        "job": ("/v1/job/w", job["ModifyIndex"]),
        "summary": ("/v1/job/w/summary", summary["ModifyIndex"]),
        "alloc": (f"/v1/allocation/{alloc['ID']}", alloc["ModifyIndex"]),
        "eval": (f"/v1/evaluation/{ev['ID']}", ev["ModifyIndex"]),
        "deployment": (f"/v1/deployment/{dep['ID']}", dep["ModifyIndex"]),
        "node": (f"/v1/node/{node['ID']}", node["ModifyIndex"]),
    }


@pytest.mark.parametrize("what", ["job", "summary", "alloc", "eval", "deployment", "node"])
def test_single_object_watch_waits_for_that_object(what: str) -> None:
    # Nomad's single-object reads watch the object's own radix node: writes to other objects
    # of the same table do not end the wait, and the index is the object's ModifyIndex.
    c = SimCluster()
    c.max_blocking_wait_s = 5.0
    c.add_node(name="n1", datacenter="dc1", cpu_mhz=8000, cores=8, memory_mb=16384, disk_mb=100_000,
               address="10.0.0.1")
    c.add_node(name="n2", datacenter="dc1", cpu_mhz=8000, cores=8, memory_mb=16384, disk_mb=100_000,
               address="10.0.0.2")
    c.register_job(simple_job("w", datacenters=["dc1"]))
    c.advance(60)
    path, modify_index = _single_object_paths(c)[what]
    wait_s = 0.3
    requests: list[int] = []
    stop = threading.Event()

    def watch() -> None:
        with http(c) as client:
            index = modify_index
            while not stop.is_set():
                r = client.get(path, params={"index": str(index), "wait": f"{int(wait_s * 1000)}ms"}, timeout=30)
                assert r.status_code == 200
                requests.append(int(r.headers["X-Nomad-Index"]))
                index = max(index, int(r.headers["X-Nomad-Index"]))

    t = threading.Thread(target=watch, daemon=True)
    t.start()
    started = time.monotonic()
    n = 0
    other_node = next(nd["ID"] for nd in c.state.nodes.values() if nd["Name"] == "n2"
                      and nd["ID"] != c.state.job_allocs("default", "w")[0]["NodeID"])
    while time.monotonic() - started < 1.0:
        n += 1
        c.register_job(simple_job(f"other{n}", datacenters=["dc1"]))  # jobs, summaries, evals, allocs...
        c.advance(15)  # ...their deployments and allocations move on
        c.set_eligibility(other_node, "ineligible" if n % 2 else "eligible")  # the nodes table moves
        time.sleep(0.02)
    elapsed = time.monotonic() - started
    stop.set()
    t.join(timeout=10)
    assert n > 20, "the table kept changing"
    # one request per wait period (plus jitter), not one per write to the table
    assert len(requests) <= elapsed / wait_s + 2, (len(requests), n)
    assert set(requests) == {modify_index}, "the index stays the unchanged object's ModifyIndex"


def test_single_object_watch_wakes_when_the_object_changes(cluster: SimCluster) -> None:
    cluster.register_job(simple_job("w"))
    job = cluster.state.jobs[("default", "w")]
    t, out = blocked_get(cluster, f"/v1/job/w?index={job['ModifyIndex']}&wait=5s")
    time.sleep(0.05)
    cluster.register_job(simple_job("other"))
    time.sleep(0.1)
    assert "response" not in out, "another job's write does not release the watch"
    cluster.register_job(simple_job("w", count=2))
    t.join(timeout=5)
    new = cluster.state.jobs[("default", "w")]["ModifyIndex"]
    assert int(out["response"].headers["X-Nomad-Index"]) == new > job["ModifyIndex"]
    assert out["response"].json()["TaskGroups"][0]["Count"] == 2


def test_missing_object_reports_the_table_index(cluster: SimCluster) -> None:
    with http(cluster) as client:
        r = client.get("/v1/job/nope")
        assert r.status_code == 404
        assert int(r.headers["X-Nomad-Index"]) == cluster.state.table_index["jobs"]
