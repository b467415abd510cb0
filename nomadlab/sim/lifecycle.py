"""Task and allocation lifecycles, as transition tables driven by the simulated clock.

A task moves through ``pending → running → dead`` on *triggers* (start, exit, kill, ...). Each
transition is one row of :data:`TASK_TRANSITIONS`: the state it leads to and the task events
(Nomad's exact type strings) it records. The allocation's client status is then derived from its
tasks' states by :func:`client_status`, as Nomad's client does, and checked against
:data:`CLIENT_TRANSITIONS`. What a task *does* (how long it starts, whether it exits, crashes or
is OOM-killed) comes from the cluster's :class:`Behaviours` table, keyed by image and command,
so a scenario can script an incident without special code and without a trace in the jobs.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from typing import Any

from . import wire
from .clock import NS_PER_S

__all__ = [
    "Behaviour",
    "TaskTransition",
    "TASK_TRANSITIONS",
    "CLIENT_TRANSITIONS",
    "IllegalTransition",
    "apply_task_transition",
    "client_status",
    "reschedule_delay_ns",
    "reschedule_eligible",
    "Behaviours",
    "Script",
    "new_task_event",
    "docker_image_ref",
    "pull_event_fields",
    "exit_event_fields",
    "restart_event_fields",
    "kill_event_fields",
    "signal_event_fields",
    "restart_decision",
    "BUILDING_TASK_DIR",
    "REASON_WITHIN_POLICY",
    "REASON_NO_RESTARTS",
    "REASON_DELAY",
]

class IllegalTransition(RuntimeError):
    """A trigger that the table does not allow from the task's current state."""


@dataclass(frozen=True)
class TaskTransition:
    to: str
    events: tuple[str, ...]
    failed: bool | None = None  # set TaskState.Failed (None: leave as is)
    restart: bool = False  # counts as a restart (Restarts += 1, LastRestart)


# (from state, trigger) → transition. Event types are Nomad's constants (REFERENCE §3).
TASK_TRANSITIONS: dict[tuple[str, str], TaskTransition] = {
    ("pending", "receive"): TaskTransition("pending", ("Received", "Task Setup")),
    ("pending", "pull"): TaskTransition("pending", ("Driver",)),
    ("pending", "start"): TaskTransition("running", ("Started",)),
    ("running", "exit_ok"): TaskTransition("dead", ("Terminated",), failed=False),
    ("running", "exit_restart"): TaskTransition("pending", ("Terminated", "Restarting"), restart=True),
    ("running", "exit_fail"): TaskTransition("dead", ("Terminated", "Not Restarting"), failed=True),
    ("pending", "restart_start"): TaskTransition("running", ("Started",)),
    # A user's restart (`/v1/client/allocation/:id/restart`): the task runner emits the request's
    # `Restart Signaled`, kills the task (`Terminated`), and the restart tracker, told the restart
    # was triggered, answers `Restarting` with no delay and no reason (taskrunner/lifecycle.go,
    # restarts.go); it does not count against the restart policy's attempts.
    ("running", "user_restart"): TaskTransition("pending", ("Restart Signaled", "Terminated", "Restarting"),
                                                restart=True),
    ("running", "signal"): TaskTransition("running", ("Signaling",)),
    # A kill (allocation stopped, or a sibling failed): the alloc runner emits `Killing` (and,
    # for a sibling's failure, `Sibling Task Failed` first), the driver's exit result is the
    # `Terminated` event, and the restart tracker, told of the kill, answers `Killed`. A task
    # with no process yet (pending, or between restarts) leaves its run loop at the kill, so it
    # records only the kill events (alloc_runner.go killTasks, task_runner.go, restarts.go).
    ("running", "kill"): TaskTransition("dead", ("Killing", "Terminated", "Killed"), failed=False),
    ("pending", "kill"): TaskTransition("dead", ("Killing",), failed=False),
    ("running", "lost"): TaskTransition("dead", (), failed=False),
    ("pending", "lost"): TaskTransition("dead", (), failed=False),
    ("pending", "sibling_failed"): TaskTransition("dead", ("Sibling Task Failed", "Killing"), failed=False),
    ("running", "sibling_failed"): TaskTransition(
        "dead", ("Sibling Task Failed", "Killing", "Terminated", "Killed"), failed=False),
}

# Allocation client-status changes the simulator allows (from, to).
CLIENT_TRANSITIONS: frozenset[tuple[str, str]] = frozenset({
    ("pending", "running"), ("pending", "failed"), ("pending", "complete"), ("pending", "lost"),
    ("running", "complete"), ("running", "failed"), ("running", "lost"), ("running", "pending"),
    ("pending", "unknown"), ("running", "unknown"), ("unknown", "running"), ("unknown", "lost"),
})

