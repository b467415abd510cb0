"""Synthetic resource usage for the client stats endpoints (REFERENCE §5).

Pure functions: the same cluster seed, objects and simulated time always give the same answer.
Usage follows a daily pattern (busiest in the UTC afternoon), noise drawn per 10 s bucket from a
hash (interpolated, so 2 s polls move smoothly), and a per-task profile hashed from the job and
task names or scripted in the cluster's behaviour table (``cpu_profile`` / ``mem_profile``, a
fraction of the task's ask, or ``memory_mb``, the working set the program reaches once warm; see
:class:`~nomadlab.sim.lifecycle.Behaviours`).

Units are Nomad's: ``CpuStats.Percent`` is percent of *one core* (cgroup CPU seconds per
second × 100, so above 100 on several cores), ``CpuStats.TotalTicks`` is that percent turned into
MHz (``Percent / 100 × node compute / cores``, ``client/lib/cpustats``), host
``CPUTicksConsumed`` is the sum of every core's ``TotalTicks``, memory is bytes.

Consistency rules: only running tasks use resources; a task never uses more CPU than its
``CPU`` ask nor more memory than its limit (``MemoryMaxMB`` when set, else ``MemoryMB``); a task
whose working set outgrows its limit climbs toward the limit and reaches it at the OOM kill;
a node's host usage is its allocations' usage plus an operating-system share, so it is never
below their sum.
"""

from __future__ import annotations

import hashlib
import math
import struct
from typing import Any

from .clock import NS_PER_S
from .lifecycle import Behaviours

__all__ = [
    "alloc_usage",
    "host_stats",
    "task_usage",
    "task_limits",
    "running_task_start_ns",
    "MEASURED_MEMORY",
    "MEASURED_CPU_DOCKER",
    "MEASURED_CPU_EXECUTOR",
]

MiB = 1024 * 1024
BUCKET_S = 10  # noise changes every 10 s of simulated time
COLLECTION_S = 1  # a client samples stats every second (collection_interval)

# The simulated nodes fingerprint a cgroup-v2 kernel (6.8): memory stats are the v2 subset, so
# RSS and MaxUsage are not measured and stay 0 (drivers/docker/util/stats_posix.go and the
# executor's ExecutorCgroupV2MeasuredMemStats).
MEASURED_MEMORY = ["Cache", "Swap", "Usage"]
MEASURED_CPU_DOCKER = ["Throttled Periods", "Throttled Time", "Percent"]
MEASURED_CPU_EXECUTOR = [
    "System Mode",
    "User Mode",
    "Throttled Periods",
    "Throttled Time",
    "Percent",
]

_DEFAULT_MHZ_PER_CORE = 2000.0


def _unit(*parts: Any) -> float:
    """A number in ``[0, 1)`` hashed from ``parts``."""
    digest = hashlib.blake2b("\x1f".join(str(p) for p in parts).encode(), digest_size=8).digest()
    return float(struct.unpack(">Q", digest)[0]) / 2.0**64


def _daily(now_ns: int, phase: float) -> float:
    """The daily load factor in ``[0.55, 1.0]``: lowest at night, highest mid-afternoon UTC."""
    day_s = (now_ns / NS_PER_S) % 86400.0
    angle = 2.0 * math.pi * (day_s / 86400.0 - 0.25 - 0.15 * phase)
    return 0.775 + 0.225 * math.sin(angle)


def _noise(now_ns: int, *key: Any) -> float:
    """Hashed noise in ``[-1, 1]`` per 10 s bucket, linearly interpolated between buckets."""
    t = now_ns / NS_PER_S / BUCKET_S
    b = math.floor(t)
    frac = t - b
    a = _unit(*key, b) * 2.0 - 1.0
    c = _unit(*key, b + 1) * 2.0 - 1.0
    return a + (c - a) * frac


_NO_SCRIPT = Behaviours()


def _clamp(value: float | None, default: float) -> float:
    return default if value is None else min(max(float(value), 0.0), 1.0)


