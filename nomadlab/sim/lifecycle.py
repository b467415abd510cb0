"""Task and allocation lifecycles, as transition tables driven by the simulated clock.

A task moves through ``pending → running → dead`` on *triggers* (start, exit, kill, ...). Each
transition is one row of :data:`TASK_TRANSITIONS`: the state it leads to and the task events
(Nomad's exact type strings) it records. The allocation's client status is then derived from its
tasks' states by :func:`client_status`, as Nomad's client does, and checked against
:data:`CLIENT_TRANSITIONS`. What a task *does* (how long it starts, whether it exits, crashes or
is OOM-killed) comes from the job's ``Meta`` (see :class:`Behaviour`), so a scenario can script an
incident without special code.
"""

from __future__ import annotations

from dataclasses import dataclass
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
    "BEHAVIOUR_META_PREFIX",
]

BEHAVIOUR_META_PREFIX = "nomadlab.sim."


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
    ("running", "kill"): TaskTransition("dead", ("Killing", "Killed"), failed=False),
    ("pending", "kill"): TaskTransition("dead", ("Killing", "Killed"), failed=False),
    ("running", "lost"): TaskTransition("dead", (), failed=False),
    ("pending", "lost"): TaskTransition("dead", (), failed=False),
    ("pending", "sibling_failed"): TaskTransition("dead", ("Sibling Task Failed",), failed=False),
    ("running", "sibling_failed"): TaskTransition("dead", ("Killing", "Sibling Task Failed", "Killed"), failed=False),
}

# Allocation client-status changes the simulator allows (from, to).
CLIENT_TRANSITIONS: frozenset[tuple[str, str]] = frozenset({
    ("pending", "running"), ("pending", "failed"), ("pending", "complete"), ("pending", "lost"),
    ("running", "complete"), ("running", "failed"), ("running", "lost"), ("running", "pending"),
    ("pending", "unknown"), ("running", "unknown"), ("unknown", "running"), ("unknown", "lost"),
})

MAX_TASK_EVENTS = 10  # the client keeps the last 10 events per task


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
        events.append(wire.task_event(etype, now_ns + i * 1_000_000, **fields))
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
    """What a simulated task does, read from ``Meta`` keys prefixed ``nomadlab.sim.``.

    ``start_s``: seconds from placement to ``Started`` (default 2); ``run_s``: seconds until a
    clean exit (batch work; default 30 for batch/sysbatch, never for service/system);
    ``fail``: ``""``, ``"crash"`` (exit code 1) or ``"oom"`` (exit 137, OOM-killed) after
    ``fail_after_s`` seconds of running (default 15); ``pull_s``: image download time for docker.
    """

    start_s: float = 2.0
    run_s: float | None = None
    fail: str = ""
    fail_after_s: float = 15.0
    exit_code: int = 1

    @classmethod
    def of(cls, job: dict[str, Any], tg: dict[str, Any], task: dict[str, Any]) -> Behaviour:
        meta: dict[str, str] = {}
        for source in (job.get("Meta"), tg.get("Meta"), task.get("Meta")):
            meta.update(source or {})

        def get(key: str) -> str | None:
            return meta.get(BEHAVIOUR_META_PREFIX + key)

        run = get("run_s")
        batch = job.get("Type") in ("batch", "sysbatch")
        return cls(
            start_s=float(get("start_s") or 2.0),
            run_s=float(run) if run else (30.0 if batch else None),
            fail=(get("fail") or ""),
            fail_after_s=float(get("fail_after_s") or 15.0),
            exit_code=int(get("exit_code") or 1),
        )


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
