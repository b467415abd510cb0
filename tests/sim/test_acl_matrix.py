"""Every served route × five tokens, against the status and body real Nomad answers.

The cases are keyed by the router's own patterns, and a test fails when a route of the router
has no case, so a new route cannot escape the matrix. Expectations follow Nomad's RPC
endpoints (``nomad/*_endpoint.go``) and ``acl/acl.go``; see ``docs/sim-api.md``.

Tokens: ``anon`` (no token, no anonymous policy), ``read`` (read on ``default``, node, agent
and node pools), ``other`` (write on ``team`` only), ``write`` (write on ``default``, node
write, agent and node-pool read) and ``mgmt``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest

from nomadlab.sim import SimCluster
from nomadlab.sim.routes import ROUTER
from nomadlab.sim.scenarios import group, job_spec, task

TOKENS = ("anon", "read", "other", "write", "mgmt")
RULES = {
    "read": 'namespace "default" { policy = "read" }\nnode { policy = "read" }\n'
            'agent { policy = "read" }\nnode_pool "*" { policy = "read" }',
    "other": 'namespace "team" { policy = "write" }',
    "write": 'namespace "default" { policy = "write" }\nnode { policy = "write" }\n'
             'agent { policy = "read" }\nnode_pool "*" { policy = "read" }',
}
DENIED = (403, "Permission denied")


@dataclass
class World:
    cluster: SimCluster
    http: httpx.Client
    secrets: dict[str, str]
    ids: dict[str, str]

    def headers(self, token: str) -> dict[str, str]:
        return {"X-Nomad-Token": self.secrets[token]} if token in self.secrets else {}


def _world() -> World:
    c = SimCluster(acl=True, seed=11)
    c.max_blocking_wait_s = 1.0
    c.add_namespace("team")
    node = c.add_node(name="n1", datacenter="dc1", cpu_mhz=4000, cores=4, memory_mb=8192, disk_mb=10000,
                      address="10.0.0.1")
    c.register_job(job_spec("a", [group("g", [task("t")])], datacenters=["dc1"]))
    c.register_job(job_spec("b", [group("g", [task("t")])], datacenters=["dc1"], namespace="team"))
    c.advance(60)
    http = httpx.Client(transport=c.transport(), base_url="http://nomad")
    mgmt = c.acl.bootstrap()["SecretID"]
    secrets = {"mgmt": mgmt}
    accessors: dict[str, str] = {}
    for name, rules in RULES.items():
        c.acl.upsert_policy(name, rules)
        token = c.acl.create_token(name=name, policies=[name])
        secrets[name] = token["SecretID"]
        accessors[f"acc_{name}"] = token["AccessorID"]
    ids: dict[str, str] = {"node": node["ID"], **accessors}
    for ns, job in (("default", "a"), ("team", "b")):
        alloc = c.state.job_allocs(ns, job)[0]
        ids[f"alloc_{job}"] = alloc["ID"]
        ids[f"eval_{job}"] = alloc["EvalID"]
        deps = [d for d in c.state.deployments.values() if d["JobID"] == job]
        assert deps, "a service job's first version has a deployment"
        ids[f"dep_{job}"] = deps[0]["ID"]
    return World(c, http, secrets, ids)


def _job_body(namespace: str | None = None, **top: Any) -> dict[str, Any]:
    spec = job_spec("a", [group("g", [task("t")])], datacenters=["dc1"])
    if namespace is not None:
        spec["Namespace"] = namespace
    return {"Job": spec, **top}


def _profile(ok: tuple[int, str | None], allowed: tuple[str, ...],
             denied: tuple[int, str | None] = DENIED) -> dict[str, tuple[int, str | None]]:
    return {t: (ok if t in allowed else denied) for t in TOKENS}


OK = (200, None)
ALL = TOKENS
READ_DEFAULT = ("read", "write", "mgmt")
WRITE_DEFAULT = ("write", "mgmt")
TEAM = ("other", "mgmt")
NODE_READ = ("read", "write", "mgmt")
NODE_WRITE = ("write", "mgmt")


@dataclass
class Case:
    """One request and what each token gets (status, and the exact body for error texts)."""

    id: str
    pattern: str
    method: str
    path: Callable[[dict[str, str]], str]
    expect: dict[str, tuple[int, str | None]]
    params: dict[str, str] = field(default_factory=dict)
    body: Any = None
    stream: bool = False


def P(path: str) -> Callable[[dict[str, str]], str]:  # noqa: N802 - reads like a path literal
    return lambda ids: path.format(**ids)


R = {  # the router's patterns, by name, to key the cases
    "leader": r"/v1/status/leader", "peers": r"/v1/status/peers", "regions": r"/v1/regions",
    "self": r"/v1/agent/self", "members": r"/v1/agent/members", "health": r"/v1/agent/health",
    "namespaces": r"/v1/namespaces", "namespace": r"/v1/namespace/(?P<name>[^/]+)",
    "pools": r"/v1/node/pools", "pool": r"/v1/node/pool/(?P<name>[^/]+)",
    "jobs_get": r"/v1/jobs", "jobs_parse": r"/v1/jobs/parse", "job_statuses": r"/v1/jobs/statuses",
    "job": r"/v1/job/(?P<rest>.+)",
    "allocs": r"/v1/allocations", "alloc_stop": r"/v1/allocation/(?P<alloc_id>[^/]+)/stop",
    "alloc_sub": r"/v1/allocation/(?P<alloc_id>[^/]+)/(?P<sub>.+)",
    "alloc": r"/v1/allocation/(?P<alloc_id>[^/]+)",
    "nodes": r"/v1/nodes", "node_allocs": r"/v1/node/(?P<node_id>[^/]+)/allocations",
    "drain": r"/v1/node/(?P<node_id>[^/]+)/drain", "elig": r"/v1/node/(?P<node_id>[^/]+)/eligibility",
    "purge": r"/v1/node/(?P<node_id>[^/]+)/purge", "node_eval": r"/v1/node/(?P<node_id>[^/]+)/evaluate",
    "node": r"/v1/node/(?P<node_id>[^/]+)",
    "evals": r"/v1/evaluations", "eval_allocs": r"/v1/evaluation/(?P<eval_id>[^/]+)/allocations",
    "eval": r"/v1/evaluation/(?P<eval_id>[^/]+)", "deps": r"/v1/deployments",
    "dep_allocs": r"/v1/deployment/allocations/(?P<dep_id>[^/]+)",
    "dep": r"/v1/deployment/(?P<dep_id>[^/]+)", "stream": r"/v1/event/stream",
    "dep_fail": r"/v1/deployment/fail/(?P<dep_id>[^/]+)", "dep_pause": r"/v1/deployment/pause/(?P<dep_id>[^/]+)",
    "dep_promote": r"/v1/deployment/promote/(?P<dep_id>[^/]+)",
    "dep_health": r"/v1/deployment/allocation-health/(?P<dep_id>[^/]+)",
    "bootstrap": r"/v1/acl/bootstrap", "policies": r"/v1/acl/policies",
    "policy": r"/v1/acl/policy/(?P<name>[^/]*)", "tokens": r"/v1/acl/tokens", "token": r"/v1/acl/token",
    "token_self": r"/v1/acl/token/self", "client_stats": r"/v1/client/stats",
    "alloc_stats": r"/v1/client/allocation/(?P<alloc_id>[^/]+)/stats",
    "logs": r"/v1/client/fs/logs/(?P<alloc_id>[^/]*)",
    "alloc_restart": r"/v1/client/allocation/(?P<alloc_id>[^/]+)/restart",
    "alloc_signal": r"/v1/client/allocation/(?P<alloc_id>[^/]+)/signal",
    "alloc_gc": r"/v1/client/allocation/(?P<alloc_id>[^/]+)/gc",
    "client_alloc": r"/v1/client/allocation/(?P<rest>.*)", "client_gc": r"/v1/client/gc",
    "system_gc": r"/v1/system/gc", "reconcile": r"/v1/system/reconcile/summaries",
    "validate": r"/v1/validate/job", "acl_token": r"/v1/acl/token/(?P<accessor>[^/]+)",
    "acl_roles": r"/v1/acl/roles", "acl_auth_methods": r"/v1/acl/auth-methods",
    "acl_binding_rules": r"/v1/acl/binding-rules",
    "sched_config": r"/v1/operator/scheduler/configuration", "raft_config": r"/v1/operator/raft/configuration",
    "raft_other": r"/v1/operator/raft/(?P<rest>.*)", "license": r"/v1/operator/license",
    "vars": r"/v1/vars", "volumes": r"/v1/volumes", "plugins": r"/v1/plugins",
    "scaling_policies": r"/v1/scaling/policies", "scaling_policy": r"/v1/scaling/policy/(?P<policy_id>[^/]+)",
    "metrics": r"/v1/metrics", "search": r"/v1/search", "search_fuzzy": r"/v1/search/fuzzy",
    "services": r"/v1/services",
    "service": r"/v1/service/(?P<rest>.*)",
    "agent_servers": r"/v1/agent/servers", "agent_join": r"/v1/agent/join",
    "force_leave": r"/v1/agent/force-leave", "var": r"/v1/var/(?P<path>.*)",
    "fs_ls": r"/v1/client/fs/ls/(?P<alloc_id>.*)", "fs_stat": r"/v1/client/fs/stat/(?P<alloc_id>.*)",
    "fs_cat": r"/v1/client/fs/cat/(?P<alloc_id>.*)", "fs_readat": r"/v1/client/fs/readat/(?P<alloc_id>.*)",
    "fs_stream": r"/v1/client/fs/stream/(?P<alloc_id>.*)", "fs_other": r"/v1/client/fs/(?P<rest>.*)",
    "monitor": r"/v1/agent/monitor",
}

# Alloc.GetAlloc checks only the allocation's namespace and hides it behind the uncoded
# structs.NewErrUnknownAllocation, so the HTTP layer answers 500.
UNKNOWN_B = "Unknown allocation \"{}\""

CASES: list[Case] = [
    Case("status-leader", R["leader"], "GET", P("/v1/status/leader"), _profile(OK, ALL)),
    Case("status-peers", R["peers"], "GET", P("/v1/status/peers"), _profile(OK, ALL)),
    Case("regions", R["regions"], "GET", P("/v1/regions"), _profile(OK, ALL)),
    Case("agent-self", R["self"], "GET", P("/v1/agent/self"), _profile(OK, ("read", "write", "mgmt"))),
    Case("agent-members", R["members"], "GET", P("/v1/agent/members"), _profile(OK, NODE_READ)),
    Case("agent-health", R["health"], "GET", P("/v1/agent/health"), _profile(OK, ALL)),
    Case("namespaces", R["namespaces"], "GET", P("/v1/namespaces"), _profile(OK, ALL)),
    Case("namespace-default", R["namespace"], "GET", P("/v1/namespace/default"), _profile(OK, READ_DEFAULT)),
    Case("namespace-team", R["namespace"], "GET", P("/v1/namespace/team"), _profile(OK, TEAM)),
    Case("node-pools", R["pools"], "GET", P("/v1/node/pools"), _profile(OK, ALL)),
    Case("node-pool", R["pool"], "GET", P("/v1/node/pool/default"), _profile(OK, ("read", "write", "mgmt"))),
    Case("jobs-list", R["jobs_get"], "GET", P("/v1/jobs"), _profile(OK, READ_DEFAULT)),
    Case("jobs-list-team", R["jobs_get"], "GET", P("/v1/jobs"), _profile(OK, TEAM), {"namespace": "team"}),
    Case("jobs-list-star", R["jobs_get"], "GET", P("/v1/jobs"), _profile(OK, ("read", "other", "write", "mgmt")),
         {"namespace": "*"}),
    Case("job-statuses", R["job_statuses"], "GET", P("/v1/jobs/statuses"), _profile(OK, READ_DEFAULT)),
    Case("job-statuses-star", R["job_statuses"], "GET", P("/v1/jobs/statuses"),
         _profile(OK, ("read", "other", "write", "mgmt")), {"namespace": "*"}),
    # a POST naming jobs of one namespace is checked on that namespace
    Case("job-statuses-post-team", R["job_statuses"], "POST", P("/v1/jobs/statuses"), _profile(OK, TEAM),
         body={"Jobs": [{"ID": "b", "Namespace": "team"}]}),
    Case("jobs-register", R["jobs_get"], "PUT", P("/v1/jobs"), _profile(OK, WRITE_DEFAULT), body=_job_body()),
    Case("jobs-register-body-team", R["jobs_get"], "PUT", P("/v1/jobs"), _profile(OK, TEAM),
         body=_job_body("team")),
    Case("jobs-register-query-wins", R["jobs_get"], "PUT", P("/v1/jobs"), _profile(OK, WRITE_DEFAULT),
         {"namespace": "default"}, body=_job_body("team")),
    Case("jobs-register-request-ns", R["jobs_get"], "PUT", P("/v1/jobs"), _profile(OK, TEAM),
         body=_job_body(None, Namespace="team")),
    Case("job-get", R["job"], "GET", P("/v1/job/a"), _profile(OK, READ_DEFAULT)),
    Case("job-get-star", R["job"], "GET", P("/v1/job/a"),
         _profile((404, "job not found"), ("read", "other", "write", "mgmt")), {"namespace": "*"}),
    Case("job-register", R["job"], "POST", P("/v1/job/a"), _profile(OK, WRITE_DEFAULT), body=_job_body()),
    Case("job-register-team", R["job"], "POST", P("/v1/job/a"), _profile(OK, TEAM), body=_job_body("team")),
    Case("job-deregister", R["job"], "DELETE", P("/v1/job/a"), _profile(OK, WRITE_DEFAULT)),
    Case("job-allocations", R["job"], "GET", P("/v1/job/a/allocations"), _profile(OK, READ_DEFAULT)),
    Case("job-evaluations", R["job"], "GET", P("/v1/job/a/evaluations"), _profile(OK, READ_DEFAULT)),
    Case("job-deployments", R["job"], "GET", P("/v1/job/a/deployments"), _profile(OK, READ_DEFAULT)),
    Case("job-deployment", R["job"], "GET", P("/v1/job/a/deployment"), _profile(OK, READ_DEFAULT)),
    Case("job-summary", R["job"], "GET", P("/v1/job/a/summary"), _profile(OK, READ_DEFAULT)),
    Case("job-versions", R["job"], "GET", P("/v1/job/a/versions"), _profile(OK, READ_DEFAULT)),
    Case("job-scale-get", R["job"], "GET", P("/v1/job/a/scale"), _profile(OK, READ_DEFAULT)),
    Case("job-scale-post", R["job"], "POST", P("/v1/job/a/scale"), _profile(OK, WRITE_DEFAULT),
         body={"Count": 2, "Target": {"Group": "g"}}),
    Case("job-evaluate", R["job"], "POST", P("/v1/job/a/evaluate"), _profile(OK, WRITE_DEFAULT)),
    Case("job-plan", R["job"], "POST", P("/v1/job/a/plan"), _profile(OK, WRITE_DEFAULT), body=_job_body()),
    Case("job-plan-team", R["job"], "POST", P("/v1/job/a/plan"), _profile(OK, TEAM), body=_job_body("team")),
    Case("job-submission", R["job"], "GET", P("/v1/job/a/submission"),
         _profile((404, "job source not found"), READ_DEFAULT), {"version": "0"}),
    # The HTTP handler checks the body before the RPC checks the token (400 for everyone), then
    # the RPC checks the capability before the job (403, then Nomad's uncoded 500).
    Case("job-revert-no-id", R["job"], "POST", P("/v1/job/a/revert"),
         _profile((400, "JobID must be specified"), ALL), body={}),
    Case("job-revert", R["job"], "POST", P("/v1/job/a/revert"),
         _profile((500, "can't revert to current version"), WRITE_DEFAULT), body={"JobID": "a", "JobVersion": 0}),
    Case("job-stable", R["job"], "POST", P("/v1/job/a/stable"), _profile(OK, WRITE_DEFAULT),
         body={"JobID": "a", "JobVersion": 0, "Stable": True}),
    Case("job-stable-team", R["job"], "POST", P("/v1/job/b/stable"), _profile(OK, TEAM),
         {"namespace": "team"}, body={"JobID": "b", "JobVersion": 0, "Stable": True}),
    Case("job-dispatch", R["job"], "POST", P("/v1/job/a/dispatch"),
         _profile((500, 'Specified job "a" is not a parameterized job'), WRITE_DEFAULT), body={}),
    Case("job-dispatch-payload", R["job"], "POST", P("/v1/job/a/dispatch/payload"),
         _profile((500, 'Specified job "a" is not a parameterized job'), WRITE_DEFAULT), body={}),
    Case("job-periodic-force", R["job"], "POST", P("/v1/job/a/periodic/force"),
         _profile((500, "can't force launch non-periodic job"), WRITE_DEFAULT)),
    Case("jobs-parse", R["jobs_parse"], "POST", P("/v1/jobs/parse"), _profile(OK, READ_DEFAULT),
         body={"JobHCL": 'job "x" {}'}),
    Case("jobs-parse-team", R["jobs_parse"], "POST", P("/v1/jobs/parse"), _profile(OK, TEAM),
         {"namespace": "team"}, body={"JobHCL": 'job "x" {}'}),
    Case("allocs-list", R["allocs"], "GET", P("/v1/allocations"), _profile(OK, READ_DEFAULT)),
    Case("allocs-list-star", R["allocs"], "GET", P("/v1/allocations"),
         _profile(OK, ("read", "other", "write", "mgmt")), {"namespace": "*"}),
    Case("alloc-get", R["alloc"], "GET", P("/v1/allocation/{alloc_a}"),
         _profile(OK, READ_DEFAULT, (500, None))),
    Case("alloc-get-team", R["alloc"], "GET", P("/v1/allocation/{alloc_b}"),
         _profile(OK, TEAM, (500, None))),
    Case("alloc-stop", R["alloc_stop"], "POST", P("/v1/allocation/{alloc_a}/stop"), _profile(OK, WRITE_DEFAULT)),
    Case("alloc-stop-team", R["alloc_stop"], "POST", P("/v1/allocation/{alloc_b}/stop"), _profile(OK, TEAM)),
    Case("alloc-sub", R["alloc_sub"], "GET", P("/v1/allocation/{alloc_a}/services"),
         _profile((404, "resource not found"), ALL)),
    Case("nodes", R["nodes"], "GET", P("/v1/nodes"), _profile(OK, NODE_READ)),
    Case("node-allocs", R["node_allocs"], "GET", P("/v1/node/{node}/allocations"), _profile(OK, NODE_READ)),
    Case("node-drain", R["drain"], "POST", P("/v1/node/{node}/drain"), _profile(OK, NODE_WRITE),
         body={"DrainSpec": {"Deadline": 60_000_000_000}}),
    Case("node-elig", R["elig"], "POST", P("/v1/node/{node}/eligibility"), _profile(OK, NODE_WRITE),
         body={"Eligibility": "ineligible"}),
    Case("node-purge", R["purge"], "POST", P("/v1/node/{node}/purge"), _profile(OK, NODE_WRITE)),
    Case("node-evaluate", R["node_eval"], "POST", P("/v1/node/{node}/evaluate"), _profile(OK, NODE_WRITE)),
    Case("node-get", R["node"], "GET", P("/v1/node/{node}"), _profile(OK, NODE_READ)),
    Case("evals", R["evals"], "GET", P("/v1/evaluations"), _profile(OK, READ_DEFAULT)),
    Case("eval-allocs", R["eval_allocs"], "GET", P("/v1/evaluation/{eval_a}/allocations"),
         _profile(OK, READ_DEFAULT)),
    Case("eval-allocs-team", R["eval_allocs"], "GET", P("/v1/evaluation/{eval_b}/allocations"),
         _profile(OK, ("mgmt",))),
    Case("eval-get", R["eval"], "GET", P("/v1/evaluation/{eval_a}"), _profile(OK, READ_DEFAULT)),
    Case("eval-get-team", R["eval"], "GET", P("/v1/evaluation/{eval_b}"), _profile(OK, ("mgmt",))),
    Case("eval-get-team-ns", R["eval"], "GET", P("/v1/evaluation/{eval_b}"), _profile(OK, TEAM),
         {"namespace": "team"}),
    Case("deps", R["deps"], "GET", P("/v1/deployments"), _profile(OK, READ_DEFAULT)),
    Case("dep-allocs", R["dep_allocs"], "GET", P("/v1/deployment/allocations/{dep_a}"), _profile(OK, READ_DEFAULT)),
    Case("dep-get", R["dep"], "GET", P("/v1/deployment/{dep_a}"), _profile(OK, READ_DEFAULT)),
    Case("dep-get-team", R["dep"], "GET", P("/v1/deployment/{dep_b}"),
         {**_profile(OK, ("mgmt",)), "read": (404, "deployment not found"),
          "write": (404, "deployment not found")}),
    # Deployment writes look the deployment up, then check submit-job on its namespace; these
    # deployments have completed, so a writer meets Nomad's terminal-deployment texts.
    Case("dep-fail", R["dep_fail"], "POST", P("/v1/deployment/fail/{dep_a}"),
         _profile((500, "can't fail terminal deployment"), WRITE_DEFAULT)),
    Case("dep-fail-team", R["dep_fail"], "POST", P("/v1/deployment/fail/{dep_b}"),
         _profile((500, "can't fail terminal deployment"), TEAM)),
    Case("dep-fail-unknown", R["dep_fail"], "POST", P("/v1/deployment/fail/nope"),
         _profile((500, "deployment not found"), ALL)),
    Case("dep-pause", R["dep_pause"], "POST", P("/v1/deployment/pause/{dep_a}"),
         _profile((500, "can't pause terminal deployment"), WRITE_DEFAULT), body={"DeploymentID": "{dep_a}",
                                                                                   "Pause": True}),
    Case("dep-pause-no-id", R["dep_pause"], "POST", P("/v1/deployment/pause/{dep_a}"),
         _profile((400, "DeploymentID must be specified"), ALL), body={"Pause": True}),
    Case("dep-promote", R["dep_promote"], "POST", P("/v1/deployment/promote/{dep_a}"),
         _profile((500, "can't promote terminal deployment"), WRITE_DEFAULT),
         body={"DeploymentID": "{dep_a}", "All": True}),
    Case("dep-health", R["dep_health"], "POST", P("/v1/deployment/allocation-health/{dep_a}"),
         _profile((500, "can't set health of allocations for a terminal deployment"), WRITE_DEFAULT),
         body={"DeploymentID": "{dep_a}", "HealthyAllocationIDs": ["{alloc_a}"]}),
    Case("event-stream", R["stream"], "GET", P("/v1/event/stream"), _profile(OK, READ_DEFAULT),
         {"topic": "Job"}, stream=True),
    Case("event-stream-star", R["stream"], "GET", P("/v1/event/stream"), _profile(OK, ("mgmt",)),
         {"topic": "Job", "namespace": "*"}, stream=True),
    Case("acl-bootstrap", R["bootstrap"], "POST", P("/v1/acl/bootstrap"),
         _profile((400, None), ALL)),
    Case("acl-policies", R["policies"], "GET", P("/v1/acl/policies"), _profile(OK, ALL)),
    Case("acl-policy-get", R["policy"], "GET", P("/v1/acl/policy/read"), _profile(OK, ("read", "mgmt"))),
    Case("acl-policy-put", R["policy"], "PUT", P("/v1/acl/policy/x"), _profile(OK, ("mgmt",)),
         body={"Name": "x", "Rules": 'node { policy = "read" }'}),
    Case("acl-tokens", R["tokens"], "GET", P("/v1/acl/tokens"), _profile(OK, ("mgmt",))),
    Case("acl-token-create", R["token"], "POST", P("/v1/acl/token"), _profile(OK, ("mgmt",)),
         body={"Type": "management"}),
    Case("acl-token-self", R["token_self"], "GET", P("/v1/acl/token/self"), _profile(OK, ALL)),
    Case("client-stats", R["client_stats"], "GET", P("/v1/client/stats"), _profile(OK, NODE_READ),
         {"node_id": "{node}"}),
    Case("alloc-stats", R["alloc_stats"], "GET", P("/v1/client/allocation/{alloc_a}/stats"),
         _profile(OK, READ_DEFAULT)),
    Case("alloc-stats-team", R["alloc_stats"], "GET", P("/v1/client/allocation/{alloc_b}/stats"),
         _profile(OK, TEAM)),
    Case("logs", R["logs"], "GET", P("/v1/client/fs/logs/{alloc_a}"), _profile(OK, WRITE_DEFAULT),
         {"task": "t", "type": "stdout"}, stream=True),
    Case("logs-team", R["logs"], "GET", P("/v1/client/fs/logs/{alloc_b}"), _profile(OK, TEAM),
         {"task": "t", "type": "stdout"}, stream=True),
    Case("alloc-restart", R["alloc_restart"], "PUT", P("/v1/client/allocation/{alloc_a}/restart"),
         _profile(OK, WRITE_DEFAULT), body={}),
    Case("alloc-restart-team", R["alloc_restart"], "PUT", P("/v1/client/allocation/{alloc_b}/restart"),
         _profile(OK, TEAM), body={"TaskName": "t"}),
    Case("alloc-signal", R["alloc_signal"], "POST", P("/v1/client/allocation/{alloc_a}/signal"),
         _profile(OK, WRITE_DEFAULT), body={"Signal": "SIGHUP"}),
    Case("alloc-gc", R["alloc_gc"], "PUT", P("/v1/client/allocation/{alloc_a}/gc"),
         _profile((500, "No such allocation on client, or allocation not eligible for GC"), WRITE_DEFAULT)),
    Case("client-alloc-unknown", R["client_alloc"], "GET", P("/v1/client/allocation/{alloc_a}/nope"),
         _profile((404, "resource not found"), ALL)),
    Case("client-gc", R["client_gc"], "PUT", P("/v1/client/gc"), _profile(OK, NODE_WRITE), {"node_id": "{node}"}),
    Case("system-gc", R["system_gc"], "PUT", P("/v1/system/gc"), _profile(OK, ("mgmt",))),
    Case("system-gc-post", R["system_gc"], "POST", P("/v1/system/gc"), _profile((405, "Invalid method"), ALL)),
    Case("system-reconcile", R["reconcile"], "PUT", P("/v1/system/reconcile/summaries"), _profile(OK, ("mgmt",))),
    Case("validate-job", R["validate"], "POST", P("/v1/validate/job"), _profile(OK, READ_DEFAULT), body=_job_body()),
    Case("validate-job-team", R["validate"], "POST", P("/v1/validate/job"), _profile(OK, TEAM),
         body=_job_body("team")),
    Case("acl-token-read", R["acl_token"], "GET", P("/v1/acl/token/{acc_read}"), _profile(OK, ("read", "mgmt"))),
    Case("acl-token-update", R["acl_token"], "POST", P("/v1/acl/token/{acc_read}"), _profile(OK, ("mgmt",)),
         body={"AccessorID": "{acc_read}", "Name": "renamed", "Policies": ["read"]}),
    Case("acl-token-delete", R["acl_token"], "DELETE", P("/v1/acl/token/{acc_other}"), _profile(OK, ("mgmt",))),
    Case("acl-roles", R["acl_roles"], "GET", P("/v1/acl/roles"), _profile(OK, ALL)),
    Case("acl-auth-methods", R["acl_auth_methods"], "GET", P("/v1/acl/auth-methods"), _profile(OK, ALL)),
    Case("acl-binding-rules", R["acl_binding_rules"], "GET", P("/v1/acl/binding-rules"), _profile(OK, ("mgmt",))),
    Case("scheduler-config", R["sched_config"], "GET", P("/v1/operator/scheduler/configuration"),
         _profile(OK, ("mgmt",))),
    Case("scheduler-config-put", R["sched_config"], "PUT", P("/v1/operator/scheduler/configuration"),
         _profile(OK, ("mgmt",)), body={"SchedulerAlgorithm": "spread"}),
    Case("raft-config", R["raft_config"], "GET", P("/v1/operator/raft/configuration"), _profile(OK, ("mgmt",))),
    Case("raft-other", R["raft_other"], "GET", P("/v1/operator/raft/nope"), _profile((404, "Invalid method"), ALL)),
    Case("license", R["license"], "GET", P("/v1/operator/license"), _profile((204, ""), ALL)),
    Case("vars", R["vars"], "GET", P("/v1/vars"), _profile(OK, ALL), {"prefix": "nomad/jobs"}),
    Case("volumes", R["volumes"], "GET", P("/v1/volumes"), _profile(OK, ALL)),
    Case("volumes-csi", R["volumes"], "GET", P("/v1/volumes"), _profile(OK, READ_DEFAULT), {"type": "csi"}),
    Case("volumes-host-team", R["volumes"], "GET", P("/v1/volumes"), _profile(OK, TEAM),
         {"type": "host", "namespace": "team"}),
    Case("plugins", R["plugins"], "GET", P("/v1/plugins"), _profile(OK, ALL), {"type": "csi"}),
    Case("scaling-policies", R["scaling_policies"], "GET", P("/v1/scaling/policies"), _profile(OK, READ_DEFAULT)),
    Case("scaling-policies-team", R["scaling_policies"], "GET", P("/v1/scaling/policies"), _profile(OK, TEAM),
         {"namespace": "team"}),
    Case("scaling-policy", R["scaling_policy"], "GET", P("/v1/scaling/policy/nope"),
         _profile((404, "policy not found"), READ_DEFAULT)),
    Case("search-jobs", R["search"], "POST", P("/v1/search"), _profile(OK, READ_DEFAULT),
         body={"Prefix": "a", "Context": "jobs"}),
    Case("search-jobs-team", R["search"], "POST", P("/v1/search"), _profile(OK, TEAM), {"namespace": "team"},
         body={"Prefix": "b", "Context": "jobs"}),
    Case("search-nodes", R["search"], "POST", P("/v1/search"), _profile(OK, NODE_READ),
         body={"Prefix": "", "Context": "nodes"}),
    Case("job-services", R["job"], "GET", P("/v1/job/a/services"), _profile(OK, READ_DEFAULT)),
    Case("services", R["services"], "GET", P("/v1/services"), _profile(OK, READ_DEFAULT)),
    Case("services-star", R["services"], "GET", P("/v1/services"), _profile(OK, ALL), {"namespace": "*"}),
    Case("service", R["service"], "GET", P("/v1/service/web"), _profile(OK, READ_DEFAULT)),
    Case("service-team", R["service"], "GET", P("/v1/service/web"), _profile(OK, TEAM), {"namespace": "team"}),
    Case("metrics", R["metrics"], "GET", P("/v1/metrics"), _profile(OK, ALL)),
    Case("metrics-prometheus", R["metrics"], "GET", P("/v1/metrics"), _profile(OK, ALL), {"format": "prometheus"}),
    Case("search-fuzzy-jobs", R["search_fuzzy"], "POST", P("/v1/search/fuzzy"), _profile(OK, READ_DEFAULT),
         body={"Text": "aa", "Context": "jobs"}),
    Case("search-fuzzy-jobs-team", R["search_fuzzy"], "POST", P("/v1/search/fuzzy"), _profile(OK, TEAM),
         {"namespace": "team"}, body={"Text": "bb", "Context": "jobs"}),
    Case("search-fuzzy-nodes", R["search_fuzzy"], "POST", P("/v1/search/fuzzy"), _profile(OK, NODE_READ),
         body={"Text": "n1", "Context": "nodes"}),
    # namespace=* skips the up-front check: every token is answered with what it may read
    Case("search-fuzzy-star", R["search_fuzzy"], "POST", P("/v1/search/fuzzy"), _profile(OK, ALL),
         {"namespace": "*"}, body={"Text": "aa", "Context": "jobs"}),
    Case("search-all", R["search"], "POST", P("/v1/search"), _profile(OK, ALL), body={"Prefix": "a", "Context": "all"}),
    Case("agent-servers", R["agent_servers"], "GET", P("/v1/agent/servers"), _profile(OK, ("read", "write", "mgmt"))),
    Case("agent-servers-set", R["agent_servers"], "PUT", P("/v1/agent/servers"), _profile(OK, ("mgmt",)),
         {"address": "127.0.0.1:4647"}),
    # Nomad 2.x joins for any token, with a warning when it lacks agent:write
    Case("agent-join", R["agent_join"], "PUT", P("/v1/agent/join"), _profile(OK, ALL), {"address": "127.0.0.1"}),
    Case("agent-force-leave", R["force_leave"], "PUT", P("/v1/agent/force-leave"), _profile(OK, ("mgmt",)),
         {"node": "gone.global"}),
    Case("var-get", R["var"], "GET", P("/v1/var/nomad/jobs/a"), _profile((404, "variable not found"), ("mgmt",))),
    Case("fs-ls", R["fs_ls"], "GET", P("/v1/client/fs/ls/{alloc_a}"), _profile(OK, WRITE_DEFAULT)),
    Case("fs-ls-team", R["fs_ls"], "GET", P("/v1/client/fs/ls/{alloc_b}"), _profile(OK, TEAM), {"path": "alloc"}),
    Case("fs-stat", R["fs_stat"], "GET", P("/v1/client/fs/stat/{alloc_a}"), _profile(OK, WRITE_DEFAULT),
         {"path": "alloc/logs/t.stdout.0"}),
    Case("fs-cat", R["fs_cat"], "GET", P("/v1/client/fs/cat/{alloc_a}"), _profile(OK, WRITE_DEFAULT),
         {"path": "alloc/logs/t.stdout.0"}),
    Case("fs-cat-secrets", R["fs_cat"], "GET", P("/v1/client/fs/cat/{alloc_a}"),
         _profile((400, 'file "t/secrets" is a directory'), WRITE_DEFAULT), {"path": "t/secrets"}),
    Case("fs-readat", R["fs_readat"], "GET", P("/v1/client/fs/readat/{alloc_a}"), _profile(OK, WRITE_DEFAULT),
         {"path": "alloc/logs/t.stdout.0", "offset": "0", "limit": "10"}),
    Case("fs-readat-team", R["fs_readat"], "GET", P("/v1/client/fs/readat/{alloc_b}"), _profile(OK, TEAM),
         {"path": "alloc/logs/t.stdout.0", "offset": "0"}),
    Case("fs-stream", R["fs_stream"], "GET", P("/v1/client/fs/stream/{alloc_a}"), _profile(OK, WRITE_DEFAULT),
         {"path": "alloc/logs/t.stdout.0", "follow": "false"}, stream=True),
    Case("agent-monitor", R["monitor"], "GET", P("/v1/agent/monitor"), _profile(OK, ("read", "write", "mgmt")),
         stream=True),
    Case("fs-other", R["fs_other"], "GET", P("/v1/client/fs/nope/{alloc_a}"), _profile((404, "Invalid method"), ALL)),
]


def _with_ids(body: Any, ids: dict[str, str]) -> Any:
    """A case's body with ``{alloc_a}``-style placeholders filled in."""
    if isinstance(body, str):
        for name, value in ids.items():
            body = body.replace("{" + name + "}", value)
        return body
    if isinstance(body, list):
        return [_with_ids(v, ids) for v in body]
    if isinstance(body, dict):
        return {k: _with_ids(v, ids) for k, v in body.items()}
    return body


