"""Fault injection: each kind in-process and over a socket, seeded rates, limits, CLI flags."""

from __future__ import annotations

import os
import socket
import ssl
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import trustme

from nomadlab.cli import build_parser
from nomadlab.sim import SimCluster, faults, routes
from nomadlab.sim.faults import (
    FAULT_KINDS,
    FAULT_OPTIONS,
    NO_LEADER,
    ConnectionFault,
    DroppingStream,
    Fault,
    FaultInjector,
    StreamDropped,
    parse_fault,
)
from nomadlab.sim.http import Request, Response
from nomadlab.sim.scenarios import group, job_spec, task

STREAM_CHUNKS = [f'{{"N":{i}}}\n'.encode() for i in range(8)]


def local(cluster: SimCluster) -> httpx.Client:
    return httpx.Client(transport=cluster.transport(), base_url="http://nomad")


@pytest.fixture
def cluster() -> SimCluster:
    cluster = SimCluster.default(seed=5)
    cluster.max_blocking_wait_s = 5.0
    return cluster


@pytest.fixture
def stream_closed(monkeypatch: pytest.MonkeyPatch) -> list[bool]:
    """Serve a test-only ``GET /v1/test/stream`` (eight JSON lines, one per chunk).

    Returns a list that gets ``True`` appended each time a stream's iterator is closed.
    """
    closed: list[bool] = []

    def stream(c: SimCluster, req: Request) -> Response:
        def chunks() -> Iterator[bytes]:
            try:
                yield from STREAM_CHUNKS
            finally:
                closed.append(True)

        return Response(200, {"Content-Type": "application/json"}, stream=chunks())

    router = routes.build_router()
    router.add("GET", r"/v1/test/stream", stream)
    monkeypatch.setattr(routes, "ROUTER", router)
    return closed


def _read_stream(client: httpx.Client, url: str) -> tuple[bytes, BaseException | None]:
    """The bytes received before the stream ended, and the error that ended it (if any)."""
    got = b""
    try:
        with client.stream("GET", url) as r:
            for chunk in r.iter_bytes():
                got += chunk
    except httpx.TransportError as exc:
        return got, exc
    return got, None


def _statuses(cluster: SimCluster, n: int, path: str = "/v1/jobs") -> list[int]:
    with local(cluster) as client:
        return [client.get(path).status_code for _ in range(n)]


# -- the Fault type and its text form ---------------------------------------------------------
def test_parse_fault_examples() -> None:
    f = parse_fault("/v1/jobs*:error:status=503,rate=0.5")
    assert (f.route, f.kind, f.status, f.rate, f.methods) == ("/v1/jobs*", "error", 503, 0.5, None)
    assert parse_fault("*:latency:latency_s=0.2") == Fault("*", kind="latency", latency_s=0.2)
    f = parse_fault("/v1/allocations:error:status=429,retry_after_s=2")
    assert (f.status, f.retry_after_s) == (429, 2.0)
    f = parse_fault("/v1/job/*:reset:methods=put|post,times=3")
    assert f.methods == frozenset({"PUT", "POST"}) and f.times == 3
    f = parse_fault("/v1/event/stream:drop_stream:after_events=4")
    assert (f.kind, f.after_events) == ("drop_stream", 4)
    assert parse_fault("*:leader_loss") == Fault("*", kind="leader_loss")


@pytest.mark.parametrize("spec", [
    "/v1/jobs*:error:status=503,rate=0.5,retry_after_s=1,times=2,body=busy",
    "/v1/x:truncate:after_events=10,methods=GET",
    "*:latency:latency_s=1.5",
])
def test_fault_text_round_trips(spec: str) -> None:
    fault = parse_fault(spec)
    assert parse_fault(str(fault)) == fault


@pytest.mark.parametrize(("spec", "message"), [
    ("/v1/jobs", "expected ROUTE:KIND"),
    (":error", "route"),
    ("/v1/jobs:explode", "unknown kind 'explode'"),
    ("/v1/jobs:error:status", "is not key=value"),
    ("/v1/jobs:error:status=abc", "status must be an integer"),
    ("/v1/jobs:error:rate=lots", "rate must be a number"),
    ("/v1/jobs:error:rate=1.5", "rate must be within [0, 1]"),
    ("/v1/jobs:error:colour=red", "unknown option 'colour'"),
    ("/v1/jobs:error:status=503,status=500", "given twice"),
    ("/v1/jobs:error:status=99", "status must be an HTTP status"),
    ("/v1/jobs:latency:latency_s=-1", "latency_s must be >= 0"),
    ("/v1/jobs:latency:latency_s=nan", "latency_s must be a number"),
])
def test_parse_fault_errors_name_the_problem(spec: str, message: str) -> None:
    with pytest.raises(ValueError, match="fault .*") as info:
        parse_fault(spec)
    assert message in str(info.value)


