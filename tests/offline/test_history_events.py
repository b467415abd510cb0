"""Event tables: the event stream as a typed frame, stored as hive-partitioned Parquet, read by DuckDB."""

from __future__ import annotations

import json
import tempfile
import warnings
from pathlib import Path
from typing import Any

import duckdb
import orjson
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from nomadlab.client import NomadClient
from nomadlab.history import (
    EVENTS,
    arrow_schema,
    clusters,
    events_frame,
    query,
    read_events,
    write_events,
    write_usage,
)
from nomadlab.offline.archive import DebugArchiveWarning, open_debug_archive
from nomadlab.sim import SimCluster
from nomadlab.sim.clock import ManualClock
from nomadlab.sim.debug_archive import write_debug_archive
from nomadlab.streams import Event
from tests.offline._stream import live_events

# 2026-01-01T23:59:00Z: a drain and a job update run past midnight.
START_NS = 1767311940 * 10**9


@pytest.fixture(scope="module")
def events() -> list[Event]:
    cluster = SimCluster.default(clock=ManualClock(START_NS))
    cluster.events.frames = type(cluster.events.frames)(cluster.events.frames, maxlen=100_000)
    client = NomadClient(transport=cluster.transport())
    cluster.advance(90)
    node = client.get("/v1/nodes").body[0]["ID"]
    client.post(f"/v1/node/{node}/drain", json={"DrainSpec": {"Deadline": 60 * 10**9}, "NodeID": node})
    cluster.advance(120)
    return live_events(client, cluster.events.frames[-1][0])


def _payload_object(e: Event) -> dict[str, Any]:
    return next(iter(e.payload.values()))


def test_one_row_per_event_with_the_object_fields_pulled_out(events: list[Event]) -> None:
    df = events_frame(events)
    EVENTS.validate(df)
    assert len(df) == len(events)
    assert df["index"].tolist() == [e.index for e in events]
    assert df["topic"].astype(str).tolist() == [e.topic for e in events]
    assert set(df["topic"].astype(str)) >= {"Node", "Job", "Allocation", "Evaluation"}
    for row, e in zip(df.to_dict("records"), events, strict=True):
        obj = _payload_object(e)
        assert json.loads(row["payload"]) == dict(e.payload)
        assert row["filter_keys"] == list(e.filter_keys)
        if e.topic == "Allocation":
            assert (row["alloc_id"], row["job_id"], row["node_id"], row["eval_id"], row["task_group"]) == \
                (obj["ID"], obj["JobID"], obj["NodeID"], obj["EvalID"], obj["TaskGroup"])
            assert row["client_status"] == obj["ClientStatus"] and row["desired_status"] == obj["DesiredStatus"]
            assert row["time"] == pd.Timestamp(obj["ModifyTime"], unit="ns", tz="UTC")
            assert row["namespace"] == obj["Namespace"]
        elif e.topic == "Node":
            assert row["node_id"] == obj["ID"] and row["namespace"] == "" and row["status"] == obj["Status"]
            assert row["time"] == pd.Timestamp(obj["StatusUpdatedAt"], unit="s", tz="UTC")
        elif e.topic == "Job":
            assert row["job_id"] == obj["ID"] and row["time"] == pd.Timestamp(obj["SubmitTime"], unit="ns", tz="UTC")
        elif e.topic == "Evaluation":
            assert row["eval_id"] == obj["ID"] and row["job_id"] == obj.get("JobID")


def test_wire_dicts_give_the_same_frame(events: list[Event]) -> None:
    wire = [{"Topic": e.topic, "Type": e.type, "Key": e.key, "Namespace": e.namespace,
             "FilterKeys": list(e.filter_keys) or None, "Index": e.index, "Payload": dict(e.payload)} for e in events]
    pd.testing.assert_frame_equal(events_frame(wire), events_frame(events))


def test_debug_archive_events_without_namespace_take_the_payloads(tmp_path: Path) -> None:
    cluster = SimCluster.default(seed=2)
    path = write_debug_archive(cluster, tmp_path, intervals=2, namespace="*", event_topics=["*"])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DebugArchiveWarning)
        archive = open_debug_archive(path)
    lines = [orjson.loads(line) for line in _member(path, "cluster/eventstream.json").splitlines()]
    assert lines and all("Namespace" not in line for line in lines)
    df = events_frame(lines)
    allocs = df[df["topic"] == "Allocation"]
    payload_ns = [next(iter(json.loads(p).values()))["Namespace"] for p in allocs["payload"]]
    assert not allocs.empty and allocs["namespace"].tolist() == payload_ns and "default" in payload_ns
    assert (df.loc[df["topic"] == "Node", "namespace"] == "").all()
    pd.testing.assert_frame_equal(df, events_frame(archive.events()))


