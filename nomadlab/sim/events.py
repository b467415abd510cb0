"""The event stream: every committed change becomes Nomad events in a bounded buffer.

After each commit the broker looks at the objects the writer reported changing (a tracked
commit: :meth:`StateStore.touch` and friends, put back in table order), or, for an untracked
commit, the objects of the named tables whose ``ModifyIndex`` is the commit's index (one C-level
pass over the indexes, :func:`_modified`); it compares them with what it last saw, and records
one event per changed object, with Nomad's topic, type, key, filter keys and payload
(``{"Allocation": …}`` without its embedded job, ``{"Node": …}`` without its secret, ...).
Events are serialized when they happen, so a subscriber that resumes later reads the objects as
they were.

``GET /v1/event/stream`` subscribers read frames ``{"Index": N, "Events": [...]}`` from the
buffer (starting at ``index``, or the oldest frame kept), filtered by topic and namespace, one
JSON object per line, with a ``{}`` heartbeat on connect and every 30 s.
"""

from __future__ import annotations

import itertools
import time
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass
from operator import itemgetter
from typing import TYPE_CHECKING, Any

import orjson

if TYPE_CHECKING:
    from .state import StateStore

__all__ = ["EventBroker", "parse_topics", "TOPICS", "HEARTBEAT"]

HEARTBEAT = b"{}\n"
TOPICS = (
    "Deployment", "Evaluation", "Allocation", "Job", "Node", "NodePool", "ACLPolicy", "ACLToken",
    "ACLRole", "ACLAuthMethod", "ACLBindingRule", "Service", "HostVolume", "CSIVolume",
    "CSIPlugin", "Operator", "Variable", "*",
)


@dataclass(frozen=True)
class _Event:
    topic: str
    key: str
    namespace: str
    filter_keys: tuple[str, ...]
    raw: bytes


_MODIFY_INDEX = itemgetter("ModifyIndex")


def _modified(table: dict[Any, dict[str, Any]], index: int) -> list[dict[str, Any]]:
    """The objects of ``table`` whose ``ModifyIndex`` is ``index``, in table order.

    The writers change objects in place and name only the tables they touched, so the
    objects are found by their index: one C-level pass reads every ``ModifyIndex``
    (``map``/``itemgetter``) and ``list.index`` finds the few that match, with no Python-level
    step per object (a commit on 100,000 allocations costs about a millisecond, not tens).
    """
    values = list(table.values())
    mods = list(map(_MODIFY_INDEX, values))
    out: list[dict[str, Any]] = []
    at = -1
    for _ in range(mods.count(index)):
        at = mods.index(index, at + 1)
        out.append(values[at])
    return out


def parse_topics(values: list[str]) -> dict[str, set[str]]:
    """``topic=Topic[:Key]`` values → {topic: keys}; absent means every topic (``*:*``)."""
    if not values:
        return {"*": {"*"}}
    out: dict[str, set[str]] = {}
    for value in values:
        parts = value.split(":")
        if len(parts) > 2:
            raise ValueError(f"Invalid key value pair for topic: {value}")
        topic = parts[0]
        key = parts[1] if len(parts) == 2 and parts[1] else "*"
        out.setdefault(topic, set()).add(key)
    return out


