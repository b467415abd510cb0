from __future__ import annotations

import pandas as pd

from nomadlab.analysis import node_health
from nomadlab.client import NomadClient

from .conftest import T0, alloc, make, node

GiB = 1024**3


def _frames() -> dict[str, pd.DataFrame]:
    nodes = make("nodes", [
        node("ok"), node("down", status="down"), node("drain", drain=True, eligibility="ineligible"),
        node("inel", eligibility="ineligible"), node("drv"), node("mem"),
    ])
    t = T0 + pd.Timedelta("50min")
    events = make("node_events", [
        {"node_id": "ok", "node_name": "name-ok", "time": T0.isoformat(), "subsystem": "Cluster",
         "message": "Node registered"},
        {"node_id": "down", "node_name": "name-down", "time": t.isoformat(), "subsystem": "Cluster",
         "message": "Node heartbeat missed"},
        {"node_id": "drain", "node_name": "name-drain", "time": (t - pd.Timedelta("5min")).isoformat(),
         "subsystem": "Drain", "message": "Node drain strategy set"},
        {"node_id": "drv", "node_name": "name-drv", "time": t.isoformat(), "subsystem": "Driver",
         "message": "Driver docker is not detected or unhealthy"},
        {"node_id": "drv", "node_name": "name-drv", "time": (T0 - pd.Timedelta("3h")).isoformat(),
         "subsystem": "Driver", "message": "Driver raw_exec is unhealthy"},           # too old: not recent
    ])
    allocs = make("allocations", [
        alloc("a1", "down", client="lost", desired="stop", modified=t),
        alloc("a2", "down", client="lost", desired="stop", modified=T0 - pd.Timedelta("2h")),   # lost before
        alloc("a3", "drain", client="running"),
        alloc("a4", "ok", client="running"),
    ])
    stats = make("node_stats", [
        {"time": int(t.value), "node_id": "mem", "metric": "memory_total_bytes", "value": 16.0 * GiB},
        {"time": int(t.value), "node_id": "mem", "metric": "memory_used_bytes", "value": 15.5 * GiB},
        {"time": int(t.value), "node_id": "ok", "metric": "memory_total_bytes", "value": 16.0 * GiB},
        {"time": int(t.value), "node_id": "ok", "metric": "memory_used_bytes", "value": 4.0 * GiB},
    ])
    return {"nodes": nodes, "node_events": events, "allocations": allocs, "node_stats": stats}


def test_every_reason_by_hand() -> None:
    h = node_health(_frames())
    got = {(r.node_id, str(r.reason)) for r in h.itertuples()}
    assert got == {("down", "down"), ("drain", "draining"), ("inel", "ineligible"),
                   ("drv", "driver_unhealthy"), ("mem", "memory_pressure")}
    down = h[h["reason"] == "down"].iloc[0]
    assert down["since"] == T0 + pd.Timedelta("50min")
    assert down["alloc_ids"] == ["a1"] and down["allocs_affected"] == 1     # a2 was lost long before
    assert str(down["severity"]) == "critical"
    assert h[h["reason"] == "draining"].iloc[0]["allocs_affected"] == 1
    assert "97%" in h[h["reason"] == "memory_pressure"].iloc[0]["detail"]
    assert list(h["reason"].cat.categories)[0] == "down"


def test_a_missed_heartbeat_on_a_node_back_up_is_its_own_reason() -> None:
    frames = _frames()
    nodes = frames["nodes"].copy()
    nodes.loc[nodes["node_id"] == "down", "status"] = "ready"
    frames["nodes"] = nodes
    h = node_health(frames)
    row = h[h["node_id"] == "down"]
    assert row["reason"].astype(str).tolist() == ["missed_heartbeat"]


def test_demo_names_the_downed_node_and_why(demo: NomadClient) -> None:
    h = node_health(demo)
    down = h[h["reason"] == "down"]
    assert down["node_name"].tolist() == ["client-dc1-05"]
    assert "heartbeats" in down["detail"].iloc[0]
    assert down["allocs_affected"].iloc[0] > 0 and pd.notna(down["since"].iloc[0])
