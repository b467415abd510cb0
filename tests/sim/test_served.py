"""The simulator on a real socket: the ASGI adapter, uvicorn, and the ``nomadlab sim`` command."""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator

import httpx
import pytest

from nomadlab.sim import SimCluster
from nomadlab.sim.scenarios import group, job_spec, task

pytestmark = pytest.mark.wire


@pytest.fixture(scope="module")
def served() -> Iterator[tuple[SimCluster, str]]:
    cluster = SimCluster.default(seed=3)
    cluster.max_blocking_wait_s = 5.0
    with cluster.serve(port=0) as url:
        yield cluster, url


def test_in_process_and_served_answer_alike(served: tuple[SimCluster, str]) -> None:
    cluster, url = served
    local = httpx.Client(transport=cluster.transport(), base_url="http://nomad")
    for path, params in [
        ("/v1/jobs", {"namespace": "*"}),
        ("/v1/nodes", {}),
        ("/v1/allocations", {"namespace": "*"}),
        ("/v1/evaluations", {"namespace": "*"}),
        ("/v1/job/web", {}),
    ]:
        a = local.get(path, params=params)
        b = httpx.get(url + path, params=params)
        assert a.status_code == b.status_code == 200, path
        assert a.headers["x-nomad-index"] == b.headers["x-nomad-index"], path
        assert a.json() == b.json(), path
        assert b.headers["content-type"] == "application/json"


def test_served_error_is_plain_text(served: tuple[SimCluster, str]) -> None:
    _, url = served
    r = httpx.get(url + "/v1/job/nope")
    assert r.status_code == 404
    assert r.text == "job not found"
    assert r.headers["content-type"].startswith("text/plain")


def test_served_unknown_route_is_empty_404(served: tuple[SimCluster, str]) -> None:
    _, url = served
    r = httpx.get(url + "/v1/no-such-thing")
    assert r.status_code == 404
    assert r.content == b""


def test_served_blocking_query_released_by_write_from_another_thread(
    served: tuple[SimCluster, str],
) -> None:
    cluster, url = served
    index = int(httpx.get(url + "/v1/jobs").headers["x-nomad-index"])
    result: dict[str, httpx.Response] = {}

    def blocked_read() -> None:
        result["r"] = httpx.get(url + "/v1/jobs", params={"index": index, "wait": "4s"}, timeout=30)

    reader = threading.Thread(target=blocked_read)
    reader.start()
    time.sleep(0.3)
    assert reader.is_alive(), "the read should still be waiting for a change"
    httpx.put(
        url + "/v1/jobs",
        json={"Job": job_spec("wire-write", [group("g", [task("t", cpu=50, memory_mb=32)])])},
    ).raise_for_status()
    reader.join(timeout=30)
    r = result["r"]
    assert r.status_code == 200
    assert int(r.headers["x-nomad-index"]) > index
    assert "wire-write" in {j["ID"] for j in r.json()}


def test_served_write_and_read_back(served: tuple[SimCluster, str]) -> None:
    _, url = served
    spec = job_spec("wire-roundtrip", [group("g", [task("t", cpu=50, memory_mb=32)], count=2)])
    reply = httpx.post(url + "/v1/jobs", json={"Job": spec})
    assert reply.status_code == 200
    body = reply.json()
    assert body["EvalID"] and body["JobModifyIndex"] > 0
    job = httpx.get(url + "/v1/job/wire-roundtrip").json()
    assert job["TaskGroups"][0]["Count"] == 2
    allocs = httpx.get(url + "/v1/job/wire-roundtrip/allocations").json()
    assert len(allocs) == 2


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextlib.contextmanager
def _nomadlab_sim(*args: str) -> Iterator[str]:
    """``nomadlab sim --port P *args`` in a subprocess (no NOMAD_* variables), its URL once it
    answers; terminated afterwards."""
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("NOMAD_")}
    proc = subprocess.Popen([sys.executable, "-m", "nomadlab.cli", "sim", "--host", "127.0.0.1", "--port", str(port),
                             *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)
    try:
        url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 60
        while True:
            try:
                httpx.get(url + "/v1/status/leader", timeout=2)
                break
            except httpx.TransportError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    _, err = proc.communicate(timeout=5)
                    pytest.fail(f"nomadlab sim did not serve: rc={proc.returncode} {err.decode()[-2000:]}")
                time.sleep(0.2)
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def test_nomadlab_sim_command_serves() -> None:
    """``nomadlab sim --port P`` serves; /v1/jobs is an array with X-Nomad-Index; unknown job 404."""
    with _nomadlab_sim() as url:
        r = httpx.get(url + "/v1/jobs", timeout=5)
        assert r.status_code == 200
        assert isinstance(r.json(), list) and r.json()
        assert int(r.headers["X-Nomad-Index"]) > 0
        nope = httpx.get(url + "/v1/job/nope", timeout=5)
        assert (nope.status_code, nope.text) == (404, "job not found")


def test_nomadlab_sim_rejects_half_tls_config() -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "nomadlab.cli", "sim", "--tls-cert", "x.pem"],
        capture_output=True, text=True, timeout=60,
    )
    assert proc.returncode == 2
    assert "--tls-cert and --tls-key go together" in proc.stderr


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_ctrl_c_on_nomadlab_sim_with_open_streams_is_quiet() -> None:
    import signal

    port = _free_port()
    proc = subprocess.Popen(
        [sys.executable, "-c", "import sys; from nomadlab.cli import main; sys.exit(main())",
         "sim", "--port", str(port), "--log-level", "warning"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE,
    )
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                httpx.get(f"http://127.0.0.1:{port}/v1/status/leader", timeout=1)
                break
            except httpx.TransportError:
                assert proc.poll() is None and time.monotonic() < deadline, "the simulator did not start"
                time.sleep(0.1)
        client = httpx.Client(timeout=30)
        streams = []
        for params in ({}, {"topic": "Node"}):
            r = client.send(client.build_request("GET", f"http://127.0.0.1:{port}/v1/event/stream",
                                                 params=params), stream=True)
            assert next(r.iter_bytes()).startswith(b"{}")
            streams.append(r)
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    text = err.decode()
    assert proc.returncode == 0, text
    assert "Traceback" not in text and "KeyboardInterrupt" not in text and "ERROR" not in text, text


def test_closing_a_served_cluster_with_open_streams_is_quiet(capfd: pytest.CaptureFixture[str]) -> None:
    c = SimCluster.default(seed=1)
    with c.serve(port=0) as url:
        client = httpx.Client(timeout=30)
        r = client.send(client.build_request("GET", f"{url}/v1/event/stream"), stream=True)
        chunks = r.iter_bytes()
        assert next(chunks).startswith(b"{}")
        started = time.monotonic()
    assert time.monotonic() - started < 4.0, "shutdown ended the stream instead of waiting it out"
    b"".join(chunks)  # the stream ended with its terminating chunk: no RemoteProtocolError
    out, err = capfd.readouterr()
    assert "Traceback" not in err and "ERROR" not in err and "Cancel" not in err, err


def test_nomadlab_sim_serves_the_dev_agent_with_its_node_name() -> None:
    """``nomadlab sim --scenario dev --node-name laptop``: one ready node of that name, no jobs,
    as ``nomad agent -dev -node laptop`` starts."""
    with _nomadlab_sim("--scenario", "dev", "--node-name", "laptop") as url:
        nodes = httpx.get(url + "/v1/nodes", timeout=5).json()
        assert [(n["Name"], n["Status"], n["Datacenter"]) for n in nodes] == [("laptop", "ready", "dc1")]
        assert httpx.get(url + "/v1/jobs", timeout=5).json() == []