def test_route_is_a_glob_on_the_path_and_methods_filter() -> None:
    f = Fault("/v1/job/*", kind="error")
    assert f.matches("GET", "/v1/job/web") and f.matches("GET", "/v1/job/web/allocations")
    assert not f.matches("GET", "/v1/jobs")
    assert Fault("*", kind="error").matches("DELETE", "/v1/anything")
    put_only = Fault("/v1/jobs", kind="error", methods=frozenset({"put"}))
    assert put_only.matches("PUT", "/v1/jobs") and not put_only.matches("GET", "/v1/jobs")


# -- no faults --------------------------------------------------------------------------------
def test_cluster_without_faults_is_unaffected(cluster: SimCluster) -> None:
    assert not cluster.faults and len(cluster.faults) == 0
    plain = SimCluster.default(seed=5)
    with local(cluster) as a, local(plain) as b:
        for path in ("/v1/jobs", "/v1/nodes", "/v1/allocations", "/v1/job/nope"):
            ra, rb = a.get(path), b.get(path)
            assert (ra.status_code, ra.content, dict(ra.headers)) == \
                (rb.status_code, rb.content, dict(rb.headers))
    assert cluster.faults.fired() == 0


def test_fault_on_another_route_leaves_a_request_alone(cluster: SimCluster) -> None:
    fault = cluster.faults.add(Fault("/v1/nodes", kind="error"))
    with local(cluster) as client:
        assert client.get("/v1/jobs").status_code == 200
        assert client.get("/v1/nodes").status_code == 500
    assert cluster.faults.fired(fault) == 1


# -- error ------------------------------------------------------------------------------------
def test_error_answers_plain_text_without_handling_the_request(cluster: SimCluster) -> None:
    writes = frozenset({"PUT", "POST"})
    cluster.faults.add(Fault("/v1/jobs", kind="error", status=503, methods=writes))
    spec = job_spec("faulted", [group("g", [task("t", cpu=50, memory_mb=32)])])
    with local(cluster) as client:
        r = client.put("/v1/jobs", json={"Job": spec})
        assert (r.status_code, r.text) == (503, "Service Unavailable")
        assert r.headers["content-type"].startswith("text/plain")
        assert "retry-after" not in r.headers
        assert client.get("/v1/job/faulted").status_code == 404  # the write never happened
        assert client.get("/v1/jobs").status_code == 200  # GET is not a method of the fault


def test_error_429_with_retry_after_whole_seconds(cluster: SimCluster) -> None:
    cluster.faults.add("/v1/allocations:error:status=429,retry_after_s=1.2,body=slow down")
    with local(cluster) as client:
        r = client.get("/v1/allocations")
    assert (r.status_code, r.text, r.headers["retry-after"]) == (429, "slow down", "2")


def test_error_over_the_wire(cluster: SimCluster) -> None:
    cluster.faults.add("/v1/allocations:error:status=429,retry_after_s=2")
    cluster.faults.add("/v1/nodes:error")
    with cluster.serve(port=0) as url:
        r = httpx.get(url + "/v1/allocations")
        assert (r.status_code, r.text, r.headers["retry-after"]) == (429, "Too Many Requests", "2")
        r = httpx.get(url + "/v1/nodes")
        assert (r.status_code, r.text) == (500, "Internal Server Error")
        assert r.headers["content-type"].startswith("text/plain")
        assert httpx.get(url + "/v1/jobs").status_code == 200


# -- rate, seeds, times -------------------------------------------------------------------------
def test_rate_is_seeded_and_repeatable() -> None:
    def outcomes(seed: int) -> list[int]:
        c = SimCluster.default(seed=0)
        c.faults = FaultInjector(seed, ["/v1/jobs:error:status=503,rate=0.5"])
        return _statuses(c, 60)

    first = outcomes(11)
    assert first == outcomes(11)
    assert set(first) == {200, 503}
    assert 10 < first.count(503) < 50
    assert first != outcomes(12)


