"""Every error the simulated routes produce: status code and exact plain-text body.

Sources: REFERENCE §1 "Errors" (plain text; CodedError status, else suffix matching, else 500),
§2 (job texts and scale validation), §3/§4 (404 bodies), and Nomad's RPC handlers for writes:
``Node.UpdateDrain``/``UpdateEligibility`` return uncoded errors (500 ``node not found``,
``invalid scheduling eligibility "x"``), and query booleans parsed with ``parseBool`` fail
with an uncoded ``Failed to parse value of "<name>" (<v>) as a bool: …`` (500).
"""

from __future__ import annotations

import httpx
import pytest

from nomadlab.sim import SimCluster
from tests.sim.conftest import node_named, simple_job

MISSING_UUID = "00000000-0000-4000-8000-000000000000"


@pytest.fixture
def loaded(cluster: SimCluster) -> SimCluster:
    cluster.register_job(simple_job("web", count=1))
    cluster.advance(60)  # deployment finished, so scaling is allowed
    return cluster


def check(r: httpx.Response, status: int, body: str) -> None:
    assert (r.status_code, r.text) == (status, body)
    if body:
        assert r.headers["content-type"].startswith("text/plain")


@pytest.mark.parametrize(
    ("method", "path", "status", "body"),
    [
        pytest.param("GET", "/v1/job/nope", 404, "job not found", id="job"),
        pytest.param("GET", "/v1/job/nope/summary", 404, "job not found", id="summary"),
        pytest.param("GET", "/v1/job/nope/scale", 404, "job not found", id="scale-status"),
        pytest.param("GET", "/v1/job/nope/versions", 404, "job versions not found", id="versions"),
        pytest.param("GET", f"/v1/allocation/{MISSING_UUID}", 404, "alloc not found", id="alloc"),
        pytest.param(
            "POST",
            f"/v1/allocation/{MISSING_UUID}/stop",
            404,
            "allocation not found",
            id="alloc-stop",
        ),
        pytest.param(
            "GET",
            f"/v1/allocation/{MISSING_UUID}/whatever",
            404,
            "resource not found",
            id="alloc-subpath",
        ),
        pytest.param("GET", f"/v1/node/{MISSING_UUID}", 404, "node not found", id="node"),
        pytest.param(
            "POST", f"/v1/node/{MISSING_UUID}/drain", 500, "node not found", id="drain-unknown-node"
        ),
        pytest.param(
            "POST",
            f"/v1/node/{MISSING_UUID}/eligibility",
            500,
            "node not found",
            id="eligibility-unknown-node",
        ),
        pytest.param("GET", "/v1/node/pool/nope", 404, "node pool not found", id="node-pool"),
        pytest.param("POST", "/v1/job/nope/evaluate", 500, "job not found", id="evaluate-unknown"),
        pytest.param("GET", "/v1/unknown/route", 404, "", id="unknown-route"),
    ],
)
def test_not_found_texts(loaded: SimCluster, api: httpx.Client, method, path, status, body) -> None:
    json = None
    if path.endswith("/drain"):
        json = {"DrainSpec": None}
    elif path.endswith("/eligibility"):
        json = {"Eligibility": "ineligible"}
    check(api.request(method, path, json=json), status, body)


@pytest.mark.parametrize(
    ("method", "path"),
    [
        pytest.param("DELETE", "/v1/jobs", id="jobs"),
        pytest.param("POST", "/v1/allocations", id="allocations"),
        pytest.param("PUT", "/v1/nodes", id="nodes"),
        pytest.param("POST", "/v1/evaluations", id="evaluations"),
        pytest.param("POST", "/v1/job/web/summary", id="summary"),
        pytest.param("PUT", "/v1/job/web/allocations", id="job-allocations"),
        pytest.param("GET", "/v1/job/web/plan", id="plan"),
        pytest.param("DELETE", "/v1/job/web/scale", id="scale"),
        pytest.param("GET", "/v1/job/web/evaluate", id="evaluate"),
        pytest.param("PATCH", "/v1/job/web", id="job"),
        pytest.param("DELETE", f"/v1/node/{MISSING_UUID}", id="node"),
        pytest.param("GET", f"/v1/node/{MISSING_UUID}/drain", id="drain"),
        pytest.param("POST", "/v1/agent/self", id="agent-self"),
        pytest.param("POST", "/v1/regions", id="regions"),
        pytest.param("POST", "/v1/status/leader", id="leader"),
    ],
)
def test_bad_method(loaded: SimCluster, api: httpx.Client, method: str, path: str) -> None:
    check(api.request(method, path), 405, "Invalid method")


