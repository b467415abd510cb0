"""The ``evaluations`` and ``placement_failures`` frames.

``placement_failures`` answers "why did placement fail": every evaluation's ``FailedTGAllocs``
(Nomad's ``AllocMetric`` per task group that could not be placed) exploded to one row per
reason, e.g. ``kind="dimension", reason="memory", count=4`` (four nodes ran out of memory).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import pandas as pd

from ._common import readable, source_of, wanted, within
from ._values import as_str
from .schema import Column, Schema, register

__all__ = [
    "EVALUATIONS", "PLACEMENT_FAILURES", "EVAL_STATUSES", "EVAL_TRIGGERS", "FAILURE_KINDS",
    "evaluations", "placement_failures",
]

EVAL_STATUSES: tuple[str, ...] = ("blocked", "pending", "complete", "failed", "canceled")
"""Nomad's evaluation statuses (``nomad/structs/eval.go``; ``canceled`` with one l)."""
EVAL_TRIGGERS: tuple[str, ...] = (
    "job-register", "job-deregister", "periodic-job", "node-drain", "node-update", "alloc-stop",
    "scheduled", "rolling-update", "deployment-watcher", "failed-follow-up", "max-plan-attempts",
    "alloc-failure", "queued-allocs", "preemption", "job-scaling", "max-disconnect-timeout",
    "reconnect", "alloc-reschedule",
)
"""Nomad's ``TriggeredBy`` values (``nomad/structs/eval.go``)."""
EVAL_TYPES: tuple[str, ...] = ("service", "batch", "system", "sysbatch", "_core")
"""Scheduler types: the job types, plus ``_core`` for Nomad's garbage-collection evaluations."""
FAILURE_KINDS: tuple[str, ...] = ("dimension", "constraint", "class_exhausted", "class_filtered", "quota")
# AllocMetric field → kind, in the order rows are emitted for a group.
_REASONS: tuple[tuple[str, str], ...] = (
    ("DimensionExhausted", "dimension"),
    ("ConstraintFiltered", "constraint"),
    ("ClassExhausted", "class_exhausted"),
    ("ClassFiltered", "class_filtered"),
    ("QuotaExhausted", "quota"),
)

EVALUATIONS = register(Schema(
    name="evaluations",
    grain="one row per evaluation",
    endpoint="GET /v1/evaluations",
    keys=("eval_id",),
    description=(
        "Scheduler evaluations: what triggered them, their outcome, the chain of follow-up and "
        "blocked evaluations, and how many allocations stayed queued. The reasons behind failed "
        "placements are in `placement_failures` (join on `eval_id`)."
    ),
    columns=(
        Column("eval_id", "string", "Evaluation ID."),
        Column("namespace", "string", "Namespace."),
        Column("job_id", "string", "Job evaluated."),
        Column("type", "category", "Scheduler type (the job type, or `_core`).", categories=EVAL_TYPES),
        Column("triggered_by", "category", "What created the evaluation.", categories=EVAL_TRIGGERS),
        Column("status", "category", "Evaluation status.", categories=EVAL_STATUSES),
        Column("status_description", "string", "Why the evaluation is in its status; NA when empty."),
        Column("priority", "Int64", "Evaluation priority (the job's, unless overridden)."),
        Column("node_id", "string", "Node whose change triggered it (node-update, node-drain); NA otherwise."),
        Column("deployment_id", "string", "Deployment that triggered it; NA otherwise."),
        Column("previous_eval", "string", "The evaluation this one follows up; NA otherwise."),
        Column("next_eval", "string", "The follow-up evaluation (rolling update, delayed reschedule)."),
        Column("blocked_eval", "string", "The blocked evaluation created for allocations that did not fit."),
        Column("wait", "duration", "Delay before the evaluation may run."),
        Column("wait_until", "time", "Time before which the evaluation may not run.", source="rfc3339"),
        Column("queued_allocations", "Int64", "Allocations left unplaced, summed over task groups."),
        Column("failed_task_groups", "Int64", "Task groups with failed placements (`FailedTGAllocs`)."),
        Column("job_modify_index", "Int64", "The job's modify index when the evaluation was created."),
        Column("create_time", "time", "When the evaluation was created.", source="ns"),
        Column("modify_time", "time", "When the evaluation last changed.", source="ns"),
        Column("create_index", "Int64", "Raft index at creation."),
        Column("modify_index", "Int64", "Raft index of the last change."),
    ),
))

