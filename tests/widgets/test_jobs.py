"""JobControl and JobTable driven from Python against the simulator."""

from __future__ import annotations

from pathlib import Path

import httpx

from nomadlab import audit_log
from nomadlab.client import NomadClient
from nomadlab.config import NomadConfig
from nomadlab.sim import SimCluster
from nomadlab.sim.scenarios import group, job_spec, task
from nomadlab.widgets import JobControl, JobTable

from .conftest import CountingTransport


def _count(cluster: SimCluster, job: str, group: str) -> int:
    with cluster.state.lock:
        spec = cluster.state.jobs[("default", job)]
    return int(next(g for g in spec["TaskGroups"] if g["Name"] == group)["Count"])


def test_constructor_sends_nothing(client: NomadClient, counting: CountingTransport) -> None:
    JobControl(client, "web")
    JobTable(client)
    assert counting.count() == 0


def test_plan_confirm_scales_and_audits(cluster: SimCluster, client: NomadClient,
                                        audit_path: Path) -> None:
    control = JobControl(client, "web", advance=cluster.advance)
    control.refresh()
    before = _count(cluster, "web", "frontend")
    assert control.counts["frontend"].value == before
    control.counts["frontend"].value = before + 2
    control.plan_button.click()
    assert len(control.plans) == 1
    assert not control.confirm_button.disabled
    assert "count" in control.preview.value  # the plan's own HTML
    assert _count(cluster, "web", "frontend") == before  # planning wrote nothing
    control.confirm_button.click()
    assert _count(cluster, "web", "frontend") == before + 2
    assert [o.status for o in control.outcomes] == ["healthy"]
    # progress was read while following: the job's deployment, seen through the advance hook
    assert control.deployment is not None
    assert control.deployment["ID"] == control.outcomes[0].deployment_id
    assert "healthy" in control.status.value
    log = audit_log(audit_path)
    assert log["action"].tolist() == ["scale"]
    assert log["target"].tolist() == ["web/frontend"]
    assert log["outcome"].tolist() == ["healthy"]


def test_cancel_drops_the_plan(cluster: SimCluster, client: NomadClient,
                               counting: CountingTransport, audit_path: Path) -> None:
    control = JobControl(client, "web", advance=cluster.advance)
    control.refresh()
    control.counts["frontend"].value = 1
    control.plan_button.click()
    control.cancel_button.click()
    assert control.plans == [] and control.confirm_button.disabled
    assert _count(cluster, "web", "frontend") != 1
    assert [w for w in counting.writes() if "/scale" in w[1]] == []
    assert not audit_path.exists()


def test_unchanged_counts_plan_nothing(client: NomadClient) -> None:
    control = JobControl(client, "web")
    control.refresh()
    assert control.plan() == []
    assert "nothing to plan" in control.status.value
    assert control.confirm_button.disabled


def test_stop_needs_the_checkbox(cluster: SimCluster, client: NomadClient,
                                 counting: CountingTransport) -> None:
    control = JobControl(client, "web", advance=cluster.advance)
    control.refresh()
    control.stop_button.click()
    control.purge_button.click()
    assert counting.writes() == []
    with cluster.state.lock:
        assert cluster.state.jobs[("default", "web")].get("Stop") is not True
    assert "I understand" in control.status.value


def test_stop_with_the_checkbox_stops(cluster: SimCluster, client: NomadClient) -> None:
    control = JobControl(client, "web", advance=cluster.advance)
    control.refresh()
    control.understand.value = True
    control.stop_button.click()
    with cluster.state.lock:
        assert cluster.state.jobs[("default", "web")]["Stop"] is True
    assert control.outcomes[-1].action == "stop"
    assert control.understand.value is False  # each stop needs its own confirmation


def _acl_client(rules: str) -> tuple[SimCluster, NomadClient]:
    c = SimCluster(acl=True, seed=5)
    c.add_node(name="n1", datacenter="dc1", cpu_mhz=4000, cores=4, memory_mb=8192, disk_mb=10000,
               address="10.0.0.1")
    c.register_job(job_spec("a", [group("g", [task("t")])], datacenters=["dc1"]))
    c.run_until_idle(120)
    http = httpx.Client(transport=c.transport(), base_url="http://nomad")
    mgmt = http.post("/v1/acl/bootstrap").json()["SecretID"]
    headers = {"X-Nomad-Token": mgmt}
    assert http.put("/v1/acl/policy/p", headers=headers,
                    json={"Name": "p", "Rules": rules}).status_code == 200
    secret = http.post("/v1/acl/token", headers=headers,
                       json={"Name": "ops", "Type": "client", "Policies": ["p"]}).json()["SecretID"]
    return c, NomadClient(NomadConfig(token=secret), transport=c.transport())


def test_buttons_disabled_without_the_capability() -> None:
    _, client = _acl_client('namespace "default" { policy = "read" }')
    control = JobControl(client, "a")
    control.refresh()
    assert control.plan_button.disabled and control.stop_button.disabled
    assert control.purge_button.disabled
    assert "`scale-job`" in control.plan_button.tooltip
    assert "`submit-job`" in control.stop_button.tooltip
    assert "does not have it" in control.status.value


def test_scale_policy_may_plan_but_not_stop() -> None:
    _, client = _acl_client('namespace "default" { policy = "scale" }')
    control = JobControl(client, "a")
    control.refresh()
    assert not control.plan_button.disabled
    assert control.stop_button.disabled


def test_table_sorts_selects_and_feeds_control(cluster: SimCluster, client: NomadClient) -> None:
    table = JobTable(client, advance=cluster.advance)
    table.refresh()
    assert set(table.frame["job_id"]) >= {"web", "cache"}
    table.sort("job_id", ascending=False)
    assert table.frame["job_id"].tolist() == sorted(table.frame["job_id"], reverse=True)
    picked: list[tuple[str, str]] = []
    table.on_select(lambda job, ns: picked.append((job, ns)))
    row = table.frame["job_id"].tolist().index("web")
    table.select(row)
    assert picked == [("web", "default")]
    assert table.control is not None and table.control.job == "web"
    assert table.control_box.children == (table.control.widget,)
    assert "frontend" in table.control.counts


def test_allocation_table(client: NomadClient) -> None:
    table = JobTable(client, kind="allocations")
    table.refresh()
    assert {"alloc_id", "client_status", "job_id"} <= set(table.frame.columns)
    assert len(table.grid.data) == len(table.frame) > 0