def _member(path: Path, rel: str) -> bytes:
    import tarfile

    with tarfile.open(path) as tar:
        name = next(n for n in tar.getnames() if n.endswith("/" + rel))
        fh = tar.extractfile(name)
        assert fh is not None
        return fh.read()


def test_malformed_fields_become_missing_not_errors() -> None:
    df = events_frame([{"Topic": "Allocation", "Type": 5, "Key": None, "Index": "x", "FilterKeys": "job",
                        "Payload": {"Allocation": {"ID": 7, "ModifyTime": "soon", "ClientStatus": "exploded"}}},
                       {"Topic": "Nonsense", "Payload": None}])
    EVENTS.validate(df)
    assert df["index"].isna().all() and df["alloc_id"].isna().all() and df["time"].isna().all()
    # values Nomad may add later (a topic, a status) are kept as extra categories
    assert df["topic"].tolist() == ["Allocation", "Nonsense"] and df["client_status"].tolist()[0] == "exploded"
    assert df["type"].isna().all() and df["key"].isna().all() and df["payload"].tolist()[1] is pd.NA
    with pytest.raises(TypeError, match="Event"):
        events_frame([["not", "an", "event"]])  # type: ignore[list-item]


def test_round_trip_partitioned_by_cluster_and_utc_day(events: list[Event], tmp_path: Path) -> None:
    frame = events_frame(events)
    days = frame["time"].dt.strftime("%Y-%m-%d").dropna().unique()
    assert len(days) == 2                               # the fixture crosses midnight
    paths = write_events(events, tmp_path, cluster="dev")
    assert [p.relative_to(tmp_path).as_posix() for p in paths] == [
        f"events/cluster=dev/date={d}/part-0.parquet" for d in sorted(days)]
    back = read_events(tmp_path, cluster="dev")
    pd.testing.assert_frame_equal(back, frame.sort_values("index", kind="stable").reset_index(drop=True))
    write_events(frame.iloc[:3], tmp_path, cluster="prod")
    assert clusters(tmp_path, "events") == ["dev", "prod"]
    assert len(read_events(tmp_path)) == len(frame) + 3
    late = read_events(tmp_path, cluster="dev", since=f"{sorted(days)[1]}T00:00:00Z")
    assert len(late) and (late["time"].isna() | (late["time"] >= pd.Timestamp(sorted(days)[1], tz="UTC"))).all()
    assert write_events([], tmp_path, cluster="dev") == []
    assert read_events(tmp_path, cluster="nobody").empty


def test_the_events_of_one_index_share_a_day(events: list[Event], tmp_path: Path) -> None:
    write_events(events, tmp_path, cluster="dev")
    back = read_events(tmp_path, cluster="dev")
    days_of_index = {}
    for part in sorted((tmp_path / "events/cluster=dev").glob("date=*/part-*.parquet")):
        import pyarrow.parquet as pq

        for index in pq.read_table(part, columns=["index"]).column("index").to_pylist():
            days_of_index.setdefault(index, set()).add(part.parent.name)
    assert days_of_index and all(len(d) == 1 for d in days_of_index.values())
    latest = back.groupby("index")["time"].max()
    for index, days in days_of_index.items():
        assert days == {f"date={latest[index]:%Y-%m-%d}"}


def test_events_without_a_time_go_with_their_neighbours(tmp_path: Path) -> None:
    timed = {"Topic": "Job", "Type": "JobRegistered", "Key": "a", "Index": 1, "Namespace": "default",
             "Payload": {"Job": {"ID": "a", "SubmitTime": START_NS}}}
    untimed = {"Topic": "ACLToken", "Type": "ACLTokenUpserted", "Key": "t", "Index": 2, "Namespace": "",
               "Payload": {"ACLToken": {"AccessorID": "t"}}}
    paths = write_events([untimed, timed, untimed | {"Index": 3}], tmp_path, cluster="dev")
    assert [p.parent.name for p in paths] == ["date=2026-01-01"]
    assert read_events(tmp_path)["index"].tolist() == [1, 2, 3]


