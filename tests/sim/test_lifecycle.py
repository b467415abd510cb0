"""Allocation and task lifecycles driven by the clock.

Task event types must be Nomad's exact constants (REFERENCE §3 "TaskEvent.Type values");
``TaskEvent.Time`` is integer ns while ``StartedAt``/``FinishedAt`` are RFC3339 strings
(REFERENCE §10). Client statuses follow the task states: any task running → ``running``,
a failed dead task → ``failed``, every task dead and none failed → ``complete``.
"""

from __future__ import annotations

import re

import pytest

from nomadlab.sim import SimCluster
from nomadlab.sim.lifecycle import TASK_TRANSITIONS, IllegalTransition, apply_task_transition
from nomadlab.sim.scenarios import group, job_spec, task
from nomadlab.sim.wire import new_task_state
from tests.sim.conftest import allocs_of

# REFERENCE §3, verbatim.
NOMAD_TASK_EVENT_TYPES = frozenset(
    {
        "Setup Failure",
        "Driver Failure",
        "Received",
        "Failed Validation",
        "Started",
        "Pausing",
        "Terminated",
        "Killing",
        "Killed",
        "Restarting",
        "Not Restarting",
        "Restart Signaled",
        "Signaling",
        "Downloading Artifacts",
        "Failed Artifact Download",
        "Building Task Directory",
        "Task Setup",
        "Disk Resources Exceeded",
        "Sibling Task Failed",
        "Driver",
        "Leader Task Dead",
        "Main Tasks Dead",
        "Task hook failed",
        "Task hook message",
        "Failed Restoring Task",
        "Plugin became unhealthy",
        "Plugin became healthy",
        "Reconnected",
        "Waiting for shutdown delay",
        "Skipping shutdown delay",
        "Running",
        "Alloc Unhealthy",
        "Template",
    }
)
RFC3339 = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)$")
ZERO_TIME = "0001-01-01T00:00:00Z"
S = 1_000_000_000


def one_task_job(
    job_id: str,
    *,
    job_type: str = "service",
    driver: str = "docker",
    meta: dict[str, str] | None = None,
    restart: dict | None = None,
    reschedule: dict | None = None,
    count: int = 1,
) -> dict:
    return job_spec(
        job_id,
        [
            group(
                "g",
                [task("t", driver=driver, cpu=100, memory_mb=64)],
                count=count,
                meta=meta,
                restart=restart,
                reschedule=reschedule,
            )
        ],
        job_type=job_type,
        datacenters=["dc1"],
    )


def only_alloc(cluster: SimCluster, job_id: str) -> dict:
    allocs = allocs_of(cluster, job_id)
    assert len(allocs) == 1
    return allocs[0]


def event_types(alloc: dict, task_name: str = "t") -> list[str]:
    return [e["Type"] for e in alloc["TaskStates"][task_name]["Events"]]


def test_every_transition_table_event_is_a_nomad_type() -> None:
    for (state, trigger), t in TASK_TRANSITIONS.items():
        assert set(t.events) <= NOMAD_TASK_EVENT_TYPES, (state, trigger)
        assert t.to in ("pending", "running", "dead")


def test_transition_table_rejects_illegal_triggers() -> None:
    state = new_task_state()
    with pytest.raises(IllegalTransition):
        apply_task_transition(state, "exit_ok", 0)  # a pending task cannot exit
    apply_task_transition(state, "start", 5 * S)
    apply_task_transition(state, "kill", 6 * S)
    assert state["State"] == "dead"
    with pytest.raises(IllegalTransition):
        apply_task_transition(state, "start", 7 * S)  # dead is final


def test_task_keeps_only_the_last_ten_events() -> None:
    state = new_task_state()
    for i in range(8):
        apply_task_transition(state, "start", i * 10 * S)
        apply_task_transition(state, "exit_restart", i * 10 * S + S)
    assert len(state["Events"]) == 10
    assert state["Restarts"] == 8


