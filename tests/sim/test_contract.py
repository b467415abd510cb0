"""Contract: every served endpoint answers with the shape of Nomad's sample response.

For each sample in ``../shared/nomad-api/samples`` whose endpoint the simulator serves, the
response must hold every key of the sample with the same JSON type, recursively
(:func:`tests.shapes.assert_same_shape`). Samples are read at test time; without the folder
these tests skip.

The scenario registers the sample job itself (``GET_v1_job_id.json``, periodic and
parameterized, so it never runs) and a runnable copy of it (``svc``: service type, no
``Periodic``/``ParameterizedJob``), then updates, plans, scales, stops an allocation, toggles
eligibility, drains and stops, so that each endpoint has content to show.

Tolerated differences are data, below, in two kinds:

* ``STALE``: fields REFERENCE.md (or samples/README.md, which repeats it) marks as removed
  from the code or stale in the sample;
* ``CONTENT``: a sample value that exists only because the documented cluster had content the
  scenario does not create (null/absent is then the correct Go zero value), or a doc elision.

Objects keyed by names or IDs are compared per value (``MAPS``).
"""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import httpx
import pytest

from nomadlab.sim import SimCluster
from tests.shapes import assert_same_shape

STALE = {
    "node.Drain": "REFERENCE §4 ⚠: the full Node has no Drain bool any more",
    "alloc.TaskResources": "REFERENCE §3 ⚠: legacy TaskResources, normally null in modern clusters",
    "alloc.Resources.Networks": "REFERENCE §3 ⚠: legacy Resources of the stale alloc sample",
    "job.VaultToken": "not a Job field any more (REFERENCE §2 Job fields list has no VaultToken)",
    "task.Spreads": "not a Task field (REFERENCE §2 Task fields list has no Spreads)",
    "stub.PreviousAllocation": "not an AllocListStub field (REFERENCE §3 AllocListStub fields)",
    "submission.JobIndex": "not a JobSubmission field (REFERENCE §11.5 lists the response fields)",
}
CONTENT = {
    "task-config": "driver config is free-form (port_map, ports, args depend on the jobspec)",
    "task-content": "Env, Services, Templates, Networks, DispatchPayload, Meta, Artifacts of the "
    "documented task; the scenario's second task has none (Go zero value null)",
    "group-networks": "the documented group had networks; the sample job's group has none",
    "max-client-disconnect": "set by the documented jobspec; null pointer when unset",
    "reschedule-tracker": "null until the allocation is a reschedule",
    "placed-canaries": "null until canaries are placed",
    "scores": "Metrics.Scores: null when scoring metadata is not kept",
    "node-extras": "host volumes/networks, devices, consul attributes, extra drivers of the "
    "documented node; LastDrain null until a drain",
    "pool-extras": "pool Meta and SchedulerConfiguration null when not configured",
    "namespace-meta": "the documented namespace has Meta; a new namespace has none",
    "diff-elision": 'the plan sample elides task objects as "..." and diffs a brand-new job; '
    "the scenario's plan diff has different content",
    "versions-diffs": "Diffs is null without ?diffs=true (the sample shows diffs)",
    "stub-attributes": "Attributes appear in node stubs only with ?os=true",
    "event-details": "Details keys depend on the event (a message key only on some)",
    "other-task": "the sample's node runs a task named webapp; TaskStates is keyed by task",
    "plan-no-failure": "FailedTGAllocs null and CreatedEvals null when everything fits",
    "summary-groups": "the filtering sample's jobs have other group names",
}

TASK_MAPS = ("Config", "Env", "Meta")
JOB_MAPS = ["$.Meta", "$.TaskGroups[*].Meta"] + [f"$.TaskGroups[*].Tasks[*].{m}" for m in TASK_MAPS]


def under(prefix: str, paths: list[str]) -> list[str]:
    """Rebase ``$``-rooted paths under ``prefix`` (e.g. ``$[*].Job``)."""
    return [prefix + p[1:] for p in paths]


NODE_MAPS = ["$.Attributes", "$.Drivers", "$.Drivers.*.Attributes", "$.Meta", "$.Links"]
ALLOC_MAPS = [
    "$.TaskStates",
    "$.TaskStates.*.Events[*].Details",
    "$.Metrics.NodesAvailable",
    "$.AllocatedResources.Tasks",
    "$.AllocatedResources.TaskLifecycles",
]


