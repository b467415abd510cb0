"""The demo's story told by the analysis functions and the plots, with no knowledge of the script.

The demo cluster (six hours ending in an incident) is read through its API like any cluster:
its usage history is what sampling its stats endpoints across the history gave. The PNGs go to
``artifacts/plots/demo/`` for a person to look at.
"""

from __future__ import annotations

import os
from pathlib import Path

import pandas as pd
import pytest

import nomadlab.frames as nf
from nomadlab import plots
from nomadlab.analysis import (
    capacity,
    incident_timeline,
    node_health,
    restarts,
    rightsizing,
    usage_history,
)
from nomadlab.client import NomadClient
from nomadlab.connection import connect

from .plots.test_png import browser as browser  # noqa: F401  (the fixture: kaleido + system Chromium)

pytestmark = pytest.mark.slow
ARTIFACTS = Path(__file__).resolve().parents[1] / "artifacts" / "plots" / "demo"
END = "2026-01-01T06:00:00Z"


@pytest.fixture(scope="module")
def demo() -> NomadClient:
    return connect(environ={}, end=END)


@pytest.fixture(scope="module")
def usage(demo: NomadClient) -> pd.DataFrame:
    return usage_history(demo)


def test_rightsizing_names_the_over_asked_groups(demo: NomadClient, usage: pd.DataFrame) -> None:
    r = rightsizing(usage, nf.task_groups(demo))
    over = r[r["verdict"] == "over-asked"]
    assert len(over) > 0 and (over["freed"] > 0).all()
    memory = over[over["resource"] == "memory"]
    # the biggest savings lead, with what they rest on
    assert memory["freed"].is_monotonic_decreasing
    assert (memory["samples"] >= 12).all() and memory["p95"].notna().all()
    assert memory["suggested"].lt(memory["ask"]).all()


def test_capacity_shows_used_next_to_allocated_from_the_history(demo: NomadClient, usage: pd.DataFrame) -> None:
    cap = capacity(demo, by="datacenter", usage=usage)
    mem = cap[cap["resource"] == "memory"]
    assert mem["used"].notna().all() and (mem["used"] < mem["allocated"]).all()


def test_every_plot_of_the_demo_renders(demo: NomadClient, usage: pd.DataFrame, browser: str) -> None:  # noqa: F811
    import plotly.io as pio

    os.environ.setdefault("BROWSER_PATH", browser)
    by_node = capacity(demo, usage=usage)
    timeline = incident_timeline(demo, job="api", min_severity="warning")
    start = timeline["time"].min() - pd.Timedelta("10min")
    api_nodes = set(nf.allocations(demo, job="api")["node_id"])
    window = usage[(usage["time"] >= start) & usage["node_id"].isin(api_nodes)]
    figures = {
        "node_utilization": plots.node_utilization(by_node),
        "cluster_heatmap": plots.cluster_heatmap(by_node),
        "utilization_over_time": plots.utilization_over_time(usage, by="node_pool", allocated=by_node),
        "task_timeline": plots.task_timeline(nf.task_events(demo, job="api")),
        "incident_timeline": plots.incident_timeline(timeline, window),
        "job_status": plots.job_status(nf.jobs(demo)),
        "restarts_chart": plots.restarts_chart(restarts(demo)),
        "rightsizing_chart": plots.rightsizing_chart(rightsizing(usage, nf.task_groups(demo))),
    }
    assert sorted(figures) == sorted(plots.__all__)
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    paths = [ARTIFACTS / f"{name}.png" for name in figures]
    pio.write_images(list(figures.values()), paths, width=1300, height=700, scale=1)
    for path in paths:
        assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and path.stat().st_size > 10_000, path
    assert node_health(demo)["reason"].astype(str).tolist()[0] == "down"
