"""The evaluations and placement_failures frames: from official samples, generated wire dicts,
the default cluster (whose ml-training job does not fit) and the demo cluster."""

from __future__ import annotations

from typing import Any

import pandas as pd
import pytest
from hypothesis import given, settings

from nomadlab.client import NomadClient
from nomadlab.frames.evaluations import (
    EVAL_STATUSES,
    EVAL_TRIGGERS,
    EVALUATIONS,
    FAILURE_KINDS,
    PLACEMENT_FAILURES,
    evaluations,
    placement_failures,
)
from nomadlab.sim import SimCluster
from nomadlab.sources import CachedSource, LiveSource

from .conftest import StaticSource, mutated_sample, mutated_wire, sample

# An evaluation as Nomad sends it when a group does not fit (every AllocMetric reason kind set).
FAILED_EVAL: dict[str, Any] = {
    "ID": "e-1", "Namespace": "default", "Priority": 50, "Type": "service", "TriggeredBy": "job-register",
    "JobID": "big", "JobModifyIndex": 20, "NodeID": "", "DeploymentID": "", "Status": "complete",
    "StatusDescription": "", "Wait": 0, "WaitUntil": "0001-01-01T00:00:00Z", "NextEval": "",
    "PreviousEval": "", "BlockedEval": "e-2", "RelatedEvals": None,
    "FailedTGAllocs": {
        "trainer": {
            "NodesEvaluated": 5, "NodesFiltered": 2, "NodesInPool": 6, "NodesAvailable": {"dc1": 3, "dc2": 2},
            "ClassFiltered": {"gpu": 1}, "ConstraintFiltered": {"${attr.kernel.name} = windows": 2},
            "NodesExhausted": 3, "ClassExhausted": {"general": 3}, "DimensionExhausted": {"memory": 2, "cpu": 1},
            "QuotaExhausted": ["memory exhausted (4096 > 2048)"], "ResourcesExhausted": None,
            "Scores": None, "ScoreMetaData": None, "AllocationTime": 0, "CoalescedFailures": 4,
        },
        "sidecar": {"NodesEvaluated": 5, "NodesFiltered": 0, "NodesExhausted": 0, "CoalescedFailures": 0},
    },
    "QueuedAllocations": {"trainer": 5, "sidecar": 1}, "SnapshotIndex": 20,
    "CreateIndex": 20, "ModifyIndex": 21, "CreateTime": 1767225600000000000, "ModifyTime": 1767225601000000000,
}


@pytest.fixture(scope="module")
def small() -> CachedSource:
    return CachedSource(LiveSource(NomadClient(transport=SimCluster.default(seed=0).transport())))


# -- schemas and samples --------------------------------------------------------------------

def test_empty_results_keep_the_schema_and_full_category_sets() -> None:
    ev, pf = evaluations(StaticSource()), placement_failures(StaticSource())
    EVALUATIONS.validate(ev)
    PLACEMENT_FAILURES.validate(pf)
    assert ev.empty and pf.empty
    assert list(ev["status"].cat.categories) == list(EVAL_STATUSES) and "canceled" in EVAL_STATUSES
    assert list(ev["triggered_by"].cat.categories) == list(EVAL_TRIGGERS) and len(EVAL_TRIGGERS) == 18
    assert list(pf["kind"].cat.categories) == list(FAILURE_KINDS)


@pytest.mark.parametrize("name", ["GET_v1_evaluations.json", "GET_v1_job_id_evaluations.json"])
def test_evaluations_from_samples(name: str) -> None:
    src = StaticSource(lists={"evaluations": sample(name)})
    df = evaluations(src)
    EVALUATIONS.validate(df)
    row = df.iloc[0]
    assert (row["job_id"], row["type"], row["triggered_by"], row["status"]) == ("example", "service", "job-register",
                                                                              "complete")
    assert row["namespace"] == "default"  # the doc samples predate Namespace on evaluations
    assert row["queued_allocations"] == 0 and row["failed_task_groups"] == 0
    assert row["wait"] == pd.Timedelta(0)
    for col in ("node_id", "deployment_id", "previous_eval", "next_eval", "blocked_eval", "status_description"):
        assert pd.isna(row[col]), col
    assert pd.isna(row["wait_until"]) and pd.isna(row["create_time"])  # absent from the doc samples
    assert placement_failures(src).empty


def test_evaluation_columns_from_a_full_wire_object() -> None:
    df = evaluations(StaticSource(lists={"evaluations": [FAILED_EVAL]}))
    row = df.iloc[0]
    assert row["blocked_eval"] == "e-2" and row["queued_allocations"] == 6 and row["failed_task_groups"] == 2
    assert row["create_time"] == pd.Timestamp("2026-01-01T00:00:00Z")
    assert row["modify_time"] == pd.Timestamp("2026-01-01T00:00:01Z")
    assert pd.isna(row["wait_until"])  # Nomad's zero time


def test_placement_failures_explode_every_reason_kind() -> None:
    df = placement_failures(StaticSource(lists={"evaluations": [FAILED_EVAL]}))
    PLACEMENT_FAILURES.validate(df)
    trainer = df[df["task_group"] == "trainer"]
    got = [(k, r, None if pd.isna(c) else int(c)) for k, r, c in zip(trainer["kind"], trainer["reason"],
                                                                       trainer["count"], strict=True)]
    assert got == [
        ("dimension", "memory", 2), ("dimension", "cpu", 1),
        ("constraint", "${attr.kernel.name} = windows", 2),
        ("class_exhausted", "general", 3), ("class_filtered", "gpu", 1),
        ("quota", "memory exhausted (4096 > 2048)", None),
    ]
    assert set(trainer["nodes_available"]) == {5} and set(trainer["coalesced_failures"]) == {4}
    assert set(trainer["nodes_in_pool"]) == {6} and set(trainer["eval_id"]) == {"e-1"}
    sidecar = df[df["task_group"] == "sidecar"]
    assert len(sidecar) == 1 and pd.isna(sidecar["kind"].iloc[0]) and pd.isna(sidecar["reason"].iloc[0])
    assert pd.isna(sidecar["nodes_in_pool"].iloc[0])
    assert not df.duplicated(list(PLACEMENT_FAILURES.keys)).any()


