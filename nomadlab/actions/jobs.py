"""Job actions: scale, stop, submit, revert, dispatch. Each returns a :class:`Plan`."""

from __future__ import annotations

import base64
import copy
import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from nomadlab.actions._acl import Need, check
from nomadlab.actions._follow import follow_eval
from nomadlab.actions._plan import Plan, StalePlanError, Waiter
from nomadlab.client import NomadClient
from nomadlab.errors import NomadError, NotFoundError, PermissionDeniedError

__all__ = ["dispatch", "revert", "scale", "stop", "submit"]


def _client(client: NomadClient | None) -> NomadClient:
    return client if client is not None else NomadClient()


def _job(client: NomadClient, job: str, namespace: str) -> dict[str, Any]:
    body: dict[str, Any] = client.get(f"/v1/job/{job}", namespace=namespace).body
    return body


def _guard(client: NomadClient, job: str, namespace: str, index: int) -> Any:
    def check_index() -> None:
        current = _job(client, job, namespace)["JobModifyIndex"]
        if current != index:
            raise StalePlanError(f"job {job!r} changed since this plan was made (JobModifyIndex "
                                 f"{index} -> {current}); nothing was written: plan again")
    return check_index


def _nomad_plan(client: NomadClient, spec: Mapping[str, Any], namespace: str) -> dict[str, Any]:
    """``POST /v1/job/:id/plan`` with ``Diff: true``."""
    body: dict[str, Any] = client.post(f"/v1/job/{spec['ID']}/plan", json={"Job": spec, "Diff": True},
                                       namespace=namespace).body
    return body


def _changes(plan: Mapping[str, Any]) -> dict[str, Any]:
    updates = ((plan.get("Annotations") or {}).get("DesiredTGUpdates") or {})
    out: dict[str, Any] = {}
    for group, u in updates.items():
        out[group] = {k: v for k, v in u.items() if v}
    return out


def _summary(changes: Mapping[str, Any]) -> str:
    parts = [f"{g}: " + ", ".join(f"{k} {v}" for k, v in c.items()) for g, c in changes.items() if c]
    return "; ".join(parts) or "no change"


def scale(client: NomadClient | None, job: str, group: str, count: int, *, namespace: str = "default",
          message: str | None = None) -> Plan:
    """Plan setting ``group``'s count.

    Endpoints: ``POST /v1/job/:id/plan`` (preview), ``POST /v1/job/:id/scale`` with
    ``JobModifyIndex`` (the write refuses if the job changed). Needs ``scale-job`` or
    ``submit-job`` on ``namespace``.
    """
    c = _client(client)
    token = check(c, Need(("scale-job", "submit-job"), namespace))
    current = _job(c, job, namespace)
    spec = copy.deepcopy(current)
    groups = [g for g in spec["TaskGroups"] if g["Name"] == group]
    if not groups:
        raise NomadError(f"job {job!r} has no group {group!r}: groups are "
                         f"{[g['Name'] for g in spec['TaskGroups']]}")
    before = groups[0]["Count"]
    groups[0]["Count"] = count
    try:
        preview = _nomad_plan(c, spec, namespace)
    except PermissionDeniedError:
        # Nomad's plan needs `submit-job`; a `scale` policy may scale without it.
        delta = count - int(before)
        preview = {"Annotations": {"DesiredTGUpdates": {group: {"Place": max(delta, 0), "Stop": max(-delta, 0)}}},
                   "Warnings": "no Nomad plan (it needs `submit-job`): the preview only counts allocations"}
    changes = _changes(preview)
    index = int(current["JobModifyIndex"])
    body: dict[str, Any] = {"Count": count, "Target": {"Group": group}, "JobModifyIndex": index,
                            "Message": message or f"scaled from {before} to {count} by nomadlab"}

    def write() -> Mapping[str, Any]:
        reply: Mapping[str, Any] = c.post(f"/v1/job/{job}/scale", json=body, namespace=namespace).body
        return reply

    def follow(reply: Mapping[str, Any], waiter: Waiter) -> Any:
        return follow_eval("scale", f"{job}/{group}", reply, waiter, namespace=namespace, job_id=job)

    return Plan("scale", f"{job}/{group}", namespace, f"count {before} -> {count}; " + _summary(changes),
                changes=changes, failures=dict(preview.get("FailedTGAllocs") or {}),
                diff=preview.get("Diff"), warnings=str(preview.get("Warnings") or ""),
                before={"count": before}, after={"count": count}, client=c, token=token, write=write,
                check=_guard(c, job, namespace, index), follow=follow)


