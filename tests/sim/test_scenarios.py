"""The seeded scenarios: ``demo`` (a history ending in an incident, found from the API alone)
and ``large`` (a benchmark-sized cluster built directly in state).

Every demo assertion reads the cluster through its HTTP API (in-process transport), as a
notebook would; the demo is built once per module.
"""

from __future__ import annotations

import re
import urllib.parse
from collections import Counter
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from nomadlab.cli import main as cli_main
from nomadlab.sim import ManualClock, RealClock, SimCluster
from nomadlab.sim.clock import NS_PER_S
from nomadlab.sim.scenarios import (
    DEMO_HISTORY_S,
    SCENARIOS,
    build_scenario,
    continue_in_real_time,
)

HOUR_NS = 3600 * NS_PER_S


def _client(cluster: SimCluster) -> httpx.Client:
    return httpx.Client(transport=cluster.transport(), base_url="http://nomad")


def _job_path(job_id: str) -> str:
    return "/v1/job/" + urllib.parse.quote(job_id, safe="")


@pytest.fixture(scope="module")
def demo() -> SimCluster:
    return build_scenario("demo", seed=0)


@pytest.fixture(scope="module")
def api(demo: SimCluster) -> Iterator[httpx.Client]:
    with _client(demo) as client:
        yield client


@pytest.fixture(scope="module")
def allocs(api: httpx.Client) -> list[dict[str, Any]]:
    resp = api.get("/v1/allocations", params={"namespace": "*"})
    assert resp.status_code == 200
    return resp.json()


@pytest.fixture(scope="module")
def jobs(api: httpx.Client) -> list[dict[str, Any]]:
    return api.get("/v1/jobs", params={"namespace": "*"}).json()


@pytest.fixture(scope="module")
def nodes(api: httpx.Client) -> list[dict[str, Any]]:
    return api.get("/v1/nodes").json()


# -- registry and determinism ----------------------------------------------------------------------
def test_registry_names_the_scenarios() -> None:
    assert set(SCENARIOS) == {"default", "demo", "dev", "large"}
    assert SCENARIOS["large"].params == ("nodes", "allocs", "jobs")
    assert SCENARIOS["dev"].params == ("node_name",)
    with pytest.raises(TypeError, match="takes no parameter"):
        SCENARIOS["demo"](SimCluster(), nodes=3)


def test_demo_is_deterministic_per_seed(demo: SimCluster, api: httpx.Client) -> None:
    first = api.get("/v1/allocations", params={"namespace": "*"}).content
    with _client(build_scenario("demo", seed=0)) as again:
        assert again.get("/v1/allocations", params={"namespace": "*"}).content == first
    with _client(build_scenario("demo", seed=1)) as other:
        assert other.get("/v1/allocations", params={"namespace": "*"}).content != first


def test_demo_clock_spans_the_history(demo: SimCluster) -> None:
    assert isinstance(demo.clock, ManualClock)
    assert demo.now_ns() == ManualClock.DEFAULT_START_NS + DEMO_HISTORY_S * NS_PER_S


def test_history_can_end_at_a_given_time() -> None:
    end = 1_790_000_000 * NS_PER_S + 123
    cluster = build_scenario("default", end_ns=end)
    assert cluster.now_ns() == (end - 30 * NS_PER_S) // NS_PER_S * NS_PER_S + 30 * NS_PER_S


def test_continue_in_real_time_keeps_time_and_pending_work() -> None:
    cluster = build_scenario("demo", seed=2)
    built = cluster.now_ns()
    pending = cluster.next_due_ns()
    assert pending is not None  # crash loops, long batch work, the last periodic child
    clock = continue_in_real_time(cluster)
    assert cluster.clock is clock and isinstance(clock, RealClock)
    assert built <= cluster.now_ns() < built + 5 * NS_PER_S
    assert cluster.next_due_ns() == pending
    cluster.tick()  # runs whatever is due without error