# sample -> (request key in the scenario, ignore {path: reason}, maps)
CASES: dict[str, tuple[str, dict[str, str], list[str]]] = {
    "GET_v1_jobs.json": ("jobs", {}, ["$[*].JobSummary.Summary"]),
    "GET_v1_jobs_unfiltered_from_filtering_section.json": (
        "jobs",
        {"$[*].JobSummary.Summary": CONTENT["summary-groups"]},
        [],
    ),
    "POST_v1_jobs.json": ("register", {}, []),
    "POST_v1_job_id.json": ("update", {}, []),
    "GET_v1_job_id.json": (
        "job",
        {
            "$.TaskGroups[*].Tasks[*].Config": CONTENT["task-config"],
            "$.TaskGroups[*].Tasks[1].Env": CONTENT["task-content"],
            "$.TaskGroups[*].Tasks[1].Services": CONTENT["task-content"],
            "$.TaskGroups[*].Tasks[1].Templates": CONTENT["task-content"],
            "$.TaskGroups[*].Tasks[1].Resources.Networks": CONTENT["task-content"],
            "$.TaskGroups[*].Tasks[1].DispatchPayload": CONTENT["task-content"],
            "$.TaskGroups[*].Tasks[1].Meta": CONTENT["task-content"],
            "$.TaskGroups[*].Tasks[1].Artifacts": CONTENT["task-content"],
        },
        JOB_MAPS,
    ),
    "GET_v1_job_id_versions.json": (
        "versions",
        {
            "$.Diffs": CONTENT["versions-diffs"],
            "$.Versions[*].TaskGroups[*].Networks": CONTENT["group-networks"],
            "$.Versions[*].TaskGroups[*].Tasks[*].Config": CONTENT["task-config"],
            "$.Versions[*].TaskGroups[*].Tasks[*].Env": CONTENT["task-content"],
        },
        under("$.Versions[*]", JOB_MAPS),
    ),
    "GET_v1_job_id_versions_diffs.json": (
        "versions_diffs",
        {
            "$.Versions[*].TaskGroups[*].MaxClientDisconnect": CONTENT["max-client-disconnect"],
            "$.Versions[*].TaskGroups[*].Networks": CONTENT["group-networks"],
            "$.Versions[*].TaskGroups[*].Tasks[*].Config": CONTENT["task-config"],
        },
        under("$.Versions[*]", JOB_MAPS),
    ),
    "GET_v1_job_id_allocations.json": (
        "job_allocs",
        {
            "$[*].PreviousAllocation": STALE["stub.PreviousAllocation"],
            "$[*].RescheduleTracker": CONTENT["reschedule-tracker"],
        },
        under("$[*]", ALLOC_MAPS),
    ),
    "GET_v1_job_id_evaluations.json": ("job_evals", {}, []),
    "GET_v1_job_id_deployments.json": (
        "job_deployments",
        {"$[*].TaskGroups.*.PlacedCanaries": CONTENT["placed-canaries"]},
        ["$[*].TaskGroups"],
    ),
    "GET_v1_job_id_deployment.json": (
        "job_deployment",
        {"$.TaskGroups.*.PlacedCanaries": CONTENT["placed-canaries"]},
        ["$.TaskGroups"],
    ),
    "GET_v1_job_id_summary.json": ("summary", {}, ["$.Summary"]),
    "POST_v1_job_id_plan.json": (
        "plan",
        {
            "$.Diff.Fields": CONTENT["diff-elision"],
            "$.Diff.Objects": CONTENT["diff-elision"],
            "$.Diff.TaskGroups": CONTENT["diff-elision"],
            "$.CreatedEvals": CONTENT["plan-no-failure"],
            "$.FailedTGAllocs": CONTENT["plan-no-failure"],
        },
        ["$.Annotations.DesiredTGUpdates"],
    ),
    "GET_v1_job_id_scale.json": (
        "scale_status",
        {},
        ["$.TaskGroups", "$.TaskGroups.*.Events[*].Meta"],
    ),
    "POST_v1_job_id_scale.json": ("scale", {}, []),
    "GET_v1_job_id_submission.json": (
        "submission",
        {
            "$.JobIndex": STALE["submission.JobIndex"],
            "$.VariableFlags": "variable flags depend on the submission (none given here)",
        },
        [],
    ),
    "GET_v1_allocations.json": (
        "allocs",
        {
            "$[*].TaskStates.*.Events[*].Details": CONTENT["event-details"],
        },
        under("$[*]", ALLOC_MAPS),
    ),
    "GET_v1_allocation_id.json": (
        "alloc",
        {
            "$.RescheduleTracker": CONTENT["reschedule-tracker"],
            "$.TaskResources": STALE["alloc.TaskResources"],
            "$.Resources.Networks": STALE["alloc.Resources.Networks"],
            "$.Job.VaultToken": STALE["job.VaultToken"],
            "$.Job.TaskGroups[*].Tasks[*].Spreads": STALE["task.Spreads"],
            "$.Job.TaskGroups[*].Tasks[*].Config": CONTENT["task-config"],
            "$.Job.TaskGroups[*].Tasks[*].Services": CONTENT["task-content"],
            "$.Job.TaskGroups[*].Tasks[*].Resources.Networks": CONTENT["task-content"],
            "$.Metrics.Scores": CONTENT["scores"],
        },
        ALLOC_MAPS + under("$.Job", JOB_MAPS),
    ),
    "GET_v1_nodes.json": (
        "nodes",
        {"$[*].Attributes": CONTENT["stub-attributes"]},
        ["$[*].Drivers", "$[*].Drivers.*.Attributes"],
    ),
    "GET_v1_node_id.json": (
        "node",
        {
            "$.Drain": STALE["node.Drain"],
            "$.HostVolumes": CONTENT["node-extras"],
            "$.HostNetworks": CONTENT["node-extras"],
            "$.LastDrain": CONTENT["node-extras"],
            "$.NodeResources.Devices": CONTENT["node-extras"],
            "$.Attributes": CONTENT["node-extras"],
            "$.Links": CONTENT["node-extras"],
        },
        NODE_MAPS,
    ),
    "GET_v1_node_id_allocations.json": (
        "node_allocs",
        {
            "$[*].TaskResources": STALE["alloc.TaskResources"],
            "$[*].Resources.Networks": STALE["alloc.Resources.Networks"],
            "$[*].Job.VaultToken": STALE["job.VaultToken"],
            "$[*].Job.TaskGroups[*].Tasks[*].Config": CONTENT["task-config"],
            "$[*].Job.TaskGroups[*].Tasks[*].Services": CONTENT["task-content"],
            "$[*].Job.TaskGroups[*].Tasks[*].Resources.Networks": CONTENT["task-content"],
            "$[*].Metrics.Scores": CONTENT["scores"],
            "$[*].TaskStates": CONTENT["other-task"],
        },
        under("$[*]", ALLOC_MAPS) + under("$[*].Job", JOB_MAPS),
    ),
    "GET_v1_evaluations.json": ("evals", {}, []),
    "GET_v1_evaluation_id_allocations.json": ("eval_allocs", {}, under("$[*]", ALLOC_MAPS)),
    "GET_v1_deployments.json": ("deployments", {}, ["$[*].TaskGroups"]),
    "GET_v1_namespaces.json": ("namespaces", {"$[*].Meta": CONTENT["namespace-meta"]}, []),
    "GET_v1_node_pools.json": (
        "pools",
        {
            "$[*].Meta": CONTENT["pool-extras"],
            "$[*].SchedulerConfiguration": CONTENT["pool-extras"],
        },
        [],
    ),
    "GET_v1_node_pool_name.json": (
        "pool",
        {"$.Meta": CONTENT["pool-extras"], "$.SchedulerConfiguration": CONTENT["pool-extras"]},
        [],
    ),
    "GET_v1_agent_members.json": ("members", {}, ["$.Members[*].Tags"]),
    "GET_v1_agent_health.json": ("health", {}, []),
    "POST_v1_allocation_id_stop.json": ("alloc_stop", {}, []),
    "POST_v1_node_id_eligibility.json": ("eligibility", {}, []),
    "POST_v1_node_id_drain.json": ("drain", {}, []),
    "DELETE_v1_job_id.json": ("deregister", {}, []),
}


