"""The simulator's HTTP routes, one module per Nomad resource, assembled into one router."""

from __future__ import annotations

from ..router import Router
from . import agent, allocations, evaluations, events, jobs, nodes

__all__ = ["ROUTER", "build_router"]


def build_router() -> Router:
    router = Router()
    # Order matters where patterns overlap: node pools before /v1/node/:id.
    for module in (agent, jobs, allocations, nodes, evaluations, events):
        module.register(router)
    return router


ROUTER = build_router()
