"""Nomad service registrations (REFERENCE §11.6; ``command/agent/service_registration_endpoint.go``,
``nomad/service_registration_endpoint.go``, ``client/serviceregistration/id.go``).

A client registers each ``provider = "nomad"`` service of an allocation while it runs: group
services once the allocation runs, task services while their task runs. A registration's ID is
``_nomad-task-<alloc>-<task or group-<group>>-<service>-<port label>``; its ``Address`` is the
node's address and ``Port`` the port the allocation was given for the label (0 when it has
none). Services of the Consul provider are not registered here, as in Nomad.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ..acl import require_ns, visible
from ..errors import NomadHTTPError, bad_request
from ..http import Request, Response
from ..router import Router, blocking, json_response, namespace_of

if TYPE_CHECKING:
    from ..cluster import SimCluster

__all__ = ["register", "service_registrations"]


def _port(alloc: dict[str, Any], label: str) -> int:
    shared = ((alloc.get("AllocatedResources") or {}).get("Shared") or {}).get("Ports") or ()
    for p in shared:
        if p.get("Label") == label:
            return int(p.get("Value") or 0)
    return 0


def service_registrations(c: SimCluster) -> list[dict[str, Any]]:
    """Every registration the clients hold now, by ``(ServiceName, ID)`` (caller holds the lock)."""
    out = []
    for alloc in c.state.allocs.values():
        if alloc["DesiredStatus"] != "run" or alloc["ClientStatus"] != "running":
            continue
        node = c.state.nodes.get(alloc.get("NodeID", ""))
        address = (node or {}).get("HTTPAddr", "").rsplit(":", 1)[0]
        tg: dict[str, Any] = next((g for g in alloc["Job"].get("TaskGroups") or ()
                                   if g["Name"] == alloc["TaskGroup"]), {})
        owners: list[tuple[str, list[dict[str, Any]]]] = [(f"group-{tg.get('Name', '')}", tg.get("Services") or [])]
        states = alloc.get("TaskStates") or {}
        for task in tg.get("Tasks") or ():
            if (states.get(task["Name"]) or {}).get("State") == "running":
                owners.append((task["Name"], task.get("Services") or []))
        for owner, services in owners:
            for svc in services:
                if (svc.get("Provider") or "consul") != "nomad":
                    continue
                label = svc.get("PortLabel") or ""
                out.append({
                    "ID": f"_nomad-task-{alloc['ID']}-{owner}-{svc['Name']}-{label}",
                    "ServiceName": svc["Name"], "Namespace": alloc["Namespace"], "NodeID": alloc["NodeID"],
                    "Datacenter": (node or {}).get("Datacenter", ""), "JobID": alloc["JobID"],
                    "AllocID": alloc["ID"], "Tags": list(svc.get("Tags") or []) or None, "Address": address,
                    "Port": _port(alloc, label), "CreateIndex": alloc["CreateIndex"],
                    "ModifyIndex": alloc["ModifyIndex"],
                })
    return sorted(out, key=lambda r: (r["ServiceName"], r["ID"]))


def services_list(c: SimCluster, req: Request) -> Response:
    """GET /v1/services: ``[{Namespace, Services: [{ServiceName, Tags}]}]`` (``read-job``)."""
    ns = namespace_of(req)
    if ns != "*":
        require_ns(req, ns, "read-job")
    index = blocking(c, req, ["allocs"])
    with c.state.lock:
        by_ns: dict[str, dict[str, set[str]]] = {}
        for r in service_registrations(c):
            if (ns == "*" and visible(req, r["Namespace"], "read-job")) or r["Namespace"] == ns:
                by_ns.setdefault(r["Namespace"], {}).setdefault(r["ServiceName"], set()).update(r["Tags"] or ())
    out = [{"Namespace": name, "Services": [{"ServiceName": s, "Tags": sorted(tags)}
                                           for s, tags in sorted(services.items())]}
           for name, services in sorted(by_ns.items())]
    return json_response(req, out, index=index, meta=True)


def service_get(c: SimCluster, req: Request, rest: str) -> Response:
    """GET /v1/service/:name: its registrations in the namespace (``read-job``); DELETE
    /v1/service/:name/:id is not simulated (405)."""
    parts = rest.split("/")
    if len(parts) > 2:
        raise bad_request("invalid URI")
    if len(parts) == 2:
        if req.method != "DELETE":
            raise NomadHTTPError(405, "Invalid method")
        raise NomadHTTPError(501, "not supported by nomadlab.sim (see FIDELITY.md)")
    if req.method != "GET":
        raise NomadHTTPError(405, "Invalid method")
    if not parts[0]:
        raise bad_request("missing service name")
    ns = namespace_of(req)
    require_ns(req, ns, "read-job")
    index = blocking(c, req, ["allocs"])
    with c.state.lock:
        out = [r for r in service_registrations(c) if r["ServiceName"] == parts[0] and r["Namespace"] == ns]
    return json_response(req, out, index=index, meta=True)


def job_services(c: SimCluster, req: Request, job_id: str) -> Response:
    """GET /v1/job/:id/services: the job's registrations (``read-job``; checked by the router)."""
    if req.method != "GET":
        raise NomadHTTPError(405, "Invalid method")
    ns = namespace_of(req)
    index = blocking(c, req, ["allocs"])
    with c.state.lock:
        out = [r for r in service_registrations(c) if r["JobID"] == job_id and r["Namespace"] == ns]
    return json_response(req, out, index=index, meta=True)


def register(router: Router) -> None:
    router.add("GET", r"/v1/services", services_list)
    router.add("*", r"/v1/service/(?P<rest>.*)", service_get)
