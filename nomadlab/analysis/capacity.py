"""Capacity: what the nodes have, what is held back, what the scheduler gave out, what is used.

One row per group × resource (``cpu`` in MHz, ``memory`` and ``disk`` in MB), with

- ``capacity``: what the counted nodes have (``NodeResources``);
- ``reserved``: what their operators held back (``ReservedResources``);
- ``allocatable`` = capacity − reserved;
- ``allocated``: the resources of the allocations that hold them (desired ``run``, client
  status not ``complete``/``failed``/``lost``): what the scheduler gave out, not what runs;
- ``used``: what those allocations use, from their latest stats sample (CPU
  ``CpuStats.TotalTicks`` in MHz, memory ``MemoryStats.Usage``); NaN without a sample, and
  always NaN for disk (Nomad reports no per-allocation disk usage);
- ``headroom`` = allocatable − allocated, ``allocated_pct`` = allocated / allocatable × 100,
  ``used_pct`` = used / allocatable × 100, ``slack`` = allocated − used (asked for, not used).

These are the Nomad Autoscaler's nomad-apm formulas (``allocatable = NodeResources.Cpu.CpuShares
− ReservedResources.Cpu.CpuShares``, ``allocated`` summed over non-terminal allocations,
percentage = allocated × 100 / allocatable), with disk and usage added. Only ``ready`` nodes
count toward capacity; the per-node frame says which nodes were left out and why
(``counted``, ``note``), and so does ``attrs["excluded"]``. Roll-ups are sums of the counted
nodes' rows.
"""

from __future__ import annotations

from typing import Any, Literal

import numpy as np
import pandas as pd

from ._inputs import live_allocs, resolve

__all__ = ["BY", "RESOURCES", "capacity"]

By = Literal["node", "node_pool", "datacenter", "node_class", "namespace", "job"]
BY: tuple[str, ...] = ("node", "node_pool", "datacenter", "node_class", "namespace", "job")

RESOURCES: tuple[tuple[str, str, str], ...] = (("cpu", "MHz", "cpu_mhz"), ("memory", "MB", "memory_mb"),
                                               ("disk", "MB", "disk_mb"))
"""(resource, unit, column in the ``nodes``/``allocations`` frames)."""

FIGURES = ("capacity", "reserved", "allocatable", "allocated", "used", "headroom", "allocated_pct", "used_pct",
           "slack")
_NODE_KEYS = ("node_id", "node_name", "datacenter", "node_pool", "node_class", "status", "eligibility", "drain")
_USED_METRIC = {"cpu": ("cpu_total_ticks", 1.0), "memory": ("memory_usage_bytes", 1.0 / (1024 * 1024))}

METHOD = (
    "allocatable = capacity - reserved (NodeResources - ReservedResources); allocated = sum of the "
    "allocated resources of allocations with desired status run and client status pending, running "
    "or unknown (as the Nomad Autoscaler's nomad-apm plugin counts); used = their latest stats "
    "sample (CpuStats.TotalTicks MHz, MemoryStats.Usage), NaN without one and for disk; "
    "pct = figure x 100 / allocatable; only ready nodes count."
)


def _alloc_usage(usage: pd.DataFrame | None) -> pd.DataFrame | None:
    """Latest used CPU (MHz) and memory (MB) per allocation from a usage or alloc_stats frame."""
    if usage is None:
        return None
    rows = usage
    if "scope" in rows.columns:
        rows = rows[rows["scope"].astype("string") == "alloc"]
    elif "task" in rows.columns:
        rows = rows[rows["task"].isna()]
    rows = rows[rows["metric"].astype("string").isin([m for m, _ in _USED_METRIC.values()])]
    if rows.empty:
        return pd.DataFrame({"alloc_id": pd.Series(dtype="string"), "cpu": pd.Series(dtype=float),
                             "memory": pd.Series(dtype=float)})
    latest = rows.sort_values("time").groupby(["alloc_id", rows["metric"].astype("string")], observed=True).tail(1)
    wide = latest.pivot_table(index="alloc_id", columns=latest["metric"].astype("string"), values="value",
                              aggfunc="last", observed=True)
    out = pd.DataFrame(index=wide.index)
    for resource, (metric, scale) in _USED_METRIC.items():
        out[resource] = wide[metric] * scale if metric in wide.columns else np.nan
    return out.reset_index()


