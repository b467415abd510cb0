"""Following a write: the evaluation, then the deployment or the allocations."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from nomadlab.actions._plan import Outcome, Status, Waiter

__all__ = ["follow_eval", "task_events_of"]

_EVAL_DONE = ("complete", "failed", "blocked", "canceled")
_DEPLOY_DONE = ("successful", "failed", "cancelled", "canceled")


def task_events_of(waiter: Waiter, alloc_ids: list[str]) -> Any:
    """The task events of ``alloc_ids`` as a frame (``None`` for no allocation)."""
    return _events(waiter, alloc_ids)


def _events(waiter: Waiter, alloc_ids: list[str]) -> Any:
    from nomadlab.frames import task_events

    if not alloc_ids:
        return None
    events = task_events(waiter.client, alloc=alloc_ids)
    return events


def _failed_detail(events: Any) -> str:
    if events is None or len(events) == 0:
        return ""
    failing = events[events["fails_task"].fillna(False).astype(bool)] if "fails_task" in events else events
    rows = failing if len(failing) else events
    last = rows.iloc[-1]
    return f"{last.get('task', '')}: {last.get('type', '')} {last.get('display_message', '') or ''}".strip()


def follow_eval(action: str, target: str, reply: Mapping[str, Any], waiter: Waiter, *,
                namespace: str, job_id: str | None, place: bool = True) -> Outcome:
    """Follow the evaluation in ``reply`` and, when ``place``, what it placed."""
    eval_id = str(reply.get("EvalID") or "")
    if not eval_id:
        return Outcome(action, target, "done", "no evaluation was created", reply=dict(reply))
    ev, ok = waiter.until(f"/v1/evaluation/{eval_id}", lambda e: e.get("Status") in _EVAL_DONE,
                          namespace=namespace)
    base: dict[str, Any] = {"eval_id": eval_id, "reply": dict(reply)}
    if not ok:
        return Outcome(action, target, "timeout", f"evaluation {eval_id[:8]} still {ev.get('Status')}", **base)
    failures = dict(ev.get("FailedTGAllocs") or {})
    if ev["Status"] in ("failed", "canceled"):
        return Outcome(action, target, "failed", f"evaluation {ev['Status']}: {ev.get('StatusDescription', '')}",
                       failures=failures, **base)
    if ev["Status"] == "blocked" or failures:
        from nomadlab.actions._plan import _failure_text

        text = "; ".join(f"{g}: {_failure_text(f)}" for g, f in failures.items())
        return Outcome(action, target, "blocked", text or "evaluation blocked", failures=failures, **base)
    if not place or job_id is None:
        return Outcome(action, target, "done", f"evaluation {eval_id[:8]} complete", **base)
    created = int(reply.get("EvalCreateIndex") or reply.get("Index") or 0)
    dep, _ = waiter.until(f"/v1/job/{job_id}/deployment", lambda d: True, namespace=namespace)
    if dep and int(dep.get("CreateIndex") or 0) >= created:
        dep_id = str(dep["ID"])
        dep, ok = waiter.until(f"/v1/deployment/{dep_id}", lambda d: d.get("Status") in _DEPLOY_DONE,
                               namespace=namespace)
        allocs, _ = waiter.until(f"/v1/deployment/allocations/{dep_id}", lambda a: True, namespace=namespace)
        ids = tuple(str(a["ID"]) for a in allocs or [])
        if not ok:
            return Outcome(action, target, "timeout", f"deployment {dep_id[:8]} still {dep.get('Status')}",
                           deployment_id=dep_id, allocations=ids, **base)
        if dep["Status"] == "successful":
            return Outcome(action, target, "healthy", dep.get("StatusDescription", ""),
                           deployment_id=dep_id, allocations=ids, **base)
        description = str(dep.get("StatusDescription") or "")
        unhealthy = [str(a["ID"]) for a in allocs or []
                     if (a.get("DeploymentStatus") or {}).get("Healthy") is False
                     or a.get("ClientStatus") == "failed"]
        events = _events(waiter, unhealthy or list(ids))
        status: Status = "rolled back" if "rolling back" in description.lower() else "failed"
        detail = description + (f" ({_failed_detail(events)})" if events is not None else "")
        return Outcome(action, target, status, detail, deployment_id=dep_id, allocations=ids,
                       task_events=events, **base)

    batch = ev.get("Type") in ("batch", "sysbatch")

    def settled(allocs: Any) -> bool:
        if not allocs:
            return False
        if batch:
            # Batch work has no health: it is followed until it finishes, or one allocation fails.
            return (any(_alloc_state(a) == "failed" for a in allocs)
                    or all(a.get("ClientStatus") in ("complete", "failed", "lost") for a in allocs))
        return all(_alloc_state(a) != "pending" for a in allocs)

    allocs, ok = waiter.until(f"/v1/evaluation/{eval_id}/allocations", settled, namespace=namespace)
    ids = tuple(str(a["ID"]) for a in allocs or [])
    if not allocs:
        return Outcome(action, target, "done", "nothing to place", **base)
    if not ok:
        pending = "not yet finished" if batch else "not yet running"
        return Outcome(action, target, "timeout", f"allocations {pending}", allocations=ids, **base)
    failed = [str(a["ID"]) for a in allocs if _alloc_state(a) == "failed"]
    if failed:
        events = _events(waiter, failed)
        return Outcome(action, target, "failed", _failed_detail(events), allocations=ids,
                       task_events=events, **base)
    final: Status = "healthy" if all(_alloc_state(a) == "healthy" for a in allocs) else "placed"
    return Outcome(action, target, final, f"{len(ids)} allocation(s) {final}", allocations=ids, **base)


def _alloc_state(alloc: Mapping[str, Any]) -> str:
    """``healthy``, ``placed`` (finished cleanly), ``failed`` or ``pending``."""
    client = alloc.get("ClientStatus")
    if client in ("failed", "lost"):
        return "failed"
    health = (alloc.get("DeploymentStatus") or {}).get("Healthy")
    if health is False:
        return "failed"
    if health is True:
        return "healthy"
    if client == "complete":
        return "placed"
    states = alloc.get("TaskStates") or {}
    if client == "running" and states and all(s.get("State") == "running" for s in states.values()):
        return "healthy"
    return "pending"