# -- demo: shape ----------------------------------------------------------------------------------
def test_demo_datacenters_pools_nodes_namespaces(api: httpx.Client, nodes: list[dict[str, Any]]) -> None:
    assert 35 <= len(nodes) <= 45
    assert {n["Datacenter"] for n in nodes} == {"dc1", "dc2", "dc3"}
    pools = {p["Name"] for p in api.get("/v1/node/pools").json()} - {"all"}
    assert 2 <= len(pools) <= 3
    assert {n["NodePool"] for n in nodes} == pools
    sizes = {(n["NodeResources"]["Cpu"]["CpuShares"], n["NodeResources"]["Memory"]["MemoryMB"])
             for n in api.get("/v1/nodes", params={"resources": "true"}).json()}
    assert len(sizes) >= 3  # mixed sizes
    assert len(api.get("/v1/namespaces").json()) == 3


def test_demo_jobs_of_every_type(jobs: list[dict[str, Any]]) -> None:
    assert 25 <= len(jobs) <= 40
    assert {j["Type"] for j in jobs} == {"service", "batch", "system", "sysbatch"}
    assert len({j["Namespace"] for j in jobs}) == 3


@pytest.mark.parametrize(("flag", "pattern"), [
    ("Periodic", r"/periodic-\d{10}$"),
    ("ParameterizedJob", r"/dispatch-\d{10}-[0-9a-f]{8}$"),
])
def test_demo_parents_have_children(api: httpx.Client, jobs: list[dict[str, Any]], flag: str,
                                    pattern: str) -> None:
    parents = [j for j in jobs if j[flag] and not j["ParentID"]]
    assert parents
    for parent in parents:
        children = [j for j in jobs if j["ParentID"] == parent["ID"] and j["Namespace"] == parent["Namespace"]]
        assert children, parent["ID"]
        for child in children:
            assert re.fullmatch(re.escape(parent["ID"]) + pattern, child["ID"])
            full = api.get(_job_path(child["ID"]), params={"namespace": child["Namespace"]}).json()
            assert full["ParentID"] == parent["ID"] and full["Name"] == child["ID"]
            assert full["Dispatched"] is (flag == "ParameterizedJob")
            assert full["Periodic"] is None or flag != "Periodic"
            assert child["Type"] == "batch" and child["Status"] in ("pending", "running", "dead")
            if child["Status"] == "dead":
                assert sum(child["JobSummary"]["Summary"][g]["Complete"]
                           for g in child["JobSummary"]["Summary"]) >= 1
        summary = api.get(_job_path(parent["ID"]) + "/summary",
                          params={"namespace": parent["Namespace"]}).json()
        want = Counter(c["Status"].capitalize() for c in children)
        assert summary["Children"] == {k: want.get(k, 0) for k in ("Pending", "Running", "Dead")}
        assert parent["Status"] == "running"


def test_demo_versions_and_deployments(api: httpx.Client) -> None:
    versions = api.get("/v1/job/web/versions").json()["Versions"]
    assert len(versions) > 2
    deps = api.get("/v1/deployments", params={"namespace": "*"}).json()
    assert any(d["Status"] == "successful" for d in deps)
    failed = [d for d in deps if d["Status"] == "failed"]
    assert len(failed) == 1
    bad = failed[0]
    m = re.search(r"rolling back to job version (\d+)", bad["StatusDescription"])
    assert m is not None, bad["StatusDescription"]
    stable = int(m.group(1))
    assert bad["TaskGroups"]["api"]["UnhealthyAllocs"] >= 1
    # The revert registered the stable spec again as a newer version, deployed successfully.
    job_versions = {v["Version"]: v for v in api.get(f"{_job_path(bad['JobID'])}/versions").json()["Versions"]}
    latest = max(job_versions)
    assert latest > bad["JobVersion"]
    image = lambda v: [t["Config"]["image"] for t in job_versions[v]["TaskGroups"][0]["Tasks"]]  # noqa: E731
    assert image(latest) == image(stable) != image(bad["JobVersion"])
    revert = [d for d in deps if d["JobID"] == bad["JobID"] and d["JobVersion"] == latest]
    assert [d["Status"] for d in revert] == ["successful"]
    assert job_versions[latest]["Stable"] is True
    evals = api.get(f"{_job_path(bad['JobID'])}/evaluations").json()
    assert any(e["TriggeredBy"] == "deployment-watcher" for e in evals)


