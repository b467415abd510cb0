"""Routes for evaluations and deployments (REFERENCE §6, §11.7)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .. import request_types, wire
from ..acl import require_ns, visible
from ..errors import NomadHTTPError, bad_request
from ..http import Request, Response
from ..router import Router, blocking, blocking_on, json_response, meta_headers, modify_index, namespace_of, paginate
from .common import ci_get, create_index_token, decode_body, index_token_key, ns_matches

if TYPE_CHECKING:
    from ..cluster import SimCluster

__all__ = ["register"]


def evals_list(c: SimCluster, req: Request) -> Response:
    """GET /v1/evaluations, with ``job``/``status`` (not combinable with ``filter``)."""
    job = req.param("job") or ""
    status = req.param("status") or ""
    if (job or status) and req.param("filter"):
        raise bad_request("Filter expression cannot be used with other filter parameters")
    index = blocking(c, req, ["evals"])
    ns = namespace_of(req)
    prefix = req.param("prefix") or ""
    with c.state.lock:
        evals = c.state.ordered("evals", c.state.evals, "id" if prefix else "create")
        if prefix:
            token, key = (lambda e: e["ID"]), (lambda t: t)
        else:
            token, key = create_index_token, index_token_key
        page, next_token = paginate(
            req, evals, token=token, sort_key=key,
            include=lambda e: (ns_matches(e["Namespace"], ns, req) and e["ID"].startswith(prefix)
                               and (not job or e["JobID"] == job) and (not status or e["Status"] == status)),
        )
        return json_response(req, page, index=index, meta=True, next_token=next_token)


def eval_get(c: SimCluster, req: Request, eval_id: str) -> Response:
    if req.method != "GET":
        raise NomadHTTPError(405, "Invalid method")
    index = blocking_on(c, req, "evals", lambda: modify_index(c.state.evals.get(eval_id)))
    with c.state.lock:
        ev = c.state.evals.get(eval_id)
        if ev is None:
            raise NomadHTTPError(404, "eval not found", meta_headers(index))
        require_ns(req, ev["Namespace"], "read-job")
        return json_response(req, ev, index=index, meta=True)


def eval_allocations(c: SimCluster, req: Request, eval_id: str) -> Response:
    if req.method != "GET":
        raise NomadHTTPError(405, "Invalid method")
    index = blocking(c, req, ["allocs"])
    with c.state.lock:
        ids = c.state.allocs_by_eval.get(eval_id, {})
        allocs = sorted((c.state.allocs[i] for i in ids if i in c.state.allocs), key=lambda a: a["CreateIndex"])
        _check_first_namespace(req, allocs)
        return json_response(req, [wire.alloc_stub(a, copy=False) for a in allocs], index=index, meta=True)


def deployments_list(c: SimCluster, req: Request) -> Response:
    index = blocking(c, req, ["deployment"])
    ns = namespace_of(req)
    prefix = req.param("prefix") or ""
    with c.state.lock:
        deps = c.state.ordered("deployment", c.state.deployments, "id" if prefix else "create")
        if prefix:
            token, key = (lambda d: d["ID"]), (lambda t: t)
        else:
            token, key = create_index_token, index_token_key
        page, next_token = paginate(
            req, deps, token=token, sort_key=key,
            include=lambda d: ns_matches(d["Namespace"], ns, req) and d["ID"].startswith(prefix),
        )
        return json_response(req, page, index=index, meta=True, next_token=next_token)


def deployment_get(c: SimCluster, req: Request, dep_id: str) -> Response:
    if req.method != "GET":
        raise NomadHTTPError(405, "Invalid method")
    index = blocking_on(c, req, "deployment", lambda: modify_index(c.state.deployments.get(dep_id)))
    with c.state.lock:
        dep = c.state.deployments.get(dep_id)
        if dep is None or not visible(req, dep["Namespace"], "read-job"):
            # Deployment.GetDeployment hides a deployment the token may not read.
            raise NomadHTTPError(404, "deployment not found", meta_headers(index))
        return json_response(req, dep, index=index, meta=True)


def deployment_allocations(c: SimCluster, req: Request, dep_id: str) -> Response:
    index = blocking(c, req, ["allocs"])
    with c.state.lock:
        allocs = sorted((a for a in c.state.allocs.values() if a.get("DeploymentID") == dep_id),
                        key=lambda a: a["CreateIndex"])
        _check_first_namespace(req, allocs)
        return json_response(req, [wire.alloc_stub(a, copy=False) for a in allocs], index=index, meta=True)


def _check_first_namespace(req: Request, allocs: list[dict[str, Any]]) -> None:
    """``Eval.Allocations`` / ``Deployment.Allocations``: the allocations' namespace (that of
    the first one) needs ``read-job`` when it differs from the request's."""
    if allocs and allocs[0]["Namespace"] != namespace_of(req):
        require_ns(req, allocs[0]["Namespace"], "read-job")


