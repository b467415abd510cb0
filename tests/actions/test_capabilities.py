"""Capability checks against the ACL-enabled simulator: a missing capability sends no write."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from nomadlab import actions
from nomadlab.audit import audit_log
from nomadlab.client import NomadClient
from nomadlab.config import NomadConfig
from nomadlab.sim import SimCluster
from nomadlab.sim.scenarios import group, job_spec, task


@pytest.fixture
def acl() -> tuple[SimCluster, httpx.Client, str]:
    c = SimCluster(acl=True, seed=5)
    c.add_namespace("team")
    c.add_node(name="n1", datacenter="dc1", cpu_mhz=4000, cores=4, memory_mb=8192, disk_mb=10000,
               address="10.0.0.1")
    c.register_job(job_spec("a", [group("g", [task("t")])], datacenters=["dc1"]))
    c.register_job(job_spec("b", [group("g", [task("t")])], datacenters=["dc1"], namespace="team"))
    c.run_until_idle(120)
    http = httpx.Client(transport=c.transport(), base_url="http://nomad")
    boot = http.post("/v1/acl/bootstrap")
    assert boot.status_code == 200
    return c, http, str(boot.json()["SecretID"])


def _token(acl: tuple[SimCluster, httpx.Client, str], rules: str) -> tuple[NomadClient, str]:
    c, http, mgmt = acl
    headers = {"X-Nomad-Token": mgmt}
    r = http.put("/v1/acl/policy/p", headers=headers, json={"Name": "p", "Rules": rules})
    assert r.status_code == 200, r.text
    t = http.post("/v1/acl/token", headers=headers, json={"Name": "ops", "Type": "client", "Policies": ["p"]})
    assert t.status_code == 200, t.text
    secret = str(t.json()["SecretID"])
    return NomadClient(NomadConfig(token=secret), transport=c.transport()), secret


def test_read_only_token_cannot_scale_and_nothing_is_sent(acl: tuple[SimCluster, httpx.Client, str]) -> None:
    cluster = acl[0]
    client, _ = _token(acl, 'namespace "default" { policy = "read" }')
    index = cluster.state.index
    with pytest.raises(actions.MissingCapabilityError) as exc:
        actions.scale(client, "a", "g", 3)
    text = str(exc.value)
    assert "`scale-job`" in text and "`submit-job`" in text and "namespace `default`" in text
    assert "Nothing was sent" in text
    assert cluster.state.index == index
    assert cluster.state.jobs[("default", "a")]["TaskGroups"][0]["Count"] == 1


def test_scale_policy_allows_scale_in_its_namespace_only(acl: tuple[SimCluster, httpx.Client, str]) -> None:
    cluster = acl[0]
    client, _ = _token(acl, 'namespace "default" { policy = "scale" }')
    outcome = actions.scale(client, "a", "g", 2).apply(confirm=True, advance=cluster.advance, step=2.0)
    assert outcome.status == "healthy"
    assert cluster.state.jobs[("default", "a")]["TaskGroups"][0]["Count"] == 2
    with pytest.raises(actions.MissingCapabilityError, match="namespace `team`"):
        actions.scale(client, "b", "g", 2, namespace="team")
    with pytest.raises(actions.MissingCapabilityError, match="`submit-job`"):
        actions.stop(client, "a")


def test_capabilities_list_and_globs(acl: tuple[SimCluster, httpx.Client, str]) -> None:
    client, _ = _token(acl, 'namespace "te*" { capabilities = ["read-job", "alloc-lifecycle"] }')
    cluster = acl[0]
    with cluster.state.lock:
        alloc = next(a for a in cluster.state.allocs.values() if a["Namespace"] == "team")
    plan = actions.stop_alloc(client, str(alloc["ID"]))
    assert plan.namespace == "team"


def test_node_write_and_management_are_named(acl: tuple[SimCluster, httpx.Client, str]) -> None:
    cluster = acl[0]
    client, _ = _token(acl, 'namespace "default" { policy = "write" }\nnode { policy = "read" }')
    with pytest.raises(actions.MissingCapabilityError, match='node { policy = "write" }'.replace("{", r"\{")
                       .replace("}", r"\}")):
        actions.drain(client, "n1")
    with pytest.raises(actions.MissingCapabilityError, match="management token"):
        actions.gc(client)
    node = next(iter(cluster.state.nodes.values()))
    assert node["SchedulingEligibility"] == "eligible" and not node.get("DrainStrategy")


def test_audit_record_names_the_accessor_never_the_secret(acl: tuple[SimCluster, httpx.Client, str],
                                                          audit_path: Path) -> None:
    cluster, _, mgmt = acl
    client = NomadClient(NomadConfig(token=mgmt), transport=cluster.transport())
    plan = actions.scale(client, "a", "g", 2)
    assert mgmt not in repr(plan) and mgmt not in plan._repr_html_()
    plan.apply(confirm=True, advance=cluster.advance, step=2.0)
    assert mgmt not in audit_path.read_text()
    record = audit_log().iloc[0]
    accessor = client.get("/v1/acl/token/self").body["AccessorID"]
    assert record["accessor_id"] == accessor and record["action"] == "scale"


def test_acls_disabled_means_allowed(cluster: SimCluster, client: NomadClient) -> None:
    plan = actions.gc(client)
    assert plan.token is None


@pytest.mark.parametrize(("rules", "namespace", "expected"), [
    ({"namespace": [{"default": {"policy": "write"}}]}, "default", True),
    ({"namespace": [{"*": {"policy": "write"}}, {"default": {"policy": "deny"}}]}, "default", False),
    ({"namespace": [{"*": {"policy": "read"}}, {"te*": {"capabilities": ["submit-job"]}}]}, "team", True),
    ({"namespace": [{"te*": {"capabilities": ["submit-job"]}}]}, "default", False),
], ids=["write", "exact-deny-beats-glob", "longest-glob-wins", "no-match"])
def test_policy_rules_resolve_like_nomad(rules: dict[str, object], namespace: str, expected: bool) -> None:
    from nomadlab.actions._acl import _namespace_caps

    caps = _namespace_caps(rules, namespace) or set()
    assert ("submit-job" in caps and "deny" not in caps) is expected
