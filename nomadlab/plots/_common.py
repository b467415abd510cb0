"""What every chart family shares: checking the input frame and starting a styled figure."""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from ._style import template

if TYPE_CHECKING:
    import pandas as pd
    import plotly.graph_objects as go

__all__ = ["figure", "require", "subplots", "unit_label"]


def require(frame: pd.DataFrame, columns: Iterable[str], *, plot: str, frame_name: str) -> None:
    """Raise a ``ValueError`` naming the missing columns and the frame the plot expects."""
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise ValueError(
            f"{plot}() needs a {frame_name} frame; the frame given lacks the columns {missing}. "
            f"Pass the output of the function that builds the {frame_name} frame (see docs/plots.md)."
        )


def figure(title: str, **layout: Any) -> go.Figure:
    """An empty figure in the nomadlab template with ``title``."""
    import plotly.graph_objects as go

    fig = go.Figure()
    fig.update_layout(template=template(), title={"text": title}, **layout)
    return fig


def subplots(title: str, **kwargs: Any) -> go.Figure:
    """``plotly.subplots.make_subplots(**kwargs)`` in the nomadlab template with ``title``."""
    from plotly.subplots import make_subplots

    fig = make_subplots(**kwargs)
    fig.update_layout(template=template(), title={"text": title})
    return fig


def unit_label(quantity: str, unit: str) -> str:
    """An axis title with its unit: ``memory (MB)``."""
    return f"{quantity} ({unit})"
