"""The job overview: each job's allocations by status, from the job summary."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pandas as pd

from ._common import figure, require
from ._style import STATUS_COLORS

if TYPE_CHECKING:
    import plotly.graph_objects as go

__all__ = ["SUMMARY_COLUMNS", "job_status"]

SUMMARY_COLUMNS: tuple[str, ...] = ("queued", "starting", "running", "complete", "failed", "lost", "unknown")
"""The job summary counts of the ``jobs`` frame, in the order they are stacked."""


def job_status(jobs: pd.DataFrame, *, top: int = 40) -> go.Figure:
    """Allocations per job, stacked by status (queued, starting, running, complete, failed, lost, unknown).

    Parameters
    ----------
    jobs
        The ``jobs`` frame (``nomadlab.frames.jobs``): ``namespace``, ``job_id``, ``status`` and the
        summary counts in :data:`SUMMARY_COLUMNS` (``unknown`` may be missing on older Nomads).
    top
        Jobs drawn at most: those with the most failed and lost allocations, then the most
        allocations; the title says when more exist.

    Returns
    -------
    plotly.graph_objects.Figure
        One horizontal bar trace per status in its status colour; rows are ``namespace/job_id``.

    Examples
    --------
    >>> import nomadlab
    >>> from nomadlab.frames import jobs
    >>> from nomadlab.plots import job_status
    >>> fig = job_status(jobs(nomadlab.connect()))
    >>> fig.data[2].name
    'running'
    """
    import plotly.graph_objects as go

    require(jobs, ["namespace", "job_id", "status", *SUMMARY_COLUMNS[:-1]], plot="job_status", frame_name="jobs")
    cols = [c for c in SUMMARY_COLUMNS if c in jobs.columns]
    counts = jobs[cols].astype("Float64").fillna(0).astype(float)
    label = jobs["namespace"].astype("string") + "/" + jobs["job_id"].astype("string")
    status = jobs["status"].astype("string").fillna("unknown")
    order = (counts.assign(_bad=counts.get("failed", 0) + counts.get("lost", 0), _all=counts.sum(axis=1))
             .sort_values(["_bad", "_all"], ascending=False, kind="stable").index[:top])
    title = "Allocations per job, by client status"
    if len(jobs) > top:
        title += f"<br><sup>the {top} of {len(jobs)} jobs with the most failed and lost allocations</sup>"
    fig = figure(title, barmode="stack", height=max(320, 26 * len(order) + 180), legend={"traceorder": "normal"})
    for col in cols:
        fig.add_trace(go.Bar(
            name=col, orientation="h", y=label[order].tolist(), x=counts.loc[order, col].to_numpy(),
            marker={"color": STATUS_COLORS[col]}, customdata=status[order].to_numpy(),
            hovertemplate=f"<b>%{{y}}</b> (job %{{customdata}})<br>{col}: %{{x:,.0f}} allocations<extra></extra>",
        ))
    fig.update_xaxes(title_text="allocations (count)")
    fig.update_yaxes(title_text="namespace/job", autorange="reversed", automargin=True)
    return fig
