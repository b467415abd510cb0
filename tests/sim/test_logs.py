"""Task logs: ``/v1/client/fs/logs/:alloc_id`` framing, parameters, content, follow (§5)."""

from __future__ import annotations

import base64
import json
import random
import threading
from collections.abc import Iterable, Iterator
from typing import Any

import httpx
import pytest

from nomadlab.sim import SimCluster
from nomadlab.sim.logs import FRAME_SIZE, log_bytes, task_runs
from nomadlab.sim.scenarios import group, job_spec, task
from tests.conftest import SAMPLES_DIR
from tests.shapes import assert_same_shape

SAMPLES = SAMPLES_DIR


class FrameDecoder:
    """A streaming decoder for concatenated JSON objects, fed arbitrary chunks."""

    def __init__(self) -> None:
        self._buf = ""
        self._raw = b""
        self._dec = json.JSONDecoder()

    def feed(self, chunk: bytes) -> list[dict[str, Any]]:
        self._raw += chunk
        try:
            text = self._raw.decode()
        except UnicodeDecodeError:
            return []  # a split inside a multi-byte character: wait for the rest
        self._raw = b""
        self._buf += text
        out = []
        while self._buf:
            try:
                obj, end = self._dec.raw_decode(self._buf)
            except json.JSONDecodeError:
                break
            out.append(obj)
            self._buf = self._buf[end:]
        return out

    @property
    def pending(self) -> str:
        return self._buf


def decode_all(chunks: Iterable[bytes]) -> list[dict[str, Any]]:
    dec = FrameDecoder()
    frames = [f for c in chunks for f in dec.feed(c)]
    assert dec.pending == ""
    return frames


def data_of(frames: Iterable[dict[str, Any]]) -> bytes:
    return b"".join(base64.b64decode(f["Data"]) for f in frames if f.get("Data"))


def _client(cluster: SimCluster) -> httpx.Client:
    return httpx.Client(transport=cluster.transport(), base_url="http://nomad")


def _node(cluster: SimCluster) -> None:
    cluster.add_node(
        name="n1",
        datacenter="dc1",
        address="10.0.0.10",
        cpu_mhz=8000,
        cores=4,
        memory_mb=8192,
        disk_mb=20_000,
    )


def _one(cluster: SimCluster, job_id: str) -> dict[str, Any]:
    return sorted(cluster.state.job_allocs("default", job_id), key=lambda a: a["CreateIndex"])[0]


@pytest.fixture
def web() -> tuple[SimCluster, dict[str, Any]]:
    cluster = SimCluster(seed=7)
    _node(cluster)
    cluster.register_job(
        job_spec(
            "web", [group("frontend", [task("nginx", image="nginx:1.27")])], datacenters=["dc1"]
        )
    )
    cluster.advance(600)
    return cluster, _one(cluster, "web")


def _logs(cluster: SimCluster, alloc_id: str, **params: str) -> httpx.Response:
    return _client(cluster).get(f"/v1/client/fs/logs/{alloc_id}", params=params)


# -- framing -------------------------------------------------------------------------------------
def test_framed_body_is_concatenated_stream_frames(web: tuple[SimCluster, dict[str, Any]]) -> None:
    cluster, alloc = web
    r = _logs(cluster, alloc["ID"], task="nginx", type="stdout")
    assert r.status_code == 200
    assert r.headers["content-type"] == "application/json"
    assert r.content.startswith(b"{") and r.content.endswith(b"}")
    assert b"\n" not in r.content  # no separator between frames, compact JSON
    frames = decode_all([r.content])
    plain = _logs(cluster, alloc["ID"], task="nginx", type="stdout", plain="true")
    assert plain.headers["content-type"] == "text/plain"
    assert data_of(frames) == plain.content
    end = 0
    for f in frames:
        assert set(f) <= {"Offset", "Data", "File", "FileEvent"}
        assert f["File"] == "alloc/logs/nginx.stdout.0"
        piece = base64.b64decode(f["Data"])
        assert 0 < len(piece) <= FRAME_SIZE
        end += len(piece)
        assert f["Offset"] == end  # the position after the frame's data


