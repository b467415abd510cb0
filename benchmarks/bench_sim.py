"""The simulator at scale: list rendering, commit cost, and the live view's idle cost (P3).

- **Rendering.** ``GET /v1/allocations?namespace=*&resources=true&task_states=true`` on the
  ``large`` scenario, answered in-process by the route (no socket): the route as it renders now
  (per-allocation encodings kept and joined) against the rendering before them (every stub
  built and the page encoded whole, the same ``paginate`` and ``json_response`` calls), in
  paired rounds (A B, B A, ...), with the bytes compared every round. Also the first rendering
  (every encoding made) once. Target: ≥ 4x faster.
- **Commit cost.** One allocation write (a signal: one commit) at 1k and at the run's size,
  paired medians; and the large scenario's first second in real time (its batch exits, one in
  ten allocations): how long the backlog takes and the slowest ``/v1/status/leader`` answered
  while it runs.
- **P3, live view idle cost.** A ``LiveView`` of the allocations on an unchanged cluster for
  60 s (6 s with ``--quick``): requests per wait period (target: one), then the delay from a
  write to the redraw (target: ≤ 1 s), median of several writes.
"""

from __future__ import annotations

import statistics
import sys
import threading
import time
from typing import Any

import httpx

from benchmarks import _options
from nomadlab.sim import SimCluster, wire
from nomadlab.sim.clock import NS_PER_S, ManualClock
from nomadlab.sim.http import Request
from nomadlab.sim.router import blocking, json_response, namespace_of, paginate, query_bool
from nomadlab.sim.routes import ROUTER
from nomadlab.sim.routes.common import create_index_token, index_token_key, ns_matches
from nomadlab.sim.scenarios import continue_in_real_time
from nomadlab.sim.scenarios_large import build_large

__all__ = ["main", "run"]

QUERY = "namespace=*&resources=true&task_states=true"


