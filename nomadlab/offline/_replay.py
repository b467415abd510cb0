"""Replaying a recording: a starting snapshot plus events, rebuilt into the cluster at an instant.

Nomad's events carry full objects (jobs, allocations without their embedded job, nodes without
their secret, evaluations, deployments, node pools), so the state after an event is the state
before it with that object replaced. What the list endpoints return is derived from the full
objects with the simulator's wire projections (:mod:`nomadlab.sim.wire`: ``alloc_stub``,
``job_stub``, ``node_stub``, ``job_diff``), the one place nomadlab writes down how Nomad shapes
its list stubs; nothing is re-derived here.

What the event stream does not carry, and what the replay therefore says rather than guesses:

- usage stats (``node_stats``, ``alloc_stats``): none after the start (errors of those reads);
- scaling events after the start (``job_scale``'s ``Events`` are the snapshot's);
- namespaces (no events): the snapshot's;
- evaluations and allocations garbage-collected by Nomad stay (GC emits no events).
"""

from __future__ import annotations

import copy
from collections.abc import Hashable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from ._stored import StoredSource

__all__ = ["NOT_IN_STREAM", "Replay", "TimedEvent", "batch_time_ns"]

# Nomad keeps this many versions of a job (structs.JobTrackedVersions).
JOB_TRACKED_VERSIONS = 6
# ... and this many scaling events per task group (structs.JobTrackedScalingEvents).
JOB_TRACKED_SCALING_EVENTS = 20

NOT_IN_STREAM: dict[str, str] = {
    "node_stats": "usage stats are not in the event stream: the recording holds none after its start "
                  "(record with usage_every= to sample them; see Recording.usage())",
    "alloc_stats": "usage stats are not in the event stream: the recording holds none after its start "
                   "(record with usage_every= to sample them; see Recording.usage())",
}
"""Why each per-object read has no answer from a replayed instant."""

SCALING_NOTE = ("scaling events are not in the event stream: the recorder reads a job's scale status when "
                "an event changes its counts; a scaling event that changes no count (an autoscaler's "
                "message) is recorded only when a later count change brings it")
NAMESPACES_NOTE = "namespaces have no events: they are the starting snapshot's"


@dataclass(frozen=True)
class TimedEvent:
    """One recorded event: its time (ns since the epoch, see :func:`batch_time_ns`) and its wire object."""

    time_ns: int
    event: Mapping[str, Any]
    read: bool = False
    """True for a read the recorder made (a job's scale status), False for Nomad's events."""

    @property
    def index(self) -> int:
        value = self.event.get("Index")
        return value if isinstance(value, int) and not isinstance(value, bool) else 0

    @property
    def ident(self) -> tuple[int, str, str, str]:
        """``(index, topic, key, type)``: what identifies an event across reconnections."""
        e = self.event
        return (self.index, str(e.get("Topic", "")), str(e.get("Key", "")), str(e.get("Type", "")))


def _rfc3339_ns(text: Any) -> int | None:
    if not isinstance(text, str) or not text or text.startswith("0001-"):
        return None
    import pandas as pd

    try:
        ts = pd.Timestamp(text)
    except (ValueError, TypeError):
        return None
    return int(ts.value) if ts.tzinfo is not None else int(ts.tz_localize("UTC").value)


def _object_time_ns(event: Mapping[str, Any]) -> int | None:
    """When the object an event carries was changed at the event's index, if it says so."""
    index = event.get("Index")
    payload = event.get("Payload")
    if not isinstance(payload, Mapping):
        return None
    for obj in payload.values():
        if not isinstance(obj, Mapping):
            continue
        if obj.get("ModifyIndex") == index and isinstance(obj.get("ModifyTime"), int) and obj["ModifyTime"] > 0:
            return int(obj["ModifyTime"])
        if obj.get("JobModifyIndex") == index and isinstance(obj.get("SubmitTime"), int) and obj["SubmitTime"] > 0:
            return int(obj["SubmitTime"])
        node_events = obj.get("Events")
        if isinstance(node_events, list) and node_events:
            last = node_events[-1]
            if isinstance(last, Mapping) and last.get("CreateIndex") == index:
                return _rfc3339_ns(last.get("Timestamp"))
    return None