def per_node(nodes: pd.DataFrame, allocations: pd.DataFrame, usage: pd.DataFrame | None = None) -> pd.DataFrame:
    """The per-node figures, wide: one row per node with ``<figure>_<resource>`` columns."""
    frame = nodes.rename(columns={"name": "node_name"})[[*_NODE_KEYS]].copy()
    status = frame["status"].astype("string")
    frame["counted"] = (status == "ready").fillna(False).astype(bool)
    frame["note"] = np.where(frame["counted"], "", "not counted: status " + status.fillna("unknown").astype(str))
    live = live_allocs(allocations)
    used = _alloc_usage(usage)
    if used is not None:
        live = live.merge(used, on="alloc_id", how="left")
    grouped = live.groupby("node_id", observed=True)
    for resource, _unit, col in RESOURCES:
        cap = nodes[col].astype("Float64").to_numpy(dtype=float, na_value=np.nan)
        res = nodes[f"reserved_{col}"].astype("Float64").fillna(0).to_numpy(dtype=float, na_value=np.nan)
        frame[f"capacity_{resource}"] = cap
        frame[f"reserved_{resource}"] = res
        frame[f"allocatable_{resource}"] = cap - res
        allocated = grouped[col].sum(min_count=0).astype(float)
        frame[f"allocated_{resource}"] = frame["node_id"].map(allocated).astype(float).fillna(0.0).to_numpy()
        if used is not None and resource in _USED_METRIC:
            # a node whose live allocations have no sample at all has no figure; a node with no
            # live allocation uses nothing
            has_sample = grouped[resource].count()
            n_live = grouped.size()
            sums = grouped[resource].sum(min_count=1)
            node_used = frame["node_id"].map(sums).astype(float)
            none_live = frame["node_id"].map(n_live).fillna(0).to_numpy() == 0
            no_sample = frame["node_id"].map(has_sample).fillna(0).to_numpy() == 0
            values = node_used.to_numpy(dtype=float)
            values = np.where(none_live, 0.0, np.where(no_sample, np.nan, values))
            frame[f"used_{resource}"] = values
        else:
            frame[f"used_{resource}"] = np.nan
    return frame


def _derive(frame: pd.DataFrame) -> pd.DataFrame:
    with np.errstate(divide="ignore", invalid="ignore"):
        frame["headroom"] = frame["allocatable"] - frame["allocated"]
        frame["allocated_pct"] = np.where(frame["allocatable"] > 0,
                                          frame["allocated"] * 100.0 / frame["allocatable"], np.nan)
        frame["used_pct"] = np.where(frame["allocatable"] > 0, frame["used"] * 100.0 / frame["allocatable"], np.nan)
        frame["slack"] = frame["allocated"] - frame["used"]
    return frame


def _long(wide: pd.DataFrame, keys: list[str], *, extra: tuple[str, ...] = ()) -> pd.DataFrame:
    parts = []
    for resource, unit, _col in RESOURCES:
        part = wide[[*keys, *extra]].copy()
        part["resource"] = resource
        part["unit"] = unit
        for fig in ("capacity", "reserved", "allocatable", "allocated", "used"):
            part[fig] = wide[f"{fig}_{resource}"].astype(float).to_numpy()
        parts.append(part)
    out = pd.concat(parts, ignore_index=True)
    out["resource"] = pd.Categorical(out["resource"], categories=[r for r, _, _ in RESOURCES])
    out["unit"] = pd.Categorical(out["unit"], categories=["MHz", "MB"])
    out = _derive(out)
    return out[[*keys, "resource", "unit", *extra, *FIGURES]]


