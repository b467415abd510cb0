"""Cluster-wide actions: garbage collection."""

from __future__ import annotations

from collections.abc import Mapping

from nomadlab.actions._acl import Need, check
from nomadlab.actions._plan import Plan
from nomadlab.client import NomadClient

__all__ = ["gc"]


def gc(client: NomadClient | None) -> Plan:
    """Plan a garbage collection (``PUT /v1/system/gc``). Needs a management token."""
    c = client if client is not None else NomadClient()
    token = check(c, Need(management=True))

    def write() -> Mapping[str, object]:
        c.put("/v1/system/gc")
        return {}

    return Plan("gc", "cluster", "", "collect terminal jobs, evaluations, allocations and nodes",
                client=c, token=token, write=write)
