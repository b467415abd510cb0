"""The ``nodes`` and ``node_events`` frames: client nodes, their capacity, and their event history."""

from __future__ import annotations

from collections.abc import Hashable, Sequence
from typing import Any

import pandas as pd

from ._common import readable, source_of, within
from ._values import as_bool, as_dict, as_int, as_list, as_str, matches
from .schema import Column, Schema, register

__all__ = ["NODES", "NODE_EVENTS", "NODE_STATUSES", "NODE_ELIGIBILITIES", "DRAIN_STATUSES",
           "NODE_EVENT_SUBSYSTEMS", "nodes", "node_events"]

NODE_STATUSES: tuple[str, ...] = ("initializing", "ready", "down", "disconnected")
NODE_ELIGIBILITIES: tuple[str, ...] = ("eligible", "ineligible")
DRAIN_STATUSES: tuple[str, ...] = ("draining", "complete", "canceled")
NODE_EVENT_SUBSYSTEMS: tuple[str, ...] = ("Cluster", "Drain", "Driver", "Heartbeat", "Scheduler", "Storage")

NODES = register(Schema(
    name="nodes",
    grain="one row per client node",
    endpoint="GET /v1/nodes?resources=true",
    keys=("node_id",),
    description=(
        "Client nodes with their capacity, what the operator reserved, and what is left for "
        "allocations. allocatable = capacity − reserved, the Nomad Autoscaler's nomad-apm formula "
        "(NodeResources.Cpu.CpuShares − ReservedResources.Cpu.CpuShares, likewise memory and disk)."
    ),
    columns=(
        Column("node_id", "string", "Node ID (the join key `node_id` of other frames)."),
        Column("name", "string", "Node name (usually the host name)."),
        Column("datacenter", "string", "Datacenter the node belongs to."),
        Column("node_pool", "string", "Node pool the node belongs to."),
        Column("node_class", "string", "Node class (empty string when none is set)."),
        Column("address", "string", "Address of the node's HTTP API (IP, without port)."),
        Column("version", "string", "Nomad version the client runs."),
        Column("status", "category", "Client status as the servers see it.", categories=NODE_STATUSES),
        Column("status_description", "string", "Why the node has its status, when Nomad says."),
        Column("eligibility", "category", "Whether the scheduler may place new allocations on the node.",
               categories=NODE_ELIGIBILITIES),
        Column("drain", "boolean", "A drain is in progress (a drain strategy is set)."),
        Column("drivers", "string",
               "Healthy task drivers, sorted and comma-separated (`docker,exec`); empty when none is "
               "healthy, `<NA>` when the node reports no drivers. `.str.split(',')` gives lists."),
        Column("cpu_mhz", "Int64", "CPU capacity: NodeResources.Cpu.CpuShares.", unit="MHz"),
        Column("cores", "Int64", "CPU cores: NodeResources.Cpu.TotalCpuCores.", unit="cores"),
        Column("memory_mb", "Int64", "Memory capacity: NodeResources.Memory.MemoryMB.", unit="MB"),
        Column("disk_mb", "Int64", "Disk capacity for allocations: NodeResources.Disk.DiskMB.", unit="MB"),
        Column("reserved_cpu_mhz", "Int64", "CPU held back from scheduling: ReservedResources.Cpu.CpuShares.",
               unit="MHz"),
        Column("reserved_memory_mb", "Int64", "Memory held back: ReservedResources.Memory.MemoryMB.", unit="MB"),
        Column("reserved_disk_mb", "Int64", "Disk held back: ReservedResources.Disk.DiskMB.", unit="MB"),
        Column("allocatable_cpu_mhz", "Int64",
               "cpu_mhz − reserved_cpu_mhz (a missing reservation counts as 0).", unit="MHz"),
        Column("allocatable_memory_mb", "Int64",
               "memory_mb − reserved_memory_mb (a missing reservation counts as 0).", unit="MB"),
        Column("allocatable_disk_mb", "Int64",
               "disk_mb − reserved_disk_mb (a missing reservation counts as 0).", unit="MB"),
        Column("last_drain_status", "category", "Outcome of the node's last drain (LastDrain.Status).",
               categories=DRAIN_STATUSES),
        Column("last_drain_started", "time", "When the last drain started (LastDrain.StartedAt).",
               source="rfc3339"),
        Column("last_drain_updated", "time", "When the last drain last changed (LastDrain.UpdatedAt).",
               source="rfc3339"),
        Column("create_index", "Int64", "Raft index at registration."),
        Column("modify_index", "Int64", "Raft index of the last change."),
    ),
))

