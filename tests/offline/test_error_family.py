"""Every way a saved source can be unreadable ends in a NomadError that names the path and says
what to do, so one ``except NomadError`` in a notebook or a command covers them all."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from nomadlab.errors import NomadError
from nomadlab.history import HistoryFormatError
from nomadlab.offline import NotRecordedError, OfflineFormatError, open_recording, open_snapshot, open_source
from nomadlab.offline.archive import DebugArchiveError, open_debug_archive
from nomadlab.offline.inspect import inspect_path


@pytest.mark.parametrize("error", [OfflineFormatError, DebugArchiveError, HistoryFormatError, NotRecordedError])
def test_offline_errors_are_nomad_errors(error: type[Exception]) -> None:
    assert issubclass(error, NomadError)


def _bad(tmp_path: Path, what: str) -> Path:
    if what == "gzip junk":
        (tmp_path / "x.tar.gz").write_bytes(b"\x1f\x8b\x08 cut short")
        return tmp_path / "x.tar.gz"
    if what == "text":
        (tmp_path / "x.bin").write_bytes(b"hello")
        return tmp_path / "x.bin"
    if what == "empty folder":
        (tmp_path / "x").mkdir()
        return tmp_path / "x"
    (tmp_path / "x").mkdir()
    (tmp_path / "x" / "recording.json").write_text("{not json")
    return tmp_path / "x"


READERS: dict[str, Callable[[Path], Any]] = {
    "open_source": open_source, "open_debug_archive": open_debug_archive, "inspect_path": inspect_path,
}


CASES = [(reader, what) for reader in sorted(READERS)
         for what in ("gzip junk", "text", "empty folder", "bad recording header")
         if (reader, what) != ("open_debug_archive", "bad recording header")]  # open_source tells those apart


@pytest.mark.parametrize(("reader", "what"), CASES)
def test_unreadable_paths_are_named_nomad_errors(tmp_path: Path, reader: str, what: str) -> None:
    path = _bad(tmp_path, what)
    with pytest.raises(NomadError) as info:
        READERS[reader](path)
    assert str(path) in str(info.value)


@pytest.mark.parametrize("opener", [open_snapshot, open_recording], ids=["snapshot", "recording"])
def test_the_format_readers_name_what_is_wrong(tmp_path: Path, opener: Callable[[Path], Any]) -> None:
    path = _bad(tmp_path, "text")
    with pytest.raises(OfflineFormatError) as info:
        opener(path)
    assert str(path) in str(info.value)
