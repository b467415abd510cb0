"""Fixtures for the frame tests: a static, in-memory Source built from plain wire dicts.

``static_source(lists=..., details=...)`` stands in for a cluster, a snapshot or an archive:
frames only ever see the :class:`~nomadlab.sources.Source` interface, so a frame test states
the exact wire objects it starts from (official samples, mutated or generated dicts) and needs
no network and no simulator.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Callable, Hashable, Mapping, Sequence
from pathlib import Path
from typing import Any

import pytest
from hypothesis import strategies as st

from nomadlab.client import NomadClient
from nomadlab.sim.scenarios import build_scenario
from nomadlab.sources import CachedSource, Details, LiveSource

from ..conftest import SAMPLES_DIR

__all__ = ["StaticSource", "static_source", "load_sample", "mutated_wire", "mutated_sample", "sample"]

# List kinds whose endpoints take ``?namespace=`` (the others ignore it), as in nomadlab.sources.
_NAMESPACED = frozenset({"jobs", "allocations", "evaluations", "deployments"})


class StaticSource:
    """A :class:`~nomadlab.sources.Source` answering from fixed wire objects.

    Parameters
    ----------
    lists
        ``kind → list of wire dicts`` for :meth:`list` (kinds not given answer ``[]``).
    details
        ``kind → {key: wire object}`` for :meth:`details`; a key asked for but absent
        answers as an error ``"404 ... not found"``, as a live cluster would.
    errors
        ``kind → {key: message}``: keys that always fail, whatever ``details`` holds.

    Behaves like Nomad where it is cheap to: ``namespace`` other than ``"*"`` keeps the objects
    of that namespace (a missing ``Namespace`` counts as ``default``) for the namespaced kinds,
    and ``filter`` is evaluated with the simulator's go-bexpr engine. Every call is recorded in
    :attr:`calls` as ``(method, kind, arguments)`` so tests can check what a frame asked for.
    Objects are deep-copied on the way out, so a frame that mutated its input would not
    affect the next call.
    """

    def __init__(
        self,
        lists: Mapping[str, Sequence[Mapping[str, Any]]] | None = None,
        details: Mapping[str, Mapping[Hashable, Any]] | None = None,
        errors: Mapping[str, Mapping[Hashable, str]] | None = None,
    ) -> None:
        self.lists = {k: list(v) for k, v in (lists or {}).items()}
        self.detail_objects = {k: dict(v) for k, v in (details or {}).items()}
        self.detail_errors = {k: dict(v) for k, v in (errors or {}).items()}
        self.calls: list[tuple[str, str, dict[str, Any]]] = []

    def __repr__(self) -> str:
        return f"StaticSource(lists={sorted(self.lists)}, details={sorted(self.detail_objects)})"

    def list(self, kind: str, *, namespace: str = "*", filter: str | None = None) -> list[dict[str, Any]]:
        self.calls.append(("list", kind, {"namespace": namespace, "filter": filter}))
        rows = self.lists.get(kind, [])
        if kind in _NAMESPACED and namespace != "*":
            rows = [r for r in rows if (r.get("Namespace") or "default") == namespace]
        if filter:
            from nomadlab.sim.bexpr import compile_filter

            keep = compile_filter(filter)
            rows = [r for r in rows if keep(r)]
        return copy.deepcopy(list(rows))

    def details(self, kind: str, keys: Sequence[Hashable]) -> Details:
        self.calls.append(("details", kind, {"keys": list(keys)}))
        have = self.detail_objects.get(kind, {})
        failing = self.detail_errors.get(kind, {})
        objects: dict[Hashable, Any] = {}
        errors: dict[Hashable, str] = {}
        for key in keys:
            if key in failing:
                errors[key] = failing[key]
            elif key in have:
                objects[key] = copy.deepcopy(have[key])
            else:
                errors[key] = f"404 Not Found: {kind} {key!r} not found"
        return Details(objects, errors)


@pytest.fixture
def static_source() -> Callable[..., StaticSource]:
    """A factory: ``static_source(lists={"jobs": [...]}, details={"job": {(ns, id): {...}}})``."""
    return StaticSource


def load_sample(samples_dir: Path, name: str) -> Any:
    """One official sample response (``GET_v1_jobs.json`` ...) decoded from JSON."""
    return json.loads((samples_dir / name).read_text())


def sample(name: str) -> Any:
    """One official sample response; the test is skipped when ``../shared`` is not there."""
    if not SAMPLES_DIR.is_dir():
        pytest.skip(f"sample responses not found at {SAMPLES_DIR}")
    return load_sample(SAMPLES_DIR, name)


def mutated_sample(name: str, index: int | None = None, depth: int = 4) -> st.SearchStrategy[Any]:
    """:func:`mutated_wire` of one official sample (item ``index`` of it when given), read when
    the first example is drawn: without ``../shared`` the test is skipped (or, in CI, the run
    fails at its start, see ``tests/conftest.py``), never run on a stand-in."""
    def build() -> st.SearchStrategy[Any]:
        obj = sample(name)
        return mutated_wire(obj if index is None else obj[index], depth)
    return st.deferred(build)


@pytest.fixture(scope="module")
def samples() -> Path:
    """The official samples' folder (the test is skipped when it is not there)."""
    if not SAMPLES_DIR.is_dir():
        pytest.skip(f"sample responses not found at {SAMPLES_DIR}")
    return SAMPLES_DIR


@pytest.fixture(scope="module")
def demo_source() -> CachedSource:
    """The ``demo`` scenario behind the live source, each list asked for once."""
    return CachedSource(LiveSource(NomadClient(transport=build_scenario("demo", seed=0).transport())))


@pytest.fixture(scope="module")
def demo(demo_source: CachedSource) -> CachedSource:
    """The demo cluster as a source (a module may give ``demo`` another meaning)."""
    return demo_source


_JUNK_VALUES = st.one_of(st.none(), st.booleans(), st.integers(-5, 5), st.text(max_size=4),
                         st.lists(st.integers(0, 3), max_size=2), st.dictionaries(st.text(max_size=3),
                                                                                  st.integers(0, 3), max_size=2))


@st.composite
def mutated_wire(draw: st.DrawFn, obj: Any, depth: int = 4) -> Any:
    """A hypothesis strategy: ``obj`` (a wire dict, list, ...) with keys randomly dropped or nulled
    and unknown ``Junk*`` keys added, down to ``depth`` levels of nesting.

    This is what older and newer Nomads look like to a frame: fields missing, fields null,
    fields it has never heard of. Value types of the fields kept are left as Nomad sends them.
    """
    if depth <= 0:
        return copy.deepcopy(obj)
    if isinstance(obj, list):
        return [draw(mutated_wire(item, depth - 1)) for item in obj]
    if not isinstance(obj, dict):
        return copy.deepcopy(obj)
    out: dict[str, Any] = {}
    for key, value in obj.items():
        action = draw(st.sampled_from(("keep", "keep", "keep", "drop", "null")))
        if action == "keep":
            out[key] = draw(mutated_wire(value, depth - 1))
        elif action == "null":
            out[key] = None
    junk = draw(st.dictionaries(st.text(min_size=1, max_size=6).map(lambda k: "Junk" + k), _JUNK_VALUES,
                                max_size=2))
    out.update(junk)
    return out
