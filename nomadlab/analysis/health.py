"""Node health: every node that is not plainly healthy, and why, one reason per row."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from ._inputs import live_allocs, resolve, utc

__all__ = ["REASONS", "node_health"]

REASONS: tuple[str, ...] = (
    "down", "disconnected", "initializing", "ineligible", "draining", "driver_unhealthy", "missed_heartbeat",
    "node_event", "memory_pressure", "disk_pressure",
)
"""Why a node shows up, worst first."""

_SEVERITY = {"down": "critical", "disconnected": "critical", "missed_heartbeat": "critical",
             "initializing": "warning", "driver_unhealthy": "error", "memory_pressure": "warning",
             "disk_pressure": "warning", "draining": "warning", "ineligible": "info", "node_event": "info"}
_ROUTINE = ("Node registered", "Node re-registered")


def _last(events: pd.DataFrame, node_id: str, mask: pd.Series | None = None) -> pd.Timestamp | None:
    rows = events[events["node_id"] == node_id]
    if mask is not None:
        rows = rows[mask.reindex(rows.index, fill_value=False)]
    return None if rows.empty else rows["time"].max()


def node_health(
    source_or_frames: Any = None,
    *,
    recent: str | pd.Timedelta = "1h",
    now: Any = None,
    memory_pressure_pct: float = 90.0,
    disk_pressure_pct: float = 90.0,
    stats: bool | None = None,
) -> pd.DataFrame:
    """Every node that is not plainly healthy, with the reason, since when, and what it affects.

    Reasons (:data:`REASONS`): ``down`` / ``disconnected`` / ``initializing`` (its status),
    ``ineligible`` (scheduling eligibility off), ``draining`` (a drain in progress),
    ``driver_unhealthy`` (a Driver node event saying a driver is unhealthy or undetected),
    ``missed_heartbeat`` (a Heartbeat node event within ``recent``), ``node_event`` (any other
    non-routine node event within ``recent``), ``memory_pressure`` / ``disk_pressure`` (host
    memory or allocation-disk use at or above the threshold, from ``node_stats``).

    Parameters
    ----------
    source_or_frames
        A client or source (``nodes``, ``node_events``, ``allocations`` fetched, and
        ``node_stats`` unless ``stats=False``), or a mapping of those frames (``node_stats``
        optional).
    recent
        How far back node events count, before ``now``.
    now
        The reference time; default: the latest time seen in the frames (so a snapshot's "now"
        is its own).
    memory_pressure_pct, disk_pressure_pct
        Thresholds of host memory used / allocation disk used, in percent.
    stats
        Fetch ``node_stats`` from a source (default True for a source).

    Returns
    -------
    pandas.DataFrame
        One row per node × reason, worst first: ``node_id``, ``node_name``, ``datacenter``,
        ``node_pool``, ``status``, ``reason`` (category), ``severity``, ``detail`` (one line),
        ``since`` (UTC; NaT when unknown), ``allocs_affected`` (Int64: allocations on the node
        that hold resources, or that were lost there since ``since``) and ``alloc_ids`` (list).

    Examples
    --------
    >>> from nomadlab.sim.scenarios import build_scenario
    >>> from nomadlab.client import NomadClient
    >>> h = node_health(NomadClient(transport=build_scenario("demo").transport()))
    >>> h.loc[h["reason"] == "down", "node_name"].tolist()
    ['client-dc1-05']
    """
    optional = ("node_stats",)
    frames = resolve(source_or_frames, ("nodes", "node_events", "allocations"), optional=optional,
                     what="node_health()")
    nodes, events, allocations = frames["nodes"], frames["node_events"], frames["allocations"]
    node_stats = frames.get("node_stats")
    if node_stats is None and not isinstance(source_or_frames, dict) and stats is not False:
        import nomadlab.frames as nf

        node_stats = nf.node_stats(source_or_frames)
    latest = (events["time"].max() if len(events) else None,
              allocations["modify_time"].max() if len(allocations) else None)
    times = [s for s in latest if s is not None and pd.notna(s)]
    ref = utc(now) or (max(times) if times else pd.Timestamp.now(tz="UTC"))
    window_start = ref - pd.Timedelta(recent)
    rows: list[dict[str, Any]] = []

    live = live_allocs(allocations)
    message = events["message"].astype("string").fillna("")
    subsystem = events["subsystem"].astype("string").fillna("")

    def affected(node_id: str, since: pd.Timestamp | None) -> list[str]:
        ids = list(live.loc[live["node_id"] == node_id, "alloc_id"])
        lost = allocations[(allocations["node_id"] == node_id)
                           & (allocations["client_status"].astype("string") == "lost")]
        if since is not None and pd.notna(since):
            lost = lost[lost["modify_time"] >= since - pd.Timedelta("1s")]
        return ids + [a for a in lost["alloc_id"] if a not in ids]

    def add(node: pd.Series, reason: str, detail: str, since: pd.Timestamp | None) -> None:
        alloc_ids = affected(node["node_id"], since)
        rows.append({"node_id": node["node_id"], "node_name": node["name"], "datacenter": node["datacenter"],
                     "node_pool": node["node_pool"], "status": node["status"], "reason": reason,
                     "severity": _SEVERITY[reason], "detail": detail, "since": since,
                     "allocs_affected": len(alloc_ids), "alloc_ids": alloc_ids})

    # Nomad records a missed heartbeat as a Cluster event "Node heartbeat missed"
    heartbeat = (subsystem == "Heartbeat") | message.str.lower().str.contains("heartbeat", regex=False)
    drain_ev = subsystem == "Drain"
    driver_ev = subsystem == "Driver"
    for _, node in nodes.iterrows():
        nid, status = node["node_id"], str(node["status"])
        if status in ("down", "disconnected", "initializing"):
            since = _last(events, nid, heartbeat) if status != "initializing" else None
            desc = node["status_description"] if pd.notna(node["status_description"]) and node["status_description"] \
                else ("missed its heartbeats" if since is not None else "")
            add(node, status, f"node is {status}" + (f": {desc}" if desc else ""), since)
        if str(node["eligibility"]) == "ineligible" and not bool(node["drain"]):
            since = _last(events, nid, drain_ev)
            after = " (since its drain)" if since is not None else ""
            add(node, "ineligible", f"scheduling eligibility is off{after}: no new allocations are placed", since)
        if bool(node["drain"]):
            since = _last(events, nid, drain_ev)
            if since is None and pd.notna(node["last_drain_started"]):
                since = node["last_drain_started"]
            add(node, "draining", "a drain is in progress: allocations are migrating off", since)
        mine = events[(events["node_id"] == nid) & (events["time"] >= window_start)]
        for idx, ev in mine.iterrows():
            text = str(message.loc[idx])
            if driver_ev.loc[idx] and ("unhealthy" in text.lower() or "undetected" in text.lower()):
                add(node, "driver_unhealthy", text, ev["time"])
            elif heartbeat.loc[idx]:
                if status in ("down", "disconnected"):
                    continue        # the status row says it, with this time as since
                add(node, "missed_heartbeat", f"{text} (now {status})", ev["time"])
            elif not heartbeat.loc[idx] and not driver_ev.loc[idx] and text not in _ROUTINE \
                    and not (drain_ev.loc[idx] and bool(node["drain"])):
                add(node, "node_event", f"{ev['subsystem']}: {text}", ev["time"])
    if node_stats is not None and len(node_stats):
        latest = node_stats.sort_values("time").groupby(["node_id", node_stats["metric"].astype("string")],
                                                        observed=True).tail(1)
        wide = latest.pivot_table(index="node_id", columns=latest["metric"].astype("string"), values="value",
                                  aggfunc="last", observed=True)
        when = latest.groupby("node_id", observed=True)["time"].max()
        by_id = nodes.set_index("node_id")
        for nid, m in wide.iterrows():
            if nid not in by_id.index:
                continue
            node = by_id.loc[nid].copy()
            node["node_id"] = nid
            total, used = m.get("memory_total_bytes", np.nan), m.get("memory_used_bytes", np.nan)
            if total and total > 0 and used / total * 100 >= memory_pressure_pct:
                add(node, "memory_pressure", f"host memory {used / total:.0%} used", when.get(nid))
            size, dused = m.get("alloc_dir_size_bytes", np.nan), m.get("alloc_dir_used_bytes", np.nan)
            if size and size > 0 and dused / size * 100 >= disk_pressure_pct:
                add(node, "disk_pressure", f"allocation disk {dused / size:.0%} used", when.get(nid))
    out = pd.DataFrame(rows, columns=["node_id", "node_name", "datacenter", "node_pool", "status", "reason",
                                      "severity", "detail", "since", "allocs_affected", "alloc_ids"])
    for col in ("node_id", "node_name", "datacenter", "node_pool", "detail"):
        out[col] = out[col].astype("string")
    out["status"] = pd.Categorical(out["status"].astype(object), categories=nodes["status"].cat.categories
                                   if isinstance(nodes["status"].dtype, pd.CategoricalDtype) else None)
    out["reason"] = pd.Categorical(out["reason"], categories=REASONS)
    out["severity"] = pd.Categorical(out["severity"], categories=["info", "warning", "error", "critical"],
                                     ordered=True)
    out["since"] = pd.to_datetime(out["since"], utc=True)
    out["allocs_affected"] = pd.array(out["allocs_affected"], dtype="Int64")
    out = out.sort_values(["reason", "node_name"], kind="stable").reset_index(drop=True)
    out.attrs = {"now": ref, "recent": str(pd.Timedelta(recent))}
    return out
