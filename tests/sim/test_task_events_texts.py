"""Task events carry the texts Nomad's client gives them.

Each row drives the simulator to an event and compares it to what Nomad's client builds for
it, written out from Nomad's source: the setters of ``structs.TaskEvent`` (``SetMessage``,
``SetExitCode``, ``SetRestartReason``, ... fill ``Details``), ``PopulateEventDisplayMessage``,
``task_dir_hook.go`` (``Building Task Directory``), the docker driver's pull event and OOM
result, ``restarts.go``'s reasons and ``alloc_runner.go``'s kill and signal events.
"""

from __future__ import annotations

from typing import Any

import pytest

from nomadlab.sim import SimCluster
from nomadlab.sim.lifecycle import docker_image_ref
from nomadlab.sim.scenarios import group, job_spec, task

S = 1_000_000_000
POLICY = {"Attempts": 1, "Interval": 1800 * S, "Delay": 15 * S, "Mode": "fail"}

# (case, event type, the fields Nomad sets, DisplayMessage, Details)
NOMAD: list[tuple[str, str, dict[str, Any], str, dict[str, str]]] = [
    ("received", "Received", {}, "Task received by client", {}),
    ("setup", "Task Setup", {"Message": "Building Task Directory"}, "Building Task Directory",
     {"message": "Building Task Directory"}),
    ("pull", "Driver", {"DriverMessage": "Downloading image"}, "Downloading image",
     {"image": "example/crash:1.0"}),
    ("started", "Started", {}, "Task started by client", {}),
    ("crash", "Terminated", {"ExitCode": 2, "Signal": 0}, "Exit Code: 2",
     {"exit_code": "2", "signal": "0", "oom_killed": "false"}),
    ("within-policy", "Restarting", {"RestartReason": "Restart within policy", "StartDelay": 15 * S},
     "Task restarting in 15s", {"restart_reason": "Restart within policy", "start_delay": str(15 * S)}),
    ("exceeded", "Not Restarting",
     {"RestartReason": 'Exceeded allowed attempts 1 in interval 30m0s and mode is "fail"', "FailsTask": True},
     'Exceeded allowed attempts 1 in interval 30m0s and mode is "fail"',
     {"restart_reason": 'Exceeded allowed attempts 1 in interval 30m0s and mode is "fail"', "fails_task": "true"}),
    ("no-restarts", "Not Restarting", {"RestartReason": "Policy allows no restarts", "FailsTask": True},
     "Policy allows no restarts", {"restart_reason": "Policy allows no restarts", "fails_task": "true"}),
    ("delay-mode", "Restarting",
     {"RestartReason": "Exceeded allowed attempts, applying a delay", "StartDelay": 1800 * S},
     "Exceeded allowed attempts, applying a delay - Task restarting in 30m0s",
     {"restart_reason": "Exceeded allowed attempts, applying a delay", "start_delay": str(1800 * S)}),
    ("oom", "Terminated", {"ExitCode": 137, "Signal": 0, "Message": "OOM Killed"},
     'Exit Code: 137, Exit Message: "OOM Killed"',
     {"exit_code": "137", "signal": "0", "oom_killed": "true", "exit_message": "OOM Killed"}),
    ("sibling", "Sibling Task Failed", {"FailedSibling": "main"}, 'Task\'s sibling "main" failed',
     {"failed_sibling": "main"}),
    ("killing", "Killing", {"KillTimeout": 5 * S}, "Sent interrupt. Waiting 5s before force killing",
     {"kill_timeout": "5s"}),
    ("killing-capped", "Killing", {"KillTimeout": 30 * S}, "Sent interrupt. Waiting 30s before force killing",
     {"kill_timeout": "30s"}),
    ("kill-exit", "Terminated", {"ExitCode": 0, "Signal": 0}, "Exit Code: 0",
     {"exit_code": "0", "signal": "0", "oom_killed": "false"}),
    ("killed", "Killed", {}, "Task successfully killed", {}),
    ("restart-signaled", "Restart Signaled", {"RestartReason": "User requested task to restart"},
     "User requested task to restart", {"restart_reason": "User requested task to restart"}),
    ("user-restart", "Restarting", {"RestartReason": "", "StartDelay": 0}, "Task restarting in 0s",
     {"restart_reason": "", "start_delay": "0"}),
    ("signal", "Signaling", {"TaskSignal": "", "TaskSignalReason": ""}, "Task being sent a signal",
     {"signal": "SIGHUP"}),
]


def _job(job_id: str, tasks: list[dict[str, Any]], restart: dict[str, Any] | None = None) -> dict[str, Any]:
    return job_spec(job_id, [group("g", tasks, restart=restart or POLICY)], datacenters=["dc1"])


def _events(c: SimCluster, job_id: str, task_name: str) -> list[dict[str, Any]]:
    (alloc,) = sorted(c.state.job_allocs("default", job_id), key=lambda a: a["CreateIndex"])[:1]
    return alloc["TaskStates"][task_name]["Events"]


def _find(events: list[dict[str, Any]], etype: str, nth: int = 0) -> dict[str, Any]:
    return [e for e in events if e["Type"] == etype][nth]


