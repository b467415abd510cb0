"""Snapshots: every frame equal to the live one, the manifest, filters, atomic writes, bad files."""

from __future__ import annotations

import io
import os
import signal
import subprocess
import sys
import tarfile
import textwrap
import time
import warnings
from collections.abc import Hashable, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

import orjson
import pandas as pd
import pytest

import nomadlab
import nomadlab.frames as nf
from nomadlab.analysis import incident_timeline
from nomadlab.client import NomadClient
from nomadlab.errors import NomadAPIError
from nomadlab.offline import (
    NotRecordedError,
    OfflineDataWarning,
    OfflineFormatError,
    Snapshot,
    open_snapshot,
    open_source,
    snapshot,
)
from nomadlab.sim import SimCluster
from nomadlab.sim.scenarios import build_scenario, group, job_spec, task
from nomadlab.sources import DETAIL_KINDS, LIST_KINDS, Details, LiveSource

from ._frames import all_frames, assert_same_frames

ROOT = Path(__file__).resolve().parents[2]


def _small_cluster() -> SimCluster:
    c = SimCluster(seed=3)
    c.add_namespace("team")
    for i in range(3):
        c.add_node(name=f"n{i}", datacenter="dc1", cpu_mhz=4000, cores=4, memory_mb=8192, disk_mb=20000,
                   address=f"10.2.0.{i}")
    c.register_job(job_spec("alpha", [group("g", [task("t", cpu=200, memory_mb=128)], count=3)],
                            datacenters=["dc1"]))
    c.register_job(job_spec("beta", [group("g", [task("t", cpu=100, memory_mb=64)])], datacenters=["dc1"],
                            namespace="team"))
    c.register_job(job_spec("huge", [group("g", [task("t", cpu=90000, memory_mb=64)])], datacenters=["dc1"]))
    c.advance(30)
    return c


CLUSTERS = {
    "demo": lambda: build_scenario("demo"),
    "default": lambda: build_scenario("default"),
    "small": _small_cluster,
    "empty": lambda: SimCluster(seed=1),
}


@pytest.fixture(scope="module")
def demo() -> SimCluster:
    return build_scenario("demo")