def _large(allocs: int, clock: ManualClock | None = None) -> SimCluster:
    cluster = SimCluster(seed=0, clock=clock)
    build_large(cluster, nodes=max(10, allocs // 10), allocs=allocs)
    return cluster


def _render_before(c: SimCluster, req: Request) -> bytes:
    """``GET /v1/allocations`` as the route rendered it before the kept encodings."""
    index = blocking(c, req, ["allocs"])
    ns = namespace_of(req)
    resources = query_bool(req, "resources")
    task_states = query_bool(req, "task_states", True)
    with c.state.lock:
        allocs = c.state.ordered("allocs", c.state.allocs, "create")
        page, next_token = paginate(
            req, allocs, token=create_index_token, sort_key=index_token_key,
            include=lambda a: ns_matches(a["Namespace"], ns, req),
            project=lambda a: wire.alloc_stub(a, resources=resources, task_states=task_states, copy=False),
        )
        return json_response(req, page, index=index, meta=True, next_token=next_token).body


def _render_now(c: SimCluster, req: Request) -> bytes:
    return ROUTER.dispatch(c, req).body


def _timed(fn: Any, *args: Any) -> tuple[Any, float]:
    t0 = time.perf_counter()
    out = fn(*args)
    return out, time.perf_counter() - t0


def rendering(options: _options.Options) -> dict[str, float]:
    """Paired rounds of the allocation list rendered before and now."""
    cluster = _large(options.allocs)
    req = Request.build("GET", "/v1/allocations", QUERY)
    body, first_s = _timed(_render_now, cluster, req)
    before_s: list[float] = []
    now_s: list[float] = []
    ratios: list[float] = []
    rounds = max(3, options.repeat)
    for r in range(rounds):
        pair = [("before", _render_before), ("now", _render_now)]
        out: dict[str, tuple[bytes, float]] = {}
        for name, fn in pair if r % 2 == 0 else pair[::-1]:
            out[name] = _timed(fn, cluster, req)
        if out["before"][0] != out["now"][0]:
            raise AssertionError("the rendering now differs from the rendering before: the benchmark is void")
        before_s.append(out["before"][1])
        now_s.append(out["now"][1])
        ratios.append(out["before"][1] / out["now"][1])
    n = len(cluster.state.allocs)
    speedup = statistics.median(ratios)
    print(f"rendering GET /v1/allocations?{QUERY} at {n:,} allocations ({len(body) / 1e6:.1f} MB), "
          f"in-process, {rounds} paired rounds, bytes identical every round:")
    print(f"  before (stubs built, page encoded): median {statistics.median(before_s):.3f} s "
          f"({min(before_s):.3f} - {max(before_s):.3f})")
    print(f"  now (kept encodings joined): median {statistics.median(now_s):.3f} s "
          f"({min(now_s):.3f} - {max(now_s):.3f}); first rendering (every encoding made): {first_s:.3f} s")
    print(f"  speedup (median of paired ratios): {speedup:.1f}x (target >= 4x: "
          f"{'met' if speedup >= 4 else 'NOT met'})")
    return {"render_before_s": statistics.median(before_s), "render_now_s": statistics.median(now_s),
            "render_first_s": first_s, "render_speedup": speedup, "render_mb": len(body) / 1e6}


def commit_cost(options: _options.Options) -> dict[str, float]:
    """One allocation write at 1k and at the run's size; the first real-time second's backlog."""
    sizes = sorted({1_000, options.allocs})
    clusters = [_large(n) for n in sizes]
    ids = [next(a["ID"] for a in c.state.allocs.values() if a["Job"]["Type"] == "service") for c in clusters]
    times: list[list[float]] = [[] for _ in clusters]
    for r in range(41):
        order = list(range(len(clusters)))
        for i in order if r % 2 == 0 else order[::-1]:
            _, s = _timed(lambda i=i: clusters[i].signal_alloc(ids[i], signal="SIGHUP"))
            times[i].append(s)
    medians = [statistics.median(t) for t in times]
    print("one allocation commit (a signal), median of 41 paired: "
          + ", ".join(f"{m * 1e3:.3f} ms at {n:,}" for n, m in zip(sizes, medians, strict=True)))
    figures = {f"commit_ms_{n}": m * 1e3 for n, m in zip(sizes, medians, strict=True)}
    clusters.clear()  # free them before the next build

    cluster = _large(options.allocs, ManualClock(time.time_ns()))
    continue_in_real_time(cluster)
    stop = threading.Event()
    latencies: list[float] = []

    def ask() -> None:
        client = httpx.Client(transport=cluster.transport(), base_url="http://nomad")
        while not stop.is_set():
            _, s = _timed(client.get, "/v1/status/leader")
            latencies.append(s)
            time.sleep(0.02)

    due = cluster.next_due_ns() or time.time_ns()
    time.sleep(max(0.0, (due - time.time_ns()) / NS_PER_S))   # the batch exits fall due now
    asker = threading.Thread(target=ask, daemon=True)
    asker.start()
    t0 = time.monotonic()
    while True:   # the served cluster's ticker does this; here it is timed
        cluster.tick()
        nxt = cluster.next_due_ns()
        if nxt is None or nxt > time.time_ns() or time.monotonic() - t0 > 600:
            break
    backlog_s = time.monotonic() - t0
    stop.set()
    asker.join(10)
    done = sum(a["ClientStatus"] == "complete" for a in cluster.state.allocs.values())
    slowest = max(latencies) if latencies else float("nan")
    print(f"first real-time second at {len(cluster.state.allocs):,} allocations: {done:,} batch exits in "
          f"{backlog_s:.1f} s; /v1/status/leader meanwhile: {len(latencies)} answers, median "
          f"{statistics.median(latencies) * 1e3:.0f} ms, slowest {slowest * 1e3:.0f} ms")
    figures.update(backlog_s=backlog_s, backlog_exits=float(done), backlog_slowest_get_ms=slowest * 1e3)
    return figures


def live_view(options: _options.Options) -> dict[str, float]:
    """P3: a LiveView's requests over an idle window, and its delay from a write to a redraw."""
    from nomadlab.client import NomadClient
    from nomadlab.config import NomadConfig
    from nomadlab.widgets import LiveView

    idle_s, wait_s = (6.0, 2.0) if options.quick else (60.0, 10.0)
    cluster = SimCluster.default(seed=0)
    seen: list[str] = []

    class Counting(httpx.BaseTransport):
        def __init__(self, inner: httpx.BaseTransport) -> None:
            self.inner = inner

        def handle_request(self, request: httpx.Request) -> httpx.Response:
            seen.append(request.url.path)
            return self.inner.handle_request(request)

    client = NomadClient(NomadConfig(address="http://nomad"), transport=Counting(cluster.transport()))
    view = LiveView(client, "allocations", wait=wait_s)
    view.start()
    try:
        deadline = time.monotonic() + 60
        while view.redraws < 1 and time.monotonic() < deadline:
            time.sleep(0.02)
        time.sleep(0.2)
        first = len(seen)
        time.sleep(idle_s)
        idle = len(seen) - first
        delays = []
        running = [a["ID"] for a in cluster.state.allocs.values() if a["ClientStatus"] == "running"]
        for k in range(5):
            before = view.redraws
            time.sleep(0.3)
            t0 = time.monotonic()
            cluster.signal_alloc(running[k % len(running)], signal="SIGHUP")
            while view.redraws == before and time.monotonic() - t0 < 30:
                time.sleep(0.005)
            delays.append(time.monotonic() - t0)
    finally:
        view.stop(timeout=wait_s + 2)
    per_wait = idle / (idle_s / wait_s)
    delay = statistics.median(delays)
    print(f"P3 live view of the allocations, {idle_s:.0f} s of no change with wait={wait_s:.0f}s: {idle} "
          f"requests, {per_wait:.2f} per wait period (target 1: {'met' if per_wait <= 1.2 else 'NOT met'})")
    print(f"P3 delay from a write to the redraw: median {delay * 1e3:.0f} ms of {len(delays)} "
          f"({min(delays) * 1e3:.0f} - {max(delays) * 1e3:.0f}; target <= 1 s: "
          f"{'met' if delay <= 1.0 else 'NOT met'})")
    return {"p3_idle_requests": float(idle), "p3_requests_per_wait": per_wait, "p3_change_delay_s": delay}


def run(options: _options.Options) -> dict[str, float]:
    """Print and return every figure of this module."""
    figures = rendering(options)
    figures.update(commit_cost(options))
    figures.update(live_view(options))
    return figures


def main() -> None:
    """Run with the options of ``python -m benchmarks``."""
    run(_options.current())


if __name__ == "__main__":
    _options.set_current(_options.parse(sys.argv[1:]))
    main()