MAX_TASK_EVENTS = 10  # the client keeps the last 10 events per task

# Texts of Nomad's client (nomad/structs, client/allocrunner/taskrunner/restarts/restarts.go).
BUILDING_TASK_DIR = "Building Task Directory"  # structs.TaskBuildingTaskDir
REASON_WITHIN_POLICY = "Restart within policy"
REASON_NO_RESTARTS = "Policy allows no restarts"
REASON_DELAY = "Exceeded allowed attempts, applying a delay"
MAX_KILL_TIMEOUT_NS = 30 * NS_PER_S  # the client's max_kill_timeout default
DEFAULT_KILL_TIMEOUT_NS = 5 * NS_PER_S  # api.Task.Canonicalize's KillTimeout

# Fields the client always sets on an event of a type (task_dir_hook.go: SetMessage).
_EVENT_DEFAULTS: dict[str, dict[str, Any]] = {"Task Setup": {"Message": BUILDING_TASK_DIR}}


def new_task_event(event_type: str, time_ns: int, **fields: Any) -> dict[str, Any]:
    """A ``TaskEvent`` as Nomad's client builds one of ``event_type``.

    ``fields`` are Go field names (see :func:`nomadlab.sim.wire.task_event`), plus
    ``Annotations``: the ``Details`` of a driver's event, which the alloc runner's event
    handler copies as they are (``GetTaskEventHandler``), with no setter's keys.
    """
    annotations = fields.pop("Annotations", None)
    event = wire.task_event(event_type, time_ns, **{**_EVENT_DEFAULTS.get(event_type, {}), **fields})
    if annotations is not None:
        event["Details"] = {str(k): str(v) for k, v in annotations.items()}
    return event


def docker_image_ref(image: str) -> str:
    """The image reference the docker driver names when pulling (``parseDockerImage`` and
    ``dockerImageRef``): ``repo:tag``, ``latest`` when untagged, the repository alone for a digest."""
    repo = image.split("@", 1)[0]
    n = repo.rfind(":")
    if n >= 0 and "/" not in repo[n + 1:]:
        return f"{repo[:n]}:{repo[n + 1:]}"
    return repo if "@" in image else f"{repo}:latest"


def pull_event_fields(image: str) -> dict[str, Any]:
    """The docker driver's pull event: ``Downloading image`` with the image as an annotation."""
    return {"DriverMessage": "Downloading image", "Annotations": {"image": docker_image_ref(image)}}


def exit_event_fields(exit_code: int, *, oom: bool, driver: str) -> dict[str, Any]:
    """A ``Terminated`` event's fields from the driver's exit result.

    Docker reports an OOM kill with the container's exit code, signal 0 and the error
    ``OOM Killed`` (the exit message); the executor drivers report the kernel's SIGKILL.
    """
    fields: dict[str, Any] = {"ExitCode": exit_code, "Signal": 0, "OOMKilled": oom}
    if oom and driver == "docker":
        fields["Message"] = "OOM Killed"
    elif oom:
        fields["Signal"] = 9
    return fields


def restart_event_fields(policy: dict[str, Any] | None, restarts_in_interval: int) -> dict[str, dict[str, Any]]:
    """The restart tracker's answer to a failure, as event fields: ``Restarting`` (within the
    policy, or with mode ``delay`` past its attempts) or ``Not Restarting`` (``FailsTask``)."""
    policy = policy or {}
    attempts = int(policy.get("Attempts") or 0)
    decision, delay = restart_decision(policy, restarts_in_interval)
    if decision == "restart":
        reason = REASON_WITHIN_POLICY if restarts_in_interval < attempts else REASON_DELAY
        return {"Restarting": {"RestartReason": reason, "StartDelay": delay}}
    if attempts == 0:
        reason = REASON_NO_RESTARTS
    else:
        interval = wire.go_duration(int(policy.get("Interval") or 0))
        reason = f'Exceeded allowed attempts {attempts} in interval {interval} and mode is "fail"'
    return {"Not Restarting": {"RestartReason": reason, "FailsTask": True}}


def kill_event_fields(kill_timeout_ns: int | None) -> dict[str, Any]:
    """A ``Killing`` event's fields: the task's kill timeout, capped by the client's maximum."""
    timeout = DEFAULT_KILL_TIMEOUT_NS if not kill_timeout_ns else int(kill_timeout_ns)
    return {"KillTimeout": min(timeout, MAX_KILL_TIMEOUT_NS)}


