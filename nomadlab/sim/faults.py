"""Fault injection: make the simulated cluster fail the way real Nomad clusters and networks do.

A :class:`Fault` names a route (a glob on the request path), optionally the methods it applies
to, a kind, and how often it fires. A :class:`FaultInjector` (``SimCluster.faults``) holds the
faults, decides for each request which of them fire, and applies them around the router call in
:meth:`SimCluster.handle <nomadlab.sim.cluster.SimCluster.handle>`:

>>> from nomadlab.sim import SimCluster
>>> from nomadlab.sim.faults import Fault
>>> cluster = SimCluster(seed=0)
>>> _ = cluster.faults.add(Fault("/v1/jobs*", kind="error", status=503, rate=0.5))
>>> _ = cluster.faults.add("/v1/allocations:error:status=429,retry_after_s=2")

Kinds:

``latency``
    Sleep ``latency_s`` seconds (real time) before the request is handled.
``error``
    Answer ``status`` with a plain-text body (``body``, or the status' standard reason phrase)
    instead of handling the request; ``retry_after_s`` adds ``Retry-After`` (whole seconds,
    rounded up).
``reset``
    Handle the request, then reset the connection before any byte of the response.
``truncate``
    Handle the request, announce the full ``Content-Length``, send a prefix of the body
    (``after_events`` bytes when > 0, else half) and close the connection. On a streaming
    response it acts as ``drop_stream``.
``drop_stream``
    On a streaming response, close the connection after ``after_events`` chunks, without the
    final (terminating) chunk. No effect on complete bodies.
``cut_stream``
    Like ``drop_stream``, but mid-frame: after ``after_events`` chunks, send the first half of
    the next one (a JSON object or log frame cut in two), then close. No effect on complete
    bodies.
``leader_loss``
    The cluster has no leader: reads that allow stale results (``GET`` with ``?stale``) are
    answered with ``X-Nomad-KnownLeader: false``; so are the first ``after_events`` other reads
    (a grace window, 0 by default); every other request gets 500 ``No cluster leader``. The
    agent-local endpoints (``/v1/agent/*``, ``/v1/regions``) are not affected.

Sockets cannot be broken by a return value, so ``reset`` and ``truncate`` surface from
``SimCluster.handle`` as a :class:`ConnectionFault` (and ``drop_stream``/``cut_stream`` from the stream's
iterator as a :class:`StreamDropped`); the ASGI adapter turns them into a real reset or close,
the in-process transport into the ``httpx`` errors a real socket would give.

Randomness is seeded: every fault draws from its own generator, seeded from the injector's seed
and the fault's position, so the same seed and the same sequence of requests give the same
outcomes, and adding one fault does not change the draws of another.
"""

from __future__ import annotations

import fnmatch
import math
import random
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import KW_ONLY, dataclass, field
from http import HTTPStatus
from typing import TYPE_CHECKING, Literal, get_args

from .http import Request, Response

if TYPE_CHECKING:
    from .cluster import SimCluster

__all__ = [
    "Fault",
    "FaultKind",
    "FaultInjector",
    "ConnectionFault",
    "StreamDropped",
    "DroppingStream",
    "parse_fault",
    "NO_LEADER",
    "FAULT_KINDS",
    "FAULT_OPTIONS",
    "fault_help",
]

FaultKind = Literal["latency", "error", "reset", "truncate", "drop_stream", "cut_stream", "leader_loss"]
FAULT_KINDS: tuple[str, ...] = get_args(FaultKind)

# Nomad's structs.ErrNoLeader text; the HTTP layer answers an uncoded RPC error with 500.
NO_LEADER = "No cluster leader"

# Endpoints the agent answers itself, without an RPC to the leader (Region.List reads the gossip
# membership; the /v1/agent/* handlers are local to the agent).
_AGENT_LOCAL = ("/v1/agent/*", "/v1/regions")


