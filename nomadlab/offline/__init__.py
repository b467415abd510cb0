"""Offline sources: snapshots and recordings of a cluster, read back as sources.

Every notebook runs unchanged on a live cluster or on one of these:

- :func:`snapshot` saves every object the frames read into one file; :func:`open_snapshot`
  reads it back as a :class:`~nomadlab.sources.Source`.
- :func:`record` follows the event stream into a recording folder (a snapshot first, then
  rotating event segments); :func:`open_recording` reads it back as the latest state, and its
  ``at(t)`` as the cluster at any instant it covers.
- :func:`open_debug_archive` reads the archive ``nomad operator debug`` writes
  (:mod:`nomadlab.offline.archive`, loaded on first use: it needs pandas).
- :func:`open_source` opens any of these by looking at what the path holds.

See ``docs/offline.md`` for the formats and guarantees.
"""

from __future__ import annotations

import importlib
import os
from pathlib import Path
from typing import Any

# Imported here, at package import (they load nothing heavy: no pandas, no httpx), so that
# ``nomadlab.offline.snapshot`` is always the function and never the submodule of that name.
from ._files import OfflineFormatError
from ._stored import NotRecordedError
from .recording import Recording, open_recording, record
from .snapshot import OfflineDataWarning, Snapshot, open_snapshot, snapshot

__all__ = [
    "NotRecordedError",
    "OfflineDataWarning",
    "OfflineFormatError",
    "Recording",
    "open_debug_archive",
    "Snapshot",
    "open_recording",
    "open_snapshot",
    "open_source",
    "record",
    "snapshot",
]


def open_source(path: str | os.PathLike[str]) -> Any:
    """The offline source at ``path``, recognised by what it holds.

    - a recording folder (``recording.json``): :func:`open_recording`;
    - a snapshot (a ``.tar.gz`` whose first member is ``manifest.json`` of format
      ``nomadlab-snapshot``, or a folder holding that ``manifest.json``): :func:`open_snapshot`;
    - anything else: a ``nomad operator debug`` archive (``.tar.gz`` or extracted folder),
      read by :func:`open_debug_archive`.
    """
    where = Path(path)
    if not where.exists():
        raise FileNotFoundError(f"nothing at {where}: check the path")
    if where.is_dir() and (where / "recording.json").is_file():
        return open_recording(where)
    if _is_snapshot(where):
        return open_snapshot(where)
    from .archive import open_debug_archive

    return open_debug_archive(where)


def __getattr__(name: str) -> Any:
    # The archive reader needs pandas: loaded when first asked for, not at package import.
    if name in ("open_debug_archive", "DebugArchive", "DebugArchiveError", "DebugArchiveWarning"):
        return getattr(importlib.import_module("nomadlab.offline.archive"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


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
