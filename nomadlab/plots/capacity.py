"""Capacity charts: what each node has, holds back, has allocated and actually uses.

Input: the ``capacity`` frame grouped by node (one row per node × resource, with ``capacity``,
``reserved``, ``allocatable``, ``allocated``, ``used``, ``headroom``, ``allocated_pct``,
``used_pct``). Allocated is what the scheduler reserved for allocations, used is what they
consume: the charts never draw one as the other.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Literal

import numpy as np
import pandas as pd

from ._common import figure, require, subplots, unit_label
from ._style import CAPACITY_COLORS

if TYPE_CHECKING:
    import plotly.graph_objects as go

__all__ = ["cluster_heatmap", "node_utilization"]

_NODE_COLUMNS = ("node_name", "resource", "unit", "capacity", "reserved", "allocated", "used", "headroom",
                 "allocated_pct", "used_pct")
_RESOURCE_WORD = {"cpu": "CPU", "memory": "memory", "disk": "disk"}


_SUBTITLE = ("allocatable = capacity − reserved · allocated: what the scheduler reserved for allocations · "
             "used: what they use (latest stats)")


def _method(capacity: pd.DataFrame) -> str:
    """A one-line reminder of what the figures mean (the frame's full ``method`` is in its attrs)."""
    return f"<br><sup>{_SUBTITLE}</sup>" if capacity.attrs.get("method") else ""


def node_utilization(
    capacity: pd.DataFrame,
    *,
    resource: Literal["cpu", "memory", "disk"] = "memory",
    sort_by: str = "allocated_pct",
    facet: Literal["node_pool", "datacenter"] | None = "node_pool",
) -> go.Figure:
    """Per node: reserved + allocated + headroom stacked to capacity, with used as a marker.

    Parameters
    ----------
    capacity
        The ``capacity`` frame by node (columns ``node_name``, ``resource``, ``unit``,
        ``capacity``, ``reserved``, ``allocated``, ``used``, ``headroom``, ``allocated_pct``,
        ``used_pct``, and the ``facet`` column).
    resource
        Which resource to draw (``cpu`` in MHz, ``memory`` or ``disk`` in MB).
    sort_by
        Column the nodes are ordered by, largest first (within each facet).
    facet
        One panel per node pool or datacenter, or ``None`` for one panel.

    Returns
    -------
    plotly.graph_objects.Figure
        Three stacked bar traces (``reserved``, ``allocated``, ``headroom``, whose sum is the
        node's capacity) and one ``used`` marker trace per panel; nodes without usage have no
        marker. A node whose ``status`` is not ``ready`` is labelled with it (``node-3 (down)``).
        Hover gives the capacity, allocatable and both percentages.

    Examples
    --------
    >>> from nomadlab.plots import node_utilization
    >>> fig = node_utilization(capacity_by_node, resource="cpu", facet=None)  # doctest: +SKIP
    >>> fig.write_html("nodes.html")  # doctest: +SKIP
    """
    import plotly.graph_objects as go

    require(capacity, [*_NODE_COLUMNS, sort_by, *([facet] if facet else [])],
            plot="node_utilization", frame_name="capacity (by node)")
    rows = capacity[capacity["resource"].astype("string") == resource]
    unit = str(rows["unit"].dropna().iloc[0]) if rows["unit"].notna().any() else ("MHz" if resource == "cpu" else "MB")
    panels = sorted(rows[facet].astype("string").fillna("(none)").unique().tolist()) if facet else [""]
    title = f"Node {_RESOURCE_WORD[resource]}: capacity, reserved, allocated and used{_method(capacity)}"
    if facet and len(panels) > 1:
        counts = [int((rows[facet].astype("string").fillna("(none)") == p).sum()) for p in panels]
        fig = subplots(title, rows=1, cols=len(panels), shared_yaxes=True, column_widths=counts,
                       subplot_titles=[f"{facet} {p}" for p in panels], horizontal_spacing=0.03)
    else:
        fig = figure(title)
    for col, panel in enumerate(panels, start=1):
        part = rows if not facet else rows[rows[facet].astype("string").fillna("(none)") == panel]
        part = part.sort_values(sort_by, ascending=False, kind="stable", na_position="last")
        names = part["node_name"].astype("string").fillna(part["node_id"].astype("string")
                                                          if "node_id" in part else "?")
        if "status" in part:   # a node that is not ready says so under its bar
            status = part["status"].astype("string").fillna("ready")
            names = names.where(status == "ready", names + " (" + status + ")")
        x = names.tolist()
        hover = np.column_stack([part["capacity"], part["allocatable"] if "allocatable" in part else
                                 part["capacity"] - part["reserved"], part["allocated_pct"], part["used_pct"]])
        where = {"row": 1, "col": col} if len(panels) > 1 else {}
        for part_name in ("reserved", "allocated", "headroom"):
            fig.add_trace(go.Bar(
                name=part_name, x=x, y=part[part_name].clip(lower=0), legendgroup=part_name, showlegend=col == 1,
                marker={"color": CAPACITY_COLORS[part_name],
                        "line": {"color": CAPACITY_COLORS["capacity"], "width": 0.5}},
                customdata=hover,
                hovertemplate=(f"<b>%{{x}}</b><br>{part_name}: %{{y:,.0f}} {unit}<br>capacity: %{{customdata[0]:,.0f}} "
                               f"{unit}<br>allocatable: %{{customdata[1]:,.0f}} {unit}<br>allocated: "
                               "%{customdata[2]:.1f}% · used: %{customdata[3]:.1f}%<extra></extra>"),
            ), **where)
        used = part["used"]
        fig.add_trace(go.Scatter(
            name="used", x=x, y=used, mode="markers", legendgroup="used", showlegend=col == 1,
            marker={"symbol": "line-ew", "size": max(6, min(22, 500 // max(len(x), 1))),
                    "color": CAPACITY_COLORS["used"],
                    "line": {"width": 4, "color": CAPACITY_COLORS["used"]}},
            customdata=part[["used_pct"]].to_numpy(),
            hovertemplate=f"<b>%{{x}}</b><br>used: %{{y:,.0f}} {unit} (%{{customdata[0]:.1f}}% of allocatable)"
                          "<extra></extra>",
        ), **where)
    fig.update_layout(barmode="stack", bargap=0.25, hovermode="closest")
    fig.update_yaxes(rangemode="tozero")
    fig.update_yaxes(title_text=unit_label(_RESOURCE_WORD[resource], unit), **({"col": 1} if len(panels) > 1 else {}))
    fig.update_xaxes(title_text="node", tickangle=-45 if len(rows) > 12 else 0)
    return fig


def cluster_heatmap(
    capacity: pd.DataFrame,
    *,
    value: Literal["allocated_pct", "used_pct"] = "allocated_pct",
) -> go.Figure:
    """Nodes × resources coloured by allocated or used percentage of the allocatable.

    Parameters
    ----------
    capacity
        The ``capacity`` frame by node (``node_name``, ``resource`` and the ``value`` column).
    value
        ``allocated_pct`` (what the scheduler handed out) or ``used_pct`` (what is consumed),
        both in percent of the allocatable (capacity − reserved).

    Returns
    -------
    plotly.graph_objects.Figure
        One heatmap trace: rows are nodes (the fullest first), columns the resources, colour
        0–100 %; missing usage is left blank.

    Examples
    --------
    >>> from nomadlab.plots import cluster_heatmap
    >>> fig = cluster_heatmap(capacity_by_node, value="used_pct")  # doctest: +SKIP
    """
    import plotly.graph_objects as go

    require(capacity, ["node_name", "resource", value], plot="cluster_heatmap", frame_name="capacity (by node)")
    word = "allocated" if value == "allocated_pct" else "used"
    frame = capacity.assign(resource=capacity["resource"].astype("string"),
                            node_name=capacity["node_name"].astype("string"))
    grid = frame.pivot_table(index="node_name", columns="resource", values=value, aggfunc="first", dropna=False)
    resources = [r for r in ("cpu", "memory", "disk") if r in grid.columns]
    grid = grid[resources]
    grid = grid.loc[grid.max(axis=1).sort_values(ascending=True, na_position="first").index]
    z = grid.to_numpy(dtype=float)
    text = np.where(np.isnan(z), "", np.char.add(np.round(np.nan_to_num(z)).astype(int).astype(str), "%"))
    fig = figure(f"{word.capitalize()} share of allocatable, per node and resource{_method(capacity)}",
                 height=max(320, 24 * len(grid) + 160))
    fig.add_trace(go.Heatmap(
        z=z, x=[_RESOURCE_WORD[r] for r in resources], y=grid.index.tolist(), zmin=0, zmax=100,
        colorscale="Blues" if word == "allocated" else "Reds", text=text, texttemplate="%{text}",
        colorbar={"title": {"text": f"{word} (%)"}}, xgap=2, ygap=2,
        hovertemplate=f"<b>%{{y}}</b><br>%{{x}} {word}: %{{z:.1f}}% of allocatable<extra></extra>",
    ))
    fig.update_xaxes(title_text="resource", side="top")
    fig.update_yaxes(title_text="node")
    return fig
