"""Seeded scenarios: clusters with a known shape, built through the same write paths as the API.

``default`` is a small cluster named as ``nomad agent -dev`` names things (region ``global``,
datacenters ``dc1`` and ``dc2``, node pool ``default``), with jobs of every type in two
namespaces, one of which does not fit and stays blocked, so that every endpoint has something
to show at once.
"""

from __future__ import annotations

import copy
import functools
import random
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from .clock import NS_PER_S, ManualClock, RealClock

if TYPE_CHECKING:
    from .cluster import SimCluster

__all__ = [
    "SCENARIOS", "Scenario", "build_scenario", "continue_in_real_time", "build_default", "build_demo",
    "launch_periodic_child", "dispatch_child", "script_demo", "Observe", "DEMO_HISTORY_S", "task", "group", "job_spec",
]


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
             node_pool: str = "default", meta: dict[str, str] | None = None,
             periodic: dict[str, Any] | None = None,
             parameterized: dict[str, Any] | None = None) -> dict[str, Any]:
    """A job as a jobspec (api.Job JSON) has it."""
    spec: dict[str, Any] = {
        "ID": job_id, "Name": job_id, "Type": job_type, "Namespace": namespace,
        "Datacenters": datacenters or ["dc1", "dc2"], "Priority": priority, "NodePool": node_pool,
        "TaskGroups": groups,
    }
    if meta:
        spec["Meta"] = meta
    if periodic:
        spec["Periodic"] = periodic
    if parameterized:
        spec["ParameterizedJob"] = parameterized
    return spec


_DEFAULT_NODES = (
    # name, dc, class, cpu MHz, cores, memory MB, disk MB
    ("dev-client-1", "dc1", "general", 8000, 4, 16384, 100_000),
    ("dev-client-2", "dc1", "general", 8000, 4, 16384, 100_000),
    ("dev-client-3", "dc1", "highmem", 12000, 6, 65536, 200_000),
    ("dev-client-4", "dc2", "general", 8000, 4, 16384, 100_000),
    ("dev-client-5", "dc2", "general", 4000, 2, 8192, 50_000),
)


def build_default(cluster: SimCluster, *, observe: Observe | None = None) -> None:
    """Populate ``cluster`` with the default scenario (see the module docstring).

    ``observe`` is called at its sample instants as the history is built (see
    :func:`build_scenario`).
    """
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
                                          count=2)],
                 job_type="batch", priority=40),
        job_spec("node-exporter", [group("exporter", [task("node-exporter", image="prom/node-exporter:v1.8",
                                                           cpu=100, memory_mb=64)])],
                 job_type="system", namespace="platform", priority=70),
        job_spec("os-patch", [group("patch", [task("patch", driver="raw_exec", cpu=100, memory_mb=64)])],
                 job_type="sysbatch", priority=30),
        job_spec("ml-training", [group("trainer", [task("trainer", image="example/trainer:0.9", cpu=4000,
                                                        memory_mb=98304)])],
                 job_type="batch"),
    ]
    # What the programs do (see lifecycle.Behaviours): the batch work takes its time.
    cluster.behaviours.script(command="/usr/local/bin/report", run_s=120)
    cluster.behaviours.script(command="/usr/local/bin/patch", run_s=45)
    for spec in specs:
        cluster.register_job(spec)
    if isinstance(cluster.clock, ManualClock):
        _Stepper(cluster, observe).until(cluster.now_ns() + 30 * NS_PER_S)




# -- demo ---------------------------------------------------------------------------------------
DEMO_HISTORY_S = 6 * 3600
"""Simulated time the ``demo`` history spans (its clock starts this long before the end)."""

