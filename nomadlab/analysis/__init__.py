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
- :func:`sample_usage`, :func:`usage_history`: usage samples over time (Nomad keeps none);
- :func:`task_spans`: pending / running / dead spans of each task, from its events.

Names load on first use, so importing this package costs nothing until one is used.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

_EXPORTS: dict[str, str] = {
    "AddNodes": "fit", "Ask": "fit", "Drain": "fit", "DrainDatacenter": "fit", "RemoveNodeClass": "fit",
    "Scale": "fit", "capacity": "capacity", "failures": "failures", "fit": "fit",
    "incident_timeline": "timeline", "node_health": "health", "restarts": "failures",
    "rightsizing": "rightsizing", "sample_once": "usage", "sample_usage": "usage", "task_spans": "states",
    "usage_history": "usage",
}

__all__ = sorted(_EXPORTS)

if TYPE_CHECKING:
    from .capacity import capacity as capacity
    from .failures import failures as failures
    from .failures import restarts as restarts
    from .fit import AddNodes as AddNodes
    from .fit import Ask as Ask
    from .fit import Drain as Drain
    from .fit import DrainDatacenter as DrainDatacenter
    from .fit import RemoveNodeClass as RemoveNodeClass
    from .fit import Scale as Scale
    from .fit import fit as fit
    from .health import node_health as node_health
    from .rightsizing import rightsizing as rightsizing
    from .timeline import incident_timeline as incident_timeline


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'nomadlab.analysis' has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{module}"), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_EXPORTS))
