"""Fault matrix: every read path, write path and stream against the served simulator under faults.

Reads (each frame fetcher) must come back equal to the fault-free frame after bounded retries
when the fault passes, and fail with a :class:`~nomadlab.errors.NomadError` naming the request
after exactly the policy's attempts when it does not. Writes (each :mod:`nomadlab.actions`
action) must reach the cluster at most once, counted where the simulator receives requests.
Streams (the event stream, log frames, plain logs) must deliver exactly the fault-free
sequence: 0 lost, 0 duplicated.
"""

from __future__ import annotations

import contextlib
import tempfile
import threading
import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from nomadlab import actions, frames
from nomadlab.client import NomadClient, RetryPolicy
from nomadlab.config import NomadConfig
from nomadlab.errors import NomadError
from nomadlab.sim import SimCluster
from nomadlab.sim.faults import Fault
from nomadlab.sim.scenarios import group, job_spec, task

from .figures import Arrivals, Figure

__all__ = [
    "PERSISTENT_FETCHERS", "READ_FAULTS", "STREAMS", "STREAM_FAULTS", "WRITES", "WRITE_FAULTS",
    "measure_read", "measure_reads",
    "measure_stream", "measure_write", "served", "settled_cluster",
]

ATTEMPTS = 4
TIMEOUT_S = 0.25       # the client's read timeout; a "timeout" fault holds the reply longer
HOLD_S = 0.6
GET = frozenset({"GET"})
WRITE_METHODS = frozenset({"POST", "PUT", "DELETE"})


def _kinds(methods: frozenset[str], route: str = "*") -> dict[str, Callable[[int | None], list[Fault]]]:
    """Each fault of the matrix, firing ``times`` times (``None``: until removed)."""
    return {
        "5xx burst": lambda n: [Fault(route, kind="error", status=503, methods=methods, times=n)],
        "429 + Retry-After": lambda n: [Fault(route, kind="error", status=429, retry_after_s=3,
                                              methods=methods, times=n)],
        "connection reset": lambda n: [Fault(route, kind="reset", methods=methods, times=n)],
        "timeout": lambda n: [Fault(route, kind="latency", latency_s=HOLD_S, methods=methods, times=n)],
        "truncated JSON": lambda n: [Fault(route, kind="truncate", methods=methods, times=n)],
        "leader loss": lambda n: [Fault(route, kind="leader_loss", methods=methods, times=n)],
    }


READ_FAULTS = _kinds(GET)
WRITE_FAULTS = _kinds(WRITE_METHODS)


class _Sleeps:
    """The client's injected sleep: records the waits instead of taking them."""

    def __init__(self) -> None:
        self.waits: list[float] = []

    def __call__(self, seconds: float) -> None:
        self.waits.append(seconds)


def settled_cluster(seed: int = 1) -> SimCluster:
    """The default scenario after its initial placements and deployments have settled."""
    cluster = SimCluster.default(seed=seed)
    cluster.run_until_idle(600)
    return cluster


def _client(url: str, sleep: _Sleeps, attempts: int = ATTEMPTS) -> NomadClient:
    return NomadClient(NomadConfig(address=url, timeout=TIMEOUT_S), sleep=sleep,
                       retry=RetryPolicy(attempts=attempts, backoff=0.01))


def _fetch(name: str, client: NomadClient) -> Any:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")   # access and unknown-job warnings are not the point here
        return getattr(frames, name)(client)


def _same(got: Any, base: Any) -> tuple[bool, int]:
    """Whether two fetch results are equal, and how many rows of ``base`` are missing."""
    if isinstance(base, pd.DataFrame):
        return bool(got.equals(base)), max(0, len(base) - len(got))
    pairs = [_same(g, b) for g, b in zip(got, base, strict=True)]
    return all(p[0] for p in pairs), sum(p[1] for p in pairs)


def _clear(error: BaseException, path_hint: str = "/v1/") -> bool:
    """A clear failure: a NomadError whose text names the request and is more than a class name."""
    text = str(error)
    return isinstance(error, NomadError) and path_hint in text and len(text) > 20


@contextlib.contextmanager
def served(cluster: SimCluster) -> Iterator[tuple[str, Arrivals]]:
    """The cluster on 127.0.0.1 with its arrivals counted (no ticker: time stands still)."""
    arrivals = Arrivals(cluster)
    with cluster.serve(port=0, ticker=False) as url:
        yield url, arrivals


