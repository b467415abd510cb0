"""Offline sources: snapshots and recordings of a cluster, read back as sources.

Every notebook runs unchanged on a live cluster or on one of these:

- :func:`snapshot` saves every object the frames read into one file; :func:`open_snapshot`
  reads it back as a :class:`~nomadlab.sources.Source`.
- :func:`record` follows the event stream into a recording folder (a snapshot first, then
  rotating event segments); :func:`open_recording` reads it back as the latest state, and its
  ``at(t)`` as the cluster at any instant it covers.
- :func:`open_source` opens any of these (and ``nomad operator debug`` archives, where
  :mod:`nomadlab.offline.archive` is installed) by looking at what the path holds.

See ``docs/offline.md`` for the formats and guarantees.
"""

from __future__ import annotations

import importlib
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

__all__ = [
    "NotRecordedError",
    "OfflineDataWarning",
    "OfflineFormatError",
    "Recording",
    "Snapshot",
    "open_recording",
    "open_snapshot",
    "open_source",
    "record",
    "snapshot",
]

_EXPORTS: dict[str, str] = {
    "NotRecordedError": "nomadlab.offline._stored",
    "OfflineDataWarning": "nomadlab.offline.snapshot",
    "OfflineFormatError": "nomadlab.offline._files",
    "Recording": "nomadlab.offline.recording",
    "Snapshot": "nomadlab.offline.snapshot",
    "open_recording": "nomadlab.offline.recording",
    "open_snapshot": "nomadlab.offline.snapshot",
    "record": "nomadlab.offline.recording",
    "snapshot": "nomadlab.offline.snapshot",
}

if TYPE_CHECKING:
    from nomadlab.offline._files import OfflineFormatError as OfflineFormatError
    from nomadlab.offline._stored import NotRecordedError as NotRecordedError
    from nomadlab.offline.recording import Recording as Recording
    from nomadlab.offline.recording import open_recording as open_recording
    from nomadlab.offline.recording import record as record
    from nomadlab.offline.snapshot import OfflineDataWarning as OfflineDataWarning
    from nomadlab.offline.snapshot import Snapshot as Snapshot
    from nomadlab.offline.snapshot import open_snapshot as open_snapshot
    from nomadlab.offline.snapshot import snapshot as snapshot


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'nomadlab.offline' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_EXPORTS))


def open_source(path: str | os.PathLike[str]) -> Any:
    """The offline source at ``path``, recognised by what it holds.

    - a recording folder (``recording.json``): :func:`open_recording`;
    - a snapshot (a ``.tar.gz`` whose first member is ``manifest.json`` of format
      ``nomadlab-snapshot``, or a folder holding that ``manifest.json``): :func:`open_snapshot`;
    - anything else: a ``nomad operator debug`` archive, read by
      ``nomadlab.offline.archive.open_debug_archive`` where that module is present.
    """
    where = Path(path)
    if not where.exists():
        raise FileNotFoundError(f"nothing at {where}: check the path")
    if where.is_dir() and (where / "recording.json").is_file():
        from nomadlab.offline.recording import open_recording

        return open_recording(where)
    if _is_snapshot(where):
        from nomadlab.offline.snapshot import open_snapshot

        return open_snapshot(where)
    try:
        archive = importlib.import_module("nomadlab.offline.archive")
    except ImportError:
        archive = None
    opener = getattr(archive, "open_debug_archive", None)
    if opener is None:
        raise ValueError(f"{where} is neither a nomadlab snapshot (manifest.json) nor a recording "
                         "(recording.json), and this nomadlab cannot read nomad operator debug archives")
    return opener(where)


def _is_snapshot(where: Path) -> bool:
    import orjson

    if where.is_dir():
        manifest = where / "manifest.json"
        if not manifest.is_file():
            return False
        try:
            head = orjson.loads(manifest.read_bytes())
        except orjson.JSONDecodeError:
            return True          # a damaged manifest: open_snapshot says what is wrong
        return isinstance(head, dict) and head.get("format") == "nomadlab-snapshot"
    import tarfile

    try:
        with tarfile.open(where, mode="r:gz") as tar:
            first = tar.next()
            return first is not None and first.name == "manifest.json"
    except (tarfile.TarError, EOFError, OSError):
        return False