def test_every_route_of_the_router_has_a_case() -> None:
    patterns = {route.pattern.pattern.removesuffix(r"\Z") for route in ROUTER.routes}
    covered = {case.pattern for case in CASES}
    assert patterns - covered == set(), "add a case to CASES for each new route"
    assert covered - patterns == set(), "a case names a pattern the router no longer has"


def test_every_case_reaches_its_route() -> None:
    ids = {"node": "n", "alloc_a": "x", "alloc_b": "y", "eval_a": "e", "eval_b": "f", "dep_a": "d", "dep_b": "b",
           "acc_read": "r", "acc_other": "o", "acc_write": "w"}
    for case in CASES:
        path = case.path(ids)
        first = next(r for r in ROUTER.routes if r.pattern.match(path))
        assert first.pattern.pattern.removesuffix(r"\Z") == case.pattern, case.id


@pytest.mark.parametrize("token", TOKENS)
@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_acl_matrix(case: Case, token: str) -> None:
    world = _world()
    before = world.cluster.state.index
    path = case.path(world.ids)
    params = {k: v.format(**world.ids) for k, v in case.params.items()}
    headers = world.headers(token)
    if case.stream:
        with world.http.stream(case.method, path, params=params, headers=headers) as r:
            status = r.status_code
            text = r.read().decode() if status != 200 else ""
    else:
        r = world.http.request(case.method, path, params=params, headers=headers,
                               json=_with_ids(case.body, world.ids))
        status, text = r.status_code, r.text
    want_status, want_body = case.expect[token]
    assert status == want_status, (case.id, token, text)
    if want_body is not None:
        assert text == want_body
    if status == 500 and case.id.startswith("alloc-get"):
        alloc = world.ids["alloc_b" if case.id.endswith("team") else "alloc_a"]
        assert text == UNKNOWN_B.format(alloc)
    if status == 403:
        assert world.cluster.state.index == before, "a denied request wrote nothing"


