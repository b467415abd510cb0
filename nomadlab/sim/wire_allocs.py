"""Allocation, task-state, evaluation and deployment wire shapes."""

from __future__ import annotations

from typing import Any

from nomadlab.sim.wire_common import ZERO_TIME, deep, go_duration, rfc3339

__all__ = [
    "TASK_EVENT_FIELDS",
    "new_task_state",
    "task_event",
    "display_message",
    "alloc_metric",
    "new_allocation",
    "alloc_stub",
    "new_evaluation",
    "new_deployment",
]

# Every TaskEvent field with its Go zero value, in structs.TaskEvent order.
TASK_EVENT_FIELDS: dict[str, Any] = {
    "Type": "",
    "Time": 0,
    "Message": "",
    "DisplayMessage": "",
    "Details": None,
    "FailsTask": False,
    "RestartReason": "",
    "SetupError": "",
    "DriverError": "",
    "ExitCode": 0,
    "Signal": 0,
    "KillTimeout": 0,
    "KillError": "",
    "KillReason": "",
    "StartDelay": 0,
    "DownloadError": "",
    "ValidationError": "",
    "DiskLimit": 0,
    "FailedSibling": "",
    "VaultError": "",
    "TaskSignalReason": "",
    "TaskSignal": "",
    "DriverMessage": "",
    "GenericSource": "",
}

# Go field -> Details key, as Nomad's TaskEvent setters record them.
_DETAIL_KEYS = {
    "FailsTask": "fails_task",
    "RestartReason": "restart_reason",
    "SetupError": "setup_error",
    "DriverError": "driver_error",
    "ExitCode": "exit_code",
    "Signal": "signal",
    "KillTimeout": "kill_timeout",
    "KillError": "kill_error",
    "KillReason": "kill_reason",
    "StartDelay": "start_delay",
    "DownloadError": "download_error",
    "ValidationError": "validation_error",
    "DiskLimit": "disk_limit",
    "FailedSibling": "failed_sibling",
    "VaultError": "vault_renewal_error",
    "TaskSignalReason": "task_signal_reason",
    "TaskSignal": "task_signal",
    "DriverMessage": "driver_message",
}
_RESTART_WITHIN_POLICY = "Restart within policy"


def _same(value: Any) -> Any:
    return value


def _detail_value(field: str, value: Any) -> str:
    if field == "KillTimeout":
        return go_duration(int(value))
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def display_message(event: dict[str, Any]) -> str:
    """The ``DisplayMessage`` Nomad's HTTP layer computes for a task event of each type."""
    t = event.get("Type", "")

    def g(key: str, default: Any = None) -> Any:
        return event.get(key, default)

    if t == "Task Setup":
        return str(g("Message", ""))
    if t == "Started":
        return "Task started by client"
    if t == "Received":
        return "Task received by client"
    if t == "Failed Validation":
        return g("ValidationError") or "Validation of task failed"
    if t == "Setup Failure":
        return g("SetupError") or "Task setup failed"
    if t == "Driver Failure":
        return g("DriverError") or "Failed to start task"
    if t == "Downloading Artifacts":
        return "Client is downloading artifacts"
    if t == "Failed Artifact Download":
        return g("DownloadError") or "Failed to download artifacts"
    if t == "Killing":
        if g("KillReason"):
            return str(g("KillReason"))
        if g("KillTimeout"):
            wait = go_duration(int(g("KillTimeout")))
            return f"Sent interrupt. Waiting {wait} before force killing"
        return "Sent interrupt"
    if t == "Killed":
        return g("KillError") or "Task successfully killed"
    if t == "Terminated":
        parts = [f"Exit Code: {int(g('ExitCode', 0))}"]
        if g("Signal"):
            parts.append(f"Signal: {int(g('Signal'))}")
        if g("Message"):
            parts.append("Exit Message: " + _go_quote(str(g("Message"))))
        return ", ".join(parts)
    if t == "Restarting":
        delay = f"Task restarting in {go_duration(int(g('StartDelay', 0)))}"
        reason = g("RestartReason", "")
        return f"{reason} - {delay}" if reason and reason != _RESTART_WITHIN_POLICY else delay
    if t == "Not Restarting":
        return g("RestartReason") or "Task exceeded restart policy"
    if t == "Sibling Task Failed":
        sib = g("FailedSibling")
        return f"Task's sibling {_go_quote(sib)} failed" if sib else "Task's sibling failed"
    if t == "Signaling":
        sig, reason = g("TaskSignal", ""), g("TaskSignalReason", "")
        if not sig and not reason:
            return "Task being sent a signal"
        if not sig:
            return str(reason)
        if not reason:
            return f"Task being sent signal {sig}"
        return f"Task being sent signal {sig}: {reason}"
    if t == "Restart Signaled":
        return g("RestartReason") or "Task signaled to restart"
    if t == "Driver":
        return str(g("DriverMessage", ""))
    if t == "Leader Task Dead":
        return "Leader Task in Group dead"
    if t == "Main Tasks Dead":
        return "Main tasks in the group died"
    if t == "Reconnected":
        return "Client reconnected"
    return str(g("Message", ""))


