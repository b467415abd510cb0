"""The allocation frames built page by page, from projected decodes, equal the one-list build."""

from __future__ import annotations

import copy
from typing import Any

import msgspec
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from nomadlab import sources
from nomadlab._json import decoder_for, loads
from nomadlab.client import NomadClient
from nomadlab.frames.allocations import (
    ALLOCATIONS,
    TASK_EVENTS,
    AllocationFrames,
    allocation_frames,
    allocations,
    task_events,
    tasks,
)
from nomadlab.sim.scenarios import build_scenario
from nomadlab.sources import CachedSource, LiveSource, iter_pages

from .conftest import StaticSource
from .test_allocations import fuzz_base, mangled  # noqa: F401 - the fixture is used by name

__all__: list[str] = []


class PagedSource:
    """Wire objects served as JSON pages and decoded the way :class:`LiveSource` decodes them:
    projected to the fields the frame names (``fields``), page by page."""

    def __init__(self, stubs: list[Any], per_page: int, *, order: list[int] | None = None) -> None:
        chunks = [stubs[i:i + per_page] for i in range(0, len(stubs), per_page)] or [[]]
        self.bodies = [msgspec.json.encode(chunks[i]) for i in (order or range(len(chunks)))]
        self.fields_asked: list[Any] = []

    def list(self, kind: str, *, namespace: str = "*", filter: str | None = None) -> list[Any]:
        return [obj for body in self.bodies for obj in loads(body)]

    def details(self, kind: str, keys: Any) -> Any:
        raise NotImplementedError

    def pages(self, kind: str, *, namespace: str = "*", filter: str | None = None,
              fields: Any = None) -> Any:
        self.fields_asked.append(fields)
        decode = loads if fields is None else decoder_for(fields, many=True)
        for body in self.bodies:
            yield decode(body)


def assert_same(got: AllocationFrames, want: AllocationFrames) -> None:
    for name in AllocationFrames._fields:
        pd.testing.assert_frame_equal(getattr(got, name), getattr(want, name), obj=name)


@pytest.fixture(scope="module")
def demo_stubs() -> list[dict[str, Any]]:
    cluster = build_scenario("demo", seed=0)
    return LiveSource(NomadClient(transport=cluster.transport())).list("allocations")


@pytest.mark.parametrize("per_page", [1, 7, 50, 10**6])
def test_pages_give_the_frames_of_one_list(demo_stubs: list[dict[str, Any]], per_page: int) -> None:
    want = allocation_frames(StaticSource({"allocations": demo_stubs}))
    paged = PagedSource(demo_stubs, per_page)
    got = allocation_frames(paged)
    assert paged.fields_asked and all(f is not None for f in paged.fields_asked)   # a projection was asked for
    assert_same(got, want)
    # and each single fetcher, filters and windows included
    since = want.allocations["modify_time"].median()
    for fetch in (allocations, tasks, task_events):
        for kwargs in ({}, {"since": since}, {"status": ["failed", "lost"]}, {"job": "api"}):
            pd.testing.assert_frame_equal(fetch(PagedSource(demo_stubs, per_page), **kwargs),
                                          fetch(StaticSource({"allocations": demo_stubs}), **kwargs))


def test_live_source_reads_pages_with_the_next_one_on_its_way(monkeypatch: pytest.MonkeyPatch) -> None:
    cluster = build_scenario("demo", seed=0)
    client = NomadClient(transport=cluster.transport())
    monkeypatch.setitem(sources.PAGE_SIZES, "allocations", 13)
    pages = list(LiveSource(client).pages("allocations"))
    total = len(cluster.state.allocs)
    assert [len(p) for p in pages[:-1]] == [13] * (len(pages) - 1) and sum(map(len, pages)) == total
    one_list = allocation_frames(CachedSource(LiveSource(client)))    # list(): no pages
    assert_same(allocation_frames(client), one_list)