def test_expired_token_is_denied_on_every_authenticated_route() -> None:
    world = _world()
    c = world.cluster
    c.acl.upsert_policy("exp", RULES["write"])
    expired = c.acl.create_token(name="exp", policies=["exp"], ttl_ns=1_000_000_000)["SecretID"]
    c.advance(2)
    for case in CASES:
        if case.expect["anon"][0] in (200, 204, 400, 404, 405) and case.expect["anon"] == case.expect["mgmt"]:
            continue  # answered before authenticating (status, regions, health, a bad method, ...)
        if case.id.startswith(("acl-", "namespaces", "node-pools")):
            continue
        if case.id == "agent-monitor":
            continue  # Agent.Monitor's uncoded Permission denied ends the stream empty (test_agent_endpoints)
        path = case.path(world.ids)
        params = {k: v.format(**world.ids) for k, v in case.params.items()}
        r = world.http.request(case.method, path, params=params, headers={"X-Nomad-Token": expired},
                               json=_with_ids(case.body, world.ids))
        assert (r.status_code, r.text) == DENIED, case.id


@pytest.mark.parametrize("path", ["/v1/namespaces", "/v1/node/pools", "/v1/jobs?namespace=*"])
def test_expired_token_is_denied_on_filtered_lists(path: str) -> None:
    world = _world()
    c = world.cluster
    c.acl.upsert_policy("exp", RULES["write"])
    expired = c.acl.create_token(name="exp", policies=["exp"], ttl_ns=1_000_000_000)["SecretID"]
    assert world.http.get(path, headers={"X-Nomad-Token": expired}).status_code == 200
    c.advance(2)
    r = world.http.get(path, headers={"X-Nomad-Token": expired})
    assert (r.status_code, r.text) == DENIED


