"""Job writes and evaluation processing: register, plan, scale, deregister, evaluate.

Each write follows Nomad's sequence: the job (and a new version when the spec changed) is
written at one index, an evaluation is created, and the scheduler processes it at the next
index: allocations placed or stopped, ``FailedTGAllocs`` and a blocked evaluation when a group
does not fit, the job summary and status brought up to date.
"""

from __future__ import annotations

import copy
from typing import TYPE_CHECKING, Any

from . import wire
from .errors import NomadHTTPError, bad_request, coded
from .scheduler import (
    SYSTEM_TYPES,
    Placer,
    ReconcileResult,
    Usage,
    alloc_job_version,
    alloc_terminal,
    job_status,
    job_summary_counts,
    reconcile,
)

if TYPE_CHECKING:
    from .cluster import SimCluster

__all__ = ["JobOperations"]

JOB_TRACKED_VERSIONS = 6
JOB_TRACKED_SCALING_EVENTS = 20
MAX_PRIORITY = 100

# Fields that do not make a new job version when they alone change.
_VOLATILE = (
    "Status", "StatusDescription", "Stable", "Version", "SubmitTime", "CreateIndex",
    "ModifyIndex", "JobModifyIndex", "VersionTag",
)


def _spec(job: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in job.items() if k not in _VOLATILE}