_H = 3600
_SIZES = {
    # class: cpu MHz, cores, memory MB, disk MB
    "small": (4000, 2, 8192, 50_000),
    "medium": (8000, 4, 16384, 100_000),
    "large": (16000, 8, 32768, 200_000),
    "gpu": (32000, 16, 131072, 400_000),
}
_ROLLING = {"MaxParallel": 1, "MinHealthyTime": 10 * NS_PER_S, "HealthyDeadline": 300 * NS_PER_S,
            "ProgressDeadline": 600 * NS_PER_S, "AutoRevert": True}


def _demo_nodes(rng: random.Random) -> list[dict[str, Any]]:
    """Forty nodes: 24 in pool ``default`` over three datacenters, 10 ``batch``, 6 ``gpu``."""
    out: list[dict[str, Any]] = []
    layout = [("default", "dc1", 10), ("default", "dc2", 8), ("default", "dc3", 6),
              ("batch", "dc1", 5), ("batch", "dc2", 5), ("gpu", "dc1", 3), ("gpu", "dc3", 3)]
    prefix = {"default": "client", "batch": "batch", "gpu": "gpu"}
    for p, (pool, dc, n) in enumerate(layout):
        for i in range(n):
            if pool == "default":
                size = rng.choice(("small", "medium", "medium", "large"))
                cls = {"small": "general", "medium": "general", "large": "compute"}[size]
            elif pool == "batch":
                size, cls = "large", "batch"
            else:
                size, cls = "gpu", "gpu"
            cpu, cores, mem, disk = _SIZES[size]
            out.append({
                "name": f"{prefix[pool]}-{dc}-{i + 1:02d}", "datacenter": dc, "node_pool": pool,
                "node_class": cls, "cpu_mhz": cpu, "cores": cores, "memory_mb": mem,
                "disk_mb": disk, "reserved_cpu_mhz": 200, "reserved_memory_mb": 512,
                "reserved_disk_mb": 1024, "address": f"10.{dc[-1]}.{p}.{10 + i}",
                "meta": {"rack": f"r{rng.randint(1, 4)}", **({"gpu": "nvidia-a10g"} if pool == "gpu" else {})},
            })
    return out


def _api_spec(image: str, *, memory_mb: int = 1024, env: dict[str, str] | None = None) -> dict[str, Any]:
    restart = {"Attempts": 3, "Interval": 1800 * NS_PER_S, "Delay": 60 * NS_PER_S, "Mode": "fail"}
    environment = {"LISTEN_ADDR": "0.0.0.0:8080", "DB_POOL_SIZE": "20", **(env or {})}
    return job_spec(
        "api",
        [group("api", [task("api", image=image, cpu=1000, memory_mb=memory_mb,
                            config={"image": image, "env": environment}),
                       task("envoy", image="envoyproxy/envoy:v1.31", cpu=200, memory_mb=128)],
               count=4, restart=restart, update=dict(_ROLLING, MinHealthyTime=60 * NS_PER_S))],
        datacenters=["dc1", "dc2", "dc3"], priority=70,
    )


def _web_spec(image: str, count: int = 6) -> dict[str, Any]:
    return job_spec("web", [group("frontend", [task("nginx", image=image, cpu=500, memory_mb=256)],
                                  count=count, update=_ROLLING)],
                    datacenters=["dc1", "dc2", "dc3"], priority=60)


def _search_spec(heap: str) -> dict[str, Any]:
    return job_spec("search", [group("search", [task("opensearch", image="opensearchproject/opensearch:2.17",
                                                     cpu=1500, memory_mb=3072,
                                                     config={"env": {"OPENSEARCH_JAVA_OPTS": heap}})],
                                     count=3, update=_ROLLING)],
                    datacenters=["dc1", "dc2"])


