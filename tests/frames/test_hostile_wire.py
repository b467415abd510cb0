"""Every frame over hostile wire data: no exception, and the schema holds.

The payloads start from what the simulator serves for its ``demo`` scenario (every list kind
and every per-object read a frame makes) and are mutated by :func:`hostile_wire`: null list
elements, a string or a number where an object belongs, missing keys, integers no int64 holds,
nested garbage. A malformed value must become a missing cell; an object that cannot be read at
all is dropped; the columns and their dtypes never change.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Hashable
from typing import Any

import pandas as pd
import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

import nomadlab.frames as frames
from nomadlab.client import NomadClient
from nomadlab.sim.scenarios import build_scenario
from nomadlab.sources import DETAIL_KINDS, LIST_KINDS, LiveSource

from .conftest import StaticSource

_GARBAGE = st.one_of(
    st.none(), st.booleans(), st.integers(-3, 3), st.just(2**70), st.just(-(2**70)),
    st.floats(allow_nan=True, allow_infinity=True), st.text(max_size=5),
    st.lists(st.one_of(st.none(), st.integers(), st.text(max_size=2)), max_size=3),
    st.dictionaries(st.text(max_size=3), st.one_of(st.none(), st.integers(), st.text(max_size=2)), max_size=2),
)


@st.composite
def hostile_wire(draw: st.DrawFn, obj: Any, depth: int = 4) -> Any:
    """``obj`` (decoded JSON) with values replaced by garbage of any type, keys dropped,
    list elements nulled or replaced, down to ``depth`` levels of nesting."""
    roll = draw(st.integers(0, 19))
    if roll == 0:
        return draw(_GARBAGE)
    if depth <= 0:
        return copy.deepcopy(obj)
    if isinstance(obj, list):
        out = [draw(hostile_wire(item, depth - 1)) for item in obj]
        if out and draw(st.booleans()):
            out.insert(draw(st.integers(0, len(out))), draw(_GARBAGE))
        return out
    if isinstance(obj, dict):
        result: dict[Any, Any] = {}
        for key, value in obj.items():
            action = draw(st.integers(0, 9))
            if action == 0:
                continue
            result[key] = None if action == 1 else draw(hostile_wire(value, depth - 1))
        return result
    return copy.deepcopy(obj)


def _wire() -> tuple[dict[str, list[Any]], dict[str, dict[Hashable, Any]]]:
    """Every list and detail object the frames read, as the simulator's demo scenario serves them."""
    live = LiveSource(NomadClient(transport=build_scenario("demo", seed=0).transport()))
    lists = {kind: live.list(kind) for kind in LIST_KINDS}  # type: ignore[arg-type]
    jobs = [(j.get("Namespace") or "default", j["ID"]) for j in lists["jobs"]][:3]
    if ("default", "web") not in jobs:      # a job with scaling events, for scaling_events
        jobs.append(("default", "web"))
    nodes = [n["ID"] for n in lists["nodes"]][:2]
    allocs = [a["ID"] for a in lists["allocations"] if a.get("ClientStatus") == "running"][:2]
    keys: dict[str, list[Hashable]] = {"job": list(jobs), "job_versions": list(jobs), "job_scale": list(jobs),
                                      "node": list(nodes),
                                      "node_stats": list(nodes), "alloc_stats": list(allocs)}
    details = {kind: dict(live.details(kind, keys[kind]).objects) for kind in DETAIL_KINDS}  # type: ignore[arg-type]
    # Keep the lists small, so each example stays cheap: the objects the details cover first.
    lists["jobs"] = [j for j in lists["jobs"] if (j.get("Namespace") or "default", j["ID"]) in jobs]
    lists["nodes"] = [n for n in lists["nodes"] if n["ID"] in nodes]
    lists["allocations"] = [a for a in lists["allocations"] if a["ID"] in allocs] + lists["allocations"][:2]
    lists["evaluations"] = lists["evaluations"][:4] + [e for e in lists["evaluations"] if e.get("FailedTGAllocs")][:2]
    lists["deployments"] = lists["deployments"][:3]
    return lists, details


LISTS, DETAILS = _wire()

# A mutated job list may lose the job a filter names; that warning is expected here.
pytestmark = pytest.mark.filterwarnings("ignore::nomadlab.errors.NomadAccessWarning")

# fetcher → (list kinds, detail kinds) it reads; only those are mutated for its examples.
READS: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "allocations": (("allocations",), ()),
    "tasks": (("allocations",), ()),
    "task_events": (("allocations",), ()),
    "jobs": (("jobs",), ("job",)),
    "task_groups": (("jobs",), ("job",)),
    "job_versions": (("jobs",), ("job_versions",)),
    "scaling_events": (("jobs",), ("job_scale",)),
    "evaluations": (("evaluations",), ()),
    "placement_failures": (("evaluations",), ()),
    "deployments": (("deployments",), ()),
    "namespaces": (("namespaces",), ()),
    "nodes": (("nodes",), ("node",)),
    "node_events": (("nodes",), ("node",)),
    "node_stats": (("nodes",), ("node_stats",)),
    "alloc_stats": (("allocations",), ("alloc_stats",)),
}