def capacity(
    source_or_frames: Any = None,
    *,
    by: By = "node",
    usage: pd.DataFrame | bool | None = None,
) -> pd.DataFrame:
    """Capacity, reserved, allocatable, allocated, used and headroom, by node or rolled up.

    Parameters
    ----------
    source_or_frames
        A :class:`~nomadlab.client.NomadClient` or :class:`~nomadlab.sources.Source` (``None``:
        the ``NOMAD_*`` cluster), from which ``nodes`` and ``allocations`` are fetched; or a
        mapping with those frames (and optionally ``usage`` or ``alloc_stats``).
    by
        ``node`` (every node, counted or not), ``node_pool``, ``datacenter``, ``node_class``
        (sums over the counted nodes), ``namespace`` or ``job`` (what the allocations on
        counted nodes hold and use; ``capacity``/``reserved``/``allocatable``/``headroom`` are
        NaN there and ``allocated_pct``/``used_pct`` are shares of the counted nodes'
        allocatable).
    usage
        A ``usage`` frame (:func:`~nomadlab.analysis.usage.sample_usage`) or an ``alloc_stats``
        frame: the latest sample per allocation is its use. ``None`` (the default) fetches the
        current ``alloc_stats`` from a source, or uses the ``usage``/``alloc_stats`` frame of
        the mapping; ``False`` leaves ``used`` NaN.

    Returns
    -------
    pandas.DataFrame
        One row per group × resource: the group keys (for ``node``: ``node_id``, ``node_name``,
        ``datacenter``, ``node_pool``, ``node_class``, ``status``, ``eligibility``, ``drain``,
        ``counted``, ``note``; for ``job``: ``namespace``, ``job_id``), ``resource`` (cpu,
        memory, disk), ``unit`` (MHz, MB), ``nodes`` (counted nodes in the group) and the float
        figures ``capacity``, ``reserved``, ``allocatable``, ``allocated``, ``used``,
        ``headroom``, ``allocated_pct``, ``used_pct``, ``slack``. ``attrs["method"]`` says how;
        ``attrs["excluded"]`` maps each node left out to why.

    Examples
    --------
    >>> from nomadlab.client import NomadClient
    >>> from nomadlab.sim import SimCluster
    >>> cap = capacity(NomadClient(transport=SimCluster.default().transport()), by="datacenter")
    >>> cap[cap["resource"] == "cpu"][["datacenter", "nodes", "allocatable"]].values.tolist()
    [['dc1', 3, 27400.0], ['dc2', 2, 11600.0]]
    """
    if by not in BY:
        raise ValueError(f"by={by!r}: choose one of {', '.join(BY)}")
    if isinstance(usage, pd.DataFrame):
        frames = resolve(source_or_frames, ("nodes", "allocations"), what="capacity()")
        usage_frame: pd.DataFrame | None = usage
    else:
        want_usage = usage is None
        optional = ("usage", "alloc_stats") if want_usage else ()
        frames = resolve(source_or_frames, ("nodes", "allocations"), optional=optional, what="capacity()")
        usage_frame = frames.get("usage", frames.get("alloc_stats"))
        if want_usage and usage_frame is None and not isinstance(source_or_frames, dict):
            import nomadlab.frames as nf

            usage_frame = nf.alloc_stats(source_or_frames)
    nodes, allocations = frames["nodes"], frames["allocations"]
    wide = per_node(nodes, allocations, usage_frame)
    excluded = dict(zip(wide.loc[~wide["counted"], "node_id"], wide.loc[~wide["counted"], "note"], strict=True))

    if by == "node":
        wide["nodes"] = pd.array(wide["counted"].astype(int), dtype="Int64")
        out = _long(wide, [*_NODE_KEYS, "counted", "note"], extra=("nodes",))
    elif by in ("node_pool", "datacenter", "node_class"):
        counted = wide[wide["counted"]]
        sums = counted.groupby(by, observed=True, dropna=False).sum(numeric_only=True, min_count=1)
        sums["nodes"] = counted.groupby(by, observed=True, dropna=False).size()
        for resource, _u, _c in RESOURCES:   # used stays NaN when any counted node of the group has none
            col = f"used_{resource}"
            any_missing = counted[col].isna().groupby(counted[by], observed=True, dropna=False).any()
            sums.loc[any_missing[any_missing].index, col] = np.nan
        sums = sums.reset_index()
        sums["nodes"] = pd.array(sums["nodes"], dtype="Int64")
        out = _long(sums, [by], extra=("nodes",))
    else:
        out = _by_owner(wide, allocations, usage_frame, by)
    out = out.reset_index(drop=True)
    out.attrs = {"method": METHOD, "excluded": excluded}
    return out


def _by_owner(wide: pd.DataFrame, allocations: pd.DataFrame, usage: pd.DataFrame | None, by: str) -> pd.DataFrame:
    keys = ["namespace"] if by == "namespace" else ["namespace", "job_id"]
    counted_nodes = set(wide.loc[wide["counted"], "node_id"])
    live = live_allocs(allocations)
    live = live[live["node_id"].isin(counted_nodes)]
    used = _alloc_usage(usage)
    if used is not None:
        live = live.merge(used, on="alloc_id", how="left")
    totals = {r: float(wide.loc[wide["counted"], f"allocatable_{r}"].sum()) for r, _, _ in RESOURCES}
    parts = []
    grouped = live.groupby(keys, observed=True)
    for resource, unit, col in RESOURCES:
        part = grouped[col].sum(min_count=0).astype(float).rename("allocated").to_frame()
        if used is not None and resource in _USED_METRIC:
            part["used"] = grouped[resource].sum(min_count=1).astype(float)
        else:
            part["used"] = np.nan
        part = part.reset_index()
        part["resource"], part["unit"] = resource, unit
        total = totals[resource]
        with np.errstate(divide="ignore", invalid="ignore"):
            part["allocated_pct"] = part["allocated"] * 100.0 / total if total > 0 else np.nan
            part["used_pct"] = part["used"] * 100.0 / total if total > 0 else np.nan
        part["slack"] = part["allocated"] - part["used"]
        parts.append(part)
    out = pd.concat(parts, ignore_index=True) if parts else pd.DataFrame()
    for col in ("capacity", "reserved", "allocatable", "headroom"):
        out[col] = np.nan
    out["nodes"] = pd.array([pd.NA] * len(out), dtype="Int64")
    out["resource"] = pd.Categorical(out["resource"], categories=[r for r, _, _ in RESOURCES])
    out["unit"] = pd.Categorical(out["unit"], categories=["MHz", "MB"])
    for k in keys:
        out[k] = out[k].astype("string")
    out = out.sort_values([*keys, "resource"], kind="stable")
    return out[[*keys, "resource", "unit", "nodes", *FIGURES]]
