"""Routes under ``/v1/nodes`` and ``/v1/node/:id`` (REFERENCE §4)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from .. import request_types, wire
from ..acl import visible
from ..errors import NomadHTTPError, bad_request
from ..http import Request, Response
from ..router import Router, blocking, blocking_on, json_response, meta_headers, modify_index, paginate, query_bool
from .common import ci_get, decode_body

if TYPE_CHECKING:
    from ..cluster import SimCluster

__all__ = ["register"]


def nodes_list(c: SimCluster, req: Request) -> Response:
    """GET /v1/nodes: NodeListStubs sorted by ID."""
    index = blocking(c, req, ["nodes"])
    prefix = req.param("prefix") or ""
    resources = query_bool(req, "resources")
    os_attr = query_bool(req, "os")
    with c.state.lock:
        nodes = c.state.ordered("nodes", c.state.nodes, "id")
        page, next_token = paginate(
            req, nodes, token=lambda n: n["ID"], sort_key=lambda t: t,
            include=lambda n: n["ID"].startswith(prefix),
            project=lambda n: wire.node_stub(n, resources=resources, os=os_attr),
        )
        return json_response(req, page, index=index, meta=True, next_token=next_token)


def node_get(c: SimCluster, req: Request, node_id: str) -> Response:
    if req.method != "GET":
        raise NomadHTTPError(405, "Invalid method")
    index = blocking_on(c, req, "nodes", lambda: modify_index(c.state.nodes.get(node_id)))
    with c.state.lock:
        node = c.state.nodes.get(node_id)
        if node is None:
            raise NomadHTTPError(404, "node not found", meta_headers(index))
        return json_response(req, node, index=index, meta=True)


def node_allocations(c: SimCluster, req: Request, node_id: str) -> Response:
    if req.method != "GET":
        raise NomadHTTPError(405, "Invalid method")
    index = blocking(c, req, ["allocs"])
    with c.state.lock:
        allocs = sorted((a for a in c.state.node_allocs(node_id) if visible(req, a["Namespace"], "read-job")),
                        key=lambda a: a["CreateIndex"])
        return json_response(req, allocs, index=index, meta=True)


def node_drain(c: SimCluster, req: Request, node_id: str) -> Response:
    body = decode_body(req, request_types.NODE_DRAIN)
    spec = ci_get(body, "DrainSpec")
    if spec is not None and not isinstance(spec, dict):
        raise bad_request("DrainSpec must be an object")
    reply = c.drain_node(node_id, spec, mark_eligible=bool(ci_get(body, "MarkEligible", False)),
                         meta=ci_get(body, "Meta"))
    return json_response(req, reply, index=reply["Index"])


def node_eligibility(c: SimCluster, req: Request, node_id: str) -> Response:
    body = decode_body(req, request_types.NODE_ELIGIBILITY)
    reply = c.set_eligibility(node_id, ci_get(body, "Eligibility") or "")
    return json_response(req, reply, index=reply["Index"])


def node_purge(c: SimCluster, req: Request, node_id: str) -> Response:
    """PUT/POST /v1/node/:id/purge: deregister the node; a NodeUpdateResponse."""
    reply = c.purge_node(node_id)
    return json_response(req, reply, index=reply["Index"])


def node_evaluate(c: SimCluster, req: Request, node_id: str) -> Response:
    """PUT/POST /v1/node/:id/evaluate: re-evaluate the jobs on the node; a NodeUpdateResponse."""
    reply = c.evaluate_node(node_id)
    return json_response(req, reply, index=reply["Index"])


def register(router: Router) -> None:
    router.add("GET", r"/v1/nodes", nodes_list)
    router.add("GET", r"/v1/node/(?P<node_id>[^/]+)/allocations", node_allocations)
    router.add("PUT|POST", r"/v1/node/(?P<node_id>[^/]+)/drain", node_drain)
    router.add("PUT|POST", r"/v1/node/(?P<node_id>[^/]+)/eligibility", node_eligibility)
    router.add("PUT|POST", r"/v1/node/(?P<node_id>[^/]+)/purge", node_purge)
    router.add("PUT|POST", r"/v1/node/(?P<node_id>[^/]+)/evaluate", node_evaluate)
    router.add("*", r"/v1/node/(?P<node_id>[^/]+)", node_get)
