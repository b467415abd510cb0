"""Contract and behaviour tests for the simulator's wire-shape layer.

Each builder's output is compared with the shape of the matching official sample from
``../shared/nomad-api/samples``. Every tolerated difference is listed below as data, with the
reason (a ⚠ in REFERENCE.md, or a sample value that depends on content our input lacks).
"""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest

from nomadlab.sim import wire as w
from nomadlab.sim.errors import NomadHTTPError
from tests.shapes import assert_same_shape

NOW = 1_767_225_600_123_456_789  # 2026-01-01T00:00:00.123456789Z

# -- exceptions, as data: path -> reason -----------------------------------------------------
CONTENT = "sample value depends on job content that the POST_v1_jobs_request body does not have"
JOB_FROM_REQUEST_EXCEPTIONS = {
    "$.Constraints": CONTENT, "$.TaskGroups[*].Constraints": CONTENT,
    "$.TaskGroups[*].Affinities": CONTENT, "$.TaskGroups[*].Meta": CONTENT,
    "$.TaskGroups[*].Tasks[*].Lifecycle": CONTENT, "$.TaskGroups[*].Tasks[*].Env": CONTENT,
    "$.TaskGroups[*].Tasks[*].Services": CONTENT, "$.TaskGroups[*].Tasks[*].Templates": CONTENT,
    "$.TaskGroups[*].Tasks[*].Resources.Networks": CONTENT,
    "$.TaskGroups[*].Tasks[*].DispatchPayload": CONTENT, "$.TaskGroups[*].Tasks[*].Meta": CONTENT,
    "$.TaskGroups[*].Tasks[*].Artifacts": CONTENT, "$.Periodic": CONTENT,
    "$.ParameterizedJob": CONTENT, "$.Meta": CONTENT,
    "$.TaskGroups[*].Tasks[*].Config": "driver config is free-form",
}
JOB_VERSION_EXCEPTIONS = {
    "$.TaskGroups[*].MaxClientDisconnect": "set by the sample's jobspec; null pointer when unset",
    "$.TaskGroups[*].Tasks[*].Config": "driver config is free-form",
}
JOB_MAPS = {"$.Meta", "$.TaskGroups[*].Meta", "$.TaskGroups[*].Tasks[*].Meta",
            "$.TaskGroups[*].Tasks[*].Env",
            "$.TaskGroups[*].Tasks[*].Artifacts[*].GetterOptions"}
NODE_EXCEPTIONS = {
    "$.Drain": "REFERENCE §4 ⚠: the full Node has no Drain bool any more (stub only)",
    "$.HostVolumes": "nil map (null) when the client configures no host volumes",
    "$.HostNetworks": "nil map (null) when the client configures no host networks",
    "$.LastDrain": "null until the node has been drained",
    "$.NodeResources.Devices": "nil slice (null) when no devices are fingerprinted",
}
NODE_MAPS = {"$.Attributes", "$.Drivers", "$.Drivers.*.Attributes", "$.Meta", "$.Links",
             "$[*].Attributes", "$[*].Drivers", "$[*].Drivers.*.Attributes"}
ALLOC_STUB_EXCEPTIONS = {
    "$[*].DeploymentStatus": "null until the deployment watcher records health",
    "$[*].RescheduleTracker": "null until the allocation is a reschedule",
    "$[*].PreviousAllocation": "sample stale: AllocListStub has no PreviousAllocation field "
                               "(REFERENCE §3 AllocListStub)",
}
ALLOC_MAPS = {"$.TaskStates", "$[*].TaskStates", "$.TaskStates.*.Events[*].Details",
              "$[*].TaskStates.*.Events[*].Details", "$.Metrics.NodesAvailable",
              "$.Metrics.Scores", "$[*].Metrics.NodesAvailable", "$[*].Metrics.Scores"}