def test_frame_shape_matches_sample(web: tuple[SimCluster, dict[str, Any]]) -> None:
    path = SAMPLES / "GET_v1_client_fs_logs_alloc_id.frames.json"
    if not SAMPLES.is_dir():  # in CI the run fails at its start instead (tests/conftest.py); a missing file fails
        pytest.skip(f"sample responses not found at {SAMPLES}")
    sample = json.loads(path.read_text())
    cluster, alloc = web
    frames = decode_all([_logs(cluster, alloc["ID"], task="nginx", type="stdout").content])
    assert_same_shape(sample[0], frames[0])
    # The sample's second frame is a `file deleted` event: every field is omitempty, so a frame
    # carries only what it has.
    assert set(sample[1]) == {"File", "FileEvent"}


def test_large_logs_split_into_64k_frames() -> None:
    cluster = SimCluster(seed=1)
    _node(cluster)
    cluster.register_job(
        job_spec(
            "web", [group("frontend", [task("nginx", image="nginx:1.27")])], datacenters=["dc1"]
        )
    )
    cluster.advance(3 * 3600)
    alloc = _one(cluster, "web")
    body = _logs(cluster, alloc["ID"], task="nginx", type="stdout").content
    frames = decode_all([body])
    sizes = [len(base64.b64decode(f["Data"])) for f in frames]
    assert len(frames) > 2
    assert all(s == FRAME_SIZE for s in sizes[:-1]) and 0 < sizes[-1] <= FRAME_SIZE


@pytest.mark.parametrize("seed", range(5))
def test_streaming_decoder_over_arbitrary_chunk_splits(
    web: tuple[SimCluster, dict[str, Any]], seed: int
) -> None:
    cluster, alloc = web
    body = _logs(cluster, alloc["ID"], task="nginx", type="stdout").content
    rng = random.Random(seed)
    cuts = sorted(rng.sample(range(1, len(body)), min(40, len(body) - 1)))
    chunks = [body[a:b] for a, b in zip([0, *cuts], [*cuts, len(body)], strict=True)]
    assert decode_all(chunks) == decode_all([body])


# -- parameters ----------------------------------------------------------------------------------
def test_origin_and_offset(web: tuple[SimCluster, dict[str, Any]]) -> None:
    cluster, alloc = web
    full = _logs(cluster, alloc["ID"], task="nginx", type="stdout", plain="true").content
    assert len(full) > 300
    tail = _logs(
        cluster, alloc["ID"], task="nginx", type="stdout", plain="true", origin="end", offset="100"
    )
    assert tail.content == full[-100:]
    head = _logs(cluster, alloc["ID"], task="nginx", type="stdout", plain="true", offset="250")
    assert head.content == full[250:]
    framed = decode_all(
        [
            _logs(
                cluster, alloc["ID"], task="nginx", type="stdout", origin="end", offset="100"
            ).content
        ]
    )
    assert data_of(framed) == full[-100:]
    assert framed[-1]["Offset"] == len(full)
    assert (
        _logs(
            cluster,
            alloc["ID"],
            task="nginx",
            type="stdout",
            plain="true",
            origin="end",
            offset=str(10 * len(full)),
        ).content
        == full
    )
    assert (
        _logs(
            cluster,
            alloc["ID"],
            task="nginx",
            type="stdout",
            plain="true",
            offset=str(len(full) + 5),
        ).content
        == b""
    )


def test_stderr_is_its_own_file(web: tuple[SimCluster, dict[str, Any]]) -> None:
    cluster, alloc = web
    frames = decode_all([_logs(cluster, alloc["ID"], task="nginx", type="stderr").content])
    assert frames and all(f["File"] == "alloc/logs/nginx.stderr.0" for f in frames)
    text = data_of(frames).decode()
    assert "start worker processes" in text
    assert "GET /" not in text


