"""The client against the simulator: in-process (its httpx transport) and over a socket,
with plain HTTP, TLS and mutual TLS (certificates made by trustme at test time)."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path

import pytest
import trustme

import nomadlab.sim as sim
from nomadlab.client import NomadClient, RetryPolicy
from nomadlab.config import NomadConfig
from nomadlab.errors import (
    NomadTLSError,
    NomadTransportError,
    NotFoundError,
)

from .conftest import TOKEN, FakeTime


@pytest.fixture
def cluster() -> sim.SimCluster:
    return sim.SimCluster.default(seed=0)


@pytest.fixture
def client(cluster: sim.SimCluster, fake_time: FakeTime) -> Iterator[NomadClient]:
    with NomadClient(NomadConfig(token=TOKEN), transport=cluster.transport(),
                     sleep=fake_time.sleep, clock=fake_time.clock) as c:
        yield c


# -- in-process -----------------------------------------------------------------------------------


def test_list_and_read(client: NomadClient) -> None:
    jobs = client.get("/v1/jobs")
    assert jobs.body and jobs.index and jobs.meta.known_leader is True
    job_id = jobs.body[0]["ID"]
    assert client.get(f"/v1/job/{job_id}").body["ID"] == job_id


def test_all_namespaces(client: NomadClient) -> None:
    everywhere = client.get("/v1/jobs", namespace="*").body
    default = client.get("/v1/jobs").body
    assert len(everywhere) >= len(default) > 0


def test_paging_matches_unpaged(client: NomadClient) -> None:
    pages = list(client.pages("/v1/allocations", per_page=2))
    assert len(pages) > 1 and all(p.meta.next_token for p in pages[:-1])
    paged = [a["ID"] for p in pages for a in p.body]
    assert paged == [a["ID"] for a in client.get("/v1/allocations").body]
    assert [a["ID"] for a in client.get_all("/v1/allocations", per_page=3).body] == paged


def test_filter_passes_through(client: NomadClient) -> None:
    services = client.get_all("/v1/jobs", filter='Type == "service"', per_page=1).body
    everything = client.get("/v1/jobs").body
    assert services and {j["Type"] for j in services} == {"service"}
    assert len(services) < len(everything)


def test_not_found(client: NomadClient) -> None:
    with pytest.raises(NotFoundError) as info:
        client.get("/v1/job/no-such-job")
    assert info.value.body == "job not found"


def test_watch_yields_when_index_moves(client: NomadClient) -> None:
    watch = client.watch("/v1/nodes", wait=30)
    first = next(watch)
    node_id = first.body[0]["ID"]
    client.post(f"/v1/node/{node_id}/eligibility", {"Eligibility": "ineligible",
                                                    "NodeID": node_id})
    second = next(watch)  # the index has already moved, so the blocking query returns at once
    watch.close()
    assert second.index is not None and first.index is not None
    assert second.index > first.index
    changed = {n["ID"]: n for n in second.body}[node_id]
    assert changed["SchedulingEligibility"] == "ineligible"


def test_fan_out_partial_results(client: NomadClient) -> None:
    allocs = [a["ID"] for a in client.get("/v1/allocations").body]
    requests = {a: f"/v1/allocation/{a}" for a in allocs}
    requests["gone"] = "/v1/allocation/00000000-0000-0000-0000-000000000000"
    result = client.fan_out(requests, max_workers=4, progress=False)
    assert set(result.replies) == set(allocs)
    assert [(f.key, type(f.error)) for f in result.errors] == [("gone", NotFoundError)]
    assert all(result.bodies()[a]["ID"] == a for a in allocs)


# -- over a socket ----------------------------------------------------------------------------


@pytest.mark.wire
def test_client_from_environment_alone(cluster: sim.SimCluster,
                                       monkeypatch: pytest.MonkeyPatch,
                                       caplog: pytest.LogCaptureFixture) -> None:
    with cluster.serve(port=0) as url:
        monkeypatch.setenv("NOMAD_ADDR", url)
        monkeypatch.setenv("NOMAD_TOKEN", TOKEN)
        with caplog.at_level(logging.DEBUG), NomadClient() as client:
            assert client.config.address == url
            reply = client.get("/v1/jobs")
            with pytest.raises(NotFoundError):
                client.get("/v1/job/no-such-job")
    assert reply.body and reply.index
    assert caplog.records  # httpx/httpcore/nomadlab debug records were captured
    for record in caplog.records:
        assert TOKEN not in record.getMessage()


@pytest.mark.wire
def test_connection_refused_is_wrapped(fake_time: FakeTime) -> None:
    with NomadClient(NomadConfig(address="http://127.0.0.1:9"), sleep=fake_time.sleep,
                     retry=RetryPolicy(attempts=2)) as client, \
            pytest.raises(NomadTransportError, match="is the Nomad agent running"):
        client.get("/v1/jobs")
    assert len(fake_time.sleeps) == 1


@pytest.fixture(scope="module")
def ca() -> trustme.CA:
    return trustme.CA()


@pytest.fixture(scope="module")
def tls_files(ca: trustme.CA, tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    d = tmp_path_factory.mktemp("tls")
    server = ca.issue_cert("127.0.0.1", "localhost")
    named = ca.issue_cert("server.global.nomad")
    client = ca.issue_cert("cli.global.nomad")
    paths = {
        "ca": d / "ca.pem", "server_cert": d / "server.pem", "server_key": d / "server-key.pem",
        "named_cert": d / "named.pem", "named_key": d / "named-key.pem",
        "client_cert": d / "client.pem", "client_key": d / "client-key.pem",
    }
    ca.cert_pem.write_to_path(str(paths["ca"]))
    server.cert_chain_pems[0].write_to_path(str(paths["server_cert"]))
    server.private_key_pem.write_to_path(str(paths["server_key"]))
    named.cert_chain_pems[0].write_to_path(str(paths["named_cert"]))
    named.private_key_pem.write_to_path(str(paths["named_key"]))
    client.cert_chain_pems[0].write_to_path(str(paths["client_cert"]))
    client.private_key_pem.write_to_path(str(paths["client_key"]))
    return {k: str(v) for k, v in paths.items()}


@pytest.mark.wire
def test_tls_verified_with_nomad_cacert(cluster: sim.SimCluster, tls_files: dict[str, str],
                                        monkeypatch: pytest.MonkeyPatch,
                                        fake_time: FakeTime) -> None:
    with cluster.serve(port=0, ssl_certfile=tls_files["server_cert"],
                       ssl_keyfile=tls_files["server_key"]) as url:
        assert url.startswith("https://")
        monkeypatch.setenv("NOMAD_ADDR", url)
        # Verified by default: the test CA is not trusted, so the handshake fails.
        with NomadClient(sleep=fake_time.sleep) as client, pytest.raises(NomadTLSError):
            client.get("/v1/jobs")
        monkeypatch.setenv("NOMAD_CACERT", tls_files["ca"])
        with NomadClient() as client:
            assert client.get("/v1/jobs").body
    assert fake_time.sleeps == []  # a TLS failure is not retried


@pytest.mark.wire
def test_skip_verify(cluster: sim.SimCluster, tls_files: dict[str, str],
                     monkeypatch: pytest.MonkeyPatch) -> None:
    with cluster.serve(port=0, ssl_certfile=tls_files["server_cert"],
                       ssl_keyfile=tls_files["server_key"]) as url:
        monkeypatch.setenv("NOMAD_ADDR", url)
        monkeypatch.setenv("NOMAD_SKIP_VERIFY", "true")
        with NomadClient() as client:
            assert client.get("/v1/jobs").body


@pytest.mark.wire
def test_tls_server_name(cluster: sim.SimCluster, tls_files: dict[str, str],
                         monkeypatch: pytest.MonkeyPatch, fake_time: FakeTime) -> None:
    # The certificate names only server.global.nomad, as Nomad's own certificates do.
    with cluster.serve(port=0, ssl_certfile=tls_files["named_cert"],
                       ssl_keyfile=tls_files["named_key"]) as url:
        monkeypatch.setenv("NOMAD_ADDR", url)
        monkeypatch.setenv("NOMAD_CACERT", tls_files["ca"])
        with NomadClient(sleep=fake_time.sleep) as client, pytest.raises(NomadTLSError):
            client.get("/v1/jobs")
        monkeypatch.setenv("NOMAD_TLS_SERVER_NAME", "server.global.nomad")
        with NomadClient() as client:
            assert client.get("/v1/jobs").body


@pytest.mark.wire
def test_mutual_tls(cluster: sim.SimCluster, tls_files: dict[str, str],
                    monkeypatch: pytest.MonkeyPatch, fake_time: FakeTime) -> None:
    with cluster.serve(port=0, ssl_certfile=tls_files["server_cert"],
                       ssl_keyfile=tls_files["server_key"], ssl_ca_certs=tls_files["ca"]) as url:
        monkeypatch.setenv("NOMAD_ADDR", url)
        monkeypatch.setenv("NOMAD_CACERT", tls_files["ca"])
        with NomadClient(sleep=fake_time.sleep, retry=RetryPolicy(attempts=2)) as client, \
                pytest.raises(NomadTransportError):
            client.get("/v1/jobs")  # no client certificate: the server refuses
        monkeypatch.setenv("NOMAD_CLIENT_CERT", tls_files["client_cert"])
        monkeypatch.setenv("NOMAD_CLIENT_KEY", tls_files["client_key"])
        with NomadClient() as client:
            assert client.get("/v1/jobs").body


def test_tls_files_exist(tls_files: dict[str, str]) -> None:
    assert all(Path(p).is_file() for p in tls_files.values())