ALLOC_EXCEPTIONS = {
    "$.Job": "embedded job compared separately against GET_v1_job_id.json",
    "$[*].Job": "embedded job compared separately against GET_v1_job_id.json",
    "$.TaskResources": "REFERENCE §3 ⚠: legacy TaskResources, null in modern clusters",
    "$[*].TaskResources": "REFERENCE §3 ⚠: legacy TaskResources, null in modern clusters",
    "$.RescheduleTracker": "null until the allocation is a reschedule",
    "$[*].DeploymentStatus": "null until the deployment watcher records health",
    "$.Metrics.NodesAvailable": "null in a metric built before placement ran",
    "$.Metrics.Scores": "null in a metric built before placement ran",
    "$[*].Metrics.NodesAvailable": "null in a metric built before placement ran",
    "$[*].Metrics.Scores": "null in a metric built before placement ran",
}
EVAL_EXCEPTIONS = {"$[*].QueuedAllocations": "null until the scheduler has processed the eval"}
DEPLOYMENT_EXCEPTIONS = {"$.TaskGroups.*.PlacedCanaries": "null until canaries are placed"}
POOL_EXCEPTIONS = {
    "$[*].Meta": "sample pool has meta; a new pool has none (null)",
    "$.Meta": "sample pool has meta; a new pool has none (null)",
    "$[*].SchedulerConfiguration": "sample pool has a scheduler override; default is null",
    "$.SchedulerConfiguration": "sample pool has a scheduler override; default is null",
}
NAMESPACE_EXCEPTIONS = {"$[*].Meta": "sample namespace has meta; a new namespace has none"}
DIFF_EXCEPTIONS = {
    "$.Fields": "doc sample elides with \"...\"", "$.Objects[*].Fields": "doc elision \"...\"",
    "$.TaskGroups[*].Fields": "doc elision \"...\"", "$.TaskGroups[*].Objects": "doc elision",
    "$.TaskGroups[*].Tasks[*].Objects": "doc elision \"...\"",
    "$.TaskGroups[*].Updates": "filled by the plan endpoint from its annotations, not the diff",
    "$.TaskGroups[*].Tasks[*].Annotations": "filled by the plan endpoint, not the diff",
}


def load(samples_dir: Path, name: str) -> Any:
    return json.loads((samples_dir / name).read_text())


@pytest.fixture
def request_job(samples_dir: Path) -> dict[str, Any]:
    return load(samples_dir, "POST_v1_jobs_request.json")["Job"]


@pytest.fixture
def job(request_job: dict[str, Any]) -> dict[str, Any]:
    j = w.canonicalize_job(request_job)
    j.update(CreateIndex=10, ModifyIndex=10, JobModifyIndex=10, SubmitTime=NOW)
    return j


@pytest.fixture
def node() -> dict[str, Any]:
    return w.new_node(node_id="f7476465-4d6e-c0de-26d0-e383c49be941", name="nomad-4",
                      datacenter="dc1", cpu_mhz=8000, cores=4, memory_mb=16384,
                      disk_mb=100_000, reserved_cpu_mhz=200, address="10.0.0.5",
                      now_ns=NOW, index=6)


@pytest.fixture
def alloc(job: dict[str, Any], node: dict[str, Any]) -> dict[str, Any]:
    a = w.new_allocation(alloc_id="ed344e0a-7290-d117-41d3-a64f853ca3c2", eval_id="e1",
                         job=job, task_group="cache", index=0, node=node, now_ns=NOW,
                         create_index=12, ports={"db": 23116})
    a["TaskStates"]["redis"]["Events"] = [w.task_event("Received", NOW)]
    return a


# -- contract tests --------------------------------------------------------------------------
def test_canonicalized_request_has_job_shape(samples_dir: Path, job: dict[str, Any]) -> None:
    assert_same_shape(load(samples_dir, "GET_v1_job_id.json"), job, maps=JOB_MAPS,
                      ignore=JOB_FROM_REQUEST_EXCEPTIONS)
    versions = load(samples_dir, "GET_v1_job_id_versions_diffs.json")["Versions"]
    assert_same_shape(versions[0], job, maps=JOB_MAPS, ignore=JOB_VERSION_EXCEPTIONS)


def test_canonicalized_sample_job_round_trips_its_shape(samples_dir: Path) -> None:
    sample = load(samples_dir, "GET_v1_job_id.json")
    job = w.canonicalize_job(copy.deepcopy(sample))
    # Lists are compared element-by-element against the first actual element, so the two
    # different tasks of the sample are compared pairwise here instead.
    assert_same_shape(sample, job, maps=JOB_MAPS, ignore={"$.TaskGroups[*].Tasks": "below"})
    for want, got in zip(sample["TaskGroups"][0]["Tasks"], job["TaskGroups"][0]["Tasks"],
                         strict=True):
        assert_same_shape(want, got, path="$.Task", maps={"$.Task.Meta", "$.Task.Env"},
                          ignore={"$.Task.Config": "free-form driver config"})


