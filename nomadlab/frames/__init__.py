"""Frames: Nomad's objects as tidy, typed pandas DataFrames with documented schemas.

Every fetcher is a plain function ``frame(source=None, *, namespace="*", ...)`` returning a
plain :class:`pandas.DataFrame` whose columns and dtypes are fixed by its schema in
:data:`~nomadlab.frames.schema.REGISTRY` (see ``docs/frames.md``), empty results and older
Nomads included. ``source`` is a :class:`~nomadlab.client.NomadClient`, any
:class:`~nomadlab.sources.Source`, or ``None`` to connect from ``NOMAD_*`` variables. Wrap it in
:class:`~nomadlab.sources.CachedSource` to build several frames from one fetch.

The fetchers are imported here, at package import, so that ``nomadlab.frames.allocations`` is
always the function and never the submodule of the same name.
"""

from __future__ import annotations

from .allocations import AllocationFrames, allocation_frames, allocations, task_events, tasks
from .deployments import deployments
from .evaluations import evaluations, placement_failures
from .jobs import job_versions, jobs, task_groups
from .logs import logs
from .namespaces import namespaces
from .nodes import node_events, nodes
from .scaling import scaling_events
from .schema import REGISTRY, Column, Schema
from .stats import alloc_stats, node_stats

FETCHERS: tuple[str, ...] = (
    "alloc_stats", "allocation_frames", "allocations", "deployments", "evaluations", "job_versions",
    "jobs", "logs", "namespaces", "node_events", "node_stats", "nodes", "placement_failures", "scaling_events",
    "task_events", "task_groups", "tasks",
)

__all__ = [
    "FETCHERS",
    "REGISTRY",
    "AllocationFrames",
    "Column",
    "Schema",
    "alloc_stats",
    "allocation_frames",
    "allocations",
    "deployments",
    "evaluations",
    "job_versions",
    "jobs",
    "logs",
    "namespaces",
    "node_events",
    "node_stats",
    "nodes",
    "placement_failures",
    "scaling_events",
    "schema",
    "task_events",
    "task_groups",
    "tasks",
]


def schema(name: str) -> Schema:
    """The registered schema of frame ``name``."""
    try:
        return REGISTRY[name]
    except KeyError:
        raise KeyError(f"no frame named {name!r}; known: {', '.join(sorted(REGISTRY))}") from None
