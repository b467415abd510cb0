"""The allocation frames (``allocations``, ``tasks``, ``task_events``) against what users do today.

Builds the simulator's ``large`` scenario, serves it on 127.0.0.1 and measures, side by side
in one run (each measurement in a fresh subprocess, so caches, garbage and the collector's state
of one never touch another):

- **ours**: ``allocation_frames(NomadClient(address=url))``, end to end: transfer, JSON
  decoding and the three typed frames;
- **floor**: merely transferring the same bytes (``httpx.get`` of
  ``/v1/allocations?namespace=*&resources=true``) and parsing them with ``orjson.loads``
  (with the cyclic collector paused during the parse, its fastest; the time with the
  collector running is printed beside it);
- **baseline**: what a user writes today: ``python-nomad``'s
  ``allocations.get_allocations(namespace="*", resources=True)``, then
  ``pandas.json_normalize`` for the allocations, the task states (a comprehension over the
  ``TaskStates`` maps, as ``json_normalize`` cannot explode a map) and the task events
  (``record_path="Events"``), and ``pd.to_datetime`` for the time columns. When python-nomad
  is not installed (``pip install nomadlab[bench]``) the same code runs on ``requests`` and is
  labelled so.
- **memory**: ``tracemalloc`` peak of the whole ``allocation_frames(NomadClient)`` (the bytes
  of the pages in flight, their decoded objects and the frames), as a multiple of the payload's
  byte size; and, for context, each end-to-end process's peak resident memory against the
  floor's.

Each path creates its client and makes one small request with it (``GET /v1/status/leader``)
before its clock starts, so what is timed is the fetch and the frames, not imports and
connection setup (as in a notebook, where the client exists already).

The issue's targets are printed as ratios with whether each is met; nothing is asserted.
Sizes: ``NOMADLAB_BENCH_ALLOCS`` (default 100000), ``NOMADLAB_BENCH_NODES`` (default allocs/10),
``NOMADLAB_BENCH_REPEAT`` (default 3: ours, the floor and the baseline are each run that many
times, in turn, and the best time of each is kept).
"""

from __future__ import annotations

import gc
import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

__all__ = ["main"]

_ROOT = Path(__file__).resolve().parents[1]
_QUERY = {"namespace": "*", "resources": "true", "task_states": "true"}
# Every path makes this small request with its client before its clock starts: in a notebook the
# client exists already, and imports and connection setup are not what is compared.
_WARM_UP = "/v1/status/leader"


# -- workers (each runs in its own process) ---------------------------------------------------------

def _rss_mb(field: str = "VmHWM") -> float:
    """This process's peak (``VmHWM``) or current (``VmRSS``) resident memory in MB; 0 where
    ``/proc`` is missing. (``getrusage``'s maximum survives ``exec`` and so would report the
    parent's.)"""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


def _floor(url: str) -> dict[str, Any]:
    import httpx
    import orjson

    http = httpx.Client(timeout=600)
    http.get(url + _WARM_UP).raise_for_status()
    start_rss = _rss_mb("VmRSS")
    t0 = time.perf_counter()
    body = http.get(url + "/v1/allocations", params=_QUERY).raise_for_status().content
    t1 = time.perf_counter()
    gc.disable()
    data = orjson.loads(body)
    t2 = time.perf_counter()
    gc.enable()
    del data
    gc.collect()
    t3 = time.perf_counter()
    orjson.loads(body)   # the same parse with the collector running, for context
    t4 = time.perf_counter()
    return {"transfer_s": t1 - t0, "parse_s": t2 - t1, "parse_gc_on_s": t4 - t3, "total_s": t2 - t0,
            "bytes": len(body), "rss_mb": _rss_mb() - start_rss}


