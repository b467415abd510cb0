"""Routes under ``/v1/system`` (REFERENCE §11.4): forced garbage collection, summary reconciliation.

Both are ``PUT`` only (any other method is 405 ``Invalid method`` before the token is looked at)
and need a management token; both answer 200 with an empty body.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..http import Request, Response
from ..router import Router

if TYPE_CHECKING:
    from ..cluster import SimCluster

__all__ = ["register"]


def system_gc(c: SimCluster, req: Request) -> Response:
    """PUT /v1/system/gc: collect every terminal job, evaluation, allocation, deployment and node."""
    c.garbage_collect()
    return Response.empty(200)


def reconcile_summaries(c: SimCluster, req: Request) -> Response:
    """PUT /v1/system/reconcile/summaries: recompute every job summary."""
    c.reconcile_summaries()
    return Response.empty(200)


def register(router: Router) -> None:
    router.add("PUT", r"/v1/system/gc", system_gc)
    router.add("PUT", r"/v1/system/reconcile/summaries", reconcile_summaries)
