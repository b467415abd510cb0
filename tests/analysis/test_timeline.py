from __future__ import annotations

import pandas as pd
import pytest

from nomadlab.analysis import incident_timeline
from nomadlab.client import NomadClient

from .conftest import T0, alloc, make, ns


def _t(minutes: float) -> pd.Timestamp:
    return T0 + pd.Timedelta(minutes=minutes)


def _frames() -> dict[str, pd.DataFrame]:
    versions = make("job_versions", [
        {"namespace": "default", "job_id": "api", "version": 0, "submit_time": ns(_t(0)), "stable": True},
        {"namespace": "default", "job_id": "api", "version": 1, "submit_time": ns(_t(10)), "stable": False,
         "changed_fields": ["TaskGroups[api].Tasks[api].Config.image"],
         "changes": ["TaskGroups[api].Tasks[api].Config.image: api:1 → api:2"]},
        {"namespace": "default", "job_id": "api", "version": 2, "submit_time": ns(_t(20)), "stable": True,
         "changes": ["TaskGroups[api].Tasks[api].Config.image: api:2 → api:1"]},
    ])
    deployments = make("deployments", [
        {"deployment_id": "d1", "namespace": "default", "job_id": "api", "job_version": 1, "status": "failed",
         "status_description": "Failed due to unhealthy allocations - rolling back to job version 0",
         "task_group": "api", "desired_total": 1, "healthy_allocs": 0, "create_time": ns(_t(10)),
         "modify_time": ns(_t(20))},
    ])
    evals = make("evaluations", [
        {"eval_id": "e1", "namespace": "default", "job_id": "api", "triggered_by": "job-register",
         "status": "complete", "create_time": ns(_t(10))},
        {"eval_id": "e2", "namespace": "default", "job_id": "api", "triggered_by": "node-update",
         "status": "blocked", "queued_allocations": 1, "failed_task_groups": 1, "create_time": ns(_t(15))},
    ])
    failures = make("placement_failures", [
        {"eval_id": "e2", "namespace": "default", "job_id": "api", "task_group": "api", "kind": "dimension",
         "reason": "memory", "count": 3},
    ])
    allocs = make("allocations", [
        alloc("a0", "n1", job="api", group="api", version=0, created=_t(0), modified=_t(10), client="complete",
              desired="stop"),
        alloc("a1", "n1", job="api", group="api", version=1, created=_t(10), modified=_t(15), client="lost",
              desired="stop", previous="a0", description="alloc is lost since its node is down"),
        alloc("a2", "n2", job="api", group="api", version=1, created=_t(15), modified=_t(15), previous="a1"),
    ])
    events = make("task_events", [
        {"alloc_id": "a1", "namespace": "default", "job_id": "api", "task_group": "api", "node_id": "n1",
         "task": "api", "type": "Terminated", "time": ns(_t(12)), "exit_code": 137, "oom_killed": True,
         "message": "OOM Killed"},
        {"alloc_id": "a1", "namespace": "default", "job_id": "api", "task_group": "api", "node_id": "n1",
         "task": "api", "type": "Started", "time": ns(_t(11)), "oom_killed": False},
    ])
    nodes = make("nodes", [{"node_id": "n1", "name": "name-n1", "status": "down"},
                           {"node_id": "n2", "name": "name-n2", "status": "ready"}])
    node_events = make("node_events", [
        {"node_id": "n1", "node_name": "name-n1", "datacenter": "dc1", "time": _t(15).isoformat(),
         "subsystem": "Cluster", "message": "Node heartbeat missed"},
        {"node_id": "n1", "node_name": "name-n1", "datacenter": "dc1", "time": _t(0).isoformat(),
         "subsystem": "Cluster", "message": "Node registered"},
    ])
    scaling = make("scaling_events", [
        {"namespace": "default", "job_id": "api", "task_group": "api", "time": ns(_t(5)), "count": 2,
         "previous_count": 1, "message": "more traffic", "error": False},
    ])
    return {"job_versions": versions, "deployments": deployments, "evaluations": evals,
            "placement_failures": failures, "allocations": allocs, "task_events": events, "nodes": nodes,
            "node_events": node_events, "scaling_events": scaling}