def _ours(url: str) -> dict[str, Any]:
    from nomadlab.client import NomadClient
    from nomadlab.frames.allocations import WIRE_FIELDS, allocation_frames
    from nomadlab.sources import LiveSource

    with NomadClient(address=url) as client:
        client.get(_WARM_UP)
        start_rss = _rss_mb("VmRSS")
        t0 = time.perf_counter()
        frames = allocation_frames(client)          # the real end to end, as a user calls it
        t1 = time.perf_counter()
        rss = _rss_mb() - start_rss
        rows = [len(f) for f in frames]
        del frames
        gc.collect()
        # then the same again in parts, for the breakdown: the pages fetched and decoded (kept),
        # then the frames built from them
        t2 = time.perf_counter()
        pages = list(LiveSource(client).pages("allocations", fields=WIRE_FIELDS))
        t3 = time.perf_counter()
        frames = allocation_frames(_Pages(pages))
        t4 = time.perf_counter()
        del pages, frames
        t5 = time.perf_counter()
    return {"total_s": t1 - t0, "fetch_s": t3 - t2, "frames_s": t4 - t3, "free_s": t5 - t4,
            "rows": rows, "rss_mb": rss}


def _baseline(url: str) -> dict[str, Any]:
    import pandas as pd

    host, port = url.removeprefix("http://").rsplit(":", 1)
    try:
        import nomad  # python-nomad

        label = "python-nomad"
        api = nomad.Nomad(host=host, port=int(port), timeout=600)
        api.status.leader.get_leader()

        def fetch() -> Any:
            return api.allocations.get_allocations(namespace="*", resources=True)
    except ImportError:
        import requests

        label = "requests (python-nomad not installed)"
        session = requests.Session()
        session.get(url + _WARM_UP, timeout=600).raise_for_status()

        def fetch() -> Any:
            return session.get(url + "/v1/allocations", params={"namespace": "*", "resources": "true"},
                               timeout=600).json()
    t0 = time.perf_counter()
    allocs = fetch()
    t1 = time.perf_counter()
    allocations = pd.json_normalize(allocs)
    for col in ("CreateTime", "ModifyTime"):
        allocations[col] = pd.to_datetime(allocations[col], unit="ns", utc=True)
    states = [{"AllocID": a["ID"], "JobID": a["JobID"], "Task": name, **state}
              for a in allocs for name, state in (a.get("TaskStates") or {}).items()]
    tasks = pd.json_normalize(states)
    for col in ("StartedAt", "FinishedAt", "LastRestart"):
        tasks[col] = pd.to_datetime(tasks[col], utc=True, format="ISO8601", errors="coerce")
    events = pd.json_normalize(states, record_path="Events", meta=["AllocID", "Task"])
    events["Time"] = pd.to_datetime(events["Time"], unit="ns", utc=True)
    t2 = time.perf_counter()
    return {"label": label, "fetch_s": t1 - t0, "frames_s": t2 - t1, "total_s": t2 - t0,
            "rows": [len(allocations), len(tasks), len(events)]}


def _memory(url: str) -> dict[str, Any]:
    import tracemalloc

    import httpx

    from nomadlab.client import NomadClient
    from nomadlab.frames.allocations import allocation_frames

    size = len(httpx.get(url + "/v1/allocations", params=_QUERY, timeout=600).raise_for_status().content)
    gc.collect()
    with NomadClient(address=url) as client:
        tracemalloc.start()
        frames = allocation_frames(client)
        current, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
    frame_bytes = sum(int(f.memory_usage(deep=False, index=True).sum()) for f in frames)
    return {"bytes": size, "peak": peak, "retained": current, "frame_bytes": frame_bytes}


class _Pages:
    """A source answering from already decoded pages of the allocation list."""

    def __init__(self, pages: list[Any]) -> None:
        self._pages = pages

    def list(self, kind: str, *, namespace: str = "*", filter: str | None = None) -> list[Any]:
        return [obj for page in self._pages for obj in page]

    def pages(self, kind: str, *, namespace: str = "*", filter: str | None = None,
              fields: Any = None) -> Any:
        return iter(self._pages)

    def details(self, kind: str, keys: Any) -> Any:
        raise NotImplementedError


_WORKERS = {"floor": _floor, "ours": _ours, "baseline": _baseline, "memory": _memory}


