"""Fan-outs to a real agent are sent on ``http.client`` (``nomadlab._direct``): the same requests
as the ``httpx.Client`` path (URL, query, headers, token), the same answers and errors, over
plain HTTP and TLS, and never used where the client would not reach the agent directly."""

from __future__ import annotations

import base64
import gzip
import socket
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import orjson
import pytest

import nomadlab._direct as direct_module
import nomadlab.sim as sim
from nomadlab.client import NomadClient, RetryPolicy
from nomadlab.config import NomadConfig
from nomadlab.errors import NomadConnectError, NomadTimeoutError, NomadTLSError, NotFoundError

from . import test_sim

ca, tls_files, cluster = test_sim.ca, test_sim.tls_files, test_sim.cluster

TOKEN = "0b1c2d3e-4f50-6172-8394-a5b6c7d8e9f0"

pytestmark = pytest.mark.wire


class _Agent(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 128

    def __init__(self, answer: Callable[[BaseHTTPRequestHandler], tuple[int, dict[str, str], bytes] | None]) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.answer = answer
        self.seen: list[tuple[str, dict[str, str]]] = []
        self.connections = 0
        self.lock = threading.Lock()


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _Agent

    def setup(self) -> None:
        super().setup()
        with self.server.lock:
            self.server.connections += 1

    def do_GET(self) -> None:
        with self.server.lock:
            self.server.seen.append((self.path, {k.lower(): v for k, v in self.headers.items()}))
        answer = self.server.answer(self)
        if answer is None:
            self.close_connection = True
            return
        status, headers, body = answer
        head = f"HTTP/1.1 {status} X\r\nContent-Length: {len(body)}\r\n" + "".join(
            f"{k}: {v}\r\n" for k, v in headers.items()) + "\r\n"
        self.wfile.write(head.encode() + body)
        if headers.get("Connection") == "close" or getattr(self.server, "hang_up", False):
            self.close_connection = True

    def log_message(self, *args: Any) -> None:
        pass


@contextmanager
def _agent(answer: Callable[[BaseHTTPRequestHandler], tuple[int, dict[str, str], bytes] | None]
           ) -> Iterator[_Agent]:
    server = _Agent(answer)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()


def _stats(handler: BaseHTTPRequestHandler) -> tuple[int, dict[str, str], bytes]:
    alloc = handler.path.split("?")[0].split("/")[-2]
    if alloc.startswith("gone"):
        return 404, {"Content-Type": "text/plain"}, b"Unknown allocation"
    return 200, {"Content-Type": "application/json", "X-Nomad-Index": "7"}, orjson.dumps({"alloc": alloc})


def _paths(n: int) -> dict[str, str]:
    return {f"a{i}": f"/v1/client/allocation/a{i}/stats" for i in range(n)}


def test_same_requests_and_answers_as_the_httpx_path() -> None:
    with _agent(_stats) as agent:
        url = f"http://user:pa55@127.0.0.1:{agent.server_address[1]}"
        with NomadClient(NomadConfig(address=url, token=TOKEN, region="eu")) as client:
            one = client.get("/v1/client/allocation/a0/stats", params={"x": "1"}, namespace="web")
            both = {"a0": "/v1/client/allocation/a0/stats", "gone": "/v1/client/allocation/gone/stats"}
            result = client.fan_out(both, params={"x": "1"}, namespace="web", progress=False)
    (path0, headers0), (path1, headers1) = agent.seen[0], next(s for s in agent.seen[1:] if "/a0/" in s[0])
    assert path1 == path0 == "/v1/client/allocation/a0/stats?namespace=web&region=eu&x=1"
    assert headers1 == headers0  # Host, token, basic auth, Accept-Encoding, User-Agent ...
    assert headers0["x-nomad-token"] == TOKEN and headers0["authorization"].startswith("Basic ")
    assert result.replies["a0"].body == one.body == {"alloc": "a0"}
    assert result.replies["a0"].index == 7 and result.replies["a0"].url == one.url
    assert [(f.key, type(f.error)) for f in result.errors] == [("gone", NotFoundError)]


def test_many_gets_reuse_one_connection_per_worker(monkeypatch: pytest.MonkeyPatch) -> None:
    sent: list[str] = []
    real_send = direct_module.DirectSender.send

    def counting(self: direct_module.DirectSender, request: Any, **kwargs: Any) -> Any:
        sent.append(request.url.path)
        return real_send(self, request, **kwargs)

    monkeypatch.setattr(direct_module.DirectSender, "send", counting)
    with _agent(_stats) as agent, \
            NomadClient(NomadConfig(address=f"http://127.0.0.1:{agent.server_address[1]}")) as client:
        result = client.fan_out(_paths(300), max_workers=4, progress=False)
    assert result.ok and len(result.replies) == 300 and len(sent) == 300
    assert result.bodies()["a299"] == {"alloc": "a299"}
    assert agent.connections <= 4


def test_a_closed_kept_alive_connection_is_replaced_without_a_retry(caplog: pytest.LogCaptureFixture) -> None:
    with _agent(_stats) as agent:
        agent.hang_up = True  # type: ignore[attr-defined]  # close after each answer, unannounced
        with NomadClient(NomadConfig(address=f"http://127.0.0.1:{agent.server_address[1]}"),
                         retry=RetryPolicy(attempts=1)) as client:
            result = client.fan_out(_paths(40), max_workers=2, progress=False)
    assert result.ok and len(result.replies) == 40
    assert agent.connections >= 40 and "retrying" not in caplog.text


def test_gzip_answers_are_decoded() -> None:
    def gz(handler: BaseHTTPRequestHandler) -> tuple[int, dict[str, str], bytes]:
        status, headers, body = _stats(handler)
        assert "gzip" in (handler.headers.get("Accept-Encoding") or "")
        return status, {**headers, "Content-Encoding": "gzip", "Vary": "Accept-Encoding"}, gzip.compress(body)

    with _agent(gz) as agent, \
            NomadClient(NomadConfig(address=f"http://127.0.0.1:{agent.server_address[1]}")) as client:
        result = client.fan_out(_paths(5), progress=False)
    assert result.ok and result.bodies()["a3"] == {"alloc": "a3"}


def test_a_dropped_answer_is_retried_by_the_client_policy(caplog: pytest.LogCaptureFixture) -> None:
    calls: list[str] = []

    def flaky(handler: BaseHTTPRequestHandler) -> tuple[int, dict[str, str], bytes] | None:
        calls.append(handler.path)
        if calls.count(handler.path) == 1:
            return None  # hang up without an answer on a fresh connection
        return _stats(handler)

    with _agent(flaky) as agent, \
            NomadClient(NomadConfig(address=f"http://127.0.0.1:{agent.server_address[1]}"),
                        retry=RetryPolicy(attempts=3, backoff=0.0, max_backoff=0.0)) as client:
        result = client.fan_out(_paths(6), max_workers=2, progress=False)
    assert result.ok and len(result.replies) == 6
    assert sorted(calls) == sorted([*_paths(6).values()] * 2)
    assert "retrying GET" in caplog.text


def test_no_answer_is_a_timeout_and_a_closed_port_a_connect_error() -> None:
    never = threading.Event()

    def silent(handler: BaseHTTPRequestHandler) -> tuple[int, dict[str, str], bytes]:
        never.wait(5)
        return _stats(handler)

    with _agent(silent) as agent:
        config = NomadConfig(address=f"http://127.0.0.1:{agent.server_address[1]}", timeout=0.3)
        with NomadClient(config, retry=RetryPolicy(attempts=1)) as client:
            result = client.fan_out(_paths(2), progress=False)
        never.set()
    assert [type(f.error) for f in result.errors] == [NomadTimeoutError, NomadTimeoutError]
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with NomadClient(NomadConfig(address=f"http://127.0.0.1:{port}"), retry=RetryPolicy(attempts=1)) as client:
        result = client.fan_out(_paths(2), progress=False)
    assert {type(f.error) for f in result.errors} == {NomadConnectError}
    assert "127.0.0.1" in str(result.errors[0].error)


def test_tls_verified_with_the_client_context(cluster: sim.SimCluster, tls_files: dict[str, str]) -> None:
    alloc_ids = sorted(a for a, al in cluster.state.allocs.items() if al["ClientStatus"] == "running")[:5]
    paths = {a: f"/v1/client/allocation/{a}/stats" for a in alloc_ids}
    with cluster.serve(port=0, ssl_certfile=tls_files["server_cert"], ssl_keyfile=tls_files["server_key"]) as url:
        with NomadClient(NomadConfig(address=url, ca_cert=tls_files["ca"])) as client:
            result = client.fan_out(paths, progress=False)
            assert result.ok and set(result.bodies()) == set(alloc_ids)
            assert all("ResourceUsage" in body for body in result.bodies().values())
        with NomadClient(NomadConfig(address=url), retry=RetryPolicy(attempts=1)) as client:
            refused = client.fan_out(paths, progress=False)  # certifi's roots: not our CA
    assert len(refused.errors) == 5 and all(isinstance(f.error, NomadTLSError) for f in refused.errors)
    assert "NOMAD_CACERT" in str(refused.errors[0].error)


def test_tls_server_name_is_the_name_verified(cluster: sim.SimCluster, tls_files: dict[str, str]) -> None:
    alloc_id = next(a for a, al in cluster.state.allocs.items() if al["ClientStatus"] == "running")
    path = {alloc_id: f"/v1/client/allocation/{alloc_id}/stats"}
    with cluster.serve(port=0, ssl_certfile=tls_files["named_cert"], ssl_keyfile=tls_files["named_key"]) as url:
        named = NomadConfig(address=url, ca_cert=tls_files["ca"], tls_server_name="server.global.nomad")
        with NomadClient(named) as client:
            assert client.fan_out(path, progress=False).ok
        with NomadClient(NomadConfig(address=url, ca_cert=tls_files["ca"]), retry=RetryPolicy(attempts=1)) as client:
            wrong = client.fan_out(path, progress=False)
    assert [type(f.error) for f in wrong.errors] == [NomadTLSError]


def _no_direct(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    made: list[str] = []

    class Refused:
        def __init__(self, address: str, **kwargs: Any) -> None:
            made.append(address)
            raise AssertionError("DirectSender used")

    monkeypatch.setattr(direct_module, "DirectSender", Refused)
    return made


@pytest.mark.parametrize("variable", ["HTTP_PROXY", "https_proxy", "ALL_PROXY"])
def test_a_proxy_in_the_environment_keeps_the_httpx_path(monkeypatch: pytest.MonkeyPatch, variable: str) -> None:
    made = _no_direct(monkeypatch)
    with _agent(_stats) as agent:
        monkeypatch.setenv("NO_PROXY", "127.0.0.1")  # httpx itself then goes direct, as the agent is local
        monkeypatch.setenv(variable, "http://127.0.0.1:9")
        with NomadClient(NomadConfig(address=f"http://127.0.0.1:{agent.server_address[1]}")) as client:
            result = client.fan_out(_paths(3), progress=False)
    assert result.ok and made == []


def test_an_injected_transport_keeps_the_httpx_path(cluster: sim.SimCluster, monkeypatch: pytest.MonkeyPatch) -> None:
    made = _no_direct(monkeypatch)
    alloc_id = next(iter(cluster.state.allocs))
    with NomadClient(NomadConfig(), transport=cluster.transport()) as client:
        result = client.fan_out([f"/v1/client/allocation/{alloc_id}/stats"], progress=False)
    assert made == [] and len(result.replies) + len(result.errors) == 1


def test_only_whole_gets_are_sent() -> None:
    import httpx

    sender = direct_module.DirectSender("http://127.0.0.1:9")
    with pytest.raises(ValueError, match="only GET"):
        sender.send(httpx.Request("PUT", "http://127.0.0.1:9/v1/jobs"))
    with pytest.raises(ValueError, match="only GET"):
        sender.send(httpx.Request("GET", "http://127.0.0.1:9/v1/jobs"), stream=True)
    assert TOKEN not in repr(sender)


def test_no_secret_in_a_failed_fan_out_traceback_or_its_locals() -> None:
    import traceback

    def hang_up(handler: BaseHTTPRequestHandler) -> None:
        return None

    with _agent(hang_up) as agent:
        url = f"http://user:pa55word@127.0.0.1:{agent.server_address[1]}"
        with NomadClient(NomadConfig(address=url, token=TOKEN), retry=RetryPolicy(attempts=1)) as client:
            result = client.fan_out(_paths(1), progress=False)
    error = result.errors[0].error
    text = "".join(traceback.TracebackException.from_exception(error, capture_locals=True).format())
    assert "Server disconnected" in text and "_direct.py" in text
    header = base64.b64encode(b"user:pa55word").decode()
    assert TOKEN not in text and "pa55word" not in text and header not in text
