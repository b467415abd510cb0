"""The ``allocations``, ``tasks`` and ``task_events`` frames: samples, the demo cluster, filters, fuzzing."""

from __future__ import annotations

import copy
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from nomadlab.frames.allocations import (
    ALLOCATIONS,
    TASK_EVENT_TYPES,
    TASK_EVENTS,
    TASKS,
    AllocationFrames,
    allocation_frames,
    allocations,
    task_events,
    tasks,
)
from nomadlab.sources import CachedSource

from .conftest import StaticSource, load_sample

SAMPLES = ("GET_v1_allocations.json", "GET_v1_job_id_allocations.json",
           "GET_v1_node_id_allocations.json", "GET_v1_evaluation_id_allocations.json")


def ts(text: str) -> pd.Timestamp:
    return pd.Timestamp(text).tz_convert("UTC")


def validate(frames: AllocationFrames) -> None:
    for frame, schema in zip(frames, (ALLOCATIONS, TASKS, TASK_EVENTS), strict=True):
        schema.validate(frame)
        # a key mangled away (an empty or missing ID) is missing in its cell, so two such rows may
        # share it; every whole key is unique
        keyed = frame.dropna(subset=list(schema.keys))
        assert not keyed.duplicated(list(schema.keys)).any(), f"{schema.name}: keys are not unique"


# --- the official samples ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def sample_stubs(samples_dir: Path) -> dict[str, list[dict[str, Any]]]:
    return {name: load_sample(samples_dir, name) for name in SAMPLES}


@pytest.mark.parametrize("name", SAMPLES)
def test_every_sample_gives_valid_frames(name: str, sample_stubs: dict[str, Any]) -> None:
    stubs = sample_stubs[name]
    frames = allocation_frames(StaticSource({"allocations": stubs}))
    validate(frames)
    assert len(frames.allocations) == len(stubs)
    assert len(frames.tasks) == sum(len(s["TaskStates"]) for s in stubs)
    assert len(frames.task_events) == sum(len(t["Events"]) for s in stubs for t in s["TaskStates"].values())


def test_list_stub_sample_values(sample_stubs: dict[str, Any]) -> None:
    a, t, e = allocation_frames(StaticSource({"allocations": sample_stubs["GET_v1_allocations.json"]}))
    row = a.iloc[0]
    assert row["alloc_id"] == "5457f16d-0f87-8e6b-5e91-0c7da3a41eb7"
    assert (row["namespace"], row["job_id"], row["task_group"], row["name"]) == ("default", "example", "cache",
                                                                                 "example.cache[0]")
    assert row["job_type"] == "service" and row["alloc_index"] == 0 and row["job_version"] == 0
    assert row["client_status"] == "running" and row["desired_status"] == "run"
    assert row["client_description"] == "Tasks are running" and pd.isna(row["desired_description"])
    assert bool(row["deployment_healthy"]) is True and bool(row["deployment_canary"]) is False
    assert row["create_time"] == pd.Timestamp(1636017249798459000, tz="UTC")
    assert row["modify_time"] == pd.Timestamp(1636017262190928000, tz="UTC")
    assert (row["create_index"], row["modify_index"]) == (10, 15)
    assert pd.isna(row["cpu_mhz"]) and pd.isna(row["disk_mb"])  # listed without ?resources=true
    assert pd.isna(row["previous_alloc"]) and pd.isna(row["next_alloc"]) and row["reschedule_attempts"] == 0
    assert (row["tasks"], row["restarts"]) == (1, 0)

    task = t.iloc[0]
    assert (task["task"], task["state"], bool(task["failed"]), task["restarts"]) == ("redis", "running", False, 0)
    assert task["started_at"] == ts("2021-11-04T09:14:12.04996Z")
    assert pd.isna(task["finished_at"]) and pd.isna(task["last_restart"])  # null on the wire
    assert task["events"] == 3 and task["last_event_type"] == "Started"
    assert task["last_event_time"] == pd.Timestamp(1636017252049956000, tz="UTC")
    assert not task["oom_killed"] and pd.isna(task["exit_code"])

    assert e["type"].tolist() == ["Received", "Task Setup", "Started"]
    assert e["event_index"].tolist() == [0, 1, 2]
    assert e["message"].tolist() == ["Task received by client", "Building Task Directory", "Task started by client"]
    assert e["details"].iloc[1] == {"message": "Building Task Directory"}
    assert e["exit_code"].isna().all() and not e["oom_killed"].any()
    assert list(e["type"].cat.categories[: len(TASK_EVENT_TYPES)]) == list(TASK_EVENT_TYPES)


