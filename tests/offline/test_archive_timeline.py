"""The demo's incident timeline from a generated debug archive agrees with the live one, for what archives hold.

What archives hold: the deployments, evaluations (with their placement failures) and the allocation
stubs (with their task states) of every namespace captured. So the timeline rows of kinds
``deployment``, ``evaluation``, ``alloc_status`` and ``task_event`` are the live ones, row for row
and column for column (``details`` included), at the instant of the archive's last interval.
Job versions, scaling events and node events need job versions, scaling status and full nodes,
which an archive captured without an event stream lacks: those kinds have no row, and the frames
behind them say why (a ``DebugArchiveWarning``). With ``-event-topic``, a node whose version's
event the stream still held gives its node rows, equal to the live ones.
"""

from __future__ import annotations

import warnings
from pathlib import Path

import pandas as pd
import pytest

from nomadlab.analysis import incident_timeline
from nomadlab.client import NomadClient
from nomadlab.offline.archive import DebugArchiveWarning, open_debug_archive
from nomadlab.sim.debug_archive import write_debug_archive
from nomadlab.sim.scenarios import build_scenario

Timelines = tuple[pd.DataFrame, pd.DataFrame, list[str]]
HELD = ["deployment", "evaluation", "alloc_status", "task_event"]
LACKING = ["job_version", "scaling", "node_event", "node_status"]


@pytest.fixture(scope="module")
def timelines(tmp_path_factory: pytest.TempPathFactory) -> Timelines:
    cluster = build_scenario("demo")
    path = write_debug_archive(cluster, tmp_path_factory.mktemp("archive"), intervals=2, namespace="*")
    live = incident_timeline(NomadClient(transport=cluster.transport()), routine=True)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        archive = open_debug_archive(path)
        offline = incident_timeline(archive, routine=True)
    said = [str(w.message) for w in caught if issubclass(w.category, DebugArchiveWarning)]
    return live, offline, said


def _rows(frame: pd.DataFrame, kinds: list[str]) -> pd.DataFrame:
    return frame[frame["kind"].isin(kinds)].reset_index(drop=True)


def test_rows_of_what_archives_hold_equal_the_live_ones(timelines: Timelines) -> None:
    live, offline, _ = timelines
    want, got = _rows(live, HELD), _rows(offline, HELD)
    assert set(want["kind"]) == set(HELD)               # the demo has rows of each
    assert (want["severity"] >= "error").any()          # ... the incident among them
    pd.testing.assert_frame_equal(got, want)


def test_kinds_archives_lack_are_absent_and_said(timelines: Timelines) -> None:
    live, offline, said = timelines
    assert set(_rows(live, LACKING)["kind"]) == set(LACKING)
    assert _rows(offline, LACKING).empty
    assert any("no job versions" in s for s in said)
    assert any("no full nodes" in s for s in said)
    assert any("no scaling" in s for s in said)


def test_the_incident_window_agrees(timelines: Timelines) -> None:
    live, offline, _ = timelines
    end = live["time"].max()
    window = {"since": end - pd.Timedelta(minutes=60)}
    errors_live = live[(live["time"] >= window["since"]) & (live["severity"] >= "error") & live["kind"].isin(HELD)]
    errors_off = offline[(offline["time"] >= window["since"]) & (offline["severity"] >= "error")]
    assert len(errors_live) > 0
    pd.testing.assert_frame_equal(errors_off.reset_index(drop=True), errors_live.reset_index(drop=True))


def test_with_the_event_stream_the_nodes_it_still_held_add_their_rows(tmp_path: Path) -> None:
    cluster = build_scenario("demo")
    path = write_debug_archive(cluster, tmp_path, intervals=2, namespace="*", event_topics=["*"])
    live = incident_timeline(NomadClient(transport=cluster.transport()), routine=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DebugArchiveWarning)
        offline = incident_timeline(open_debug_archive(path), routine=True)
    pd.testing.assert_frame_equal(_rows(offline, HELD), _rows(live, HELD))
    node_kinds = ["node_event", "node_status"]
    got = _rows(offline, node_kinds)
    assert "down" in set(got["type"])                  # the incident's node, from its Node event
    want = _rows(live, node_kinds)
    pd.testing.assert_frame_equal(got, want[want["node_id"].isin(set(got["node_id"]))].reset_index(drop=True))
