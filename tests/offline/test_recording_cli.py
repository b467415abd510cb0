"""``nomadlab snapshot`` and ``nomadlab record`` against a simulated cluster served on a socket."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import orjson
import pytest

from nomadlab.cli import main
from nomadlab.offline import open_recording, open_snapshot
from nomadlab.sim import SimCluster
from nomadlab.sim.scenarios import group, job_spec, task

from ._recorder import keep_every_event

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.wire


def _cluster() -> SimCluster:
    c = SimCluster(seed=8)
    keep_every_event(c)
    c.add_node(name="n0", datacenter="dc1", cpu_mhz=4000, cores=4, memory_mb=8192, disk_mb=20000,
               address="10.4.0.1")
    c.register_job(job_spec("alpha", [group("g", [task("t", cpu=100, memory_mb=64)], count=2)], datacenters=["dc1"]))
    c.advance(20)
    return c


def test_snapshot_command_writes_the_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                          capsys: pytest.CaptureFixture[str]) -> None:
    c = _cluster()
    with c.serve(port=0, ticker=False) as url:
        monkeypatch.setenv("NOMAD_ADDR", url)
        assert main(["snapshot", "--out", str(tmp_path / "s.tar.gz")]) == 0
    out = capsys.readouterr()
    assert out.out.strip() == str(tmp_path / "s.tar.gz")
    assert "wrote" in out.err and "2 allocations" in out.err
    snap = open_snapshot(tmp_path / "s.tar.gz")
    assert snap.manifest["address"] == url and len(snap.list("allocations")) == 2


@pytest.mark.slow
def test_snapshot_command_says_what_went_wrong(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("NOMAD_ADDR", "http://127.0.0.1:9")      # nothing listens there
    monkeypatch.setenv("NOMAD_TOKEN", "s3cr3t-token")
    code = main(["snapshot", "--out", str(tmp_path / "s.tar.gz")])
    err = capsys.readouterr().err
    assert code == 1
    assert "nothing could be read from the cluster" in err and "check NOMAD_ADDR" in err
    assert "s3cr3t-token" not in err
    assert not (tmp_path / "s.tar.gz").exists()


def test_record_command_runs_until_sigterm_and_stops_cleanly(tmp_path: Path) -> None:
    c = _cluster()
    folder = tmp_path / "rec"
    with c.serve(port=0, ticker=False) as url:
        env = {k: v for k, v in os.environ.items() if not k.startswith("NOMAD_")}
        env.update(NOMAD_ADDR=url, PYTHONPATH=str(ROOT))
        child = subprocess.Popen([sys.executable, "-m", "nomadlab.cli", "record", str(folder)],
                                 stderr=subprocess.PIPE, text=True, env=env, cwd=ROOT)
        try:
            deadline = time.monotonic() + 60
            while not (folder / "recording.json").exists():
                assert child.poll() is None, child.stderr.read() if child.stderr else ""
                assert time.monotonic() < deadline
                time.sleep(0.05)
            for n in range(3):
                c.register_job(job_spec(f"j{n}", [group("g", [task("t", cpu=50, memory_mb=32)])], datacenters=["dc1"]))
                c.advance(10)
            last = c.events.frames[-1][0]
            while True:
                try:
                    if orjson.loads((folder / "checkpoint.json").read_bytes())["index"] >= last:
                        break
                except (FileNotFoundError, orjson.JSONDecodeError):
                    pass
                assert time.monotonic() < deadline, "the recorder did not catch up"
                time.sleep(0.05)
            child.send_signal(signal.SIGTERM)
            _, err = child.communicate(timeout=30)
        finally:
            if child.poll() is None:
                child.kill()
    assert child.returncode == 0, err
    assert "nomadlab record: stopped;" in err and "last index" in err
    rec = open_recording(folder)
    start = int(rec.manifest["start_index"])
    assert len(rec.events) == sum(len(evs) for i, evs in c.events.frames if i >= start) > 0
    assert not list((folder / "events").glob(".*.tmp"))