def measure_read(cluster: SimCluster, url: str, arrivals: Arrivals, fetcher: str, fault: str,
                 baseline: Any, *, persistent: bool) -> Figure:
    """One fetcher under one fault: passing (``times`` below the attempts) or persistent."""
    sleeps = _Sleeps()
    cluster.faults.clear()
    for f in READ_FAULTS[fault](None if persistent else 2):
        cluster.faults.add(f)
    arrivals.reset()
    suite = "faults: read, persistent" if persistent else "faults: read"
    case = f"{fetcher} × {fault}"
    try:
        with _client(url, sleeps) as client:
            got = _fetch(fetcher, client)
    except Exception as exc:  # noqa: BLE001 - judged below
        cluster.faults.clear()
        if not persistent:
            return Figure(suite, case, 1, 0, detail=f"{type(exc).__name__}: {exc}"[:200])
        bounded = arrivals.reads() == ATTEMPTS
        ok = _clear(exc) and bounded
        return Figure(suite, case, 1, int(ok),
                      detail=f"{type(exc).__name__} after {arrivals.reads()} tries")
    cluster.faults.clear()
    if persistent:
        return Figure(suite, case, 1, 0, detail="read succeeded under a persistent fault")
    equal, lost = _same(got, baseline)
    waited = fault != "429 + Retry-After" or sleeps.waits[:2] == [3.0, 3.0]
    return Figure(suite, case, 1, int(equal and waited), lost=lost if not equal else 0,
                  detail=f"{len(sleeps.waits)} retries" + ("" if waited else ", Retry-After not honoured"))


# Persistent faults are tried on one fetcher per endpoint family (each costs every attempt).
PERSISTENT_FETCHERS = ("jobs", "allocations", "nodes", "evaluations", "deployments", "namespaces",
                       "node_stats", "logs")


def measure_reads(fetchers: tuple[str, ...] = frames.FETCHERS, faults: tuple[str, ...] = tuple(READ_FAULTS),
                  *, persistent: bool = False) -> list[Figure]:
    """Every fetcher × every fault on one served cluster."""
    cluster = settled_cluster()
    figures: list[Figure] = []
    with served(cluster) as (url, arrivals):
        with _client(url, _Sleeps()) as client:
            baselines = {name: _fetch(name, client) for name in fetchers}
        for name in fetchers:
            for fault in faults:
                figures.append(measure_read(cluster, url, arrivals, name, fault, baselines[name],
                                            persistent=persistent))
    return figures


# -- writes -----------------------------------------------------------------------------------
@dataclass(frozen=True)
class _Write:
    plan: Callable[[NomadClient, SimCluster], actions.Plan]
    setup: Callable[[SimCluster, NomadClient, str], None] | None = None


def _running_alloc(cluster: SimCluster) -> str:
    with cluster.state.lock:
        return next(a["ID"] for a in cluster.state.job_allocs("default", "web")
                    if a["ClientStatus"] == "running")


def _node(cluster: SimCluster) -> str:
    with cluster.state.lock:
        return sorted(cluster.state.nodes)[0]


def _scaled_once(cluster: SimCluster, client: NomadClient, audit: str) -> None:
    actions.scale(client, "web", "frontend", 4).apply(confirm=True, advance=cluster.advance, step=2.0,
                                                      audit=audit)


def _parameterized(cluster: SimCluster, client: NomadClient, audit: str) -> None:
    cluster.register_job(job_spec("report", [group("g", [task("t")])], job_type="batch", datacenters=["dc1"],
                                  parameterized={"Payload": "optional"}))


def _drained(cluster: SimCluster, client: NomadClient, audit: str) -> None:
    actions.drain(client, _node(cluster)).apply(confirm=True, advance=cluster.advance, audit=audit)


_AUDIT = str(Path(tempfile.gettempdir()) / "nomadlab-reliability-audit.jsonl")

WRITES: dict[str, _Write] = {
    "scale": _Write(lambda c, s: actions.scale(c, "web", "frontend", 5)),
    "stop": _Write(lambda c, s: actions.stop(c, "cache")),
    "submit": _Write(lambda c, s: actions.submit(c, job_spec("hello", [group("g", [task("t")])],
                                                             datacenters=["dc1"]))),
    "revert": _Write(lambda c, s: actions.revert(c, "web", 0), setup=_scaled_once),
    "dispatch": _Write(lambda c, s: actions.dispatch(c, "report", payload="x"), setup=_parameterized),
    "stop_alloc": _Write(lambda c, s: actions.stop_alloc(c, _running_alloc(s))),
    "restart_alloc": _Write(lambda c, s: actions.restart_alloc(c, _running_alloc(s))),
    "drain": _Write(lambda c, s: actions.drain(c, _node(s))),
    "undrain": _Write(lambda c, s: actions.undrain(c, _node(s)), setup=_drained),
    "set_eligibility": _Write(lambda c, s: actions.set_eligibility(c, _node(s), False)),
    "gc": _Write(lambda c, s: actions.gc(c)),
}


def measure_write(action: str, fault: str, *, audit: str = _AUDIT) -> Figure:
    """One action applied while its write meets ``fault`` once: sent at most once, failing clearly."""
    write = WRITES[action]
    cluster = settled_cluster()
    case = f"{action} × {fault}"
    with served(cluster) as (url, arrivals), _client(url, _Sleeps()) as client:
        if write.setup is not None:
            write.setup(cluster, client, audit)
        plan = write.plan(client, cluster)
        for f in WRITE_FAULTS[fault](1):
            cluster.faults.add(f)
        arrivals.reset()
        try:
            plan.apply(confirm=True, advance=cluster.advance, step=2.0, timeout=30, audit=audit)
        except Exception as exc:  # noqa: BLE001 - judged below
            outcome: BaseException | None = exc
        else:
            outcome = None
        sent = sum(arrivals.writes().values())
        fired = cluster.faults.fired()
    clear = outcome is not None and _clear(outcome)
    duplicated = max(0, sent - 1)
    return Figure("faults: write", case, 1, int(clear and sent == 1 and fired == 1), duplicated=duplicated,
                  detail=f"sent {sent}×, " + (f"{type(outcome).__name__}" if outcome else "no error raised"))


