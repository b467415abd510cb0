"""Two-step write actions: each function returns a :class:`Plan`; ``plan.apply(confirm=True)`` writes.

>>> from nomadlab.sim import SimCluster
>>> from nomadlab.client import NomadClient
>>> from nomadlab import actions
>>> cluster = SimCluster.default(seed=0)
>>> plan = actions.scale(NomadClient(transport=cluster.transport()), "web", "frontend", 4)
>>> plan.summary.startswith("count 3 -> 4")
True

Every action checks the token's capabilities first (:class:`MissingCapabilityError`, nothing
sent), refuses a stale plan (:class:`StalePlanError`), never retries its write, follows the
result with blocking queries into an :class:`Outcome`, and appends a record to the audit log
(:mod:`nomadlab.audit`).
"""

from __future__ import annotations

from nomadlab.actions._acl import MissingCapabilityError
from nomadlab.actions._plan import ConfirmationRequiredError, Outcome, Plan, StalePlanError
from nomadlab.actions.allocations import restart_alloc, stop_alloc
from nomadlab.actions.jobs import dispatch, revert, scale, stop, submit
from nomadlab.actions.nodes import drain, set_eligibility, undrain
from nomadlab.actions.system import gc

__all__ = [
    "ConfirmationRequiredError", "MissingCapabilityError", "Outcome", "Plan", "StalePlanError",
    "dispatch", "drain", "gc", "restart_alloc", "revert", "scale", "set_eligibility", "stop",
    "stop_alloc", "submit", "undrain",
]
