"""Displaying a widget is what reads the cluster (when nothing was read before)."""

from __future__ import annotations

from nomadlab.client import NomadClient
from nomadlab.widgets import FilterPanel, JobControl, JobTable, LogViewer

from .conftest import CountingTransport


def test_first_display_reads_once(client: NomadClient, counting: CountingTransport) -> None:
    alloc = str(client.get("/v1/job/web/allocations").body[0]["ID"])
    widgets = [FilterPanel(client), JobTable(client), JobControl(client, "web"),
               LogViewer(client, alloc=alloc)]
    start = counting.count()
    for widget in widgets:
        widget._ipython_display_()
    after_first = counting.count()
    assert after_first > start
    assert widgets[1].frame["job_id"].notna().all() and len(widgets[1].frame) > 0  # type: ignore[union-attr]
    assert "frontend" in widgets[2].counts  # type: ignore[union-attr]
    for widget in widgets:
        widget._ipython_display_()
    assert counting.count() == after_first  # a second display shows what it has