def _demo_jobs() -> list[dict[str, Any]]:
    """Every job the demo registers at its start (children and updates come later)."""
    restart_1h = {"Attempts": 2, "Interval": 3600 * NS_PER_S, "Delay": 15 * NS_PER_S, "Mode": "fail"}
    return [
        # namespace default: the product
        _web_spec("nginx:1.27.0"),
        _api_spec("example/api:2.3.1"),
        job_spec("checkout", [group("checkout", [task("checkout", image="example/checkout:1.8.0", cpu=500,
                                                      memory_mb=512)], count=3, update=_ROLLING)],
                 datacenters=["dc1", "dc2", "dc3"], priority=70),
        _search_spec("-Xms2g -Xmx2g"),
        job_spec("auth", [group("auth", [task("auth", image="example/auth:3.1.4", cpu=300, memory_mb=256)],
                                count=2, update=_ROLLING)], datacenters=["dc1", "dc2", "dc3"], priority=80),
        job_spec("notifications", [group("notifications",
                                         [task("notifier", image="example/notifier:0.14.2", cpu=250,
                                               memory_mb=256)],
                                         count=2, restart=restart_1h, update=_ROLLING)],
                 datacenters=["dc2", "dc3"]),
        job_spec("cache", [group("redis", [task("redis", image="redis:7.4", cpu=500, memory_mb=2048)],
                                 count=3)], datacenters=["dc1"]),
        job_spec("db-migrate", [group("migrate", [task("migrate", image="example/api:2.3.1", cpu=500,
                                                       memory_mb=512,
                                                       config={"command": "/app/bin/migrate",
                                                               "args": ["up"]})])], job_type="batch",
                 datacenters=["dc1"]),
        job_spec("report", [group("report", [task("report", driver="exec", cpu=1000, memory_mb=1024)])],
                 job_type="batch", datacenters=["dc1", "dc2"], node_pool="batch", priority=40,
                 periodic={"Enabled": True, "Spec": "0 */2 * * *", "SpecType": "cron",
                           "ProhibitOverlap": True, "TimeZone": "UTC"}),
        job_spec("thumbnailer", [group("thumbs", [task("thumbnail", image="example/thumbnailer:1.2.0",
                                                       cpu=1000, memory_mb=512)])],
                 job_type="batch", datacenters=["dc1", "dc2"], node_pool="batch",
                 parameterized={"Payload": "optional", "MetaRequired": ["bucket"],
                                "MetaOptional": ["size"]}),
        # namespace platform: what every cluster runs
        job_spec("ingress", [group("traefik", [task("traefik", image="traefik:v3.2", cpu=200, memory_mb=128)])],
                 job_type="system", namespace="platform", datacenters=["dc1", "dc2", "dc3"], priority=90),
        job_spec("node-exporter", [group("exporter", [task("node-exporter", image="prom/node-exporter:v1.8.2",
                                                           cpu=100, memory_mb=64)])],
                 job_type="system", namespace="platform", datacenters=["*"], node_pool="all", priority=80),
        job_spec("log-shipper", [group("vector", [task("vector", image="timberio/vector:0.42.0-debian",
                                                       cpu=100, memory_mb=128)])],
                 job_type="system", namespace="platform", datacenters=["*"], node_pool="all", priority=80),
        job_spec("prometheus", [group("prometheus", [task("prometheus", image="prom/prometheus:v2.55.0",
                                                          cpu=1000, memory_mb=4096)], count=1, update=_ROLLING)],
                 namespace="platform", datacenters=["dc1"]),
        job_spec("grafana", [group("grafana", [task("grafana", image="grafana/grafana:11.3.0", cpu=300,
                                                    memory_mb=512)], count=1, update=_ROLLING)],
                 namespace="platform", datacenters=["dc1"]),
        job_spec("loki", [group("loki", [task("loki", image="grafana/loki:3.2.1", cpu=500, memory_mb=1024)],
                                count=2, update=_ROLLING)], namespace="platform", datacenters=["dc1", "dc2"]),
        job_spec("alertmanager", [group("alertmanager", [task("alertmanager", image="prom/alertmanager:v0.27.0",
                                                              cpu=100, memory_mb=128)], count=2, update=_ROLLING)],
                 namespace="platform", datacenters=["dc1", "dc2", "dc3"]),
        job_spec("os-patch", [group("patch", [task("patch", driver="raw_exec", cpu=100, memory_mb=64)])],
                 job_type="sysbatch", namespace="platform", datacenters=["*"], priority=30),
        # namespace data: pipelines and training
        job_spec("kafka", [group("broker", [task("kafka", image="bitnami/kafka:3.8", cpu=1000, memory_mb=4096)],
                                 count=3, update=_ROLLING)], namespace="data", datacenters=["dc1", "dc2", "dc3"]),
        job_spec("spark-worker", [group("worker", [task("spark", image="bitnami/spark:3.5", cpu=4000,
                                                        memory_mb=8192)], count=6, update=_ROLLING)],
                 namespace="data", datacenters=["dc1", "dc2"], node_pool="batch"),
        job_spec("etl", [group("etl", [task("etl", image="example/etl:5.0.3", cpu=2000, memory_mb=4096,
                                            config={"command": "/app/bin/etl", "args": ["--daily"]})])],
                 job_type="batch", namespace="data", datacenters=["dc1", "dc2"], node_pool="batch",
                 periodic={"Enabled": True, "Spec": "15 */3 * * *", "SpecType": "cron",
                           "ProhibitOverlap": True, "TimeZone": "UTC"}),
        job_spec("feature-backfill", [group("backfill", [task("backfill", image="example/etl:5.0.3", cpu=2000,
                                                              memory_mb=2048,
                                                              config={"command": "/app/bin/backfill",
                                                                      "args": ["--features"]})],
                                            count=4)],
                 job_type="batch", namespace="data", datacenters=["dc1", "dc2"], node_pool="batch"),
        job_spec("model-serve", [group("serve", [task("triton", image="nvcr.io/nvidia/tritonserver:24.10-py3",
                                                      cpu=4000, memory_mb=16384)], count=2, update=_ROLLING)],
                 namespace="data", datacenters=["dc1", "dc3"], node_pool="gpu"),
        job_spec("disk-cleanup", [group("cleanup", [task("cleanup", driver="raw_exec", cpu=100, memory_mb=64)])],
                 job_type="sysbatch", namespace="data", datacenters=["*"], node_pool="batch", priority=20),
    ]


