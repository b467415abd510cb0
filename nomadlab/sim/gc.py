# mypy: disable-error-code="misc"
# (the mixin methods annotate ``self: SimCluster``, as pyproject.toml's override for jobs.py says)
"""Garbage collection: the server's forced GC, job-summary reconciliation, and client-side GC.

``PUT /v1/system/gc`` runs Nomad's core scheduler with ``force`` (``nomad/core_sched.go``): every
threshold is ignored, so what is eligible goes at once:

* evaluations that are terminal and whose allocations are all GC-eligible (``allocGCEligible``),
  with those allocations; a live batch job keeps its evaluations and allocations;
* jobs that are stopped or batch, ``dead``, whose evaluations are terminal and allocations
  eligible, with their versions, summaries, scaling events and deployments;
* deployments that are no longer active;
* nodes that are ``down`` with no allocation left that is not terminal.

Client GC (``/v1/client/allocation/:id/gc``, ``/v1/client/gc``) removes terminal allocations from
the client that ran them (their stats and logs are gone), not from the server's state.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .errors import NomadHTTPError
from .scheduler import alloc_terminal

if TYPE_CHECKING:
    from .cluster import SimCluster

__all__ = ["GCOperations", "alloc_gc_eligible"]

_EVAL_TERMINAL = ("complete", "failed", "canceled")
_DEPLOYMENT_ACTIVE = ("running", "paused", "blocked", "unblocking", "pending", "initializing")


def alloc_gc_eligible(alloc: dict[str, Any], job: dict[str, Any] | None, now_ns: int) -> bool:
    """Nomad's ``allocGCEligible`` with no age threshold (a forced GC)."""
    if not alloc_terminal(alloc) or alloc["ClientStatus"] == "running":
        return False
    if job is None or job.get("Stop") or job.get("Status") == "dead":
        return True
    if alloc["DesiredStatus"] == "stop" or alloc["ClientStatus"] != "failed":
        return True
    tg = next((g for g in job.get("TaskGroups") or () if g["Name"] == alloc["TaskGroup"]), None)
    policy = (tg or {}).get("ReschedulePolicy")
    if not policy or (not policy.get("Unlimited") and not int(policy.get("Attempts") or 0)):
        return True
    if alloc.get("NextAllocation"):
        return True
    if policy.get("Unlimited"):
        return False
    events = (alloc.get("RescheduleTracker") or {}).get("Events") or []
    if not events:
        return False
    return now_ns - int(events[-1]["RescheduleTime"]) > int(policy.get("Interval") or 0)


