"""The ``large`` scenario: a benchmark-sized cluster written straight into the state store.

Going through the scheduler would scan every node per placement; here jobs, nodes,
evaluations, deployments and allocations are built with the :mod:`~nomadlab.sim.wire` builders
and placed round-robin over the nodes (skipping a node that has no room left), so 10,000 nodes
and 100,000 allocations take seconds. Every allocation is ``running`` with the task events a
client records on the way there (a few have restarted once); job summaries, statuses,
deployments and indexes agree with the allocations, and the cluster behaves like any other
afterwards (stops, drains, node failures and new jobs go through the usual write paths).
"""

from __future__ import annotations

import random
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from . import wire
from .clock import NS_PER_S
from .lifecycle import REASON_WITHIN_POLICY, exit_event_fields, new_task_event, pull_event_fields
from .scenarios import group, job_spec, task
from .scheduler import group_ask, node_allocatable
from .state import TABLES

if TYPE_CHECKING:
    from .cluster import SimCluster

__all__ = ["build_large", "LARGE_DEFAULTS"]

LARGE_DEFAULTS = {"nodes": 10_000, "allocs": 100_000}
"""Sizes used when ``build_large`` is called without them (``jobs`` defaults to allocs / 100)."""

_DCS = ("dc1", "dc2", "dc3")
_NODE_SIZES = (
    # class, cpu MHz, cores, memory MB, disk MB
    ("general", 16000, 8, 32768, 200_000),
    ("compute", 32000, 16, 65536, 400_000),
    ("highmem", 16000, 8, 131072, 400_000),
)
_IMAGES = ("nginx:1.27", "redis:7.4", "example/api:2.3.1", "example/worker:1.9.0",
           "envoyproxy/envoy:v1.31", "grafana/loki:3.2.1")
_RESTART_SHARE = 0.02  # allocations whose main task restarted once


_EVENT_TEMPLATES: dict[tuple[Any, ...], dict[str, Any]] = {}


def _event(etype: str, time_ns: int, **fields: Any) -> dict[str, Any]:
    """``lifecycle.new_task_event`` built once per distinct event and copied (the builder deep-copies)."""
    key = (etype, *sorted((k, repr(v)) for k, v in fields.items()))
    tmpl = _EVENT_TEMPLATES.get(key)
    if tmpl is None:
        tmpl = _EVENT_TEMPLATES[key] = new_task_event(etype, 0, **fields)
    return {**tmpl, "Time": int(time_ns), "Details": dict(tmpl["Details"])}


def _running_state(started: int, image: str, driver: str, restarted_at: int | None) -> dict[str, Any]:
    """A running ``TaskState`` with the events of a start (and of one restart, if given)."""
    placed = started - 2 * NS_PER_S
    events = [_event("Received", placed + 10_000_000),
              _event("Task Setup", placed + 11_000_000)]
    if driver == "docker":
        events.append(_event("Driver", placed + 20_000_000, **pull_event_fields(image)))
    events.append(_event("Started", started))
    state = {"State": "running", "Failed": False, "Restarts": 0, "LastRestart": wire.ZERO_TIME,
             "StartedAt": wire.rfc3339(started), "FinishedAt": wire.ZERO_TIME, "Events": events,
             "TaskHandle": None, "Paused": ""}
    if restarted_at is not None:
        events += [
            _event("Terminated", restarted_at, **exit_event_fields(1, oom=False, driver=driver)),
            _event("Restarting", restarted_at + 1_000_000, RestartReason=REASON_WITHIN_POLICY,
                   StartDelay=15 * NS_PER_S),
            _event("Started", restarted_at + 15 * NS_PER_S),
        ]
        state.update(Restarts=1, LastRestart=wire.rfc3339(restarted_at),
                     StartedAt=wire.rfc3339(restarted_at + 15 * NS_PER_S))
    return state


