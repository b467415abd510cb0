"""Periodic jobs launch their children on the cluster's clock, as ``nomad/periodic.go`` does.

An active periodic job (enabled, not stopped, not parameterized) launches
``<parent>/periodic-<launch unix s>`` at each time its cron spec names, in its ``TimeZone``,
evaluated with ``TriggeredBy: periodic-job``; ``ProhibitOverlap`` skips a launch while an
earlier child still runs; stopping or purging the parent, or disabling it, stops the launches.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime

import httpx
import pytest

from nomadlab.sim import SimCluster
from nomadlab.sim.clock import NS_PER_S, RealClock
from nomadlab.sim.periodic import is_periodic_active, next_launch_ns
from nomadlab.sim.scenarios import DEMO_HISTORY_S, build_scenario, group, job_spec, task

START = datetime(2026, 1, 1, tzinfo=UTC)  # ManualClock's default start


def _ns(*args: int) -> int:
    return int(datetime(*args, tzinfo=UTC).timestamp()) * NS_PER_S


def _periodic_job(job_id: str = "rep", *, spec: str = "*/15 * * * *", image: str = "example/rep:1",
                  **periodic: object) -> dict:
    return job_spec(job_id, [group("g", [task("t", image=image, cpu=50, memory_mb=32)])], job_type="batch",
                    datacenters=["dc1"],
                    periodic={"Enabled": True, "Spec": spec, "SpecType": "cron", **periodic})


def _children(c: SimCluster, parent: str = "rep", ns: str = "default") -> list[str]:
    return sorted(j["ID"] for (jns, _), j in c.state.jobs.items() if jns == ns and j.get("ParentID") == parent)


@pytest.fixture
def cluster() -> SimCluster:
    c = SimCluster()
    c.add_node(name="n1", datacenter="dc1", cpu_mhz=4000, cores=4, memory_mb=8192, disk_mb=10_000,
               address="10.0.0.1")
    return c


@pytest.mark.parametrize(
    ("spec", "zone", "after", "want"),
    [
        pytest.param("0 */2 * * *", "", _ns(2026, 1, 1, 0, 0), _ns(2026, 1, 1, 2, 0), id="every-two-hours"),
        pytest.param("0 */2 * * *", "", _ns(2026, 1, 1, 2, 0), _ns(2026, 1, 1, 4, 0), id="strictly-after"),
        pytest.param("@hourly", "", _ns(2026, 1, 1, 0, 30), _ns(2026, 1, 1, 1, 0), id="macro"),
        pytest.param("0 9 * * *", "America/New_York", _ns(2026, 1, 1, 0, 0), _ns(2026, 1, 1, 14, 0),
                     id="time-zone-winter"),
        pytest.param("0 9 * * *", "America/New_York", _ns(2026, 7, 1, 0, 0), _ns(2026, 7, 1, 13, 0),
                     id="time-zone-summer"),
        pytest.param("30 */10 * * * * *", "", _ns(2026, 1, 1, 0, 0), _ns(2026, 1, 1, 0, 0) + 30 * NS_PER_S,
                     id="seven-fields-seconds-first"),
        pytest.param("0 0 1 1 * 2028", "", _ns(2026, 1, 1, 0, 0), _ns(2028, 1, 1, 0, 0), id="six-fields-year"),
        pytest.param("not a cron", "", _ns(2026, 1, 1), None, id="bad-spec"),
        pytest.param("0 * * * *", "Mars/Olympus", _ns(2026, 1, 1), None, id="unknown-zone"),
    ],
)
def test_next_launch(spec: str, zone: str, after: int, want: int | None) -> None:
    assert next_launch_ns({"Spec": spec, "SpecType": "cron", "TimeZone": zone}, after) == want


def test_several_specs_launch_at_the_earliest() -> None:
    periodic = {"Specs": ["0 5 * * *", "30 1 * * *"], "SpecType": "cron"}
    assert next_launch_ns(periodic, _ns(2026, 1, 1)) == _ns(2026, 1, 1, 1, 30)


def test_children_launch_at_each_due_time(cluster: SimCluster) -> None:
    cluster.register_job(_periodic_job())
    cluster.advance(3600)
    stamps = [int(t.timestamp()) for t in (datetime(2026, 1, 1, 0, m, tzinfo=UTC) for m in (15, 30, 45))]
    stamps.append(int(datetime(2026, 1, 1, 1, 0, tzinfo=UTC).timestamp()))
    assert _children(cluster) == [f"rep/periodic-{s}" for s in stamps]
    child = cluster.state.jobs[("default", f"rep/periodic-{stamps[0]}")]
    assert child["Periodic"] is None and child["ParentID"] == "rep"
    assert child["SubmitTime"] == stamps[0] * NS_PER_S  # registered at its launch time
    ev = [e for e in cluster.state.evals.values() if e["JobID"] == child["ID"]]
    assert [e["TriggeredBy"] for e in ev] == ["periodic-job"]
    assert cluster.periodic.next_launch("default", "rep") == (stamps[-1] + 900) * NS_PER_S
    children = cluster.state.job_summaries[("default", "rep")]["Children"]
    assert sum(children.values()) == 4


def test_prohibit_overlap_skips_launches_while_a_child_runs(cluster: SimCluster) -> None:
    cluster.behaviours.script(image="example/slow:1", run_s=40 * 60)
    cluster.register_job(_periodic_job(image="example/slow:1", ProhibitOverlap=True))
    cluster.advance(3600)
    # 00:15 runs until 00:55: 00:30 and 00:45 are skipped, 01:00 launches
    assert _children(cluster) == [f"rep/periodic-{int(START.timestamp()) + s}" for s in (900, 3600)]


def test_overlap_allowed_launches_every_time(cluster: SimCluster) -> None:
    cluster.behaviours.script(image="example/slow:1", run_s=40 * 60)
    cluster.register_job(_periodic_job(image="example/slow:1"))
    cluster.advance(3600)
    assert len(_children(cluster)) == 4


def test_stopping_the_parent_stops_launches(cluster: SimCluster) -> None:
    cluster.register_job(_periodic_job())
    cluster.advance(1000)
    assert len(_children(cluster)) == 1
    cluster.deregister_job("default", "rep")
    assert cluster.periodic.next_launch("default", "rep") is None
    cluster.advance(3600)
    assert len(_children(cluster)) == 1


def test_purging_the_parent_stops_launches(cluster: SimCluster) -> None:
    cluster.register_job(_periodic_job())
    cluster.deregister_job("default", "rep", purge=True)
    cluster.advance(3600)
    assert _children(cluster) == []


def test_disabled_and_parameterized_jobs_do_not_launch(cluster: SimCluster) -> None:
    cluster.register_job(_periodic_job("off", Enabled=False))
    param = _periodic_job("param")
    param["ParameterizedJob"] = {"Payload": "optional"}
    cluster.register_job(param)
    assert not is_periodic_active(cluster.state.jobs[("default", "param")])
    cluster.advance(3600)
    assert _children(cluster, "off") == [] and _children(cluster, "param") == []


def test_a_new_spec_replaces_the_pending_launch(cluster: SimCluster) -> None:
    cluster.register_job(_periodic_job(spec="0 * * * *"))
    assert cluster.periodic.next_launch("default", "rep") == _ns(2026, 1, 1, 1, 0)
    cluster.advance(60)
    cluster.register_job(_periodic_job(spec="*/5 * * * *"))
    assert cluster.periodic.next_launch("default", "rep") == _ns(2026, 1, 1, 0, 5)
    cluster.advance(3600)
    assert len(_children(cluster)) == 12  # 00:05 ... 01:00, and no extra launch from the old spec


def test_the_api_shows_the_children_and_their_counts(cluster: SimCluster) -> None:
    cluster.register_job(_periodic_job())
    cluster.advance(1800)
    api = httpx.Client(transport=cluster.transport(), base_url="http://nomad")
    listed = [j["ID"] for j in api.get("/v1/jobs", params={"prefix": "rep/periodic-"}).json()]
    assert listed == _children(cluster)
    summary = api.get("/v1/job/rep/summary").json()
    assert sum(summary["Children"].values()) == 2


def test_a_real_time_clock_launches_too() -> None:
    c = SimCluster(clock=RealClock())
    c.add_node(name="n1", datacenter="dc1", cpu_mhz=4000, cores=4, memory_mb=8192, disk_mb=10_000,
               address="10.0.0.1")
    c.register_job(_periodic_job(spec="* * * * * * *"))  # every second
    due = c.periodic.next_launch("default", "rep")
    assert due is not None and due - c.now_ns() <= NS_PER_S
    deadline = time.monotonic() + 5
    while not _children(c) and time.monotonic() < deadline:
        time.sleep(0.05)
        c.tick()  # what the served cluster's ticker does
    (child,) = _children(c)[:1]
    assert child == f"rep/periodic-{due // NS_PER_S}"


def test_the_demo_history_is_the_dispatchers() -> None:
    c = build_scenario("demo", seed=0)
    t0 = c.now_ns() - DEMO_HISTORY_S * NS_PER_S
    hours = range(1, DEMO_HISTORY_S // 3600 + 1)
    report = [t0 // NS_PER_S + h * 3600 for h in hours if h % 2 == 0]
    etl = [t0 // NS_PER_S + h * 3600 + 900 for h in range(DEMO_HISTORY_S // 3600) if h % 3 == 0]
    assert _children(c, "report") == sorted(f"report/periodic-{s}" for s in report)
    assert _children(c, "etl", "data") == sorted(f"etl/periodic-{s}" for s in etl)
    assert c.periodic.next_launch("default", "report") == (report[-1] + 7200) * NS_PER_S
