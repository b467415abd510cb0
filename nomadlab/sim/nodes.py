"""Node writes: registration, drain, scheduling eligibility, and status (down / ready).

A drain marks the node ineligible, asks every allocation on it to migrate, and completes when
none is left running there, recording ``LastDrain`` and a node event, as Nomad's drainer does.
A node that goes down loses its allocations; the scheduler replaces them elsewhere.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from . import wire
from .errors import NomadHTTPError, bad_request
from .scheduler import alloc_terminal

if TYPE_CHECKING:
    from .cluster import SimCluster

__all__ = ["NodeOperations"]

DRAIN_CHECK_S = 1.0


class NodeOperations:
    """Node-level writes of :class:`~nomadlab.sim.cluster.SimCluster`."""

    def add_node(self: SimCluster, **spec: Any) -> dict[str, Any]:
        """Register a node (see :func:`nomadlab.sim.wire.new_node` for ``spec``)."""
        with self.state.lock:
            idx = self.state.next_index()
            spec.setdefault("node_id", self.new_id())
            if spec.get("node_pool", "default") not in self.state.node_pools:
                raise bad_request(f'node pool "{spec["node_pool"]}" does not exist')
            node = wire.new_node(now_ns=self.now_ns(), index=idx, **spec)
            self.state.insert("nodes", node["ID"], node)
            self.state.commit(idx, ["nodes"], tracked=True)
            evals = self._system_jobs_eval(node, idx, "node-update")
            self.unblock_evals()
            for ev in evals:
                self.process_eval(ev)
            return node

    def _node(self: SimCluster, node_id: str) -> dict[str, Any]:
        node = self.state.nodes.get(node_id)
        if node is None:
            # Node.UpdateDrain / UpdateEligibility return an uncoded error: 500.
            raise NomadHTTPError(500, "node not found")
        return node

    def _node_event(self: SimCluster, node: dict[str, Any], message: str, idx: int,
                    subsystem: str = "Drain", details: dict[str, str] | None = None) -> None:
        events = node.get("Events") or []
        events.append({"Message": message, "Subsystem": subsystem, "Details": details,
                       "Timestamp": wire.rfc3339(self.now_ns()), "CreateIndex": idx})
        node["Events"] = events[-10:]

    def _system_jobs_eval(self: SimCluster, node: dict[str, Any], idx: int, trigger: str) -> list[str]:
        out = []
        for job in list(self.state.jobs.values()):
            if job["Type"] in ("system", "sysbatch") and not job.get("Stop"):
                ev = self._create_eval(job, trigger, idx, priority=job["Priority"], node_id=node["ID"],
                                       node_modify_index=node["ModifyIndex"])
                out.append(ev["ID"])
        return out

    def _jobs_on_node(self: SimCluster, node_id: str) -> list[dict[str, Any]]:
        seen: dict[tuple[str, str], dict[str, Any]] = {}
        for a in self.state.node_allocs(node_id):
            if alloc_terminal(a):
                continue
            job = self.state.jobs.get((a["Namespace"], a["JobID"]))
            if job is not None:
                seen[(a["Namespace"], a["JobID"])] = job
        return list(seen.values())

    # -- drain ----------------------------------------------------------------------------------
    def drain_node(
        self: SimCluster,
        node_id: str,
        drain_spec: dict[str, Any] | None,
        *,
        mark_eligible: bool = False,
        meta: dict[str, str] | None = None,
    ) -> dict[str, Any]:
        """``POST /v1/node/:id/drain``; a ``None`` spec cancels a drain."""
        with self.state.lock:
            node = self._node(node_id)
            idx = self.state.next_index()
            now = wire.rfc3339(self.now_ns())
            eval_ids: list[str] = []
            if drain_spec is None:
                if node.get("DrainStrategy") is not None:
                    node["DrainStrategy"] = None
                    node["LastDrain"] = dict(node.get("LastDrain") or {}, Status="canceled", UpdatedAt=now)
                    self._node_event(node, "Node drain strategy cleared", idx)
                if mark_eligible:
                    node["SchedulingEligibility"] = "eligible"
            else:
                deadline = int(drain_spec.get("Deadline") or 0)
                force_deadline = wire.ZERO_TIME
                if deadline > 0:
                    force_deadline = wire.rfc3339(self.now_ns() + deadline)
                node["DrainStrategy"] = {
                    "Deadline": deadline,
                    "IgnoreSystemJobs": bool(drain_spec.get("IgnoreSystemJobs")),
                    "ForceDeadline": force_deadline,
                    "StartedAt": now,
                }
                node["SchedulingEligibility"] = "ineligible"
                node["LastDrain"] = {"StartedAt": now, "UpdatedAt": now, "Status": "draining",
                                     "AccessorID": "", "Meta": meta or None}
                self._node_event(node, "Node drain strategy set", idx)
                for a in self.state.node_allocs(node_id):
                    if alloc_terminal(a):
                        continue
                    if a["Job"]["Type"] in ("system", "sysbatch"):
                        continue
                    a["DesiredTransition"] = dict(a.get("DesiredTransition") or {}, Migrate=True)
                    self.state.stamp("allocs", a["ID"], a, idx)
                for job in self._jobs_on_node(node_id):
                    if job["Type"] in ("system", "sysbatch"):
                        continue
                    ev = self._create_eval(job, "node-drain", idx, priority=job["Priority"],
                                           node_id=node_id, node_modify_index=idx)
                    eval_ids.append(ev["ID"])
                self.after(0, self._drain_check, node_id)
            self.state.stamp("nodes", node_id, node, idx)
            self.events.name_next("node", node_id, "NodeDrain")
            self.state.commit(idx, ["nodes", "allocs", "evals"], tracked=True)
            for eid in eval_ids:
                self.process_eval(eid)
            return {"NodeModifyIndex": idx, "EvalIDs": eval_ids or None,
                    "EvalCreateIndex": idx if eval_ids else 0, "Index": idx}

    def _drain_check(self: SimCluster, node_id: str) -> None:
        node = self.state.nodes.get(node_id)
        if node is None or node.get("DrainStrategy") is None:
            return
        remaining = [a for a in self.state.node_allocs(node_id)
                     if not alloc_terminal(a) or a["ClientStatus"] in ("pending", "running")]
        ignore_system = node["DrainStrategy"]["IgnoreSystemJobs"]
        movable = [a for a in remaining if a["Job"]["Type"] not in ("system", "sysbatch")]
        if movable:
            self.after(1.0, self._drain_check, node_id)
            return
        idx = self.state.next_index()
        if not ignore_system:
            for a in remaining:
                if not alloc_terminal(a):
                    self.stop_allocation_desired(a, "alloc is being migrated", idx)
        node["DrainStrategy"] = None
        now = wire.rfc3339(self.now_ns())
        node["LastDrain"] = dict(node.get("LastDrain") or {}, Status="complete", UpdatedAt=now)
        self.state.stamp("nodes", node_id, node, idx)
        self._node_event(node, "Node drain complete", idx)
        self.events.name_next("node", node_id, "NodeDrain")  # BatchNodeUpdateDrainRequestType
        self.state.commit(idx, ["nodes", "allocs"], tracked=True)

    # -- evaluate and purge ---------------------------------------------------------------------
    def _node_update_response(self: SimCluster, idx: int, eval_ids: list[str], node_index: int) -> dict[str, Any]:
        """A ``NodeUpdateResponse`` as ``Node.Evaluate`` / ``Node.Deregister`` fill it."""
        return {"HeartbeatTTL": 0, "EvalIDs": eval_ids or None, "EvalCreateIndex": idx if eval_ids else 0,
                "NodeModifyIndex": node_index, "Features": 0, "LeaderRPCAddr": "", "NumNodes": 0,
                "Servers": None, "SchedulingEligibility": "", "SignedIdentity": None, "Index": idx,
                "LastContact": 0, "KnownLeader": False, "NextToken": ""}

    def _node_evals(self: SimCluster, node: dict[str, Any], idx: int) -> list[str]:
        """``createNodeEvals``: one ``node-update`` evaluation per job with allocations on the
        node, and one per system job (``nomad/node_endpoint.go``)."""
        ids: list[str] = []
        seen: set[tuple[str, str]] = set()
        for a in self.state.node_allocs(node["ID"]):
            key = (a["Namespace"], a["JobID"])
            job = self.state.jobs.get(key)
            if job is None or key in seen:
                continue
            seen.add(key)
            ev = self._create_eval(job, "node-update", idx, priority=job["Priority"], node_id=node["ID"],
                                   node_modify_index=node["ModifyIndex"])
            ids.append(ev["ID"])
        for key, job in list(self.state.jobs.items()):
            if key in seen or job["Type"] not in ("system", "sysbatch") or job.get("Stop"):
                continue
            ev = self._create_eval(job, "node-update", idx, priority=job["Priority"], node_id=node["ID"],
                                   node_modify_index=node["ModifyIndex"])
            ids.append(ev["ID"])
        return ids

    def evaluate_node(self: SimCluster, node_id: str) -> dict[str, Any]:
        """``POST /v1/node/:id/evaluate``: re-evaluate every job on the node (``Node.Evaluate``)."""
        with self.state.lock:
            node = self._node(node_id)
            idx = self.state.next_index()
            eval_ids = self._node_evals(node, idx)
            self.state.commit(idx, ["evals"], tracked=True)
            for eid in eval_ids:
                self.process_eval(eid)
            return self._node_update_response(idx, eval_ids, int(node["ModifyIndex"]))

    def purge_node(self: SimCluster, node_id: str) -> dict[str, Any]:
        """``POST /v1/node/:id/purge``: deregister the node (``Node.Deregister``).

        Its allocations stay in the state with their node gone; the evaluations created for its
        jobs mark them lost and place replacements.
        """
        with self.state.lock:
            node = self._node(node_id)
            idx = self.state.next_index()
            self.state.remove("nodes", node_id)
            for a in self.state.node_allocs(node_id):
                self.mark_lost(a, idx)
            eval_ids = self._node_evals(node, idx)
            self.state.commit(idx, ["nodes", "allocs", "evals"], tracked=True)
            for eid in eval_ids:
                self.process_eval(eid)
            return self._node_update_response(idx, eval_ids, idx)

    # -- eligibility and status -----------------------------------------------------------------
    def set_eligibility(self: SimCluster, node_id: str, eligibility: str) -> dict[str, Any]:
        """``POST /v1/node/:id/eligibility``."""
        # Node.UpdateEligibility returns uncoded errors, so these are 500s over HTTP.
        if eligibility not in ("eligible", "ineligible"):
            raise NomadHTTPError(500, f'invalid scheduling eligibility "{eligibility}"')
        with self.state.lock:
            node = self._node(node_id)
            if eligibility == "eligible" and node.get("DrainStrategy") is not None:
                raise NomadHTTPError(
                    500, "can not set node's scheduling eligibility to eligible while it is draining"
                )
            if node["SchedulingEligibility"] == eligibility:
                # "Nothing to do": no Raft write, so the reply carries zero indexes.
                return {"NodeModifyIndex": 0, "EvalIDs": None, "EvalCreateIndex": 0, "Index": 0}
            idx = self.state.next_index()
            changed = True
            node["SchedulingEligibility"] = eligibility
            self.state.stamp("nodes", node_id, node, idx)
            if changed:
                self._node_event(node, f"Node marked as {eligibility}", idx, subsystem="Cluster")
            self.events.name_next("node", node_id, "NodeEligibility")
            self.state.commit(idx, ["nodes"], tracked=True)
            eval_ids: list[str] = []
            if changed and eligibility == "eligible":
                eval_ids = self._system_jobs_eval(node, idx, "node-update")
                for eid in eval_ids:
                    self.process_eval(eid)
                self.unblock_evals()
            return {"NodeModifyIndex": idx, "EvalIDs": eval_ids or None,
                    "EvalCreateIndex": idx if eval_ids else 0, "Index": idx}

    def set_node_status(self: SimCluster, node_id: str, status: str) -> None:
        """A node's heartbeat status changes (``down`` loses its allocations, ``ready`` rejoins)."""
        if status not in ("initializing", "ready", "down", "disconnected"):
            raise ValueError(f"unknown node status {status!r}")
        with self.state.lock:
            node = self._node(node_id)
            idx = self.state.next_index()
            node["Status"] = status
            node["StatusUpdatedAt"] = self.now_ns() // 1_000_000_000
            self.state.stamp("nodes", node_id, node, idx)
            msg = {"down": "Node heartbeat missed", "ready": "Node reregistered by heartbeat"}.get(
                status, f"Node status {status}")
            self._node_event(node, msg, idx, subsystem="Cluster")
            jobs = self._jobs_on_node(node_id)
            if status == "down":
                for a in self.state.node_allocs(node_id):
                    self.mark_lost(a, idx)
            self.state.commit(idx, ["nodes", "allocs"], tracked=True)
            evals = []
            for job in jobs:
                ev = self._create_eval(job, "node-update", idx, priority=job["Priority"],
                                       node_id=node_id, node_modify_index=idx)
                evals.append(ev["ID"])
            if status == "ready":
                evals += self._system_jobs_eval(node, idx, "node-update")
            self.state.commit(idx, ["evals"], tracked=True)
            for eid in evals:
                self.process_eval(eid)
            for job in jobs:
                self._refresh_job(job["Namespace"], job["ID"])
            if status == "ready":
                self.unblock_evals()