def test_old_sample_fields(sample_stubs: dict[str, Any]) -> None:
    """An older stub without Namespace, with PreviousAllocation, a reschedule, zero times."""
    a, t, _ = allocation_frames(StaticSource({"allocations": sample_stubs["GET_v1_job_id_allocations.json"]}))
    row = a.iloc[0]
    assert row["namespace"] == "default"
    assert row["previous_alloc"] == "516d2753-0513-cfc7-57ac-2d6fac18b9dc"
    assert row["next_alloc"] == "cd13d9b9-4f97-7184-c88b-7b451981616b"
    assert row["reschedule_attempts"] == 1
    assert pd.isna(row["job_type"])
    assert pd.isna(t["finished_at"].iloc[0])  # the zero time
    assert t["started_at"].iloc[0] == ts("2017-05-25T23:41:23.240184101Z")
    assert t["started_at"].iloc[0].nanosecond == 101
    assert pd.isna(t["restarts"].iloc[0])  # not sent by that Nomad

    a, _, _ = allocation_frames(StaticSource({"allocations": sample_stubs["GET_v1_node_id_allocations.json"]}))
    assert pd.isna(a["deployment_id"].iloc[0])  # "" on the wire
    assert bool(a["deployment_healthy"].iloc[0]) and pd.isna(a["deployment_canary"].iloc[0])


# --- the demo cluster ----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def demo_stubs(demo_source: CachedSource) -> list[dict[str, Any]]:
    return demo_source.list("allocations")


@pytest.fixture(scope="module")
def demo(demo_source: CachedSource) -> AllocationFrames:
    return allocation_frames(demo_source)


def test_demo_frames_are_valid_and_complete(demo: AllocationFrames, demo_stubs: list[dict[str, Any]]) -> None:
    validate(demo)
    a, t, e = demo
    assert len(a) == len(demo_stubs) > 0
    assert len(t) == sum(len(s["TaskStates"]) for s in demo_stubs)
    assert len(e) == sum(len(ts["Events"] or []) for s in demo_stubs for ts in s["TaskStates"].values())
    assert a["alloc_id"].tolist() == [s["ID"] for s in demo_stubs]  # Nomad's order is kept
    assert a["client_status"].value_counts().to_dict() == {
        status: sum(s["ClientStatus"] == status for s in demo_stubs) for status in a["client_status"].cat.categories}


def test_demo_oom_kills(demo: AllocationFrames) -> None:
    _, t, e = demo
    oom = e[e["oom_killed"].fillna(False).astype(bool)]
    assert len(oom) > 0
    assert (oom["type"] == "Terminated").all()
    assert (oom["exit_code"] == 137).all()
    assert (oom["signal"] == 0).all()  # docker reports an OOM kill with signal 0 and "OOM Killed"
    killed = t[t["oom_killed"]]
    pairs = set(zip(oom["alloc_id"], oom["task"], strict=True))
    assert set(zip(killed["alloc_id"], killed["task"], strict=True)) == pairs
    assert (killed["exit_code"] == 137).all()
    # Terminated events say whether they were OOM kills; other events are never OOM kills
    terminated = e["type"] == "Terminated"
    assert e.loc[terminated, "oom_killed"].notna().all() and not e.loc[~terminated, "oom_killed"].any()
    assert e.loc[~terminated, "exit_code"].isna().all()


def test_demo_statuses_restarts_and_reschedules(demo: AllocationFrames, demo_stubs: list[dict[str, Any]]) -> None:
    a, t, e = demo
    assert (a["client_status"] == "lost").sum() > 0
    assert t["restarts"].sum() > 0 and a["restarts"].sum() == t["restarts"].sum()
    restarting = e[e["type"] == "Restarting"]
    assert len(restarting) > 0 and restarting["start_delay"].notna().all()
    assert restarting["restart_reason"].notna().all()
    per_alloc = t.groupby("alloc_id")["restarts"].sum()
    assert (a.set_index("alloc_id")["restarts"] == per_alloc.reindex(a["alloc_id"]).to_numpy()).all()
    # the allocated totals are the sums of the tasks'
    task_cpu = t.groupby("alloc_id")["cpu_mhz"].sum()
    assert (a.set_index("alloc_id")["cpu_mhz"] == task_cpu.reindex(a["alloc_id"]).to_numpy()).all()
    assert (a["memory_max_mb"] >= a["memory_mb"]).all() and (a["disk_mb"] > 0).all()
    # reschedules: the tracker's last PrevAllocID, and the listed NextAllocation links agree
    tracked = {s["ID"]: s["RescheduleTracker"]["Events"][-1]["PrevAllocID"] for s in demo_stubs
               if s.get("RescheduleTracker") and s["RescheduleTracker"].get("Events")}
    assert tracked
    by_id = a.set_index("alloc_id")
    assert all(by_id.at[alloc, "previous_alloc"] == prev for alloc, prev in tracked.items())
    assert (by_id.loc[list(tracked), "reschedule_attempts"] > 0).all()
    linked = a[a["next_alloc"].notna() & a["next_alloc"].isin(a["alloc_id"])]
    assert len(linked) > 0
    successors = by_id.loc[linked["next_alloc"].tolist(), "previous_alloc"]
    assert (successors.to_numpy() == linked["alloc_id"].to_numpy()).all()
    assert a["deployment_healthy"].notna().any()


