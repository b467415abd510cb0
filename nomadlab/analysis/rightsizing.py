"""Right-sizing: observed CPU and memory per task against what it asks for, and what to ask instead."""

from __future__ import annotations

import math
from typing import Literal

import numpy as np
import pandas as pd

__all__ = ["round_cpu", "round_memory", "rightsizing"]

_MiB = 1024 * 1024
_KEYS = ["namespace", "job_id", "task_group", "task"]


def round_cpu(mhz: float) -> int:
    """Round a CPU ask up the way Nomad users write them: 50 MHz steps below 1000, 100 below 4000, then 500."""
    step = 50 if mhz < 1000 else 100 if mhz < 4000 else 500
    return max(int(math.ceil(mhz / step) * step), 50)


def round_memory(mb: float) -> int:
    """Round a memory ask up: 32 MB steps below 256, 64 below 1024, 128 below 4096, then 512."""
    step = 32 if mb < 256 else 64 if mb < 1024 else 128 if mb < 4096 else 512
    return max(int(math.ceil(mb / step) * step), 32)


def _task_samples(usage: pd.DataFrame) -> pd.DataFrame:
    task_rows = usage["scope"].astype("string") == "task" if "scope" in usage.columns else usage["task"].notna()
    rows = usage[task_rows.fillna(False).astype(bool)]
    metric = rows["metric"].astype("string")
    cpu = rows[metric == "cpu_total_ticks"].assign(resource="cpu", v=lambda d: d["value"])
    mem = rows[metric == "memory_usage_bytes"].assign(resource="memory", v=lambda d: d["value"] / _MiB)
    return pd.concat([cpu, mem], ignore_index=True)