def test_demo_restarts_and_reschedule_links(api: httpx.Client, allocs: list[dict[str, Any]]) -> None:
    assert any(ts["Restarts"] > 0 for a in allocs for ts in (a["TaskStates"] or {}).values())
    # The list stub has NextAllocation only; PreviousAllocation is on the full allocation.
    linked = [a for a in allocs if a["NextAllocation"]]
    assert len(linked) > 5
    for stub in linked:
        nxt = api.get(f"/v1/allocation/{stub['NextAllocation']}").json()
        assert nxt["PreviousAllocation"] == stub["ID"]
        assert nxt["JobID"] == stub["JobID"] and nxt["TaskGroup"] == stub["TaskGroup"]
    rescheduled = [a for a in allocs if a["RescheduleTracker"]]
    assert rescheduled
    by_id = {a["ID"]: a for a in allocs}
    for a in rescheduled:
        last = a["RescheduleTracker"]["Events"][-1]
        assert by_id[last["PrevAllocID"]]["NextAllocation"] == a["ID"]
        assert by_id[last["PrevAllocID"]]["NodeID"] == last["PrevNodeID"]
    # A chain: an allocation rescheduled twice carries both events.
    assert max(len(a["RescheduleTracker"]["Events"]) for a in rescheduled) >= 2


def test_demo_previous_allocation_is_set_both_ways(api: httpx.Client, allocs: list[dict[str, Any]]) -> None:
    with_prev = [a for a in allocs if a["RescheduleTracker"]]
    for stub in with_prev:
        full = api.get(f"/v1/allocation/{stub['ID']}").json()
        assert full["PreviousAllocation"]
        prev = api.get(f"/v1/allocation/{full['PreviousAllocation']}").json()
        assert prev["NextAllocation"] == stub["ID"]
        assert prev["ClientStatus"] in ("failed", "lost")


def test_demo_scaling_events(api: httpx.Client) -> None:
    scale = api.get("/v1/job/web/scale").json()
    events = scale["TaskGroups"]["frontend"]["Events"]
    assert len(events) >= 2
    assert all(e["Count"] is not None and e["Count"] != e["PreviousCount"] for e in events)
    assert scale["TaskGroups"]["frontend"]["Desired"] == events[0]["Count"]


def test_demo_drained_node(api: httpx.Client, nodes: list[dict[str, Any]]) -> None:
    drained = [n for n in nodes if (n["LastDrain"] or {}).get("Status") == "complete"]
    assert len(drained) == 1
    node = api.get(f"/v1/node/{drained[0]['ID']}").json()
    assert node["SchedulingEligibility"] == "ineligible" and node["DrainStrategy"] is None
    assert any(e["Message"] == "Node drain complete" for e in node["Events"])
    on_node = api.get(f"/v1/node/{node['ID']}/allocations").json()
    assert all(a["ClientStatus"] in ("complete", "failed", "lost") for a in on_node)


def test_demo_incident_node_down_allocations_lost_and_replaced(
    demo: SimCluster, api: httpx.Client, nodes: list[dict[str, Any]], allocs: list[dict[str, Any]]
) -> None:
    down = [n for n in nodes if n["Status"] == "down"]
    assert len(down) == 1
    node = api.get(f"/v1/node/{down[0]['ID']}").json()
    assert node["StatusUpdatedAt"] * NS_PER_S >= demo.now_ns() - HOUR_NS  # in the last hour
    on_node = api.get(f"/v1/node/{node['ID']}/allocations").json()
    lost = [a for a in on_node if a["ClientStatus"] == "lost"]
    assert len(lost) >= 3
    assert not [a for a in on_node if a["ClientStatus"] in ("pending", "running")]
    by_id = {a["ID"]: a for a in allocs}
    replaced = [a for a in lost if a["Job"]["Type"] in ("service", "batch")]  # full allocations here
    assert replaced
    for a in replaced:
        assert a["DesiredStatus"] == "stop"
        nxt = by_id[a["NextAllocation"]]
        assert nxt["NodeID"] != node["ID"] and nxt["JobID"] == a["JobID"]
        assert nxt["RescheduleTracker"]["Events"][-1]["PrevNodeID"] == node["ID"]


