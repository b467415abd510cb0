"""``nomadlab inspect PATH``: snapshots, recordings, debug archives and Parquet histories described."""

from __future__ import annotations

import json
import re
import tarfile
from pathlib import Path

import pandas as pd
import pytest

from nomadlab.cli import main
from nomadlab.history import write_events, write_usage
from nomadlab.offline.inspect import inspect_path
from nomadlab.sim import SimCluster
from nomadlab.sim.debug_archive import write_debug_archive

SNAPSHOT = {"format": "nomadlab-snapshot", "format_version": 1, "taken_at": "2026-01-01T12:00:00Z",
            "address": "https://nomad.example:4646", "region": "global", "nomad_version": "1.9.3",
            "counts": {"jobs": 31, "allocations": 412, "nodes": 40},
            "unreadable": {"alloc_stats/9f1c": "node down: connection refused"}}
RECORDING = {"format": "nomadlab-recording", "format_version": 2, "started_at": "2026-01-01T10:00:00Z",
             "ended_at": "2026-01-01T11:30:00Z", "address": "http://127.0.0.1:4646",
             "topics": ["Job", "Allocation"], "segments": ["seg-0000", "seg-0001"], "events": 1523}


def _run(capsys: pytest.CaptureFixture[str], path: Path) -> tuple[int, str, str]:
    code = main(["inspect", str(path)])
    out = capsys.readouterr()
    return code, out.out, out.err


def test_snapshot_folder_and_manifest_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "snap").mkdir()
    (tmp_path / "snap" / "manifest.json").write_text(json.dumps(SNAPSHOT))
    for path in (tmp_path / "snap", tmp_path / "snap" / "manifest.json"):
        code, out, _ = _run(capsys, path)
        assert code == 0
        assert "nomadlab snapshot" in out and "nomadlab-snapshot version 1" in out
        assert "2026-01-01T12:00:00+00:00" in out and "https://nomad.example:4646" in out
        assert re.search(r"allocations +412\n", out) and "1.9.3" in out
        assert "alloc_stats/9f1c: node down" in out
    found = inspect_path(tmp_path / "snap")
    assert found.kind == "snapshot" and found.start == found.end == pd.Timestamp("2026-01-01T12:00:00Z")


def test_snapshot_packed_in_a_tarball(tmp_path: Path) -> None:
    (tmp_path / "snap").mkdir()
    (tmp_path / "snap" / "manifest.json").write_text(json.dumps(SNAPSHOT))
    packed = tmp_path / "snap.tar.gz"
    with tarfile.open(packed, "w:gz") as tar:
        tar.add(tmp_path / "snap", arcname="snap")
    assert inspect_path(packed).kind == "snapshot"


def test_recording(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "rec").mkdir()
    (tmp_path / "rec" / "recording.json").write_text(json.dumps(RECORDING))
    code, out, _ = _run(capsys, tmp_path / "rec")
    assert code == 0 and "nomadlab recording" in out
    assert "2026-01-01T10:00:00+00:00 → 2026-01-01T11:30:00+00:00 (0 days 01:30:00)" in out
    assert "segments" in out and "1523" in out and "Job, Allocation" in out


def test_a_manifest_of_another_format_is_not_taken_for_a_snapshot(tmp_path: Path,
                                                                   capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "x").mkdir()
    (tmp_path / "x" / "manifest.json").write_text(json.dumps({"format": "something-else"}))
    code, _, err = _run(capsys, tmp_path / "x")
    assert code == 2 and "not something nomadlab can inspect" in err and "nomadlab-snapshot" in err


def test_debug_archive(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    cluster = SimCluster.default()
    start = cluster.now_ns()
    path = write_debug_archive(cluster, tmp_path, intervals=3, event_topics=["Job"],
                               truncate=["interval/0002/allocations.json"])
    code, out, _ = _run(capsys, path)
    assert code == 0 and "nomad operator debug archive nomad-debug-" in out
    first, last = pd.Timestamp(start, unit="ns", tz="UTC"), pd.Timestamp(start + 60 * 10**9, unit="ns", tz="UTC")
    assert f"{first.isoformat()} → {last.isoformat()}" in out
    assert re.search(r"intervals +3 \(0000-0002", out) and "Nomad 1.4+" in out and re.search(r"events +\d+ \(Job", out)
    assert "interval/0002/allocations.json: is cut short" in out
    assert "interval/{0000,0001,0002}/license.json" in out         # grouped across intervals
    assert "usage stats" in out                                    # what it does not hold


def test_history_root(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from nomadlab.analysis.usage import sample_once
    from nomadlab.client import NomadClient

    cluster = SimCluster.default()
    usage = sample_once(NomadClient(transport=cluster.transport()))
    write_usage(usage, tmp_path, cluster="dev")
    write_usage(usage, tmp_path, cluster="dev")
    write_events([{"Topic": "Job", "Type": "JobRegistered", "Key": "a", "Index": 1, "Namespace": "default",
                   "Payload": {"Job": {"ID": "a", "SubmitTime": cluster.now_ns() - 10**9}}}], tmp_path, cluster="dev")
    (tmp_path / "usage" / "cluster=dev" / "date=2020-01-01").mkdir()
    (tmp_path / "usage" / "cluster=dev" / "date=2020-01-01" / "part-0.parquet").write_bytes(b"garbage")
    code, out, _ = _run(capsys, tmp_path)
    assert code == 0 and "nomadlab Parquet history" in out
    assert re.search(rf"usage dev +{2 * len(usage)} rows in 2 file\(s\)", out)
    assert re.search(r"events dev +1 rows in 1 file\(s\)", out)
    assert "part-0.parquet: not a readable Parquet file" in out
    found = inspect_path(tmp_path)
    assert found.start == pd.Timestamp(cluster.now_ns() - 10**9, unit="ns", tz="UTC")
    assert found.end == usage["time"].max()


def test_what_cannot_be_inspected(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = _run(capsys, tmp_path / "missing")
    assert code == 2 and "does not exist" in err
    (tmp_path / "notes.txt").write_text("hello")
    code, _, err = _run(capsys, tmp_path / "notes.txt")
    assert code == 2 and "debug archive" in err
