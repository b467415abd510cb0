"""Recordings: at(t) equal to the simulator's own state at t, resume without loss or duplicates,
segments, bad files, and the incident timeline from live, snapshot and recording."""

from __future__ import annotations

import collections
import gzip
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson
import pandas as pd
import pytest

import nomadlab.frames as nf
from nomadlab.analysis import incident_timeline
from nomadlab.offline import (
    OfflineDataWarning,
    OfflineFormatError,
    Recording,
    open_recording,
    open_snapshot,
    open_source,
    record,
    snapshot,
)
from nomadlab.offline.recording import read_events
from nomadlab.sim import ManualClock, SimCluster
from nomadlab.sim.faults import Fault
from nomadlab.sim.scenarios import DEMO_HISTORY_S, SCENARIOS, group, job_spec, task

from ._frames import all_frames, assert_same_frames
from ._recorder import Recorder, client_of, keep_every_event

NS = 1_000_000_000
EVERY_S = 47 * 60            # instants off the scenario's own schedule (its actions fall on whole hours and halves)


@dataclass
class RecordedDemo:
    cluster: SimCluster
    folder: Path
    start_ns: int
    frames: dict[int, dict[str, pd.DataFrame]]     # the simulator's own frames at each instant
    timeline: pd.DataFrame                          # its incident timeline at the end
    after: Path                                     # a snapshot taken at the end


@pytest.fixture(scope="module")
def recorded_demo(tmp_path_factory: pytest.TempPathFactory) -> RecordedDemo:
    """The demo built with a recorder following it from its first instant, and the
    simulator's own frames captured at every ``EVERY_S`` on the way (the build stands still
    while they are read)."""
    folder = tmp_path_factory.mktemp("rec") / "demo"
    cluster = SimCluster(clock=ManualClock(), seed=0)
    keep_every_event(cluster)
    client = client_of(cluster)
    frames: dict[int, dict[str, pd.DataFrame]] = {}
    recorders: list[Recorder] = []

    def observe(c: SimCluster) -> None:
        if not recorders:
            recorders.append(Recorder(c, folder).start())
        frames[c.now_ns()] = all_frames(client)

    SCENARIOS["demo"](cluster, observe=(EVERY_S, observe))
    recorders[0].stop()
    after = snapshot(client, folder.parent / "after.tar.gz")
    return RecordedDemo(cluster, folder, min(frames), frames, incident_timeline(client), after)


def test_at_each_instant_every_frame_equals_the_simulators(recorded_demo: RecordedDemo) -> None:
    rec = open_recording(recorded_demo.folder)
    instants = sorted(recorded_demo.frames)
    incident = recorded_demo.start_ns + (DEMO_HISTORY_S - 55 * 60) * NS
    assert len(instants) >= 7 and any(incident < t for t in instants), "no instant inside the incident"
    for t in instants:
        source = rec.at(pd.Timestamp(t, tz="UTC"))
        assert source.manifest["format"] == "nomadlab-recording"
        assert source.time_range == (pd.Timestamp(t, tz="UTC").to_pydatetime(),) * 2
        assert repr(source).startswith(f"StoredSource(the recording {recorded_demo.folder} at ")
        got = all_frames(source)
        assert_same_frames(recorded_demo.frames[t], got, skip=("node_stats", "alloc_stats"))


def test_the_latest_state_and_the_end_equal_the_simulator(recorded_demo: RecordedDemo) -> None:
    rec = open_recording(recorded_demo.folder)
    end = pd.Timestamp(recorded_demo.start_ns + DEMO_HISTORY_S * NS, tz="UTC")
    live = all_frames(open_snapshot(recorded_demo.after))
    assert_same_frames(live, all_frames(rec), skip=("node_stats", "alloc_stats"))
    assert_same_frames(live, all_frames(rec.at(end)), skip=("node_stats", "alloc_stats"))