def _group(job: dict[str, Any], name: str) -> dict[str, Any]:
    return next((g for g in job.get("TaskGroups") or () if g["Name"] == name), {"Tasks": []})


def task_limits(alloc: dict[str, Any], task_name: str) -> tuple[float, int]:
    """The task's CPU ask (MHz) and memory limit (bytes) as allocated.

    The memory limit is ``MemoryMaxMB`` when oversubscription set it, else ``MemoryMB``.
    """
    res = (((alloc.get("AllocatedResources") or {}).get("Tasks") or {}).get(task_name)) or {}
    cpu = float((res.get("Cpu") or {}).get("CpuShares") or 0)
    mem = res.get("Memory") or {}
    limit_mb = int(mem.get("MemoryMaxMB") or 0) or int(mem.get("MemoryMB") or 0)
    return cpu, limit_mb * MiB


def running_task_start_ns(state: dict[str, Any]) -> int | None:
    """When the task's current run started, or ``None`` when it is not running."""
    if state.get("State") != "running":
        return None
    for event in reversed(state.get("Events") or []):
        if event.get("Type") == "Started":
            return int(event["Time"])
    from .logs import parse_rfc3339

    started = parse_rfc3339(state.get("StartedAt") or "")
    return started or None


def _mhz_per_core(node: dict[str, Any] | None) -> float:
    if not node:
        return _DEFAULT_MHZ_PER_CORE
    cpu = ((node.get("NodeResources") or {}).get("Cpu")) or {}
    shares = float(cpu.get("CpuShares") or 0)
    cores = int(cpu.get("TotalCpuCores") or 0)
    if shares <= 0 or cores <= 0:
        return _DEFAULT_MHZ_PER_CORE
    return shares / cores