@pytest.mark.parametrize(
    ("params", "status", "text"),
    [
        ({}, 400, "must provide task name"),
        ({"task": "nginx"}, 400, "must provide log type (stdout/stderr)"),
        ({"task": "nginx", "type": "stdin"}, 400, "must provide log type (stdout/stderr)"),
        (
            {"task": "nginx", "type": "stdout", "origin": "middle"},
            400,
            "origin must be start or end",
        ),
        (
            {"task": "nginx", "type": "stdout", "follow": "maybe"},
            400,
            "failed to parse follow field to boolean: "
            'strconv.ParseBool: parsing "maybe": invalid syntax',
        ),
        (
            {"task": "nginx", "type": "stdout", "plain": "yes"},
            400,
            "failed to parse plain field to boolean: "
            'strconv.ParseBool: parsing "yes": invalid syntax',
        ),
        (
            {"task": "nginx", "type": "stdout", "offset": "ten"},
            400,
            'error parsing offset: strconv.ParseInt: parsing "ten": invalid syntax',
        ),
        ({"task": "x", "type": "stdout"}, 400, 'unknown task name "x"'),
    ],
)
def test_errors(
    web: tuple[SimCluster, dict[str, Any]], params: dict[str, str], status: int, text: str
) -> None:
    cluster, alloc = web
    r = _logs(cluster, alloc["ID"], **params)
    assert (r.status_code, r.text) == (status, text)
    assert r.headers["content-type"].startswith("text/plain")


def test_unknown_alloc_and_missing_id(web: tuple[SimCluster, dict[str, Any]]) -> None:
    cluster, _ = web
    r = _logs(cluster, "nope", task="nginx", type="stdout")
    assert (r.status_code, r.text) == (404, 'Unknown allocation "nope"')
    r = _client(cluster).get("/v1/client/fs/logs/", params={"task": "t", "type": "stdout"})
    assert (r.status_code, r.text) == (400, "must provide a valid alloc id")


def test_task_not_started_yet() -> None:
    cluster = SimCluster()
    _node(cluster)
    cluster.behaviours.script(image="app:latest", start_s=60)
    cluster.register_job(
        job_spec(
            "slow",
            [group("g", [task("app")])],
            datacenters=["dc1"],
        )
    )
    cluster.advance(5)
    alloc = _one(cluster, "slow")
    r = _logs(cluster, alloc["ID"], task="app", type="stdout")
    assert (r.status_code, r.text) == (404, 'task "app" not started yet. No logs available')
    cluster.advance(60)
    assert _logs(cluster, alloc["ID"], task="app", type="stdout").status_code == 200


# -- content -------------------------------------------------------------------------------------
def test_logs_are_deterministic_and_append_only() -> None:
    def build() -> SimCluster:
        c = SimCluster.default(seed=5)
        c.advance(300)
        return c

    a, b = build(), build()
    for alloc in a.state.allocs.values():
        for name in alloc["TaskStates"]:
            for kind in ("stdout", "stderr"):
                one = log_bytes(a.seed, alloc, name, kind, a.now_ns())
                assert one == log_bytes(b.seed, b.state.allocs[alloc["ID"]], name, kind, b.now_ns())
    alloc = _one(a, "web")
    name = next(iter(alloc["TaskStates"]))
    before = log_bytes(a.seed, alloc, name, "stdout", a.now_ns())
    a.advance(120)
    after = log_bytes(a.seed, alloc, name, "stdout", a.now_ns())
    assert len(after) > len(before) and after.startswith(before)


def test_lines_fit_the_workload() -> None:
    cluster = SimCluster.default(seed=2)
    cluster.advance(200)
    texts: dict[str, str] = {}
    for alloc in cluster.state.allocs.values():
        for name, state in alloc["TaskStates"].items():
            if state["State"] == "running" or state["StartedAt"] != "0001-01-01T00:00:00Z":
                texts[name] = log_bytes(
                    cluster.seed, alloc, name, "stdout", cluster.now_ns()
                ).decode()
    assert '"GET ' in texts["nginx"] and "HTTP/1.1" in texts["nginx"]
    assert "Ready to accept connections" in texts["redis"]
    assert 'msg="progress"' in texts["report"]
    assert 'msg="request"' in texts["api"]


def _crashing(fail: str, *, attempts: int = 2, mode: str = "fail") -> SimCluster:
    cluster = SimCluster(seed=3)
    _node(cluster)
    cluster.behaviours.script(image="example/app:1.0", fail=fail, fail_after_s=20)
    cluster.register_job(
        job_spec(
            "flaky",
            [
                group(
                    "g",
                    [task("app", image="example/app:1.0")],
                    restart={
                        "Attempts": attempts,
                        "Interval": 3600 * 10**9,
                        "Delay": 5 * 10**9,
                        "Mode": mode,
                    },
                    reschedule={"Attempts": 0, "Unlimited": False},
                )
            ],
            datacenters=["dc1"],
        )
    )
    return cluster


def _terminations(state: dict[str, Any]) -> list[dict[str, Any]]:
    return [e for e in state["Events"] if e["Type"] == "Terminated"]