def script_demo(cluster: SimCluster) -> None:
    """What the demo's programs do, keyed by image and command (see ``lifecycle.Behaviours``).

    Nothing of it is in a jobspec: the incident follows from a change a team would make.
    """
    script = cluster.behaviours.script
    # api 2.3.x settles at ~420 MB; 2.4.0's response cache takes its working set to ~760 MB, so
    # under the lowered 512 MB limit it is OOM-killed about 40 s after each start.
    for tag in ("2.3.1", "2.3.2"):
        script(image=f"example/api:{tag}", memory_mb=420, warmup_s=60)
    script(image="example/api:2.4.0", memory_mb=760, warmup_s=90)
    script(image="example/api:2.3.1", command="/app/bin/migrate", run_s=240)
    # notifier 0.14.2 leaks connections and crashes after about 50 minutes.
    script(image="example/notifier:0.14.2", fail="crash", fail_after_s=3000)
    # The ledger import fails on a malformed row a minute in (exit 2).
    script(image="example/ledger-import:0.9.1", fail="crash", fail_after_s=60, exit_code=2)
    script(command="/usr/local/bin/report", run_s=420)
    script(image="example/thumbnailer:1.2.0", run_s=150)
    script(command="/usr/local/bin/patch", run_s=180)
    script(image="example/etl:5.0.3", command="/app/bin/etl", run_s=1500)
    script(image="example/etl:5.0.3", command="/app/bin/backfill", run_s=2400)
    script(image="example/trainer:0.9", run_s=5 * _H)
    script(command="/usr/local/bin/cleanup", run_s=60)


