"""The incident timeline: one frame, ordered in time, of everything that happened to the jobs and nodes.

Merges job versions (with what changed), deployments and their outcome (with auto-reverts),
evaluations (with trigger and placement failures), allocation placements, losses and failures
(with rescheduling), task events, scaling events, and node events and status. Each row has a
``kind``, a ``severity``, the entity keys, and a one-line ``description``.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

import pandas as pd

from ._inputs import resolve, utc

__all__ = ["KINDS", "SEVERITIES", "incident_timeline"]

KINDS: tuple[str, ...] = ("job_version", "deployment", "scaling", "evaluation", "alloc_status", "task_event",
                          "node_event", "node_status")
SEVERITIES: tuple[str, ...] = ("info", "warning", "error", "critical")
COLUMNS = ("time", "kind", "severity", "namespace", "job_id", "task_group", "alloc_id", "alloc_name", "node_id",
           "node_name", "task", "eval_id", "deployment_id", "version", "type", "description", "details")
_STRINGS = ("namespace", "job_id", "task_group", "alloc_id", "alloc_name", "node_id", "node_name", "task", "eval_id",
            "deployment_id", "type", "description")
_ROLLBACK = re.compile(r"rolling back to job version (\d+)")
_NEEDED = ("job_versions", "deployments", "evaluations", "placement_failures", "allocations", "task_events",
           "nodes", "node_events")


def _short(path: str) -> str:
    """``TaskGroups[api].Tasks[api].Config.image`` → ``api/api: Config.image`` (readable, still exact)."""
    m = re.match(r"TaskGroups\[([^\]]*)\]\.(?:Tasks\[([^\]]*)\]\.)?(.*)", path)
    if not m:
        return path
    group, task, rest = m.groups()
    return f"{group}/{task}: {rest}" if task else f"{group}: {rest}"


def _na(v: Any) -> Any:
    return None if v is None or (not isinstance(v, (list, dict)) and pd.isna(v)) else v


def _versions(df: pd.DataFrame) -> list[dict[str, Any]]:
    rows = []
    for v in df.to_dict("records"):
        changes = v.get("changes")
        changes = changes if isinstance(changes, list) else None
        what = "; ".join(_short(c) for c in changes[:6]) if changes else ""
        if changes and len(changes) > 6:
            what += f"; … {len(changes) - 6} more"
        first = v.get("version") == 0 or changes is None
        desc = (f"{v['job_id']} v{v['version']} submitted"
                + ("" if first else (f": {what}" if what else ": no spec change"))
                + (" (stopped)" if v.get("stop") else ""))
        rows.append({"time": v["submit_time"], "kind": "job_version", "severity": "info",
                     "namespace": v["namespace"], "job_id": v["job_id"], "version": v["version"],
                     "type": "stop" if v.get("stop") else "submitted", "description": desc,
                     "details": {"changes": changes or [], "stable": _na(v.get("stable"))}})
    return rows


def _deployments(df: pd.DataFrame) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    for (dep_id, ns, job, ver), g in df.groupby(["deployment_id", "namespace", "job_id", "job_version"],
                                                 observed=True, dropna=False, sort=False):
        d = g.iloc[0]
        groups = ", ".join(f"{r.task_group} {r.healthy_allocs}/{r.desired_total} healthy"
                           for r in g.itertuples() if pd.notna(r.task_group))
        base = {"namespace": ns, "job_id": job, "deployment_id": dep_id, "version": ver}
        if pd.notna(d["create_time"]):
            rows.append({**base, "time": d["create_time"], "kind": "deployment", "severity": "info",
                         "type": "started", "description": f"deployment of {job} v{ver} started"})
        status = str(d["status"])
        if status in ("failed", "successful", "cancelled") and pd.notna(d["modify_time"]):
            why = d["status_description"] if pd.notna(d["status_description"]) else ""
            sev = {"failed": "error", "cancelled": "warning", "successful": "info"}[status]
            rows.append({**base, "time": d["modify_time"], "kind": "deployment", "severity": sev, "type": status,
                         "description": f"deployment of {job} v{ver} {status}" + (f": {why}" if why else "")
                         + (f" ({groups})" if groups else "")})
            m = _ROLLBACK.search(why)
            if m:
                rows.append({**base, "time": d["modify_time"], "kind": "deployment", "severity": "warning",
                             "type": "auto_revert",
                             "description": f"{job} auto-reverted from v{ver} to v{m.group(1)} "
                                            "after the failed deployment",
                             "details": {"reverted_to": int(m.group(1))}})
        elif status in ("running", "paused", "pending", "blocked"):
            pass
    return rows


def _evaluations(evals: pd.DataFrame, failures: pd.DataFrame) -> list[dict[str, Any]]:
    why: dict[str, str] = {}
    for eval_id, g in failures.groupby("eval_id", observed=True):
        parts = []
        for r in g.itertuples():
            if pd.isna(r.kind):
                continue
            nodes = f" on {r.count} node(s)" if pd.notna(r.count) else ""
            label = {"dimension": f"{r.reason} exhausted", "constraint": f"constraint {r.reason} filtered",
                     "class_exhausted": f"class {r.reason} exhausted", "class_filtered": f"class {r.reason} filtered",
                     "quota": f"quota {r.reason}"}.get(str(r.kind), str(r.reason))
            parts.append(f"{r.task_group}: {label}{nodes}")
        if parts:
            why[eval_id] = "; ".join(dict.fromkeys(parts))
    rows = []
    for e in evals.to_dict("records"):
        status = str(e["status"])
        failed = e.get("failed_task_groups")
        queued = e.get("queued_allocations")
        problem = status in ("failed", "blocked") or (pd.notna(failed) and failed > 0)
        sev = "error" if status == "failed" else "warning" if problem else "info"
        desc = f"evaluation ({e['triggered_by']}) of {e['job_id']}: {status}"
        if pd.notna(queued) and queued:
            desc += f", {queued} allocation(s) could not be placed"
        if e["eval_id"] in why:
            desc += f" ({why[e['eval_id']]})"
        elif pd.notna(e.get("status_description")) and problem:
            desc += f" ({e['status_description']})"
        rows.append({"time": e["create_time"], "kind": "evaluation", "severity": sev, "namespace": e["namespace"],
                     "job_id": e["job_id"], "eval_id": e["eval_id"], "node_id": _na(e.get("node_id")),
                     "deployment_id": _na(e.get("deployment_id")), "type": str(e["triggered_by"]),
                     "description": desc})
    return rows


def _allocations(allocs: pd.DataFrame) -> list[dict[str, Any]]:
    rows = []
    names = dict(zip(allocs["alloc_id"], allocs["name"], strict=True))
    status_of = dict(zip(allocs["alloc_id"], allocs["client_status"].astype("string"), strict=True))
    version_of = dict(zip(allocs["alloc_id"], allocs["job_version"], strict=True))
    for a in allocs.to_dict("records"):
        base = {"namespace": a["namespace"], "job_id": a["job_id"], "task_group": a["task_group"],
                "alloc_id": a["alloc_id"], "alloc_name": a["name"], "node_id": a["node_id"],
                "node_name": a["node_name"], "eval_id": a["eval_id"], "version": a["job_version"],
                "deployment_id": _na(a.get("deployment_id"))}
        prev = _na(a.get("previous_alloc"))
        if prev:
            prev_name = names.get(prev, prev[:8])
            prev_status = status_of.get(prev)
            rescheduled = prev_status in ("lost", "failed") or (
                prev_status is None and version_of.get(prev, a["job_version"]) == a["job_version"])
            if rescheduled:
                why = f", {prev_status}" if prev_status else ""
                rows.append({**base, "time": a["create_time"], "kind": "alloc_status", "severity": "warning",
                             "type": "rescheduled",
                             "description": f"{a['name']} rescheduled to {a['node_name']}, replacing {prev_name} "
                                            f"({prev[:8]}{why})",
                             "details": {"previous_alloc": prev}})
            else:
                rows.append({**base, "time": a["create_time"], "kind": "alloc_status", "severity": "info",
                             "type": "updated",
                             "description": f"{a['name']} placed on {a['node_name']} for v{a['job_version']}, "
                                            f"replacing {prev_name} ({prev[:8]})",
                             "details": {"previous_alloc": prev}})
        else:
            rows.append({**base, "time": a["create_time"], "kind": "alloc_status", "severity": "info",
                         "type": "placed", "description": f"{a['name']} placed on {a['node_name']}"})
        status = str(a["client_status"])
        if status in ("lost", "failed", "unknown"):
            why = _na(a.get("client_description")) or _na(a.get("desired_description")) or ""
            sev = {"lost": "error", "failed": "error", "unknown": "warning"}[status]
            rows.append({**base, "time": a["modify_time"], "kind": "alloc_status", "severity": sev, "type": status,
                         "description": f"{a['name']} {status} on {a['node_name']}" + (f": {why}" if why else "")})
    return rows


def _task_severity(e: dict[str, Any]) -> str:
    if e.get("oom_killed") is True:
        return "critical"
    if e.get("fails_task") is True or str(e["type"]) in ("Driver Failure", "Setup Failure", "Not Restarting",
                                                          "Failed Artifact Download", "Task hook failed"):
        return "error"
    code = e.get("exit_code")
    if str(e["type"]) == "Terminated" and pd.notna(code) and code != 0:
        return "error"
    if str(e["type"]) in ("Restarting", "Sibling Task Failed", "Alloc Unhealthy"):
        return "warning"
    return "info"


def _task_events(events: pd.DataFrame, allocs: pd.DataFrame) -> list[dict[str, Any]]:
    names = dict(zip(allocs["alloc_id"], allocs["name"], strict=True))
    node_names = dict(zip(allocs["alloc_id"], allocs["node_name"], strict=True))
    rows = []
    for e in events.to_dict("records"):
        kind = str(e["type"])
        msg = _na(e.get("message")) or ""
        extra = []
        if e.get("oom_killed") is True:
            extra.append("OOM killed")
        if kind == "Terminated" and pd.notna(e.get("exit_code")):
            extra.append(f"exit code {e['exit_code']}")
        if _na(e.get("restart_reason")) and e["restart_reason"] != msg:
            extra.append(str(e["restart_reason"]))
        alloc_name = names.get(e["alloc_id"], str(e["alloc_id"])[:8])
        desc = f"{e['task']} of {alloc_name}: {kind}" + (f": {msg}" if msg else "") + \
            (f" ({', '.join(extra)})" if extra else "")
        rows.append({"time": e["time"], "kind": "task_event", "severity": _task_severity(e),
                     "namespace": e["namespace"], "job_id": e["job_id"], "task_group": e["task_group"],
                     "alloc_id": e["alloc_id"], "alloc_name": alloc_name, "node_id": e["node_id"],
                     "node_name": node_names.get(e["alloc_id"]), "task": e["task"], "type": kind,
                     "description": desc})
    return rows


def _scaling(df: pd.DataFrame) -> list[dict[str, Any]]:
    return [{"time": s["time"], "kind": "scaling", "severity": "warning" if s.get("error") is True else "info",
             "namespace": s["namespace"], "job_id": s["job_id"], "task_group": s["task_group"],
             "eval_id": _na(s.get("eval_id")), "type": "error" if s.get("error") is True else "scaled",
             "description": f"{s['job_id']}/{s['task_group']} scaled {s['previous_count']} → {s['count']}"
             + (f": {s['message']}" if _na(s.get("message")) else "")}
            for s in df.to_dict("records")]


def _node_events(events: pd.DataFrame, nodes: pd.DataFrame) -> list[dict[str, Any]]:
    pools = dict(zip(nodes["node_id"], nodes["status"].astype("string"), strict=True))
    rows = []
    for e in events.to_dict("records"):
        msg = str(_na(e.get("message")) or "")
        low = msg.lower()
        if "heartbeat missed" in low:
            rows.append({"time": e["time"], "kind": "node_status", "severity": "critical",
                         "node_id": e["node_id"], "node_name": e["node_name"], "type": "down",
                         "description": f"node {e['node_name']} ({e['datacenter']}) went down: heartbeat missed"
                         + (f" (still {pools.get(e['node_id'])})" if pools.get(e['node_id']) else "")})
            continue
        sev = "info"
        if str(e["subsystem"]) == "Drain":
            sev = "warning"
        if str(e["subsystem"]) == "Driver" and ("unhealthy" in low or "undetected" in low):
            sev = "error"
        rows.append({"time": e["time"], "kind": "node_event", "severity": sev, "node_id": e["node_id"],
                     "node_name": e["node_name"], "type": str(e["subsystem"]),
                     "description": f"node {e['node_name']}: {msg}", "details": _na(e.get("details"))})
    return rows


def _as_set(value: str | Iterable[str] | None) -> set[str] | None:
    if value is None:
        return None
    return {value} if isinstance(value, str) else set(value)


def incident_timeline(
    source_or_frames: Any = None,
    *,
    since: Any = None,
    until: Any = None,
    job: str | Iterable[str] | None = None,
    node: str | Iterable[str] | None = None,
    min_severity: str = "info",
    routine: bool = False,
) -> pd.DataFrame:
    """Everything that happened, one row each, ordered in time.

    Parameters
    ----------
    source_or_frames
        A client or source (``job_versions``, ``deployments``, ``evaluations``,
        ``placement_failures``, ``allocations``, ``task_events``, ``nodes``, ``node_events`` and
        ``scaling_events`` are fetched), or a mapping with those frames (``scaling_events``
        optional).
    since, until
        Keep ``[since, until)`` (anything ``pd.Timestamp`` takes; naive is UTC).
    job
        Only rows of these jobs, plus the node rows of the nodes their allocations ran on.
    node
        Only rows on these nodes (ID or name).
    min_severity
        Drop rows below it (``info`` < ``warning`` < ``error`` < ``critical``).
    routine
        Keep routine rows (placements of healthy allocations, task setup and start events,
        completed evaluations of registrations, node registrations). Default: dropped when
        ``job``/``node`` is not given, so a cluster-wide timeline stays readable.

    Returns
    -------
    pandas.DataFrame
        Columns ``time`` (UTC), ``kind`` (:data:`KINDS`), ``severity`` (ordered category),
        ``namespace``, ``job_id``, ``task_group``, ``alloc_id``, ``alloc_name``, ``node_id``,
        ``node_name``, ``task``, ``eval_id``, ``deployment_id``, ``version`` (Int64), ``type``
        (the sub-type: ``Terminated``, ``failed``, ``lost``, ``auto_revert``...),
        ``description`` (one line) and ``details`` (dict or None).

    Examples
    --------
    >>> from nomadlab.sim.scenarios import build_scenario
    >>> from nomadlab.client import NomadClient
    >>> t = incident_timeline(NomadClient(transport=build_scenario("demo").transport()), min_severity="error")
    >>> "deployment" in set(t["kind"]) and bool((t["type"] == "lost").any())
    True
    """
    if min_severity not in SEVERITIES:
        raise ValueError(f"min_severity={min_severity!r}: choose one of {', '.join(SEVERITIES)}")
    frames = resolve(source_or_frames, _NEEDED, optional=("scaling_events",), what="incident_timeline()")
    scaling = frames.get("scaling_events")
    if scaling is None and not isinstance(source_or_frames, dict):
        import nomadlab.frames as nf

        scaling = nf.scaling_events(source_or_frames)
    jobs, nodes_wanted = _as_set(job), _as_set(node)
    allocs = frames["allocations"]
    rows = (_versions(frames["job_versions"]) + _deployments(frames["deployments"])
            + _evaluations(frames["evaluations"], frames["placement_failures"]) + _allocations(allocs)
            + _task_events(frames["task_events"], allocs) + _node_events(frames["node_events"], frames["nodes"])
            + (_scaling(scaling) if scaling is not None else []))
    out = pd.DataFrame(rows, columns=list(COLUMNS))
    out["time"] = pd.to_datetime(out["time"], utc=True)
    for col in _STRINGS:
        out[col] = out[col].astype("string")
    out["version"] = pd.array(pd.to_numeric(out["version"], errors="coerce"), dtype="Int64")
    out["kind"] = pd.Categorical(out["kind"], categories=KINDS)
    out["severity"] = pd.Categorical(out["severity"], categories=SEVERITIES, ordered=True)
    out = _mark_reverts(out)

    if not routine and jobs is None and nodes_wanted is None:
        out = out[~_is_routine(out)]
    if jobs is not None:
        job_nodes = set(allocs.loc[allocs["job_id"].isin(jobs), "node_id"])
        is_node_row = out["kind"].isin(["node_event", "node_status"])
        out = out[out["job_id"].isin(jobs).fillna(False) | (is_node_row & out["node_id"].isin(job_nodes))]
    if nodes_wanted is not None:
        out = out[out["node_id"].isin(nodes_wanted).fillna(False) | out["node_name"].isin(nodes_wanted).fillna(False)]
    lo, hi = utc(since), utc(until)
    if lo is not None:
        out = out[out["time"] >= lo]
    if hi is not None:
        out = out[out["time"] < hi]
    out = out[out["severity"] >= min_severity]
    return _ordered(out).reset_index(drop=True)


# Order of rows at the same instant: what causes comes before what follows from it (a node goes
# down, then its allocations are lost; a deployment fails, then it reverts, then the reverted
# version is submitted; a version is submitted, then its deployment starts).
_RANK = {"node_status": 0.0, "node_event": 1.0, "job_version": 2.0, "scaling": 3.0, "deployment": 4.0,
         "evaluation": 5.0, "alloc_status": 6.0, "task_event": 7.0}
_RANK_TYPE = {("deployment", "failed"): 1.5, ("deployment", "successful"): 1.5, ("deployment", "cancelled"): 1.5,
              ("deployment", "auto_revert"): 1.6, ("job_version", "revert"): 1.7}


def _ordered(out: pd.DataFrame) -> pd.DataFrame:
    kind = out["kind"].astype(str)
    rank = [_RANK_TYPE.get((k, t), _RANK.get(k, 9.0)) for k, t in zip(kind, out["type"].astype(object), strict=True)]
    return out.assign(_rank=rank).sort_values(["time", "_rank"], kind="stable").drop(columns="_rank")


def _mark_reverts(out: pd.DataFrame) -> pd.DataFrame:
    """A version submitted by an auto-revert says so (same job, within a second of the revert), and a
    version whose deployment failed is marked as such."""
    reverts = out[(out["kind"] == "deployment") & (out["type"] == "auto_revert")]
    for r in reverts.itertuples():
        hit = ((out["kind"] == "job_version") & (out["job_id"] == r.job_id) & (out["namespace"] == r.namespace)
               & (out["time"] >= r.time) & (out["time"] <= r.time + pd.Timedelta("1s"))).fillna(False)
        to = (r.details or {}).get("reverted_to")
        for i in out.index[hit.astype(bool)]:
            out.loc[i, "type"] = "revert"
            desc = str(out.loc[i, "description"]).replace(" submitted", f" submitted by the auto-revert to v{to}", 1)
            out.loc[i, "description"] = desc
            out.loc[i, "severity"] = "warning"
    failed = out[(out["kind"] == "deployment") & (out["type"] == "failed")]
    for r in failed.itertuples():
        hit = ((out["kind"] == "job_version") & (out["job_id"] == r.job_id) & (out["namespace"] == r.namespace)
               & (out["version"] == r.version)).fillna(False).astype(bool)
        for i in out.index[hit]:
            out.loc[i, "description"] = str(out.loc[i, "description"]).replace(
                " submitted", " submitted (its deployment failed)", 1)
            out.loc[i, "severity"] = "warning"
    return out


_ROUTINE_TASK = ("Received", "Task Setup", "Driver", "Started", "Building Task Directory", "Downloading Artifacts",
                 "Killing", "Killed", "Terminated")


def _is_routine(out: pd.DataFrame) -> pd.Series:
    kind, sev, typ = out["kind"].astype("string"), out["severity"].astype("string"), out["type"]
    routine = (kind == "alloc_status") & (typ == "placed")
    routine |= (kind == "task_event") & typ.isin(_ROUTINE_TASK) & (sev == "info")
    routine |= (kind == "evaluation") & (sev == "info")
    routine |= (kind == "node_event") & out["description"].str.endswith("Node registered")
    return routine.fillna(False).astype(bool)