def test_namespace_star_lists_only_readable_objects() -> None:
    world = _world()
    for token, want in (("read", {"default"}), ("other", {"team"}), ("mgmt", {"default", "team"})):
        for path in ("/v1/jobs", "/v1/jobs/statuses", "/v1/allocations", "/v1/evaluations", "/v1/deployments"):
            r = world.http.get(path, params={"namespace": "*"}, headers=world.headers(token))
            assert {o["Namespace"] for o in r.json()} == want, (path, token)


def test_namespace_lists_are_filtered_by_the_token() -> None:
    world = _world()
    seen = {t: [n["Name"] for n in world.http.get("/v1/namespaces", headers=world.headers(t)).json()]
            for t in TOKENS}
    assert seen == {"anon": [], "read": ["default"], "other": ["team"], "write": ["default"],
                    "mgmt": ["default", "team"]}


def test_node_allocations_hide_unreadable_namespaces() -> None:
    world = _world()
    node = world.ids["node"]
    for token, want in (("read", {"default"}), ("mgmt", {"default", "team"})):
        r = world.http.get(f"/v1/node/{node}/allocations", headers=world.headers(token))
        assert {a["Namespace"] for a in r.json()} == want


def test_node_pools_are_filtered_by_node_pool_rules() -> None:
    world = _world()
    c = world.cluster
    c.acl.upsert_policy("pool", 'node_pool "def*" { policy = "read" }\nnode_pool "default" { policy = "deny" }')
    secret = c.acl.create_token(name="pool", policies=["pool"])["SecretID"]
    names = [p["Name"] for p in world.http.get("/v1/node/pools", headers={"X-Nomad-Token": secret}).json()]
    assert names == []
    assert world.http.get("/v1/node/pools", headers=world.headers("anon")).json() == []
    assert [p["Name"] for p in world.http.get("/v1/node/pools", headers=world.headers("read")).json()] == [
        "all", "default"]