NODE_EVENTS = register(Schema(
    name="node_events",
    grain="one row per node event",
    endpoint="GET /v1/nodes, then GET /v1/node/:node_id per node",
    keys=("node_id", "create_index"),
    description=(
        "The events each node keeps (registration, heartbeats missed, drains, driver health; Nomad "
        "retains the last 10 per node). Sorted by time. Nodes whose read failed are listed in "
        "`df.attrs[\"errors\"]` (node ID → message)."
    ),
    columns=(
        Column("node_id", "string", "Node ID."),
        Column("node_name", "string", "Node name."),
        Column("datacenter", "string", "Datacenter of the node."),
        Column("time", "time", "When the event happened (NodeEvent.Timestamp).", source="rfc3339"),
        Column("subsystem", "category", "Which part of Nomad emitted the event.",
               categories=NODE_EVENT_SUBSYSTEMS),
        Column("message", "string", "What happened."),
        Column("details", "object", "Extra key/value details (dict of strings), or None."),
        Column("create_index", "Int64", "Raft index at which the event was recorded."),
    ),
))


def _healthy_drivers(drivers: Any) -> str | None:
    if not isinstance(drivers, dict):
        return None
    return ",".join(sorted(str(name) for name, info in drivers.items() if as_dict(info).get("Healthy") is True))


def _sub(a: int | None, b: int | None) -> int | None:
    return None if a is None else a - (b or 0)


def _check_statuses(status: str | Sequence[str] | None) -> None:
    if status is None:
        return
    unknown = [s for s in ((status,) if isinstance(status, str) else status) if s not in NODE_STATUSES]
    if unknown:
        raise ValueError(f"unknown node status {unknown}; expected any of {', '.join(NODE_STATUSES)}")


def nodes(
    source: Any = None,
    *,
    datacenter: str | Sequence[str] | None = None,
    node_pool: str | Sequence[str] | None = None,
    status: str | Sequence[str] | None = None,
    filter: str | None = None,
) -> pd.DataFrame:
    """Every client node with its capacity, reserved and allocatable resources.

    Endpoint: ``GET /v1/nodes?resources=true`` (all pages). Schema: :data:`NODES`
    (``docs/frames.md``).

    Parameters
    ----------
    source:
        A :class:`~nomadlab.client.NomadClient`, a :class:`~nomadlab.sources.Source`, or None to
        connect from ``NOMAD_*`` variables.
    datacenter, node_pool, status:
        Keep only nodes in these datacenters / node pools / with these statuses (one value or
        several). ``status`` must be one of :data:`NODE_STATUSES`.
    filter:
        A Nomad filter expression evaluated by the server (``?filter=``), e.g.
        ``'Attributes["os.name"] == "ubuntu"'``.

    Returns
    -------
    pandas.DataFrame
        One row per node, in the endpoint's order (by node ID). Capacity is ``NodeResources``,
        reserved is ``ReservedResources``, allocatable is capacity − reserved, as the Nomad
        Autoscaler computes it. Nodes from a Nomad whose list stubs lack ``NodeResources`` keep
        every column, with <NA> capacity.

    Examples
    --------
    >>> from nomadlab.sim import SimCluster
    >>> from nomadlab.client import NomadClient
    >>> df = nodes(NomadClient(transport=SimCluster.default().transport()), datacenter="dc2")
    >>> df.sort_values("name")[["name", "cpu_mhz", "reserved_cpu_mhz", "allocatable_cpu_mhz"]].values.tolist()
    [['dev-client-4', 8000, 200, 7800], ['dev-client-5', 4000, 200, 3800]]
    """
    _check_statuses(status)
    stubs, errors = readable(source_of(source).list("nodes", filter=filter), "nodes")
    rows = [
        s for s in stubs
        if matches(s.get("Datacenter"), datacenter)
        and matches(s.get("NodePool"), node_pool)
        and matches(s.get("Status"), status)
    ]
    res = [as_dict(r.get("NodeResources")) for r in rows]
    rsv = [as_dict(r.get("ReservedResources")) for r in rows]
    cpu = [as_int(as_dict(x.get("Cpu")).get("CpuShares")) for x in res]
    mem = [as_int(as_dict(x.get("Memory")).get("MemoryMB")) for x in res]
    disk = [as_int(as_dict(x.get("Disk")).get("DiskMB")) for x in res]
    r_cpu = [as_int(as_dict(x.get("Cpu")).get("CpuShares")) for x in rsv]
    r_mem = [as_int(as_dict(x.get("Memory")).get("MemoryMB")) for x in rsv]
    r_disk = [as_int(as_dict(x.get("Disk")).get("DiskMB")) for x in rsv]
    drains = [as_dict(r.get("LastDrain")) for r in rows]
    frame = NODES.build({
        "node_id": [as_str(r.get("ID")) for r in rows],
        "name": [as_str(r.get("Name")) for r in rows],
        "datacenter": [as_str(r.get("Datacenter")) for r in rows],
        "node_pool": [as_str(r.get("NodePool")) for r in rows],
        "node_class": [as_str(r.get("NodeClass")) for r in rows],
        "address": [as_str(r.get("Address")) for r in rows],
        "version": [as_str(r.get("Version")) for r in rows],
        "status": [as_str(r.get("Status")) for r in rows],
        "status_description": [as_str(r.get("StatusDescription")) for r in rows],
        "eligibility": [as_str(r.get("SchedulingEligibility")) for r in rows],
        "drain": [as_bool(r.get("Drain")) for r in rows],
        "drivers": [_healthy_drivers(r.get("Drivers")) for r in rows],
        "cpu_mhz": cpu,
        "cores": [as_int(as_dict(x.get("Cpu")).get("TotalCpuCores")) for x in res],
        "memory_mb": mem,
        "disk_mb": disk,
        "reserved_cpu_mhz": r_cpu,
        "reserved_memory_mb": r_mem,
        "reserved_disk_mb": r_disk,
        "allocatable_cpu_mhz": [_sub(a, b) for a, b in zip(cpu, r_cpu, strict=True)],
        "allocatable_memory_mb": [_sub(a, b) for a, b in zip(mem, r_mem, strict=True)],
        "allocatable_disk_mb": [_sub(a, b) for a, b in zip(disk, r_disk, strict=True)],
        "last_drain_status": [as_str(d.get("Status")) for d in drains],
        "last_drain_started": [as_str(d.get("StartedAt")) for d in drains],
        "last_drain_updated": [as_str(d.get("UpdatedAt")) for d in drains],
        "create_index": [as_int(r.get("CreateIndex")) for r in rows],
        "modify_index": [as_int(r.get("ModifyIndex")) for r in rows],
    })
    frame.attrs["errors"] = errors
    return frame