def test_cluster_seed_seeds_the_faults() -> None:
    runs = []
    for _ in range(2):
        c = SimCluster.default(seed=21)
        c.faults.add(Fault("/v1/jobs", kind="error", rate=0.3))
        runs.append(_statuses(c, 40))
    assert runs[0] == runs[1] and 500 in runs[0]


def test_one_fault_does_not_shift_the_draws_of_another() -> None:
    alone = SimCluster.default(seed=3)
    alone.faults.add(Fault("/v1/jobs", kind="error", status=503, rate=0.5))
    mixed = SimCluster.default(seed=3)
    mixed.faults.add(Fault("/v1/jobs", kind="error", status=503, rate=0.5))
    mixed.faults.add(Fault("/v1/*", kind="latency", rate=0.5))
    assert _statuses(alone, 40) == _statuses(mixed, 40)


def test_clear_restarts_the_seeded_sequence(cluster: SimCluster) -> None:
    cluster.faults.add("/v1/jobs:error:rate=0.5")
    first = _statuses(cluster, 30)
    cluster.faults.clear()
    assert _statuses(cluster, 3) == [200, 200, 200]
    cluster.faults.add("/v1/jobs:error:rate=0.5")
    assert _statuses(cluster, 30) == first


def test_rate_zero_never_fires(cluster: SimCluster) -> None:
    fault = cluster.faults.add(Fault("*", kind="error", rate=0.0))
    assert set(_statuses(cluster, 20)) == {200}
    assert cluster.faults.fired(fault) == 0


def test_times_limits_how_often_a_fault_fires(cluster: SimCluster) -> None:
    fault = cluster.faults.add("/v1/jobs:error:status=503,times=2")
    assert _statuses(cluster, 5) == [503, 503, 200, 200, 200]
    assert cluster.faults.fired(fault) == 2
    assert cluster.faults.counts() == [(fault, 2)]


def test_decide_reports_and_counts_what_fires() -> None:
    injector = FaultInjector(0, ["/v1/jobs:latency:latency_s=0", "/v1/nodes:reset"])
    decided = injector.decide(Request.build("GET", "/v1/jobs"))
    assert [f.kind for f in decided] == ["latency"]
    assert injector.decide(Request.build("GET", "/v1/regions")) == []
    assert injector.fired() == 1


# -- latency ----------------------------------------------------------------------------------
def test_latency_in_process(cluster: SimCluster) -> None:
    cluster.faults.add("/v1/jobs:latency:latency_s=0.2")
    with local(cluster) as client:
        start = time.monotonic()
        assert client.get("/v1/jobs").status_code == 200
        assert time.monotonic() - start >= 0.2


def test_latency_over_the_wire(cluster: SimCluster) -> None:
    cluster.faults.add(Fault("*", kind="latency", latency_s=0.25, methods=frozenset({"GET"})))
    with cluster.serve(port=0) as url:
        start = time.monotonic()
        r = httpx.get(url + "/v1/nodes")
        assert r.status_code == 200 and r.json()
        assert time.monotonic() - start >= 0.25


# -- reset ------------------------------------------------------------------------------------
def test_reset_in_process_is_a_read_error(cluster: SimCluster) -> None:
    cluster.faults.add("/v1/jobs:reset:times=1")
    with local(cluster) as client:
        with pytest.raises(httpx.ReadError, match="Connection reset by peer"):
            client.get("/v1/jobs")
        assert client.get("/v1/jobs").status_code == 200


def test_reset_happens_after_the_request_was_handled(cluster: SimCluster) -> None:
    cluster.faults.add(Fault("/v1/jobs", kind="reset", methods=frozenset({"PUT"})))
    spec = job_spec("lost-reply", [group("g", [task("t", cpu=50, memory_mb=32)])])
    with local(cluster) as client:
        with pytest.raises(httpx.ReadError):
            client.put("/v1/jobs", json={"Job": spec})
        assert client.get("/v1/job/lost-reply").status_code == 200


def test_reset_over_the_wire(cluster: SimCluster) -> None:
    cluster.faults.add("/v1/jobs:reset:times=1")
    with cluster.serve(port=0) as url, httpx.Client(base_url=url) as client:
        with pytest.raises(httpx.ReadError):
            client.get("/v1/jobs")
        assert client.get("/v1/jobs").status_code == 200  # a fresh connection is fine


