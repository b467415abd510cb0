"""Fixtures for the widget tests: a settled simulated cluster, a client counting its requests."""

from __future__ import annotations

import threading

import httpx
import pytest

from nomadlab.client import NomadClient
from nomadlab.config import NomadConfig
from nomadlab.sim import SimCluster
from tests.actions.conftest import audit_path as audit_path  # noqa: F401  (autouse: the audit log in tmp)
from tests.actions.conftest import cluster as cluster  # noqa: F401


class CountingTransport(httpx.BaseTransport):
    """Passes requests to the simulator and records each one's method and path."""

    def __init__(self, inner: httpx.BaseTransport) -> None:
        self.inner = inner
        self.seen: list[tuple[str, str, str]] = []
        self._lock = threading.Lock()

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        with self._lock:
            self.seen.append((request.method, request.url.path, request.url.query.decode()))
        return self.inner.handle_request(request)

    def count(self, method: str | None = None) -> int:
        with self._lock:
            return sum(1 for m, _, _ in self.seen if method is None or m == method)

    def writes(self) -> list[tuple[str, str, str]]:
        with self._lock:
            return [s for s in self.seen if s[0] != "GET"]


@pytest.fixture
def counting(cluster: SimCluster) -> CountingTransport:
    return CountingTransport(cluster.transport())


@pytest.fixture
def client(counting: CountingTransport) -> NomadClient:
    return NomadClient(NomadConfig(), transport=counting, sleep=lambda s: None)
