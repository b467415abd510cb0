"""Allocation lifecycle: creation, task progress on the clock, stop, restart, failure, health.

Task progress is scheduled as timers on the cluster clock and applied through the transition
tables of :mod:`nomadlab.sim.lifecycle`; this module only decides *when* each trigger fires and
what the allocation, job and deployment do as a consequence.
"""

from __future__ import annotations

import contextlib
import copy
from typing import TYPE_CHECKING, Any

from . import wire
from .clock import NS_PER_S
from .errors import NomadHTTPError
from .lifecycle import (
    CLIENT_DESCRIPTIONS,
    CLIENT_TRANSITIONS,
    Behaviour,
    IllegalTransition,
    apply_task_transition,
    client_status,
    exit_event_fields,
    kill_event_fields,
    pull_event_fields,
    restart_decision,
    restart_event_fields,
    signal_event_fields,
)
from .scheduler import alloc_terminal

if TYPE_CHECKING:
    from .cluster import SimCluster

__all__ = ["AllocationOperations"]

KILL_DELAY_S = 1.0
SIGNALS = frozenset({
    "SIGABRT", "SIGALRM", "SIGBUS", "SIGCHLD", "SIGCONT", "SIGFPE", "SIGHUP", "SIGILL", "SIGINT", "SIGIO",
    "SIGKILL", "SIGPIPE", "SIGPROF", "SIGQUIT", "SIGSEGV", "SIGSTOP", "SIGSYS", "SIGTERM", "SIGTRAP",
    "SIGTSTP", "SIGTTIN", "SIGTTOU", "SIGURG", "SIGUSR1", "SIGUSR2", "SIGVTALRM", "SIGWINCH", "SIGXCPU",
    "SIGXFSZ",
})