def task_usage(
    cluster_seed: int,
    alloc: dict[str, Any],
    task_name: str,
    now_ns: int,
    *,
    node: dict[str, Any] | None = None,
    behaviours: Behaviours | None = None,
) -> dict[str, Any] | None:
    """One task's ``TaskResourceUsage`` at ``now_ns``, or ``None`` when it is not running.

    Parameters
    ----------
    cluster_seed:
        The cluster's seed; different seeds give different (but each repeatable) noise.
    alloc:
        The full allocation (its ``Job``, ``TaskStates`` and ``AllocatedResources`` are read).
    task_name:
        The task.
    now_ns:
        Simulated time (Unix ns); the sample is stamped at the last whole second.
    node:
        The node running the allocation (its compute per core turns MHz into percent).
    behaviours:
        The cluster's behaviour table (what the task's program does); none: the defaults.
    """
    state = (alloc.get("TaskStates") or {}).get(task_name)
    if state is None:
        return None
    start = running_task_start_ns(state)
    if start is None or start > now_ns:
        return None
    job = alloc.get("Job") or {}
    tg = _group(job, alloc.get("TaskGroup", ""))
    task: dict[str, Any] = next(
        (t for t in tg.get("Tasks") or () if t.get("Name") == task_name), {}
    )
    behaviour = (behaviours or _NO_SCRIPT).of(job, tg, task)
    cpu_ask, mem_limit = task_limits(alloc, task_name)
    stamp = now_ns - now_ns % (COLLECTION_S * NS_PER_S)
    key = (cluster_seed, alloc["ID"], task_name)
    profile_key = (job.get("Namespace", ""), job.get("ID", ""), tg.get("Name", ""), task_name)
    elapsed_s = max(0.0, (now_ns - start) / NS_PER_S)
    warm = min(1.0, 0.3 + elapsed_s / 60.0)  # usage settles over the first minute

    # CPU: profile × daily pattern × noise, never above the ask.
    cpu_profile = _clamp(behaviour.cpu_profile, 0.15 + 0.45 * _unit("cpu", *profile_key))
    daily = _daily(now_ns, _unit("phase", *profile_key))
    cpu_factor = cpu_profile * daily * warm * (1.0 + 0.2 * _noise(now_ns, "cpu", *key))
    used_mhz = min(cpu_ask, max(0.0, cpu_ask * cpu_factor))
    percent = used_mhz / _mhz_per_core(node) * 100.0
    system_share = 0.15 + 0.2 * _unit("sys", *profile_key)
    throttle_rate = max(0.0, cpu_factor - 0.85) * 10.0  # throttled periods per second near the cap
    periods = int(elapsed_s * throttle_rate)

    # Memory: settles at the profile share of the limit; an OOM task climbs to the limit.
    mem_profile = _clamp(behaviour.mem_profile, 0.3 + 0.4 * _unit("mem", *profile_key))
    working_mb = behaviour.memory_at(elapsed_s)
    if behaviour.fail == "oom" and working_mb is not None and mem_limit > 0:
        # The working set outgrows the limit: it climbs to the limit, where the kernel kills it.
        progress = min(1.0, elapsed_s / behaviour.fail_after_s) if behaviour.fail_after_s > 0 else 1.0
        share = working_mb * MiB / mem_limit * (1.0 + 0.02 * (1.0 - progress) * _noise(now_ns, "mem", *key))
        if progress >= 1.0:
            share = 1.0
    elif working_mb is not None and mem_limit > 0:
        share = working_mb * MiB / mem_limit * (1.0 + 0.03 * _noise(now_ns, "mem", *key))
    elif behaviour.fail == "oom" and behaviour.fail_after_s > 0:
        progress = min(1.0, elapsed_s / behaviour.fail_after_s)
        share = mem_profile + (1.0 - mem_profile) * progress**2
    else:
        share = mem_profile * (0.6 + 0.4 * warm) * (1.0 + 0.03 * _noise(now_ns, "mem", *key))
    usage = int(min(1.0, max(0.0, share)) * mem_limit)
    cache = int(usage * (0.05 + 0.15 * _unit("cache", *profile_key)))
    docker = task.get("Driver") == "docker"
    cpu_stats = {
        "SystemMode": percent * system_share,
        "UserMode": percent * (1.0 - system_share),
        "TotalTicks": used_mhz,
        "ThrottledPeriods": periods,
        "ThrottledTime": periods * 2_500_000,
        "Percent": percent,
        "Measured": list(MEASURED_CPU_DOCKER if docker else MEASURED_CPU_EXECUTOR),
    }
    memory_stats = {
        "RSS": 0,
        "Cache": cache,
        "Swap": 0,
        "MappedFile": 0,
        "Usage": usage,
        "MaxUsage": 0,
        "KernelUsage": 0,
        "KernelMaxUsage": 0,
        "Measured": list(MEASURED_MEMORY),
    }
    return {
        "ResourceUsage": {"MemoryStats": memory_stats, "CpuStats": cpu_stats, "DeviceStats": None},
        "Timestamp": stamp,
        "Pids": None,
    }


def _join(a: list[str], b: list[str]) -> list[str]:
    return a + [x for x in b if x not in a]