def test_reset_over_tls(cluster: SimCluster, tmp_path: Path) -> None:
    ca = trustme.CA()
    cert = ca.issue_cert("127.0.0.1", "localhost")
    cert_file, key_file, ca_file = tmp_path / "cert.pem", tmp_path / "key.pem", tmp_path / "ca.pem"
    cert.cert_chain_pems[0].write_to_path(str(cert_file))
    cert.private_key_pem.write_to_path(str(key_file))
    ca.cert_pem.write_to_path(str(ca_file))
    cluster.faults.add("/v1/jobs:reset:times=1")
    verify = ssl.create_default_context(cafile=str(ca_file))
    with cluster.serve(port=0, ssl_certfile=str(cert_file), ssl_keyfile=str(key_file)) as url, \
            httpx.Client(base_url=url, verify=verify) as client:
        assert url.startswith("https://")
        with pytest.raises(httpx.TransportError):
            client.get("/v1/jobs")
        assert client.get("/v1/jobs").status_code == 200


# -- truncate ---------------------------------------------------------------------------------
def _check_truncated(client: httpx.Client, path: str, expect_bytes: int | None) -> None:
    with pytest.raises(httpx.RemoteProtocolError, match="complete message body") as info:
        client.get(path)
    assert "expected" in str(info.value)
    with client.stream("GET", path) as r:
        announced = int(r.headers["content-length"])
        got = b""
        with pytest.raises(httpx.RemoteProtocolError):
            for chunk in r.iter_bytes():
                got += chunk
    assert len(got) < announced
    if expect_bytes is not None:
        assert len(got) == expect_bytes


def test_truncate_in_process(cluster: SimCluster) -> None:
    cluster.faults.add("/v1/jobs:truncate")
    cluster.faults.add("/v1/nodes:truncate:after_events=10")
    with local(cluster) as client:
        _check_truncated(client, "/v1/jobs", None)
        _check_truncated(client, "/v1/nodes", 10)


def test_truncate_over_the_wire(cluster: SimCluster) -> None:
    cluster.faults.add("/v1/jobs:truncate")
    cluster.faults.add("/v1/nodes:truncate:after_events=10")
    with cluster.serve(port=0) as url, httpx.Client(base_url=url) as client:
        _check_truncated(client, "/v1/jobs", None)
        _check_truncated(client, "/v1/nodes", 10)
        cluster.faults.clear()
        assert client.get("/v1/jobs").json()


def test_truncate_in_process_matches_served(cluster: SimCluster) -> None:
    cluster.faults.add("/v1/nodes:truncate:after_events=7")
    with local(cluster) as client, pytest.raises(httpx.RemoteProtocolError) as in_process:
        client.get("/v1/nodes")
    with cluster.serve(port=0) as url, pytest.raises(httpx.RemoteProtocolError) as served:
        httpx.get(url + "/v1/nodes")
    assert str(in_process.value) == str(served.value)


# -- drop_stream ------------------------------------------------------------------------------
def test_dropping_stream_wrapper() -> None:
    closed: list[bool] = []

    def chunks() -> Iterator[bytes]:
        try:
            yield from [b"a", b"", b"b", b"c", b"d"]
        finally:
            closed.append(True)

    stream = DroppingStream(chunks(), 2)
    assert [next(stream), next(stream), next(stream)] == [b"a", b"", b"b"]  # the tick is free
    with pytest.raises(StreamDropped) as info:
        next(stream)
    assert isinstance(info.value, ConnectionFault) and info.value.chunks == 2
    assert closed == [True]


def test_drop_stream_in_process(cluster: SimCluster, stream_closed: list[bool]) -> None:
    cluster.faults.add("/v1/test/stream:drop_stream:after_events=3")
    with local(cluster) as client:
        got, error = _read_stream(client, "/v1/test/stream")
    assert got == b"".join(STREAM_CHUNKS[:3])
    assert isinstance(error, httpx.RemoteProtocolError)
    assert "incomplete chunked read" in str(error)
    assert stream_closed == [True]


