"""Fixtures for the simulator tests: small, explicit clusters and an in-process HTTP client.

Every cluster here is built from ``SimCluster()`` (a :class:`ManualClock`, no scenario) so each
test states the capacity it relies on. Time moves only through ``cluster.advance``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest

from nomadlab.sim import SimCluster
from nomadlab.sim.scenarios import group, job_spec, task

__all__ = [
    "NODE_CPU",
    "NODE_MEM",
    "NODE_DISK",
    "new_cluster",
    "http",
    "simple_job",
    "node_named",
    "allocs_of",
    "evals_of",
]

# Every node of the standard test cluster: 1000 MHz, 1024 MB, 10 000 MB disk, no reservation.
NODE_CPU = 1000
NODE_MEM = 1024
NODE_DISK = 10_000


def new_cluster(
    nodes: tuple[tuple[str, str], ...] = (("a1", "dc1"), ("a2", "dc1"), ("b1", "dc2")),
    **node_kw: Any,
) -> SimCluster:
    """An empty cluster with the given ``(name, datacenter)`` nodes of the standard size."""
    cluster = SimCluster()
    cluster.max_blocking_wait_s = 5.0
    spec = {"cpu_mhz": NODE_CPU, "cores": 2, "memory_mb": NODE_MEM, "disk_mb": NODE_DISK}
    spec.update(node_kw)
    for i, (name, dc) in enumerate(nodes):
        cluster.add_node(name=name, datacenter=dc, address=f"10.0.0.{10 + i}", **spec)
    return cluster


def http(cluster: SimCluster) -> httpx.Client:
    return httpx.Client(transport=cluster.transport(), base_url="http://nomad")


def simple_job(
    job_id: str,
    *,
    count: int = 1,
    cpu: int = 100,
    memory_mb: int = 64,
    disk_mb: int = 300,
    job_type: str = "service",
    datacenters: list[str] | None = None,
    driver: str = "docker",
    meta: dict[str, str] | None = None,
    group_name: str = "g",
    task_name: str = "t",
    **kw: Any,
) -> dict[str, Any]:
    """A one-group, one-task jobspec."""
    return job_spec(
        job_id,
        [
            group(
                group_name,
                [task(task_name, driver=driver, cpu=cpu, memory_mb=memory_mb)],
                count=count,
                disk_mb=disk_mb,
                meta=meta,
                **kw,
            )
        ],
        job_type=job_type,
        datacenters=datacenters or ["dc1", "dc2"],
    )


def node_named(cluster: SimCluster, name: str) -> dict[str, Any]:
    return next(n for n in cluster.state.nodes.values() if n["Name"] == name)


def allocs_of(cluster: SimCluster, job_id: str, namespace: str = "default") -> list[dict[str, Any]]:
    return sorted(cluster.state.job_allocs(namespace, job_id), key=lambda a: a["CreateIndex"])


def evals_of(cluster: SimCluster, job_id: str, namespace: str = "default") -> list[dict[str, Any]]:
    return sorted(cluster.job_evals(namespace, job_id), key=lambda e: e["CreateIndex"])


@pytest.fixture
def cluster() -> SimCluster:
    """Three 1000 MHz / 1024 MB nodes: ``a1`` and ``a2`` in dc1, ``b1`` in dc2."""
    return new_cluster()


@pytest.fixture
def api(cluster: SimCluster) -> Iterator[httpx.Client]:
    with http(cluster) as client:
        yield client


@pytest.fixture
def make_cluster() -> Callable[..., SimCluster]:
    return new_cluster