@pytest.fixture(scope="module")
def demo_snapshot(demo: SimCluster, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return snapshot(NomadClient(transport=demo.transport()), tmp_path_factory.mktemp("snap") / "demo.tar.gz")


@pytest.mark.parametrize("name", sorted(CLUSTERS))
def test_every_frame_equals_the_live_frame(name: str, tmp_path: Path) -> None:
    cluster = CLUSTERS[name]()
    client = NomadClient(transport=cluster.transport())
    path = snapshot(client, tmp_path / "s.tar.gz")
    snap = open_snapshot(path)
    live = all_frames(client)
    assert_same_frames(live, all_frames(snap))
    if name != "empty":
        assert len(live["allocations"]) > 0 and len(live["jobs"]) > 0


def test_the_logs_frame_says_it_needs_a_live_client(demo_snapshot: Path) -> None:
    with pytest.raises(TypeError, match="NomadClient"):
        nf.logs(open_snapshot(demo_snapshot), job="web")


def test_the_incident_timeline_is_the_same_from_the_snapshot(demo: SimCluster, demo_snapshot: Path) -> None:
    live = incident_timeline(NomadClient(transport=demo.transport()))
    offline = incident_timeline(open_snapshot(demo_snapshot))
    assert len(live) > 0 and (live["severity"].astype(str) == "critical").any() | (live["type"] == "lost").any()
    pd.testing.assert_frame_equal(live, offline)


def test_the_manifest_names_what_was_read(demo: SimCluster, demo_snapshot: Path) -> None:
    snap = open_snapshot(demo_snapshot)
    m = snap.manifest
    assert m["format"] == "nomadlab-snapshot" and m["format_version"] == 1
    taken = datetime.fromisoformat(m["taken_at"].replace("Z", "+00:00"))
    assert taken.tzinfo is not None and m["taken_at"].endswith("Z")
    assert m["address"] == "http://nomad" or m["address"].startswith("http")
    assert m["region"] == demo.region
    assert m["nomad_version"] == demo.version
    assert m["nomadlab_version"] == nomadlab.__version__
    assert m["namespaces"] == sorted(n["Name"] for n in LiveSource(NomadClient(transport=demo.transport()))
                                     .list("namespaces"))
    assert m["unreadable"] == {}
    assert m["counts"]["jobs"] == len(snap.list("jobs"))
    assert snap.time_range is not None and snap.time_range[0] <= snap.time_range[1]
    assert repr(snap) == f"Snapshot({str(demo_snapshot)!r}, taken_at={m['taken_at']!r})"


def test_the_demo_snapshot_is_small_enough_to_attach(demo_snapshot: Path) -> None:
    size = demo_snapshot.stat().st_size
    assert size < 256 * 1024, f"the demo snapshot is {size} bytes"
    with tarfile.open(demo_snapshot, "r:gz") as tar:
        names = tar.getnames()
    assert names[0] == "manifest.json"
    assert {f"lists/{k}.json" for k in LIST_KINDS} | {f"details/{k}.json" for k in DETAIL_KINDS} <= set(names)


@pytest.mark.parametrize(("kind", "namespace", "flt"), [
    ("jobs", "platform", None),
    ("jobs", "*", 'Status == "running"'),
    ("allocations", "*", 'ClientStatus == "failed"'),
    ("allocations", "default", 'JobID == "api" and ClientStatus != "running"'),
    ("nodes", "*", 'Status == "down" or SchedulingEligibility == "ineligible"'),
    ("evaluations", "data", None),
    ("deployments", "*", 'Status contains "fail"'),
    ("node_pools", "*", None),
], ids=lambda v: str(v))
def test_lists_answer_namespaces_and_filters_as_the_live_source(
        demo: SimCluster, demo_snapshot: Path, kind: str, namespace: str, flt: str | None) -> None:
    live = LiveSource(NomadClient(transport=demo.transport())).list(kind, namespace=namespace, filter=flt)  # type: ignore[arg-type]
    got = open_snapshot(demo_snapshot).list(kind, namespace=namespace, filter=flt)  # type: ignore[arg-type]
    assert got == live
    pages = list(open_snapshot(demo_snapshot).pages(kind, namespace=namespace, filter=flt))  # type: ignore[arg-type]
    assert [o for page in pages for o in page] == live


def test_filtered_frames_match(demo: SimCluster, demo_snapshot: Path) -> None:
    client = NomadClient(transport=demo.transport())
    snap = open_snapshot(demo_snapshot)
    pd.testing.assert_frame_equal(nf.allocations(client, job="api", status="failed"),
                                  nf.allocations(snap, job="api", status="failed"))
    pd.testing.assert_frame_equal(nf.jobs(client, filter='Type == "batch"'), nf.jobs(snap, filter='Type == "batch"'))


def test_a_bad_filter_is_an_error_that_quotes_it(demo_snapshot: Path) -> None:
    with pytest.raises(ValueError, match="does not parse"):
        open_snapshot(demo_snapshot).list("jobs", filter="Status ==")
    with pytest.raises(ValueError, match="couldn't find struct field"):
        open_snapshot(demo_snapshot).list("jobs", filter='NoSuchField == "x"')


def test_details_of_keys_not_read_are_errors(demo_snapshot: Path) -> None:
    got = open_snapshot(demo_snapshot).details("job", [("default", "web"), ("default", "no-such-job")])
    assert set(got.objects) == {("default", "web")}
    assert "was not read" in got.errors[("default", "no-such-job")]
    with pytest.raises(ValueError, match="unknown detail kind"):
        open_snapshot(demo_snapshot).details("volumes", [])  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="unknown list kind"):
        open_snapshot(demo_snapshot).list("volumes")  # type: ignore[arg-type]


class _Refusing:
    """A source whose deployments list and node stats are refused, as a token without them is."""

    def __init__(self, inner: LiveSource) -> None:
        self.inner = inner

    def list(self, kind: Any, *, namespace: str = "*", filter: str | None = None) -> list[dict[str, Any]]:
        if kind == "deployments":
            raise NomadAPIError(403, "GET", "http://nomad/v1/deployments", "Permission denied")
        return self.inner.list(kind, namespace=namespace, filter=filter)

    def details(self, kind: Any, keys: Sequence[Hashable]) -> Details:
        if kind == "node_stats":
            raise NomadAPIError(403, "GET", "http://nomad/v1/client/stats", "Permission denied")
        return self.inner.details(kind, keys)