class AllocationOperations:
    """Allocation-level behaviour of :class:`~nomadlab.sim.cluster.SimCluster`."""

    def _gen(self: SimCluster) -> dict[str, int]:
        """Per-allocation generation: timers from before a stop or restart are ignored."""
        return self._alloc_generation

    # -- creation -------------------------------------------------------------------------------
    def create_allocation(
        self: SimCluster,
        job: dict[str, Any],
        tg: dict[str, Any],
        index: int,
        node: dict[str, Any],
        *,
        eval_id: str,
        idx: int,
        metric: dict[str, Any] | None = None,
        previous: dict[str, Any] | None = None,
        deployment_id: str = "",
    ) -> dict[str, Any]:
        """Write a new pending allocation and schedule its tasks' start."""
        versions = self.state.job_versions.get((job["Namespace"], job["ID"]), [])
        embedded = next((v for v in versions if v["Version"] == job["Version"]), job)
        alloc = wire.new_allocation(
            alloc_id=self.new_id(), eval_id=eval_id, job=embedded, task_group=tg["Name"],
            index=index, node=node, now_ns=self.now_ns(), create_index=idx,
            deployment_id=deployment_id, previous_allocation=previous["ID"] if previous else "",
            metrics=metric,
        )
        if previous is not None:
            previous["NextAllocation"] = alloc["ID"]
            self.state.stamp("allocs", previous["ID"], previous, idx)
            if previous["ClientStatus"] in ("failed", "lost") or previous.get("FollowupEvalID"):
                events = list(((previous.get("RescheduleTracker") or {}).get("Events")) or [])
                events.append({
                    "RescheduleTime": self.now_ns(),
                    "PrevAllocID": previous["ID"],
                    "PrevNodeID": previous.get("NodeID", ""),
                    "Delay": self._reschedule_delay(job, tg, previous),
                })
                alloc["RescheduleTracker"] = {"Events": events, "LastReschedule": "ok"}
        self.state.put_alloc(alloc)
        if deployment_id and deployment_id in self.state.deployments:
            dstate = (self.state.deployments[deployment_id]["TaskGroups"] or {}).get(tg["Name"])
            if dstate is not None:
                dstate["PlacedAllocs"] += 1
        self._gen()[alloc["ID"]] = 0
        self._schedule_start(alloc, first=True)
        return alloc

    def _reschedule_delay(self: SimCluster, job: dict[str, Any], tg: dict[str, Any], prev: dict[str, Any]) -> int:
        from .lifecycle import reschedule_delay_ns

        policy = tg.get("ReschedulePolicy") or {}
        return reschedule_delay_ns(policy, prev.get("RescheduleTracker")) if policy else 0

    def _schedule_start(self: SimCluster, alloc: dict[str, Any], *, first: bool, task: str | None = None,
                        delay_ns: int = 0) -> None:
        job = alloc["Job"]
        tg = _group(job, alloc["TaskGroup"])
        gen = self._gen().get(alloc["ID"], 0)
        for t in tg.get("Tasks") or ():
            if task is not None and t["Name"] != task:
                continue
            b = self.behaviours.of(job, tg, t)
            now = self.now_ns()
            if first:
                self.at(now + 10_000_000, self._task_trigger, alloc["ID"], t["Name"], gen, "receive")
                if t.get("Driver") == "docker":
                    self.at(now + 20_000_000, self._task_trigger, alloc["ID"], t["Name"], gen, "pull")
                self.at(now + int(b.start_s * NS_PER_S), self._task_trigger, alloc["ID"], t["Name"], gen, "start")
            else:
                self.at(now + delay_ns, self._task_trigger, alloc["ID"], t["Name"], gen, "restart_start")

    # -- task triggers --------------------------------------------------------------------------
    def _task_trigger(self: SimCluster, alloc_id: str, task: str, gen: int, trigger: str) -> None:
        alloc = self.state.allocs.get(alloc_id)
        if alloc is None or self._gen().get(alloc_id) != gen or alloc["DesiredStatus"] != "run":
            return
        state = (alloc.get("TaskStates") or {}).get(task)
        if state is None:
            return
        job = alloc["Job"]
        tg = _group(job, alloc["TaskGroup"])
        t = next(x for x in tg["Tasks"] if x["Name"] == task)
        # What the task does matters to a start (its next exit) and to a failed exit (OOM, exit
        # code), not to a receive, a pull or a clean exit: looked up only then (it walks the rules).
        b = self.behaviours.of(job, tg, t) if trigger not in ("receive", "pull", "exit_ok") else Behaviour()
        now = self.now_ns()
        fields: dict[str, dict[str, Any]] = {}
        if trigger == "pull":
            fields["Driver"] = pull_event_fields(str((t.get("Config") or {}).get("image", "")))
        if trigger in ("exit_ok", "exit_restart", "exit_fail"):
            oom = b.fail == "oom" and trigger != "exit_ok"
            code = 0 if trigger == "exit_ok" else (137 if oom else b.exit_code)
            fields["Terminated"] = exit_event_fields(code, oom=oom, driver=str(t.get("Driver") or ""))
        if trigger in ("exit_restart", "exit_fail"):
            # the restart tracker's answer, from the failures counted before this one
            policy = tg.get("RestartPolicy") or {}
            interval = int(policy.get("Interval") or 0)
            recent = [x for x in self._restart_times.get((alloc_id, task), ())
                      if interval == 0 or now - x < interval]
            prior = len(recent) - (1 if trigger == "exit_restart" else 0)
            fields.update(restart_event_fields(policy, max(0, prior)))
        try:
            apply_task_transition(state, trigger, now, fields)
        except IllegalTransition:
            return
        idx = self.state.next_index()
        if trigger in ("start", "restart_start"):
            if b.fail:
                self.after(b.fail_after_s, self._task_exit, alloc_id, task, gen, False)
            elif b.run_s is not None:
                self.after(b.run_s, self._task_exit, alloc_id, task, gen, True)
        if trigger == "exit_fail":
            for other, ostate in alloc["TaskStates"].items():
                if other != task and ostate["State"] != "dead":
                    with contextlib.suppress(IllegalTransition):
                        sibling: dict[str, Any] = next((x for x in tg["Tasks"] if x["Name"] == other), {})
                        apply_task_transition(ostate, "sibling_failed", now,
                                              {"Sibling Task Failed": {"FailedSibling": task},
                                               "Killing": kill_event_fields(sibling.get("KillTimeout"))})
        if trigger == "exit_restart":
            delay = int((tg.get("RestartPolicy") or {}).get("Delay") or 0)
            self._schedule_start(alloc, first=False, task=task, delay_ns=delay)
        if (trigger in ("start", "restart_start") and alloc.get("DeploymentID")
                and all(s["State"] == "running" for s in alloc["TaskStates"].values())):
            # Health is judged from the moment every task runs: MinHealthyTime later, the
            # allocation is healthy if no task stopped or restarted in between.
            wait = int((tg.get("Update") or {}).get("MinHealthyTime") or 10 * NS_PER_S)
            self.at(now + wait, self._alloc_healthy, alloc_id, gen, _restarts(alloc))
        self._set_client_status(alloc, idx)

    def _task_exit(self: SimCluster, alloc_id: str, task: str, gen: int, ok: bool) -> None:
        alloc = self.state.allocs.get(alloc_id)
        if alloc is None or self._gen().get(alloc_id) != gen or alloc["DesiredStatus"] != "run":
            return
        state = alloc["TaskStates"].get(task)
        if state is None or state["State"] != "running":
            return
        if ok:
            self._task_trigger(alloc_id, task, gen, "exit_ok")
            return
        tg = _group(alloc["Job"], alloc["TaskGroup"])
        policy = tg.get("RestartPolicy") or {}
        interval = int(policy.get("Interval") or 0)
        times = self._restart_times.setdefault((alloc_id, task), [])
        now = self.now_ns()
        recent = [t for t in times if interval == 0 or now - t < interval]
        decision, _ = restart_decision(policy, len(recent))
        if decision == "restart":
            times.append(now)
            self._task_trigger(alloc_id, task, gen, "exit_restart")
        else:
            self._task_trigger(alloc_id, task, gen, "exit_fail")

    def _set_client_status(self: SimCluster, alloc: dict[str, Any], idx: int) -> None:
        """Derive the client status from the tasks, and react to a change of it."""
        new = client_status(alloc["TaskStates"])
        old = alloc["ClientStatus"]
        now = self.now_ns()
        self.state.stamp("allocs", alloc["ID"], alloc, idx)
        alloc["ModifyTime"] = now
        tables = ["allocs"]
        if new != old and (old, new) in CLIENT_TRANSITIONS:
            alloc["ClientStatus"] = new
            alloc["ClientDescription"] = CLIENT_DESCRIPTIONS.get(new, "")
            if new == "failed":
                tables += self._on_alloc_failed(alloc, idx)
        self.state.commit(idx, tables, tracked=True)
        self._refresh_job(alloc["Namespace"], alloc["JobID"], idx)
        if new != old and new in ("complete", "failed"):
            self.unblock_evals()

    # -- deployments ----------------------------------------------------------------------------
    def join_deployment(self: SimCluster, alloc: dict[str, Any], deployment_id: str) -> None:
        """Move an allocation updated in place into ``deployment_id`` (health tracked anew)."""
        alloc["DeploymentID"] = deployment_id
        alloc["DeploymentStatus"] = None
        dep = self.state.deployments.get(deployment_id)
        dstate = (dep["TaskGroups"] or {}).get(alloc["TaskGroup"]) if dep is not None else None
        if dstate is not None:
            dstate["PlacedAllocs"] += 1
        if alloc["ClientStatus"] == "running":
            update = _group(alloc["Job"], alloc["TaskGroup"]).get("Update") or {}
            wait = int(update.get("MinHealthyTime") or 10 * NS_PER_S)
            self.at(self.now_ns() + wait, self._alloc_healthy, alloc["ID"],
                    self._gen().get(alloc["ID"], 0))

    def _alloc_healthy(self: SimCluster, alloc_id: str, gen: int, restarts: int | None = None) -> None:
        alloc = self.state.allocs.get(alloc_id)
        if alloc is None or self._gen().get(alloc_id) != gen or alloc["ClientStatus"] != "running":
            return
        if any(s["State"] != "running" for s in alloc["TaskStates"].values()):
            return
        if restarts is not None and _restarts(alloc) != restarts:
            return
        if alloc.get("DeploymentStatus") and alloc["DeploymentStatus"].get("Healthy") is not None:
            return
        idx = self.state.next_index()
        alloc["DeploymentStatus"] = {"Healthy": True, "Timestamp": wire.rfc3339(self.now_ns()),
                                     "Canary": False, "ModifyIndex": idx}
        self.state.stamp("allocs", alloc_id, alloc, idx)
        dep = self.state.deployments.get(alloc.get("DeploymentID", ""))
        tables = ["allocs"]
        if dep is not None and dep["Status"] == "running":
            dstate = dep["TaskGroups"].get(alloc["TaskGroup"])
            if dstate is not None:
                dstate["HealthyAllocs"] += 1
            self.state.stamp("deployment", dep["ID"], dep, idx)
            dep["ModifyTime"] = self.now_ns()
            tables.append("deployment")
            if all(s["HealthyAllocs"] >= s["DesiredTotal"] for s in dep["TaskGroups"].values()):
                dep["Status"] = "successful"
                dep["StatusDescription"] = "Deployment completed successfully"
                self._mark_stable(dep["Namespace"], dep["JobID"], dep["JobVersion"], idx)
                tables += ["jobs", "job_version"]
        self.state.commit(idx, tables, tracked=True)

    def _mark_stable(self: SimCluster, ns: str, job_id: str, version: int, idx: int) -> None:
        job = self.state.jobs.get((ns, job_id))
        if job is not None and job["Version"] == version:
            job["Stable"] = True
            self.state.stamp("jobs", (ns, job_id), job, idx)
        for v in self.state.job_versions.get((ns, job_id), []):
            if v["Version"] == version:
                v["Stable"] = True

    def _on_alloc_failed(self: SimCluster, alloc: dict[str, Any], idx: int) -> list[str]:
        """A failed allocation: mark it unhealthy, fail its deployment, ask for a reschedule."""
        tables: list[str] = []
        dep = self.state.deployments.get(alloc.get("DeploymentID", ""))
        if dep is not None and not (alloc.get("DeploymentStatus") or {}).get("Healthy"):
            alloc["DeploymentStatus"] = {"Healthy": False, "Timestamp": wire.rfc3339(self.now_ns()),
                                         "Canary": False, "ModifyIndex": idx}
            if dep["Status"] == "running":
                dstate = dep["TaskGroups"].get(alloc["TaskGroup"])
                if dstate is not None:
                    dstate["UnhealthyAllocs"] += 1
                self._fail_deployment(dep, idx, "Failed due to unhealthy allocations")
                tables.append("deployment")
        job = self.state.jobs.get((alloc["Namespace"], alloc["JobID"]))
        if job is not None and not job.get("Stop") and job["Type"] in ("service", "batch"):
            self.after(0, self._alloc_failure_eval, alloc["Namespace"], alloc["JobID"])
        return tables

    def _alloc_failure_eval(self: SimCluster, ns: str, job_id: str) -> None:
        job = self.state.jobs.get((ns, job_id))
        if job is None:
            return
        idx = self.state.next_index()
        ev = self._create_eval(job, "alloc-failure", idx, priority=job["Priority"])
        self.state.commit(idx, ["evals"], tracked=True)
        self.process_eval(ev["ID"])

    def _fail_deployment(self: SimCluster, dep: dict[str, Any], idx: int, reason: str) -> None:
        dep["Status"] = "failed"
        self.state.stamp("deployment", dep["ID"], dep, idx)
        dep["ModifyTime"] = self.now_ns()
        auto_revert = any(s.get("AutoRevert") for s in dep["TaskGroups"].values())
        stable = None
        if auto_revert:
            versions = self.state.job_versions.get((dep["Namespace"], dep["JobID"]), [])
            stable = next((v for v in reversed(versions)
                           if v.get("Stable") and v["Version"] < dep["JobVersion"]), None)
        if stable is None:
            dep["StatusDescription"] = reason
            return
        dep["StatusDescription"] = f"{reason} - rolling back to job version {stable['Version']}"
        spec = copy.deepcopy(stable)
        self.after(0, self._revert_to, dep["Namespace"], spec)

    def _revert_to(self: SimCluster, ns: str, spec: dict[str, Any]) -> None:
        self.register_job(spec, namespace=ns, triggered_by="deployment-watcher")

    # -- stopping -------------------------------------------------------------------------------
    def stop_allocation_desired(self: SimCluster, alloc: dict[str, Any], description: str, idx: int) -> None:
        """Server side: mark an allocation to stop; the client kills its tasks a moment later."""
        alloc["DesiredStatus"] = "stop"
        alloc["DesiredDescription"] = description
        self.state.stamp("allocs", alloc["ID"], alloc, idx)
        alloc["AllocModifyIndex"] = idx
        alloc["ModifyTime"] = self.now_ns()
        gen = self._gen()[alloc["ID"]] = self._gen().get(alloc["ID"], 0) + 1
        if alloc["ClientStatus"] in ("pending", "running"):
            self.after(KILL_DELAY_S, self._kill, alloc["ID"], gen)

    def _kill(self: SimCluster, alloc_id: str, gen: int) -> None:
        alloc = self.state.allocs.get(alloc_id)
        if alloc is None or self._gen().get(alloc_id) != gen:
            return
        now = self.now_ns()
        tg = _group(alloc["Job"], alloc["TaskGroup"])
        timeouts = {t["Name"]: t.get("KillTimeout") for t in tg.get("Tasks") or ()}
        for name, state in alloc["TaskStates"].items():
            if state["State"] == "dead":
                continue
            apply_task_transition(state, "kill", now, {"Killing": kill_event_fields(timeouts.get(name))})
        idx = self.state.next_index()
        alloc["ClientStatus"] = "complete" if alloc["ClientStatus"] != "failed" else "failed"
        alloc["ClientDescription"] = CLIENT_DESCRIPTIONS[alloc["ClientStatus"]]
        self.state.stamp("allocs", alloc_id, alloc, idx)
        alloc["ModifyTime"] = now
        self.state.commit(idx, ["allocs"], tracked=True)
        self._refresh_job(alloc["Namespace"], alloc["JobID"], idx)
        self.unblock_evals()

    def stop_alloc(self: SimCluster, alloc_id: str, *, no_shutdown_delay: bool = False,
                   reschedule: bool = False) -> dict[str, Any]:
        """``POST /v1/allocation/:id/stop``: migrate the allocation away (a replacement is placed)."""
        with self.state.lock:
            alloc = self.state.allocs.get(alloc_id)
            if alloc is None:
                raise NomadHTTPError(404, "allocation not found")
            job = self.state.jobs.get((alloc["Namespace"], alloc["JobID"])) or alloc["Job"]
            idx = self.state.next_index()
            alloc["DesiredTransition"] = dict(alloc.get("DesiredTransition") or {}, Migrate=True,
                                              NoShutdownDelay=no_shutdown_delay or None)
            if reschedule:
                alloc["DesiredTransition"]["Reschedule"] = True
            self.state.stamp("allocs", alloc_id, alloc, idx)
            ev = self._create_eval(job, "alloc-stop", idx, priority=job["Priority"])
            self.state.commit(idx, ["allocs", "evals"], tracked=True)
            self.process_eval(ev["ID"])
            return {"EvalID": ev["ID"], "Index": idx}

    # -- client-side lifecycle (restart, signal) ------------------------------------------------
    def restart_alloc(self: SimCluster, alloc_id: str, *, task: str = "", all_tasks: bool = False) -> None:
        """``/v1/client/allocation/:id/restart``: restart one task, the running tasks, or all.

        As the client's ``RestartAllocation``: ``Restart Signaled`` with the reason Nomad gives
        (``User requested task to restart``, ``... all tasks ...``, ``... running tasks ...``),
        then ``Terminated`` and ``Restarting``, and the task starts again at once. Errors are the
        client's uncoded texts (500).
        """
        if all_tasks and task:
            raise NomadHTTPError(500, "task name cannot be set when restarting all tasks")
        with self.state.lock:
            alloc = self.state.allocs[alloc_id]
            states = alloc.get("TaskStates") or {}
            if task:
                if task not in states:
                    raise NomadHTTPError(500, f"Could not find task runner for task: {task}")
                if states[task]["State"] != "running":
                    raise NomadHTTPError(500, "Task not running")
                targets = [task]
                reason = "User requested task to restart"
            else:
                targets = [name for name, st in states.items() if st["State"] == "running"]
                reason = ("User requested all tasks to restart" if all_tasks
                          else "User requested running tasks to restart")
            if not targets:
                return
            now = self.now_ns()
            fields: dict[str, dict[str, Any]] = {"Restart Signaled": {"RestartReason": reason},
                      "Terminated": {"ExitCode": 0, "Signal": 0},
                      "Restarting": {"StartDelay": 0, "RestartReason": ""}}
            for name in targets:
                apply_task_transition(states[name], "user_restart", now, fields)
            # Timers of the old runs no longer apply; tasks left running keep running, with
            # their scripted behaviour counted again from now.
            gen = self._gen()[alloc_id] = self._gen().get(alloc_id, 0) + 1
            job = alloc["Job"]
            tg = _group(job, alloc["TaskGroup"])
            for t in tg.get("Tasks") or ():
                if t["Name"] in targets:
                    self._schedule_start(alloc, first=False, task=t["Name"], delay_ns=NS_PER_S)
                elif states.get(t["Name"], {}).get("State") == "running":
                    b = self.behaviours.of(job, tg, t)
                    if b.fail:
                        self.after(b.fail_after_s, self._task_exit, alloc_id, t["Name"], gen, False)
                    elif b.run_s is not None:
                        self.after(b.run_s, self._task_exit, alloc_id, t["Name"], gen, True)
            self._set_client_status(alloc, self.state.next_index())

    def signal_alloc(self: SimCluster, alloc_id: str, *, task: str = "", signal: str = "") -> None:
        """``/v1/client/allocation/:id/signal``: a ``Signaling`` event on the running tasks.

        The signal reaches the simulated process, which ignores it: no task stops because of it.
        """
        with self.state.lock:
            alloc = self.state.allocs[alloc_id]
            states = alloc.get("TaskStates") or {}
            if task and task not in states:
                raise NomadHTTPError(500, "Task not found")
            names = [task] if task else list(states)
            errors = []
            now = self.now_ns()
            wanted = signal.upper()
            for name in names:
                if states[name]["State"] != "running":
                    errors.append(f"Failed to signal task: {name}, err: Task not running")
                elif wanted not in SIGNALS:
                    errors.append(f"Failed to signal task: {name}, err: invalid signal {signal!r}")
                else:
                    apply_task_transition(states[name], "signal", now, {"Signaling": signal_event_fields(signal)})
            if errors:
                from .wire_common import multierror

                raise NomadHTTPError(500, multierror(errors))
            idx = self.state.next_index()
            self.state.stamp("allocs", alloc_id, alloc, idx)
            alloc["ModifyTime"] = now
            self.state.commit(idx, ["allocs"], tracked=True)

    def mark_lost(self: SimCluster, alloc: dict[str, Any], idx: int) -> None:
        """Client side is gone: the allocation is lost and its tasks are dead."""
        if alloc_terminal(alloc):
            return
        now = self.now_ns()
        for state in alloc["TaskStates"].values():
            if state["State"] != "dead":
                apply_task_transition(state, "lost", now)
        self._gen()[alloc["ID"]] = self._gen().get(alloc["ID"], 0) + 1
        alloc["DesiredStatus"] = "stop"
        alloc["DesiredDescription"] = "alloc is lost since its node is down"
        alloc["ClientStatus"] = "lost"
        alloc["ClientDescription"] = "alloc is lost since its node is down"
        self.state.stamp("allocs", alloc["ID"], alloc, idx)
        alloc["ModifyTime"] = now


def _restarts(alloc: dict[str, Any]) -> int:
    return sum(int(s.get("Restarts") or 0) for s in (alloc.get("TaskStates") or {}).values())


def _group(job: dict[str, Any], name: str) -> dict[str, Any]:
    groups: list[dict[str, Any]] = job.get("TaskGroups") or []
    for tg in groups:
        if tg["Name"] == name:
            return tg
    return {"Name": name, "Tasks": []}
