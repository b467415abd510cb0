"""The ``namespaces`` frame."""

from __future__ import annotations

from typing import Any

import pandas as pd

from ._common import get, readable, source_of
from .schema import Column, Schema, register

__all__ = ["NAMESPACES", "namespaces"]

NAMESPACES = register(Schema(
    name="namespaces",
    grain="one row per namespace",
    endpoint="GET /v1/namespaces",
    keys=("namespace",),
    columns=(
        Column("namespace", "string", "Namespace name (the join key `namespace` of other frames)."),
        Column("description", "string", "Free-text description."),
        Column("quota", "string", "Attached resource quota (Enterprise; empty otherwise)."),
        Column("node_pool_default", "string", "Default node pool of jobs in this namespace, if set."),
        Column("meta", "object", "User metadata (dict)."),
        Column("create_index", "Int64", "Raft index at creation."),
        Column("modify_index", "Int64", "Raft index of the last change."),
    ),
))


def namespaces(source: Any = None) -> pd.DataFrame:
    """Every namespace the token can see.

    Endpoint: ``GET /v1/namespaces``. Schema: :data:`NAMESPACES` (``docs/frames.md``).

    >>> from nomadlab.sim import SimCluster
    >>> from nomadlab.client import NomadClient
    >>> namespaces(NomadClient(transport=SimCluster.default().transport()))["namespace"].tolist()
    ['default', 'platform']
    """
    rows, errors = readable(source_of(source).list("namespaces"), "namespaces")
    frame = NAMESPACES.build({
        "namespace": [r.get("Name") for r in rows],
        "description": [r.get("Description") for r in rows],
        "quota": [r.get("Quota") or None for r in rows],
        "node_pool_default": [get(r, "NodePoolConfiguration", "Default") or None for r in rows],
        "meta": [r.get("Meta") if isinstance(r.get("Meta"), dict) else None for r in rows],
        "create_index": [r.get("CreateIndex") for r in rows],
        "modify_index": [r.get("ModifyIndex") for r in rows],
    })
    frame.attrs["errors"] = errors
    return frame