def test_node_shapes(samples_dir: Path, node: dict[str, Any]) -> None:
    assert_same_shape(load(samples_dir, "GET_v1_node_id.json"), node, maps=NODE_MAPS,
                      ignore=NODE_EXCEPTIONS)
    assert_same_shape(load(samples_dir, "GET_v1_nodes.json"), [w.node_stub(node, os=True)],
                      maps=NODE_MAPS)


@pytest.mark.parametrize("name", ["GET_v1_allocations.json", "GET_v1_job_id_allocations.json",
                                  "GET_v1_evaluation_id_allocations.json"])
def test_alloc_stub_shapes(samples_dir: Path, alloc: dict[str, Any], name: str) -> None:
    assert_same_shape(load(samples_dir, name), [w.alloc_stub(alloc)], maps=ALLOC_MAPS,
                      ignore=ALLOC_STUB_EXCEPTIONS)


def test_full_allocation_shapes(samples_dir: Path, alloc: dict[str, Any]) -> None:
    assert_same_shape(load(samples_dir, "GET_v1_allocation_id.json"), alloc, maps=ALLOC_MAPS,
                      ignore=ALLOC_EXCEPTIONS)
    assert_same_shape(load(samples_dir, "GET_v1_node_id_allocations.json"), [alloc],
                      maps=ALLOC_MAPS, ignore=ALLOC_EXCEPTIONS)
    assert_same_shape(load(samples_dir, "GET_v1_job_id.json"), alloc["Job"], maps=JOB_MAPS,
                      ignore=JOB_FROM_REQUEST_EXCEPTIONS)


def test_task_events_have_sample_shape(samples_dir: Path) -> None:
    sample = load(samples_dir, "GET_v1_job_id_allocations.json")
    events = sample[0]["TaskStates"]["redis"]["Events"]
    for ev in events:
        assert_same_shape(ev, w.task_event(ev["Type"], ev["Time"]))


def test_evaluation_shapes(samples_dir: Path) -> None:
    ev = w.new_evaluation(eval_id="5456bd7a-9fc0-c0dd-6131-cbee77f57577", namespace="default",
                          job_id="example", priority=50, eval_type="service",
                          triggered_by="job-register", job_modify_index=52, now_ns=NOW,
                          index=53)
    for name in ("GET_v1_evaluations.json", "GET_v1_job_id_evaluations.json"):
        assert_same_shape(load(samples_dir, name), [ev], ignore=EVAL_EXCEPTIONS)


def test_deployment_shapes(samples_dir: Path, job: dict[str, Any]) -> None:
    dep = w.new_deployment(deployment_id="d1", job=job, now_ns=NOW, index=19)
    assert_same_shape(load(samples_dir, "GET_v1_deployments.json"), [dep],
                      maps={"$[*].TaskGroups"})
    assert_same_shape(load(samples_dir, "GET_v1_job_id_deployment.json"), dep,
                      maps={"$.TaskGroups"}, ignore=DEPLOYMENT_EXCEPTIONS)


def test_summary_stub_and_scale_shapes(samples_dir: Path, job: dict[str, Any],
                                       alloc: dict[str, Any]) -> None:
    summary = w.new_job_summary(job, index=7)
    assert_same_shape(load(samples_dir, "GET_v1_job_id_summary.json"), summary,
                      maps={"$.Summary"})
    stub = w.job_stub(job, summary)
    for name in ("GET_v1_jobs.json", "GET_v1_jobs_unfiltered_from_filtering_section.json"):
        assert_same_shape(load(samples_dir, name), [stub], maps={"$[*].JobSummary.Summary"})
    scale = w.job_scale_status(job, [alloc], {})
    assert_same_shape(load(samples_dir, "GET_v1_job_id_scale.json"), scale, maps={"$.TaskGroups"})


def test_namespace_and_node_pool_shapes(samples_dir: Path) -> None:
    assert_same_shape(load(samples_dir, "GET_v1_namespaces.json"),
                      [w.new_namespace("default", "Default shared namespace", index=1)],
                      maps={"$[*].Meta"}, ignore=NAMESPACE_EXCEPTIONS)
    pool = w.new_node_pool("prod-eng", "Production workloads", index=11)
    assert_same_shape(load(samples_dir, "GET_v1_node_pools.json"), [pool], maps={"$[*].Meta"},
                      ignore=POOL_EXCEPTIONS)
    assert_same_shape(load(samples_dir, "GET_v1_node_pool_name.json"), pool, maps={"$.Meta"},
                      ignore=POOL_EXCEPTIONS)