def launch_periodic_child(cluster: SimCluster, namespace: str, parent_id: str) -> dict[str, Any]:
    """Launch one child of a periodic job at the cluster's current time, as Nomad names it.

    The child is the parent's copy with ``ID``/``Name`` ``<parent>/periodic-<unix seconds>``,
    ``ParentID`` set and no ``Periodic`` block, registered with ``TriggeredBy: periodic-job``.
    """
    parent = cluster.get_job(namespace, parent_id)
    if parent is None or not (parent.get("Periodic") or {}).get("Enabled"):
        raise ValueError(f"{parent_id!r} is not a periodic job in namespace {namespace!r}")
    child = copy.deepcopy(parent)
    child_id = f"{parent_id}/periodic-{cluster.now_ns() // NS_PER_S}"
    child.update(ID=child_id, Name=child_id, ParentID=parent_id, Periodic=None)
    cluster.register_job(child, namespace=namespace, triggered_by="periodic-job")
    return cluster.state.jobs[(namespace, child_id)]


def dispatch_child(cluster: SimCluster, namespace: str, parent_id: str,
                   meta: dict[str, str] | None = None) -> dict[str, Any]:
    """Dispatch one child of a parameterized job, as Nomad names it.

    ``ID``/``Name`` ``<parent>/dispatch-<unix seconds>-<8 hex>``, ``ParentID`` set,
    ``Dispatched: true``, the dispatch ``Meta`` merged over the parent's.
    """
    parent = cluster.get_job(namespace, parent_id)
    if parent is None or parent.get("ParameterizedJob") is None or parent.get("Dispatched"):
        raise ValueError(f"{parent_id!r} is not a parameterized job in namespace {namespace!r}")
    child = copy.deepcopy(parent)
    child_id = f"{parent_id}/dispatch-{cluster.now_ns() // NS_PER_S}-{cluster.new_id()[:8]}"
    child.update(ID=child_id, Name=child_id, ParentID=parent_id, Dispatched=True,
                 Meta={**(parent.get("Meta") or {}), **(meta or {})} or None)
    cluster.register_job(child, namespace=namespace)
    return cluster.state.jobs[(namespace, child_id)]


