"""Routes under ``/v1/jobs`` and ``/v1/job/:id`` (REFERENCE §2)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .. import request_types, wire
from ..acl import require_ns
from ..errors import NomadHTTPError, bad_request
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
    query_go_int,
)
from .common import ci_get, decode_body, job_token_key, ns_matches

if TYPE_CHECKING:
    from ..cluster import SimCluster

__all__ = ["register"]

# Sub-resources checked by suffix, in the order Nomad's jobSpecificRequest checks them.
_SUFFIXES = (
    "evaluate", "allocations", "evaluations", "periodic/force", "plan", "summary", "dispatch",
    "dispatch/payload", "versions", "revert", "deployments", "deployment", "stable", "scale", "services",
    "submission",
)


def jobs_list(c: SimCluster, req: Request) -> Response:
    """GET /v1/jobs: JobListStubs sorted by (namespace, ID); blocking on jobs + summaries."""
    index = blocking(c, req, ["jobs", "job_summary"])
    ns = namespace_of(req)
    prefix = req.param("prefix") or ""
    meta = query_bool(req, "meta")
    with c.state.lock:
        jobs = sorted(
            (j for (jns, jid), j in c.state.jobs.items()
             if ns_matches(jns, ns, req, "list-jobs") and jid.startswith(prefix)),
            key=lambda j: (j["Namespace"], j["ID"]),
        )
        page, next_token = paginate(
            req, jobs,
            token=lambda j: f"{j['Namespace']}.{j['ID']}",
            sort_key=job_token_key,
            project=lambda j: wire.job_stub(j, c.state.job_summaries[(j["Namespace"], j["ID"])], meta=meta),
        )
        return json_response(req, page, index=index, meta=True, next_token=next_token)


def jobs_register(c: SimCluster, req: Request) -> Response:
    """PUT/POST /v1/jobs."""
    reply = _register(c, req, None)
    return json_response(req, reply, index=reply["Index"])


def _register(c: SimCluster, req: Request, path_id: str | None) -> dict[str, Any]:
    body = decode_body(req, request_types.JOB_REGISTER)
    job = ci_get(body, "Job")
    if not job:
        raise bad_request("Job must be specified")
    if path_id is not None and ci_get(job, "ID") != path_id:
        raise bad_request("Job ID does not match name")
    namespace = namespace_for_job(req, body, job)
    require_ns(req, namespace, "submit-job")
    return c.register_job(
        job,
        namespace=namespace,
        enforce_index=bool(ci_get(body, "EnforceIndex", False)),
        job_modify_index=int(ci_get(body, "JobModifyIndex", 0) or 0),
        eval_priority=int(ci_get(body, "EvalPriority", 0) or 0),
        preserve_counts=bool(ci_get(body, "PreserveCounts", False)),
        submission=ci_get(body, "Submission"),
    )


def namespace_for_job(req: Request, body: Any, job: Any) -> str:
    """The namespace a job body is written to, as Nomad's ``namespaceForJob`` picks it
    (``command/agent/job_endpoint.go``): ``?namespace=`` first, then the request body's
    ``Namespace``, then ``Job.Namespace``, else ``default``."""
    for candidate in (req.param("namespace"), ci_get(body, "Namespace"), ci_get(job, "Namespace")):
        if isinstance(candidate, str) and candidate:
            return candidate
    return "default"


def job_specific(c: SimCluster, req: Request, rest: str) -> Response:
    for suffix in _SUFFIXES:
        if rest.endswith("/" + suffix):
            job_id = rest[: -len(suffix) - 1]
            return _SUB[suffix](c, req, job_id)
    return job_crud(c, req, rest)


def job_crud(c: SimCluster, req: Request, job_id: str) -> Response:
    ns = namespace_of(req)
    if req.method == "GET":
        index = blocking_on(c, req, "jobs", lambda: modify_index(c.get_job(ns, job_id)))
        with c.state.lock:
            job = c.get_job(ns, job_id)
            if job is None:
                raise NomadHTTPError(404, "job not found", meta_headers(index))
            return json_response(req, job, index=index, meta=True)
    if req.method in ("PUT", "POST"):
        reply = _register(c, req, job_id)
        return json_response(req, reply, index=reply["Index"])
    if req.method == "DELETE":
        purge = query_bool(req, "purge")
        query_bool(req, "global")
        query_bool(req, "no_shutdown_delay")
        priority = query_go_int(req, "eval_priority", 0)
        reply = c.deregister_job(ns, job_id, purge=purge, eval_priority=priority)
        return json_response(req, reply, index=reply["Index"])
    raise NomadHTTPError(405, "Invalid method")


def _get_only(req: Request) -> None:
    if req.method != "GET":
        raise NomadHTTPError(405, "Invalid method")


def job_allocations(c: SimCluster, req: Request, job_id: str) -> Response:
    _get_only(req)
    index = blocking(c, req, ["allocs"])
    ns = namespace_of(req)
    show_all = query_bool(req, "all")
    with c.state.lock:
        allocs = c.state.job_allocs(ns, job_id)
        job = c.get_job(ns, job_id)
        if not show_all and job is not None:
            allocs = [a for a in allocs if a["Job"].get("CreateIndex") == job["CreateIndex"]]
        allocs.sort(key=lambda a: a["CreateIndex"])
        return json_response(req, [wire.alloc_stub(a, copy=False) for a in allocs], index=index, meta=True)


def job_evaluations(c: SimCluster, req: Request, job_id: str) -> Response:
    _get_only(req)
    index = blocking(c, req, ["evals"])
    with c.state.lock:
        evals = sorted(c.job_evals(namespace_of(req), job_id), key=lambda e: e["CreateIndex"])
        return json_response(req, evals, index=index, meta=True)


def job_deployments(c: SimCluster, req: Request, job_id: str) -> Response:
    _get_only(req)
    index = blocking(c, req, ["deployment"])
    ns = namespace_of(req)
    with c.state.lock:
        deps = [d for d in c.state.deployments.values() if d["JobID"] == job_id and d["Namespace"] == ns]
        deps.sort(key=lambda d: d["CreateIndex"], reverse=True)
        return json_response(req, deps, index=index, meta=True)


def job_deployment(c: SimCluster, req: Request, job_id: str) -> Response:
    _get_only(req)
    index = blocking(c, req, ["deployment"])
    with c.state.lock:
        return json_response(req, c.latest_deployment(namespace_of(req), job_id), index=index, meta=True)


def job_summary(c: SimCluster, req: Request, job_id: str) -> Response:
    _get_only(req)
    key = (namespace_of(req), job_id)
    index = blocking_on(c, req, "job_summary", lambda: modify_index(c.state.job_summaries.get(key)))
    with c.state.lock:
        summary = c.state.job_summaries.get(key)
        if summary is None:
            raise NomadHTTPError(404, "job not found", meta_headers(index))
        return json_response(req, summary, index=index, meta=True)


def job_versions(c: SimCluster, req: Request, job_id: str) -> Response:
    _get_only(req)
    index = blocking(c, req, ["job_version"])
    diffs = query_bool(req, "diffs")
    with c.state.lock:
        versions = c.job_versions(namespace_of(req), job_id)
        if not versions:
            raise NomadHTTPError(404, "job versions not found")
        out_diffs = None
        if diffs:
            out_diffs = [wire.job_diff(versions[i + 1], versions[i]) for i in range(len(versions) - 1)]
        payload = {"Versions": versions, "Diffs": out_diffs, "Index": index,
                   "LastContact": 0, "KnownLeader": True, "NextToken": ""}
        return json_response(req, payload, index=index, meta=True)


def job_plan(c: SimCluster, req: Request, job_id: str) -> Response:
    if req.method not in ("PUT", "POST"):
        raise NomadHTTPError(405, "Invalid method")
    body = decode_body(req, request_types.JOB_PLAN)
    job = ci_get(body, "Job")
    if not job:
        raise bad_request("Job must be specified")
    if ci_get(job, "ID") != job_id:
        raise bad_request("Job ID does not match")
    namespace = namespace_for_job(req, body, job)
    require_ns(req, namespace, "submit-job")
    reply = c.plan_job(job, namespace=namespace, diff=bool(ci_get(body, "Diff", False)))
    return json_response(req, reply, index=reply["Index"])


def job_scale(c: SimCluster, req: Request, job_id: str) -> Response:
    ns = namespace_of(req)
    if req.method == "GET":
        index = blocking(c, req, ["jobs", "allocs", "deployment", "scaling_event"])
        with c.state.lock:
            job = c.get_job(ns, job_id)
            if job is None:
                raise NomadHTTPError(404, "job not found")
            status = wire.job_scale_status(job, c.state.job_allocs(ns, job_id),
                                           c.state.scaling_events.get((ns, job_id), {}))
            return json_response(req, status, index=index, meta=True)
    if req.method not in ("PUT", "POST"):
        raise NomadHTTPError(405, "Invalid method")
    body = decode_body(req, request_types.SCALING) or {}
    target = ci_get(body, "Target") or {}
    if ci_get(target, "Job") and ci_get(target, "Job") != job_id:
        raise bad_request("job ID in payload did not match URL")
    if ci_get(target, "Namespace") and ci_get(target, "Namespace") != ns:
        raise bad_request("namespace in payload did not match header")
    count = ci_get(body, "Count")
    reply = c.scale_job(
        ns, job_id,
        group=ci_get(target, "Group") or "",
        count=None if count is None else int(count),
        message=ci_get(body, "Message") or "",
        error=bool(ci_get(body, "Error", False)),
        meta=ci_get(body, "Meta"),
        job_modify_index=int(ci_get(body, "JobModifyIndex", 0) or 0),
    )
    return json_response(req, reply, index=reply["Index"])


def job_evaluate(c: SimCluster, req: Request, job_id: str) -> Response:
    if req.method not in ("PUT", "POST"):
        raise NomadHTTPError(405, "Invalid method")
    body = decode_body(req, request_types.JOB_EVALUATE, required=False)
    if body is not None:
        body_id = ci_get(body, "JobID")
        if not body_id:
            raise bad_request("Job ID must be specified")
        if body_id != job_id:
            raise bad_request("JobID not same as job name")
    reply = c.evaluate_job(namespace_of(req), job_id)
    return json_response(req, reply, index=reply["Index"])


def job_submission(c: SimCluster, req: Request, job_id: str) -> Response:
    _get_only(req)
    raw = req.param("version")
    try:
        version = int(raw or "")
        if version < 0:
            raise ValueError
    except ValueError:
        raise bad_request("Unable to parse job submission version parameter") from None
    blocking(c, req, ["job_submission"])
    with c.state.lock:
        sub = c.state.job_submissions.get((namespace_of(req), job_id, version))
        if sub is None:
            raise NomadHTTPError(404, "job source not found")
        return json_response(req, sub, index=sub["JobModifyIndex"], meta=True)


def jobs_parse(c: SimCluster, req: Request) -> Response:
    """PUT/POST /v1/jobs/parse: an HCL2 jobspec as the API ``Job`` (``jobspec2``).

    The token needs ``parse-job`` or ``submit-job`` on ``?namespace=`` (checked by the router
    before the body is read, as ``JobsParseRequest`` resolves the token first).
    """
    from ..jobspec import JobspecError, canonicalize, parse_jobspec

    body = decode_body(req, request_types.JOBS_PARSE)
    text = ci_get(body, "JobHCL") or ""
    if not text:
        raise bad_request("Job spec is empty")
    try:
        job = parse_jobspec(text, ci_get(body, "Variables") or "")
    except JobspecError as exc:
        raise bad_request(f"Failed to parse job: {exc}") from None
    if ci_get(body, "Canonicalize"):
        canonicalize(job)
    return json_response(req, job)


def validate_job(c: SimCluster, req: Request) -> Response:
    """PUT/POST /v1/validate/job: ``{"Job": …}`` checked as ``Job.Validate`` checks it.

    Always 200 once the body decodes: validation errors are reported in the answer
    (``ValidationErrors``, ``Error``), not as a status. ``read-job`` on the job's namespace.
    """
    from ..wire_common import multierror
    from ..wire_jobs import validation_errors

    body = decode_body(req, request_types.JOB_REGISTER)
    job = ci_get(body, "Job")
    if not job:
        raise bad_request("Job must be specified")
    spec = dict(job)
    if ci_get(spec, "ID") is None:
        spec["ID"] = ""
    canonical = wire.canonicalize_job(spec, region=c.region, validate=False)
    require_ns(req, canonical["Namespace"], "read-job")
    errors = validation_errors(canonical)
    reply = {"DriverConfigValidated": True, "ValidationErrors": errors or None,
             "Error": multierror(errors) if errors else "", "Warnings": ""}
    return json_response(req, reply)


def _write_only(req: Request) -> None:
    if req.method not in ("PUT", "POST"):
        raise NomadHTTPError(405, "Invalid method")


def _job_id_body(req: Request, job_id: str, schema: Any) -> Any:
    """A body whose ``JobID`` must be given and match the path (revert, stable)."""
    body = decode_body(req, schema)
    body_id = ci_get(body, "JobID")
    if not body_id:
        raise bad_request("JobID must be specified")
    if body_id != job_id:
        raise bad_request("Job ID does not match")
    return body


def _write_namespace(req: Request, body: Any) -> str:
    """``parseWriteRequest``: ``?namespace=`` over the body's ``Namespace``, else ``default``."""
    for candidate in (req.param("namespace"), ci_get(body, "Namespace")):
        if isinstance(candidate, str) and candidate:
            return candidate
    return "default"


