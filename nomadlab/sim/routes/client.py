"""Node-local client routes (REFERENCE §5): usage stats and task logs.

The numbers and lines come from :mod:`nomadlab.sim.usage` and :mod:`nomadlab.sim.logs`; these
handlers only parse parameters in Nomad's order, answer Nomad's error texts, and pick the node
or allocation. A client endpoint reaches the node that runs the allocation, so an allocation on
a node that is down answers 404 ``No path to node`` as Nomad does when it has no connection.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

from .. import logs, request_types, usage
from ..acl import require_ns
from ..errors import NomadHTTPError, bad_request
from ..http import Request, Response
from ..router import Router, json_response, parse_bool
from .common import ci_get, decode_body

if TYPE_CHECKING:
    from ..cluster import SimCluster

__all__ = ["register"]

_UNREACHABLE = ("down", "disconnected")


def _reachable_node(c: SimCluster, node_id: str) -> dict[str, Any]:
    node = c.state.nodes.get(node_id)
    if node is None:
        raise NomadHTTPError(404, f'Unknown node "{node_id}"')
    if node.get("Status") in _UNREACHABLE:
        raise NomadHTTPError(404, "No path to node")
    return node


def _client_alloc(c: SimCluster, alloc_id: str) -> tuple[dict[str, Any], dict[str, Any]]:
    alloc = c.state.allocs.get(alloc_id)
    if alloc is None or alloc_id in c.client_collected:
        raise NomadHTTPError(404, f'Unknown allocation "{alloc_id}"')
    return alloc, _reachable_node(c, alloc.get("NodeID", ""))


def client_stats(c: SimCluster, req: Request) -> Response:
    """GET /v1/client/stats?node_id=: the node's ``HostStats``.

    ``node_id`` is required unless the agent runs a client (the ``dev`` scenario), whose node
    answers then.
    """
    node_id = req.param("node_id") or c.local_node_id
    if not node_id:
        raise bad_request("No local Node and node_id not provided")
    with c.state.lock:
        node = _reachable_node(c, node_id)
        allocs = c.state.node_allocs(node_id)
        payload = usage.host_stats(c.seed, node, allocs, c.now_ns(), behaviours=c.behaviours)
    return json_response(req, payload)


def alloc_stats(c: SimCluster, req: Request, alloc_id: str) -> Response:
    """GET /v1/client/allocation/:alloc_id/stats: the allocation's ``AllocResourceUsage``."""
    with c.state.lock:
        alloc = c.state.allocs.get(alloc_id)
        if alloc is not None:
            require_ns(req, alloc["Namespace"], "read-job")
        alloc, node = _client_alloc(c, alloc_id)
        payload = usage.alloc_usage(
            c.seed, alloc, c.now_ns(), node=node, task=req.param("task") or "",
            behaviours=c.behaviours,
        )
    return json_response(req, payload)


def _bool_param(req: Request, name: str) -> bool:
    value = req.param(name) or ""
    if value == "":
        return False
    try:
        return parse_bool(value)
    except ValueError as exc:
        raise bad_request(f"failed to parse {name} field to boolean: {exc}") from None


_INT64 = re.compile(r"[+-]?\d+\Z")


def _offset_param(req: Request) -> int:
    value = req.param("offset") or ""
    if value == "":
        return 0
    if not _INT64.match(value):
        raise bad_request(
            f'error parsing offset: strconv.ParseInt: parsing "{value}": invalid syntax'
        )
    number = int(value)
    if not -(2**63) <= number < 2**63:
        raise bad_request(
            f'error parsing offset: strconv.ParseInt: parsing "{value}": value out of range'
        )
    return number


def alloc_logs(c: SimCluster, req: Request, alloc_id: str) -> Response:
    """GET /v1/client/fs/logs/:alloc_id: a task's stdout or stderr, framed or plain."""
    if not alloc_id:
        raise bad_request("must provide a valid alloc id")
    task = req.param("task") or ""
    if not task:
        raise bad_request("must provide task name")
    follow = _bool_param(req, "follow")
    plain = _bool_param(req, "plain")
    log_type = req.param("type") or ""
    if log_type not in ("stdout", "stderr"):
        raise bad_request("must provide log type (stdout/stderr)")
    offset = _offset_param(req)
    origin = req.param("origin") or "start"
    if origin not in ("start", "end"):
        raise bad_request("origin must be start or end")
    with c.state.lock:
        found = c.state.allocs.get(alloc_id)
        if found is not None:
            require_ns(req, found["Namespace"], "read-fs", "read-logs")
        alloc, _ = _client_alloc(c, alloc_id)
        state = (alloc.get("TaskStates") or {}).get(task)
        if state is None:
            raise bad_request(f'unknown task name "{task}"')
        if not logs.parse_rfc3339(state.get("StartedAt") or ""):
            raise NomadHTTPError(404, f'task "{task}" not started yet. No logs available')
    stream = logs.stream_logs(
        c, alloc_id, task, log_type, follow=follow, plain=plain, origin=origin, offset=offset
    )
    content_type = "text/plain" if plain else "application/json"
    return Response(status=200, headers={"Content-Type": content_type}, stream=stream)


