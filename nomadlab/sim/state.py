"""The simulated cluster's state store: tables of wire objects and a Raft-like index.

Objects are kept exactly as Nomad serializes them (PascalCase dicts), so reads are cheap
projections and filters run against the same full objects as in Nomad. Every write takes the
next value of one cluster-wide index and stamps the tables it touched, which is what
``X-Nomad-Index`` reports and what blocking queries wait on.
"""

from __future__ import annotations

import itertools
import threading
import time
from collections.abc import Callable, Iterable
from typing import Any

import orjson

__all__ = ["StateStore", "EncodedCache", "TABLES", "TRACKED_TABLES", "default_scheduler_config"]

_ORDERS: dict[str, Any] = {
    "create": lambda o: (o["CreateIndex"], o["ID"]),
    "id": lambda o: o["ID"],
}

TABLES = (
    "namespaces",
    "node_pools",
    "nodes",
    "jobs",
    "job_summary",
    "job_version",
    "job_submission",
    "allocs",
    "evals",
    "deployment",
    "scaling_event",
    "acl_policy",
    "acl_token",
)

TRACKED_TABLES = {"nodes": "nodes", "jobs": "jobs", "evals": "evals", "allocs": "allocs",
                  "deployment": "deployments"}
"""The tables whose writes feed the event stream, and the :class:`StateStore` attribute of each.

Writers report the keys of these tables they change (:meth:`StateStore.touch`,
:meth:`StateStore.insert`), so a commit's events are derived from those keys alone."""


def default_scheduler_config() -> dict[str, Any]:
    """Nomad's default ``SchedulerConfiguration``, written at the first leadership
    (``nomad/leader.go`` ``initializeScheduler``; ``nomad/structs/operator.go``)."""
    return {
        "SchedulerAlgorithm": "binpack",
        "PreemptionConfig": {"SystemSchedulerEnabled": True, "SysBatchSchedulerEnabled": False,
                             "BatchSchedulerEnabled": False, "ServiceSchedulerEnabled": False},
        "MemoryOversubscriptionEnabled": False, "RejectJobRegistration": False, "PauseEvalBroker": False,
        "NodeLimitForFeasibilityChecks": 0, "CreateIndex": 1, "ModifyIndex": 1,
    }


class EncodedCache:
    """The JSON encoding of one projection of each object, kept while the object is unchanged.

    A list endpoint renders its page by joining these (``orjson.Fragment`` values dumped in a
    list give the same bytes as the dicts would), so an object is encoded again only when its
    ``stamp`` changes (its modify indexes) or it is replaced by another object.
    """

    def __init__(self) -> None:
        self._entries: dict[Any, tuple[dict[str, Any], Any, orjson.Fragment]] = {}

    def __len__(self) -> int:
        return len(self._entries)

    def get(self, key: Any, obj: dict[str, Any], stamp: Any,
            build: Callable[[dict[str, Any]], Any]) -> orjson.Fragment:
        """The encoding of ``build(obj)``, from the cache when ``obj`` at ``stamp`` was encoded."""
        hit = self._entries.get(key)
        if hit is not None and hit[0] is obj and hit[1] == stamp:
            return hit[2]
        fragment = orjson.Fragment(orjson.dumps(build(obj), option=orjson.OPT_NON_STR_KEYS))
        self._entries[key] = (obj, stamp, fragment)
        return fragment

    def prune(self, live: dict[Any, Any]) -> None:
        """Forget the encodings of objects no longer in ``live`` once they are many."""
        if len(self._entries) > 2 * len(live) + 1024:
            self._entries = {k: v for k, v in self._entries.items() if k in live}


