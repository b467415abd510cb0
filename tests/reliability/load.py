"""Load: a live view, an event-stream follower and many blocking watchers under a stream of writes.

Against the served simulator, for a bounded time: a writer turns a node's scheduling
eligibility off and on (each write a plain ``POST``, never retried); an event-stream follower
must see one ``NodeEligibility`` event at each write's ``NodeModifyIndex`` (0 lost, 0
duplicated); every blocking watcher of ``/v1/nodes`` must end at the last write's index with its
indexes rising and no error; the :class:`~nomadlab.widgets.LiveView` of ``nodes`` must end at
the last write's index with no error;
every write must reach the cluster once. Memory is traced (``tracemalloc``) outside the
simulator's own code (which keeps every write, as Nomad's state store does): what the client
side holds must not grow from the idle moment after the first half of the writes to the idle
moment after the second half.
"""

from __future__ import annotations

import gc
import threading
import time
import tracemalloc
from dataclasses import dataclass, field

from nomadlab.client import NomadClient, RetryPolicy
from nomadlab.config import NomadConfig
from nomadlab.widgets import LiveView

from .faults import served, settled_cluster
from .figures import Figure

__all__ = ["LoadResult", "measure", "run"]

WATCHERS = 100
WRITES = 16
EVERY_S = 0.3
GROWTH_LIMIT_KIB = 512


@dataclass
class LoadResult:
    """What a run measured."""

    writes: list[int] = field(default_factory=list)          # NodeModifyIndex of each write
    arrived: int = 0                                          # write requests the cluster received
    events: list[int] = field(default_factory=list)           # NodeEligibility indexes the follower saw
    watcher_last: list[int] = field(default_factory=list)     # each watcher's last index
    watcher_rises: list[bool] = field(default_factory=list)   # whether its indexes only rose
    errors: list[str] = field(default_factory=list)
    live_index: int = 0
    live_error: str | None = None
    final_index: int = 0
    growth_kib: float = 0.0
    seconds: float = 0.0


def _outside_sim(snapshot: tracemalloc.Snapshot) -> int:
    keep = snapshot.filter_traces([tracemalloc.Filter(False, "*/nomadlab/sim/*"),
                                   tracemalloc.Filter(False, tracemalloc.__file__)])
    return sum(stat.size for stat in keep.statistics("filename"))