def test_projection_keeps_only_what_the_frames_read(demo_stubs: list[dict[str, Any]]) -> None:
    from nomadlab.frames.allocations import WIRE_FIELDS

    page = decoder_for(WIRE_FIELDS, many=True)(msgspec.json.encode(demo_stubs[:5]))
    full = demo_stubs[0]
    got = page[0]                               # a record: the named fields, read by attribute
    assert full["ID"] == got.ID and got.ClientStatus == full["ClientStatus"]
    assert not hasattr(got, "Job") and not hasattr(got, "DesiredTransition")
    assert got.PreviousAllocation is None       # named, but not in a list stub
    task, state = next(iter(full["TaskStates"].items()))
    got_state = got.TaskStates[task]
    assert got_state.State == state["State"] and not hasattr(got_state, "TaskHandle")
    event = got_state.Events[0]
    assert event.Type == state["Events"][0]["Type"] and not hasattr(event, "GenericSource")
    resources = got.AllocatedResources.Tasks[task]   # records too, with just what is read
    sent = full["AllocatedResources"]["Tasks"][task]
    assert resources.Cpu.CpuShares == sent["Cpu"]["CpuShares"] and not hasattr(resources, "Networks")
    assert resources.Memory.MemoryMB == sent["Memory"]["MemoryMB"]
    assert got.AllocatedResources.Shared.DiskMB == full["AllocatedResources"]["Shared"]["DiskMB"]


def test_projection_reads_only_the_link_and_health_of_trackers_and_deployment_status(
        demo_stubs: list[dict[str, Any]]) -> None:
    from nomadlab.frames.allocations import WIRE_FIELDS

    stub = next(s for s in demo_stubs if s.get("RescheduleTracker") and s.get("DeploymentStatus"))
    got = decoder_for(WIRE_FIELDS, many=True)(msgspec.json.encode([stub]))[0]
    sent = stub["RescheduleTracker"]["Events"]
    assert got.RescheduleTracker == {"Events": [{"PrevAllocID": e["PrevAllocID"]} for e in sent]}
    status = stub["DeploymentStatus"]
    assert got.DeploymentStatus == {k: status[k] for k in ("Healthy", "Canary") if k in status}


def test_allocated_resources_read_as_records_or_dicts_alike(demo_stubs: list[dict[str, Any]]) -> None:
    """The projection decodes the allocated resources as records; gaps in them give the same
    frames as the full decode's dicts."""
    with_resources = [s for s in demo_stubs if (s.get("AllocatedResources") or {}).get("Tasks")][:5]
    stubs = copy.deepcopy(with_resources)
    first = next(iter(stubs[0]["AllocatedResources"]["Tasks"].values()))
    first["Memory"] = None                                   # no memory: NA memory, CPU kept
    del next(iter(stubs[1]["AllocatedResources"]["Tasks"].values()))["Cpu"]
    stubs[2]["AllocatedResources"]["Shared"] = None          # no disk
    stubs[3]["AllocatedResources"] = None                    # nothing allocated
    want = allocation_frames(StaticSource({"allocations": loads(msgspec.json.encode(stubs))}))
    got = allocation_frames(PagedSource(stubs, 2))
    assert_same(got, want)
    allocs = got.allocations
    assert allocs["cpu_mhz"].notna().tolist()[:4] == [True, True, True, False]
    assert pd.isna(allocs["disk_mb"].iloc[2]) and pd.notna(allocs["disk_mb"].iloc[0])
    assert got.tasks.set_index("alloc_id").loc[[stubs[0]["ID"]], "memory_mb"].isna().any()


def test_a_replacement_listed_before_what_it_replaced_still_links(demo_stubs: list[dict[str, Any]]) -> None:
    old, new = (dict(s) for s in demo_stubs[:2])
    new.update(PreviousAllocation="", RescheduleTracker=None)
    old["NextAllocation"] = new["ID"]
    frames = allocation_frames(PagedSource([new, old], 1))
    got = frames.allocations.set_index("alloc_id")
    assert got.loc[new["ID"], "previous_alloc"] == old["ID"]
    assert got.loc[old["ID"], "next_alloc"] == new["ID"]


def test_concat_keeps_categories_met_on_different_pages() -> None:
    def frame(event_type: str) -> pd.DataFrame:
        values: dict[str, list[Any]] = {c.name: [None] for c in TASK_EVENTS.columns}
        values["type"] = [event_type]
        return TASK_EVENTS.build(values)

    parts = [frame("Started"), frame("Zeta Hook"), frame("Alpha Hook")]
    out = TASK_EVENTS.concat(parts)
    TASK_EVENTS.validate(out)
    assert out["type"].tolist() == ["Started", "Zeta Hook", "Alpha Hook"]
    known = list(TASK_EVENTS.column("type").categories or ())
    assert list(out["type"].cat.categories) == [*known, "Alpha Hook", "Zeta Hook"]
    assert ALLOCATIONS.concat([]).empty and list(ALLOCATIONS.concat([]).columns) == ALLOCATIONS.names


