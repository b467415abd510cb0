"""Every plot checked as data: traces, values, axis titles with units, hover fields, colours."""

from __future__ import annotations

import base64
import subprocess
import sys
from typing import Any

import numpy as np
import pandas as pd
import plotly.graph_objects as go
import pytest

from nomadlab import plots
from nomadlab.plots._style import CAPACITY_COLORS, SEVERITY_COLORS, STATUS_COLORS, color_of
from nomadlab.plots.tasks import EVENT_MARKERS

from . import _frames as F


def _decoded(value: Any) -> Any:
    """plotly's typed-array encoding ({"dtype", "bdata", "shape"}) back to numbers."""
    if isinstance(value, dict):
        if "bdata" in value and "dtype" in value:
            arr = np.frombuffer(base64.b64decode(value["bdata"]), dtype=value["dtype"])
            shape = value.get("shape")
            if shape:
                arr = arr.reshape([int(n) for n in str(shape).split(",")])
            return arr.tolist()
        return {k: _decoded(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_decoded(v) for v in value]
    if isinstance(value, np.ndarray):
        return value.tolist()
    return value


def _traces(fig: go.Figure) -> list[dict[str, Any]]:
    data: list[dict[str, Any]] = _decoded(fig.to_plotly_json()["data"])
    return data


def _named(fig: go.Figure, name: str) -> list[dict[str, Any]]:
    return [t for t in _traces(fig) if t.get("name") == name]


def _axis_title(fig: go.Figure, axis: str) -> str:
    title: str = fig.to_plotly_json()["layout"][axis]["title"]["text"]
    return title


def test_import_of_plots_loads_no_plotly() -> None:
    code = "import sys, nomadlab.plots; print(sorted(m for m in ('plotly', 'pandas') if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_public_names_resolve() -> None:
    for name in plots.__all__:
        assert getattr(plots, name).__name__ == name
    with pytest.raises(AttributeError, match="no_such_plot"):
        plots.no_such_plot  # noqa: B018


def test_one_colour_per_status_word() -> None:
    for word in ("pending", "running", "complete", "failed", "lost", "unknown", "dead", "successful", "cancelled",
                 "ready", "down", "disconnected", "initializing"):
        assert color_of(word) == STATUS_COLORS[word]
    assert color_of("critical") == SEVERITY_COLORS["critical"]
    assert STATUS_COLORS["failed"] == STATUS_COLORS["down"]          # both mean "broken"
    assert STATUS_COLORS["complete"] == STATUS_COLORS["ready"] == STATUS_COLORS["successful"]
    assert CAPACITY_COLORS["used"] != CAPACITY_COLORS["allocated"]


def test_node_utilization_stacks_to_capacity_and_marks_used_apart(capacity: pd.DataFrame) -> None:
    fig = plots.node_utilization(capacity, resource="memory", facet="node_pool")
    assert isinstance(fig, go.Figure)
    bars = [t for t in _traces(fig) if t["type"] == "bar"]
    assert {t["name"] for t in bars} == {"reserved", "allocated", "headroom"}
    # default pool: node-1 (75% allocated) before node-3; gpu pool: node-2
    by_panel: dict[str, dict[str, np.ndarray]] = {}
    for t in bars:
        by_panel.setdefault(t.get("xaxis", "x"), {})[t["name"]] = np.asarray(t["y"], dtype=float)
        by_panel[t.get("xaxis", "x")]["x"] = np.asarray(t["x"])
    default = by_panel["x"]
    assert default["x"].tolist() == ["node-1", "node-3 (down)"]
    np.testing.assert_allclose(default["reserved"] + default["allocated"] + default["headroom"], [8000, 8000])
    np.testing.assert_allclose(default["allocated"], [6000, 2000])
    gpu = by_panel["x2"]
    assert gpu["x"].tolist() == ["node-2"]
    np.testing.assert_allclose(gpu["reserved"] + gpu["allocated"] + gpu["headroom"], [16000])
    used = _named(fig, "used")
    assert [t["type"] for t in used] == ["scatter", "scatter"] and used[0]["mode"] == "markers"
    assert np.asarray(used[0]["y"], dtype=float).tolist() == [3000.0, 1500.0]
    assert np.isnan(np.asarray(used[1]["y"], dtype=float)).all()    # node-2 has no usage: no marker
    assert used[0]["marker"]["color"] == CAPACITY_COLORS["used"]
    assert {t["marker"]["color"] for t in bars if t["name"] == "allocated"} == {CAPACITY_COLORS["allocated"]}
    assert _axis_title(fig, "yaxis") == "memory (MB)"
    assert "capacity: %{customdata[0]:,.0f} MB" in bars[0]["hovertemplate"]
    assert "allocatable" in fig.layout.title.text      # the method is shown


def test_node_utilization_cpu_without_facets(capacity: pd.DataFrame) -> None:
    fig = plots.node_utilization(capacity, resource="cpu", facet=None, sort_by="used_pct")
    assert _axis_title(fig, "yaxis") == "CPU (MHz)"
    allocated = _named(fig, "allocated")
    assert len(allocated) == 1
    # used_pct: node-1 3000/7500=40%, node-3 1500/7500=20%, node-2 NaN last
    assert list(allocated[0]["x"]) == ["node-1", "node-3 (down)", "node-2"]


def test_node_utilization_names_missing_columns(capacity: pd.DataFrame) -> None:
    with pytest.raises(ValueError, match=r"capacity \(by node\).*\['used'\]"):
        plots.node_utilization(capacity.drop(columns="used"))


def test_cluster_heatmap_is_nodes_by_resources_in_percent(capacity: pd.DataFrame) -> None:
    fig = plots.cluster_heatmap(capacity, value="allocated_pct")
    (heat,) = _traces(fig)
    assert heat["type"] == "heatmap" and heat["zmin"] == 0 and heat["zmax"] == 100
    assert list(heat["x"]) == ["CPU", "memory", "disk"]
    assert list(heat["y"])[-1] == "node-1"               # the fullest node on top
    z = np.asarray(heat["z"], dtype=float)
    np.testing.assert_allclose(z[list(heat["y"]).index("node-1")], [80.0, 80.0, 80.0])
    assert heat["colorbar"]["title"]["text"] == "allocated (%)"
    used = plots.cluster_heatmap(capacity, value="used_pct")
    uz = np.asarray(_traces(used)[0]["z"], dtype=float)
    assert np.isnan(uz[list(_traces(used)[0]["y"]).index("node-2")]).all()


def test_utilization_over_time_sums_nodes_and_draws_allocated_dashed(usage: pd.DataFrame,
                                                                     capacity: pd.DataFrame) -> None:
    fig = plots.utilization_over_time(usage, by="cluster", metric="memory", allocated=12000.0, scope="node")
    (used,) = _named(fig, "used")
    y = np.asarray(used["y"], dtype=float)
    assert len(y) == 30
    assert y[0] == pytest.approx(1000 + 1500)            # both nodes at minute 0, bytes → MB
    (ref,) = _named(fig, "allocated")
    assert ref["line"]["dash"] == "dash" and list(ref["y"]) == [12000.0, 12000.0]
    assert any(a["text"] == "allocated" for a in fig.to_plotly_json()["layout"]["annotations"])
    assert _axis_title(fig, "yaxis") == "memory used (MB)"
    assert _axis_title(fig, "xaxis") == "time (UTC)"
    assert "UTC" in used["hovertemplate"]
    pools = plots.utilization_over_time(usage, by="node_pool", metric="cpu", allocated=capacity, scope="node")
    names = [t["name"] for t in _traces(pools)]
    assert set(names) == {"default used", "default allocated", "gpu used", "gpu allocated"}
    (gpu_alloc,) = _named(pools, "gpu allocated")
    assert list(gpu_alloc["y"]) == [2000.0, 2000.0]      # node-2's cpu allocated (4000 × 0.5)
    assert _axis_title(pools, "yaxis") == "CPU used (MHz)"


def test_task_timeline_bars_per_state_and_event_markers(task_events: pd.DataFrame) -> None:
    fig = plots.task_timeline(task_events)
    bars = {t["name"]: t for t in _traces(fig) if t["type"] == "bar"}
    assert list(bars) == ["pending", "running", "dead"]
    for state, trace in bars.items():
        assert trace["marker"]["color"] == STATUS_COLORS[state]
        assert trace["orientation"] == "h"
    # web.web[a1]: running 10 s→70 s and 85 s→200 s; api.web[a2]: running 6 s→200 s (closed at the last event)
    assert sorted(np.asarray(bars["running"]["x"], dtype=float).tolist()) == [60_000.0, 115_000.0, 194_000.0]
    (oom,) = _named(fig, "oom kill")
    assert oom["marker"]["symbol"] == EVENT_MARKERS["oom kill"]["symbol"] and len(oom["x"]) == 1
    (failure,) = _named(fig, "failure")
    assert len(failure["x"]) == 1 and failure["customdata"][0][0] == "Not Restarting"
    (restart,) = _named(fig, "restart")
    assert len(restart["x"]) == 1 and restart["type"] == "scatter"
    assert _axis_title(fig, "xaxis") == "time (UTC)"
    assert "UTC" in oom["hovertemplate"]


def test_task_timeline_keeps_the_worst_rows_and_says_so(task_events: pd.DataFrame) -> None:
    fig = plots.task_timeline(task_events, max_rows=1)
    rows = {y for t in _traces(fig) for y in t["y"]}
    assert rows == {"web.web[a1] app"}                    # the one with the failure
    assert "1 of 2 allocation × task rows shown" in fig.layout.title.text


def test_task_timeline_uses_webgl_for_many_markers() -> None:
    rows = []
    for i in range(2_100):
        rows += [{"alloc_id": f"a{i:05d}", "time": 0, "type": "Started"},
                 {"alloc_id": f"a{i:05d}", "time": 5, "type": "Terminated", "oom_killed": True},
                 {"alloc_id": f"a{i:05d}", "time": 5, "type": "Restarting"}]
    fig = plots.task_timeline(F.events_frame(rows), max_rows=3_000)
    assert _named(fig, "oom kill")[0]["type"] == "scattergl"


def test_incident_timeline_markers_bands_and_usage_panel(timeline: pd.DataFrame, usage: pd.DataFrame) -> None:
    fig = plots.incident_timeline(timeline, usage, metric="memory")
    markers = {t["name"]: t for t in _traces(fig) if t["mode"] == "markers"}
    assert list(markers) == ["info", "warning", "error", "critical"]
    for level, trace in markers.items():
        assert trace["marker"]["color"] == SEVERITY_COLORS[level]
        assert trace["xaxis"] == "x" and trace["yaxis"] == "y"
    assert "node node-2 is down" in [row[0] for row in markers["critical"]["customdata"]]
    assert "customdata[0]" in markers["error"]["hovertemplate"] and "UTC" in markers["error"]["hovertemplate"]
    lines = [t for t in _traces(fig) if t["mode"] == "lines"]
    assert {t["name"] for t in lines} == {"n1 memory", "n2 memory"}
    assert {t["yaxis"] for t in lines} == {"y2"}
    layout = fig.to_plotly_json()["layout"]
    assert layout["xaxis"]["matches"] == "x2"               # one shared time axis
    shapes = layout["shapes"]
    # a deployment (1 → 9 min, failed) and node-2 down (6 → 14 min), each over both panels
    spans = sorted({(pd.Timestamp(s["x0"]), pd.Timestamp(s["x1"]), s["fillcolor"]) for s in shapes})
    assert spans == [
        (F.T0 + pd.Timedelta(minutes=1), F.T0 + pd.Timedelta(minutes=9), STATUS_COLORS["failed"]),
        (F.T0 + pd.Timedelta(minutes=6), F.T0 + pd.Timedelta(minutes=14), STATUS_COLORS["down"]),
    ]
    assert layout["yaxis2"]["title"]["text"] == "memory used (MB)"
    assert layout["xaxis2"]["title"]["text"] == "time (UTC)"


def test_incident_timeline_alone_and_a_node_that_never_came_back(timeline: pd.DataFrame) -> None:
    fig = plots.incident_timeline(timeline[timeline["type"] != "ready"])
    shapes = fig.to_plotly_json()["layout"]["shapes"]
    down = [s for s in shapes if pd.Timestamp(s["x0"]) == F.T0 + pd.Timedelta(minutes=6)]
    assert [pd.Timestamp(s["x1"]) for s in down] == [F.T0 + pd.Timedelta(minutes=15)]   # open to the end
    labels = [a["text"] for a in fig.to_plotly_json()["layout"]["annotations"]]
    assert labels == ["deployment d-1 failed", "node node-2 down"]
    assert _axis_title(fig, "xaxis") == "time (UTC)"


def test_job_status_stacks_summary_counts_in_status_colours(jobs: pd.DataFrame) -> None:
    fig = plots.job_status(jobs)
    traces = _traces(fig)
    assert [t["name"] for t in traces] == ["queued", "starting", "running", "complete", "failed", "lost", "unknown"]
    for t in traces:
        assert t["marker"]["color"] == STATUS_COLORS[t["name"]]
    failed = _named(fig, "failed")[0]
    assert list(failed["y"]) == ["default/api", "default/web", "batch/etl"]   # most failed + lost first
    assert list(failed["x"]) == [4.0, 1.0, 0.0]
    assert _axis_title(fig, "xaxis") == "allocations (count)"
    assert "job %{customdata}" in failed["hovertemplate"]


def test_restarts_chart_sums_per_group(restart_counts: pd.DataFrame) -> None:
    fig = plots.restarts_chart(restart_counts, by="job_id")
    restarts = _named(fig, "restarts")[0]
    assert list(restarts["y"]) == ["api", "web", "etl"]            # failures first: api 2, web 1
    assert list(restarts["x"]) == [0.0, 4.0, 2.0]
    assert list(_named(fig, "oom kills")[0]["x"]) == [0.0, 1.0, 0.0]
    assert _axis_title(fig, "xaxis") == "events (count)"
    top = plots.restarts_chart(restart_counts, by="node_id", top=1)
    assert "the 1 worst of 2 shown" in top.layout.title.text
    quiet = pd.concat([restart_counts, restart_counts.head(1).assign(job_id="calm", restarts=0, oom_kills=0)])
    calm = plots.restarts_chart(quiet, by="job_id")
    assert "calm" not in _named(calm, "restarts")[0]["y"]
    assert "1 of 4 with none left out" in calm.layout.title.text
    with pytest.raises(ValueError, match="oom_kills"):
        plots.restarts_chart(restart_counts.drop(columns="oom_kills"))


def test_rightsizing_chart_one_panel_per_resource(rightsizing: pd.DataFrame) -> None:
    fig = plots.rightsizing_chart(rightsizing)
    layout = fig.to_plotly_json()["layout"]
    assert layout["xaxis"]["title"]["text"] == "CPU (MHz)"
    assert layout["xaxis2"]["title"]["text"] == "memory (MB)"
    asks = _named(fig, "ask")
    assert [t["xaxis"] for t in asks] == ["x", "x2"]
    mem_p95 = _named(fig, "p95")[1]
    assert list(mem_p95["y"]) == ["web.web.app", "api.api.srv"]    # frees (2048-1100)*3 first
    assert list(mem_p95["x"]) == [900.0, 500.0]
    cpu_max = _named(fig, "max")[0]
    assert np.isnan(float(cpu_max["x"][1]))                        # too few samples: no marker
    assert cpu_max["customdata"][1][1] == "too few samples (2 < 30)"
    assert "samples: %{customdata[0]}" in cpu_max["hovertemplate"]


def test_plots_take_the_frames_of_the_demo_cluster_as_they_are() -> None:
    from nomadlab.client import NomadClient
    from nomadlab.frames import allocation_frames, jobs
    from nomadlab.sim.scenarios import build_scenario
    from nomadlab.sources import CachedSource, LiveSource

    source = CachedSource(LiveSource(NomadClient(transport=build_scenario("demo", seed=0).transport())))
    frames = allocation_frames(source)
    job_frame = jobs(source)
    status = plots.job_status(job_frame)
    total = sum(float(np.sum(t["x"])) for t in _traces(status))
    summary = job_frame[["queued", "starting", "running", "complete", "failed", "lost", "unknown"]]
    assert total == float(summary.fillna(0).to_numpy().sum())
    timeline = plots.task_timeline(frames.task_events, max_rows=25)
    rows = {y for t in _traces(timeline) if t["type"] == "bar" for y in t["y"]}
    assert len(rows) == 25
    counts = frames.tasks.assign(oom_kills=frames.tasks["oom_killed"].fillna(False).astype(int),
                                 failures=frames.tasks["failed"].fillna(False).astype(int))
    chart = plots.restarts_chart(counts, by="job_id", top=1_000)
    assert sum(_named(chart, "restarts")[0]["x"]) == float(frames.tasks["restarts"].sum())
    assert sum(_named(chart, "failures")[0]["x"]) == float(counts["failures"].sum())