@pytest.mark.parametrize(
    ("rules", "allowed"),
    [
        # deny on the same name overrides a grant from another policy, whichever comes first
        (('namespace "default" { policy = "write" }', 'namespace "default" { policy = "deny" }'), False),
        (('namespace "default" { policy = "deny" }', 'namespace "default" { policy = "write" }'), False),
        (('namespace "default" { capabilities = ["read-job", "deny"] }',), False),
        # an exact name wins over a glob, even a denying glob of another policy
        (('namespace "*" { policy = "deny" }', 'namespace "default" { policy = "read" }'), True),
        (('namespace "def*" { policy = "read" }', 'namespace "d*" { policy = "deny" }'), True),
        (('namespace "d*" { policy = "read" }', 'namespace "def*" { policy = "deny" }'), False),
    ],
    ids=["deny-second", "deny-first", "deny-capability", "exact-beats-glob", "closest-glob-read",
         "closest-glob-deny"],
)
def test_policies_merge_as_nomad_merges_them(rules: tuple[str, ...], allowed: bool) -> None:
    world = _world()
    c = world.cluster
    names = []
    for i, rule in enumerate(rules):
        c.acl.upsert_policy(f"m{i}", rule)
        names.append(f"m{i}")
    secret = c.acl.create_token(name="m", policies=names)["SecretID"]
    r = world.http.get("/v1/job/a", headers={"X-Nomad-Token": secret})
    assert (r.status_code == 200) is allowed, r.text


def test_event_stream_star_needs_every_namespace_and_keeps_to_them() -> None:
    world = _world()
    c = world.cluster
    c.acl.upsert_policy("both", 'namespace "*" { policy = "read" }')
    secret = c.acl.create_token(name="both", policies=["both"])["SecretID"]
    lines: list[bytes] = []
    with world.http.stream("GET", "/v1/event/stream", params={"topic": "Job", "namespace": "*", "index": "1"},
                           headers={"X-Nomad-Token": secret}) as r:
        assert r.status_code == 200
        c.add_namespace("later")
        c.register_job(job_spec("late", [group("g", [task("t")])], datacenters=["dc1"], namespace="later"))
        c.register_job(job_spec("c", [group("g", [task("t")])], datacenters=["dc1"], namespace="team"))
        for line in r.iter_lines():
            if line.strip() and line.strip() != "{}":
                lines.append(line.encode())
            if any(b'"c"' in x for x in lines):
                break
    events = b"\n".join(lines)
    assert b'"Namespace":"team"' in events and b'"Namespace":"default"' in events
    assert b'"later"' not in events, "a namespace created after the stream opened is not sent"