def test_service_alloc_goes_pending_then_running(make_cluster) -> None:
    cluster = make_cluster((("a1", "dc1"),))
    start = cluster.now_ns()
    cluster.behaviours.script(image="t:latest", start_s=5)
    cluster.register_job(one_task_job("web"))
    alloc = only_alloc(cluster, "web")
    assert (alloc["ClientStatus"], alloc["DesiredStatus"]) == ("pending", "run")
    cluster.advance(3)
    assert alloc["ClientStatus"] == "pending"
    assert alloc["TaskStates"]["t"]["State"] == "pending"
    assert alloc["TaskStates"]["t"]["StartedAt"] == ZERO_TIME
    cluster.advance(3)
    ts = alloc["TaskStates"]["t"]
    assert alloc["ClientStatus"] == "running"
    assert ts["State"] == "running"
    assert event_types(alloc) == ["Received", "Task Setup", "Driver", "Started"]
    started = ts["Events"][-1]["Time"]
    assert isinstance(started, int) and started == start + 5 * S
    assert RFC3339.match(ts["StartedAt"]) and ts["StartedAt"] != ZERO_TIME
    assert ts["FinishedAt"] == ZERO_TIME
    # A service task keeps running.
    cluster.advance(3600)
    assert alloc["ClientStatus"] == "running"


def test_exec_task_has_no_image_download_event(make_cluster) -> None:
    cluster = make_cluster((("a1", "dc1"),))
    cluster.register_job(one_task_job("web", driver="exec"))
    cluster.advance(5)
    assert event_types(only_alloc(cluster, "web")) == ["Received", "Task Setup", "Started"]


def test_batch_task_completes_after_run_time(make_cluster) -> None:
    cluster = make_cluster((("a1", "dc1"),))
    cluster.behaviours.script(image="t:latest", run_s=20)
    cluster.register_job(one_task_job("report", job_type="batch"))
    alloc = only_alloc(cluster, "report")
    cluster.advance(12)  # started at 2 s, 20 s of work
    assert alloc["ClientStatus"] == "running"
    cluster.advance(15)
    ts = alloc["TaskStates"]["t"]
    assert alloc["ClientStatus"] == "complete"
    assert (ts["State"], ts["Failed"]) == ("dead", False)
    assert event_types(alloc)[-1] == "Terminated"
    assert ts["Events"][-1]["ExitCode"] == 0
    assert ts["FinishedAt"] != ZERO_TIME
    assert cluster.state.jobs[("default", "report")]["Status"] == "dead"


def test_crash_restarts_within_policy_then_fails(make_cluster) -> None:
    cluster = make_cluster((("a1", "dc1"),))
    restart = {"Attempts": 1, "Interval": 600 * S, "Delay": 5 * S, "Mode": "fail"}
    cluster.behaviours.script(image="t:latest", fail="crash", fail_after_s=10)
    cluster.register_job(
        one_task_job(
            "crashy",
            restart=restart,
        )
    )
    alloc = only_alloc(cluster, "crashy")
    cluster.advance(13)  # started at 2, crashed at 12, restarting
    ts = alloc["TaskStates"]["t"]
    assert event_types(alloc)[-2:] == ["Terminated", "Restarting"]
    assert ts["State"] == "pending"
    assert ts["Restarts"] == 1
    assert ts["LastRestart"] != ZERO_TIME
    assert ts["Events"][-2]["ExitCode"] == 1
    cluster.advance(30)  # restarted at 17, crashed again at 27: out of attempts
    assert event_types(alloc)[-2:] == ["Terminated", "Not Restarting"]
    assert (ts["State"], ts["Failed"]) == ("dead", True)
    assert alloc["ClientStatus"] == "failed"
    assert ts["Events"][-1]["FailsTask"] is True


def test_oom_kill_is_exit_137_with_oom_detail(make_cluster) -> None:
    cluster = make_cluster((("a1", "dc1"),))
    cluster.behaviours.script(image="t:latest", fail="oom", fail_after_s=3)
    cluster.register_job(
        one_task_job(
            "hog",
            restart={"Attempts": 0, "Mode": "fail"},
        )
    )
    cluster.advance(10)
    alloc = only_alloc(cluster, "hog")
    term = next(e for e in alloc["TaskStates"]["t"]["Events"] if e["Type"] == "Terminated")
    assert term["ExitCode"] == 137
    assert term["Details"]["oom_killed"] == "true"
    assert alloc["ClientStatus"] == "failed"