PLACEMENT_FAILURES = register(Schema(
    name="placement_failures",
    grain="one row per evaluation × task group × reason (a group without reasons gives one row, kind NA)",
    endpoint="GET /v1/evaluations (FailedTGAllocs)",
    keys=("eval_id", "task_group", "kind", "reason"),
    description=(
        "Why allocations could not be placed. `kind` says which filter of the scheduler a node "
        "failed: `dimension` (a resource ran out: `reason` is `cpu`, `memory`, `disk`, ...), "
        "`constraint` (the constraint text), `class_exhausted` / `class_filtered` (the node "
        "class), `quota` (the quota limit, Enterprise); `count` is the number of nodes. Group "
        "columns repeat on each reason row."
    ),
    columns=(
        Column("eval_id", "string", "Evaluation ID."),
        Column("namespace", "string", "Namespace."),
        Column("job_id", "string", "Job ID."),
        Column("task_group", "string", "Task group that could not be placed."),
        Column("kind", "category", "Which check the nodes failed.", categories=FAILURE_KINDS),
        Column("reason", "string", "The resource, constraint, node class or quota limit."),
        Column("count", "Int64", "Nodes that failed for this reason (NA for quota reasons)."),
        Column("nodes_evaluated", "Int64", "Nodes the scheduler looked at."),
        Column("nodes_filtered", "Int64", "Nodes removed by constraints, drivers or class."),
        Column("nodes_exhausted", "Int64", "Nodes that matched but had no room."),
        Column("nodes_in_pool", "Int64", "Nodes in the job's node pool."),
        Column("nodes_available", "Int64", "Ready nodes in the job's datacenters (summed over datacenters)."),
        Column("coalesced_failures", "Int64", "Further identical failures folded into this one."),
        Column("create_time", "time", "When the evaluation was created.", source="ns"),
    ),
))



def _total(mapping: Any) -> int | None:
    """A map of counts summed (None when it is missing)."""
    if not isinstance(mapping, Mapping):
        return None
    return sum(v for v in mapping.values() if isinstance(v, int))


def _failed_groups(evaluation: Mapping[str, Any]) -> int | None:
    """Task groups in ``FailedTGAllocs`` (null means none; a missing key means unknown)."""
    if "FailedTGAllocs" not in evaluation:
        return None
    failed = evaluation["FailedTGAllocs"]
    return len(failed) if isinstance(failed, Mapping) else 0


def _reasons(metric: Mapping[str, Any]) -> list[tuple[str | None, str | None, int | None]]:
    """(kind, reason, nodes) for every reason of an AllocMetric; one empty row when none."""
    out: list[tuple[str | None, str | None, int | None]] = []
    for field, kind in _REASONS:
        value = metric.get(field)
        if isinstance(value, Mapping):
            out.extend((kind, str(reason), n if isinstance(n, int) else None) for reason, n in value.items())
        elif isinstance(value, list):  # QuotaExhausted is a list of limit descriptions
            out.extend((kind, str(reason), None) for reason in value)
    return out or [(None, None, None)]


def _select(rows: list[dict[str, Any]], job: str | Iterable[str] | None,
            status: str | Iterable[str] | None) -> list[dict[str, Any]]:
    jobs_, statuses = wanted(job), wanted(status)
    if jobs_ is None and statuses is None:
        return rows
    return [e for e in rows if (jobs_ is None or as_str(e.get("JobID")) in jobs_)
            and (statuses is None or as_str(e.get("Status")) in statuses)]


