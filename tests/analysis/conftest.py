"""Small constructed frames for the analysis tests, typed by the frames' own schemas."""

from __future__ import annotations

from functools import cache
from typing import Any

import pandas as pd
import pytest

from nomadlab.client import NomadClient
from nomadlab.frames import schema

T0 = pd.Timestamp("2026-01-01T00:00:00Z")


def make(name: str, rows: list[dict[str, Any]]) -> pd.DataFrame:
    """Frame ``name`` from rows that give some of its columns (the others are missing)."""
    s = schema(name)
    unknown = {k for r in rows for k in r} - {c.name for c in s.columns}
    assert not unknown, f"{name} has no columns {unknown}"
    return s.build({c.name: [r.get(c.name) for r in rows] for c in s.columns})


def ns(t: pd.Timestamp) -> int:
    return int(t.value)


def node(node_id: str, *, dc: str = "dc1", pool: str = "default", cls: str = "general", status: str = "ready",
         eligibility: str = "eligible", drain: bool = False, cpu: int = 4000, mem: int = 8192, disk: int = 10_000,
         rcpu: int = 0, rmem: int = 0, rdisk: int = 0) -> dict[str, Any]:
    return {"node_id": node_id, "name": f"name-{node_id}", "datacenter": dc, "node_pool": pool, "node_class": cls,
            "status": status, "eligibility": eligibility, "drain": drain, "cpu_mhz": cpu, "memory_mb": mem,
            "disk_mb": disk, "reserved_cpu_mhz": rcpu, "reserved_memory_mb": rmem, "reserved_disk_mb": rdisk,
            "allocatable_cpu_mhz": cpu - rcpu, "allocatable_memory_mb": mem - rmem,
            "allocatable_disk_mb": disk - rdisk}


def alloc(alloc_id: str, node_id: str, *, job: str = "web", group: str = "web", ns_: str = "default",
          client: str = "running", desired: str = "run", cpu: int = 0, mem: int = 0, disk: int = 0,
          version: int = 0, created: pd.Timestamp = T0, modified: pd.Timestamp = T0,
          previous: str | None = None, description: str | None = None) -> dict[str, Any]:
    return {"alloc_id": alloc_id, "namespace": ns_, "job_id": job, "task_group": group, "node_id": node_id,
            "node_name": f"name-{node_id}", "name": f"{job}.{group}[0]", "client_status": client,
            "desired_status": desired, "cpu_mhz": cpu, "memory_mb": mem, "disk_mb": disk, "job_version": version,
            "create_time": ns(created), "modify_time": ns(modified), "previous_alloc": previous,
            "client_description": description, "eval_id": f"eval-{alloc_id}"}


@cache
def _demo_cluster_client() -> NomadClient:
    from nomadlab.sim.scenarios import build_scenario

    return NomadClient(transport=build_scenario("demo", seed=0).transport())


@pytest.fixture(scope="session")
def demo() -> NomadClient:
    """A client on the demo cluster (built once: tests here only read)."""
    return _demo_cluster_client()