def _run(kind: str, url: str) -> dict[str, Any]:
    proc = subprocess.run([sys.executable, "-m", "benchmarks.bench_frames", "--worker", kind, url],
                          cwd=_ROOT, capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        raise RuntimeError(f"benchmark worker {kind!r} failed:\n{proc.stderr[-3000:]}")
    result: dict[str, Any] = json.loads(proc.stdout.strip().splitlines()[-1])
    return result


# -- the run ------------------------------------------------------------------------------------

def _met(ok: bool) -> str:
    return "met" if ok else "NOT met"


def main() -> None:
    """Run the benchmark and print its lines."""
    from nomadlab.sim.scenarios import build_scenario

    allocs = int(os.environ.get("NOMADLAB_BENCH_ALLOCS", "100000"))
    nodes = int(os.environ.get("NOMADLAB_BENCH_NODES", str(max(1, allocs // 10))))
    repeat = max(1, int(os.environ.get("NOMADLAB_BENCH_REPEAT", "3")))
    t0 = time.perf_counter()
    cluster = build_scenario("large", nodes=nodes, allocs=allocs)
    print(f"large scenario: {nodes} nodes, {len(cluster.state.allocs)} allocations "
          f"(built in {time.perf_counter() - t0:.1f} s), served on 127.0.0.1", flush=True)

    with cluster.serve(port=0) as url:
        floors, ours, bases = [], [], []
        for _ in range(repeat):
            floors.append(_run("floor", url))
            ours.append(_run("ours", url))
            bases.append(_run("baseline", url))
        mem = _run("memory", url)

    floor = min(floors, key=lambda r: r["total_s"])
    us = min(ours, key=lambda r: r["total_s"])
    base = min(bases, key=lambda r: r["total_s"])
    mb = floor["bytes"] / 1e6
    a_rows, t_rows, e_rows = us["rows"]
    print(f"payload: {mb:.1f} MB; frames: {a_rows} allocations, {t_rows} tasks, {e_rows} task events")
    print(f"floor (httpx.get + orjson.loads): {floor['total_s']:.2f} s = transfer {floor['transfer_s']:.2f} s "
          f"+ parse {floor['parse_s']:.2f} s (parse with the collector running: {floor['parse_gc_on_s']:.2f} s)")
    print(f"ours (allocation_frames(NomadClient), end to end): {us['total_s']:.2f} s; measured apart: "
          f"pages fetched and decoded {us['fetch_s']:.2f} s, frames from them {us['frames_s']:.2f} s, "
          f"freeing the decoded pages {us['free_s']:.2f} s (end to end, each page is worked on while "
          f"the next is on its way)")
    print(f"baseline ({base['label']} + pandas.json_normalize, best of {len(bases)}): {base['total_s']:.2f} s "
          f"(fetch+decode {base['fetch_s']:.2f} s, frames {base['frames_s']:.2f} s; rows {base['rows']})")
    speedup = base["total_s"] / us["total_s"]
    over_floor = us["total_s"] / floor["total_s"]
    print(f"target speed-up vs baseline >= 5x: {speedup:.1f}x ({_met(speedup >= 5)})")
    print(f"target ours / floor <= 1.5x: {over_floor:.2f}x ({_met(over_floor <= 1.5)})")
    peak = mem["peak"] / mem["bytes"]
    print(f"target peak memory (traced, end to end: pages, decoded objects, frames) <= 3x payload: "
          f"{mem['peak'] / 1e6:.0f} MB = {peak:.2f}x "
          f"({_met(peak <= 3)}); frames kept: {mem['frame_bytes'] / 1e6:.0f} MB "
          f"= {mem['frame_bytes'] / mem['bytes']:.2f}x")
    print(f"context, peak resident memory of a whole process above its start: ours {us['rss_mb']:.0f} MB "
          f"({us['rss_mb'] * 1e6 / floor['bytes']:.1f}x payload), floor {floor['rss_mb']:.0f} MB "
          f"({floor['rss_mb'] * 1e6 / floor['bytes']:.1f}x): decoding JSON into Python objects alone "
          f"takes several times the payload")


def _worker(argv: list[str]) -> None:
    kind, url = argv
    print(json.dumps(_WORKERS[kind](url)), flush=True)


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--worker":
        _worker(sys.argv[2:])
    else:
        main()