def test_demo_incident_oom_killed_crash_loop(demo: SimCluster, api: httpx.Client,
                                               allocs: list[dict[str, Any]]) -> None:
    oom = []
    for a in allocs:
        for ts in (a["TaskStates"] or {}).values():
            for e in ts["Events"] or ():
                if e["Type"] == "Terminated" and e["Details"].get("oom_killed") == "true":
                    oom.append((a, e))
    assert len(oom) >= 3
    for _alloc, e in oom:
        # docker reports an OOM kill as the container's exit code, signal 0 and "OOM Killed"
        assert e["ExitCode"] == 137 and e["Details"]["exit_code"] == "137" and e["Signal"] == 0
        assert e["Message"] == "OOM Killed" and e["DisplayMessage"] == 'Exit Code: 137, Exit Message: "OOM Killed"'
        assert e["Time"] >= demo.now_ns() - HOUR_NS
    failed = {a["ID"] for a, _ in oom if a["ClientStatus"] == "failed"}
    assert failed
    for alloc_id in failed:
        full = api.get(f"/v1/allocation/{alloc_id}").json()
        assert full["DeploymentStatus"]["Healthy"] is False
        events = [e["Type"] for e in next(iter(
            ts for ts in full["TaskStates"].values() if ts["Failed"]))["Events"]]
        assert events[-1] == "Not Restarting" and "Restarting" in events


def test_demo_summaries_match_allocations(api: httpx.Client, jobs: list[dict[str, Any]],
                                          allocs: list[dict[str, Any]]) -> None:
    col = {"pending": "Starting", "running": "Running", "complete": "Complete", "failed": "Failed",
           "lost": "Lost", "unknown": "Unknown"}
    for job in jobs:
        mine = [a for a in allocs if a["JobID"] == job["ID"] and a["Namespace"] == job["Namespace"]]
        for name, counts in job["JobSummary"]["Summary"].items():
            have = Counter(col[a["ClientStatus"]] for a in mine if a["TaskGroup"] == name)
            assert {k: v for k, v in counts.items() if k != "Queued" and v} == dict(have), job["ID"]


# -- large ----------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def large() -> SimCluster:
    return build_scenario("large", seed=3, nodes=200, allocs=2000)


def test_large_has_exactly_the_requested_counts(large: SimCluster) -> None:
    with _client(large) as client:
        assert len(client.get("/v1/nodes").json()) == 200
        jobs = client.get("/v1/jobs", params={"namespace": "*"}).json()
        assert len(jobs) == 20
        allocs = client.get("/v1/allocations", params={"namespace": "*"}).json()
    assert len(allocs) == 2000
    assert all(a["ClientStatus"] == "running" and a["DesiredStatus"] == "run" for a in allocs)
    assert {j["Type"] for j in jobs} == {"service", "batch"}
    assert all(j["Status"] == "running" for j in jobs)
    small = build_scenario("large", nodes=7, allocs=50, jobs=3)
    assert (len(small.state.nodes), len(small.state.jobs), len(small.state.allocs)) == (7, 3, 50)


def test_large_placements_within_capacity(large: SimCluster) -> None:
    with _client(large) as client:
        nodes = {n["ID"]: n for n in client.get("/v1/nodes", params={"resources": "true"}).json()}
        allocs = client.get("/v1/allocations", params={"namespace": "*", "resources": "true"}).json()
    used: dict[str, list[int]] = {}
    for a in allocs:
        ar = a["AllocatedResources"]
        u = used.setdefault(a["NodeID"], [0, 0, 0])
        u[0] += sum(t["Cpu"]["CpuShares"] for t in ar["Tasks"].values())
        u[1] += sum(t["Memory"]["MemoryMB"] for t in ar["Tasks"].values())
        u[2] += ar["Shared"]["DiskMB"]
        assert a["NodeName"] == nodes[a["NodeID"]]["Name"]
    for node_id, (cpu, mem, disk) in used.items():
        n = nodes[node_id]
        nr, rr = n["NodeResources"], n["ReservedResources"]
        assert cpu <= nr["Cpu"]["CpuShares"] - rr["Cpu"]["CpuShares"]
        assert mem <= nr["Memory"]["MemoryMB"] - rr["Memory"]["MemoryMB"]
        assert disk <= nr["Disk"]["DiskMB"] - rr["Disk"]["DiskMB"]
    assert len(used) == 200  # round-robin reaches every node