def rightsizing(
    usage: pd.DataFrame,
    task_groups: pd.DataFrame,
    *,
    margin: float = 1.2,
    cpu_base: Literal["p95", "p99", "max"] = "p95",
    memory_base: Literal["p95", "p99", "max"] = "max",
    min_samples: int = 12,
) -> pd.DataFrame:
    """Per job × group × task and resource: observed p50/p95/p99/max against the ask, and a suggested ask.

    Parameters
    ----------
    usage
        Usage samples over time: a ``usage`` frame (:func:`~nomadlab.analysis.usage.sample_usage`,
        :func:`~nomadlab.analysis.usage.usage_history`) or concatenated ``alloc_stats`` frames.
        Task rows of ``cpu_total_ticks`` (MHz) and ``memory_usage_bytes`` are used.
    task_groups
        The ``task_groups`` frame (the asks, ``memory_max``, and the counts).
    margin
        Head-room multiplied onto the base before rounding.
    cpu_base, memory_base
        Which observed figure the suggestion rests on. Memory defaults to the max: a task whose
        memory passes its limit is OOM-killed, while CPU above the ask is only throttled when
        the node is busy.
    min_samples
        Fewer samples than this (per task, over all its allocations) give NA figures and a note.

    Returns
    -------
    pandas.DataFrame
        One row per ``namespace``, ``job_id``, ``task_group``, ``task`` and ``resource`` (cpu,
        memory): ``unit`` (MHz, MB), ``ask``, ``limit`` (memory: ``memory_max`` when set, else the
        ask; cpu: the ask), ``samples``, ``p50``, ``p95``, ``p99``, ``max``, ``above_ask_pct``
        (share of samples above the ask), ``suggested`` (base × margin, rounded as
        :func:`round_cpu` / :func:`round_memory` do), ``instances`` (the group's count),
        ``freed`` ((ask − suggested) × instances: positive frees, negative asks for more),
        ``verdict`` (``over-asked``, ``under-asked``, ``about right``) and ``note`` (why a row is
        NA). Sorted by what would be freed, memory first. ``attrs["method"]`` says how.

    Examples
    --------
    >>> import pandas as pd
    >>> usage = pd.DataFrame({"time": pd.date_range("2026-01-01", periods=20, freq="30s", tz="UTC"),
    ...     "namespace": "default", "job_id": "web", "task_group": "web", "task": "nginx", "alloc_id": "a",
    ...     "metric": "memory_usage_bytes", "value": [100 * 2**20] * 20})
    >>> groups = pd.DataFrame({"namespace": ["default"], "job_id": ["web"], "task_group": ["web"],
    ...     "task": ["nginx"], "count": [3], "cpu_mhz": [500], "memory_mb": [512], "memory_max_mb": [None]})
    >>> r = rightsizing(usage, groups)
    >>> r.loc[r["resource"] == "memory", ["suggested", "freed"]].to_dict("records")
    [{'suggested': 128.0, 'freed': 1152.0}]
    """
    samples = _task_samples(usage)
    stats = samples.groupby([*_KEYS, "resource"], observed=True)["v"].describe(percentiles=[0.5, 0.95, 0.99])
    stats = stats.rename(columns={"count": "samples", "50%": "p50", "95%": "p95", "99%": "p99"})
    stats = stats[["samples", "p50", "p95", "p99", "max"]].reset_index()
    tg = task_groups[task_groups["task"].notna()].copy()
    rows = []
    for resource, unit in (("cpu", "MHz"), ("memory", "MB")):
        part = tg[[*_KEYS, "count"]].copy()
        part["resource"], part["unit"] = resource, unit
        if resource == "cpu":
            part["ask"] = tg["cpu_mhz"].astype("Float64").astype(float)
            part["limit"] = part["ask"]
        else:
            part["ask"] = tg["memory_mb"].astype("Float64").astype(float)
            mx = tg["memory_max_mb"].astype("Float64").astype(float)
            part["limit"] = np.where(mx.notna() & (mx > 0), mx, part["ask"])
        rows.append(part)
    asks = pd.concat(rows, ignore_index=True)
    for k in _KEYS:
        asks[k] = asks[k].astype("string")
        stats[k] = stats[k].astype("string")
    out = asks.merge(stats, on=[*_KEYS, "resource"], how="left")
    out["samples"] = out["samples"].fillna(0).astype(int)
    above = samples.merge(asks[[*_KEYS, "resource", "ask"]].astype({k: "object" for k in _KEYS}),
                          left_on=[*_KEYS, "resource"], right_on=[*_KEYS, "resource"], how="inner")
    above_pct = (above["v"] > above["ask"]).groupby([above[k].astype("string") for k in [*_KEYS, "resource"]],
                                                    observed=True).mean() * 100
    out = out.merge(above_pct.rename("above_ask_pct").reset_index(), on=[*_KEYS, "resource"], how="left")
    enough = out["samples"] >= min_samples
    base = np.where(out["resource"] == "cpu", out[cpu_base], out[memory_base]).astype(float)
    suggested = [(round_cpu(b * margin) if r == "cpu" else round_memory(b * margin)) if ok and not math.isnan(b)
                 else np.nan for b, r, ok in zip(base, out["resource"], enough, strict=True)]
    out["suggested"] = np.array(suggested, dtype=float)
    out["instances"] = pd.array(out.pop("count"), dtype="Int64")
    out["freed"] = (out["ask"] - out["suggested"]) * out["instances"].astype("Float64").astype(float)
    for col in ("p50", "p95", "p99", "max", "above_ask_pct"):
        out[col] = out[col].where(enough)
    over = (out["suggested"] < out["ask"] * 0.8).to_numpy()
    under = ((out["suggested"] > out["ask"] * 1.1) | (out["above_ask_pct"] > 5)).to_numpy()
    verdict = [None if not ok else "over-asked" if o else "under-asked" if u else "about right"
               for ok, o, u in zip(enough, over, under, strict=True)]
    out["verdict"] = pd.Categorical(verdict, categories=["over-asked", "under-asked", "about right"])
    out["note"] = pd.array([None if ok else (f"only {n} samples (fewer than {min_samples}): no figure"
                                             if n else "no usage samples for this task")
                            for ok, n in zip(enough, out["samples"], strict=True)], dtype="string")
    out["samples"] = pd.array(out["samples"], dtype="Int64")
    out["resource"] = pd.Categorical(out["resource"], categories=["cpu", "memory"])
    out["unit"] = pd.Categorical(out["unit"], categories=["MHz", "MB"])
    out = out.sort_values(["resource", "freed"], ascending=[False, False], kind="stable", na_position="last")
    out = out[[*_KEYS, "resource", "unit", "ask", "limit", "samples", "p50", "p95", "p99", "max", "above_ask_pct",
               "suggested", "instances", "freed", "verdict", "note"]].reset_index(drop=True)
    out.attrs = {"method": f"suggested = {cpu_base} (cpu) / {memory_base} (memory) of the task's samples × {margin}, "
                           f"rounded up; freed = (ask − suggested) × count; at least {min_samples} samples"}
    return out
