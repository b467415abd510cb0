"""``/v1/agent/servers``, ``join``, ``force-leave``, ``monitor`` and ``/v1/var/:path``."""

from __future__ import annotations

import base64
import json
import re
import threading
import time
from collections.abc import Callable

import httpx
import pytest

from nomadlab.sim import SimCluster
from nomadlab.sim.scenarios import group, job_spec, task
from tests.conftest import SAMPLES_DIR


@pytest.fixture
def world() -> tuple[SimCluster, httpx.Client, dict[str, dict[str, str]]]:
    c = SimCluster(seed=2, acl=True)
    c.max_blocking_wait_s = 0.3
    http = httpx.Client(transport=c.transport(), base_url="http://nomad")
    tokens = {"anon": {}, "mgmt": {"X-Nomad-Token": c.acl.bootstrap()["SecretID"]}}
    for level in ("read", "write"):
        c.acl.upsert_policy(f"agent-{level}", f'agent {{ policy = "{level}" }}')
        secret = c.acl.create_token(name=level, policies=[f"agent-{level}"])["SecretID"]
        tokens[level] = {"X-Nomad-Token": secret}
    return c, http, tokens


def test_servers_list_matches_the_sample(world: tuple[SimCluster, httpx.Client, dict[str, dict[str, str]]]) -> None:
    _, http, tokens = world
    import json

    sample = json.loads((SAMPLES_DIR / "GET_v1_agent_servers.json").read_text())
    r = http.get("/v1/agent/servers", headers=tokens["read"])
    assert (r.status_code, r.json()) == (200, sample)
    assert (http.get("/v1/agent/servers").status_code, http.get("/v1/agent/servers").text) == (
        403, "Permission denied")
    assert http.delete("/v1/agent/servers", headers=tokens["mgmt"]).text == "Invalid method"


def test_set_servers(world: tuple[SimCluster, httpx.Client, dict[str, dict[str, str]]]) -> None:
    _, http, tokens = world
    r = http.put("/v1/agent/servers", headers=tokens["anon"])
    assert (r.status_code, r.text) == (400, "missing server address")  # before the token check
    r = http.put("/v1/agent/servers", params={"address": "127.0.0.1:4647"}, headers=tokens["read"])
    assert (r.status_code, r.text) == (403, "Permission denied")
    r = http.put("/v1/agent/servers", params={"address": ["10.9.9.9", "127.0.0.1"]}, headers=tokens["write"])
    assert (r.status_code, r.text) == (200, "")
    r = http.post("/v1/agent/servers", params={"address": "10.9.9.9"}, headers=tokens["write"])
    assert r.status_code == 400
    assert r.text == ("1 error occurred:\n\t* Server at address 10.9.9.9:4647 failed ping: "
                      "dial tcp 10.9.9.9:4647: connect: connection refused\n\n")
    assert http.get("/v1/agent/servers", headers=tokens["read"]).json() == ["127.0.0.1:4647"]


def test_join(world: tuple[SimCluster, httpx.Client, dict[str, dict[str, str]]]) -> None:
    _, http, tokens = world
    r = http.put("/v1/agent/join", params={"address": "127.0.0.1"}, headers=tokens["write"])
    assert r.json() == {"num_joined": 1, "error": "", "warning": ""}
    r = http.post("/v1/agent/join", params={"address": ["127.0.0.1:4648", "10.0.0.2"]})
    body = r.json()
    assert r.status_code == 200 and body["num_joined"] == 1
    assert body["error"] == ("1 error occurred:\n\t* Failed to join 10.0.0.2:4648: dial tcp 10.0.0.2:4648: "
                             "connect: connection refused\n\n")
    # Nomad 2.x still joins without agent:write, with a deprecation warning
    assert body["warning"] == "anonymous server join is deprecated and will be removed in a future version of Nomad"
    assert (http.put("/v1/agent/join").status_code, http.put("/v1/agent/join").text) == (
        400, "missing address to join")
    assert http.get("/v1/agent/join").status_code == 405


def test_force_leave(world: tuple[SimCluster, httpx.Client, dict[str, dict[str, str]]]) -> None:
    c, http, tokens = world
    before = c.state.index
    r = http.put("/v1/agent/force-leave", params={"node": "gone.global"}, headers=tokens["read"])
    assert (r.status_code, r.text) == (403, "Permission denied")
    r = http.put("/v1/agent/force-leave", headers=tokens["write"])
    assert (r.status_code, r.text) == (400, "missing node to force leave")
    r = http.put("/v1/agent/force-leave", params={"node": "x", "prune": "maybe"}, headers=tokens["write"])
    assert (r.status_code, r.text) == (400, "invalid prune value")
    r = http.put("/v1/agent/force-leave", params={"node": "x", "prune": "true"}, headers=tokens["write"])
    assert (r.status_code, r.text) == (200, "")
    assert http.get("/v1/agent/force-leave", headers=tokens["mgmt"]).status_code == 405
    assert c.state.index == before


