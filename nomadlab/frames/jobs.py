"""The ``jobs``, ``task_groups`` and ``job_versions`` frames.

``jobs`` comes from the list stubs alone (one request, all pages); ``task_groups`` and
``job_versions`` need one read per job (``GET /v1/job/:id`` and ``GET /v1/job/:id/versions``),
fanned out by the source. Jobs whose read fails are left out of the rows and named in
``frame.attrs["errors"]`` (``{(namespace, job_id): message}``), never dropped silently.
"""

from __future__ import annotations

import warnings
from collections.abc import Hashable, Iterable, Mapping
from typing import Any

import pandas as pd

from nomadlab.errors import NomadAccessWarning
from nomadlab.sources import Source

from ._common import get, readable, source_of, wanted
from ._values import as_list, as_str
from .schema import Column, Schema, register

__all__ = ["JOBS", "TASK_GROUPS", "JOB_VERSIONS", "JOB_TYPES", "JOB_STATUSES", "jobs", "task_groups",
           "job_versions"]

JOB_TYPES: tuple[str, ...] = ("service", "batch", "system", "sysbatch")
"""Nomad's job types (the internal ``_core`` type, should it appear, becomes an extra category)."""
JOB_STATUSES: tuple[str, ...] = ("pending", "running", "dead")
RESTART_MODES: tuple[str, ...] = ("fail", "delay")
_SUMMARY_KEYS: tuple[tuple[str, str], ...] = (
    ("queued", "Queued"), ("starting", "Starting"), ("running", "Running"), ("complete", "Complete"),
    ("failed", "Failed"), ("lost", "Lost"), ("unknown", "Unknown"),
)

JOBS = register(Schema(
    name="jobs",
    grain="one row per job",
    endpoint="GET /v1/jobs?meta=true",
    keys=("namespace", "job_id"),
    description=(
        "Jobs as the list endpoint describes them, with the allocation counts of the job summary "
        "summed over task groups. The stub carries no `Version`; `job_modify_index` changes "
        "exactly when the job's spec does."
    ),
    columns=(
        Column("namespace", "string", "Namespace (older Nomads omit it on the stub: `default`)."),
        Column("job_id", "string", "Job ID."),
        Column("name", "string", "Job name (usually the ID)."),
        Column("parent_id", "string", "Parent job of a periodic launch or dispatched child; NA otherwise."),
        Column("type", "category", "Job type.", categories=JOB_TYPES),
        Column("priority", "Int64", "Scheduling priority (1-100)."),
        Column("status", "category", "Job status.", categories=JOB_STATUSES),
        Column("status_description", "string", "Free-text status detail; NA when empty."),
        Column("datacenters", "object", "Datacenters the job may run in (a list of glob patterns)."),
        Column("node_pool", "string", "Node pool the job is placed in."),
        Column("periodic", "boolean", "Whether the job is a periodic parent."),
        Column("parameterized", "boolean", "Whether the job is a parameterized (dispatchable) parent."),
        Column("stop", "boolean", "Whether the job was stopped (`nomad job stop` without purge)."),
        Column("submit_time", "time", "When the current version was submitted.", source="ns"),
        Column("task_group_count", "Int64", "Number of task groups in the summary."),
        *(Column(name, "Int64", f"Allocations `{wire}` summed over the job's groups (job summary)."
                 + (" NA on Nomads older than 1.3." if wire == "Unknown" else ""))
          for name, wire in _SUMMARY_KEYS),
        Column("children_pending", "Int64", "Child jobs pending (periodic/parameterized parents)."),
        Column("children_running", "Int64", "Child jobs running."),
        Column("children_dead", "Int64", "Child jobs dead."),
        Column("meta", "object", "Job metadata (dict); NA when the job has none."),
        Column("create_index", "Int64", "Raft index at creation."),
        Column("modify_index", "Int64", "Raft index of the last change (including status)."),
        Column("job_modify_index", "Int64", "Raft index of the last change to the job's spec."),
    ),
))

