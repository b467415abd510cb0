"""Fixtures for the action tests: a settled simulated cluster, a client, a private audit log."""

from __future__ import annotations

from pathlib import Path

import pytest

from nomadlab.client import NomadClient
from nomadlab.config import NomadConfig
from nomadlab.sim import SimCluster


@pytest.fixture(autouse=True)
def audit_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = tmp_path / "audit.jsonl"
    monkeypatch.setenv("NOMADLAB_AUDIT_LOG", str(path))
    return path


@pytest.fixture
def cluster() -> SimCluster:
    c = SimCluster.default(seed=1)
    c.run_until_idle(600)
    return c


@pytest.fixture
def client(cluster: SimCluster) -> NomadClient:
    return NomadClient(NomadConfig(), transport=cluster.transport(), sleep=lambda s: None)


def running(cluster: SimCluster, job: str, namespace: str = "default") -> list[dict[str, object]]:
    """The job's allocations that are meant to run and do."""
    with cluster.state.lock:
        return [a for a in cluster.state.job_allocs(namespace, job)
                if a["DesiredStatus"] == "run" and a["ClientStatus"] == "running"]
