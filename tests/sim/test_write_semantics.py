"""Write replies and events as Nomad's RPC endpoints and state store produce them.

Facts (``docs/sim-api.md``): ``Job.Deregister`` returns a zero reply for an unknown job;
``Job.Register`` writes nothing but an evaluation when the spec is unchanged; the event type
of a node write is the Raft message's (``nomad/state/events.go``).
"""

from __future__ import annotations

import httpx
import orjson

from nomadlab.sim import SimCluster
from tests.sim.conftest import simple_job


def test_deregistering_an_unknown_job_is_a_zero_reply(cluster: SimCluster, api: httpx.Client) -> None:
    before = cluster.state.index
    r = api.delete("/v1/job/nope")
    assert r.status_code == 200
    assert r.json() == {"EvalID": "", "EvalCreateIndex": 0, "JobModifyIndex": 0, "VolumeEvalID": "",
                        "VolumeEvalIndex": 0, "Index": 0, "LastContact": 0, "KnownLeader": False,
                        "NextToken": ""}
    assert r.headers["X-Nomad-Index"] == "0"
    assert cluster.state.index == before


def test_register_reply_index_is_the_job_modify_index(cluster: SimCluster, api: httpx.Client) -> None:
    r = api.put("/v1/jobs", json={"Job": simple_job("w")})
    body = r.json()
    job = cluster.state.jobs[("default", "w")]
    assert body["Index"] == body["JobModifyIndex"] == body["EvalCreateIndex"] == job["JobModifyIndex"]
    assert r.headers["X-Nomad-Index"] == str(body["Index"])


def test_reregistering_an_unchanged_job_only_creates_an_evaluation(cluster: SimCluster, api: httpx.Client) -> None:
    first = api.put("/v1/jobs", json={"Job": simple_job("w")}).json()
    cluster.advance(30)
    job = dict(cluster.state.jobs[("default", "w")])
    versions = len(cluster.state.job_versions[("default", "w")])
    jobs_index = cluster.state.table_index["jobs"]
    again = api.put("/v1/jobs", json={"Job": simple_job("w")})
    body = again.json()
    now = cluster.state.jobs[("default", "w")]
    assert (now["Version"], now["ModifyIndex"], now["JobModifyIndex"], now["SubmitTime"]) == (
        job["Version"], job["ModifyIndex"], job["JobModifyIndex"], job["SubmitTime"])
    assert len(cluster.state.job_versions[("default", "w")]) == versions
    assert cluster.state.table_index["jobs"] == jobs_index, "the jobs table was not written"
    assert body["JobModifyIndex"] == job["ModifyIndex"]
    assert body["EvalID"] and body["EvalID"] != first["EvalID"]
    assert body["Index"] == body["EvalCreateIndex"] == cluster.state.evals[body["EvalID"]]["CreateIndex"]
    assert again.headers["X-Nomad-Index"] == str(body["Index"])


def _node_event_types(c: SimCluster, since: int) -> list[str]:
    out = []
    for index, events in c.events.frames:
        for e in events:
            d = orjson.loads(e.raw)
            if index > since and d["Topic"] == "Node":
                out.append(d["Type"])
    return out


def test_node_writes_are_named_by_their_request(cluster: SimCluster, api: httpx.Client) -> None:
    node = next(iter(cluster.state.nodes.values()))["ID"]
    start = cluster.state.index
    assert api.post(f"/v1/node/{node}/eligibility", json={"Eligibility": "ineligible"}).status_code == 200
    assert api.post(f"/v1/node/{node}/eligibility", json={"Eligibility": "eligible"}).status_code == 200
    assert api.post(f"/v1/node/{node}/drain", json={"DrainSpec": {"Deadline": 1_000_000_000}}).status_code == 200
    cluster.advance(5)  # the drain completes: BatchNodeUpdateDrainRequestType, NodeDrain too
    assert api.post(f"/v1/node/{node}/drain", json={"DrainSpec": None, "MarkEligible": True}).status_code == 200
    assert _node_event_types(cluster, start) == [
        "NodeEligibility", "NodeEligibility", "NodeDrain", "NodeDrain", "NodeDrain"]
