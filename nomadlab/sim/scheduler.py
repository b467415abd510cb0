"""Scheduling: reconcile a job against its allocations, then bin-pack placements onto nodes.

The reconciler decides *what* must change (place, stop, in-place update, destructive update,
migrate), as Nomad's ``scheduler/reconcile.go`` does; placement decides *where*, filtering
nodes by datacenter, node pool, status, eligibility, drain, drivers and constraints, then
scoring the feasible ones with Nomad's bin-packing fit (``ScoreFitBinPack``) averaged with the
job anti-affinity penalty. What does not fit is reported in an ``AllocMetric`` with the
dimension that was exhausted, and leaves a blocked evaluation behind.
"""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from . import wire

__all__ = [
    "TERMINAL_CLIENT",
    "alloc_terminal",
    "alloc_job_version",
    "group_ask",
    "node_allocatable",
    "Usage",
    "ReconcileResult",
    "reconcile",
    "Placer",
    "job_status",
    "job_summary_counts",
]

TERMINAL_CLIENT = frozenset({"complete", "failed", "lost"})
BATCH_TYPES = frozenset({"batch", "sysbatch"})
SYSTEM_TYPES = frozenset({"system", "sysbatch"})


def alloc_terminal(alloc: dict[str, Any]) -> bool:
    """Nomad's ``Allocation.TerminalStatus``: desired stop/evict, or a terminal client status."""
    return alloc["DesiredStatus"] in ("stop", "evict") or alloc["ClientStatus"] in TERMINAL_CLIENT


def alloc_job_version(alloc: dict[str, Any]) -> int:
    """The job version an allocation runs: its embedded job's ``Version``.

    The full ``Allocation`` has no ``JobVersion`` field (only ``AllocListStub`` does, derived
    from ``Job.Version``), so the embedded job is the one source of truth.
    """
    return int((alloc.get("Job") or {}).get("Version") or 0)


def alloc_client_terminal(alloc: dict[str, Any]) -> bool:
    return alloc["ClientStatus"] in TERMINAL_CLIENT


def group_ask(tg: dict[str, Any]) -> tuple[int, int, int]:
    """(cpu MHz, memory MB, disk MB) a task group asks for."""
    cpu = mem = 0
    for task in tg.get("Tasks") or ():
        res = task.get("Resources") or {}
        cpu += int(res.get("CPU") or 0)
        mem += int(res.get("MemoryMB") or 0)
    disk = int(((tg.get("EphemeralDisk") or {}).get("SizeMB")) or 0)
    return cpu, mem, disk


def node_allocatable(node: dict[str, Any]) -> tuple[int, int, int]:
    """Capacity minus reserved, as the Nomad Autoscaler's nomad-apm computes it."""
    nr = node.get("NodeResources") or {}
    rr = node.get("ReservedResources") or {}
    cpu = int((nr.get("Cpu") or {}).get("CpuShares") or 0) - int((rr.get("Cpu") or {}).get("CpuShares") or 0)
    mem = int((nr.get("Memory") or {}).get("MemoryMB") or 0) - int((rr.get("Memory") or {}).get("MemoryMB") or 0)
    disk = int((nr.get("Disk") or {}).get("DiskMB") or 0) - int((rr.get("Disk") or {}).get("DiskMB") or 0)
    return cpu, mem, disk


def alloc_ask(alloc: dict[str, Any]) -> tuple[int, int, int]:
    ar = alloc.get("AllocatedResources") or {}
    cpu = mem = 0
    for t in (ar.get("Tasks") or {}).values():
        cpu += int((t.get("Cpu") or {}).get("CpuShares") or 0)
        mem += int((t.get("Memory") or {}).get("MemoryMB") or 0)
    disk = int((ar.get("Shared") or {}).get("DiskMB") or 0)
    return cpu, mem, disk


