"""Job wire shapes: register-time canonicalization, list stubs, summaries and scale status.

``canonicalize_job`` turns the ``Job`` of a register body (``api.Job`` JSON; keys in any case)
into the full ``structs.Job`` object that ``GET /v1/job/:id`` returns, applying the defaults
that Nomad's API canonicalization and server-side hooks apply, and rejecting what Nomad's
job validation rejects.
"""

from __future__ import annotations

from typing import Any

from nomadlab.sim.errors import NomadHTTPError
from nomadlab.sim.wire_common import NS_PER_S, ci_get, deep, multierror

__all__ = [
    "canonicalize_job",
    "job_stub",
    "new_job_summary",
    "job_scale_status",
    "scaling_event",
    "JOB_TYPES",
    "validation_errors",
]

JOB_TYPES = ("service", "batch", "system", "sysbatch")
_MIN_PRIORITY, _MAX_PRIORITY = 1, 100
_S = NS_PER_S
_MIN = 60 * _S
_H = 60 * _MIN

# Defaults applied by Nomad's api package (api/jobs.go, api/tasks.go, api/resources.go).
_DEFAULT_UPDATE = {
    "Stagger": 30 * _S,
    "MaxParallel": 1,
    "HealthCheck": "checks",
    "MinHealthyTime": 10 * _S,
    "HealthyDeadline": 5 * _MIN,
    "ProgressDeadline": 10 * _MIN,
    "AutoRevert": False,
    "AutoPromote": False,
    "Canary": 0,
}
_DEFAULT_MIGRATE = {
    "MaxParallel": 1,
    "HealthCheck": "checks",
    "MinHealthyTime": 10 * _S,
    "HealthyDeadline": 5 * _MIN,
}
_SERVICE_RESTART = {
    "Attempts": 2,
    "Interval": 30 * _MIN,
    "Delay": 15 * _S,
    "Mode": "fail",
    "RenderTemplates": False,
}
_BATCH_RESTART = {
    "Attempts": 3,
    "Interval": 24 * _H,
    "Delay": 15 * _S,
    "Mode": "fail",
    "RenderTemplates": False,
}
_RESCHEDULE_BY_TYPE: dict[str, dict[str, Any]] = {
    "service": {
        "Attempts": 0,
        "Interval": 0,
        "Delay": 30 * _S,
        "DelayFunction": "exponential",
        "MaxDelay": 1 * _H,
        "Unlimited": True,
    },
    "batch": {
        "Attempts": 1,
        "Interval": 24 * _H,
        "Delay": 5 * _S,
        "DelayFunction": "constant",
        "MaxDelay": 0,
        "Unlimited": False,
    },
}
_ZERO_RESCHEDULE = {
    "Attempts": 0,
    "Interval": 0,
    "Delay": 0,
    "DelayFunction": "",
    "MaxDelay": 0,
    "Unlimited": False,
}
_ZERO_UPDATE = {k: (False if isinstance(v, bool) else "" if isinstance(v, str) else 0)
                for k, v in _DEFAULT_UPDATE.items()}


# -- small field helpers ---------------------------------------------------------------------
def _s(src: Any, name: str, default: str = "") -> str:
    v = ci_get(src, name)
    return default if v is None else str(v)


def _i(src: Any, name: str, default: int = 0) -> int:
    v = ci_get(src, name)
    return default if v is None else int(v)


def _b(src: Any, name: str, default: bool = False) -> bool:
    v = ci_get(src, name)
    return default if v is None else bool(v)


def _opt_map(src: Any, name: str) -> dict[str, Any] | None:
    """A map field; empty maps become null, as Nomad's canonicalization does for Meta/Env."""
    v = ci_get(src, name)
    return deep(v) if isinstance(v, dict) and v else None


def _list(src: Any, name: str) -> list[Any]:
    v = ci_get(src, name)
    return list(v) if isinstance(v, list) else []


def _merge(defaults: dict[str, Any], given: Any) -> dict[str, Any]:
    """``defaults`` overridden by every non-null field of ``given`` (case-insensitive)."""
    out: dict[str, Any] = deep(defaults)
    for key in defaults:
        v = ci_get(given, key)
        if v is not None:
            out[key] = deep(v)
    return out


