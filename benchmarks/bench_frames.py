"""P1, P2 and the scale curve: the allocation frames against the true floor and what users do today.

The pages of the simulator's ``large`` scenario are recorded once (:mod:`benchmarks._static`)
and served from memory by a static server in its own process, so what is measured is the
client, not the simulator's rendering. Every path asks for the same list
(``/v1/allocations?namespace=*&resources=true&task_states=true``) and runs in a fresh
subprocess (its peak resident memory is its own); the paths of one round run back to back
(A B C ... then ... C B A in the next round), and each figure is the median over the rounds,
printed with its spread (min–max). Ratios are taken within a round, then their median: the
machine is shared, and pairing keeps a slow moment from landing on one path only.

Paths:

- **ours**: ``allocation_frames(NomadClient(url))``, end to end;
- **ours, three frames from one fetch**: ``allocations``, ``tasks`` and ``task_events`` on one
  ``CachedSource(LiveSource(client))``, as the docs recommend for several frames;
- **three separate fetches** (context): the three fetchers on the client, each its own fetch;
- **baseline**: python-nomad's ``get_allocations(namespace="*", resources=True,
  task_states=True)`` (one response, as python-nomad does not page) and
  ``pandas.json_normalize`` for the three frames, with ``pd.to_datetime`` on the time columns;
- **plain floor**: the same pages transferred with ``httpx`` (the next one read on a thread
  while this one is parsed) and parsed with ``orjson.loads``, each page dropped when parsed;
- **true floor**: the same transfers, each page decoded by ``msgspec`` into only the fields the
  frames read (:data:`nomadlab.frames.allocations.WIRE_FIELDS`), then dropped.

Targets (ratios from the paired runs): ours ≤ 1.5× the true floor; the baseline ≥ 10× ours;
ours' peak resident memory above its start ≤ 1× the payload; three frames from one fetch ≤
``allocation_frames``. Then the same against the live simulator (its rendering included,
reported apart), P2 (allocation stats fanned out with injected latency against a sequential
loop) and, with ``--curve``, ours and the baseline at each size.
"""

from __future__ import annotations

import gc
import json
import math
import os
import queue
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Any

from benchmarks import _options
from benchmarks._static import ALLOC_QUERY, PER_PAGE

__all__ = ["main", "run"]

_ROOT = Path(__file__).resolve().parents[1]
# Every path makes this small request with its client before its clock starts: in a notebook the
# client exists already, and imports and connection setup are not what is compared.
_WARM_UP = "/v1/status/leader"


# -- workers (each runs in its own process) ---------------------------------------------------------

