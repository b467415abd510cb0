"""The ``deployments`` frame."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import pandas as pd

from ._common import get, readable, source_of, wanted
from ._values import as_str
from .schema import Column, Schema, register

__all__ = ["DEPLOYMENTS", "DEPLOYMENT_STATUSES", "deployments"]

DEPLOYMENT_STATUSES: tuple[str, ...] = (
    "running", "paused", "failed", "successful", "cancelled", "initializing", "pending", "blocked",
    "unblocking",
)
"""Nomad's deployment statuses (``nomad/structs/deployment.go``; ``cancelled`` with two l's)."""

DEPLOYMENTS = register(Schema(
    name="deployments",
    grain="one row per deployment × task group (a deployment without groups gives one row, task_group NA)",
    endpoint="GET /v1/deployments",
    keys=("deployment_id", "task_group"),
    description=(
        "Deployments with the state of each task group: desired, placed, healthy and unhealthy "
        "allocations, canaries, promotion, auto-revert and the progress deadline. Deployment "
        "columns repeat on each group row."
    ),
    columns=(
        Column("deployment_id", "string", "Deployment ID."),
        Column("namespace", "string", "Namespace."),
        Column("job_id", "string", "Job ID."),
        Column("job_version", "Int64", "Job version the deployment rolls out."),
        Column("status", "category", "Deployment status.", categories=DEPLOYMENT_STATUSES),
        Column("status_description", "string", "Why the deployment is in its status "
               "(`Failed due to unhealthy allocations - rolling back to job version 1`, ...)."),
        Column("task_group", "string", "Task group; NA for a deployment without groups."),
        Column("desired_total", "Int64", "Allocations the group should end with."),
        Column("desired_canaries", "Int64", "Canaries the group should place."),
        Column("placed_allocs", "Int64", "Allocations placed so far."),
        Column("healthy_allocs", "Int64", "Placed allocations that turned healthy."),
        Column("unhealthy_allocs", "Int64", "Placed allocations that turned unhealthy."),
        Column("placed_canaries", "Int64", "Canary allocations placed (the count of `PlacedCanaries`)."),
        Column("auto_revert", "boolean", "Whether a failure reverts the job to its last stable version."),
        Column("auto_promote", "boolean", "Whether healthy canaries are promoted automatically."),
        Column("promoted", "boolean", "Whether the group's canaries were promoted."),
        Column("progress_deadline", "duration", "How long an allocation may take to turn healthy."),
        Column("require_progress_by", "time", "When the group must next make progress.", source="rfc3339"),
        Column("eval_priority", "Int64", "Priority of the evaluations the deployment creates."),
        Column("create_time", "time", "When the deployment was created (Nomad 1.6+).", source="ns"),
        Column("modify_time", "time", "When the deployment last changed (Nomad 1.6+).", source="ns"),
        Column("create_index", "Int64", "Raft index at creation."),
        Column("modify_index", "Int64", "Raft index of the last change."),
    ),
))



def _canaries(group: Mapping[str, Any]) -> int | None:
    """Placed canaries from their ID list (Nomad sends null for none; older Nomads omit the key)."""
    if "PlacedCanaries" not in group:
        return None
    value = group["PlacedCanaries"]
    return 0 if value is None else len(value) if isinstance(value, list) else None


def deployments(
    source: Any = None,
    *,
    namespace: str = "*",
    job: str | Iterable[str] | None = None,
    status: str | Iterable[str] | None = None,
) -> pd.DataFrame:
    """Every deployment, one row per task group it rolls out.

    Endpoint: ``GET /v1/deployments`` (all pages). Schema: :data:`DEPLOYMENTS`
    (``docs/frames.md``). Join to ``jobs`` on ``(namespace, job_id)`` and to ``allocations``
    on ``deployment_id``.

    Parameters
    ----------
    source
        A :class:`~nomadlab.sources.Source`, a :class:`~nomadlab.client.NomadClient`, or
        ``None`` to connect from ``NOMAD_*`` variables.
    namespace
        A namespace, or ``"*"`` for all.
    job
        Only deployments of this job ID (or these IDs).
    status
        Only deployments in this status (or these statuses).

    Examples
    --------
    >>> from nomadlab.sim import SimCluster
    >>> from nomadlab.client import NomadClient
    >>> df = deployments(NomadClient(transport=SimCluster.default().transport()), job="web")
    >>> df[["job_id", "task_group", "status", "desired_total"]].to_dict("records")
    [{'job_id': 'web', 'task_group': 'frontend', 'status': 'successful', 'desired_total': 3}]
    """
    stubs, errors = readable(source_of(source).list("deployments", namespace=namespace), "deployments")
    jobs_, statuses = wanted(job), wanted(status)
    if jobs_ is not None or statuses is not None:
        stubs = [d for d in stubs if (jobs_ is None or as_str(d.get("JobID")) in jobs_)
                 and (statuses is None or as_str(d.get("Status")) in statuses)]
    rows: list[tuple[Mapping[str, Any], str | None, Mapping[str, Any]]] = [
        (d, name, tg if isinstance(tg, Mapping) else {})
        for d in stubs
        for name, tg in (list(d["TaskGroups"].items()) if isinstance(d.get("TaskGroups"), Mapping)
                         and d["TaskGroups"] else [(None, {})])
    ]
    frame = DEPLOYMENTS.build({
        "deployment_id": [d.get("ID") for d, _, _ in rows],
        "namespace": [d.get("Namespace") or (namespace if namespace != "*" else "default") for d, _, _ in rows],
        "job_id": [d.get("JobID") for d, _, _ in rows],
        "job_version": [d.get("JobVersion") for d, _, _ in rows],
        "status": [d.get("Status") for d, _, _ in rows],
        "status_description": [d.get("StatusDescription") or None for d, _, _ in rows],
        "task_group": [name for _, name, _ in rows],
        "desired_total": [tg.get("DesiredTotal") for _, _, tg in rows],
        "desired_canaries": [tg.get("DesiredCanaries") for _, _, tg in rows],
        "placed_allocs": [tg.get("PlacedAllocs") for _, _, tg in rows],
        "healthy_allocs": [tg.get("HealthyAllocs") for _, _, tg in rows],
        "unhealthy_allocs": [tg.get("UnhealthyAllocs") for _, _, tg in rows],
        "placed_canaries": [_canaries(tg) for _, _, tg in rows],
        "auto_revert": [tg.get("AutoRevert") for _, _, tg in rows],
        "auto_promote": [tg.get("AutoPromote") for _, _, tg in rows],
        "promoted": [tg.get("Promoted") for _, _, tg in rows],
        "progress_deadline": [tg.get("ProgressDeadline") for _, _, tg in rows],
        "require_progress_by": [tg.get("RequireProgressBy") for _, _, tg in rows],
        "eval_priority": [get(d, "EvalPriority") for d, _, _ in rows],
        "create_time": [d.get("CreateTime") for d, _, _ in rows],
        "modify_time": [d.get("ModifyTime") for d, _, _ in rows],
        "create_index": [d.get("CreateIndex") for d, _, _ in rows],
        "modify_index": [d.get("ModifyIndex") for d, _, _ in rows],
    })
    frame.attrs["errors"] = errors
    return frame