# -- nested objects --------------------------------------------------------------------------
def _constraints(src: Any, name: str = "Constraints") -> list[dict[str, Any]] | None:
    items = [
        {"LTarget": _s(c, "LTarget"), "RTarget": _s(c, "RTarget"), "Operand": _s(c, "Operand")}
        for c in _list(src, name)
    ]
    return items or None


def _affinities(src: Any) -> list[dict[str, Any]] | None:
    items = [
        {
            "LTarget": _s(a, "LTarget"),
            "RTarget": _s(a, "RTarget"),
            "Operand": _s(a, "Operand"),
            "Weight": _i(a, "Weight", 50),
        }
        for a in _list(src, "Affinities")
    ]
    return items or None


def _spreads(src: Any) -> list[dict[str, Any]] | None:
    items = []
    for sp in _list(src, "Spreads"):
        targets = [
            {"Value": _s(t, "Value"), "Percent": _i(t, "Percent")}
            for t in _list(sp, "SpreadTarget")
        ]
        items.append(
            {"Attribute": _s(sp, "Attribute"), "Weight": _i(sp, "Weight", 50),
             "SpreadTarget": targets or None}
        )
    return items or None


def _port(p: Any) -> dict[str, Any]:
    return {
        "Label": _s(p, "Label"),
        "Value": _i(p, "Value"),
        "To": _i(p, "To"),
        "HostNetwork": _s(p, "HostNetwork") or "default",
        "IgnoreCollision": _b(p, "IgnoreCollision"),
    }


def _network(n: Any) -> dict[str, Any]:
    out: dict[str, Any] = {
        "Mode": _s(n, "Mode"),
        "Device": _s(n, "Device"),
        "CIDR": _s(n, "CIDR"),
        "IP": _s(n, "IP"),
        "MBits": _i(n, "MBits"),
        "DNS": deep(ci_get(n, "DNS")),
        "ReservedPorts": [_port(p) for p in _list(n, "ReservedPorts")] or None,
        "DynamicPorts": [_port(p) for p in _list(n, "DynamicPorts")] or None,
        "CNI": deep(ci_get(n, "CNI")),
    }
    if _s(n, "Hostname"):
        out["Hostname"] = _s(n, "Hostname")  # omitempty in Nomad
    return out


def _networks(src: Any) -> list[dict[str, Any]] | None:
    return [_network(n) for n in _list(src, "Networks")] or None


def _resources(src: Any) -> dict[str, Any]:
    cores = ci_get(src, "Cores")
    cpu = ci_get(src, "CPU")
    if cpu is None:
        cpu = 100 if cores is None else 0  # api.Resources.Canonicalize
    devices = [
        {
            "Name": _s(d, "Name"),
            "Count": _i(d, "Count", 1),
            "Constraints": _constraints(d),
            "Affinities": _affinities(d),
        }
        for d in _list(src, "Devices")
    ]
    return {
        "CPU": int(cpu),
        "Cores": int(cores or 0),
        "MemoryMB": _i(src, "MemoryMB", 300),
        "MemoryMaxMB": _i(src, "MemoryMaxMB"),
        "DiskMB": _i(src, "DiskMB"),
        "IOPS": _i(src, "IOPS"),
        "Networks": _networks(src),
        "Devices": devices or None,
        "NUMA": deep(ci_get(src, "NUMA")),
        "SecretsMB": _i(src, "SecretsMB"),
    }