def test_crash_prints_a_panic_before_each_termination() -> None:
    cluster = _crashing("crash")
    cluster.advance(200)
    alloc = _one(cluster, "flaky")
    state = alloc["TaskStates"]["app"]
    terms = _terminations(state)
    assert len(terms) == 3 and state["State"] == "dead"
    err = log_bytes(cluster.seed, alloc, "app", "stderr", cluster.now_ns(), behaviours=cluster.behaviours).decode()
    assert err.count("panic: runtime error") == 3
    assert "goroutine 1 [running]:" in err
    # Each panic is written at its Terminated time: before it, the file has one panic fewer.
    for i, ev in enumerate(terms):
        upto = log_bytes(cluster.seed, alloc, "app", "stderr", ev["Time"], behaviours=cluster.behaviours).decode()
        assert upto.count("panic:") == i
        with_it = log_bytes(
            cluster.seed, alloc, "app", "stderr", ev["Time"] + 1, behaviours=cluster.behaviours
        ).decode()
        assert with_it.count("panic:") == i + 1 and with_it.rstrip().endswith("+0x2a5")
    out = log_bytes(cluster.seed, alloc, "app", "stdout", cluster.now_ns(), behaviours=cluster.behaviours).decode()
    assert out.count('msg="starting app"') == 3


def test_oom_warns_then_is_killed() -> None:
    cluster = _crashing("oom", attempts=1)
    cluster.advance(100)
    alloc = _one(cluster, "flaky")
    terms = _terminations(alloc["TaskStates"]["app"])
    assert [e["Details"]["oom_killed"] for e in terms] == ["true", "true"]
    err = log_bytes(cluster.seed, alloc, "app", "stderr", cluster.now_ns(), behaviours=cluster.behaviours).decode()
    lines = err.splitlines()
    assert lines.count("Killed") == 2
    assert err.count('msg="memory pressure"') == 6
    first_kill = lines.index("Killed")
    assert "memory pressure" in "".join(lines[:first_kill])


def test_stop_logs_a_shutdown() -> None:
    cluster = SimCluster(seed=3)
    _node(cluster)
    cluster.register_job(
        job_spec(
            "web", [group("frontend", [task("nginx", image="nginx:1.27")])], datacenters=["dc1"]
        )
    )
    cluster.advance(30)
    alloc = _one(cluster, "web")
    cluster.deregister_job("default", "web")
    cluster.advance(10)
    err = log_bytes(cluster.seed, alloc, "nginx", "stderr", cluster.now_ns()).decode()
    assert "signal 15 (SIGTERM) received, exiting" in err


def test_trimmed_events_keep_earlier_runs() -> None:
    """A task restarting for ever keeps only its last 10 events; its log keeps every run."""
    cluster = _crashing("crash", attempts=1000, mode="delay")
    alloc = _one(cluster, "flaky")
    previous = b""
    for _ in range(12):
        cluster.advance(50)
        data = log_bytes(cluster.seed, alloc, "app", "stderr", cluster.now_ns(), behaviours=cluster.behaviours)
        assert data.startswith(previous)
        previous = data
    state = alloc["TaskStates"]["app"]
    assert state["Restarts"] > 10 and len(state["Events"]) == 10
    runs = task_runs(alloc, "app", cluster.behaviours)
    assert len(runs) == len([r for r in runs if r.end in ("crash", "running")])
    crashes = [r for r in runs if r.end == "crash"]
    assert previous.decode().count("panic:") == len(crashes) == state["Restarts"]


# -- follow --------------------------------------------------------------------------------------
def _frames(chunks: Iterator[bytes]) -> Iterator[dict[str, Any]]:
    dec = FrameDecoder()
    for chunk in chunks:
        yield from dec.feed(chunk)


def _read_until_heartbeat(frames: Iterator[dict[str, Any]]) -> list[dict[str, Any]]:
    got = []
    for f in frames:
        if f == {}:
            return got
        got.append(f)
    raise AssertionError("stream ended")


