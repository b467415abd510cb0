"""Recording segments on disk: which files, and their lines read back with damage reported."""

from __future__ import annotations

import re
import warnings
import zlib
from collections.abc import Iterator
from pathlib import Path

import orjson

from ._replay import TimedEvent
from .snapshot import OfflineDataWarning

__all__ = ["EVENTS", "segment_events", "segments", "trim_torn_line"]

EVENTS = "events"
_SEGMENT = re.compile(r"^segment-(\d{6})\.ndjson(\.gz)?$")


def segments(folder: Path) -> list[tuple[int, Path]]:
    """The segment files of ``folder/events``, in order (a plain file beside its own gzipped
    copy, left by a rotation cut short, is left out: the gzipped one is whole)."""
    out: dict[int, Path] = {}
    events = folder / EVENTS
    if not events.is_dir():
        return []
    for file in events.iterdir():
        m = _SEGMENT.match(file.name)
        if m is None:
            continue
        n = int(m.group(1))
        if n not in out or m.group(2):
            out[n] = file
    return sorted(out.items())


def trim_torn_line(file: Path) -> None:
    """Cut a last line without its newline (a write killed mid-line) off an open segment."""
    size = file.stat().st_size
    if size == 0:
        return
    with open(file, "rb+") as f:
        f.seek(max(0, size - 1))
        if f.read(1) == b"\n":
            return
        f.seek(0)
        data = f.read()
        keep = data.rfind(b"\n") + 1
        f.truncate(keep)


def _lines(file: Path) -> Iterator[tuple[int, bytes]]:
    """``(line number, line)`` of a segment; a gzip cut short or damaged yields what it held
    before the damage and warns."""
    if file.name.endswith(".gz"):
        decompressor = zlib.decompressobj(wbits=47)
        data = bytearray()
        error = None
        try:
            with open(file, "rb") as f:
                while chunk := f.read(1 << 20):
                    data += decompressor.decompress(chunk)
            data += decompressor.flush()
            if not decompressor.eof:
                error = "the gzip stream is cut short"
        except zlib.error as exc:
            error = f"the gzip data is damaged ({exc})"
        if error is not None:
            warnings.warn(f"{file}: {error}; the events before the damage are read, the rest are lost. "
                          "The recording's other segments are read whole.", OfflineDataWarning, stacklevel=4)
            cut = data.rfind(b"\n") + 1
            del data[cut:]
        body = bytes(data)
    else:
        body = file.read_bytes()
        if body and not body.endswith(b"\n"):
            body = body[: body.rfind(b"\n") + 1]   # a line being written, or cut by a kill
    for n, line in enumerate(body.split(b"\n"), start=1):
        if line.strip():
            yield n, line


def segment_events(file: Path, *, warn: bool = True) -> Iterator[TimedEvent]:
    bad: list[int] = []
    for n, line in _lines(file):
        try:
            obj = orjson.loads(line)
            read = "read" in obj
            te = TimedEvent(int(obj["time"]), obj["read"] if read else obj["event"], read=read)
            if not isinstance(te.event, dict):
                raise TypeError("event is not an object")
        except (orjson.JSONDecodeError, KeyError, TypeError, ValueError):
            bad.append(n)
            continue
        yield te
    if bad and warn:
        more = f" (and {len(bad) - 1} more)" if len(bad) > 1 else ""
        warnings.warn(f"{file}: line {bad[0]}{more} is not a recorded event and was skipped; every other line "
                      "is read", OfflineDataWarning, stacklevel=3)
