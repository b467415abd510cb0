"""``/v1/validate/job``, ACL tokens by accessor, roles, auth methods, binding rules, the operator
endpoints, and the empty lists Nomad's UI loads (variables, volumes, plugins).

Facts: REFERENCE §11.2, §11.3, §11.5, §11.10; ``command/agent/job_endpoint.go``
``ValidateJobRequest``, ``nomad/job_endpoint.go`` ``Validate``, ``command/agent/acl_endpoint.go``
``aclTokenCrud``, ``nomad/acl_endpoint.go`` ``ListRoles``/``ListAuthMethods``/``ListBindingRules``,
``command/agent/operator_endpoint.go``, ``command/agent/volumes_endpoint.go``,
``command/agent/csi_endpoint.go``.
"""

from __future__ import annotations

import json

import httpx
import pytest

from nomadlab.sim import SimCluster
from tests.conftest import SAMPLES_DIR
from tests.sim.conftest import http, new_cluster, simple_job

SAMPLES = SAMPLES_DIR


@pytest.fixture
def api() -> httpx.Client:
    return http(new_cluster())


def _sample(name: str) -> dict:
    data: dict = json.loads((SAMPLES / name).read_text())
    return data


# -- validate ------------------------------------------------------------------------------------
def test_validate_a_good_job(api: httpx.Client) -> None:
    r = api.post("/v1/validate/job", json={"Job": simple_job("web")})
    assert r.status_code == 200
    body = r.json()
    assert set(body) == set(_sample("POST_v1_validate_job.json"))
    assert body == {"DriverConfigValidated": True, "ValidationErrors": None, "Error": "", "Warnings": ""}
    assert api.get("/v1/jobs").json() == [], "validation writes nothing"


def test_validate_reports_errors_in_the_answer(api: httpx.Client) -> None:
    spec = simple_job("bad job", cpu=0)
    spec["Priority"] = 500
    r = api.put("/v1/validate/job", json={"Job": spec})
    assert r.status_code == 200, "validation failures are not an HTTP error"
    body = r.json()
    assert body["ValidationErrors"][:2] == ["Job ID contains a space", "Job priority must be between [1, 100]"]
    assert any("minimum CPU value is 1; got 0" in e for e in body["ValidationErrors"])
    assert body["Error"].startswith(f"{len(body['ValidationErrors'])} errors occurred:\n\t* Job ID contains a space")
    r = api.post("/v1/validate/job", json={"Job": {"TaskGroups": []}})
    assert r.json()["ValidationErrors"][0] == "Missing job ID"


@pytest.mark.parametrize(
    ("method", "body", "status", "text"),
    [("POST", {}, 400, "Job must be specified"), ("POST", {"Job": None}, 400, "Job must be specified"),
     ("GET", None, 405, "Invalid method")],
    ids=["no-job", "null-job", "get"],
)
def test_validate_errors(api: httpx.Client, method: str, body: object, status: int, text: str) -> None:
    r = api.request(method, "/v1/validate/job", json=body)
    assert (r.status_code, r.text) == (status, text)


# -- ACL -------------------------------------------------------------------------------------
def test_acl_endpoints_with_acls_disabled(api: httpx.Client) -> None:
    for path in ("/v1/acl/token/abc", "/v1/acl/roles", "/v1/acl/auth-methods", "/v1/acl/binding-rules"):
        r = api.get(path)
        assert (r.status_code, r.text) == (400, "ACL support disabled"), path


def test_acl_tokens_by_accessor() -> None:
    c = SimCluster(acl=True)
    api = http(c)
    mgmt = {"X-Nomad-Token": c.acl.bootstrap()["SecretID"]}
    c.acl.upsert_policy("ro", 'namespace "default" { policy = "read" }')
    token = c.acl.create_token(name="ro", policies=["ro"])
    own = {"X-Nomad-Token": token["SecretID"]}
    accessor = token["AccessorID"]
    r = api.get(f"/v1/acl/token/{accessor}", headers=own)
    assert r.status_code == 200 and r.json()["SecretID"] == token["SecretID"]
    assert set(_sample("POST_v1_acl_token.json")) <= set(r.json())
    other = c.acl.create_token(name="other", policies=["ro"])["AccessorID"]
    assert (api.get(f"/v1/acl/token/{other}", headers=own).status_code) == 403
    r = api.get("/v1/acl/token/00000000-0000-0000-0000-000000000000", headers=mgmt)
    assert (r.status_code, r.text) == (404, "ACL token not found")
    r = api.post(f"/v1/acl/token/{accessor}", headers=mgmt,
                 json={"AccessorID": accessor, "Name": "renamed", "Policies": ["ro"]})
    assert r.status_code == 200 and r.json()["Name"] == "renamed"
    r = api.post(f"/v1/acl/token/{accessor}", headers=mgmt, json={"AccessorID": other, "Policies": ["ro"]})
    assert (r.status_code, r.text) == (400, "ACL token accessor does not match request path")
    assert api.delete(f"/v1/acl/token/{accessor}", headers=own).status_code == 403
    r = api.delete(f"/v1/acl/token/{accessor}", headers=mgmt)
    assert (r.status_code, r.content) == (200, b"")
    assert api.get("/v1/jobs", headers=own).status_code == 403, "the deleted token no longer authenticates"
    r = api.delete(f"/v1/acl/token/{accessor}", headers=mgmt)
    assert (r.status_code, r.text) == (500, f"Cannot delete nonexistent tokens: {accessor}")


