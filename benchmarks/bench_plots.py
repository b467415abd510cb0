"""Build the task timeline of 50,000 task events and measure its time and JSON size.

50,000 events are 5,000 allocations × one task × 10 events (Nomad keeps the last 10), with
restarts, OOM kills and failures among them. Prints the time of ``task_spans``, of
``task_timeline`` (spans included) and the size of ``fig.to_json()``, for the default row
limit and for every row drawn. Targets: built in ≤ 2 s, ≤ 10 MB of JSON. The event count can be
changed with ``NOMADLAB_BENCH_EVENTS`` (5,000 with ``--quick``).
"""

from __future__ import annotations

import os
import time
from typing import Any

import numpy as np
import pandas as pd

from benchmarks import _options
from nomadlab.analysis.states import task_spans
from nomadlab.frames import REGISTRY
from nomadlab.plots import task_timeline

__all__ = ["events", "main"]

_CYCLE = ("Received", "Task Setup", "Driver", "Started", "Terminated", "Restarting", "Started", "Terminated",
          "Restarting", "Started")


def events(n: int, seed: int = 7) -> pd.DataFrame:
    """``n`` task events (10 per allocation) as the ``task_events`` frame types them."""
    rng = np.random.default_rng(seed)
    allocs = max(1, n // len(_CYCLE))
    t0 = pd.Timestamp("2026-03-01T00:00:00Z").value
    data: dict[str, list[Any]] = {c.name: [] for c in REGISTRY["task_events"].columns}
    for a in range(allocs):
        start = t0 + int(rng.integers(0, 6 * 3600)) * 10**9
        oom = rng.random() < 0.1
        fail_last = rng.random() < 0.05
        step = 0
        for i, kind in enumerate(_CYCLE):
            step += int(rng.integers(1, 300)) * 10**9
            typ = "Not Restarting" if fail_last and i == len(_CYCLE) - 1 else kind
            row = {
                "alloc_id": f"{a:08x}-0000-0000-0000-000000000000", "namespace": "default",
                "job_id": f"job-{a % 40}", "task_group": "group", "node_id": f"node-{a % 500}", "task": "app",
                "event_index": i, "time": start + step, "type": typ, "message": f"{typ} event",
                "display_message": None, "exit_code": 137 if (oom and kind == "Terminated") else None,
                "signal": None, "oom_killed": bool(oom and kind == "Terminated"), "restart_reason": None,
                "fails_task": typ == "Not Restarting", "kill_timeout": None, "start_delay": None,
                "driver_error": None, "setup_error": None, "details": {},
            }
            for c in data:
                data[c].append(row[c])
    return REGISTRY["task_events"].build(data)


def _timed(fn: Any) -> tuple[Any, float]:
    start = time.perf_counter()
    result = fn()
    return result, time.perf_counter() - start


def main() -> None:
    """Run the benchmark and print its lines."""
    n = int(os.environ.get("NOMADLAB_BENCH_EVENTS", "5000" if _options.current().quick else "50000"))
    ev = events(n)
    task_timeline(ev.head(50))                      # plotly's imports are not the figure's cost
    spans, spans_s = _timed(lambda: task_spans(ev))
    print(f"task_spans: {len(ev):,} events → {len(spans):,} spans in {spans_s:.2f} s")
    for label, rows in (("default max_rows", None), ("every row", len(ev))):
        kwargs = {} if rows is None else {"max_rows": rows}
        fig, build_s = _timed(lambda kw=kwargs: task_timeline(ev, **kw))
        payload, json_s = _timed(fig.to_json)
        kinds = sorted({t.type for t in fig.data})
        print(f"task_timeline ({label}): built in {build_s:.2f} s (target ≤ 2 s), to_json "
              f"{len(payload) / 1e6:.2f} MB (target ≤ 10 MB) in {json_s:.2f} s; traces {kinds}")


if __name__ == "__main__":
    main()