def _go_quote(s: str) -> str:
    """Go's ``%q`` for ordinary text: double quotes with backslash escapes."""
    out = s.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n").replace("\t", "\\t")
    return f'"{out}"'


def task_event(event_type: str, time_ns: int, **fields: Any) -> dict[str, Any]:
    """A full ``TaskEvent`` with every field, ``Details`` filled like Nomad's setters.

    Parameters
    ----------
    event_type:
        The event ``Type`` (e.g. ``"Terminated"``, ``"Started"``).
    time_ns:
        Unix nanoseconds.
    **fields:
        Overrides by Go field name (``ExitCode=137``, ``Signal=9``, ``Message=...``,
        ``Details={...}`` merged last). ``OOMKilled=True`` records ``oom_killed`` in Details
        only, as Nomad has no such top-level field.

    Returns
    -------
    dict
        The event; ``DisplayMessage`` computed per type unless given.
    """
    oom = fields.pop("OOMKilled", None)
    extra_details = fields.pop("Details", None)
    unknown = set(fields) - set(TASK_EVENT_FIELDS)
    if unknown:
        raise TypeError(f"unknown TaskEvent fields: {sorted(unknown)}")
    event: dict[str, Any] = deep(TASK_EVENT_FIELDS)
    event.update(deep(fields))
    event["Type"] = event_type
    event["Time"] = int(time_ns)
    details: dict[str, str] = {}
    for field, key in _DETAIL_KEYS.items():
        if field in fields:
            details[key] = _detail_value(field, fields[field])
    if event_type == "Terminated":
        details.setdefault("exit_code", str(event["ExitCode"]))
        details.setdefault("signal", str(event["Signal"]))
        details["oom_killed"] = "true" if oom else "false"
        if event["Message"]:
            details["exit_message"] = event["Message"]
    elif oom is not None:
        details["oom_killed"] = "true" if oom else "false"
    if "Message" in fields and event["Message"] and event_type != "Terminated":
        details.setdefault("message", event["Message"])
    if extra_details:
        details.update({str(k): str(v) for k, v in extra_details.items()})
    event["Details"] = details
    if not event["DisplayMessage"]:
        event["DisplayMessage"] = display_message(event)
    return event


def new_task_state() -> dict[str, Any]:
    """A fresh ``TaskState``: pending, no restarts, zero times, no events yet.

    ``Events`` is ``null``: the server creates the state with a nil slice and the client
    appends the first event (``Received``) when it picks the allocation up.
    """
    return {
        "State": "pending",
        "Failed": False,
        "Restarts": 0,
        "LastRestart": ZERO_TIME,
        "StartedAt": ZERO_TIME,
        "FinishedAt": ZERO_TIME,
        "Events": None,
        "TaskHandle": None,
        "Paused": "",
    }