def job_revert(c: SimCluster, req: Request, job_id: str) -> Response:
    """PUT/POST /v1/job/:id/revert (``submit-job`` or ``revert-job``)."""
    _write_only(req)
    body = _job_id_body(req, job_id, request_types.JOB_REVERT)
    ns = _write_namespace(req, body)
    require_ns(req, ns, "submit-job", "revert-job")
    prior = ci_get(body, "EnforcePriorVersion")
    reply = c.revert_job(ns, job_id, int(ci_get(body, "JobVersion") or 0),
                         enforce_prior_version=None if prior is None else int(prior))
    return json_response(req, reply, index=reply["Index"], meta=True)


def job_stable(c: SimCluster, req: Request, job_id: str) -> Response:
    """PUT/POST /v1/job/:id/stable (``submit-job`` or ``stable-job``); answers ``{"Index": N}``."""
    _write_only(req)
    body = _job_id_body(req, job_id, request_types.JOB_STABLE)
    ns = _write_namespace(req, body)
    require_ns(req, ns, "submit-job", "stable-job")
    reply = c.set_job_stability(ns, job_id, int(ci_get(body, "JobVersion") or 0),
                                bool(ci_get(body, "Stable", False)))
    return json_response(req, reply, index=reply["Index"])


def _payload(text: str) -> bytes:
    """A ``[]byte`` field as Go's decoder reads it: standard base64, padded."""
    import base64
    import binascii

    try:
        return base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        alphabet = set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/=")
        bad = next((i for i, ch in enumerate(text) if ch not in alphabet), len(text) - len(text) % 4)
        raise bad_request(f"illegal base64 data at input byte {bad}") from None