def test_job_diff_shape(samples_dir: Path, job: dict[str, Any]) -> None:
    # GET_v1_job_id_versions_diffs.json carries "Diffs": null; the plan sample has a JobDiff.
    sample = load(samples_dir, "POST_v1_job_id_plan.json")["Diff"]
    assert_same_shape(sample, w.job_diff(None, job), ignore=DIFF_EXCEPTIONS)


# -- behaviour: canonicalize -----------------------------------------------------------------
def test_canonicalize_defaults_for_service_job() -> None:
    job = w.canonicalize_job({"ID": "web", "TaskGroups": [
        {"Name": "g", "Tasks": [{"Name": "t", "Driver": "docker"}]}]})
    assert (job["Name"], job["Type"], job["Priority"], job["Namespace"]) == (
        "web", "service", 50, "default")
    assert job["Datacenters"] == ["*"] and job["NodePool"] == "default"
    assert job["Region"] == "global" and job["Status"] == "pending" and job["Version"] == 0
    assert job["Update"]["Stagger"] == 30_000_000_000 and job["Update"]["MaxParallel"] == 1
    tg = job["TaskGroups"][0]
    assert tg["Count"] == 1
    assert tg["RestartPolicy"] == {"Attempts": 2, "Interval": 1_800_000_000_000,
                                   "Delay": 15_000_000_000, "Mode": "fail",
                                   "RenderTemplates": False}
    assert tg["ReschedulePolicy"]["DelayFunction"] == "exponential"
    assert tg["ReschedulePolicy"]["Unlimited"] is True
    assert tg["Migrate"]["HealthCheck"] == "checks"
    assert tg["Update"]["ProgressDeadline"] == 600_000_000_000
    assert tg["EphemeralDisk"] == {"Sticky": False, "SizeMB": 300, "Migrate": False}
    task = tg["Tasks"][0]
    assert task["Resources"]["CPU"] == 100 and task["Resources"]["MemoryMB"] == 300
    assert task["KillTimeout"] == 5_000_000_000
    assert task["LogConfig"] == {"MaxFiles": 10, "MaxFileSizeMB": 10, "Disabled": False}
    assert task["RestartPolicy"] == tg["RestartPolicy"]
    assert task["Config"] is None and task["Env"] is None and task["Lifecycle"] is None


def test_canonicalize_defaults_for_batch_and_system_jobs() -> None:
    body = {"ID": "b", "Type": "batch", "TaskGroups": [
        {"Name": "g", "Tasks": [{"Name": "t", "Driver": "exec"}]}]}
    tg = w.canonicalize_job(body)["TaskGroups"][0]
    assert tg["RestartPolicy"]["Attempts"] == 3
    assert tg["RestartPolicy"]["Interval"] == 24 * 3600 * 1_000_000_000
    assert tg["ReschedulePolicy"]["Attempts"] == 1
    assert tg["ReschedulePolicy"]["DelayFunction"] == "constant"
    assert tg["Update"] is None and tg["Migrate"] is None
    system = w.canonicalize_job({**body, "Type": "system"})["TaskGroups"][0]
    assert system["ReschedulePolicy"] is None and system["RestartPolicy"]["Attempts"] == 2


def test_canonicalize_keys_are_case_insensitive_and_unknown_keys_ignored() -> None:
    job = w.canonicalize_job({"id": "x", "TYPE": "batch", "priority": 70, "bogus": 1,
                              "taskgroups": [{"name": "g", "COUNT": 2, "tasks": [
                                  {"name": "t", "driver": "exec",
                                   "resources": {"cpu": 250, "memorymb": 64}}]}]})
    assert (job["ID"], job["Type"], job["Priority"]) == ("x", "batch", 70)
    tg = job["TaskGroups"][0]
    assert tg["Count"] == 2
    assert tg["Tasks"][0]["Resources"]["CPU"] == 250
    assert tg["Tasks"][0]["Resources"]["MemoryMB"] == 64
    assert "bogus" not in job


def test_canonicalize_merges_given_policies_and_namespace_override() -> None:
    job = w.canonicalize_job(
        {"ID": "x", "Namespace": "apps", "Region": "global", "TaskGroups": [
            {"Name": "g", "RestartPolicy": {"Attempts": 9}, "Update": {"Canary": 2},
             "Tasks": [{"Name": "t", "Driver": "exec", "RestartPolicy": {"Mode": "delay"},
                        "Resources": {"Cores": 2}}]}]},
        region="eu", namespace="team")
    assert job["Namespace"] == "team" and job["Region"] == "eu"
    tg = job["TaskGroups"][0]
    assert tg["RestartPolicy"]["Attempts"] == 9 and tg["RestartPolicy"]["Mode"] == "fail"
    assert tg["Update"]["Canary"] == 2 and tg["Update"]["MaxParallel"] == 1
    task = tg["Tasks"][0]
    assert task["RestartPolicy"]["Attempts"] == 9 and task["RestartPolicy"]["Mode"] == "delay"
    assert task["Resources"]["CPU"] == 0 and task["Resources"]["Cores"] == 2