def test_rows_in_time_order_with_causes_first() -> None:
    t = incident_timeline(_frames(), routine=True)
    assert t["time"].is_monotonic_increasing
    got = [(r.kind, r.type) for r in t.itertuples()]
    assert got == [
        ("node_event", "Cluster"), ("job_version", "submitted"), ("alloc_status", "placed"),
        ("scaling", "scaled"),
        ("job_version", "submitted"), ("deployment", "started"), ("evaluation", "job-register"),
        ("alloc_status", "updated"),
        ("task_event", "Started"), ("task_event", "Terminated"),
        ("node_status", "down"), ("evaluation", "node-update"), ("alloc_status", "lost"),
        ("alloc_status", "rescheduled"),
        ("deployment", "failed"), ("deployment", "auto_revert"), ("job_version", "revert"),
    ]


def test_descriptions_say_what_happened() -> None:
    rows = incident_timeline(_frames(), routine=True)
    t = rows.set_index(["kind", "type"])

    def one(kind: str, typ: str, col: str = "description") -> str:
        hit = rows[(rows["kind"] == kind) & (rows["type"] == typ)]
        assert len(hit) == 1
        return str(hit[col].iloc[0])

    assert "api:1 → api:2" in t.loc[("job_version", "submitted"), "description"].iloc[1]
    assert "its deployment failed" in t.loc[("job_version", "submitted"), "description"].iloc[1]
    assert one("task_event", "Terminated") == \
        "api of api.api[0]: Terminated: OOM Killed (OOM killed, exit code 137)"
    assert one("task_event", "Terminated", "severity") == "critical"
    assert "memory exhausted on 3 node(s)" in one("evaluation", "node-update")
    assert "by the auto-revert to v0" in one("job_version", "revert")
    assert "went down" in one("node_status", "down")
    assert "scaled 1 → 2" in one("scaling", "scaled")


def test_filters_window_severity_and_routine() -> None:
    frames = _frames()
    quiet = incident_timeline(frames)            # routine rows dropped cluster-wide
    assert ("alloc_status", "placed") not in {(r.kind, r.type) for r in quiet.itertuples()}
    assert set(incident_timeline(frames, min_severity="error")["severity"].astype(str)) <= {"error", "critical"}
    window = incident_timeline(frames, since=_t(12), until=_t(16), routine=True)
    assert window["time"].min() >= _t(12) and window["time"].max() < _t(16)
    on_n2 = incident_timeline(frames, node="name-n2")
    assert set(on_n2["alloc_id"].dropna()) == {"a2"}
    with pytest.raises(ValueError, match="min_severity"):
        incident_timeline(frames, min_severity="loud")


def test_demo_incident_in_order(demo: NomadClient) -> None:
    t = incident_timeline(demo, job="api", min_severity="warning")

    def first(mask: pd.Series) -> int:
        hits = t.index[mask.fillna(False).astype(bool)]
        assert len(hits), "missing"
        return int(hits[0])

    bad = first((t["kind"] == "job_version") & t["description"].str.contains("its deployment failed"))
    assert "example/api:2.4.0" in t.loc[bad, "description"]
    oom = first((t["kind"] == "task_event") & t["description"].str.contains("OOM killed"))
    down = first(t["kind"] == "node_status")
    lost = first(t["type"] == "lost")
    resched = first((t["type"] == "rescheduled") & (t["time"] >= t.loc[lost, "time"]))
    failed = first((t["kind"] == "deployment") & (t["type"] == "failed"))
    revert = first(t["type"] == "auto_revert")
    assert bad < oom < down < lost < resched < failed < revert
    started = incident_timeline(demo, job="api")
    assert ((started["kind"] == "deployment") & (started["type"] == "started")
            & (started["version"] == t.loc[bad, "version"])).any()