def test_unknown_agent_path_falls_through_to_an_empty_404(
        world: tuple[SimCluster, httpx.Client, dict[str, dict[str, str]]]) -> None:
    _, http, tokens = world
    r = http.get("/v1/agent/nope", headers=tokens["mgmt"])
    assert (r.status_code, r.content) == (404, b"")


def test_variables(world: tuple[SimCluster, httpx.Client, dict[str, dict[str, str]]]) -> None:
    _, http, tokens = world
    r = http.get("/v1/vars", params={"prefix": "nomad/jobs"})
    assert (r.status_code, r.json(), r.headers["x-nomad-index"]) == (200, [], "1")
    r = http.get("/v1/var/nomad/jobs/web", headers=tokens["mgmt"])
    assert (r.status_code, r.text, r.headers["x-nomad-index"]) == (404, "variable not found", "1")
    r = http.get("/v1/var/nomad/jobs/web")
    assert (r.status_code, r.text) == (403, "Permission denied")
    assert http.get("/v1/var/", headers=tokens["mgmt"]).text == "missing variable path"
    assert http.put("/v1/vars", headers=tokens["mgmt"]).status_code == 405


@pytest.mark.parametrize("path", ["/v1/vars", "/v1/var/a/b"])
def test_variable_reads_block(world: tuple[SimCluster, httpx.Client, dict[str, dict[str, str]]], path: str) -> None:
    _, http, tokens = world
    start = time.monotonic()
    r = http.get(path, params={"index": "1", "wait": "5s"}, headers=tokens["mgmt"])
    waited = time.monotonic() - start
    assert r.status_code in (200, 404) and r.headers["x-nomad-index"] == "1"
    assert waited >= 0.25  # held for the (capped) wait: the table never moves past 1
    start = time.monotonic()
    http.get(path, params={"index": "0"}, headers=tokens["mgmt"])
    assert time.monotonic() - start < 0.25
    assert http.get(path, params={"index": "x"}, headers=tokens["mgmt"]).text == "Invalid index"


# -- /v1/agent/monitor --------------------------------------------------------------------------
def _read_monitor(c: SimCluster, http: httpx.Client, params: dict[str, str], headers: dict[str, str],
                  act: Callable[[], None], *, want: int = 1) -> tuple[httpx.Response, list[bytes]]:
    """Open the monitor, run ``act`` while it is open, and collect chunks until ``want`` carry data."""
    chunks: list[bytes] = []
    got: list[httpx.Response] = []

    def reader() -> None:
        with http.stream("GET", "/v1/agent/monitor", params=params, headers=headers) as r:
            got.append(r)
            if r.status_code != 200:
                r.read()
                return
            for chunk in r.iter_raw():
                chunks.append(chunk)
                if sum(1 for x in chunks if x not in (b"", b"{}")) >= want:
                    return

    thread = threading.Thread(target=reader)
    thread.start()
    time.sleep(0.3)  # the monitor sends only what is logged after it opens
    act()
    thread.join(10)
    assert not thread.is_alive(), "the monitor sent nothing"
    return got[0], chunks


def _job(c: SimCluster) -> None:
    c.register_job(job_spec("m", [group("g", [task("t")])], datacenters=["dc1"]))
    c.advance(10)


def test_monitor_streams_task_events_of_a_node_as_frames() -> None:
    c = SimCluster(seed=4)
    node = c.add_node(name="n1", datacenter="dc1", cpu_mhz=4000, cores=4, memory_mb=8192, disk_mb=10000,
                      address="10.0.0.1")
    c.advance(5)
    http = httpx.Client(transport=c.transport(), base_url="http://nomad")
    r, chunks = _read_monitor(c, http, {"node_id": node["ID"]}, {}, lambda: _job(c))
    assert r.headers["content-type"] == "application/json"
    frames = [json.loads(x) for x in chunks if x not in (b"", b"{}")]
    assert all(set(f) == {"Data", "FileEvent"} and f["FileEvent"] == "log" for f in frames)
    text = b"".join(base64.b64decode(f["Data"]) for f in frames).decode()
    assert all(len(base64.b64decode(f["Data"])) <= 1024 for f in frames)
    first = text.splitlines()[0]
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z \[INFO\]  client\.alloc_runner\.task_runner: "
                        r"Task event: alloc_id=[0-9a-f-]{36} task=t type=Received msg=\"Task received by client\" "
                        r"failed=false", first), first


def test_monitor_server_debug_lines_plain_and_json() -> None:
    c = SimCluster(seed=4)
    c.add_node(name="n1", datacenter="dc1", cpu_mhz=4000, cores=4, memory_mb=8192, disk_mb=10000,
               address="10.0.0.1")
    http = httpx.Client(transport=c.transport(), base_url="http://nomad")
    r, chunks = _read_monitor(c, http, {"log_level": "debug", "plain": "true", "server_id": "leader"}, {},
                              lambda: _job(c))
    assert r.headers["content-type"] == "text/plain"
    line = b"".join(chunks).decode().splitlines()[0]
    assert " [DEBUG] worker: dequeued evaluation: worker_id=" in line
    assert "job_id=m node_id=\"\" triggered_by=job-register" in line
    c2 = SimCluster(seed=4)
    c2.add_node(name="n1", datacenter="dc1", cpu_mhz=4000, cores=4, memory_mb=8192, disk_mb=10000,
                address="10.0.0.1")
    http2 = httpx.Client(transport=c2.transport(), base_url="http://nomad")
    _, chunks = _read_monitor(c2, http2, {"log_level": "DEBUG", "plain": "true", "log_json": "true"}, {},
                              lambda: _job(c2))
    record = json.loads(b"".join(chunks).decode().splitlines()[0])
    assert (record["@level"], record["@module"], record["@message"], record["job_id"]) == (
        "debug", "worker", "dequeued evaluation", "m")
    # at the default INFO level the worker's DEBUG lines are not sent
    from nomadlab.sim.monitor import Target, agent_lines

    assert agent_lines(c2, Target(server=True, node_id=""), 0, c2.now_ns(), level="info") == []