def test_what_could_not_be_read_is_named_and_refused_offline(tmp_path: Path) -> None:
    cluster = _small_cluster()
    path = snapshot(_Refusing(LiveSource(NomadClient(transport=cluster.transport()))), tmp_path / "s.tar.gz")
    snap = open_snapshot(path)
    assert set(snap.manifest["unreadable"]) == {"deployments", "node_stats"}
    assert "403" in snap.manifest["unreadable"]["deployments"]
    with pytest.raises(NotRecordedError, match="deployments are not in the snapshot .*403"):
        snap.list("deployments")
    stats = nf.node_stats(snap)
    assert stats.empty and all("node_stats not in the snapshot" in v for v in stats.attrs["errors"].values())
    assert len(stats.attrs["errors"]) == 3
    pd.testing.assert_frame_equal(nf.jobs(snap), nf.jobs(NomadClient(transport=cluster.transport())))


def test_a_snapshot_of_a_snapshot_is_the_same(demo_snapshot: Path, tmp_path: Path) -> None:
    again = snapshot(open_snapshot(demo_snapshot), tmp_path / "again.tar.gz")
    one, two = open_snapshot(demo_snapshot), open_snapshot(again)
    for key in ("address", "region", "nomad_version"):
        assert one.manifest[key] == two.manifest[key]
    assert_same_frames(all_frames(one), all_frames(two))


def test_an_extracted_snapshot_reads_the_same(demo_snapshot: Path, tmp_path: Path) -> None:
    with tarfile.open(demo_snapshot, "r:gz") as tar:
        tar.extractall(tmp_path / "x", filter="data")
    folder = open_snapshot(tmp_path / "x")
    assert_same_frames(all_frames(open_snapshot(demo_snapshot)), all_frames(folder))
    assert isinstance(open_source(tmp_path / "x"), Snapshot)
    assert isinstance(open_source(demo_snapshot), Snapshot)