def test_drop_stream_over_the_wire(cluster: SimCluster, stream_closed: list[bool]) -> None:
    cluster.faults.add("/v1/test/stream:drop_stream:after_events=3,times=1")
    with cluster.serve(port=0) as url, httpx.Client(base_url=url) as client:
        got, error = _read_stream(client, "/v1/test/stream")
        assert got == b"".join(STREAM_CHUNKS[:3])
        assert isinstance(error, httpx.RemoteProtocolError)
        assert "incomplete chunked read" in str(error)
        got, error = _read_stream(client, "/v1/test/stream")
        assert (got, error) == (b"".join(STREAM_CHUNKS), None)
    assert stream_closed == [True, True]


def test_truncate_on_a_stream_drops_it(cluster: SimCluster, stream_closed: list[bool]) -> None:
    cluster.faults.add("/v1/test/stream:truncate:after_events=1")
    with local(cluster) as client:
        got, error = _read_stream(client, "/v1/test/stream")
    assert got == STREAM_CHUNKS[0] and isinstance(error, httpx.RemoteProtocolError)


def test_drop_stream_leaves_complete_bodies_alone(cluster: SimCluster) -> None:
    cluster.faults.add("/v1/jobs:drop_stream")
    with local(cluster) as client:
        assert client.get("/v1/jobs").status_code == 200


# -- leader loss ------------------------------------------------------------------------------
def _check_no_leader(client: httpx.Client, cluster: SimCluster) -> None:
    r = client.get("/v1/jobs")
    assert (r.status_code, r.text) == (500, NO_LEADER)
    assert r.headers["content-type"].startswith("text/plain")
    for stale in ("", "true", "1"):
        r = client.get("/v1/jobs", params={"stale": stale})
        assert r.status_code == 200 and isinstance(r.json(), list)
        assert r.headers["x-nomad-knownleader"] == "false"
    assert client.get("/v1/jobs", params={"stale": "false"}).status_code == 500
    spec = job_spec("no-leader", [group("g", [task("t", cpu=50, memory_mb=32)])])
    r = client.put("/v1/jobs", json={"Job": spec})
    assert (r.status_code, r.text) == (500, NO_LEADER)
    assert client.get("/v1/agent/self").status_code == 200
    assert client.get("/v1/regions").json() == ["global"]
    assert client.get("/v1/status/leader").status_code == 500
    assert client.get("/v1/status/leader", params={"stale": ""}).json() == ""


def test_leader_loss_in_process(cluster: SimCluster) -> None:
    with local(cluster) as client:
        assert client.get("/v1/jobs").headers["x-nomad-knownleader"] == "true"
        cluster.faults.lose_leader()
        assert cluster.faults.leader_lost
        _check_no_leader(client, cluster)
        cluster.faults.restore_leader()
        assert not cluster.faults.leader_lost and not cluster.faults
        r = client.get("/v1/jobs")
        assert r.status_code == 200 and r.headers["x-nomad-knownleader"] == "true"


def test_leader_loss_over_the_wire(cluster: SimCluster) -> None:
    with cluster.serve(port=0) as url, httpx.Client(base_url=url) as client:
        cluster.faults.lose_leader()
        _check_no_leader(client, cluster)
        cluster.faults.restore_leader()
        assert client.get("/v1/jobs").status_code == 200


def test_leader_loss_grace_reads_then_errors(cluster: SimCluster) -> None:
    cluster.faults.lose_leader(grace_reads=2)
    with local(cluster) as client:
        assert client.get("/v1/nodes", params={"stale": ""}).status_code == 200  # not counted
        for _ in range(2):
            r = client.get("/v1/jobs")
            assert r.status_code == 200 and r.headers["x-nomad-knownleader"] == "false"
        assert client.get("/v1/jobs").text == NO_LEADER
        assert client.get("/v1/nodes", params={"stale": ""}).status_code == 200


def test_leader_loss_last_contact_grows_with_the_clock(cluster: SimCluster) -> None:
    cluster.faults.lose_leader()
    with local(cluster) as client:
        assert client.get("/v1/jobs?stale").headers["x-nomad-lastcontact"] == "0"
        cluster.advance(1.5)
        assert client.get("/v1/jobs?stale").headers["x-nomad-lastcontact"] == "1500"


def test_leader_loss_as_a_fault_spec(cluster: SimCluster) -> None:
    cluster.faults.add("/v1/job*:leader_loss:after_events=1")
    with local(cluster) as client:
        assert client.get("/v1/jobs").headers["x-nomad-knownleader"] == "false"
        assert client.get("/v1/jobs").text == NO_LEADER
        assert client.get("/v1/nodes").headers["x-nomad-knownleader"] == "true"