@dataclass(frozen=True)
class Fault:
    """One fault: where it applies, what it does, and how often.

    Parameters
    ----------
    route:
        A glob on the request path (``fnmatch`` syntax, case-sensitive; ``*`` also matches
        ``/``): ``"/v1/allocations*"``, ``"/v1/job/*/allocations"``, ``"*"``.
    methods:
        HTTP methods the fault applies to (``{"GET"}``), or ``None`` for every method.
    kind:
        ``latency``, ``error``, ``reset``, ``truncate``, ``drop_stream``, ``cut_stream`` or
        ``leader_loss`` (see :mod:`nomadlab.sim.faults`).
    rate:
        Probability in ``[0, 1]`` that a matching request triggers the fault.
    status:
        Status of an ``error`` (default 500).
    retry_after_s:
        With ``error``: send ``Retry-After`` with this many seconds (rounded up to an integer).
    latency_s:
        With ``latency``: seconds to wait before handling the request.
    after_events:
        Units passed before the fault bites: chunks for ``drop_stream`` and ``cut_stream``, bytes for
        ``truncate`` (0: half the body), reads answered for ``leader_loss``.
    times:
        How many times the fault may fire in all (``None``: no limit).
    body:
        With ``error``: the plain-text body (default: the status' reason phrase).
    """

    route: str
    _: KW_ONLY
    kind: FaultKind
    methods: frozenset[str] | None = None
    rate: float = 1.0
    status: int = 500
    retry_after_s: float | None = None
    latency_s: float = 0.0
    after_events: int = 0
    times: int | None = None
    body: str | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.route, str) or not self.route:
            raise ValueError("route must be a non-empty glob on the request path")
        if self.kind not in FAULT_KINDS:
            choices = ", ".join(FAULT_KINDS)
            raise ValueError(f"unknown fault kind {self.kind!r}; choose one of: {choices}")
        if self.methods is not None:
            methods = frozenset(m.strip().upper() for m in self.methods if m.strip())
            if not methods:
                raise ValueError("methods must name at least one HTTP method (or be None)")
            object.__setattr__(self, "methods", methods)
        if not 0.0 <= self.rate <= 1.0:
            raise ValueError(f"rate must be within [0, 1], not {self.rate}")
        if not 100 <= self.status <= 599:
            raise ValueError(f"status must be an HTTP status (100-599), not {self.status}")
        if self.retry_after_s is not None and self.retry_after_s < 0:
            raise ValueError(f"retry_after_s must be >= 0, not {self.retry_after_s}")
        if self.latency_s < 0:
            raise ValueError(f"latency_s must be >= 0, not {self.latency_s}")
        if self.after_events < 0:
            raise ValueError(f"after_events must be >= 0, not {self.after_events}")
        if self.times is not None and self.times < 0:
            raise ValueError(f"times must be >= 0, not {self.times}")

    def __str__(self) -> str:
        """The ``ROUTE:KIND[:k=v,...]`` text of this fault (what :func:`parse_fault` reads)."""
        options = []
        for name, default in _DEFAULTS.items():
            value = getattr(self, name)
            if value == default:
                continue
            if name == "methods":
                value = "|".join(sorted(value))
            options.append(f"{name}={value}")
        return f"{self.route}:{self.kind}" + (":" + ",".join(options) if options else "")

    def matches(self, method: str, path: str) -> bool:
        """Whether the fault applies to a request with this method and path."""
        if self.methods is not None and method.upper() not in self.methods:
            return False
        if not fnmatch.fnmatchcase(path, self.route):
            return False
        if self.kind == "leader_loss":
            return not any(fnmatch.fnmatchcase(path, p) for p in _AGENT_LOCAL)
        return True


_DEFAULTS: dict[str, object] = {
    "methods": None, "rate": 1.0, "status": 500, "retry_after_s": None, "latency_s": 0.0,
    "after_events": 0, "times": None, "body": None,
}


class ConnectionFault(Exception):  # noqa: N818 - a signal to the adapters, not an error
    """The connection breaks while answering (raised by ``SimCluster.handle``).

    Parameters
    ----------
    response:
        ``None`` for a reset (nothing of the response is sent); otherwise the full response, of
        which only ``sent`` bytes of the body go out after a ``Content-Length`` for all of it.
    sent:
        Bytes of ``response.body`` sent before the connection closes.
    """

    def __init__(self, response: Response | None = None, sent: int = 0) -> None:
        super().__init__("connection reset" if response is None else f"body cut after {sent} bytes")
        self.response = response
        self.sent = sent


class StreamDropped(ConnectionFault):
    """A streaming response ends abruptly: the connection closes without the final chunk."""

    def __init__(self, chunks: int) -> None:
        super().__init__(None, 0)
        self.args = (f"stream dropped after {chunks} chunks",)
        self.chunks = chunks