def test_the_incident_timeline_is_the_same_live_from_a_snapshot_and_from_the_recording(
        recorded_demo: RecordedDemo) -> None:
    live = recorded_demo.timeline
    assert (live["type"] == "lost").any() and (live["kind"] == "deployment").any()
    end = pd.Timestamp(recorded_demo.start_ns + DEMO_HISTORY_S * NS, tz="UTC")
    pd.testing.assert_frame_equal(live, incident_timeline(open_snapshot(recorded_demo.after)))
    pd.testing.assert_frame_equal(live, incident_timeline(open_recording(recorded_demo.folder).at(end)))


def test_what_the_stream_does_not_carry_is_said(recorded_demo: RecordedDemo) -> None:
    rec = open_recording(recorded_demo.folder)
    source = rec.at(pd.Timestamp(sorted(recorded_demo.frames)[3], tz="UTC"))
    stats = nf.node_stats(source)
    assert stats.empty and stats.attrs["errors"]
    assert all("not in the event stream" in v for v in stats.attrs["errors"].values())
    assert "usage stats are not in the event stream" in source.unreadable["alloc_stats"]
    assert set(rec.notes) == {"job_scale", "namespaces"}
    usage = rec.usage()
    assert usage.empty and "without usage_every" in usage.attrs["errors"]["usage"]


def test_the_recording_folder_is_recognisable(recorded_demo: RecordedDemo) -> None:
    folder = recorded_demo.folder
    header = orjson.loads((folder / "recording.json").read_bytes())
    assert header["format"] == "nomadlab-recording" and header["format_version"] == 1
    assert header["snapshot"] == "snapshot.tar.gz" and (folder / "snapshot.tar.gz").is_file()
    rec = open_source(folder)
    assert isinstance(rec, Recording)
    checkpoint = orjson.loads((folder / "checkpoint.json").read_bytes())
    assert checkpoint["index"] == rec.events[-1].index == recorded_demo.cluster.events.frames[-1][0]
    assert checkpoint["events"] == len(rec.events)
    assert rec.time_range is not None
    assert rec.time_range[0] == pd.Timestamp(recorded_demo.start_ns, tz="UTC").to_pydatetime()
    assert repr(rec).startswith(f"Recording({str(folder)!r}, {len(rec.events)} events, ")


def test_every_event_is_recorded_once(recorded_demo: RecordedDemo) -> None:
    rec = open_recording(recorded_demo.folder)
    start = int(rec.manifest["start_index"])
    sent = [orjson.loads(e.raw) for i, evs in recorded_demo.cluster.events.frames if i >= start for e in evs]
    got = [dict(te.event) for te in rec.events]
    assert got == sent
    assert max(Counter(te.ident for te in rec.events).values()) == 1


def test_before_the_start_there_is_nothing_to_show(recorded_demo: RecordedDemo) -> None:
    rec = open_recording(recorded_demo.folder)
    with pytest.raises(ValueError, match="nothing was recorded before it"):
        rec.at(pd.Timestamp(recorded_demo.start_ns - NS, tz="UTC"))


# -- resuming ---------------------------------------------------------------------------------------

def _cluster() -> SimCluster:
    c = SimCluster(seed=5)
    keep_every_event(c)
    for i in range(3):
        c.add_node(name=f"n{i}", datacenter="dc1", cpu_mhz=4000, cores=4, memory_mb=8192, disk_mb=20000,
                   address=f"10.3.0.{i}")
    c.register_job(job_spec("alpha", [group("g", [task("t", cpu=100, memory_mb=64)], count=2)], datacenters=["dc1"]))
    c.advance(20)
    return c


def _churn(c: SimCluster, rounds: int, *, tag: str) -> None:
    for n in range(rounds):
        c.register_job(job_spec(f"{tag}{n}", [group("g", [task("t", cpu=50, memory_mb=32)], count=2)],
                                datacenters=["dc1"]))
        c.advance(7)
        c.scale_job("default", "alpha", group="g", count=2 + (n % 3), message=f"round {n}")
        c.advance(5)


def _sent(c: SimCluster, start: int) -> list[dict[str, Any]]:
    return [orjson.loads(e.raw) for i, evs in c.events.frames if i >= start for e in evs]