def _service(svc: Any, default_name: str, task_name: str = "") -> dict[str, Any]:
    checks = []
    for c in _list(svc, "Checks"):
        checks.append(
            {
                "Name": _s(c, "Name"),
                "Type": _s(c, "Type"),
                "Command": _s(c, "Command"),
                "Args": deep(ci_get(c, "Args")),
                "Path": _s(c, "Path"),
                "Protocol": _s(c, "Protocol"),
                "PortLabel": _s(c, "PortLabel"),
                "Expose": _b(c, "Expose"),
                "AddressMode": _s(c, "AddressMode"),
                "Interval": _i(c, "Interval"),
                "Timeout": _i(c, "Timeout"),
                "InitialStatus": _s(c, "InitialStatus"),
                "TLSServerName": _s(c, "TLSServerName"),
                "TLSSkipVerify": _b(c, "TLSSkipVerify"),
                "Method": _s(c, "Method"),
                "Header": deep(ci_get(c, "Header")),
                "CheckRestart": deep(ci_get(c, "CheckRestart")),
                "GRPCService": _s(c, "GRPCService"),
                "GRPCUseTLS": _b(c, "GRPCUseTLS"),
                "TaskName": _s(c, "TaskName") or task_name,
                "SuccessBeforePassing": _i(c, "SuccessBeforePassing"),
                "FailuresBeforeCritical": _i(c, "FailuresBeforeCritical"),
                "FailuresBeforeWarning": _i(c, "FailuresBeforeWarning"),
                "Body": _s(c, "Body"),
                "OnUpdate": _s(c, "OnUpdate") or "require_healthy",
            }
        )
    return {
        "Name": _s(svc, "Name") or default_name,
        "TaskName": _s(svc, "TaskName") or task_name,
        "PortLabel": _s(svc, "PortLabel"),
        "AddressMode": _s(svc, "AddressMode") or "auto",
        "Address": _s(svc, "Address"),
        "EnableTagOverride": _b(svc, "EnableTagOverride"),
        "Tags": deep(ci_get(svc, "Tags")),
        "CanaryTags": deep(ci_get(svc, "CanaryTags")),
        "Checks": checks or None,
        "Connect": deep(ci_get(svc, "Connect")),
        "Meta": _opt_map(svc, "Meta"),
        "CanaryMeta": _opt_map(svc, "CanaryMeta"),
        "TaggedAddresses": _opt_map(svc, "TaggedAddresses"),
        "Namespace": _s(svc, "Namespace"),
        "OnUpdate": _s(svc, "OnUpdate") or "require_healthy",
        "Provider": _s(svc, "Provider") or "consul",
        "Cluster": _s(svc, "Cluster") or "default",
        "Identity": deep(ci_get(svc, "Identity")),
        "Kind": _s(svc, "Kind"),
        "Weights": deep(ci_get(svc, "Weights")),
    }


def _log_config(src: Any) -> dict[str, Any]:
    return {
        "MaxFiles": _i(src, "MaxFiles", 10),
        "MaxFileSizeMB": _i(src, "MaxFileSizeMB", 10),
        "Disabled": _b(src, "Disabled"),
    }


def _artifact(a: Any) -> dict[str, Any]:
    mode = _s(a, "GetterMode") or "any"
    source = _s(a, "GetterSource")
    dest = ci_get(a, "RelativeDest")
    if dest is None:
        dest = "local/" + source.rstrip("/").rsplit("/", 1)[-1] if mode == "file" else "local/"
    return {
        "GetterSource": source,
        "GetterOptions": _opt_map(a, "GetterOptions"),
        "GetterHeaders": _opt_map(a, "GetterHeaders"),
        "GetterMode": mode,
        "GetterInsecure": _b(a, "GetterInsecure"),
        "RelativeDest": str(dest),
        "Chown": _b(a, "Chown"),
    }


def _template(t: Any) -> dict[str, Any]:
    change_mode = _s(t, "ChangeMode") or "restart"
    signal = ci_get(t, "ChangeSignal")
    if signal is None:
        signal = "SIGHUP" if change_mode == "signal" else ""
    signal = str(signal).upper()
    return {
        "SourcePath": _s(t, "SourcePath"),
        "DestPath": _s(t, "DestPath"),
        "EmbeddedTmpl": _s(t, "EmbeddedTmpl"),
        "ChangeMode": change_mode,
        "ChangeSignal": signal,
        "ChangeScript": deep(ci_get(t, "ChangeScript")),
        "Splay": _i(t, "Splay", 5 * _S),
        "Perms": _s(t, "Perms") or "0644",
        "Uid": deep(ci_get(t, "Uid")),
        "Gid": deep(ci_get(t, "Gid")),
        "LeftDelim": _s(t, "LeftDelim") or "{{",
        "RightDelim": _s(t, "RightDelim") or "}}",
        "Envvars": _b(t, "Envvars"),
        "VaultGrace": _i(t, "VaultGrace"),
        "Wait": deep(ci_get(t, "Wait")),
        "ErrMissingKey": _b(t, "ErrMissingKey"),
        "Once": _b(t, "Once"),
    }


