"""The ``node_stats`` and ``alloc_stats`` frames: resource usage samples in long format.

Nomad keeps no usage history: the client stats endpoints answer with the latest sample only.
Each call of these fetchers therefore gives one sample per entity; concatenate repeated calls
(or feed a recording) to build a history. The long format (time, entity, metric, value, unit)
makes that concatenation, and other usage sources such as Prometheus, trivial.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Sequence
from typing import Any

import pandas as pd

from ._common import readable, source_of
from ._values import as_dict, as_float, as_int, as_list, as_str, matches
from .schema import Column, Schema, register

__all__ = [
    "NODE_STATS",
    "ALLOC_STATS",
    "NODE_METRICS",
    "ALLOC_METRICS",
    "UNITS",
    "node_stats",
    "alloc_stats",
]

UNITS: tuple[str, ...] = ("percent", "MHz", "bytes", "ns", "seconds", "count")

Getter = Callable[[dict[str, Any]], Any]


def _mean_cpu_percent(stats: dict[str, Any]) -> float | None:
    values = []
    for cpu in as_list(stats.get("CPU")):
        c = as_dict(cpu)
        # Nomad before 1.0 named the busy share of a core ``Total`` (the doc sample still does).
        v = as_float(c.get("TotalPercent"))
        values.append(v if v is not None else as_float(c.get("Total")))
    known = [v for v in values if v is not None]
    return sum(known) / len(known) if known else None


def _disk_sum(field: str) -> Getter:
    def get(stats: dict[str, Any]) -> float | None:
        seen: set[Any] = set()
        total: float | None = None
        for disk in as_list(stats.get("DiskStats")):
            d = as_dict(disk)
            device = d.get("Device") if isinstance(d.get("Device"), str) and d.get("Device") else id(disk)
            value = as_float(d.get(field))
            if value is None or device in seen:
                continue
            seen.add(device)
            total = value if total is None else total + value
        return total

    return get


def _path(*keys: str) -> Getter:
    def get(stats: dict[str, Any]) -> float | None:
        obj: Any = stats
        for k in keys:
            obj = as_dict(obj).get(k)
        return as_float(obj)

    return get


# metric → (unit, how to read it from HostStats, Nomad telemetry name, meaning)
_NODE_METRICS: dict[str, tuple[str, Getter, str, str]] = {
    "cpu_percent": ("percent", _mean_cpu_percent, "`nomad_client_host_cpu_total_percent` (per core)",
                    "Busy share of the host's cores: mean over cores of CPU[].TotalPercent "
                    "(`Total` before Nomad 1.0)."),
    "cpu_ticks_consumed": ("MHz", _path("CPUTicksConsumed"), "Σ `nomad_client_host_cpu_total_ticks`",
                           "CPU in use, in MHz of the node's compute: CPUTicksConsumed."),
    "memory_total_bytes": ("bytes", _path("Memory", "Total"), "`nomad_client_host_memory_total`", "Memory.Total."),
    "memory_used_bytes": ("bytes", _path("Memory", "Used"), "`nomad_client_host_memory_used`", "Memory.Used."),
    "memory_available_bytes": ("bytes", _path("Memory", "Available"), "`nomad_client_host_memory_available`",
                               "Memory.Available (free plus reclaimable cache)."),
    "memory_free_bytes": ("bytes", _path("Memory", "Free"), "`nomad_client_host_memory_free`", "Memory.Free."),
    "disk_size_bytes": ("bytes", _disk_sum("Size"), "Σ `nomad_client_host_disk_size`",
                        "Σ DiskStats[].Size over distinct devices."),
    "disk_used_bytes": ("bytes", _disk_sum("Used"), "Σ `nomad_client_host_disk_used`",
                        "Σ DiskStats[].Used over distinct devices."),
    "disk_available_bytes": ("bytes", _disk_sum("Available"), "Σ `nomad_client_host_disk_available`",
                             "Σ DiskStats[].Available over distinct devices."),
    "alloc_dir_size_bytes": ("bytes", _path("AllocDirStats", "Size"), "—",
                             "Size of the disk holding the allocation directories: AllocDirStats.Size."),
    "alloc_dir_used_bytes": ("bytes", _path("AllocDirStats", "Used"), "—",
                             "Used space on that disk: AllocDirStats.Used."),
    "uptime_seconds": ("seconds", _path("Uptime"), "`nomad_client_uptime`", "Host uptime: Uptime."),
}
NODE_METRICS: tuple[str, ...] = tuple(_NODE_METRICS)

# metric → (unit, ResourceUsage section, field, the name in ``Measured``, telemetry name, meaning)
_ALLOC_METRICS: dict[str, tuple[str, str, str, str, str, str]] = {
    "cpu_percent": ("percent", "CpuStats", "Percent", "Percent", "nomad_client_allocs_cpu_total_percent",
                    "CPU time per second × 100, in cores (above 100 when using more than one core)."),
    "cpu_total_ticks": ("MHz", "CpuStats", "TotalTicks", "Percent", "nomad_client_allocs_cpu_total_ticks",
                        "CPU in use in MHz (Percent scaled by the node's MHz per core): compare with the CPU ask."),
    "cpu_throttled_time": ("ns", "CpuStats", "ThrottledTime", "Throttled Time",
                           "nomad_client_allocs_cpu_throttled_time", "Cumulative time throttled by the CPU limit."),
    "cpu_throttled_periods": ("count", "CpuStats", "ThrottledPeriods", "Throttled Periods",
                              "nomad_client_allocs_cpu_throttled_periods",
                              "Cumulative scheduler periods in which the task was throttled."),
    "memory_rss_bytes": ("bytes", "MemoryStats", "RSS", "RSS", "nomad_client_allocs_memory_rss",
                         "Resident set size (not measured on cgroup v2)."),
    "memory_usage_bytes": ("bytes", "MemoryStats", "Usage", "Usage", "nomad_client_allocs_memory_usage",
                           "Memory charged to the cgroup, what the memory limit is enforced against."),
    "memory_cache_bytes": ("bytes", "MemoryStats", "Cache", "Cache", "nomad_client_allocs_memory_cache",
                           "Page cache."),
    "memory_swap_bytes": ("bytes", "MemoryStats", "Swap", "Swap", "nomad_client_allocs_memory_swap", "Swap used."),
    "memory_max_usage_bytes": ("bytes", "MemoryStats", "MaxUsage", "Max Usage",
                               "nomad_client_allocs_memory_max_usage",
                               "Peak memory usage (not measured on cgroup v2)."),
}
ALLOC_METRICS: tuple[str, ...] = tuple(_ALLOC_METRICS)


def _table(rows: list[tuple[str, ...]], header: tuple[str, ...]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(r) + " |" for r in rows]
    return "\n".join(lines)


NODE_STATS = register(Schema(
    name="node_stats",
    grain="one row per sample time × node × metric",
    endpoint="GET /v1/nodes, then GET /v1/client/stats?node_id= per reachable node",
    keys=("time", "node_id", "metric"),
    description=(
        "Host usage of each node (HostStats), long format. Nodes that are down or disconnected are "
        "not asked (no client answers for them); nodes whose read failed are in "
        "`df.attrs[\"errors\"]`. A metric the host does not report has no row.\n\n"
        + _table([(f"`{m}`", u, t, d) for m, (u, _, t, d) in _NODE_METRICS.items()],
                 ("metric", "unit", "Nomad telemetry", "meaning"))
    ),
    columns=(
        Column("time", "time", "When the client sampled (HostStats.Timestamp).", source="ns"),
        Column("node_id", "string", "Node ID."),
        Column("metric", "category", "What was measured (see the table above).", categories=NODE_METRICS),
        Column("value", "float64", "The measurement, in `unit`."),
        Column("unit", "category", "Unit of `value`.", categories=UNITS),
    ),
))

ALLOC_STATS = register(Schema(
    name="alloc_stats",
    grain="one row per sample time × allocation × task (or allocation total) × metric",
    endpoint="GET /v1/allocations?resources=true, then GET /v1/client/allocation/:alloc_id/stats per running "
             "allocation",
    keys=("time", "alloc_id", "task", "metric"),
    description=(
        "Usage of running allocations (AllocResourceUsage), long format: the allocation total "
        "(`task` is `<NA>`; ResourceUsage, the sum of its tasks) and each running task. Metrics the "
        "driver does not measure (absent from `Measured`, e.g. RSS and MaxUsage on cgroup v2) or "
        "does not report have no row. Allocations whose read failed are in `df.attrs[\"errors\"]`; "
        "allocations with no running task (no sample) have no rows.\n\n"
        + _table([(f"`{m}`", u, f"{s}.{f}", f"`{t}`", d) for m, (u, s, f, _, t, d) in _ALLOC_METRICS.items()],
                 ("metric", "unit", "ResourceUsage field", "Nomad telemetry", "meaning"))
    ),
    columns=(
        Column("time", "time", "When the client sampled (the task's or the allocation's Timestamp).", source="ns"),
        Column("alloc_id", "string", "Allocation ID."),
        Column("namespace", "string", "Namespace of the job."),
        Column("job_id", "string", "Job ID."),
        Column("task_group", "string", "Task group."),
        Column("node_id", "string", "Node running the allocation."),
        Column("task", "string", "Task name; `<NA>` for the allocation total."),
        Column("metric", "category", "What was measured (see the table above).", categories=ALLOC_METRICS),
        Column("value", "float64", "The measurement, in `unit`."),
        Column("unit", "category", "Unit of `value`.", categories=UNITS),
    ),
))

_UNREACHABLE = frozenset({"down", "disconnected"})


def node_stats(source: Any = None, *, node: str | Sequence[str] | None = None) -> pd.DataFrame:
    """The latest host usage sample of every reachable node, one row per metric.

    Endpoints: ``GET /v1/nodes`` to find the nodes, then ``GET /v1/client/stats?node_id=`` for
    each node that is not down or disconnected (one request per node, fanned out; the server
    forwards it to the client). Schema: :data:`NODE_STATS` (``docs/frames.md``).

    Metrics (``metric``: HostStats field, unit; Nomad telemetry equivalent):

    - ``cpu_percent``: mean of ``CPU[].TotalPercent`` over cores, percent;
      ``nomad_client_host_cpu_total_percent`` (one series per core there).
    - ``cpu_ticks_consumed``: ``CPUTicksConsumed``, MHz; Σ ``nomad_client_host_cpu_total_ticks``.
    - ``memory_total_bytes``, ``memory_used_bytes``, ``memory_available_bytes``,
      ``memory_free_bytes``: ``Memory.Total/Used/Available/Free``, bytes;
      ``nomad_client_host_memory_total/used/available/free``.
    - ``disk_size_bytes``, ``disk_used_bytes``, ``disk_available_bytes``:
      Σ ``DiskStats[].Size/Used/Available``, bytes; Σ ``nomad_client_host_disk_size/used/available``.
    - ``alloc_dir_size_bytes``, ``alloc_dir_used_bytes``: ``AllocDirStats.Size/Used``, bytes.
    - ``uptime_seconds``: ``Uptime``, seconds; ``nomad_client_uptime``.

    Disk sums count each device once. Metric names drop the ``nomad_client_host_`` prefix (the
    frame is host usage already) and carry the unit, as every nomadlab column does.

    Parameters
    ----------
    source:
        A :class:`~nomadlab.client.NomadClient`, a :class:`~nomadlab.sources.Source`, or None.
    node:
        Only these nodes: node IDs, ID prefixes or node names (one value or several).

    Returns
    -------
    pandas.DataFrame
        One row per node × metric reported, ordered by node then metric.
        ``df.attrs["errors"]`` maps node IDs whose read failed to the message.

    Examples
    --------
    >>> from nomadlab.sim import SimCluster
    >>> from nomadlab.client import NomadClient
    >>> df = node_stats(NomadClient(transport=SimCluster.default().transport()))
    >>> wide = df.pivot(index="node_id", columns="metric", values="value")
    >>> bool((wide["memory_used_bytes"] <= wide["memory_total_bytes"]).all())
    True
    """
    src = source_of(source)
    listed, listing = readable(src.list("nodes"), "nodes")
    stubs = [s for s in listed if isinstance(s.get("ID"), str)]
    ids: list[Hashable] = [
        s["ID"] for s in stubs
        if as_str(s.get("Status")) not in _UNREACHABLE
        and (node is None or matches(s["ID"], node, prefix=True) or matches(s.get("Name"), node))
    ]
    fetched = src.details("node_stats", ids)
    unread: dict[Hashable, str] = dict(listing)
    times: list[Any] = []
    node_ids: list[Any] = []
    metrics: list[str] = []
    values: list[float] = []
    units: list[str] = []
    for nid in ids:
        stats = fetched.objects.get(nid)
        if not isinstance(stats, dict):
            if nid not in fetched.errors:
                unread[nid] = f"the host stats are not an object ({type(stats).__name__}); dropped"
            continue
        stamp = as_int(stats.get("Timestamp"))
        for metric, (unit, getter, _, _) in _NODE_METRICS.items():
            value = getter(stats)
            if value is None:
                continue
            times.append(stamp)
            node_ids.append(nid)
            metrics.append(metric)
            values.append(value)
            units.append(unit)
    frame = NODE_STATS.build({"time": times, "node_id": node_ids, "metric": metrics, "value": values,
                              "unit": units})
    frame.attrs["errors"] = {**{k: str(v) for k, v in fetched.errors.items()}, **unread}
    return frame


def _usage_rows(usage: dict[str, Any]) -> list[tuple[str, str, float]]:
    """(metric, unit, value) for every measured metric of one ResourceUsage."""
    out = []
    sections = {name: as_dict(usage.get(name)) for name in ("CpuStats", "MemoryStats")}
    for metric, (unit, section, field, measured_as, _, _) in _ALLOC_METRICS.items():
        stats = sections[section]
        value = as_float(stats.get(field))
        if value is None:
            continue
        measured = stats.get("Measured")
        if isinstance(measured, list) and measured_as not in measured:
            continue
        out.append((metric, unit, value))
    return out


def alloc_stats(
    source: Any = None,
    *,
    namespace: str = "*",
    job: str | Sequence[str] | None = None,
    alloc: str | Sequence[str] | None = None,
) -> pd.DataFrame:
    """The latest usage sample of every running allocation and its tasks, one row per metric.

    Endpoints: ``GET /v1/allocations?resources=true`` to find the running allocations, then
    ``GET /v1/client/allocation/:alloc_id/stats`` for each (one request per allocation, fanned
    out). Schema: :data:`ALLOC_STATS` (``docs/frames.md``).

    Metrics (``metric``: ResourceUsage field, unit; Nomad telemetry equivalent):

    - ``cpu_percent``: ``CpuStats.Percent``, percent of one core; ``nomad_client_allocs_cpu_total_percent``.
    - ``cpu_total_ticks``: ``CpuStats.TotalTicks``, MHz; ``nomad_client_allocs_cpu_total_ticks``.
    - ``cpu_throttled_time``: ``CpuStats.ThrottledTime``, ns (cumulative);
      ``nomad_client_allocs_cpu_throttled_time``.
    - ``cpu_throttled_periods``: ``CpuStats.ThrottledPeriods``, count (cumulative);
      ``nomad_client_allocs_cpu_throttled_periods``.
    - ``memory_rss_bytes``, ``memory_usage_bytes``, ``memory_cache_bytes``, ``memory_swap_bytes``,
      ``memory_max_usage_bytes``: ``MemoryStats.RSS/Usage/Cache/Swap/MaxUsage``, bytes;
      ``nomad_client_allocs_memory_rss/usage/cache/swap/max_usage``.

    A metric is left out when the driver says it does not measure it (``Measured``; cgroup v2
    hosts report neither RSS nor MaxUsage, so their 0 would read as "uses nothing"). Compare
    ``cpu_total_ticks`` with the CPU ask (MHz) and ``memory_usage_bytes`` with the memory limit.

    Parameters
    ----------
    source:
        A :class:`~nomadlab.client.NomadClient`, a :class:`~nomadlab.sources.Source`, or None.
    namespace:
        Namespace to list allocations in (``"*"``: every namespace the token can read).
    job:
        Only allocations of these job IDs (one or several).
    alloc:
        Only these allocations: IDs or ID prefixes (one or several).

    Returns
    -------
    pandas.DataFrame
        For each allocation in list order: its total (``task`` <NA>), then each running task by
        name; one row per metric. ``df.attrs["errors"]`` maps allocation IDs whose read failed
        to the message.

    Examples
    --------
    >>> from nomadlab.sim import SimCluster
    >>> from nomadlab.client import NomadClient
    >>> df = alloc_stats(NomadClient(transport=SimCluster.default().transport()), namespace="default")
    >>> totals = df[df["task"].isna()]
    >>> sorted(totals.loc[totals["unit"] == "bytes", "metric"].unique())
    ['memory_cache_bytes', 'memory_swap_bytes', 'memory_usage_bytes']
    """
    src = source_of(source)
    listed, listing = readable(src.list("allocations", namespace=namespace), "allocations")
    stubs = [
        a for a in listed
        if isinstance(a.get("ID"), str) and a.get("ClientStatus") == "running"
        and matches(a.get("JobID"), job) and matches(a["ID"], alloc, prefix=True)
    ]
    ids: list[Hashable] = [a["ID"] for a in stubs]
    fetched = src.details("alloc_stats", ids)
    unread: dict[Hashable, str] = dict(listing)
    cols: dict[str, list[Any]] = {c: [] for c in ALLOC_STATS.names}

    def emit(stamp: int | None, stub: dict[str, Any], task: str | None, usage: dict[str, Any]) -> None:
        for metric, unit, value in _usage_rows(usage):
            cols["time"].append(stamp)
            cols["alloc_id"].append(stub["ID"])
            cols["namespace"].append(as_str(stub.get("Namespace")))
            cols["job_id"].append(as_str(stub.get("JobID")))
            cols["task_group"].append(as_str(stub.get("TaskGroup")))
            cols["node_id"].append(as_str(stub.get("NodeID")))
            cols["task"].append(task)
            cols["metric"].append(metric)
            cols["value"].append(value)
            cols["unit"].append(unit)

    for stub in stubs:
        body = fetched.objects.get(stub["ID"])
        if not isinstance(body, dict):
            if stub["ID"] not in fetched.errors:
                unread[stub["ID"]] = f"the allocation stats are not an object ({type(body).__name__}); dropped"
            continue
        tasks = as_dict(body.get("Tasks"))
        stamp = as_int(body.get("Timestamp"))
        if not tasks and not stamp:
            continue  # no task running: Nomad has no sample, only zeros
        emit(stamp, stub, None, as_dict(body.get("ResourceUsage")))
        for name in sorted(k for k in tasks if isinstance(k, str)):
            task_usage = as_dict(tasks[name])
            emit(as_int(task_usage.get("Timestamp")), stub, name, as_dict(task_usage.get("ResourceUsage")))
    frame = ALLOC_STATS.build(cols)
    frame.attrs["errors"] = {**{k: str(v) for k, v in fetched.errors.items()}, **unread}
    return frame