class GCOperations:
    """Garbage collection of :class:`~nomadlab.sim.cluster.SimCluster`."""

    def garbage_collect(self: SimCluster) -> dict[str, int]:
        """``PUT /v1/system/gc``: collect everything eligible now; returns counts by kind."""
        s = self.state
        now = self.now_ns()
        counts = {"evals": 0, "allocs": 0, "jobs": 0, "deployments": 0, "nodes": 0}
        with s.lock:
            idx = s.next_index()
            tables: set[str] = set()
            # jobs first: a collected job takes its evaluations, allocations and deployments
            for key, job in list(s.jobs.items()):
                gcable = job.get("Stop") or job["Type"] in ("batch", "sysbatch")
                if not gcable or job["Status"] != "dead":
                    continue
                evals = self.job_evals(*key)
                allocs = s.job_allocs(*key)
                if any(e["Status"] not in _EVAL_TERMINAL for e in evals):
                    continue
                if not all(alloc_gc_eligible(a, job, now) for a in allocs):
                    continue
                for a in allocs:
                    self._forget_alloc(a["ID"])
                for e in evals:
                    s.remove("evals", e["ID"])
                for dep_id in [d["ID"] for d in s.deployments.values()
                               if (d["Namespace"], d["JobID"]) == key]:
                    s.remove("deployment", dep_id)
                    counts["deployments"] += 1
                s.remove("jobs", key)
                s.job_versions.pop(key, None)
                s.job_summaries.pop(key, None)
                s.scaling_events.pop(key, None)
                self.queued.pop(key, None)
                for sub in [k for k in s.job_submissions if (k[0], k[1]) == key]:
                    del s.job_submissions[sub]
                counts["jobs"] += 1
                counts["evals"] += len(evals)
                counts["allocs"] += len(allocs)
                tables |= {"jobs", "job_summary", "job_version", "job_submission", "evals", "allocs",
                           "deployment", "scaling_event"}
                if job.get("ParentID"):
                    self._refresh_children(key[0], job["ParentID"])
            for ev in list(s.evals.values()):
                if ev["Status"] not in _EVAL_TERMINAL:
                    continue
                owner = s.jobs.get((ev["Namespace"], ev["JobID"]))
                if owner is not None and owner["Type"] in ("batch", "sysbatch") and owner["Status"] != "dead":
                    continue  # a live batch job keeps its history (core_sched.go gcEval)
                allocs = [s.allocs[i] for i in s.allocs_by_eval.get(ev["ID"], {}) if i in s.allocs]
                if not all(alloc_gc_eligible(a, owner, now) for a in allocs):
                    continue
                if any(e.get("BlockedEval") == ev["ID"] or e.get("PreviousEval") == ev["ID"]
                       for e in s.evals.values() if e["Status"] not in _EVAL_TERMINAL):
                    continue
                for a in allocs:
                    self._forget_alloc(a["ID"])
                s.remove("evals", ev["ID"])
                counts["evals"] += 1
                counts["allocs"] += len(allocs)
                tables |= {"evals", "allocs"}
            for dep in list(s.deployments.values()):
                if dep["Status"] not in _DEPLOYMENT_ACTIVE:
                    s.remove("deployment", dep["ID"])
                    counts["deployments"] += 1
                    tables.add("deployment")
            for node in list(s.nodes.values()):
                if node["Status"] != "down":
                    continue
                if any(not alloc_terminal(a) for a in s.node_allocs(node["ID"])):
                    continue
                s.remove("nodes", node["ID"])
                counts["nodes"] += 1
                tables.add("nodes")
            s.commit(idx, tables, tracked=True)
            return counts

    def _forget_alloc(self: SimCluster, alloc_id: str) -> None:
        self.state.delete_alloc(alloc_id)
        self._alloc_generation.pop(alloc_id, None)
        self.client_collected.discard(alloc_id)
        for key in [k for k in self._restart_times if k[0] == alloc_id]:
            del self._restart_times[key]

    def reconcile_summaries(self: SimCluster) -> None:
        """``PUT /v1/system/reconcile/summaries``: every job summary recomputed and rewritten."""
        from .scheduler import job_summary_counts

        with self.state.lock:
            idx = self.state.next_index()
            for key, summary in self.state.job_summaries.items():
                job = self.state.jobs.get(key)
                if job is None:
                    continue
                summary["Summary"] = job_summary_counts(job, self.state.job_allocs(*key), self.queued.get(key, {}))
                summary["ModifyIndex"] = idx
            self.state.commit(idx, ["job_summary"])

    # -- client side ------------------------------------------------------------------------
    def client_gc_alloc(self: SimCluster, alloc_id: str) -> None:
        """``/v1/client/allocation/:id/gc``: the client drops one terminal allocation."""
        with self.state.lock:
            alloc = self.state.allocs.get(alloc_id)
            if alloc is None or alloc_id in self.client_collected:
                raise NomadHTTPError(404, f'Unknown allocation "{alloc_id}"')
            if not alloc_terminal(alloc) or alloc["ClientStatus"] in ("pending", "running"):
                raise NomadHTTPError(500, "No such allocation on client, or allocation not eligible for GC")
            self.client_collected.add(alloc_id)
            self.state.notify()

    def client_gc_node(self: SimCluster, node_id: str) -> None:
        """``/v1/client/gc?node_id=``: the node's client drops every terminal allocation."""
        with self.state.lock:
            for alloc in self.state.node_allocs(node_id):
                if alloc_terminal(alloc) and alloc["ClientStatus"] not in ("pending", "running"):
                    self.client_collected.add(alloc["ID"])
            self.state.notify()
