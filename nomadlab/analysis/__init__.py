"""Analysis: frames in, frames out.

Each function takes a client or source (and fetches the frames it needs, each once) or a
mapping of frames already at hand, and returns a plain DataFrame whose columns are listed in
``docs/analysis.md``.

- :func:`capacity`: capacity / reserved / allocatable / allocated / used / headroom by node,
  node pool, datacenter, node class, namespace or job;
- :func:`fit`: how many more instances fit, with what-if changes, and Nomad's own plan beside it;
- :func:`rightsizing`: observed usage against the asks, and what to ask instead;
- :func:`node_health`: every node that is not plainly healthy, and why;
- :func:`incident_timeline`: one ordered frame of everything that happened;
- :func:`restarts`, :func:`failures`: crash loops, OOM kills, exit codes;
- :func:`task_spans`: the pending / running / dead spans of each task, from its events;
- :func:`sample_once`, :func:`sample_usage`, :func:`usage_history`: usage samples over time
  (the ``usage`` frame; Nomad keeps no usage history).

The functions are imported here, at package import, so that ``nomadlab.analysis.capacity``
is always the function and never the submodule of the same name (as in ``nomadlab.frames``).
"""

from __future__ import annotations

from .capacity import capacity
from .failures import failures, restarts
from .fit import AddNodes, Ask, Drain, DrainDatacenter, RemoveNodeClass, Scale, fit
from .health import node_health
from .rightsizing import rightsizing
from .states import task_spans
from .timeline import incident_timeline
from .usage import USAGE, NoUsageHistoryError, sample_once, sample_usage, usage_history

__all__ = [
    "USAGE",
    "AddNodes",
    "Ask",
    "Drain",
    "DrainDatacenter",
    "NoUsageHistoryError",
    "RemoveNodeClass",
    "Scale",
    "capacity",
    "failures",
    "fit",
    "incident_timeline",
    "node_health",
    "restarts",
    "rightsizing",
    "sample_once",
    "sample_usage",
    "task_spans",
    "usage_history",
]
