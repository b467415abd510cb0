"""The three notebooks run unchanged on the offline sources: a snapshot taken after the demo's
incident, a recording that followed the demo from its start, and a ``nomad operator debug``
archive of it. The story a reader gets from the snapshot and the recording is the one the live
cluster tells; the archive tells what archives hold."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from nomadlab.offline import snapshot
from nomadlab.sim import SimCluster
from nomadlab.sim.clock import ManualClock
from nomadlab.sim.debug_archive import DebugCapture
from nomadlab.sim.scenarios import SCENARIOS
from tests.offline._recorder import Recorder, client_of, keep_every_event
from tests.test_notebooks import ALL, assert_ran_clean, cell, execute, kernel_env, text

pytestmark = [pytest.mark.notebook, pytest.mark.slow, pytest.mark.timeout(1800)]

# What the notebooks say, cell by cell: the same from every source that holds the cluster's whole
# state (the live demo, a snapshot, a recording). Usage is not part of that state (Nomad keeps no
# history of it: the live demo samples it as it is built), so the tables of used capacity differ.
STORY = {
    "explore.ipynb": ["jobs", "nodes", "allocations", "blocked-evals", "pending-summary", "restarts"],
    "capacity-planning.ipynb": ["what-if"],
    "incident-postmortem.ipynb": ["window", "culprit", "version-diff", "failures", "down-node", "impact"],
}


@pytest.fixture(scope="module")
def sources(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """The demo built with a recorder following it from its first instant; then a snapshot and a
    debug archive (every namespace, the event stream captured) of where it ended."""
    tmp = tmp_path_factory.mktemp("offline-sources")
    cluster = SimCluster(clock=ManualClock(), seed=0)
    keep_every_event(cluster)
    recorders: list[Recorder] = []

    def observe(c: SimCluster) -> None:
        if not recorders:
            recorders.append(Recorder(c, tmp / "recording").start())

    SCENARIOS["demo"](cluster, observe=(3600, observe))
    recorders[0].stop()
    snap = snapshot(client_of(cluster), tmp / "demo.tar.gz")
    capture = DebugCapture(cluster, namespace="*", event_topics=["*"])
    capture.capture_interval()
    (tmp / "debug").mkdir()
    archive = capture.write(tmp / "debug")
    return {"snapshot": snap, "recording": tmp / "recording", "archive": archive}


@pytest.fixture(scope="module")
def runs(sources: dict[str, Path], tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict[str, Any]]:
    env = kernel_env(tmp_path_factory.mktemp("kernel"), None)
    return {kind: {nb.name: execute(nb, env, SOURCE=str(path)) for nb in ALL} for kind, path in sources.items()}


@pytest.fixture(scope="module")
def embedded(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    env = kernel_env(tmp_path_factory.mktemp("kernel-live"), None)
    return {nb.name: execute(nb, env) for nb in ALL}


@pytest.mark.parametrize("kind", ["snapshot", "recording", "archive"])
def test_every_notebook_runs_on_each_offline_source(runs: dict[str, dict[str, Any]], kind: str,
                                                    sources: dict[str, Path]) -> None:
    for name, nb in runs[kind].items():
        assert_ran_clean(nb)
        banner = text(cell(nb, "connect"))
        assert str(sources[kind].name) in banner, (kind, name, banner)
        # what needs a running cluster says so in one line instead of failing
        if name == "explore.ipynb":
            for tag in ("logs", "live-view", "job-control"):
                assert "live" in text(cell(nb, tag)).lower(), (kind, tag)


def same(nb: Any, other: Any, tag: str) -> bool:
    """Whether cell ``tag`` showed the same in both (a styled table's text is its object's repr:
    its address differs; its HTML is compared too)."""
    def shown(n: Any) -> tuple[str, str]:
        c = cell(n, tag)
        html = "".join(str(o.data.get("text/html", "")) for o in c.outputs
                       if o.output_type in ("execute_result", "display_data"))
        return re.sub(r" at 0x[0-9a-f]+>", ">", text(c)), re.sub(r"T_[0-9a-f_]+", "T_", html)
    return shown(nb) == shown(other)


@pytest.mark.parametrize("kind", ["snapshot", "recording"])
def test_a_snapshot_and_a_recording_tell_the_live_story(runs: dict[str, dict[str, Any]], kind: str,
                                                        embedded: dict[str, Any]) -> None:
    for name, tags in STORY.items():
        for tag in tags:
            assert same(runs[kind][name], embedded[name], tag), (kind, name, tag)


def test_an_archive_tells_what_archives_hold(runs: dict[str, dict[str, Any]]) -> None:
    # what the archive lacks is said to the reader, as a note beside the result it qualifies
    notes = "".join(text(c) for nb in runs["archive"].values() for c in nb.cells if c.cell_type == "code")
    assert "Note about the data:" in notes and "usage" in notes
    nb = runs["archive"]["incident-postmortem.ipynb"]
    assert "job: api (default): its deployment of version 2 failed" in text(cell(nb, "culprit"))
    assert "client-dc1-05" in str(cell(nb, "down-node").outputs)
