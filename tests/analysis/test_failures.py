from __future__ import annotations

import pandas as pd

from nomadlab.analysis import failures, restarts
from nomadlab.client import NomadClient

from .conftest import T0, alloc, make, ns


def _ev(alloc_id: str, task: str, typ: str, minute: int, **kw: object) -> dict[str, object]:
    return {"alloc_id": alloc_id, "namespace": "default", "job_id": kw.pop("job", "api"), "task_group": "g",
            "node_id": kw.pop("node", "n1"), "task": task, "type": typ,
            "time": ns(T0 + pd.Timedelta(minutes=minute)), "oom_killed": False, "fails_task": False, **kw}


def _frames() -> dict[str, pd.DataFrame]:
    events = make("task_events", [
        _ev("a1", "app", "Started", 0),
        _ev("a1", "app", "Terminated", 1, exit_code=137, oom_killed=True, message="OOM Killed"),
        _ev("a1", "app", "Restarting", 1, restart_reason="Restart within policy"),
        _ev("a1", "app", "Terminated", 3, exit_code=137, oom_killed=True, message="OOM Killed"),
        _ev("a1", "app", "Not Restarting", 3, fails_task=True, message="Exceeded allowed attempts"),
        _ev("a2", "app", "Terminated", 2, exit_code=1, message="Exit Code: 1"),
        _ev("a2", "app", "Restarting", 2, restart_reason="Restart within policy"),
        _ev("b1", "worker", "Driver Failure", 5, job="batch", node="n2", message="image not found"),
        _ev("b1", "worker", "Terminated", 6, job="batch", node="n2", exit_code=0),    # a clean exit: no failure
    ])
    allocs = make("allocations", [alloc("a1", "n1", job="api"), alloc("a2", "n1", job="api"),
                                  alloc("b1", "n2", job="batch")])
    return {"task_events": events, "allocations": allocs}


def test_failures_are_classified() -> None:
    f = failures(_frames())
    assert f["failure"].tolist() == ["oom_killed", "exit_nonzero", "oom_killed", "not_restarting", "driver_failure"]
    assert f.loc[0, "node_name"] == "name-n1" and f.loc[0, "exit_code"] == 137


def test_restarts_per_task_and_per_node_by_hand() -> None:
    r = restarts(_frames())
    api = r[r["job_id"] == "api"].iloc[0]
    assert (api["restarts"], api["oom_kills"], api["failures"], api["allocations"]) == (2, 2, 2, 2)
    assert api["exit_codes"] == {137: 2, 1: 1}
    assert api["top_reason"] == "OOM Killed"
    assert r.iloc[0]["job_id"] == "api"                   # worst first
    by_node = restarts(_frames(), by="node")
    assert dict(zip(by_node["node_name"], by_node["failures"], strict=True)) == {"name-n1": 2, "name-n2": 1}


def test_window_and_filters() -> None:
    assert failures(_frames(), since=T0 + pd.Timedelta("2min"), until=T0 + pd.Timedelta("4min"))["failure"].tolist() \
        == ["exit_nonzero", "oom_killed", "not_restarting"]
    assert restarts(_frames(), job="batch")["job_id"].tolist() == ["batch"]
    assert restarts(_frames(), node="name-n2")["job_id"].tolist() == ["batch"]


def test_demo_ranks_the_oom_killed_api_first(demo: NomadClient) -> None:
    r = restarts(demo, by="job")
    assert r.iloc[0]["job_id"] == "api" and r.iloc[0]["oom_kills"] > 0
    assert set(failures(demo, job="api")["exit_code"].dropna()) == {137}