def alloc_usage(
    cluster_seed: int,
    alloc: dict[str, Any],
    now_ns: int,
    *,
    node: dict[str, Any] | None = None,
    task: str = "",
    behaviours: Behaviours | None = None,
) -> dict[str, Any]:
    """``AllocResourceUsage`` as ``GET /v1/client/allocation/:alloc_id/stats`` answers it.

    Parameters
    ----------
    cluster_seed, now_ns, node, behaviours:
        As for :func:`task_usage`.
    alloc:
        The full allocation.
    task:
        Only this task (``?task=``); an unknown name yields no tasks, as Nomad's
        ``LatestAllocStats`` does.

    Returns
    -------
    dict
        ``{ResourceUsage, Tasks, Timestamp}``: ``Tasks`` holds the running tasks only (Nomad has
        no sample for a task that is not running); ``ResourceUsage`` is their sum and
        ``Timestamp`` their latest sample time (0 when none runs).
    """
    memory: dict[str, Any] = {
        k: 0
        for k in (
            "RSS",
            "Cache",
            "Swap",
            "MappedFile",
            "Usage",
            "MaxUsage",
            "KernelUsage",
            "KernelMaxUsage",
        )
    }
    memory["Measured"] = None
    cpu: dict[str, Any] = {
        "SystemMode": 0.0,
        "UserMode": 0.0,
        "TotalTicks": 0.0,
        "ThrottledPeriods": 0,
        "ThrottledTime": 0,
        "Percent": 0.0,
        "Measured": None,
    }
    tasks: dict[str, Any] = {}
    stamp = 0
    for name in sorted(alloc.get("TaskStates") or {}):
        if task and name != task:
            continue
        usage = task_usage(cluster_seed, alloc, name, now_ns, node=node, behaviours=behaviours)
        if usage is None:
            continue
        tasks[name] = usage
        stamp = max(stamp, usage["Timestamp"])
        ms = usage["ResourceUsage"]["MemoryStats"]
        cs = usage["ResourceUsage"]["CpuStats"]
        for k in memory:
            if k != "Measured":
                memory[k] += ms[k]
        for k in cpu:
            if k != "Measured":
                cpu[k] += cs[k]
        memory["Measured"] = _join(memory["Measured"] or [], ms["Measured"])
        cpu["Measured"] = _join(cpu["Measured"] or [], cs["Measured"])
    return {
        "ResourceUsage": {"MemoryStats": memory, "CpuStats": cpu, "DeviceStats": []},
        "Tasks": tasks,
        "Timestamp": stamp,
    }


def _registered_ns(node: dict[str, Any]) -> int:
    from .logs import parse_rfc3339

    for event in node.get("Events") or []:
        if event.get("Message") == "Node registered":
            when = parse_rfc3339(event.get("Timestamp") or "")
            if when:
                return when
    return int(node.get("StatusUpdatedAt") or 0) * NS_PER_S


