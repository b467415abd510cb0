"""Random requests on every route: never an unhandled error, never a hang, never a poisoned state.

Requests are drawn over the ACL matrix's cases (one or more per router pattern): any method,
Nomad's query parameters with odd values, and bodies that are random JSON, the route's valid
body with one value replaced by a random one, a truncated body, or random bytes. Nomad answers
some bad input with a 500 of its own (an uncoded error); those texts are allowed, any other 500
is a simulator fault. After each request the state must still hold together and still encode.
"""

from __future__ import annotations

import copy
import json
import re
from typing import Any

import httpx
import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from nomadlab.sim import SimCluster
from nomadlab.sim.scenarios import group, job_spec, task

from .test_acl_matrix import CASES, Case, _job_body

# 500 texts Nomad itself answers for bad input (uncoded errors in command/agent and nomad/).
NOMAD_500 = re.compile(
    r"^(Failed to parse value of \"[a-z_]+\" \(.*\) as a (bool|int): "  # parseBool / parseInt
    r"|\d+ errors? occurred:\n"  # job validation (go-multierror)
    r"|Unknown allocation \"[^\"]*\"$"  # Alloc.GetAlloc hiding a foreign allocation
    r"|invalid scheduling eligibility \"|can not set node's scheduling eligibility"  # Node.UpdateEligibility
    r"|Enforcing job modify index \d+: |node not found$"
    # Job.Revert, Job.Stable, Job.Dispatch, Periodic.Force (nomad/job_endpoint.go, periodic_endpoint.go)
    r"|job \"[^\"]*\" not found$|can't revert to current version$"
    r"|job \"[^\"]*\" in namespace \"[^\"]*\" at version \d+ not found$"
    r"|Current job has version \d+; enforcing version \d+$|parameterized job not found$"
    r"|Specified job \"[^\"]*\" is (not a parameterized job|stopped)$|Payload (is not provided but required|"
    r"provided but forbidden) by parameterized job$|Payload exceeds maximum size; |Dispatch (request included "
    r"unpermitted metadata keys|did not provide required meta keys): \[|dispatch job priority must be between "
    r"|job not found$|can't force launch non-periodic job$|force launch for job "
    # the client's alloc endpoints (client/alloc_endpoint.go, client/client.go, allocrunner)
    r"|No such allocation on client, or allocation not eligible for GC$|Task not running$|Task not found$"
    r"|Could not find task runner for task: |task name cannot be set when restarting all tasks$"
    r"|Unknown node \"[^\"]*\"$"
    # ACL.WhoAmI behind /v1/acl/token/self passes Authenticate's ErrTokenExpired on uncoded (nomad/auth/auth.go)
    r"|ACL token expired$"
    # Deployment.Fail/Pause/Promote/SetAllocHealth (nomad/deployment_endpoint.go, state_store.go)
    r"|deployment not found$|can't (fail|pause|resume|promote) terminal deployment$"
    r"|can't set health of allocations for a terminal deployment$"
    r"|must specify at least one healthy/unhealthy allocation ID$|unknown alloc \"|alloc \"[^\"]*\" is not part of "
    r"|Cannot delete nonexistent tokens: |context must be one of \[.*\] or 'all' for all contexts; got "
    # the allocation directory (client/allocdir, client/fs_endpoint.go, command/agent/fs_endpoint.go)
    r"|Path escapes the alloc directory$|(readdirent|stat) /opt/nomad/data/alloc/[^ ]*: not a directory$"
    r"|Reading (secret|private) file prohibited: |error parsing (offset|limit): strconv.ParseInt: "
    r"|failed to parse follow field to boolean: |can't seek to offset -?\d+: "
    # Search.FuzzySearch's uncoded term-length error
    r"|fuzzy search query must be at least \d+ characters, got \d+$"
    # Job.Statuses codes its paginator's errors 500 (nomad/job_endpoint_statuses.go)
    r"|failed to create result paginator: failed to read filter expression: |failed to read result page: "
    # allocRestart returns the body's decode error uncoded (command/agent/alloc_endpoint.go)
    r"|invalid character |unexpected EOF$|json: cannot unmarshal |exceeded max depth$)"
)
PARAMS = ("index", "wait", "namespace", "prefix", "per_page", "next_token", "filter", "reverse", "meta",
          "pretty", "purge", "all", "resources", "task_states", "diffs", "version", "node_id", "task",
          "type", "origin", "offset", "plain", "job", "status", "topic", "stale", "global", "eval_priority",
          "idempotency_token", "cas", "path", "limit", "follow", "address", "node", "prune", "log_level",
          "include_children")
