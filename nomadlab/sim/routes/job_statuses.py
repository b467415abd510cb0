"""``GET|POST /v1/jobs/statuses``: the job list of Nomad's web UI (``Job.Statuses``, Nomad 1.8+).

As ``command/agent/job_endpoint_statuses.go`` and ``nomad/job_endpoint_statuses.go``: one row per
job (a ``JobStatusesJob``) with its allocations, its latest deployment or, for a periodic or
parameterized parent, its children's statuses. The UI polls it as a blocking query whose index
is the highest ``ModifyIndex`` seen *on the page*, so changes elsewhere do not wake it.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from ..acl import PERMISSION_DENIED, acl_of
from ..bexpr import FilterEvalError, FilterSyntaxError, compile_filter
from ..errors import NomadHTTPError, bad_request
from ..gojson import GoJSONError, Slice, Struct, decode
from ..http import Request, Response
from ..router import (
    DEFAULT_BLOCKING_S,
    JITTER_FRACTION,
    MAX_BLOCKING_S,
    Router,
    blocking_params,
    json_response,
    namespace_of,
    parse_bool,
    query_int,
)
from .common import ci_get

if TYPE_CHECKING:
    from ..cluster import SimCluster

__all__ = ["register", "jobs_statuses", "JOB_STATUSES_BODY"]

_NAMESPACED_ID = Struct("api.NamespacedID", {"ID": "string", "Namespace": "string"})
JOB_STATUSES_BODY = Struct("api.JobStatusesRequest", {
    "Jobs": Slice(_NAMESPACED_ID, "[]api.NamespacedID"), "IncludeChildren": "bool",
})
_ACTIVE_DEPLOYMENT = ("running", "paused", "blocked", "unblocking", "initializing", "pending")


def _statuses_alloc(a: dict[str, Any]) -> dict[str, Any]:
    """A ``JobStatusesAlloc`` (``nomad/structs/job.go``)."""
    ds = a.get("DeploymentStatus") or {}
    return {
        "ID": a["ID"], "Group": a["TaskGroup"], "ClientStatus": a["ClientStatus"], "NodeID": a.get("NodeID", ""),
        "DeploymentStatus": {"Canary": bool(ds.get("Canary")), "Healthy": ds.get("Healthy")},
        "JobVersion": (a.get("Job") or {}).get("Version", 0), "FollowupEvalID": a.get("FollowupEvalID", ""),
        "HasPausedTask": False,  # pausing tasks is Enterprise's
    }


def _statuses_deployment(d: dict[str, Any]) -> dict[str, Any]:
    """A ``JobStatusesLatestDeployment``: ``RequiresPromotion`` and ``AllAutoPromote`` as the
    ``Deployment`` methods compute them (running deployments only)."""
    groups = list((d.get("TaskGroups") or {}).values())
    running = d["Status"] == "running" and bool(groups)
    return {
        "ID": d["ID"], "IsActive": d["Status"] in _ACTIVE_DEPLOYMENT, "JobVersion": d["JobVersion"],
        "Status": d["Status"], "StatusDescription": d["StatusDescription"],
        "AllAutoPromote": running and all(g.get("AutoPromote") or not g.get("DesiredCanaries") for g in groups),
        "RequiresPromotion": running and any(g.get("DesiredCanaries") and not g.get("Promoted") for g in groups),
    }


def _statuses_job(c: SimCluster, job: dict[str, Any], latest: dict[tuple[str, str], dict[str, Any]],
                  children: dict[tuple[str, str], list[dict[str, Any]]]) -> tuple[dict[str, Any], int]:
    """``jobStatusesJobFromJob``: the row and the highest index among the job, its allocations
    (or children) and its latest deployment."""
    key = (job["Namespace"], job["ID"])
    highest = int(job["ModifyIndex"])
    row: dict[str, Any] = {
        "ID": job["ID"], "Namespace": job["Namespace"], "Name": job["Name"], "Type": job["Type"],
        "NodePool": job.get("NodePool", ""), "Datacenters": job.get("Datacenters"), "Priority": job["Priority"],
        "Version": job["Version"], "SubmitTime": job["SubmitTime"], "ModifyIndex": job["ModifyIndex"],
        "Allocs": None, "GroupCountSum": sum(int(g.get("Count") or 0) for g in job.get("TaskGroups") or ()),
        "ChildStatuses": None, "ParentID": job.get("ParentID", ""), "LatestDeployment": None,
        "Stop": bool(job.get("Stop")), "IsPack": "pack.name" in (job.get("Meta") or {}), "Status": job["Status"],
    }
    if job.get("ParameterizedJob") is not None or job.get("Periodic") is not None:
        # Nomad walks the jobs under the parent's ID prefix in ID order, keeping direct children
        kids = sorted(children.get(key, ()), key=lambda j: j["ID"])
        row["ChildStatuses"] = [k["Status"] for k in kids]
        highest = max([highest, *(int(k["ModifyIndex"]) for k in kids)])
        return row, highest
    allocs = c.state.job_allocs(*key)
    if allocs:
        allocs = sorted(allocs, key=lambda a: a["ID"])  # AllocsByJob walks the ID index
        row["Allocs"] = [_statuses_alloc(a) for a in allocs]
        highest = max([highest, *(int(a["ModifyIndex"]) for a in allocs)])
    dep = latest.get(key)
    if dep is not None:
        row["LatestDeployment"] = _statuses_deployment(dep)
        highest = max(highest, int(dep["ModifyIndex"]))
    return row, highest


def jobs_statuses(c: SimCluster, req: Request) -> Response:
    """GET/POST /v1/jobs/statuses: the web UI's job list (``Job.Statuses``, Nomad 1.8+).

    Jobs are walked by ``ModifyIndex``, most recently changed first (``reverse=true`` turns it
    round); ``next_token`` is a ``ModifyIndex``; children are left out unless
    ``include_children``; a POST body ``{"Jobs": [{"ID", "Namespace"}]}`` picks jobs (any
    namespace, one page). ``X-Nomad-Index`` is the highest index among the jobs, allocations,
    children and deployments on the page, so a blocking query wakes only for changes on its
    page, or when the page's jobs change (then the jobs table's index).
    """
    ns = namespace_of(req)
    raw = req.param("include_children") or ""
    try:
        include_children = parse_bool(raw) if raw else False
    except ValueError as exc:
        raise bad_request(f'Failed to parse value of "include_children" ({raw}) as a bool: {exc}') from None
    wanted: set[tuple[str, str]] | None = None
    if req.body:
        try:
            body = decode(req.body, JOB_STATUSES_BODY)
        except GoJSONError as exc:
            raise bad_request(f"error decoding request: {exc}") from None
        listed = ci_get(body, "Jobs") or []
        if not listed:
            raise bad_request("no jobs in request")
        if ns == "default":
            ns = "*"
        wanted = {(str(ci_get(j, "Namespace") or "default"), str(ci_get(j, "ID") or "")) for j in listed
                  if isinstance(j, dict)}
        include_children = include_children or bool(ci_get(body, "IncludeChildren"))
        spaces = {n for n, _ in wanted}
        if len(spaces) == 1:
            ns = next(iter(spaces))
    acl = acl_of(req)
    if acl is not None and not acl.allow_ns(ns, "read-job"):
        raise NomadHTTPError(403, PERMISSION_DENIED)
    flt: Callable[[Any], bool] | None = None
    if req.param("filter"):
        try:
            flt = compile_filter(req.param("filter") or "")
        except FilterSyntaxError as exc:  # a coded 500 in Job.Statuses, not the lists' 400
            raise NomadHTTPError(500, f"failed to create result paginator: failed to read filter expression: "
                                      f"{exc}") from None
    per_page = len(wanted) if wanted is not None else query_int(req, "per_page", 0)
    token = req.param("next_token") or ""
    try:
        target = int(token) if token else 0
    except ValueError:
        target = 0  # Nomad's tokenizer reads a bad token as 0
    descending = req.param("reverse") != "true"  # the endpoint inverts the default order

    def run() -> tuple[list[dict[str, Any]], str, int, set[tuple[str, str]]]:
        s = c.state
        latest: dict[tuple[str, str], dict[str, Any]] = {}
        for d in s.deployments.values():
            k = (d["Namespace"], d["JobID"])
            if k not in latest or d["CreateIndex"] > latest[k]["CreateIndex"]:
                latest[k] = d
        children: dict[tuple[str, str], list[dict[str, Any]]] = {}
        for (jns, _), j in s.jobs.items():
            if j.get("ParentID"):
                children.setdefault((jns, j["ParentID"]), []).append(j)
        jobs = sorted(s.jobs.values(), key=lambda j: (j["ModifyIndex"], j["Namespace"], j["ID"]),
                      reverse=descending)
        page: list[dict[str, Any]] = []
        seen: set[tuple[str, str]] = set()
        highest = 0
        next_token = ""
        found = not token
        for job in jobs:
            mi = int(job["ModifyIndex"])
            if not found and ((mi > target) if descending else (mi < target)):
                continue
            if flt is not None:
                try:
                    if not flt(job):
                        continue
                except FilterEvalError as exc:
                    raise NomadHTTPError(500, f"failed to read result page: {exc}") from None
            key = (job["Namespace"], job["ID"])
            if ns != "*" and key[0] != ns:
                continue
            if acl is not None and not acl.allow_ns(key[0], "read-job"):
                continue
            if not include_children and job.get("ParentID"):
                continue
            if wanted is not None and key not in wanted:
                continue
            found = True
            if per_page and len(page) == per_page:
                next_token = str(mi)
                break
            row, top = _statuses_job(c, job, latest, children)
            page.append(row)
            seen.add(key)
            highest = max(highest, top)
        return page, next_token, highest, seen

    params = blocking_params(req)
    with c.state.lock:
        page, next_token, index, first = run()
        if params.index > 0 and index <= params.index:
            wait = min(params.wait_s if params.wait_s > 0 else DEFAULT_BLOCKING_S, MAX_BLOCKING_S)
            wait = min(wait + random.random() * wait / JITTER_FRACTION, c.max_blocking_wait_s)
            seen_at = c.state.index

            def fresh() -> bool:
                # Nomad's blockingRPC re-runs the query whenever its watch set fires; the
                # index only grows across runs, and a change of the page's jobs reports
                # the jobs table's index.
                nonlocal page, next_token, index, seen_at
                if c.state.index == seen_at:
                    return False  # nothing written since the last run
                seen_at = c.state.index
                page, next_token, top, now = run()
                if now != first:
                    top = max(top, c.state.table_index.get("jobs", 0))
                index = max(index, top)
                return index > params.index

            c.state.wait_until(fresh, wait)
        return json_response(req, page, index=index, meta=True, next_token=next_token)


def register(router: Router) -> None:
    router.add("GET|POST", r"/v1/jobs/statuses", jobs_statuses)
