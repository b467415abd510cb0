# mypy: disable-error-code="misc"
# (the mixin methods annotate ``self: SimCluster``, as pyproject.toml's override for jobs.py says)
"""Deployment writes: fail, pause and resume, promote, set allocation health.

As ``nomad/deployment_endpoint.go`` and the deployment watcher
(``nomad/deploymentwatcher/deployment_watcher.go``): each needs the deployment to be active
(``can't fail terminal deployment``, ...), answers a DeploymentUpdateResponse, and, except a
pause, creates a ``deployment-watcher`` evaluation. Failing a deployment whose groups auto-revert
re-registers the latest stable version (``... - rolling back to job version N``).
"""

from __future__ import annotations

import copy
from typing import TYPE_CHECKING, Any

from . import wire
from .errors import NomadHTTPError

if TYPE_CHECKING:
    from .cluster import SimCluster

__all__ = ["DeploymentOperations", "ACTIVE"]

ACTIVE = ("running", "paused", "pending", "blocked", "unblocking", "initializing")


class DeploymentOperations:
    """Deployment-level writes of :class:`~nomadlab.sim.cluster.SimCluster`."""

    def _active_deployment(self: SimCluster, deployment_id: str, terminal_error: str) -> dict[str, Any]:
        dep = self.state.deployments.get(deployment_id)
        if dep is None:
            raise NomadHTTPError(500, "deployment not found")
        if dep["Status"] not in ACTIVE:
            raise NomadHTTPError(500, terminal_error)
        return dep

    def _watcher_eval(self: SimCluster, dep: dict[str, Any], idx: int) -> dict[str, Any] | None:
        job = self.state.jobs.get((dep["Namespace"], dep["JobID"]))
        if job is None:
            return None
        ev = self._create_eval(job, "deployment-watcher", idx, priority=int(dep.get("EvalPriority") or 0)
                               or job["Priority"])
        ev["DeploymentID"] = dep["ID"]
        return ev

    def _update_reply(self: SimCluster, ev: dict[str, Any] | None, idx: int,
                      reverted: int | None = None) -> dict[str, Any]:
        return {"EvalID": ev["ID"] if ev else "", "EvalCreateIndex": idx if ev else 0,
                "DeploymentModifyIndex": idx, "RevertedJobVersion": reverted, "Index": idx}

    def _stamp(self: SimCluster, dep: dict[str, Any], status: str, description: str, idx: int) -> None:
        dep.update(Status=status, StatusDescription=description, ModifyIndex=idx, ModifyTime=self.now_ns())
        self.state.touch("deployment", dep["ID"])

    def fail_deployment(self: SimCluster, deployment_id: str) -> dict[str, Any]:
        """``POST /v1/deployment/fail/:id``: fail it by hand, rolling back when a group auto-reverts."""
        with self.state.lock:
            dep = self._active_deployment(deployment_id, "can't fail terminal deployment")
            idx = self.state.next_index()
            description, target = self._rollback_target(dep, "Deployment marked as failed")
            self._stamp(dep, "failed", description, idx)
            ev = self._watcher_eval(dep, idx)
            self.state.commit(idx, ["deployment", "evals"], tracked=True)
            if target is not None:
                self.register_job(copy.deepcopy(target), namespace=dep["Namespace"],
                                  triggered_by="deployment-watcher")
            elif ev is not None:
                self.process_eval(ev["ID"])
            return self._update_reply(ev, idx, None if target is None else int(target["Version"]))

    def _rollback_target(self: SimCluster, dep: dict[str, Any], reason: str) -> tuple[str, dict[str, Any] | None]:
        """The description and, when a group auto-reverts, the latest stable earlier version."""
        if not any(s.get("AutoRevert") for s in (dep.get("TaskGroups") or {}).values()):
            return reason, None
        key = (dep["Namespace"], dep["JobID"])
        stable = next((v for v in reversed(self.state.job_versions.get(key, []))
                       if v.get("Stable") and v["Version"] < dep["JobVersion"]), None)
        if stable is None:
            return f"{reason} - no stable job version to auto revert to", None
        current = self.state.jobs.get(key)
        from .jobs import _spec

        if current is not None and _spec(current) == _spec(stable):
            return (f"{reason} - not rolling back to stable job version {stable['Version']} as current job "
                    "has same specification"), None
        return f"{reason} - rolling back to job version {stable['Version']}", stable

    def pause_deployment(self: SimCluster, deployment_id: str, pause: bool) -> dict[str, Any]:
        """``POST /v1/deployment/pause/:id``: pause, or resume (an evaluation then follows)."""
        with self.state.lock:
            dep = self._active_deployment(
                deployment_id, "can't pause terminal deployment" if pause else "can't resume terminal deployment")
            idx = self.state.next_index()
            if pause:
                self._stamp(dep, "paused", "Deployment is paused", idx)
                self.state.commit(idx, ["deployment"], tracked=True)
                return self._update_reply(None, idx)
            self._stamp(dep, "running", "Deployment is running", idx)
            ev = self._watcher_eval(dep, idx)
            self._recount_health(dep, idx)
            self.state.commit(idx, ["deployment", "evals", "jobs", "job_version"], tracked=True)
            if ev is not None:
                self.process_eval(ev["ID"])
            return self._update_reply(ev, idx)

    def _recount_health(self: SimCluster, dep: dict[str, Any], idx: int) -> None:
        """Bring a resumed deployment's counts up to its allocations' health (health reported
        while it was paused is counted now), and complete it when every group is healthy."""
        for name, dstate in (dep.get("TaskGroups") or {}).items():
            allocs = [a for a in self.state.allocs.values()
                      if a.get("DeploymentID") == dep["ID"] and a["TaskGroup"] == name]
            dstate["HealthyAllocs"] = sum(1 for a in allocs if (a.get("DeploymentStatus") or {}).get("Healthy") is True)
            dstate["UnhealthyAllocs"] = sum(1 for a in allocs
                                            if (a.get("DeploymentStatus") or {}).get("Healthy") is False)
        groups = (dep.get("TaskGroups") or {}).values()
        if groups and all(s["HealthyAllocs"] >= s["DesiredTotal"] for s in groups):
            self._stamp(dep, "successful", "Deployment completed successfully", idx)
            self._mark_stable(dep["Namespace"], dep["JobID"], dep["JobVersion"], idx)

    def promote_deployment(self: SimCluster, deployment_id: str, *, all_groups: bool,
                           groups: list[str]) -> dict[str, Any]:
        """``POST /v1/deployment/promote/:id``: promote the groups' canaries.

        The simulator places no canaries, so no group waits for promotion: the groups asked for
        are marked ``Promoted`` and an evaluation is created, as Nomad does when every desired
        canary is healthy.
        """
        with self.state.lock:
            dep = self._active_deployment(deployment_id, "can't promote terminal deployment")
            idx = self.state.next_index()
            unhealthy = []
            for name, dstate in (dep.get("TaskGroups") or {}).items():
                if not all_groups and name not in groups:
                    continue
                need = int(dstate.get("DesiredCanaries") or 0)
                have = sum(1 for a in self.state.allocs.values()
                           if a["ID"] in (dstate.get("PlacedCanaries") or ())
                           and (a.get("DeploymentStatus") or {}).get("Healthy") is True)
                if need and have < need:
                    unhealthy.append(f'Task group "{name}" has {have}/{need} healthy allocations')
            if unhealthy:
                from .wire_common import multierror

                raise NomadHTTPError(500, multierror(unhealthy))
            for name, dstate in (dep.get("TaskGroups") or {}).items():
                if all_groups or name in groups:
                    dstate["Promoted"] = True
            self.state.stamp("deployment", dep["ID"], dep, idx)
            dep["ModifyTime"] = self.now_ns()
            ev = self._watcher_eval(dep, idx)
            self.state.commit(idx, ["deployment", "evals"], tracked=True)
            if ev is not None:
                self.process_eval(ev["ID"])
            return self._update_reply(ev, idx)

    def set_allocation_health(self: SimCluster, deployment_id: str, healthy: list[str],
                              unhealthy: list[str]) -> dict[str, Any]:
        """``POST /v1/deployment/allocation-health/:id``: mark allocations healthy or not by hand.

        An unhealthy allocation fails the deployment as the watcher does ("Failed due to unhealthy
        allocations", with the rollback when a group auto-reverts).
        """
        if not healthy and not unhealthy:
            raise NomadHTTPError(500, "must specify at least one healthy/unhealthy allocation ID")
        with self.state.lock:
            dep = self._active_deployment(deployment_id,
                                          "can't set health of allocations for a terminal deployment")
            for alloc_id in [*healthy, *unhealthy]:
                alloc = self.state.allocs.get(alloc_id)
                if alloc is None:
                    raise NomadHTTPError(500, f'unknown alloc "{alloc_id}"')
                if alloc.get("DeploymentID") != deployment_id:
                    raise NomadHTTPError(500, f'alloc "{alloc_id}" is not part of deployment "{deployment_id}"')
            idx = self.state.next_index()
            stamp = wire.rfc3339(self.now_ns())
            for ids, value in ((healthy, True), (unhealthy, False)):
                for alloc_id in ids:
                    alloc = self.state.allocs[alloc_id]
                    alloc["DeploymentStatus"] = {"Healthy": value, "Timestamp": stamp,
                                                 "Canary": bool((alloc.get("DeploymentStatus") or {}).get("Canary")),
                                                 "ModifyIndex": idx}
                    self.state.stamp("allocs", alloc_id, alloc, idx)
                    alloc["ModifyTime"] = self.now_ns()
            target = None
            if unhealthy:
                description, target = self._rollback_target(dep, "Failed due to unhealthy allocations")
                self._recount_health(dep, idx)
                self._stamp(dep, "failed", description, idx)
            else:
                self._recount_health(dep, idx)
                self.state.stamp("deployment", dep["ID"], dep, idx)
            ev = self._watcher_eval(dep, idx)
            self.state.commit(idx, ["deployment", "allocs", "evals", "jobs", "job_version"], tracked=True)
            if target is not None:
                self.register_job(copy.deepcopy(target), namespace=dep["Namespace"], triggered_by="deployment-watcher")
            elif ev is not None:
                self.process_eval(ev["ID"])
            return self._update_reply(ev, idx, None if target is None else int(target["Version"]))