TASK_GROUPS = register(Schema(
    name="task_groups",
    grain="one row per job × task group × task (a group without tasks gives one row, task NA)",
    endpoint="GET /v1/jobs, then GET /v1/job/:id per job",
    keys=("namespace", "job_id", "task_group", "task"),
    description=(
        "The spec of every group and task: the per-task resource asks and the group's disk, "
        "restart, reschedule and update settings. Group columns repeat on each task row; "
        "`count × cpu_mhz` summed over a group's tasks is what the group asks for."
    ),
    columns=(
        Column("namespace", "string", "Namespace."),
        Column("job_id", "string", "Job ID."),
        Column("job_type", "category", "Job type.", categories=JOB_TYPES),
        Column("job_version", "Int64", "Version of the job spec read."),
        Column("task_group", "string", "Task group name."),
        Column("count", "Int64", "Desired number of allocations of the group."),
        Column("task", "string", "Task name; NA for a group without tasks."),
        Column("driver", "string", "Task driver (docker, exec, raw_exec, java, ...)."),
        Column("lifecycle_hook", "string", "Lifecycle hook (prestart, poststart, poststop); NA for a main task."),
        Column("sidecar", "boolean", "Whether a lifecycle task keeps running beside the main tasks."),
        Column("cpu_mhz", "Int64", "CPU asked for (`resources.cpu`).", unit="MHz"),
        Column("cores", "Int64", "Whole cores reserved (`resources.cores`; 0 when CPU is asked in MHz)."),
        Column("memory_mb", "Int64", "Memory reserved (`resources.memory`).", unit="MB"),
        Column("memory_max_mb", "Int64", "Memory limit when oversubscription is set (`memory_max`); NA when unset "
               "(the limit is then `memory_mb`).", unit="MB"),
        Column("disk_mb", "Int64", "The group's ephemeral disk (`ephemeral_disk.size`), on every task row of "
               "the group: sum it per group, not per task.", unit="MB"),
        Column("restart_attempts", "Int64", "Group restart policy: restarts allowed within the interval."),
        Column("restart_interval", "duration", "Group restart policy: the interval."),
        Column("restart_delay", "duration", "Group restart policy: the wait before a restart."),
        Column("restart_mode", "category", "Group restart policy: what happens after the attempts.",
               categories=RESTART_MODES),
        Column("reschedule_attempts", "Int64", "Reschedule policy: attempts within the interval."),
        Column("reschedule_interval", "duration", "Reschedule policy: the interval."),
        Column("reschedule_unlimited", "boolean", "Reschedule policy: whether rescheduling never stops."),
        Column("update_max_parallel", "Int64", "Update strategy: allocations updated at once (NA without one)."),
        Column("update_canary", "Int64", "Update strategy: canaries per deployment."),
        Column("update_auto_revert", "boolean", "Update strategy: revert to the last stable version on failure."),
        Column("update_auto_promote", "boolean", "Update strategy: promote canaries once healthy."),
    ),
))

JOB_VERSIONS = register(Schema(
    name="job_versions",
    grain="one row per job × version",
    endpoint="GET /v1/jobs, then GET /v1/job/:id/versions per job",
    keys=("namespace", "job_id", "version"),
    description=(
        "The versions Nomad keeps of every job (the last 6 by default), newest first per job. "
        "`changed_fields` lists what changed against the previous version when the source asked "
        "for diffs (`?diffs=true`); it is NA otherwise and for the oldest version kept."
    ),
    columns=(
        Column("namespace", "string", "Namespace."),
        Column("job_id", "string", "Job ID."),
        Column("version", "Int64", "Job version (0 for the first registration)."),
        Column("stable", "boolean", "Whether the version was marked stable (a successful deployment)."),
        Column("status", "category", "Job status recorded with the version.", categories=JOB_STATUSES),
        Column("stop", "boolean", "Whether the version is a stopped job."),
        Column("submit_time", "time", "When the version was submitted.", source="ns"),
        Column("version_tag", "string", "Tag name given with `nomad job tag`; NA when untagged."),
        Column("version_tag_description", "string", "The tag's description."),
        Column("version_tagged_time", "time", "When the tag was set.", source="ns"),
        Column("task_group_count", "Int64", "Number of task groups."),
        Column("total_count", "Int64", "Sum of the groups' counts."),
        Column("group_counts", "object", "Count per group (dict name → count)."),
        Column("changed_fields", "object", "Paths changed against the previous version "
               "(`TaskGroups[web].Tasks[app].Config[image]`, ...); NA without a diff."),
        Column("changes", "object", "The same changes with their values, one line each "
               "(`TaskGroups[api].Tasks[api].Config.image: example/api:2.3.2 → example/api:2.4.0`); "
               "NA without a diff."),
        Column("create_index", "Int64", "Raft index at the job's creation."),
        Column("modify_index", "Int64", "Raft index of the version's last change."),
        Column("job_modify_index", "Int64", "Raft index of the version's spec."),
    ),
))


