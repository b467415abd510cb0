"""The ``logs`` frame against the in-process simulator."""

from __future__ import annotations

from datetime import UTC, datetime

import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from nomadlab.client import NomadClient
from nomadlab.frames import REGISTRY, logs
from nomadlab.frames.logs import parse_line_time
from nomadlab.sim import SimCluster


@pytest.fixture()
def cluster() -> SimCluster:
    return SimCluster.default()


@pytest.fixture()
def client(cluster: SimCluster) -> NomadClient:
    return NomadClient(transport=cluster.transport())


def _web_allocs(client: NomadClient) -> list[dict[str, object]]:
    return list(client.get("/v1/job/web/allocations").body)


def test_one_allocation_one_row_per_line(client: NomadClient) -> None:
    alloc = str(_web_allocs(client)[0]["ID"])
    raw = client.read_logs(alloc, "nginx", log_type="stderr").decode()
    df = logs(client, alloc, "nginx", log_type="stderr")
    assert list(df.columns) == [c.name for c in REGISTRY["logs"].columns]
    assert df["line"].tolist() == raw.splitlines()
    assert df["line_no"].tolist() == list(range(1, len(df) + 1))
    assert set(df["stream"].astype(str)) == {"stderr"}
    assert set(df["alloc_id"]) == {alloc} and set(df["task"]) == {"nginx"}
    assert str(df["time"].dtype) == "datetime64[ns, UTC]"
    # nginx's error log starts every line with "2026/01/01 00:00:02"
    assert df["time"].notna().all()
    assert df["time"].iloc[0] == pd.Timestamp("2026-01-01T00:00:02Z")
    assert df.attrs["errors"] == {}


def test_lines_without_a_timestamp_are_nat(client: NomadClient) -> None:
    alloc = str(_web_allocs(client)[0]["ID"])
    df = logs(client, alloc, "nginx", log_type="stdout")
    first = df.iloc[0]
    assert first["line"].startswith("/docker-entrypoint.sh")
    assert pd.isna(first["time"])


def test_both_streams_and_origin_end(client: NomadClient) -> None:
    alloc = str(_web_allocs(client)[0]["ID"])
    both = logs(client, alloc, "nginx", log_type="both")
    assert set(both["stream"].astype(str)) == {"stdout", "stderr"}
    tail = logs(client, alloc, "nginx", log_type="stdout", origin="end", offset=200)
    full = client.read_logs(alloc, "nginx").decode()
    assert "\n".join(tail["line"]) in full
    assert len(tail) < len(both[both["stream"] == "stdout"])


def test_job_merges_every_allocation_by_time(client: NomadClient) -> None:
    df = logs(client, job="web", task="nginx", log_type="stderr")
    ids = {str(a["ID"]) for a in _web_allocs(client)}
    assert set(df["alloc_id"]) == ids
    times = df["time"].dropna()
    assert times.is_monotonic_increasing
    for _, part in df.groupby("alloc_id"):
        assert part["line_no"].is_monotonic_increasing  # each file keeps its own order


def test_down_node_is_named_in_errors(cluster: SimCluster, client: NomadClient) -> None:
    alloc = _web_allocs(client)[0]
    cluster.set_node_status(str(alloc["NodeID"]), "down")
    df = logs(client, job="web", task="nginx")
    message = df.attrs["errors"][str(alloc["ID"])]
    assert "No path to node" in message
    assert "lives only on that node" in message
    assert str(alloc["ID"]) not in set(df["alloc_id"])


def test_arguments_are_checked(client: NomadClient) -> None:
    with pytest.raises(ValueError, match="not both"):
        logs(client, "x", job="web")
    with pytest.raises(ValueError, match="log_type"):
        logs(client, job="web", log_type="journal")


@pytest.mark.parametrize(("line", "expected"), [
    ("2026-01-01T00:00:02.5Z x", "2026-01-01T00:00:02.5Z"),
    ("2026-01-01 00:00:02+02:00 x", "2025-12-31T22:00:02Z"),
    ("[2026-01-01T00:00:02Z] x", "2026-01-01T00:00:02Z"),
    ("2026/01/01 00:00:02 [notice]", "2026-01-01T00:00:02Z"),
])
def test_parse_line_time(line: str, expected: str) -> None:
    assert parse_line_time(line) == pd.Timestamp(expected).value


def test_parse_line_time_none() -> None:
    assert parse_line_time("10.0.0.1 - - [01/Jan/2026:00:00:03 +0000]") is None
    assert parse_line_time("") is None


def test_every_running_allocation_by_default(client: NomadClient) -> None:
    from nomadlab.sources import CachedSource, LiveSource

    df = logs(CachedSource(LiveSource(client)))
    running = {str(a["ID"]) for a in client.get("/v1/allocations", namespace="*").body
               if a["ClientStatus"] == "running"}
    assert set(df["alloc_id"]) == running
    assert df.attrs["errors"] == {}


@given(st.text(max_size=80))
@settings(max_examples=300, deadline=None)
def test_any_line_parses_to_a_time_or_none(line: str) -> None:
    got = parse_line_time(line)
    assert got is None or isinstance(got, int)


@given(st.datetimes(min_value=datetime(1970, 1, 2), max_value=datetime(2200, 1, 1), timezones=st.just(UTC)))
@settings(max_examples=100, deadline=None)
def test_a_leading_rfc3339_time_is_read_back(when: datetime) -> None:
    stamp = when.replace(microsecond=0)
    assert parse_line_time(stamp.strftime("%Y-%m-%dT%H:%M:%SZ") + " started") == int(stamp.timestamp()) * 10**9