def scale(api: httpx.Client, body: dict, job: str = "web", query: str = "") -> httpx.Response:
    return api.post(f"/v1/job/{job}/scale{query}", json=body)


@pytest.mark.parametrize(
    ("body", "status", "text"),
    [
        pytest.param(
            {"Count": 2, "Target": {}},
            400,
            "missing task group name for scaling action",
            id="no-group",
        ),
        pytest.param(
            {"Count": -1, "Target": {"Group": "g"}},
            400,
            "scaling action count can't be negative",
            id="negative",
        ),
        pytest.param(
            {"Count": 2, "Error": True, "Target": {"Group": "g"}},
            400,
            "scaling action should not contain count if error is true",
            id="count-with-error",
        ),
        pytest.param(
            {"Count": 2, "Target": {"Group": "g", "Job": "other"}},
            400,
            "job ID in payload did not match URL",
            id="job-mismatch",
        ),
        pytest.param(
            {"Count": 2, "Target": {"Group": "g", "Namespace": "other"}},
            400,
            "namespace in payload did not match header",
            id="namespace-mismatch",
        ),
        pytest.param(
            {"Count": 2, "Target": {"Group": "nope"}},
            400,
            'task group "nope" specified for scaling does not exist in job',
            id="unknown-group",
        ),
    ],
)
def test_scale_validation(loaded: SimCluster, api: httpx.Client, body, status, text) -> None:
    before = api.get("/v1/job/web").json()["Version"]
    check(scale(api, body), status, text)
    assert api.get("/v1/job/web").json()["Version"] == before


def test_scale_unknown_job(api: httpx.Client) -> None:
    check(
        scale(api, {"Count": 1, "Target": {"Group": "g"}}, job="ghost"),
        404,
        'job "ghost" not found',
    )


def test_scale_policy_bounds(cluster: SimCluster, api: httpx.Client) -> None:
    spec = simple_job("web", count=2)
    spec["TaskGroups"][0]["Scaling"] = {"Min": 1, "Max": 3, "Enabled": True}
    cluster.register_job(spec)
    cluster.advance(60)
    check(
        scale(api, {"Count": 0, "Target": {"Group": "g"}}),
        400,
        "group count was less than scaling policy minimum: 0 < 1",
    )
    check(
        scale(api, {"Count": 4, "Target": {"Group": "g"}}),
        400,
        "group count was greater than scaling policy maximum: 4 > 3",
    )


def test_scale_system_job_beyond_one(cluster: SimCluster, api: httpx.Client) -> None:
    cluster.register_job(simple_job("agent", job_type="system"))
    check(
        scale(api, {"Count": 2, "Target": {"Group": "g"}}, job="agent"),
        400,
        'jobs of type "system" can only be scaled between 0 and 1',
    )


def test_scale_during_active_deployment(cluster: SimCluster, api: httpx.Client) -> None:
    cluster.register_job(simple_job("web", count=1))  # service: a deployment starts
    check(
        scale(api, {"Count": 2, "Target": {"Group": "g"}}),
        400,
        "job scaling blocked due to active deployment",
    )


def test_scale_enforce_index(loaded: SimCluster, api: httpx.Client) -> None:
    r = scale(api, {"Count": 2, "Target": {"Group": "g"}, "JobModifyIndex": 999_999})
    assert r.status_code == 500
    assert r.text.startswith("Enforcing job modify index 999999")


def test_register_errors(loaded: SimCluster, api: httpx.Client) -> None:
    check(
        api.post("/v1/job/other", json={"Job": simple_job("web")}),
        400,
        "Job ID does not match name",
    )
    check(
        api.post("/v1/job/other/plan", json={"Job": simple_job("web")}),
        400,
        "Job ID does not match",
    )
    r = api.post(
        "/v1/jobs", json={"Job": simple_job("web"), "EnforceIndex": True, "JobModifyIndex": 0}
    )
    assert r.status_code == 500
    assert r.text.startswith("Enforcing job modify index 0")


def test_evaluate_body_errors(loaded: SimCluster, api: httpx.Client) -> None:
    check(
        api.post("/v1/job/web/evaluate", json={"JobID": "other"}), 400, "JobID not same as job name"
    )
    assert api.post("/v1/job/web/evaluate").status_code == 200


