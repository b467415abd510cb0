"""The client against the simulator served with TLS: a TLS mistake says what to check and is
not retried (both look like "Server disconnected" from the request)."""

from __future__ import annotations

import pytest

import nomadlab.sim as sim
from nomadlab.client import NomadClient, RetryPolicy
from nomadlab.config import NomadConfig
from nomadlab.errors import NomadTLSError

from . import test_sim
from .conftest import FakeTime

# The served-TLS fixtures of test_sim (a trustme CA, its certificates, the cluster).
ca, tls_files, cluster = test_sim.ca, test_sim.tls_files, test_sim.cluster


@pytest.mark.wire
def test_mutual_tls_refused_names_the_client_certificate(cluster: sim.SimCluster, tls_files: dict[str, str],
                                                          fake_time: FakeTime) -> None:
    with cluster.serve(port=0, ssl_certfile=tls_files["server_cert"],
                       ssl_keyfile=tls_files["server_key"], ssl_ca_certs=tls_files["ca"]) as url:
        config = NomadConfig(address=url, ca_cert=tls_files["ca"])
        with NomadClient(config, sleep=fake_time.sleep, retry=RetryPolicy(attempts=3)) as client, \
                pytest.raises(NomadTLSError) as info:
            client.get("/v1/jobs")
    assert "NOMAD_CLIENT_CERT" in str(info.value) and "NOMAD_CLIENT_KEY" in str(info.value)
    assert fake_time.sleeps == []


@pytest.mark.wire
def test_http_to_a_tls_port_says_use_https(cluster: sim.SimCluster, tls_files: dict[str, str],
                                           fake_time: FakeTime) -> None:
    with cluster.serve(port=0, ssl_certfile=tls_files["server_cert"], ssl_keyfile=tls_files["server_key"]) as url:
        config = NomadConfig(address=url.replace("https://", "http://"))
        with NomadClient(config, sleep=fake_time.sleep, retry=RetryPolicy(attempts=3)) as client, \
                pytest.raises(NomadTLSError, match="https://"):
            client.get("/v1/jobs")
    assert fake_time.sleeps == []


@pytest.mark.wire
def test_a_served_plain_http_agent_still_answers(cluster: sim.SimCluster) -> None:
    with cluster.serve(port=0) as url, NomadClient(NomadConfig(address=url)) as client:
        assert client.get("/v1/jobs").body
