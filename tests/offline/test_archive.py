"""Debug archives: the generator writes nomad operator debug's layouts; the reader is a Source of them."""

from __future__ import annotations

import json
import re
import tarfile
import warnings
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

import nomadlab.frames as nf
from nomadlab.client import NomadClient
from nomadlab.offline.archive import (
    CAPTURED_KEY,
    INTERVAL_KEY,
    MISSING,
    DebugArchive,
    DebugArchiveError,
    DebugArchiveWarning,
    open_debug_archive,
)
from nomadlab.sim import SimCluster
from nomadlab.sim.debug_archive import DebugCapture, archive_name, go_json, write_debug_archive
from nomadlab.sources import Source
from tests.offline._stream import live_events

INTERVALS = 3
KINDS = ("jobs", "allocations", "nodes", "evaluations", "deployments")
_LIST_PATHS = {"jobs": "/v1/jobs", "allocations": "/v1/allocations", "nodes": "/v1/nodes",
               "evaluations": "/v1/evaluations", "deployments": "/v1/deployments"}


def _strip(objects: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [{k: v for k, v in o.items() if k not in (INTERVAL_KEY, CAPTURED_KEY)} for o in objects]


class Captured:
    """An archive capture with what the live API answered at each interval, read independently."""

    def __init__(self, layout: str, *, namespace: str = "*", topics: list[str] | None = None) -> None:
        self.cluster = SimCluster.default(seed=3)
        self.client = NomadClient(transport=self.cluster.transport())
        self.capture = DebugCapture(self.cluster, layout=layout, namespace=namespace,  # type: ignore[arg-type]
                                    event_topics=topics if topics is not None else ["*"])
        self.live: list[dict[str, list[dict[str, Any]]]] = []
        self.times: list[int] = []
        for n in range(INTERVALS):
            if n:
                self.cluster.advance(30)
            ns = namespace if namespace != "default" else None
            self.live.append({k: self.client.get(p, namespace=ns if k != "nodes" else None).body
                              for k, p in _LIST_PATHS.items()})
            self.times.append(self.cluster.now_ns())
            self.capture.capture_interval()


@pytest.fixture(scope="module", params=["current", "array", "legacy"])
def captured(request: pytest.FixtureRequest) -> Captured:
    return Captured(request.param)


def _open(path: Path) -> DebugArchive:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DebugArchiveWarning)
        return open_debug_archive(path)


@pytest.fixture(params=["tar.gz", "folder"])
def archive(captured: Captured, tmp_path: Path, request: pytest.FixtureRequest) -> DebugArchive:
    return _open(captured.capture.write(tmp_path, compress=request.param == "tar.gz"))


# -- the generator's layout -------------------------------------------------------------------


def _tar_members(path: Path) -> dict[str, tarfile.TarInfo]:
    with tarfile.open(path) as tar:
        return {m.name: m for m in tar.getmembers()}


