"""The simulator's HTTP routes, one module per Nomad resource, assembled into one router."""

from __future__ import annotations

from ..acl import Requirement
from ..router import Router
from . import (
    acl,
    agent,
    allocations,
    client,
    evaluations,
    events,
    job_statuses,
    jobs,
    nodes,
    operator,
    scaling,
    search,
    services,
    storage,
    system,
)


def ns(*caps: str) -> Requirement:
    return Requirement("ns", caps)


AUTH = Requirement("auth")

# What a token needs for each route (REFERENCE §8 "Capability per endpoint"); first match wins.
# ``AUTH`` routes authenticate here and check the capability on the object's namespace in the
# handler, as Nomad's RPC endpoints do (an allocation's namespace, a job body's namespace).
REQUIREMENTS: list[tuple[str, str, Requirement]] = [
    ("GET", r"/v1/jobs", ns("list-jobs")),
    # Job.Statuses checks read-job on the namespace it settles on (a POST body's own, or *)
    ("GET|POST", r"/v1/jobs/statuses", AUTH),
    ("PUT|POST", r"/v1/jobs/parse", ns("parse-job", "submit-job")),
    ("PUT|POST", r"/v1/validate/job", AUTH),
    ("PUT|POST", r"/v1/jobs", AUTH),
    ("*", r"/v1/job/.+/plan", AUTH),
    ("GET", r"/v1/job/.+/scale", ns("read-job-scaling", "read-job")),
    ("PUT|POST", r"/v1/job/.+/scale", ns("scale-job", "submit-job")),
    ("PUT|POST", r"/v1/job/.+/evaluate", ns("submit-job")),
    ("GET", r"/v1/job/.+", ns("read-job")),
    ("PUT|POST", r"/v1/job/.+", AUTH),
    ("DELETE", r"/v1/job/.+", ns("submit-job")),
    ("*", r"/v1/job/.+", AUTH),
    ("*", r"/v1/allocations", ns("read-job")),
    ("*", r"/v1/allocation/.*", AUTH),
    ("*", r"/v1/evaluations?(/.*)?", ns("read-job")),
    ("PUT|POST", r"/v1/deployment/(fail|pause|promote|allocation-health)/[^/]+", AUTH),
    ("*", r"/v1/deployments?(/.*)?", ns("read-job")),
    ("*", r"/v1/node/pools?(/.*)?", AUTH),
    ("PUT|POST", r"/v1/node/[^/]+/(drain|eligibility|purge|evaluate)", Requirement("node", level="write")),
    ("*", r"/v1/nodes?(/.*)?", Requirement("node", level="read")),
    ("*", r"/v1/client/stats", Requirement("node", level="read")),
    ("*", r"/v1/client/gc", Requirement("node", level="write")),
    ("*", r"/v1/client/.+", AUTH),
    ("*", r"/v1/agent/self", Requirement("agent", level="read")),
    ("*", r"/v1/agent/members", Requirement("node", level="read")),
    # agent:read/write checked in the handler, after its 400s; join only warns without a token
    ("*", r"/v1/agent/servers", AUTH),
    ("PUT|POST", r"/v1/agent/force-leave", Requirement("agent", level="write")),
    ("*", r"/v1/namespaces?(/.*)?", AUTH),
    ("*", r"/v1/event/stream", AUTH),
    ("*", r"/v1/system/.+", Requirement("mgmt")),
    # the handlers check operator read/write and management, after their method and body checks
    ("*", r"/v1/operator/(scheduler|raft)/.+", AUTH),
    ("*", r"/v1/vars", AUTH),
    ("*", r"/v1/var/.*", AUTH),
    ("GET", r"/v1/volumes", AUTH),
    ("GET", r"/v1/plugins", AUTH),
    ("*", r"/v1/scaling/.+", AUTH),
    ("*", r"/v1/search", AUTH),
    ("*", r"/v1/search/fuzzy", AUTH),
    ("*", r"/v1/services?(/.*)?", AUTH),
]

__all__ = ["ROUTER", "build_router"]


def build_router() -> Router:
    router = Router()
    # Order matters where patterns overlap: node pools before /v1/node/:id.
    for module in (agent, job_statuses, jobs, allocations, nodes, evaluations, events, acl, client, system,
                   operator, storage, scaling, search, services):
        module.register(router)
    for methods, pattern, need in REQUIREMENTS:
        router.require(methods, pattern, need)
    return router


ROUTER = build_router()