def test_canonicalize_ports_get_default_host_network(request_job: dict[str, Any]) -> None:
    job = w.canonicalize_job(request_job)
    port = job["TaskGroups"][0]["Networks"][0]["DynamicPorts"][0]
    assert port == {"Label": "db", "Value": 0, "To": 6379, "HostNetwork": "default",
                    "IgnoreCollision": False}
    assert job["TaskGroups"][0]["Networks"][0]["ReservedPorts"] is None
    assert job["TaskGroups"][0]["Services"][0]["Name"] == "redis-cache"
    assert job["TaskGroups"][0]["Services"][0]["Provider"] == "consul"


def _group(**kw: Any) -> dict[str, Any]:
    return {"Name": "g", "Tasks": [{"Name": "t", "Driver": "exec"}], **kw}


@pytest.mark.parametrize(
    ("body", "text"),
    [
        ({"ID": "", "Name": "n", "TaskGroups": [_group()]},
         "1 error occurred:\n\t* Missing job ID\n\n"),
        ({"ID": "", "TaskGroups": [_group()]},
         "2 errors occurred:\n\t* Missing job ID\n\t* Missing job name\n\n"),
        ({"ID": "a b", "TaskGroups": [_group()]},
         "1 error occurred:\n\t* Job ID contains a space\n\n"),
        ({"ID": "x"}, "1 error occurred:\n\t* Missing job task groups\n\n"),
        ({"ID": "x", "Type": "bogus", "TaskGroups": [_group()]},
         '1 error occurred:\n\t* Invalid job type: "bogus"\n\n'),
        ({"ID": "x", "Priority": 101, "TaskGroups": [_group()]},
         "1 error occurred:\n\t* Job priority must be between [1, 100]\n\n"),
        ({"ID": "x", "TaskGroups": [_group(Tasks=[])]},
         "1 error occurred:\n\t* Task group g validation failed: 1 error occurred:\n"
         "\t* Missing tasks for task group\n\n\n\n"),
        ({"ID": "x", "TaskGroups": [_group(Count=-1)]},
         "1 error occurred:\n\t* Task group g validation failed: 1 error occurred:\n"
         "\t* Task group count can't be negative\n\n\n\n"),
        ({"ID": "x", "TaskGroups": [_group(Tasks=[{"Name": "t"}])]},
         "1 error occurred:\n\t* Task group g validation failed: 1 error occurred:\n"
         "\t* Task t validation failed: 1 error occurred:\n\t* Missing task driver\n\n\n\n\n\n"),
        ({"ID": "", "Name": "n", "TaskGroups": []},
         "2 errors occurred:\n\t* Missing job ID\n\t* Missing job task groups\n\n"),
        ({"ID": "x", "TaskGroups": [_group(), _group()]},
         "1 error occurred:\n\t* Job task group 2 redefines 'g' from group 1\n\n"),
    ],
)
def test_validation_errors_use_nomads_texts(body: dict[str, Any], text: str) -> None:
    with pytest.raises(NomadHTTPError) as exc:
        w.canonicalize_job(body)
    assert exc.value.status == 500  # uncoded RPC error (a real `nomad job run` shows 500)
    assert exc.value.body == text


def test_absent_job_id_is_rejected_before_validation() -> None:
    with pytest.raises(NomadHTTPError) as exc:
        w.canonicalize_job({"TaskGroups": [_group()]})
    assert (exc.value.status, exc.value.body) == (400, "Job ID hasn't been provided")


# -- behaviour: projections and builders -----------------------------------------------------
def test_job_stub_meta_only_when_asked(job: dict[str, Any]) -> None:
    summary = w.new_job_summary(job, index=3)
    job["Meta"] = {"team": "a"}
    assert "Meta" not in w.job_stub(job, summary)
    assert w.job_stub(job, summary, meta=True)["Meta"] == {"team": "a"}
    assert summary["Summary"]["cache"]["Unknown"] == 0
    assert summary["Children"] == {"Pending": 0, "Running": 0, "Dead": 0}