def _job_specs(n_jobs: int, counts: list[int], rng: random.Random,
               script: Callable[..., object]) -> list[dict[str, Any]]:
    specs = []
    for j in range(n_jobs):
        batch = j % 10 == 9
        ns = "platform" if j % 4 == 3 else "default"
        cpu = rng.choice((100, 200, 250, 500))
        mem = rng.choice((128, 256, 512, 1024))
        driver = "exec" if j % 7 == 6 else "docker"
        kind = "batch" if batch else "svc"
        image = rng.choice(_IMAGES)
        config = {"command": f"/opt/jobs/{kind}-{j:05d}/run"} if batch else None
        tasks = [task("main", driver=driver, image=image, cpu=cpu, memory_mb=mem, config=config)]
        if j % 5 == 0 and driver == "docker":
            tasks.append(task("sidecar", image="envoyproxy/envoy:v1.31", cpu=50, memory_mb=64))
        if batch:  # each batch program runs for hours (what it does is the cluster's, not the job's)
            script(command=f"/opt/jobs/{kind}-{j:05d}/run", run_s=float(rng.randint(2, 12) * 3600))
        update = None if batch else {"MaxParallel": 1, "MinHealthyTime": 10 * NS_PER_S,
                                     "HealthyDeadline": 300 * NS_PER_S, "AutoRevert": True}
        specs.append(job_spec(
            f"{kind}-{j:05d}", [group("app", tasks, count=counts[j], disk_mb=100, update=update)],
            job_type="batch" if batch else "service", namespace=ns, datacenters=list(_DCS),
            priority=40 if batch else 50,
        ))
    return specs