@pytest.mark.parametrize(
    ("params", "status", "text"),
    [
        ({"log_level": "loud"}, 400, "Unknown log level: loud"),
        ({"log_json": "maybe"}, 400, 'Unknown option for log json: strconv.ParseBool: parsing "maybe": invalid syntax'),
        ({"plain": "x"}, 400, 'Unknown option for plain: strconv.ParseBool: parsing "x": invalid syntax'),
        ({"node_id": "a", "server_id": "b"}, 400, "Cannot target node and server simultaneously"),
        ({"node_id": "nope"}, 500, 'Unknown node "nope"'),
        ({"server_id": "other.global"}, 400, "unknown nomad server other.global"),
    ],
    ids=["level", "json", "plain", "both", "node", "server"],
)
def test_monitor_errors(params: dict[str, str], status: int, text: str) -> None:
    c = SimCluster(seed=1)
    r = httpx.Client(transport=c.transport(), base_url="http://nomad").get("/v1/agent/monitor", params=params)
    assert (r.status_code, r.text) == (status, text)


def test_monitor_acl(world: tuple[SimCluster, httpx.Client, dict[str, dict[str, str]]]) -> None:
    c, http, tokens = world
    r = http.get("/v1/agent/monitor")
    assert (r.status_code, r.text) == (403, "Permission denied")
    # a secret that does not authenticate: the RPC's uncoded error ends the stream before a byte
    r = http.get("/v1/agent/monitor", headers={"X-Nomad-Token": "00000000-0000-0000-0000-000000000000"})
    assert (r.status_code, r.content) == (200, b"")
    c.add_node(name="n1", datacenter="dc1", cpu_mhz=4000, cores=4, memory_mb=8192, disk_mb=10000,
               address="10.0.0.1")
    r, chunks = _read_monitor(c, http, {"log_level": "debug", "plain": "true"}, tokens["read"], lambda: _job(c))
    assert r.status_code == 200 and b"dequeued evaluation" in b"".join(chunks)


def test_monitor_ends_when_the_consumer_closes() -> None:
    from nomadlab.sim.monitor import Target, stream_monitor

    c = SimCluster(seed=1)
    stream = stream_monitor(c, Target(server=True, node_id=""), poll_s=0.01, heartbeat_s=0.02)
    assert next(stream) == b"{}"  # idle: heartbeats, so a server notices a hang-up
    stream.close()
    with pytest.raises(StopIteration):
        next(stream)


def test_monitor_counts_what_its_buffer_drops() -> None:
    from nomadlab.sim.monitor import MONITOR_BUFFER, Target, stream_monitor

    c = SimCluster(seed=4)
    node = c.add_node(name="n1", datacenter="dc1", cpu_mhz=64000, cores=64, memory_mb=262144, disk_mb=900000,
                      address="10.0.0.1")
    stream = stream_monitor(c, Target(server=False, node_id=node["ID"]), plain=True, poll_s=0.001,
                            heartbeat_s=0.005)
    assert next(stream) == b""  # opened (idle) before anything happens
    c.register_job(job_spec("many", [group("g", [task("t")], count=150)], datacenters=["dc1"]))
    c.advance(10)  # 150 tasks x 4 events logged between two polls
    text = b""
    while b"Monitor dropped" not in text:
        text += next(stream)
    lines = text.decode().splitlines()
    assert len(lines) == MONITOR_BUFFER
    assert lines[-1] == f"[WARN] Monitor dropped {150 * 4 - MONITOR_BUFFER + 1} logs during monitor request"
    stream.close()


def test_closing_a_served_cluster_ends_an_open_monitor_quietly(capfd: pytest.CaptureFixture[str]) -> None:
    c = SimCluster.default(seed=1)
    with c.serve(port=0) as url:
        client = httpx.Client(timeout=30)
        r = client.send(client.build_request("GET", f"{url}/v1/agent/monitor"), stream=True)
        assert r.status_code == 200
        chunks = r.iter_bytes()
        assert next(chunks) == b"{}"  # idle heartbeat
        started = time.monotonic()
    assert time.monotonic() - started < 4.0
    b"".join(chunks)  # ended with its terminating chunk: no RemoteProtocolError
    _, err = capfd.readouterr()
    assert "Traceback" not in err and "ERROR" not in err, err
