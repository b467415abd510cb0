"""Routes under ``/v1/allocations`` and ``/v1/allocation/:id`` (REFERENCE §3)."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from .. import wire
from ..acl import require_ns, visible
from ..errors import NomadHTTPError
from ..http import Request, Response
from ..router import (
    Router,
    blocking,
    blocking_on,
    json_response,
    meta_headers,
    modify_index,
    namespace_of,
    paginate,
    query_bool,
)
from .common import create_index_token, index_token_key, ns_matches

if TYPE_CHECKING:
    from ..cluster import SimCluster

__all__ = ["register", "wants_pretty"]


def wants_pretty(req: Request) -> bool:
    """Whether the reply is indented (``?pretty``, as :func:`..router.json_response` reads it)."""
    return req.has("pretty") and (req.param("pretty") or "") != "0"


def allocs_list(c: SimCluster, req: Request) -> Response:
    """GET /v1/allocations: AllocListStubs by CreateIndex (by ID with ``prefix``)."""
    index = blocking(c, req, ["allocs"])
    ns = namespace_of(req)
    prefix = req.param("prefix") or ""
    resources = query_bool(req, "resources")
    task_states = query_bool(req, "task_states", True)

    def stub(a: dict[str, Any]) -> dict[str, Any]:
        return wire.alloc_stub(a, resources=resources, task_states=task_states, copy=False)

    # Each stub's bytes are kept until the allocation changes (its modify indexes, or its modify
    # time for a client update): a big list is joined, not encoded again. ``?pretty`` indents
    # the dicts instead.
    pretty = wants_pretty(req)
    cache = c.state.encoded(("alloc_stub", resources, task_states))

    def cached(a: dict[str, Any]) -> Any:
        return cache.get(a["ID"], a, (a["ModifyIndex"], a["AllocModifyIndex"], a["ModifyTime"]), stub)

    project: Callable[[dict[str, Any]], Any] = stub if pretty else cached
    with c.state.lock:
        if not pretty:
            cache.prune(c.state.allocs)
        if prefix:
            allocs = c.state.ordered("allocs", c.state.allocs, "id")
            token, key = (lambda a: a["ID"]), (lambda t: t)
        else:
            allocs = c.state.ordered("allocs", c.state.allocs, "create")
            token, key = create_index_token, index_token_key
        page, next_token = paginate(
            req, allocs, token=token, sort_key=key,
            include=lambda a: ns_matches(a["Namespace"], ns, req) and a["ID"].startswith(prefix),
            project=project,
        )
        return json_response(req, page, index=index, meta=True, next_token=next_token)


def alloc_get(c: SimCluster, req: Request, alloc_id: str) -> Response:
    if req.method != "GET":
        raise NomadHTTPError(405, "Invalid method")
    index = blocking_on(c, req, "allocs", lambda: modify_index(c.state.allocs.get(alloc_id)))
    with c.state.lock:
        alloc = c.state.allocs.get(alloc_id)
        if alloc is None:
            raise NomadHTTPError(404, "alloc not found", meta_headers(index))
        if not visible(req, alloc["Namespace"], "read-job"):
            # Alloc.GetAlloc answers structs.NewErrUnknownAllocation, an uncoded error: 500.
            raise NomadHTTPError(500, f'Unknown allocation "{alloc_id}"')
        return json_response(req, alloc, index=index, meta=True)


def alloc_stop(c: SimCluster, req: Request, alloc_id: str) -> Response:
    with c.state.lock:
        alloc = c.state.allocs.get(alloc_id)
        if alloc is not None:
            require_ns(req, alloc["Namespace"], "alloc-lifecycle")
    reply = c.stop_alloc(
        alloc_id,
        no_shutdown_delay=query_bool(req, "no_shutdown_delay"),
        reschedule=query_bool(req, "reschedule"),
    )
    return json_response(req, reply, index=reply["Index"])


def alloc_unknown(c: SimCluster, req: Request, alloc_id: str, sub: str) -> Response:
    raise NomadHTTPError(404, "resource not found")


def register(router: Router) -> None:
    router.add("GET", r"/v1/allocations", allocs_list)
    router.add("PUT|POST", r"/v1/allocation/(?P<alloc_id>[^/]+)/stop", alloc_stop)
    router.add("*", r"/v1/allocation/(?P<alloc_id>[^/]+)/(?P<sub>.+)", alloc_unknown)
    router.add("*", r"/v1/allocation/(?P<alloc_id>[^/]+)", alloc_get)
