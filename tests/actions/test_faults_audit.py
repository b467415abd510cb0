"""Writes are never retried (faulty simulator), and the audit log survives a crash mid-write."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from nomadlab import actions
from nomadlab.audit import AUDIT_COLUMNS, append_record, audit_log, default_path
from nomadlab.client import NomadClient
from nomadlab.errors import NomadTransportError, ServiceUnavailableError
from nomadlab.sim import SimCluster
from nomadlab.sim.faults import Fault


def _count(cluster: SimCluster) -> int:
    return int(cluster.state.jobs[("default", "web")]["TaskGroups"][0]["Count"])


def test_a_5xx_on_the_write_is_not_retried(cluster: SimCluster, client: NomadClient) -> None:
    plan = actions.scale(client, "web", "frontend", 5)
    fault = Fault("/v1/job/web/scale", kind="error", status=503, methods=frozenset({"POST"}))
    cluster.faults.add(fault)
    version = cluster.state.jobs[("default", "web")]["Version"]
    with pytest.raises(ServiceUnavailableError):
        plan.apply(confirm=True, advance=cluster.advance)
    assert cluster.faults.fired(fault) == 1
    assert cluster.state.jobs[("default", "web")]["Version"] == version and _count(cluster) == 3
    record = audit_log().iloc[-1]
    assert record["outcome"] == "error" and "ServiceUnavailableError" in record["detail"]


def test_a_lost_reply_is_not_resent_and_the_write_applied_once(cluster: SimCluster, client: NomadClient) -> None:
    plan = actions.scale(client, "web", "frontend", 5)
    fault = Fault("/v1/job/web/scale", kind="reset", methods=frozenset({"POST"}), times=1)
    cluster.faults.add(fault)
    version = cluster.state.jobs[("default", "web")]["Version"]
    with pytest.raises(NomadTransportError):
        plan.apply(confirm=True, advance=cluster.advance)
    assert cluster.faults.fired(fault) == 1
    assert cluster.state.jobs[("default", "web")]["Version"] == version + 1 and _count(cluster) == 5


def test_records_are_complete(cluster: SimCluster, client: NomadClient, audit_path: Path) -> None:
    actions.scale(client, "web", "frontend", 4, message="more").apply(confirm=True, advance=cluster.advance, step=2.0)
    raw = json.loads(audit_path.read_text().splitlines()[0])
    assert set(raw) == set(AUDIT_COLUMNS) - {"torn"}
    frame = audit_log()
    assert list(frame.columns) == list(AUDIT_COLUMNS) and len(frame) == 1
    row = frame.iloc[0]
    assert (row["action"], row["target"], row["namespace"], row["outcome"]) == (
        "scale", "web/frontend", "default", "healthy")
    assert row["before"] == {"count": 3} and row["after"] == {"count": 4}
    assert row["address"] == "http://127.0.0.1:4646" and row["accessor_id"] == "acls-disabled"
    assert row["eval_id"] and not row["torn"] and row["time"].tzinfo is not None


_WRITER = """
import os, signal, sys
from nomadlab.audit import append_record
path = sys.argv[1]
for i in range(3):
    append_record({"action": "scale", "target": f"web/{i}", "outcome": "healthy"}, path)
fd = os.open(path, os.O_WRONLY | os.O_APPEND)
os.write(fd, b'{"action": "stop", "target": "half-writ')
os.kill(os.getpid(), signal.SIGKILL)
"""


def test_a_crash_mid_write_keeps_earlier_records(tmp_path: Path) -> None:
    path = tmp_path / "crash.jsonl"
    done = subprocess.run([sys.executable, "-c", _WRITER, str(path)], cwd=Path(__file__).parents[2])
    assert done.returncode == -9  # killed mid-write
    frame = audit_log(path)
    assert list(frame["target"][:3]) == ["web/0", "web/1", "web/2"]
    assert list(frame["torn"]) == [False, False, False, True]
    assert "half-writ" in frame["detail"].iloc[3]
    append_record({"action": "gc", "target": "cluster", "outcome": "done"}, path)
    after = audit_log(path)
    assert list(after["torn"]) == [False, False, False, True, False]
    assert after["target"].iloc[4] == "cluster"


def test_default_path_follows_the_environment(tmp_path: Path) -> None:
    assert default_path({"NOMADLAB_AUDIT_LOG": str(tmp_path / "x.jsonl")}) == tmp_path / "x.jsonl"
    assert default_path({"XDG_STATE_HOME": str(tmp_path)}) == tmp_path / "nomadlab" / "audit.jsonl"
    assert default_path({}) == Path.home() / ".local" / "state" / "nomadlab" / "audit.jsonl"
    assert audit_log(tmp_path / "missing.jsonl").empty


def test_the_exported_reader_is_this_one(audit_path: Path) -> None:
    import nomadlab

    append_record({"action": "gc", "target": "cluster"})
    assert list(nomadlab.audit_log(audit_path)["action"]) == ["gc"]