def _lifecycle_alloc(c: SimCluster, req: Request, alloc_id: str, *caps: str) -> dict[str, Any]:
    """The allocation a client lifecycle call acts on: its namespace's capability (checked on
    the client, ``client/alloc_endpoint.go``), then the node that runs it."""
    alloc = c.state.allocs.get(alloc_id)
    if alloc is not None and alloc_id not in c.client_collected:
        require_ns(req, alloc["Namespace"], *caps)
    found, _ = _client_alloc(c, alloc_id)
    return found


def alloc_restart(c: SimCluster, req: Request, alloc_id: str) -> Response:
    """Any method /v1/client/allocation/:id/restart: body ``{TaskName, AllTasks}`` (optional).

    Needs ``alloc-lifecycle``; answers GenericResponse ``{"Index": 0}``. A body that does not
    decode is an uncoded error (500), as the handler returns the decoder's error as it is.
    """
    body = decode_body(req, request_types.ALLOC_RESTART, required=False, status=500) or {}
    with c.state.lock:
        _lifecycle_alloc(c, req, alloc_id, "alloc-lifecycle")
        c.restart_alloc(alloc_id, task=ci_get(body, "TaskName") or "", all_tasks=bool(ci_get(body, "AllTasks")))
    return json_response(req, {"Index": 0})


def alloc_signal(c: SimCluster, req: Request, alloc_id: str) -> Response:
    """PUT/POST /v1/client/allocation/:id/signal: body ``{Task, Signal}``; ``alloc-lifecycle``."""
    if req.method not in ("PUT", "POST"):
        raise NomadHTTPError(405, "Invalid method")
    try:
        body = decode_body(req, request_types.ALLOC_SIGNAL)
    except NomadHTTPError as exc:
        raise bad_request(f"Failed to decode body: {exc.body}") from None
    with c.state.lock:
        _lifecycle_alloc(c, req, alloc_id, "alloc-lifecycle")
        c.signal_alloc(alloc_id, task=ci_get(body, "Task") or "", signal=ci_get(body, "Signal") or "")
    return json_response(req, {"Index": 0})


def alloc_gc(c: SimCluster, req: Request, alloc_id: str) -> Response:
    """Any method /v1/client/allocation/:id/gc (``submit-job`` or ``gc-allocation``): 200, no body."""
    with c.state.lock:
        _lifecycle_alloc(c, req, alloc_id, "submit-job", "gc-allocation")
        c.client_gc_alloc(alloc_id)
    return Response.empty(200)


def client_gc(c: SimCluster, req: Request) -> Response:
    """Any method /v1/client/gc?node_id= (``node:write``): 200, no body."""
    node_id = req.param("node_id") or c.local_node_id
    if not node_id:
        raise bad_request("No local Node and node_id not provided")
    with c.state.lock:
        if node_id not in c.state.nodes:
            # ClientAllocations.GarbageCollectAll's unknown node is not a "no connection"
            # error, so the handler leaves it uncoded.
            raise NomadHTTPError(500, f'Unknown node "{node_id}"')
        _reachable_node(c, node_id)
        c.client_gc_node(node_id)
    return Response.empty(200)


def client_alloc_unknown(c: SimCluster, req: Request, rest: str) -> Response:
    """Any other /v1/client/allocation/…: ``ClientAllocRequest`` answers 404 ``resource not found``."""
    raise NomadHTTPError(404, "resource not found")


def register(router: Router) -> None:
    router.add("GET", r"/v1/client/stats", client_stats)
    router.add("GET", r"/v1/client/allocation/(?P<alloc_id>[^/]+)/stats", alloc_stats)
    router.add("*", r"/v1/client/allocation/(?P<alloc_id>[^/]+)/restart", alloc_restart)
    router.add("*", r"/v1/client/allocation/(?P<alloc_id>[^/]+)/signal", alloc_signal)
    router.add("*", r"/v1/client/allocation/(?P<alloc_id>[^/]+)/gc", alloc_gc)
    router.add("*", r"/v1/client/allocation/(?P<rest>.*)", client_alloc_unknown)
    router.add("*", r"/v1/client/gc", client_gc)
    router.add("GET", r"/v1/client/fs/logs/(?P<alloc_id>[^/]*)", alloc_logs)
