"""LogViewer: stream selector, search, follow, and an unreachable node said plainly."""

from __future__ import annotations

import time
from collections.abc import Callable

import pytest

from nomadlab.client import NomadClient
from nomadlab.sim import SimCluster
from nomadlab.widgets import LogViewer

from .conftest import CountingTransport


def _until(predicate: Callable[[], bool], timeout: float = 10.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.05)
    return predicate()


def _alloc(client: NomadClient) -> dict[str, object]:
    return dict(client.get("/v1/job/web/allocations").body[0])


def test_streams_and_search(client: NomadClient, counting: CountingTransport) -> None:
    alloc = str(_alloc(client)["ID"])
    before = counting.count()
    viewer = LogViewer(client, alloc=alloc)
    assert counting.count() == before  # nothing read before refresh
    viewer.refresh()
    assert viewer.task == "nginx"  # the allocation's only task
    stdout = client.read_logs(alloc, "nginx").decode().splitlines()
    assert viewer.lines == stdout[-viewer.max_lines:]
    viewer.stream.value = "stderr"
    stderr = client.read_logs(alloc, "nginx", log_type="stderr").decode().splitlines()
    assert viewer.lines == stderr
    viewer.stream.value = "both"
    assert len(viewer.lines) == len(stdout) + len(stderr)
    viewer.search.value = "NGINX/1.27"
    assert viewer.lines == [line for line in stderr if "nginx/1.27" in line]
    assert "nginx/1.27" in viewer.output.value


def test_follow_streams_new_lines(cluster: SimCluster, client: NomadClient) -> None:
    viewer = LogViewer(client, alloc=str(_alloc(client)["ID"]), task="nginx")
    viewer.refresh()
    shown = len(viewer.frame)
    viewer.follow.value = True
    try:
        time.sleep(0.5)  # let the stream open at the current end
        cluster.advance(120)
        assert _until(lambda: len(viewer.frame) > shown)
        new = viewer.frame.iloc[shown:]
        assert new["line_no"].tolist() == list(range(shown + 1, shown + 1 + len(new)))
        assert set(new["stream"].astype(str)) == {"stdout"}
    finally:
        viewer.follow.value = False


def test_follow_needs_one_allocation(client: NomadClient) -> None:
    viewer = LogViewer(client, job="web")
    assert viewer.follow.disabled
    viewer.start_follow()
    assert "one allocation" in viewer.message.value


def test_unreachable_node_is_said_plainly(cluster: SimCluster, client: NomadClient) -> None:
    alloc = _alloc(client)
    cluster.set_node_status(str(alloc["NodeID"]), "down")
    viewer = LogViewer(client, alloc=str(alloc["ID"]), task="nginx")
    viewer.refresh()
    assert viewer.lines == []
    assert "down or unreachable" in viewer.message.value
    assert "live only on that node" in viewer.message.value
    job_viewer = LogViewer(client, job="web", task="nginx")
    job_viewer.refresh()
    assert str(alloc["ID"])[:8] in job_viewer.message.value
    assert len(job_viewer.lines) > 0  # the other allocations still show


def test_alloc_or_job() -> None:
    with pytest.raises(ValueError, match="alloc= or job="):
        LogViewer(None)