def build_large(cluster: SimCluster, *, nodes: int = LARGE_DEFAULTS["nodes"],
                allocs: int = LARGE_DEFAULTS["allocs"], jobs: int | None = None) -> None:
    """Populate ``cluster`` with ``nodes`` nodes, ``jobs`` jobs and exactly ``allocs`` allocations.

    Parameters
    ----------
    nodes:
        Nodes, spread over three datacenters in pool ``default`` in three sizes.
    allocs:
        Allocations, all ``running``, split as evenly as possible over the jobs.
    jobs:
        Jobs (default: one per 100 allocations, at least 1); every tenth is a batch job, every
        fourth is in namespace ``platform``.

    Raises
    ------
    ValueError
        On a non-positive size, or when the allocations do not fit on the nodes.
    """
    if nodes < 1 or allocs < 0:
        raise ValueError("the large scenario needs at least one node and a non-negative allocation count")
    n_jobs = max(1, allocs // 100) if jobs is None else int(jobs)
    if n_jobs < 1:
        raise ValueError("the large scenario needs at least one job")
    rng = random.Random(f"nomadlab-large:{cluster.seed}")
    state = cluster.state
    now = cluster.now_ns()
    base, extra = divmod(allocs, n_jobs)
    counts = [base + (1 if j < extra else 0) for j in range(n_jobs)]
    run_of: dict[str, float] = {}

    with state.lock:
        idx = state.next_index()
        state.namespaces["platform"] = wire.new_namespace("platform", "Shared platform services", index=idx)
        node_list: list[dict[str, Any]] = []
        for i in range(nodes):
            cls, cpu, cores, mem, disk = _NODE_SIZES[i % len(_NODE_SIZES)]
            dc = _DCS[i % len(_DCS)]
            node = wire.new_node(
                node_id=cluster.new_id(), name=f"{dc}-{cls}-{i:05d}", datacenter=dc, node_class=cls,
                cpu_mhz=cpu, cores=cores, memory_mb=mem, disk_mb=disk, reserved_cpu_mhz=200,
                reserved_memory_mb=512, reserved_disk_mb=1024,
                address=f"10.{i >> 16 & 255}.{i >> 8 & 255}.{i & 255}",
                now_ns=now - 30 * 24 * 3600 * NS_PER_S, index=state.next_index(),
                version=cluster.version,
            )
            state.insert("nodes", node["ID"], node)
            node_list.append(node)
        free = [list(node_allocatable(n)) for n in node_list]
        available = {dc: sum(1 for n in node_list if n["Datacenter"] == dc) for dc in _DCS}
        metric = wire.alloc_metric(nodes_evaluated=nodes, nodes_in_pool=nodes)
        cursor = 0

        for spec in _job_specs(n_jobs, counts, rng, cluster.behaviours.script):
            job_idx = state.next_index()
            submit = now - rng.randint(3600, 14 * 24 * 3600) * NS_PER_S
            job = wire.canonicalize_job(spec, region=cluster.region)
            key = (job["Namespace"], job["ID"])
            service = job["Type"] == "service"
            job.update(Version=0, CreateIndex=job_idx, ModifyIndex=job_idx, JobModifyIndex=job_idx,
                       SubmitTime=submit, Status="running" if job["TaskGroups"][0]["Count"] else "dead",
                       Stable=service)
            state.insert("jobs", key, job)
            state.job_versions[key] = [job]
            tg = job["TaskGroups"][0]
            ask = group_ask(tg)
            eval_idx = state.next_index()
            ev = wire.new_evaluation(
                eval_id=cluster.new_id(), namespace=job["Namespace"], job_id=job["ID"],
                priority=job["Priority"], eval_type=job["Type"], triggered_by="job-register",
                job_modify_index=job_idx, now_ns=submit, index=job_idx, status="complete",
            )
            ev.update(ModifyIndex=eval_idx, QueuedAllocations={tg["Name"]: 0}, SnapshotIndex=job_idx)
            state.insert("evals", ev["ID"], ev)
            dep_id = ""
            if service and tg.get("Update"):
                dep = wire.new_deployment(deployment_id=cluster.new_id(), job=job, now_ns=submit,
                                          index=eval_idx, status="successful",
                                          description="Deployment completed successfully")
                dstate = dep["TaskGroups"][tg["Name"]]
                dstate.update(PlacedAllocs=tg["Count"], HealthyAllocs=tg["Count"])
                dep["ModifyTime"] = submit + 60 * NS_PER_S
                state.insert("deployment", dep["ID"], dep)
                dep_id = dep["ID"]
            tasks = tg["Tasks"]
            for i in range(tg["Count"]):
                for _ in range(nodes):
                    f = free[cursor]
                    if f[0] >= ask[0] and f[1] >= ask[1] and f[2] >= ask[2]:
                        break
                    cursor = (cursor + 1) % nodes
                else:
                    raise ValueError(f"{allocs} allocations do not fit on {nodes} nodes")
                node = node_list[cursor]
                f[0] -= ask[0]
                f[1] -= ask[1]
                f[2] -= ask[2]
                cursor = (cursor + 1) % nodes
                placed = submit + (i % 50) * 100_000_000
                alloc = wire.new_allocation(
                    alloc_id=cluster.new_id(), eval_id=ev["ID"], job=job, task_group=tg["Name"], index=i,
                    node=node, now_ns=placed, create_index=eval_idx, deployment_id=dep_id,
                )
                alloc["Metrics"] = {**metric, "NodesAvailable": dict(available)}
                started = placed + 2 * NS_PER_S
                restarted = None
                if rng.random() < _RESTART_SHARE:
                    restarted = started + rng.randint(60, 3600) * NS_PER_S
                states = {}
                for t in tasks:
                    states[t["Name"]] = _running_state(
                        started, (t.get("Config") or {}).get("image", ""), t["Driver"],
                        restarted if t is tasks[0] else None)
                alloc.update(ClientStatus="running", ClientDescription="Tasks are running",
                             TaskStates=states, ModifyTime=restarted or started)
                if dep_id:
                    alloc["DeploymentStatus"] = {"Healthy": True, "Canary": False, "ModifyIndex": eval_idx,
                                                 "Timestamp": wire.rfc3339(started + 10 * NS_PER_S)}
                state.put_alloc(alloc)
                cluster._alloc_generation[alloc["ID"]] = 0
                if not service:
                    if job["ID"] not in run_of:
                        run_of[job["ID"]] = cluster.behaviours.of(job, tg, tasks[0]).run_s or 30.0
                    run_s = run_of[job["ID"]]
                    due = max(now + NS_PER_S, started + int(run_s * NS_PER_S))
                    for t in tasks:
                        cluster.at(due, cluster._task_exit, alloc["ID"], t["Name"], 0, True)
            summary = wire.new_job_summary(job, index=job_idx)
            summary["Summary"][tg["Name"]]["Running"] = tg["Count"]
            summary["ModifyIndex"] = eval_idx
            state.job_summaries[key] = summary
        state.commit(state.index, TABLES)