class Usage:
    """Resources taken on each node by non-terminal allocations, updated as placements happen."""

    def __init__(self, allocs: Iterable[dict[str, Any]]) -> None:
        self.used: dict[str, list[int]] = {}
        self.job_count: dict[tuple[str, str, str, str], int] = {}
        for a in allocs:
            if not alloc_terminal(a) and a.get("NodeID"):
                self.add(a["NodeID"], alloc_ask(a), (a["Namespace"], a["JobID"], a["TaskGroup"]))

    def add(self, node_id: str, ask: tuple[int, int, int], key: tuple[str, str, str]) -> None:
        u = self.used.setdefault(node_id, [0, 0, 0])
        for i in range(3):
            u[i] += ask[i]
        k = (*key, node_id)
        self.job_count[k] = self.job_count.get(k, 0) + 1

    def remove(self, node_id: str, ask: tuple[int, int, int], key: tuple[str, str, str]) -> None:
        u = self.used.setdefault(node_id, [0, 0, 0])
        for i in range(3):
            u[i] -= ask[i]
        k = (*key, node_id)
        self.job_count[k] = max(0, self.job_count.get(k, 0) - 1)

    def of(self, node_id: str) -> list[int]:
        return self.used.get(node_id, [0, 0, 0])


# -- reconciliation ------------------------------------------------------------------------------
@dataclass
class ReconcileResult:
    """What the reconciler decided for one job."""

    place: list[tuple[str, int, dict[str, Any] | None]] = field(default_factory=list)
    """(task group, name index, previous allocation or None)."""
    stop: list[tuple[dict[str, Any], str]] = field(default_factory=list)
    """(allocation, desired description)."""
    inplace: list[dict[str, Any]] = field(default_factory=list)
    ignore: dict[str, int] = field(default_factory=dict)
    migrate: dict[str, int] = field(default_factory=dict)
    destructive: dict[str, int] = field(default_factory=dict)
    reschedule_later: list[tuple[dict[str, Any], int]] = field(default_factory=list)
    """(failed allocation, when its replacement may be placed)."""
    overflow: dict[str, tuple[int, int]] = field(default_factory=dict)
    """Group → (how many more new allocations, first free name index) beyond those listed in
    ``place``: a huge ``Count`` is placed lazily, so it costs what fits, not what is asked."""

    def desired_updates(self, job: dict[str, Any]) -> dict[str, dict[str, int]]:
        """``Annotations.DesiredTGUpdates`` as a plan reports them."""
        out: dict[str, dict[str, int]] = {}
        for tg in job.get("TaskGroups") or ():
            name = tg["Name"]
            out[name] = {
                "Ignore": self.ignore.get(name, 0),
                "Place": sum(1 for g, _, prev in self.place if g == name and prev is None)
                + self.overflow.get(name, (0, 0))[0],
                "Migrate": self.migrate.get(name, 0),
                "Stop": sum(
                    1 for a, d in self.stop
                    if a["TaskGroup"] == name and d not in (_DESTRUCTIVE, _MIGRATE)
                ),
                "InPlaceUpdate": sum(1 for a in self.inplace if a["TaskGroup"] == name),
                "DestructiveUpdate": self.destructive.get(name, 0),
                "Canary": 0,
                "Preemptions": 0,
                "Reconnect": 0,
                "Disconnect": 0,
                "RescheduleNow": 0,
                "RescheduleLater": 0,
            }
        return out


MAX_LISTED_PLACEMENTS = 10_000
"""New placements the reconciler lists one by one per group; more are counted (``overflow``)."""

_DESTRUCTIVE = "alloc is being updated due to job update"
_MIGRATE = "alloc is being migrated"
_NOT_NEEDED = "alloc not needed due to job update"
_JOB_STOPPED = "alloc not needed due to job update"
_NODE_INELIGIBLE = "alloc not needed as node is tainted"


def _group_spec_key(tg: dict[str, Any]) -> Any:
    """What must stay equal for an allocation to be updated in place (all but Count)."""
    return {k: v for k, v in tg.items() if k not in ("Count", "Scaling")}


