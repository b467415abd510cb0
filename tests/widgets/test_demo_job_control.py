"""Issue's walk-through on the demo cluster: choose job ``api``, set a new count, see Nomad's
plan, confirm, follow the deployment to healthy; stopping without confirming does nothing; the
applied action is in the audit log."""

from __future__ import annotations

from pathlib import Path

import pytest

from nomadlab import audit_log
from nomadlab.client import NomadClient
from nomadlab.config import NomadConfig
from nomadlab.sim import SimCluster
from nomadlab.sim.scenarios import build_scenario
from nomadlab.widgets import JobControl

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def demo() -> SimCluster:
    return build_scenario("demo", seed=0)


def _api(cluster: SimCluster) -> dict[str, object]:
    with cluster.state.lock:
        return dict(cluster.state.jobs[("default", "api")])


def test_scaling_api_on_the_demo_is_planned_confirmed_followed_and_audited(demo: SimCluster, audit_path: Path) -> None:
    client = NomadClient(NomadConfig(), transport=demo.transport(), sleep=lambda s: None)
    control = JobControl(client, "api", advance=demo.advance)
    control.refresh()
    (group,) = control.counts
    before = control.counts[group].value
    version = _api(demo)["Version"]

    # stop without the "I understand" box: nothing is sent, the job runs on
    control.stop_button.click()
    assert _api(demo).get("Stop") is not True and "I understand" in control.status.value

    control.counts[group].value = before + 1
    control.plan_button.click()
    assert len(control.plans) == 1 and "count" in control.preview.value   # Nomad's plan, shown
    assert _api(demo)["Version"] == version                               # planning wrote nothing
    control.confirm_button.click()
    (outcome,) = control.outcomes
    assert outcome.status == "healthy", outcome
    assert control.deployment is not None and control.deployment["Status"] == "successful"
    tg = next(g for g in _api(demo)["TaskGroups"] if g["Name"] == group)  # type: ignore[attr-defined]
    assert tg["Count"] == before + 1
    with demo.state.lock:
        running = [a for a in demo.state.job_allocs("default", "api")
                   if a["TaskGroup"] == group and a["DesiredStatus"] == "run" and a["ClientStatus"] == "running"]
    assert len(running) == before + 1
    log = audit_log(audit_path)
    assert log["action"].tolist() == ["scale"] and log["target"].tolist() == [f"api/{group}"]
    assert log["outcome"].tolist() == ["healthy"]