def test_a_dropped_stream_resumes_with_nothing_lost_or_doubled(tmp_path: Path) -> None:
    c = _cluster()
    c.faults.add(Fault("/v1/event/stream", kind="drop_stream", after_events=4, times=5))
    rec = Recorder(c, tmp_path / "r").start()
    _churn(c, 6, tag="j")
    progress = rec.stop()
    assert progress.reconnects >= 5
    events = read_events(tmp_path / "r")
    start = int(orjson.loads((tmp_path / "r" / "recording.json").read_bytes())["start_index"])
    assert [dict(te.event) for te in events if not te.read] == _sent(c, start)
    assert progress.total == len(_sent(c, start))
    assert_same_frames(all_frames(client_of(c)), all_frames(open_recording(tmp_path / "r")),
                       skip=("node_stats", "alloc_stats"))


def test_a_restarted_recorder_goes_on_from_its_last_index(tmp_path: Path) -> None:
    c = _cluster()
    folder = tmp_path / "r"
    first = Recorder(c, folder).start()
    _churn(c, 3, tag="a")
    one = first.stop()
    _churn(c, 3, tag="b")          # happens while no recorder runs: Nomad's buffer holds it
    second = Recorder(c, folder).start()
    _churn(c, 2, tag="c")
    two = second.stop()
    start = int(orjson.loads((folder / "recording.json").read_bytes())["start_index"])
    sent = _sent(c, start)
    events = [dict(te.event) for te in read_events(folder) if not te.read]
    assert events == sent
    assert one.events + two.events == len(sent) == two.total
    assert two.duplicates >= 1       # the last index was asked for again, and not written twice
    assert_same_frames(all_frames(client_of(c)), all_frames(open_recording(folder)),
                       skip=("node_stats", "alloc_stats"))


def _open_segment(folder: Path) -> Path:
    (segment,) = sorted((folder / "events").glob("segment-*.ndjson"))
    return segment