# -- helpers --------------------------------------------------------------------------------


def _str(value: Any) -> str | None:
    """A string column value: empty strings are missing."""
    return None if value is None or value == "" else str(value)


def _flag(value: Any) -> bool | None:
    return None if value is None else bool(value)


def _positive(value: Any) -> int | None:
    """An optional size where 0 means "not set"."""
    return value if isinstance(value, int) and value > 0 else None


def _sum_summary(summary: Any, key: str) -> int | None:
    """``key`` summed over a job summary's groups; None when no group reports it."""
    if not isinstance(summary, Mapping):
        return None
    present: list[int] = [g[key] for g in summary.values() if isinstance(g, Mapping) and g.get(key) is not None]
    return sum(present) if present else None


def _namespace_of(stub: Mapping[str, Any], namespace: str) -> str:
    """A stub's namespace; older Nomads leave it off the stub (then the one asked for, or default)."""
    ns = stub.get("Namespace") or get(stub, "JobSummary", "Namespace")
    if isinstance(ns, str) and ns:
        return ns
    return namespace if namespace != "*" else "default"


def _job_keys(src: Source, namespace: str, job: str | Iterable[str] | None,
             ) -> tuple[list[tuple[str, str]], dict[Hashable, str]]:
    """(namespace, job_id) of every listed job, optionally only the given IDs, and the list
    elements that could not be read."""
    ids = wanted(job)
    stubs, errors = readable(src.list("jobs", namespace=namespace), "jobs")
    keys = [(_namespace_of(s, namespace), s["ID"]) for s in stubs
            if isinstance(s.get("ID"), str) and s["ID"] and (ids is None or s["ID"] in ids)]
    unknown = sorted(ids - {k[1] for k in keys}) if ids is not None else []
    if unknown:
        where = "any namespace the token can read" if namespace == "*" else f"namespace {namespace!r}"
        warnings.warn(f"no job {', '.join(map(repr, unknown))} in {where}: check the job ID (the frame "
                      "has no rows for it)", NomadAccessWarning, stacklevel=3)
    return keys, errors


def _read_jobs(src: Source, kind: str, listed: tuple[list[tuple[str, str]], dict[Hashable, str]],
               ) -> tuple[list[tuple[tuple[str, str], Any]], dict[Hashable, str]]:
    """Per-job reads in key order, and the failures (a reply for another job counts as one,
    and so does one that is not an object), after those of the listing."""
    keys, errors = listed[0], dict(listed[1])
    if not keys:
        return [], errors
    details = src.details(kind, keys)  # type: ignore[arg-type]
    errors.update(details.errors)
    found: list[tuple[tuple[str, str], Any]] = []
    for key in keys:
        obj = details.objects.get(key)
        if obj is None:
            errors.setdefault(key, f"no {kind} object returned")
            continue
        if not isinstance(obj, Mapping):
            errors[key] = f"the {kind} reply is not an object ({type(obj).__name__}); dropped"
            continue
        first = obj if kind == "job" else next(iter(as_list(get(obj, "Versions"))), None)
        got = (get(first, "Namespace"), get(first, "ID"))
        if isinstance(first, Mapping) and got[0] is not None and got != key and got[1] is not None:
            errors[key] = f"asked for job {key[1]!r} in namespace {key[0]!r}, got {got[1]!r} in {got[0]!r}"
            continue
        found.append((key, obj))
    return found, errors


Change = tuple[str, Any, Any]
"""One changed field of a version diff: (path, old value, new value); None where absent."""