def test_roles_auth_methods_and_binding_rules_are_empty() -> None:
    c = SimCluster(acl=True)
    api = http(c)
    mgmt = {"X-Nomad-Token": c.acl.bootstrap()["SecretID"]}
    for path in ("/v1/acl/roles", "/v1/acl/auth-methods", "/v1/acl/binding-rules"):
        r = api.get(path, headers=mgmt)
        assert (r.status_code, r.json()) == (200, []), path
        assert r.headers["X-Nomad-Index"] == "1"
    assert api.get("/v1/acl/auth-methods").json() == [], "the login page lists them with no token"
    assert api.get("/v1/acl/binding-rules").status_code == 403


# -- operator ------------------------------------------------------------------------------------
def test_scheduler_configuration_read_and_compare_and_set(api: httpx.Client) -> None:
    r = api.get("/v1/operator/scheduler/configuration")
    body = r.json()
    sample = _sample("GET_v1_operator_scheduler_configuration.json")
    assert set(sample) == set(body) and set(sample["SchedulerConfig"]) <= set(body["SchedulerConfig"])
    assert body["SchedulerConfig"]["PreemptionConfig"] == sample["SchedulerConfig"]["PreemptionConfig"]
    assert body["SchedulerConfig"]["SchedulerAlgorithm"] == "binpack"
    index = body["SchedulerConfig"]["ModifyIndex"]
    r = api.put("/v1/operator/scheduler/configuration", params={"cas": str(index + 100)},
                json={"SchedulerAlgorithm": "spread"})
    assert r.json()["Updated"] is False
    r = api.put("/v1/operator/scheduler/configuration", params={"cas": str(index)},
                json={"SchedulerAlgorithm": "spread", "PreemptionConfig": {"BatchSchedulerEnabled": True}})
    assert r.json()["Updated"] is True and r.headers["X-Nomad-Index"] == str(r.json()["Index"])
    after = api.get("/v1/operator/scheduler/configuration").json()["SchedulerConfig"]
    assert after["SchedulerAlgorithm"] == "spread" and after["PreemptionConfig"]["BatchSchedulerEnabled"] is True
    assert after["ModifyIndex"] == r.json()["Index"]


@pytest.mark.parametrize(
    ("params", "body", "text"),
    [({}, {"SchedulerAlgorithm": "random"}, 'invalid scheduler algorithm: "random"'),
     ({"cas": "x"}, {}, 'Error parsing cas value: strconv.ParseUint: parsing "x": invalid syntax'),
     ({}, {"PauseEvalBroker": "yes"}, "Error parsing scheduler config: json: cannot unmarshal string into Go struct "
                                      "field SchedulerConfiguration.PauseEvalBroker of type bool")],
    ids=["algorithm", "cas", "type"],
)
def test_scheduler_configuration_errors(api: httpx.Client, params: dict, body: dict, text: str) -> None:
    r = api.put("/v1/operator/scheduler/configuration", params=params, json=body)
    assert (r.status_code, r.text) == (400, text)
    assert api.get("/v1/operator/scheduler/configuration").json()["SchedulerConfig"]["SchedulerAlgorithm"] == "binpack"


def test_raft_configuration_and_license(api: httpx.Client) -> None:
    body = api.get("/v1/operator/raft/configuration").json()
    sample = _sample("GET_v1_operator_raft_configuration.json")
    assert set(body) == set(sample) and set(body["Servers"][0]) == set(sample["Servers"][0])
    assert body["Servers"][0]["Leader"] is True and body["Servers"][0]["Address"] == "127.0.0.1:4647"
    r = api.post("/v1/operator/raft/configuration")
    assert (r.status_code, r.content) == (405, b"")
    assert (api.get("/v1/operator/raft/nope").status_code, api.get("/v1/operator/raft/nope").text) == (
        404, "Invalid method")
    r = api.get("/v1/operator/license")
    assert (r.status_code, r.content) == (204, b"")
    r = api.put("/v1/operator/license")
    assert (r.status_code, r.text) == (501, "Nomad Enterprise only endpoint")
    assert api.delete("/v1/operator/license").status_code == 405


# -- empty lists ---------------------------------------------------------------------------------
def test_variables_volumes_and_plugins_are_empty_lists(api: httpx.Client) -> None:
    for path, params in (("/v1/vars", {"prefix": "nomad/jobs/web"}), ("/v1/volumes", {}),
                         ("/v1/volumes", {"type": "csi"}), ("/v1/volumes", {"type": "host"}),
                         ("/v1/plugins", {}), ("/v1/plugins", {"type": "csi"})):
        r = api.get(path, params=params)
        assert (r.status_code, r.json()) == (200, []), (path, params)
    r = api.get("/v1/volumes", params={"type": "nfs"})
    assert (r.status_code, r.text) == (404, "resource not found")
    r = api.get("/v1/plugins", params={"type": "device"})
    assert (r.status_code, r.content) == (200, b"")
    r = api.get("/v1/vars", params={"index": "x"})
    assert (r.status_code, r.text) == (400, "Invalid index")
    assert api.post("/v1/vars").status_code == 405
