"""The deployments frame: from official samples, generated wire dicts and the demo cluster."""

from __future__ import annotations

from typing import Any

import pandas as pd
from hypothesis import given, settings

from nomadlab.frames.deployments import DEPLOYMENT_STATUSES, DEPLOYMENTS, deployments
from nomadlab.frames.jobs import jobs
from nomadlab.sources import CachedSource

from .conftest import StaticSource, mutated_sample, sample


def test_status_categories_are_nomads_full_set() -> None:
    df = deployments(StaticSource())
    assert df.empty
    DEPLOYMENTS.validate(df)
    assert list(df["status"].cat.categories) == list(DEPLOYMENT_STATUSES)
    assert "cancelled" in DEPLOYMENT_STATUSES


def test_deployments_from_the_list_sample() -> None:
    df = deployments(StaticSource(lists={"deployments": sample("GET_v1_deployments.json")}))
    DEPLOYMENTS.validate(df)
    row = df.iloc[0]
    assert (row["deployment_id"], row["job_id"], row["task_group"], row["status"]) == (
        "70638f62-5c19-193e-30d6-f9d6e689ab8e", "example", "cache", "running")
    assert (row["desired_total"], row["desired_canaries"], row["placed_allocs"]) == (3, 1, 1)
    assert row["namespace"] == "default"  # the doc sample predates Namespace on deployments
    assert pd.isna(row["placed_canaries"])  # no PlacedCanaries key at all: unknown, not 0
    assert pd.isna(row["create_time"]) and pd.isna(row["progress_deadline"]) and pd.isna(row["status_description"])


def test_deployments_from_the_job_sample_count_canaries() -> None:
    df = deployments(StaticSource(lists={"deployments": sample("GET_v1_job_id_deployments.json")}))
    DEPLOYMENTS.validate(df)
    assert df["placed_canaries"].tolist() == [2, 0]  # a list of IDs, then null
    assert df["status"].tolist() == ["running", "successful"]
    assert df["auto_revert"].tolist() == [True, True]
    assert df["status_description"].tolist() == ["Deployment is running", "Deployment completed successfully"]


def test_a_deployment_without_groups_gives_one_row_and_groups_explode() -> None:
    wire = [
        {"ID": "d1", "Namespace": "default", "JobID": "web", "Status": "cancelled", "TaskGroups": None},
        {"ID": "d2", "Namespace": "default", "JobID": "web", "Status": "running",
         "TaskGroups": {"a": {"DesiredTotal": 1, "ProgressDeadline": 600_000_000_000,
                              "RequireProgressBy": "2026-01-01T00:10:00Z"},
                        "b": {"DesiredTotal": 2, "RequireProgressBy": "0001-01-01T00:00:00Z"}}},
    ]
    df = deployments(StaticSource(lists={"deployments": wire}))
    DEPLOYMENTS.validate(df)
    assert df["deployment_id"].tolist() == ["d1", "d2", "d2"]
    assert pd.isna(df.loc[0, "task_group"]) and df["task_group"].tolist()[1:] == ["a", "b"]
    assert df.loc[0, "status"] == "cancelled"
    assert df.loc[1, "progress_deadline"] == pd.Timedelta(minutes=10)
    assert df.loc[1, "require_progress_by"] == pd.Timestamp("2026-01-01T00:10:00Z")
    assert pd.isna(df.loc[2, "require_progress_by"])  # Nomad's zero time


def test_filters_by_job_status_and_namespace() -> None:
    wire = [
        {"ID": "d1", "Namespace": "default", "JobID": "web", "Status": "successful", "TaskGroups": {}},
        {"ID": "d2", "Namespace": "default", "JobID": "api", "Status": "failed", "TaskGroups": {}},
        {"ID": "d3", "Namespace": "ops", "JobID": "web", "Status": "running", "TaskGroups": {}},
    ]
    src = StaticSource(lists={"deployments": wire})
    assert deployments(src, job="web")["deployment_id"].tolist() == ["d1", "d3"]
    assert deployments(src, status=["failed", "running"])["deployment_id"].tolist() == ["d2", "d3"]
    assert deployments(src, namespace="ops")["deployment_id"].tolist() == ["d3"]


@settings(max_examples=80, deadline=None)
@given(data=mutated_sample("GET_v1_job_id_deployments.json", 0))
def test_survives_missing_null_and_unknown_fields(data: dict[str, Any]) -> None:
    df = deployments(StaticSource(lists={"deployments": [data]}))
    DEPLOYMENTS.validate(df)
    assert len(df) >= 1


# -- the simulator's demo cluster -----------------------------------------------------------

def test_demo_deployments(demo: CachedSource) -> None:
    df = deployments(demo)
    DEPLOYMENTS.validate(df)
    assert len(df) > 10
    assert not df.duplicated(list(DEPLOYMENTS.keys)).any()
    assert df["task_group"].notna().all() and df["create_time"].notna().all()
    failed = df[df["status"] == "failed"]
    assert len(failed) == 1
    row = failed.iloc[0]
    assert row["job_id"] == "api" and "rolling back" in row["status_description"]
    assert row["unhealthy_allocs"] >= 1 and bool(row["auto_revert"])
    done = df[df["status"] == "successful"]
    assert (done["healthy_allocs"] == done["desired_total"]).all()


def test_demo_deployments_join_jobs(demo: CachedSource) -> None:
    dep, all_jobs = deployments(demo), jobs(demo)
    joined = dep.merge(all_jobs, on=["namespace", "job_id"], how="left", validate="many_to_one", indicator=True)
    assert (joined["_merge"] == "both").all()
    assert set(joined["type"]) == {"service"}  # deployments are for service jobs only
    assert deployments(demo, job="api", status="failed")["job_version"].tolist() == [2]