def stop(client: NomadClient | None, job: str, *, purge: bool = False, namespace: str = "default") -> Plan:
    """Plan stopping a job (``DELETE /v1/job/:id``, ``?purge=true`` to purge). Needs ``submit-job``."""
    c = _client(client)
    token = check(c, Need(("submit-job",), namespace))
    current = _job(c, job, namespace)
    allocs = c.get(f"/v1/job/{job}/allocations", namespace=namespace).body
    live = [a for a in allocs if a.get("DesiredStatus") == "run" and a.get("ClientStatus") in ("pending", "running")]
    changes = {"allocations that stop": [f"{a['ID'][:8]} {a['TaskGroup']} on {a.get('NodeName', '')}" for a in live]}
    index = int(current["JobModifyIndex"])

    def write() -> Mapping[str, Any]:
        params = {"purge": "true"} if purge else None
        reply: Mapping[str, Any] = c.delete(f"/v1/job/{job}", params=params, namespace=namespace).body
        return reply

    def follow(reply: Mapping[str, Any], waiter: Waiter) -> Any:
        return follow_eval("stop", job, reply, waiter, namespace=namespace, job_id=job, place=False)

    return Plan("stop", job, namespace, f"{len(live)} allocation(s) stop" + (", job purged" if purge else ""),
                changes=changes, before={"status": current.get("Status"), "stop": current.get("Stop")},
                after={"stop": True, "purge": purge}, client=c, token=token, write=write,
                check=_guard(c, job, namespace, index), follow=follow)


def _load_spec(c: NomadClient, spec: Mapping[str, Any] | str | Path) -> dict[str, Any]:
    if isinstance(spec, Mapping):
        data = dict(spec)
        return dict(data["Job"]) if "Job" in data and isinstance(data["Job"], Mapping) else data
    text = Path(spec).read_text() if isinstance(spec, Path) or (
        isinstance(spec, str) and "\n" not in spec and spec.endswith((".hcl", ".nomad", ".json"))
        and Path(spec).exists()) else str(spec)
    stripped = text.lstrip()
    if stripped.startswith("{"):
        data = json.loads(text)
        return dict(data["Job"]) if "Job" in data else dict(data)
    try:
        # As Nomad's UI asks: `namespace=*` passes the token check when any namespace grants
        # `parse-job`; the job's own namespace is checked before planning.
        parsed: dict[str, Any] = c.post("/v1/jobs/parse", json={"JobHCL": text, "Canonicalize": True},
                                        namespace="*").body
    except NotFoundError as exc:
        raise NomadError(
            "this cluster does not parse HCL (POST /v1/jobs/parse answered 404): pass the job as "
            "a dict or JSON (`nomad job run -output job.nomad.hcl` prints it)"
        ) from exc
    return parsed


def submit(client: NomadClient | None, spec: Mapping[str, Any] | str | Path) -> Plan:
    """Plan registering a job given as a dict, JSON text, or HCL (text or file).

    HCL is parsed by the cluster (``POST /v1/jobs/parse``). Endpoints: ``POST /v1/job/:id/plan``,
    then ``POST /v1/jobs`` with ``EnforceIndex`` and the planned ``JobModifyIndex``. Needs
    ``submit-job`` on the job's namespace.
    """
    c = _client(client)
    job = _load_spec(c, spec)
    namespace = str(job.get("Namespace") or "default")
    job_id = str(job["ID"])
    token = check(c, Need(("submit-job",), namespace))
    preview = _nomad_plan(c, job, namespace)
    changes = _changes(preview)
    index = int(preview.get("JobModifyIndex") or 0)
    try:
        before = int(_job(c, job_id, namespace)["Version"])
    except NotFoundError:
        before = None

    def write() -> Mapping[str, Any]:
        body = {"Job": job, "EnforceIndex": True, "JobModifyIndex": index}
        reply: Mapping[str, Any] = c.post("/v1/jobs", json=body, namespace=namespace).body
        return reply

    def stale() -> None:
        try:
            current = int(_job(c, job_id, namespace)["JobModifyIndex"])
        except NotFoundError:
            current = 0
        if current != index:
            raise StalePlanError(f"job {job_id!r} changed since this plan was made (JobModifyIndex "
                                 f"{index} -> {current}); nothing was written: plan again")

    def follow(reply: Mapping[str, Any], waiter: Waiter) -> Any:
        return follow_eval("submit", job_id, reply, waiter, namespace=namespace, job_id=job_id)

    return Plan("submit", job_id, namespace, _summary(changes), changes=changes,
                failures=dict(preview.get("FailedTGAllocs") or {}), diff=preview.get("Diff"),
                warnings=str(preview.get("Warnings") or ""), before={"version": before},
                after={"job_modify_index_planned": index}, client=c, token=token, write=write,
                check=stale, follow=follow)


