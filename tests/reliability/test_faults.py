"""The fault matrix at target: every read, write and stream survives every fault (see ``faults``)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from nomadlab import frames
from nomadlab.sim import SimCluster
from nomadlab.sim.faults import Fault

from . import faults
from .figures import Arrivals, failures

pytestmark = pytest.mark.wire


@pytest.fixture(scope="module")
def read_world() -> Iterator[tuple[SimCluster, str, Arrivals, dict[str, Any]]]:
    cluster = faults.settled_cluster()
    with faults.served(cluster) as (url, arrivals), faults._client(url, faults._Sleeps()) as client:
        baselines = {name: faults._fetch(name, client) for name in frames.FETCHERS}
        yield cluster, url, arrivals, baselines


@pytest.mark.parametrize("fault", list(faults.READ_FAULTS))
@pytest.mark.parametrize("fetcher", frames.FETCHERS)
def test_read_survives_a_passing_fault(read_world: tuple[SimCluster, str, Arrivals, dict[str, Any]],
                                       fetcher: str, fault: str) -> None:
    cluster, url, arrivals, baselines = read_world
    figure = faults.measure_read(cluster, url, arrivals, fetcher, fault, baselines[fetcher], persistent=False)
    assert figure.at_target, failures([figure])


@pytest.mark.parametrize("fault", list(faults.READ_FAULTS))
@pytest.mark.parametrize("fetcher", faults.PERSISTENT_FETCHERS)
def test_read_fails_clearly_after_bounded_tries(read_world: tuple[SimCluster, str, Arrivals, dict[str, Any]],
                                                fetcher: str, fault: str) -> None:
    cluster, url, arrivals, baselines = read_world
    figure = faults.measure_read(cluster, url, arrivals, fetcher, fault, baselines[fetcher], persistent=True)
    assert figure.at_target, failures([figure])


@pytest.mark.parametrize("fault", list(faults.WRITE_FAULTS))
@pytest.mark.parametrize("action", list(faults.WRITES))
def test_write_is_sent_once_and_fails_clearly(action: str, fault: str, tmp_path: Any) -> None:
    figure = faults.measure_write(action, fault, audit=str(tmp_path / "audit.jsonl"))
    assert figure.at_target, failures([figure])


@pytest.mark.parametrize("fault", list(faults.STREAM_FAULTS))
@pytest.mark.parametrize("stream", faults.STREAMS)
def test_stream_resumes_with_nothing_lost_or_repeated(stream: str, fault: str) -> None:
    figure = faults.measure_stream(stream, fault)
    assert figure.at_target, failures([figure])


# -- the measures can fail: each catches the defect it is for ---------------------------------
def test_a_lost_row_is_counted(read_world: tuple[SimCluster, str, Arrivals, dict[str, Any]]) -> None:
    cluster, url, arrivals, baselines = read_world
    shorter = baselines["jobs"].iloc[1:]
    figure = faults.measure_read(cluster, url, arrivals, "jobs", "5xx burst", shorter, persistent=False)
    assert not figure.at_target  # the fetched frame has a row the "baseline" lacks: not equal


def test_a_write_sent_twice_is_counted(monkeypatch: pytest.MonkeyPatch, tmp_path: Any) -> None:
    """A client that resent writes after a lost reply would be caught by the write figure."""
    from nomadlab.retries import RetryPolicy

    monkeypatch.setattr(RetryPolicy, "should_retry", lambda self, exc, method: True)
    figure = faults.measure_write("gc", "connection reset", audit=str(tmp_path / "audit.jsonl"))
    assert figure.duplicated >= 1 and not figure.at_target


def test_a_stream_that_does_not_resume_is_counted(monkeypatch: pytest.MonkeyPatch) -> None:
    from nomadlab import streams

    real = streams.iter_log_frames
    monkeypatch.setattr(streams, "iter_log_frames",
                        lambda *a, **k: real(*a, **{**k, "reconnect": False}))
    monkeypatch.setattr("nomadlab.client.iter_log_frames", streams.iter_log_frames)
    figure = faults.measure_stream("log frames", "dropped mid-frame")
    assert not figure.at_target and figure.lost > 0


def test_the_mid_frame_cut_really_cuts_inside_a_frame() -> None:
    cluster = faults.settled_cluster()
    cluster.faults.add(Fault("/v1/event/stream", kind="cut_stream", after_events=1, times=1))
    with cluster.serve(port=0, ticker=False) as url:
        import httpx

        got = b""
        with httpx.Client(base_url=url) as http, pytest.raises(httpx.RemoteProtocolError), \
                http.stream("GET", "/v1/event/stream", params={"topic": "*"}) as response:
            for chunk in response.iter_bytes():
                got += chunk
    assert got and not got.endswith(b"\n")  # the last line is half a JSON object