def batch_time_ns(events: Iterable[Mapping[str, Any]], previous_ns: int | None, received_ns: int) -> int:
    """The time of one index's events.

    Nomad's events carry no time. The objects they carry do: an allocation's, evaluation's or
    deployment's ``ModifyTime`` when its ``ModifyIndex`` is the event's, a job's ``SubmitTime``
    when its ``JobModifyIndex`` is, a node's last node event's ``Timestamp`` when created at
    that index. The batch's time is the latest of those (never earlier than the batch before);
    a batch with none takes the time of the batch before (it was written in the same moment as
    far as anything says), and the first, the time it was received.
    """
    times = [t for t in (_object_time_ns(e) for e in events) if t is not None]
    if times:
        found = max(times)
        return found if previous_ns is None else max(found, previous_ns)
    return previous_ns if previous_ns is not None else received_ns


def _int(value: Any) -> int:
    """An integer field of a wire object; 0 when it is missing or not an integer."""
    return value if isinstance(value, int) and not isinstance(value, bool) else 0


def _scaling_id(event: Mapping[str, Any]) -> tuple[Any, ...]:
    return (event.get("Time"), event.get("CreateIndex"), event.get("Count"), event.get("Message"))


def _by_create(obj: Mapping[str, Any]) -> tuple[int, str]:
    return _int(obj.get("CreateIndex")), str(obj.get("ID"))