def build_demo(cluster: SimCluster, *, observe: Observe | None = None) -> None:
    """Populate ``cluster`` with the ``demo`` scenario: six hours of history ending in an incident.

    The cluster must be on a :class:`ManualClock`; the history starts at the clock's current
    time and the clock ends :data:`DEMO_HISTORY_S` later. Every write goes through the
    cluster's own write paths at its time; see FIDELITY.md "Scenarios" for the timeline.
    ``observe`` is called at its sample instants on the way (see :func:`build_scenario`).
    """
    clock = cluster.clock
    if not isinstance(clock, ManualClock):
        raise TypeError("the demo scenario is built on a ManualClock (see build_scenario)")
    rng = random.Random(f"nomadlab-demo:{cluster.seed}")
    t0 = clock.now_ns()
    stepper = _Stepper(cluster, observe)

    def until(offset_s: float) -> None:
        stepper.until(t0 + int(offset_s * NS_PER_S))

    def live(ns: str, job_id: str) -> list[dict[str, Any]]:
        return sorted((a for a in cluster.state.job_allocs(ns, job_id)
                       if a["DesiredStatus"] == "run" and a["ClientStatus"] in ("pending", "running")),
                      key=lambda a: a["Name"])

    # t+0: the cluster as it stood six hours ago.
    cluster.add_node_pool("batch", "Batch and data-processing nodes")
    cluster.add_node_pool("gpu", "GPU nodes for training and inference")
    cluster.add_namespace("platform", "Shared platform services")
    cluster.add_namespace("data", "Data pipelines and machine learning")
    nodes = {spec["name"]: cluster.add_node(**spec)["ID"] for spec in _demo_nodes(rng)}
    script_demo(cluster)
    # Node-level agents first, as a cluster is set up, so that every node has room for them.
    for spec in sorted(_demo_jobs(), key=lambda s: s["Type"] not in ("system", "sysbatch")):
        cluster.register_job(spec)

    # `report` and `etl` launch their children on their cron specs as the clock moves
    # (SimCluster.periodic, as Nomad's periodic dispatcher): nothing to schedule here.
    actions: list[tuple[float, str, Callable[[], object]]] = []
    for offset, bucket in ((70 * 60, "uploads-eu"), (160 * 60, "uploads-us"), (260 * 60, "uploads-eu")):
        size = rng.choice(("256", "512", "1024"))
        actions.append((offset, "dispatch", functools.partial(
            dispatch_child, cluster, "default", "thumbnailer", {"bucket": bucket, "size": size})))

    def scale_web(count: int, original: int, message: str) -> None:
        cluster.scale_job("default", "web", group="frontend", count=count, message=message,
                          meta={"nomad_policy_id": "6c2e4f0a-8d1b-4b7e-9a35-2f0c1d7e9b41",
                                "nomad_autoscaler.count.original": str(original)})

    drained = sorted(n for n in nodes if n.startswith("client-dc2-"))[rng.randrange(8)]

    def stop_one_search() -> None:
        allocs = live("default", "search")
        cluster.stop_alloc(allocs[rng.randrange(len(allocs))]["ID"])

    actions += [
        (40 * 60, "web v1", lambda: cluster.register_job(_web_spec("nginx:1.27.1"))),
        (65 * 60, "api v1", lambda: cluster.register_job(_api_spec("example/api:2.3.2"))),
        (90 * 60, "scale up", lambda: scale_web(9, 6, "traffic above target: 9 instances")),
        (120 * 60, "drain", lambda: cluster.drain_node(
            nodes[drained], {"Deadline": 1800 * NS_PER_S, "IgnoreSystemJobs": False},
            meta={"message": "kernel upgrade"})),
        (140 * 60, "ledger-import", lambda: cluster.register_job(_ledger_import_spec())),
        (150 * 60, "ml-train", lambda: cluster.register_job(_ml_train_spec())),
        (160 * 60, "ml-train-xl", lambda: cluster.register_job(_ml_train_xl_spec())),
        (180 * 60, "scale down", lambda: scale_web(6, 9, "traffic below target: 6 instances")),
        (210 * 60, "web v2", lambda: cluster.register_job(_web_spec("nginx:1.27.2"))),
        (215 * 60, "search v1", lambda: cluster.register_job(_search_spec("-Xms3g -Xmx3g"))),
        (240 * 60, "stop alloc", stop_one_search),
        # 2.4.0 adds an in-process response cache; 2.3.x used ~420 MB of its 1024, so the
        # same change lowers the ask "to save memory". The cache grows past 512 MB.
        (DEMO_HISTORY_S - 55 * 60, "bad deploy", lambda: cluster.register_job(_api_spec(
            "example/api:2.4.0", memory_mb=512, env={"RESPONSE_CACHE": "on"}))),
        (DEMO_HISTORY_S - 50 * 60, "node down", lambda: _node_down(cluster)),
    ]
    for at_s, _label, action in sorted(actions, key=lambda a: a[0]):
        until(at_s)
        action()
    until(DEMO_HISTORY_S)


Observe = tuple[float, "Callable[[SimCluster], None]"]
"""``(every_s, callback)``: call ``callback(cluster)`` every ``every_s`` of simulated time."""