class StateStore:
    """Tables of wire objects with per-table indexes and change notification.

    All mutation happens under :attr:`lock` (an ``RLock``); :meth:`commit` takes a new index,
    stamps the given tables, and wakes blocked readers.
    """

    def __init__(self) -> None:
        self.lock = threading.RLock()
        self._changed = threading.Condition(self.lock)
        self.index = 1
        self.table_index: dict[str, int] = {t: 1 for t in TABLES}
        # Table contents. Keys: namespaced objects by (namespace, id); others by id.
        self.namespaces: dict[str, dict[str, Any]] = {}
        self.node_pools: dict[str, dict[str, Any]] = {}
        self.nodes: dict[str, dict[str, Any]] = {}
        self.jobs: dict[tuple[str, str], dict[str, Any]] = {}
        self.job_summaries: dict[tuple[str, str], dict[str, Any]] = {}
        self.job_versions: dict[tuple[str, str], list[dict[str, Any]]] = {}
        self.job_submissions: dict[tuple[str, str, int], dict[str, Any]] = {}
        self.allocs: dict[str, dict[str, Any]] = {}
        self.evals: dict[str, dict[str, Any]] = {}
        self.deployments: dict[str, dict[str, Any]] = {}
        self.scaling_events: dict[tuple[str, str], dict[str, list[dict[str, Any]]]] = {}
        self.acl_policies: dict[str, dict[str, Any]] = {}
        self.acl_tokens: dict[str, dict[str, Any]] = {}  # by AccessorID
        self.scheduler_config: dict[str, Any] = default_scheduler_config()
        # Secondary indexes kept in step with the tables above.
        self.allocs_by_job: dict[tuple[str, str], dict[str, None]] = {}
        self.allocs_by_node: dict[str, dict[str, None]] = {}
        self.allocs_by_eval: dict[str, dict[str, None]] = {}
        # Evaluation IDs by (namespace, job), in table order; IDs of removed ones are skipped.
        self.evals_by_job: dict[tuple[str, str], dict[str, None]] = {}
        # IDs of evaluations that were given the status "blocked" (a superset of the blocked).
        self.blocked_evals: dict[str, None] = {}
        # Called as ``listener(index, tables, changes)`` on every commit, under the lock;
        # ``changes`` is {table: keys written} for a tracked commit, None for an untracked one.
        self.listeners: list[Callable[[int, tuple[str, ...], dict[str, dict[Any, None]] | None], None]] = []
        # Keys of the tracked tables written since the last commit that named the table.
        self.touched: dict[str, dict[Any, None]] = {t: {} for t in TRACKED_TABLES}
        # Each key's place in its table (dicts keep insertion order, and a key keeps its place
        # when its object is replaced): reported keys are put back in table order with these.
        self.ordinals: dict[str, dict[Any, int]] = {t: {} for t in TRACKED_TABLES}
        self._ordinal = itertools.count()
        # Encoded list stubs by projection (see EncodedCache and the list routes).
        self._encoded: dict[Any, EncodedCache] = {}
        # (table, order) -> ((table index, size), objects in that order); see ordered().
        self._orders: dict[tuple[str, str], tuple[tuple[int, int], list[dict[str, Any]]]] = {}

    def ordered(self, table: str, objects: dict[Any, dict[str, Any]], order: str) -> list[dict[str, Any]]:
        """The objects of ``table`` (its dict, ``objects``) sorted as list endpoints page them:
        by ``(CreateIndex, ID)`` for ``order="create"``, by ``ID`` for ``order="id"``.

        Sorted once per change of the table (its index or size), as Nomad walks a memdb index
        rather than sorting per request, so reading a big list page by page costs each page,
        not the whole table again. The list is shared: callers hold the lock and never change it.
        """
        stamp = (self.table_index.get(table, 0), len(objects))
        hit = self._orders.get((table, order))
        if hit is not None and hit[0] == stamp:
            return hit[1]
        out = sorted(objects.values(), key=_ORDERS[order])
        self._orders[(table, order)] = (stamp, out)
        return out

    # -- indexes -----------------------------------------------------------------------------
    def next_index(self) -> int:
        """Take the next Raft index (caller holds the lock)."""
        self.index += 1
        return self.index

    def commit(self, index: int, tables: Iterable[str], *, tracked: bool = False) -> None:
        """Stamp ``tables`` with ``index`` and wake every blocked reader.

        ``tracked`` says the writer reported every object of the tracked tables it changed
        (:meth:`touch`, :meth:`insert`), so listeners read those keys instead of scanning
        whole tables for objects stamped with ``index``.
        """
        names = tuple(tables)
        with self.lock:
            for t in names:
                if self.table_index.get(t, 0) < index:
                    self.table_index[t] = index
            changes: dict[str, dict[Any, None]] = {}
            for t in names:
                keys = self.touched.get(t)
                if keys:
                    changes[t] = keys
                    self.touched[t] = {}
            for listener in self.listeners:
                listener(index, names, changes if tracked else None)
            self._changed.notify_all()

    def encoded(self, projection: Any) -> EncodedCache:
        """The cache of encodings for ``projection`` (a hashable name of what is rendered)."""
        cache = self._encoded.get(projection)
        if cache is None:
            cache = self._encoded[projection] = EncodedCache()
        return cache

    # -- reporting writes of the tracked tables ------------------------------------------------
    def objects(self, table: str) -> dict[Any, dict[str, Any]]:
        """The dict of tracked ``table`` (``"deployment"`` is :attr:`deployments`)."""
        objects: dict[Any, dict[str, Any]] = getattr(self, TRACKED_TABLES[table])
        return objects

    def touch(self, table: str, key: Any) -> None:
        """Report that the object at ``key`` of tracked ``table`` changed (or was removed)."""
        self.touched[table][key] = None

    def stamp(self, table: str, key: Any, obj: dict[str, Any], index: int) -> None:
        """Set ``obj``'s ``ModifyIndex`` to ``index`` and report it changed."""
        obj["ModifyIndex"] = index
        self.touched[table][key] = None

    def insert(self, table: str, key: Any, obj: dict[str, Any]) -> None:
        """Put ``obj`` at ``key`` of tracked ``table`` and report it."""
        objects = self.objects(table)
        if key not in objects:
            self.ordinals[table][key] = next(self._ordinal)
        objects[key] = obj
        self.touched[table][key] = None
        if table == "evals":
            self.evals_by_job.setdefault((obj["Namespace"], obj["JobID"]), {})[key] = None
            if obj["Status"] == "blocked":
                self.blocked_evals[key] = None

    def remove(self, table: str, key: Any) -> dict[str, Any] | None:
        """Take the object at ``key`` out of tracked ``table`` and report it."""
        obj = self.objects(table).pop(key, None)
        self.ordinals[table].pop(key, None)
        self.touched[table][key] = None
        return obj

    def max_index(self, tables: Iterable[str]) -> int:
        with self.lock:
            return max((self.table_index.get(t, 0) for t in tables), default=0)

    def wait_for(self, tables: Iterable[str], min_index: int, timeout_s: float) -> int:
        """Block until one of ``tables`` passes ``min_index`` or ``timeout_s`` runs out.

        Returns the tables' current maximum index. Time here is real time: a blocking query is
        a property of the HTTP exchange, not of the simulated cluster.
        """
        names = tuple(tables)
        deadline = time.monotonic() + timeout_s
        with self._changed:
            while True:
                current = max((self.table_index.get(t, 0) for t in names), default=0)
                if current > min_index:
                    return current
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return current
                self._changed.wait(remaining)

    def wait_until(self, predicate: Any, timeout_s: float) -> bool:
        """Block until ``predicate()`` (called under the lock) is true, or the timeout."""
        deadline = time.monotonic() + timeout_s
        with self._changed:
            while not predicate():
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return False
                self._changed.wait(remaining)
            return True

    def notify(self) -> None:
        with self._changed:
            self._changed.notify_all()

    # -- allocation secondary indexes ---------------------------------------------------------
    def put_alloc(self, alloc: dict[str, Any]) -> None:
        aid = alloc["ID"]
        self.insert("allocs", aid, alloc)
        self.allocs_by_job.setdefault((alloc["Namespace"], alloc["JobID"]), {})[aid] = None
        if alloc.get("NodeID"):
            self.allocs_by_node.setdefault(alloc["NodeID"], {})[aid] = None
        self.allocs_by_eval.setdefault(alloc["EvalID"], {})[aid] = None

    def delete_alloc(self, alloc_id: str) -> None:
        alloc = self.allocs.pop(alloc_id, None)
        self.ordinals["allocs"].pop(alloc_id, None)
        self.touched["allocs"][alloc_id] = None
        if alloc is None:
            return
        self.allocs_by_job.get((alloc["Namespace"], alloc["JobID"]), {}).pop(alloc_id, None)
        self.allocs_by_node.get(alloc.get("NodeID", ""), {}).pop(alloc_id, None)
        self.allocs_by_eval.get(alloc["EvalID"], {}).pop(alloc_id, None)

    def job_evals(self, namespace: str, job_id: str) -> list[dict[str, Any]]:
        """The evaluations of one job, in table order."""
        ids = self.evals_by_job.get((namespace, job_id), {})
        return [self.evals[i] for i in ids if i in self.evals]

    def blocked(self) -> list[dict[str, Any]]:
        """The evaluations whose status is ``blocked``, in table order (no walk of the table)."""
        ordinals = self.ordinals["evals"]
        ids = [i for i in self.blocked_evals if i in self.evals and self.evals[i]["Status"] == "blocked"]
        self.blocked_evals = dict.fromkeys(ids)
        if not all(i in ordinals for i in ids):  # put in the table directly: walk it
            return [e for e in self.evals.values() if e["Status"] == "blocked"]
        ids.sort(key=ordinals.__getitem__)
        return [self.evals[i] for i in ids]

    def job_allocs(self, namespace: str, job_id: str) -> list[dict[str, Any]]:
        ids = self.allocs_by_job.get((namespace, job_id), {})
        return [self.allocs[i] for i in ids if i in self.allocs]

    def node_allocs(self, node_id: str) -> list[dict[str, Any]]:
        ids = self.allocs_by_node.get(node_id, {})
        return [self.allocs[i] for i in ids if i in self.allocs]
