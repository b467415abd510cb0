from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from nomadlab.analysis import rightsizing
from nomadlab.analysis.rightsizing import round_cpu, round_memory

from .conftest import T0, make, ns

MiB = 1024 * 1024


def _usage(task: str, metric: str, values: list[float], *, job: str = "web") -> list[dict[str, object]]:
    return [{"time": ns(T0 + pd.Timedelta(seconds=30 * i)), "alloc_id": f"{job}-{i % 2}", "namespace": "default",
             "job_id": job, "task_group": job, "task": task, "metric": metric, "value": v}
            for i, v in enumerate(values)]


def _groups() -> pd.DataFrame:
    return make("task_groups", [
        {"namespace": "default", "job_id": "web", "task_group": "web", "task": "nginx", "count": 4,
         "cpu_mhz": 1000, "memory_mb": 1024},
        {"namespace": "default", "job_id": "db", "task_group": "db", "task": "pg", "count": 1,
         "cpu_mhz": 500, "memory_mb": 512, "memory_max_mb": 1024},
        {"namespace": "default", "job_id": "new", "task_group": "new", "task": "app", "count": 2,
         "cpu_mhz": 100, "memory_mb": 128},
    ])


def _frame() -> pd.DataFrame:
    cpu = [float(v) for v in range(1, 101)]                          # 1..100 MHz
    mem = [float(v) * MiB for v in range(101, 201)]                  # 101..200 MB
    rows = (_usage("nginx", "cpu_total_ticks", cpu) + _usage("nginx", "memory_usage_bytes", mem)
            + _usage("pg", "memory_usage_bytes", [700.0 * MiB] * 50, job="db")
            + _usage("app", "cpu_total_ticks", [50.0] * 3, job="new"))
    return make("alloc_stats", rows)


def _row(df: pd.DataFrame, task: str, resource: str) -> dict[str, object]:
    hit = df[(df["task"] == task) & (df["resource"] == resource)]
    assert len(hit) == 1
    return hit.iloc[0].to_dict()


def test_percentiles_and_suggestions_by_hand() -> None:
    r = rightsizing(_frame(), _groups())
    cpu = _row(r, "nginx", "cpu")
    assert cpu["samples"] == 100
    assert cpu["p50"] == pytest.approx(50.5) and cpu["p95"] == pytest.approx(95.05)
    assert cpu["p99"] == pytest.approx(99.01) and cpu["max"] == 100
    assert cpu["suggested"] == round_cpu(95.05 * 1.2) == 150       # 114.06 → the next 50 MHz
    assert cpu["freed"] == (1000 - 150) * 4
    assert cpu["verdict"] == "over-asked" and cpu["above_ask_pct"] == 0
    mem = _row(r, "nginx", "memory")
    assert mem["max"] == pytest.approx(200) and mem["suggested"] == round_memory(240) == 256
    assert mem["freed"] == (1024 - 256) * 4


def test_memory_above_the_ask_is_under_asked_and_the_limit_is_shown() -> None:
    pg = _row(rightsizing(_frame(), _groups()), "pg", "memory")
    assert (pg["ask"], pg["limit"]) == (512, 1024)
    assert pg["above_ask_pct"] == 100 and pg["verdict"] == "under-asked"
    assert pg["suggested"] == round_memory(700 * 1.2) == 896 and pg["freed"] < 0


def test_too_few_samples_give_na_with_the_reason() -> None:
    r = rightsizing(_frame(), _groups())
    app = _row(r, "app", "cpu")
    assert app["samples"] == 3 and np.isnan(app["suggested"]) and np.isnan(app["p95"])
    assert "only 3 samples" in app["note"]
    none = _row(r, "app", "memory")
    assert none["samples"] == 0 and none["note"] == "no usage samples for this task"
    assert pd.isna(none["verdict"])


def test_rounding_like_jobspecs() -> None:
    assert [round_cpu(x) for x in (1, 51, 999, 1001, 4001)] == [50, 100, 1000, 1100, 4500]
    assert [round_memory(x) for x in (1, 33, 257, 1025, 4097)] == [32, 64, 320, 1152, 4608]
