"""ACLs in the simulator: bootstrap, policies in HCL, tokens, capability checks, Nomad's texts."""

from __future__ import annotations

import httpx
import pytest

from nomadlab.sim import SimCluster
from nomadlab.sim.acl import expand, parse_policy
from nomadlab.sim.scenarios import group, job_spec, task

RO_RULES = 'namespace "default" { policy = "read" }\nnode { policy = "read" }'


@pytest.fixture()
def acl_cluster() -> tuple[SimCluster, httpx.Client, dict[str, str]]:
    c = SimCluster(acl=True, seed=5)
    c.add_namespace("team")
    c.add_node(name="n1", datacenter="dc1", cpu_mhz=4000, cores=4, memory_mb=8192, disk_mb=10000,
               address="10.0.0.1")
    c.register_job(job_spec("a", [group("g", [task("t")])], datacenters=["dc1"]))
    c.register_job(job_spec("b", [group("g", [task("t")])], datacenters=["dc1"], namespace="team"))
    http = httpx.Client(transport=c.transport(), base_url="http://nomad")
    boot = http.post("/v1/acl/bootstrap")
    assert boot.status_code == 200
    return c, http, {"X-Nomad-Token": boot.json()["SecretID"]}


def _client_token(http: httpx.Client, mgmt: dict[str, str], rules: str, name: str = "p") -> str:
    r = http.put(f"/v1/acl/policy/{name}", headers=mgmt, json={"Name": name, "Rules": rules})
    assert r.status_code == 200, r.text
    t = http.post("/v1/acl/token", headers=mgmt, json={"Name": name, "Type": "client", "Policies": [name]})
    assert t.status_code == 200, t.text
    return str(t.json()["SecretID"])


def test_no_token_is_permission_denied(acl_cluster: tuple[SimCluster, httpx.Client, dict[str, str]]) -> None:
    _, http, _ = acl_cluster
    r = http.get("/v1/jobs")
    assert (r.status_code, r.text) == (403, "Permission denied")


def test_bootstrap_once(acl_cluster: tuple[SimCluster, httpx.Client, dict[str, str]]) -> None:
    c, http, mgmt = acl_cluster
    token = http.get("/v1/acl/token/self", headers=mgmt).json()
    assert token["Type"] == "management" and token["Name"] == "Bootstrap Token"
    again = http.post("/v1/acl/bootstrap")
    assert again.status_code == 400
    assert again.text == f"ACL bootstrap already done (reset index: {c.acl.bootstrap_index})"


def test_management_token_sees_everything(acl_cluster: tuple[SimCluster, httpx.Client, dict[str, str]]) -> None:
    _, http, mgmt = acl_cluster
    jobs = http.get("/v1/jobs", headers=mgmt, params={"namespace": "*"}).json()
    assert {j["ID"] for j in jobs} == {"a", "b"}


@pytest.mark.parametrize("header", ["x-nomad-token", "bearer"], ids=["x-nomad-token", "authorization-bearer"])
def test_token_from_either_header(acl_cluster: tuple[SimCluster, httpx.Client, dict[str, str]], header: str) -> None:
    _, http, mgmt = acl_cluster
    secret = _client_token(http, mgmt, RO_RULES)
    headers = {"X-Nomad-Token": f"  {secret} "} if header == "x-nomad-token" else {"Authorization": f"bearer {secret}"}
    assert http.get("/v1/jobs", headers=headers).status_code == 200


def test_read_policy_allows_reads_denies_writes_and_other_namespaces(
    acl_cluster: tuple[SimCluster, httpx.Client, dict[str, str]],
) -> None:
    _, http, mgmt = acl_cluster
    ro = {"X-Nomad-Token": _client_token(http, mgmt, RO_RULES)}
    assert http.get("/v1/job/a", headers=ro).status_code == 200
    assert http.get("/v1/nodes", headers=ro).status_code == 200
    assert http.get("/v1/jobs", headers=ro, params={"namespace": "team"}).status_code == 403
    listed = http.get("/v1/jobs", headers=ro, params={"namespace": "*"}).json()
    assert {j["ID"] for j in listed} == {"a"}  # other namespaces silently dropped
    stop = http.delete("/v1/job/a", headers=ro)
    assert (stop.status_code, stop.text) == (403, "Permission denied")
    drain = http.post(f"/v1/node/{http.get('/v1/nodes', headers=mgmt).json()[0]['ID']}/eligibility",
                      headers=ro, json={"Eligibility": "ineligible"})
    assert drain.status_code == 403


def test_namespace_star_without_any_capability_is_403(
    acl_cluster: tuple[SimCluster, httpx.Client, dict[str, str]],
) -> None:
    # Alloc.List: AllowNsOp("*", read-job) is false when no namespace rule allows it.
    _, http, mgmt = acl_cluster
    node_only = {"X-Nomad-Token": _client_token(http, mgmt, 'node { policy = "read" }', "nodes")}
    r = http.get("/v1/allocations", headers=node_only, params={"namespace": "*"})
    assert (r.status_code, r.text) == (403, "Permission denied")


def test_namespace_star_with_a_rule_matching_no_namespace_is_empty(
    acl_cluster: tuple[SimCluster, httpx.Client, dict[str, str]],
) -> None:
    # allowedNSes finds no existing namespace the token may read: an empty list, not 403.
    _, http, mgmt = acl_cluster
    tok = {"X-Nomad-Token": _client_token(http, mgmt, 'namespace "nope-*" { policy = "read" }', "nope")}
    r = http.get("/v1/allocations", headers=tok, params={"namespace": "*"})
    assert (r.status_code, r.json()) == (200, [])


