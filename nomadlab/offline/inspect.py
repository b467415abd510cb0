"""``nomadlab inspect PATH``: what a snapshot, recording, debug archive or Parquet history holds.

:func:`inspect_path` recognises the kind of ``PATH`` and returns an :class:`Inspection`: the
kind, a title, ``(label, value)`` facts, the time range, and the problems found. Snapshots
(``manifest.json`` with ``format`` ``nomadlab-snapshot``) and recordings (``recording.json``
with ``format`` ``nomadlab-recording``) are described from their manifest alone; a debug
archive is opened with :func:`~nomadlab.offline.archive.open_debug_archive`; a history root
from its Parquet footers (row counts and time statistics), without reading the rows.
"""

from __future__ import annotations

import json
import os
import tarfile
import warnings
import zipfile
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import pandas as pd

from ._files import OfflineFormatError

__all__ = ["Inspection", "inspect_path"]

Kind = Literal["snapshot", "recording", "debug-archive", "history"]
_MANIFESTS: dict[str, tuple[str, Kind]] = {"manifest.json": ("nomadlab-snapshot", "snapshot"),
                                           "recording.json": ("nomadlab-recording", "recording")}


@dataclass(frozen=True)
class Inspection:
    """What :func:`inspect_path` found."""

    kind: Kind
    title: str
    facts: tuple[tuple[str, str], ...]
    start: pd.Timestamp | None = None
    end: pd.Timestamp | None = None
    problems: tuple[str, ...] = field(default=())

    def render(self) -> str:
        """The inspection as the lines ``nomadlab inspect`` prints."""
        lines = [self.title]
        rng = "unknown"
        if self.start is not None:
            rng = self.start.isoformat() if self.end is None or self.end == self.start else \
                f"{self.start.isoformat()} → {self.end.isoformat()} ({self.end - self.start})"
        width = max([len(k) for k, _ in self.facts] + [len("time range")])
        lines.append(f"  {'time range'.ljust(width)}  {rng}")
        lines += [f"  {k.ljust(width)}  {v}" for k, v in self.facts]
        if self.problems:
            lines.append(f"  {len(self.problems)} problem(s):")
            lines += [f"    - {p}" for p in self.problems]
        return "\n".join(lines)


def _time(value: Any) -> pd.Timestamp | None:
    if value is None or value == "":
        return None
    try:
        ts = pd.Timestamp(value, unit="ns") if isinstance(value, int) and not isinstance(value, bool) \
            else pd.Timestamp(value)
    except (ValueError, TypeError, OverflowError):
        return None
    if pd.isna(ts):
        return None
    return ts.tz_localize("UTC") if ts.tzinfo is None else ts.tz_convert("UTC")


def _manifest_in(path: Path) -> tuple[str, dict[str, Any]] | None:
    """``(file name, manifest)`` of a snapshot or recording at ``path``, if it is one."""
    def parse(name: str, raw: bytes) -> tuple[str, dict[str, Any]] | None:
        try:
            data = json.loads(raw)
        except (ValueError, UnicodeDecodeError):
            return None
        fmt, _ = _MANIFESTS[name]
        return (name, data) if isinstance(data, dict) and data.get("format") == fmt else None

    if path.is_dir():
        for name in _MANIFESTS:
            if (path / name).is_file():
                found = parse(name, (path / name).read_bytes())
                if found:
                    return found
        return None
    if path.name in _MANIFESTS:
        return parse(path.name, path.read_bytes())
    if zipfile.is_zipfile(path):
        with zipfile.ZipFile(path) as z:
            for zinfo in z.infolist():
                base = zinfo.filename.rsplit("/", 1)[-1]
                if base in _MANIFESTS and zinfo.filename.count("/") <= 1:
                    return parse(base, z.read(zinfo))
        return None
    try:
        with tarfile.open(path) as tar:
            for info in tar:
                base = info.name.rsplit("/", 1)[-1]
                if base in _MANIFESTS and info.name.count("/") <= 1 and info.isfile():
                    fh = tar.extractfile(info)
                    return parse(base, fh.read()) if fh else None
    except (tarfile.TarError, OSError, EOFError):
        return None
    return None


def _count_of(value: Any) -> str:
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return str(value)
    if isinstance(value, (list, dict)):
        return str(len(value))
    return str(value)


def _from_manifest(path: Path, name: str, data: dict[str, Any]) -> Inspection:
    kind = _MANIFESTS[name][1]
    facts: list[tuple[str, str]] = [("format", f"{data.get('format')} version {data.get('format_version', '?')}")]
    for key in ("address", "region", "nomad_version", "nomadlab_version", "namespaces", "topics", "usage_every"):
        if data.get(key) not in (None, "", []):
            value = data[key]
            facts.append((key.replace("_", " "), ", ".join(map(str, value)) if isinstance(value, list) else str(value)))
    counts = data.get("counts") or data.get("objects") or data.get("kinds")
    if isinstance(counts, dict):
        for k, v in counts.items():
            facts.append((str(k), _count_of(v)))
    elif isinstance(counts, list):
        facts.append(("kinds", ", ".join(map(str, counts))))
    for key in ("events", "segments", "samples"):
        if key in data and data[key] not in (None, ""):
            facts.append((key, _count_of(data[key])))
    start = _time(data.get("taken_at") or data.get("started_at") or data.get("start"))
    end = _time(data.get("ended_at") or data.get("end") or data.get("last_at")) or start
    problems = data.get("unreadable") or data.get("errors") or {}
    listed = [f"{k}: {v}" for k, v in problems.items()] if isinstance(problems, dict) else \
        [str(p) for p in problems] if isinstance(problems, list) else []
    return Inspection(kind, f"{path}: nomadlab {kind}", tuple(facts), start, end, tuple(listed))


