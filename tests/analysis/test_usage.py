"""Usage history: one round, polling, the demo's sampled history, and where history comes from."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from nomadlab.analysis.usage import (
    USAGE,
    NoUsageHistoryError,
    sample_once,
    sample_usage,
    usage_history,
)
from nomadlab.client import NomadClient
from nomadlab.connection import connect, sim_origin
from nomadlab.errors import NomadError, NomadTransportError
from nomadlab.frames.stats import ALLOC_METRICS, NODE_METRICS
from nomadlab.sim import SimCluster
from nomadlab.sim.clock import NS_PER_S
from nomadlab.sim.scenarios import DEMO_HISTORY_S, _api_spec, script_demo

END = "2026-01-01T06:00:00Z"
MiB = 1024 * 1024


@pytest.fixture(autouse=True)
def _no_history_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("NOMADLAB_HISTORY", raising=False)
    monkeypatch.delenv("NOMADLAB_CLUSTER", raising=False)


@pytest.fixture(scope="module")
def demo_client() -> NomadClient:
    return connect(environ={}, end=END)


@pytest.fixture(scope="module")
def history(demo_client: NomadClient) -> pd.DataFrame:
    return usage_history(demo_client)


def _client(cluster: SimCluster) -> NomadClient:
    return NomadClient(transport=cluster.transport())


# -- one round ------------------------------------------------------------------------------------
def test_one_round_has_every_node_and_running_alloc_with_node_attributes() -> None:
    cluster = SimCluster.default()
    df = sample_once(_client(cluster))
    USAGE.validate(df)
    assert df.attrs["errors"] == {}
    nodes = {n["ID"]: n for n in cluster.state.nodes.values()}
    running = {a["ID"] for a in cluster.state.allocs.values() if a["ClientStatus"] == "running"}
    assert running
    host = df[df["scope"] == "node"]
    assert set(host["node_id"]) == set(nodes)
    assert set(host["metric"]) <= set(NODE_METRICS)
    assert set(df.loc[df["scope"] == "alloc", "alloc_id"]) == running
    tasks = df[df["scope"] == "task"]
    assert tasks["task"].notna().all() and df.loc[df["scope"] != "task", "task"].isna().all()
    assert set(tasks["metric"]) <= set(ALLOC_METRICS)
    for row in df.drop_duplicates("node_id").itertuples():
        node = nodes[row.node_id]
        assert (row.node_name, row.datacenter, row.node_pool) == (node["Name"], node["Datacenter"], node["NodePool"])
    # An allocation's total is the sum of its tasks.
    mem = df[df["metric"] == "memory_usage_bytes"]
    by_alloc = mem[mem["scope"] == "task"].groupby("alloc_id")["value"].sum()
    totals = mem[mem["scope"] == "alloc"].set_index("alloc_id")["value"]
    pd.testing.assert_series_equal(by_alloc.sort_index(), totals.sort_index(), check_names=False)


def test_filters_by_job_and_node() -> None:
    cluster = SimCluster.default()
    client = _client(cluster)
    web = sample_once(client, jobs="web")
    assert set(web["job_id"].dropna()) == {"web"}
    node = next(iter(cluster.state.nodes.values()))
    one = sample_once(client, nodes=node["Name"])
    assert set(one["node_id"]) == {node["ID"]}


# -- polling --------------------------------------------------------------------------------------
def _oom_cluster() -> SimCluster:
    """The demo's bad api version alone on one node, with the demo's behaviour table."""
    cluster = SimCluster()
    cluster.add_node(name="n1", datacenter="dc1", address="10.0.0.1", cpu_mhz=8000, cores=4,
                     memory_mb=16384, disk_mb=100_000)
    script_demo(cluster)
    spec = _api_spec("example/api:2.4.0", memory_mb=512, env={"RESPONSE_CACHE": "on"})
    spec["TaskGroups"][0]["Count"] = 1
    spec["Datacenters"] = ["dc1"]
    cluster.register_job(spec)
    return cluster


def test_polling_on_simulated_time_sees_memory_climb_to_each_oom_kill() -> None:
    cluster = _oom_cluster()
    df = sample_usage(_client(cluster), every="5s", duration="10min", progress=False,
                      sleep=cluster.advance)
    assert df.attrs["rounds"] == 121 and df["time"].nunique() == 121
    alloc = next(iter(cluster.state.allocs.values()))
    kills = [e["Time"] for e in alloc["TaskStates"]["api"]["Events"]
             if e["Type"] == "Terminated" and e["Details"]["oom_killed"] == "true"]
    starts = [e["Time"] for e in alloc["TaskStates"]["api"]["Events"] if e["Type"] == "Started"]
    assert len(kills) >= 3
    mem = df[(df["scope"] == "task") & (df["task"] == "api") & (df["metric"] == "memory_usage_bytes")]
    limit = 512 * MiB
    assert (mem["value"] <= limit).all()
    for kill in kills:
        start = max(s for s in starts if s < kill)
        run = mem[(mem["time"] >= pd.Timestamp(start, tz="UTC")) & (mem["time"] < pd.Timestamp(kill, tz="UTC"))]
        values = run.sort_values("time")["value"].tolist()
        assert len(values) >= 5, "a 5 s poll sees several samples of a run of ~40 s"
        assert values == sorted(values), "memory only climbs toward the kill"
        assert values[-1] > 0.85 * limit
        assert values[0] < 0.8 * limit


def test_interrupt_returns_every_sample_taken() -> None:
    cluster = SimCluster.default()
    calls = []

    def sleep(seconds: float) -> None:
        calls.append(seconds)
        if len(calls) == 3:
            raise KeyboardInterrupt
        cluster.advance(seconds)

    df = sample_usage(_client(cluster), every=30, progress=False, sleep=sleep)
    assert df.attrs["interrupted"] is True and df.attrs["rounds"] == 3
    assert df["time"].nunique() == 3
    whole = sample_once(_client(cluster))
    assert len(df) > 2 * len(whole)  # three rounds of about one round's size each
    USAGE.validate(df)


class _Flaky:
    """A source whose allocation list fails on its second round."""

    def __init__(self, client: NomadClient) -> None:
        from nomadlab.sources import LiveSource

        self.inner = LiveSource(client)
        self.lists = 0

    def list(self, kind: Any, *, namespace: str = "*", filter: str | None = None) -> list[dict[str, Any]]:
        if kind == "allocations":
            self.lists += 1
            if self.lists == 2:
                raise NomadTransportError("connection refused", method="GET", url="http://nomad/v1/allocations")
        return self.inner.list(kind, namespace=namespace, filter=filter)

    def details(self, kind: Any, keys: Any) -> Any:
        return self.inner.details(kind, keys)


def test_a_failed_round_is_recorded_and_sampling_goes_on() -> None:
    cluster = SimCluster.default()
    df = sample_usage(_Flaky(_client(cluster)), every=10, duration=30, progress=False, sleep=cluster.advance)
    assert df.attrs["rounds"] == 4
    assert [e["round"] for e in df.attrs["errors"]] == [1]
    assert "connection refused" in df.attrs["errors"][0]["error"]
    assert df["time"].nunique() == 3


def test_every_must_be_positive() -> None:
    with pytest.raises(ValueError, match="positive interval"):
        sample_usage(_client(SimCluster.default()), every="0s", progress=False)


# -- the demo's history ---------------------------------------------------------------------------
def test_demo_history_samples_every_five_minutes_across_six_hours(
        demo_client: NomadClient, history: pd.DataFrame) -> None:
    USAGE.validate(history)
    origin = sim_origin(demo_client)
    assert origin is not None
    times = sorted(history["time"].unique())
    assert len(times) == DEMO_HISTORY_S // 300 + 1 == 73
    assert times[-1] == pd.Timestamp(origin.end_ns, tz="UTC")
    assert times[0] == pd.Timestamp(origin.end_ns - DEMO_HISTORY_S * NS_PER_S, tz="UTC")
    assert {b - a for a, b in zip(times, times[1:], strict=False)} == {pd.Timedelta("5min")}
    assert (history.groupby("time")["node_id"].nunique() >= 39).all()  # 40 nodes, one down at the end


def test_demo_history_has_every_running_allocation_at_its_end(
        demo_client: NomadClient, history: pd.DataFrame) -> None:
    allocs = demo_client.get("/v1/allocations", params={"namespace": "*"}).body
    running = {a["ID"] for a in allocs if a["ClientStatus"] == "running"}
    last = history[history["time"] == history["time"].max()]
    assert set(last.loc[last["scope"] == "alloc", "alloc_id"]) == running
    # And every allocation that ever ran long enough appears somewhere in the history.
    seen = set(history["alloc_id"].dropna())
    long_runs = {a["ID"] for a in allocs
                 if a["ClientStatus"] in ("running", "complete", "lost")
                 and a["ModifyTime"] - a["CreateTime"] > 11 * 60 * NS_PER_S}
    assert long_runs <= seen


def test_demo_history_shows_the_incident(history: pd.DataFrame) -> None:
    api = history[(history["job_id"] == "api") & (history["task"] == "api")
                  & (history["metric"] == "memory_usage_bytes")]
    end = history["time"].max()
    before = api[api["time"] < end - pd.Timedelta("56min")]
    assert before["value"].max() < 512 * MiB  # 2.3.x stays well inside 1024 MB
    down = history[(history["scope"] == "node") & (history["time"] == end)]
    assert down["node_id"].nunique() == 39


def test_demo_history_is_cached_per_process(demo_client: NomadClient, history: pd.DataFrame) -> None:
    import time

    began = time.perf_counter()
    again = usage_history(demo_client)
    assert time.perf_counter() - began < 2.0
    pd.testing.assert_frame_equal(again, history)
    window = usage_history(demo_client, since=history["time"].max() - pd.Timedelta("1h"))
    assert window["time"].nunique() == 13  # [end - 1 h, end]: both ends are sample instants


# -- where history comes from ---------------------------------------------------------------------
def test_no_history_says_nomad_keeps_none_and_how_to_get_one() -> None:
    with pytest.raises(NoUsageHistoryError) as err:
        usage_history(_client(SimCluster.default()))
    assert isinstance(err.value, NomadError)
    assert "Nomad keeps no usage history" in str(err.value) and "sample_usage(" in str(err.value)


def test_history_root_from_the_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from nomadlab.history import write_usage

    frame = sample_once(_client(SimCluster.default()))
    write_usage(frame, tmp_path, cluster="dev")
    monkeypatch.setenv("NOMADLAB_HISTORY", str(tmp_path))
    pd.testing.assert_frame_equal(usage_history(NomadClient(address="http://127.0.0.1:4646")), frame)
    write_usage(frame, tmp_path, cluster="prod")
    with pytest.raises(NoUsageHistoryError, match="2 clusters"):
        usage_history(None)
    monkeypatch.setenv("NOMADLAB_CLUSTER", "prod")
    assert len(usage_history(None)) == len(frame)