def _diff_changes(node: Any, prefix: str, out: list[Change]) -> None:
    """The changed fields of a JobDiff/TaskGroupDiff/TaskDiff/ObjectDiff, with old and new values."""
    if not isinstance(node, Mapping):
        return
    before = len(out)
    out.extend((prefix + str(f.get("Name")), f.get("Old") or None, f.get("New") or None)
               for f in as_list(node.get("Fields"))
               if isinstance(f, Mapping) and f.get("Type") not in (None, "None"))
    for obj in as_list(node.get("Objects")):
        if isinstance(obj, Mapping) and obj.get("Type") not in (None, "None"):
            _diff_changes(obj, f"{prefix}{obj.get('Name')}.", out)
    for tg in as_list(node.get("TaskGroups")):
        if isinstance(tg, Mapping) and tg.get("Type") not in (None, "None"):
            _diff_changes(tg, f"{prefix}TaskGroups[{tg.get('Name')}].", out)
    for task in as_list(node.get("Tasks")):
        if isinstance(task, Mapping) and task.get("Type") not in (None, "None"):
            _diff_changes(task, f"{prefix}Tasks[{task.get('Name')}].", out)
    if len(out) == before and node.get("Type") in ("Added", "Deleted") and prefix:
        kind = str(node.get("Type")).lower()
        out.append((prefix.rstrip("."), None if kind == "added" else kind, kind if kind == "added" else None))


def _changes(diff: Any) -> list[Change] | None:
    if not isinstance(diff, Mapping):
        return None
    out: list[Change] = []
    _diff_changes(diff, "", out)
    return out


def _describe(change: Change) -> str:
    path, old, new = change
    if old is None and new is None:
        return path
    return f"{path}: {'(none)' if old is None else old} → {'(none)' if new is None else new}"


# -- fetchers -------------------------------------------------------------------------------

def jobs(
    source: Any = None,
    *,
    namespace: str = "*",
    status: str | Iterable[str] | None = None,
    job_type: str | Iterable[str] | None = None,
    filter: str | None = None,
) -> pd.DataFrame:
    """Every job, one row each, with its allocation counts summed over task groups.

    Endpoint: ``GET /v1/jobs?meta=true`` (all pages). Schema: :data:`JOBS`
    (``docs/frames.md``). ``datacenters`` is a Python list per row (explode it to join on
    datacenter); ``meta`` is a dict.

    Parameters
    ----------
    source
        A :class:`~nomadlab.sources.Source`, a :class:`~nomadlab.client.NomadClient`, or
        ``None`` to connect from ``NOMAD_*`` variables.
    namespace
        A namespace, or ``"*"`` for all.
    status, job_type
        Keep only these statuses / types (one value or several).
    filter
        A Nomad filter expression, evaluated by the server on the full job.

    Examples
    --------
    >>> from nomadlab.sim import SimCluster
    >>> from nomadlab.client import NomadClient
    >>> df = jobs(NomadClient(transport=SimCluster.default().transport()), job_type="system")
    >>> df[["namespace", "job_id", "type"]].to_dict("records")
    [{'namespace': 'platform', 'job_id': 'node-exporter', 'type': 'system'}]
    """
    rows, errors = readable(source_of(source).list("jobs", namespace=namespace, filter=filter), "jobs")
    statuses, types = wanted(status), wanted(job_type)
    if statuses is not None or types is not None:
        rows = [r for r in rows if (statuses is None or as_str(r.get("Status")) in statuses)
                and (types is None or as_str(r.get("Type")) in types)]
    summaries = [get(r, "JobSummary", "Summary") for r in rows]
    dcs = [r.get("Datacenters") for r in rows]
    data: dict[str, list[Any]] = {
        "namespace": [_namespace_of(r, namespace) for r in rows],
        "job_id": [r.get("ID") for r in rows],
        "name": [r.get("Name") for r in rows],
        "parent_id": [_str(r.get("ParentID")) for r in rows],
        "type": [r.get("Type") for r in rows],
        "priority": [r.get("Priority") for r in rows],
        "status": [r.get("Status") for r in rows],
        "status_description": [_str(r.get("StatusDescription")) for r in rows],
        "datacenters": [list(d) if isinstance(d, list) else None for d in dcs],
        "node_pool": [_str(r.get("NodePool")) for r in rows],
        "periodic": [_flag(r.get("Periodic")) for r in rows],
        "parameterized": [_flag(r.get("ParameterizedJob")) for r in rows],
        "stop": [_flag(r.get("Stop")) for r in rows],
        "submit_time": [r.get("SubmitTime") for r in rows],
        "task_group_count": [len(s) if isinstance(s, Mapping) else None for s in summaries],
        **{name: [_sum_summary(s, wire) for s in summaries] for name, wire in _SUMMARY_KEYS},
        "children_pending": [get(r, "JobSummary", "Children", "Pending") for r in rows],
        "children_running": [get(r, "JobSummary", "Children", "Running") for r in rows],
        "children_dead": [get(r, "JobSummary", "Children", "Dead") for r in rows],
        "meta": [r.get("Meta") if isinstance(r.get("Meta"), dict) and r.get("Meta") else None for r in rows],
        "create_index": [r.get("CreateIndex") for r in rows],
        "modify_index": [r.get("ModifyIndex") for r in rows],
        "job_modify_index": [r.get("JobModifyIndex") for r in rows],
    }
    frame = JOBS.build(data)
    frame.attrs["errors"] = errors
    return frame


