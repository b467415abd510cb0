"""The simulated agent's own log, as ``/v1/agent/monitor`` streams it (``command/agent/monitor``).

An agent logs through hclog; the monitor attaches a sink at connect time and sends what is
logged from then on (nothing from before). The simulated agent's log is a pure function of the
cluster state and the simulated time, written from what already carries a time:

- the scheduler worker, at ``DEBUG``: ``worker: dequeued evaluation: worker_id=… eval_id=…
  type=… namespace=… job_id=… node_id=… triggered_by=…`` at each evaluation's ``CreateTime``
  (``nomad/worker.go``), on the server;
- a client's task runners, at ``INFO``: ``client.alloc_runner.task_runner: Task event:
  alloc_id=… task=… type=… msg=… failed=…`` at each task event's ``Time``
  (``client/allocrunner/taskrunner/task_runner.go``), on the node that runs the allocation.

Lines are hclog's text format (``2006-01-02T15:04:05.000Z [INFO]  name: message: k=v``) or,
with ``log_json``, its JSON format (``@level``, ``@message``, ``@module``, ``@timestamp``, then
the fields). Only the last 10 events of a task are kept, so a long history shows its recent
events only; evaluations garbage-collected are gone from it too.
"""

from __future__ import annotations

import hashlib
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import orjson

from .logs import POLL_S, encode_frame, log_horizon_ns

if TYPE_CHECKING:
    from .cluster import SimCluster

__all__ = [
    "LEVELS",
    "MONITOR_FRAME_SIZE",
    "MONITOR_BUFFER",
    "Target",
    "level_from_string",
    "agent_lines",
    "stream_monitor",
]

LEVELS = ("trace", "debug", "info", "warn", "error", "off")  # hclog's, lowest first
MONITOR_FRAME_SIZE = 1024  # the monitor's StreamFramer frame size
MONITOR_BUFFER = 512  # monitor.New(512, …): lines beyond it are dropped, then counted
HEARTBEAT_S = 1.0
_NS = 1_000_000_000


def level_from_string(text: str) -> str | None:
    """hclog's ``LevelFromString``: the level name, or ``None`` (``NoLevel``)."""
    name = text.strip().lower()
    return name if name in LEVELS else None


@dataclass(frozen=True)
class Target:
    """Whose log: the server's (``server``) and/or one node's client (``node_id``)."""

    server: bool
    node_id: str


def _worker_id(cluster: SimCluster) -> str:
    digest = hashlib.blake2b(f"worker\x1f{cluster.seed}".encode(), digest_size=16).digest()
    return str(uuid.UUID(bytes=digest))


def _quote(value: Any) -> str:
    text = str(value).lower() if isinstance(value, bool) else str(value)
    if text == "" or any(c in text for c in ' "=\t\n'):
        return orjson.dumps(text).decode()
    return text


def _format(t_ns: int, level: str, module: str, message: str, fields: list[tuple[str, Any]],
            json_format: bool) -> str:
    secs, frac = divmod(t_ns, _NS)
    stamp = datetime.fromtimestamp(secs, tz=UTC)
    if json_format:
        record: dict[str, Any] = {
            "@level": level, "@message": message, "@module": module,
            "@timestamp": stamp.strftime("%Y-%m-%dT%H:%M:%S") + f".{frac // 1000:06d}Z",
        }
        record.update({k: v for k, v in fields})
        return orjson.dumps(record).decode()
    head = stamp.strftime("%Y-%m-%dT%H:%M:%S") + f".{frac // 1_000_000:03d}Z"
    pairs = " ".join(f"{k}={_quote(v)}" for k, v in fields)
    return f"{head} [{level.upper()}]{' ' if len(level) == 4 else ''} {module}: {message}: {pairs}"


def agent_lines(cluster: SimCluster, target: Target, since_ns: int, until_ns: int, *, level: str = "info",
                json_format: bool = False) -> list[str]:
    """The lines the agent logged for ``target`` in ``[since_ns, until_ns)`` at ``level`` or
    above, in time order (the caller holds the cluster lock)."""
    floor = LEVELS.index(level)
    out: list[tuple[int, int, str]] = []
    state = cluster.state
    if target.server and floor <= LEVELS.index("debug"):
        worker = _worker_id(cluster)
        for ev in state.evals.values():
            t = int(ev.get("CreateTime") or 0)
            if since_ns <= t < until_ns:
                out.append((t, 0, _format(t, "debug", "worker", "dequeued evaluation", [
                    ("worker_id", worker), ("eval_id", ev.get("ID", "")), ("type", ev.get("Type", "")),
                    ("namespace", ev.get("Namespace", "")), ("job_id", ev.get("JobID", "")),
                    ("node_id", ev.get("NodeID", "")), ("triggered_by", ev.get("TriggeredBy", "")),
                ], json_format)))
    if target.node_id and floor <= LEVELS.index("info"):
        for alloc in state.node_allocs(target.node_id):
            for task, ts in sorted((alloc.get("TaskStates") or {}).items()):
                for i, ev in enumerate(ts.get("Events") or []):
                    t = int(ev.get("Time") or 0)
                    if since_ns <= t < until_ns:
                        out.append((t, 1 + i, _format(t, "info", "client.alloc_runner.task_runner", "Task event", [
                            ("alloc_id", alloc.get("ID", "")), ("task", task), ("type", ev.get("Type", "")),
                            ("msg", ev.get("DisplayMessage", "")), ("failed", bool(ev.get("FailsTask"))),
                        ], json_format)))
    out.sort(key=lambda x: (x[0], x[1]))
    return [line for _, _, line in out]


def stream_monitor(
    cluster: SimCluster,
    target: Target,
    *,
    level: str = "info",
    json_format: bool = False,
    plain: bool = False,
    poll_s: float = POLL_S,
    heartbeat_s: float = HEARTBEAT_S,
) -> Iterator[bytes]:
    """The body of ``/v1/agent/monitor``: what is logged from the moment it opens.

    Frames are StreamFrames ``{"Data": <base64>, "FileEvent": "log"}`` of at most 1 KiB of
    data, ``{}`` heartbeats every ``heartbeat_s`` while idle; ``plain`` sends the raw lines. At
    most :data:`MONITOR_BUFFER` lines are sent per poll; the rest are dropped and counted in a
    ``[WARN] Monitor dropped N logs during monitor request`` line, as the monitor's buffer does.
    The stream never ends on its own; it stops when its consumer closes it, and yields at least
    every ``heartbeat_s`` (plain: an empty chunk) so a server notices a hang-up or its own
    shutdown.
    """
    with cluster.state.lock:
        since = log_horizon_ns(cluster)
    last_beat = time.monotonic()
    while True:
        time.sleep(poll_s)
        with cluster.state.lock:
            until = log_horizon_ns(cluster)
            lines = agent_lines(cluster, target, since, until, level=level, json_format=json_format) \
                if until > since else []
            since = max(since, until)
        if len(lines) > MONITOR_BUFFER:
            dropped = len(lines) - MONITOR_BUFFER + 1
            lines = lines[: MONITOR_BUFFER - 1] + [f"[WARN] Monitor dropped {dropped} logs during monitor request"]
        data = b"".join((line + "\n").encode() for line in lines)
        for i in range(0, len(data), MONITOR_FRAME_SIZE):
            piece = data[i : i + MONITOR_FRAME_SIZE]
            yield piece if plain else encode_frame(data=piece, file_event="log")
        now = time.monotonic()
        if data:
            last_beat = now
        elif now - last_beat >= heartbeat_s:
            last_beat = now
            yield b"" if plain else b"{}"