def reconcile(
    job: dict[str, Any],
    allocs: list[dict[str, Any]],
    nodes: dict[str, dict[str, Any]],
    versions: dict[int, dict[str, Any]],
    *,
    now_ns: int,
) -> ReconcileResult:
    """Decide what must change for ``job`` given its current ``allocs``.

    ``versions`` maps job version → job, used to tell in-place from destructive updates.
    Failed allocations are replaced under the group's ``ReschedulePolicy`` (now, later through a
    follow-up evaluation, or never); lost ones are replaced at once.
    """
    from .lifecycle import reschedule_delay_ns, reschedule_eligible

    result = ReconcileResult()
    live = [a for a in allocs if not alloc_terminal(a)]
    groups = {tg["Name"]: tg for tg in job.get("TaskGroups") or ()}
    if job.get("Stop"):
        for a in live:
            result.stop.append((a, "alloc not needed due to job update"))
        return result
    system = job["Type"] in SYSTEM_TYPES
    for a in live:
        if a["TaskGroup"] not in groups:
            result.stop.append((a, _NOT_NEEDED))
    for name, tg in groups.items():
        mine = [a for a in live if a["TaskGroup"] == name]
        keep: list[dict[str, Any]] = []
        for a in mine:
            node = nodes.get(a.get("NodeID", ""))
            transition = a.get("DesiredTransition") or {}
            if transition.get("Migrate"):
                if system and node is not None and node.get("DrainStrategy") is not None:
                    continue  # system allocations leave only when the drain ends
                result.stop.append((a, _MIGRATE))
                result.migrate[name] = result.migrate.get(name, 0) + 1
                result.place.append((name, _name_index(a), a))
                continue
            if alloc_job_version(a) != job["Version"]:
                old = versions.get(alloc_job_version(a))
                old_tg = next(
                    (g for g in (old or {}).get("TaskGroups") or () if g["Name"] == name), None
                )
                if old_tg is not None and _group_spec_key(old_tg) == _group_spec_key(tg):
                    result.inplace.append(a)
                    keep.append(a)
                else:
                    result.stop.append((a, _DESTRUCTIVE))
                    result.destructive[name] = result.destructive.get(name, 0) + 1
                    result.place.append((name, _name_index(a), a))
                continue
            keep.append(a)
        if system:
            continue  # placement per node is decided by the Placer
        # Failed and lost allocations that nothing replaced yet.
        pending_reschedule = 0
        policy = tg.get("ReschedulePolicy")
        for a in allocs:
            if a["TaskGroup"] != name or a.get("NextAllocation"):
                continue
            if a["ClientStatus"] == "lost" and alloc_job_version(a) <= job["Version"]:
                if not any(prev is a for _, _, prev in result.place):
                    result.place.append((name, _name_index(a), a))
                continue
            if a["ClientStatus"] != "failed" or a["DesiredStatus"] != "run":
                continue
            if not reschedule_eligible(policy, a.get("RescheduleTracker"), now_ns):
                pending_reschedule += 1  # stays failed: the group runs short
                continue
            due = int(a.get("ModifyTime") or now_ns) + reschedule_delay_ns(policy or {}, a.get("RescheduleTracker"))
            if due <= now_ns:
                result.place.append((name, _name_index(a), a))
            else:
                pending_reschedule += 1
                result.reschedule_later.append((a, due))
        # Batch work that finished successfully counts toward the desired count.
        done = 0
        if job["Type"] in BATCH_TYPES:
            done = sum(
                1 for a in allocs
                if a["TaskGroup"] == name and a["ClientStatus"] == "complete"
                and alloc_job_version(a) == job["Version"]
            )
        replacing = sum(1 for g, _, prev in result.place if g == name)
        have = len(keep) + replacing + done + pending_reschedule
        count = int(tg.get("Count") or 0)
        if have > count:
            # Highest name indexes go first, whether kept or about to be replaced: a count
            # lowered together with a destructive change stops the surplus instead of
            # replacing it.
            candidates: list[tuple[int, int, Any]] = [(_name_index(a), 1, a) for a in keep]
            candidates += [(p[1], 0, p) for p in result.place if p[0] == name]
            candidates.sort(key=lambda c: (c[0], c[1]), reverse=True)
            for _, kept, item in candidates[: have - count]:
                if kept:
                    result.stop.append((item, _NOT_NEEDED))
                    keep.remove(item)
                    if any(x is item for x in result.inplace):
                        result.inplace = [x for x in result.inplace if x is not item]
                    continue
                result.place.remove(item)
                prev = item[2]
                for i, (a, desc) in enumerate(result.stop):
                    if a is prev and desc in (_DESTRUCTIVE, _MIGRATE):
                        result.stop[i] = (a, _NOT_NEEDED)
                        bucket = result.destructive if desc == _DESTRUCTIVE else result.migrate
                        bucket[name] -= 1
        elif have < count:
            used = {_name_index(a) for a in keep} | {
                i for g, i, _ in result.place if g == name
            }
            if job["Type"] in BATCH_TYPES:
                used |= {_name_index(a) for a in allocs if a["TaskGroup"] == name and a["ClientStatus"] == "complete"}
            i = 0
            listed = 0
            while have < count:
                if listed >= MAX_LISTED_PLACEMENTS:
                    # Every index from here on is free: the rest are placed lazily.
                    result.overflow[name] = (count - have, max([i - 1, *used]) + 1)
                    break
                if i not in used:
                    result.place.append((name, i, None))
                    have += 1
                    listed += 1
                i += 1
        result.ignore[name] = len([a for a in keep if a not in result.inplace])
    return result


