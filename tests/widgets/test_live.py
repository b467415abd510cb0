"""LiveView: blocking queries only, redraws on change, resumes after a dropped connection."""

from __future__ import annotations

import time
from collections.abc import Callable

import httpx
import plotly.graph_objects as go
import pytest

from nomadlab import actions
from nomadlab.client import NomadClient
from nomadlab.config import NomadConfig
from nomadlab.sim import SimCluster
from nomadlab.widgets import LiveView

from .conftest import CountingTransport


def _until(predicate: Callable[[], bool], timeout: float = 10.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.05)
    return predicate()


def test_idle_cluster_costs_one_blocking_request_per_wait(client: NomadClient,
                                                          counting: CountingTransport) -> None:
    view = LiveView(client, "allocations", wait="1s")
    assert counting.count() == 0  # nothing before start
    view.start()
    try:
        assert _until(lambda: view.redraws == 1)
        time.sleep(0.3)
        first = counting.count()
        time.sleep(3.0)
        idle = counting.seen[first:]
    finally:
        view.stop(timeout=3)
    # the simulator holds each blocking query for wait (+ up to wait/16 jitter): ~3 in 3 s
    assert 2 <= len(idle) <= 4, idle
    assert all(path == "/v1/allocations" and "index=" in query and "wait=1000ms" in query
               for _, path, query in idle), idle
    assert view.redraws == 1
    assert not view.running


def test_a_change_redraws_table_and_figure(cluster: SimCluster, client: NomadClient) -> None:
    def figure(df: object) -> go.Figure:
        import pandas as pd

        assert isinstance(df, pd.DataFrame)
        counts = df["client_status"].astype(str).value_counts()
        return go.Figure(go.Bar(x=list(counts.index), y=list(counts.values)))

    view = LiveView(client, "allocations", wait="5s", figure=figure)
    view.start()
    try:
        assert _until(lambda: view.redraws == 1)
        index, rows = view.index, len(view.frame)  # type: ignore[arg-type]
        assert "index" in view.info.value and "last updated" in view.info.value
        assert sum(view.fig_widget.data[0].y) == rows
        actions.scale(client, "web", "frontend", 6).apply(confirm=True, advance=cluster.advance,
                                                         step=2.0)
        assert _until(lambda: view.frame is not None and len(view.frame) > rows)
        assert view.index > index
        assert _until(lambda: sum(view.fig_widget.data[0].y) == len(view.frame))  # type: ignore[arg-type]
        assert _until(lambda: f"index {view.index}; watching" in view.info.value)
    finally:
        view.stop(timeout=6)


class FlakyTransport(httpx.BaseTransport):
    """Drops the connection while ``down`` is set."""

    def __init__(self, inner: httpx.BaseTransport) -> None:
        self.inner = inner
        self.down = False
        self.refused = 0

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        if self.down:
            self.refused += 1
            raise httpx.ConnectError("connection refused", request=request)
        return self.inner.handle_request(request)


def test_dropped_connection_is_survived(cluster: SimCluster) -> None:
    flaky = FlakyTransport(cluster.transport())
    client = NomadClient(NomadConfig(), transport=flaky, sleep=lambda s: None)
    view = LiveView(client, "jobs", wait="0.5s", max_backoff=0.2)
    view.start()
    try:
        assert _until(lambda: view.redraws == 1)
        flaky.down = True
        assert _until(lambda: view.error is not None and "retrying" in view.info.value)
        assert view.running
        flaky.down = False
        actions.scale(client, "web", "frontend", 5).apply(confirm=True, advance=cluster.advance,
                                                         step=2.0)
        assert _until(lambda: view.redraws >= 2)
        assert view.error is None and "watching" in view.info.value
        assert flaky.refused >= 1
    finally:
        view.stop(timeout=2)


def test_stop_button_and_close_end_the_thread(client: NomadClient) -> None:
    view = LiveView(client, "nodes", wait="0.3s")
    view.start()
    assert _until(lambda: view.redraws == 1)
    view.stop_button.click()
    assert _until(lambda: not view.running, timeout=2)
    assert "stopped" in view.info.value
    view.start()
    assert _until(lambda: view.running)
    view.close()
    assert _until(lambda: not view.running, timeout=2)


def test_callable_frame_needs_a_path(client: NomadClient) -> None:
    with pytest.raises(ValueError, match="path="):
        LiveView(client, lambda c: None)  # type: ignore[arg-type,return-value]
    with pytest.raises(ValueError, match="known"):
        LiveView(client, "no-such-frame")
