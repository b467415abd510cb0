"""task_spans: spans rebuilt from constructed events, the numbers checked by hand."""

from __future__ import annotations

import pandas as pd

from nomadlab.analysis import task_spans
from nomadlab.analysis.states import SPAN_COLUMNS
from tests.plots._frames import T0, events_frame

# One task that starts, is OOM-killed and restarted, then fails for good; a second that runs on.
EVENTS = [
    {"time": 0, "type": "Received"}, {"time": 1, "type": "Task Setup"}, {"time": 2, "type": "Driver"},
    {"time": 10, "type": "Started"},
    {"time": 70, "type": "Terminated", "exit_code": 137, "oom_killed": True},
    {"time": 70, "type": "Restarting"}, {"time": 85, "type": "Started"},
    {"time": 200, "type": "Terminated", "exit_code": 1},
    {"time": 200, "type": "Not Restarting", "fails_task": True},
    {"alloc_id": "a2", "job_id": "api", "node_id": "n2", "time": 5, "type": "Received"},
    {"alloc_id": "a2", "job_id": "api", "node_id": "n2", "time": 6, "type": "Started"},
]


def _s(seconds: float) -> pd.Timestamp:
    return T0 + pd.Timedelta(seconds=seconds)


def test_spans_follow_the_task_runner_states() -> None:
    spans = task_spans(events_frame(EVENTS))
    assert list(spans.columns) == list(SPAN_COLUMNS)
    a1 = spans[spans["alloc_id"] == "a1"]
    assert a1["state"].astype(str).tolist() == ["pending", "running", "pending", "running", "dead"]
    assert a1["start"].tolist() == [_s(0), _s(10), _s(70), _s(85), _s(200)]
    assert a1["end"].iloc[:4].tolist() == [_s(10), _s(70), _s(85), _s(200)]
    assert pd.isna(a1["end"].iloc[4])           # open: no `now`, no tasks frame
    assert a1["duration"].iloc[1] == pd.Timedelta(seconds=60)
    assert a1["restarts"].tolist() == [0, 0, 1, 1, 1]
    assert a1["events"].tolist() == [3, 2, 1, 2, 1]
    assert a1["span"].tolist() == [0, 1, 2, 3, 4]
    assert spans.attrs["restarts"].loc[("a1", "app")] == 1
    a2 = spans[spans["alloc_id"] == "a2"]
    assert a2["job_id"].tolist() == ["api", "api"] and a2["node_id"].tolist() == ["n2", "n2"]
    assert a2["state"].astype(str).tolist() == ["pending", "running"]


def test_now_closes_the_last_span_of_every_task() -> None:
    now = "2026-03-01T10:10:00Z"
    spans = task_spans(events_frame(EVENTS), now=now)
    last = spans.drop_duplicates(["alloc_id", "task"], keep="last")
    assert last["end"].tolist() == [pd.Timestamp(now)] * 2
    assert last["duration"].tolist() == [pd.Timedelta(seconds=400), pd.Timedelta(seconds=594)]


def test_a_successful_batch_exit_is_dead_and_killing_keeps_running() -> None:
    spans = task_spans(events_frame([
        {"time": 0, "type": "Received"}, {"time": 3, "type": "Started"},
        {"time": 50, "type": "Terminated", "exit_code": 0},
        {"alloc_id": "k", "time": 0, "type": "Started"}, {"alloc_id": "k", "time": 30, "type": "Killing"},
        {"alloc_id": "k", "time": 35, "type": "Killed"},
    ]))
    batch = spans[spans["alloc_id"] == "a1"]
    assert batch["state"].astype(str).tolist() == ["pending", "running", "dead"]
    assert batch["start"].iloc[2] == _s(50)
    killed = spans[spans["alloc_id"] == "k"]
    assert killed["state"].astype(str).tolist() == ["running", "dead"]
    assert killed["end"].iloc[0] == _s(35)


def test_a_driver_failure_that_restarts_is_pending_again_not_dead() -> None:
    spans = task_spans(events_frame([
        {"time": 0, "type": "Received"},
        {"time": 4, "type": "Driver Failure", "fails_task": False},
        {"time": 4, "type": "Restarting"}, {"time": 20, "type": "Started"},
        {"time": 30, "type": "Setup Failure", "fails_task": True},
    ]))
    assert spans["state"].astype(str).tolist() == ["pending", "running", "dead"]
    assert spans["restarts"].tolist() == [0, 1, 1]   # one pending span 0-20 s: it never ran before
    assert spans["start"].tolist() == [_s(0), _s(20), _s(30)]


def test_tasks_frame_adds_the_death_the_kept_events_lost_and_closes_spans() -> None:
    ev = events_frame([{"time": 0, "type": "Received"}, {"time": 5, "type": "Started"}])
    tasks = pd.DataFrame({
        "alloc_id": ["a1"], "task": ["app"],
        "state": pd.Categorical(["dead"], categories=["pending", "running", "dead"]),
        "finished_at": [_s(100)], "last_event_time": [_s(120)], "started_at": [_s(5)], "last_restart": [pd.NaT],
    })
    spans = task_spans(ev, tasks)
    assert spans["state"].astype(str).tolist() == ["pending", "running", "dead"]
    assert spans["end"].tolist() == [_s(5), _s(100), _s(120)]
    assert spans["span"].tolist() == [0, 1, 2]


def test_empty_events_give_the_typed_empty_frame() -> None:
    spans = task_spans(events_frame([]))
    assert spans.empty and list(spans.columns) == list(SPAN_COLUMNS)
    assert str(spans["start"].dtype) == "datetime64[ns, UTC]"
    assert list(spans["state"].cat.categories) == ["pending", "running", "dead"]


def test_last_span_agrees_with_nomads_task_state_on_the_demo_cluster() -> None:
    from nomadlab.client import NomadClient
    from nomadlab.frames import allocation_frames
    from nomadlab.sim.scenarios import build_scenario
    from nomadlab.sources import LiveSource

    frames = allocation_frames(LiveSource(NomadClient(transport=build_scenario("demo", seed=0).transport())))
    spans = task_spans(frames.task_events, frames.tasks)
    last = spans.drop_duplicates(["alloc_id", "task"], keep="last").merge(
        frames.tasks[["alloc_id", "task", "state"]], on=["alloc_id", "task"], suffixes=("_span", "_nomad"))
    assert len(last) > 100
    assert (last["state_span"].astype(str) == last["state_nomad"].astype(str)).all()
    assert set(spans["state"].astype(str)) == {"pending", "running", "dead"}
    ordered = spans.groupby(["alloc_id", "task"])["start"].apply(lambda s: s.is_monotonic_increasing)
    assert ordered.all()