_NAME_INDEX = re.compile(r"\[(\d+)\]$")


def _name_index(alloc: dict[str, Any]) -> int:
    m = _NAME_INDEX.search(alloc.get("Name", ""))
    return int(m.group(1)) if m else 0


# -- placement -----------------------------------------------------------------------------------
def _dc_matches(patterns: list[str], dc: str) -> bool:
    return any(fnmatch.fnmatchcase(dc, p) for p in patterns or ["*"])


def _interpolate(target: str, node: dict[str, Any]) -> str | None:
    """Resolve ``${attr.x}``, ``${meta.x}``, ``${node.x}`` against a node (None when unset)."""
    if not (target.startswith("${") and target.endswith("}")):
        return target
    key = target[2:-1]
    if key.startswith("attr."):
        return (node.get("Attributes") or {}).get(key[5:])
    if key.startswith("meta."):
        return (node.get("Meta") or {}).get(key[5:])
    simple = {
        "node.unique.id": node.get("ID"),
        "node.unique.name": node.get("Name"),
        "node.datacenter": node.get("Datacenter"),
        "node.class": node.get("NodeClass"),
        "node.pool": node.get("NodePool"),
        "node.region": node.get("Attributes", {}).get("nomad.region", "global"),
    }
    return simple.get(key)


def _version_tuple(text: str) -> tuple[int, ...]:
    return tuple(int(p) for p in re.findall(r"\d+", text)[:3])


def constraint_ok(c: dict[str, Any], node: dict[str, Any]) -> bool:
    """Evaluate one constraint (``LTarget``, ``Operand``, ``RTarget``) against a node."""
    op = c.get("Operand") or "="
    if op in ("distinct_hosts", "distinct_property"):
        return True  # handled by the placer
    left = _interpolate(c.get("LTarget") or "", node)
    right = _interpolate(c.get("RTarget") or "", node)
    if op == "is_set":
        return left is not None
    if op == "is_not_set":
        return left is None
    if left is None or right is None:
        return False
    if op in ("=", "==", "is"):
        return left == right
    if op in ("!=", "not"):
        return left != right
    if op == "regexp":
        return re.search(right, left) is not None
    if op in ("set_contains", "set_contains_all"):
        have = {s.strip() for s in left.split(",")}
        return all(s.strip() in have for s in right.split(","))
    if op == "set_contains_any":
        have = {s.strip() for s in left.split(",")}
        return any(s.strip() in have for s in right.split(","))
    if op in ("<", "<=", ">", ">="):
        try:
            lv: Any = float(left)
            rv: Any = float(right)
        except ValueError:
            lv, rv = left, right
        return bool({"<": lv < rv, "<=": lv <= rv, ">": lv > rv, ">=": lv >= rv}[op])
    if op in ("version", "semver"):
        have_v = _version_tuple(left)
        for clause in right.split(","):
            m = re.match(r"\s*(>=|<=|!=|>|<|=|~>)?\s*(.+)", clause)
            if not m:
                return False
            cmp, want = m.group(1) or "=", _version_tuple(m.group(2))
            ok = {
                ">=": have_v >= want, "<=": have_v <= want, ">": have_v > want,
                "<": have_v < want, "=": have_v == want, "!=": have_v != want,
                "~>": have_v >= want and have_v[: max(1, len(want) - 1)] == want[: max(1, len(want) - 1)],
            }[cmp]
            if not ok:
                return False
        return True
    return False


