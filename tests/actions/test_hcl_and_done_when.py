"""Issue-level outcomes on the simulator: HCL jobs submitted (text and file) and followed to health
or failure, and every write action planned, confirmed, applied and audited, or declined with
nothing changed.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from nomadlab import actions
from nomadlab.actions import Plan
from nomadlab.audit import audit_log
from nomadlab.client import NomadClient
from nomadlab.sim import SimCluster
from nomadlab.sim.scenarios import group, job_spec, task

from .conftest import running

CACHE_HCL = '''
variable "replicas" {
  type    = number
  default = 2
}

job "kv" {
  datacenters = ["dc1"]

  update {
    max_parallel     = 2
    min_healthy_time = "10s"
    healthy_deadline = "2m"
  }

  group "redis" {
    count = var.replicas

    network {
      port "db" { to = 6379 }
    }

    task "redis" {
      driver = "docker"
      config {
        image = "redis:7"
        ports = ["db"]
      }
      resources {
        cpu    = 200
        memory = 128
      }
    }
  }
}
'''

CRASH_HCL = '''
job "crashy" {
  datacenters = ["dc1"]
  type        = "batch"

  group "work" {
    count = 2
    restart {
      attempts = 1
      interval = "10m"
      delay    = "5s"
      mode     = "fail"
    }
    reschedule {
      attempts  = 0
      unlimited = false
    }
    task "main" {
      driver = "docker"
      config { image = "example/crash:1" }
    }
  }
}
'''


def _live(cluster: SimCluster, job: str) -> list[dict[str, object]]:
    with cluster.state.lock:
        return [a for a in cluster.state.job_allocs("default", job) if a["DesiredStatus"] == "run"]


@pytest.mark.parametrize("form", ["text", "path-string", "path"])
def test_an_hcl_job_is_healthy_only_once_its_allocations_are(cluster: SimCluster, client: NomadClient,
                                                              tmp_path: Path, form: str) -> None:
    spec: str | Path = CACHE_HCL
    if form != "text":
        file = tmp_path / "kv.nomad.hcl"
        file.write_text(CACHE_HCL)
        spec = file if form == "path" else str(file)
    plan = actions.submit(client, spec)
    assert plan.target == "kv" and plan.changes == {"redis": {"Place": 2}}
    assert plan.before == {"version": None}
    # followed for too short a time, the job is not called healthy though its evaluation is complete
    early = plan.apply(confirm=True, advance=cluster.advance, step=1.0, timeout=5.0)
    assert early.status == "timeout" and "deployment" in early.detail
    with cluster.state.lock:
        assert not any((a.get("DeploymentStatus") or {}).get("Healthy") for a in _live(cluster, "kv"))
    # the same job under another name, followed long enough, is healthy with its allocations
    other = CACHE_HCL.replace('job "kv"', 'job "kv2"')
    if form != "text":
        Path(spec).write_text(other)
    outcome = actions.submit(client, spec if form != "text" else other).apply(
        confirm=True, advance=cluster.advance, step=2.0, timeout=300)
    assert outcome.status == "healthy", outcome
    assert outcome.deployment_id and cluster.state.deployments[outcome.deployment_id]["Status"] == "successful"
    live = _live(cluster, "kv2")
    assert len(live) == 2
    assert all(a["ClientStatus"] == "running" and a["DeploymentStatus"]["Healthy"] is True for a in live)
    assert sorted(str(a["ID"]) for a in live) == sorted(outcome.allocations)
    job = cluster.state.jobs[("default", "kv2")]
    assert job["TaskGroups"][0]["Tasks"][0]["Config"]["image"] == "redis:7"
    assert job["TaskGroups"][0]["Networks"][0]["DynamicPorts"][0]["To"] == 6379
    assert list(audit_log()["outcome"]) == ["timeout", "healthy"]


def test_an_hcl_job_whose_tasks_crash_is_failed_with_the_events_that_say_why(
        cluster: SimCluster, client: NomadClient) -> None:
    cluster.behaviours.script(image="example/crash:1", fail="crash", exit_code=3, fail_after_s=4)
    plan = actions.submit(client, CRASH_HCL)
    assert plan.changes == {"work": {"Place": 2}}
    outcome = plan.apply(confirm=True, advance=cluster.advance, step=2.0, timeout=600)
    assert outcome.status == "failed"
    events = outcome.task_events
    assert events is not None and set(events["alloc_id"]) <= set(outcome.allocations)
    assert {"Terminated", "Restarting", "Not Restarting"} <= set(events["type"])
    assert "Exit Code: 3" in set(events["display_message"])
    assert "Not Restarting" in outcome.detail and "Exceeded allowed attempts 1" in outcome.detail
    assert audit_log().iloc[-1]["outcome"] == "failed"


def test_a_bad_hcl_job_is_refused_with_nomads_diagnostic(cluster: SimCluster, client: NomadClient) -> None:
    from nomadlab.errors import BadRequestError

    index = cluster.state.index
    with pytest.raises(BadRequestError, match=r'Failed to parse job: input.hcl:.*"colour" is not expected here'):
        actions.submit(client, 'job "x" {\n  colour = "red"\n}\n')
    assert cluster.state.index == index


# -- plan → confirm → apply → audit, and a declined confirmation -------------------------------
def _versioned(cluster: SimCluster, client: NomadClient) -> Plan:
    actions.scale(client, "web", "frontend", 4).apply(confirm=True, advance=cluster.advance, step=2.0)
    return actions.revert(client, "web", 0)


def _parameterized(cluster: SimCluster, client: NomadClient) -> Plan:
    cluster.register_job(job_spec("report", [group("g", [task("t")])], job_type="batch", datacenters=["dc1"],
                                  parameterized={"Payload": "optional", "MetaOptional": ["day"]}))
    return actions.dispatch(client, "report", payload=b"\x00\x01", meta={"day": "mon"})


def _stopped(cluster: SimCluster, client: NomadClient) -> Plan:
    actions.stop(client, "web").apply(confirm=True, advance=cluster.advance, step=2.0)
    cluster.advance(10)
    return actions.gc(client)


def _restart(cluster: SimCluster, client: NomadClient) -> Plan:
    return actions.restart_alloc(client, str(running(cluster, "web")[0]["ID"]))


def _check_revert(cluster: SimCluster) -> None:
    assert cluster.state.jobs[("default", "web")]["Version"] == 2
    assert cluster.state.jobs[("default", "web")]["TaskGroups"][0]["Count"] == 3


def _check_dispatch(cluster: SimCluster) -> None:
    children = [j for j in cluster.state.jobs.values() if j.get("ParentID") == "report"]
    assert len(children) == 1 and children[0]["Meta"] == {"day": "mon"}


def _check_gc(cluster: SimCluster) -> None:
    assert ("default", "web") not in cluster.state.jobs


def _check_restart(cluster: SimCluster) -> None:
    restarted = [a for a in running(cluster, "web") if a["TaskStates"]["nginx"]["Restarts"] == 1]
    assert len(restarted) == 1


ACTIONS: dict[str, tuple[Callable[[SimCluster, NomadClient], Plan], Callable[[SimCluster], None]]] = {
    "revert": (_versioned, _check_revert),
    "dispatch": (_parameterized, _check_dispatch),
    "gc": (_stopped, _check_gc),
    "restart_alloc": (_restart, _check_restart),
}


@pytest.mark.parametrize("name", list(ACTIONS))
def test_each_action_applies_once_confirmed_and_is_audited(cluster: SimCluster, client: NomadClient,
                                                           name: str) -> None:
    make, verify = ACTIONS[name]
    plan = make(cluster, client)
    before = len(audit_log())
    outcome = plan.apply(confirm=True, advance=cluster.advance, step=2.0, timeout=300)
    assert outcome.status in ("healthy", "done", "placed"), outcome
    verify(cluster)
    records = audit_log()
    assert len(records) == before + 1
    record = records.iloc[-1]
    assert (record["action"], record["target"], record["outcome"]) == (name, plan.target, outcome.status)
    assert record["accessor_id"] == "acls-disabled" and record["address"]


@pytest.mark.parametrize("name", list(ACTIONS))
def test_each_action_declined_changes_nothing(cluster: SimCluster, client: NomadClient, name: str) -> None:
    make, _ = ACTIONS[name]
    plan = make(cluster, client)
    records = len(audit_log())
    index = cluster.state.index
    with cluster.state.lock:
        jobs = {k: (j["Version"], j["JobModifyIndex"]) for k, j in cluster.state.jobs.items()}
        allocs = {k: a["ModifyIndex"] for k, a in cluster.state.allocs.items()}
    for declined in ({}, {"confirm": False}):
        with pytest.raises(actions.ConfirmationRequiredError):
            plan.apply(**declined)  # type: ignore[arg-type]
    assert cluster.state.index == index
    with cluster.state.lock:
        assert {k: (j["Version"], j["JobModifyIndex"]) for k, j in cluster.state.jobs.items()} == jobs
        assert {k: a["ModifyIndex"] for k, a in cluster.state.allocs.items()} == allocs
    assert len(audit_log()) == records