def test_builders_return_fresh_objects(job: dict[str, Any], node: dict[str, Any]) -> None:
    a = w.node_stub(node)
    a["Drivers"]["docker"]["Healthy"] = False
    assert node["Drivers"]["docker"]["Healthy"] is True
    s1, s2 = w.new_task_state(), w.new_task_state()
    assert s1 == s2 and s1 is not s2


def test_node_details(node: dict[str, Any]) -> None:
    assert node["StatusUpdatedAt"] == NOW // 1_000_000_000
    assert node["HTTPAddr"] == "10.0.0.5:4646" and node["SecretID"] == ""
    assert "Drain" not in node and node["DrainStrategy"] is None
    assert node["Events"][0]["Message"] == "Node registered"
    assert node["Events"][0]["Timestamp"] == "2026-01-01T00:00:00.123456789Z"
    assert node["Attributes"]["cpu.totalcompute"] == "8000"
    assert node["NodeResources"]["Cpu"]["CpuShares"] == 8000
    assert node["ReservedResources"]["Cpu"]["CpuShares"] == 200
    stub = w.node_stub(node, resources=True, os=True)
    assert stub["Drain"] is False and stub["Attributes"] == {"os.name": "ubuntu"}
    assert stub["Address"] == "10.0.0.5" and stub["Version"] == "1.11.0"
    assert "NodeResources" not in w.node_stub(node)
    drained = {**node, "DrainStrategy": {"Deadline": 1}}
    assert w.node_stub(drained)["Drain"] is True


def test_allocation_details(alloc: dict[str, Any]) -> None:
    assert alloc["Name"] == "cache.cache[0]"
    assert alloc["DesiredStatus"] == "run" and alloc["ClientStatus"] == "pending"
    ar = alloc["AllocatedResources"]
    assert ar["Tasks"]["redis"]["Cpu"]["CpuShares"] == 100
    assert ar["Tasks"]["redis"]["Memory"] == {"MemoryMB": 300, "MemoryMaxMB": 0}
    assert ar["Shared"]["DiskMB"] == 300
    assert ar["Shared"]["Ports"][0]["Value"] == 23116
    assert alloc["Resources"]["CPU"] == 100 and alloc["Resources"]["DiskMB"] == 300
    assert alloc["TaskResources"] is None
    assert set(alloc["DesiredTransition"].values()) == {None}
    assert alloc["AllocModifyIndex"] == alloc["CreateIndex"] == 12
    stub = w.alloc_stub(alloc, task_states=False)
    assert stub["TaskStates"] is None and "AllocatedResources" not in stub
    assert stub["JobType"] == "service"
    assert w.alloc_stub(alloc, resources=True)["AllocatedResources"] == ar
    copied, shared = w.alloc_stub(alloc), w.alloc_stub(alloc, copy=False)
    assert copied == shared
    assert copied["TaskStates"] is not alloc["TaskStates"]
    assert shared["TaskStates"] is alloc["TaskStates"]


def test_task_state_defaults() -> None:
    st = w.new_task_state()
    assert st["State"] == "pending" and st["Restarts"] == 0 and st["Paused"] == ""
    assert st["StartedAt"] == st["FinishedAt"] == st["LastRestart"] == w.ZERO_TIME


@pytest.mark.parametrize(
    ("etype", "fields", "expected"),
    [
        ("Received", {}, "Task received by client"),
        ("Started", {}, "Task started by client"),
        ("Task Setup", {"Message": "Building Task Directory"}, "Building Task Directory"),
        ("Driver", {"DriverMessage": "Downloading image redis:7"}, "Downloading image redis:7"),
        ("Terminated", {"ExitCode": 137, "Signal": 9}, "Exit Code: 137, Signal: 9"),
        ("Terminated", {"ExitCode": 1, "Message": "boom"}, 'Exit Code: 1, Exit Message: "boom"'),
        ("Killing", {"KillTimeout": 5_000_000_000},
         "Sent interrupt. Waiting 5s before force killing"),
        ("Killing", {"KillReason": "alloc stopped"}, "alloc stopped"),
        ("Killing", {}, "Sent interrupt"),
        ("Killed", {}, "Task successfully killed"),
        ("Restarting", {"StartDelay": 15_970_468_593, "RestartReason": "Restart within policy"},
         "Task restarting in 15.970468593s"),
        ("Restarting", {"StartDelay": 90_000_000_000, "RestartReason": "User requested"},
         "User requested - Task restarting in 1m30s"),
        ("Not Restarting", {}, "Task exceeded restart policy"),
        ("Sibling Task Failed", {"FailedSibling": "web"}, "Task's sibling \"web\" failed"),
        ("Signaling", {"TaskSignal": "SIGHUP"}, "Task being sent signal SIGHUP"),
        ("Signaling", {"TaskSignal": "SIGHUP", "TaskSignalReason": "tpl"},
         "Task being sent signal SIGHUP: tpl"),
        ("Restart Signaled", {}, "Task signaled to restart"),
        ("Driver Failure", {"DriverError": "no image"}, "no image"),
        ("Setup Failure", {}, "Task setup failed"),
        ("Failed Validation", {}, "Validation of task failed"),
        ("Downloading Artifacts", {}, "Client is downloading artifacts"),
        ("Failed Artifact Download", {}, "Failed to download artifacts"),
        ("Leader Task Dead", {}, "Leader Task in Group dead"),
        ("Main Tasks Dead", {}, "Main tasks in the group died"),
        ("Reconnected", {}, "Client reconnected"),
        ("Task hook failed", {"Message": "hook x"}, "hook x"),
    ],
)
def test_display_message_per_event_type(etype: str, fields: dict[str, Any], expected: str) -> None:
    ev = w.task_event(etype, NOW, **fields)
    assert ev["DisplayMessage"] == expected
    assert ev["Type"] == etype and ev["Time"] == NOW