def job_dispatch(c: SimCluster, req: Request, job_id: str) -> Response:
    """PUT/POST /v1/job/:id/dispatch (``dispatch-job``): a child of a parameterized job."""
    _write_only(req)
    body = decode_body(req, request_types.JOB_DISPATCH)
    body_id = ci_get(body, "JobID")
    if body_id and body_id != job_id:
        raise bad_request("Job ID does not match")
    payload = _payload(ci_get(body, "Payload") or "")
    return _dispatch(c, req, job_id, body, payload)


def job_dispatch_payload(c: SimCluster, req: Request, job_id: str) -> Response:
    """PUT/POST /v1/job/:id/dispatch/payload: the raw body is the payload."""
    _write_only(req)
    return _dispatch(c, req, job_id, {}, req.body)


def _dispatch(c: SimCluster, req: Request, job_id: str, body: Any, payload: bytes) -> Response:
    ns = _write_namespace(req, body)
    require_ns(req, ns, "dispatch-job")
    token = req.param("idempotency_token") or ci_get(body, "IdempotencyToken") or ""
    reply = c.dispatch_job(
        ns, job_id, payload=payload, meta=ci_get(body, "Meta") or {},
        id_prefix_template=ci_get(body, "IdPrefixTemplate") or "", priority=int(ci_get(body, "Priority") or 0),
        idempotency_token=token,
    )
    return json_response(req, reply, index=reply["Index"])


