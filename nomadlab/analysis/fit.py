"""Fit: how many more instances of a task group (or of a resource ask) today's free capacity holds.

An approximation of Nomad's scheduler, said as one: each node's free resources (allocatable
minus allocated, as :func:`~nomadlab.analysis.capacity.capacity` counts them) are divided by
the ask, on the nodes the job could use (ready, eligible, not draining, in one of its
datacenters and its node pool, of the node class asked for). Constraints, affinities, spread,
ports, devices, ``distinct_hosts`` and preemption are not modelled; ``fit(..., plan=True)`` asks
Nomad itself, with ``POST /v1/job/:id/plan`` for the changed count, and shows both answers.

``what_if`` applies hypothetical changes first, in order: :class:`Drain` a node,
:class:`DrainDatacenter`, :class:`RemoveNodeClass`, :class:`Scale` a group, :class:`AddNodes`.
Allocations displaced by a drain are first placed again on what is left (largest first, on the
node with the most free memory that holds them), as the scheduler would have to.
"""

from __future__ import annotations

import copy
import fnmatch
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from ._inputs import live_allocs, resolve

__all__ = ["AddNodes", "Ask", "Drain", "DrainDatacenter", "RemoveNodeClass", "Scale", "fit"]

_RES = ("cpu_mhz", "memory_mb", "disk_mb")
APPROXIMATION = (
    "approximation of Nomad's scheduler: free = allocatable - allocated per node, on ready, eligible, "
    "non-draining nodes of the job's datacenters, node pool and node class; instances = min over "
    "resources of floor(free / ask); constraints, affinities, spread, ports, devices and preemption "
    "are not modelled"
)


@dataclass(frozen=True)
class Ask:
    """What one instance asks for (a task group: its tasks summed, plus its ephemeral disk)."""

    cpu_mhz: int = 0
    memory_mb: int = 0
    disk_mb: int = 0


@dataclass(frozen=True)
class Drain:
    """Drain one node (by ID, ID prefix or name): it takes nothing new and its allocations move."""

    node: str


@dataclass(frozen=True)
class DrainDatacenter:
    """Drain every node of a datacenter."""

    datacenter: str


@dataclass(frozen=True)
class RemoveNodeClass:
    """Take every node of a node class away (with its allocations, which must move)."""

    node_class: str


@dataclass(frozen=True)
class Scale:
    """Set a task group's count (instances are added or removed before counting what fits)."""

    job: str
    group: str
    count: int
    namespace: str = "default"


@dataclass(frozen=True)
class AddNodes:
    """Add ``count`` nodes of a given size (capacity; ``reserved_*`` held back on each)."""

    count: int
    cpu_mhz: int
    memory_mb: int
    disk_mb: int = 100_000
    datacenter: str = "dc1"
    node_pool: str = "default"
    node_class: str = ""
    reserved_cpu_mhz: int = 0
    reserved_memory_mb: int = 0
    reserved_disk_mb: int = 0


Change = Drain | DrainDatacenter | RemoveNodeClass | Scale | AddNodes


def _group_ask(task_groups: pd.DataFrame, namespace: str, job: str, group: str) -> tuple[Ask, int]:
    rows = task_groups[(task_groups["namespace"] == namespace) & (task_groups["job_id"] == job)
                       & (task_groups["task_group"] == group)]
    if rows.empty:
        known = sorted(task_groups.loc[task_groups["job_id"] == job, "task_group"].dropna().unique())
        hint = f"its groups are {', '.join(known)}" if known else f"no job {job!r} in namespace {namespace!r}"
        raise ValueError(f"no task group {group!r} of job {job!r}: {hint}")
    cpu = int(rows["cpu_mhz"].fillna(0).sum())
    mem = int(rows["memory_mb"].fillna(0).sum())
    disk = int(rows["disk_mb"].dropna().iloc[0]) if rows["disk_mb"].notna().any() else 0
    count = int(rows["count"].dropna().iloc[0]) if rows["count"].notna().any() else 0
    return Ask(cpu, mem, disk), count


def _node_table(nodes: pd.DataFrame, allocations: pd.DataFrame) -> pd.DataFrame:
    t = nodes.rename(columns={"name": "node_name"})[
        ["node_id", "node_name", "datacenter", "node_pool", "node_class", "status", "eligibility", "drain"]].copy()
    for r in _RES:
        t[f"allocatable_{r}"] = nodes[f"allocatable_{r}"].astype("Float64").fillna(0).astype(float).to_numpy()
    live = live_allocs(allocations)
    used = live.groupby("node_id", observed=True)[list(_RES)].sum(min_count=0)
    for r in _RES:
        t[f"free_{r}"] = t[f"allocatable_{r}"] - t["node_id"].map(used[r]).astype(float).fillna(0).to_numpy()
    t["status"] = t["status"].astype("string")
    t["eligibility"] = t["eligibility"].astype("string")
    t["drain"] = t["drain"].fillna(False).astype(bool)
    t["node_class"] = t["node_class"].astype("string").fillna("")
    t["note"] = ""
    return t


