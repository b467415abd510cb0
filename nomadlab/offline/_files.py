"""Files shared by snapshots and recordings: atomic writes, format checks, errors."""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterator, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any

import orjson

from nomadlab.errors import NomadError

__all__ = ["OfflineFormatError", "atomic_file", "check_format", "fsync_dir", "rfc3339_now", "write_json_atomic"]


class OfflineFormatError(NomadError, ValueError):
    """A snapshot or recording file cannot be read (truncated, corrupt, newer format).

    ``path`` names the file; the message says what to do.
    """

    def __init__(self, message: str, *, path: str | os.PathLike[str]) -> None:
        super().__init__(message)
        self.path = str(path)


def rfc3339_now() -> str:
    """The current UTC time as RFC3339 with nanosecond-free microseconds (``...Z``)."""
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def fsync_dir(folder: Path) -> None:
    """Flush a folder's entries (a rename in it) to disk where the platform allows it."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


@contextlib.contextmanager
def atomic_file(path: Path) -> Iterator[IO[bytes]]:
    """Write ``path`` through a temporary file in the same folder: flushed, fsynced, then
    renamed over ``path``. Until the rename, ``path`` (if it exists) is untouched; a failure
    or a kill leaves at most a ``.<name>.*.tmp`` file beside it."""
    folder = path.parent
    folder.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=folder)
    try:
        with os.fdopen(fd, "wb") as out:
            yield out
            out.flush()
            os.fsync(out.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    fsync_dir(folder)


def write_json_atomic(path: Path, obj: Any) -> None:
    """``obj`` as indented JSON at ``path``, written atomically (:func:`atomic_file`)."""
    with atomic_file(path) as out:
        out.write(orjson.dumps(obj, option=orjson.OPT_INDENT_2 | orjson.OPT_NON_STR_KEYS))


def check_format(header: Any, *, expected: str, version: int, path: str | os.PathLike[str]) -> Mapping[str, Any]:
    """``header`` (a decoded ``manifest.json`` or ``recording.json``) when it is of format
    ``expected`` at a version this nomadlab reads; else a clear :class:`OfflineFormatError`."""
    if not isinstance(header, Mapping) or header.get("format") != expected:
        found = header.get("format") if isinstance(header, Mapping) else type(header).__name__
        raise OfflineFormatError(f"{path} is not a {expected} file (format: {found!r})", path=path)
    found_version = header.get("format_version")
    if isinstance(found_version, bool) or not isinstance(found_version, int):
        raise OfflineFormatError(f"{path}: format_version {found_version!r} is not an integer; the file is "
                                 "damaged", path=path)
    if found_version > version:
        raise OfflineFormatError(
            f"{path} is {expected} format version {found_version}, newer than this nomadlab reads "
            f"(up to {version}): upgrade nomadlab (pip install -U nomadlab) to read it", path=path)
    if found_version < 1:
        raise OfflineFormatError(f"{path}: format_version {found_version} is not valid; the file is damaged",
                                 path=path)
    return header
