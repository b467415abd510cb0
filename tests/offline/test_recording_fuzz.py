"""Mangled recordings: the reader and the replay read what they can, and fail only with OfflineFormatError."""

from __future__ import annotations

import shutil
import warnings
from pathlib import Path
from typing import Any

import orjson
import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

import nomadlab.frames as nf
from nomadlab.offline import OfflineDataWarning, OfflineFormatError, open_recording
from nomadlab.sim import SimCluster
from nomadlab.sim.scenarios import group, job_spec, task

from ._recorder import Recorder, keep_every_event

_json = st.recursive(
    st.none() | st.booleans() | st.integers(-2**63, 2**63 - 1) | st.text(max_size=6),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner, max_size=3),
    max_leaves=12,
)
_topics = st.sampled_from(["Job", "Allocation", "Node", "Evaluation", "Deployment", "NodePool", "ScaleStatus", "X"])
_event = st.fixed_dictionaries({
    "Topic": _topics, "Type": st.sampled_from(["JobRegistered", "JobDeregistered", "NodeDeregistration",
                                               "AllocationUpdated", "NodePoolDeleted", "T"]),
    "Key": st.sampled_from(["alpha", "web", "n0", ""]) | st.text(max_size=4),
    "Namespace": st.sampled_from(["default", ""]), "Index": st.integers(0, 10_000) | _json,
    "Payload": st.dictionaries(_topics, _json | st.fixed_dictionaries(
        {"ID": st.sampled_from(["alpha", "x"]), "ModifyIndex": st.integers(0, 10_000) | _json}, optional={
            "Namespace": _json, "JobID": _json, "TaskGroups": _json, "Version": _json, "Status": _json}), max_size=2),
})
_line = (st.binary(max_size=30)
         | _json.map(orjson.dumps)
         | st.tuples(st.integers(0, 2**62) | _json, _event).map(
             lambda t: orjson.dumps({"time": t[0], "received": 0, "event": t[1]}))
         | st.tuples(st.integers(0, 2**62), _event).map(
             lambda t: orjson.dumps({"time": t[0], "received": 0, "read": t[1]})))


class Folder:
    def __init__(self, path: Path) -> None:
        self.path = path

    def __repr__(self) -> str:
        return f"Folder({self.path.name})"


@pytest.fixture(scope="module")
def recorded(tmp_path_factory: pytest.TempPathFactory) -> Folder:
    c = SimCluster(seed=9)
    keep_every_event(c)
    c.add_node(name="n0", datacenter="dc1", cpu_mhz=4000, cores=4, memory_mb=8192, disk_mb=20000, address="10.5.0.1")
    folder = tmp_path_factory.mktemp("fuzzrec") / "r"
    rec = Recorder(c, folder).start()
    c.register_job(job_spec("alpha", [group("g", [task("t", cpu=100, memory_mb=64)], count=2)], datacenters=["dc1"]))
    c.advance(20)
    c.scale_job("default", "alpha", group="g", count=3, message="more")
    c.advance(20)
    rec.stop()
    return Folder(folder)


def _use(folder: Path) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", OfflineDataWarning)
        try:
            rec = open_recording(folder)
        except OfflineFormatError as exc:
            assert "recording.json" in str(exc) or str(folder) in str(exc)
            return
        for source in (rec.latest(), rec.at(rec.time_range[0]) if rec.time_range else rec.latest()):
            for frame in (nf.jobs, nf.allocations, nf.nodes, nf.job_versions, nf.scaling_events):
                got = frame(source)
                assert list(got.columns) == nf.schema(frame.__name__).names


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture],
          phases=[Phase.explicit, Phase.generate, Phase.shrink])
@given(lines=st.lists(_line, min_size=1, max_size=6), at=st.floats(0, 1))
def test_segments_with_foreign_lines(recorded: Folder, tmp_path: Path, lines: list[bytes], at: float) -> None:
    folder = tmp_path / "r"
    shutil.rmtree(folder, ignore_errors=True)
    shutil.copytree(recorded.path, folder)
    (segment,) = sorted((folder / "events").glob("segment-*.ndjson"))
    body = segment.read_bytes().splitlines(keepends=True)
    cut = int(at * len(body))
    junk = [line.replace(b"\n", b" ") + b"\n" for line in lines]
    segment.write_bytes(b"".join(body[:cut] + junk + body[cut:]))
    _use(folder)


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture],
          phases=[Phase.explicit, Phase.generate, Phase.shrink])
@given(header=st.dictionaries(st.sampled_from(["format", "format_version", "snapshot", "start_index", "topics"]),
                              _json, max_size=5))
def test_headers_of_any_shape(recorded: Folder, tmp_path: Path, header: dict[str, Any]) -> None:
    folder = tmp_path / "r"
    shutil.rmtree(folder, ignore_errors=True)
    shutil.copytree(recorded.path, folder)
    path = folder / "recording.json"
    path.write_bytes(orjson.dumps({**orjson.loads(path.read_bytes()), **header}))
    try:
        _use(folder)
    except (FileNotFoundError, IsADirectoryError, NotADirectoryError) as exc:   # "snapshot" names no file
        assert "snapshot" in str(exc) or str(folder) in str(exc)
