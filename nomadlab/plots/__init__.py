"""Plots: plotly figures of nomadlab frames, in the plotly express manner.

Every function takes a DataFrame first and column choices as keyword arguments, and returns a
:class:`plotly.graph_objects.Figure` without showing it. plotly is imported on first use, so
``import nomadlab.plots`` stays light. One module per chart family:

- :mod:`~nomadlab.plots.capacity`: :func:`node_utilization`, :func:`cluster_heatmap`
- :mod:`~nomadlab.plots.usage`: :func:`utilization_over_time`
- :mod:`~nomadlab.plots.tasks`: :func:`task_timeline`, :func:`restarts_chart`
- :mod:`~nomadlab.plots.incidents`: :func:`incident_timeline`
- :mod:`~nomadlab.plots.jobs`: :func:`job_status`
- :mod:`~nomadlab.plots.rightsizing`: :func:`rightsizing_chart`

Colours, the template and hover formats are in :mod:`nomadlab.plots._style`.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

_EXPORTS: dict[str, str] = {
    "cluster_heatmap": "nomadlab.plots.capacity",
    "incident_timeline": "nomadlab.plots.incidents",
    "job_status": "nomadlab.plots.jobs",
    "node_utilization": "nomadlab.plots.capacity",
    "restarts_chart": "nomadlab.plots.tasks",
    "rightsizing_chart": "nomadlab.plots.rightsizing",
    "task_timeline": "nomadlab.plots.tasks",
    "utilization_over_time": "nomadlab.plots.usage",
}

__all__ = sorted(_EXPORTS)

if TYPE_CHECKING:
    from nomadlab.plots.capacity import cluster_heatmap as cluster_heatmap
    from nomadlab.plots.capacity import node_utilization as node_utilization
    from nomadlab.plots.incidents import incident_timeline as incident_timeline
    from nomadlab.plots.jobs import job_status as job_status
    from nomadlab.plots.rightsizing import rightsizing_chart as rightsizing_chart
    from nomadlab.plots.tasks import restarts_chart as restarts_chart
    from nomadlab.plots.tasks import task_timeline as task_timeline
    from nomadlab.plots.usage import utilization_over_time as utilization_over_time


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'nomadlab.plots' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_EXPORTS))