def test_filters_and_time_window() -> None:
    wire = [
        {**FAILED_EVAL, "ID": "a", "JobID": "web", "Status": "complete", "CreateTime": 1_000_000_000_000_000_000},
        {**FAILED_EVAL, "ID": "b", "JobID": "web", "Status": "blocked", "CreateTime": 1_100_000_000_000_000_000},
        {**FAILED_EVAL, "ID": "c", "JobID": "api", "Status": "canceled", "CreateTime": 1_200_000_000_000_000_000,
         "Namespace": "ops"},
    ]
    src = StaticSource(lists={"evaluations": wire})
    assert evaluations(src, job="web")["eval_id"].tolist() == ["a", "b"]
    assert evaluations(src, status=["blocked", "canceled"])["eval_id"].tolist() == ["b", "c"]
    assert evaluations(src, namespace="ops")["eval_id"].tolist() == ["c"]
    since = pd.Timestamp(1_100_000_000_000_000_000, unit="ns", tz="UTC")
    assert evaluations(src, since=since)["eval_id"].tolist() == ["b", "c"]
    assert evaluations(src, until=since)["eval_id"].tolist() == ["a"]
    assert evaluations(src, since=since.tz_localize(None), until="2008-01-01")["eval_id"].tolist() == ["b"]
    assert evaluations(src, filter='Status == "blocked"')["eval_id"].tolist() == ["b"]
    assert ("list", "evaluations", {"namespace": "*", "filter": 'Status == "blocked"'}) in src.calls
    assert set(placement_failures(src, job="api")["eval_id"]) == {"c"}


@settings(max_examples=80, deadline=None)
@given(data=mutated_wire(FAILED_EVAL))
def test_survive_missing_null_and_unknown_fields(data: dict[str, Any]) -> None:
    src = StaticSource(lists={"evaluations": [data]})
    ev = evaluations(src)
    EVALUATIONS.validate(ev)
    assert len(ev) == 1
    PLACEMENT_FAILURES.validate(placement_failures(src))


@settings(max_examples=40, deadline=None)
@given(data=mutated_sample("GET_v1_evaluations.json", 0))
def test_survive_mutated_official_sample(data: dict[str, Any]) -> None:
    EVALUATIONS.validate(evaluations(StaticSource(lists={"evaluations": [data]})))


# -- the simulator --------------------------------------------------------------------------

def test_default_cluster_ml_training_fails_on_memory(small: CachedSource) -> None:
    pf = placement_failures(small)
    PLACEMENT_FAILURES.validate(pf)
    ml = pf[pf["job_id"] == "ml-training"]
    memory = ml[(ml["kind"] == "dimension") & (ml["reason"] == "memory")]
    assert not memory.empty and (memory["count"] > 0).all()
    assert (memory["task_group"] == "trainer").all()
    assert (ml["nodes_evaluated"] > 0).all() and ml["create_time"].notna().all()
    ev = evaluations(small, job="ml-training")
    failed = ev[ev["failed_task_groups"] > 0]
    assert failed["blocked_eval"].notna().all() and (failed["queued_allocations"] >= 1).all()


def test_placement_failures_join_evaluations(small: CachedSource) -> None:
    pf, ev = placement_failures(small), evaluations(small)
    joined = pf.merge(ev, on="eval_id", how="left", validate="many_to_one", indicator=True,
                      suffixes=("", "_eval"))
    assert not joined.empty and (joined["_merge"] == "both").all()
    assert (joined["failed_task_groups"] >= 1).all()
    assert (joined["job_id"] == joined["job_id_eval"]).all()


def test_demo_evaluations(demo: CachedSource) -> None:
    df = evaluations(demo)
    EVALUATIONS.validate(df)
    assert len(df) > 30 and df["eval_id"].is_unique
    assert list(df["triggered_by"].cat.categories) == list(EVAL_TRIGGERS)  # nothing outside Nomad's set
    assert {"job-register", "node-update", "alloc-failure", "deployment-watcher"} <= set(df["triggered_by"])
    assert df["create_time"].notna().all() and (df["modify_time"] >= df["create_time"]).all()
    # follow-up links point at evaluations that exist
    assert df["previous_eval"].dropna().isin(df["eval_id"]).all()
    # delayed reschedules: follow-ups of a failed allocation's evaluation that wait until a set time
    follow = df[df["triggered_by"] == "failed-follow-up"]
    assert not follow.empty and follow["wait_until"].notna().all() and follow["previous_eval"].notna().all()
    assert (follow["wait_until"] > follow["create_time"]).all()
    first, last = df["create_time"].min(), df["create_time"].max()
    window = evaluations(demo, since=first + pd.Timedelta(minutes=1), until=last)
    assert 0 < len(window) < len(df)
    assert window["create_time"].between(first + pd.Timedelta(minutes=1), last, inclusive="left").all()
    PLACEMENT_FAILURES.validate(placement_failures(demo))