def test_follow_in_process_streams_new_lines(web: tuple[SimCluster, dict[str, Any]]) -> None:
    cluster, alloc = web
    api = _client(cluster)
    req = api.build_request(
        "GET",
        f"/v1/client/fs/logs/{alloc['ID']}",
        params={"task": "nginx", "type": "stdout", "follow": "true"},
    )
    resp = api.send(req, stream=True)
    try:
        assert resp.status_code == 200
        frames = _frames(resp.iter_raw())
        initial = _read_until_heartbeat(frames)
        first = data_of(initial)
        assert first == log_bytes(cluster.seed, alloc, "nginx", "stdout", cluster.now_ns())
        # Nothing happens while time stands still: only heartbeats.
        assert _read_until_heartbeat(frames) == []
        cluster.advance(30)
        later: list[dict[str, Any]] = []
        while not later:
            later = _read_until_heartbeat(frames)
        new = data_of(later)
        assert new and later[-1]["Offset"] == len(first) + len(new)
        assert first + new == log_bytes(cluster.seed, alloc, "nginx", "stdout", cluster.now_ns())
    finally:
        resp.close()


def test_follow_plain_in_process(web: tuple[SimCluster, dict[str, Any]]) -> None:
    cluster, alloc = web
    api = _client(cluster)
    req = api.build_request(
        "GET",
        f"/v1/client/fs/logs/{alloc['ID']}",
        params={
            "task": "nginx",
            "type": "stdout",
            "follow": "true",
            "plain": "true",
            "origin": "end",
            "offset": "50",
        },
    )
    resp = api.send(req, stream=True)
    try:
        assert resp.headers["content-type"] == "text/plain"
        before = log_bytes(cluster.seed, alloc, "nginx", "stdout", cluster.now_ns())
        chunks = resp.iter_raw()
        assert next(chunks) == before[-50:]  # raw bytes, no frames
        cluster.advance(20)
        got = b""
        while not got:
            got = next(chunks)
        after = log_bytes(cluster.seed, alloc, "nginx", "stdout", cluster.now_ns())
        assert before + got == after[: len(before) + len(got)]
    finally:
        resp.close()


@pytest.mark.wire
def test_follow_over_the_wire() -> None:
    cluster = SimCluster(seed=9)
    _node(cluster)
    cluster.register_job(
        job_spec(
            "web", [group("frontend", [task("nginx", image="nginx:1.27")])], datacenters=["dc1"]
        )
    )
    cluster.advance(60)
    alloc = _one(cluster, "web")
    with cluster.serve(port=0) as url, httpx.Client(base_url=url, timeout=10) as http:
        with http.stream(
            "GET",
            f"/v1/client/fs/logs/{alloc['ID']}",
            params={"task": "nginx", "type": "stdout", "follow": "true"},
        ) as resp:
            assert resp.status_code == 200
            assert resp.headers["content-type"] == "application/json"
            # served as Nomad serves it: gzip-encoded for httpx, each frame flushed; read decoded
            assert resp.headers["content-encoding"] == "gzip"
            frames = _frames(resp.iter_bytes())
            first = data_of(_read_until_heartbeat(frames))
            assert first == log_bytes(cluster.seed, alloc, "nginx", "stdout", cluster.now_ns())
            advancer = threading.Thread(target=cluster.advance, args=(45,))
            advancer.start()
            advancer.join()
            later: list[dict[str, Any]] = []
            while not later:
                later = _read_until_heartbeat(frames)
            assert first + data_of(later) == log_bytes(
                cluster.seed, alloc, "nginx", "stdout", cluster.now_ns()
            )
        # The server is still fine after the client hung up mid-stream.
        assert http.get("/v1/client/stats", params={"node_id": alloc["NodeID"]}).status_code == 200


# -- rotation ------------------------------------------------------------------------------------
def test_log_set_rotates_as_logmon() -> None:
    from nomadlab.sim.logs import LogConfig, LogSet

    logs = LogSet("web", "stdout", LogConfig(max_files=3, max_file_bytes=100), created_ns=5)
    lines = [(10 + i, f"line {i:02d} " + "x" * 20) for i in range(12)]  # 29 bytes each with the newline
    logs.feed(lines, 100)
    live = logs.live
    assert [f.index for f in live] == [1, 2, 3]  # 4 files written, the oldest removed
    assert [f.size for f in live] == [87, 87, 87]  # three whole lines fit in 100 bytes, the fourth rotates
    assert logs.content(live[0]) == b"".join((t + "\n").encode() for _, t in lines[3:6])
    assert live[-1].mtime_ns == 21 and live[0].created_ns == 13
    assert logs.get(0) is None and logs.path(2) == "alloc/logs/web.stdout.2"
    logs.feed([(200, "y" * 250)], 300)  # a line longer than a file is cut at the file size
    assert [f.size for f in logs.live] == [100, 100, 51]
    assert logs.content(logs.live[-1]).endswith(b"y\n")


