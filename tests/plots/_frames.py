"""Small constructed frames with exactly the columns the plots and analyses read."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from nomadlab.frames import REGISTRY

T0 = pd.Timestamp("2026-03-01T10:00:00Z")


def at(seconds: float) -> int:
    """Unix nanoseconds ``seconds`` after :data:`T0` (the wire encoding of task event times)."""
    return int(T0.value + seconds * 1e9)


def events_frame(rows: Sequence[dict[str, Any]]) -> pd.DataFrame:
    """A ``task_events`` frame from a few rows (``time`` in seconds after T0); defaults fill the rest."""
    schema = REGISTRY["task_events"]
    data: dict[str, list[Any]] = {c.name: [] for c in schema.columns}
    index: dict[tuple[str, str], int] = {}
    for row in rows:
        key = (row.get("alloc_id", "a1"), row.get("task", "app"))
        index[key] = index.get(key, -1) + 1
        full = {
            "alloc_id": key[0], "namespace": "default", "job_id": row.get("job_id", "web"),
            "task_group": row.get("task_group", "web"), "node_id": row.get("node_id", "n1"),
            "task": key[1], "event_index": index[key], "time": at(row["time"]), "type": row["type"],
            "message": row.get("message"), "display_message": row.get("message"),
            "exit_code": row.get("exit_code"), "signal": None,
            "oom_killed": row.get("oom_killed", False), "restart_reason": None,
            "fails_task": row.get("fails_task", False), "kill_timeout": None, "start_delay": None,
            "driver_error": None, "setup_error": None, "details": {},
        }
        for c in data:
            data[c].append(full[c])
    return schema.build(data)


def capacity_frame(nodes: Sequence[tuple[str, str, str, float, float, float, float | None]],
                   resource: str = "memory") -> pd.DataFrame:
    """A by-node ``capacity`` frame: (node, pool, status, capacity, reserved, allocated, used) per node."""
    unit = "MHz" if resource == "cpu" else "MB"
    rows = []
    for i, (name, pool, status, cap, res, alloc, used) in enumerate(nodes):
        for r in ("cpu", "memory", "disk"):
            scale = 1.0 if r == resource else 0.5
            c, rv, a = cap * scale, res * scale, alloc * scale
            u = np.nan if used is None else used * scale
            rows.append({
                "node_id": f"id-{i}", "node_name": name, "datacenter": "dc1" if i % 2 == 0 else "dc2",
                "node_pool": pool, "node_class": "", "status": status, "resource": r,
                "unit": "MHz" if r == "cpu" else "MB" if r != resource else unit, "nodes": 1,
                "capacity": c, "reserved": rv, "allocatable": c - rv, "allocated": a, "used": u,
                "headroom": c - rv - a, "allocated_pct": 100 * a / (c - rv),
                "used_pct": 100 * u / (c - rv), "slack": a - u,
            })
    df = pd.DataFrame(rows)
    for c in ("node_id", "node_name", "datacenter", "node_pool", "node_class", "status", "unit"):
        df[c] = df[c].astype("string")
    df["resource"] = pd.Categorical(df["resource"], categories=["cpu", "memory", "disk"])
    df["nodes"] = df["nodes"].astype("Int64")
    df.attrs["method"] = "allocatable = capacity - reserved; allocated = sum of non-terminal allocations"
    return df


def usage_frame(
    minutes: int = 30, nodes: Sequence[tuple[str, str]] = (("n1", "default"), ("n2", "gpu")),
) -> pd.DataFrame:
    """A node-scope ``usage`` frame: memory_used_bytes and cpu_ticks_consumed each minute."""
    rows = []
    for m in range(minutes):
        t = T0 + pd.Timedelta(minutes=m)
        for k, (node, pool) in enumerate(nodes):
            rows.append({"time": t, "node_id": node, "node_name": node, "node_pool": pool,
                         "metric": "memory_used_bytes", "value": (1000 + 10 * m + 500 * k) * 2**20,
                         "unit": "bytes"})
            rows.append({"time": t, "node_id": node, "node_name": node, "node_pool": pool,
                         "metric": "cpu_ticks_consumed", "value": 200.0 + 5 * m + 100 * k, "unit": "MHz"})
    df = pd.DataFrame(rows)
    df["scope"] = pd.Categorical(["node"] * len(df), categories=["node", "alloc", "task"])
    df["datacenter"] = "dc1"
    for c in ("namespace", "job_id", "task_group", "alloc_id", "task"):
        df[c] = pd.NA
    df = df[["time", "scope", "node_id", "node_name", "datacenter", "node_pool", "namespace", "job_id",
             "task_group", "alloc_id", "task", "metric", "value", "unit"]]
    for c in ("node_id", "node_name", "datacenter", "node_pool", "namespace", "job_id", "task_group",
              "alloc_id", "task", "unit"):
        df[c] = df[c].astype("string")
    df["metric"] = df["metric"].astype("category")
    df["value"] = df["value"].astype("float64")
    return df
