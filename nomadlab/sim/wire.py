"""The simulator's wire-shape layer: pure builders and projections of Nomad objects.

Every function returns a freshly built dict shaped exactly as Nomad serializes the object
(field names, JSON types, nesting, Go zero values). The implementation is split by noun
(``wire_jobs``, ``wire_allocs``, ``wire_nodes``, ``wire_diff``); this module re-exports it.
"""

from __future__ import annotations

from nomadlab.sim.wire_allocs import (
    alloc_metric,
    alloc_stub,
    display_message,
    new_allocation,
    new_deployment,
    new_evaluation,
    new_task_state,
    task_event,
)
from nomadlab.sim.wire_common import ZERO_TIME, go_duration, multierror, rfc3339
from nomadlab.sim.wire_diff import job_diff
from nomadlab.sim.wire_jobs import (
    canonicalize_job,
    job_scale_status,
    job_stub,
    new_job_summary,
    scaling_event,
)
from nomadlab.sim.wire_nodes import new_namespace, new_node, new_node_pool, node_stub

__all__ = [
    "ZERO_TIME",
    "rfc3339",
    "go_duration",
    "multierror",
    "canonicalize_job",
    "job_stub",
    "new_job_summary",
    "job_scale_status",
    "scaling_event",
    "job_diff",
    "new_namespace",
    "new_node_pool",
    "new_node",
    "node_stub",
    "new_allocation",
    "alloc_stub",
    "new_task_state",
    "task_event",
    "display_message",
    "alloc_metric",
    "new_evaluation",
    "new_deployment",
]
