"""The ``scaling_events`` frame: every change of a task group's count that Nomad recorded."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import pandas as pd

from ._common import get, source_of
from .jobs import _job_keys, _read_jobs
from .schema import Column, Schema, register

__all__ = ["SCALING_EVENTS", "scaling_events"]

SCALING_EVENTS = register(Schema(
    name="scaling_events",
    grain="one row per job × task group × scaling event",
    endpoint="GET /v1/jobs, then GET /v1/job/:id/scale per job",
    keys=("namespace", "job_id", "task_group", "create_index"),
    description=(
        "Scaling events Nomad keeps per task group (`nomad job scale`, the autoscaler, the UI): "
        "the new and previous count, the message, and whether it was an error. Newest first per "
        "group, as Nomad returns them. Jobs whose read failed are in `df.attrs[\"errors\"]`."
    ),
    columns=(
        Column("namespace", "string", "Namespace."),
        Column("job_id", "string", "Job ID."),
        Column("task_group", "string", "Task group scaled."),
        Column("time", "time", "When the scaling happened (ScalingEvent.Time).", source="ns"),
        Column("count", "Int64", "The count asked for; NA for an event that set no count (an error)."),
        Column("previous_count", "Int64", "The count before."),
        Column("message", "string", "Why, as the scaler wrote it."),
        Column("error", "boolean", "Whether the event records a failed scaling."),
        Column("eval_id", "string", "Evaluation created by the scaling; NA when none was."),
        Column("meta", "object", "The scaler's metadata (dict), or None."),
        Column("create_index", "Int64", "Raft index of the event."),
    ),
))


def scaling_events(
    source: Any = None,
    *,
    namespace: str = "*",
    job: str | Iterable[str] | None = None,
) -> pd.DataFrame:
    """Every scaling event of every job's task groups, one row each.

    Endpoints: ``GET /v1/jobs`` for the job IDs, then ``GET /v1/job/:id/scale`` per job
    (fanned out). Schema: :data:`SCALING_EVENTS` (``docs/frames.md``).

    Parameters
    ----------
    source
        A :class:`~nomadlab.sources.Source`, a :class:`~nomadlab.client.NomadClient`, or
        ``None`` to connect from ``NOMAD_*`` variables.
    namespace
        A namespace, or ``"*"`` for all.
    job
        Only this job ID (or these IDs).

    Examples
    --------
    >>> from nomadlab.sim.scenarios import build_scenario
    >>> from nomadlab.client import NomadClient
    >>> df = scaling_events(NomadClient(transport=build_scenario("demo").transport()), job="web")
    >>> df[["task_group", "previous_count", "count"]].values.tolist()
    [['frontend', 9, 6], ['frontend', 6, 9]]
    """
    src = source_of(source)
    found, errors = _read_jobs(src, "job_scale", _job_keys(src, namespace, job))
    rows: list[tuple[tuple[str, str], str, Mapping[str, Any]]] = []
    for key, obj in found:
        groups = get(obj, "TaskGroups")
        if not isinstance(groups, Mapping):
            continue
        for name, status in groups.items():
            events = get(status, "Events")
            rows.extend((key, str(name), e) for e in (events if isinstance(events, list) else [])
                        if isinstance(e, Mapping))
    frame = SCALING_EVENTS.build({
        "namespace": [k[0] for k, _, _ in rows],
        "job_id": [k[1] for k, _, _ in rows],
        "task_group": [g for _, g, _ in rows],
        "time": [e.get("Time") for _, _, e in rows],
        "count": [e.get("Count") for _, _, e in rows],
        "previous_count": [e.get("PreviousCount") for _, _, e in rows],
        "message": [e.get("Message") or None for _, _, e in rows],
        "error": [e.get("Error") for _, _, e in rows],
        "eval_id": [e.get("EvalID") or None for _, _, e in rows],
        "meta": [e.get("Meta") if isinstance(e.get("Meta"), Mapping) else None for _, _, e in rows],
        "create_index": [e.get("CreateIndex") for _, _, e in rows],
    })
    frame.attrs["errors"] = errors
    return frame