def alloc_metric(
    *,
    nodes_evaluated: int = 0,
    nodes_filtered: int = 0,
    nodes_in_pool: int = 0,
    nodes_available: dict[str, int] | None = None,
    class_filtered: dict[str, int] | None = None,
    constraint_filtered: dict[str, int] | None = None,
    nodes_exhausted: int = 0,
    class_exhausted: dict[str, int] | None = None,
    dimension_exhausted: dict[str, int] | None = None,
    quota_exhausted: list[str] | None = None,
    scores: dict[str, float] | None = None,
    allocation_time_ns: int = 0,
    coalesced_failures: int = 0,
    resources_exhausted: dict[str, Any] | None = None,
    score_meta_data: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    """An ``AllocMetric`` (placement metrics) with every field."""
    return {
        "NodesEvaluated": nodes_evaluated,
        "NodesFiltered": nodes_filtered,
        "NodesInPool": nodes_in_pool,
        "NodesAvailable": deep(nodes_available),
        "ClassFiltered": deep(class_filtered),
        "ConstraintFiltered": deep(constraint_filtered),
        "NodesExhausted": nodes_exhausted,
        "ClassExhausted": deep(class_exhausted),
        "DimensionExhausted": deep(dimension_exhausted),
        "QuotaExhausted": deep(quota_exhausted),
        "ResourcesExhausted": deep(resources_exhausted),
        "Scores": deep(scores),
        "ScoreMetaData": deep(score_meta_data),
        "AllocationTime": allocation_time_ns,
        "CoalescedFailures": coalesced_failures,
    }


def _alloc_networks(networks: list[dict[str, Any]] | None, ip: str,
                    ports: dict[str, int]) -> list[dict[str, Any]] | None:
    if not networks:
        return None
    out = []
    for n in networks:
        nn = deep(n)
        nn["IP"] = nn.get("IP") or ip
        nn["Mode"] = nn.get("Mode") or "host"
        for key in ("DynamicPorts", "ReservedPorts"):
            for p in nn.get(key) or []:
                if p["Label"] in ports:
                    p["Value"] = ports[p["Label"]]
        out.append(nn)
    return out


def _legacy_resources(cpu: int, mem: int, mem_max: int, cores: int, disk: int,
                      networks: list[dict[str, Any]] | None) -> dict[str, Any]:
    return {
        "CPU": cpu, "Cores": cores, "MemoryMB": mem, "MemoryMaxMB": mem_max, "DiskMB": disk,
        "IOPS": 0, "Networks": networks, "Devices": None, "NUMA": None, "SecretsMB": 0,
    }


def new_allocation(
    *,
    alloc_id: str,
    eval_id: str,
    job: dict[str, Any],
    task_group: str,
    index: int,
    node: dict[str, Any],
    now_ns: int,
    create_index: int,
    deployment_id: str = "",
    previous_allocation: str = "",
    metrics: dict[str, Any] | None = None,
    ports: dict[str, int] | None = None,
) -> dict[str, Any]:
    """A full ``Allocation`` as the scheduler creates it for one group instance.

    Parameters
    ----------
    job:
        The full job; embedded as given (the caller owns copying policy).
    ports:
        Optional port label -> assigned host port, filled into the group networks.

    Returns
    -------
    dict
        ``DesiredStatus`` ``run``, ``ClientStatus`` ``pending``, a pending ``TaskState`` per
        task, ``AllocatedResources`` from the group's tasks, and the legacy summed
        ``Resources``/``SharedResources`` (``TaskResources`` null).
    """
    tg = next((g for g in job["TaskGroups"] if g["Name"] == task_group), None)
    if tg is None:
        raise KeyError(f"task group {task_group!r} not in job {job['ID']!r}")
    ip = node.get("HTTPAddr", "").rsplit(":", 1)[0] or ""
    ports = ports or {}
    shared_networks = _alloc_networks(tg.get("Networks"), ip, ports)
    shared_ports = [
        {"Label": p["Label"], "Value": p["Value"], "To": p["To"], "HostIP": n["IP"],
         "IgnoreCollision": p.get("IgnoreCollision", False)}
        for n in shared_networks or []
        for key in ("ReservedPorts", "DynamicPorts")
        for p in n.get(key) or []
    ]
    disk_mb = tg["EphemeralDisk"]["SizeMB"]
    tasks: dict[str, Any] = {}
    lifecycles: dict[str, Any] = {}
    cpu = mem = mem_max = cores = 0
    for task in tg["Tasks"]:
        r = task["Resources"]
        tasks[task["Name"]] = {
            "Cpu": {"CpuShares": r["CPU"], "ReservedCores": None},
            "Memory": {"MemoryMB": r["MemoryMB"], "MemoryMaxMB": r["MemoryMaxMB"]},
            "Networks": _alloc_networks(r.get("Networks"), ip, ports),
            "Devices": None,
        }
        lifecycles[task["Name"]] = deep(task.get("Lifecycle"))
        cpu += r["CPU"]
        mem += r["MemoryMB"]
        mem_max += r["MemoryMaxMB"]
        cores += r["Cores"]
    return {
        "ID": alloc_id,
        "Namespace": job["Namespace"],
        "EvalID": eval_id,
        "Name": f"{job['ID']}.{task_group}[{index}]",
        "NodeID": node["ID"],
        "NodeName": node["Name"],
        "JobID": job["ID"],
        "Job": job,
        "TaskGroup": task_group,
        "Resources": _legacy_resources(cpu, mem, mem_max, cores, disk_mb, deep(shared_networks)),
        "SharedResources": _legacy_resources(0, 0, 0, 0, disk_mb, deep(shared_networks)),
        "TaskResources": None,
        "AllocatedResources": {
            "Tasks": tasks,
            "TaskLifecycles": lifecycles,
            "Shared": {"Networks": shared_networks, "DiskMB": disk_mb,
                       "Ports": shared_ports or None},
        },
        "Metrics": deep(metrics) if metrics is not None else alloc_metric(),
        "DesiredStatus": "run",
        "DesiredDescription": "",
        "DesiredTransition": {
            "Migrate": None, "Reschedule": None, "ForceReschedule": None,
            "NoShutdownDelay": None, "MigrateDisablePlacement": None,
        },
        "ClientStatus": "pending",
        "ClientDescription": "",
        "TaskStates": {t["Name"]: new_task_state() for t in tg["Tasks"]},
        "AllocStates": None,
        "PreviousAllocation": previous_allocation,
        "NextAllocation": "",
        "DeploymentID": deployment_id,
        "DeploymentStatus": None,
        "RescheduleTracker": None,
        "NetworkStatus": None,
        "FollowupEvalID": "",
        "PreemptedAllocations": None,
        "PreemptedByAllocation": "",
        "SigningKeyID": "",
        "CreateIndex": create_index,
        "ModifyIndex": create_index,
        "AllocModifyIndex": create_index,
        "CreateTime": now_ns,
        "ModifyTime": now_ns,
    }


def alloc_stub(alloc: dict[str, Any], *, resources: bool = False,
               task_states: bool = True, copy: bool = True) -> dict[str, Any]:
    """Project a full allocation into an ``AllocListStub``.

    ``AllocatedResources`` only with ``resources=True`` (omitempty); ``TaskStates`` null
    with ``task_states=False``. With ``copy=False`` nested values are shared with ``alloc``
    instead of copied: for callers that encode the stub at once, under the state lock.
    """
    project = deep if copy else _same
    job = alloc.get("Job") or {}
    stub: dict[str, Any] = {
        "ID": alloc["ID"],
        "EvalID": alloc["EvalID"],
        "Name": alloc["Name"],
        "Namespace": alloc["Namespace"],
        "NodeID": alloc["NodeID"],
        "NodeName": alloc["NodeName"],
        "JobID": alloc["JobID"],
        "JobType": job.get("Type", ""),
        "JobVersion": job.get("Version", 0),
        "TaskGroup": alloc["TaskGroup"],
    }
    if resources:
        stub["AllocatedResources"] = project(alloc.get("AllocatedResources"))
    stub.update({
        "DesiredStatus": alloc["DesiredStatus"],
        "DesiredDescription": alloc["DesiredDescription"],
        "ClientStatus": alloc["ClientStatus"],
        "ClientDescription": alloc["ClientDescription"],
        "DesiredTransition": project(alloc["DesiredTransition"]),
        "TaskStates": project(alloc["TaskStates"]) if task_states else None,
        "DeploymentStatus": project(alloc.get("DeploymentStatus")),
        "FollowupEvalID": alloc.get("FollowupEvalID", ""),
        "NextAllocation": alloc.get("NextAllocation", ""),
        "RescheduleTracker": project(alloc.get("RescheduleTracker")),
        "PreemptedAllocations": project(alloc.get("PreemptedAllocations")),
        "PreemptedByAllocation": alloc.get("PreemptedByAllocation", ""),
        "CreateIndex": alloc["CreateIndex"],
        "ModifyIndex": alloc["ModifyIndex"],
        "CreateTime": alloc["CreateTime"],
        "ModifyTime": alloc["ModifyTime"],
    })
    return stub


def new_evaluation(
    *,
    eval_id: str,
    namespace: str,
    job_id: str,
    priority: int,
    eval_type: str,
    triggered_by: str,
    job_modify_index: int,
    now_ns: int,
    index: int,
    status: str = "pending",
    node_id: str = "",
    node_modify_index: int = 0,
    deployment_id: str = "",
    previous_eval: str = "",
    wait_ns: int = 0,
) -> dict[str, Any]:
    """A full ``Evaluation`` with every field."""
    return {
        "ID": eval_id,
        "Namespace": namespace,
        "Priority": priority,
        "Type": eval_type,
        "TriggeredBy": triggered_by,
        "JobID": job_id,
        "JobModifyIndex": job_modify_index,
        "NodeID": node_id,
        "NodeModifyIndex": node_modify_index,
        "DeploymentID": deployment_id,
        "Status": status,
        "StatusDescription": "",
        "Wait": wait_ns,
        "WaitUntil": ZERO_TIME,
        "NextEval": "",
        "PreviousEval": previous_eval,
        "BlockedEval": "",
        "RelatedEvals": None,
        "FailedTGAllocs": None,
        "ClassEligibility": None,
        "QuotaLimitReached": "",
        "EscapedComputedClass": False,
        "AnnotatePlan": False,
        "QueuedAllocations": None,
        "LeaderACL": "",
        "SnapshotIndex": 0,
        "CreateIndex": index,
        "ModifyIndex": index,
        "CreateTime": now_ns,
        "ModifyTime": now_ns,
    }


def new_deployment(
    *,
    deployment_id: str,
    job: dict[str, Any],
    now_ns: int,
    index: int,
    status: str = "running",
    description: str = "Deployment is running",
    eval_priority: int = 0,
) -> dict[str, Any]:
    """A ``Deployment`` with a ``DeploymentState`` per group that has an update block.

    ``RequireProgressBy`` is ``now + ProgressDeadline`` when a deadline is set, else the
    zero time; ``PlacedCanaries`` null until canaries are placed.
    """
    groups: dict[str, Any] = {}
    for tg in job["TaskGroups"]:
        upd = tg.get("Update")
        if not upd:
            continue
        deadline = upd.get("ProgressDeadline", 0)
        groups[tg["Name"]] = {
            "AutoRevert": upd.get("AutoRevert", False),
            "AutoPromote": upd.get("AutoPromote", False),
            "ProgressDeadline": deadline,
            "RequireProgressBy": rfc3339(now_ns + deadline) if deadline else ZERO_TIME,
            "Promoted": False,
            "PlacedCanaries": None,
            "DesiredCanaries": upd.get("Canary", 0),
            "DesiredTotal": tg["Count"],
            "PlacedAllocs": 0,
            "HealthyAllocs": 0,
            "UnhealthyAllocs": 0,
        }
    return {
        "ID": deployment_id,
        "Namespace": job["Namespace"],
        "JobID": job["ID"],
        "JobVersion": job["Version"],
        "JobModifyIndex": job["JobModifyIndex"],
        "JobSpecModifyIndex": job["JobModifyIndex"],
        "JobCreateIndex": job["CreateIndex"],
        "IsMultiregion": job.get("Multiregion") is not None,
        "TaskGroups": groups,
        "Status": status,
        "StatusDescription": description,
        "EvalPriority": eval_priority or job["Priority"],
        "CreateIndex": index,
        "ModifyIndex": index,
        "CreateTime": now_ns,
        "ModifyTime": now_ns,
    }