@pytest.fixture(scope="module")
def seen() -> dict[str, dict[str, Any]]:
    """One event per case, from a cluster driven through each situation."""
    c = SimCluster()
    c.add_node(name="n1", datacenter="dc1", cpu_mhz=8000, cores=8, memory_mb=16384, disk_mb=100_000,
               address="10.0.0.1")
    c.behaviours.script(image="example/crash:1.0", fail="crash", exit_code=2, fail_after_s=10)
    c.behaviours.script(image="example/oom:1.0", fail="oom", fail_after_s=10)
    c.register_job(_job("crash", [task("main", image="example/crash:1.0", cpu=100, memory_mb=64),
                                  task("side", image="nginx:1.27", cpu=100, memory_mb=64)]))
    c.register_job(_job("norestart", [task("main", image="example/crash:1.0", cpu=100, memory_mb=64)],
                        restart={**POLICY, "Attempts": 0}))
    c.register_job(_job("delay", [task("main", image="example/crash:1.0", cpu=100, memory_mb=64)],
                        restart={**POLICY, "Mode": "delay"}))
    c.register_job(_job("oom", [task("main", image="example/oom:1.0", cpu=100, memory_mb=64)]))
    slow = task("main", image="nginx:1.27", cpu=100, memory_mb=64)
    slow["KillTimeout"] = 120 * S  # above the client's max_kill_timeout (30s)
    c.register_job(_job("stop", [task("main", image="nginx:1.27", cpu=100, memory_mb=64)]))
    c.register_job(_job("slowstop", [slow]))
    c.register_job(_job("poke", [task("main", image="nginx:1.27", cpu=100, memory_mb=64)]))
    c.advance(120)
    for job_id in ("stop", "slowstop"):
        c.deregister_job("default", job_id)
    poke = c.state.job_allocs("default", "poke")[0]["ID"]
    c.signal_alloc(poke, task="main", signal="SIGHUP")
    c.restart_alloc(poke, task="main")
    c.advance(30)
    crash = _events(c, "crash", "main")
    stop = _events(c, "stop", "main")
    poked = _events(c, "poke", "main")
    return {
        "received": _find(crash, "Received"), "setup": _find(crash, "Task Setup"), "pull": _find(crash, "Driver"),
        "started": _find(crash, "Started"), "crash": _find(crash, "Terminated"),
        "within-policy": _find(crash, "Restarting"), "exceeded": _find(crash, "Not Restarting"),
        "no-restarts": _find(_events(c, "norestart", "main"), "Not Restarting"),
        "delay-mode": _find(_events(c, "delay", "main"), "Restarting", 1),
        "oom": _find(_events(c, "oom", "main"), "Terminated"),
        "sibling": _find(_events(c, "crash", "side"), "Sibling Task Failed"),
        "killing": _find(stop, "Killing"), "killing-capped": _find(_events(c, "slowstop", "main"), "Killing"),
        "kill-exit": _find(stop, "Terminated"), "killed": _find(stop, "Killed"),
        "restart-signaled": _find(poked, "Restart Signaled"), "user-restart": _find(poked, "Restarting"),
        "signal": _find(poked, "Signaling"),
    }


@pytest.mark.parametrize(("case", "etype", "fields", "display", "details"), NOMAD, ids=[row[0] for row in NOMAD])
def test_event_has_nomads_texts(seen: dict[str, dict[str, Any]], case: str, etype: str, fields: dict[str, Any],
                                display: str, details: dict[str, str]) -> None:
    event = seen[case]
    assert event["Type"] == etype
    for name, value in fields.items():
        assert event[name] == value, name
    assert event["DisplayMessage"] == display
    assert event["Details"] == details


def test_the_stop_sequence_is_nomads(seen: dict[str, dict[str, Any]]) -> None:
    """Killing, the driver's exit result, then the restart tracker's Killed, one after another."""
    assert seen["killing"]["Time"] < seen["kill-exit"]["Time"] < seen["killed"]["Time"]


def test_a_running_sibling_is_told_before_it_is_killed() -> None:
    c = SimCluster()
    c.add_node(name="n1", datacenter="dc1", cpu_mhz=8000, cores=8, memory_mb=16384, disk_mb=100_000,
               address="10.0.0.1")
    c.behaviours.script(image="example/crash:1.0", fail="crash", fail_after_s=5)
    c.register_job(_job("crash", [task("main", image="example/crash:1.0"), task("side", image="nginx:1.27")],
                        restart={**POLICY, "Attempts": 0}))
    c.advance(60)
    types = [e["Type"] for e in _events(c, "crash", "side")]
    assert types[-4:] == ["Sibling Task Failed", "Killing", "Terminated", "Killed"]


@pytest.mark.parametrize(
    ("image", "ref"),
    [("redis", "redis:latest"), ("redis:7", "redis:7"), ("localhost:5000/app", "localhost:5000/app:latest"),
     ("localhost:5000/app:2", "localhost:5000/app:2"), ("app@sha256:abc", "app")],
)
def test_docker_image_ref(image: str, ref: str) -> None:
    assert docker_image_ref(image) == ref


def test_a_stopped_task_has_one_run_in_its_logs() -> None:
    """The ``Terminated`` after ``Killing`` is the killed run's exit, not a run of its own."""
    from nomadlab.sim.logs import task_runs

    c = SimCluster()
    c.add_node(name="n1", datacenter="dc1", cpu_mhz=8000, cores=8, memory_mb=16384, disk_mb=100_000,
               address="10.0.0.1")
    c.register_job(_job("web", [task("t", image="nginx:1.27")]))
    c.advance(60)
    c.deregister_job("default", "web")
    c.advance(10)
    alloc = c.state.job_allocs("default", "web")[0]
    assert [r.end for r in task_runs(alloc, "t", c.behaviours)] == ["killed"]
