"""Revert, stable, dispatch and periodic force over HTTP, against Nomad's shapes and texts.

Facts (REFERENCE §11.5; ``nomad/job_endpoint.go`` ``Revert``, ``Stable``, ``Dispatch``;
``nomad/periodic_endpoint.go`` ``Force``; ``command/agent/job_endpoint.go``): the HTTP layer
checks ``JobID`` (400) before the RPC runs; RPC errors are uncoded (500); revert re-registers the
old spec as a new version with ``Stable`` false; stable answers ``{"Index": N}`` only; a
dispatched child is ``<parent>/dispatch-<unix>-<8 hex>`` with a snappy payload; a periodic child
is ``<parent>/periodic-<unix>`` evaluated with ``TriggeredBy: periodic-job``.
"""

from __future__ import annotations

import base64
import json
import re

import httpx
import pytest

from nomadlab.sim import SimCluster
from nomadlab.sim.launches import snappy_block
from tests.conftest import SAMPLES_DIR
from tests.sim.conftest import http, new_cluster, simple_job

SAMPLES = SAMPLES_DIR


@pytest.fixture
def cluster() -> SimCluster:
    c = new_cluster()
    c.register_job(simple_job("web", count=1))
    c.advance(30)
    spec = simple_job("web", count=2)
    spec["TaskGroups"][0]["Meta"] = {"v": "1"}
    c.register_job(spec)
    c.advance(30)
    return c


@pytest.fixture
def api(cluster: SimCluster) -> httpx.Client:
    return http(cluster)


def _sample(name: str) -> dict:
    data: dict = json.loads((SAMPLES / name).read_text())
    return data


def test_revert_registers_the_old_spec_as_a_new_version(cluster: SimCluster, api: httpx.Client) -> None:
    r = api.post("/v1/job/web/revert", json={"JobID": "web", "JobVersion": 0, "EnforcePriorVersion": 1})
    assert r.status_code == 200, r.text
    body = r.json()
    assert set(_sample("POST_v1_job_id_revert.json")) <= set(body)
    assert set(body) == {"EvalID", "EvalCreateIndex", "JobModifyIndex", "Warnings", "Index", "LastContact",
                         "KnownLeader", "NextToken"}
    assert r.headers["X-Nomad-Index"] == str(body["Index"]) and r.headers["X-Nomad-KnownLeader"] == "true"
    job = cluster.state.jobs[("default", "web")]
    assert job["Version"] == 2 and job["Stable"] is False and job["JobModifyIndex"] == body["JobModifyIndex"]
    assert job["TaskGroups"][0]["Count"] == 1 and job["TaskGroups"][0]["Meta"] is None
    ev = cluster.state.evals[body["EvalID"]]
    assert ev["TriggeredBy"] == "job-register"
    cluster.advance(30)
    live = [a for a in cluster.state.job_allocs("default", "web")
            if a["DesiredStatus"] == "run" and a["ClientStatus"] == "running"]
    assert len(live) == 1 and live[0]["Job"]["Version"] == 2


@pytest.mark.parametrize(
    ("body", "status", "text"),
    [
        ({}, 400, "JobID must be specified"),
        ({"JobID": "other"}, 400, "Job ID does not match"),
        ({"JobID": "web", "JobVersion": 1}, 500, "can't revert to current version"),
        ({"JobID": "web", "JobVersion": 7}, 500, 'job "web" in namespace "default" at version 7 not found'),
        ({"JobID": "web", "JobVersion": 0, "EnforcePriorVersion": 0}, 500,
         "Current job has version 1; enforcing version 0"),
        ({"JobID": "web", "JobVersion": "0"}, 400,
         "json: cannot unmarshal string into Go struct field JobRevertRequest.JobVersion of type uint64"),
    ],
    ids=["no-id", "other-id", "current", "unknown-version", "enforce", "bad-type"],
)
def test_revert_errors(cluster: SimCluster, api: httpx.Client, body: dict, status: int, text: str) -> None:
    index = cluster.state.index
    r = api.post("/v1/job/web/revert", json=body)
    assert (r.status_code, r.text) == (status, text)
    assert cluster.state.index == index


def test_revert_of_an_unknown_job_and_a_get(api: httpx.Client) -> None:
    r = api.post("/v1/job/nope/revert", json={"JobID": "nope", "JobVersion": 0})
    assert (r.status_code, r.text) == (500, 'job "nope" not found')
    assert (api.get("/v1/job/web/revert").status_code, api.get("/v1/job/web/revert").text) == (405, "Invalid method")