def test_task_event_fields_and_details() -> None:
    from nomadlab.sim.wire_allocs import TASK_EVENT_FIELDS

    ev = w.task_event("Terminated", NOW, ExitCode=137, Signal=9, OOMKilled=True)
    assert set(ev) == set(TASK_EVENT_FIELDS)
    assert ev["Details"] == {"exit_code": "137", "signal": "9", "oom_killed": "true"}
    assert ev["GenericSource"] == "" and ev["FailsTask"] is False
    kill = w.task_event("Killing", NOW, KillTimeout=5_000_000_000)
    assert kill["Details"] == {"kill_timeout": "5s"}
    assert w.task_event("Started", NOW)["Details"] == {}
    with pytest.raises(TypeError):
        w.task_event("Started", NOW, NoSuchField=1)


def test_alloc_metric_has_every_field() -> None:
    m = w.alloc_metric(nodes_evaluated=3, nodes_available={"dc1": 3}, allocation_time_ns=31729)
    assert m["NodesEvaluated"] == 3 and m["NodesAvailable"] == {"dc1": 3}
    assert m["AllocationTime"] == 31729 and m["QuotaExhausted"] is None
    assert {"ClassFiltered", "ConstraintFiltered", "DimensionExhausted", "Scores",
            "CoalescedFailures", "NodesInPool", "NodesExhausted"} <= set(m)


def test_evaluation_and_deployment_details(job: dict[str, Any]) -> None:
    ev = w.new_evaluation(eval_id="e", namespace="default", job_id="cache", priority=50,
                          eval_type="service", triggered_by="job-register",
                          job_modify_index=10, now_ns=NOW, index=11, wait_ns=5)
    assert ev["Status"] == "pending" and ev["WaitUntil"] == w.ZERO_TIME and ev["Wait"] == 5
    assert ev["CreateTime"] == ev["ModifyTime"] == NOW
    dep = w.new_deployment(deployment_id="d", job=job, now_ns=NOW, index=12)
    state = dep["TaskGroups"]["cache"]
    assert state["DesiredTotal"] == 1 and state["ProgressDeadline"] == 600_000_000_000
    assert state["RequireProgressBy"] == "2026-01-01T00:10:00.123456789Z"
    assert dep["Status"] == "running" and dep["StatusDescription"] == "Deployment is running"
    batch = w.canonicalize_job({"ID": "b", "Type": "batch", "TaskGroups": [_group()]})
    assert w.new_deployment(deployment_id="d", job=batch, now_ns=NOW, index=1)["TaskGroups"] == {}


def test_scale_status_counts(job: dict[str, Any], alloc: dict[str, Any]) -> None:
    running = {**alloc, "ClientStatus": "running",
               "DeploymentStatus": {"Healthy": True, "Canary": False}}
    stopped = {**alloc, "DesiredStatus": "stop"}
    ev = w.scaling_event(time_ns=NOW, count=None, previous_count=1, message="hi", error=False,
                         meta=None, eval_id=None)
    status = w.job_scale_status(job, [running, stopped], {"cache": [ev]})
    g = status["TaskGroups"]["cache"]
    assert (g["Desired"], g["Placed"], g["Running"], g["Healthy"]) == (1, 1, 1, 1)
    assert g["Events"][0]["Count"] is None and g["Events"][0]["EvalID"] is None
    assert w.job_scale_status(job, [], {})["TaskGroups"]["cache"]["Events"] is None


