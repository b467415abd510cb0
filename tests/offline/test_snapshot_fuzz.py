"""Mangled snapshot files: the reader reads what it can, and fails only with OfflineFormatError."""

from __future__ import annotations

import io
import tarfile
import warnings
from pathlib import Path
from typing import Any

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import nomadlab.frames as nf
from nomadlab.client import NomadClient
from nomadlab.offline import NotRecordedError, OfflineDataWarning, OfflineFormatError, Snapshot, open_snapshot, snapshot
from nomadlab.sim.scenarios import build_scenario
from nomadlab.sources import DETAIL_KINDS, LIST_KINDS

_json = st.recursive(
    st.none() | st.booleans() | st.integers(-2**63, 2**63 - 1) | st.floats(allow_nan=False) | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=20,
)


class Good:
    """The bytes of one good snapshot (a holder, so that failing examples do not print them)."""

    def __init__(self, data: bytes) -> None:
        self.data = data

    def __repr__(self) -> str:
        return f"Good({len(self.data)} bytes)"


@pytest.fixture(scope="module")
def good(tmp_path_factory: pytest.TempPathFactory) -> Good:
    path = snapshot(NomadClient(transport=build_scenario("default").transport()),
                    tmp_path_factory.mktemp("fuzz") / "good.tar.gz")
    return Good(path.read_bytes())


def _members(data: bytes) -> list[tuple[str, bytes]]:
    with tarfile.open(fileobj=io.BytesIO(data), mode="r:gz") as tar:
        return [(m.name, tar.extractfile(m).read()) for m in tar if m.isfile()]  # type: ignore[union-attr]


def _pack(members: list[tuple[str, bytes]]) -> bytes:
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w:gz") as tar:
        for name, body in members:
            info = tarfile.TarInfo(name)
            info.size = len(body)
            tar.addfile(info, io.BytesIO(body))
    return out.getvalue()


def _read_everything(path: Path) -> None:
    """Open and use the snapshot the way frames do; only the documented errors may come out."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", OfflineDataWarning)
        try:
            snap = open_snapshot(path)
        except OfflineFormatError as exc:
            assert str(path) in str(exc)
            return
    assert isinstance(snap, Snapshot)
    for kind in LIST_KINDS:
        try:
            rows = snap.list(kind)  # type: ignore[arg-type]
        except NotRecordedError as exc:
            assert kind in str(exc)
            continue
        assert isinstance(rows, list) and all(isinstance(r, dict) for r in rows)
    for kind in DETAIL_KINDS:
        got = snap.details(kind, [("default", "web")] if kind.startswith("job") else ["x"])  # type: ignore[arg-type]
        assert set(got.objects) | set(got.errors)
    for frame in (nf.namespaces, nf.nodes, nf.jobs, nf.allocations, nf.evaluations, nf.deployments):
        try:
            got = frame(snap)
        except NotRecordedError:
            continue
        assert list(got.columns) == nf.schema(frame.__name__).names


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(cut=st.floats(0, 1), flips=st.lists(st.tuples(st.floats(0, 1), st.integers(0, 255)), max_size=4))
def test_damaged_bytes(good: Good, tmp_path: Path, cut: float, flips: list[tuple[float, int]]) -> None:
    data = bytearray(good.data[: int(len(good.data) * cut)] if cut < 0.999 else good.data)
    for where, value in flips:
        if data:
            data[int(where * (len(data) - 1))] = value
    path = tmp_path / "mangled.tar.gz"
    path.write_bytes(bytes(data))
    _read_everything(path)


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(which=st.integers(0, 100), body=_json | st.binary(max_size=40).map(lambda b: ("raw", b)))
def test_members_replaced_by_anything(good: Good, tmp_path: Path, which: int, body: Any) -> None:
    members = _members(good.data)
    name, _ = members[which % len(members)]
    raw = body[1] if isinstance(body, tuple) and body[:1] == ("raw",) else orjson.dumps(body)
    members[which % len(members)] = (name, raw)
    path = tmp_path / "mangled.tar.gz"
    path.write_bytes(_pack(members))
    _read_everything(path)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(manifest=st.dictionaries(st.sampled_from(["format", "format_version", "taken_at", "finished_at", "unreadable",
                                                 "namespace", "counts"]), _json, max_size=7))
def test_manifests_of_any_shape(good: Good, tmp_path: Path, manifest: dict[str, Any]) -> None:
    members = _members(good.data)
    base = orjson.loads(members[0][1])
    members[0] = ("manifest.json", orjson.dumps({**base, **manifest}))
    path = tmp_path / "mangled.tar.gz"
    path.write_bytes(_pack(members))
    _read_everything(path)