def test_failed_alloc_is_rescheduled_after_the_policy_delay(make_cluster) -> None:
    cluster = make_cluster((("a1", "dc1"), ("a2", "dc1")))
    cluster.behaviours.script(image="t:latest", fail="crash", fail_after_s=5)
    cluster.register_job(
        one_task_job(
            "crashy",
            restart={"Attempts": 0, "Mode": "fail"},
            reschedule={
                "Attempts": 3,
                "Interval": 3600 * S,
                "Delay": 30 * S,
                "DelayFunction": "constant",
                "Unlimited": False,
            },
        )
    )
    first = only_alloc(cluster, "crashy")
    cluster.advance(8)  # failed at 7
    assert first["ClientStatus"] == "failed"
    assert len(allocs_of(cluster, "crashy")) == 1  # the delay has not passed
    follow = cluster.state.evals[first["FollowupEvalID"]]
    assert follow["TriggeredBy"] == "failed-follow-up"
    assert follow["Status"] == "pending"
    cluster.advance(35)
    allocs = allocs_of(cluster, "crashy")
    assert len(allocs) == 2
    replacement = allocs[1]
    assert replacement["PreviousAllocation"] == first["ID"]
    assert first["NextAllocation"] == replacement["ID"]
    events = replacement["RescheduleTracker"]["Events"]
    assert [e["PrevAllocID"] for e in events] == [first["ID"]]


def test_job_stop_kills_tasks(make_cluster) -> None:
    cluster = make_cluster((("a1", "dc1"),))
    cluster.register_job(one_task_job("web"))
    cluster.advance(5)
    alloc = only_alloc(cluster, "web")
    cluster.deregister_job("default", "web")
    assert alloc["DesiredStatus"] == "stop"
    assert alloc["ClientStatus"] == "running"  # the client has not acted yet
    cluster.advance(5)
    ts = alloc["TaskStates"]["t"]
    # the kill, the driver's exit result, and the restart tracker's answer to a kill
    assert event_types(alloc)[-3:] == ["Killing", "Terminated", "Killed"]
    assert (ts["State"], ts["Failed"]) == ("dead", False)
    assert alloc["ClientStatus"] == "complete"
    assert cluster.state.jobs[("default", "web")]["Status"] == "dead"


def test_sibling_task_is_killed_when_a_task_fails(make_cluster) -> None:
    cluster = make_cluster((("a1", "dc1"),))
    spec = job_spec(
        "pair",
        [
            group(
                "g",
                [
                    task(
                        "main",
                        cpu=50,
                        memory_mb=32,
                    ),
                    task("side", cpu=50, memory_mb=32),
                ],
                restart={"Attempts": 0, "Mode": "fail"},
            )
        ],
        datacenters=["dc1"],
    )
    cluster.behaviours.script(image="main:latest", fail="crash", fail_after_s=4)
    cluster.register_job(spec)
    cluster.advance(10)
    alloc = only_alloc(cluster, "pair")
    assert alloc["ClientStatus"] == "failed"
    side = alloc["TaskStates"]["side"]
    assert side["State"] == "dead"
    assert "Sibling Task Failed" in event_types(alloc, "side")
    assert alloc["TaskStates"]["main"]["Failed"] is True


def test_node_down_marks_allocations_lost_and_replaces_them(make_cluster) -> None:
    cluster = make_cluster((("a1", "dc1"), ("a2", "dc1")))
    cluster.register_job(one_task_job("web", count=1))
    cluster.advance(5)
    alloc = only_alloc(cluster, "web")
    cluster.set_node_status(alloc["NodeID"], "down")
    assert alloc["ClientStatus"] == "lost"
    live = [a for a in allocs_of(cluster, "web") if a["DesiredStatus"] == "run"]
    assert len(live) == 1 and live[0]["NodeID"] != alloc["NodeID"]
    assert cluster.state.job_summaries[("default", "web")]["Summary"]["g"]["Lost"] == 1