def _rotating(max_files: int) -> tuple[SimCluster, dict[str, Any]]:
    cluster = SimCluster(seed=3)
    _node(cluster)
    nginx = task("nginx", image="nginx:1.27")
    nginx["LogConfig"] = {"MaxFiles": max_files, "MaxFileSizeMB": 1}
    cluster.register_job(job_spec("web", [group("frontend", [nginx])], datacenters=["dc1"]))
    cluster.advance(2 * 3600)
    return cluster, _one(cluster, "web")


def test_follow_moves_on_when_the_log_rotates_and_notes_removed_files() -> None:
    from nomadlab.sim.logs import cluster_log_set, stream_logs

    cluster, alloc = _rotating(max_files=2)
    stream = stream_logs(cluster, alloc["ID"], "nginx", "stdout", follow=True, poll_s=0.001, heartbeat_s=0.01)
    frames = _frames(stream)
    first = _read_until_heartbeat(frames)
    assert {f["File"] for f in first} == {"alloc/logs/nginx.stdout.0"}
    cluster.advance(4 * 3600)  # past 1 MB: .0 is full and .1 open
    later: list[dict[str, Any]] = []
    while not any(f.get("File", "").endswith(".1") for f in later):
        later += _read_until_heartbeat(frames)
    with cluster.state.lock:
        logs = cluster_log_set(cluster, cluster.state.allocs[alloc["ID"]], "nginx", "stdout", cluster.now_ns())
        assert logs is not None
        zero = logs.content(logs.get(0)) if logs.get(0) else b""
    sent_zero = data_of(first) + data_of(f for f in later if f["File"].endswith(".0"))
    assert sent_zero == zero and len(zero) > 1024 * 1024 - 4096  # .0 sent to its end, then .1 from 0
    one = [f for f in later if f["File"].endswith(".1")]
    assert one[0]["Offset"] == len(base64.b64decode(one[0]["Data"]))
    cluster.advance(20 * 3600)  # several rotations between two polls: .1 is removed under the reader
    rest: list[dict[str, Any]] = []
    while not any(f.get("FileEvent") for f in rest):
        rest += _read_until_heartbeat(frames)
    deleted = next(f for f in rest if f.get("FileEvent"))
    assert deleted["FileEvent"] == "file deleted" and deleted["File"] == "alloc/logs/nginx.stdout.1"
    ones = [f for f in one + rest if f.get("File", "").endswith(".1") and f.get("Data")]
    assert ones[-1]["Offset"] == deleted["Offset"] > 1024 * 1024 - 4096  # read through before its event
    assert data_of(ones) and len(data_of(ones)) == deleted["Offset"]
    after = rest[rest.index(deleted) + 1:]
    # files written and removed between two polls are skipped: the reader goes on at the oldest kept
    assert after and int(after[0]["File"].rsplit(".", 1)[1]) > 2 and after[0]["Offset"] <= 64 * 1024
    assert [f for f in rest if f.get("FileEvent")] == [deleted]
    stream.close()


def test_fs_stream_of_a_log_file_ends_when_rotation_removes_it() -> None:
    from nomadlab.sim.allocdir import alloc_fs, stream_file

    cluster, alloc = _rotating(max_files=1)
    with cluster.state.lock:
        node = alloc_fs(cluster, cluster.state.allocs[alloc["ID"]]).stat("alloc/logs/nginx.stdout.0")
    chunks = stream_file(cluster, alloc["ID"], "alloc/logs/nginx.stdout.0", node, follow=True,
                         poll_s=0.001, heartbeat_s=0.01)
    frames = _frames(chunks)
    assert _read_until_heartbeat(frames)
    cluster.advance(6 * 3600)
    tail = list(frames)  # the stream ends by itself once the file is gone
    assert tail[-1] == {"Offset": tail[-1]["Offset"], "File": "alloc/logs/nginx.stdout.0",
                        "FileEvent": "file deleted"}
    assert tail[-1]["Offset"] > 1024 * 1024 - 4096  # everything written to it was read first