# -- streams ----------------------------------------------------------------------------------
# Each fault fires twice; ``after`` is how many frames pass first (a log is one frame or a few).
STREAM_FAULTS: dict[str, Callable[[str, int], list[Fault]]] = {
    "dropped between frames": lambda r, after: [Fault(r, kind="drop_stream", after_events=after, times=2)],
    "dropped mid-frame": lambda r, after: [Fault(r, kind="cut_stream", after_events=after, times=2)],
    "reset on connect": lambda r, after: [Fault(r, kind="reset", times=2)],
    "5xx burst": lambda r, after: [Fault(r, kind="error", status=503, times=2)],
    "429 + Retry-After": lambda r, after: [Fault(r, kind="error", status=429, retry_after_s=2, times=2)],
    "leader loss": lambda r, after: [Fault(r, kind="leader_loss", times=2)],
}

STREAMS = ("event stream", "log frames", "plain logs")
_ROUTES = {"event stream": "/v1/event/stream", "log frames": "/v1/client/fs/logs/*",
           "plain logs": "/v1/client/fs/logs/*"}


def _log_target(cluster: SimCluster) -> tuple[str, str]:
    with cluster.state.lock:
        alloc = next(a for a in cluster.state.job_allocs("default", "web") if a["ClientStatus"] == "running")
    return str(alloc["ID"]), str(next(iter(alloc["TaskStates"])))


def _read_stream(stream: str, client: NomadClient, cluster: SimCluster, last_index: int,
                 out: list[Any]) -> None:
    if stream == "event stream":
        for event in client.events(["*"], namespace="*"):
            out.append((event.index, event.topic, event.type, event.key))
            if event.index >= last_index:
                return
        return
    alloc, name = _log_target(cluster)
    if stream == "log frames":
        out.extend(f.data for f in client.logs(alloc, name))
    else:
        out.extend(client.logs_plain(alloc, name))


def _collect(stream: str, url: str, cluster: SimCluster, last_index: int, sleeps: _Sleeps,
             limit_s: float = 20.0) -> tuple[list[Any], BaseException | None]:
    out: list[Any] = []
    errors: list[BaseException] = []

    def run() -> None:
        try:
            with _client(url, sleeps) as client:
                _read_stream(stream, client, cluster, last_index, out)
        except BaseException as exc:  # noqa: BLE001 - reported
            errors.append(exc)

    worker = threading.Thread(target=run, daemon=True)
    worker.start()
    worker.join(limit_s)
    if worker.is_alive():
        errors.append(TimeoutError(f"{stream} did not deliver everything within {limit_s}s"))
    return out, (errors[0] if errors else None)


def _units(stream: str, items: list[Any]) -> list[Any]:
    """What is compared: events as (index, topic, type, key); logs as their bytes, one per byte."""
    if stream == "event stream":
        return items
    return list(b"".join(items))


def measure_stream(stream: str, fault: str) -> Figure:
    """One stream read in full while ``fault`` fires twice: the same sequence as without it."""
    cluster = settled_cluster()
    with cluster.state.lock:
        last_index = max(i for i, _ in cluster.events.frames)
    case = f"{stream} × {fault}"
    with served(cluster) as (url, _):
        base, error = _collect(stream, url, cluster, last_index, _Sleeps())
        if error is not None:
            return Figure("faults: stream", case, 1, 0, detail=f"fault-free read failed: {error}")
        for f in STREAM_FAULTS[fault](_ROUTES[stream], 3 if stream == "event stream" else 0):
            cluster.faults.add(f)
        sleeps = _Sleeps()
        got, error = _collect(stream, url, cluster, last_index, sleeps)
        fired = cluster.faults.fired()
    want, seen = _units(stream, base), _units(stream, got)
    duplicated = len(seen) - len(set(seen)) if stream == "event stream" else max(0, len(seen) - len(want))
    lost = len(set(want) - set(seen)) if stream == "event stream" else max(0, len(want) - len(seen))
    if stream != "event stream" and not lost and not duplicated and seen != want:
        lost = duplicated = 1   # same length, different bytes: something was lost and repeated
    ok = error is None and fired == 2 and seen == want
    detail = f"{len(want)} {'events' if stream == 'event stream' else 'bytes'}, fault fired {fired}×"
    if error is not None:
        detail += f", {type(error).__name__}: {error}"[:160]
    return Figure("faults: stream", case, 1, int(ok), lost=lost, duplicated=duplicated, detail=detail)