def task_groups(
    source: Any = None,
    *,
    namespace: str = "*",
    job: str | Iterable[str] | None = None,
) -> pd.DataFrame:
    """The spec of every task group and task: resource asks, disk, restart/reschedule/update.

    Endpoints: ``GET /v1/jobs`` for the job IDs, then ``GET /v1/job/:id`` per job (fanned out).
    Schema: :data:`TASK_GROUPS` (``docs/frames.md``). Jobs whose read failed are named in
    ``attrs["errors"]`` (``{(namespace, job_id): message}``, empty when all succeeded).

    Parameters
    ----------
    source
        A source, a client, or ``None`` (``NOMAD_*`` variables).
    namespace
        A namespace, or ``"*"`` for all.
    job
        Only this job ID (or these IDs).

    Examples
    --------
    >>> from nomadlab.sim import SimCluster
    >>> from nomadlab.client import NomadClient
    >>> df = task_groups(NomadClient(transport=SimCluster.default().transport()), job="ml-training")
    >>> df[["task_group", "task", "cpu_mhz", "memory_mb"]].to_dict("records")
    [{'task_group': 'trainer', 'task': 'trainer', 'cpu_mhz': 4000, 'memory_mb': 98304}]
    """
    src = source_of(source)
    found, errors = _read_jobs(src, "job", _job_keys(src, namespace, job))
    no_task: list[Mapping[str, Any] | None] = [None]
    rows = [(key, j, g, t)
            for key, j in found if isinstance(j, Mapping)
            for g in as_list(j.get("TaskGroups")) if isinstance(g, Mapping)
            for t in ([t for t in as_list(g.get("Tasks")) if isinstance(t, Mapping)] or no_task)]
    frame = TASK_GROUPS.build({
        "namespace": [k[0] for k, _, _, _ in rows],
        "job_id": [k[1] for k, _, _, _ in rows],
        "job_type": [j.get("Type") for _, j, _, _ in rows],
        "job_version": [j.get("Version") for _, j, _, _ in rows],
        "task_group": [g.get("Name") for _, _, g, _ in rows],
        "count": [g.get("Count") for _, _, g, _ in rows],
        "task": [get(t, "Name") for _, _, _, t in rows],
        "driver": [_str(get(t, "Driver")) for _, _, _, t in rows],
        "lifecycle_hook": [_str(get(t, "Lifecycle", "Hook")) for _, _, _, t in rows],
        "sidecar": [get(t, "Lifecycle", "Sidecar") if get(t, "Lifecycle") else None for _, _, _, t in rows],
        "cpu_mhz": [get(t, "Resources", "CPU") for _, _, _, t in rows],
        "cores": [get(t, "Resources", "Cores") for _, _, _, t in rows],
        "memory_mb": [get(t, "Resources", "MemoryMB") for _, _, _, t in rows],
        "memory_max_mb": [_positive(get(t, "Resources", "MemoryMaxMB")) for _, _, _, t in rows],
        "disk_mb": [get(g, "EphemeralDisk", "SizeMB") for _, _, g, _ in rows],
        "restart_attempts": [get(g, "RestartPolicy", "Attempts") for _, _, g, _ in rows],
        "restart_interval": [get(g, "RestartPolicy", "Interval") for _, _, g, _ in rows],
        "restart_delay": [get(g, "RestartPolicy", "Delay") for _, _, g, _ in rows],
        "restart_mode": [get(g, "RestartPolicy", "Mode") for _, _, g, _ in rows],
        "reschedule_attempts": [get(g, "ReschedulePolicy", "Attempts") for _, _, g, _ in rows],
        "reschedule_interval": [get(g, "ReschedulePolicy", "Interval") for _, _, g, _ in rows],
        "reschedule_unlimited": [get(g, "ReschedulePolicy", "Unlimited") for _, _, g, _ in rows],
        "update_max_parallel": [get(g, "Update", "MaxParallel") for _, _, g, _ in rows],
        "update_canary": [get(g, "Update", "Canary") for _, _, g, _ in rows],
        "update_auto_revert": [get(g, "Update", "AutoRevert") for _, _, g, _ in rows],
        "update_auto_promote": [get(g, "Update", "AutoPromote") for _, _, g, _ in rows],
    })
    frame.attrs["errors"] = errors
    return frame


