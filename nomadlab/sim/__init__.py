"""A simulated Nomad cluster that speaks Nomad's HTTP API, in-process or on a socket.

>>> from nomadlab.sim import SimCluster
>>> cluster = SimCluster.default(seed=1)
>>> sorted({j["Type"] for j in cluster.state.jobs.values()})
['batch', 'service', 'sysbatch', 'system']

Layers: :mod:`~nomadlab.sim.state` (tables and indexes), :mod:`~nomadlab.sim.scheduler` and
:mod:`~nomadlab.sim.lifecycle` (behaviour), :mod:`~nomadlab.sim.routes` (HTTP translation),
:mod:`~nomadlab.sim.asgi` / :mod:`~nomadlab.sim.transport` (adapters). ``FIDELITY.md`` beside
this file lists what is simulated and what is not.
"""

from __future__ import annotations

from .clock import Clock, ManualClock, RealClock
from .cluster import SimCluster
from .errors import NomadHTTPError

__all__ = ["Clock", "ManualClock", "NomadHTTPError", "RealClock", "SimCluster"]