def test_every_fetcher_is_covered() -> None:
    # ``logs`` reads the log stream, not list or detail objects: its framing decoder is fuzzed
    # with the client's streams (tests/client), and its line parsing in tests/frames/test_logs.py
    assert set(READS) | {"allocation_frames", "logs"} == set(frames.FETCHERS)


# Filters applied on the client side read the same malformed values.
FILTERS: dict[str, dict[str, Any]] = {
    "jobs": {"status": "running", "job_type": "service"},
    "evaluations": {"job": "web", "status": "complete"},
    "placement_failures": {"job": "ml-training"},
    "deployments": {"job": "web", "status": "successful"},
    "task_groups": {"job": "web"},
    "job_versions": {"job": "web"},
    "node_stats": {"node": "a"},
    "node_events": {"node": "a"},
    "alloc_stats": {"job": "web", "alloc": "a"},
}


def _check(name: str, source: StaticSource) -> None:
    fetch: Callable[..., pd.DataFrame] = getattr(frames, name)
    for kwargs in ({}, FILTERS.get(name, {})):
        df = fetch(source, **kwargs)
        schema = frames.schema(name)
        schema.validate(df)
        for column in (c for c in schema.columns if c.dtype == "object"):
            # maps and lists, or missing: a malformed value (a string where a map belongs) is missing
            wrong = [v for v in df[column.name] if v is not None and not isinstance(v, (dict, list))]
            assert wrong == [], f"{name}.{column.name} holds {wrong[:3]!r}"
        errors = df.attrs.get("errors", {})
        assert isinstance(errors, dict)
        assert all(isinstance(v, str) for v in errors.values())


@pytest.mark.parametrize("name", sorted(READS))
def test_unmutated_wire_gives_rows(name: str) -> None:
    """The starting payloads are not empty: the mutations below start from real rows."""
    df = getattr(frames, name)(StaticSource(LISTS, DETAILS))
    frames.schema(name).validate(df)
    assert len(df) > 0


@pytest.mark.parametrize("name", sorted(READS))
@settings(max_examples=25, deadline=None, phases=(Phase.explicit, Phase.reuse, Phase.generate),
          suppress_health_check=[HealthCheck.too_slow,
                                                               HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_hostile_wire_keeps_the_schema(name: str, data: st.DataObject) -> None:
    list_kinds, detail_kinds = READS[name]
    lists = dict(LISTS)
    details = dict(DETAILS)
    for kind in list_kinds:
        lists[kind] = data.draw(hostile_wire(LISTS[kind]).filter(lambda v: True), label=kind)
        if not isinstance(lists[kind], list):
            lists[kind] = [lists[kind]]
    for kind in detail_kinds:
        details[kind] = {k: data.draw(hostile_wire(v), label=f"{kind} {k}") for k, v in DETAILS[kind].items()}
    _check(name, StaticSource(lists, details))


@pytest.mark.parametrize("name", sorted(READS))
@pytest.mark.parametrize("element", [None, "x", 7, [], {"ID": 5}], ids=repr)
def test_malformed_list_element_is_dropped_not_fatal(name: str, element: Any) -> None:
    list_kinds, detail_kinds = READS[name]
    lists = {k: [element, *v] for k, v in LISTS.items()}
    details = {k: {**v} for k, v in DETAILS.items()}
    _check(name, StaticSource(lists, details))
    df = getattr(frames, name)(StaticSource(lists, details))
    if not isinstance(element, dict) and name not in ("allocations", "tasks", "task_events"):
        assert any(str(k).startswith(f"{list_kinds[0]}[0]") for k in df.attrs["errors"]), df.attrs
    for kind in detail_kinds:
        broken = {k: element for k in DETAILS[kind]}
        _check(name, StaticSource(LISTS, {**DETAILS, kind: broken}))


def _every_field(obj: Any, value: Any) -> Any:
    """``obj`` with each of its fields (each field of each object, for a list) set to ``value``."""
    if isinstance(obj, dict):
        return {k: value for k in obj}
    if isinstance(obj, list):
        return [_every_field(o, value) for o in obj]
    return obj


@pytest.mark.parametrize("name", sorted(READS))
@pytest.mark.parametrize("value", ["x", 7, -1.5, True, [], {}, [None], {"a": None}], ids=repr)
def test_every_field_of_the_wrong_type_is_missing_in_its_cell(name: str, value: Any) -> None:
    """Each field of every object set to one wrong-typed value at once (a string where a map or a
    list belongs, a map where a number belongs): the schema holds and no such value reaches a
    cell whose column holds maps or lists."""
    list_kinds, detail_kinds = READS[name]
    lists = {k: _every_field(v, value) if k in list_kinds else v for k, v in LISTS.items()}
    details = {k: {key: _every_field(v, value) for key, v in d.items()} if k in detail_kinds else d
               for k, d in DETAILS.items()}
    _check(name, StaticSource(lists, details))
    _check(name, StaticSource(LISTS, details))
