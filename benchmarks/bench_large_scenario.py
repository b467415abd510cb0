"""Build the ``large`` scenario (10,000 nodes, 100,000 allocations) and list its allocations.

Prints the build time, then the time and size of ``GET /v1/allocations?namespace=*`` served on
127.0.0.1, each with its ratio to a floor measured in the same run: ``orjson.dumps`` of the same
allocation stubs in-process (the encoding the route cannot avoid). Sizes can be changed with
``NOMADLAB_BENCH_NODES`` / ``NOMADLAB_BENCH_ALLOCS``.
"""

from __future__ import annotations

import os
import time

import httpx
import orjson

from nomadlab.sim import wire
from nomadlab.sim.scenarios import build_scenario

__all__ = ["main"]


def _timed(fn):  # type: ignore[no-untyped-def]
    start = time.perf_counter()
    result = fn()
    return result, time.perf_counter() - start


def main() -> None:
    """Run the benchmark and print its lines."""
    nodes = int(os.environ.get("NOMADLAB_BENCH_NODES", "10000"))
    allocs = int(os.environ.get("NOMADLAB_BENCH_ALLOCS", "100000"))
    cluster, build_s = _timed(lambda: build_scenario("large", nodes=nodes, allocs=allocs))
    print(f"build large: {nodes} nodes, {len(cluster.state.jobs)} jobs, "
          f"{len(cluster.state.allocs)} allocations in {build_s:.2f} s")

    with cluster.state.lock:
        ordered = sorted(cluster.state.allocs.values(), key=lambda a: (a["CreateIndex"], a["ID"]))
    stubs, stub_s = _timed(lambda: [wire.alloc_stub(a) for a in ordered])
    floor, floor_s = _timed(lambda: orjson.dumps(stubs, option=orjson.OPT_NON_STR_KEYS))
    print(f"floor: orjson.dumps of {len(stubs)} stubs in-process: {floor_s:.3f} s, "
          f"{len(floor) / 1e6:.1f} MB (projecting the stubs: {stub_s:.2f} s)")

    with cluster.serve(port=0) as url, httpx.Client(base_url=url, timeout=600) as client:
        client.get("/v1/status/leader")
        resp, get_s = _timed(lambda: client.get("/v1/allocations", params={"namespace": "*"}))
        resp.raise_for_status()
        body = resp.content
        count = len(orjson.loads(body))
        page, page_s = _timed(lambda: client.get("/v1/allocations", params={"namespace": "*", "per_page": 100}))
        page.raise_for_status()
    print(f"GET /v1/allocations?namespace=*: {count} allocations, {len(body) / 1e6:.1f} MB in "
          f"{get_s:.2f} s ({get_s / floor_s:.1f}x the floor)")
    print(f"GET /v1/allocations?namespace=*&per_page=100: {page_s * 1000:.0f} ms "
          f"({page_s / floor_s:.2f}x the floor)")
    print(f"build + first full listing: {build_s + get_s:.2f} s")


if __name__ == "__main__":
    main()