def job_periodic_force(c: SimCluster, req: Request, job_id: str) -> Response:
    """PUT/POST /v1/job/:id/periodic/force (``dispatch-job``, ``submit-job`` or ``force-periodic-job``)."""
    _write_only(req)
    ns = namespace_of(req)
    require_ns(req, ns, "dispatch-job", "submit-job", "force-periodic-job")
    reply = c.force_periodic(ns, job_id)
    return json_response(req, reply, index=reply["Index"])


def _job_services(c: SimCluster, req: Request, job_id: str) -> Response:
    from .services import job_services

    return job_services(c, req, job_id)


_SUB = {
    "evaluate": job_evaluate,
    "allocations": job_allocations,
    "evaluations": job_evaluations,
    "periodic/force": job_periodic_force,
    "plan": job_plan,
    "summary": job_summary,
    "dispatch": job_dispatch,
    "dispatch/payload": job_dispatch_payload,
    "versions": job_versions,
    "revert": job_revert,
    "deployments": job_deployments,
    "deployment": job_deployment,
    "stable": job_stable,
    "scale": job_scale,
    "services": _job_services,
    "submission": job_submission,
}


def register(router: Router) -> None:
    router.add("GET", r"/v1/jobs", jobs_list)
    router.add("PUT|POST", r"/v1/jobs", jobs_register)
    router.add("PUT|POST", r"/v1/jobs/parse", jobs_parse)
    router.add("PUT|POST", r"/v1/validate/job", validate_job)
    router.add("*", r"/v1/job/(?P<rest>.+)", job_specific)
