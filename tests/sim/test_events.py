"""The event stream: NDJSON framing, heartbeats, topics, namespaces, resume, bounded buffer."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import httpx
import orjson
import pytest

from nomadlab.sim import SimCluster
from nomadlab.sim.scenarios import group, job_spec, task


def _cluster() -> SimCluster:
    c = SimCluster(seed=11)
    c.add_namespace("team")
    for i in range(2):
        c.add_node(name=f"n{i}", datacenter="dc1", cpu_mhz=4000, cores=4, memory_mb=8192,
                   disk_mb=20000, address=f"10.1.0.{i}")
    c.register_job(job_spec("alpha", [group("g", [task("t", cpu=100, memory_mb=64)], count=2)],
                            datacenters=["dc1"]))
    c.register_job(job_spec("beta", [group("g", [task("t", cpu=100, memory_mb=64)])],
                            datacenters=["dc1"], namespace="team"))
    c.advance(20)
    return c


def _lines(c: SimCluster, params: dict[str, object], n: int) -> list[bytes]:
    """The first ``n`` non-empty NDJSON lines of a stream (the connect heartbeat included)."""
    http = httpx.Client(transport=c.transport(), base_url="http://nomad")
    out: list[bytes] = []
    with http.stream("GET", "/v1/event/stream", params=params) as r:
        assert r.status_code == 200
        assert r.headers["content-type"] == "application/json"
        buf = b""
        for chunk in r.iter_bytes():
            buf += chunk
            while b"\n" in buf:
                line, buf = buf.split(b"\n", 1)
                out.append(line)
                if len(out) >= n:
                    return out
    return out


def _events(lines: list[bytes]) -> Iterator[dict[str, object]]:
    for line in lines:
        frame = orjson.loads(line)
        yield from frame.get("Events", [])


def test_first_line_is_a_heartbeat_and_frames_carry_their_index() -> None:
    c = _cluster()
    lines = _lines(c, {"topic": "Allocation", "namespace": "*"}, 4)
    assert lines[0] == b"{}"
    for line in lines[1:]:
        frame = orjson.loads(line)
        assert set(frame) == {"Index", "Events"}
        assert all(e["Index"] == frame["Index"] for e in frame["Events"])
        assert all(e["Topic"] == "Allocation" for e in frame["Events"])


def test_event_shape_and_payload() -> None:
    c = _cluster()
    events = list(_events(_lines(c, {"topic": "Allocation", "namespace": "*"}, 3)[1:]))
    e = events[0]
    assert set(e) == {"Topic", "Type", "Key", "Namespace", "FilterKeys", "Index", "Payload"}
    alloc = e["Payload"]["Allocation"]  # type: ignore[index]
    assert alloc["ID"] == e["Key"]
    assert alloc["Job"] is None  # Nomad strips the job from allocation events
    assert alloc["JobID"] in e["FilterKeys"]  # type: ignore[operator]
    assert e["Type"] in {"PlanResult", "AllocationUpdated", "AllocationUpdateDesiredStatus"}


def test_topic_key_matches_filter_keys() -> None:
    c = _cluster()
    events = list(_events(_lines(c, {"topic": "Allocation:alpha", "namespace": "*"}, 4)[1:]))
    assert events
    assert {e["Payload"]["Allocation"]["JobID"] for e in events} == {"alpha"}  # type: ignore[index]


def test_namespace_filter_and_default_namespace() -> None:
    c = _cluster()
    default_only = list(_events(_lines(c, {"topic": "Job"}, 3)[1:]))
    assert {e["Namespace"] for e in default_only} == {"default"}
    team = list(_events(_lines(c, {"topic": "Job", "namespace": "team"}, 2)[1:]))
    assert {e["Key"] for e in team} == {"beta"}


def test_node_events_are_not_namespaced() -> None:
    c = _cluster()
    events = list(_events(_lines(c, {"topic": "Node", "namespace": "team"}, 3)[1:]))
    assert events and all(e["Namespace"] == "" for e in events)
    assert events[0]["Type"] == "NodeRegistration"
    assert events[0]["Payload"]["Node"]["SecretID"] == ""  # type: ignore[index]


def test_resume_from_index_gives_no_duplicates() -> None:
    c = _cluster()
    first = [orjson.loads(x) for x in _lines(c, {"topic": "*", "namespace": "*"}, 4)[1:]]
    resume_at = first[1]["Index"] + 1
    resumed = [orjson.loads(x) for x in _lines(c, {"topic": "*", "namespace": "*", "index": resume_at}, 2)[1:]]
    assert resumed[0]["Index"] >= resume_at
    assert resumed[0]["Index"] == first[2]["Index"]


def test_buffer_is_bounded_and_old_index_starts_at_oldest() -> None:
    c = _cluster()
    c.events.frames = type(c.events.frames)(c.events.frames, maxlen=5)
    c.register_job(job_spec("gamma", [group("g", [task("t", cpu=10, memory_mb=16)], count=3)],
                            datacenters=["dc1"]))
    c.advance(10)
    assert len(c.events.frames) == 5
    oldest = c.events.frames[0][0]
    lines = _lines(c, {"topic": "*", "namespace": "*", "index": 1}, 2)
    assert orjson.loads(lines[1])["Index"] == oldest


def test_write_from_another_thread_reaches_a_live_subscriber() -> None:
    c = _cluster()
    latest = c.events.frames[-1][0]
    result: list[bytes] = []

    def read() -> None:
        result.extend(_lines(c, {"topic": "Job:delta", "namespace": "*", "index": latest + 1}, 2))

    reader = threading.Thread(target=read)
    reader.start()
    c.register_job(job_spec("delta", [group("g", [task("t", cpu=10, memory_mb=16)])], datacenters=["dc1"]))
    reader.join(timeout=30)
    assert not reader.is_alive()
    event = next(_events(result[1:]))
    assert (event["Topic"], event["Type"], event["Key"]) == ("Job", "JobRegistered", "delta")


def test_stop_emits_job_deregistered() -> None:
    c = _cluster()
    latest = c.events.frames[-1][0]
    c.deregister_job("default", "alpha")
    events = list(_events(_lines(c, {"topic": "Job:alpha", "index": latest + 1}, 2)[1:]))
    assert events[0]["Type"] == "JobDeregistered"


@pytest.mark.parametrize(
    ("params", "text"),
    [
        ({"index": "x"}, 'Unable to parse index: strconv.ParseUint: parsing "x": invalid syntax'),
        ({"topic": "Job:a:b"}, "Invalid topic query: Invalid key value pair for topic: Job:a:b"),
    ],
    ids=["bad-index", "two-colons"],
)
def test_bad_parameters_are_400(params: dict[str, str], text: str) -> None:
    c = _cluster()
    r = httpx.Client(transport=c.transport(), base_url="http://nomad").get("/v1/event/stream", params=params)
    assert (r.status_code, r.text) == (400, text)


@pytest.mark.wire
def test_served_stream_starts_with_heartbeat_then_events() -> None:
    c = _cluster()
    with c.serve(port=0) as url, httpx.stream(
        "GET", f"{url}/v1/event/stream", params={"topic": "Allocation", "namespace": "*"}, timeout=30
    ) as r:
        buf = b""
        for chunk in r.iter_bytes():
            buf += chunk
            if buf.count(b"\n") >= 2:
                break
    first, second = buf.split(b"\n")[:2]
    assert first == b"{}"
    assert orjson.loads(second)["Events"][0]["Topic"] == "Allocation"
