"""Task states over time: the spans a task spent pending, running and dead, from its events.

Nomad keeps only a task's current state (``TaskState.State``) and its last events; the spans in
between are rebuilt here from the event types, the way Nomad's task runner moves the state:

- ``Received``, ``Task Setup``, ``Building Task Directory``, ``Downloading Artifacts``,
  ``Driver`` and other set-up events before the first start: **pending**;
- ``Started``: **running**;
- ``Restarting``: **pending** again (the task waits out the restart delay), one restart more;
- ``Not Restarting``, ``Killed``, any event that fails the task (``fails_task``) and a
  ``Terminated`` that is the task's last event (a batch task that finished): **dead**.

A ``Terminated`` followed by ``Restarting`` does not change the state by itself (Nomad keeps the
task running until the restart decision), nor do ``Killing``, ``Signaling``, ``Template`` or
the other notices.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

__all__ = ["SPAN_COLUMNS", "STATES", "task_spans"]

STATES: tuple[str, ...] = ("pending", "running", "dead")
"""Nomad's task states, in the order of the ``state`` categories."""

SPAN_COLUMNS: tuple[str, ...] = (
    "namespace", "job_id", "task_group", "alloc_id", "node_id", "task",
    "span", "state", "start", "end", "duration", "restarts", "events",
)
"""The columns of :func:`task_spans`, in order."""

_KEYS = ["alloc_id", "task"]
_CARRIED = ["namespace", "job_id", "task_group", "node_id"]
# Events that move the state whatever it was.
_HARD: dict[str, str] = {
    "Started": "running",
    "Restarting": "pending",
    "Not Restarting": "dead",
    "Killed": "dead",
}
# Events that only say the task is being set up: pending when no state is known yet.
_SETUP = frozenset({
    "Received", "Task Setup", "Building Task Directory", "Downloading Artifacts", "Driver",
    "Template", "Task hook message",
})
_STATE_DTYPE = pd.CategoricalDtype(list(STATES))


def _empty() -> pd.DataFrame:
    utc = "datetime64[ns, UTC]"
    dtypes: dict[str, Any] = {c: "string" for c in (*_CARRIED, *_KEYS)}
    dtypes.update(span="Int64", state=_STATE_DTYPE, start=utc, end=utc, duration="timedelta64[ns]",
                  restarts="Int64", events="Int64")
    return pd.DataFrame({c: pd.Series(dtype=dtypes[c]) for c in SPAN_COLUMNS})