def _task(t: Any, job_name: str, tg_name: str, group_restart: dict[str, Any]) -> dict[str, Any]:
    name = _s(t, "Name")
    lifecycle = ci_get(t, "Lifecycle")
    if not _s(lifecycle, "Hook"):
        lifecycle = None  # api.Task.Canonicalize drops an empty lifecycle
    else:
        lifecycle = {"Hook": _s(lifecycle, "Hook"), "Sidecar": _b(lifecycle, "Sidecar")}
    dispatch = ci_get(t, "DispatchPayload")
    services = [_service(s, f"{job_name}-{tg_name}-{name}", name) for s in _list(t, "Services")]
    config = ci_get(t, "Config")
    return {
        "Name": name,
        "Driver": _s(t, "Driver"),
        "User": _s(t, "User"),
        "Config": deep(config) if isinstance(config, dict) and config else None,
        "Env": _opt_map(t, "Env"),
        "Services": services or None,
        "Vault": deep(ci_get(t, "Vault")),
        "Secrets": deep(ci_get(t, "Secrets")),
        "Consul": deep(ci_get(t, "Consul")),
        "Templates": [_template(x) for x in _list(t, "Templates")] or None,
        "Constraints": _constraints(t),
        "Affinities": _affinities(t),
        "Resources": _resources(ci_get(t, "Resources") or {}),
        "RestartPolicy": _merge(group_restart, ci_get(t, "RestartPolicy")),
        "DispatchPayload": None if dispatch is None else {"File": _s(dispatch, "File")},
        "Lifecycle": lifecycle,
        "Meta": _opt_map(t, "Meta"),
        "KillTimeout": _i(t, "KillTimeout", 5 * _S),
        "LogConfig": _log_config(ci_get(t, "LogConfig") or {}),
        "Artifacts": [_artifact(a) for a in _list(t, "Artifacts")] or None,
        "Leader": _b(t, "Leader"),
        "ShutdownDelay": _i(t, "ShutdownDelay"),
        "VolumeMounts": deep(ci_get(t, "VolumeMounts")),
        "ScalingPolicies": deep(ci_get(t, "ScalingPolicies")),
        "KillSignal": _s(t, "KillSignal"),
        "Kind": _s(t, "Kind"),
        "CSIPluginConfig": deep(ci_get(t, "CSIPluginConfig")),
        "Identity": deep(ci_get(t, "Identity")),
        "Identities": deep(ci_get(t, "Identities")),
        "Actions": deep(ci_get(t, "Actions")),
        "Schedule": deep(ci_get(t, "Schedule")),
    }


def _group_update(job_update: Any, tg: Any, job_type: str) -> dict[str, Any] | None:
    given = ci_get(tg, "Update")
    if job_update is None and job_type == "service":
        job_update = _DEFAULT_UPDATE  # api.Job.Canonicalize gives service jobs an update block
    if job_update is not None and given is not None:
        merged = _merge(_merge(_ZERO_UPDATE, job_update), given)
        present = {k for k in _DEFAULT_UPDATE if ci_get(job_update, k) is not None
                   or ci_get(given, k) is not None}
    elif job_update is not None and any(ci_get(job_update, k) is not None
                                        for k in _DEFAULT_UPDATE):
        merged = _merge(_ZERO_UPDATE, job_update)
        present = {k for k in _DEFAULT_UPDATE if ci_get(job_update, k) is not None}
    elif given is not None:
        merged = _merge(_ZERO_UPDATE, given)
        present = {k for k in _DEFAULT_UPDATE if ci_get(given, k) is not None}
    else:
        return None
    return {k: (merged[k] if k in present else _DEFAULT_UPDATE[k]) for k in _DEFAULT_UPDATE}


