"""Seeded scenarios: clusters with a known shape, built through the same write paths as the API.

``default`` is a small cluster named as ``nomad agent -dev`` names things (region ``global``,
datacenters ``dc1`` and ``dc2``, node pool ``default``), with jobs of every type in two
namespaces, one of which does not fit and stays blocked, so that every endpoint has something
to show at once.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .clock import ManualClock

if TYPE_CHECKING:
    from .cluster import SimCluster

__all__ = ["SCENARIOS", "build_default", "task", "group", "job_spec"]


def task(name: str, *, driver: str = "docker", image: str = "", cpu: int = 100, memory_mb: int = 128,
         memory_max_mb: int = 0, meta: dict[str, str] | None = None,
         config: dict[str, Any] | None = None) -> dict[str, Any]:
    """A task as a jobspec (api.Job JSON) has it."""
    cfg = dict(config or {})
    if driver == "docker":
        cfg.setdefault("image", image or f"{name}:latest")
    elif driver in ("exec", "raw_exec"):
        cfg.setdefault("command", f"/usr/local/bin/{name}")
    return {
        "Name": name, "Driver": driver, "Config": cfg,
        "Resources": {"CPU": cpu, "MemoryMB": memory_mb, **({"MemoryMaxMB": memory_max_mb} if memory_max_mb else {})},
        **({"Meta": meta} if meta else {}),
    }


def group(name: str, tasks: list[dict[str, Any]], *, count: int = 1, disk_mb: int = 300,
          update: dict[str, Any] | None = None, meta: dict[str, str] | None = None,
          restart: dict[str, Any] | None = None, reschedule: dict[str, Any] | None = None,
          constraints: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    g: dict[str, Any] = {"Name": name, "Count": count, "Tasks": tasks, "EphemeralDisk": {"SizeMB": disk_mb}}
    if update is not None:
        g["Update"] = update
    if meta:
        g["Meta"] = meta
    if restart:
        g["RestartPolicy"] = restart
    if reschedule:
        g["ReschedulePolicy"] = reschedule
    if constraints:
        g["Constraints"] = constraints
    return g


def job_spec(job_id: str, groups: list[dict[str, Any]], *, job_type: str = "service",
             namespace: str = "default", datacenters: list[str] | None = None, priority: int = 50,
             node_pool: str = "default", meta: dict[str, str] | None = None) -> dict[str, Any]:
    spec: dict[str, Any] = {
        "ID": job_id, "Name": job_id, "Type": job_type, "Namespace": namespace,
        "Datacenters": datacenters or ["dc1", "dc2"], "Priority": priority, "NodePool": node_pool,
        "TaskGroups": groups,
    }
    if meta:
        spec["Meta"] = meta
    return spec


_DEFAULT_NODES = (
    # name, dc, class, cpu MHz, cores, memory MB, disk MB
    ("dev-client-1", "dc1", "general", 8000, 4, 16384, 100_000),
    ("dev-client-2", "dc1", "general", 8000, 4, 16384, 100_000),
    ("dev-client-3", "dc1", "highmem", 12000, 6, 65536, 200_000),
    ("dev-client-4", "dc2", "general", 8000, 4, 16384, 100_000),
    ("dev-client-5", "dc2", "general", 4000, 2, 8192, 50_000),
)


def build_default(cluster: SimCluster) -> None:
    """Populate ``cluster`` with the default scenario (see the module docstring)."""
    cluster.add_namespace("platform", "Shared platform services")
    for i, (name, dc, cls, cpu, cores, mem, disk) in enumerate(_DEFAULT_NODES):
        cluster.add_node(
            name=name, datacenter=dc, node_class=cls, cpu_mhz=cpu, cores=cores, memory_mb=mem,
            disk_mb=disk, reserved_cpu_mhz=200, reserved_memory_mb=512, reserved_disk_mb=1024,
            address=f"10.0.{1 if dc == 'dc1' else 2}.{10 + i}",
        )
    rolling = {"MaxParallel": 1, "MinHealthyTime": 10_000_000_000, "HealthyDeadline": 300_000_000_000,
               "AutoRevert": True}
    specs = [
        job_spec("web", [group("frontend", [task("nginx", image="nginx:1.27", cpu=500, memory_mb=256)],
                               count=3, update=rolling)]),
        job_spec("api", [group("api", [task("api", image="example/api:2.3.1", cpu=1000, memory_mb=1024),
                                       task("envoy", image="envoyproxy/envoy:v1.31", cpu=200, memory_mb=128)],
                               count=2, update=rolling)], namespace="platform"),
        job_spec("cache", [group("redis", [task("redis", image="redis:7", cpu=500, memory_mb=2048)], count=1)],
                 datacenters=["dc1"]),
        job_spec("nightly-report", [group("report", [task("report", driver="exec", cpu=1000, memory_mb=512)],
                                          count=2, meta={"nomadlab.sim.run_s": "120"})],
                 job_type="batch", priority=40),
        job_spec("node-exporter", [group("exporter", [task("node-exporter", image="prom/node-exporter:v1.8",
                                                           cpu=100, memory_mb=64)])],
                 job_type="system", namespace="platform", priority=70),
        job_spec("os-patch", [group("patch", [task("patch", driver="raw_exec", cpu=100, memory_mb=64)],
                                    meta={"nomadlab.sim.run_s": "45"})],
                 job_type="sysbatch", priority=30),
        job_spec("ml-training", [group("trainer", [task("trainer", image="example/trainer:0.9", cpu=4000,
                                                        memory_mb=98304)])],
                 job_type="batch"),
    ]
    for spec in specs:
        cluster.register_job(spec)
    if isinstance(cluster.clock, ManualClock):
        cluster.advance(30)


SCENARIOS = {"default": build_default}