def host_stats(
    cluster_seed: int,
    node: dict[str, Any],
    allocs: list[dict[str, Any]],
    now_ns: int,
    *,
    behaviours: Behaviours | None = None,
) -> dict[str, Any]:
    """``HostStats`` as ``GET /v1/client/stats?node_id=`` answers it.

    Parameters
    ----------
    cluster_seed:
        The cluster's seed.
    node:
        The full node.
    allocs:
        The allocations placed on the node; their running tasks' usage is included.
    now_ns:
        Simulated time (Unix ns).
    behaviours:
        The cluster's behaviour table (see :func:`task_usage`).

    Returns
    -------
    dict
        ``Memory`` (bytes), ``CPU`` per core (percent, ``TotalTicks`` in MHz),
        ``DiskStats`` (the root partition), ``AllocDirStats`` (the same disk, with empty
        ``Device``/``Mountpoint`` as Nomad reports it), ``DeviceStats`` (``[]``: no devices are
        simulated), ``Uptime`` (s), ``Timestamp`` (ns), ``CPUTicksConsumed``. Used CPU and
        memory are the allocations' plus an operating-system share, capped at the capacity.
    """
    nid = node["ID"]
    res = node.get("NodeResources") or {}
    cores = int(((res.get("Cpu") or {}).get("TotalCpuCores")) or 1)
    capacity_mhz = float(((res.get("Cpu") or {}).get("CpuShares")) or cores * _DEFAULT_MHZ_PER_CORE)
    per_core = capacity_mhz / cores
    total_mem = int(((res.get("Memory") or {}).get("MemoryMB")) or 0) * MiB
    disk_bytes = int(((res.get("Disk") or {}).get("DiskMB")) or 0) * MiB
    stamp = now_ns - now_ns % (COLLECTION_S * NS_PER_S)

    alloc_mhz = 0.0
    alloc_mem = 0
    alloc_disk = 0
    for alloc in allocs:
        usage = alloc_usage(cluster_seed, alloc, now_ns, node=node, behaviours=behaviours)
        if not usage["Tasks"]:
            continue
        alloc_mhz += usage["ResourceUsage"]["CpuStats"]["TotalTicks"]
        alloc_mem += usage["ResourceUsage"]["MemoryStats"]["Usage"]
        disk_mb = int(
            (((alloc.get("AllocatedResources") or {}).get("Shared")) or {}).get("DiskMB") or 0
        )
        alloc_disk += int(disk_mb * MiB * (0.1 + 0.3 * _unit("disk", cluster_seed, alloc["ID"])))

    # CPU: allocations plus 1-4 % of the machine for the OS and the Nomad agent.
    daily = _daily(now_ns, _unit("phase", nid))
    os_mhz = capacity_mhz * (0.01 + 0.03 * daily * (0.5 + 0.5 * _unit("os", nid)))
    os_mhz *= 1.0 + 0.2 * _noise(now_ns, "oscpu", cluster_seed, nid)
    used_mhz = min(capacity_mhz, alloc_mhz + os_mhz)
    total_percent = used_mhz / per_core * 100.0  # summed over cores
    weights = [1.0 + 0.5 * (_noise(now_ns, "core", cluster_seed, nid, i)) for i in range(cores)]
    scale = total_percent / sum(weights)
    busy = [w * scale for w in weights]
    if max(busy) > 100.0:
        busy = [total_percent / cores] * cores
    cpus = []
    ticks_total = 0.0
    for i, b in enumerate(busy):
        b = min(100.0, max(0.0, b))
        system = b * (0.2 + 0.1 * _unit("csys", nid, i))
        ticks = b / 100.0 * per_core
        ticks_total += ticks
        cpus.append(
            {
                "CPU": f"cpu{i}",
                "User": b * 0.95 - system,
                "System": system,
                "Idle": 100.0 - b,
                "TotalPercent": b,
                "TotalTicks": ticks,
            }
        )
    # Summing per-core ticks can round below the allocations' sum; the sum is what Nomad reports.
    ticks_total = max(ticks_total, alloc_mhz)

    # Memory: allocations plus the OS (about 6 % + 256 MiB), page cache in what is left.
    os_mem = int(total_mem * (0.05 + 0.02 * _unit("osmem", nid))) + 256 * MiB
    os_mem = int(os_mem * (1.0 + 0.02 * _noise(now_ns, "osmem", cluster_seed, nid)))
    used = max(alloc_mem, min(total_mem, alloc_mem + os_mem))
    cache = int((total_mem - used) * (0.2 + 0.2 * _unit("pagecache", nid)))
    free = max(0, total_mem - used - cache)
    available = free + int(cache * 0.9)

    # Disk: the OS image plus what the allocations wrote to their ephemeral disks.
    disk_used = min(disk_bytes, int(min(disk_bytes * 0.3, 6 * 1024 * MiB)) + alloc_disk)
    disk_avail = max(0, disk_bytes - disk_used)
    used_pct = disk_used / (disk_used + disk_avail) * 100.0 if disk_bytes else 0.0
    inodes_pct = 0.5 + 2.0 * _unit("inodes", nid) + used_pct / 50.0
    disk = {
        "Device": "",
        "Mountpoint": "",
        "Size": disk_bytes,
        "Used": disk_used,
        "Available": disk_avail,
        "UsedPercent": used_pct,
        "InodesUsedPercent": inodes_pct,
    }
    device = (node.get("Attributes") or {}).get("unique.storage.volume") or "/dev/sda1"
    boot_ns = _registered_ns(node) - int((3600 + 3 * 86400 * _unit("boot", nid)) * NS_PER_S)
    return {
        "Memory": {"Total": total_mem, "Available": available, "Used": used, "Free": free},
        "CPU": cpus,
        "DiskStats": [dict(disk, Device=device, Mountpoint="/")],
        "AllocDirStats": disk,
        "DeviceStats": [],
        "Uptime": max(0, (now_ns - boot_ns) // NS_PER_S),
        "Timestamp": stamp,
        "CPUTicksConsumed": ticks_total,
    }