def test_stable_marks_the_version_and_answers_only_an_index(cluster: SimCluster, api: httpx.Client) -> None:
    job = cluster.state.jobs[("default", "web")]
    job_index = job["ModifyIndex"]
    r = api.put("/v1/job/web/stable", json={"JobID": "web", "JobVersion": 0, "Stable": True})
    assert r.status_code == 200
    assert set(r.json()) == {"Index"} and r.headers["X-Nomad-Index"] == str(r.json()["Index"])
    versions = {v["Version"]: v["Stable"] for v in api.get("/v1/job/web/versions").json()["Versions"]}
    assert versions[0] is True
    assert cluster.state.jobs[("default", "web")]["ModifyIndex"] == job_index, "v0 is not the current version"
    r = api.put("/v1/job/web/stable", json={"JobID": "web", "JobVersion": 1, "Stable": False})
    assert r.status_code == 200 and cluster.state.jobs[("default", "web")]["Stable"] is False
    r = api.put("/v1/job/web/stable", json={"JobID": "web", "JobVersion": 9})
    assert (r.status_code, r.text) == (500, 'job "web" in namespace "default" at version 9 not found')
    r = api.put("/v1/job/web/stable", json={"JobVersion": 0})
    assert (r.status_code, r.text) == (400, "JobID must be specified")


# -- dispatch --------------------------------------------------------------------------------
def _parameterized(cluster: SimCluster, payload: str = "optional") -> None:
    spec = simple_job("report", job_type="batch")
    spec["ParameterizedJob"] = {"Payload": payload, "MetaRequired": ["day"], "MetaOptional": ["format"]}
    spec["Meta"] = {"team": "data"}
    cluster.register_job(spec)


def test_snappy_block_is_snappys_encoding_of_short_input() -> None:
    # snappy.Encode(nil, []byte("hello")): length 5 as a varint, then one literal of 5 bytes
    assert snappy_block(b"hello") == b"\x05\x10hello"
    assert snappy_block(b"") == b"\x00"
    long = bytes(range(256)) * 2
    assert snappy_block(long)[:2] == b"\x80\x04" and snappy_block(long)[2:5] == bytes([61 << 2, 0xFF, 0x01])


