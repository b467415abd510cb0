"""Allocation actions: stop (reschedule elsewhere) and restart tasks in place."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from nomadlab.actions._acl import Need, check
from nomadlab.actions._follow import follow_eval
from nomadlab.actions._plan import Outcome, Plan, StalePlanError, Waiter
from nomadlab.client import NomadClient
from nomadlab.errors import NomadError, NotFoundError, ServerError

__all__ = ["restart_alloc", "stop_alloc"]


def _alloc(c: NomadClient, alloc_id: str) -> dict[str, Any]:
    found = c.get("/v1/allocations", params={"prefix": alloc_id}, namespace="*").body
    if len(found) != 1:
        raise NomadError(f"allocation {alloc_id!r} matches {len(found)} allocations: give more of the ID")
    alloc_id = found[0]["ID"]
    body: dict[str, Any] = c.get(f"/v1/allocation/{alloc_id}", namespace=found[0]["Namespace"]).body
    if body.get("DesiredStatus") != "run" or body.get("ClientStatus") in ("complete", "failed", "lost"):
        raise NomadError(f"allocation {alloc_id[:8]} is already {body.get('DesiredStatus')}/"
                         f"{body.get('ClientStatus')}: there is nothing to stop or restart")
    return body


def _live_guard(c: NomadClient, alloc_id: str, namespace: str) -> Any:
    def check_live() -> None:
        now = c.get(f"/v1/allocation/{alloc_id}", namespace=namespace).body
        if now.get("DesiredStatus") != "run" or now.get("ClientStatus") in ("complete", "failed", "lost"):
            raise StalePlanError(f"allocation {alloc_id[:8]} is now {now.get('DesiredStatus')}/"
                                 f"{now.get('ClientStatus')}; nothing was written: plan again")
    return check_live


def _describe(a: Mapping[str, Any]) -> dict[str, Any]:
    return {"allocation": a["ID"], "job": a["JobID"], "group": a["TaskGroup"], "node": a.get("NodeName", ""),
            "status": f"{a.get('DesiredStatus')}/{a.get('ClientStatus')}",
            "tasks": sorted((a.get("TaskStates") or {}).keys())}


def stop_alloc(client: NomadClient | None, alloc_id: str) -> Plan:
    """Plan stopping one allocation (``POST /v1/allocation/:id/stop``); the scheduler replaces it.

    Needs ``alloc-lifecycle`` on the allocation's namespace.
    """
    c = client if client is not None else NomadClient()
    a = _alloc(c, alloc_id)
    ns = str(a["Namespace"])
    token = check(c, Need(("alloc-lifecycle",), ns))
    full = str(a["ID"])

    def write() -> Mapping[str, Any]:
        reply: Mapping[str, Any] = c.post(f"/v1/allocation/{full}/stop", namespace=ns).body
        return reply

    def follow(reply: Mapping[str, Any], waiter: Waiter) -> Any:
        return follow_eval("stop_alloc", full, reply, waiter, namespace=ns, job_id=str(a["JobID"]))

    return Plan("stop_alloc", full, ns, f"stop {full[:8]} ({a['JobID']}/{a['TaskGroup']}); a replacement is placed",
                changes=_describe(a), before={"client_status": a.get("ClientStatus")},
                after={"desired_status": "stop"}, client=c, token=token, write=write,
                check=_live_guard(c, full, ns), follow=follow)


def restart_alloc(client: NomadClient | None, alloc_id: str, task: str | None = None) -> Plan:
    """Plan restarting one task, or all, in place (``PUT /v1/client/allocation/:id/restart``).

    Needs ``alloc-lifecycle`` on the allocation's namespace.
    """
    c = client if client is not None else NomadClient()
    a = _alloc(c, alloc_id)
    ns = str(a["Namespace"])
    token = check(c, Need(("alloc-lifecycle",), ns))
    full = str(a["ID"])
    tasks = sorted((a.get("TaskStates") or {}).keys())
    if task is not None and tasks and task not in tasks:
        raise NomadError(f"allocation {full[:8]} has no task {task!r}: tasks are {tasks}")
    body: dict[str, Any] = {"TaskName": task} if task else {"AllTasks": True}

    def write() -> Mapping[str, Any]:
        path = f"/v1/client/allocation/{full}/restart"
        try:
            reply: Mapping[str, Any] = c.put(path, json=body, namespace=ns).body
        except (NotFoundError, ServerError) as exc:
            if exc.status not in (404, 501):
                raise
            raise NomadError(f"the cluster does not serve PUT {path} ({exc.status}): restart the "
                             "task with `nomad alloc restart` on a cluster that does") from exc
        return dict(reply or {})

    before = {t: int(st.get("Restarts") or 0) for t, st in (a.get("TaskStates") or {}).items()}
    targets = [task] if task else [t for t, st in (a.get("TaskStates") or {}).items() if st.get("State") == "running"]

    def follow(reply: Mapping[str, Any], waiter: Waiter) -> Outcome:
        def restarted(alloc: Mapping[str, Any]) -> bool:
            if alloc.get("ClientStatus") in ("complete", "failed", "lost"):
                return True
            states = alloc.get("TaskStates") or {}
            return all(int(states.get(t, {}).get("Restarts") or 0) > before.get(t, 0)
                       and states.get(t, {}).get("State") == "running" for t in targets)

        now, ok = waiter.until(f"/v1/allocation/{full}", restarted, namespace=ns)
        if not ok:
            return Outcome("restart_alloc", full, "timeout", "the restarted tasks are not running yet",
                           allocations=(full,), reply=dict(reply))
        if now.get("ClientStatus") in ("complete", "failed", "lost"):
            from nomadlab.actions._follow import task_events_of

            events = task_events_of(waiter, [full])
            return Outcome("restart_alloc", full, "failed", f"allocation {full[:8]} is {now.get('ClientStatus')}",
                           allocations=(full,), task_events=events, reply=dict(reply))
        return Outcome("restart_alloc", full, "healthy", f"{', '.join(targets)} running again",
                       allocations=(full,), reply=dict(reply))

    return Plan("restart_alloc", full, ns, f"restart {task or 'every running task'} of {full[:8]} in place",
                changes=_describe(a), before={"restarts": before}, after={"task": task or "*"}, client=c,
                token=token, write=write, check=_live_guard(c, full, ns), follow=follow)