ODD = st.sampled_from([
    "", "0", "1", "-1", "true", "false", "*", "default", "team", "stdout", "end", "10ms", "1s", "-5s",
    "9223372036854775807", "9223372036854775808", "-9223372036854775809", "1e400", "NaN", "0x10",
    "Job", "Job:a", "Node:*", "a:b:c", "ID == \"x\"", "Name matches \"[\"", "ID is empty", "é", "\x00",
    "alloc", "../..", "t/secrets", "alloc/logs/t.stderr.0", "127.0.0.1",
])
JSON_LEAF = st.one_of(
    st.none(), st.booleans(), st.text(max_size=8),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=False, allow_infinity=False),
)
JSON = st.recursive(JSON_LEAF, lambda inner: st.one_of(
    st.lists(inner, max_size=3), st.dictionaries(st.text(max_size=6), inner, max_size=3)), max_leaves=8)


def _paths(obj: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    out = [prefix]
    if isinstance(obj, dict):
        for k, v in obj.items():
            out += _paths(v, (*prefix, k))
    elif isinstance(obj, list):
        for i, v in enumerate(obj):
            out += _paths(v, (*prefix, i))
    return out


def _replace(obj: Any, path: tuple[Any, ...], value: Any) -> Any:
    if not path:
        return value
    out = copy.deepcopy(obj)
    cur = out
    for key in path[:-1]:
        cur = cur[key]
    cur[path[-1]] = value
    return out


@st.composite
def bodies(draw: st.DrawFn, case: Case) -> bytes:
    valid = case.body if case.body is not None else _job_body()
    kind = draw(st.sampled_from(["json", "mutate", "mutate", "truncate", "bytes", "none", "huge-int"]))
    if kind == "json":
        return json.dumps(draw(JSON)).encode()
    if kind in ("mutate", "huge-int"):
        path = draw(st.sampled_from(_paths(valid)))
        value = draw(JSON) if kind == "mutate" else draw(st.sampled_from([2**63, -(2**63) - 1, 2**64, 10**30]))
        return json.dumps(_replace(valid, path, value)).encode()
    if kind == "truncate":
        raw = orjson.dumps(valid)
        return raw[: draw(st.integers(min_value=1, max_value=max(1, len(raw) - 1)))]
    if kind == "bytes":
        return draw(st.binary(max_size=40))
    return b""


def _world(acl: bool = False) -> tuple[SimCluster, httpx.Client, dict[str, str]]:
    c = SimCluster(seed=3, acl=acl)
    c.max_blocking_wait_s = 0.02
    c.add_namespace("team")
    node = c.add_node(name="n1", datacenter="dc1", cpu_mhz=4000, cores=4, memory_mb=8192, disk_mb=10000,
                      address="10.0.0.1")
    c.register_job(job_spec("a", [group("g", [task("t")])], datacenters=["dc1"]))
    c.register_job(job_spec("b", [group("g", [task("t")])], datacenters=["dc1"], namespace="team"))
    c.advance(60)
    ids = {"node": node["ID"]}
    # the ACL matrix's token accessors: no such token here, so token routes meet 404s
    ids.update(dict.fromkeys(("acc_read", "acc_other", "acc_write"), "00000000-0000-0000-0000-000000000000"))
    for ns, job in (("default", "a"), ("team", "b")):
        alloc = c.state.job_allocs(ns, job)[0]
        ids[f"alloc_{job}"] = alloc["ID"]
        ids[f"eval_{job}"] = alloc["EvalID"]
        ids[f"dep_{job}"] = next(d["ID"] for d in c.state.deployments.values() if d["JobID"] == job)
    return c, httpx.Client(transport=c.transport(), base_url="http://nomad"), ids


def check_invariants(c: SimCluster, last_index: int) -> int:
    s = c.state
    assert s.index >= last_index, "the Raft index never goes back"
    assert all(v <= s.index for v in s.table_index.values())
    for (ns, _), job in s.jobs.items():
        assert ns in s.namespaces
        assert job["ModifyIndex"] <= s.index and job["JobModifyIndex"] <= s.index
        orjson.dumps(job)  # every stored value still encodes (no int beyond 64 bits, no bytes)
    for alloc in s.allocs.values():
        # a purged node leaves its allocations behind, lost (Node.Deregister)
        assert alloc["NodeID"] in s.nodes or alloc["ClientStatus"] == "lost"
        assert alloc["Namespace"] in s.namespaces
        assert alloc["ModifyIndex"] <= s.index
        orjson.dumps(alloc, option=orjson.OPT_NON_STR_KEYS)
    for ev in s.evals.values():
        assert ev["Namespace"] in s.namespaces
        orjson.dumps(ev)
    for node in s.nodes.values():
        orjson.dumps(node, option=orjson.OPT_NON_STR_KEYS)
    return s.index


def _run(data: st.DataObject, *, acl: bool) -> None:
    c, http, ids = _world(acl)
    secrets = [""]
    if acl:
        secrets.append(c.acl.bootstrap()["SecretID"])
        c.acl.upsert_policy("ro", 'namespace "default" { policy = "read" }\nnode { policy = "read" }')
        secrets.append(c.acl.create_token(name="ro", policies=["ro"])["SecretID"])
        c.acl.upsert_policy("team", 'namespace "team" { policy = "write" }')
        secrets.append(c.acl.create_token(name="team", policies=["team"])["SecretID"])
        secrets.append(c.acl.create_token(name="short", policies=["ro"], ttl_ns=1)["SecretID"])  # expired
        c.advance(1)
    lists = {"X-Nomad-Token": secrets[1]} if acl else {}
    index = c.state.index
    for _ in range(data.draw(st.integers(min_value=1, max_value=3))):
        case = data.draw(st.sampled_from(CASES))
        method = data.draw(st.sampled_from([case.method, case.method, "GET", "PUT", "POST", "DELETE", "PATCH"]))
        params = {k: v.format(**ids) for k, v in case.params.items()}
        params.update(data.draw(st.dictionaries(st.sampled_from(PARAMS), ODD, max_size=4)))
        body = data.draw(bodies(case)) if method in ("PUT", "POST", "DELETE") else b""
        secret = data.draw(st.sampled_from(secrets))
        headers = {"X-Nomad-Token": secret} if secret else {}
        path = case.path(ids)
        with http.stream(method, path, params=params, content=body, headers=headers) as r:
            status = r.status_code
            text = r.read().decode(errors="replace") if status != 200 or not case.stream else ""
        if status == 500:
            assert NOMAD_500.match(text), (method, path, params, body[:200], text)
        index = check_invariants(c, index)
        # the state still answers its lists
        for lst in ("/v1/jobs", "/v1/allocations", "/v1/evaluations", "/v1/deployments", "/v1/nodes"):
            assert http.get(lst, params={"namespace": "default"}, headers=lists).status_code == 200


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_random_requests_never_break_the_simulator(data: st.DataObject) -> None:
    _run(data, acl=False)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_random_requests_with_random_tokens_never_break_the_simulator(data: st.DataObject) -> None:
    _run(data, acl=True)


@pytest.mark.parametrize(
    ("body", "text"),
    [
        (b'{"Job": "x"}', "json: cannot unmarshal string into Go struct field JobRegisterRequest.Job of type api.Job"),
        (b'{"Job": {"ID": 5}}', "json: cannot unmarshal number into Go struct field Job.Job.ID of type string"),
        (b'{"Job": {"ID": "a", "TaskGroups": [{"Name": "g", "Count": "3"}]}}',
         "json: cannot unmarshal string into Go struct field TaskGroup.Job.TaskGroups.Count of type int"),
        (b'{"Job": {"ID": "a", "Priority": 9223372036854775808}}',
         "json: cannot unmarshal number 9223372036854775808 into Go struct field Job.Job.Priority of type int"),
        (b'{"Job": {"ID": "a", "TaskGroups": {}}}',
         "json: cannot unmarshal object into Go struct field Job.Job.TaskGroups of type []*api.TaskGroup"),
        (b'{"Job": {"ID": "a"', "unexpected EOF"),
        (b'{"Job": x}', "invalid character 'x' looking for beginning of value"),
        (b"   ", "EOF"),
        (b"", "Request body is empty"),
    ],
    ids=["job-string", "id-number", "count-string", "int-overflow", "groups-object", "truncated", "bad-char",
         "blank", "empty"],
)
def test_register_decode_errors_are_nomads_400(body: bytes, text: str) -> None:
    c, http, _ = _world()
    before = c.state.index
    jobs = orjson.dumps(sorted(c.state.jobs))
    r = http.put("/v1/jobs", content=body)
    assert (r.status_code, r.text) == (400, text)
    assert c.state.index == before and orjson.dumps(sorted(c.state.jobs)) == jobs


def test_huge_body_is_decoded_not_a_500() -> None:
    c, http, _ = _world()
    spec = _job_body()
    spec["Job"]["Meta"] = {f"k{i}": "v" * 100 for i in range(20_000)}  # about 2.5 MB
    r = http.put("/v1/jobs", json=spec)
    assert r.status_code == 200, r.text
    deep = b'{"Job":' * 20_000 + b"{}" + b"}" * 20_000
    r = http.put("/v1/jobs", content=deep)
    assert (r.status_code, r.text) == (400, "exceeded max depth")