def _group(tg: Any, job: Any, job_name: str, job_type: str) -> dict[str, Any]:
    name = _s(tg, "Name")
    scaling = ci_get(tg, "Scaling")
    count = ci_get(tg, "Count")
    if count is None:
        count = ci_get(scaling, "Min") if ci_get(scaling, "Min") is not None else 1
    restart = _merge(_SERVICE_RESTART if job_type in ("service", "system") else _BATCH_RESTART,
                     ci_get(tg, "RestartPolicy"))
    # Reschedule: job-level merged with group-level, then defaults by type (none for system).
    job_resched, tg_resched = ci_get(job, "Reschedule"), ci_get(tg, "ReschedulePolicy")
    if job_resched is None and tg_resched is None:
        reschedule = (None if job_type == "system"
                      else deep(_RESCHEDULE_BY_TYPE.get(job_type, _ZERO_RESCHEDULE)))
    else:
        base = _RESCHEDULE_BY_TYPE.get(job_type, _ZERO_RESCHEDULE)
        reschedule = _merge(_merge(base, job_resched), tg_resched)
    job_migrate, tg_migrate = ci_get(job, "Migrate"), ci_get(tg, "Migrate")
    if job_migrate is None and tg_migrate is None:
        migrate = deep(_DEFAULT_MIGRATE) if job_type == "service" else None
    else:
        migrate = _merge(_merge(_DEFAULT_MIGRATE, job_migrate), tg_migrate)
    disk = ci_get(tg, "EphemeralDisk")
    disconnect = ci_get(tg, "Disconnect")
    if disconnect is not None:
        disconnect = {
            "LostAfter": _i(disconnect, "LostAfter"),
            "Replace": _b(disconnect, "Replace", True),
            "Reconcile": _s(disconnect, "Reconcile") or "best_score",
            "StopOnClientAfter": deep(ci_get(disconnect, "StopOnClientAfter")),
        }
    consul = ci_get(tg, "Consul")
    services = [_service(s, f"{job_name}-{name}") for s in _list(tg, "Services")]
    return {
        "Name": name,
        "Count": int(count),
        "Update": _group_update(ci_get(job, "Update"), tg, job_type),
        "Migrate": migrate,
        "Constraints": _constraints(tg),
        "Scaling": deep(scaling),
        "RestartPolicy": restart,
        "Disconnect": disconnect,
        "Tasks": [_task(t, job_name, name, restart) for t in _list(tg, "Tasks")],
        "EphemeralDisk": {
            "Sticky": _b(disk, "Sticky"),
            "SizeMB": _i(disk, "SizeMB", 300),
            "Migrate": _b(disk, "Migrate"),
        },
        "Meta": _opt_map(tg, "Meta"),
        "ReschedulePolicy": reschedule,
        "Affinities": _affinities(tg),
        "Spreads": _spreads(tg),
        "Networks": _networks(tg),
        "Consul": {
            "Namespace": _s(consul, "Namespace") or _s(job, "ConsulNamespace"),
            "Cluster": _s(consul, "Cluster") or "default",
            "Partition": _s(consul, "Partition"),
        },
        "Services": services or None,
        "Volumes": deep(ci_get(tg, "Volumes")),
        "ShutdownDelay": deep(ci_get(tg, "ShutdownDelay")),
        "MaxRunDuration": deep(ci_get(tg, "MaxRunDuration")),
        "StopAfterClientDisconnect": deep(ci_get(tg, "StopAfterClientDisconnect")),
        "MaxClientDisconnect": deep(ci_get(tg, "MaxClientDisconnect")),
        "PreventRescheduleOnLost": _b(tg, "PreventRescheduleOnLost"),
    }