def _match(t: pd.DataFrame, node: str) -> pd.Series:
    return ((t["node_id"] == node) | (t["node_name"] == node)
            | t["node_id"].astype("string").str.startswith(node)).fillna(False).astype(bool)


def _place(t: pd.DataFrame, usable: pd.Series, demands: list[np.ndarray]) -> int:
    """Place ``demands`` (cpu, memory, disk) largest first on ``usable`` nodes; return how many did not fit."""
    unplaced = 0
    free = t[[f"free_{r}" for r in _RES]].to_numpy(dtype=float)
    ok = usable.to_numpy()
    for d in sorted(demands, key=lambda d: (-d[1], -d[0])):
        holds = ok & (free >= d).all(axis=1)
        if not holds.any():
            unplaced += 1
            continue
        i = int(np.flatnonzero(holds)[np.argmax(free[holds, 1])])
        free[i] -= d
    for j, r in enumerate(_RES):
        t[f"free_{r}"] = free[:, j]
    return unplaced


def _job_pool(jobs: pd.DataFrame | None, namespace: str, job: str) -> str | None:
    if jobs is None:
        return None
    row = jobs[(jobs["namespace"] == namespace) & (jobs["job_id"] == job)]
    return None if row.empty or pd.isna(row["node_pool"].iloc[0]) else str(row["node_pool"].iloc[0])


def _apply(t: pd.DataFrame, allocations: pd.DataFrame, task_groups: pd.DataFrame | None,
           changes: Sequence[Change], jobs: pd.DataFrame | None = None) -> tuple[pd.DataFrame, dict[str, int]]:
    live = live_allocs(allocations)
    report = {"displaced": 0, "unplaced": 0}
    for change in changes:
        if isinstance(change, (Drain, DrainDatacenter, RemoveNodeClass)):
            if isinstance(change, Drain):
                hit = _match(t, change.node)
                label = f"drained (what-if: {change.node})"
                if not hit.any():
                    raise ValueError(f"Drain: no node {change.node!r} (give a node ID, ID prefix or name)")
            elif isinstance(change, DrainDatacenter):
                hit = (t["datacenter"] == change.datacenter).fillna(False).astype(bool)
                label = f"drained (what-if: datacenter {change.datacenter})"
            else:
                hit = (t["node_class"] == change.node_class).fillna(False).astype(bool)
                label = f"removed (what-if: node class {change.node_class})"
            ids = set(t.loc[hit, "node_id"])
            pool_of = dict(zip(t["node_id"], t["node_pool"], strict=True))
            moved = live[live["node_id"].isin(ids)]
            live = live[~live["node_id"].isin(ids)]
            t.loc[hit, "drain"] = True
            t.loc[hit, "note"] = label
            report["displaced"] += len(moved)
            # each moves within its node pool (a job is placed in one pool)
            for pool, group in moved.groupby(moved["node_id"].map(pool_of), dropna=False):
                demands = [np.array([a.get(r) if pd.notna(a.get(r)) else 0 for r in _RES], dtype=float)
                           for a in group[list(_RES)].to_dict("records")]
                report["unplaced"] += _place(t, _usable(t) & (t["node_pool"] == pool).fillna(False), demands)
            if isinstance(change, RemoveNodeClass):
                t = t[~hit].reset_index(drop=True)
        elif isinstance(change, Scale):
            if task_groups is None:
                raise ValueError("Scale needs the task_groups frame")
            ask, count = _group_ask(task_groups, change.namespace, change.job, change.group)
            d = np.array([ask.cpu_mhz, ask.memory_mb, ask.disk_mb], dtype=float)
            if change.count > count:
                where = _usable(t)
                pool = _job_pool(jobs, change.namespace, change.job)
                if pool not in (None, "all"):
                    where &= (t["node_pool"] == pool).fillna(False)
                report["unplaced"] += _place(t, where, [d] * (change.count - count))
            else:
                mine = live[(live["namespace"] == change.namespace) & (live["job_id"] == change.job)
                            & (live["task_group"] == change.group)]
                for node_id in mine["node_id"].iloc[: count - change.count]:
                    i = t.index[t["node_id"] == node_id]
                    for j, r in enumerate(_RES):
                        t.loc[i, f"free_{r}"] += d[j]
        elif isinstance(change, AddNodes):
            start = len(t)
            rows = []
            for k in range(change.count):
                row: dict[str, Any] = {
                    "node_id": f"what-if-{start + k:04d}", "node_name": f"new-{change.node_class or 'node'}-{k + 1}",
                    "datacenter": change.datacenter, "node_pool": change.node_pool, "node_class": change.node_class,
                    "status": "ready", "eligibility": "eligible", "drain": False, "note": "added (what-if)",
                }
                for r in _RES:
                    cap = getattr(change, r) - getattr(change, f"reserved_{r}")
                    row[f"allocatable_{r}"] = float(cap)
                    row[f"free_{r}"] = float(cap)
                rows.append(row)
            t = pd.concat([t, pd.DataFrame(rows)], ignore_index=True)
        else:
            raise TypeError(f"unknown what-if change {change!r}; use Drain, DrainDatacenter, RemoveNodeClass, "
                            "Scale or AddNodes")
    return t, report


