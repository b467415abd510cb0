"""Task charts: each task's states over time, and where restarts and failures pile up.

:func:`task_timeline` draws the spans of :func:`nomadlab.analysis.states.task_spans` as bars,
one row per allocation × task, with restarts, OOM kills and failing events as markers. Past
``max_rows`` rows it keeps the rows with the most trouble and says so in the title; markers
switch to WebGL (``Scattergl``) past :data:`WEBGL_THRESHOLD` points, so 50,000 events stay
responsive (``docs/plots.md`` has the measured build time and size).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Literal

import numpy as np
import pandas as pd

from ._common import figure, require
from ._style import HOVER_TIME, STATUS_COLORS

if TYPE_CHECKING:
    import plotly.graph_objects as go

__all__ = ["EVENT_MARKERS", "WEBGL_THRESHOLD", "restarts_chart", "task_timeline"]

WEBGL_THRESHOLD = 2_000
"""Marker points above which the timeline draws them with WebGL."""

EVENT_MARKERS: dict[str, dict[str, Any]] = {
    "restart": {"symbol": "circle-open", "color": STATUS_COLORS["pending"], "size": 9},
    "oom kill": {"symbol": "x", "color": "#7f0000", "size": 11},
    "failure": {"symbol": "triangle-down", "color": STATUS_COLORS["failed"], "size": 11},
}
"""Marker of each kind of task event the timeline points out."""

_EVENT_COLUMNS = ("alloc_id", "task", "job_id", "task_group", "time", "type", "oom_killed", "fails_task")
_COUNT_COLORS = {"restarts": STATUS_COLORS["pending"], "oom_kills": "#7f0000", "failures": STATUS_COLORS["failed"]}


def _row_labels(frame: pd.DataFrame) -> pd.Series:
    alloc = frame["alloc_id"].astype("string").str.slice(0, 8)
    return (frame["job_id"].astype("string") + "." + frame["task_group"].astype("string") + "[" + alloc + "] "
            + frame["task"].astype("string"))


def _utc_text(times: pd.Series) -> pd.Series:
    """``"YYYY-mm-dd HH:MM:SS UTC"`` of each UTC time (NaN for NaT), formatted in C by numpy
    (``strftime`` formats value by value)."""
    values = times.to_numpy(dtype="datetime64[s]")
    if not len(values):   # numpy's string functions take no empty array
        return pd.Series([], index=times.index, dtype=object)
    text = np.char.add(np.char.replace(np.datetime_as_string(values, unit="s"), "T", " "), " UTC").astype(object)
    text[np.isnat(values)] = np.nan
    return pd.Series(text, index=times.index, dtype=object)


def _set_arrays(trace: Any, **arrays: Any) -> None:
    """Give ``trace``, already in its figure, its per-point arrays. ``add_trace`` deep-copies
    what a trace holds, which for object arrays (labels, hover text) is one Python call per
    value; set afterwards, they are validated and copied once, shallowly."""
    for name, value in arrays.items():
        trace[name] = value


def task_timeline(
    task_events: pd.DataFrame,
    spans: pd.DataFrame | None = None,
    *,
    max_rows: int = 60,
    now: pd.Timestamp | str | None = None,
) -> go.Figure:
    """One row per allocation × task: state spans as bars, restarts, OOM kills and failures as markers.

    Parameters
    ----------
    task_events
        The ``task_events`` frame (``alloc_id``, ``task``, ``job_id``, ``task_group``, ``time``,
        ``type``, ``oom_killed``, ``fails_task``; ``message`` in the hover when present).
    spans
        The spans of :func:`nomadlab.analysis.states.task_spans`; computed from ``task_events``
        (closed at ``now``, else at the last event) when not given.
    max_rows
        Rows drawn at most. Past it, the rows with the most failures, OOM kills and restarts
        (then the most events) are kept, and the title says how many were left out.
    now
        Where open spans end when ``spans`` is computed here.

    Returns
    -------
    plotly.graph_objects.Figure
        One horizontal bar trace per state (``pending``, ``running``, ``dead``, in the status
        colours) and one marker trace per event kind in :data:`EVENT_MARKERS`; the x axis is UTC
        time.

    Examples
    --------
    >>> import nomadlab
    >>> from nomadlab.frames import task_events
    >>> from nomadlab.plots import task_timeline
    >>> fig = task_timeline(task_events(nomadlab.connect()))
    >>> [t.name for t in fig.data][:3]
    ['pending', 'running', 'dead']
    """
    import plotly.graph_objects as go

    from nomadlab.analysis.states import task_spans

    require(task_events, _EVENT_COLUMNS, plot="task_timeline", frame_name="task_events")
    if spans is None:
        close = now if now is not None else (task_events["time"].max() if len(task_events) else None)
        spans = task_spans(task_events, now=close)
    ev = task_events
    oom = ev["oom_killed"].astype("boolean").fillna(False).to_numpy(dtype=bool)
    fails = ev["fails_task"].astype("boolean").fillna(False).to_numpy(dtype=bool)
    restart = (ev["type"].astype("string") == "Restarting").fillna(False).to_numpy(dtype=bool)
    keys = pd.MultiIndex.from_arrays([ev["alloc_id"].astype("string"), ev["task"].astype("string")])
    trouble = pd.DataFrame({"f": fails, "o": oom, "r": restart, "n": 1}, index=keys).groupby(level=[0, 1]).sum()
    total_rows = len(trouble)
    kept = trouble.sort_values(["f", "o", "r", "n"], ascending=False, kind="stable").index[:max_rows]
    title = "Task states over time"
    if total_rows > max_rows:
        title += (f"<br><sup>{max_rows} of {total_rows:,} allocation × task rows shown: the most failures, "
                  f"OOM kills and restarts ({len(ev):,} events)</sup>")
    span_keys = pd.MultiIndex.from_arrays([spans["alloc_id"].astype("string"), spans["task"].astype("string")])
    sp = spans[span_keys.isin(kept)]
    ev_keep = keys.isin(kept)
    labels = _row_labels(sp)
    order = _row_labels(sp.drop_duplicates(["alloc_id", "task"]).sort_values(["job_id", "task_group", "alloc_id",
                                                                              "task"]))
    fig = figure(title, height=max(360, 22 * len(order) + 180), barmode="overlay", hovermode="closest")
    last_time = ev["time"].max() if len(ev) else pd.NaT
    for state in ("pending", "running", "dead"):
        part = sp[sp["state"].astype("string") == state]
        end = part["end"].fillna(last_time)
        width_ms = ((end - part["start"]).dt.total_seconds() * 1000).clip(lower=0)
        fig.add_trace(go.Bar(
            name=state, orientation="h", x=width_ms.to_numpy(), base=part["start"],
            marker={"color": STATUS_COLORS[state], "line": {"width": 0}}, opacity=0.85 if state != "dead" else 0.35,
            hovertemplate=(f"<b>%{{y}}</b><br>{state} from %{{customdata[0]}}<br>to %{{customdata[1]}}"
                           "<br>restarts so far: %{customdata[2]}<extra></extra>"),
        ))
        _set_arrays(fig.data[-1], y=labels[part.index],
                    customdata=np.column_stack([_utc_text(part["start"]), _utc_text(end),
                                                part["restarts"].fillna(0)]))
    message = ev["message"].astype("string").fillna("") if "message" in ev else pd.Series("", index=ev.index)
    picks = {"restart": restart & ev_keep, "oom kill": oom & ev_keep, "failure": fails & ev_keep & ~oom}
    for kind, mask in picks.items():
        rows = ev[mask]
        trace = go.Scattergl if int(mask.sum()) > WEBGL_THRESHOLD else go.Scatter
        fig.add_trace(trace(
            name=kind, mode="markers", x=rows["time"],
            marker=dict(EVENT_MARKERS[kind]),
            hovertemplate=(f"<b>%{{y}}</b><br>{kind}: %{{customdata[0]}}<br>%{{x|{HOVER_TIME}}}"
                           "<br>%{customdata[1]}<extra></extra>"),
        ))
        _set_arrays(fig.data[-1], y=_row_labels(rows),
                    customdata=np.column_stack([rows["type"].astype("string").fillna(""), message[mask]]))
    fig.update_yaxes(title_text="job.group[alloc] task", categoryorder="array", categoryarray=order.tolist()[::-1],
                     automargin=True)
    fig.update_xaxes(title_text="time (UTC)", type="date")
    return fig


def restarts_chart(
    frame: pd.DataFrame,
    *,
    by: Literal["job_id", "node_id", "task"] = "job_id",
    top: int = 20,
) -> go.Figure:
    """Restarts, OOM kills and failures per job, node or task, the worst first.

    Parameters
    ----------
    frame
        One row per allocation × task (or any finer grain) with the count columns ``restarts``,
        ``oom_kills`` and ``failures`` and the ``by`` column (``job_id``, ``node_id`` or
        ``task``). The ``tasks`` frame gives it with ``oom_kills = oom_killed.astype(int)`` and
        ``failures = failed.astype(int)``.
    by
        The column the counts are summed over.
    top
        How many groups to draw (the title says when more exist).

    Returns
    -------
    plotly.graph_objects.Figure
        Three grouped horizontal bar traces: ``restarts``, ``oom kills``, ``failures``, the groups
        with the most failures first; groups with no restart, OOM kill or failure are left out
        (the title says how many).

    Examples
    --------
    >>> from nomadlab.plots import restarts_chart
    >>> fig = restarts_chart(counts, by="node_id")  # doctest: +SKIP
    """
    import plotly.graph_objects as go

    require(frame, [by, "restarts", "oom_kills", "failures"], plot="restarts_chart",
            frame_name="restart counts (job_id, task, restarts, oom_kills, failures)")
    counts = frame[["restarts", "oom_kills", "failures"]].astype("Float64").fillna(0)
    sums = counts.groupby(frame[by].astype("string").fillna("(none)")).sum()
    groups = len(sums)
    sums = sums[sums.sum(axis=1) > 0]
    troubled = len(sums)
    sums = sums.sort_values(["failures", "oom_kills", "restarts"], ascending=False).head(top)
    title = f"Restarts, OOM kills and failures by {by.replace('_', ' ')}"
    notes = []
    if troubled > top:
        notes.append(f"the {top} worst of {troubled} shown")
    if troubled < groups:
        notes.append(f"{groups - troubled} of {groups} with none left out")
    if notes:
        title += f"<br><sup>{'; '.join(notes)}</sup>"
    fig = figure(title, barmode="group", height=max(320, 28 * len(sums) + 180))
    for col in ("restarts", "oom_kills", "failures"):
        fig.add_trace(go.Bar(
            name=col.replace("_", " "), orientation="h", y=sums.index.tolist(), x=sums[col].to_numpy(dtype=float),
            marker={"color": _COUNT_COLORS[col]},
            hovertemplate=f"<b>%{{y}}</b><br>{col.replace('_', ' ')}: %{{x:,.0f}}<extra></extra>",
        ))
    fig.update_xaxes(title_text="events (count)")
    fig.update_yaxes(title_text=by, autorange="reversed", automargin=True)
    return fig
