"""Empty frames that may only mean the token can read nothing say so, once per client."""

from __future__ import annotations

import warnings

import httpx
import pytest

import nomadlab.frames as frames
from nomadlab.client import NomadClient
from nomadlab.config import NomadConfig
from nomadlab.errors import NomadAccessWarning, PermissionDeniedError
from nomadlab.sim import SimCluster
from nomadlab.sim.scenarios import build_default


@pytest.fixture(scope="module")
def acl_sim() -> tuple[SimCluster, str, str]:
    cluster = SimCluster(acl=True, seed=2)
    build_default(cluster)
    mgmt = cluster.acl.bootstrap()["SecretID"]
    # reads namespaces that do not exist: Nomad answers namespace=* lists with 200 and nothing
    cluster.acl.upsert_policy("nodes-only", 'node { policy = "read" }\nnamespace "ghost-*" { policy = "read" }')
    blind = cluster.acl.create_token(name="nodes-only", policies=["nodes-only"])["SecretID"]
    return cluster, mgmt, blind


class Counting(httpx.BaseTransport):
    def __init__(self, inner: httpx.BaseTransport) -> None:
        self.inner, self.paths = inner, []  # type: ignore[var-annotated]

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        self.paths.append(request.url.path)
        return self.inner.handle_request(request)


def _frames_warnings(client: NomadClient) -> list[str]:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        for name in ("jobs", "allocations", "evaluations", "deployments"):
            assert getattr(frames, name)(client).empty
    return [str(w.message) for w in caught if issubclass(w.category, NomadAccessWarning)]


def test_anonymous_on_an_acl_cluster_is_refused_with_what_to_set(acl_sim: tuple[SimCluster, str, str]) -> None:
    # Nomad refuses namespace=* outright when no rule allows the capability: not a silent empty list
    cluster, _, _ = acl_sim
    client = NomadClient(NomadConfig(), transport=cluster.transport())
    with pytest.raises(PermissionDeniedError, match="NOMAD_TOKEN"):
        frames.jobs(client)


def test_empty_frames_warn_once_checked(acl_sim: tuple[SimCluster, str, str]) -> None:
    cluster, _, blind = acl_sim
    transport = Counting(cluster.transport())
    client = NomadClient(NomadConfig(token=blind), transport=transport)
    got = _frames_warnings(client)
    assert len(got) == 4
    assert transport.paths.count("/v1/acl/token/self") == 1


def test_token_that_reads_no_namespace_warns_without_its_secret(acl_sim: tuple[SimCluster, str, str]) -> None:
    cluster, _, blind = acl_sim
    client = NomadClient(NomadConfig(token=blind), transport=cluster.transport())
    got = _frames_warnings(client)
    assert got and all("no namespace" in m and "nodes-only" in m for m in got)
    assert not any(blind in m for m in got)


def test_management_token_sees_rows_and_no_warning(acl_sim: tuple[SimCluster, str, str]) -> None:
    cluster, mgmt, _ = acl_sim
    client = NomadClient(NomadConfig(token=mgmt), transport=cluster.transport())
    with warnings.catch_warnings():
        warnings.simplefilter("error", NomadAccessWarning)
        assert not frames.jobs(client).empty


def test_no_acl_cluster_with_an_empty_namespace_does_not_warn() -> None:
    client = NomadClient(NomadConfig(), transport=SimCluster(seed=0).transport())
    with warnings.catch_warnings():
        warnings.simplefilter("error", NomadAccessWarning)
        assert frames.jobs(client).empty


@pytest.mark.parametrize("name", ["task_groups", "job_versions"])
def test_job_filter_naming_no_job_warns(name: str) -> None:
    client = NomadClient(NomadConfig(), transport=SimCluster.default(seed=0).transport())
    with pytest.warns(NomadAccessWarning, match="'no-such-job'"):
        df = getattr(frames, name)(client, job=["web", "no-such-job"])
    assert set(df["job_id"]) == {"web"}
    with warnings.catch_warnings():
        warnings.simplefilter("error", NomadAccessWarning)
        getattr(frames, name)(client, job="web")
