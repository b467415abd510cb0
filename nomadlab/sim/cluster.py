"""The simulated Nomad cluster: one instance is one cluster, with its own state and clock.

>>> from nomadlab.sim import SimCluster
>>> cluster = SimCluster.default(seed=0)
>>> import httpx
>>> client = httpx.Client(transport=cluster.transport(), base_url="http://nomad")
>>> client.get("/v1/jobs").status_code
200

Writes go through methods of this class (also used by the HTTP routes); each takes the next
Raft index, changes the state under one lock, and wakes blocked queries. Time moves only
through the clock: :meth:`advance` on a :class:`~nomadlab.sim.clock.ManualClock`, or real time
when served with a :class:`~nomadlab.sim.clock.RealClock` (a background ticker then runs due
transitions).
"""

from __future__ import annotations

import contextlib
import heapq
import itertools
import random
import time
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

from . import wire
from .acl import AclStore
from .allocations import AllocationOperations
from .clock import Clock, ManualClock
from .deployments import DeploymentOperations
from .events import EventBroker
from .faults import FaultInjector
from .gc import GCOperations
from .jobs import JobOperations
from .launches import LaunchOperations
from .lifecycle import Behaviours
from .nodes import NodeOperations
from .periodic import PeriodicDispatcher
from .state import StateStore
from .versions import VersionOperations

if TYPE_CHECKING:
    import httpx

__all__ = ["SimCluster", "TICK_SLICE_S"]

TICK_SLICE_S = 0.05
"""Longest run of due transitions under the state lock before it is let go (seconds)."""