def task_spans(
    task_events: pd.DataFrame,
    tasks: pd.DataFrame | None = None,
    *,
    now: pd.Timestamp | str | None = None,
) -> pd.DataFrame:
    """Contiguous spans of each allocation × task in one state (pending, running or dead).

    Parameters
    ----------
    task_events
        The ``task_events`` frame (``nomadlab.frames.task_events``), or any frame with its
        columns ``alloc_id``, ``task``, ``time``, ``type``, ``fails_task`` and the join keys
        ``namespace``, ``job_id``, ``task_group``, ``node_id``.
    tasks
        The ``tasks`` frame, optional. A task it says is ``dead`` whose kept events end while it
        runs (Nomad keeps only the last 10) gets a dead span from its ``finished_at``; and when
        ``now`` is not given, the latest time it knows (``last_event_time``, ``finished_at``,
        ``started_at``, ``last_restart``) closes the open spans.
    now
        When the last span of every task ends. Without it (and without ``tasks``) the last
        span is open: ``end`` is ``NaT``.

    Returns
    -------
    pandas.DataFrame
        One row per span, sorted by ``alloc_id``, ``task``, ``start``: the join keys
        ``namespace``, ``job_id``, ``task_group``, ``alloc_id``, ``node_id``, ``task``;
        ``span`` (0, 1, ... within the task), ``state`` (categorical pending/running/dead),
        ``start`` and ``end`` (UTC; ``end`` is the next span's start, ``NaT`` while open),
        ``duration``, ``restarts`` (restarts so far, the one a span begins with included: the
        pending span after the first ``Restarting`` and the run after it count 1) and
        ``events`` (events in the span). ``attrs["restarts"]`` is the restarts counted per
        allocation × task (a Series), which undercounts when Nomad dropped older events
        (``tasks.restarts`` is Nomad's own count).

    Examples
    --------
    >>> import nomadlab
    >>> from nomadlab.frames import task_events
    >>> from nomadlab.analysis.states import task_spans
    >>> spans = task_spans(task_events(nomadlab.connect()))
    >>> spans.groupby("state", observed=False)["duration"].sum()  # doctest: +SKIP
    """
    if task_events.empty:
        out = _empty()
        out.attrs["restarts"] = pd.Series(dtype="Int64")
        return out
    order = [*_KEYS, "time", *(["event_index"] if "event_index" in task_events else [])]
    ev = task_events.sort_values(order, kind="stable").reset_index(drop=True)
    types = ev["type"].astype("string").fillna("")
    fails = ev["fails_task"].astype("boolean").fillna(False).to_numpy(dtype=bool) \
        if "fails_task" in ev else np.zeros(len(ev), dtype=bool)
    group = ev.groupby(_KEYS, sort=False, observed=True).ngroup().to_numpy()
    last_of_group = np.r_[group[1:] != group[:-1], True]

    hard = types.map(_HARD).astype(object).to_numpy().copy()
    hard[fails & (types != "Restarting").to_numpy()] = "dead"
    hard[(types == "Terminated").to_numpy() & last_of_group] = "dead"
    # Set-up events are pending only before the first state-moving event of their task.
    hard_seen = pd.Series(pd.notna(hard)).groupby(group).cumsum().to_numpy()
    setup = types.isin(_SETUP).to_numpy() & (hard_seen == 0)
    cand = np.where(setup & pd.isna(hard), "pending", hard)
    state = pd.Series(cand, dtype=object).groupby(group).ffill()
    # Events before any state (a stray notice first): pending, the state a task starts in.
    state = state.fillna("pending").to_numpy().copy()

    new_span = np.r_[True, (group[1:] != group[:-1]) | (state[1:] != state[:-1])]
    span_id = np.cumsum(new_span) - 1
    restarting = (types == "Restarting").to_numpy().astype(np.int64)
    restarts_so_far = pd.Series(restarting).groupby(group).cumsum().to_numpy()
    first = np.flatnonzero(new_span)
    counts = np.bincount(span_id)

    out = pd.DataFrame({c: ev[c].to_numpy()[first] for c in (*_CARRIED, *_KEYS)})
    for c in (*_CARRIED, *_KEYS):
        out[c] = out[c].astype("string")
    g_first = group[first]
    out["span"] = pd.array(pd.Series(g_first).groupby(g_first).cumcount().to_numpy(), dtype="Int64")
    out["state"] = pd.Categorical(state[first], dtype=_STATE_DTYPE)
    out["start"] = ev["time"].iloc[first].reset_index(drop=True)
    next_same = np.r_[g_first[1:] == g_first[:-1], False]
    end = out["start"].shift(-1)
    end[~next_same] = pd.NaT
    out["end"] = end
    out["restarts"] = pd.array(restarts_so_far[first], dtype="Int64")
    out["events"] = pd.array(counts, dtype="Int64")

    close = _close_time(now, tasks)
    if tasks is not None and not tasks.empty:
        out = _add_final_deaths(out, tasks)
    open_last = out["end"].isna() & ~out.duplicated(_KEYS, keep="last")
    if close is not None:
        out.loc[open_last, "end"] = out.loc[open_last, "start"].where(
            out.loc[open_last, "start"] > close, close)
    out["duration"] = out["end"] - out["start"]
    out = out.sort_values([*_KEYS, "start", "span"], kind="stable").reset_index(drop=True)
    out = out[list(SPAN_COLUMNS)]
    per_task = pd.Series(restarting).groupby([ev["alloc_id"], ev["task"]]).sum().astype("Int64")
    out.attrs["restarts"] = per_task
    return out


def _close_time(now: pd.Timestamp | str | None, tasks: pd.DataFrame | None) -> pd.Timestamp | None:
    if now is not None:
        ts = pd.Timestamp(now)
        return ts.tz_localize("UTC") if ts.tzinfo is None else ts.tz_convert("UTC")
    if tasks is None or tasks.empty:
        return None
    cols = [c for c in ("last_event_time", "finished_at", "started_at", "last_restart") if c in tasks]
    if not cols:
        return None
    latest = pd.concat([tasks[c] for c in cols], ignore_index=True).max()
    return None if pd.isna(latest) else pd.Timestamp(latest)


def _add_final_deaths(out: pd.DataFrame, tasks: pd.DataFrame) -> pd.DataFrame:
    """A task Nomad says is dead, whose kept events end alive: dead from its ``finished_at``."""
    if "state" not in tasks or "finished_at" not in tasks:
        return out
    last = out.drop_duplicates(_KEYS, keep="last")
    dead = tasks.loc[tasks["state"].astype("string") == "dead", [*_KEYS, "finished_at"]].dropna()
    merged = last.merge(dead, on=_KEYS, how="inner")
    merged = merged[(merged["state"].astype("string") != "dead") & (merged["finished_at"] >= merged["start"])]
    if merged.empty:
        return out
    added = merged.assign(span=merged["span"] + 1,
                          state=pd.Categorical(["dead"] * len(merged), dtype=_STATE_DTYPE),
                          start=merged["finished_at"],
                          end=pd.Series(pd.NaT, index=merged.index, dtype="datetime64[ns, UTC]"),
                          events=pd.array([0] * len(merged), dtype="Int64"))
    added = added[out.columns]
    idx = out.set_index(_KEYS).index
    close_rows = idx.isin(pd.MultiIndex.from_frame(merged[_KEYS])) & ~out.duplicated(_KEYS, keep="last")
    out = out.copy()
    ends = merged.set_index(_KEYS)["finished_at"]
    out.loc[close_rows, "end"] = ends.reindex(idx[close_rows]).to_numpy()
    return pd.concat([out, added], ignore_index=True)
