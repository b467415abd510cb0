"""The ``allocations``, ``tasks`` and ``task_events`` frames.

All three come from the same objects, the allocation list (``GET /v1/allocations`` with
``resources=true&task_states=true``): one row per allocation, one per allocation × task (its
``TaskStates``), and one per task event (``TaskStates[task].Events``; the client keeps the
last 10 per task). :func:`allocation_frames` builds all three from one fetch in one pass over
the wire dicts; the single-frame fetchers share that code.

The wire objects are read once into plain per-column lists (no ``json_normalize``, no per-row
pandas) and typed by :meth:`~nomadlab.frames.schema.Schema.arrays`, page by page when the
source offers pages (:func:`~nomadlab.sources.iter_pages`): a live source decodes only
:data:`WIRE_FIELDS` of each page while Nomad prepares the next. The typed pieces are joined
once per column (:meth:`~nomadlab.frames.schema.Schema.join`). A source that keeps what is
built from it (:meth:`~nomadlab.sources.CachedSource.memo`) gets the three frames built once,
together, whichever fetcher asks first. What this costs against transferring and decoding the
same pages is measured by ``benchmarks/bench_frames.py`` (``docs/performance.md``).

Filters, the same for every fetcher here:

- ``job``, ``node`` (node ID or node name) and ``status`` (client status) are sent to Nomad as
  a ``?filter=`` expression (so a big cluster sends only what is asked for) and checked again
  on the objects that come back, so a source that ignores ``filter`` gives the same rows.
  They combine with ``and`` with your own ``filter``.
- ``since``/``until`` keep the half-open window ``[since, until)`` on the allocation's
  ``modify_time`` (its last change) for ``allocations`` and ``tasks``, and on the event's own
  ``time`` for ``task_events``. Naive times are taken as UTC.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from contextlib import closing
from operator import attrgetter, itemgetter
from typing import Any, NamedTuple

import numpy as np
import pandas as pd
from msgspec.structs import astuple

from nomadlab._json import Fields, ListOf, MapOf, Record, gc_paused, is_record
from nomadlab.sources import iter_pages

from ._common import source_of, to_utc
from .schema import Column, Schema, _arrow_strings, register

__all__ = [
    "ALLOCATIONS",
    "TASKS",
    "TASK_EVENTS",
    "CLIENT_STATUSES",
    "DESIRED_STATUSES",
    "JOB_TYPES",
    "TASK_STATES",
    "TASK_EVENT_TYPES",
    "WIRE_FIELDS",
    "AllocationFrames",
    "allocation_frames",
    "allocations",
    "tasks",
    "task_events",
]

CLIENT_STATUSES: tuple[str, ...] = ("pending", "running", "complete", "failed", "lost", "unknown")
"""Allocation client statuses (``nomad/structs/alloc.go``)."""
DESIRED_STATUSES: tuple[str, ...] = ("run", "stop", "evict")
"""Allocation desired statuses."""
JOB_TYPES: tuple[str, ...] = ("service", "batch", "system", "sysbatch")
"""Job types (the scheduler that placed the allocation)."""
TASK_STATES: tuple[str, ...] = ("pending", "running", "dead")
"""``TaskState.State`` values."""
TASK_EVENT_TYPES: tuple[str, ...] = (
    "Setup Failure", "Driver Failure", "Received", "Failed Validation", "Started", "Pausing",
    "Terminated", "Killing", "Killed", "Restarting", "Not Restarting", "Restart Signaled",
    "Signaling", "Downloading Artifacts", "Failed Artifact Download", "Building Task Directory",
    "Task Setup", "Disk Resources Exceeded", "Sibling Task Failed", "Driver", "Leader Task Dead",
    "Main Tasks Dead", "Task hook failed", "Task hook message", "Failed Restoring Task",
    "Plugin became unhealthy", "Plugin became healthy", "Reconnected",
    "Waiting for shutdown delay", "Skipping shutdown delay", "Running", "Alloc Unhealthy",
    "Template",
)
"""Every ``TaskEvent.Type`` Nomad emits (``nomad/structs/structs.go``, plus ``Alloc Unhealthy``
from the health tracker and ``Template`` from the template hook), spelled exactly."""

_NS_MIN, _NS_MAX = -(2**63), 2**63 - 1
_NO_RESOURCES = (None, None, None)

_ALLOCATED = (
    "Allocated (reserved by the scheduler, not used) {what}: the sum over the allocation's tasks "
    "of `AllocatedResources.Tasks[*].{wire}`; NA without `AllocatedResources`."
)

ALLOCATIONS = register(Schema(
    name="allocations",
    grain="one row per allocation",
    endpoint="GET /v1/allocations?resources=true&task_states=true",
    keys=("alloc_id",),
    description=(
        "Allocations (placed instances of a task group) with their statuses, what they were "
        "allocated, their reschedule links and task roll-ups. Allocated resources are what the "
        "scheduler reserved for the allocation, never what it used. `tasks` and `task_events` "
        "join on `alloc_id`; `nodes` on `node_id`."
    ),
    columns=(
        Column("alloc_id", "string", "Allocation ID (the join key `alloc_id` of other frames)."),
        Column("namespace", "string", "Namespace (the one asked for, or `default`, when an older stub lacks it)."),
        Column("job_id", "string", "Job ID."),
        Column("job_type", "category", "Job type.", categories=JOB_TYPES),
        Column("job_version", "Int64", "Job version the allocation runs."),
        Column("task_group", "string", "Task group."),
        Column("name", "string", "Allocation name, `<job>.<group>[<index>]`."),
        Column("alloc_index", "Int64", "The `[index]` of the name: the instance number within its group."),
        Column("node_id", "string", "Node the allocation is placed on."),
        Column("node_name", "string", "That node's name."),
        Column("eval_id", "string", "Evaluation that placed the allocation."),
        Column("deployment_id", "string",
               "Deployment that created the allocation; NA when there is none or when the source "
               "gives list stubs (which carry no `DeploymentID`)."),
        Column("desired_status", "category", "What the scheduler wants.", categories=DESIRED_STATUSES),
        Column("desired_description", "string", "Why (NA when empty)."),
        Column("client_status", "category", "What the client reports.", categories=CLIENT_STATUSES),
        Column("client_description", "string", "The client's explanation (NA when empty)."),
        Column("cpu_mhz", "Int64", _ALLOCATED.format(what="CPU", wire="Cpu.CpuShares"), unit="MHz"),
        Column("memory_mb", "Int64", _ALLOCATED.format(what="memory", wire="Memory.MemoryMB"), unit="MB"),
        Column("memory_max_mb", "Int64",
               "Allocated memory limit: the sum over tasks of `Memory.MemoryMaxMB`, a task without "
               "one (0, no oversubscription) counting its `MemoryMB`; NA without `AllocatedResources`.",
               unit="MB"),
        Column("disk_mb", "Int64", "Allocated ephemeral disk: `AllocatedResources.Shared.DiskMB`.", unit="MB"),
        Column("previous_alloc", "string",
               "The allocation this one replaced: `PreviousAllocation` when the source gives it, "
               "else the listed allocation whose `NextAllocation` is this one, else the "
               "`PrevAllocID` of the last reschedule event; NA when none is known."),
        Column("next_alloc", "string", "The allocation that replaced this one (NA when none)."),
        Column("followup_eval_id", "string", "Evaluation that will reschedule this allocation (NA when none)."),
        Column("reschedule_attempts", "Int64", "Reschedule events in `RescheduleTracker` (0 when never rescheduled)."),
        Column("deployment_healthy", "boolean", "Deployment health; NA while undecided or outside a deployment."),
        Column("deployment_canary", "boolean", "Placed as a canary; NA outside a deployment."),
        Column("create_time", "time", "When the allocation was created.", source="ns"),
        Column("modify_time", "time", "When the allocation last changed (the `since`/`until` column).", source="ns"),
        Column("create_index", "Int64", "Raft index at creation."),
        Column("modify_index", "Int64", "Raft index of the last change."),
        Column("tasks", "Int64", "Number of tasks (task states, else allocated tasks; NA when neither is sent)."),
        Column("restarts", "Int64", "Restarts summed over the tasks (NA without task states)."),
    ),
))

TASKS = register(Schema(
    name="tasks",
    grain="one row per allocation × task",
    endpoint="GET /v1/allocations?resources=true&task_states=true",
    keys=("alloc_id", "task"),
    description=(
        "Each task of each allocation: its state, restarts, start and finish, a summary of its "
        "events, and what it was allocated. Join `allocations` on `alloc_id`, `task_events` "
        "on (`alloc_id`, `task`)."
    ),
    columns=(
        Column("alloc_id", "string", "Allocation ID."),
        Column("namespace", "string", "Namespace."),
        Column("job_id", "string", "Job ID."),
        Column("task_group", "string", "Task group."),
        Column("node_id", "string", "Node the allocation is placed on."),
        Column("task", "string", "Task name."),
        Column("state", "category", "Task state.", categories=TASK_STATES),
        Column("failed", "boolean", "The task failed (it will not be restarted)."),
        Column("restarts", "Int64", "Times the task restarted."),
        Column("last_restart", "time", "Last restart; NaT if never.", source="rfc3339"),
        Column("started_at", "time", "Last start; NaT if never started.", source="rfc3339"),
        Column("finished_at", "time", "When the task died; NaT while it runs.", source="rfc3339"),
        Column("events", "Int64", "Task events kept (the client keeps the last 10)."),
        Column("last_event_type", "category", "Type of the latest event.", categories=TASK_EVENT_TYPES),
        Column("last_event_time", "time", "Time of the latest event.", source="ns"),
        Column("oom_killed", "boolean",
               "Some kept `Terminated` event says the task was killed for running out of memory "
               "(`Details.oom_killed == \"true\"`)."),
        Column("exit_code", "Int64", "Exit code of the latest `Terminated` event; NA if none is kept."),
        Column("cpu_mhz", "Int64", "Allocated CPU of this task: `AllocatedResources.Tasks[task].Cpu.CpuShares`.",
               unit="MHz"),
        Column("memory_mb", "Int64", "Allocated memory: `AllocatedResources.Tasks[task].Memory.MemoryMB`.",
               unit="MB"),
        Column("memory_max_mb", "Int64",
               "Allocated memory limit: `Memory.MemoryMaxMB`, or `MemoryMB` when no maximum is set (0).",
               unit="MB"),
    ),
))

TASK_EVENTS = register(Schema(
    name="task_events",
    grain="one row per task event",
    endpoint="GET /v1/allocations?resources=true&task_states=true",
    keys=("alloc_id", "task", "event_index"),
    description=(
        "Task events as the client recorded them (the last 10 per task). The building block of "
        "incident timelines: restarts, OOM kills, driver failures, kills. Join `tasks` on "
        "(`alloc_id`, `task`)."
    ),
    columns=(
        Column("alloc_id", "string", "Allocation ID."),
        Column("namespace", "string", "Namespace."),
        Column("job_id", "string", "Job ID."),
        Column("task_group", "string", "Task group."),
        Column("node_id", "string", "Node the allocation is placed on."),
        Column("task", "string", "Task name."),
        Column("event_index", "Int64", "Position among the task's kept events (0 = oldest kept)."),
        Column("time", "time", "When the event happened (the `since`/`until` column).", source="ns"),
        Column("type", "category", "Event type.", categories=TASK_EVENT_TYPES),
        Column("message", "string", "`Message`, else `DisplayMessage` (NA when both are empty)."),
        Column("display_message", "string", "The human-readable message Nomad computes (NA when empty)."),
        Column("exit_code", "Int64", "Exit code (`Terminated` events; NA for others unless non-zero)."),
        Column("signal", "Int64", "Signal that ended the task (`Terminated` events; NA for others unless non-zero)."),
        Column("oom_killed", "boolean",
               "`Details.oom_killed == \"true\"`; NA for a `Terminated` event that does not say, "
               "False for other events."),
        Column("restart_reason", "string", "Why the task restarts or not (NA when empty)."),
        Column("fails_task", "boolean", "The event fails the task."),
        Column("kill_timeout", "duration", "Kill timeout of a `Killing` event (NaT when 0/unset)."),
        Column("start_delay", "duration", "Delay before a restart (NaT when 0/unset)."),
        Column("driver_error", "string", "Driver error (NA when empty)."),
        Column("setup_error", "string", "Task setup error (NA when empty)."),
        Column("details", "object", "The event's `Details` map (dict of strings) as sent."),
    ),
))


class AllocationFrames(NamedTuple):
    """The three frames of the allocation list, built from one fetch."""

    allocations: pd.DataFrame
    tasks: pd.DataFrame
    task_events: pd.DataFrame


# -- filters ------------------------------------------------------------------------------------

def _values(name: str, value: str | Iterable[str] | None) -> tuple[str, ...] | None:
    """One value or several as a tuple of strings (None: no filtering)."""
    if value is None:
        return None
    out = (value,) if isinstance(value, str) else tuple(value)
    bad = [v for v in out if not isinstance(v, str)]
    if bad:
        raise TypeError(f"{name}= takes a string or strings, got {bad[0]!r}")
    return out


def _quote(value: str) -> str | None:
    """A go-bexpr string literal for ``value``: raw (backticks) unless it holds a backtick, then
    double-quoted if that needs no escape; None when neither can say it."""
    if "`" not in value:
        return f"`{value}`"
    if '"' not in value and "\\" not in value and "\n" not in value:
        return f'"{value}"'
    return None


def _any_of(selectors: Sequence[str], values: Sequence[str]) -> str | None:
    quoted = [_quote(v) for v in values]
    if None in quoted:
        return None   # left to the check on the objects that come back
    terms = [f"{sel} == {q}" for q in quoted for sel in selectors]
    return terms[0] if len(terms) == 1 else "(" + " or ".join(terms) + ")"


def _server_filter(filter: str | None, jobs: tuple[str, ...] | None, nodes: tuple[str, ...] | None,
                   statuses: tuple[str, ...] | None, allocs: tuple[str, ...] | None = None) -> str | None:
    """The ``?filter=`` expression: the caller's, ``and`` one term per given filter (allocation
    IDs only when all are whole IDs: short prefixes are matched on the frames)."""
    terms = [f"({filter})"] if filter else []
    whole = allocs if allocs and all(len(a) == 36 for a in allocs) else None
    for selectors, values in ((("JobID",), jobs), (("NodeID", "NodeName"), nodes), (("ClientStatus",), statuses),
                              (("ID",), whole)):
        term = _any_of(selectors, values) if values else None
        if term:
            terms.append(term)
    if not terms:
        return None
    if len(terms) == 1 and filter:
        return filter
    return " and ".join(terms)


def _bound(value: Any) -> int | None:
    ts = to_utc(value)
    return None if ts is None else int(ts.value)


# -- the pass over the wire dicts ---------------------------------------------------------------

# Fields read from every object. Nomad sends all of them (Go structs), so one C-level
# ``itemgetter`` per object reads them while the object is in cache; an object that lacks one
# (an older Nomad, a trimmed snapshot) sends the whole list down the ``dict.get`` path.
_ALLOC_KEYS = ("ID", "Namespace", "JobID", "JobType", "JobVersion", "TaskGroup", "Name", "NodeID",
               "NodeName", "EvalID", "DesiredStatus", "DesiredDescription", "ClientStatus",
               "ClientDescription", "NextAllocation", "FollowupEvalID", "RescheduleTracker",
               "DeploymentStatus", "CreateTime", "ModifyTime", "CreateIndex", "ModifyIndex",
               "TaskStates")
_STATE_KEYS = ("State", "Failed", "Restarts", "LastRestart", "StartedAt", "FinishedAt", "Events")
_EVENT_KEYS = ("Type", "Time", "ExitCode", "Details", "Signal", "Message", "DisplayMessage",
               "RestartReason", "FailsTask", "KillTimeout", "StartDelay", "DriverError", "SetupError")
_EVENT_KEYS_FOR_TASKS = _EVENT_KEYS[:4]   # what the tasks frame needs of the events

WIRE_FIELDS = Fields(records=True, fields={
    **dict.fromkeys(k for k in _ALLOC_KEYS if k not in ("TaskStates", "RescheduleTracker", "DeploymentStatus")),
    # read as dicts, with just what the frames read of them
    "RescheduleTracker": Fields({"Events": ListOf(Fields({"PrevAllocID": None}))}),
    "DeploymentStatus": Fields({"Healthy": None, "Canary": None}),
    "PreviousAllocation": None,
    "DeploymentID": None,
    "AllocatedResources": Fields(records=True, fields={
        "Tasks": MapOf(Fields(records=True, fields={
            "Cpu": Fields({"CpuShares": None}, records=True),
            "Memory": Fields({"MemoryMB": None, "MemoryMaxMB": None}, records=True),
        })),
        "Shared": Fields({"DiskMB": None}, records=True),
    }),
    "TaskStates": MapOf(Fields(records=True, fields={
        **dict.fromkeys(k for k in _STATE_KEYS if k != "Events"),
        "Events": ListOf(Fields(dict.fromkeys(_EVENT_KEYS), records=True)),
    })),
})
"""Every field the three frames read of an allocation (the events' ``Details`` whole). A
source may decode just these: the live source skips the rest of each object while parsing,
and builds allocations, task states, events and allocated resources as records (the frames
read dicts and records alike)."""


def _columns(objs: list[Any], keys: tuple[str, ...]) -> tuple[list[Any], ...]:
    """One list per key of the objects' values (None for a missing key or a non-dict object).

    The objects are dicts, or records (:class:`nomadlab._json.Record`, read by attribute) when
    the source decoded them so; a list holds one kind or the other. Each key is one C-level
    pass over the objects (a page's objects stay in cache): several times faster than getting
    every key of an object at once and transposing the rows.
    """
    if not objs:
        return tuple([] for _ in keys)
    first = objs[0]
    records = first.__class__ is not dict and is_record(first)
    if records:
        # Records of one type: each one's values as a tuple (msgspec, in C) and the tuples
        # transposed by zip, three times faster than a getattr per value. A None among them
        # (a null in the list) or another type takes the paths below.
        fields = first.__struct_fields__
        if all(k in fields for k in keys) and len(set(map(type, objs))) == 1:
            by_field = list(zip(*map(astuple, objs), strict=True))
            return tuple(list(by_field[fields.index(k)]) for k in keys)
    getter = attrgetter if records else itemgetter
    try:
        return tuple([list(map(getter(k), objs)) for k in keys])
    except (KeyError, TypeError, AttributeError):
        nones = (None,) * len(keys)
        rows = [tuple(map(o.get, keys)) if o.__class__ is dict
                else tuple(getattr(o, k, None) for k in keys) if is_record(o) else nones for o in objs]
    return tuple(map(list, zip(*rows, strict=True)))


def _field(objs: list[Any], key: str) -> list[Any]:
    """One optional field of each object (dicts or records; None where it is missing)."""
    if objs and objs[0].__class__ is not dict and is_record(objs[0]):
        try:
            return list(map(attrgetter(key), objs))
        except AttributeError:
            pass
    return [o.get(key) if o.__class__ is dict else getattr(o, key, None) for o in objs]


def _all_objects(objs: list[Any]) -> bool:
    """Whether every item is a dict or a record (one look per distinct class)."""
    return all(c is dict or issubclass(c, Record) for c in set(map(type, objs)))


def _opt(values: list[Any]) -> list[Any]:
    """Optional strings: Go's zero value "" (and any other falsy value) becomes None."""
    return [v or None for v in values]


def _opt_strings(values: list[Any]) -> Any:
    """:func:`_opt` for a ``string`` column: typed at once by pyarrow, "" made NA there,
    when the values are strings and Nones; else the list :func:`_opt` gives."""
    typed = _arrow_strings(values, empty_is_na=True)
    return _opt(values) if typed is None else typed


def _alloc_indexes(names: list[Any]) -> list[int | None]:
    """``3`` from each ``"job.group[3]"`` (None for a name without an index)."""
    return [int(d) if n.__class__ is str and n.endswith("]") and (i := n.rfind("[")) >= 0
            and (d := n[i + 1:-1]).isdecimal() else None for n in names]


def _in(values: list[Any], wanted: frozenset[str] | None) -> list[bool] | None:
    return None if wanted is None else [v in wanted for v in values]


def _take(values: list[Any], index: list[int] | None) -> list[Any]:
    return values if index is None else [values[i] for i in index]


def _collect(
    stubs: Sequence[Any],
    *,
    default_ns: str,
    want: tuple[bool, bool, bool],
    jobs: tuple[str, ...] | None,
    nodes: tuple[str, ...] | None,
    statuses: tuple[str, ...] | None,
    since: int | None,
    until: int | None,
    replaced: dict[str, str],
) -> tuple[dict[str, list[Any]] | None, dict[str, list[Any]] | None, dict[str, list[Any]] | None]:
    """Per-column lists of the three frames from the allocation stubs, in one pass over them.

    ``replaced`` maps each ``NextAllocation`` seen so far to the allocation it replaces; the
    pass adds this page's to it (for ``previous_alloc``, see :func:`_link_previous`).
    """
    want_allocs, want_tasks, want_events = want
    lo = _NS_MIN if since is None else since
    hi = _NS_MAX if until is None else until
    windowed = since is not None or until is not None

    objs = stubs if isinstance(stubs, list) else list(stubs)
    if not _all_objects(objs):
        objs = [a for a in objs if a.__class__ is dict or is_record(a)]
    cols = _columns(objs, _ALLOC_KEYS)
    (ids, nss, job_ids, job_types, job_versions, groups, names, node_ids, node_names, eval_ids,
     desired, desired_desc, client, client_desc, next_allocs, followups, trackers, dstatus,
     create_times, modify_times, create_indexes, modify_indexes, task_states) = cols

    # job / node / status, checked here too in case the source ignored ?filter=
    masks = [m for m in (_in(job_ids, None if jobs is None else frozenset(jobs)),
                         _in(client, None if statuses is None else frozenset(statuses))) if m is not None]
    if nodes is not None:
        wanted = frozenset(nodes)
        masks.append([a in wanted or b in wanted for a, b in zip(node_ids, node_names, strict=True)])
    if masks:
        keep = [i for i, ok in enumerate(map(all, zip(*masks, strict=True))) if ok]
        objs = [objs[i] for i in keep]
        cols = tuple([c[i] for i in keep] for c in cols)
        (ids, nss, job_ids, job_types, job_versions, groups, names, node_ids, node_names, eval_ids,
         desired, desired_desc, client, client_desc, next_allocs, followups, trackers, dstatus,
         create_times, modify_times, create_indexes, modify_indexes, task_states) = cols
    nss = [ns or default_ns for ns in nss]
    n_allocs = len(objs)
    # allocation rows in the [since, until) window of modify_time (all rows without a window)
    alloc_keep = ([i for i, t in enumerate(modify_times) if t.__class__ is int and lo <= t < hi]
                  if windowed else None)

    # One loop over the allocations for what needs their nested objects: allocated resources
    # (totals, and per task) and the flattened task states.
    a_cpu: list[Any] = [None] * n_allocs
    a_mem: list[Any] = [None] * n_allocs
    a_memmax: list[Any] = [None] * n_allocs
    a_ntasks: list[Any] = [None] * n_allocs
    a_disk: list[Any] = [None] * n_allocs
    a_prev: list[Any] = [None] * n_allocs      # PreviousAllocation (full allocations only)
    a_deploy: list[Any] = [None] * n_allocs    # DeploymentID (full allocations only)
    t_row: list[int] = []
    t_name: list[Any] = []
    t_obj: list[Any] = []
    t_cpu: list[Any] = []
    t_mem: list[Any] = []
    t_memmax: list[Any] = []
    tp_cpu, tp_mem, tp_memmax = t_cpu.append, t_mem.append, t_memmax.append
    if want_allocs:
        a_prev = _opt(_field(objs, "PreviousAllocation"))
        a_deploy = _opt(_field(objs, "DeploymentID"))
    # (The nested objects are dicts, or records from a projecting source: a dict is read
    # with get, anything else with getattr, which gives None for a non-object value.)
    for row, res in enumerate(_field(objs, "AllocatedResources")):
        if res is None or res.__class__ is not dict and not is_record(res):
            res = None
        elif want_allocs:
            shared = res.get("Shared") if res.__class__ is dict else res.Shared
            a_disk[row] = shared.get("DiskMB") if shared.__class__ is dict else getattr(shared, "DiskMB", None)
        res_tasks = None if res is None else res.get("Tasks") if res.__class__ is dict else res.Tasks
        if res_tasks.__class__ is not dict:
            res_tasks = None
        else:
            # each task's allocation once: per task (for the tasks frame) and summed
            per: dict[str, tuple[Any, Any, Any]] = {}
            cpu = mem = memmax = 0
            for name, r in res_tasks.items():
                if r.__class__ is dict:
                    c, m = r.get("Cpu"), r.get("Memory")
                elif is_record(r):
                    c, m = r.Cpu, r.Memory
                else:
                    continue
                v = c.get("CpuShares") if c.__class__ is dict else getattr(c, "CpuShares", None)
                if v.__class__ is int:
                    cpu += v
                if m.__class__ is dict:
                    v2, w = m.get("MemoryMB"), m.get("MemoryMaxMB")
                elif m is not None and is_record(m):
                    v2, w = m.MemoryMB, m.MemoryMaxMB
                else:
                    per[name] = (v, None, None)
                    continue
                cap: Any = w if w.__class__ is int and w > 0 else v2
                if v2.__class__ is int:
                    mem += v2
                    memmax += cap
                elif w.__class__ is int:
                    memmax += w
                per[name] = (v, v2, cap)
            a_cpu[row], a_mem[row], a_memmax[row] = cpu, mem, memmax
        states = task_states[row]
        if states.__class__ is not dict:
            if res_tasks is None:
                continue
            states = dict.fromkeys(res_tasks)    # allocated tasks without states: NA states
            task_states[row] = None
        a_ntasks[row] = len(states)
        if not states:
            continue
        t_row += [row] * len(states)
        t_name += states
        t_obj += states.values()
        if not want_tasks:
            continue
        if res_tasks is None:
            nones = [None] * len(states)
            t_cpu += nones
            t_mem += nones
            t_memmax += nones
            continue
        for name in states:
            v, v2, cap = per.get(name, _NO_RESOURCES)
            tp_cpu(v)
            tp_mem(v2)
            tp_memmax(cap)

    if want_tasks or want_events:
        (t_state, t_failed, t_restarts, t_last_restart, t_started, t_finished,
         t_events) = _columns(t_obj, _STATE_KEYS)
    else:   # the allocations alone need only the restarts
        t_restarts, t_events = _columns(t_obj, ("Restarts", "Events"))
        t_events = []
    n_tasks = len(t_obj)

    # flatten the events, task by task (oldest first, as the client keeps them)
    e_task: list[int] = []            # the task row of each event
    e_index: list[int] = []
    evs: list[Any] = []
    t_nevents: list[Any] = [0] * n_tasks
    t_last: list[int] = [-1] * n_tasks  # the flat index of each task's latest event
    ranges = [list(range(n)) for n in range(11)]  # the client keeps 10 events per task
    for ti, evl in enumerate(t_events):
        if evl.__class__ is not list or not evl:
            if evl is None and not (t_obj[ti].__class__ is dict or is_record(t_obj[ti])):
                t_nevents[ti] = None
            continue
        n = len(evl)
        e_task += [ti] * n
        e_index += ranges[n] if n <= 10 else range(n)
        evs += evl
        t_nevents[ti] = n
        t_last[ti] = len(evs) - 1
    if not _all_objects(evs):    # malformed events are left out
        good = [i for i, e in enumerate(evs) if e.__class__ is dict or is_record(e)]
        evs, e_task, e_index = [evs[i] for i in good], [e_task[i] for i in good], [e_index[i] for i in good]
        t_nevents = [None if c is None else 0 for c in t_nevents]
        t_last = [-1] * n_tasks
        for k, ti in enumerate(e_task):
            t_nevents[ti] += 1
            t_last[ti] = k

    e_cols = _columns(evs, _EVENT_KEYS if want_events else _EVENT_KEYS_FOR_TASKS)
    e_type, e_time, e_code, e_details = e_cols[:4]
    terminated = [i for i, t in enumerate(e_type) if t == "Terminated"]
    oom_of: dict[int, bool] = {}       # event index → Details.oom_killed, for Terminated events
    for i in terminated:
        d = e_details[i]
        flag = d.get("oom_killed") if d.__class__ is dict else None
        oom_of[i] = None if flag is None else flag == "true"  # type: ignore[assignment]

    # The key columns of tasks and events repeat their allocation's: typed once per allocation
    # (or task), then gathered with take.
    parents = ([TASKS.column(k).convert(v) for k, v in
                (("alloc_id", ids), ("namespace", nss), ("job_id", job_ids), ("task_group", groups),
                 ("node_id", node_ids))]
               if want_tasks or want_events else [])
    t_row_arr = np.asarray(t_row, dtype=np.intp)

    alloc_cols: dict[str, Any] | None = None
    task_cols: dict[str, Any] | None = None
    event_cols: dict[str, Any] | None = None
    if want_allocs:
        restarts: list[Any] = [None if s is None else 0 for s in task_states]
        for row, v in zip(t_row, t_restarts, strict=True):
            if v.__class__ is int and restarts[row] is not None:
                restarts[row] += v
        replaced.update((n, i) for n, i in zip(next_allocs, ids, strict=True) if n and n.__class__ is str)
        alloc_cols = _alloc_columns(
            alloc_keep, ids=ids, nss=nss, job_ids=job_ids, job_types=job_types,
            job_versions=job_versions, groups=groups, names=names, node_ids=node_ids,
            node_names=node_names, eval_ids=eval_ids, desired=desired, desired_desc=desired_desc,
            client=client, client_desc=client_desc, next_allocs=next_allocs, followups=followups,
            trackers=trackers, dstatus=dstatus, create_times=create_times, modify_times=modify_times,
            create_indexes=create_indexes, modify_indexes=modify_indexes, cpu=a_cpu, mem=a_mem,
            memmax=a_memmax, ntasks=a_ntasks, restarts=restarts, disk=a_disk, prev_field=a_prev,
            deploy=a_deploy)
    if want_tasks:
        t_oom: list[Any] = [False if c is not None else None for c in t_nevents]
        t_exit: list[Any] = [None] * n_tasks
        for i in terminated:                    # in order, so the latest Terminated wins
            ti = e_task[i]
            t_exit[ti] = e_code[i]
            if oom_of[i]:
                t_oom[ti] = True
        task_keep = None
        if alloc_keep is not None:
            in_window = [False] * n_allocs
            for row in alloc_keep:
                in_window[row] = True
            task_keep = [ti for ti, row in enumerate(t_row) if in_window[row]]
        rows = t_row_arr if task_keep is None else t_row_arr[np.asarray(task_keep, dtype=np.intp)]
        t_alloc, t_ns, t_job, t_group, t_node = (p.take(rows) for p in parents)
        task_cols = {
            "alloc_id": t_alloc,
            "namespace": t_ns,
            "job_id": t_job,
            "task_group": t_group,
            "node_id": t_node,
            "task": t_name,
            "state": t_state,
            "failed": t_failed,
            "restarts": t_restarts,
            "last_restart": t_last_restart,
            "started_at": t_started,
            "finished_at": t_finished,
            "events": t_nevents,
            "last_event_type": [e_type[i] if i >= 0 else None for i in t_last],
            "last_event_time": [e_time[i] if i >= 0 else None for i in t_last],
            "oom_killed": t_oom,
            "exit_code": t_exit,
            "cpu_mhz": t_cpu,
            "memory_mb": t_mem,
            "memory_max_mb": t_memmax,
        }
        if task_keep is not None:
            for key in ("task", "state", "failed", "restarts", "last_restart", "started_at",
                        "finished_at", "events", "last_event_type", "last_event_time",
                        "oom_killed", "exit_code", "cpu_mhz", "memory_mb", "memory_max_mb"):
                task_cols[key] = _take(task_cols[key], task_keep)
    if want_events:
        (_, _, _, _, e_signal, e_message, e_display, e_reason, e_fails, e_kill, e_delay,
         e_driver, e_setup) = e_cols
        oom: list[Any] = [False] * len(evs)
        is_term = [False] * len(evs)
        for i in terminated:
            is_term[i] = True
            oom[i] = oom_of[i]
        display = _opt(e_display)
        e_task_arr = np.asarray(e_task, dtype=np.intp)
        rows = t_row_arr[e_task_arr]
        e_alloc, e_ns, e_job, e_group, e_node = (p.take(rows) for p in parents)
        event_cols = {
            "alloc_id": e_alloc,
            "namespace": e_ns,
            "job_id": e_job,
            "task_group": e_group,
            "node_id": e_node,
            "task": TASK_EVENTS.column("task").convert(t_name).take(e_task_arr),
            "event_index": np.asarray(e_index, dtype=np.int64),
            "time": e_time,
            "type": e_type,
            "message": [m or d for m, d in zip(e_message, display, strict=True)],
            "display_message": display,
            "exit_code": [c if (t or c) else None for c, t in zip(e_code, is_term, strict=True)],
            "signal": [s if (t or s) else None for s, t in zip(e_signal, is_term, strict=True)],
            "oom_killed": oom,
            "restart_reason": _opt_strings(e_reason),
            "fails_task": e_fails,
            "kill_timeout": _opt(e_kill),
            "start_delay": _opt(e_delay),
            "driver_error": _opt_strings(e_driver),
            "setup_error": _opt_strings(e_setup),
            "details": e_details,
        }
        if windowed:
            event_keep = [i for i, t in enumerate(e_time) if t.__class__ is int and lo <= t < hi]
            keep_arr = np.asarray(event_keep, dtype=np.intp)
            event_cols = {k: v[keep_arr] if not isinstance(v, list) else _take(v, event_keep)
                          for k, v in event_cols.items()}
    return alloc_cols, task_cols, event_cols




def _alloc_columns(keep: list[int] | None, **c: list[Any]) -> dict[str, list[Any]]:
    """The allocations frame's columns (rows ``keep`` of them, all without a window)."""
    # previous_alloc is settled once every page is in (_link_previous): here, what the object
    # itself says, and the last reschedule event's PrevAllocID to fall back on.
    if keep is not None:
        c = {k: [v[i] for i in keep] for k, v in c.items()}
    tracker_events = [t.get("Events") if t.__class__ is dict else None for t in c["trackers"]]
    tracker_events = [e if e.__class__ is list else None for e in tracker_events]
    tracker_prev = [(evs[-1].get("PrevAllocID") if evs[-1].__class__ is dict else None) if evs else None
                    for evs in tracker_events]
    prev = c["prev_field"]
    dstatus = [d if d.__class__ is dict else None for d in c["dstatus"]]
    return {
        "alloc_id": c["ids"],
        "namespace": c["nss"],
        "job_id": c["job_ids"],
        "job_type": _opt(c["job_types"]),
        "job_version": c["job_versions"],
        "task_group": c["groups"],
        "name": c["names"],
        "alloc_index": _alloc_indexes(c["names"]),
        "node_id": c["node_ids"],
        "node_name": _opt_strings(c["node_names"]),
        "eval_id": _opt_strings(c["eval_ids"]),
        "deployment_id": c["deploy"],
        "desired_status": _opt(c["desired"]),
        "desired_description": _opt_strings(c["desired_desc"]),
        "client_status": _opt(c["client"]),
        "client_description": _opt_strings(c["client_desc"]),
        "cpu_mhz": c["cpu"],
        "memory_mb": c["mem"],
        "memory_max_mb": c["memmax"],
        "disk_mb": c["disk"],
        "previous_alloc": prev,
        "_tracker_prev": tracker_prev,
        "next_alloc": _opt_strings(c["next_allocs"]),
        "followup_eval_id": _opt_strings(c["followups"]),
        "reschedule_attempts": [0 if e is None else len(e) for e in tracker_events],
        "deployment_healthy": [None if d is None else d.get("Healthy") for d in dstatus],
        "deployment_canary": [None if d is None else d.get("Canary") for d in dstatus],
        "create_time": c["create_times"],
        "modify_time": c["modify_times"],
        "create_index": c["create_indexes"],
        "modify_index": c["modify_indexes"],
        "tasks": c["ntasks"],
        "restarts": c["restarts"],
    }


# -- fetchers -----------------------------------------------------------------------------------

_Frames = tuple[pd.DataFrame | None, pd.DataFrame | None, pd.DataFrame | None]
# pandas 3 copies on write: a shallow copy is a frame of its own for whoever changes it
_COPY_DEEP = int(pd.__version__.split(".")[0]) < 3


def _frames(source: Any, *, namespace: str, job: str | Iterable[str] | None, node: str | Iterable[str] | None,
            alloc: str | Iterable[str] | None, status: str | Iterable[str] | None, since: Any, until: Any,
            filter: str | None, want: tuple[bool, bool, bool]) -> _Frames:
    jobs, nodes, statuses = _values("job", job), _values("node", node), _values("status", status)
    allocs = _values("alloc", alloc)
    unknown = [s for s in statuses or () if s not in CLIENT_STATUSES]
    if unknown:
        raise ValueError(f"status={unknown[0]!r} is not a client status; use one of {', '.join(CLIENT_STATUSES)}")
    lo, hi = _bound(since), _bound(until)
    src = source_of(source)
    memo = getattr(src, "memo", None)
    if not callable(memo):
        return _build(src, namespace=namespace, jobs=jobs, nodes=nodes, allocs=allocs, statuses=statuses,
                      lo=lo, hi=hi, filter=filter, want=want)
    # A source that keeps what is built from it (CachedSource): the three frames are built
    # once, together, and each fetcher hands out a copy of its own.
    key = ("allocation_frames", namespace, jobs, nodes, allocs, statuses, lo, hi, filter)
    built: _Frames = memo(key, lambda kept: _build(kept, namespace=namespace, jobs=jobs, nodes=nodes,
                                                   allocs=allocs, statuses=statuses, lo=lo, hi=hi,
                                                   filter=filter, want=(True, True, True)))
    a, t, e = (f.copy(deep=_COPY_DEEP) if w and f is not None else None for f, w in zip(built, want, strict=True))
    return a, t, e


def _build(src: Any, *, namespace: str, jobs: tuple[str, ...] | None, nodes: tuple[str, ...] | None,
           allocs: tuple[str, ...] | None, statuses: tuple[str, ...] | None, lo: int | None, hi: int | None,
           filter: str | None, want: tuple[bool, bool, bool]) -> _Frames:
    pages = iter_pages(src, "allocations", namespace=namespace,
                       filter=_server_filter(filter, jobs, nodes, statuses, allocs), fields=WIRE_FIELDS)
    default_ns = namespace if namespace != "*" else "default"
    schemas = (ALLOCATIONS, TASKS, TASK_EVENTS)
    built: tuple[list[dict[str, Any]], list[dict[str, Any]], list[dict[str, Any]]] = ([], [], [])
    replaced: dict[str, str] = {}
    tracker_prev: list[Any] = []
    # Page by page: each page's columns are typed while the source brings the next, and the
    # frames are made once, from the typed pieces. A page is dropped as soon as its columns
    # are typed (strings are copied into Arrow buffers, so nothing of it stays alive): the peak
    # is one or two decoded pages and the typed pieces, not the whole decoded list. Pausing
    # the cyclic collector keeps its scans of the decoded objects out of the build.
    with gc_paused(), closing(pages):
        for stubs in pages:
            cols = _collect(stubs, default_ns=default_ns, want=want, jobs=jobs, nodes=nodes,
                            statuses=statuses, since=lo, until=hi, replaced=replaced)
            del stubs
            for schema, c, out in zip(schemas, cols, built, strict=True):
                if c is not None:
                    if schema is ALLOCATIONS:
                        tracker_prev += c.pop("_tracker_prev")
                    out.append(schema.arrays(c))
            del cols
        a, t, e = (s.join(parts) if w else None for s, parts, w in zip(schemas, built, want, strict=True))
    if a is not None:
        _link_previous(a, replaced, tracker_prev)
    if allocs is not None:
        a, t, e = (None if f is None else _only_allocs(f, allocs) for f in (a, t, e))
    return a, t, e


def _only_allocs(frame: pd.DataFrame, allocs: tuple[str, ...]) -> pd.DataFrame:
    """Rows of the allocations whose ID is, or starts with, one of ``allocs`` (short IDs work)."""
    ids = frame["alloc_id"].astype("string")
    keep = pd.Series(False, index=frame.index)
    for prefix in allocs:
        keep |= ids.str.startswith(prefix).fillna(False).astype(bool)
    out = frame.loc[keep].reset_index(drop=True)
    out.attrs = dict(frame.attrs)
    return out


def _link_previous(frame: pd.DataFrame, replaced: dict[str, str], tracker_prev: list[Any]) -> None:
    """Settle ``previous_alloc``: what the allocation says (``PreviousAllocation``, full
    allocations only), else the allocation whose ``NextAllocation`` names it (Nomad sets that
    whenever a replacement names its predecessor: reschedule, migration, destructive update;
    ``replaced`` holds them from every page), else the ``PrevAllocID`` of its last reschedule
    event (``tracker_prev``, row by row)."""
    prevs = frame["previous_alloc"].tolist()
    if all(p.__class__ is str for p in prevs):
        return
    settled = [p if p.__class__ is str else
               (replaced.get(i) if i.__class__ is str else None) or t or None
               for p, i, t in zip(prevs, frame["alloc_id"].tolist(), tracker_prev, strict=True)]
    frame["previous_alloc"] = ALLOCATIONS.column("previous_alloc").convert(settled)


_FILTERS_DOC = """
    source
        A :class:`~nomadlab.sources.Source`, a :class:`~nomadlab.client.NomadClient`, or
        ``None`` to connect from ``NOMAD_*`` variables.
    namespace
        A namespace, or ``"*"`` for all.
    job
        Job ID(s) to keep.
    node
        Node ID(s) or node name(s) to keep.
    alloc
        Allocation ID(s) to keep, whole or as the short prefixes the CLI shows (``"8d2c"``).
    status
        Client status(es) to keep (``"failed"``, ``["lost", "failed"]``, ...).
    since, until
        Keep ``[since, until)``: on the allocation's ``modify_time`` for ``allocations`` and
        ``tasks``, on the event ``time`` for ``task_events``. Anything ``pd.Timestamp``
        accepts; naive values are UTC.
    filter
        A Nomad filter expression, evaluated by the server on the full allocation; ``job``,
        ``node`` and ``status`` are added to it with ``and``."""


def allocations(
    source: Any = None,
    *,
    namespace: str = "*",
    job: str | Iterable[str] | None = None,
    node: str | Iterable[str] | None = None,
    alloc: str | Iterable[str] | None = None,
    status: str | Iterable[str] | None = None,
    since: Any = None,
    until: Any = None,
    filter: str | None = None,
) -> pd.DataFrame:
    """Every allocation, one row each, with what it was allocated and task roll-ups.

    Endpoint: ``GET /v1/allocations?resources=true&task_states=true`` (all pages). Schema:
    :data:`ALLOCATIONS` (``docs/frames.md``).

    Parameters
    ----------{filters}

    Returns
    -------
    pandas.DataFrame
        One row per allocation, in the order Nomad lists them (by create index).

    Examples
    --------
    >>> from nomadlab.sim import SimCluster
    >>> from nomadlab.client import NomadClient
    >>> df = allocations(NomadClient(transport=SimCluster.default().transport()))
    >>> df.groupby("job_id", observed=True)["cpu_mhz"].sum().loc["web"] > 0
    np.True_
    """
    return _frames(source, namespace=namespace, job=job, node=node, alloc=alloc, status=status, since=since,
                   until=until, filter=filter, want=(True, False, False))[0]


def tasks(
    source: Any = None,
    *,
    namespace: str = "*",
    job: str | Iterable[str] | None = None,
    node: str | Iterable[str] | None = None,
    alloc: str | Iterable[str] | None = None,
    status: str | Iterable[str] | None = None,
    since: Any = None,
    until: Any = None,
    filter: str | None = None,
) -> pd.DataFrame:
    """Every task of every allocation: state, restarts, start/finish, last event, OOM kills.

    Endpoint: ``GET /v1/allocations?resources=true&task_states=true`` (all pages). Schema:
    :data:`TASKS` (``docs/frames.md``). An allocation listed without task states (an older
    Nomad, ``task_states=false``) gives one row per allocated task with the state columns NA.

    Parameters
    ----------{filters}

    Returns
    -------
    pandas.DataFrame
        One row per allocation × task.

    Examples
    --------
    >>> from nomadlab.sim.scenarios import build_scenario
    >>> from nomadlab.client import NomadClient
    >>> df = tasks(NomadClient(transport=build_scenario("demo", seed=0).transport()))
    >>> bool(df["oom_killed"].any()), int(df["restarts"].sum()) > 0
    (True, True)
    """
    return _frames(source, namespace=namespace, job=job, node=node, alloc=alloc, status=status, since=since,
                   until=until, filter=filter, want=(False, True, False))[1]


def task_events(
    source: Any = None,
    *,
    namespace: str = "*",
    job: str | Iterable[str] | None = None,
    node: str | Iterable[str] | None = None,
    alloc: str | Iterable[str] | None = None,
    status: str | Iterable[str] | None = None,
    since: Any = None,
    until: Any = None,
    filter: str | None = None,
) -> pd.DataFrame:
    """Every task event the clients kept (the last 10 per task), one row each.

    Endpoint: ``GET /v1/allocations?resources=true&task_states=true`` (all pages). Schema:
    :data:`TASK_EVENTS` (``docs/frames.md``). ``details`` holds the event's ``Details`` dict
    as sent (shared with the wire objects: copy before changing it).

    Parameters
    ----------{filters}

    Returns
    -------
    pandas.DataFrame
        One row per task event, grouped by allocation and task, oldest first within a task.

    Examples
    --------
    >>> from nomadlab.sim.scenarios import build_scenario
    >>> from nomadlab.client import NomadClient
    >>> ev = task_events(NomadClient(transport=build_scenario("demo", seed=0).transport()))
    >>> ev.loc[ev["oom_killed"].fillna(False), "exit_code"].unique().tolist()
    [137]
    """
    return _frames(source, namespace=namespace, job=job, node=node, alloc=alloc, status=status, since=since,
                   until=until, filter=filter, want=(False, False, True))[2]


def allocation_frames(
    source: Any = None,
    *,
    namespace: str = "*",
    job: str | Iterable[str] | None = None,
    node: str | Iterable[str] | None = None,
    alloc: str | Iterable[str] | None = None,
    status: str | Iterable[str] | None = None,
    since: Any = None,
    until: Any = None,
    filter: str | None = None,
) -> AllocationFrames:
    """``allocations``, ``tasks`` and ``task_events`` from one fetch, in one pass.

    Endpoint: ``GET /v1/allocations?resources=true&task_states=true`` (all pages), once.
    Schemas: :data:`ALLOCATIONS`, :data:`TASKS`, :data:`TASK_EVENTS`. Each frame equals what
    its own fetcher returns with the same arguments.

    Parameters
    ----------{filters}

    Returns
    -------
    AllocationFrames
        A named tuple ``(allocations, tasks, task_events)``.

    Examples
    --------
    >>> from nomadlab.sim import SimCluster
    >>> from nomadlab.client import NomadClient
    >>> frames = allocation_frames(NomadClient(transport=SimCluster.default().transport()))
    >>> len(frames.tasks) >= len(frames.allocations) > 0
    True
    """
    a, t, e = _frames(source, namespace=namespace, job=job, node=node, alloc=alloc, status=status, since=since,
                      until=until, filter=filter, want=(True, True, True))
    return AllocationFrames(a, t, e)


for _f in (allocations, tasks, task_events, allocation_frames):
    _f.__doc__ = (_f.__doc__ or "").replace("{filters}", _FILTERS_DOC)
del _f
