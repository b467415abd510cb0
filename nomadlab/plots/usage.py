"""Usage over time: what nodes or jobs consumed, against what they were allocated.

Input: the ``usage`` frame of the usage sampler (long: ``time``, ``scope``, the keys, ``metric``,
``value``, ``unit``). Allocation-scope samples (``cpu_total_ticks``, ``memory_usage_bytes``),
which compare with what was allocated, by default; node-scope samples (``cpu_ticks_consumed``,
``memory_used_bytes``: the host, operating system included) with ``scope="node"``. Memory is
drawn in MB, like Nomad's asks.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Literal

import pandas as pd

from ._common import figure, require, unit_label
from ._style import CAPACITY_COLORS, HOVER_TIME

if TYPE_CHECKING:
    import plotly.graph_objects as go

__all__ = ["utilization_over_time"]

_METRICS = {  # (metric, scope) → unit conversion to the plotted unit
    ("cpu", "node"): ("cpu_ticks_consumed", 1.0, "MHz"),
    ("memory", "node"): ("memory_used_bytes", 1 / 2**20, "MB"),
    ("cpu", "alloc"): ("cpu_total_ticks", 1.0, "MHz"),
    ("memory", "alloc"): ("memory_usage_bytes", 1 / 2**20, "MB"),
}
_PALETTE = ("#4c78a8", "#f58518", "#54a24b", "#b279a2", "#72b7b2", "#eeca3b", "#ff9da6", "#9d755d",
            "#bab0ac", "#e45756")
_MAX_LINES = 12


def _allocated_lines(allocated: float | pd.DataFrame | None, metric: str, by: str) -> dict[str, float]:
    """The allocated reference per group ("" for one cluster-wide value)."""
    if allocated is None:
        return {}
    if not isinstance(allocated, pd.DataFrame):
        return {"": float(allocated)}
    require(allocated, ["resource", "allocated"], plot="utilization_over_time", frame_name="capacity")
    rows = allocated[allocated["resource"].astype("string") == metric]
    if by == "cluster" or by not in rows.columns:
        return {"": float(rows["allocated"].sum())}
    sums = rows.groupby(rows[by].astype("string"), observed=True)["allocated"].sum()
    return {str(k): float(v) for k, v in sums.items()}


def utilization_over_time(
    usage: pd.DataFrame,
    *,
    by: Literal["cluster", "node_pool", "node_id", "job_id"] = "cluster",
    metric: Literal["cpu", "memory"] = "memory",
    allocated: float | pd.DataFrame | None = None,
    scope: Literal["alloc", "node"] = "alloc",
) -> go.Figure:
    """Lines of used CPU or memory over time, with what was allocated as a dashed reference.

    Parameters
    ----------
    usage
        The ``usage`` frame (``time``, ``scope``, ``metric``, ``value`` and the ``by`` column).
    by
        ``cluster`` (one line), ``node_pool``, ``node_id`` or ``job_id``: samples summed per group.
    metric
        ``cpu`` (MHz) or ``memory`` (MB).
    allocated
        A number (in MHz or MB) drawn as one dashed line labelled ``allocated``, or a
        ``capacity`` frame grouped like ``by`` whose ``allocated`` column gives one dashed line
        per group (summed over the frame for ``cluster``).
    scope
        ``alloc`` (the default): the allocations' own usage (their totals), which compares with
        what they were allocated; ``node``: the hosts' usage, which also holds the operating
        system and anything running outside Nomad (not available ``by="job_id"``).

    Returns
    -------
    plotly.graph_objects.Figure
        One line per group (the 12 largest by peak; the title says when more were left out),
        and the dashed ``allocated`` lines. Hover shows the UTC time and the value.

    Examples
    --------
    >>> from nomadlab.plots import utilization_over_time
    >>> fig = utilization_over_time(usage, by="node_pool", metric="cpu", allocated=capacity_by_pool)  # doctest: +SKIP
    """
    import plotly.graph_objects as go

    require(usage, ["time", "scope", "metric", "value", *([] if by == "cluster" else [by])],
            plot="utilization_over_time", frame_name="usage")
    if scope == "node" and by == "job_id":
        raise ValueError("hosts' usage has no job: use scope='alloc' with by='job_id'")
    name, scale, unit = _METRICS[(metric, scope)]
    rows = usage[(usage["scope"].astype("string") == scope) & (usage["metric"].astype("string") == name)]
    key = pd.Series("cluster", index=rows.index, dtype="string") if by == "cluster" \
        else rows[by].astype("string").fillna("(none)")
    series = (rows["value"] * scale).groupby([key, rows["time"]], observed=True).sum()
    groups = series.groupby(level=0).max().sort_values(ascending=False)
    shown = groups.index[:_MAX_LINES].tolist()
    word = "CPU" if metric == "cpu" else "memory"
    whose = "allocations'" if scope == "alloc" else "hosts'"
    title = f"{word.capitalize()} used over time ({whose} usage), by {by.replace('_', ' ')}"
    if len(groups) > _MAX_LINES:
        title += f"<br><sup>the {_MAX_LINES} largest of {len(groups)} groups by peak</sup>"
    fig = figure(title, hovermode="x unified")
    lines = _allocated_lines(allocated, metric, by)
    for i, group in enumerate(shown):
        color = _PALETTE[i % len(_PALETTE)] if by != "cluster" else CAPACITY_COLORS["used"]
        part = series.loc[group]
        fig.add_trace(go.Scatter(
            x=part.index, y=part.to_numpy(), mode="lines", name=f"{group} used" if by != "cluster" else "used",
            line={"color": color, "width": 2}, legendgroup=str(group),
            hovertemplate=f"{group} used: %{{y:,.0f}} {unit}<br>%{{x|{HOVER_TIME}}}<extra></extra>",
        ))
        ref = lines.get(str(group)) if by != "cluster" else None
        if ref is not None and len(part):
            fig.add_trace(go.Scatter(
                x=[part.index.min(), part.index.max()], y=[ref, ref], mode="lines", name=f"{group} allocated",
                line={"color": color, "dash": "dash", "width": 1.5}, legendgroup=str(group),
                hovertemplate=f"{group} allocated: %{{y:,.0f}} {unit}<extra></extra>",
            ))
    if "" in lines:
        times = rows["time"]
        fig.add_trace(go.Scatter(
            x=[times.min(), times.max()], y=[lines[""], lines[""]], mode="lines", name="allocated",
            line={"color": CAPACITY_COLORS["allocated"], "dash": "dash", "width": 2},
            hovertemplate=f"allocated: %{{y:,.0f}} {unit}<extra></extra>",
        ))
        fig.add_annotation(x=times.max(), y=lines[""], text="allocated", showarrow=False, xanchor="right",
                           yanchor="bottom", font={"color": CAPACITY_COLORS["allocated"]})
    fig.update_xaxes(title_text="time (UTC)")
    fig.update_yaxes(title_text=unit_label(f"{word} used", unit), rangemode="tozero")
    return fig