def test_each_fetcher_equals_its_part_of_allocation_frames(demo: AllocationFrames, demo_source: CachedSource) -> None:
    pd.testing.assert_frame_equal(allocations(demo_source), demo.allocations)
    pd.testing.assert_frame_equal(tasks(demo_source), demo.tasks)
    pd.testing.assert_frame_equal(task_events(demo_source), demo.task_events)


def test_allocation_frames_fetches_once(demo_stubs: list[dict[str, Any]]) -> None:
    src = StaticSource({"allocations": demo_stubs})
    frames = allocation_frames(src, job="web")
    assert [c[:2] for c in src.calls] == [("list", "allocations")]
    assert len(frames.allocations) > 0


def test_joins(demo: AllocationFrames) -> None:
    a, t, e = demo
    merged = t.merge(a, on="alloc_id", how="left", validate="many_to_one", indicator=True, suffixes=("", "_alloc"))
    assert len(merged) == len(t) and (merged["_merge"] == "both").all()
    assert (merged["job_id"] == merged["job_id_alloc"]).all() and (merged["node_id"] == merged["node_id_alloc"]).all()
    merged = e.merge(t, on=["alloc_id", "task"], how="left", validate="many_to_one", indicator=True,
                     suffixes=("", "_task"))
    assert len(merged) == len(e) and (merged["_merge"] == "both").all()
    counts = e.groupby(["alloc_id", "task"]).size()
    per_task = t.set_index(["alloc_id", "task"])["events"]
    assert (per_task[per_task > 0] == counts.reindex(per_task[per_task > 0].index)).all()
    last = e.sort_values("event_index").groupby(["alloc_id", "task"]).tail(1)
    both = last.merge(t, on=["alloc_id", "task"], suffixes=("", "_task"))
    assert len(both) == (t["events"] > 0).sum()
    assert (both["type"].astype(str) == both["last_event_type"].astype(str)).all()
    assert (both["time"] == both["last_event_time"]).all()


# --- filters --------------------------------------------------------------------------------------------


class IgnoresFilter(StaticSource):
    """A source (a snapshot, say) that does not evaluate ``filter``."""

    def list(self, kind: str, *, namespace: str = "*", filter: str | None = None) -> list[dict[str, Any]]:
        return super().list(kind, namespace=namespace, filter=None)


@pytest.fixture(params=["static", "ignores_filter"])
def make_source(request: pytest.FixtureRequest, demo_stubs: list[dict[str, Any]]) -> Callable[[], StaticSource]:
    cls = StaticSource if request.param == "static" else IgnoresFilter
    return lambda: cls({"allocations": demo_stubs})


def busiest(frame: pd.DataFrame, column: str, n: int = 1) -> list[str]:
    return [k for k, _ in Counter(frame[column].dropna()).most_common(n)]


def test_job_filter(make_source: Callable[[], StaticSource], demo: AllocationFrames) -> None:
    jobs = busiest(demo.allocations, "job_id", 2)
    src = make_source()
    one = allocation_frames(src, job=jobs[0])
    validate(one)
    assert (one.allocations["job_id"] == jobs[0]).all()
    assert len(one.allocations) == (demo.allocations["job_id"] == jobs[0]).sum()
    assert len(one.tasks) == (demo.tasks["job_id"] == jobs[0]).sum()
    assert len(one.task_events) == (demo.task_events["job_id"] == jobs[0]).sum()
    two = allocations(make_source(), job=jobs)
    assert set(two["job_id"]) == set(jobs) and len(two) == demo.allocations["job_id"].isin(jobs).sum()
    if type(src) is StaticSource:
        assert src.calls[0][2]["filter"] == f"JobID == `{jobs[0]}`"