class EventBroker:
    """Turns commits into events and serves them to subscribers.

    Parameters
    ----------
    state:
        The store whose commits feed the broker.
    buffer_size:
        How many index frames are kept for subscribers that resume (Nomad's
        ``event_buffer_size`` default is 100).
    """

    cross_check = False
    """Also scan each tracked commit's tables and fail if the writer's report differs (tests)."""

    def __init__(self, state: StateStore, *, buffer_size: int = 100, heartbeat_s: float = 30.0) -> None:
        self.state = state
        self.enabled = True
        self.heartbeat_s = heartbeat_s
        self.frames: deque[tuple[int, list[_Event]]] = deque(maxlen=buffer_size)
        # What each object last looked like (its signature), by kind, then by key: jobs by
        # (namespace, id) as the jobs table keys them, the others by ID.
        self._seen: dict[str, dict[Any, tuple[Any, ...]]] = {k: {} for k in ("node", "job", "eval", "alloc",
                                                                             "deployment")}
        # Event types named by the write that is about to commit, as Nomad names events by
        # the Raft message type (nomad/state/events.go MsgTypeEvents), keyed by (kind, id).
        self._types: dict[tuple[str, str], str] = {}
        # The order in which jobs were first seen, as the purge check walks them.
        self._job_order: dict[tuple[str, str], int] = {}
        self._job_seq = itertools.count()
        state.listeners.append(self.on_commit)

    def name_next(self, kind: str, key: str, event_type: str) -> None:
        """Give the next event of object ``(kind, key)`` the type ``event_type``
        (``NodeDrain`` for a drain request, ``NodeEligibility`` for an eligibility one)."""
        self._types[(kind, key)] = event_type

    # -- publishing ---------------------------------------------------------------------------
    def on_commit(self, index: int, tables: tuple[str, ...],
                  changes: dict[str, dict[Any, None]] | None = None) -> None:
        """Record events for the objects changed at ``index`` (called under the state lock).

        ``changes`` holds the keys the writer reported per table (a tracked commit): only those
        objects are looked at, so a commit costs what it wrote. Without it (an untracked
        commit), the touched tables are scanned for objects stamped with ``index``.
        """
        if not self.enabled:
            return
        events: list[_Event] = []
        if "nodes" in tables:
            for node in self._objects("nodes", index, changes):
                self._node(node, index, events)
        if "jobs" in tables:
            for job in self._objects("jobs", index, changes):
                self._job(job, index, events)
            for key in self._purged_jobs(index, changes):
                ns, jid = key
                del self._seen["job"][key]
                events.append(self._make("Job", "JobDeregistered", jid, ns, (), {"Job": None}, index))
        if "evals" in tables:
            for ev in self._objects("evals", index, changes):
                sig = (ev["Status"], ev["ModifyIndex"])
                if self._changed("eval", ev["ID"], sig):
                    keys = (ev["JobID"], ev.get("DeploymentID") or "")
                    events.append(self._make("Evaluation", "EvaluationUpdated", ev["ID"], ev["Namespace"],
                                             keys, {"Evaluation": ev}, index))
        if "allocs" in tables:
            for alloc in self._objects("allocs", index, changes):
                self._alloc(alloc, index, events)
        if "deployment" in tables:
            for dep in self._objects("deployment", index, changes):
                dep_sig = (dep["Status"], dep["ModifyIndex"], orjson.dumps(dep["TaskGroups"]))
                if self._changed("deployment", dep["ID"], dep_sig):
                    events.append(self._make("Deployment", "DeploymentStatusUpdate", dep["ID"], dep["Namespace"],
                                             (dep["JobID"],), {"Deployment": dep}, index))
        if events:
            if self.frames and self.frames[-1][0] == index:
                self.frames[-1][1].extend(events)
            else:
                self.frames.append((index, events))

    def _objects(self, table: str, index: int, changes: dict[str, dict[Any, None]] | None) -> list[dict[str, Any]]:
        """The objects of ``table`` stamped with ``index``, in table order.

        From the reported keys when there are some (each put back in its table place by its
        ordinal); a key without an ordinal (an object put in its table directly) means the
        report cannot be ordered, and the table is scanned instead.
        """
        objects = self.state.objects(table)
        if changes is None:
            return _modified(objects, index)
        keys = [k for k in changes.get(table, ()) if k in objects]
        ordinals = self.state.ordinals[table]
        if all(k in ordinals for k in keys):
            keys.sort(key=ordinals.__getitem__)
            found = [o for o in map(objects.__getitem__, keys) if o["ModifyIndex"] == index]
        else:
            found = _modified(objects, index)
        if self.cross_check:
            scanned = _modified(objects, index)
            if list(map(id, found)) != list(map(id, scanned)):
                raise AssertionError(
                    f"commit {index} reported {[o.get('ID') for o in found]} in {table}, but the objects "
                    f"stamped with it are {[o.get('ID') for o in scanned]}: a writer changed an object "
                    "without touching it"
                )
        return found

    def _purged_jobs(self, index: int, changes: dict[str, dict[Any, None]] | None) -> list[tuple[str, str]]:
        """Keys of jobs seen before and no longer in the jobs table, in the order first seen."""
        seen_jobs = self._seen["job"]
        jobs = self.state.jobs
        if changes is None:
            return [k for k in seen_jobs if k not in jobs]
        gone = [k for k in changes.get("jobs", ()) if k not in jobs and k in seen_jobs]
        gone.sort(key=self._job_order.__getitem__)
        if self.cross_check:
            scanned = [k for k in seen_jobs if k not in jobs]
            if gone != scanned:
                raise AssertionError(f"commit {index} reported purged jobs {gone}, but {scanned} are gone")
        return gone

    def _changed(self, kind: str, key: Any, sig: tuple[Any, ...]) -> bool:
        seen = self._seen[kind]
        if seen.get(key) == sig:
            return False
        seen[key] = sig
        return True

    def _make(self, topic: str, etype: str, key: str, namespace: str, filter_keys: tuple[str, ...],
              payload: dict[str, Any], index: int) -> _Event:
        fk = tuple(k for k in filter_keys if k)
        event = {"Topic": topic, "Type": etype, "Key": key, "Namespace": namespace,
                 "FilterKeys": list(fk) or None, "Index": index, "Payload": payload}
        return _Event(topic, key, namespace, fk, orjson.dumps(event, option=orjson.OPT_NON_STR_KEYS))

    def _node(self, node: dict[str, Any], index: int, out: list[_Event]) -> None:
        seen = self._seen["node"]
        prev = seen.get(node["ID"])
        sig = (node["Status"], node["SchedulingEligibility"], node.get("DrainStrategy") is not None,
               node["ModifyIndex"])
        named = self._types.pop(("node", node["ID"]), None)
        if prev == sig:
            return
        seen[node["ID"]] = sig
        if named is not None:
            etype = named
        elif prev is None:
            etype = "NodeRegistration"
        elif prev[2] != sig[2]:
            etype = "NodeDrain"
        elif prev[1] != sig[1]:
            etype = "NodeEligibility"
        else:
            etype = "NodeStreamEvent"
        payload = dict(node, SecretID="")
        out.append(self._make("Node", etype, node["ID"], "", (), {"Node": payload}, index))

    def _job(self, job: dict[str, Any], index: int, out: list[_Event]) -> None:
        seen = self._seen["job"]
        key = (job["Namespace"], job["ID"])
        prev = seen.get(key)
        sig = (job["Version"], job["Status"], bool(job.get("Stop")), job["ModifyIndex"], job.get("Stable"))
        if prev == sig:
            return
        if prev is None:
            self._job_order[key] = next(self._job_seq)
        seen[key] = sig
        etype = "JobDeregistered" if job.get("Stop") and (prev is None or not prev[2]) else "JobRegistered"
        out.append(self._make("Job", etype, job["ID"], job["Namespace"], (), {"Job": job}, index))

    def _alloc(self, alloc: dict[str, Any], index: int, out: list[_Event]) -> None:
        seen = self._seen["alloc"]
        prev = seen.get(alloc["ID"])
        transition = orjson.dumps(alloc.get("DesiredTransition"))
        sig = (alloc["ClientStatus"], alloc["DesiredStatus"], transition, alloc["ModifyIndex"])
        if prev == sig:
            return
        seen[alloc["ID"]] = sig
        if prev is None or prev[1] != sig[1]:
            etype = "PlanResult"
        elif prev[2] != sig[2]:
            etype = "AllocationUpdateDesiredStatus"
        else:
            etype = "AllocationUpdated"
        payload = dict(alloc, Job=None)
        out.append(self._make("Allocation", etype, alloc["ID"], alloc["Namespace"],
                              (alloc["JobID"], alloc.get("DeploymentID") or ""), {"Allocation": payload}, index))

    # -- subscribing --------------------------------------------------------------------------
    @staticmethod
    def _wanted(event: _Event, topics: dict[str, set[str]], namespace: str | frozenset[str]) -> bool:
        if isinstance(namespace, str):
            if namespace != "*" and event.namespace not in ("", namespace):
                return False
        elif event.namespace and event.namespace not in namespace:
            return False
        for topic in (event.topic, "*"):
            keys = topics.get(topic)
            if keys is None:
                continue
            if "*" in keys or event.key in keys or any(k in keys for k in event.filter_keys):
                return True
        return False

    def frames_from(self, index: int) -> list[tuple[int, list[_Event]]]:
        with self.state.lock:
            return [(i, list(evs)) for i, evs in self.frames if i >= index]

    def subscribe(
        self, *, index: int, topics: dict[str, set[str]], namespace: str | frozenset[str], poll_s: float = 1.0
    ) -> Iterator[bytes]:
        """NDJSON lines for a subscriber; yields ``b""`` when idle so a server can notice a hang-up.

        ``namespace`` is one name (``*`` for all), or the set of names whose events are sent;
        events without a namespace (nodes) always pass.
        """
        yield HEARTBEAT
        next_index = index
        last_beat = time.monotonic()
        while True:
            frames = self.frames_from(next_index)
            for i, events in frames:
                chosen = [e.raw for e in events if self._wanted(e, topics, namespace)]
                next_index = i + 1
                if chosen:
                    yield b'{"Index":%d,"Events":[%s]}\n' % (i, b",".join(chosen))
            now = time.monotonic()
            if now - last_beat >= self.heartbeat_s:
                last_beat = now
                yield HEARTBEAT
                continue
            timeout = min(poll_s, self.heartbeat_s - (now - last_beat))
            latest = next_index
            self.state.wait_until(lambda at=latest: bool(self.frames) and self.frames[-1][0] >= at, timeout)
            yield b""