def test_duckdb_reads_the_files_directly_with_the_documented_schema(events: list[Event], tmp_path: Path) -> None:
    write_events(events, tmp_path, cluster="dev")
    rel = duckdb.sql(f"SELECT * FROM read_parquet('{tmp_path}/events/**/*.parquet', hive_partitioning = true)")
    types = dict(zip(rel.columns, [str(t) for t in rel.types], strict=True))
    documented = {"index": "BIGINT", "time": "TIMESTAMPTZ_NS", "topic": "VARCHAR", "type": "VARCHAR",
                  "key": "VARCHAR", "namespace": "VARCHAR", "filter_keys": "VARCHAR[]", "job_id": "VARCHAR",
                  "task_group": "VARCHAR", "alloc_id": "VARCHAR", "node_id": "VARCHAR", "eval_id": "VARCHAR",
                  "deployment_id": "VARCHAR", "client_status": "VARCHAR", "desired_status": "VARCHAR",
                  "status": "VARCHAR", "payload": "VARCHAR", "cluster": "VARCHAR", "date": "DATE"}
    assert types == documented
    assert list(arrow_schema("events").names) == list(documented)[:-2]
    counts = duckdb.sql(
        f"SELECT topic, count(*) AS n FROM read_parquet('{tmp_path}/events/**/*.parquet', hive_partitioning = true) "
        f"GROUP BY topic ORDER BY topic").fetchall()
    frame = events_frame(events)
    assert counts == sorted((t, int(n)) for t, n in frame["topic"].astype(str).value_counts().items())
    # the payload is JSON DuckDB can take apart
    statuses = duckdb.sql(
        f"SELECT DISTINCT json_extract_string(payload, '$.Allocation.ClientStatus') AS s "
        f"FROM read_parquet('{tmp_path}/events/**/*.parquet') WHERE topic = 'Allocation' ORDER BY s").fetchall()
    assert [s for (s,) in statuses] == sorted(frame.loc[frame["topic"] == "Allocation", "client_status"]
                                                   .astype(str).unique())


def test_query_joins_events_and_usage(events: list[Event], tmp_path: Path) -> None:
    from nomadlab.analysis.usage import sample_usage

    cluster = SimCluster.default(clock=ManualClock(START_NS))
    usage = sample_usage(NomadClient(transport=cluster.transport()), every="1min", duration="2min",
                         progress=False, sleep=cluster.advance)
    write_usage(usage, tmp_path, cluster="dev")
    write_events(events, tmp_path, cluster="dev")
    got = query("SELECT e.alloc_id, count(DISTINCT u.time) AS samples FROM events e JOIN usage u "
                "ON e.alloc_id = u.alloc_id AND e.cluster = u.cluster WHERE e.topic = 'Allocation' "
                "AND u.scope = 'alloc' GROUP BY ALL ORDER BY e.alloc_id", root=tmp_path)
    frame = events_frame(events)
    sampled = usage[usage["scope"] == "alloc"].groupby("alloc_id", observed=True)["time"].nunique()
    allocs = sorted(set(frame.loc[frame["topic"] == "Allocation", "alloc_id"]) & set(sampled.index))
    assert allocs and got["alloc_id"].tolist() == allocs
    assert got["samples"].tolist() == [int(sampled[a]) for a in allocs]
    on_day = query("SELECT count(*) AS n FROM events WHERE date = DATE '2026-01-02'", root=tmp_path)["n"][0]
    import pyarrow.parquet as pq

    stored = sum(pq.read_metadata(f).num_rows for f in (tmp_path / "events/cluster=dev/date=2026-01-02").iterdir())
    assert on_day == stored > 0


_SCALARS = st.one_of(st.none(), st.booleans(), st.integers(min_value=-(2**70), max_value=2**70),
                     st.floats(allow_nan=True), st.text(max_size=8))
_VALUES = st.recursive(_SCALARS, lambda inner: st.one_of(st.lists(inner, max_size=3),
                                                        st.dictionaries(st.text(max_size=6), inner, max_size=3)),
                       max_leaves=8)
_KEYS = st.sampled_from(["Topic", "Type", "Key", "Namespace", "FilterKeys", "Index", "Payload"])
_PAYLOADS = st.dictionaries(st.sampled_from(["Job", "Allocation", "Node", "Evaluation", "Deployment"]),
                            st.one_of(_VALUES, st.dictionaries(
                                st.sampled_from(["ID", "JobID", "NodeID", "ClientStatus", "Status", "ModifyTime",
                                                 "SubmitTime", "Namespace"]), _VALUES, max_size=5)), max_size=2)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.dictionaries(_KEYS, st.one_of(_VALUES, _PAYLOADS), max_size=7), max_size=6))
def test_events_frame_keeps_its_schema_on_mangled_events(events: list[dict[str, Any]]) -> None:
    """Missing, null and wrongly typed fields become missing cells: one row per event, the schema
    unchanged, and the frame still writes to Parquet."""
    frame = events_frame(events)
    assert len(frame) == len(events)
    EVENTS.validate(frame)
    assert list(frame.columns) == [c.name for c in EVENTS.columns]
    with tempfile.TemporaryDirectory() as tmp:
        write_events(frame, tmp, cluster="fuzz")
        assert len(read_events(tmp, cluster="fuzz")) == len(events)
