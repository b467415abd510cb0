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
    jobs = c.get("/v1/jobs", namespace="*").body
    dead = sorted(f"{j['Namespace']}/{j['ID']}" for j in jobs if j.get("Status") == "dead"
                  and (j.get("Stop") or j.get("Type") in ("batch", "sysbatch")))
    nodes = c.get("/v1/nodes").body
    down = sorted(str(n.get("Name") or n["ID"]) for n in nodes if n.get("Status") == "down")
    changes = {"dead jobs that may go": dead, "down nodes that may go": down}

    def write() -> Mapping[str, object]:
        c.put("/v1/system/gc")
        return {}

    return Plan("gc", "cluster", "", f"collect terminal evaluations, allocations and deployments, "
                f"{len(dead)} dead job(s) and {len(down)} down node(s) once nothing runs there",
                changes=changes, before={"dead_jobs": len(dead), "down_nodes": len(down)},
                client=c, token=token, write=write)
