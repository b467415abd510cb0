"""The jobs, task_groups and job_versions frames: from official samples, generated wire dicts
and the simulator's demo cluster."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings

from nomadlab.client import NomadClient
from nomadlab.frames import REGISTRY
from nomadlab.frames.jobs import JOB_TYPES, JOB_VERSIONS, JOBS, TASK_GROUPS, job_versions, jobs, task_groups
from nomadlab.sim import SimCluster
from nomadlab.sources import CachedSource

from .conftest import StaticSource, mutated_sample, sample

_FUZZ = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


def _unique(df: pd.DataFrame, keys: tuple[str, ...]) -> bool:
    return not df.duplicated(list(keys)).any()


# -- schemas --------------------------------------------------------------------------------

def test_schemas_are_registered_with_units_in_names() -> None:
    for schema in (JOBS, TASK_GROUPS, JOB_VERSIONS):
        assert REGISTRY[schema.name] is schema
    assert {"cpu_mhz", "memory_mb", "memory_max_mb", "disk_mb"} <= set(TASK_GROUPS.names)
    assert list(JOBS.column("type").categories or ()) == list(JOB_TYPES)


@pytest.mark.parametrize("fetcher,schema", [(jobs, JOBS), (task_groups, TASK_GROUPS),
                                            (job_versions, JOB_VERSIONS)],
                         ids=["jobs", "task_groups", "job_versions"])
def test_empty_source_keeps_the_schema(fetcher: Callable[..., pd.DataFrame], schema: Any) -> None:
    df = fetcher(StaticSource())
    assert df.empty
    schema.validate(df)
    if fetcher is not jobs:
        assert df.attrs["errors"] == {}


# -- official samples -----------------------------------------------------------------------

def test_jobs_from_the_minimal_list_sample() -> None:
    df = jobs(StaticSource(lists={"jobs": sample("GET_v1_jobs.json")}))
    JOBS.validate(df)
    row = df.iloc[0]
    # The doc stub has no Namespace: the job summary's is used.
    assert (row["namespace"], row["job_id"], row["type"], row["status"]) == ("default", "example", "service", "pending")
    assert (row["queued"], row["complete"], row["running"]) == (1, 1, 0)
    assert pd.isna(row["unknown"])  # summaries before Nomad 1.3 have no Unknown
    assert pd.isna(row["parent_id"]) and pd.isna(row["status_description"]) and pd.isna(row["submit_time"])
    assert row["datacenters"] is None
    assert (row["children_pending"], row["children_dead"], row["job_modify_index"]) == (0, 0, 52)


def test_jobs_from_the_fuller_list_sample_sums_groups_and_converts_times() -> None:
    df = jobs(StaticSource(lists={"jobs": sample("GET_v1_jobs_unfiltered_from_filtering_section.json")}))
    JOBS.validate(df)
    countdash = df.set_index("job_id").loc["countdash"]
    assert countdash["datacenters"] == ["dc1", "dc2"]
    assert countdash["queued"] == 2 and countdash["task_group_count"] == 2
    assert countdash["submit_time"] == pd.Timestamp(1645230445788556000, unit="ns", tz="UTC")
    assert not countdash["periodic"] and not countdash["parameterized"] and not countdash["stop"]


def test_task_groups_from_the_full_job_sample() -> None:
    job = sample("GET_v1_job_id.json")
    src = StaticSource(lists={"jobs": [{"ID": "example", "Namespace": "apps"}]},
                       details={"job": {("apps", "example"): job}})
    df = task_groups(src)
    TASK_GROUPS.validate(df)
    assert df.attrs["errors"] == {}
    assert df["task"].tolist() == ["init", "redis"]
    init, redis = df.iloc[0], df.iloc[1]
    assert (init["lifecycle_hook"], init["sidecar"]) == ("prestart", False)
    assert (init["cpu_mhz"], init["memory_mb"]) == (100, 300)
    assert pd.isna(redis["lifecycle_hook"]) and pd.isna(redis["cores"]) and pd.isna(redis["memory_max_mb"])
    assert (redis["cpu_mhz"], redis["memory_mb"], redis["disk_mb"], redis["driver"]) == (500, 256, 300, "docker")
    assert set(df["job_type"]) == {"batch"} and set(df["namespace"]) == {"apps"} and set(df["count"]) == {1}
    assert (redis["restart_attempts"], redis["restart_mode"]) == (10, "delay")
    assert redis["restart_interval"] == pd.Timedelta(minutes=5) and redis["restart_delay"] == pd.Timedelta(seconds=25)
    assert pd.isna(redis["update_max_parallel"])  # the group has no update block of its own
    assert ("details", "job", {"keys": [("apps", "example")]}) in src.calls


def test_job_versions_from_the_sample_pairs_diffs_with_versions() -> None:
    body = sample("GET_v1_job_id_versions.json")
    df = job_versions(StaticSource(lists={"jobs": [{"ID": "example", "Namespace": "default"}]},
                                   details={"job_versions": {("default", "example"): body}}))
    JOB_VERSIONS.validate(df)
    assert df["version"].tolist() == [1, 0]
    assert df["stable"].tolist() == [True, False]
    assert df["status"].tolist() == ["running", "pending"]
    assert df.loc[0, "changed_fields"] == ["TaskGroups[cache].Tasks[redis].Env[foo]"]
    assert df.loc[1, "changed_fields"] is None  # the oldest version kept has nothing to compare with
    assert df.loc[0, "group_counts"] == {"cache": 1} and df.loc[0, "total_count"] == 1
    assert df.loc[0, "submit_time"] == pd.Timestamp(1608316675000588800, unit="ns", tz="UTC")
    assert df["version_tag"].isna().all()


def test_job_versions_without_diffs_and_with_a_tag() -> None:
    body = sample("GET_v1_job_id_versions_diffs.json")
    assert body["Diffs"] is None
    body["Versions"][0]["VersionTag"] = {"Name": "golden", "Description": "known good",
                                         "TaggedTime": 1608304900000000000}
    df = job_versions(StaticSource(lists={"jobs": [{"ID": "example", "Namespace": "default"}]},
                                   details={"job_versions": {("default", "example"): body}}))
    JOB_VERSIONS.validate(df)
    assert df["changed_fields"].isna().all()
    assert df.loc[0, "version_tag"] == "golden" and df.loc[0, "version_tag_description"] == "known good"
    assert df.loc[0, "version_tagged_time"] == pd.Timestamp(1608304900000000000, unit="ns", tz="UTC")


# -- filters and failures -------------------------------------------------------------------

def _stubs() -> list[dict[str, Any]]:
    return [
        {"ID": "web", "Namespace": "default", "Type": "service", "Status": "running"},
        {"ID": "nightly", "Namespace": "default", "Type": "batch", "Status": "dead"},
        {"ID": "agent", "Namespace": "ops", "Type": "system", "Status": "running"},
    ]


def test_jobs_filters_by_status_and_type_and_passes_the_filter_expression() -> None:
    src = StaticSource(lists={"jobs": _stubs()})
    assert jobs(src, status="running")["job_id"].tolist() == ["web", "agent"]
    assert jobs(src, job_type=["batch", "system"])["job_id"].tolist() == ["nightly", "agent"]
    assert jobs(src, status="running", job_type="service")["job_id"].tolist() == ["web"]
    assert jobs(src, namespace="ops")["job_id"].tolist() == ["agent"]
    assert jobs(src, filter='Type == "batch"')["job_id"].tolist() == ["nightly"]
    assert ("list", "jobs", {"namespace": "*", "filter": 'Type == "batch"'}) in src.calls


def test_failed_reads_are_recorded_not_dropped_silently() -> None:
    job = {"ID": "web", "Namespace": "default", "Type": "service", "Version": 2,
           "TaskGroups": [{"Name": "frontend", "Count": 3, "Tasks": [{"Name": "nginx", "Resources": {"CPU": 200}}]}]}
    impostor = {**job, "ID": "agent", "Namespace": "default"}  # a reply for another job than asked
    src = StaticSource(lists={"jobs": _stubs()},
                       details={"job": {("default", "web"): job, ("ops", "agent"): impostor}},
                       errors={"job": {("default", "nightly"): "403 Permission denied"}})
    df = task_groups(src)
    assert df["job_id"].tolist() == ["web"]
    errors = df.attrs["errors"]
    assert errors[("default", "nightly")] == "403 Permission denied"
    assert "namespace 'ops'" in errors[("ops", "agent")]
    assert set(errors) == {("default", "nightly"), ("ops", "agent")}


def test_task_groups_and_versions_filter_by_job() -> None:
    src = StaticSource(lists={"jobs": _stubs()},
                       details={"job": {("default", "web"): {"ID": "web", "Namespace": "default", "TaskGroups": []}},
                                "job_versions": {("default", "web"): {"Versions": [], "Diffs": None}}})
    assert task_groups(src, job="web").attrs["errors"] == {}
    assert job_versions(src, job=["web"]).attrs["errors"] == {}
    assert src.calls[-1] == ("details", "job_versions", {"keys": [("default", "web")]})


def test_a_group_without_tasks_still_gives_a_row() -> None:
    job = {"ID": "web", "Namespace": "default", "TaskGroups": [{"Name": "frontend", "Count": 2, "Tasks": None}]}
    df = task_groups(StaticSource(lists={"jobs": [{"ID": "web", "Namespace": "default"}]},
                                  details={"job": {("default", "web"): job}}))
    TASK_GROUPS.validate(df)
    assert len(df) == 1 and df.loc[0, "task_group"] == "frontend" and pd.isna(df.loc[0, "task"])


def test_bare_objects_with_only_ids_keep_the_schema() -> None:
    src = StaticSource(lists={"jobs": [{"ID": "a"}]},
                       details={"job": {("default", "a"): {"TaskGroups": [{"Tasks": [{}]}]}},
                                "job_versions": {("default", "a"): {"Versions": [{}]}}})
    for fetcher, schema in ((jobs, JOBS), (task_groups, TASK_GROUPS), (job_versions, JOB_VERSIONS)):
        df = fetcher(src)
        schema.validate(df)
        assert len(df) == 1 and df.loc[0, "namespace"] == "default"


# -- generated wire dicts -------------------------------------------------------------------

@_FUZZ
@given(data=mutated_sample("GET_v1_jobs_unfiltered_from_filtering_section.json", 0))
def test_jobs_survive_missing_null_and_unknown_fields(data: dict[str, Any]) -> None:
    df = jobs(StaticSource(lists={"jobs": [data]}))
    JOBS.validate(df)
    assert len(df) == 1


@_FUZZ
@given(data=mutated_sample("GET_v1_job_id.json", depth=5))
def test_task_groups_survive_missing_null_and_unknown_fields(data: dict[str, Any]) -> None:
    src = StaticSource(lists={"jobs": [{"ID": "example", "Namespace": "apps"}]},
                       details={"job": {("apps", "example"): data}})
    df = task_groups(src)
    TASK_GROUPS.validate(df)
    assert df.attrs["errors"] == {}


@_FUZZ
@given(data=mutated_sample("GET_v1_job_id_versions.json", depth=5))
def test_job_versions_survive_missing_null_and_unknown_fields(data: dict[str, Any]) -> None:
    src = StaticSource(lists={"jobs": [{"ID": "example", "Namespace": "default"}]},
                       details={"job_versions": {("default", "example"): data}})
    JOB_VERSIONS.validate(job_versions(src))


# -- the simulator's demo cluster -----------------------------------------------------------

def test_demo_jobs(demo: CachedSource) -> None:
    df = jobs(demo)
    JOBS.validate(df)
    assert len(df) > 20 and _unique(df, JOBS.keys)
    assert set(df["namespace"]) >= {"default", "platform", "data"}
    assert set(df["type"].dropna()) == set(JOB_TYPES)
    web = df.set_index(["namespace", "job_id"]).loc[("default", "web")]
    assert web["running"] >= 1 and web["status"] == "running" and web["datacenters"]
    # periodic parents count their launches as children
    report = df.set_index(["namespace", "job_id"]).loc[("default", "report")]
    assert bool(report["periodic"]) and report["children_dead"] + report["children_running"] >= 2
    assert df["parent_id"].dropna().isin(df["job_id"]).all()


def test_demo_task_groups_join_jobs(demo: CachedSource) -> None:
    all_jobs, tg = jobs(demo), task_groups(demo)
    TASK_GROUPS.validate(tg)
    assert not tg.empty and _unique(tg, TASK_GROUPS.keys)
    assert (tg["cpu_mhz"] > 0).all() and (tg["memory_mb"] > 0).all()
    read = tg[["namespace", "job_id"]].drop_duplicates()
    joined = read.merge(all_jobs, on=["namespace", "job_id"], how="inner", validate="one_to_one")
    assert len(joined) == len(read)
    # every job is either in the frame or named in the errors
    assert len(read) + len(tg.attrs["errors"]) == len(all_jobs)


def test_demo_task_groups_cover_every_namespace(demo: CachedSource) -> None:
    all_jobs, tg = jobs(demo), task_groups(demo)
    assert tg.attrs["errors"] == {}
    read = tg[["namespace", "job_id"]].drop_duplicates()
    assert len(read.merge(all_jobs, on=["namespace", "job_id"])) == len(all_jobs)


def test_demo_job_versions(demo: CachedSource) -> None:
    df = job_versions(demo, namespace="default")
    JOB_VERSIONS.validate(df)
    assert _unique(df, JOB_VERSIONS.keys)
    assert (df.groupby(["namespace", "job_id"]).size() <= 6).all()
    api = df[df["job_id"] == "api"].set_index("version")
    # the version whose deployment failed was never marked stable, and was rolled back from
    assert api["stable"].sum() < len(api) and api.index.max() >= 2
    web = df[df["job_id"] == "web"]
    assert web["total_count"].nunique() > 1  # web was scaled during the demo
    assert df["submit_time"].notna().all()


def test_default_cluster_task_groups_show_the_oversized_ask() -> None:
    client = NomadClient(transport=SimCluster.default(seed=0).transport())
    df = task_groups(client, namespace="default", job="ml-training")
    assert df.attrs["errors"] == {}
    assert df[["task_group", "cpu_mhz", "memory_mb"]].to_dict("records") == [
        {"task_group": "trainer", "cpu_mhz": 4000, "memory_mb": 98304}]