def _constraint_label(c: dict[str, Any]) -> str:
    return f"{c.get('LTarget', '')} {c.get('Operand', '=')} {c.get('RTarget', '')}".strip()


def binpack_score(free_cpu_frac: float, free_mem_frac: float) -> float:
    """Nomad's ``ScoreFitBinPack``: 1 for a perfect fit, 0 for an empty node."""
    total = 10 ** free_cpu_frac + 10 ** free_mem_frac
    score = 20.0 - total
    return max(0.0, min(18.0, score)) / 18.0


@dataclass
class PlacementOutcome:
    node: dict[str, Any] | None
    metric: dict[str, Any]


class Placer:
    """Finds nodes for task groups, keeping a running :class:`Usage`."""

    def __init__(self, nodes: dict[str, dict[str, Any]], usage: Usage) -> None:
        self.nodes = nodes
        self.usage = usage

    def candidates(self, job: dict[str, Any]) -> tuple[list[dict[str, Any]], dict[str, int], int]:
        """Ready nodes of the job's datacenters and pool, sorted by ID; plus NodesAvailable."""
        pool = job.get("NodePool") or "default"
        dcs = job.get("Datacenters") or ["*"]
        out = []
        available: dict[str, int] = {}
        in_pool = 0
        for node_id in sorted(self.nodes):
            node = self.nodes[node_id]
            if pool != "all" and node.get("NodePool") != pool:
                continue
            in_pool += 1
            if not _dc_matches(dcs, node["Datacenter"]):
                continue
            if node["Status"] != "ready" or node["SchedulingEligibility"] != "eligible":
                continue
            if node.get("DrainStrategy") is not None:
                continue
            available[node["Datacenter"]] = available.get(node["Datacenter"], 0) + 1
            out.append(node)
        return out, available, in_pool

    def place(
        self, job: dict[str, Any], tg: dict[str, Any], *, only_node: str | None = None
    ) -> PlacementOutcome:
        """Pick the best feasible node for one allocation of ``tg`` (or report why none fits)."""
        nodes, available, in_pool = self.candidates(job)
        if only_node is not None:
            nodes = [n for n in nodes if n["ID"] == only_node]
        ask = group_ask(tg)
        key = (job["Namespace"], job["ID"], tg["Name"])
        constraints = list(job.get("Constraints") or []) + list(tg.get("Constraints") or [])
        drivers = {t.get("Driver") for t in tg.get("Tasks") or ()}
        for t in tg.get("Tasks") or ():
            constraints.extend(t.get("Constraints") or [])
        distinct = any((c.get("Operand") == "distinct_hosts") for c in constraints)
        evaluated = filtered = exhausted = 0
        constraint_filtered: dict[str, int] = {}
        class_filtered: dict[str, int] = {}
        dim_exhausted: dict[str, int] = {}
        class_exhausted: dict[str, int] = {}
        best: tuple[float, dict[str, Any]] | None = None
        count = max(1, int(tg.get("Count") or 1))
        for node in nodes:
            evaluated += 1
            missing = [d for d in drivers if not ((node.get("Drivers") or {}).get(d) or {}).get("Detected")]
            if missing:
                filtered += 1
                label = "missing drivers"
                constraint_filtered[label] = constraint_filtered.get(label, 0) + 1
                continue
            failed = next((c for c in constraints if not constraint_ok(c, node)), None)
            if failed is not None:
                filtered += 1
                label = _constraint_label(failed)
                constraint_filtered[label] = constraint_filtered.get(label, 0) + 1
                if node.get("NodeClass"):
                    class_filtered[node["NodeClass"]] = class_filtered.get(node["NodeClass"], 0) + 1
                continue
            collisions = self.usage.job_count.get((*key, node["ID"]), 0)
            if distinct and collisions:
                filtered += 1
                constraint_filtered["distinct_hosts"] = constraint_filtered.get("distinct_hosts", 0) + 1
                continue
            cap = node_allocatable(node)
            used = self.usage.of(node["ID"])
            dim = None
            for i, name in enumerate(("cpu", "memory", "disk")):
                if used[i] + ask[i] > cap[i]:
                    dim = name
                    break
            if dim is not None:
                exhausted += 1
                dim_exhausted[dim] = dim_exhausted.get(dim, 0) + 1
                if node.get("NodeClass"):
                    class_exhausted[node["NodeClass"]] = class_exhausted.get(node["NodeClass"], 0) + 1
                continue
            free_cpu = 1 - (used[0] + ask[0]) / cap[0] if cap[0] else 0.0
            free_mem = 1 - (used[1] + ask[1]) / cap[1] if cap[1] else 0.0
            score = binpack_score(free_cpu, free_mem)
            if collisions:
                score = (score + (-collisions / count)) / 2
            if best is None or score > best[0]:
                best = (score, node)
        metric = wire.alloc_metric(
            nodes_evaluated=evaluated,
            nodes_filtered=filtered,
            nodes_in_pool=in_pool,
            nodes_available=available,
            class_filtered=class_filtered or None,
            constraint_filtered=constraint_filtered or None,
            nodes_exhausted=exhausted,
            class_exhausted=class_exhausted or None,
            dimension_exhausted=dim_exhausted or None,
        )
        if best is None:
            return PlacementOutcome(None, metric)
        node = best[1]
        self.usage.add(node["ID"], ask, key)
        return PlacementOutcome(node, metric)

    def system_targets(self, job: dict[str, Any], tg: dict[str, Any]) -> list[dict[str, Any]]:
        """Nodes a system/sysbatch group runs on: every feasible candidate."""
        nodes, _, _ = self.candidates(job)
        constraints = list(job.get("Constraints") or []) + list(tg.get("Constraints") or [])
        drivers = {t.get("Driver") for t in tg.get("Tasks") or ()}
        out = []
        for node in nodes:
            if any(not ((node.get("Drivers") or {}).get(d) or {}).get("Detected") for d in drivers):
                continue
            if all(constraint_ok(c, node) for c in constraints):
                out.append(node)
        return out


