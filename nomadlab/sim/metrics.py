"""The agent's telemetry as ``/v1/metrics`` serves it: client gauges in go-metrics' JSON summary,
or in Prometheus' text format.

The gauges are the ones a Nomad client publishes with ``publish_node_metrics`` and
``publish_allocation_metrics`` on (``client/client.go`` ``emitHostStats``,
``emitClientMetrics``; ``client/allocrunner/taskrunner/task_runner.go``), named as Nomad names
them with ``disable_hostname = true``, labelled as Nomad labels them, and computed from the same
numbers the stats endpoints answer (:mod:`nomadlab.sim.usage`), so a scrape agrees with
``/v1/client/stats`` and ``/v1/client/allocation/:id/stats`` at the same simulated time.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

from . import usage

if TYPE_CHECKING:
    from .cluster import SimCluster

__all__ = ["gauges", "json_summary", "prometheus_text"]

Gauge = tuple[str, dict[str, str], float]
_MB = 1024 * 1024


def _node_gauges(c: SimCluster, node: dict[str, Any], out: list[Gauge]) -> None:
    base = {"node_id": node["ID"], "datacenter": node["Datacenter"], "node_class": node.get("NodeClass") or "none",
            "node_pool": node.get("NodePool") or "default"}
    allocs = c.state.node_allocs(node["ID"])
    live = [a for a in allocs if a["DesiredStatus"] == "run" and a["ClientStatus"] in ("pending", "running")]
    stats = usage.host_stats(c.seed, node, allocs, c.now_ns(), behaviours=c.behaviours)
    for key in ("Total", "Available", "Used", "Free"):
        out.append((f"nomad.client.host.memory.{key.lower()}", base, float(stats["Memory"][key])))
    for cpu in stats.get("CPU") or ():
        labels = {**base, "cpu": cpu["CPU"]}
        out += [("nomad.client.host.cpu.total", labels, float(cpu["TotalPercent"])),
                ("nomad.client.host.cpu.total_percent", labels, float(cpu["TotalPercent"])),
                ("nomad.client.host.cpu.total_ticks", labels, float(cpu["TotalTicks"])),
                ("nomad.client.host.cpu.user", labels, float(cpu["User"])),
                ("nomad.client.host.cpu.idle", labels, float(cpu["Idle"])),
                ("nomad.client.host.cpu.system", labels, float(cpu["System"]))]
    for disk in stats.get("DiskStats") or ():
        labels = {**base, "disk": disk["Device"]}
        out += [("nomad.client.host.disk.size", labels, float(disk["Size"])),
                ("nomad.client.host.disk.used", labels, float(disk["Used"])),
                ("nomad.client.host.disk.available", labels, float(disk["Available"])),
                ("nomad.client.host.disk.used_percent", labels, float(disk["UsedPercent"])),
                ("nomad.client.host.disk.inodes_percent", labels, float(disk["InodesUsedPercent"]))]
    cpu = mem = mem_max = disk_mb = 0
    for a in live:
        for t in ((a.get("AllocatedResources") or {}).get("Tasks") or {}).values():
            cpu += int(t["Cpu"]["CpuShares"])
            mem += int(t["Memory"]["MemoryMB"])
            mem_max += int(t["Memory"].get("MemoryMaxMB") or 0)
        disk_mb += int(((a.get("AllocatedResources") or {}).get("Shared") or {}).get("DiskMB") or 0)
    res, reserved = node["NodeResources"], node["ReservedResources"]
    out += [("nomad.client.allocated.memory", base, float(mem)), ("nomad.client.allocated.max_memory", base,
                                                                  float(mem_max)),
            ("nomad.client.allocated.disk", base, float(disk_mb)), ("nomad.client.allocated.cpu", base, float(cpu)),
            ("nomad.client.unallocated.memory", base,
             float(res["Memory"]["MemoryMB"] - reserved["Memory"]["MemoryMB"] - mem)),
            ("nomad.client.unallocated.disk", base,
             float(res["Disk"]["DiskMB"] - reserved["Disk"]["DiskMB"] - disk_mb)),
            ("nomad.client.unallocated.cpu", base,
             float(res["Cpu"]["CpuShares"] - reserved["Cpu"]["CpuShares"] - cpu)),
            ("nomad.client.uptime", base, float(stats["Uptime"]))]
    counts = {"pending": 0, "running": 0, "terminal": 0, "migrating": 0, "blocked": 0}
    for a in allocs:
        if a["ClientStatus"] in ("pending", "running") and a["DesiredStatus"] == "run":
            counts[a["ClientStatus"]] += 1
        elif a["ClientStatus"] not in ("pending", "running"):
            counts["terminal"] += 1
        if (a.get("DesiredTransition") or {}).get("Migrate"):
            counts["migrating"] += 1
    for key, value in counts.items():
        out.append((f"nomad.client.allocations.{key}", base, float(value)))
    for a in live:
        if a["ClientStatus"] != "running":
            continue
        alloc_stats = usage.alloc_usage(c.seed, a, c.now_ns(), node=node, behaviours=c.behaviours)
        for name, t in (alloc_stats.get("Tasks") or {}).items():
            labels = {"job": a["Job"]["Name"], "task_group": a["TaskGroup"], "alloc_id": a["ID"], "task": name,
                      "namespace": a["Namespace"]}
            ru = t["ResourceUsage"]
            m = ru["MemoryStats"]
            for field in m.get("Measured") or ():
                metric = {"RSS": "rss", "Cache": "cache", "Swap": "swap", "Usage": "usage", "Max Usage": "max_usage",
                       "Kernel Usage": "kernel_usage", "Kernel Max Usage": "kernel_max_usage"}.get(field)
                source = {"Max Usage": "MaxUsage", "Kernel Usage": "KernelUsage",
                          "Kernel Max Usage": "KernelMaxUsage"}.get(field, field)
                if metric is not None:
                    out.append((f"nomad.client.allocs.memory.{metric}", labels, float(m.get(source) or 0)))
            allocated = ((a.get("AllocatedResources") or {}).get("Tasks") or {}).get(name) or {}
            if allocated:
                out += [("nomad.client.allocs.memory.allocated", labels,
                         float(allocated["Memory"]["MemoryMB"] * _MB)),
                        ("nomad.client.allocs.memory.max_allocated", labels,
                         float((allocated["Memory"].get("MemoryMaxMB") or 0) * _MB)),
                        ("nomad.client.allocs.cpu.allocated", labels, float(allocated["Cpu"]["CpuShares"]))]
            cpu_stats = ru["CpuStats"]
            out += [("nomad.client.allocs.cpu.total_percent", labels, float(cpu_stats["Percent"])),
                    ("nomad.client.allocs.cpu.system", labels, float(cpu_stats["SystemMode"])),
                    ("nomad.client.allocs.cpu.user", labels, float(cpu_stats["UserMode"])),
                    ("nomad.client.allocs.cpu.throttled_time", labels, float(cpu_stats["ThrottledTime"])),
                    ("nomad.client.allocs.cpu.throttled_periods", labels, float(cpu_stats["ThrottledPeriods"])),
                    ("nomad.client.allocs.cpu.total_ticks", labels, float(cpu_stats["TotalTicks"]))]


def gauges(c: SimCluster) -> list[Gauge]:
    """Every client gauge of every reachable node, now (caller holds the state lock)."""
    out: list[Gauge] = []
    for node_id in sorted(c.state.nodes):
        node = c.state.nodes[node_id]
        if node.get("Status") in ("down", "disconnected"):
            continue  # a client that cannot be reached publishes nothing
        _node_gauges(c, node, out)
    return out


def json_summary(c: SimCluster) -> dict[str, Any]:
    """go-metrics' ``MetricsSummary`` of the current interval (``inmem_endpoint.go``)."""
    stamp = time.strftime("%Y-%m-%d %H:%M:%S +0000 UTC", time.gmtime(c.now_ns() // 1_000_000_000 // 10 * 10))
    return {"Timestamp": stamp,
            "Gauges": [{"Name": n, "Value": v, "Labels": labels} for n, labels, v in gauges(c)],
            "Points": [], "Counters": [], "Samples": []}


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


def prometheus_text(c: SimCluster) -> str:
    """The gauges in Prometheus' text exposition format (``promhttp``), one ``# TYPE`` per name."""
    by_name: dict[str, list[tuple[dict[str, str], float]]] = {}
    for name, labels, value in gauges(c):
        by_name.setdefault(name.replace(".", "_"), []).append((labels, value))
    lines: list[str] = []
    for name in sorted(by_name):
        lines.append(f"# HELP {name} {name}")
        lines.append(f"# TYPE {name} gauge")
        for labels, value in by_name[name]:
            text = ",".join(f'{k}="{_escape(v)}"' for k, v in sorted(labels.items()))
            lines.append(f"{name}{{{text}}} {value!r}")  # the shortest exact form, as Go's 'g', -1
    return "\n".join(lines) + "\n"