def evaluations(
    source: Any = None,
    *,
    namespace: str = "*",
    job: str | Iterable[str] | None = None,
    status: str | Iterable[str] | None = None,
    since: Any = None,
    until: Any = None,
    filter: str | None = None,
) -> pd.DataFrame:
    """Every evaluation, one row each.

    Endpoint: ``GET /v1/evaluations`` (all pages). Schema: :data:`EVALUATIONS`
    (``docs/frames.md``). ``job`` and ``status`` are applied here (Nomad refuses its own
    ``job``/``status`` parameters beside ``filter``); ``filter`` runs on the server.

    Parameters
    ----------
    source
        A :class:`~nomadlab.sources.Source`, a :class:`~nomadlab.client.NomadClient`, or
        ``None`` to connect from ``NOMAD_*`` variables.
    namespace
        A namespace, or ``"*"`` for all.
    job, status
        Keep only evaluations of this job / in this status (one value or several).
    since, until
        Keep evaluations created in ``[since, until)`` (anything ``pd.Timestamp`` reads; naive
        means UTC).
    filter
        A Nomad filter expression, evaluated by the server.

    Examples
    --------
    >>> from nomadlab.sim import SimCluster
    >>> from nomadlab.client import NomadClient
    >>> df = evaluations(NomadClient(transport=SimCluster.default().transport()), job="ml-training")
    >>> df[["job_id", "status", "queued_allocations", "failed_task_groups"]].to_dict("records")[0]
    {'job_id': 'ml-training', 'status': 'complete', 'queued_allocations': 1, 'failed_task_groups': 1}
    """
    listed, errors = readable(source_of(source).list("evaluations", namespace=namespace, filter=filter),
                              "evaluations")
    rows = _select(listed, job, status)
    frame = EVALUATIONS.build({
        "eval_id": [e.get("ID") for e in rows],
        "namespace": [e.get("Namespace") or (namespace if namespace != "*" else "default") for e in rows],
        "job_id": [e.get("JobID") or None for e in rows],
        "type": [e.get("Type") for e in rows],
        "triggered_by": [e.get("TriggeredBy") for e in rows],
        "status": [e.get("Status") for e in rows],
        "status_description": [e.get("StatusDescription") or None for e in rows],
        "priority": [e.get("Priority") for e in rows],
        "node_id": [e.get("NodeID") or None for e in rows],
        "deployment_id": [e.get("DeploymentID") or None for e in rows],
        "previous_eval": [e.get("PreviousEval") or None for e in rows],
        "next_eval": [e.get("NextEval") or None for e in rows],
        "blocked_eval": [e.get("BlockedEval") or None for e in rows],
        "wait": [e.get("Wait") for e in rows],
        "wait_until": [e.get("WaitUntil") for e in rows],
        "queued_allocations": [_total(e.get("QueuedAllocations")) for e in rows],
        "failed_task_groups": [_failed_groups(e) for e in rows],
        "job_modify_index": [e.get("JobModifyIndex") for e in rows],
        "create_time": [e.get("CreateTime") for e in rows],
        "modify_time": [e.get("ModifyTime") for e in rows],
        "create_index": [e.get("CreateIndex") for e in rows],
        "modify_index": [e.get("ModifyIndex") for e in rows],
    })
    frame = within(frame, "create_time", since, until)
    frame.attrs["errors"] = errors
    return frame


def placement_failures(
    source: Any = None,
    *,
    namespace: str = "*",
    job: str | Iterable[str] | None = None,
) -> pd.DataFrame:
    """Why placements failed: every evaluation's failed task groups, one row per reason.

    Endpoint: ``GET /v1/evaluations`` (all pages; ``FailedTGAllocs`` of each evaluation).
    Schema: :data:`PLACEMENT_FAILURES` (``docs/frames.md``). Join to ``evaluations`` on
    ``eval_id`` for the status and trigger; a blocked evaluation waiting for capacity carries
    the latest failure of its job.

    Parameters
    ----------
    source
        A source, a client, or ``None`` (``NOMAD_*`` variables).
    namespace
        A namespace, or ``"*"`` for all.
    job
        Only evaluations of this job ID (or these IDs).

    Examples
    --------
    >>> from nomadlab.sim import SimCluster
    >>> from nomadlab.client import NomadClient
    >>> df = placement_failures(NomadClient(transport=SimCluster.default().transport()), job="ml-training")
    >>> df[["task_group", "kind", "reason", "count"]].head(2).to_dict("records")  # doctest: +NORMALIZE_WHITESPACE
    [{'task_group': 'trainer', 'kind': 'dimension', 'reason': 'memory', 'count': 4},
     {'task_group': 'trainer', 'kind': 'dimension', 'reason': 'cpu', 'count': 1}]
    """
    listed, errors = readable(source_of(source).list("evaluations", namespace=namespace), "evaluations")
    evals = _select(listed, job, None)
    groups = [(e, str(name), m)
              for e in evals if isinstance(e.get("FailedTGAllocs"), Mapping)
              for name, m in e["FailedTGAllocs"].items() if isinstance(m, Mapping)]
    rows = [(e, name, m, reason) for e, name, m in groups for reason in _reasons(m)]
    frame = PLACEMENT_FAILURES.build({
        "eval_id": [e.get("ID") for e, _, _, _ in rows],
        "namespace": [e.get("Namespace") or (namespace if namespace != "*" else "default") for e, _, _, _ in rows],
        "job_id": [e.get("JobID") or None for e, _, _, _ in rows],
        "task_group": [name for _, name, _, _ in rows],
        "kind": [r[0] for _, _, _, r in rows],
        "reason": [r[1] for _, _, _, r in rows],
        "count": [r[2] for _, _, _, r in rows],
        "nodes_evaluated": [m.get("NodesEvaluated") for _, _, m, _ in rows],
        "nodes_filtered": [m.get("NodesFiltered") for _, _, m, _ in rows],
        "nodes_exhausted": [m.get("NodesExhausted") for _, _, m, _ in rows],
        "nodes_in_pool": [m.get("NodesInPool") for _, _, m, _ in rows],
        "nodes_available": [_total(m.get("NodesAvailable")) for _, _, m, _ in rows],
        "coalesced_failures": [m.get("CoalescedFailures") for _, _, m, _ in rows],
        "create_time": [e.get("CreateTime") for e, _, _, _ in rows],
    })
    frame.attrs["errors"] = errors
    return frame
