"""Restart and failure analysis: crash-looping tasks, OOM kills, exit codes, restart reasons."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, Literal

import pandas as pd

from ._inputs import resolve, utc

__all__ = ["failures", "restarts"]

_FAIL_TYPES = ("Driver Failure", "Setup Failure", "Failed Validation", "Failed Artifact Download",
               "Task hook failed", "Disk Resources Exceeded", "Failed Restoring Task")


def _events(source_or_frames: Any, since: Any, until: Any, job: str | Iterable[str] | None,
            node: str | Iterable[str] | None, what: str) -> tuple[pd.DataFrame, pd.DataFrame]:
    frames = resolve(source_or_frames, ("task_events", "allocations"), what=what)
    ev, allocs = frames["task_events"], frames["allocations"]
    if job is not None:
        jobs = {job} if isinstance(job, str) else set(job)
        ev = ev[ev["job_id"].isin(jobs)]
    if node is not None:
        nodes = {node} if isinstance(node, str) else set(node)
        names = dict(zip(allocs["node_id"], allocs["node_name"], strict=True))
        ev = ev[ev["node_id"].isin(nodes) | ev["node_id"].map(names).isin(nodes)]
    lo, hi = utc(since), utc(until)
    if lo is not None:
        ev = ev[ev["time"] >= lo]
    if hi is not None:
        ev = ev[ev["time"] < hi]
    return ev, allocs


def _classify(ev: pd.DataFrame) -> pd.Series:
    typ = ev["type"].astype("string")
    code = ev["exit_code"]
    cls = pd.Series(pd.NA, index=ev.index, dtype="string")
    term = typ == "Terminated"
    cls[term & ev["oom_killed"].fillna(False).astype(bool)] = "oom_killed"
    cls[term & cls.isna() & code.notna() & (code != 0)] = "exit_nonzero"
    cls[term & cls.isna() & ev["signal"].notna() & (ev["signal"] != 0)] = "signal"
    cls[typ.isin(_FAIL_TYPES)] = typ[typ.isin(_FAIL_TYPES)].str.lower().str.replace(" ", "_")
    cls[(typ == "Not Restarting") & cls.isna()] = "not_restarting"
    return cls.fillna("").astype("string").replace("", pd.NA)


def failures(
    source_or_frames: Any = None,
    *,
    since: Any = None,
    until: Any = None,
    job: str | Iterable[str] | None = None,
    node: str | Iterable[str] | None = None,
) -> pd.DataFrame:
    """Every task failure in the window, one row each: OOM kills, non-zero exits, driver and setup failures.

    Parameters
    ----------
    source_or_frames
        A client or source (``task_events`` and ``allocations`` are fetched), or a mapping of them.
    since, until
        Keep events in ``[since, until)``.
    job, node
        Only these jobs / nodes (node ID or name).

    Returns
    -------
    pandas.DataFrame
        ``time``, ``namespace``, ``job_id``, ``task_group``, ``task``, ``alloc_id``,
        ``alloc_name``, ``node_id``, ``node_name``, ``failure`` (``oom_killed``, ``exit_nonzero``,
        ``signal``, ``driver_failure``, ``setup_failure``, ``not_restarting``, ...),
        ``exit_code``, ``signal``, ``message``, ``fails_task``, oldest first. The
        ``Not Restarting`` row that follows a kill says the restart policy gave up.

    Examples
    --------
    >>> from nomadlab.sim.scenarios import build_scenario
    >>> from nomadlab.client import NomadClient
    >>> f = failures(NomadClient(transport=build_scenario("demo").transport()), job="api")
    >>> f["failure"].value_counts().index[0]
    'oom_killed'
    """
    ev, allocs = _events(source_or_frames, since, until, job, node, "failures()")
    cls = _classify(ev)
    ev = ev.assign(failure=cls)[cls.notna()]
    names = dict(zip(allocs["alloc_id"], allocs["name"], strict=True))
    node_names = dict(zip(allocs["node_id"], allocs["node_name"], strict=True))
    out = pd.DataFrame({
        "time": ev["time"], "namespace": ev["namespace"], "job_id": ev["job_id"], "task_group": ev["task_group"],
        "task": ev["task"], "alloc_id": ev["alloc_id"],
        "alloc_name": ev["alloc_id"].map(names).astype("string"), "node_id": ev["node_id"],
        "node_name": ev["node_id"].map(node_names).astype("string"), "failure": ev["failure"],
        "exit_code": ev["exit_code"], "signal": ev["signal"], "message": ev["message"],
        "fails_task": ev["fails_task"],
    })
    return out.sort_values("time", kind="stable").reset_index(drop=True)


def restarts(
    source_or_frames: Any = None,
    *,
    by: Literal["task", "job", "node"] = "task",
    since: Any = None,
    until: Any = None,
    job: str | Iterable[str] | None = None,
    node: str | Iterable[str] | None = None,
    top: int | None = None,
) -> pd.DataFrame:
    """Restarts, OOM kills and failures per task (job × group × task), per job or per node, worst first.

    Counts come from the task events kept in the window (the client keeps the last 10 per task, so
    a long crash loop shows its latest ten): ``restarts`` counts ``Restarting`` events,
    ``oom_kills`` OOM-killed terminations, ``failures`` terminations with a non-zero exit or a
    signal, driver/setup failures and restart policies that gave up (``Not Restarting``).

    Parameters
    ----------
    source_or_frames
        A client or source, or a mapping with ``task_events`` and ``allocations``.
    by
        ``task`` (namespace, job_id, task_group, task), ``job`` (namespace, job_id) or ``node``
        (node_id, node_name).
    since, until, job, node
        The window and the jobs / nodes to keep.
    top
        Keep the ``top`` worst rows.

    Returns
    -------
    pandas.DataFrame
        The keys, then ``restarts``, ``oom_kills``, ``failures`` (Int64), ``allocations`` (how
        many allocations had one of these), ``exit_codes`` (dict exit code → count),
        ``top_reason`` (the most common failure message, else restart reason), ``last`` (time of
        the latest such event); rows with nothing to report are left out.

    Examples
    --------
    >>> from nomadlab.sim.scenarios import build_scenario
    >>> from nomadlab.client import NomadClient
    >>> r = restarts(NomadClient(transport=build_scenario("demo").transport()), by="job")
    >>> r.iloc[0]["job_id"]
    'api'
    """
    if by not in ("task", "job", "node"):
        raise ValueError(f"by={by!r}: choose task, job or node")
    ev, allocs = _events(source_or_frames, since, until, job, node, "restarts()")
    cls = _classify(ev)
    typ = ev["type"].astype("string")
    ev = ev.assign(
        _restart=(typ == "Restarting").astype(int),
        _oom=(cls == "oom_killed").fillna(False).astype(int),
        _fail=(cls.notna() & (cls != "oom_killed")).fillna(False).astype(int),
        _why=ev["message"].where(cls.notna()),
        _restart_why=ev["restart_reason"].where(typ == "Restarting"),
    )
    ev = ev[(ev["_restart"] + ev["_oom"] + ev["_fail"]) > 0]
    node_names = dict(zip(allocs["node_id"], allocs["node_name"], strict=True))
    ev = ev.assign(node_name=ev["node_id"].map(node_names).astype("string"))
    keys = {"task": ["namespace", "job_id", "task_group", "task"], "job": ["namespace", "job_id"],
            "node": ["node_id", "node_name"]}[by]
    rows = []
    for key, g in ev.groupby(keys, observed=True, dropna=False, sort=False):
        key = key if isinstance(key, tuple) else (key,)
        codes = g.loc[g["type"].astype("string") == "Terminated", "exit_code"].dropna()
        why = g["_why"].dropna()
        why = why if len(why) else g["_restart_why"].dropna()
        rows.append({**dict(zip(keys, key, strict=True)), "restarts": int(g["_restart"].sum()),
                     "oom_kills": int(g["_oom"].sum()), "failures": int(g["_fail"].sum()),
                     "allocations": int(g["alloc_id"].nunique()),
                     "exit_codes": {int(k): int(v) for k, v in codes.value_counts().items()},
                     "top_reason": why.value_counts().index[0] if len(why) else None,
                     "last": g["time"].max()})
    out = pd.DataFrame(rows, columns=[*keys, "restarts", "oom_kills", "failures", "allocations", "exit_codes",
                                      "top_reason", "last"])
    for col in keys:
        out[col] = out[col].astype("string")
    for col in ("restarts", "oom_kills", "failures", "allocations"):
        out[col] = pd.array(out[col], dtype="Int64")
    out["top_reason"] = out["top_reason"].astype("string")
    out["last"] = pd.to_datetime(out["last"], utc=True)
    out = out.assign(_total=out["restarts"] + out["oom_kills"] + out["failures"]).sort_values(
        ["_total", "oom_kills", "last"], ascending=[False, False, False], kind="stable").drop(columns="_total")
    if top is not None:
        out = out.head(top)
    return out.reset_index(drop=True)