def test_explicit_capabilities_and_deny(acl_cluster: tuple[SimCluster, httpx.Client, dict[str, str]]) -> None:
    _, http, mgmt = acl_cluster
    rules = 'namespace "*" { capabilities = ["list-jobs"] }\nnamespace "team" { policy = "deny" }'
    tok = {"X-Nomad-Token": _client_token(http, mgmt, rules, "lister")}
    assert http.get("/v1/jobs", headers=tok).status_code == 200
    assert http.get("/v1/job/a", headers=tok).status_code == 403  # list-jobs is not read-job
    assert http.get("/v1/jobs", headers=tok, params={"namespace": "team"}).status_code == 403


def test_anonymous_policy_applies_without_token(acl_cluster: tuple[SimCluster, httpx.Client, dict[str, str]]) -> None:
    _, http, mgmt = acl_cluster
    r = http.put("/v1/acl/policy/anonymous", headers=mgmt, json={"Name": "anonymous", "Rules": RO_RULES})
    assert r.status_code == 200
    assert http.get("/v1/jobs").status_code == 200
    me = http.get("/v1/acl/token/self").json()
    assert (me["AccessorID"], me["Policies"]) == ("anonymous", ["anonymous"])


def test_unknown_and_expired_tokens(acl_cluster: tuple[SimCluster, httpx.Client, dict[str, str]]) -> None:
    c, http, mgmt = acl_cluster
    r = http.get("/v1/acl/token/self", headers={"X-Nomad-Token": "not-a-token"})
    assert (r.status_code, r.text) == (403, "ACL token not found")
    assert http.get("/v1/jobs", headers={"X-Nomad-Token": "not-a-token"}).text == "Permission denied"
    http.put("/v1/acl/policy/ro", headers=mgmt, json={"Name": "ro", "Rules": RO_RULES})
    t = http.post("/v1/acl/token", headers=mgmt,
                  json={"Type": "client", "Policies": ["ro"], "ExpirationTTL": "1h"}).json()
    assert t["ExpirationTTL"] == "1h0m0s"
    c.advance(3601)
    r = http.get("/v1/acl/token/self", headers={"X-Nomad-Token": t["SecretID"]})
    assert (r.status_code, r.text) == (500, "ACL token expired")


@pytest.mark.parametrize(
    ("body", "text"),
    [
        ({"Type": "client"}, "token 0 invalid: client token missing policies or roles"),
        ({"Type": "management", "Policies": ["x"]},
         "token 0 invalid: management token cannot be associated with policies or roles"),
        ({"Type": "root", "Policies": ["x"]}, "token 0 invalid: token type must be client or management"),
    ],
    ids=["client-without-policies", "management-with-policies", "bad-type"],
)
def test_token_validation_texts(acl_cluster: tuple[SimCluster, httpx.Client, dict[str, str]],
                                body: dict[str, object], text: str) -> None:
    _, http, mgmt = acl_cluster
    r = http.post("/v1/acl/token", headers=mgmt, json=body)
    assert (r.status_code, r.text) == (400, text)


def test_policy_name_must_match_path(acl_cluster: tuple[SimCluster, httpx.Client, dict[str, str]]) -> None:
    _, http, mgmt = acl_cluster
    r = http.put("/v1/acl/policy/x", headers=mgmt, json={"Name": "y", "Rules": ""})
    assert (r.status_code, r.text) == (400, "ACL policy name does not match request path")
    assert http.get("/v1/acl/policy/none", headers=mgmt).text == "ACL policy not found"


def test_event_stream_topics_need_their_capability(
    acl_cluster: tuple[SimCluster, httpx.Client, dict[str, str]],
) -> None:
    _, http, mgmt = acl_cluster
    ro = {"X-Nomad-Token": _client_token(http, mgmt, RO_RULES)}
    assert http.get("/v1/event/stream", headers=ro, params={"topic": "*"}).status_code == 403
    assert http.get("/v1/event/stream", headers=ro, params={"topic": "ACLToken"}).status_code == 403
    with http.stream("GET", "/v1/event/stream", headers=ro, params={"topic": "Job"}) as r:
        assert r.status_code == 200


def test_acls_disabled_answers() -> None:
    c = SimCluster()
    http = httpx.Client(transport=c.transport(), base_url="http://nomad")
    assert http.get("/v1/acl/token/self").json()["AccessorID"] == "acls-disabled"
    for method, path in [("POST", "/v1/acl/bootstrap"), ("GET", "/v1/acl/policies"), ("GET", "/v1/acl/tokens")]:
        r = http.request(method, path)
        assert (r.status_code, r.text) == (400, "ACL support disabled"), path


def test_policy_shorthands_expand_as_nomad() -> None:
    assert "submit-job" in expand("write") and "submit-job" not in expand("read")
    assert expand("scale") >= {"scale-job", "read-job"}
    parsed = parse_policy(
        'namespace "web-*" { policy = "write" capabilities = ["alloc-node-exec"] }\nagent { policy = "read" }'
    )
    assert "alloc-node-exec" in parsed.namespaces["web-*"] and parsed.agent == "read"
    with pytest.raises(ValueError):
        parse_policy('namespace "x" { policy = "superuser" }')