class _Stepper:
    """Moves a build's clock forward, stopping at each sample instant of an observer.

    Sample instants are ``start + k × every_s`` (``k ≥ 0``) from the clock's time when the
    stepper is made; at each, the clock stands still at the instant (due transitions have run)
    and no lock is held, so the callback may read the cluster as any client does.
    """

    def __init__(self, cluster: SimCluster, observe: Observe | None) -> None:
        self.cluster = cluster
        self.every_ns = 0
        self.callback: Callable[[SimCluster], None] | None = None
        if observe is not None:
            every_s, callback = observe
            if every_s <= 0:
                raise ValueError(f"observe needs a positive interval in seconds, not {every_s!r}")
            self.every_ns = int(every_s * NS_PER_S)
            self.callback = callback
        self.next_ns = cluster.now_ns()

    def until(self, target_ns: int) -> None:
        cluster = self.cluster
        if self.callback is not None:
            while self.next_ns <= target_ns:
                if self.next_ns > cluster.now_ns():
                    cluster.advance((self.next_ns - cluster.now_ns()) / NS_PER_S)
                self.callback(cluster)
                self.next_ns += self.every_ns
        if target_ns > cluster.now_ns():
            cluster.advance((target_ns - cluster.now_ns()) / NS_PER_S)


def _node_down(cluster: SimCluster) -> None:
    """The incident's node: the pool-``default`` node running the most ``api`` allocations."""
    best: tuple[int, int, str] | None = None
    for node in cluster.state.nodes.values():
        if node["NodePool"] != "default" or node["Status"] != "ready":
            continue
        allocs = [a for a in cluster.state.node_allocs(node["ID"])
                  if a["DesiredStatus"] == "run" and a["ClientStatus"] in ("pending", "running")]
        api = sum(1 for a in allocs if a["JobID"] == "api")
        key = (-api, -len(allocs), node["Name"])
        if best is None or key < best:
            best = key
            chosen = node["ID"]
    cluster.set_node_status(chosen, "down")


def _ledger_import_spec() -> dict[str, Any]:
    """A batch job that crashes after a restart, twice rescheduled, then left failed."""
    return job_spec(
        "ledger-import",
        [group("import", [task("import", image="example/ledger-import:0.9.1", cpu=500, memory_mb=512)],
               restart={"Attempts": 1, "Interval": 600 * NS_PER_S, "Delay": 10 * NS_PER_S, "Mode": "fail"},
               reschedule={"Attempts": 2, "Interval": 3600 * NS_PER_S, "Delay": 30 * NS_PER_S,
                           "DelayFunction": "constant", "Unlimited": False})],
        job_type="batch", datacenters=["dc1", "dc2"],
    )


def _ml_train_spec() -> dict[str, Any]:
    return job_spec("ml-train", [group("trainer", [task("trainer", image="example/trainer:0.9", cpu=16000,
                                                        memory_mb=65536)])],
                    job_type="batch", namespace="data", datacenters=["dc1", "dc3"], node_pool="gpu")


def _ml_train_xl_spec() -> dict[str, Any]:
    """A training run that asks for more memory than any GPU node has: it stays blocked."""
    return job_spec("ml-train-xl", [group("trainer", [task("trainer", image="example/trainer:0.9", cpu=16000,
                                                           memory_mb=262144)])],
                    job_type="batch", namespace="data", datacenters=["dc1", "dc3"], node_pool="gpu")


# -- registry -----------------------------------------------------------------------------------
@dataclass(frozen=True)
class Scenario:
    """A named way to populate a cluster.

    ``build(cluster, **params)`` writes the scenario into a fresh cluster on a
    :class:`ManualClock`; ``history_s`` is how far the build moves that clock (so that a served
    cluster's history can be made to end "now"); ``params`` names the keyword parameters
    ``build`` takes (``--nodes``/``--allocs``/``--jobs`` on the command line).
    """

    name: str
    build: Callable[..., None]
    history_s: float
    description: str
    params: tuple[str, ...] = ()

    def start_ns(self, *, end_ns: int) -> int:
        """Where a :class:`ManualClock` starts for the built history to end at ``end_ns``.

        Rounded down to a whole second, so every write of the build lands on a whole second.
        """
        return (int(end_ns) - int(self.history_s * NS_PER_S)) // NS_PER_S * NS_PER_S

    def __call__(self, cluster: SimCluster, *, observe: Observe | None = None, **params: Any) -> None:
        unknown = set(params) - set(self.params)
        if unknown:
            raise TypeError(f"scenario {self.name!r} takes no parameter(s) {', '.join(sorted(unknown))}")
        if observe is None:
            self.build(cluster, **params)
        else:
            self.build(cluster, observe=observe, **params)