def _usable(t: pd.DataFrame) -> pd.Series:
    return ((t["status"] == "ready") & (t["eligibility"] == "eligible") & ~t["drain"]).fillna(False).astype(bool)


def _dc_match(dc: Any, patterns: Sequence[str] | None) -> bool:
    if not patterns:
        return True
    return any(fnmatch.fnmatchcase(str(dc), p) for p in patterns)


def fit(
    source_or_frames: Any = None,
    *,
    ask: Ask | dict[str, int] | None = None,
    job: str | None = None,
    group: str | None = None,
    namespace: str = "default",
    datacenters: Sequence[str] | None = None,
    node_pool: str | None = None,
    node_class: str | None = None,
    what_if: Sequence[Change] = (),
    plan: bool = False,
) -> pd.DataFrame:
    """How many more instances fit, node by node.

    Parameters
    ----------
    source_or_frames
        A client or source (``nodes``, ``allocations`` and, for ``job``, ``task_groups`` and
        ``jobs`` are fetched), or a mapping with those frames.
    ask
        What one instance asks for: an :class:`Ask` or ``{"cpu_mhz":, "memory_mb":, "disk_mb":}``.
    job, group, namespace
        Or the task group whose instances to count: its ask, datacenters and node pool.
    datacenters, node_pool, node_class
        Where instances may go (glob patterns for datacenters, as in a jobspec); for ``job``
        they default to the job's. Node pool ``all`` (or None) takes every pool.
    what_if
        Hypothetical changes applied first (:class:`Drain`, :class:`DrainDatacenter`,
        :class:`RemoveNodeClass`, :class:`Scale`, :class:`AddNodes`).
    plan
        With ``job`` and a live client: also ask Nomad (``POST /v1/job/:id/plan`` with the
        group's count raised by the estimate) and put both answers in ``attrs["plan"]``.

    Returns
    -------
    pandas.DataFrame
        One row per node: ``node_id``, ``node_name``, ``datacenter``, ``node_pool``,
        ``node_class``, ``usable`` (bool), ``note`` (why not, or what the what-if did),
        ``free_cpu_mhz``, ``free_memory_mb``, ``free_disk_mb`` (after the what-ifs), ``fits``
        (Int64, 0 on unusable nodes) and ``limited_by`` (the resource that runs out first).
        ``attrs``: ``total`` (instances that fit), ``ask``, ``method`` (the approximation),
        ``displaced`` / ``unplaced`` (allocations a what-if moved / could not place), and
        ``plan`` when asked.

    Examples
    --------
    >>> from nomadlab.client import NomadClient
    >>> from nomadlab.sim import SimCluster
    >>> client = NomadClient(transport=SimCluster.default().transport())
    >>> fit(client, ask={"cpu_mhz": 1000, "memory_mb": 1024}).attrs["total"] > 0
    True
    """
    need = ("nodes", "allocations", "task_groups", "jobs") if job or any(isinstance(c, Scale) for c in what_if) \
        else ("nodes", "allocations")
    frames = resolve(source_or_frames, need, what="fit()")
    nodes, allocations = frames["nodes"], frames["allocations"]
    count_now = None
    if job is not None:
        if group is None:
            raise ValueError("fit(job=...) needs group= too (the task group whose instances to count)")
        the_ask, count_now = _group_ask(frames["task_groups"], namespace, job, group)
        jobs = frames["jobs"]
        row = jobs[(jobs["namespace"] == namespace) & (jobs["job_id"] == job)]
        if not row.empty:
            datacenters = datacenters or list(row["datacenters"].iloc[0] or [])
            node_pool = node_pool or (row["node_pool"].iloc[0] if pd.notna(row["node_pool"].iloc[0]) else None)
    elif ask is not None:
        the_ask = ask if isinstance(ask, Ask) else Ask(**ask)
    else:
        raise ValueError("fit() needs ask= (an Ask or a dict of cpu_mhz/memory_mb/disk_mb) or job= and group=")
    if not any(getattr(the_ask, r) > 0 for r in _RES):
        raise ValueError(f"the ask {the_ask} asks for nothing: give cpu_mhz, memory_mb or disk_mb above 0")

    t = _node_table(nodes, allocations)
    t, report = _apply(t, allocations, frames.get("task_groups"), what_if, frames.get("jobs"))
    usable = _usable(t)
    reasons = np.where(t["status"] != "ready", "status " + t["status"].fillna("unknown").astype(str),
                       np.where(t["eligibility"] != "eligible", "ineligible",
                                np.where(t["drain"], "draining", "")))
    in_dc = t["datacenter"].map(lambda dc: _dc_match(dc, datacenters)).astype(bool)
    in_pool = (t["node_pool"] == node_pool).fillna(False).astype(bool) if node_pool not in (None, "all") \
        else pd.Series(True, index=t.index)
    in_class = (t["node_class"] == node_class).fillna(False).astype(bool) if node_class is not None \
        else pd.Series(True, index=t.index)
    reasons = np.where(reasons != "", reasons, np.where(~in_dc, "not in the datacenters",
                       np.where(~in_pool, f"not in node pool {node_pool}",
                                np.where(~in_class, f"not of node class {node_class}", ""))))
    usable = usable & in_dc & in_pool & in_class
    per = []
    for r in _RES:
        a = getattr(the_ask, r)
        per.append(np.floor(np.maximum(t[f"free_{r}"].to_numpy(dtype=float), 0) / a) if a > 0
                   else np.full(len(t), np.inf))
    stacked = np.vstack(per)
    fits = np.where(usable.to_numpy(), stacked.min(axis=0), 0)
    fits = np.where(np.isinf(fits), 0, fits)
    limited = np.array([_RES[i] for i in stacked.argmin(axis=0)], dtype=object)
    out = pd.DataFrame({
        "node_id": t["node_id"].astype("string"), "node_name": t["node_name"].astype("string"),
        "datacenter": t["datacenter"].astype("string"), "node_pool": t["node_pool"].astype("string"),
        "node_class": t["node_class"].astype("string"), "usable": usable.to_numpy(),
        "note": pd.array([(n + "; " if n else "") + r if r else n for n, r in zip(t["note"], reasons, strict=True)],
                         dtype="string"),
        "free_cpu_mhz": t["free_cpu_mhz"].to_numpy(), "free_memory_mb": t["free_memory_mb"].to_numpy(),
        "free_disk_mb": t["free_disk_mb"].to_numpy(),
        "fits": pd.array(fits.astype(int), dtype="Int64"),
        "limited_by": pd.array([lim if ok else None for lim, ok in zip(limited, usable, strict=True)],
                               dtype="string"),
    }).sort_values(["fits", "node_name"], ascending=[False, True], kind="stable").reset_index(drop=True)
    total = int(out["fits"].sum())
    out.attrs = {"total": total, "ask": the_ask, "method": APPROXIMATION, **report}
    if plan:
        if job is None or group is None or count_now is None:
            raise ValueError("fit(plan=True) asks Nomad about a job's group: give job= and group=")
        out.attrs["plan"] = _ask_nomad(source_or_frames, namespace, job, group, count_now, total)
    return out