def test_node_filter_by_id_or_name(make_source: Callable[[], StaticSource], demo: AllocationFrames) -> None:
    node_id = busiest(demo.allocations, "node_id")[0]
    name = demo.allocations.loc[demo.allocations["node_id"] == node_id, "node_name"].iloc[0]
    by_id, by_name = allocations(make_source(), node=node_id), allocations(make_source(), node=name)
    assert len(by_id) == (demo.allocations["node_id"] == node_id).sum() > 0
    pd.testing.assert_frame_equal(by_id, by_name)
    assert (task_events(make_source(), node=node_id)["node_id"] == node_id).all()


def test_status_filter(make_source: Callable[[], StaticSource], demo: AllocationFrames) -> None:
    lost = allocations(make_source(), status="lost")
    assert len(lost) == (demo.allocations["client_status"] == "lost").sum() > 0
    either = tasks(make_source(), status=["lost", "failed"])
    wanted = demo.allocations.loc[demo.allocations["client_status"].isin(["lost", "failed"]), "alloc_id"]
    assert set(either["alloc_id"]) == set(wanted)
    with pytest.raises(ValueError, match="client status"):
        allocations(make_source(), status="runing")


def test_since_until(make_source: Callable[[], StaticSource], demo: AllocationFrames) -> None:
    a, _, e = demo
    times = a["modify_time"].sort_values()
    since, until = times.iloc[len(times) // 4], times.iloc[3 * len(times) // 4]
    frames = allocation_frames(make_source(), since=since, until=until)
    validate(frames)
    got = frames.allocations
    assert ((got["modify_time"] >= since) & (got["modify_time"] < until)).all()
    assert len(got) == ((a["modify_time"] >= since) & (a["modify_time"] < until)).sum() > 0
    assert set(frames.tasks["alloc_id"]) == set(got["alloc_id"])
    ev = frames.task_events
    assert len(ev) == ((e["time"] >= since) & (e["time"] < until)).sum() > 0
    assert ((ev["time"] >= since) & (ev["time"] < until)).all()
    naive = allocations(make_source(), since=since.tz_localize(None))  # naive times are UTC
    assert len(naive) == (a["modify_time"] >= since).sum()
    pd.testing.assert_frame_equal(frames.task_events, task_events(make_source(), since=since, until=until))


def test_filter_is_passed_to_the_source_and_combined(demo_stubs: list[dict[str, Any]], demo: AllocationFrames) -> None:
    job = busiest(demo.allocations, "job_id")[0]
    src = StaticSource({"allocations": demo_stubs})
    running = allocations(src, filter='ClientStatus == "running"')
    assert src.calls[-1][2]["filter"] == 'ClientStatus == "running"'
    assert (running["client_status"] == "running").all() and len(running) > 0
    both = allocations(src, job=job, filter='ClientStatus == "running"')
    assert src.calls[-1][2]["filter"] == f'(ClientStatus == "running") and JobID == `{job}`'
    assert ((both["job_id"] == job) & (both["client_status"] == "running")).all()


def test_filters_on_the_simulator_server(demo_source: CachedSource, demo: AllocationFrames) -> None:
    """The expressions sent are valid for Nomad's filter language (the simulator evaluates them)."""
    job = busiest(demo.allocations, "job_id")[0]
    node = busiest(demo.allocations, "node_name")[0]
    got = allocations(demo_source, job=[job, 'no "such" job', "a `quoted` one"], node=node,
                      status=["running", "complete"])
    want = demo.allocations[(demo.allocations["job_id"] == job) & (demo.allocations["node_name"] == node)
                            & demo.allocations["client_status"].isin(["running", "complete"])]
    assert got["alloc_id"].tolist() == want["alloc_id"].tolist()


def test_empty_list_keeps_the_schemas() -> None:
    frames = allocation_frames(StaticSource({"allocations": []}))
    validate(frames)
    assert all(len(f) == 0 for f in frames)
    assert list(frames.task_events["type"].cat.categories) == list(TASK_EVENT_TYPES)


def test_tasks_without_task_states_come_from_allocated_resources(demo_stubs: list[dict[str, Any]]) -> None:
    stubs = copy.deepcopy(demo_stubs[:5])
    for s in stubs:
        s["TaskStates"] = None  # listed with task_states=false
    a, t, e = allocation_frames(StaticSource({"allocations": stubs}))
    assert len(t) == sum(len(s["AllocatedResources"]["Tasks"]) for s in stubs) and len(e) == 0
    assert t["state"].isna().all() and t["cpu_mhz"].notna().all()
    assert a["restarts"].isna().all() and (a["tasks"] > 0).all()


# --- malformed wire data ---------------------------------------------------------------------------------


def _paths(obj: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Every (dict key | list index) path inside ``obj``."""
    out: list[tuple[Any, ...]] = []
    if isinstance(obj, dict):
        items = list(obj.items())
    elif isinstance(obj, list):
        items = list(enumerate(obj))
    else:
        return out
    for key, value in items:
        out.append((*prefix, key))
        out.extend(_paths(value, (*prefix, key)))
    return out


def _parent(obj: Any, path: tuple[Any, ...]) -> Any:
    for key in path[:-1]:
        obj = obj[key]
    return obj


JUNK = st.one_of(st.none(), st.booleans(), st.integers(-(2**70), 2**70), st.floats(allow_nan=True),
                 st.text(max_size=5), st.lists(st.integers(), max_size=2),
                 st.dictionaries(st.text(max_size=3), st.text(max_size=3), max_size=2))


@st.composite
def mangled(draw: st.DrawFn, base: list[dict[str, Any]]) -> list[dict[str, Any]]:
    stubs = copy.deepcopy(base)
    for _ in range(draw(st.integers(1, 12))):
        paths = _paths(stubs)
        if not paths:
            break
        path = draw(st.sampled_from(paths))
        if len(path) == 1:
            continue  # keep every stub a dict
        parent = _parent(stubs, path)
        action = draw(st.sampled_from(["delete", "null", "junk", "add"]))
        try:
            if action == "delete" and isinstance(parent, dict):
                del parent[path[-1]]
            elif action == "null":
                parent[path[-1]] = None
            elif action == "junk":
                parent[path[-1]] = draw(JUNK)
            elif action == "add" and isinstance(parent, dict):
                parent[draw(st.text(min_size=1, max_size=8))] = draw(JUNK)
        except (KeyError, IndexError, TypeError):
            continue
    return stubs


@pytest.fixture(scope="module")
def fuzz_base(demo_stubs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """A few demo allocations: an OOM-killed one, a rescheduled one, a lost one, a running one."""
    def first(pred: Callable[[dict[str, Any]], bool]) -> dict[str, Any]:
        return next(s for s in demo_stubs if pred(s))

    def oom(s: dict[str, Any]) -> bool:
        return any((ev.get("Details") or {}).get("oom_killed") == "true"
                   for t in s["TaskStates"].values() for ev in t["Events"] or [])

    return [first(oom), first(lambda s: bool(s.get("RescheduleTracker"))),
            first(lambda s: s["ClientStatus"] == "lost"), first(lambda s: s["ClientStatus"] == "running")]


def test_mangled_wire_data_never_breaks_the_frames(fuzz_base: list[dict[str, Any]]) -> None:
    @settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow,
                                                                      HealthCheck.data_too_large])
    @given(stubs=mangled(fuzz_base))
    def check(stubs: list[dict[str, Any]]) -> None:
        frames = allocation_frames(StaticSource({"allocations": stubs}))
        validate(frames)
        assert len(frames.allocations) == len(stubs)
        for name in ("allocations", "tasks", "task_events"):  # and the single fetchers agree
            fetched = {"allocations": allocations, "tasks": tasks, "task_events": task_events}[name](
                StaticSource({"allocations": stubs}))
            pd.testing.assert_frame_equal(fetched, getattr(frames, name))

    check()


def test_alloc_filter_keeps_the_named_allocations_whole_or_by_prefix() -> None:
    from nomadlab.client import NomadClient
    from nomadlab.frames import allocation_frames, task_events
    from nomadlab.sim import SimCluster

    client = NomadClient(transport=SimCluster.default().transport())
    frames = allocation_frames(client)
    first, second = frames.allocations["alloc_id"].iloc[:2]
    whole = allocation_frames(client, alloc=[first, second])
    assert sorted(whole.allocations["alloc_id"]) == sorted([first, second])
    assert set(whole.tasks["alloc_id"]) == {first, second}
    expected = frames.task_events[frames.task_events["alloc_id"] == first].reset_index(drop=True)
    by_prefix = task_events(client, alloc=first[:8])
    assert set(by_prefix["alloc_id"]) == {first}
    assert len(by_prefix) == len(expected) > 0
    assert task_events(client, alloc="ffffffff-0000-0000-0000-000000000000").empty