def signal_event_fields(signal: str) -> dict[str, Any]:
    """A ``Signaling`` event from a signal request: the signal is recorded only in ``Details``
    (``SetSignalText``), so the event reads ``Task being sent a signal``."""
    return {"Details": {"signal": signal}}


def apply_task_transition(
    state: dict[str, Any], trigger: str, now_ns: int, event_fields: dict[str, dict[str, Any]] | None = None
) -> TaskTransition:
    """Move one ``TaskState`` on ``trigger``, recording its events (trimmed to the last 10)."""
    t = TASK_TRANSITIONS.get((state["State"], trigger))
    if t is None:
        raise IllegalTransition(f"task in state {state['State']!r} cannot take {trigger!r}")
    events = state.get("Events") or []
    for i, etype in enumerate(t.events):
        fields = dict((event_fields or {}).get(etype, {}))
        events.append(new_task_event(etype, now_ns + i * 1_000_000, **fields))
    state["Events"] = events[-MAX_TASK_EVENTS:]
    stamp = wire.rfc3339(now_ns)
    if t.to == "running" and state["State"] != "running":
        state["StartedAt"] = stamp
    if t.to == "dead":
        state["FinishedAt"] = stamp
    if t.restart:
        state["Restarts"] = int(state.get("Restarts") or 0) + 1
        state["LastRestart"] = stamp
    if t.failed is not None:
        state["Failed"] = t.failed
    state["State"] = t.to
    return t


def client_status(task_states: dict[str, dict[str, Any]]) -> str:
    """The allocation client status implied by its tasks (Nomad's ``getClientStatus``)."""
    states = list(task_states.values())
    if any(s["State"] == "dead" and s.get("Failed") for s in states):
        return "failed"
    if any(s["State"] == "running" for s in states):
        return "running"
    if any(s["State"] == "pending" for s in states):
        return "pending"
    return "complete"


CLIENT_DESCRIPTIONS = {
    "pending": "No tasks have started",
    "running": "Tasks are running",
    "complete": "All tasks have completed",
    "failed": "Failed tasks",
    "lost": "alloc is lost since its node is down",
}


@dataclass(frozen=True)
class Behaviour:
    """What a simulated task does once placed.

    ``start_s``: seconds from placement to ``Started``; ``run_s``: seconds until a clean exit
    (batch work; default 30 for batch/sysbatch, never for service/system); ``fail``: ``""``,
    ``"crash"`` (exit ``exit_code``) or ``"oom"`` (exit 137, OOM-killed) after ``fail_after_s``
    seconds of running; ``cpu_profile``/``mem_profile``: usage as a fraction of the task's
    ask (hashed from its names when unset); ``memory_mb``: the working set the process
    reaches once warmed up (``warmup_s`` after it starts, from 40 % of it). A task whose
    working set outgrows its memory limit is OOM-killed when it reaches the limit: the
    resolved behaviour then has ``fail="oom"`` and the time of the kill.
    """

    start_s: float = 2.0
    run_s: float | None = None
    fail: str = ""
    fail_after_s: float = 15.0
    exit_code: int = 1
    cpu_profile: float | None = None
    mem_profile: float | None = None
    memory_mb: float | None = None
    warmup_s: float = 60.0

    def memory_at(self, elapsed_s: float) -> float | None:
        """The working set (MB) ``elapsed_s`` after the start, or ``None`` when not scripted."""
        if self.memory_mb is None:
            return None
        ramp = 1.0 if self.warmup_s <= 0 else min(1.0, 0.4 + 0.6 * max(0.0, elapsed_s) / self.warmup_s)
        return self.memory_mb * ramp

    def under_limit(self, limit_mb: float) -> Behaviour:
        """This behaviour under a memory limit: OOM-killed when the working set reaches it."""
        if self.memory_mb is None or limit_mb <= 0 or self.memory_mb <= limit_mb or self.fail:
            return self
        share = limit_mb / self.memory_mb
        after = 1.0 if share <= 0.4 or self.warmup_s <= 0 else (share - 0.4) / 0.6 * self.warmup_s
        return replace(self, fail="oom", fail_after_s=max(1.0, after), exit_code=137)


_MATCH_KEYS = ("image", "command")


@dataclass(frozen=True)
class Script:
    """One rule of a :class:`Behaviours` table: the tasks it matches and what they do.

    A rule matches a task when every key it names equals the task's: ``image`` its
    ``Config.image`` (docker), ``command`` its ``Config.command`` (exec, raw_exec, or a docker
    task's entry point).
    """

    image: str = ""
    command: str = ""
    behaviour: Behaviour = field(default_factory=Behaviour)

    def matches(self, task: dict[str, Any]) -> bool:
        config = task.get("Config") or {}
        return all(not getattr(self, k) or str(config.get(k) or "") == getattr(self, k) for k in _MATCH_KEYS)

    @property
    def specificity(self) -> int:
        return sum(1 for k in _MATCH_KEYS if getattr(self, k))