def test_current_layout_is_nomads(tmp_path: Path) -> None:
    cap = Captured("current", namespace="default").capture
    path = cap.write(tmp_path)
    top = archive_name(cap.started_ns)
    assert re.fullmatch(r"nomad-debug-\d{4}-\d{2}-\d{2}-\d{6}Z", top)
    assert path.name == f"{top}.tar.gz"
    members = _tar_members(path)
    assert all(m.isfile() for m in members.values())        # TarCZF writes regular files only
    assert all(name.startswith(f"{top}/") for name in members)
    names = {n.removeprefix(f"{top}/") for n in members}
    for rel in ("index.json", "index.html", "cluster/agent-self.json", "cluster/members.json", "cluster/leader.json",
                "cluster/namespaces.json", "cluster/regions.json", "cluster/cli-flags.json", "cluster/nodes.json",
                "cluster/eventstream.json"):
        assert rel in names, rel
    for n in range(INTERVALS):
        for f in ("jobs", "deployments", "evaluations", "allocations", "nodes", "csi-plugins", "csi-volumes",
                  "metrics", "operator-raft", "operator-scheduler", "operator-autopilot-health", "license"):
            assert f"interval/{n:04d}/{f}.json" in names
    files = cap.members()
    # index.json: the manifest of every file written but itself, index.html, the event stream and monitors
    manifest = json.loads(files["index.json"])
    outside = {"index.json", "index.html", "cluster/eventstream.json"}
    outside |= {f for f in files if f.endswith("/monitor.log")}
    assert sorted(manifest) == sorted(set(files) - outside)
    # a monitor per node (up to -max-nodes, 10) and per server, holding what each logged over
    # the capture: a client its task events, the server its scheduler worker
    monitors = sorted(f for f in files if f.startswith("client/") and f.endswith("/monitor.log"))
    node_ids = [n["ID"] for n in json.loads(files["cluster/nodes.json"])][:10]
    assert monitors == sorted(f"client/{i}/monitor.log" for i in node_ids)
    assert any(files[m] for m in monitors), "the default scenario's tasks log events over the capture"
    for m in monitors:
        assert all(b" [INFO]  client.alloc_runner.task_runner: Task event: " in line
                   for line in files[m].splitlines())
    servers = [f for f in files if f.startswith("server/") and f.endswith("/monitor.log")]
    assert servers
    for m in servers:
        assert all(b" [DEBUG] worker: dequeued evaluation: " in line for line in files[m].splitlines())
    assert files["index.json"].endswith(b"]\n")
    # interval lists are NDJSON: one compact object per line, each line ending in a newline
    allocs = files["interval/0000/allocations.json"]
    lines = allocs.split(b"\n")
    assert lines[-1] == b"" and all(json.loads(line)["ID"] for line in lines[:-1])
    # cluster/nodes.json: one JSON array
    assert files["cluster/nodes.json"].startswith(b"[{") and b"\n" not in files["cluster/nodes.json"]
    # an endpoint the server does not serve leaves Go's error wrapper with the API client's text;
    # the community edition's 204 for the license is the API client's own error
    autopilot = json.loads(files["interval/0000/operator-autopilot-health.json"])
    assert autopilot == {"Error": "Unexpected response code: 404"}
    assert json.loads(files["interval/0000/license.json"]) == {"Error": "Nomad Enterprise only endpoint"}
    flags = json.loads(files["cluster/cli-flags.json"])
    assert flags["Actual"]["interval"]["Value"] == "30s" and flags["Formal"]["duration"]["DefValue"] == "5m"
    # file times are when each was written: interval n at start + 30 s × n
    start = cap.started_ns // 10**9
    assert members[f"{top}/interval/0002/jobs.json"].mtime == start + 60
    assert members[f"{top}/cluster/nodes.json"].mtime == start


def test_event_lines_are_api_events_without_namespace(tmp_path: Path) -> None:
    cap = Captured("current", topics=["Job", "Allocation"]).capture
    lines = cap.members()["cluster/eventstream.json"].decode().splitlines()
    assert lines
    for line in lines:
        event = json.loads(line)
        assert list(event) == ["Topic", "Type", "Key", "FilterKeys", "Index", "Payload"]
        assert event["Topic"] in ("Job", "Allocation")
        inner = next(iter(event["Payload"].values()))
        assert list(inner) == sorted(inner)          # a Go map[string]any marshals sorted
    indexes = [json.loads(line)["Index"] for line in lines]
    assert indexes == sorted(indexes)


def test_go_json_escapes_html_characters() -> None:
    assert go_json({"a": "<b>&"}) == b'{"a":"\\u003cb\\u003e\\u0026"}'


def test_array_and_legacy_layouts(tmp_path: Path) -> None:
    array = Captured("array").capture.members()
    for f in ("jobs", "allocations", "evaluations", "nodes", "deployments"):
        body = array[f"interval/0001/{f}.json"]
        assert body.startswith(b"[") and b"\n" not in body
    legacy = Captured("legacy").capture.members()
    assert "version/agent-self.json" in legacy and "nomad/0002/plugins.json" in legacy
    assert not any(n.startswith(("cluster/", "interval/")) for n in legacy)
    assert "version/nodes.json" not in legacy and legacy["nomad/0000/jobs.json"].startswith(b"[")


