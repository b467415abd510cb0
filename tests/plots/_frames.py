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


def timeline_frame() -> pd.DataFrame:
    """An ``incident_timeline`` frame: a deployment that fails, an OOM kill, a node down and back."""
    rows = [
        (0, "job_version", "info", "web", None, None, None, "registered", "job web version 3 registered"),
        (1, "deployment", "info", "web", "d-1", None, None, "running", "deployment d-1 started for web v3"),
        (4, "task_event", "error", "web", None, "n1", "node-1", "Terminated", "app OOM killed (exit 137)"),
        (5, "alloc_status", "error", "web", None, "n1", "node-1", "failed", "allocation web.web[0] failed"),
        (6, "node_status", "critical", None, None, "n2", "node-2", "down", "node node-2 is down"),
        (9, "deployment", "error", "web", "d-1", None, None, "failed", "deployment d-1 failed: unhealthy allocs"),
        (14, "node_status", "info", None, None, "n2", "node-2", "ready", "node node-2 is ready"),
        (15, "evaluation", "warning", "web", None, None, None, "blocked", "evaluation blocked: memory exhausted"),
    ]
    df = pd.DataFrame(rows, columns=["m", "kind", "severity", "job_id", "deployment_id", "node_id", "node_name",
                                     "type", "description"])
    df.insert(0, "time", [T0 + pd.Timedelta(minutes=m) for m in df.pop("m")])
    df["kind"] = pd.Categorical(df["kind"], categories=["job_version", "deployment", "evaluation", "alloc_status",
                                                        "task_event", "node_event", "node_status", "scaling"])
    df["severity"] = pd.Categorical(df["severity"], categories=["info", "warning", "error", "critical"])
    for c in ("namespace", "task_group", "alloc_id", "task", "eval_id"):
        df[c] = pd.NA
    df["version"] = pd.array([3] + [pd.NA] * (len(df) - 1), dtype="Int64")
    df["details"] = [{} for _ in range(len(df))]
    cols = ["time", "kind", "severity", "namespace", "job_id", "task_group", "alloc_id", "node_id", "node_name",
            "task", "eval_id", "deployment_id", "version", "type", "description", "details"]
    df = df[cols]
    for c in ("namespace", "job_id", "task_group", "alloc_id", "node_id", "node_name", "task", "eval_id",
              "deployment_id", "type", "description"):
        df[c] = df[c].astype("string")
    return df


def rightsizing_frame() -> pd.DataFrame:
    """A ``rightsizing`` frame: two tasks, CPU and memory, one with too few samples."""
    rows = [
        ("web", "web", "app", "cpu", "MHz", 1000.0, 1000.0, 120, 200.0, 310.0, 350.0, 420.0, 0.0, 400.0, 3, None),
        ("web", "web", "app", "memory", "MB", 2048.0, 2048.0, 120, 600.0, 900.0, 950.0, 1200.0, 0.0, 1100.0, 3,
         None),
        ("api", "api", "srv", "cpu", "MHz", 500.0, 500.0, 2, np.nan, np.nan, np.nan, np.nan, np.nan, np.nan, 1,
         "too few samples (2 < 30)"),
        ("api", "api", "srv", "memory", "MB", 512.0, 512.0, 120, 450.0, 500.0, 505.0, 530.0, 8.0, 600.0, 1, None),
    ]
    df = pd.DataFrame(rows, columns=["job_id", "task_group", "task", "resource", "unit", "ask", "limit", "samples",
                                     "p50", "p95", "p99", "max", "above_ask_pct", "suggested", "instances", "note"])
    df.insert(0, "namespace", "default")
    df["freed"] = (df["ask"] - df["suggested"]) * df["instances"]
    df["samples"] = df["samples"].astype("Int64")
    df["resource"] = pd.Categorical(df["resource"], categories=["cpu", "memory"])
    for c in ("namespace", "job_id", "task_group", "task", "unit", "note"):
        df[c] = df[c].astype("string")
    return df[["namespace", "job_id", "task_group", "task", "resource", "unit", "ask", "limit", "samples", "p50",
               "p95", "p99", "max", "above_ask_pct", "suggested", "instances", "freed", "note"]]


def jobs_frame() -> pd.DataFrame:
    """A ``jobs`` frame with three jobs' summary counts."""
    schema = REGISTRY["jobs"]
    data: dict[str, list[Any]] = {c.name: [None] * 3 for c in schema.columns}
    data.update(namespace=["default", "default", "batch"], job_id=["web", "api", "etl"],
                type=["service", "service", "batch"], status=["running", "running", "dead"],
                queued=[0, 2, 0], starting=[0, 0, 0], running=[3, 1, 0], complete=[0, 0, 5], failed=[1, 4, 0],
                lost=[0, 1, 0], unknown=[0, 0, 0])
    return schema.build(data)


def restart_counts_frame() -> pd.DataFrame:
    """Restart counts per allocation × task, the input of ``restarts_chart``."""
    return pd.DataFrame({
        "job_id": ["web", "web", "api", "etl"], "node_id": ["n1", "n2", "n1", "n2"], "task": ["app", "log", "srv", "x"],
        "restarts": [3, 1, 0, 2], "oom_kills": [1, 0, 0, 0], "failures": [0, 1, 2, 0],
    })
