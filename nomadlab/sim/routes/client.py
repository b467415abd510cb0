"""Node-local client routes (REFERENCE §5, §11.6): usage stats, task logs and the allocation
directory (``/v1/client/fs/*``).

The numbers and lines come from :mod:`nomadlab.sim.usage` and :mod:`nomadlab.sim.logs`; these
handlers only parse parameters in Nomad's order, answer Nomad's error texts, and pick the node
or allocation. A client endpoint reaches the node that runs the allocation, so an allocation on
a node that is down answers 404 ``No path to node`` as Nomad does when it has no connection.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

from .. import allocdir, logs, request_types, usage
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
        found_logs = logs.cluster_log_set(c, alloc, task, log_type, logs.log_horizon_ns(c))
        if found_logs is None:  # logmon's notFoundErr (``logs { disabled = true }``)
            raise NomadHTTPError(404, f'log entry for task "{task}" and log type "{log_type}" not found')
    stream = logs.stream_logs(
        c, alloc_id, task, log_type, follow=follow, plain=plain, origin=origin, offset=offset,
        log_set=found_logs,
    )
    content_type = "text/plain" if plain else "application/json"
    return Response(status=200, headers={"Content-Type": content_type}, stream=stream)


# -- the allocation directory (command/agent/fs_endpoint.go, client/fs_endpoint.go) ----------------
def _fs_alloc(c: SimCluster, req: Request, alloc_id: str) -> allocdir.AllocFS:
    """The allocation's directory, after Nomad's checks in its order (``nomad/client_fs_endpoint.go``):
    the allocation (404 ``Unknown allocation``), ``read-fs`` on its namespace (403), then the node
    that runs it (404 ``No path to node`` when it is down)."""
    found = c.state.allocs.get(alloc_id)
    if found is None or alloc_id in c.client_collected:
        raise NomadHTTPError(404, f'Unknown allocation "{alloc_id}"')
    require_ns(req, found["Namespace"], "read-fs")
    alloc, _ = _client_alloc(c, alloc_id)
    return allocdir.alloc_fs(c, alloc)


def _listing_error(exc: allocdir.FsError) -> NomadHTTPError:
    """ls/stat: a missing file is 404 (``IsErrNoSuchFileOrDirectory``), anything else uncoded."""
    return NomadHTTPError(404 if exc.kind == "missing" else 500, exc.text)


def fs_ls(c: SimCluster, req: Request, alloc_id: str) -> Response:
    """GET /v1/client/fs/ls/:alloc_id?path= (default ``/``): ``[AllocFileInfo]`` by name."""
    if not alloc_id:
        raise bad_request("must provide a valid alloc id")
    path = req.param("path") or "/"
    with c.state.lock:
        fs = _fs_alloc(c, req, alloc_id)
        try:
            return json_response(req, fs.list(path))
        except allocdir.FsError as exc:
            raise _listing_error(exc) from None


def fs_stat(c: SimCluster, req: Request, alloc_id: str) -> Response:
    """GET /v1/client/fs/stat/:alloc_id?path=: one ``AllocFileInfo`` with ``ContentType``."""
    if not alloc_id:
        raise bad_request("must provide a valid alloc id")
    path = req.param("path") or ""
    if not path:
        raise bad_request("must provide a file name")
    with c.state.lock:
        fs = _fs_alloc(c, req, alloc_id)
        try:
            node = fs.stat(path)
        except allocdir.FsError as exc:
            raise _listing_error(exc) from None
        return json_response(req, allocdir.file_info(node, with_content_type=True))


def _parse_int64(value: str, what: str, status: int = 500) -> int:
    """``strconv.ParseInt(value, 10, 64)``, failing as the handler does (``error parsing …``)."""
    if not _INT64.match(value):
        raise NomadHTTPError(status, f'error parsing {what}: strconv.ParseInt: parsing "{value}": invalid syntax')
    number = int(value)
    if not -(2**63) <= number < 2**63:
        raise NomadHTTPError(status, f'error parsing {what}: strconv.ParseInt: parsing "{value}": value out of range')
    return number


def _fs_stream(
    c: SimCluster, req: Request, alloc_id: str, path: str, *, offset: int, origin: str = "start",
    limit: int = 0, follow: bool = False, plain: bool = True,
) -> Response:
    """``FileSystem.Stream``: the file at ``path`` from ``offset``, as the client streams it.

    A stat error (a missing file, an escaping path) is 400, a directory 400
    ``file "<path>" is a directory``; the read's own refusals (``secrets/``, a negative
    offset) are 500, as they come from the streaming goroutine.
    """
    with c.state.lock:
        fs = _fs_alloc(c, req, alloc_id)
        try:
            node = fs.stat(path)
        except allocdir.FsError as exc:
            raise bad_request(exc.text) from None
        if node.is_dir:
            raise bad_request(f'file "{path}" is a directory')
        if origin == "end":
            offset = max(node.size - offset, 0)
        try:
            fs.read_check(path)
        except allocdir.FsError as exc:
            raise NomadHTTPError(500, exc.text) from None
        if offset < 0:
            host = "/".join([fs.host_dir, *(allocdir.clean_path(path) or [])])
            raise NomadHTTPError(500, f"can't seek to offset {offset}: seek {host}: invalid argument")
    stream = allocdir.stream_file(c, alloc_id, path, node, offset=offset, limit=limit, follow=follow, plain=plain)
    if not plain:
        return Response(status=200, headers={"Content-Type": "application/json"}, stream=stream)
    # wrapUntrustedContent (helper/noxssrw): the type sniffed from the bytes, HTML made plain
    body = b"".join(stream)
    content_type = allocdir.sniff(body)
    if content_type.startswith(("text/html", "text/xhtml")):
        content_type = "text/plain"
    headers = {"Content-Type": content_type}
    if body:
        headers.update({
            "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; sandbox",
            "X-Content-Type-Options": "nosniff",
            "X-XSS-Protection": "1; mode=block",
        })
    return Response(status=200, headers=headers, body=body)


def fs_cat(c: SimCluster, req: Request, alloc_id: str) -> Response:
    """GET /v1/client/fs/cat/:alloc_id?path=: the file's bytes (``read-fs``)."""
    if not alloc_id:
        raise bad_request("must provide a valid alloc id")
    path = req.param("path") or ""
    if not path:
        raise bad_request("must provide a file name")
    return _fs_stream(c, req, alloc_id, path, offset=0)