def test_the_default_path_carries_the_time(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    path = snapshot(NomadClient(transport=SimCluster(seed=1).transport()))
    assert path.name.startswith("nomad-snapshot-") and path.name.endswith("Z.tar.gz") and path.exists()


# -- bad files ------------------------------------------------------------------------------------

def _rewrite(src: Path, dst: Path, change: dict[str, bytes | None]) -> Path:
    """A copy of snapshot ``src`` with members replaced (bytes) or removed (None)."""
    with tarfile.open(src, "r:gz") as tar:
        members = [(m.name, tar.extractfile(m).read()) for m in tar if m.isfile()]  # type: ignore[union-attr]
    with tarfile.open(dst, "w:gz") as out:
        for name, body in members:
            if name in change:
                if change[name] is None:
                    continue
                body = change[name]  # type: ignore[assignment]
            info = tarfile.TarInfo(name)
            info.size = len(body)
            out.addfile(info, io.BytesIO(body))
    return dst


def _manifest(path: Path) -> dict[str, Any]:
    with tarfile.open(path, "r:gz") as tar:
        return orjson.loads(tar.extractfile("manifest.json").read())  # type: ignore[union-attr,no-any-return]


def test_a_newer_format_says_to_upgrade(demo_snapshot: Path, tmp_path: Path) -> None:
    newer = _rewrite(demo_snapshot, tmp_path / "newer.tar.gz",
                     {"manifest.json": orjson.dumps(dict(_manifest(demo_snapshot), format_version=2))})
    with pytest.raises(OfflineFormatError, match=r"newer.tar.gz is nomadlab-snapshot format version 2.*upgrade"):
        open_snapshot(newer)


def test_not_a_snapshot_is_said(tmp_path: Path) -> None:
    other = tmp_path / "other.tar.gz"
    with tarfile.open(other, "w:gz") as out:
        info = tarfile.TarInfo("manifest.json")
        body = b'{"format": "something-else"}'
        info.size = len(body)
        out.addfile(info, io.BytesIO(body))
    with pytest.raises(OfflineFormatError, match="other.tar.gz is not a nomadlab-snapshot"):
        open_snapshot(other)
    text = tmp_path / "notes.txt"
    text.write_text("hello")
    with pytest.raises(OfflineFormatError, match="notes.txt holds no readable manifest.json"):
        open_snapshot(text)
    with pytest.raises(FileNotFoundError, match="no snapshot at"):
        open_snapshot(tmp_path / "missing.tar.gz")


def test_a_corrupt_member_is_named_and_the_rest_is_read(demo: SimCluster, demo_snapshot: Path, tmp_path: Path) -> None:
    bad = _rewrite(demo_snapshot, tmp_path / "bad.tar.gz", {"lists/nodes.json": b"[{oops", "details/job.json": None})
    with pytest.warns(OfflineDataWarning, match=r"bad.tar.gz: lists/nodes.json, details/job.json could not be read"):
        snap = open_snapshot(bad)
    assert snap.unreadable["nodes"].startswith("corrupt") and "missing" in snap.unreadable["job"]
    with pytest.raises(NotRecordedError, match="nodes are not in the snapshot"):
        snap.list("nodes")
    client = NomadClient(transport=demo.transport())
    assert_same_frames({"evaluations": nf.evaluations(client), "deployments": nf.deployments(client)},
                       {"evaluations": nf.evaluations(snap), "deployments": nf.deployments(snap)})


@pytest.mark.parametrize("keep", [0.97, 0.8, 0.5])
def test_a_truncated_snapshot_warns_and_reads_what_it_holds(demo_snapshot: Path, tmp_path: Path, keep: float) -> None:
    data = demo_snapshot.read_bytes()
    cut = tmp_path / "cut.tar.gz"
    cut.write_bytes(data[: int(len(data) * keep)])
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            snap = open_snapshot(cut)
        except OfflineFormatError as exc:      # cut inside the manifest: nothing can be trusted
            assert "cut.tar.gz holds no readable manifest.json" in str(exc)
            return
    lost = [str(w.message) for w in caught if issubclass(w.category, OfflineDataWarning)]
    assert len(lost) == 1 and "cut.tar.gz" in lost[0] and "cut short" in lost[0]
    whole = open_snapshot(demo_snapshot)
    assert snap.unreadable and all(v.startswith("lost") for v in snap.unreadable.values())
    for kind in LIST_KINDS:
        if kind not in snap.unreadable:
            assert snap.list(kind) == whole.list(kind)  # type: ignore[arg-type]


# -- atomic writes ----------------------------------------------------------------------------------

_CHILD = textwrap.dedent("""
    import gzip, sys, time
    from pathlib import Path
    from nomadlab.client import NomadClient
    from nomadlab.offline import snapshot
    from nomadlab.sim.scenarios import build_scenario

    write = gzip.GzipFile.write
    def slow(self, data):
        time.sleep(0.02)
        return write(self, data)
    gzip.GzipFile.write = slow
    client = NomadClient(transport=build_scenario("default").transport())
    print("ready", flush=True)
    snapshot(client, Path(sys.argv[1]))
    print("done", flush=True)
""")


@pytest.mark.slow
@pytest.mark.parametrize("delay", [0.0, 0.05, 0.2])
def test_a_write_killed_midway_leaves_the_previous_snapshot(tmp_path: Path, delay: float) -> None:
    target = tmp_path / "cluster.tar.gz"
    snapshot(NomadClient(transport=_small_cluster().transport()), target)
    before = target.read_bytes()
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    child = subprocess.Popen([sys.executable, "-c", _CHILD, str(target)], stdout=subprocess.PIPE, env=env, cwd=ROOT)
    try:
        deadline = time.monotonic() + 60
        while not list(tmp_path.glob(".cluster.tar.gz.*.tmp")):
            assert child.poll() is None, "the writer ended before it wrote anything"
            assert time.monotonic() < deadline
            time.sleep(0.005)
        time.sleep(delay)
        child.send_signal(signal.SIGKILL)
        child.wait(timeout=30)
    finally:
        if child.poll() is None:
            child.kill()
    assert child.returncode == -signal.SIGKILL, "the writer finished before it was killed: slow it more"
    # killed while the temporary file was being written: it is left (named as temporary), and
    # the snapshot at the path is the previous one, byte for byte
    assert list(tmp_path.glob(".cluster.tar.gz.*.tmp")), "killed after the rename: slow the writer more"
    assert target.read_bytes() == before
    snap = open_snapshot(target)
    assert snap.unreadable == {} and len(snap.list("jobs")) == 3
    assert isinstance(open_source(target), Snapshot)