def node_events(
    source: Any = None,
    *,
    node: str | Sequence[str] | None = None,
    since: Any = None,
    until: Any = None,
) -> pd.DataFrame:
    """The events every node keeps, as one timeline.

    Endpoints: ``GET /v1/nodes`` to find the nodes, then ``GET /v1/node/:node_id`` for each
    (``NodeEvent`` lists live on the full node only; one request per node, fanned out).
    Schema: :data:`NODE_EVENTS` (``docs/frames.md``).

    Parameters
    ----------
    source:
        A :class:`~nomadlab.client.NomadClient`, a :class:`~nomadlab.sources.Source`, or None.
    node:
        Only these nodes: node IDs, ID prefixes or node names (one value or several).
    since, until:
        Keep events with ``since <= time < until`` (anything :class:`pandas.Timestamp` accepts;
        naive values are UTC).

    Returns
    -------
    pandas.DataFrame
        One row per event, sorted by time. ``df.attrs["errors"]`` maps the node IDs whose read
        failed to the error message (empty when all succeeded).

    Examples
    --------
    >>> from nomadlab.sim import SimCluster
    >>> from nomadlab.client import NomadClient
    >>> ev = node_events(NomadClient(transport=SimCluster.default().transport()))
    >>> ev["message"].value_counts().to_dict()
    {'Node registered': 5}
    """
    src = source_of(source)
    stubs, listing = readable(src.list("nodes"), "nodes")
    wanted = [s for s in stubs if node is None
              or matches(s.get("ID"), node, prefix=True) or matches(s.get("Name"), node)]
    ids: list[Hashable] = [s["ID"] for s in wanted if isinstance(s.get("ID"), str)]
    stub_by_id = {s["ID"]: s for s in wanted if isinstance(s.get("ID"), str)}
    fetched = src.details("node", ids)
    unread: dict[Hashable, str] = dict(listing)
    node_ids: list[Any] = []
    names: list[Any] = []
    dcs: list[Any] = []
    events: list[dict[str, Any]] = []
    for nid in ids:
        full = fetched.objects.get(nid)
        if not isinstance(full, dict):
            if nid not in fetched.errors:
                unread[nid] = f"the node is not an object ({type(full).__name__}); dropped"
            continue
        stub = stub_by_id[nid]
        name = as_str(full.get("Name")) or as_str(stub.get("Name"))
        dc = as_str(full.get("Datacenter")) or as_str(stub.get("Datacenter"))
        for event in as_list(full.get("Events")):
            if not isinstance(event, dict):
                continue
            node_ids.append(nid)
            names.append(name)
            dcs.append(dc)
            events.append(event)
    frame = NODE_EVENTS.build({
        "node_id": node_ids,
        "node_name": names,
        "datacenter": dcs,
        "time": [as_str(e.get("Timestamp")) for e in events],
        "subsystem": [as_str(e.get("Subsystem")) for e in events],
        "message": [as_str(e.get("Message")) for e in events],
        "details": [e.get("Details") if isinstance(e.get("Details"), dict) else None for e in events],
        "create_index": [as_int(e.get("CreateIndex")) for e in events],
    })
    frame = within(frame, "time", since, until)
    frame = frame.sort_values(["time", "create_index"], kind="stable", na_position="last").reset_index(drop=True)
    frame.attrs["frame"] = NODE_EVENTS.name
    frame.attrs["errors"] = {**{k: str(v) for k, v in fetched.errors.items()}, **unread}
    return frame