def test_a_source_without_pages_is_one_page(demo_stubs: list[dict[str, Any]]) -> None:
    static = StaticSource({"allocations": demo_stubs})
    assert [len(p) for p in iter_pages(static, "allocations")] == [len(demo_stubs)]


def test_mangled_pages_equal_the_full_decode(fuzz_base: list[dict[str, Any]]) -> None:  # noqa: F811
    """Whatever the wire holds, the projected, paged decode gives the frames of the full one."""
    @settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow,
                                                                      HealthCheck.data_too_large])
    @given(stubs=mangled(fuzz_base), per_page=st.integers(1, 4))
    def check(stubs: list[dict[str, Any]], per_page: int) -> None:
        full = loads(msgspec.json.encode(stubs))      # what the wire says, decoded whole
        want = allocation_frames(StaticSource({"allocations": full}))
        assert_same(allocation_frames(PagedSource(stubs, per_page)), want)

    check()


def test_odd_statuses_on_different_pages_give_the_one_list_frames(demo_stubs: list[dict[str, Any]]) -> None:
    one, two = (dict(s) for s in demo_stubs[:2])
    one["ClientStatus"] = 5                 # not a string: missing
    two["ClientStatus"] = "weird"           # an unknown string: an extra category
    want = allocation_frames(StaticSource({"allocations": [one, two]}))
    got = allocation_frames(PagedSource([one, two], 1))
    assert_same(got, want)
    assert got.allocations["client_status"].isna().tolist() == [True, False]
    assert list(got.allocations["client_status"].cat.categories)[-1] == "weird"


def test_previous_alloc_prefers_the_next_allocation_link_over_the_tracker_on_any_page(
        demo_stubs: list[dict[str, Any]]) -> None:
    old, new = (dict(s) for s in demo_stubs[:2])
    new.update(PreviousAllocation="", RescheduleTracker={"Events": [{"PrevAllocID": "older-one"}]})
    old["NextAllocation"] = new["ID"]
    for order in ([new, old], [old, new]):
        want = allocation_frames(StaticSource({"allocations": order}))
        got = allocation_frames(PagedSource(order, 1))
        assert_same(got, want)
        assert got.allocations.set_index("alloc_id").loc[new["ID"], "previous_alloc"] == old["ID"]


def test_a_failure_mid_build_closes_the_source_pages_at_once(demo_stubs: list[dict[str, Any]],
                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    import sys

    closed: list[bool] = []

    class Tracked(PagedSource):
        def pages(self, kind: str, **kwargs: Any) -> Any:
            try:
                yield from super().pages(kind, **kwargs)
            finally:
                closed.append(True)

    module = sys.modules["nomadlab.frames.allocations"]
    real = module._collect
    calls = []

    def failing(*args: Any, **kwargs: Any) -> Any:
        calls.append(1)
        if len(calls) == 2:
            raise KeyboardInterrupt
        return real(*args, **kwargs)

    monkeypatch.setattr(module, "_collect", failing)
    with pytest.raises(KeyboardInterrupt) as info:
        allocation_frames(Tracked(demo_stubs, 10))
    assert info.value is not None and closed == [True]     # closed while the traceback still lives


def test_pages_may_be_any_iterator(demo_stubs: list[dict[str, Any]]) -> None:
    class Plain(PagedSource):
        def pages(self, kind: str, **kwargs: Any) -> Any:
            return iter(list(super().pages(kind, **kwargs)))      # no close()

    assert_same(allocation_frames(Plain(demo_stubs, 9)), allocation_frames(StaticSource({"allocations": demo_stubs})))


def test_pages_held_for_the_build_are_released_when_a_later_page_fails(
        demo_stubs: list[dict[str, Any]]) -> None:
    import weakref

    class Page(list):  # type: ignore[type-arg]
        """A page that can be watched with a weak reference."""

    class Failing(StaticSource):
        def __init__(self, page: Page) -> None:
            super().__init__({})
            self.page: Page | None = page

        def pages(self, kind: str, **kwargs: Any) -> Any:
            page, self.page = self.page, None     # handed over: the source keeps no page
            yield page
            del page
            raise RuntimeError("the connection dropped")

    first = Page(demo_stubs[:3])
    watch = weakref.ref(first)
    pages = Failing(first)
    del first
    with pytest.raises(RuntimeError, match="dropped") as caught:
        allocation_frames(pages)
    assert caught.value is not None            # the traceback is still held, as a notebook would
    assert watch() is None                     # ... and the page is not kept alive by it