def _validate(job: dict[str, Any]) -> list[str]:
    """Nomad's ``Job.Validate`` subset: the texts the register endpoint answers with."""
    errs: list[str] = []
    if job["ID"] == "":
        errs.append("Missing job ID")
    elif " " in job["ID"]:
        errs.append("Job ID contains a space")
    elif "\x00" in job["ID"]:
        errs.append("Job ID contains a null character")
    if job["Name"] == "":
        errs.append("Missing job name")
    elif "\x00" in job["Name"]:
        errs.append("Job Name contains a null character")
    if job["Namespace"] == "":
        errs.append("Job must be in a namespace")
    if job["Type"] == "":
        errs.append("Missing job type")
    elif job["Type"] not in JOB_TYPES + ("_core",):
        errs.append(f'Invalid job type: "{job["Type"]}"')
    if not _MIN_PRIORITY <= job["Priority"] <= _MAX_PRIORITY:
        errs.append(f"Job priority must be between [{_MIN_PRIORITY}, {_MAX_PRIORITY}]")
    if not job["TaskGroups"]:
        errs.append("Missing job task groups")
    seen: dict[str, int] = {}
    for idx, tg in enumerate(job["TaskGroups"]):
        if tg["Name"] == "":
            errs.append(f"Job task group {idx + 1} missing name")
        elif tg["Name"] in seen:
            errs.append(f"Job task group {idx + 1} redefines '{tg['Name']}' from group "
                        f"{seen[tg['Name']] + 1}")
        else:
            seen[tg["Name"]] = idx
        if job["Type"] == "system" and tg["Count"] > 1:
            errs.append(f"Job task group {tg['Name']} has count {tg['Count']}. "
                        "Count cannot exceed 1 with system scheduler")
    for tg in job["TaskGroups"]:
        tg_errs = _validate_group(tg)
        if tg_errs:
            errs.append(f"Task group {tg['Name']} validation failed: {multierror(tg_errs)}")
    return errs


def _validate_group(tg: dict[str, Any]) -> list[str]:
    errs: list[str] = []
    if tg["Count"] < 0:
        errs.append("Task group count can't be negative")
    if not tg["Tasks"]:
        errs.append("Missing tasks for task group")
    if tg["EphemeralDisk"]["SizeMB"] < 10:
        errs.append(f"minimum DiskMB value is 10; got {tg['EphemeralDisk']['SizeMB']}")
    seen: dict[str, int] = {}
    leaders = 0
    for idx, task in enumerate(tg["Tasks"]):
        if task["Name"] == "":
            errs.append(f"Task {idx + 1} missing name")
        elif task["Name"] in seen:
            first = seen[task["Name"]] + 1
            errs.append(f"Task {idx + 1} redefines '{task['Name']}' from task {first}")
        else:
            seen[task["Name"]] = idx
        leaders += bool(task["Leader"])
    if leaders > 1:
        errs.append("Only one task may be marked as leader")
    for task in tg["Tasks"]:
        t_errs = _validate_task(task)
        if t_errs:
            errs.append(f"Task {task['Name']} validation failed: {multierror(t_errs)}")
    return errs


def _validate_task(task: dict[str, Any]) -> list[str]:
    errs: list[str] = []
    if task["Name"] == "":
        errs.append("Missing task name")
    elif "/" in task["Name"]:
        errs.append("Task name cannot include slashes")
    if task["Driver"] == "":
        errs.append("Missing task driver")
    if task["KillTimeout"] < 0:
        errs.append("KillTimeout must be a positive value")
    res = task["Resources"]
    if res["CPU"] < 1 and res["Cores"] == 0:
        errs.append(f"minimum CPU value is 1; got {res['CPU']}")
    if res["MemoryMB"] < 10:
        errs.append(f"minimum MemoryMB value is 10; got {res['MemoryMB']}")
    return errs