class Replay:
    """The cluster's objects as a starting snapshot plus events applied in order."""

    def __init__(self, lists: Mapping[str, list[dict[str, Any]]],
                 details: Mapping[str, tuple[Mapping[Hashable, Any], Mapping[Hashable, str]]],
                 unreadable: Mapping[str, str]) -> None:
        self.unreadable = dict(unreadable)
        self.index = 0
        job_objects = dict(details.get("job", ({}, {}))[0])
        self.jobs: dict[tuple[str, str], dict[str, Any]] = {
            k: v for k, v in job_objects.items() if isinstance(k, tuple) and isinstance(v, dict)}
        self.job_stubs: dict[tuple[str, str], dict[str, Any]] = {
            (str(s.get("Namespace")), str(s.get("ID"))): s for s in lists.get("jobs", [])}
        self.versions: dict[tuple[str, str], list[dict[str, Any]]] = {}
        for key, reply in details.get("job_versions", ({}, {}))[0].items():
            if isinstance(key, tuple) and isinstance(reply, Mapping) and isinstance(reply.get("Versions"), list):
                # copied: a replay marks versions stable, and the snapshot it starts from is shared
                self.versions[key] = [copy.deepcopy(v) for v in reply["Versions"]
                                      if isinstance(v, dict)]
        self.scale_events: dict[tuple[str, str], dict[str, Any]] = {}
        for key, reply in details.get("job_scale", ({}, {}))[0].items():
            if isinstance(key, tuple) and isinstance(reply, Mapping):
                groups = reply.get("TaskGroups") or {}
                self.scale_events[key] = {g: (v or {}).get("Events") for g, v in groups.items()}
        self.allocs: dict[str, dict[str, Any]] = {a["ID"]: a for a in lists.get("allocations", []) if "ID" in a}
        self.nodes: dict[str, dict[str, Any]] = {
            k: v for k, v in details.get("node", ({}, {}))[0].items() if isinstance(k, str) and isinstance(v, dict)}
        self.node_stubs: dict[str, dict[str, Any]] = {n["ID"]: n for n in lists.get("nodes", []) if "ID" in n}
        self.evals: dict[str, dict[str, Any]] = {e["ID"]: e for e in lists.get("evaluations", []) if "ID" in e}
        self.deployments: dict[str, dict[str, Any]] = {
            d["ID"]: d for d in lists.get("deployments", []) if "ID" in d}
        self.node_pools: dict[str, dict[str, Any]] = {
            p["Name"]: p for p in lists.get("node_pools", []) if "Name" in p}
        self.namespaces = list(lists.get("namespaces", []))
        self.touched_jobs: set[tuple[str, str]] = set()
        self.touched_nodes: set[str] = set()
        self.applied = 0
        self.stale = 0
        self.problems: list[str] = []

    # -- applying events --------------------------------------------------------------------------
    def apply(self, event: Mapping[str, Any]) -> None:
        """Apply one event (its object replaces the stored one unless the stored one is newer)."""
        topic = event.get("Topic")
        index = event.get("Index")
        if not isinstance(index, int) or isinstance(index, bool):
            return
        payload = event.get("Payload") if isinstance(event.get("Payload"), Mapping) else {}
        assert isinstance(payload, Mapping)
        obj = payload.get(str(topic)) if topic != "NodePool" else payload.get("NodePool")
        handler = getattr(self, f"_on_{str(topic).lower()}", None)
        if handler is None:
            return
        try:
            applied = handler(event, obj, index)
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            self.problems.append(f"event {index} ({topic} {event.get('Key')!r}) cannot be applied: {exc!r}")
            return
        if applied:
            self.applied += 1
        else:
            self.stale += 1
        self.index = max(self.index, index)

    @staticmethod
    def _newer(stored: Mapping[str, Any] | None, obj: Mapping[str, Any]) -> bool:
        return stored is None or _int(obj.get("ModifyIndex")) > _int(stored.get("ModifyIndex"))

    def _on_job(self, event: Mapping[str, Any], obj: Any, index: int) -> bool:
        key = (str(event.get("Namespace") or "default"), str(event.get("Key") or ""))
        deleted = not isinstance(obj, Mapping) or (event.get("Type") == "JobDeregistered"
                                                   and obj.get("ModifyIndex") != index)
        if deleted:
            stored = self.jobs.get(key)
            if stored is not None and _int(stored.get("ModifyIndex")) >= index:
                return False
            for table in (self.jobs, self.job_stubs, self.versions, self.scale_events):
                table.pop(key, None)
            self.touched_jobs.discard(key)
            return True
        assert isinstance(obj, Mapping)
        if not self._newer(self.jobs.get(key), obj):
            return False
        job = copy.deepcopy(dict(obj))
        self.jobs[key] = job
        self.touched_jobs.add(key)
        versions = self.versions.setdefault(key, [])
        newest = versions[0] if versions else None
        if newest is None or _int(job.get("Version")) > _int(newest.get("Version")):
            versions.insert(0, copy.deepcopy(job))
            del versions[JOB_TRACKED_VERSIONS:]
        elif job.get("Stable"):
            for v in versions:
                if v.get("Version") == job.get("Version"):
                    v["Stable"] = True
        return True

    def _on_allocation(self, event: Mapping[str, Any], obj: Any, index: int) -> bool:
        if not isinstance(obj, Mapping) or not isinstance(obj.get("ID"), str):
            return False
        stored = self.allocs.get(obj["ID"])
        if not self._newer(stored, obj):
            return False
        alloc = copy.deepcopy(dict(obj))
        from nomadlab.sim.wire import alloc_stub

        stub = alloc_stub(alloc, resources=True, task_states=True)
        key = (str(alloc.get("Namespace")), str(alloc.get("JobID")))
        job = self.jobs.get(key) or self.job_stubs.get(key) or {}
        stub["JobType"] = job.get("Type", "")
        # The stub's JobVersion is that of the job embedded in the allocation, which the event
        # leaves out: the job at the allocation's AllocModifyIndex (when the plan that placed or
        # updated it in place was applied), except for an allocation told to stop, which keeps
        # the job it ran (Nomad's reconciler never stops and updates in place one allocation).
        now_version = self._version_at(key, _int(alloc.get("AllocModifyIndex") or alloc.get("CreateIndex")))
        prior = stored.get("JobVersion") if stored is not None else None
        if alloc.get("DesiredStatus") == "run" or not isinstance(prior, int):
            stub["JobVersion"] = now_version
        else:
            stub["JobVersion"] = prior
        self.allocs[alloc["ID"]] = stub
        self.touched_jobs.add(key)
        return True

    def _version_at(self, key: tuple[str, str], index: int) -> int:
        """The job's version current at Raft ``index`` (the newest whose JobModifyIndex ≤ it)."""
        for v in self.versions.get(key, []):
            if _int(v.get("JobModifyIndex")) <= index:
                return _int(v.get("Version"))
        job = self.jobs.get(key) or {}
        return _int(job.get("Version"))

    def _on_node(self, event: Mapping[str, Any], obj: Any, index: int) -> bool:
        node_id = str(event.get("Key") or "")
        if event.get("Type") == "NodeDeregistration":
            self.nodes.pop(node_id, None)
            self.node_stubs.pop(node_id, None)
            return True
        if not isinstance(obj, Mapping) or not self._newer(self.nodes.get(node_id), obj):
            return False
        self.nodes[node_id] = copy.deepcopy(dict(obj))
        self.touched_nodes.add(node_id)
        return True

    def _on_evaluation(self, event: Mapping[str, Any], obj: Any, index: int) -> bool:
        if not isinstance(obj, Mapping) or not isinstance(obj.get("ID"), str):
            return False
        if not self._newer(self.evals.get(obj["ID"]), obj):
            return False
        self.evals[obj["ID"]] = copy.deepcopy(dict(obj))
        self.touched_jobs.add((str(obj.get("Namespace")), str(obj.get("JobID"))))
        return True

    def _on_deployment(self, event: Mapping[str, Any], obj: Any, index: int) -> bool:
        if not isinstance(obj, Mapping) or not isinstance(obj.get("ID"), str):
            return False
        if not self._newer(self.deployments.get(obj["ID"]), obj):
            return False
        self.deployments[obj["ID"]] = copy.deepcopy(dict(obj))
        return True

    def _on_scalestatus(self, event: Mapping[str, Any], obj: Any, index: int) -> bool:
        """A job's scale status read by the recorder: its scaling events join those known."""
        if not isinstance(obj, Mapping) or not isinstance(obj.get("TaskGroups"), Mapping):
            return False
        key = (str(event.get("Namespace") or "default"), str(event.get("Key") or ""))
        known = self.scale_events.setdefault(key, {})
        for group, status in obj["TaskGroups"].items():
            fresh = (status or {}).get("Events") if isinstance(status, Mapping) else None
            if not isinstance(fresh, list):
                continue
            merged = {_scaling_id(e): e for e in [*(known.get(group) or []), *fresh] if isinstance(e, Mapping)}
            known[group] = sorted(merged.values(), key=lambda e: -_int(e.get("Time")))
        return True

    def _on_nodepool(self, event: Mapping[str, Any], obj: Any, index: int) -> bool:
        name = str(event.get("Key") or "")
        if event.get("Type") == "NodePoolDeleted":
            self.node_pools.pop(name, None)
            return True
        if not isinstance(obj, Mapping) or not self._newer(self.node_pools.get(name), obj):
            return False
        self.node_pools[name] = copy.deepcopy(dict(obj))
        return True

    # -- the source at this point ---------------------------------------------------------------
    def source(self, *, what: str, until_ns: int | None = None) -> StoredSource:
        """A :class:`StoredSource` of the objects as they stand now."""
        from nomadlab.sim.wire import job_diff, job_scale_status, job_stub, node_stub

        job_stubs: dict[tuple[str, str], dict[str, Any]] = dict(self.job_stubs)
        by_job: dict[tuple[str, str], list[dict[str, Any]]] = {}
        for a in self.allocs.values():
            by_job.setdefault((str(a.get("Namespace")), str(a.get("JobID"))), []).append(a)
        latest_eval: dict[tuple[str, str], Mapping[str, Any]] = {}
        for e in self.evals.values():
            if e.get("QueuedAllocations") is None:
                continue
            job_key = (str(e.get("Namespace")), str(e.get("JobID")))
            best = latest_eval.get(job_key)
            if best is None or _int(e.get("SnapshotIndex")) > _int(best.get("SnapshotIndex")):
                latest_eval[job_key] = e
        for key in self.touched_jobs:
            job = self.jobs.get(key)
            if job is None:
                continue
            try:
                summary = self._summary(job, by_job.get(key, []), latest_eval.get(key), job_stubs.get(key))
                job_stubs[key] = job_stub(job, summary, meta=True)
            except (KeyError, TypeError, ValueError, AttributeError) as exc:
                self.problems.append(f"job {key[1]!r} of namespace {key[0]!r} cannot be listed: {exc!r}")
        self._children(job_stubs)
        node_stubs = dict(self.node_stubs)
        for node_id in self.touched_nodes:
            if node_id in self.nodes:
                try:
                    node_stubs[node_id] = node_stub(self.nodes[node_id], resources=True)
                except (KeyError, TypeError, ValueError, AttributeError) as exc:
                    self.problems.append(f"node {node_id!r} cannot be listed: {exc!r}")
        # In the order Nomad's list endpoints walk their indexes: jobs by (namespace, ID);
        # allocations, evaluations and deployments by (CreateIndex, ID); nodes by ID.
        lists = {
            "jobs": sorted(job_stubs.values(), key=lambda j: (str(j.get("Namespace")), str(j.get("ID")))),
            "allocations": sorted(self.allocs.values(), key=_by_create),
            "nodes": sorted(node_stubs.values(), key=lambda n: str(n.get("ID"))),
            "evaluations": sorted(self.evals.values(), key=_by_create),
            "deployments": sorted(self.deployments.values(), key=_by_create),
            "namespaces": list(self.namespaces),
            "node_pools": sorted(self.node_pools.values(), key=lambda p: str(p.get("Name"))),
        }
        versions: dict[Hashable, Any] = {}
        for key, vs in self.versions.items():
            diffs: list[dict[str, Any]] | None
            try:
                diffs = [job_diff(vs[i + 1], vs[i]) for i in range(len(vs) - 1)]
            except (KeyError, TypeError, ValueError, AttributeError) as exc:
                self.problems.append(f"versions of job {key[1]!r} cannot be compared: {exc!r}")
                diffs = None
            versions[key] = {"Versions": copy.deepcopy(vs), "Diffs": diffs, "Index": self.index,
                             "LastContact": 0, "KnownLeader": True, "NextToken": ""}
        scale: dict[Hashable, Any] = {}
        for key, job in self.jobs.items():
            events = {}
            for g, group_events in self.scale_events.get(key, {}).items():
                if group_events is None:
                    continue
                kept = [e for e in group_events
                        if until_ns is None or _int(e.get("Time")) <= until_ns][:JOB_TRACKED_SCALING_EVENTS]
                if kept or not group_events:
                    events[g] = kept
            try:
                scale[key] = job_scale_status(job, by_job.get(key, []), events)
            except (KeyError, TypeError, ValueError, AttributeError) as exc:
                self.problems.append(f"scale status of job {key[1]!r} cannot be derived: {exc!r}")
        nodes: dict[Hashable, Any] = {}
        nodes.update(self.nodes)
        details: dict[str, tuple[Mapping[Hashable, Any], Mapping[Hashable, str]]] = {
            "job": (dict[Hashable, Any](self.jobs), {}),
            "job_versions": (versions, {}),
            "job_scale": (scale, {}),
            "node": (nodes, {}),
        }
        unreadable = {k: v for k, v in self.unreadable.items() if k not in details and k not in lists}
        unreadable.update(NOT_IN_STREAM)
        return StoredSource(lists, details, unreadable=unreadable, namespace="*", what=what)

    def _summary(self, job: Mapping[str, Any], allocs: list[dict[str, Any]], latest: Mapping[str, Any] | None,
                 stub: Mapping[str, Any] | None) -> dict[str, Any]:
        """``JobSummary`` from the job's allocations and the queued counts of its latest
        processed evaluation (``latest``)."""
        from nomadlab.sim.scheduler import job_summary_counts

        queued = dict(latest.get("QueuedAllocations") or {}) if latest is not None else {}
        before = dict((stub or {}).get("JobSummary") or {})
        summary = {"JobID": job.get("ID"), "Namespace": job.get("Namespace"),
                   "Summary": job_summary_counts(dict(job), allocs, queued),
                   "Children": before.get("Children") or {"Pending": 0, "Running": 0, "Dead": 0},
                   "CreateIndex": before.get("CreateIndex", job.get("CreateIndex")),
                   "ModifyIndex": before.get("ModifyIndex", job.get("ModifyIndex"))}
        return summary

    def _children(self, stubs: dict[tuple[str, str], dict[str, Any]]) -> None:
        """Parents' ``JobSummary.Children``: their children by status."""
        counts: dict[tuple[str, str], dict[str, int]] = {}
        parents = {(ns, str(self.jobs[(ns, jid)].get("ParentID"))) for ns, jid in self.touched_jobs
                   if (ns, jid) in self.jobs and self.jobs[(ns, jid)].get("ParentID")}
        for (ns, _), job in self.jobs.items():
            parent = job.get("ParentID")
            if parent:
                c = counts.setdefault((ns, str(parent)), {"Pending": 0, "Running": 0, "Dead": 0})
                status = str(job.get("Status") or "").capitalize()
                c[status] = c.get(status, 0) + 1
        for key, c in counts.items():
            if key not in parents:
                continue           # no child changed since the snapshot: its counts stand
            stub = stubs.get(key)
            if stub is not None and isinstance(stub.get("JobSummary"), dict):
                stubs[key] = dict(stub, JobSummary=dict(stub["JobSummary"], Children=c))
