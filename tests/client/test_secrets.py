"""No secret (ACL token, basic-auth password) in any message the project controls.

A recognisable token and password go through every path that prints: configuration errors,
``repr``/``str`` of the config and client, exceptions from refused and failed requests (with
their tracebacks), debug logs and warnings. None may show them.
"""

from __future__ import annotations

import logging
import traceback
import warnings

import httpx
import pytest

from nomadlab.client import NomadClient
from nomadlab.config import NomadConfig
from nomadlab.errors import NomadConfigError, NomadError
from nomadlab.sim import SimCluster
from nomadlab.sim.scenarios import build_default

TOKEN = "5ec7e7-70ce-4a11-beef-c0ffee5ec7e7"
PASSWORD = "pa55-W0RD-hunter2"


def _leaks(text: str) -> list[str]:
    return [secret for secret in (TOKEN, PASSWORD, "hunter2", "5ec7e7") if secret in text]


def _everything(exc: BaseException) -> str:
    return "".join(traceback.format_exception(exc)) + repr(exc) + str(exc)


@pytest.mark.parametrize("bad", [TOKEN + "\n" + TOKEN, TOKEN + "\x00", TOKEN[:8] + "\r\nX-Evil: 1" + TOKEN[8:],
                                 TOKEN + "é"])
def test_token_with_a_control_character_is_refused_at_configuration(bad: str) -> None:
    with pytest.raises(NomadConfigError) as exc:
        NomadConfig(token=bad)
    assert "NOMAD_TOKEN" in str(exc.value)
    assert _leaks(_everything(exc.value)) == []


def test_token_with_a_control_character_from_the_environment_is_refused() -> None:
    with pytest.raises(NomadConfigError) as exc:
        NomadConfig.from_env(environ={"NOMAD_TOKEN": TOKEN + "\x07"})
    assert _leaks(_everything(exc.value)) == []


def test_a_bad_token_is_never_sent_nor_retried() -> None:
    """The request cannot succeed: it is refused before any is made."""
    calls: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        calls.append(request)
        return httpx.Response(200, json=[])

    with pytest.raises(NomadConfigError):
        NomadClient(NomadConfig(token=TOKEN + "\nX"), transport=httpx.MockTransport(handler)).get("/v1/jobs")
    assert calls == []


@pytest.mark.parametrize("address", [
    f"http://admin:{PASSWORD}@:4646",
    f"http://admin:{PASSWORD}@nomad.example:99999",
    f"http://admin:{PASSWORD}@nomad.example:port",
    f"ftp://admin:{PASSWORD}@nomad.example:4646",
])
def test_password_in_address_never_shows_in_configuration_errors(address: str) -> None:
    with pytest.raises(NomadConfigError) as exc:
        NomadConfig(address=address)
    assert _leaks(_everything(exc.value)) == []


@pytest.mark.parametrize(("address", "says"), [
    ("http://127.0.0.1:99999", "1 to 65535"),
    ("http://127.0.0.1:46x6", "1 to 65535"),
    ("http://127.0.0.1:-1", "1 to 65535"),
    ("http://127.0.0.1:0", "4646"),
])
def test_bad_port_is_a_config_error_that_says_what_to_fix(address: str, says: str) -> None:
    with pytest.raises(NomadConfigError) as exc:
        NomadConfig(address=address)
    assert "NOMAD_ADDR" in str(exc.value) and says in str(exc.value)


def test_password_with_a_control_character_is_refused_without_showing_it() -> None:
    with pytest.raises(NomadConfigError) as exc:
        NomadConfig(http_auth=("admin", PASSWORD + "\n"))
    assert "NOMAD_HTTP_AUTH" in str(exc.value)
    assert _leaks(_everything(exc.value)) == []


def test_no_secret_in_reprs_errors_logs_or_warnings(caplog: pytest.LogCaptureFixture) -> None:
    cluster = SimCluster(acl=True, seed=2)
    build_default(cluster)
    cluster.acl.bootstrap()
    config = NomadConfig(address=f"http://admin:{PASSWORD}@127.0.0.1:4646", token=TOKEN)
    printed = [repr(config), str(config)]
    caplog.set_level(logging.DEBUG)
    raised: list[BaseException] = []
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        with NomadClient(config, transport=cluster.transport()) as client:
            printed.append(repr(client))
            for path in ("/v1/jobs", "/v1/job/nope", "/v1/acl/token/self", "/v1/nodes"):
                try:
                    client.get(path)
                except NomadError as exc:
                    raised.append(exc)
    assert raised, "the anonymous-grade token was refused somewhere"
    texts = printed + [_everything(e) for e in raised] + [r.getMessage() for r in caplog.records]
    texts += [str(w.message) for w in caught]
    assert [(t, _leaks(t)) for t in texts if _leaks(t)] == []
