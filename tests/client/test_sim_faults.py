"""The client against the simulator's injected faults: retries, Retry-After, broken bodies, streams."""

from __future__ import annotations

import pytest

from nomadlab.client import NomadClient
from nomadlab.config import NomadConfig
from nomadlab.errors import NomadDecodeError, NomadTransportError, ServiceUnavailableError
from nomadlab.sim import SimCluster
from nomadlab.sim.faults import Fault

from .conftest import FakeTime


@pytest.fixture
def cluster() -> SimCluster:
    return SimCluster.default(seed=4)


def _client(cluster: SimCluster, fake_time: FakeTime) -> NomadClient:
    return NomadClient(NomadConfig(), transport=cluster.transport(), sleep=fake_time.sleep,
                       clock=fake_time.clock)


def test_read_retries_through_transient_503(cluster: SimCluster, fake_time: FakeTime) -> None:
    fault = Fault("/v1/jobs", kind="error", status=503, times=2)
    cluster.faults.add(fault)
    with _client(cluster, fake_time) as c:
        reply = c.get("/v1/jobs")
    assert reply.status == 200 and reply.body
    assert cluster.faults.fired(fault) == 2
    assert len(fake_time.sleeps) == 2


def test_429_retry_after_is_honoured(cluster: SimCluster, fake_time: FakeTime) -> None:
    cluster.faults.add(Fault("/v1/nodes", kind="error", status=429, retry_after_s=7, times=1))
    with _client(cluster, fake_time) as c:
        assert c.get("/v1/nodes").status == 200
    assert fake_time.sleeps == [7.0]


def test_persistent_503_gives_up_with_a_clear_error(cluster: SimCluster, fake_time: FakeTime) -> None:
    cluster.faults.add(Fault("/v1/allocations", kind="error", status=503))
    with _client(cluster, fake_time) as c, pytest.raises(ServiceUnavailableError) as exc:
        c.get("/v1/allocations")
    assert exc.value.status == 503 and "/v1/allocations" in exc.value.url


def test_write_is_not_retried_after_the_reply_is_lost(cluster: SimCluster, fake_time: FakeTime) -> None:
    fault = Fault("/v1/job/web/scale", kind="reset", methods=frozenset({"POST"}), times=1)
    cluster.faults.add(fault)
    before = cluster.state.jobs[("default", "web")]["Version"]
    with _client(cluster, fake_time) as c, pytest.raises(NomadTransportError):
        c.post("/v1/job/web/scale", json={"Count": 4, "Target": {"Group": "frontend"}})
    assert cluster.faults.fired(fault) == 1
    # The write was applied once, and not sent again.
    assert cluster.state.jobs[("default", "web")]["Version"] == before + 1


def test_truncated_body_is_a_transport_or_decode_error(cluster: SimCluster, fake_time: FakeTime) -> None:
    cluster.faults.add(Fault("/v1/job/web", kind="truncate"))
    with _client(cluster, fake_time) as c, pytest.raises((NomadTransportError, NomadDecodeError)):
        c.get("/v1/job/web")


@pytest.mark.wire
def test_event_stream_dropped_after_n_events_resumes_without_duplicates(cluster: SimCluster) -> None:
    fault = Fault("/v1/event/stream", kind="drop_stream", after_events=3, times=1)
    cluster.faults.add(fault)
    expected = [i for i, _ in cluster.events.frames]
    # The client's first connection is cut after 3 chunks; it must reconnect from the next
    # index and deliver every frame exactly once.
    seen: list[int] = []
    with cluster.serve(port=0) as url, NomadClient(NomadConfig(address=url)) as c:
        for event in c.events(["*"], namespace="*"):
            if not seen or seen[-1] != event.index:
                seen.append(event.index)
            if len(seen) >= len(expected):
                break
    assert cluster.faults.fired(fault) == 1
    assert seen == expected