DEV_NODE_NAME = "nomad-dev"


def build_dev(cluster: SimCluster, *, observe: Observe | None = None, node_name: str = DEV_NODE_NAME) -> None:
    """What ``nomad agent -dev [-node NAME]`` starts: one agent that is server and client.

    One ready node ``node_name`` in ``dc1``, pool ``default``, at 127.0.0.1 with the ``docker``,
    ``exec`` and ``raw_exec`` drivers; the ``default`` namespace only; no jobs. The agent is
    named as the node, and client endpoints called without ``node_id`` are answered by this
    node, as an agent running a client answers them.
    """
    if not node_name:
        raise ValueError("the dev node needs a name")
    node = cluster.add_node(name=node_name, datacenter="dc1", cpu_mhz=8800, cores=4, memory_mb=16_000,
                            disk_mb=100_000, address="127.0.0.1")
    cluster.agent_name = node_name
    cluster.local_node_id = str(node["ID"])
    _Stepper(cluster, observe).until(cluster.now_ns())


def _build_large(cluster: SimCluster, *, observe: Observe | None = None, **params: Any) -> None:
    from .scenarios_large import build_large

    build_large(cluster, **params)
    _Stepper(cluster, observe).until(cluster.now_ns())


SCENARIOS: dict[str, Scenario] = {
    s.name: s for s in (
        Scenario("default", build_default, 30, "a small cluster with jobs of every type"),
        Scenario("dev", build_dev, 0, "one server and client, as `nomad agent -dev`: one node, no jobs",
                 params=("node_name",)),
        Scenario("demo", build_demo, DEMO_HISTORY_S,
                 "40 nodes, 3 datacenters, ~30 jobs, six hours of history ending in an incident"),
        Scenario("large", _build_large, 0, "a benchmark-sized cluster built directly in state",
                 params=("nodes", "allocs", "jobs")),
    )
}
"""Every scenario by name (what ``nomadlab sim --scenario`` chooses from)."""


def build_scenario(name: str, *, seed: int = 0, end_ns: int | None = None,
                   observe: Observe | None = None, **params: Any) -> SimCluster:
    """Build scenario ``name`` into a new cluster on a :class:`ManualClock` and return it.

    With ``end_ns``, the clock starts ``history_s`` before it (rounded down to a whole second),
    so the built history ends at ``end_ns``; otherwise it starts at ``ManualClock``'s default
    start, which makes the result depend on ``seed`` and ``params`` alone.

    With ``observe=(every_s, callback)``, the build stops at the start of its history and every
    ``every_s`` seconds of simulated time after it (up to and including its end when the end
    falls on that grid) and calls ``callback(cluster)`` there: the clock stands still at the
    instant, due transitions have run, and no lock is held, so the callback can read the
    cluster through a client (``cluster.transport()``) as any Nomad client would. Observing
    does not change what is built. ``large`` is observed once, at its end.
    """
    from .cluster import SimCluster

    scenario = SCENARIOS[name]
    start = None if end_ns is None else scenario.start_ns(end_ns=end_ns)
    cluster = SimCluster(clock=ManualClock(start), seed=seed)
    scenario(cluster, observe=observe, **params)
    return cluster


def continue_in_real_time(cluster: SimCluster) -> RealClock:
    """Swap the cluster's :class:`ManualClock` for a :class:`RealClock` that continues from it.

    Pending transitions are kept (their due times are absolute), so a built history goes on in
    real time when served: crash loops keep looping, batch work finishes, follow-ups run.
    """
    clock = RealClock(start_ns=cluster.clock.now_ns())
    with cluster.state.lock:
        cluster.clock = clock
    return clock
