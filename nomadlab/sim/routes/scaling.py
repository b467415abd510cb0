"""Routes under ``/v1/scaling`` (REFERENCE §11, ``command/agent/scaling_endpoint.go``,
``nomad/scaling_endpoint.go``): the horizontal scaling policies of task groups with a ``scaling``
block, as Nomad stores one per group when the job is registered.

Each policy's ID is a UUID derived from its namespace, job and group, so it is stable across
versions as Nomad keeps a policy's ID while its target lives. Lists need
``list-scaling-policies`` (or ``list-jobs`` and ``read-job``) on the namespace; a policy needs
``read-scaling-policy`` (or the same pair) on its job's namespace: 404 ``policy not found``.
"""

from __future__ import annotations

import hashlib
from typing import TYPE_CHECKING, Any

from ..acl import acl_of
from ..errors import NomadHTTPError
from ..http import Request, Response
from ..router import Router, blocking, json_response, namespace_of

if TYPE_CHECKING:
    from ..cluster import SimCluster

__all__ = ["register", "scaling_policies"]


def _policy_id(namespace: str, job_id: str, group: str) -> str:
    h = hashlib.sha256(f"scaling\x00{namespace}\x00{job_id}\x00{group}".encode()).hexdigest()
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:32]}"


def scaling_policies(c: SimCluster) -> list[dict[str, Any]]:
    """Every task group's ``ScalingPolicy`` (full objects), sorted by ID (caller holds the lock)."""
    out = []
    for (ns, job_id), job in c.state.jobs.items():
        if job.get("Stop"):
            continue
        for tg in job.get("TaskGroups") or ():
            policy = tg.get("Scaling")
            if not policy:
                continue
            out.append({
                "ID": _policy_id(ns, job_id, tg["Name"]),
                "Type": policy.get("Type") or "horizontal",
                "Target": {"Namespace": ns, "Job": job_id, "Group": tg["Name"]},
                "Policy": policy.get("Policy"),
                "Min": policy.get("Min"),
                "Max": policy.get("Max"),
                "Enabled": policy.get("Enabled", True) is not False,
                "CreateIndex": job["CreateIndex"],
                "ModifyIndex": job["JobModifyIndex"],
            })
    return sorted(out, key=lambda p: p["ID"])


def _allowed(req: Request, namespace: str, capability: str) -> bool:
    acl = acl_of(req)
    if acl is None:
        return True
    return acl.allow_ns(namespace, capability) or (acl.allow_ns(namespace, "list-jobs")
                                                   and acl.allow_ns(namespace, "read-job"))


def policies_list(c: SimCluster, req: Request) -> Response:
    """GET /v1/scaling/policies (``job``, ``type``, ``namespace``): ScalingPolicyListStubs."""
    from ..acl import PERMISSION_DENIED

    ns = namespace_of(req)
    if not _allowed(req, ns, "list-scaling-policies"):
        raise NomadHTTPError(403, PERMISSION_DENIED)
    index = blocking(c, req, ["jobs"])
    job = req.param("job") or ""
    kind = req.param("type") or ""
    with c.state.lock:
        out = [{k: p[k] for k in ("ID", "Enabled", "Type", "Target", "CreateIndex", "ModifyIndex")}
               for p in scaling_policies(c)
               if (ns == "*" or p["Target"]["Namespace"] == ns) and (not job or p["Target"]["Job"] == job)
               and (not kind or p["Type"] == kind)
               and _allowed(req, p["Target"]["Namespace"], "list-scaling-policies")]
    return json_response(req, out, index=index, meta=True)


def policy_get(c: SimCluster, req: Request, policy_id: str) -> Response:
    """GET /v1/scaling/policy/:id: the full ScalingPolicy."""
    from ..acl import PERMISSION_DENIED

    if not _allowed(req, namespace_of(req), "read-scaling-policy"):
        raise NomadHTTPError(403, PERMISSION_DENIED)
    index = blocking(c, req, ["jobs"])
    with c.state.lock:
        found = next((p for p in scaling_policies(c) if p["ID"] == policy_id), None)
        if found is None or not _allowed(req, found["Target"]["Namespace"], "read-scaling-policy"):
            raise NomadHTTPError(404, "policy not found")
        return json_response(req, found, index=index, meta=True)


def register(router: Router) -> None:
    router.add("GET", r"/v1/scaling/policies", policies_list)
    router.add("GET", r"/v1/scaling/policy/(?P<policy_id>[^/]+)", policy_get)