# -- the behaviour table --------------------------------------------------------------------------
def _docker(image: str, memory_mb: int = 256, command: str = "") -> dict:
    config = {"image": image, **({"command": command} if command else {})}
    return {"Name": "t", "Driver": "docker", "Config": config, "Resources": {"CPU": 100, "MemoryMB": memory_mb}}


def test_behaviour_rules_match_image_and_command_most_specific_wins() -> None:
    from nomadlab.sim.lifecycle import Behaviours

    table = Behaviours()
    table.script(image="example/api:2.3.1", memory_mb=100)
    table.script(image="example/api:2.3.1", command="/app/bin/migrate", run_s=240)
    table.script(command="/app/bin/migrate", run_s=10)
    service, batch = {"Type": "service"}, {"Type": "batch"}
    assert table.of(service, {}, _docker("example/api:2.3.1")).run_s is None
    assert table.of(service, {}, _docker("example/api:2.3.1")).memory_mb == 100
    assert table.of(batch, {}, _docker("example/api:2.3.1", command="/app/bin/migrate")).run_s == 240
    assert table.of(batch, {}, _docker("other:1", command="/app/bin/migrate")).run_s == 10
    assert table.of(batch, {}, _docker("other:1")).run_s == 30.0  # the batch default
    with pytest.raises(ValueError, match="image= or command="):
        table.script(run_s=5)
    with pytest.raises(TypeError):
        table.script(image="x", no_such_field=1)


def test_a_working_set_above_the_limit_is_an_oom_kill_when_it_reaches_it() -> None:
    from nomadlab.sim.lifecycle import Behaviours

    table = Behaviours()
    table.script(image="leaky:1", memory_mb=1000, warmup_s=100)
    job = {"Type": "service"}
    small = table.of(job, {}, _docker("leaky:1", memory_mb=700))
    assert (small.fail, small.exit_code) == ("oom", 137)
    assert small.fail_after_s == pytest.approx(50.0)  # 0.4 + 0.6 × t/100 = 0.7
    assert small.memory_at(small.fail_after_s) == pytest.approx(700.0)
    assert table.of(job, {}, _docker("leaky:1", memory_mb=1024)).fail == ""
    oversubscribed = _docker("leaky:1", memory_mb=256)
    oversubscribed["Resources"]["MemoryMaxMB"] = 2048
    assert table.of(job, {}, oversubscribed).fail == ""  # the limit is MemoryMaxMB


def test_oom_kill_follows_from_the_jobspecs_memory_ask(make_cluster) -> None:
    cluster = make_cluster((("a1", "dc1"),))
    cluster.behaviours.script(image="t:latest", memory_mb=100, warmup_s=30)  # the ask is 64 MB
    cluster.register_job(one_task_job("hog", restart={"Attempts": 0, "Mode": "fail"}))
    cluster.advance(20)  # killed at 14 s, before any reschedule
    alloc = only_alloc(cluster, "hog")
    term = next(e for e in alloc["TaskStates"]["t"]["Events"] if e["Type"] == "Terminated")
    assert term["ExitCode"] == 137 and term["Details"]["oom_killed"] == "true"
    # Started at 2 s; 100 MB × (0.4 + 0.6 × t/30) reaches 64 MB at t = 12 s.
    started = next(e for e in alloc["TaskStates"]["t"]["Events"] if e["Type"] == "Started")
    assert term["Time"] - started["Time"] == pytest.approx(12 * S, abs=S // 100)
    roomy = make_cluster((("b1", "dc1"),))
    roomy.behaviours.script(image="t:latest", memory_mb=50, warmup_s=30)
    roomy.register_job(one_task_job("fits"))
    roomy.advance(120)
    assert only_alloc(roomy, "fits")["ClientStatus"] == "running"