def canonicalize_job(
    spec: dict[str, Any],
    *,
    region: str = "global",
    namespace: str | None = None,
    validation_status: int = 500,
    validate: bool = True,
) -> dict[str, Any]:
    """Build the full ``structs.Job`` wire object from a register body's ``Job``.

    Parameters
    ----------
    spec:
        The ``Job`` of a ``POST /v1/jobs`` body (``api.Job`` JSON). Keys match
        case-insensitively; unknown keys are ignored.
    region:
        The agent's region; used unless the job names a region other than ``global``.
    namespace:
        The request namespace (query or body), which wins over the job's own ``Namespace``.
    validation_status:
        HTTP status for validation failures (the text is Nomad's multierror rendering).
        Nomad's register RPC returns them uncoded, so the HTTP layer answers 500.
    validate:
        Run Nomad's job validation (``False`` for ``/v1/validate/job``, which reports it).

    Returns
    -------
    dict
        Every ``structs.Job`` field; ``Version`` 0, ``Status`` ``"pending"``, indexes and
        ``SubmitTime`` 0 for the caller to set.

    Raises
    ------
    NomadHTTPError
        400 ``Job ID hasn't been provided`` when ``ID`` is absent; otherwise
        ``validation_status`` with Nomad's validation texts.
    """
    if not isinstance(spec, dict):
        raise NomadHTTPError(400, "Job must be specified")
    if ci_get(spec, "ID") is None:
        raise NomadHTTPError(400, "Job ID hasn't been provided")
    job_id = _s(spec, "ID")
    job_type = _s(spec, "Type", "service") if ci_get(spec, "Type") is not None else "service"
    job_name = _s(spec, "Name", job_id) if ci_get(spec, "Name") is not None else job_id
    job_region = _s(spec, "Region")
    ns = namespace or _s(spec, "Namespace") or "default"

    job_update = ci_get(spec, "Update")
    if job_update is None and job_type == "service":
        job_update = _DEFAULT_UPDATE
    update = deep(_ZERO_UPDATE)
    if job_update is not None and _i(job_update, "MaxParallel") > 0:
        update["Stagger"] = _i(job_update, "Stagger")
        update["MaxParallel"] = _i(job_update, "MaxParallel")

    periodic = ci_get(spec, "Periodic")
    if periodic is not None:
        periodic = {
            "Enabled": _b(periodic, "Enabled", True),
            "Spec": _s(periodic, "Spec"),
            "Specs": deep(ci_get(periodic, "Specs")),
            "SpecType": _s(periodic, "SpecType") or "cron",
            "ProhibitOverlap": _b(periodic, "ProhibitOverlap"),
            "TimeZone": _s(periodic, "TimeZone") or "UTC",
        }
    param = ci_get(spec, "ParameterizedJob")
    if param is not None:
        param = {
            "Payload": _s(param, "Payload") or "optional",
            "MetaRequired": deep(ci_get(param, "MetaRequired")),
            "MetaOptional": deep(ci_get(param, "MetaOptional")),
        }
    datacenters = _list(spec, "Datacenters")

    job: dict[str, Any] = {
        "Stop": _b(spec, "Stop"),
        "Region": job_region if job_region and job_region != "global" else region,
        "Namespace": ns,
        "ID": job_id,
        "ParentID": _s(spec, "ParentID"),
        "Name": job_name,
        "Type": job_type,
        "Priority": _i(spec, "Priority", 50),
        "AllAtOnce": _b(spec, "AllAtOnce"),
        "Datacenters": [str(d) for d in datacenters] if datacenters else ["*"],
        "NodePool": _s(spec, "NodePool") or "default",
        "Constraints": _constraints(spec),
        "Affinities": _affinities(spec),
        "Spreads": _spreads(spec),
        "TaskGroups": [_group(tg, spec, job_name, job_type) for tg in _list(spec, "TaskGroups")],
        "Update": update,
        "Multiregion": deep(ci_get(spec, "Multiregion")),
        "Periodic": periodic,
        "ParameterizedJob": param,
        "Dispatched": _b(spec, "Dispatched"),
        "DispatchIdempotencyToken": _s(spec, "DispatchIdempotencyToken"),
        "Payload": deep(ci_get(spec, "Payload")),
        "Meta": _opt_map(spec, "Meta"),
        "ConsulNamespace": _s(spec, "ConsulNamespace"),
        "VaultNamespace": _s(spec, "VaultNamespace"),
        "NomadTokenID": "",
        "Status": "pending",
        "StatusDescription": "",
        "Stable": False,
        "Version": 0,
        "SubmitTime": 0,
        "CreateIndex": 0,
        "ModifyIndex": 0,
        "JobModifyIndex": 0,
        "UI": deep(ci_get(spec, "UI")),
        "VersionTag": deep(ci_get(spec, "VersionTag")),
    }
    errs = _validate(job) if validate else []
    if errs:
        raise NomadHTTPError(validation_status, multierror(errs))
    return job


def validation_errors(job: dict[str, Any]) -> list[str]:
    """What ``Job.Validate`` finds wrong with a canonicalized job (``[]`` when nothing)."""
    return _validate(job)