def _from_archive(path: Path) -> Inspection:
    from .archive import DebugArchiveWarning, open_debug_archive, summarize_problems

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DebugArchiveWarning)
        archive = open_debug_archive(path)
        problems = tuple(summarize_problems(archive.problems))
        facts: list[tuple[str, str]] = [
            ("layout", {"current": "Nomad 1.4+ (NDJSON interval files)", "array": "Nomad 1.2-1.3 (JSON arrays)",
                        "legacy": "Nomad 1.1 and before (version/, nomad/)"}[archive.layout]),
            ("started", archive.started_at.isoformat() if archive.started_at is not None else "unknown"),
            ("intervals", f"{len(archive.intervals)}"
             + (f" ({archive.intervals[0].folder}-{archive.intervals[-1].folder}, times from "
                f"{', '.join(sorted({i.time_source for i in archive.intervals}))})" if archive.intervals else "")),
            ("namespace", archive.namespace),
        ]
        for kind in ("jobs", "allocations", "nodes", "evaluations", "deployments"):
            facts.append((kind, str(len(archive.list(kind)))))
        if archive.event_topics:
            events = archive.events()
            topics = Counter(e.topic for e in events)
            facts.append(("events", f"{len(events)} (" + ", ".join(f"{t} {n}" for t, n in sorted(topics.items()))
                          + ")" if events else "0"))
        else:
            facts.append(("events", "none captured (no -event-topic)"))
        facts.append(("not held", "usage stats, job versions, scaling status, node pools, logs; full job specs "
                                  "and nodes only from the event stream"))
    start, end = archive.time_range()
    return Inspection("debug-archive", f"{path}: nomad operator debug archive {archive.name}", tuple(facts),
                      start, end, problems)


def _is_history(path: Path) -> bool:
    return path.is_dir() and any(
        any(p.is_dir() for p in (path / t).glob("cluster=*")) for t in ("usage", "events")
    ) or any(p.is_dir() for p in path.glob("cluster=*"))


def _from_history(path: Path) -> Inspection:
    import pyarrow.parquet as pq

    from nomadlab.history import TABLES, _cluster_dirs

    facts: list[tuple[str, str]] = []
    problems: list[str] = []
    lo: pd.Timestamp | None = None
    hi: pd.Timestamp | None = None
    for table in TABLES:
        for folder in _cluster_dirs(path, table):
            rows = files = 0
            t_lo: pd.Timestamp | None = None
            t_hi: pd.Timestamp | None = None
            days = sorted(p.name.removeprefix("date=") for p in folder.glob("date=*") if p.is_dir())
            for part in sorted(folder.glob("date=*/part-*.parquet")):
                try:
                    meta = pq.ParquetFile(part).metadata
                except (OSError, ValueError) as exc:
                    problems.append(f"{part.relative_to(path)}: not a readable Parquet file ({exc}); remove it or "
                                    f"write it again")
                    continue
                files += 1
                rows += meta.num_rows
                col = meta.schema.to_arrow_schema().get_field_index("time")
                for g in range(meta.num_row_groups):
                    stats = meta.row_group(g).column(col).statistics if col >= 0 else None
                    if stats is not None and stats.has_min_max:
                        a, b = _time(stats.min), _time(stats.max)
                        t_lo = a if t_lo is None or (a is not None and a < t_lo) else t_lo
                        t_hi = b if t_hi is None or (b is not None and b > t_hi) else t_hi
            cluster = folder.name.removeprefix("cluster=")
            span = f"{t_lo.isoformat()} → {t_hi.isoformat()}" if t_lo is not None and t_hi is not None else "no times"
            facts.append((f"{table} {cluster}", f"{rows} rows in {files} file(s), {len(days)} day(s) "
                                                f"({days[0] if days else '-'} … {days[-1] if days else '-'}), {span}"))
            if t_lo is not None:
                lo = t_lo if lo is None or t_lo < lo else lo
            if t_hi is not None:
                hi = t_hi if hi is None or t_hi > hi else hi
    return Inspection("history", f"{path}: nomadlab Parquet history", tuple(facts), lo, hi, tuple(problems))


def inspect_path(path: str | os.PathLike[str]) -> Inspection:
    """Describe what ``path`` holds (see the module notes).

    Raises
    ------
    FileNotFoundError
        ``path`` does not exist.
    OfflineFormatError
        ``path`` is none of the four kinds (the message names what each looks like); a
        ``ValueError`` and a :class:`~nomadlab.errors.NomadError`.
    """
    p = Path(path)
    if not p.exists():
        raise FileNotFoundError(f"{p} does not exist")
    found = _manifest_in(p)
    if found is not None:
        return _from_manifest(p, *found)
    if p.is_dir() and _is_history(p):
        return _from_history(p)
    from .archive import DebugArchiveError

    try:
        return _from_archive(p)
    except DebugArchiveError:
        pass
    raise OfflineFormatError(
        f"{p} is not something nomadlab can inspect: expected a snapshot (manifest.json with format "
        f"nomadlab-snapshot), a recording (recording.json with format nomadlab-recording), a nomad operator "
        f"debug archive (nomad-debug-*.tar.gz or its folder) or a Parquet history root (usage/ or events/ "
        f"with cluster=*/date=* folders)", path=p)