def run(watchers: int = WATCHERS, writes: int = WRITES, every_s: float = EVERY_S) -> LoadResult:
    """One bounded run; see the module docstring."""
    result = LoadResult()
    cluster = settled_cluster()
    stop = threading.Event()
    lock = threading.Lock()
    start = time.perf_counter()
    tracemalloc.start()
    try:
        with served(cluster) as (url, arrivals):
            config = NomadConfig(address=url, timeout=10)
            with cluster.state.lock:
                first = max(i for i, _ in cluster.events.frames) + 1

            closing = threading.Event()   # set before the server goes: errors after it are expected
            gave_up = threading.Event()   # set when the watchers had their time after the last write

            def done(index: int) -> bool:
                return stop.is_set() and bool(result.writes) and index >= result.writes[-1]

            def follow() -> None:
                with NomadClient(config) as client:
                    try:
                        for event in client.events({"Node": ["*"]}, index=first):
                            if event.type == "NodeEligibility":
                                with lock:
                                    result.events.append(event.index)
                            if done(event.index):
                                return
                    except Exception as exc:  # noqa: BLE001 - counted unless the server is going
                        if not closing.is_set():
                            result.errors.append(f"follower: {type(exc).__name__}: {exc}")

            parked: dict[int, int] = {}   # each watcher's index once its reply is in

            def watch(number: int, client: NomadClient) -> None:
                seen: list[int] = []
                index = 0
                try:
                    while not done(index) and not gave_up.is_set():
                        reply = client.request("GET", "/v1/nodes", index=index or None,
                                               wait=1.0 if index else None)
                        new = reply.meta.index or 0
                        if new != index:
                            seen.append(new)
                            index = new
                        parked[number] = index
                except Exception as exc:  # noqa: BLE001 - counted
                    result.errors.append(f"watcher {number}: {type(exc).__name__}: {exc}")
                with lock:
                    result.watcher_last.append(index)
                    result.watcher_rises.append(all(a < b for a, b in zip(seen, seen[1:], strict=False)))

            # One connection pool per 25 watchers: each blocking query holds a connection.
            pools = [NomadClient(config) for _ in range((watchers + 24) // 25)]
            threads = [threading.Thread(target=follow, daemon=True)]
            threads += [threading.Thread(target=watch, args=(n, pools[n // 25]), daemon=True)
                        for n in range(watchers)]
            for t in threads:
                t.start()
            live_client = NomadClient(config)
            live = LiveView(live_client, "nodes", wait="1s")
            live.start()
            time.sleep(0.5)
            arrivals.reset()
            with cluster.state.lock:
                node = sorted(cluster.state.nodes)[0]
            traced: list[int] = []
            with NomadClient(config, retry=RetryPolicy(attempts=1)) as writer:
                for n in range(writes):
                    try:
                        reply = writer.post(f"/v1/node/{node}/eligibility", json={
                            "NodeID": node, "Eligibility": "ineligible" if n % 2 == 0 else "eligible"})
                        result.writes.append(int(reply.body["NodeModifyIndex"]))
                    except Exception as exc:  # noqa: BLE001 - counted
                        result.errors.append(f"write {n}: {type(exc).__name__}: {exc}")
                    time.sleep(every_s)
                    if n in (writes // 2 - 1, writes - 1):
                        # Idle moments a half apart, every reader parked in a blocking query (what
                        # each holds between requests, buffers and last replies, is the same).
                        settle = time.monotonic() + 20
                        while time.monotonic() < settle and result.writes and (
                                len(parked) < watchers or min(parked.values()) < result.writes[-1]
                                or live.index < result.writes[-1]):
                            time.sleep(0.1)
                        time.sleep(0.5)
                        gc.collect()
                        traced.append(_outside_sim(tracemalloc.take_snapshot()))
            stop.set()
            limit = time.monotonic() + 20
            for t in threads[1:]:
                t.join(max(0.0, limit - time.monotonic()))
            gave_up.set()
            for t in threads[1:]:
                t.join(5)
                if t.is_alive():
                    result.errors.append(f"{t.name} did not finish")
            threads[0].join(1)
            live.stop(timeout=3)
            live_client.close()
            closing.set()
            result.live_index, result.live_error = live.index, live.error
            result.arrived = sum(arrivals.writes().values())
            with cluster.state.lock:
                result.final_index = cluster.state.index
            for pool in pools:
                pool.close()
            result.growth_kib = (traced[-1] - traced[0]) / 1024
    finally:
        if tracemalloc.is_tracing():
            tracemalloc.stop()
        result.seconds = time.perf_counter() - start
    return result


def run_apart(timeout_s: float = 540) -> LoadResult:
    """:func:`run` in a fresh Python process, so that the memory it traces is the load's alone
    (not what a test session around it keeps growing)."""
    import dataclasses
    import json
    import subprocess
    import sys
    from pathlib import Path

    code = ("import dataclasses, json; from tests.reliability import load; "
            "r = load.run(); r.live_error = None if r.live_error is None else str(r.live_error); "
            "print('LOAD-RESULT ' + json.dumps(dataclasses.asdict(r)))")
    proc = subprocess.run([sys.executable, "-c", code], cwd=Path(__file__).resolve().parents[2],
                          capture_output=True, text=True, timeout=timeout_s, check=False)
    lines = [line for line in proc.stdout.splitlines() if line.startswith("LOAD-RESULT ")]
    if proc.returncode != 0 or not lines:
        raise RuntimeError(f"the load run failed (exit {proc.returncode}): {proc.stderr[-2000:]}")
    data = json.loads(lines[-1].removeprefix("LOAD-RESULT "))
    return LoadResult(**{f.name: data[f.name] for f in dataclasses.fields(LoadResult)})


def measure(result: LoadResult | None = None) -> list[Figure]:
    """The figures of one run (made now when ``result`` is not given)."""
    r = result or run_apart()
    written, seen = set(r.writes), r.events
    lost = len(written - set(seen))
    duplicated = len(seen) - len(set(seen))
    caught_up = sum(1 for last in r.watcher_last if last >= max(r.writes, default=0))
    rising = sum(r.watcher_rises)
    leaked = max(0, round(r.growth_kib - GROWTH_LIMIT_KIB))
    return [
        Figure("load", f"{len(r.writes)} writes, each reaching the cluster once", len(r.writes),
               len(r.writes) - max(0, r.arrived - len(r.writes)), duplicated=max(0, r.arrived - len(r.writes)),
               detail=f"{r.arrived} write requests arrived in {r.seconds:.1f}s"),
        Figure("load", "event-stream follower sees every write", len(written), len(written) - lost,
               lost=lost, duplicated=duplicated, detail=f"{len(seen)} NodeEligibility events"),
        Figure("load", f"{len(r.watcher_last)} blocking watchers end at the last write", len(r.watcher_last),
               min(caught_up, rising), lost=len(r.watcher_last) - caught_up,
               detail=f"{len(r.errors)} errors" + (f": {r.errors[0]}" if r.errors else "")),
        Figure("load", "live view of nodes ends at the last write's index", 1,
               int(r.live_error is None and r.live_index >= max(r.writes, default=0)),
               detail=f"index {r.live_index} of {r.final_index}, error {r.live_error}"),
        Figure("load", "memory outside the simulator, second half of the writes", 1, int(not leaked), leaked=leaked,
               detail=f"{r.growth_kib:+.0f} KiB (limit {GROWTH_LIMIT_KIB} KiB)"),
    ]
