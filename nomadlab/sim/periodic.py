"""Periodic jobs launching their children on the cluster's clock (``nomad/periodic.go``).

Nomad's leader tracks every *active* periodic job (``Periodic.Enabled``, not stopped, not
parameterized) in a heap by next launch time; at each launch it derives the child
``<parent>/periodic-<launch unix seconds>`` and creates its evaluation, unless
``ProhibitOverlap`` is set and an earlier child still runs (a non-terminal evaluation or
allocation), in which case that launch is skipped. The next launch is computed from the
launch time just taken, so a clock that jumps runs every launch on the way, each at its own
time; registering a job again re-computes its next launch from now.

Cron specs (``Spec``, or the earliest of ``Specs``) are evaluated in ``TimeZone`` (default UTC)
with `croniter <https://github.com/pallets-eco/croniter>`_, in the dialect of Nomad's
``hashicorp/cronexpr``: five fields, the ``@hourly``-style macros, seven fields with seconds
first and years last, and six fields (with years) read as seven with a zero second.
"""

from __future__ import annotations

import itertools
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import orjson

from .clock import NS_PER_S
from .events import _modified

if TYPE_CHECKING:
    from .cluster import SimCluster

__all__ = ["PeriodicDispatcher", "next_launch_ns", "is_periodic_active"]


def is_periodic_active(job: dict[str, Any]) -> bool:
    """``Job.IsPeriodicActive``: periodic, enabled, not stopped and not parameterized."""
    periodic = job.get("Periodic")
    return (isinstance(periodic, dict) and bool(periodic.get("Enabled")) and not job.get("Stop")
            and job.get("ParameterizedJob") is None)


def _cron_next(spec: str, after_s: int, zone: Any) -> int | None:
    """The first instant (Unix seconds) strictly after ``after_s`` matching ``spec`` in ``zone``."""
    from croniter import croniter

    fields = spec.split()
    expr, seconds_first = spec, False
    if len(fields) == 6:  # cronexpr: minute..weekday year, with second 0
        expr, seconds_first = "0 " + " ".join(fields), True
    elif len(fields) == 7:
        seconds_first = True
    try:
        start = datetime.fromtimestamp(after_s, tz=zone)
        it = croniter(expr, start, second_at_beginning=seconds_first)
        nxt = it.get_next(datetime)
    except (ValueError, OverflowError):  # croniter's errors are ValueErrors: a bad spec, or no match
        return None  # Nomad's Add fails on a spec cronexpr refuses and tracks nothing
    return int(nxt.timestamp())


def next_launch_ns(periodic: dict[str, Any], after_ns: int) -> int | None:
    """``PeriodicConfig.Next``: the next launch strictly after ``after_ns``, or ``None``.

    Whole seconds, as cron is; ``Specs`` (several crons) launch at the earliest of them.
    """
    if (periodic.get("SpecType") or "cron") != "cron":
        return None
    try:
        zone: Any = ZoneInfo(periodic["TimeZone"]) if periodic.get("TimeZone") else UTC
    except (ZoneInfoNotFoundError, ValueError):
        return None
    specs = [periodic["Spec"]] if periodic.get("Spec") else list(periodic.get("Specs") or ())
    after_s = after_ns // NS_PER_S
    times = [t for t in (_cron_next(str(s), after_s, zone) for s in specs) if t is not None]
    if len(times) != len(specs) or not times:
        return None
    return min(times) * NS_PER_S


class PeriodicDispatcher:
    """The leader's ``PeriodicDispatch``, driven by the cluster's timers.

    It follows the jobs table through the state store's commit listeners, so every write path
    (register, stop, purge, revert, a scenario's direct writes) tracks or untracks a job.
    """

    def __init__(self, cluster: SimCluster) -> None:
        self._cluster = cluster
        # (namespace, job ID) -> (generation, the periodic block it was scheduled from)
        self.tracked: dict[tuple[str, str], tuple[int, str]] = {}
        # (namespace, job ID) -> the next launch (Unix ns) of a tracked job
        self._pending: dict[tuple[str, str], int] = {}
        self._generation = itertools.count(1)
        cluster.state.listeners.append(self._on_commit)

    def next_launch(self, namespace: str, job_id: str) -> int | None:
        """When the job ``job_id`` launches next (Unix ns); ``None`` when it is not tracked."""
        with self._cluster.state.lock:
            return self._pending.get((namespace, job_id))

    def _on_commit(self, index: int, tables: tuple[str, ...],
                   changes: dict[str, dict[Any, None]] | None = None) -> None:
        if "jobs" not in tables:
            return
        state = self._cluster.state
        if changes is None:  # an untracked commit: find the jobs stamped with it
            written = _modified(state.jobs, index)
        else:  # a tracked commit reported every job it wrote
            written = [state.jobs[k] for k in changes.get("jobs", ()) if k in state.jobs]
            written = [j for j in written if j.get("ModifyIndex") == index]
        for job in written:
            self._sync(job)
        for key in [k for k in self.tracked if k not in state.jobs]:  # purged
            self._untrack(key)

    def _untrack(self, key: tuple[str, str]) -> None:
        self.tracked.pop(key, None)
        self._pending.pop(key, None)

    def _sync(self, job: dict[str, Any]) -> None:
        key = (job["Namespace"], job["ID"])
        if not is_periodic_active(job):
            self._untrack(key)
            return
        sig = orjson.dumps(job["Periodic"], option=orjson.OPT_SORT_KEYS).decode()
        known = self.tracked.get(key)
        if known is not None and known[1] == sig:
            return  # the same schedule: the pending launch stands
        generation = next(self._generation)
        self.tracked[key] = (generation, sig)
        self._schedule(key, generation, job["Periodic"], self._cluster.now_ns())

    def _schedule(self, key: tuple[str, str], generation: int, periodic: dict[str, Any], after_ns: int) -> None:
        due = next_launch_ns(periodic, after_ns)
        if due is None:
            self._pending.pop(key, None)
            return
        self._pending[key] = due
        self._cluster.at(due, self._launch, key, generation, due)

    def _launch(self, key: tuple[str, str], generation: int, launch_ns: int) -> None:
        known = self.tracked.get(key)
        if known is None or known[0] != generation:
            return  # re-registered, stopped or purged since this launch was scheduled
        job = self._cluster.state.jobs.get(key)
        if job is None or not is_periodic_active(job):
            self._untrack(key)
            return
        self._schedule(key, generation, job["Periodic"], launch_ns)
        if job["Periodic"].get("ProhibitOverlap") and self.running_children(*key):
            return
        self._cluster.launch_periodic_child(key[0], key[1], launch_ns=launch_ns)

    def running_children(self, namespace: str, job_id: str) -> bool:
        """``Server.RunningChildren``: a child with a non-terminal evaluation or allocation."""
        from .scheduler import alloc_terminal

        state = self._cluster.state
        prefix = f"{job_id}/periodic-"
        for (ns, jid), child in state.jobs.items():
            if ns != namespace or not jid.startswith(prefix) or child.get("ParentID") != job_id:
                continue
            for ev in self._cluster.job_evals(ns, jid):
                if ev["Status"] not in ("complete", "failed", "canceled"):
                    return True
            if any(not alloc_terminal(a) for a in state.job_allocs(ns, jid)):
                return True
        return False
