"""Right-sizing: what each task asks for against what it used (p95, max) and what would do."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from ._common import require, subplots, unit_label

if TYPE_CHECKING:
    import plotly.graph_objects as go

__all__ = ["RIGHTSIZING_COLORS", "rightsizing_chart"]

RIGHTSIZING_COLORS: dict[str, str] = {"ask": "#9ecae9", "p95": "#4c78a8", "max": "#e45756", "suggested": "#54a24b"}
"""Colours of the ask bar, the p95 bar, the max marker and the suggested marker."""

_UNITS = {"cpu": ("CPU", "MHz"), "memory": ("memory", "MB")}


def rightsizing_chart(rightsizing: pd.DataFrame, *, top: int = 25) -> go.Figure:
    """Per task and resource: the ask as a bar, p95 inside it, max and the suggestion as markers.

    Parameters
    ----------
    rightsizing
        The ``rightsizing`` frame (long: ``namespace``, ``job_id``, ``task_group``, ``task``,
        ``resource``, ``unit``, ``ask``, ``samples``, ``p95``, ``max``, ``suggested``, ``freed``,
        ``note``).
    top
        Tasks drawn per resource at most: those that would free the most (``freed``).

    Returns
    -------
    plotly.graph_objects.Figure
        One panel per resource (CPU in MHz, memory in MB), each with an ``ask`` and a ``p95``
        bar trace and ``max`` and ``suggested`` marker traces; hover gives the samples behind
        the numbers and the note when a number is missing.

    Examples
    --------
    >>> from nomadlab.plots import rightsizing_chart
    >>> fig = rightsizing_chart(rightsizing)  # doctest: +SKIP
    """
    import plotly.graph_objects as go

    require(rightsizing, ["job_id", "task_group", "task", "resource", "ask", "samples", "p95", "max", "suggested",
                          "freed", "note"], plot="rightsizing_chart", frame_name="rightsizing")
    resources = [r for r in ("cpu", "memory") if (rightsizing["resource"].astype("string") == r).any()] or ["memory"]
    longest = max((int((rightsizing["resource"].astype("string") == r).sum()) for r in resources), default=0)
    fig = subplots("Right-sizing: ask against p95 and max use", rows=1, cols=len(resources),
                   subplot_titles=[_UNITS[r][0] for r in resources], horizontal_spacing=0.18)
    fig.update_layout(barmode="overlay", height=max(340, 26 * min(longest, top) + 200), hovermode="closest")
    for col, resource in enumerate(resources, start=1):
        rows = rightsizing[rightsizing["resource"].astype("string") == resource]
        rows = rows.sort_values("freed", ascending=False, na_position="last", kind="stable").head(top)
        word, unit = _UNITS[resource]
        y = (rows["job_id"].astype("string") + "." + rows["task_group"].astype("string") + "."
             + rows["task"].astype("string")).tolist()
        info = np.column_stack([rows["samples"].astype("Float64").fillna(0).astype(int),
                                rows["note"].astype("string").fillna(""),
                                rows["freed"].astype("Float64").fillna(np.nan).astype(float)])
        hover = (f"<b>%{{y}}</b><br>%{{fullData.name}}: %{{x:,.0f}} {unit}<br>samples: %{{customdata[0]}}"
                 f" · frees %{{customdata[2]:,.0f}} {unit}<br>%{{customdata[1]}}<extra></extra>")
        for name, width in (("ask", 0.8), ("p95", 0.45)):
            fig.add_trace(go.Bar(
                name=name, orientation="h", y=y, x=rows[name].astype(float).to_numpy(), width=width,
                marker={"color": RIGHTSIZING_COLORS[name]}, legendgroup=name, showlegend=col == 1,
                customdata=info, hovertemplate=hover,
            ), row=1, col=col)
        for name, symbol in (("max", "line-ns"), ("suggested", "diamond")):
            fig.add_trace(go.Scatter(
                name=name, mode="markers", y=y, x=rows[name].astype(float).to_numpy(), legendgroup=name,
                showlegend=col == 1, customdata=info, hovertemplate=hover,
                marker={"color": RIGHTSIZING_COLORS[name], "symbol": symbol, "size": 14 if name == "max" else 10,
                        "line": {"width": 3 if name == "max" else 1, "color": RIGHTSIZING_COLORS[name]}},
            ), row=1, col=col)
        fig.update_xaxes(title_text=unit_label(word, unit), rangemode="tozero", row=1, col=col)
        fig.update_yaxes(autorange="reversed", automargin=True, row=1, col=col)
    return fig