def test_generator_refuses_what_it_cannot_do(tmp_path: Path) -> None:
    cluster = SimCluster.default()
    with pytest.raises(ValueError, match="layout"):
        DebugCapture(cluster, layout="newest")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="at least one interval"):
        write_debug_archive(cluster, tmp_path, intervals=0)
    cap = DebugCapture(cluster)
    cap.capture_interval()
    with pytest.raises(KeyError, match="no member"):
        cap.write(tmp_path, errors={"interval/0009/jobs.json": "x"})
    with pytest.raises(ValueError, match="cut_at"):
        cap.write(tmp_path, cut_at=1.5)


# -- the reader ----------------------------------------------------------------------------------


def test_reader_is_a_source_of_each_interval(captured: Captured, archive: DebugArchive) -> None:
    assert isinstance(archive, Source)
    assert archive.layout == captured.capture.layout
    assert [i.number for i in archive.intervals] == list(range(INTERVALS))
    assert [int(i.time.value) for i in archive.intervals] == captured.times
    assert {i.time_source for i in archive.intervals} == {"metrics"}
    assert archive.interval is not None and archive.interval.number == INTERVALS - 1
    assert archive.started_at == pd.Timestamp(captured.capture.started_ns // 10**9 * 10**9, unit="ns", tz="UTC")
    for n in range(INTERVALS):
        view = archive.at(n)
        for kind in KINDS:
            got = view.list(kind)  # type: ignore[arg-type]
            assert _strip(got) == captured.live[n][kind], (n, kind)
            assert {o[INTERVAL_KEY] for o in got} <= {f"{n:04d}"}
            assert {o[CAPTURED_KEY] for o in got} <= {captured.times[n]}
    assert archive.at(f"{1:04d}").interval == archive.intervals[1]
    assert archive.at(archive.intervals[1].time + pd.Timedelta(seconds=5)).interval == archive.intervals[1]
    assert archive.at(None).interval == archive.intervals[-1]


def test_selecting_an_interval_that_is_not_there(archive: DebugArchive) -> None:
    with pytest.raises(KeyError, match="intervals: 0000, 0001, 0002"):
        archive.at(7)
    with pytest.raises(KeyError, match="at or before"):
        archive.at(archive.intervals[0].time - pd.Timedelta(seconds=1))


def test_namespaces_filter_and_namespace_choice(captured: Captured, archive: DebugArchive) -> None:
    names = [n["Name"] for n in archive.list("namespaces")]
    assert names == [n["Name"] for n in captured.client.get("/v1/namespaces").body]
    allocs = archive.list("allocations")
    assert archive.list("allocations", namespace="default") == [a for a in allocs if a["Namespace"] == "default"]
    running = archive.list("allocations", filter='ClientStatus == "running"')
    assert running and running == [a for a in allocs if a["ClientStatus"] == "running"]


def test_an_archive_of_one_namespace_says_so_when_asked_for_all(tmp_path: Path) -> None:
    path = Captured("current", namespace="default").capture.write(tmp_path)
    archive = _open(path)
    assert archive.namespace == "default"
    with pytest.warns(DebugArchiveWarning, match="captured for namespace 'default' only"):
        archive.list("jobs")


def test_what_archives_lack_is_said_not_left_empty(archive: DebugArchive) -> None:
    with pytest.warns(DebugArchiveWarning, match="no node pools"):
        assert archive.list("node_pools") == []
    for kind in ("job_versions", "job_scale"):
        details = archive.details(kind, [("default", "web")])  # type: ignore[arg-type]
        assert details.objects == {} and details.errors == {("default", "web"): MISSING[kind]}
    assert "usage stats" in archive.details("node_stats", ["n1"]).errors["n1"]
    assert "usage stats" in archive.details("alloc_stats", ["a1"]).errors["a1"]
    job = archive.details("job", [("default", "web")])
    if archive.layout == "legacy":       # no event stream: no full jobs or nodes
        assert job.errors == {("default", "web"): MISSING["job"]}
        assert archive.details("node", ["n1"]).errors == {"n1": MISSING["node"]}
    else:                                # captured with -event-topic '*': the Job events' payloads
        assert job.errors == {} and job.objects[("default", "web")]["TaskGroups"]
        assert archive.details("node", ["n1"]).errors == {"n1": "not in the node list of interval 0002"}
    with pytest.raises(ValueError, match="unknown list kind"):
        archive.list("volumes")  # type: ignore[arg-type]


def test_events_take_their_namespace_from_the_payload(captured: Captured, archive: DebugArchive) -> None:
    if captured.capture.layout == "legacy":          # Nomad 1.1 had no event capture
        with pytest.warns(DebugArchiveWarning, match="no event stream"):
            assert archive.events() == []
        return
    events = archive.events()
    live = live_events(captured.client, captured.cluster.events.frames[-1][0])
    assert [(e.index, e.topic, e.type, e.key) for e in events] == [(e.index, e.topic, e.type, e.key) for e in live]
    assert [e.namespace for e in events] == [e.namespace for e in live]


# -- frames from an archive ----------------------------------------------------------------------

# What each frame shows from an archive: built from the interval's objects, or empty with the reason.
_FROM_STUBS = {"allocations", "tasks", "task_events", "deployments", "evaluations", "placement_failures",
               "jobs", "namespaces", "nodes"}
_LACKING = {"alloc_stats": "usage stats", "node_stats": "usage stats", "job_versions": "no job versions",
            "task_groups": "no full job specs", "scaling_events": "no scaling", "node_events": "no full nodes"}


@pytest.mark.parametrize("name", nf.FETCHERS)
def test_every_frame_builds_or_says_why_not(name: str, tmp_path: Path) -> None:
    cluster = SimCluster.default(seed=5)
    archive = _open(write_debug_archive(cluster, tmp_path, intervals=1, namespace="*"))
    fetch = getattr(nf, name)
    live = fetch(NomadClient(transport=cluster.transport()))
    if name == "logs":
        with pytest.raises(TypeError, match="NomadClient"):
            fetch(archive)
        return
    if name == "allocation_frames":
        frames = fetch(archive)
        for got, want in zip(frames, live, strict=True):
            assert sorted(got["alloc_id"]) == sorted(want["alloc_id"]) and len(got) == len(want)
        return
    if name in _LACKING:
        with pytest.warns(DebugArchiveWarning, match=_LACKING[name]):
            df = fetch(archive)
        assert df.empty and list(df.columns) == list(live.columns)
        assert df.attrs["errors"] and all(_LACKING[name] in str(v) for v in df.attrs["errors"].values())
        return
    assert name in _FROM_STUBS
    df = fetch(archive)
    nf.schema(name).validate(df)
    assert len(df) == len(live) and len(df) > 0
    keys = [k for k in nf.schema(name).keys if k in df.columns]
    assert sorted(map(tuple, df[keys].astype(str).values.tolist())) == \
        sorted(map(tuple, live[keys].astype(str).values.tolist()))


# -- bad input -----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def plain() -> DebugCapture:
    return Captured("current").capture


def test_an_error_file_is_named_and_the_rest_read(plain: DebugCapture, tmp_path: Path) -> None:
    path = plain.write(tmp_path, errors={"interval/0001/allocations.json": "Unexpected response code: 403 "
                                                                          "(Permission denied)"})
    with pytest.warns(DebugArchiveWarning, match=r"interval/0001/allocations.json: Nomad could not capture it"):
        archive = open_debug_archive(path)
    with pytest.warns(DebugArchiveWarning, match=r"0001/allocations.json holds no allocations.*NOMAD_TOKEN"):
        assert archive.at(1).list("allocations") == []
    assert archive.at(1).list("jobs") and archive.at(2).list("allocations")
    assert any(p.member == "interval/0001/allocations.json" for p in archive.problems)


@pytest.mark.parametrize("layout", ["current", "array"])
def test_a_truncated_member_gives_what_is_before_the_cut(layout: str, tmp_path: Path) -> None:
    cap = Captured(layout).capture
    member = "interval/0002/allocations.json"
    whole = cap.members()[member]
    complete = len(json.loads(whole)) if layout == "array" else whole.count(b"\n")
    cut = cap.members(truncate=[member])[member]
    path = cap.write(tmp_path, truncate=[member])
    with pytest.warns(DebugArchiveWarning, match=re.escape(member)):
        archive = open_debug_archive(path)
    with pytest.warns(DebugArchiveWarning, match="cut short"):
        got = archive.list("allocations")
    expected = cut.count(b"\n") if layout == "current" else None
    assert 0 < len(got) < complete
    if expected is not None:
        assert len(got) == expected
    assert _strip(got) == [json.loads(line) for line in whole.split(b"\n")[: len(got)]] if layout == "current" \
        else _strip(got) == json.loads(whole)[: len(got)]


def test_a_truncated_archive_keeps_the_members_before_the_cut(plain: DebugCapture, tmp_path: Path) -> None:
    path = plain.write(tmp_path, cut_at=0.7)
    with pytest.warns(DebugArchiveWarning, match="the archive ends inside this member"):
        archive = open_debug_archive(path)
    cut_member = next(p for p in archive.problems if "ends inside" in p.message).member
    assert "copy it again" in next(p.message for p in archive.problems if p.member == cut_member)
    order = sorted(plain.members())            # the order the members were packed in
    read = list(archive.members)
    assert 0 < len(read) < len(order)
    assert read == order[: len(read)] and cut_member.endswith(order[len(read)])
    for name in read:                          # every member before the cut is read whole
        data = plain.members()[name]
        if data.startswith(b'{"Error"'):
            assert archive.read(name) is None and any(p.member == name for p in archive.problems)
        elif name.endswith(".json") and name != "cluster/eventstream.json":
            assert archive.read(name) == _decoded(data, name)
    assert archive.intervals, "interval/0000 lies before the cut"


def _decoded(data: bytes, name: str) -> Any:
    lines = data.decode().splitlines()
    listed = name.startswith("interval/") and name.rsplit("/", 1)[1] in (
        "jobs.json", "allocations.json", "nodes.json", "evaluations.json", "deployments.json",
        "csi-plugins.json", "csi-volumes.json")
    if listed:
        return [json.loads(line) for line in lines]
    return json.loads(data)


def test_what_is_not_an_archive(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="nomad-debug"):
        open_debug_archive(tmp_path / "missing.tar.gz")
    junk = tmp_path / "junk.tar.gz"
    junk.write_bytes(b"not a tarball at all")
    with pytest.raises(DebugArchiveError, match="not a tar archive"):
        open_debug_archive(junk)
    (tmp_path / "empty").mkdir()
    with pytest.raises(DebugArchiveError, match="no nomad operator debug capture"):
        open_debug_archive(tmp_path / "empty")


def test_an_archive_cut_before_any_member_is_an_error(plain: DebugCapture, tmp_path: Path) -> None:
    path = plain.write(tmp_path, cut_at=0.001)
    with pytest.raises(DebugArchiveError):
        open_debug_archive(path)


def test_extracted_folder_found_from_its_parent(plain: DebugCapture, tmp_path: Path) -> None:
    top = plain.write(tmp_path, compress=False)
    archive = _open(tmp_path)
    assert archive.name == top.name and len(archive.intervals) == INTERVALS



# -- interval times ------------------------------------------------------------------------------


def test_interval_times_from_metrics_then_mtime_then_schedule(plain: DebugCapture, tmp_path: Path) -> None:
    import os
    import shutil

    top = plain.write(tmp_path, compress=False)
    start = pd.Timestamp(plain.started_ns, unit="ns", tz="UTC")
    # metrics.json's Timestamp (Go's time.Time text) wins over the file times; without it
    # (an agent refusing /v1/metrics) the file times count
    for f in (top / "interval").rglob("metrics.json"):
        f.unlink()
    (top / "interval/0001/metrics.json").write_text(json.dumps(
        {"Timestamp": "2026-01-01 00:01:02.25 +0000 UTC", "Gauges": [], "Counters": [], "Samples": [], "Points": []}))
    archive = _open(top)
    assert (archive.intervals[1].time_source, archive.intervals[1].time) == \
        ("metrics", pd.Timestamp("2026-01-01T00:01:02.25Z"))
    assert archive.intervals[0].time_source == "mtime" and archive.intervals[0].time == start
    # file times that cannot be the capture's (a copy that reset them) give way to the schedule
    for f in (top / "interval").rglob("*.json"):
        os.utime(f, (0, 0))
    archive = _open(top)
    assert [i.time_source for i in archive.intervals] == ["schedule", "metrics", "schedule"]
    assert archive.intervals[2].time == start + pd.Timedelta(seconds=60)
    # no interval at all: the nodes come from cluster/nodes.json, the rest says why it is empty
    shutil.rmtree(top / "interval")
    archive = _open(top)
    assert archive.intervals == () and archive.interval is None
    nodes = archive.list("nodes")
    assert nodes and {n[CAPTURED_KEY] for n in nodes} == {int(start.value)}
    with pytest.warns(DebugArchiveWarning, match="no interval capture"):
        assert archive.list("jobs") == []
    assert archive.time_range() == (start, start)


# -- full jobs and nodes from the event stream ---------------------------------------------------


def test_full_jobs_and_nodes_come_from_the_event_stream(tmp_path: Path) -> None:
    cluster = SimCluster.default(seed=5)
    archive = _open(write_debug_archive(cluster, tmp_path, intervals=2, namespace="*", event_topics=["*"]))
    client = NomadClient(transport=cluster.transport())
    for name in ("task_groups", "node_events"):
        got, want = getattr(nf, name)(archive), getattr(nf, name)(client)
        assert len(want) > 0 and got.attrs["errors"] == {}
        pd.testing.assert_frame_equal(got, want)
    # interval 0 answers with the objects as they were then, not with later versions
    first = archive.at(0)
    nodes = first.list("nodes")
    full = first.details("node", [n["ID"] for n in nodes])
    assert {k: v["ModifyIndex"] for k, v in full.objects.items()} == {n["ID"]: n["ModifyIndex"] for n in nodes}


def test_a_job_whose_event_the_stream_lost_says_so(tmp_path: Path) -> None:
    cluster = SimCluster.default(seed=5)
    capture = DebugCapture(cluster, namespace="*", event_topics=["Job"])
    capture.capture_interval()
    cluster.advance(30)
    capture.capture_interval()
    lines = capture.files["cluster/eventstream.json"].splitlines(keepends=True)
    kept = lines[len(lines) // 2:]                    # the stream's buffer had lost the older half
    capture.files["cluster/eventstream.json"] = b"".join(kept)
    archive = _open(capture.write(tmp_path))
    with pytest.warns(DebugArchiveWarning, match="not in the archive's event stream at their version"):
        got = nf.task_groups(archive)
    want = nf.task_groups(NomadClient(transport=cluster.transport()))
    lost = got.attrs["errors"]
    assert lost and all("holds no Job event at this job's JobModifyIndex" in m for m in lost.values())
    read = set(zip(got["namespace"], got["job_id"], strict=True))
    assert read and not read & set(lost)
    mask = [(ns, j) in read for ns, j in zip(want["namespace"], want["job_id"], strict=True)]
    pd.testing.assert_frame_equal(got.reset_index(drop=True), want[mask].reset_index(drop=True))