# -- CLI --------------------------------------------------------------------------------------
def test_cli_parses_fault_flags() -> None:
    args = build_parser().parse_args([
        "sim", "--fault", "/v1/jobs*:error:status=503,rate=0.5",
        "--fault", "*:latency:latency_s=0.2",
        "--fault-seed", "7",
    ])
    assert args.fault == [Fault("/v1/jobs*", kind="error", status=503, rate=0.5),
                          Fault("*", kind="latency", latency_s=0.2)]
    assert args.fault_seed == 7
    defaults = build_parser().parse_args(["sim"])
    assert (defaults.fault, defaults.fault_seed) == ([], None)


@pytest.mark.parametrize(("flag", "message"), [
    ("/v1/jobs", "expected ROUTE:KIND"),
    ("/v1/jobs:nope", "unknown kind 'nope'"),
    ("/v1/jobs:error:status=x", "status must be an integer"),
])
def test_cli_rejects_a_bad_fault_with_exit_2(flag: str, message: str,
                                             capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as info:
        build_parser().parse_args(["sim", "--fault", flag])
    assert info.value.code == 2
    err = capsys.readouterr().err
    assert "argument --fault" in err and message in err


def test_cli_fault_help_lists_every_kind_and_option(capsys: pytest.CaptureFixture[str]) -> None:
    """The help is written from faults.py's tables, so a kind added there is listed without more."""
    with pytest.raises(SystemExit):
        build_parser().parse_args(["sim", "--help"])
    text = " ".join(capsys.readouterr().out.split())
    shown = text.split("--fault ROUTE:KIND[:k=v,...] ", 1)[1].split("--fault-seed", 1)[0]
    kinds = shown.split("KIND one of ", 1)[1].split(";", 1)[0]
    assert [k.strip() for k in kinds.split(",")] == list(FAULT_KINDS)
    assert "cut_stream" in kinds
    assert set(FAULT_OPTIONS) == faults._KEYS
    options = shown.split("; options ", 1)[1].split(". E.g.", 1)[0]
    assert [o.split(" ")[0] for o in options.split(", ")] == list(FAULT_OPTIONS)
    for example in ("/v1/jobs*:error:status=503,rate=0.5", "*:latency:latency_s=0.2"):
        assert example in shown
        parse_fault(example)  # the examples the help gives are accepted


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _wait_until_serving(proc: subprocess.Popen[bytes], url: str) -> None:
    deadline = time.monotonic() + 60
    while True:
        try:
            httpx.get(url + "/v1/agent/self", timeout=2)
            return
        except httpx.TransportError:
            if proc.poll() is not None or time.monotonic() > deadline:
                _, err = proc.communicate(timeout=5)
                pytest.fail(f"nomadlab sim did not serve: rc={proc.returncode} "
                            f"{err.decode()[-2000:]}")
            time.sleep(0.2)


def test_cli_serves_with_faults() -> None:
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("NOMAD_")}
    proc = subprocess.Popen(
        [sys.executable, "-m", "nomadlab.cli", "sim", "--host", "127.0.0.1", "--port", str(port),
         "--fault", "/v1/jobs:error:status=429,retry_after_s=3",
         "--fault", "/v1/nodes:reset",
         "--fault", "/v1/allocations:leader_loss",
         "--fault-seed", "4"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env,
    )
    try:
        url = f"http://127.0.0.1:{port}"
        _wait_until_serving(proc, url)
        r = httpx.get(url + "/v1/jobs", timeout=5)
        assert (r.status_code, r.headers["retry-after"]) == (429, "3")
        with pytest.raises(httpx.ReadError):
            httpx.get(url + "/v1/nodes", timeout=5)
        r = httpx.get(url + "/v1/allocations", timeout=5)
        assert (r.status_code, r.text) == (500, NO_LEADER)
        assert httpx.get(url + "/v1/evaluations", timeout=5).status_code == 200
    finally:
        proc.terminate()
        try:
            _, err = proc.communicate(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            _, err = proc.communicate()
    assert b"fault: /v1/jobs:error:status=429,retry_after_s=3" in err


def test_cli_fault_flag_exits_2_from_the_command_line() -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "nomadlab.cli", "sim", "--fault", "/v1/jobs:error:rate=2"],
        capture_output=True, text=True, timeout=60,
    )
    assert proc.returncode == 2
    assert "rate must be within [0, 1]" in proc.stderr
