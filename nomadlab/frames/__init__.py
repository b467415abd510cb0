"""Frames: Nomad's objects as tidy, typed pandas DataFrames with documented schemas.

Every fetcher is a plain function ``frame(source=None, *, namespace="*", ...)`` returning a
plain :class:`pandas.DataFrame` whose columns and dtypes are fixed by its schema in
:data:`~nomadlab.frames.schema.REGISTRY` (see ``docs/frames.md``), empty results and older
Nomads included. ``source`` is a :class:`~nomadlab.client.NomadClient`, any
:class:`~nomadlab.sources.Source`, or ``None`` to connect from ``NOMAD_*`` variables. Wrap it in
:class:`~nomadlab.sources.CachedSource` to build several frames from one fetch.

Frame modules load on first use; :func:`schema` and :func:`load_all` load them all.
"""

from __future__ import annotations

import importlib
from typing import Any

from .schema import REGISTRY as REGISTRY
from .schema import Column as Column
from .schema import Schema as Schema

# Fetcher name → the module (under nomadlab.frames) that defines it.
_FETCHERS: dict[str, str] = {
    "alloc_stats": "stats",
    "allocation_frames": "allocations",
    "allocations": "allocations",
    "deployments": "deployments",
    "evaluations": "evaluations",
    "job_versions": "jobs",
    "jobs": "jobs",
    "namespaces": "namespaces",
    "node_events": "nodes",
    "node_stats": "stats",
    "nodes": "nodes",
    "placement_failures": "evaluations",
    "task_events": "allocations",
    "task_groups": "jobs",
    "tasks": "allocations",
}
MODULES: tuple[str, ...] = tuple(sorted(set(_FETCHERS.values())))

__all__ = sorted([*_FETCHERS, "REGISTRY", "Column", "Schema", "schema", "load_all", "MODULES"])


def load_all() -> None:
    """Import every frame module, so that :data:`REGISTRY` holds every schema."""
    for module in MODULES:
        importlib.import_module(f"{__name__}.{module}")


def schema(name: str) -> Schema:
    """The registered schema of frame ``name``."""
    load_all()
    try:
        return REGISTRY[name]
    except KeyError:
        raise KeyError(f"no frame named {name!r}; known: {', '.join(sorted(REGISTRY))}") from None


def __getattr__(name: str) -> Any:
    module = _FETCHERS.get(name)
    if module is None:
        raise AttributeError(f"module 'nomadlab.frames' has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{module}"), name)
    globals()[name] = value
    return value