class Behaviours:
    """A cluster's table of task behaviour, keyed by what a real cause would be keyed by.

    What a program does is a property of the program: an image tag that leaks memory, a
    migration command that runs four minutes. The table lives beside the cluster's state and
    never in a wire object, so nothing a client reads shows it.

    >>> table = Behaviours()
    >>> _ = table.script(image="example/api:2.4.0", memory_mb=760, warmup_s=90)
    >>> job = {"Type": "service"}
    >>> spec = {"Config": {"image": "example/api:2.4.0"}, "Resources": {"MemoryMB": 512}}
    >>> b = table.of(job, {}, spec)
    >>> b.fail, round(b.fail_after_s)
    ('oom', 41)
    """

    def __init__(self) -> None:
        self._rules: list[Script] = []

    def __len__(self) -> int:
        return len(self._rules)

    def __iter__(self) -> Iterator[Script]:
        return iter(self._rules)

    def script(self, *, image: str = "", command: str = "", **behaviour: Any) -> Script:
        """Add a rule: tasks running ``image`` and/or ``command`` behave as ``behaviour`` says.

        Parameters
        ----------
        image, command
            What the rule matches (at least one); see :class:`Script`.
        **behaviour
            Fields of :class:`Behaviour`.

        Raises
        ------
        ValueError
            Neither ``image`` nor ``command`` is given.
        TypeError
            A keyword names no field of :class:`Behaviour`.
        """
        if not image and not command:
            raise ValueError("a behaviour is scripted for an image or a command; give image= or command=")
        rule = Script(image=image, command=command, behaviour=Behaviour(**behaviour))
        self._rules.append(rule)
        return rule

    def of(self, job: dict[str, Any], tg: dict[str, Any], task: dict[str, Any]) -> Behaviour:
        """What ``task`` of group ``tg`` of ``job`` does, resolved under its memory limit.

        The most specific matching rule wins (image and command over either alone), the latest
        among equals; with none, the default behaviour of the job's type.
        """
        best: Script | None = None
        for rule in self._rules:
            if rule.matches(task) and (best is None or rule.specificity >= best.specificity):
                best = rule
        b = best.behaviour if best is not None else Behaviour()
        if b.run_s is None and job.get("Type") in ("batch", "sysbatch"):
            b = replace(b, run_s=30.0)
        res = task.get("Resources") or {}
        limit = float(res.get("MemoryMaxMB") or 0) or float(res.get("MemoryMB") or 0)
        return b.under_limit(limit)


def restart_decision(
    policy: dict[str, Any] | None, restarts_in_interval: int
) -> tuple[str, int]:
    """('restart' | 'fail', delay ns) under a RestartPolicy, as the client's restart tracker."""
    policy = policy or {}
    attempts = int(policy.get("Attempts") or 0)
    delay = int(policy.get("Delay") or 15 * NS_PER_S)
    if restarts_in_interval < attempts:
        return "restart", delay
    if (policy.get("Mode") or "fail") == "delay":
        return "restart", int(policy.get("Interval") or delay)
    return "fail", 0


def reschedule_eligible(policy: dict[str, Any] | None, tracker: dict[str, Any] | None, now_ns: int) -> bool:
    """Whether a failed allocation may be rescheduled (``ReschedulePolicy``)."""
    if not policy:
        return False
    if policy.get("Unlimited"):
        return True
    attempts = int(policy.get("Attempts") or 0)
    if attempts <= 0:
        return False
    interval = int(policy.get("Interval") or 0)
    events = (tracker or {}).get("Events") or []
    recent = [e for e in events if interval == 0 or now_ns - int(e["RescheduleTime"]) < interval]
    return len(recent) < attempts


def reschedule_delay_ns(policy: dict[str, Any], tracker: dict[str, Any] | None) -> int:
    """The wait before the next reschedule: constant, exponential or fibonacci, capped."""
    base = int(policy.get("Delay") or 0)
    cap = int(policy.get("MaxDelay") or 0)
    n = len((tracker or {}).get("Events") or [])
    fn = policy.get("DelayFunction") or "constant"
    if fn == "exponential":
        delay = base * (2 ** n)
    elif fn == "fibonacci":
        a, b = base, base
        for _ in range(n):
            a, b = b, a + b
        delay = a
    else:
        delay = base
    return int(min(delay, cap) if cap else delay)