def test_large_summaries_and_deployments_match(large: SimCluster) -> None:
    with _client(large) as client:
        jobs = client.get("/v1/jobs", params={"namespace": "*"}).json()
        deps = client.get("/v1/deployments", params={"namespace": "*"}).json()
        for job in jobs[:5]:
            allocs = client.get(_job_path(job["ID"]) + "/allocations",
                                params={"namespace": job["Namespace"]}).json()
            summary = client.get(_job_path(job["ID"]) + "/summary",
                                 params={"namespace": job["Namespace"]}).json()
            assert summary["Summary"]["app"]["Running"] == len(allocs) == job["JobSummary"]["Summary"]["app"]["Running"]
    services = [j for j in jobs if j["Type"] == "service"]
    assert len(deps) == len(services)
    assert all(d["Status"] == "successful" for d in deps)


def test_large_allocations_page(large: SimCluster) -> None:
    seen: list[str] = []
    token = ""
    with _client(large) as client:
        while True:
            params = {"namespace": "*", "per_page": "300"}
            if token:
                params["next_token"] = token
            resp = client.get("/v1/allocations", params=params)
            assert resp.status_code == 200
            seen += [a["ID"] for a in resp.json()]
            token = resp.headers.get("X-Nomad-NextToken", "")
            if not token:
                break
    assert len(seen) == len(set(seen)) == 2000


def test_large_behaves_like_any_cluster(large: SimCluster) -> None:
    cluster = build_scenario("large", nodes=10, allocs=40, jobs=4)
    alloc = next(iter(cluster.state.allocs.values()))
    cluster.stop_alloc(alloc["ID"])
    cluster.advance(5)
    assert cluster.state.allocs[alloc["ID"]]["ClientStatus"] == "complete"
    replacement = cluster.state.allocs[cluster.state.allocs[alloc["ID"]]["NextAllocation"]]
    assert replacement["ClientStatus"] == "running"


def test_large_refuses_what_does_not_fit() -> None:
    with pytest.raises(ValueError, match="do not fit"):
        build_scenario("large", nodes=1, allocs=10_000)