class SimCluster(JobOperations, VersionOperations, LaunchOperations, AllocationOperations, NodeOperations,
                 DeploymentOperations, GCOperations):
    """A Nomad cluster in a process.

    Parameters
    ----------
    clock:
        Where time comes from. Defaults to a :class:`ManualClock` (tests move it with
        :meth:`advance`).
    seed:
        Seeds every random choice (IDs, jitter, synthetic data), so runs are repeatable.
    region:
        The region name reported by ``/v1/regions`` and stamped on jobs.
    acl:
        Enforce ACLs (bootstrap with ``POST /v1/acl/bootstrap`` or ``cluster.acl.bootstrap()``).
    """

    def __init__(
        self,
        *,
        clock: Clock | None = None,
        seed: int = 0,
        region: str = "global",
        agent_name: str = "nomad-sim",
        version: str = "1.11.0",
        acl: bool = False,
    ) -> None:
        self.clock: Clock = clock if clock is not None else ManualClock()
        self.seed = seed
        self.rng = random.Random(seed)
        self.faults = FaultInjector(seed)
        self.behaviours = Behaviours()  # what tasks do, by image and command; never on the wire
        self.region = region
        self.agent_name = agent_name
        self.version = version
        self.state = StateStore()
        self.max_blocking_wait_s = 300.0 + 300.0 / 16
        self._timers: list[tuple[int, int, Callable[..., None], tuple[Any, ...]]] = []
        self._timer_seq = itertools.count()
        self.events = EventBroker(self.state)
        self.acl = AclStore(self, enabled=acl)
        # Active periodic jobs launch their children on this cluster's clock (nomad/periodic.go).
        self.periodic = PeriodicDispatcher(self)
        self.queued: dict[tuple[str, str], dict[str, int]] = {}
        self._alloc_generation: dict[str, int] = {}
        self._restart_times: dict[tuple[str, str], list[int]] = {}
        # Terminal allocations their client has garbage-collected (no stats, logs or restarts).
        self.client_collected: set[str] = set()
        # The node of the agent's own client (the `dev` scenario), which answers client
        # endpoints called without `node_id`; "" for a server-only agent.
        self.local_node_id = ""
        # The agent's `telemetry { prometheus_metrics = true }`: /v1/metrics?format=prometheus.
        self.prometheus_metrics = True
        with self.state.lock:
            idx = 1
            self.state.node_pools["all"] = wire.new_node_pool(
                "all", "Node pool with all nodes in the cluster.", index=idx
            )
            self.state.node_pools["default"] = wire.new_node_pool(
                "default", "Default node pool.", index=idx
            )
            self.state.namespaces["default"] = wire.new_namespace(
                "default", "Default shared namespace", index=idx
            )

    # -- construction helpers -----------------------------------------------------------------
    @classmethod
    def default(cls, *, seed: int = 0, clock: Clock | None = None) -> SimCluster:
        """A small cluster named as ``nomad agent -dev`` names things, with jobs of every type."""
        from .scenarios import build_default

        cluster = cls(clock=clock, seed=seed)
        build_default(cluster)
        return cluster

    def new_id(self) -> str:
        """A UUID in Nomad's format, drawn from this cluster's seeded generator."""
        h = f"{self.rng.getrandbits(128):032x}"
        return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"

    def now_ns(self) -> int:
        return self.clock.now_ns()

    def add_namespace(self, name: str, description: str = "") -> dict[str, Any]:
        with self.state.lock:
            idx = self.state.next_index()
            ns = wire.new_namespace(name, description, index=idx)
            self.state.namespaces[name] = ns
            self.state.commit(idx, ["namespaces"])
            return ns

    def add_node_pool(self, name: str, description: str = "") -> dict[str, Any]:
        with self.state.lock:
            idx = self.state.next_index()
            pool = wire.new_node_pool(name, description, index=idx)
            self.state.node_pools[name] = pool
            self.state.commit(idx, ["node_pools"])
            return pool

    # -- time --------------------------------------------------------------------------------
    def at(self, due_ns: int, fn: Callable[..., None], *args: Any) -> None:
        """Run ``fn(*args)`` once the simulated time reaches ``due_ns`` (caller holds the lock)."""
        heapq.heappush(self._timers, (int(due_ns), next(self._timer_seq), fn, args))

    def after(self, seconds: float, fn: Callable[..., None], *args: Any) -> None:
        self.at(self.now_ns() + int(seconds * 1_000_000_000), fn, *args)

    def next_due_ns(self) -> int | None:
        with self.state.lock:
            return self._timers[0][0] if self._timers else None

    def tick(self, *, budget_s: float | None = None) -> int:
        """Run every transition that is due at the clock's current time; return how many ran.

        Transitions run in slices of at most :data:`TICK_SLICE_S` under the state lock, which is
        let go between slices, so requests are answered while a backlog (the large scenario's
        first second: ten thousand batch exits) is worked off. With ``budget_s``, stop after
        about that long and leave the rest due (a request does not wait out a backlog).
        """
        ran = 0
        clock = time.monotonic
        stop = None if budget_s is None else clock() + budget_s
        while True:
            with self.state.lock:
                slice_end = clock() + TICK_SLICE_S
                while self._timers and self._timers[0][0] <= self.clock.now_ns():
                    _, _, fn, args = heapq.heappop(self._timers)
                    fn(*args)
                    ran += 1
                    if clock() >= slice_end:
                        break
                else:
                    return ran
            if stop is not None and clock() >= stop:
                return ran

    def advance(self, seconds: float, *, step: float | None = None) -> None:
        """Move a :class:`ManualClock` forward, running transitions in time order on the way.

        Transitions fire at their own due times (the clock is moved to each in turn), so an
        event recorded at ``t`` carries ``t`` and not the end of the jump.
        """
        if not isinstance(self.clock, ManualClock):
            raise TypeError("advance() needs a ManualClock; a served cluster follows real time")
        end = self.clock.now_ns() + int(seconds * 1_000_000_000)
        while True:
            due = self.next_due_ns()
            if due is None or due > end:
                break
            if due > self.clock.now_ns():
                self.clock.set(due)
            self.tick()
        self.clock.set(end)
        self.tick()

    def run_until_idle(self, max_seconds: float = 3600.0) -> None:
        """Advance until no transition is pending (or ``max_seconds`` of simulated time pass)."""
        if not isinstance(self.clock, ManualClock):
            raise TypeError("run_until_idle() needs a ManualClock")
        limit = self.clock.now_ns() + int(max_seconds * 1_000_000_000)
        while True:
            due = self.next_due_ns()
            if due is None or due > limit:
                return
            self.advance((max(due, self.clock.now_ns()) - self.clock.now_ns()) / 1e9)

    def authorize_topics(self, request: Any, topics: dict[str, set[str]]) -> frozenset[str]:
        """The namespaces an event stream delivers, once its topics pass the token's ACL.

        As Nomad's ``Event.validateACL`` (``nomad/event_endpoint.go``): ``namespace=*`` stands
        for every namespace that exists when the stream opens, and the token must be allowed
        every topic in *each* of them (REFERENCE §7 "ACL by topic"), else 403.
        """
        from .acl import PERMISSION_DENIED, resolve
        from .errors import NomadHTTPError

        ns = request.param("namespace") or "default"
        with self.state.lock:
            namespaces = frozenset(self.state.namespaces) if ns == "*" else frozenset({ns})
        if not self.acl.enabled:
            return namespaces
        acl = resolve(self, request)
        for name in namespaces:
            for topic in topics:
                if topic in ("Job", "Allocation", "Deployment", "Evaluation", "Service", "CSIPlugin"):
                    ok = acl.allow_ns(name, "read-job")
                elif topic == "Node":
                    ok = acl.allow_level("node", "read")
                elif topic == "Operator":
                    ok = acl.allow_level("operator", "read")
                else:
                    ok = acl.management
                if not ok:
                    raise NomadHTTPError(403, PERMISSION_DENIED)
        return namespaces

    # -- serving -----------------------------------------------------------------------------
    def handle(self, request: Any) -> Any:
        """Answer one :class:`~nomadlab.sim.http.Request` (after running due transitions).

        Faults configured on :attr:`faults` apply here; a connection-level one raises
        :class:`~nomadlab.sim.faults.ConnectionFault` for the adapter to act on.
        """
        from .routes import ROUTER

        # On simulated time a request sees every transition due; on real time the ticker works
        # off a backlog, and a request takes at most one slice of it.
        self.tick(budget_s=None if isinstance(self.clock, ManualClock) else TICK_SLICE_S)
        if self.faults:
            return self.faults.handle(self, request, lambda: ROUTER.dispatch(self, request))
        return ROUTER.dispatch(self, request)

    def transport(self) -> httpx.BaseTransport:
        """An ``httpx`` transport that answers from this cluster in-process (no socket)."""
        from .transport import SimTransport

        return SimTransport(self)

    @property
    def app(self) -> Any:
        """This cluster as an ASGI application (what ``nomadlab sim`` serves under uvicorn)."""
        from .asgi import ASGIApp

        return ASGIApp(self)

    @contextlib.contextmanager
    def serve(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        ssl_certfile: str | None = None,
        ssl_keyfile: str | None = None,
        ssl_ca_certs: str | None = None,
        ticker: bool = True,
    ) -> Iterator[str]:
        """Serve on a real socket in a background thread; yields the base URL.

        With ``ssl_ca_certs``, client certificates signed by that CA are required (mutual TLS).
        """
        from .server import serve_in_thread

        with serve_in_thread(
            self, host=host, port=port, ssl_certfile=ssl_certfile, ssl_keyfile=ssl_keyfile,
            ssl_ca_certs=ssl_ca_certs, ticker=ticker,
        ) as url:
            yield url

    def __repr__(self) -> str:
        s = self.state
        return (
            f"<SimCluster region={self.region!r} nodes={len(s.nodes)} jobs={len(s.jobs)} "
            f"allocs={len(s.allocs)} index={s.index}>"
        )