class JobOperations:
    """Job-level writes of :class:`~nomadlab.sim.cluster.SimCluster`."""

    # -- reads used by several routes ---------------------------------------------------------
    def get_job(self: SimCluster, namespace: str, job_id: str) -> dict[str, Any] | None:
        return self.state.jobs.get((namespace, job_id))

    def job_versions(self: SimCluster, namespace: str, job_id: str) -> list[dict[str, Any]]:
        """Versions, newest first (as ``/versions`` lists them)."""
        return list(reversed(self.state.job_versions.get((namespace, job_id), [])))

    def job_evals(self: SimCluster, namespace: str, job_id: str) -> list[dict[str, Any]]:
        return self.state.job_evals(namespace, job_id)

    # -- register -------------------------------------------------------------------------------
    def register_job(
        self: SimCluster,
        spec: dict[str, Any],
        *,
        namespace: str | None = None,
        enforce_index: bool = False,
        job_modify_index: int = 0,
        eval_priority: int = 0,
        preserve_counts: bool = False,
        submission: dict[str, Any] | None = None,
        triggered_by: str = "job-register",
        _scaling: bool = False,
    ) -> dict[str, Any]:
        """Register or update a job (``PUT /v1/jobs``); returns a JobRegisterResponse."""
        job = wire.canonicalize_job(spec, region=self.region, namespace=namespace)
        ns = job["Namespace"]
        if ns not in self.state.namespaces:
            raise coded(400, f'job "{job["ID"]}" is in nonexistent namespace "{ns}"')
        if job.get("NodePool") not in self.state.node_pools:
            raise bad_request(f'job "{job["ID"]}" is in nonexistent node pool "{job.get("NodePool")}"')
        if eval_priority and not 1 <= eval_priority <= MAX_PRIORITY:
            raise bad_request(f"eval priority must be between 1 and {MAX_PRIORITY}")
        with self.state.lock:
            key = (ns, job["ID"])
            existing = self.state.jobs.get(key)
            if enforce_index:
                current = existing["JobModifyIndex"] if existing else 0
                if job_modify_index != current:
                    if job_modify_index == 0:
                        raise NomadHTTPError(
                            500, f"Enforcing job modify index {job_modify_index}: job already exists"
                        )
                    raise NomadHTTPError(
                        500,
                        f"Enforcing job modify index {job_modify_index}: job exists with "
                        f"conflicting job modify index: {current}",
                    )
            if preserve_counts and existing is not None:
                old_counts = {g["Name"]: g["Count"] for g in existing.get("TaskGroups") or ()}
                for g in job.get("TaskGroups") or ():
                    if g["Name"] in old_counts:
                        g["Count"] = old_counts[g["Name"]]
            idx = self.state.next_index()
            now = self.now_ns()
            changed = existing is None or _spec(existing) != _spec(job) or existing.get("Stop")
            if existing is not None and not changed:
                # Same spec: Job.Register writes nothing but an evaluation
                # (nomad/job_endpoint.go, "if !specChanged"): the job keeps its indexes.
                job = existing
            else:
                job["Version"] = 0 if existing is None else existing["Version"] + 1
                job["CreateIndex"] = idx if existing is None else existing["CreateIndex"]
                job["ModifyIndex"] = idx
                job["JobModifyIndex"] = idx
                job["SubmitTime"] = now
                job["Status"] = "pending"
                job["Stable"] = False
                self.state.insert("jobs", key, job)
                versions = self.state.job_versions.setdefault(key, [])
                versions.append(copy.deepcopy(job))
                del versions[:-JOB_TRACKED_VERSIONS]
                if submission:
                    self.state.job_submissions[(ns, job["ID"], job["Version"])] = {
                        "Source": submission.get("Source", ""),
                        "Format": submission.get("Format", "hcl2"),
                        "VariableFlags": submission.get("VariableFlags") or {},
                        "Variables": submission.get("Variables", ""),
                        "Namespace": ns,
                        "JobID": job["ID"],
                        "Version": job["Version"],
                        "JobModifyIndex": idx,
                    }
            if key not in self.state.job_summaries:
                self.state.job_summaries[key] = wire.new_job_summary(job, index=idx)
            tables = ["jobs", "job_version", "job_summary", "job_submission"] if changed else []
            eval_id, eval_index = "", 0
            # Periodic and parameterized parents get no evaluation; dispatched children do
            # (Nomad's IsParameterized excludes them).
            parameterized = job.get("ParameterizedJob") is not None and not job.get("Dispatched")
            if not (job.get("Periodic") or {}).get("Enabled") and not parameterized:
                ev = self._create_eval(job, triggered_by, idx, priority=eval_priority or job["Priority"])
                eval_id, eval_index = ev["ID"], idx
                tables.append("evals")
            self.state.commit(idx, tables, tracked=True)
            if eval_id:
                self.process_eval(eval_id)
            else:
                self._refresh_job(ns, job["ID"])
            if changed:
                job_modify_index, index = idx, idx
            else:
                job_modify_index = existing["ModifyIndex"] if existing is not None else idx
                index = eval_index or job_modify_index
            return {
                "EvalID": eval_id,
                "EvalCreateIndex": eval_index,
                "JobModifyIndex": job_modify_index,
                "Warnings": "",
                "Index": index,
                "LastContact": 0,
                "KnownLeader": False,
                "NextToken": "",
            }

    # -- plan -----------------------------------------------------------------------------------
    def plan_job(
        self: SimCluster, spec: dict[str, Any], *, namespace: str | None = None, diff: bool = False
    ) -> dict[str, Any]:
        """Dry-run a registration (``PUT /v1/job/:id/plan``): annotations, failures, diff."""
        job = wire.canonicalize_job(spec, region=self.region, namespace=namespace)
        with self.state.lock:
            key = (job["Namespace"], job["ID"])
            existing = self.state.jobs.get(key)
            job["Version"] = 0 if existing is None else existing["Version"] + (
                1 if _spec(existing) != _spec(job) else 0
            )
            allocs = self.state.job_allocs(*key)
            versions = {v["Version"]: v for v in self.state.job_versions.get(key, [])}
            result = reconcile(job, allocs, self.state.nodes, versions, now_ns=self.now_ns())
            placer = Placer(self.state.nodes, Usage(self.state.allocs.values()))
            for a, _ in result.stop:
                placer.usage.remove(a["NodeID"], _ask_of(a), (a["Namespace"], a["JobID"], a["TaskGroup"]))
            failed = self._place_all(job, result, placer, commit=False)
            updates = result.desired_updates(job)
            if job["Type"] in SYSTEM_TYPES:
                for tg in job.get("TaskGroups") or ():
                    targets = placer.system_targets(job, tg)
                    have = {a["NodeID"] for a in allocs if not alloc_terminal(a) and a["TaskGroup"] == tg["Name"]}
                    updates[tg["Name"]]["Place"] = len([n for n in targets if n["ID"] not in have])
                    updates[tg["Name"]]["Ignore"] = len(have)
            return {
                "Annotations": {"DesiredTGUpdates": updates, "PreemptedAllocs": None},
                "FailedTGAllocs": failed or None,
                "JobModifyIndex": existing["JobModifyIndex"] if existing else 0,
                "CreatedEvals": None,
                "Diff": wire.job_diff(existing, job) if diff else None,
                "NextPeriodicLaunch": wire.ZERO_TIME,
                "Warnings": "",
                "Index": self.state.index,
            }

    # -- scale ----------------------------------------------------------------------------------
    def scale_job(
        self: SimCluster,
        namespace: str,
        job_id: str,
        *,
        group: str,
        count: int | None,
        message: str = "",
        error: bool = False,
        meta: dict[str, Any] | None = None,
        job_modify_index: int = 0,
    ) -> dict[str, Any]:
        """Scale one group (``PUT /v1/job/:id/scale``), with Nomad's validation and events."""
        if not group:
            raise bad_request("missing task group name for scaling action")
        if count is not None and count < 0:
            raise bad_request("scaling action count can't be negative")
        if error and count is not None:
            raise bad_request("scaling action should not contain count if error is true")
        with self.state.lock:
            job = self.state.jobs.get((namespace, job_id))
            if job is None:
                raise NomadHTTPError(404, f'job "{job_id}" not found')
            tg = next((g for g in job.get("TaskGroups") or () if g["Name"] == group), None)
            if tg is None:
                raise bad_request(f'task group "{group}" specified for scaling does not exist in job')
            if job_modify_index and job_modify_index != job["JobModifyIndex"]:
                raise NomadHTTPError(
                    500,
                    f"Enforcing job modify index {job_modify_index}: job exists with conflicting "
                    f"job modify index: {job['JobModifyIndex']}",
                )
            if count is not None:
                policy = tg.get("Scaling") or None
                if policy:
                    lo, hi = int(policy.get("Min") or 0), policy.get("Max")
                    if count < lo:
                        raise bad_request(f"group count was less than scaling policy minimum: {count} < {lo}")
                    if hi is not None and count > int(hi):
                        raise bad_request(f"group count was greater than scaling policy maximum: {count} > {hi}")
                if job["Type"] == "system" and count > 1:
                    raise bad_request('jobs of type "system" can only be scaled between 0 and 1')
                if any(
                    d["JobID"] == job_id and d["Namespace"] == namespace
                    and d["Status"] in ("running", "paused", "pending", "blocked", "unblocking", "initializing")
                    for d in self.state.deployments.values()
                ):
                    raise bad_request("job scaling blocked due to active deployment")
            previous = int(tg.get("Count") or 0)
            reply: dict[str, Any]
            eval_id: str | None = None
            if count is None:
                reply = {
                    "EvalID": "", "EvalCreateIndex": 0, "JobModifyIndex": job["JobModifyIndex"],
                    "Warnings": "", "Index": 0, "LastContact": 0, "KnownLeader": False, "NextToken": "",
                }
            else:
                new = copy.deepcopy(job)
                for g in new["TaskGroups"]:
                    if g["Name"] == group:
                        g["Count"] = count
                reply = self.register_job(
                    new, namespace=namespace, triggered_by="job-scaling", _scaling=True
                )
                eval_id = reply["EvalID"] or None
            # The scaling event is its own Raft write; its CreateIndex is that write's index
            # (state store UpsertScalingEvent sets ScalingEvent.CreateIndex = index).
            idx = self.state.next_index()
            event = wire.scaling_event(
                time_ns=self.now_ns(), count=count, previous_count=previous, message=message,
                error=error, meta=meta, eval_id=eval_id, create_index=idx,
            )
            events = self.state.scaling_events.setdefault((namespace, job_id), {}).setdefault(group, [])
            events.insert(0, event)
            del events[JOB_TRACKED_SCALING_EVENTS:]
            self.state.commit(idx, ["scaling_event"])
            reply["Index"] = reply["EvalCreateIndex"] if count is not None else idx
            return reply

    # -- deregister -----------------------------------------------------------------------------
    def deregister_job(
        self: SimCluster, namespace: str, job_id: str, *, purge: bool = False, eval_priority: int = 0
    ) -> dict[str, Any]:
        """Stop (or purge) a job (``DELETE /v1/job/:id``)."""
        with self.state.lock:
            key = (namespace, job_id)
            job = self.state.jobs.get(key)
            if job is None:
                # Job.Deregister returns nil for an unknown job: a zero reply, 200.
                return {"EvalID": "", "EvalCreateIndex": 0, "JobModifyIndex": 0, "VolumeEvalID": "",
                        "VolumeEvalIndex": 0, "Index": 0, "LastContact": 0, "KnownLeader": False,
                        "NextToken": ""}
            idx = self.state.next_index()
            if purge:
                self.state.remove("jobs", key)
                self.state.job_versions.pop(key, None)
                self.state.job_summaries.pop(key, None)
                self.state.scaling_events.pop(key, None)
                stub_job = dict(job, Stop=True)
            else:
                job["Stop"] = True
                self.state.stamp("jobs", key, job, idx)
                job["JobModifyIndex"] = idx
                job["SubmitTime"] = self.now_ns()
                job["Version"] += 1
                versions = self.state.job_versions.setdefault(key, [])
                versions.append(copy.deepcopy(job))
                del versions[:-JOB_TRACKED_VERSIONS]
                stub_job = job
            ev = self._create_eval(stub_job, "job-deregister", idx, priority=eval_priority or job["Priority"])
            self.state.commit(idx, ["jobs", "job_version", "job_summary", "evals"], tracked=True)
            self.process_eval(ev["ID"], job_override=stub_job)
            return {
                "EvalID": ev["ID"],
                "EvalCreateIndex": idx,
                "JobModifyIndex": idx,
                "VolumeEvalID": "",
                "VolumeEvalIndex": 0,
                "Index": idx,
                "LastContact": 0,
                "KnownLeader": False,
                "NextToken": "",
            }

    def evaluate_job(self: SimCluster, namespace: str, job_id: str) -> dict[str, Any]:
        """Force a new evaluation (``PUT /v1/job/:id/evaluate``)."""
        with self.state.lock:
            job = self.state.jobs.get((namespace, job_id))
            if job is None:
                raise NomadHTTPError(500, "job not found")
            if (job.get("Periodic") or {}).get("Enabled"):
                raise NomadHTTPError(500, "can't evaluate periodic job")
            if job.get("ParameterizedJob") is not None and not job.get("Dispatched"):
                raise NomadHTTPError(500, "can't evaluate parameterized job")
            idx = self.state.next_index()
            ev = self._create_eval(job, "job-register", idx, priority=job["Priority"])
            self.state.commit(idx, ["evals"], tracked=True)
            self.process_eval(ev["ID"])
            return {
                "EvalID": ev["ID"], "EvalCreateIndex": idx, "JobModifyIndex": job["JobModifyIndex"],
                "Warnings": "", "Index": idx, "LastContact": 0, "KnownLeader": False, "NextToken": "",
            }

    # -- evaluations ----------------------------------------------------------------------------
    def _create_eval(
        self: SimCluster,
        job: dict[str, Any],
        triggered_by: str,
        idx: int,
        *,
        priority: int,
        status: str = "pending",
        node_id: str = "",
        node_modify_index: int = 0,
        previous_eval: str = "",
        wait_until_ns: int = 0,
    ) -> dict[str, Any]:
        ev = wire.new_evaluation(
            eval_id=self.new_id(),
            namespace=job["Namespace"],
            job_id=job["ID"],
            priority=priority,
            eval_type=job["Type"],
            triggered_by=triggered_by,
            job_modify_index=job["JobModifyIndex"],
            now_ns=self.now_ns(),
            index=idx,
            status=status,
            node_id=node_id,
            node_modify_index=node_modify_index,
            previous_eval=previous_eval,
        )
        if wait_until_ns:
            ev["WaitUntil"] = wire.rfc3339(wait_until_ns)
        self.state.insert("evals", ev["ID"], ev)
        return ev

    def process_eval(self: SimCluster, eval_id: str, *, job_override: dict[str, Any] | None = None,
                     reblock: bool = False) -> None:
        """Run the scheduler for one evaluation and commit its plan at the next index.

        With ``reblock`` (a blocked evaluation re-run), an evaluation that still cannot place
        everything goes back to ``blocked`` itself instead of spawning another (Nomad's
        ``ReblockEval``).
        """
        with self.state.lock:
            ev = self.state.evals[eval_id]
            ns, job_id = ev["Namespace"], ev["JobID"]
            job = job_override or self.state.jobs.get((ns, job_id))
            idx = self.state.next_index()
            # The plan writes evaluations and allocations; the job and its summary are stamped
            # by _refresh_job only when their status or counts change (Nomad's setJobStatus).
            tables = {"evals", "allocs"}
            if job is None:
                ev.update(Status="complete", ModifyTime=self.now_ns())
                self.state.stamp("evals", eval_id, ev, idx)
                self.state.commit(idx, tables, tracked=True)
                return
            allocs = self.state.job_allocs(ns, job_id)
            versions = {v["Version"]: v for v in self.state.job_versions.get((ns, job_id), [])}
            result = reconcile(job, allocs, self.state.nodes, versions, now_ns=self.now_ns())
            usage = Usage(self.state.allocs.values())
            for a, _ in result.stop:
                usage.remove(a["NodeID"], _ask_of(a), (a["Namespace"], a["JobID"], a["TaskGroup"]))
            placer = Placer(self.state.nodes, usage)
            for a, desc in result.stop:
                self.stop_allocation_desired(a, desc, idx)
            deployment_id = self._maybe_deployment(job, result, idx)
            for a in result.inplace:
                a["Job"] = versions.get(job["Version"], job)
                a["AllocModifyIndex"] = idx
                self.state.stamp("allocs", a["ID"], a, idx)
                a["ModifyTime"] = self.now_ns()
                if deployment_id and a.get("DeploymentID") != deployment_id:
                    # generic_sched: an in-place update joins the new deployment with its
                    # health reset, and counts as placed in it.
                    self.join_deployment(a, deployment_id)
            failed = self._place_all(job, result, placer, commit=True, eval_id=eval_id, idx=idx,
                                     deployment_id=deployment_id)
            if job["Type"] in SYSTEM_TYPES and not job.get("Stop"):
                failed.update(self._place_system(job, allocs, placer, eval_id, idx))
            for a, at_ns in result.reschedule_later:
                if not a.get("FollowupEvalID"):
                    follow = self._create_eval(job, "failed-follow-up", idx, priority=job["Priority"],
                                               status="pending", previous_eval=eval_id, wait_until_ns=at_ns)
                    follow["Wait"] = 0
                    a["FollowupEvalID"] = follow["ID"]
                    self.state.stamp("allocs", a["ID"], a, idx)
                    self.at(at_ns, self._run_followup, follow["ID"])
            # Every placement that did not fit stays queued: the first failure plus the
            # ones coalesced into its metric.
            queued = {g: 1 + int(m.get("CoalescedFailures") or 0) for g, m in failed.items()}
            self.state.stamp("evals", eval_id, ev, idx)
            ev.update(
                Status="complete",
                ModifyTime=self.now_ns(),
                FailedTGAllocs={g: m for g, m in failed.items()} or None,
                QueuedAllocations={tg["Name"]: queued.get(tg["Name"], 0) for tg in job.get("TaskGroups") or ()},
                SnapshotIndex=idx - 1,
            )
            for m in failed.values():
                m.pop("_count", None)
            if failed and reblock:
                ev.update(Status="blocked", FailedTGAllocs=None,
                          StatusDescription="created to place remaining allocations")
                self.state.blocked_evals[eval_id] = None
            elif failed:
                blocked = self._create_eval(job, "queued-allocs", idx, priority=ev["Priority"],
                                            status="blocked", previous_eval=eval_id)
                blocked["StatusDescription"] = "created to place remaining allocations"
                blocked["ClassEligibility"] = {}
                blocked["EscapedComputedClass"] = False
                ev["BlockedEval"] = blocked["ID"]
                ev["FailedTGAllocs"] = {g: m for g, m in failed.items()}
                # Only one blocked eval per job is kept, as Nomad's blocked-evals tracker does.
                for other in self.state.job_evals(ns, job_id):
                    if other["ID"] != blocked["ID"] and other["Status"] == "blocked":
                        other.update(Status="canceled", StatusDescription="evaluation is outdated",
                                     ModifyTime=self.now_ns())
                        self.state.stamp("evals", other["ID"], other, idx)
            self.queued[(ns, job_id)] = queued
            self.state.commit(idx, tables | {"deployment"}, tracked=True)
            self._refresh_job(ns, job_id, idx)

    def _run_followup(self: SimCluster, eval_id: str) -> None:
        ev = self.state.evals.get(eval_id)
        if ev is not None and ev["Status"] == "pending":
            self.process_eval(eval_id)

    def unblock_evals(self: SimCluster) -> None:
        """Re-run blocked evaluations after capacity changed (a node joined, work stopped)."""
        with self.state.lock:
            blocked = self.state.blocked()
            for ev in sorted(blocked, key=lambda e: (-e["Priority"], e["CreateIndex"])):
                if ev["Status"] != "blocked":
                    continue
                idx = self.state.next_index()
                ev.update(Status="pending", ModifyTime=self.now_ns())
                self.state.stamp("evals", ev["ID"], ev, idx)
                self.state.commit(idx, ["evals"], tracked=True)
                self.process_eval(ev["ID"], reblock=True)

    def _place_all(
        self: SimCluster,
        job: dict[str, Any],
        result: ReconcileResult,
        placer: Placer,
        *,
        commit: bool,
        eval_id: str = "",
        idx: int = 0,
        deployment_id: str = "",
    ) -> dict[str, dict[str, Any]]:
        """Place every allocation the reconciler asked for; return per-group failure metrics."""
        groups = {tg["Name"]: tg for tg in job.get("TaskGroups") or ()}
        failed: dict[str, dict[str, Any]] = {}
        for name, index, previous in result.place:
            tg = groups[name]
            if name in failed:
                failed[name]["CoalescedFailures"] += 1
                continue
            outcome = placer.place(job, tg)
            if outcome.node is None:
                failed[name] = outcome.metric
                continue
            if commit:
                self.create_allocation(job, tg, index, outcome.node, eval_id=eval_id, idx=idx,
                                       metric=outcome.metric, previous=previous,
                                       deployment_id=deployment_id)
        for name, (more, start) in result.overflow.items():
            # A huge Count: place one by one until the group does not fit, then coalesce the
            # rest into the failure, as Nomad's scheduler stops at exhaustion.
            tg = groups[name]
            for k in range(more):
                if name in failed:
                    failed[name]["CoalescedFailures"] += more - k
                    break
                outcome = placer.place(job, tg)
                if outcome.node is None:
                    failed[name] = outcome.metric
                    failed[name]["CoalescedFailures"] += more - k - 1
                    break
                if commit:
                    self.create_allocation(job, tg, start + k, outcome.node, eval_id=eval_id, idx=idx,
                                           metric=outcome.metric, deployment_id=deployment_id)
        return failed

    def _place_system(
        self: SimCluster, job: dict[str, Any], allocs: list[dict[str, Any]], placer: Placer,
        eval_id: str, idx: int,
    ) -> dict[str, dict[str, Any]]:
        failed: dict[str, dict[str, Any]] = {}
        for tg in job.get("TaskGroups") or ():
            if int(tg.get("Count") or 0) == 0:
                continue
            mine = [a for a in allocs if a["TaskGroup"] == tg["Name"]]
            have = {a["NodeID"] for a in mine if not alloc_terminal(a)}
            if job["Type"] == "sysbatch":
                have |= {a["NodeID"] for a in mine if a["ClientStatus"] == "complete"
                         and alloc_job_version(a) == job["Version"]}
            for node in placer.system_targets(job, tg):
                if node["ID"] in have:
                    continue
                outcome = placer.place(job, tg, only_node=node["ID"])
                if outcome.node is None:
                    if tg["Name"] in failed:
                        failed[tg["Name"]]["CoalescedFailures"] += 1
                    else:
                        failed[tg["Name"]] = outcome.metric
                    continue
                self.create_allocation(job, tg, 0, outcome.node, eval_id=eval_id, idx=idx,
                                       metric=outcome.metric)
        return failed

    def _refresh_job(self: SimCluster, namespace: str, job_id: str, idx: int | None = None) -> None:
        """Recompute a job's summary and status from its allocations and evaluations."""
        with self.state.lock:
            key = (namespace, job_id)
            job = self.state.jobs.get(key)
            if job is None:
                return
            allocs = self.state.job_allocs(namespace, job_id)
            evals = self.job_evals(namespace, job_id)
            queued = self.queued.get(key, {})
            summary = self.state.job_summaries.get(key)
            counts = job_summary_counts(job, allocs, queued)
            status = job_status(job, allocs, evals)
            touched = []
            if summary is not None and summary["Summary"] != counts:
                summary["Summary"] = counts
                touched.append("job_summary")
            if job["Status"] != status:
                job["Status"] = status
                touched.append("jobs")
            if touched:
                idx = idx if idx is not None and idx >= self.state.index else self.state.next_index()
                if "job_summary" in touched and summary is not None:
                    summary["ModifyIndex"] = idx
                if "jobs" in touched:
                    self.state.stamp("jobs", key, job, idx)
                self.state.commit(idx, touched, tracked=True)
            if job.get("ParentID"):
                self._refresh_children(namespace, job["ParentID"])

    def _refresh_children(self: SimCluster, namespace: str, parent_id: str) -> None:
        summary = self.state.job_summaries.get((namespace, parent_id))
        if summary is None:
            return
        counts = {"Pending": 0, "Running": 0, "Dead": 0}
        for (ns, _), child in self.state.jobs.items():
            if ns == namespace and child.get("ParentID") == parent_id:
                counts[child["Status"].capitalize()] = counts.get(child["Status"].capitalize(), 0) + 1
        if summary.get("Children") != counts:
            summary["Children"] = counts
            idx = self.state.next_index()
            summary["ModifyIndex"] = idx
            self.state.commit(idx, ["job_summary"], tracked=True)

    def _maybe_deployment(
        self: SimCluster, job: dict[str, Any], result: ReconcileResult, idx: int
    ) -> str:
        """Start a deployment when a service job with an update block places new work."""
        if job["Type"] != "service" or job.get("Stop"):
            return ""
        if not any(tg.get("Update") for tg in job.get("TaskGroups") or ()):
            return ""
        current = self.latest_deployment(job["Namespace"], job["ID"])
        if current is not None and current["JobVersion"] == job["Version"]:
            return current["ID"] if current["Status"] == "running" else ""
        if not result.place and current is not None:
            return ""
        if current is not None and current["Status"] in ("running", "paused", "pending"):
            current.update(Status="cancelled", StatusDescription="Cancelled due to newer version of job",
                           ModifyTime=self.now_ns())
            self.state.stamp("deployment", current["ID"], current, idx)
        dep = wire.new_deployment(deployment_id=self.new_id(), job=job, now_ns=self.now_ns(), index=idx)
        self.state.insert("deployment", dep["ID"], dep)
        return str(dep["ID"])

    def latest_deployment(self: SimCluster, namespace: str, job_id: str) -> dict[str, Any] | None:
        deps = [d for d in self.state.deployments.values()
                if d["JobID"] == job_id and d["Namespace"] == namespace]
        return max(deps, key=lambda d: d["CreateIndex"]) if deps else None


def _ask_of(alloc: dict[str, Any]) -> tuple[int, int, int]:
    from .scheduler import alloc_ask

    return alloc_ask(alloc)