def revert(client: NomadClient | None, job: str, version: int, *, namespace: str = "default") -> Plan:
    """Plan reverting to ``version`` (``POST /v1/job/:id/revert`` with ``EnforcePriorVersion``).

    The preview is Nomad's plan of that version's spec. Needs ``submit-job``.
    """
    c = _client(client)
    token = check(c, Need(("submit-job",), namespace))
    current = _job(c, job, namespace)
    versions = c.get(f"/v1/job/{job}/versions", namespace=namespace).body["Versions"]
    old = [v for v in versions if v["Version"] == version]
    if not old:
        raise NomadError(f"job {job!r} has no version {version}: versions are {[v['Version'] for v in versions]}")
    preview = _nomad_plan(c, old[0], namespace)
    changes = _changes(preview)
    prior = int(current["Version"])

    def write() -> Mapping[str, Any]:
        body = {"JobID": job, "JobVersion": version, "EnforcePriorVersion": prior}
        reply: Mapping[str, Any] = c.post(f"/v1/job/{job}/revert", json=body, namespace=namespace).body
        return reply

    def follow(reply: Mapping[str, Any], waiter: Waiter) -> Any:
        return follow_eval("revert", job, reply, waiter, namespace=namespace, job_id=job)

    return Plan("revert", job, namespace, f"version {prior} -> {version}; " + _summary(changes),
                changes=changes, failures=dict(preview.get("FailedTGAllocs") or {}), diff=preview.get("Diff"),
                before={"version": prior}, after={"version": version}, client=c, token=token, write=write,
                check=_guard(c, job, namespace, int(current["JobModifyIndex"])), follow=follow)


def dispatch(client: NomadClient | None, job: str, payload: bytes | str | None = None,
             meta: Mapping[str, str] | None = None, *, namespace: str = "default") -> Plan:
    """Plan dispatching a parameterized job (``POST /v1/job/:id/dispatch``). Needs ``dispatch-job``."""
    c = _client(client)
    token = check(c, Need(("dispatch-job",), namespace))
    current = _job(c, job, namespace)
    if not current.get("ParameterizedJob"):
        raise NomadError(f"job {job!r} is not a parameterized job: it cannot be dispatched")
    raw = payload.encode() if isinstance(payload, str) else payload
    body: dict[str, Any] = {"Meta": dict(meta or {})}
    if raw is not None:
        body["Payload"] = base64.b64encode(raw).decode()

    def write() -> Mapping[str, Any]:
        reply: Mapping[str, Any] = c.post(f"/v1/job/{job}/dispatch", json=body, namespace=namespace).body
        return reply

    def follow(reply: Mapping[str, Any], waiter: Waiter) -> Any:
        child = str(reply.get("DispatchedJobID") or "") or None
        return follow_eval("dispatch", job, reply, waiter, namespace=namespace, job_id=child)

    return Plan("dispatch", job, namespace, f"one child of {job} with meta {dict(meta or {})}",
                changes={"payload bytes": len(raw or b""), "meta": dict(meta or {})},
                after={"meta": dict(meta or {})}, client=c, token=token, write=write,
                check=_guard(c, job, namespace, int(current["JobModifyIndex"])), follow=follow)
