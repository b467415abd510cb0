"""Routes under ``/v1/operator`` (REFERENCE §11.2, §11.3): scheduler and Raft configuration, license.

The scheduler configuration is the one Nomad writes at its first leadership (``binpack``,
preemption for system jobs only; :func:`nomadlab.sim.state.default_scheduler_config`), kept in
the cluster's state and updatable with ``?cas=``; the simulated scheduler does not read it.
The Raft configuration is this one server. The license
endpoint answers as the community edition does: 204 to GET, 501 to PUT.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .. import request_types
from ..errors import NomadHTTPError, bad_request
from ..http import Request, Response
from ..router import Router, json_response
from .agent import SERVER_RPC_ADDR
from .common import ci_get, decode_body

if TYPE_CHECKING:
    from ..cluster import SimCluster

__all__ = ["register"]

SERVER_ID = "00000000-0000-4000-8000-000000000001"
_ALGORITHMS = ("binpack", "spread")


def _config(c: SimCluster) -> dict[str, Any]:
    return c.state.scheduler_config


def scheduler_configuration(c: SimCluster, req: Request) -> Response:
    """GET (``operator:read``) or PUT/POST (``operator:write``) /v1/operator/scheduler/configuration."""
    from ..acl import PERMISSION_DENIED, acl_of

    acl = acl_of(req)
    if req.method == "GET":
        if acl is not None and not acl.allow_level("operator", "read"):
            raise NomadHTTPError(403, PERMISSION_DENIED)
        with c.state.lock:
            config = dict(_config(c))
        return json_response(req, {"SchedulerConfig": config, "Index": config["ModifyIndex"], "LastContact": 0,
                                   "KnownLeader": True, "NextToken": ""}, index=config["ModifyIndex"], meta=True)
    if req.method not in ("PUT", "POST"):
        raise NomadHTTPError(405, "Invalid method")
    try:
        body = decode_body(req, request_types.SCHEDULER_CONFIG)
    except NomadHTTPError as exc:
        raise bad_request(f"Error parsing scheduler config: {exc.body}") from None
    algorithm = ci_get(body, "SchedulerAlgorithm") or ""
    if algorithm and algorithm not in _ALGORITHMS:
        raise bad_request(f'invalid scheduler algorithm: "{algorithm}"')
    cas = None
    if req.has("cas"):
        raw = req.param("cas") or ""
        if not (raw.isascii() and raw.isdigit()) or int(raw) >= 2**64:
            raise bad_request(f'Error parsing cas value: strconv.ParseUint: parsing "{raw}": invalid syntax')
        cas = int(raw)
    if acl is not None and not acl.allow_level("operator", "write"):
        raise NomadHTTPError(403, PERMISSION_DENIED)
    with c.state.lock:
        config = _config(c)
        idx = c.state.next_index()
        if cas is not None and cas != config["ModifyIndex"]:
            c.state.commit(idx, [])
            return json_response(req, {"Updated": False, "Index": idx}, index=idx)
        preemption = ci_get(body, "PreemptionConfig") or {}
        config.update(
            SchedulerAlgorithm=algorithm or "binpack",
            PreemptionConfig={k: bool(ci_get(preemption, k, False)) for k in config["PreemptionConfig"]},
            MemoryOversubscriptionEnabled=bool(ci_get(body, "MemoryOversubscriptionEnabled", False)),
            RejectJobRegistration=bool(ci_get(body, "RejectJobRegistration", False)),
            PauseEvalBroker=bool(ci_get(body, "PauseEvalBroker", False)),
            NodeLimitForFeasibilityChecks=int(ci_get(body, "NodeLimitForFeasibilityChecks", 0) or 0),
            ModifyIndex=idx,
        )
        c.state.commit(idx, [])
    return json_response(req, {"Updated": True, "Index": idx}, index=idx)


def raft_configuration(c: SimCluster, req: Request) -> Response:
    """GET /v1/operator/raft/configuration (management): this one server, the leader."""
    if req.method != "GET":
        return Response.empty(405)
    from ..acl import PERMISSION_DENIED, acl_of

    acl = acl_of(req)
    if acl is not None and not acl.management:
        raise NomadHTTPError(403, PERMISSION_DENIED)
    server = {"ID": SERVER_ID, "Node": f"{c.agent_name}.{c.region}", "Address": SERVER_RPC_ADDR,
              "Leader": True, "Voter": True, "RaftProtocol": "3"}
    return json_response(req, {"Servers": [server], "Index": c.state.index}, index=c.state.index)


def raft_unknown(c: SimCluster, req: Request, rest: str) -> Response:
    """Any other /v1/operator/raft/…: ``OperatorRequest`` answers 404 ``Invalid method``."""
    raise NomadHTTPError(404, "Invalid method")


def license_request(c: SimCluster, req: Request) -> Response:
    """/v1/operator/license as the community edition answers: GET 204, PUT 501, else 405."""
    if req.method == "GET":
        return Response.empty(204)
    if req.method == "PUT":
        raise NomadHTTPError(501, "Nomad Enterprise only endpoint")
    raise NomadHTTPError(405, "Invalid method")


def register(router: Router) -> None:
    router.add("*", r"/v1/operator/scheduler/configuration", scheduler_configuration)
    router.add("*", r"/v1/operator/raft/configuration", raft_configuration)
    router.add("*", r"/v1/operator/raft/(?P<rest>.*)", raft_unknown)
    router.add("*", r"/v1/operator/license", license_request)