def _deployment_for_write(c: SimCluster, req: Request, dep_id: str, cap: str) -> None:
    """``Deployment.Fail/Pause/Promote/SetAllocHealth``: the deployment is looked up first (500
    ``deployment not found``), then ``submit-job`` (or the 2.x ``cap``) is checked on *its*
    namespace."""
    dep = c.state.deployments.get(dep_id)
    if dep is None:
        raise NomadHTTPError(500, "deployment not found")
    require_ns(req, dep["Namespace"], "submit-job", cap)


def _deployment_body(req: Request, dep_id: str, schema: Any) -> Any:
    body = decode_body(req, schema)
    given = ci_get(body, "DeploymentID")
    if not given:
        raise bad_request("DeploymentID must be specified")
    if given != dep_id:
        raise bad_request("Deployment ID does not match")
    return body


def deployment_fail(c: SimCluster, req: Request, dep_id: str) -> Response:
    """PUT/POST /v1/deployment/fail/:id (no body read)."""
    with c.state.lock:
        _deployment_for_write(c, req, dep_id, "fail-deployment")
        reply = c.fail_deployment(dep_id)
    return json_response(req, reply, index=reply["Index"])


def deployment_pause(c: SimCluster, req: Request, dep_id: str) -> Response:
    """PUT/POST /v1/deployment/pause/:id: ``{DeploymentID, Pause}`` (false resumes)."""
    body = _deployment_body(req, dep_id, request_types.DEPLOYMENT_PAUSE)
    with c.state.lock:
        _deployment_for_write(c, req, dep_id, "pause-deployment")
        reply = c.pause_deployment(dep_id, bool(ci_get(body, "Pause", False)))
    return json_response(req, reply, index=reply["Index"])


def deployment_promote(c: SimCluster, req: Request, dep_id: str) -> Response:
    """PUT/POST /v1/deployment/promote/:id: ``{DeploymentID, All, Groups}``."""
    body = _deployment_body(req, dep_id, request_types.DEPLOYMENT_PROMOTE)
    with c.state.lock:
        _deployment_for_write(c, req, dep_id, "promote-deployment")
        reply = c.promote_deployment(dep_id, all_groups=bool(ci_get(body, "All", False)),
                                     groups=list(ci_get(body, "Groups") or []))
    return json_response(req, reply, index=reply["Index"])


def deployment_health(c: SimCluster, req: Request, dep_id: str) -> Response:
    """PUT/POST /v1/deployment/allocation-health/:id."""
    body = _deployment_body(req, dep_id, request_types.DEPLOYMENT_HEALTH)
    healthy = list(ci_get(body, "HealthyAllocationIDs") or [])
    unhealthy = list(ci_get(body, "UnhealthyAllocationIDs") or [])
    if not healthy and not unhealthy:
        raise NomadHTTPError(500, "must specify at least one healthy/unhealthy allocation ID")
    with c.state.lock:
        _deployment_for_write(c, req, dep_id, "set-alloc-health-deployment")
        reply = c.set_allocation_health(dep_id, healthy, unhealthy)
    return json_response(req, reply, index=reply["Index"])


def register(router: Router) -> None:
    router.add("GET", r"/v1/evaluations", evals_list)
    router.add("GET", r"/v1/evaluation/(?P<eval_id>[^/]+)/allocations", eval_allocations)
    router.add("*", r"/v1/evaluation/(?P<eval_id>[^/]+)", eval_get)
    router.add("GET", r"/v1/deployments", deployments_list)
    router.add("GET", r"/v1/deployment/allocations/(?P<dep_id>[^/]+)", deployment_allocations)
    router.add("PUT|POST", r"/v1/deployment/fail/(?P<dep_id>[^/]+)", deployment_fail)
    router.add("PUT|POST", r"/v1/deployment/pause/(?P<dep_id>[^/]+)", deployment_pause)
    router.add("PUT|POST", r"/v1/deployment/promote/(?P<dep_id>[^/]+)", deployment_promote)
    router.add("PUT|POST", r"/v1/deployment/allocation-health/(?P<dep_id>[^/]+)", deployment_health)
    router.add("*", r"/v1/deployment/(?P<dep_id>[^/]+)", deployment_get)