def fs_readat(c: SimCluster, req: Request, alloc_id: str) -> Response:
    """GET /v1/client/fs/readat/:alloc_id?path=&offset=&limit=: ``limit`` bytes (all when 0 or
    absent) from ``offset``, which is required (an empty one fails to parse: 500)."""
    if not alloc_id:
        raise bad_request("must provide a valid alloc id")
    path = req.param("path") or ""
    if not path:
        raise bad_request("must provide a file name")
    offset = _parse_int64(req.param("offset") or "", "offset")
    limit_text = req.param("limit") or ""
    limit = _parse_int64(limit_text, "limit") if limit_text else 0
    return _fs_stream(c, req, alloc_id, path, offset=offset, limit=limit)


def fs_stream(c: SimCluster, req: Request, alloc_id: str) -> Response:
    """GET /v1/client/fs/stream/:alloc_id?path=&offset=&origin=&follow=: StreamFrames of a file;
    ``follow`` defaults to true."""
    if not alloc_id:
        raise bad_request("must provide a valid alloc id")
    path = req.param("path") or ""
    if not path:
        raise bad_request("must provide a file name")
    follow = True
    follow_text = req.param("follow") or ""
    if follow_text:
        try:
            follow = parse_bool(follow_text)
        except ValueError as exc:
            raise NomadHTTPError(500, f"failed to parse follow field to boolean: {exc}") from None
    offset_text = req.param("offset") or ""
    offset = _parse_int64(offset_text, "offset") if offset_text else 0
    origin = req.param("origin") or "start"
    if origin not in ("start", "end"):
        raise bad_request("origin must be start or end")
    return _fs_stream(c, req, alloc_id, path, offset=offset, origin=origin, follow=follow, plain=False)


def fs_unknown(c: SimCluster, req: Request, rest: str) -> Response:
    """Any other /v1/client/fs/…: ``FsRequest`` answers 404 ``Invalid method``."""
    raise NomadHTTPError(404, "Invalid method")


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
    router.add("*", r"/v1/client/fs/logs/(?P<alloc_id>[^/]*)", alloc_logs)
    router.add("*", r"/v1/client/fs/ls/(?P<alloc_id>.*)", fs_ls)
    router.add("*", r"/v1/client/fs/stat/(?P<alloc_id>.*)", fs_stat)
    router.add("*", r"/v1/client/fs/cat/(?P<alloc_id>.*)", fs_cat)
    router.add("*", r"/v1/client/fs/readat/(?P<alloc_id>.*)", fs_readat)
    router.add("*", r"/v1/client/fs/stream/(?P<alloc_id>.*)", fs_stream)
    router.add("*", r"/v1/client/fs/(?P<rest>.*)", fs_unknown)
