"""The incident timeline: every event of an incident on one UTC axis, over what was used.

Input: the ``incident_timeline`` frame (``time``, ``kind``, ``severity``, ``description`` and
the keys), optionally the ``usage`` frame. Deployments are shaded from their first to their
last event; a node is shaded from a ``down`` (or ``disconnected``) status event to its next
``ready``, or to the end of the timeline when it never came back.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Literal

import numpy as np
import pandas as pd

from ._common import figure, require, subplots, unit_label
from ._style import HOVER_TIME, SEVERITY_COLORS, STATUS_COLORS

if TYPE_CHECKING:
    import plotly.graph_objects as go

__all__ = ["incident_timeline"]

_KINDS = ("job_version", "deployment", "evaluation", "alloc_status", "task_event", "node_event", "node_status",
          "scaling")
_SYMBOLS = {"info": "circle", "warning": "diamond", "error": "x", "critical": "star"}
_USAGE = {"memory": ("memory_used_bytes", 1 / 2**20, "MB"), "cpu": ("cpu_ticks_consumed", 1.0, "MHz")}
_NODE_DOWN = frozenset({"down", "disconnected"})


def _bands(timeline: pd.DataFrame) -> list[tuple[pd.Timestamp, pd.Timestamp, str, str]]:
    """(start, end, label, colour) of each deployment and each node outage."""
    end_of_all = timeline["time"].max()
    bands: list[tuple[pd.Timestamp, pd.Timestamp, str, str]] = []
    kind = timeline["kind"].astype("string")
    deps = timeline[(kind == "deployment") & timeline["deployment_id"].notna()]
    for dep_id, part in deps.groupby(deps["deployment_id"].astype("string"), sort=False):
        part = part.sort_values("time")
        last = str(part["type"].iloc[-1]) if pd.notna(part["type"].iloc[-1]) else "running"
        color = STATUS_COLORS.get(last, STATUS_COLORS["running"])
        stop = part["time"].iloc[-1] if len(part) > 1 else end_of_all
        bands.append((part["time"].iloc[0], stop, f"deployment {str(dep_id)[:8]} {last}", color))
    nodes = timeline[(kind == "node_status") & timeline["node_id"].notna()].sort_values("time")
    for node, part in nodes.groupby(nodes["node_id"].astype("string"), sort=False):
        down_since: pd.Timestamp | None = None
        name = part["node_name"].dropna().iloc[0] if part["node_name"].notna().any() else str(node)[:8]
        for t, status in zip(part["time"], part["type"].astype("string").fillna(""), strict=True):
            if status in _NODE_DOWN and down_since is None:
                down_since = t
            elif status == "ready" and down_since is not None:
                bands.append((down_since, t, f"node {name} down", STATUS_COLORS["down"]))
                down_since = None
        if down_since is not None:
            bands.append((down_since, end_of_all, f"node {name} down", STATUS_COLORS["down"]))
    return bands


def incident_timeline(
    timeline: pd.DataFrame,
    usage: pd.DataFrame | None = None,
    *,
    metric: Literal["memory", "cpu"] = "memory",
) -> go.Figure:
    """Events as markers on a shared UTC time axis, over node usage, with deployments and outages shaded.

    Parameters
    ----------
    timeline
        The ``incident_timeline`` frame (``time``, ``kind``, ``severity``, ``type``,
        ``description``, ``deployment_id``, ``node_id``, ``node_name``, ``job_id``).
    usage
        The ``usage`` frame; when given, a second panel below draws the ``metric`` of every
        node over the same time axis.
    metric
        ``memory`` (MB, from ``memory_used_bytes``) or ``cpu`` (MHz, from ``cpu_ticks_consumed``).

    Returns
    -------
    plotly.graph_objects.Figure
        One marker trace per severity (rows are the event kinds; hover is the event's
        description and UTC time), a line per node in the usage panel, and shaded rectangles
        (layout shapes) for deployments and node outages across both panels.

    Examples
    --------
    >>> from nomadlab.plots import incident_timeline
    >>> fig = incident_timeline(timeline, usage, metric="memory")  # doctest: +SKIP
    """
    import plotly.graph_objects as go

    require(timeline, ["time", "kind", "severity", "type", "description", "deployment_id", "node_id", "node_name",
                       "job_id"], plot="incident_timeline", frame_name="incident_timeline")
    title = "Incident timeline"
    if len(timeline):
        span = f"{timeline['time'].min():%Y-%m-%d %H:%M} – {timeline['time'].max():%H:%M} UTC"
        title += f"<br><sup>{len(timeline):,} events, {span}</sup>"
    if usage is not None:
        fig = subplots(title, rows=2, cols=1, shared_xaxes=True, row_heights=[0.55, 0.45], vertical_spacing=0.06)
        where: dict[str, int] = {"row": 1, "col": 1}
    else:
        fig = figure(title)
        where = {}
    kinds = [k for k in _KINDS if (timeline["kind"].astype("string") == k).any()]
    kinds += sorted(set(timeline["kind"].astype("string").dropna()) - set(kinds))
    sev = timeline["severity"].astype("string").fillna("info")
    for level in ("info", "warning", "error", "critical"):
        part = timeline[sev == level]
        if part.empty:
            continue
        who = part["job_id"].astype("string").fillna(part["node_name"].astype("string")).fillna("")
        fig.add_trace(go.Scatter(
            name=level, mode="markers", x=part["time"], y=part["kind"].astype("string"),
            marker={"color": SEVERITY_COLORS[level], "symbol": _SYMBOLS[level], "size": 11 if level != "info" else 8,
                    "line": {"width": 0.5, "color": "white"}},
            customdata=np.column_stack([part["description"].astype("string").fillna(part["type"].astype("string"))
                                        .fillna(""), who, part["type"].astype("string").fillna("")]),
            hovertemplate=(f"<b>%{{customdata[0]}}</b><br>%{{y}} %{{customdata[2]}} · %{{customdata[1]}}"
                           f"<br>%{{x|{HOVER_TIME}}}<extra>{level}</extra>"),
        ), **where)
    fig.update_yaxes(title_text="event kind", categoryorder="array", categoryarray=kinds[::-1], **where)
    if usage is not None:
        require(usage, ["time", "scope", "metric", "value", "node_id"], plot="incident_timeline", frame_name="usage")
        name, scale, unit = _USAGE[metric]
        rows = usage[(usage["scope"].astype("string") == "node") & (usage["metric"].astype("string") == name)]
        label = rows["node_name"].astype("string").fillna(rows["node_id"].astype("string")) \
            if "node_name" in rows else rows["node_id"].astype("string")
        for node, part in rows.groupby(label, sort=True):
            part = part.sort_values("time")
            fig.add_trace(go.Scatter(
                name=f"{node} {metric}", mode="lines", x=part["time"], y=part["value"] * scale,
                line={"width": 1.5}, legendgroup="usage",
                hovertemplate=f"{node}: %{{y:,.0f}} {unit}<br>%{{x|{HOVER_TIME}}}<extra>{metric} used</extra>",
            ), row=2, col=1)
        fig.update_yaxes(title_text=unit_label(f"{metric} used", unit), rangemode="tozero", row=2, col=1)
        fig.update_xaxes(title_text="time (UTC)", row=2, col=1)
    else:
        fig.update_xaxes(title_text="time (UTC)")
    for start, stop, label, color in _bands(timeline):
        fig.add_vrect(x0=start, x1=stop, fillcolor=color, opacity=0.12, line_width=0, layer="below",
                      **({"row": "all", "col": 1} if usage is not None else {}))
        fig.add_annotation(x=start, y=1.0, yref="paper", text=label, showarrow=False, xanchor="left",
                           yanchor="bottom", font={"size": 10, "color": color}, textangle=0)
    fig.update_layout(hovermode="closest", height=620 if usage is not None else 420)
    return fig
