"""The archive reader on mangled members: it never fails on them, and names what it could not read."""

from __future__ import annotations

import io
import tarfile
import tempfile
import warnings
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from nomadlab.offline.archive import DebugArchiveError, DebugArchiveWarning, open_debug_archive
from nomadlab.sim import SimCluster
from nomadlab.sim.debug_archive import DebugCapture
from nomadlab.sources import LIST_KINDS

_cluster = SimCluster.default(seed=11)
_capture = DebugCapture(_cluster, namespace="*", event_topics=["*"])
for _n in range(2):
    if _n:
        _cluster.advance(30)
    _capture.capture_interval()
MEMBERS = _capture.members()
TARGETS = sorted(n for n in MEMBERS if n.endswith(".json"))


def _mangle(data: bytes, how: str, at: float, junk: bytes) -> bytes:
    cut = int(len(data) * at)
    return {
        "truncate": data[:cut],
        "garbage-line": data[:cut] + b"\n" + junk + b"\n" + data[cut:],
        "flip": data[:cut] + bytes([data[cut] ^ 0xFF]) + data[cut + 1:] if cut < len(data) else data + junk,
        "replace": junk,
        "empty": b"",
        "error": b'{"Error":"' + junk.hex().encode() + b'"}',
        "not-object": b"[1, 2, \"three\", null]" if at < 0.5 else b"42\n\"x\"\n",
    }[how]


mangles = st.tuples(
    st.sampled_from(TARGETS),
    st.sampled_from(["truncate", "garbage-line", "flip", "replace", "empty", "error", "not-object"]),
    st.floats(0.0, 1.0),
    st.binary(max_size=40),
)


def _read_everything(path: Path) -> list[str]:
    """Open the archive and ask it every list; the warnings raised, as text."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        archive = open_debug_archive(path)
        for interval in (0, 1):
            view = archive.at(interval) if any(i.number == interval for i in archive.intervals) else archive
            for kind in LIST_KINDS:
                objects = view.list(kind)  # type: ignore[arg-type]
                assert isinstance(objects, list) and all(isinstance(o, dict) for o in objects)
        archive.events()
        problems = [str(p) for p in archive.problems]
    assert all(issubclass(w.category, DebugArchiveWarning) for w in caught), [str(w.message) for w in caught]
    return problems


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(mangles, min_size=1, max_size=3))
def test_mangled_members_never_fail_the_reader(changes: list[tuple[str, str, float, bytes]]) -> None:
    files = dict(MEMBERS)
    for member, how, at, junk in changes:
        files[member] = _mangle(files[member], how, at, junk)
    with tempfile.TemporaryDirectory() as tmp:
        top = Path(tmp) / _capture.name
        for rel, data in files.items():
            (top / rel).parent.mkdir(parents=True, exist_ok=True)
            (top / rel).write_bytes(data)
        problems = _read_everything(top)
    last = {member: how for member, how, _, _ in changes}
    for member, how in last.items():
        if how == "error":                      # an {"Error": ...} file is always named
            assert any(p.startswith(f"{member}: Nomad could not capture it") for p in problems), (member, problems)
        cut = files[member]
        at_line_end = cut.endswith(b"\n") or MEMBERS[member][len(cut):len(cut) + 1] == b"\n"
        if how == "truncate" and member.startswith("interval/") and cut.strip() and not at_line_end \
                and cut != MEMBERS[member]:       # a cut between two lines leaves valid NDJSON
            assert any(p.startswith(member) for p in problems), (member, problems)


def _tarball(files: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tar:
        for rel in sorted(files):
            info = tarfile.TarInfo(f"{_capture.name}/{rel}")
            info.size = len(files[rel])
            tar.addfile(info, io.BytesIO(files[rel]))
    return buf.getvalue()


WHOLE = _tarball(MEMBERS)


@settings(max_examples=60, deadline=None)
@given(st.integers(0, len(WHOLE)), st.binary(max_size=16))
def test_a_cut_or_damaged_tarball_reads_what_precedes_the_damage(cut: int, junk: bytes) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / f"{_capture.name}.tar.gz"
        path.write_bytes(WHOLE[:cut] + junk)
        try:
            problems = _read_everything(path)
        except DebugArchiveError as exc:
            assert "nomad operator debug" in str(exc) or "tar archive" in str(exc)
            return
    if cut < len(WHOLE):
        assert problems, "a cut archive names where it ends"


def test_the_unmangled_archive_has_only_the_unserved_endpoints_as_problems() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "a.tar.gz"
        path.write_bytes(WHOLE)
        problems = _read_everything(path)
    assert problems and all("404" in p or "Enterprise only" in p for p in problems)
    assert all(p.endswith("nothing to do.") for p in problems)


@pytest.mark.parametrize("how", ["truncate", "garbage-line"])
def test_a_damaged_list_member_is_named(how: str) -> None:
    member = "interval/0001/allocations.json"
    files = dict(MEMBERS)
    files[member] = _mangle(files[member], how, 0.5, b"}{not json")
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "a.tar.gz"
        path.write_bytes(_tarball(files))
        problems = _read_everything(path)
    assert any(p.startswith(member) for p in problems)