class DroppingStream(Iterator[bytes]):
    """Wraps any ``Response.stream``: yields ``after`` chunks, then raises :class:`StreamDropped`.

    With ``mid_frame``, the first half of the next chunk (at least one byte, never all of it)
    goes out before the drop, as when a connection breaks inside a frame. Empty chunks (idle
    ticks some streams yield) pass through and are not counted.

    Closing the wrapper closes the wrapped iterator (so subscriptions are released).
    """

    def __init__(self, chunks: Iterator[bytes], after: int, *, mid_frame: bool = False) -> None:
        self._chunks = chunks
        self._after = after
        self._mid_frame = mid_frame
        self._sent = 0

    def __iter__(self) -> DroppingStream:
        return self

    def __next__(self) -> bytes:
        if self._sent >= self._after:
            if self._mid_frame:
                self._mid_frame = False
                for chunk in self._chunks:
                    if len(chunk) > 1:
                        return chunk[: len(chunk) // 2]
            self.close()
            raise StreamDropped(self._sent)
        chunk = next(self._chunks)
        if chunk:  # empty chunks are idle ticks, not data
            self._sent += 1
        return chunk

    def close(self) -> None:
        close = getattr(self._chunks, "close", None)
        if close is not None:
            close()


@dataclass
class _Entry:
    fault: Fault
    rng: random.Random
    fired: int = 0
    reads: int = 0
    since_ns: int | None = None


@dataclass
class _Hit:
    fault: Fault
    entry: _Entry = field(repr=False)


class FaultInjector:
    """The faults of one cluster: seeded, thread-safe, counting how often each fired.

    An injector with no fault is falsy, which is the only check the request path makes.

    Parameters
    ----------
    seed:
        Seeds the per-fault generators that decide ``rate`` draws.
    faults:
        Initial faults (:class:`Fault` or the ``ROUTE:KIND[:k=v,...]`` text of
        :func:`parse_fault`).
    """

    def __init__(self, seed: int = 0, faults: Iterable[Fault | str] = ()) -> None:
        self.seed = seed
        self._lock = threading.Lock()
        self._entries: list[_Entry] = []
        self._added = 0
        self._leader: Fault | None = None
        for f in faults:
            self.add(f)

    # -- configuration ------------------------------------------------------------------------
    def __bool__(self) -> bool:
        return bool(self._entries)

    def __len__(self) -> int:
        return len(self._entries)

    @property
    def faults(self) -> list[Fault]:
        """The configured faults, in the order they were added."""
        with self._lock:
            return [e.fault for e in self._entries]

    def add(self, fault: Fault | str) -> Fault:
        """Add a fault (or its ``ROUTE:KIND[:k=v,...]`` text); returns the :class:`Fault`."""
        if isinstance(fault, str):
            fault = parse_fault(fault)
        with self._lock:
            rng = random.Random(f"nomadlab.sim.faults/{self.seed}/{self._added}")
            self._added += 1
            self._entries.append(_Entry(fault, rng))
        return fault

    def remove(self, fault: Fault) -> int:
        """Remove every entry equal to ``fault``; returns how many were removed."""
        with self._lock:
            before = len(self._entries)
            self._entries = [e for e in self._entries if e.fault != fault]
            if self._leader == fault:
                self._leader = None
            return before - len(self._entries)

    def clear(self) -> None:
        """Remove every fault (leader loss included) and restart the seeded draws."""
        with self._lock:
            self._entries = []
            self._added = 0
            self._leader = None

    def fired(self, fault: Fault | None = None) -> int:
        """How many times ``fault`` fired (all faults when ``None``)."""
        with self._lock:
            return sum(e.fired for e in self._entries if fault is None or e.fault == fault)

    def counts(self) -> list[tuple[Fault, int]]:
        """Each configured fault with how many times it fired."""
        with self._lock:
            return [(e.fault, e.fired) for e in self._entries]

    # -- leader loss --------------------------------------------------------------------------
    def lose_leader(self, *, grace_reads: int = 0) -> Fault:
        """The cluster loses its leader until :meth:`restore_leader`.

        Stale reads keep answering with ``X-Nomad-KnownLeader: false``; the first
        ``grace_reads`` other reads do too; every other request gets 500 ``No cluster leader``.
        """
        self.restore_leader()
        fault = self.add(Fault("*", kind="leader_loss", after_events=grace_reads))
        with self._lock:
            self._leader = fault
        return fault

    def restore_leader(self) -> None:
        """A leader is elected again (undoes :meth:`lose_leader`)."""
        with self._lock:
            fault, self._leader = self._leader, None
        if fault is not None:
            self.remove(fault)

    @property
    def leader_lost(self) -> bool:
        """Whether :meth:`lose_leader` is in effect."""
        return self._leader is not None

    # -- deciding and applying ----------------------------------------------------------------
    def _decide(self, request: Request) -> list[_Hit]:
        hits: list[_Hit] = []
        with self._lock:
            for entry in self._entries:
                fault = entry.fault
                if not fault.matches(request.method, request.path):
                    continue
                if fault.times is not None and entry.fired >= fault.times:
                    continue
                if fault.rate < 1.0 and not entry.rng.random() < fault.rate:
                    continue
                entry.fired += 1
                hits.append(_Hit(fault, entry))
        return hits

    def decide(self, request: Request) -> list[Fault]:
        """The faults that fire for ``request``, in the order added (counted as fired)."""
        return [hit.fault for hit in self._decide(request)]

    def handle(self, cluster: SimCluster, request: Request,
               dispatch: Callable[[], Response]) -> Response:
        """Answer ``request`` through ``dispatch`` with the faults that fire applied.

        Order: every firing ``latency`` (summed), then the first ``leader_loss`` or ``error``
        that answers in place of the route, then ``dispatch``, then the first of ``reset`` /
        ``truncate`` / ``drop_stream`` / ``cut_stream``.

        Raises
        ------
        ConnectionFault
            For ``reset`` and ``truncate`` (on a complete body): the adapter breaks the
            connection.
        """
        hits = self._decide(request)
        if not hits:
            return dispatch()
        delay = sum(h.fault.latency_s for h in hits if h.fault.kind == "latency")
        if delay > 0:
            time.sleep(delay)
        stale_meta: _Entry | None = None
        for hit in hits:
            kind = hit.fault.kind
            if kind == "error":
                return _error_response(hit.fault)
            if kind == "leader_loss":
                entry = hit.entry
                with self._lock:
                    if entry.since_ns is None:
                        entry.since_ns = cluster.now_ns()
                    answer = request.method == "GET" and (
                        _allows_stale(request) or entry.reads < hit.fault.after_events
                    )
                    if answer and not _allows_stale(request):
                        entry.reads += 1
                if not answer:
                    return Response.text(500, NO_LEADER)
                stale_meta = stale_meta or entry
        response = dispatch()
        if stale_meta is not None:
            _without_leader(cluster, request, response, stale_meta)
        for hit in hits:
            kind = hit.fault.kind
            if kind == "reset":
                raise ConnectionFault(None)
            if kind in ("truncate", "drop_stream", "cut_stream") and response.stream is not None:
                response.stream = DroppingStream(response.stream, hit.fault.after_events,
                                                 mid_frame=kind == "cut_stream")
                return response
            if kind == "truncate":
                size = len(response.body)
                if size == 0:
                    raise ConnectionFault(None)
                keep = hit.fault.after_events if hit.fault.after_events > 0 else size // 2
                raise ConnectionFault(response, min(keep, size - 1))
        return response


def _allows_stale(request: Request) -> bool:
    """Nomad's ``parseConsistency``: ``?stale`` with no value or a true value."""
    if not request.has("stale"):
        return False
    value = request.param("stale") or ""
    return value in ("", "1", "t", "T", "TRUE", "true", "True")


def _without_leader(cluster: SimCluster, request: Request, response: Response,
                    entry: _Entry) -> None:
    """Mark a read answered without a leader, as a follower's ``setQueryMeta`` does."""
    if request.path == "/v1/status/leader" and response.status == 200 and response.stream is None:
        response.body = b'""'
    if "X-Nomad-KnownLeader" in response.headers:
        since = entry.since_ns if entry.since_ns is not None else cluster.now_ns()
        response.headers["X-Nomad-KnownLeader"] = "false"
        response.headers["X-Nomad-LastContact"] = str(max(0, cluster.now_ns() - since) // 1_000_000)


def _error_response(fault: Fault) -> Response:
    headers: dict[str, str] = {}
    if fault.retry_after_s is not None:
        headers["Retry-After"] = str(math.ceil(fault.retry_after_s))
    if fault.body is not None:
        text = fault.body
    else:
        try:
            text = HTTPStatus(fault.status).phrase
        except ValueError:
            text = ""
    return Response.text(fault.status, text, headers)


# -- the text form: ROUTE:KIND[:k=v,...] --------------------------------------------------------
_INT_KEYS = {"status", "after_events", "times"}
_FLOAT_KEYS = {"rate", "retry_after_s", "latency_s"}
_KEYS = _INT_KEYS | _FLOAT_KEYS | {"methods", "body"}
# The options of the text form, in the order help texts list them (every key of _KEYS).
FAULT_OPTIONS: tuple[str, ...] = (
    "rate", "status", "retry_after_s", "latency_s", "after_events", "times", "body", "methods",
)


def fault_help() -> str:
    """What ``nomadlab sim --fault`` takes, written from :data:`FAULT_KINDS` and :data:`FAULT_OPTIONS`.

    Examples
    --------
    >>> "cut_stream" in fault_help() and "after_events" in fault_help()
    True
    """
    options = ", ".join("methods (GET|PUT)" if key == "methods" else key for key in FAULT_OPTIONS)
    return (f"inject a fault (repeatable): ROUTE is a path glob, KIND one of {', '.join(FAULT_KINDS)}; "
            f"options {options}. E.g. '/v1/jobs*:error:status=503,rate=0.5' or '*:latency:latency_s=0.2'")


def parse_fault(spec: str) -> Fault:
    """Parse ``ROUTE:KIND[:k=v,...]`` (what ``nomadlab sim --fault`` takes) into a :class:`Fault`.

    ``ROUTE`` is a path glob, ``KIND`` one of :data:`FAULT_KINDS`, and the options
    (:data:`FAULT_OPTIONS`) are the :class:`Fault` fields: ``rate``, ``status``,
    ``retry_after_s``, ``latency_s``, ``after_events``, ``times``, ``body`` (no commas) and
    ``methods`` (``GET|PUT``).

    Examples
    --------
    >>> parse_fault("/v1/jobs*:error:status=503,rate=0.5").status
    503
    >>> parse_fault("*:latency:latency_s=0.2").latency_s
    0.2

    Raises
    ------
    ValueError
        With a message naming what is wrong.
    """
    parts = spec.split(":", 2)
    if len(parts) < 2:
        raise ValueError(f"fault {spec!r}: expected ROUTE:KIND[:key=value,...]")
    route, kind = parts[0].strip(), parts[1].strip()
    if not route:
        raise ValueError(f"fault {spec!r}: the route (a path glob such as /v1/jobs*) is empty")
    if kind not in FAULT_KINDS:
        choices = ", ".join(FAULT_KINDS)
        raise ValueError(f"fault {spec!r}: unknown kind {kind!r}; choose one of: {choices}")
    options: dict[str, object] = {}
    if len(parts) == 3 and parts[2].strip():
        for item in parts[2].split(","):
            key, sep, value = item.partition("=")
            key, value = key.strip(), value.strip()
            if not sep or not key:
                raise ValueError(f"fault {spec!r}: option {item!r} is not key=value")
            if key not in _KEYS:
                known = ", ".join(sorted(_KEYS))
                raise ValueError(f"fault {spec!r}: unknown option {key!r}; known: {known}")
            if key in options:
                raise ValueError(f"fault {spec!r}: option {key!r} given twice")
            try:
                if key in _INT_KEYS:
                    options[key] = int(value)
                elif key in _FLOAT_KEYS:
                    number = float(value)
                    if not math.isfinite(number):
                        raise ValueError
                    options[key] = number
                elif key == "methods":
                    options[key] = frozenset(m for m in value.split("|") if m)
                else:
                    options[key] = value
            except ValueError:
                expected = "an integer" if key in _INT_KEYS else "a number"
                raise ValueError(
                    f"fault {spec!r}: {key} must be {expected}, not {value!r}"
                ) from None
    try:
        return Fault(route, kind=kind, **options)  # type: ignore[arg-type]
    except ValueError as exc:
        raise ValueError(f"fault {spec!r}: {exc}") from None