def job_versions(
    source: Any = None,
    *,
    namespace: str = "*",
    job: str | Iterable[str] | None = None,
) -> pd.DataFrame:
    """Every kept version of every job: stability, tag, submit time, counts, what changed.

    Endpoints: ``GET /v1/jobs`` for the job IDs, then ``GET /v1/job/:id/versions`` per job
    (fanned out). Schema: :data:`JOB_VERSIONS` (``docs/frames.md``). Nomad pairs
    ``Diffs[i]`` with ``Versions[i]`` (the change from the version before it); a source that did
    not ask for diffs leaves ``changed_fields`` NA. Failed reads are named in
    ``attrs["errors"]``.

    Parameters
    ----------
    source
        A source, a client, or ``None`` (``NOMAD_*`` variables).
    namespace
        A namespace, or ``"*"`` for all.
    job
        Only this job ID (or these IDs).

    Examples
    --------
    >>> from nomadlab.sim import SimCluster
    >>> from nomadlab.client import NomadClient
    >>> df = job_versions(NomadClient(transport=SimCluster.default().transport()), job="ml-training")
    >>> df[["job_id", "version", "total_count"]].to_dict("records")
    [{'job_id': 'ml-training', 'version': 0, 'total_count': 1}]
    """
    src = source_of(source)
    found, errors = _read_jobs(src, "job_versions", _job_keys(src, namespace, job))
    rows: list[tuple[tuple[str, str], Mapping[str, Any], list[Change] | None]] = []
    for key, obj in found:
        versions = [v for v in as_list(get(obj, "Versions")) if isinstance(v, Mapping)]
        diffs = get(obj, "Diffs")
        diffs = diffs if isinstance(diffs, list) else []
        rows.extend((key, v, _changes(diffs[i]) if i < len(diffs) else None)
                    for i, v in enumerate(versions))
    counts = [{str(g.get("Name")): g.get("Count") for g in v["TaskGroups"] if isinstance(g, Mapping)}
              if isinstance(v.get("TaskGroups"), list) else None for _, v, _ in rows]
    frame = JOB_VERSIONS.build({
        "namespace": [k[0] for k, _, _ in rows],
        "job_id": [k[1] for k, _, _ in rows],
        "version": [v.get("Version") for _, v, _ in rows],
        "stable": [v.get("Stable") for _, v, _ in rows],
        "status": [v.get("Status") for _, v, _ in rows],
        "stop": [v.get("Stop") for _, v, _ in rows],
        "submit_time": [v.get("SubmitTime") for _, v, _ in rows],
        "version_tag": [_str(get(v, "VersionTag", "Name")) for _, v, _ in rows],
        "version_tag_description": [_str(get(v, "VersionTag", "Description")) for _, v, _ in rows],
        "version_tagged_time": [get(v, "VersionTag", "TaggedTime") for _, v, _ in rows],
        "task_group_count": [None if cs is None else len(cs) for cs in counts],
        "total_count": [None if cs is None else sum(c for c in cs.values() if isinstance(c, int))
                        for cs in counts],
        "group_counts": counts,
        "changed_fields": [None if ch is None else [c[0] for c in ch] for _, _, ch in rows],
        "changes": [None if ch is None else [_describe(c) for c in ch] for _, _, ch in rows],
        "create_index": [v.get("CreateIndex") for _, v, _ in rows],
        "modify_index": [v.get("ModifyIndex") for _, v, _ in rows],
        "job_modify_index": [v.get("JobModifyIndex") for _, v, _ in rows],
    })
    frame.attrs["errors"] = errors
    return frame
