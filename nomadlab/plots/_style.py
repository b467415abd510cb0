"""The one look of every nomadlab figure: a colour per Nomad status, the template, unit labels.

Every chart family takes its colours from :data:`STATUS_COLORS`, so ``failed`` is the same red
in the job overview, the task timeline and the incident timeline, and ``allocated`` is never
drawn in the colour of ``used``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import plotly.graph_objects as go

__all__ = [
    "CAPACITY_COLORS",
    "FONT",
    "HOVER_TIME",
    "SEVERITY_COLORS",
    "STATUS_COLORS",
    "TEMPLATE_NAME",
    "color_of",
    "template",
]

# Alloc client statuses, task states, deployment statuses and node statuses share one table:
# the same word always has the same colour, and the colours say how good the state is.
_GREEN = "#2ca02c"
_BLUE = "#1f77b4"
_AMBER = "#f2a900"
_RED = "#d62728"
_PURPLE = "#9467bd"
_GREY = "#8c8c8c"
_DARK_RED = "#7f0000"

STATUS_COLORS: Mapping[str, str] = {
    # allocation client statuses
    "pending": _AMBER,
    "running": _BLUE,
    "complete": _GREEN,
    "failed": _RED,
    "lost": _PURPLE,
    "unknown": _GREY,
    # task states (pending and running above)
    "dead": "#555555",
    # job summary counts that are not client statuses
    "queued": "#ffbb78",
    "starting": "#aec7e8",
    # deployment statuses
    "successful": _GREEN,
    "paused": "#bcbd22",
    "cancelled": _GREY,
    "initializing": "#17becf",
    "blocked": "#e377c2",
    "unblocking": "#f7b6d2",
    # node statuses (initializing above)
    "ready": _GREEN,
    "down": _RED,
    "disconnected": _PURPLE,
}
"""Colour of every Nomad status word (allocation, task, deployment, node, job summary)."""

SEVERITY_COLORS: Mapping[str, str] = {
    "info": _BLUE,
    "warning": _AMBER,
    "error": _RED,
    "critical": _DARK_RED,
}
"""Colour of each incident severity."""

CAPACITY_COLORS: Mapping[str, str] = {
    "reserved": "#7f7f7f",
    "allocated": "#4c78a8",
    "headroom": "#d9e7d3",
    "capacity": "#222222",
    "used": "#e45756",
}
"""Colours of the parts of a node's capacity: ``used`` stands apart from ``allocated``."""

FONT = "Inter, Helvetica, Arial, sans-serif"
TEMPLATE_NAME = "nomadlab"
HOVER_TIME = "%Y-%m-%d %H:%M:%S UTC"
"""d3 time format of times in hover text (every time is UTC)."""


def color_of(status: Any) -> str:
    """The colour of a status or severity word (grey for a word nomadlab does not know)."""
    key = str(status)
    return STATUS_COLORS.get(key) or SEVERITY_COLORS.get(key) or _GREY


def template() -> go.layout.Template:
    """The nomadlab template: plotly's white template with one font, margins and hover style."""
    import plotly.graph_objects as go
    import plotly.io as pio

    base = pio.templates["plotly_white"]
    tmpl = go.layout.Template(base)
    tmpl.layout.update(
        font={"family": FONT, "size": 13, "color": "#222222"},
        title={"x": 0.01, "xanchor": "left", "font": {"size": 17}},
        hoverlabel={"font": {"family": FONT, "size": 12}},
        legend={"orientation": "v", "yanchor": "top", "y": 1.0, "x": 1.02, "xanchor": "left",
                "tracegroupgap": 4},
        margin={"l": 70, "r": 30, "t": 80, "b": 60},
    )
    return tmpl