def test_cli_rejects_large_flags_for_other_scenarios(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli_main(["sim", "--scenario", "demo", "--nodes", "5"]) == 2
    assert "--nodes" in capsys.readouterr().err
    assert cli_main(["sim", "--scenario", "demo", "--node-name", "laptop"]) == 2
    assert "--node-name: only for --scenario dev" in capsys.readouterr().err


# -- the scripting stays out of the wire --------------------------------------------------------
def _changed_fields(diff: dict[str, Any], prefix: str = "") -> set[str]:
    """Every changed field of a Nomad job diff, as ``Object.Field`` paths below the task."""
    out: set[str] = set()
    for field in diff.get("Fields") or ():
        if field["Type"] != "None":
            out.add(prefix + field["Name"])
    for obj in diff.get("Objects") or ():
        out |= _changed_fields(obj, prefix + obj["Name"] + ".")
    return out


def test_demo_bad_version_is_a_change_a_team_makes(api: httpx.Client) -> None:
    body = api.get(_job_path("api") + "/versions", params={"diffs": "true"}).json()
    versions = {v["Version"]: v for v in body["Versions"]}
    bad = versions[2]["TaskGroups"][0]["Tasks"][0]
    assert bad["Config"]["image"] == "example/api:2.4.0"
    assert bad["Resources"]["MemoryMB"] == 512
    assert versions[1]["TaskGroups"][0]["Tasks"][0]["Resources"]["MemoryMB"] == 1024
    # Versions come newest first, each diff against the version before it.
    diff_of_2 = body["Diffs"][[v["Version"] for v in body["Versions"]].index(2)]
    (group,) = diff_of_2["TaskGroups"]
    assert [t["Name"] for t in group["Tasks"] if t["Type"] != "None"] == ["api"]
    (task,) = [t for t in group["Tasks"] if t["Type"] != "None"]
    assert _changed_fields(task) == {"Config.image", "Config.env[RESPONSE_CACHE]", "Resources.MemoryMB"}
    assert not group.get("Fields") and not diff_of_2.get("Fields")


def test_demo_oom_follows_from_the_lowered_limit(demo: SimCluster, api: httpx.Client) -> None:
    """The same image under the old 1024 MB ask would not be killed: the ask is the cause."""
    body = api.get(_job_path("api") + "/versions").json()
    versions = {v["Version"]: v for v in body["Versions"]}
    job = versions[2]
    tg = job["TaskGroups"][0]
    spec = tg["Tasks"][0]
    assert demo.behaviours.of(job, tg, spec).fail == "oom"
    roomy = dict(spec, Resources=dict(spec["Resources"], MemoryMB=1024))
    assert demo.behaviours.of(job, tg, roomy).fail == ""
    previous = versions[1]["TaskGroups"][0]
    assert demo.behaviours.of(versions[1], previous, previous["Tasks"][0]).fail == ""


def _crawl(api: httpx.Client) -> Iterator[tuple[str, str]]:
    """(path, body text) of every GET endpoint the simulator serves, for every demo object."""

    def get(path: str, **params: str) -> str:
        resp = api.get(path, params=params)
        assert resp.status_code == 200, (path, resp.status_code, resp.text[:200])
        return resp.text

    for path in ("/v1/jobs", "/v1/allocations", "/v1/evaluations", "/v1/deployments", "/v1/nodes",
                 "/v1/namespaces", "/v1/node/pools", "/v1/regions", "/v1/status/leader", "/v1/agent/self",
                 "/v1/agent/members"):
        yield path, get(path, namespace="*")
    yield "/v1/jobs?meta", get("/v1/jobs", namespace="*", meta="true")
    yield "/v1/allocations?resources", get("/v1/allocations", namespace="*", resources="true", task_states="true")
    for job in api.get("/v1/jobs", params={"namespace": "*"}).json():
        base = _job_path(job["ID"])
        ns = job["Namespace"]
        for suffix in ("", "/versions", "/allocations", "/evaluations", "/deployments", "/deployment",
                       "/summary", "/scale", "/submission"):
            resp = api.get(base + suffix, params={"namespace": ns})
            if resp.status_code == 200:
                yield base + suffix, resp.text
            else:
                assert resp.status_code in (400, 404), (base + suffix, resp.status_code)
        yield base + "/versions?diffs", get(base + "/versions", namespace=ns, diffs="true")
    for alloc in api.get("/v1/allocations", params={"namespace": "*"}).json():
        yield "/v1/allocation", get(f"/v1/allocation/{alloc['ID']}", namespace="*")
        if alloc["ClientStatus"] == "running":
            yield "/v1/client/allocation/stats", get(f"/v1/client/allocation/{alloc['ID']}/stats")
    for ev in api.get("/v1/evaluations", params={"namespace": "*"}).json():
        yield "/v1/evaluation", get(f"/v1/evaluation/{ev['ID']}", namespace="*")
        yield "/v1/evaluation/allocations", get(f"/v1/evaluation/{ev['ID']}/allocations", namespace="*")
    for dep in api.get("/v1/deployments", params={"namespace": "*"}).json():
        yield "/v1/deployment", get(f"/v1/deployment/{dep['ID']}", namespace="*")
        yield "/v1/deployment/allocations", get(f"/v1/deployment/allocations/{dep['ID']}", namespace="*")
    for node in api.get("/v1/nodes").json():
        yield "/v1/node", get(f"/v1/node/{node['ID']}")
        yield "/v1/node/allocations", get(f"/v1/node/{node['ID']}/allocations")
        if node["Status"] == "ready":
            yield "/v1/client/stats", get("/v1/client/stats", node_id=node["ID"])


def test_no_served_json_shows_the_simulators_scripting(api: httpx.Client) -> None:
    seen = Counter()
    for path, text in _crawl(api):
        seen[path] += 1
        assert "nomadlab.sim" not in text, path
        assert "nomadlab" not in text, path  # no other trace of the simulator either
    assert seen["/v1/allocation"] > 200 and seen["/v1/client/stats"] > 30 and seen["/v1/job/api/versions?diffs"] == 1


def test_task_logs_show_no_scripting(api: httpx.Client, allocs: list[dict[str, Any]]) -> None:
    api_allocs = [a for a in allocs if a["JobID"] in ("api", "notifications", "ledger-import")]
    assert api_allocs
    for a in api_allocs:
        for task in a["TaskStates"] or {}:
            for kind in ("stdout", "stderr"):
                resp = api.get(f"/v1/client/fs/logs/{a['ID']}",
                               params={"task": task, "type": kind, "plain": "true"})
                if resp.status_code == 200:
                    assert "nomadlab" not in resp.text