@pytest.mark.parametrize(
    ("query", "text"),
    [
        pytest.param(
            "purge=maybe",
            'Failed to parse value of "purge" (maybe) as a bool: '
            'strconv.ParseBool: parsing "maybe": invalid syntax',
            id="purge",
        ),
        pytest.param(
            "global=yes",
            'Failed to parse value of "global" (yes) as a bool: '
            'strconv.ParseBool: parsing "yes": invalid syntax',
            id="global",
        ),
        pytest.param(
            "eval_priority=high",
            'Failed to parse value of "eval_priority" (high) as a int: '
            'strconv.Atoi: parsing "high": invalid syntax',
            id="eval-priority",
        ),
    ],
)
def test_delete_bad_query_values_are_500(
    loaded: SimCluster, api: httpx.Client, query: str, text: str
) -> None:
    check(api.delete(f"/v1/job/web?{query}"), 500, text)
    assert api.get("/v1/job/web").json()["Stop"] is False


def test_empty_purge_value_means_false(loaded: SimCluster, api: httpx.Client) -> None:
    assert api.delete("/v1/job/web?purge=").status_code == 200
    assert api.get("/v1/job/web").json()["Stop"] is True  # stopped, not purged


def test_eligibility_errors(cluster: SimCluster, api: httpx.Client) -> None:
    a1 = node_named(cluster, "a1")["ID"]
    check(
        api.post(f"/v1/node/{a1}/eligibility", json={"Eligibility": "bogus"}),
        500,
        'invalid scheduling eligibility "bogus"',
    )
    cluster.register_job(simple_job("web", count=3, datacenters=["dc1"]))  # keeps the drain busy
    api.post(f"/v1/node/{a1}/drain", json={"DrainSpec": {"Deadline": 3_600_000_000_000}})
    check(
        api.post(f"/v1/node/{a1}/eligibility", json={"Eligibility": "eligible"}),
        500,
        "can not set node's scheduling eligibility to eligible while it is draining",
    )


def test_unchanged_eligibility_is_a_no_op(cluster: SimCluster, api: httpx.Client) -> None:
    a1 = node_named(cluster, "a1")["ID"]
    index = cluster.state.index
    r = api.post(f"/v1/node/{a1}/eligibility", json={"Eligibility": "eligible"})
    assert r.status_code == 200
    assert r.json()["NodeModifyIndex"] == 0
    assert cluster.state.index == index


@pytest.mark.parametrize(
    "path",
    [
        "/v1/jobs",
        "/v1/allocations",
        "/v1/evaluations",
        "/v1/deployments",
        "/v1/nodes",
        "/v1/node/pools",
    ],
)
def test_per_page_not_a_number(api: httpx.Client, path: str) -> None:
    check(
        api.get(f"{path}?per_page=ten"),
        400,
        "Expect a number for `per_page` query string parameter",
    )


@pytest.mark.parametrize(
    "path", ["/v1/jobs", "/v1/allocations", "/v1/evaluations", "/v1/deployments", "/v1/nodes"]
)
def test_filter_that_does_not_parse(loaded: SimCluster, api: httpx.Client, path: str) -> None:
    r = api.get(path, params={"filter": "ID =="})
    assert r.status_code == 400
    assert r.text.startswith(
        "failed to create result paginator: failed to read filter expression: "
    )


@pytest.mark.parametrize("path", ["/v1/jobs", "/v1/allocations", "/v1/evaluations", "/v1/nodes"])
def test_filter_on_unknown_selector(loaded: SimCluster, api: httpx.Client, path: str) -> None:
    r = api.get(path, params={"filter": 'NoSuchField == "x"'})
    assert r.status_code == 400
    assert r.text.startswith("failed to read result page: ")
    assert "error finding value in datum" in r.text


@pytest.mark.parametrize("param", [{"job": "web"}, {"status": "complete"}], ids=["job", "status"])
def test_eval_filter_with_index_param(api: httpx.Client, param: dict) -> None:
    r = api.get("/v1/evaluations", params={**param, "filter": 'Status == "complete"'})
    check(r, 400, "Filter expression cannot be used with other filter parameters")


def test_submission_version_required(loaded: SimCluster, api: httpx.Client) -> None:
    check(
        api.get("/v1/job/web/submission"), 400, "Unable to parse job submission version parameter"
    )
    check(
        api.get("/v1/job/web/submission?version=x"),
        400,
        "Unable to parse job submission version parameter",
    )
