"""FilterPanel: choices from the frames, plain values, callbacks, filtering."""

from __future__ import annotations

from typing import Any

import pandas as pd

from nomadlab import frames
from nomadlab.client import NomadClient
from nomadlab.widgets import FilterPanel

from .conftest import CountingTransport

NOW = pd.Timestamp("2026-01-01T12:00:00Z")


def test_refresh_fills_choices_from_the_cluster(client: NomadClient,
                                                 counting: CountingTransport) -> None:
    panel = FilterPanel(client)
    assert counting.count() == 0  # nothing read before refresh
    panel.refresh()
    assert counting.count() > 0
    assert {"default", "platform"} <= set(panel.namespace.options)
    assert {"web", "cache", "api"} <= set(panel.job.options)
    assert {"service", "batch", "system"} <= set(panel.type.options)
    assert {"dc1", "dc2"} <= set(panel.datacenter.options)
    assert "default" in panel.node_pool.options


def test_values_are_plain_and_callbacks_get_them() -> None:
    panel = FilterPanel(frame=pd.DataFrame({"namespace": ["default"], "job_id": ["web"]}),
                        now=lambda: NOW)
    panel.refresh()
    seen: list[dict[str, Any]] = []
    panel.on_change(seen.append)
    panel.job.value = ("web",)
    panel.window.value = "last hour"
    assert seen[0]["job"] == ["web"]
    assert seen[-1]["since"] == NOW - pd.Timedelta(hours=1)
    assert panel.values == {"namespace": None, "job": ["web"], "type": [], "status": [],
                            "node_pool": [], "datacenter": [], "window": "last hour",
                            "since": NOW - pd.Timedelta(hours=1)}


def test_apply_filters_jobs_and_allocations(client: NomadClient) -> None:
    panel = FilterPanel(client)
    panel.refresh()
    jobs, allocs = frames.jobs(client), frames.allocations(client)
    panel.namespace.value = "default"
    panel.type.value = ("service",)
    got = panel.apply(jobs)
    assert set(got["job_id"]) == set(jobs[(jobs["namespace"] == "default")
                                          & (jobs["type"] == "service")]["job_id"])
    # allocations have job_type, not type: the type filter applies to it
    got_allocs = panel.apply(allocs)
    assert len(got_allocs) > 0
    assert set(got_allocs["job_type"].astype(str)) == {"service"}
    assert set(got_allocs["namespace"]) == {"default"}


def test_datacenter_lists_and_time_window() -> None:
    df = pd.DataFrame({
        "job_id": ["a", "b", "c"],
        "datacenters": [["dc1"], ["dc2"], ["dc1", "dc2"]],
        "submit_time": pd.to_datetime(["2026-01-01T11:30Z", "2026-01-01T02:00Z",
                                       "2026-01-01T11:59Z"], utc=True),
    })
    panel = FilterPanel(frame=df, now=lambda: NOW)
    panel.refresh()
    panel.datacenter.value = ("dc1",)
    assert panel.apply(df)["job_id"].tolist() == ["a", "c"]
    panel.datacenter.value = ()
    panel.window.value = "last hour"
    assert panel.apply(df)["job_id"].tolist() == ["a", "c"]
    panel.window.value = "last 15 min"
    assert panel.apply(df)["job_id"].tolist() == ["c"]


def test_filter_on_a_missing_column_is_ignored() -> None:
    panel = FilterPanel(frame=pd.DataFrame({"job_id": ["web"], "node_pool": ["gpu"]}))
    panel.refresh()
    panel.node_pool.value = ("gpu",)
    df = pd.DataFrame({"job_id": ["x", "y"]})
    assert panel.apply(df)["job_id"].tolist() == ["x", "y"]
