"""Notebook widgets (ipywidgets 8) composed from the frames, plots and actions.

Every widget reads nothing when built: it fetches on an explicit call (``refresh()``,
``start()``) or when first displayed, shows itself in a notebook, and can be driven from Python
(set a control's ``value``, call the method a button calls). See ``docs/widgets.md``.
"""

from __future__ import annotations

from .filters import FilterPanel
from .jobs import JobControl, JobTable
from .live import LiveView
from .logs import LogViewer

__all__ = ["FilterPanel", "JobControl", "JobTable", "LiveView", "LogViewer"]