def test_a_recorder_killed_mid_batch_resumes_that_batch(tmp_path: Path) -> None:
    c = _cluster()
    folder = tmp_path / "r"
    first = Recorder(c, folder).start()
    _churn(c, 2, tag="y")
    first.stop()
    segment = _open_segment(folder)
    lines = segment.read_bytes().splitlines(keepends=True)
    indexes = [orjson.loads(line).get("event", {}).get("Index") for line in lines]
    last_index = max(i for i in indexes if i is not None)
    of_last = [n for n, i in enumerate(indexes) if i == last_index]
    # what a kill in the middle of writing the last batch leaves: part of it, and half a line
    torn = lines[of_last[-1]][: len(lines[of_last[-1]]) // 2]
    kept = lines[: of_last[0] + 1] if len(of_last) > 1 else lines[: of_last[0]]
    segment.write_bytes(b"".join(kept) + torn)
    again = Recorder(c, folder).start()
    _churn(c, 1, tag="z")
    again.stop()
    assert torn not in segment.read_bytes()   # the torn line is gone
    start = int(orjson.loads((folder / "recording.json").read_bytes())["start_index"])
    assert [dict(te.event) for te in read_events(folder) if not te.read] == _sent(c, start)


def test_resuming_with_other_topics_is_refused(tmp_path: Path) -> None:
    c = _cluster()
    Recorder(c, tmp_path / "r").start().stop()
    with pytest.raises(ValueError, match="would mix them"):
        record(client_of(c), tmp_path / "r", topics=["Job"])


# -- segments and bad files ---------------------------------------------------------------------------

def test_segments_rotate_into_gzip_and_read_back_whole(tmp_path: Path) -> None:
    c = _cluster()
    rec = Recorder(c, tmp_path / "r", segment_bytes=20_000).start()
    _churn(c, 4, tag="s")
    rec.stop()
    packed = sorted((tmp_path / "r" / "events").glob("segment-*.ndjson.gz"))
    assert len(packed) >= 2
    assert all(gzip.decompress(p.read_bytes()).endswith(b"\n") for p in packed)
    start = int(orjson.loads((tmp_path / "r" / "recording.json").read_bytes())["start_index"])
    assert [dict(te.event) for te in read_events(tmp_path / "r") if not te.read] == _sent(c, start)


def test_a_corrupt_segment_is_named_and_the_rest_is_read(tmp_path: Path) -> None:
    c = _cluster()
    rec = Recorder(c, tmp_path / "r", segment_bytes=20_000).start()
    _churn(c, 4, tag="s")
    rec.stop()
    segments = sorted((tmp_path / "r" / "events").glob("segment-*.ndjson*"))
    victim = segments[0]
    data = victim.read_bytes()
    victim.write_bytes(data[: len(data) // 2])
    with pytest.warns(OfflineDataWarning, match=rf"{victim.name}: the gzip stream is cut short"):
        events = read_events(tmp_path / "r")
    later = [te for f in segments[1:] for te in _events_of(f)]
    assert later and all(te.event in [e.event for e in events] for te in later)
    plain = segments[-1] if segments[-1].suffix == ".ndjson" else None
    if plain is not None:
        plain.write_bytes(b"{not json}\n" + plain.read_bytes())
        with pytest.warns(OfflineDataWarning, match=rf"{plain.name}: line 1 is not a recorded event"):
            read_events(tmp_path / "r")


def _events_of(file: Path) -> list[Any]:
    from nomadlab.offline._segments import segment_events

    return list(segment_events(file))


def test_a_newer_recording_format_says_to_upgrade(tmp_path: Path) -> None:
    c = _cluster()
    Recorder(c, tmp_path / "r").start().stop()
    header = tmp_path / "r" / "recording.json"
    header.write_bytes(orjson.dumps(dict(orjson.loads(header.read_bytes()), format_version=9)))
    with pytest.raises(OfflineFormatError, match=r"recording.json is nomadlab-recording format version 9.*upgrade"):
        open_recording(tmp_path / "r")
    header.write_bytes(b"{")
    with pytest.raises(OfflineFormatError, match="recording.json is not valid JSON"):
        open_recording(tmp_path / "r")


def test_a_recording_without_its_snapshot_is_an_error_naming_it(tmp_path: Path) -> None:
    c = _cluster()
    Recorder(c, tmp_path / "r").start().stop()
    (tmp_path / "r" / "snapshot.tar.gz").unlink()
    with pytest.raises(FileNotFoundError, match="snapshot.tar.gz"):
        open_recording(tmp_path / "r")


def test_record_needs_a_client(tmp_path: Path) -> None:
    with pytest.raises(TypeError, match="needs a NomadClient"):
        record(open_snapshot(snapshot(client_of(_cluster()), tmp_path / "s.tar.gz")), tmp_path / "r")
    with pytest.raises(ValueError, match="not a duration"):
        record(client_of(_cluster()), tmp_path / "r2", usage_every="often")



def test_usage_samples_are_recorded_beside_the_events(tmp_path: Path) -> None:
    c = _cluster()
    rec = Recorder(c, tmp_path / "r", usage_every=0.2).start()
    deadline = time.monotonic() + 30
    while len(list((tmp_path / "r" / "usage").rglob("*.parquet"))) < 2:
        assert time.monotonic() < deadline
        time.sleep(0.05)
    progress = rec.stop()
    assert progress.usage_rounds >= 2
    usage = open_recording(tmp_path / "r").usage()
    assert len(usage) > 0 and set(usage["node_id"].dropna()) <= {n["ID"] for n in c.state.nodes.values()}


def test_recorded_events_go_to_the_parquet_history_that_duckdb_reads(recorded_demo: RecordedDemo,
                                                                    tmp_path: Path) -> None:
    from nomadlab.history import query, read_events

    rec = open_recording(recorded_demo.folder)
    written = rec.to_history(tmp_path / "history", cluster="demo")
    assert written and all("events/cluster=demo/date=" in str(p) for p in written)
    stored = read_events(tmp_path / "history", cluster="demo")
    assert stored["index"].tolist() == [te.index for te in rec.events]
    assert stored["time"].notna().all()               # every event has a time: its own or its batch's
    counts = query("SELECT topic, count(*) AS n FROM events WHERE cluster = 'demo' GROUP BY topic ORDER BY topic",
                   root=tmp_path / "history")
    want = collections.Counter(te.event["Topic"] for te in rec.events)
    assert dict(zip(counts["topic"], counts["n"], strict=True)) == dict(want)
