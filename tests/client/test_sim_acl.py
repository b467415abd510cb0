"""The client against the ACL-enabled simulator: real 403s with hints that say what to do."""

from __future__ import annotations

import httpx
import pytest

from nomadlab.client import NomadClient
from nomadlab.config import NomadConfig
from nomadlab.errors import PermissionDeniedError
from nomadlab.sim import SimCluster
from nomadlab.sim.scenarios import build_default


@pytest.fixture(scope="module")
def acl_sim() -> tuple[SimCluster, str, str]:
    cluster = SimCluster(acl=True, seed=2)
    build_default(cluster)
    mgmt = cluster.acl.bootstrap()["SecretID"]
    cluster.acl.upsert_policy("ro", 'namespace "default" { policy = "read" }\nnode { policy = "read" }')
    ro = cluster.acl.create_token(name="ro", policies=["ro"])["SecretID"]
    return cluster, mgmt, ro


def _client(cluster: SimCluster, token: str | None) -> NomadClient:
    return NomadClient(NomadConfig(token=token), transport=cluster.transport())


def test_no_token_403_says_to_set_nomad_token(acl_sim: tuple[SimCluster, str, str]) -> None:
    cluster, _, _ = acl_sim
    with _client(cluster, None) as c, pytest.raises(PermissionDeniedError) as exc:
        c.get("/v1/jobs")
    err = exc.value
    assert err.status == 403 and err.body == "Permission denied"
    assert "NOMAD_TOKEN" in err.hint


def test_missing_capability_names_it_and_the_namespace(acl_sim: tuple[SimCluster, str, str]) -> None:
    cluster, _, ro = acl_sim
    with _client(cluster, ro) as c:
        assert c.get("/v1/jobs").body  # read is allowed on default
        with pytest.raises(PermissionDeniedError) as exc:
            c.get("/v1/jobs", namespace="platform")
    err = exc.value
    assert "list-jobs" in err.hint and "platform" in err.hint
    assert ro not in str(err) and ro not in err.hint and ro not in repr(err)


def test_write_refused_for_read_token(acl_sim: tuple[SimCluster, str, str]) -> None:
    cluster, _, ro = acl_sim
    with _client(cluster, ro) as c, pytest.raises(PermissionDeniedError) as exc:
        c.delete("/v1/job/web")
    assert "submit-job" in exc.value.hint


def test_management_token_lists_every_namespace(acl_sim: tuple[SimCluster, str, str]) -> None:
    cluster, mgmt, ro = acl_sim
    with _client(cluster, mgmt) as c:
        all_jobs = c.get("/v1/jobs", namespace="*").body
    with _client(cluster, ro) as c:
        visible = c.get("/v1/jobs", namespace="*").body
    assert {j["Namespace"] for j in all_jobs} == {"default", "platform"}
    assert {j["Namespace"] for j in visible} == {"default"}


@pytest.mark.wire
def test_token_from_environment_over_the_wire(acl_sim: tuple[SimCluster, str, str],
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    cluster, _, ro = acl_sim
    with cluster.serve(port=0) as url:
        monkeypatch.setenv("NOMAD_ADDR", url)
        monkeypatch.setenv("NOMAD_TOKEN", ro)
        with NomadClient() as c:
            nodes = c.get("/v1/nodes").body
        assert nodes and httpx.get(url + "/v1/nodes").status_code == 403