def _rss_mb(field: str = "VmHWM") -> float:
    """This process's peak (``VmHWM``) or current (``VmRSS``) resident memory in MB; 0 where
    ``/proc`` is missing."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


def _reset_peak() -> None:
    """Start the peak (``VmHWM``) again from the current resident size (Linux 4.0+)."""
    with suppress(OSError):
        Path("/proc/self/clear_refs").write_text("5")


@contextmanager
def _measured(out: dict[str, Any]) -> Iterator[None]:
    """Time the block and record its peak resident memory above its start, in MB."""
    gc.collect()
    _reset_peak()
    start = _rss_mb("VmRSS")
    t0 = time.perf_counter()
    yield
    out["total_s"] = time.perf_counter() - t0
    out["rss_mb"] = max(0.0, _rss_mb() - start)


def _client(url: str) -> Any:
    from nomadlab.client import NomadClient

    client = NomadClient(address=url)
    client.get(_WARM_UP)
    return client


def _ours(url: str) -> dict[str, Any]:
    from nomadlab.frames.allocations import allocation_frames

    out: dict[str, Any] = {}
    with _client(url) as client, _measured(out):
        frames = allocation_frames(client)
        out["rows"] = [len(f) for f in frames]
    return out


def _cached(url: str) -> dict[str, Any]:
    from nomadlab.frames.allocations import allocations, task_events, tasks
    from nomadlab.sources import CachedSource, LiveSource

    out: dict[str, Any] = {}
    with _client(url) as client, _measured(out):
        src = CachedSource(LiveSource(client))
        out["rows"] = [len(allocations(src)), len(tasks(src)), len(task_events(src))]
    return out


def _separate(url: str) -> dict[str, Any]:
    from nomadlab.frames.allocations import allocations, task_events, tasks

    out: dict[str, Any] = {}
    with _client(url) as client, _measured(out):
        out["rows"] = [len(allocations(client)), len(tasks(client)), len(task_events(client))]
    return out


def _baseline(url: str) -> dict[str, Any]:
    import nomad  # python-nomad: pip install nomadlab[bench]
    import pandas as pd

    host, port = url.removeprefix("http://").rsplit(":", 1)
    api = nomad.Nomad(host=host, port=int(port), timeout=600)
    api.status.leader.get_leader()
    out: dict[str, Any] = {}
    with _measured(out):
        allocs = api.allocations.get_allocations(namespace="*", resources=True, task_states=True)
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
        out["rows"] = [len(allocations), len(tasks), len(events)]
    return out


class _PageBodies:
    """The bodies of the paged allocation list, each next page read on a thread while the
    caller works on this one (the floor's transfer: nothing but ``httpx`` reading bytes). The
    client is made and warmed up here; iterating reads the pages."""

    def __init__(self, url: str) -> None:
        import httpx

        self.http = httpx.Client(base_url=url, timeout=600)
        self.http.get(_WARM_UP).raise_for_status()

    def _read(self, bodies: queue.Queue[bytes | BaseException | None]) -> None:
        import httpx

        token = None
        try:
            while True:
                params = dict(ALLOC_QUERY, per_page=str(PER_PAGE))
                if token:
                    params["next_token"] = token
                resp = self.http.get("/v1/allocations", params=params).raise_for_status()
                token = resp.headers.get("x-nomad-nexttoken")
                body = resp.content
                # httpx's response <-> stream cycle would keep every page until a cyclic
                # collection (paused while decoding): break it, as the client does
                resp.stream = httpx.ByteStream(b"")
                del resp
                bodies.put(body)
                del body
                if not token:
                    break
        except BaseException as exc:  # handed to the reader, which raises it
            bodies.put(exc)
        bodies.put(None)

    def __iter__(self) -> Iterator[bytes]:
        bodies: queue.Queue[bytes | BaseException | None] = queue.Queue(maxsize=1)
        thread = threading.Thread(target=self._read, args=(bodies,), daemon=True)
        thread.start()
        while (body := bodies.get()) is not None:
            if isinstance(body, BaseException):
                raise body
            yield body
        thread.join()
        self.http.close()


def _floor(url: str, decode: Callable[[bytes], Any]) -> dict[str, Any]:
    from nomadlab._json import gc_paused

    out: dict[str, Any] = {}
    pages = _PageBodies(url)
    size = count = 0
    with _measured(out), gc_paused():
        for body in pages:
            size += len(body)
            count += len(decode(body))
            del body
    out["bytes"] = size
    out["rows"] = [count]
    return out


def _floor_plain(url: str) -> dict[str, Any]:
    import orjson

    return _floor(url, orjson.loads)


def _floor_true(url: str) -> dict[str, Any]:
    from nomadlab._json import decoder_for
    from nomadlab.frames.allocations import WIRE_FIELDS

    return _floor(url, decoder_for(WIRE_FIELDS, many=True))


def _fanout(url: str, ids_json: str, workers: str) -> dict[str, Any]:
    """P2: the stats of ``ids`` fanned out with ``LiveSource(max_workers=workers)``, and a
    plain sequential loop over (up to 200 of) them."""
    from nomadlab.sources import LiveSource

    ids: list[str] = json.loads(ids_json)
    client = _client(url)
    sample = ids[:200]
    t0 = time.perf_counter()
    for aid in sample:
        client.get(f"/v1/client/allocation/{aid}/stats")
    seq_per = (time.perf_counter() - t0) / len(sample)
    t1 = time.perf_counter()
    details = LiveSource(client, max_workers=int(workers)).details("alloc_stats", ids)
    fan_s = time.perf_counter() - t1
    if details.errors or len(details.objects) != len(ids):
        raise RuntimeError(f"fan-out failed for {len(details.errors)} of {len(ids)}: "
                           f"{next(iter(details.errors.values()), '')}")
    client.close()
    return {"total_s": fan_s, "sequential_s": seq_per * len(ids), "sequential_measured": len(sample),
            "rss_mb": 0.0}


_WORKERS: dict[str, Callable[..., dict[str, Any]]] = {
    "ours": _ours, "cached": _cached, "separate": _separate, "baseline": _baseline,
    "floor_plain": _floor_plain, "floor_true": _floor_true, "fanout": _fanout,
}

_LABELS = {
    "ours": "ours: allocation_frames(NomadClient)",
    "cached": "ours: the 3 fetchers on one CachedSource",
    "separate": "ours: the 3 fetchers, 3 fetches (context)",
    "baseline": "baseline: python-nomad + json_normalize",
    "floor_plain": "plain floor: transfer + orjson.loads",
    "floor_true": "true floor: transfer + msgspec, frame fields only",
}


# A worker kind "ours@/path/to/checkout" runs "ours" with that checkout's nomadlab package.
_IMPORT_FROM = "NOMADLAB_BENCH_IMPORT_FROM"


def _run(kind: str, *args: str) -> dict[str, Any]:
    kind, _, checkout = kind.partition("@")
    env = dict(os.environ, PYTHONHASHSEED="0")
    if checkout:
        env[_IMPORT_FROM] = checkout
    proc = subprocess.run([sys.executable, "-m", "benchmarks.bench_frames", "--worker", kind, *args],
                          cwd=_ROOT, capture_output=True, text=True, check=False, env=env)
    if proc.returncode != 0:
        raise RuntimeError(f"benchmark worker {kind!r} failed:\n{proc.stderr[-3000:]}")
    result: dict[str, Any] = json.loads(proc.stdout.strip().splitlines()[-1])
    return result


# -- the run ------------------------------------------------------------------------------------

@contextmanager
def _static_server(recording: Path, *, gzip_bodies: bool = False, latency_ms: float = 0.0
                   ) -> Iterator[dict[str, Any]]:
    """Serve ``recording`` from its own process; yield its info (with ``url``)."""
    cmd = [sys.executable, "-m", "benchmarks._static", str(recording), "--latency-ms", str(latency_ms)]
    if gzip_bodies:
        cmd.append("--gzip")
    proc = subprocess.Popen(cmd, cwd=_ROOT, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        if not line:
            raise RuntimeError("the static server did not start (see its standard error above)")
        yield json.loads(line)
    finally:
        if proc.stdin is not None:
            proc.stdin.close()
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def _build(allocs: int) -> Any:
    from nomadlab.sim.scenarios import build_scenario

    return build_scenario("large", nodes=max(1, allocs // 10), allocs=allocs)


def _record(allocs: int, directory: Path, stats_allocs: int) -> tuple[Path, Any, float]:
    from benchmarks._static import record

    t0 = time.perf_counter()
    cluster = _build(allocs)
    build_s = time.perf_counter() - t0
    rec = record(cluster, stats_allocs=stats_allocs)
    path = directory / f"large-{allocs}.pickle"
    rec.save(path)
    return path, cluster, build_s


def _rounds(kinds: list[str], url: str, repeat: int) -> dict[str, list[dict[str, Any]]]:
    """``repeat`` rounds of every kind, in turn, the order reversed every other round."""
    runs: dict[str, list[dict[str, Any]]] = {k: [] for k in kinds}
    for r in range(repeat):
        for kind in kinds if r % 2 == 0 else kinds[::-1]:
            runs[kind].append(_run(kind, url))
    return runs


def _median(values: list[float]) -> float:
    return statistics.median(values) if values else math.nan


def _ratio(runs: dict[str, list[dict[str, Any]]], num: str, den: str, key: str = "total_s") -> float:
    """The median over rounds of ``num / den`` (paired: the same round's runs)."""
    pairs = [a[key] / b[key] for a, b in zip(runs[num], runs[den], strict=True) if b[key] > 0]
    return _median(pairs)


def _spread(runs: list[dict[str, Any]], key: str = "total_s") -> str:
    values = [r[key] for r in runs]
    return f"median {_median(values):.3f} s (min {min(values):.3f}, max {max(values):.3f}, n={len(values)})"


def _met(ok: bool) -> str:
    return "met" if ok else "NOT met"


def run(options: _options.Options) -> dict[str, float]:
    """Run P1, P2 (and with ``options.curve`` the scale curve); print every line and return the
    figures by name (times in seconds, memory in MB, ratios)."""
    figures: dict[str, float] = {}
    allocs = options.allocs
    with tempfile.TemporaryDirectory(prefix="nomadlab-bench-") as tmp:
        path, cluster, build_s = _record(allocs, Path(tmp), options.fanout_allocs)
        print(f"large scenario: {allocs // 10} nodes, {len(cluster.state.allocs)} allocations (built in "
              f"{build_s:.1f} s); pages recorded, served from memory by a static server on 127.0.0.1"
              f"{' gzip-encoded' if options.gzip else ''}", flush=True)
        kinds = ["ours", "floor_true", "cached", "floor_plain", "baseline", "separate"]
        if options.compare:
            kinds.append(f"ours@{options.compare}")
            _LABELS[kinds[-1]] = f"ours, nomadlab from {options.compare}"
        with _static_server(path, gzip_bodies=options.gzip) as info:
            runs = _rounds(kinds, info["url"], options.repeat)
        payload = info["payload_bytes"]
        mb = payload / 1e6
        print(f"payload: {mb:.1f} MB in {info['pages']} pages of {PER_PAGE}"
              + (f" ({info['gzip_bytes'] / 1e6:.1f} MB gzip-encoded)" if options.gzip else "")
              + f"; frames: {runs['ours'][0]['rows']} rows (allocations, tasks, task events)")
        for kind in kinds:
            rss = _median([r["rss_mb"] for r in runs[kind]])
            print(f"  {_LABELS[kind]:<52} {_spread(runs[kind])}; peak RSS +{rss:.0f} MB "
                  f"({rss * 1e6 / payload:.2f}x payload)")
            figures[f"{kind}_s"] = _median([r["total_s"] for r in runs[kind]])
            figures[f"{kind}_rss_mb"] = rss
        if runs["cached"][0]["rows"] != runs["ours"][0]["rows"]:
            raise RuntimeError(f"CachedSource rows {runs['cached'][0]['rows']} differ from "
                               f"allocation_frames' {runs['ours'][0]['rows']}")
        figures["payload_mb"] = mb
        figures["ours_over_true_floor"] = r1 = _ratio(runs, "ours", "floor_true")
        figures["ours_over_plain_floor"] = r2 = _ratio(runs, "ours", "floor_plain")
        figures["baseline_over_ours"] = r3 = _ratio(runs, "baseline", "ours")
        figures["ours_rss_over_payload"] = r4 = figures["ours_rss_mb"] * 1e6 / payload
        figures["cached_over_ours"] = r5 = _ratio(runs, "cached", "ours")
        figures["separate_over_ours"] = _ratio(runs, "separate", "ours")
        if options.compare:
            figures["compare_over_ours"] = _ratio(runs, kinds[-1], "ours")
            print(f"ours with nomadlab from {options.compare} / ours: {figures['compare_over_ours']:.2f}x")
        print(f"target ours / true floor <= 1.5x: {r1:.2f}x ({_met(r1 <= 1.5)}); "
              f"ours / plain floor: {r2:.2f}x")
        print(f"target baseline / ours >= 10x: {r3:.1f}x ({_met(r3 >= 10)})")
        print(f"target ours' peak RSS <= 1x payload: {r4:.2f}x ({_met(r4 <= 1)})")
        print(f"target 3 frames from one fetch (CachedSource) / allocation_frames <= 1x: {r5:.2f}x "
              f"({_met(r5 <= 1)}); 3 separate fetches: {figures['separate_over_ours']:.2f}x")

        if options.live:
            live_kinds = ["ours", "floor_true", "floor_plain"]
            with cluster.serve(port=0) as url:
                live = _rounds(live_kinds, url, options.repeat)
            print("against the live simulator (its rendering of every page included):")
            for kind in live_kinds:
                print(f"  {_LABELS[kind]:<52} {_spread(live[kind])}")
                figures[f"live_{kind}_s"] = _median([r["total_s"] for r in live[kind]])
            figures["live_ours_over_true_floor"] = _ratio(live, "ours", "floor_true")
            figures["live_ours_over_plain_floor"] = _ratio(live, "ours", "floor_plain")
            print(f"  ours / true floor {figures['live_ours_over_true_floor']:.2f}x, ours / plain floor "
                  f"{figures['live_ours_over_plain_floor']:.2f}x (live, for context; no target)")
        del cluster
        gc.collect()

        ids = info["stats_ids"]
        with _static_server(path, latency_ms=options.latency_ms) as sinfo:
            fan: dict[str, list[dict[str, Any]]] = {"8": [], "64": []}
            for _ in range(options.repeat):
                for workers in fan:
                    fan[workers].append(_run("fanout", sinfo["url"], json.dumps(ids), workers))
        sequential = _median([r["sequential_s"] for r in fan["64"] + fan["8"]])
        figures["fanout_sequential_s"] = sequential
        print(f"P2 stats of {len(ids)} allocations, {options.latency_ms:.0f} ms injected per request: sequential "
              f"loop {sequential:.2f} s (per request measured on {fan['8'][0]['sequential_measured']}, "
              f"times {len(ids)})")
        for workers, rs in fan.items():
            fan_s = _median([r["total_s"] for r in rs])
            speed = _median([r["sequential_s"] / r["total_s"] for r in rs])
            figures[f"fanout_{workers}_s"] = fan_s
            figures[f"fanout_{workers}_speedup"] = speed
            print(f"  LiveSource(max_workers={workers}).details('alloc_stats'): {_spread(rs)}; "
                  f"{speed:.1f}x the sequential loop" + (f" (target >= 15x: {_met(speed >= 15)})"
                                                         if workers == "64" else ""))

    if options.curve:
        sizes = [s for s in ("1k", "10k", "100k", "300k") if _options.SIZES[s] <= allocs or s in ("1k", "10k")]
        print("scale curve (ours and the baseline; median of paired rounds):")
        for name in sizes:
            n = _options.SIZES[name]
            with tempfile.TemporaryDirectory(prefix="nomadlab-bench-") as tmp:
                path, cluster, _ = _record(n, Path(tmp), 0)
                del cluster
                gc.collect()
                with _static_server(path, gzip_bodies=options.gzip) as info:
                    runs = _rounds(["ours", "baseline"], info["url"], options.repeat)
            ours_s = _median([r["total_s"] for r in runs["ours"]])
            base_s = _median([r["total_s"] for r in runs["baseline"]])
            figures[f"curve_{name}_ours_s"] = ours_s
            figures[f"curve_{name}_baseline_s"] = base_s
            print(f"  {name:>4}: ours {ours_s:.3f} s ({ours_s / n * 1e6:.1f} us/alloc), baseline "
                  f"{base_s:.3f} s ({base_s / n * 1e6:.1f} us/alloc), {_ratio(runs, 'baseline', 'ours'):.1f}x")
    return figures


def main() -> None:
    """Run the benchmark with the options of ``python -m benchmarks`` and print its lines."""
    run(_options.current())


def _worker(argv: list[str]) -> None:
    kind, *args = argv
    checkout = os.environ.get(_IMPORT_FROM)
    if checkout:
        sys.path.insert(0, checkout)
    print(json.dumps(_WORKERS[kind](*args)), flush=True)


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--worker":
        _worker(sys.argv[2:])
    else:
        _options.set_current(_options.parse(sys.argv[1:]))
        main()