def test_dispatch_creates_a_child_that_runs(cluster: SimCluster, api: httpx.Client) -> None:
    _parameterized(cluster)
    assert api.get("/v1/job/report").json()["Status"] == "running"
    body = {"Payload": base64.b64encode(b"hello").decode(), "Meta": {"day": "mon"}}
    r = api.post("/v1/job/report/dispatch", json=body)
    assert r.status_code == 200, r.text
    reply = r.json()
    assert set(reply) == set(_sample("POST_v1_job_id_dispatch.json"))
    assert r.headers["X-Nomad-Index"] == str(reply["Index"])
    child_id = reply["DispatchedJobID"]
    assert re.fullmatch(r"report/dispatch-\d+-[0-9a-f]{8}", child_id)
    assert child_id.split("-")[1] == str(cluster.now_ns() // 1_000_000_000)
    child = api.get(f"/v1/job/{child_id}").json()
    assert (child["ParentID"], child["Dispatched"], child["Name"]) == ("report", True, child_id)
    assert child["Meta"] == {"team": "data", "day": "mon"}
    assert base64.b64decode(child["Payload"]) == b"\x05\x10hello"
    assert reply["JobCreateIndex"] == child["CreateIndex"] and reply["EvalCreateIndex"] == reply["Index"]
    assert cluster.state.evals[reply["EvalID"]]["TriggeredBy"] == "job-register"
    cluster.advance(60)
    assert api.get(f"/v1/job/{child_id}").json()["Status"] == "dead"
    assert api.get("/v1/job/report/summary").json()["Children"] == {"Pending": 0, "Running": 0, "Dead": 1}


def test_dispatch_with_a_prefix_and_an_idempotency_token(cluster: SimCluster, api: httpx.Client) -> None:
    _parameterized(cluster)
    body = {"Meta": {"day": "tue"}, "IdPrefixTemplate": "nightly"}
    first = api.post("/v1/job/report/dispatch", json=body, params={"idempotency_token": "t-1"}).json()
    assert re.fullmatch(r"report/dispatch-nightly-\d+-[0-9a-f]{8}", first["DispatchedJobID"])
    again = api.post("/v1/job/report/dispatch", json=body, params={"idempotency_token": "t-1"}).json()
    assert again["DispatchedJobID"] == first["DispatchedJobID"]
    assert (again["EvalID"], again["EvalCreateIndex"]) == ("", 0)
    children = [j for (_, jid), j in cluster.state.jobs.items() if j.get("ParentID") == "report"]
    assert len(children) == 1


def test_dispatch_payload_endpoint_takes_the_raw_body(cluster: SimCluster, api: httpx.Client) -> None:
    _parameterized(cluster)
    r = api.post("/v1/job/report/dispatch/payload", content=b"raw bytes")
    # the raw form carries no meta, so the required key is missing
    assert (r.status_code, r.text) == (500, "Dispatch did not provide required meta keys: [day]")


@pytest.mark.parametrize(
    ("payload_mode", "body", "text"),
    [
        ("optional", {"Meta": {}}, "Dispatch did not provide required meta keys: [day]"),
        ("optional", {"Meta": {"day": "x", "zone": "y", "color": "z"}},
         "Dispatch request included unpermitted metadata keys: [color zone]"),
        ("required", {"Meta": {"day": "x"}}, "Payload is not provided but required by parameterized job"),
        ("forbidden", {"Meta": {"day": "x"}, "Payload": "aGk="}, "Payload provided but forbidden by parameterized job"),
        ("optional", {"Meta": {"day": "x"}, "Payload": base64.b64encode(b"x" * 16385).decode()},
         "Payload exceeds maximum size; 16385 > 16384"),
        ("optional", {"Meta": {"day": "x"}, "Priority": 101}, "dispatch job priority must be between [1, 100]"),
    ],
    ids=["missing-meta", "unpermitted-meta", "payload-required", "payload-forbidden", "payload-size", "priority"],
)
def test_dispatch_validation(cluster: SimCluster, api: httpx.Client, payload_mode: str, body: dict,
                             text: str) -> None:
    _parameterized(cluster, payload_mode)
    jobs = set(cluster.state.jobs)
    r = api.post("/v1/job/report/dispatch", json=body)
    assert (r.status_code, r.text) == (500, text)
    assert set(cluster.state.jobs) == jobs


def test_dispatch_of_the_wrong_jobs(cluster: SimCluster, api: httpx.Client) -> None:
    r = api.post("/v1/job/web/dispatch", json={})
    assert (r.status_code, r.text) == (500, 'Specified job "web" is not a parameterized job')
    r = api.post("/v1/job/nope/dispatch", json={})
    assert (r.status_code, r.text) == (500, "parameterized job not found")
    r = api.post("/v1/job/web/dispatch", json={"JobID": "x"})
    assert (r.status_code, r.text) == (400, "Job ID does not match")
    r = api.post("/v1/job/web/dispatch", json={"Payload": "!!"})
    assert (r.status_code, r.text) == (400, "illegal base64 data at input byte 0")
    _parameterized(cluster)
    cluster.deregister_job("default", "report")
    r = api.post("/v1/job/report/dispatch", json={"Meta": {"day": "x"}})
    assert (r.status_code, r.text) == (500, 'Specified job "report" is stopped')


# -- periodic force --------------------------------------------------------------------------
def test_periodic_force_launches_a_child_now(cluster: SimCluster, api: httpx.Client) -> None:
    spec = simple_job("nightly", job_type="batch")
    spec["Periodic"] = {"Enabled": True, "Spec": "0 3 * * *", "SpecType": "cron"}
    cluster.register_job(spec)
    r = api.post("/v1/job/nightly/periodic/force")
    assert r.status_code == 200
    reply = r.json()
    assert set(reply) == {"EvalID", "EvalCreateIndex", "Index"}
    assert r.headers["X-Nomad-Index"] == str(reply["Index"])
    ev = cluster.state.evals[reply["EvalID"]]
    child_id = f"nightly/periodic-{cluster.now_ns() // 1_000_000_000}"
    assert (ev["JobID"], ev["TriggeredBy"], ev["CreateIndex"]) == (child_id, "periodic-job", reply["EvalCreateIndex"])
    child = api.get(f"/v1/job/{child_id}").json()
    assert (child["ParentID"], child["Periodic"]) == ("nightly", None)


def test_periodic_force_errors(cluster: SimCluster, api: httpx.Client) -> None:
    assert (api.post("/v1/job/web/periodic/force").text) == "can't force launch non-periodic job"
    r = api.post("/v1/job/nope/periodic/force")
    assert (r.status_code, r.text) == (500, "job not found")
    spec = simple_job("off", job_type="batch")
    spec["Periodic"] = {"Enabled": False, "Spec": "0 3 * * *"}
    cluster.register_job(spec)
    r = api.post("/v1/job/off/periodic/force")
    assert (r.status_code, r.text) == (
        500, 'force launch for job "off" failed: can\'t force run non-tracked job off (default)')
    assert api.get("/v1/job/web/periodic/force").status_code == 405