# -- job status and summary ----------------------------------------------------------------------
def job_status(job: dict[str, Any], allocs: list[dict[str, Any]], evals: list[dict[str, Any]]) -> str:
    """Nomad's ``getJobStatus`` (``nomad/state/state_store.go``).

    System, periodic and parameterized jobs are ``running`` until stopped. Otherwise a job is
    ``running`` while any allocation is non-terminal by ``Allocation.TerminalStatus`` (desired
    stop/evict counts as terminal, whatever the client reports), ``pending`` while any eval is
    non-terminal, and ``dead`` once it has allocations or evals and all are terminal.
    """
    periodic = bool((job.get("Periodic") or {}).get("Enabled"))
    parameterized = job.get("ParameterizedJob") is not None and not job.get("Dispatched")
    if job["Type"] == "system" or periodic or parameterized:
        return "dead" if job.get("Stop") else "running"
    if any(not alloc_terminal(a) for a in allocs):
        return "running"
    if any(e["Status"] not in ("complete", "failed", "canceled") for e in evals):
        return "pending"
    if allocs or evals:
        return "dead"
    return "pending"


def job_summary_counts(
    job: dict[str, Any], allocs: list[dict[str, Any]], queued: dict[str, int]
) -> dict[str, dict[str, int]]:
    """``JobSummary.Summary``: per group Queued/Complete/Failed/Running/Starting/Lost/Unknown."""
    out = {
        tg["Name"]: {"Queued": int(queued.get(tg["Name"], 0)), "Complete": 0, "Failed": 0,
                     "Running": 0, "Starting": 0, "Lost": 0, "Unknown": 0}
        for tg in job.get("TaskGroups") or ()
    }
    col = {"pending": "Starting", "running": "Running", "complete": "Complete",
           "failed": "Failed", "lost": "Lost", "unknown": "Unknown"}
    for a in allocs:
        s = out.get(a["TaskGroup"])
        if s is None:
            continue
        s[col[a["ClientStatus"]]] += 1
    return out