def _ask_nomad(source: Any, namespace: str, job: str, group: str, count_now: int, extra: int) -> dict[str, Any]:
    """Nomad's own answer: plan the job with the group's count raised by ``extra``."""
    from nomadlab.client import NomadClient

    client = source if isinstance(source, NomadClient) else getattr(source, "client", None)
    if not isinstance(client, NomadClient):
        raise ValueError("fit(plan=True) needs a live NomadClient (or LiveSource): a plan is asked of Nomad")
    spec = copy.deepcopy(client.get(f"/v1/job/{job}", namespace=namespace).body)
    asked = count_now + max(extra, 1)
    for tg in spec.get("TaskGroups") or []:
        if tg.get("Name") == group:
            tg["Count"] = asked
    reply = client.post(f"/v1/job/{job}/plan", json={"Job": spec, "Diff": False}, namespace=namespace).body
    failed = (reply.get("FailedTGAllocs") or {}).get(group) or {}
    updates = ((reply.get("Annotations") or {}).get("DesiredTGUpdates") or {}).get(group) or {}
    unplaced = int(failed.get("CoalescedFailures", 0) or 0) + (1 if failed else 0)
    placed = max(int(updates.get("Place", 0) or 0) - unplaced, 0)
    return {
        "estimate": extra, "count_now": count_now, "asked_count": asked,
        "nomad_places": placed, "nomad_unplaced": unplaced,
        "dimension_exhausted": dict(failed.get("DimensionExhausted") or {}),
        # Nomad placing every estimated instance confirms the estimate as a lower bound
        "agree": unplaced == 0 and placed == asked - count_now,
        "note": "Nomad's plan is the scheduler itself (constraints, spread, ports, devices); the estimate is not",
    }