def test_node_pool_and_namespace() -> None:
    pool = w.new_node_pool("default", "Default node pool.", index=1)
    assert pool["NodeIdentityTTL"] == 86_400_000_000_000
    assert isinstance(pool["Hash"], str) and pool["Hash"]
    ns = w.new_namespace("default", "Default shared namespace", index=1)
    assert ns["Quota"] == "" and ns["Capabilities"] is None


# -- behaviour: diffs and time ---------------------------------------------------------------
def test_job_diff_types(job: dict[str, Any]) -> None:
    assert w.job_diff(None, job)["Type"] == "Added"
    same = w.job_diff(job, copy.deepcopy(job))
    assert same["Type"] == "None" and same["TaskGroups"] is None
    new = copy.deepcopy(job)
    new["TaskGroups"][0]["Count"] = 3
    new["TaskGroups"][0]["Tasks"][0]["Resources"]["MemoryMB"] = 512
    new["TaskGroups"][0]["Tasks"][0]["Env"] = {"A": "1"}
    new["TaskGroups"][0]["Tasks"][0]["Config"]["image"] = "redis:8"
    new["Meta"] = {"owner": "me"}
    d = w.job_diff(job, new)
    assert d["Type"] == "Edited"
    assert d["Fields"] == [{"Type": "Added", "Name": "Meta[owner]", "Old": "", "New": "me",
                            "Annotations": None}]
    tg = d["TaskGroups"][0]
    assert tg["Type"] == "Edited"
    assert tg["Fields"] == [{"Type": "Edited", "Name": "Count", "Old": "1", "New": "3",
                             "Annotations": None}]
    task = tg["Tasks"][0]
    assert task["Fields"] == [{"Type": "Added", "Name": "Env[A]", "Old": "", "New": "1",
                               "Annotations": None}]
    objs = {o["Name"]: o for o in task["Objects"]}
    assert objs["Config"]["Fields"][0] == {"Type": "Edited", "Name": "image",
                                           "Old": "redis:7", "New": "redis:8",
                                           "Annotations": None}
    assert objs["Resources"]["Fields"][0]["Name"] == "MemoryMB"
    assert objs["Resources"]["Fields"][0]["New"] == "512"


def test_job_diff_added_and_removed_groups_and_tasks(job: dict[str, Any]) -> None:
    new = copy.deepcopy(job)
    extra = copy.deepcopy(new["TaskGroups"][0])
    extra["Name"] = "api"
    new["TaskGroups"].append(extra)
    sidecar = copy.deepcopy(new["TaskGroups"][0]["Tasks"][0])
    sidecar["Name"] = "log"
    new["TaskGroups"][0]["Tasks"].append(sidecar)
    d = w.job_diff(job, new)
    groups = {g["Name"]: g for g in d["TaskGroups"]}
    assert groups["api"]["Type"] == "Added"
    assert {t["Name"]: t["Type"] for t in groups["cache"]["Tasks"]} == {"log": "Added"}
    back = w.job_diff(new, job)
    assert {g["Name"]: g["Type"] for g in back["TaskGroups"]} == {"api": "Deleted",
                                                                   "cache": "Edited"}
    contextual = w.job_diff(job, copy.deepcopy(job), contextual=True)
    assert contextual["Type"] == "None"
    assert {f["Type"] for f in contextual["Fields"]} == {"None"}


@pytest.mark.parametrize(
    ("ns", "text"),
    [
        (0, "0001-01-01T00:00:00Z"),
        (1_495_755_683_240_184_101, "2017-05-25T23:41:23.240184101Z"),
        (1_767_225_600_000_000_000, "2026-01-01T00:00:00Z"),
        (1_767_225_600_500_000_000, "2026-01-01T00:00:00.5Z"),
    ],
)
def test_rfc3339(ns: int, text: str) -> None:
    assert w.rfc3339(ns) == text


@pytest.mark.parametrize(
    ("ns", "text"),
    [(0, "0s"), (5_000_000_000, "5s"), (90_000_000_000, "1m30s"), (3_600_000_000_000, "1h0m0s"),
     (1_500, "1.5µs"), (2_500_000, "2.5ms"), (999, "999ns")],
)
def test_go_duration(ns: int, text: str) -> None:
    assert w.go_duration(ns) == text
