"""TLS mistakes say what to check and are not retried; skipping verification warns once."""

from __future__ import annotations

import warnings
from collections.abc import Callable

import httpx
import pytest

from nomadlab import client as client_module
from nomadlab.client import NomadClient, RetryPolicy
from nomadlab.config import NomadConfig
from nomadlab.errors import BadRequestError, NomadInsecureWarning, NomadTLSError, wrap_transport_error

from .conftest import Recorder, nomad_error

MakeClient = Callable[..., tuple[NomadClient, Recorder]]


@pytest.mark.parametrize("message", [
    r"illegal status line: bytearray(b'\x15\x03\x01\x00\x02\x02P')",   # h11's report of an alert record
    "illegal status line: \x15\x03\x03\x00\x02\x02(",
])
def test_http_to_a_tls_port_says_use_https(message: str) -> None:
    err = wrap_transport_error(httpx.RemoteProtocolError(message), method="GET", url="http://nomad:4646/v1/jobs")
    assert isinstance(err, NomadTLSError) and "https://" in str(err)
    assert RetryPolicy().should_retry(err, "GET") is False


def test_a_plain_disconnect_is_not_called_a_tls_error() -> None:
    err = wrap_transport_error(httpx.RemoteProtocolError("Server disconnected without sending a response."),
                               method="GET", url="http://nomad:4646/v1/jobs")
    assert not isinstance(err, NomadTLSError)


def test_go_agents_plain_http_answer_hints_at_https(make_client: MakeClient) -> None:
    """Go's TLS server answers plain HTTP with this 400 (crypto/tls, net/http)."""
    client, recorder = make_client([nomad_error(400, "Client sent an HTTP request to an HTTPS server.\n")] * 2)
    with pytest.raises(BadRequestError) as info:
        client.get("/v1/jobs")
    assert "https://" in info.value.hint and len(recorder.requests) == 1


def test_skip_verify_warns_once_per_address(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(client_module, "_WARNED_INSECURE", set())
    config = NomadConfig(address="https://nomad.example:4646", skip_verify=True)
    with pytest.warns(NomadInsecureWarning, match="verification is off"):
        NomadClient(config).close()
    with warnings.catch_warnings():
        warnings.simplefilter("error", NomadInsecureWarning)
        NomadClient(config).close()
        NomadClient(NomadConfig(address="https://nomad.example:4646")).close()