def load(samples_dir: Path, name: str) -> Any:
    return json.loads((samples_dir / name).read_text())


def ok(r: httpx.Response) -> Any:
    assert r.status_code == 200, (r.request.url, r.status_code, r.text)
    return r.json()


@pytest.fixture(scope="module")
def responses(samples_dir: Path) -> dict[str, Any]:
    """Run the scenario once and collect every response by key."""
    cluster = SimCluster()
    cluster.add_namespace("apps")
    cluster.add_node_pool("prod")
    for i in range(3):
        cluster.add_node(
            name=f"n{i}",
            datacenter="dc1",
            node_pool="prod",
            cpu_mhz=4000,
            cores=4,
            memory_mb=8192,
            disk_mb=50_000,
            address=f"10.0.0.{10 + i}",
        )
    api = httpx.Client(transport=cluster.transport(), base_url="http://nomad")
    sample_job = load(samples_dir, "GET_v1_job_id.json")
    out: dict[str, Any] = {}
    ok(
        api.post(
            "/v1/jobs",
            json={"Job": sample_job, "Submission": {"Source": "job {}", "Format": "hcl2"}},
        )
    )
    svc = copy.deepcopy(sample_job)
    svc.update(ID="svc", Name="svc", Type="service")
    svc.pop("Periodic")
    svc.pop("ParameterizedJob")
    svc["TaskGroups"][0]["Count"] = 2
    ns = "?namespace=apps"
    out["register"] = ok(api.post("/v1/jobs", json={"Job": svc}))
    cluster.advance(60)
    updated = copy.deepcopy(svc)
    updated["TaskGroups"][0]["Tasks"][1]["Resources"]["CPU"] += 100
    out["update"] = ok(api.post(f"/v1/job/svc{ns}", json={"Job": updated}))
    cluster.advance(120)
    out["plan"] = ok(api.post(f"/v1/job/svc/plan{ns}", json={"Job": svc, "Diff": True}))
    out["scale"] = ok(
        api.post(
            f"/v1/job/svc/scale{ns}",
            json={
                "Count": 3,
                "Target": {"Group": "cache"},
                "Message": "more",
                "Meta": {"by": "test"},
            },
        )
    )
    cluster.advance(120)
    alloc = sorted(cluster.state.job_allocs("apps", "svc"), key=lambda a: a["CreateIndex"])[0]
    node = alloc["NodeID"]
    reads = {
        "jobs": "/v1/jobs?namespace=*",
        "job": f"/v1/job/example{ns}",
        "versions": f"/v1/job/svc/versions{ns}",
        "versions_diffs": f"/v1/job/svc/versions{ns}&diffs=true",
        "job_allocs": f"/v1/job/svc/allocations{ns}",
        "job_evals": f"/v1/job/svc/evaluations{ns}",
        "job_deployments": f"/v1/job/svc/deployments{ns}",
        "job_deployment": f"/v1/job/svc/deployment{ns}",
        "summary": f"/v1/job/svc/summary{ns}",
        "scale_status": f"/v1/job/svc/scale{ns}",
        "submission": f"/v1/job/example/submission{ns}&version=0",
        "allocs": "/v1/allocations?namespace=*",
        "alloc": f"/v1/allocation/{alloc['ID']}",
        "nodes": "/v1/nodes",
        "node": f"/v1/node/{node}",
        "node_allocs": f"/v1/node/{node}/allocations",
        "evals": "/v1/evaluations?namespace=*",
        "eval_allocs": f"/v1/evaluation/{alloc['EvalID']}/allocations",
        "deployments": "/v1/deployments?namespace=*",
        "namespaces": "/v1/namespaces",
        "pools": "/v1/node/pools",
        "pool": "/v1/node/pool/prod",
        "members": "/v1/agent/members",
        "health": "/v1/agent/health",
    }
    for key, path in reads.items():
        out[key] = ok(api.get(path))
    out["alloc_stop"] = ok(api.post(f"/v1/allocation/{alloc['ID']}/stop"))
    out["eligibility"] = ok(
        api.post(f"/v1/node/{node}/eligibility", json={"Eligibility": "ineligible"})
    )
    out["drain"] = ok(
        api.post(f"/v1/node/{node}/drain", json={"DrainSpec": {"Deadline": 3_600_000_000_000}})
    )
    out["deregister"] = ok(api.delete(f"/v1/job/svc{ns}"))
    return out


def test_every_case_names_an_existing_sample(samples_dir: Path) -> None:
    for name in CASES:
        assert (samples_dir / name).is_file(), name


@pytest.mark.parametrize("sample", sorted(CASES))
def test_response_has_sample_shape(
    samples_dir: Path, responses: dict[str, Any], sample: str
) -> None:
    key, ignore, maps = CASES[sample]
    actual = responses[key]
    if isinstance(actual, list):
        assert actual, f"{key}: the scenario produced an empty list; nothing to compare"
    assert_same_shape(load(samples_dir, sample), actual, ignore=ignore, maps=maps)