# -- list stub, summary, scale ---------------------------------------------------------------
def job_stub(job: dict[str, Any], summary: dict[str, Any], *, meta: bool = False) -> dict[str, Any]:
    """Project a full job into a ``JobListStub`` (``GET /v1/jobs``).

    ``Meta`` is added only with ``meta=True`` and only when non-empty (omitempty).
    """
    stub: dict[str, Any] = {
        "ID": job["ID"],
        "ParentID": job["ParentID"],
        "Name": job["Name"],
        "Namespace": job["Namespace"],
        "Datacenters": deep(job["Datacenters"]),
        "NodePool": job["NodePool"],
        "Multiregion": deep(job.get("Multiregion")),
        "Type": job["Type"],
        "Priority": job["Priority"],
        "Periodic": job.get("Periodic") is not None,
        "ParameterizedJob": job.get("ParameterizedJob") is not None and not job.get("Dispatched"),
        "Stop": job["Stop"],
        "Status": job["Status"],
        "StatusDescription": job["StatusDescription"],
        "JobSummary": deep(summary),
        "CreateIndex": job["CreateIndex"],
        "ModifyIndex": job["ModifyIndex"],
        "JobModifyIndex": job["JobModifyIndex"],
        "SubmitTime": job["SubmitTime"],
    }
    if meta and job.get("Meta"):
        stub["Meta"] = deep(job["Meta"])
    return stub


def new_job_summary(job: dict[str, Any], *, index: int) -> dict[str, Any]:
    """A fresh ``JobSummary``: every group zeroed (``Unknown`` included), children zeroed."""
    zero = {"Queued": 0, "Complete": 0, "Failed": 0, "Running": 0, "Starting": 0, "Lost": 0,
            "Unknown": 0}
    return {
        "JobID": job["ID"],
        "Namespace": job["Namespace"],
        "Summary": {tg["Name"]: dict(zero) for tg in job["TaskGroups"]},
        "Children": {"Pending": 0, "Running": 0, "Dead": 0},
        "CreateIndex": index,
        "ModifyIndex": index,
    }


def _alloc_terminal(alloc: dict[str, Any]) -> bool:
    return alloc.get("DesiredStatus") in ("stop", "evict") or alloc.get("ClientStatus") in (
        "complete", "failed", "lost")


def job_scale_status(
    job: dict[str, Any],
    allocs: list[dict[str, Any]],
    scaling_events: dict[str, list[dict[str, Any]]],
) -> dict[str, Any]:
    """Build ``JobScaleStatus`` (``GET /v1/job/:id/scale``).

    Per group: ``Desired`` is the count; non-terminal, non-canary allocations count as
    ``Placed``, running ones as ``Running``, and those with deployment health as
    ``Healthy``/``Unhealthy``. ``Events`` is the group's scaling events or null.
    """
    groups: dict[str, dict[str, Any]] = {}
    for tg in job["TaskGroups"]:
        events = scaling_events.get(tg["Name"]) if scaling_events else None
        groups[tg["Name"]] = {
            "Desired": tg["Count"], "Placed": 0, "Running": 0, "Healthy": 0, "Unhealthy": 0,
            "Events": deep(events) if events is not None else None,
        }
    for alloc in allocs:
        ds = alloc.get("DeploymentStatus")
        if ds and ds.get("Canary"):
            continue
        if _alloc_terminal(alloc):
            continue
        g = groups.get(alloc.get("TaskGroup", ""))
        if g is None:
            continue
        g["Placed"] += 1
        if alloc.get("ClientStatus") == "running":
            g["Running"] += 1
        if ds and ds.get("Healthy") is not None:
            g["Healthy" if ds["Healthy"] else "Unhealthy"] += 1
    return {
        "JobID": job["ID"],
        "Namespace": job["Namespace"],
        "JobCreateIndex": job["CreateIndex"],
        "JobModifyIndex": job["JobModifyIndex"],
        "JobStopped": job["Stop"],
        "TaskGroups": groups,
    }


def scaling_event(
    *,
    time_ns: int,
    count: int | None,
    previous_count: int,
    message: str,
    error: bool,
    meta: dict[str, Any] | None,
    eval_id: str | None,
    create_index: int = 0,
) -> dict[str, Any]:
    """A ``ScalingEvent``: ``Count`` null when only a message was recorded."""
    return {
        "Time": int(time_ns),
        "Count": count,
        "PreviousCount": int(previous_count),
        "Message": message,
        "Error": bool(error),
        "Meta": deep(meta),
        "EvalID": eval_id,
        "CreateIndex": int(create_index),
    }
