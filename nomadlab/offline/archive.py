"""``nomad operator debug`` archives as a :class:`~nomadlab.sources.Source`.

``open_debug_archive(path)`` reads the ``.tar.gz`` the CLI writes, or the folder it was
extracted to (or that ``-output`` wrote), in any of its layouts: Nomad 1.4+ (``cluster/``,
``interval/NNNN/`` files of NDJSON list stubs), 1.2–1.3 (the same folders, one JSON array per
file) and 1.1 and before (``version/``, ``nomad/NNNN/``). See ``docs/offline-archives.md``.

What an archive holds, and so what frames from it show:

- per interval: the list stubs of jobs, allocations (with task states, so ``tasks`` and
  ``task_events``), nodes, and the full evaluations and deployments, of the namespace the
  capture was made for (``-namespace``; ``default`` unless given);
- ``cluster/``: the node stubs at the start, the namespaces, agent and member information, and
  with ``-event-topic`` the event stream (:meth:`DebugArchive.events`).

What it does not hold: usage stats (``node_stats``, ``alloc_stats``), job versions and scaling
status (``job_versions``, ``scaling_events``), node pools, resources of allocations and nodes,
and logs; full job specs (``task_groups``) and full nodes (``node_events``) only where the
event stream was captured (``-event-topic Job``, ``Node``) and still held the event of the
job's or node's version at that interval (its payload is the full object). Asking for those gives a
:class:`DebugArchiveWarning` (lists) or a reason per object in :attr:`Details.errors`, never a
silently empty answer.

Times: interval files hold no time of their own. Each interval's time is, in order of trust,
the ``Timestamp`` of its ``metrics.json``, the modification time of its files (the tarball
keeps the time each was written), or the archive's start (its name) plus ``NNNN × -interval``.
:attr:`Interval.time_source` says which. Every object a list returns carries its interval:
``obj["nomadlab:interval"]`` (``"0003"``) and ``obj["nomadlab:captured_at"]`` (Unix ns).
A source reads one interval, the last by default; :meth:`DebugArchive.at` selects another.

Bad input never stops the reading of the rest: a member that is cut short (an interrupted
capture or copy) gives the objects before the cut; an ``{"Error": ...}`` file, an unreadable or
missing member is named in :attr:`DebugArchive.problems` with what to do, and warned about
when the archive is opened. Only an archive with nothing readable at all raises
:class:`DebugArchiveError`.
"""

from __future__ import annotations

import gzip
import json
import os
import re
import tarfile
import time
import warnings
import zlib
from collections.abc import Hashable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import pandas as pd

from nomadlab.sources import DETAIL_KINDS, LIST_KINDS, DetailKind, Details, ListKind
from nomadlab.streams import Event

from ._files import OfflineFormatError

__all__ = [
    "CAPTURED_KEY",
    "INTERVAL_KEY",
    "MISSING",
    "ArchiveProblem",
    "DebugArchive",
    "DebugArchiveError",
    "DebugArchiveWarning",
    "Interval",
    "open_debug_archive",
    "summarize_problems",
]

_List = list
INTERVAL_KEY = "nomadlab:interval"
"""The key each listed object carries its interval's folder name under (``"0003"``)."""
CAPTURED_KEY = "nomadlab:captured_at"
"""The key each listed object carries its interval's time under (Unix nanoseconds, UTC)."""

ArchiveLayout = Literal["current", "array", "legacy"]
NS_PER_S = 1_000_000_000

# What an archive does not hold, by what a source is asked: the reason a frame reports.
MISSING: dict[str, str] = {
    "node_pools": "debug archives hold no node pools (nomad operator debug does not capture /v1/node/pools)",
    "job": "debug archives hold job list stubs only, no full job specs (task groups, tasks, resources), "
           "unless captured with -event-topic Job; read them from a live cluster or a nomadlab snapshot",
    "job_versions": "debug archives hold no job versions; read them from a live cluster or a nomadlab snapshot",
    "job_scale": "debug archives hold no scaling status or scaling events; read them from a live cluster "
                 "or a nomadlab snapshot",
    "node": "debug archives hold node list stubs only, no full nodes (node events, attributes), unless "
            "captured with -event-topic Node; read them from a live cluster or a nomadlab snapshot",
    "node_stats": "debug archives hold no usage stats (nomad operator debug does not read /v1/client/stats); "
                  "sample usage with nomadlab.analysis.usage.sample_usage or a nomadlab recording",
    "alloc_stats": "debug archives hold no usage stats (nomad operator debug does not read allocation "
                   "stats); sample usage with nomadlab.analysis.usage.sample_usage or a nomadlab recording",
}
# Interval files by list kind.
_FILES: dict[str, str] = {"jobs": "jobs.json", "allocations": "allocations.json", "nodes": "nodes.json",
                          "evaluations": "evaluations.json", "deployments": "deployments.json"}
_NAMESPACED = frozenset({"jobs", "allocations", "evaluations", "deployments"})
# Per-object reads an event stream can answer: the topic whose payloads are the full objects.
_FROM_EVENTS: dict[str, str] = {"job": "Job", "node": "Node"}
_TOP = re.compile(r"nomad-debug-(\d{4}-\d{2}-\d{2}-\d{6}Z)\Z")
_INTERVAL_DIR = re.compile(r"(?:interval|nomad)/(\d{4})/([^/]+)\Z")
_GO_TIME = re.compile(r"(\d{4}-\d{2}-\d{2}) (\d{2}:\d{2}:\d{2})(\.\d+)? ([+-]\d{4})")
_PLAUSIBLE_S = 7 * 24 * 3600      # a capture's file times lie within a week of its start


class DebugArchiveError(OfflineFormatError):
    """The path is not a readable ``nomad operator debug`` archive (a :class:`~nomadlab.errors.NomadError`
    and a ``ValueError``, as every error of a saved source's format); ``path`` names it."""

    def __init__(self, message: str, *, path: str | os.PathLike[str] = "") -> None:
        super().__init__(message, path=path)


class DebugArchiveWarning(UserWarning):
    """Part of a debug archive cannot be read, or it does not hold what was asked."""


@dataclass(frozen=True)
class ArchiveProblem:
    """A member of the archive that could not be read (whole or in part), and what to do."""

    member: str
    message: str

    def __str__(self) -> str:
        return f"{self.member}: {self.message}"


@dataclass(frozen=True)
class Interval:
    """One ``interval/NNNN/`` capture: its number, folder, time and where the time came from."""

    number: int
    folder: str
    time: pd.Timestamp
    time_source: Literal["metrics", "mtime", "schedule"]


@dataclass
class _Parsed:
    value: Any = None
    objects: list[dict[str, Any]] | None = None
    error: str | None = None          # an {"Error": ...} file
    problem: str | None = None        # unreadable, or readable only in part


@dataclass
class _Content:
    """The members read from the archive, shared by every interval view of it."""

    path: Path
    top: str
    members: dict[str, bytes]
    mtimes: dict[str, float]
    problems: list[ArchiveProblem] = field(default_factory=list)
    parsed: dict[str, _Parsed] = field(default_factory=dict)
    warned: set[str] = field(default_factory=set)
    events: list[Event] | None = None


def open_debug_archive(path: str | os.PathLike[str]) -> DebugArchive:
    """Open a ``nomad operator debug`` archive (``.tar.gz``, ``.tgz`` or extracted folder).

    Warns (:class:`DebugArchiveWarning`) once for everything that cannot be read, naming each
    member; the rest is read.

    Raises
    ------
    FileNotFoundError
        ``path`` does not exist.
    DebugArchiveError
        ``path`` holds nothing of a debug archive (no ``index.json``, ``cluster/``,
        ``interval/`` or older ``version/``, ``nomad/`` members), or no member can be read.

    Examples
    --------
    >>> import tempfile
    >>> from nomadlab.sim import SimCluster
    >>> from nomadlab.sim.debug_archive import write_debug_archive
    >>> archive = open_debug_archive(write_debug_archive(SimCluster.default(), tempfile.mkdtemp(), intervals=2))
    >>> [i.folder for i in archive.intervals], archive.interval.folder
    (['0000', '0001'], '0001')
    >>> import nomadlab.frames as nf
    >>> len(nf.allocations(archive)) > 0
    True
    """
    p = Path(path)
    if not p.exists():
        raise FileNotFoundError(f"no debug archive at {p}: give the nomad-debug-*.tar.gz file or its extracted folder")
    content = _read_folder(p) if p.is_dir() else _read_tarball(p)
    archive = DebugArchive(content)
    _ = archive.problems    # decode every member now, so the warning names every problem
    if content.problems:
        lines = summarize_problems(content.problems)
        listed = "; ".join(lines[:8])
        more = f"; and {len(lines) - 8} more" if len(lines) > 8 else ""
        warnings.warn(f"debug archive {p.name}: {len(content.problems)} member(s) could not be read whole: "
                      f"{listed}{more} (the rest is read; see .problems)", DebugArchiveWarning, stacklevel=2)
    return archive


def summarize_problems(problems: Iterable[ArchiveProblem]) -> list[str]:
    """Problems as lines, those of the same file and message in several intervals as one
    (``interval/{0000,0001,0002}/license.json: ...``)."""
    groups: dict[tuple[str, str], list[str]] = {}
    for problem in problems:
        m = re.match(r"((?:interval|nomad)/)(\d{4})(/.*)\Z", problem.member)
        key = (f"{m.group(1)}*{m.group(3)}", problem.message) if m else (problem.member, problem.message)
        groups.setdefault(key, []).append(m.group(2) if m else "")
    lines = []
    for (member, message), folders in groups.items():
        if len(folders) > 1:
            member = member.replace("*", "{" + ",".join(folders) + "}")
        elif folders[0]:
            member = member.replace("*", folders[0])
        lines.append(f"{member}: {message}")
    return lines


def _strip_top(names: Iterable[str]) -> str:
    """The archive's top folder (``nomad-debug-<stamp>``), or "" when members have none."""
    tops = {n.split("/", 1)[0] for n in names if "/" in n}
    marks = ("index.json", "index.html", "cluster", "interval", "version", "nomad")
    if len(tops) == 1:
        top = next(iter(tops))
        if top not in marks:
            return top
    return ""


def _read_tarball(path: Path) -> _Content:
    members: dict[str, bytes] = {}
    mtimes: dict[str, float] = {}
    problems: list[ArchiveProblem] = []
    with open(path, "rb") as raw:
        gzipped = raw.read(2) == b"\x1f\x8b"
        raw.seek(0)
        stream: Any = gzip.GzipFile(fileobj=raw, mode="rb") if gzipped else raw
        try:
            tar = tarfile.open(fileobj=stream, mode="r|")  # noqa: SIM115 - closed by the with block below
        except (tarfile.TarError, OSError, EOFError, zlib.error) as exc:
            raise DebugArchiveError(f"{path} is not a tar archive ({exc}): give the nomad-debug-*.tar.gz "
                                    f"that nomad operator debug wrote, or the folder it was extracted to",
                                    path=path) from None
        current = "(the archive's first member)"
        last = "(its start)"
        try:
            with tar:
                for info in tar:
                    current = info.name
                    if not info.isfile():
                        continue
                    fh = tar.extractfile(info)
                    if fh is None:
                        continue
                    members[info.name] = fh.read()
                    mtimes[info.name] = float(info.mtime)
                    last = info.name
                current = ""
                while stream.read(1 << 20):     # to the end: a cut gzip stream fails here
                    pass
        except (tarfile.TarError, OSError, EOFError, zlib.error) as exc:
            if current:
                members.pop(current, None)
                problems.append(ArchiveProblem(
                    current, f"the archive ends inside this member ({type(exc).__name__}: {exc}); it and every "
                             f"member after it are missing. The file was cut short (an interrupted copy or capture): "
                             f"copy it again from where nomad operator debug wrote it"))
            else:
                problems.append(ArchiveProblem(
                    "(after " + last + ")", f"the archive ends before its end marker ({type(exc).__name__}: {exc}); "
                    f"members after {last} are missing. The file was cut short (an interrupted copy or capture): "
                    f"copy it again from where nomad operator debug wrote it"))
    top = _strip_top(members)
    strip = len(top) + 1 if top else 0
    content = _Content(path, top, {n[strip:]: b for n, b in members.items()},
                       {n[strip:]: t for n, t in mtimes.items()}, problems)
    _check(content)
    return content


def _read_folder(path: Path) -> _Content:
    root = path
    if not any((path / m).exists() for m in ("index.json", "cluster", "interval", "version", "nomad")):
        inner = sorted(d for d in path.glob("nomad-debug-*") if d.is_dir())
        if len(inner) == 1:
            root = inner[0]
    members: dict[str, bytes] = {}
    mtimes: dict[str, float] = {}
    problems: list[ArchiveProblem] = []
    for f in sorted(root.rglob("*")):
        if not f.is_file():
            continue
        rel = f.relative_to(root).as_posix()
        try:
            members[rel] = f.read_bytes()
            mtimes[rel] = f.stat().st_mtime
        except OSError as exc:
            problems.append(ArchiveProblem(rel, f"cannot be read ({exc}); check its permissions"))
    content = _Content(root, root.name if _TOP.match(root.name) else "", members, mtimes, problems)
    _check(content)
    return content


def _check(content: _Content) -> None:
    known = [n for n in content.members
             if n in ("index.json", "index.html") or n.split("/", 1)[0] in ("cluster", "interval", "version", "nomad")]
    if not known:
        cut = f" ({content.problems[0]})" if content.problems else ""
        raise DebugArchiveError(f"{content.path} holds no nomad operator debug capture (no index.json, cluster/ "
                                f"or interval/ member){cut}: give the nomad-debug-*.tar.gz or its extracted folder",
                                path=content.path)


# -- decoding members ---------------------------------------------------------------------


def _salvage_array(text: str) -> tuple[list[Any], bool]:
    """The complete elements of a JSON array cut short, and whether anything was cut."""
    decoder = json.JSONDecoder()
    out: list[Any] = []
    pos = text.index("[") + 1
    while True:
        while pos < len(text) and text[pos] in " \t\r\n,":
            pos += 1
        if pos >= len(text):
            return out, True
        if text[pos] == "]":
            return out, False
        try:
            value, pos = decoder.raw_decode(text, pos)
        except json.JSONDecodeError:
            return out, True
        out.append(value)


def _parse(member: str, data: bytes, *, many: bool) -> _Parsed:
    """A member decoded: one JSON value, or (``many``) objects from NDJSON or one array."""
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        return _Parsed(problem=f"is not UTF-8 text ({exc}); the member is damaged: capture again")
    stripped = text.strip()
    if not stripped:
        # the CLI writes nothing for an empty list in NDJSON
        return _Parsed(value=[], objects=[]) if many else _Parsed(problem="is empty")
    if not many:
        try:
            value = json.loads(stripped)
        except json.JSONDecodeError as exc:
            return _Parsed(problem=f"is not valid JSON ({exc.msg} at character {exc.pos}); it was cut short or "
                                   f"damaged: capture again")
        if isinstance(value, dict) and set(value) == {"Error"}:
            return _Parsed(error=str(value["Error"]))
        return _Parsed(value=value)
    if stripped.startswith("["):
        try:
            items = json.loads(stripped)
            cut = False
        except json.JSONDecodeError:
            items, cut = _salvage_array(stripped)
        objects, dropped = _objects(items)
        problem = None
        if cut:
            problem = (f"is cut short after {len(objects)} complete object(s) (an interrupted capture or copy); "
                       f"those are read, the rest is lost: capture again for all of it")
        elif dropped:
            problem = f"has {dropped} element(s) that are not objects; they are skipped"
        return _Parsed(value=objects, objects=objects, problem=problem)
    objects = []
    bad: list[int] = []
    lines = text.split("\n")
    for n, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            value = json.loads(line)
        except json.JSONDecodeError:
            bad.append(n)
            continue
        if isinstance(value, dict) and set(value) == {"Error"} and not objects and n == 1:
            return _Parsed(error=str(value["Error"]))
        if isinstance(value, dict):
            objects.append(value)
        else:
            bad.append(n)
    problem = None
    if bad:
        last = len(lines) if lines[-1].strip() else len(lines) - 1
        if bad == [last] and not text.endswith("\n"):
            problem = (f"is cut short in line {last} (an interrupted capture or copy); the {len(objects)} "
                       f"complete line(s) before it are read: capture again for all of it")
        else:
            shown = ", ".join(map(str, bad[:5])) + (" ..." if len(bad) > 5 else "")
            problem = (f"line(s) {shown} are not JSON objects and are skipped; {len(objects)} object(s) read. "
                       f"The member is damaged: capture again for all of it")
    return _Parsed(value=objects, objects=objects, problem=problem)


def _objects(items: Any) -> tuple[list[dict[str, Any]], int]:
    if not isinstance(items, list):
        return ([items], 0) if isinstance(items, dict) else ([], 1)
    objects = [o for o in items if isinstance(o, dict)]
    return objects, len(items) - len(objects)


def _go_time(text: Any) -> pd.Timestamp | None:
    """A Go ``time.Time.String()`` (``2026-01-01 00:00:30.12 +0000 UTC``) or RFC 3339 time."""
    if not isinstance(text, str):
        return None
    m = _GO_TIME.match(text)
    try:
        if m:
            date, clock, frac, zone = m.groups()
            return pd.Timestamp(f"{date}T{clock}{frac or ''}{zone[:3]}:{zone[3:]}").tz_convert("UTC")
        ts = pd.Timestamp(text)
    except (ValueError, TypeError):
        return None
    return ts.tz_localize("UTC") if ts.tzinfo is None else ts.tz_convert("UTC")


# -- the source ---------------------------------------------------------------------------


class DebugArchive:
    """A ``nomad operator debug`` archive as a :class:`~nomadlab.sources.Source` of one interval.

    Made by :func:`open_debug_archive`. :attr:`intervals` lists the captures;
    :attr:`interval` is the one this source answers from (the last, unless chosen with
    :meth:`at`). See the module notes for what archives hold and lack.
    """

    def __init__(self, content: _Content, interval: int | None = None) -> None:
        self._content = content
        self.layout: ArchiveLayout = self._layout()
        self.started_at: pd.Timestamp | None = self._started()
        self.flags: dict[str, str] = self._flags()
        self.namespace: str = self.flags.get("namespace") or "default"
        topics = self.flags.get("event-topic")
        self.event_topics: tuple[str, ...] = () if topics in (None, "", "none") else tuple(str(topics).split(","))
        self.intervals: tuple[Interval, ...] = self._intervals()
        self._check_manifest()
        if not self.intervals and interval is None:
            self._note("interval/", "holds no interval capture: the capture stopped before its first interval; "
                                    "only cluster/ is read (nodes and namespaces)")
        chosen = interval if interval is not None else (self.intervals[-1].number if self.intervals else None)
        self.interval: Interval | None = next((i for i in self.intervals if i.number == chosen), None)

    # -- what the archive is --------------------------------------------------------------

    @property
    def path(self) -> Path:
        """The archive file or folder read."""
        return self._content.path

    @property
    def name(self) -> str:
        """The archive's top folder name (``nomad-debug-<stamp>``), or its file name."""
        return self._content.top or self._content.path.name

    @property
    def members(self) -> tuple[str, ...]:
        """Every member read, by path under the top folder."""
        return tuple(self._content.members)

    @property
    def manifest(self) -> list[str] | None:
        """``index.json``: the paths the CLI wrote (``eventstream.json`` is never in it)."""
        parsed = self._member("index.json", many=False)
        return [str(x) for x in parsed.value] if isinstance(parsed.value, list) else None

    @property
    def problems(self) -> tuple[ArchiveProblem, ...]:
        """Every member that could not be read whole, with why and what to do."""
        for name in self._content.members:
            if name.endswith(".json"):
                self._member(name, many=self._is_list(name))
        return tuple(self._content.problems)

    def __repr__(self) -> str:
        at = f", interval {self.interval.folder} at {self.interval.time.isoformat()}" if self.interval else ""
        return f"DebugArchive({self.name!r}, layout={self.layout!r}, {len(self.intervals)} interval(s){at})"

    def _check_manifest(self) -> None:
        """Name what ``index.json`` lists that is not in the archive (a cut or partial copy)."""
        if "index.json" not in self._content.members:
            return
        listed = self.manifest
        if listed is None:
            return
        absent = [m for m in listed if m not in self._content.members]
        if absent:
            shown = ", ".join(absent[:5]) + (f" and {len(absent) - 5} more" if len(absent) > 5 else "")
            self._note("index.json", f"lists {len(absent)} member(s) that are not in the archive: {shown}. The "
                                     f"archive is incomplete (cut short, or copied in part): copy it again")

    def _layout(self) -> ArchiveLayout:
        names = self._content.members
        if any(n.startswith(("nomad/", "version/")) for n in names):
            return "legacy"
        for name in sorted(n for n in names if _INTERVAL_DIR.match(n) and n.endswith(
                ("/jobs.json", "/allocations.json", "/evaluations.json", "/nodes.json", "/deployments.json"))):
            head = names[name].lstrip()[:1]
            if head == b"[":
                return "array"
            if head == b"{":
                return "current"
        return "current"

    def _started(self) -> pd.Timestamp | None:
        m = _TOP.match(self.name) or _TOP.match(self._content.path.name.removesuffix(".tar.gz").removesuffix(".tgz"))
        if not m:
            return None
        return pd.Timestamp(time.strftime("%Y-%m-%dT%H:%M:%S", time.strptime(m.group(1), "%Y-%m-%d-%H%M%SZ")),
                            tz="UTC")

    def _cluster_dir(self) -> str:
        return "version" if self.layout == "legacy" else "cluster"

    def _flags(self) -> dict[str, str]:
        if f"{self._cluster_dir()}/cli-flags.json" not in self._content.members:
            return {}
        parsed = self._member(f"{self._cluster_dir()}/cli-flags.json", many=False)
        actual = parsed.value.get("Actual") if isinstance(parsed.value, dict) else None
        if not isinstance(actual, dict):
            return {}
        return {str(k): str(v.get("Value", "")) for k, v in actual.items() if isinstance(v, dict)}

    def _interval_s(self) -> float:
        try:
            return float(pd.Timedelta(self.flags.get("interval") or "30s").total_seconds())
        except ValueError:
            return 30.0

    def _intervals(self) -> tuple[Interval, ...]:
        folders: dict[int, str] = {}
        prefix: dict[int, str] = {}
        for name in self._content.members:
            m = _INTERVAL_DIR.match(name)
            if m:
                folders[int(m.group(1))] = m.group(1)
                prefix[int(m.group(1))] = name.split("/", 1)[0]
        out = []
        start = self.started_at
        for number in sorted(folders):
            folder = f"{prefix[number]}/{folders[number]}"
            when, source = None, "schedule"
            metrics = self._member(f"{folder}/metrics.json", many=False) \
                if f"{folder}/metrics.json" in self._content.members else _Parsed()
            if isinstance(metrics.value, dict):
                when = _go_time(metrics.value.get("Timestamp"))
                source = "metrics" if when is not None else source
            if when is None:
                times = [t for n, t in self._content.mtimes.items() if n.startswith(folder + "/")]
                if times and (start is None or 0 <= max(times) - start.timestamp() <= _PLAUSIBLE_S):
                    when, source = pd.Timestamp(int(max(times)), unit="s", tz="UTC"), "mtime"
            if when is None:
                base = start if start is not None else pd.Timestamp(0, tz="UTC")
                when, source = base + pd.Timedelta(seconds=number * self._interval_s()), "schedule"
            out.append(Interval(number, folders[number], when, source))  # type: ignore[arg-type]
        return tuple(out)

    def at(self, interval: int | str | Any = None) -> DebugArchive:
        """This archive as a source of another interval.

        ``interval`` is an interval number (``3``), a folder name (``"0003"``), a time (the
        last interval captured at or before it) or ``None`` (the last).

        Raises
        ------
        KeyError
            No such interval (the message lists those there are).
        """
        if interval is None:
            return DebugArchive(self._content)
        folders = ", ".join(i.folder for i in self.intervals) or "none"
        if isinstance(interval, (int, str)) and not isinstance(interval, bool) and \
                (isinstance(interval, int) or interval.isdigit()):
            number = int(interval)
            if not any(i.number == number for i in self.intervals):
                raise KeyError(f"no interval {interval!r} in {self.name}; intervals: {folders}")
            return DebugArchive(self._content, number)
        when = pd.Timestamp(interval)
        when = when.tz_localize("UTC") if when.tzinfo is None else when.tz_convert("UTC")
        before = [i for i in self.intervals if i.time <= when]
        if not before:
            first = self.intervals[0].time.isoformat() if self.intervals else "never"
            raise KeyError(f"no interval of {self.name} was captured at or before {when.isoformat()}; "
                           f"the first was at {first}")
        return DebugArchive(self._content, before[-1].number)

    # -- members --------------------------------------------------------------------------

    @staticmethod
    def _is_list(name: str) -> bool:
        base = name.rsplit("/", 1)[-1]
        if _INTERVAL_DIR.match(name):
            return base in (*_FILES.values(), "csi-plugins.json", "csi-volumes.json", "plugins.json")
        return base == "eventstream.json"

    def _note(self, member: str, message: str) -> None:
        problem = ArchiveProblem(member, message)
        if problem not in self._content.problems:
            self._content.problems.append(problem)

    def _member(self, name: str, *, many: bool) -> _Parsed:
        cache = self._content.parsed
        if name not in cache:
            data = self._content.members.get(name)
            if data is None:
                cache[name] = _Parsed(problem="is missing from the archive")
            else:
                cache[name] = _parse(name, data, many=many)
                got = cache[name]
                if got.problem:
                    self._note(name, got.problem)
                if got.error is not None:
                    self._note(name, f"Nomad could not capture it: {got.error}. {_what_to_do(got.error)}")
        return cache[name]

    def _warn(self, message: str) -> None:
        if message not in self._content.warned:
            self._content.warned.add(message)
            warnings.warn(message, DebugArchiveWarning, stacklevel=4)

    def read(self, member: str) -> Any:
        """One member decoded (list files as a list of objects); ``None`` when it is missing or
        holds an error (then in :attr:`problems`)."""
        parsed = self._member(member, many=self._is_list(member))
        return parsed.objects if parsed.objects is not None else parsed.value

    # -- Source -------------------------------------------------------------------------

    def list(self, kind: ListKind, *, namespace: str = "*", filter: str | None = None) -> list[dict[str, Any]]:
        """The objects of ``kind`` in the selected interval (``namespaces``: ``cluster/``),
        each with :data:`INTERVAL_KEY` and :data:`CAPTURED_KEY`; ``filter`` is applied as
        Nomad's ``?filter=`` would be."""
        if kind not in LIST_KINDS:
            raise ValueError(f"unknown list kind {kind!r}; expected one of {', '.join(LIST_KINDS)}")
        if kind in MISSING:
            self._warn(f"{self.name}: {MISSING[kind]}; the list is empty")
            return []
        stamp: tuple[str | None, pd.Timestamp | None] | None = None
        if kind == "namespaces":
            member = f"{self._cluster_dir()}/namespaces.json"
            objects = self._objects_of(member, kind)
        elif self.interval is None:
            if kind == "nodes" and self.layout != "legacy":
                member = "cluster/nodes.json"
                objects = self._objects_of(member, kind)
                stamp = (None, self.started_at)
            else:
                self._warn(f"{self.name} holds no interval capture, so no {kind}: the capture stopped before its "
                           f"first interval; run nomad operator debug for at least one -interval")
                return []
        else:
            prefix = "nomad" if self.layout == "legacy" else "interval"
            member = f"{prefix}/{self.interval.folder}/{_FILES[kind]}"
            objects = self._objects_of(member, kind)
            stamp = (self.interval.folder, self.interval.time)
        if kind in _NAMESPACED and namespace != "*":
            objects = [o for o in objects if o.get("Namespace") == namespace]
            if self.namespace not in ("*", namespace):
                self._warn(f"{self.name} was captured for namespace {self.namespace!r} only (-namespace), so it "
                           f"holds no {kind} of namespace {namespace!r}")
        elif kind in _NAMESPACED and self.namespace != "*":
            self._warn(f"{self.name} was captured for namespace {self.namespace!r} only: its jobs, allocations, "
                       f"evaluations and deployments are those of {self.namespace!r} (capture with "
                       f"-namespace='*' for all)")
        if filter:
            from nomadlab.sim.bexpr import compile_filter

            test = compile_filter(filter)
            objects = [o for o in objects if test(o)]
        if stamp is None:
            return [dict(o) for o in objects]
        folder, when = stamp
        ns = None if when is None else int(when.value)
        return [{**o, INTERVAL_KEY: folder, CAPTURED_KEY: ns} for o in objects]

    def _objects_of(self, member: str, kind: str) -> _List[dict[str, Any]]:
        parsed = self._member(member, many=kind != "namespaces")
        if parsed.error is not None:
            self._warn(f"{self.name}: {member} holds no {kind}: Nomad could not capture it ({parsed.error}). "
                       f"{_what_to_do(parsed.error)}")
            return []
        if parsed.objects is None and not isinstance(parsed.value, list):
            self._warn(f"{self.name}: {member} {parsed.problem or 'is not a list'}; no {kind} from it")
            return []
        if parsed.problem:
            self._warn(f"{self.name}: {member} {parsed.problem}")
        objects, _ = _objects(parsed.objects if parsed.objects is not None else parsed.value)
        return objects

    def details(self, kind: DetailKind, keys: Sequence[Hashable]) -> Details:
        """Per-object reads, which archives do not hold: every key gets the reason in
        :attr:`Details.errors` (see :data:`MISSING`)."""
        if kind not in DETAIL_KINDS:
            raise ValueError(f"unknown detail kind {kind!r}; expected one of {', '.join(DETAIL_KINDS)}")
        if kind in _FROM_EVENTS and keys and any(e.topic == _FROM_EVENTS[kind] for e in self._events_quiet()):
            return self._details_from_events(kind, keys)
        if keys:
            self._warn(f"{self.name}: {MISSING[kind]}")
        return Details({}, {key: MISSING[kind] for key in keys})

    def _events_quiet(self) -> _List[Event]:
        if f"{self._cluster_dir()}/eventstream.json" not in self._content.members:
            return []
        if self._content.events is None:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", DebugArchiveWarning)
                self._content.events = self.events()
        return self._content.events

    def _details_from_events(self, kind: DetailKind, keys: Sequence[Hashable]) -> Details:
        """Full jobs or nodes from the event stream's payloads: for each key, the object of the
        event at the interval stub's own version (a job's ``JobModifyIndex``, a node's
        ``ModifyIndex``), so it is what the cluster held at that interval."""
        topic = _FROM_EVENTS[kind]
        listed = self.list("jobs" if kind == "job" else "nodes")
        stubs: dict[Hashable, dict[str, Any]] = {}
        for stub in listed:
            key = (stub.get("Namespace"), stub.get("ID")) if kind == "job" else stub.get("ID")
            stubs[key] = stub
        field_name = "JobModifyIndex" if kind == "job" else "ModifyIndex"
        found: dict[Hashable, Any] = {}
        for event in self._events_quiet():
            if event.topic != topic:
                continue
            obj = event.payload.get(topic)
            if not isinstance(obj, dict):
                continue
            key = (obj.get("Namespace"), obj.get("ID")) if kind == "job" else obj.get("ID")
            at = stubs.get(key)
            if at is not None and obj.get(field_name) == at.get(field_name) and \
                    (not isinstance(at.get("ModifyIndex"), int) or event.index <= at["ModifyIndex"]):
                found[key] = obj          # the latest event at that version, up to the stub
        errors: dict[Hashable, str] = {}
        for key in keys:
            if key in found:
                continue
            if key not in stubs:
                folder = self.interval.folder if self.interval else "-"
                errors[key] = f"not in the {kind} list of interval {folder}"
            else:
                errors[key] = (f"the archive's event stream holds no {topic} event at this {kind}'s {field_name} "
                               f"{stubs[key].get(field_name)} (the stream keeps the last events only); "
                               f"{MISSING[kind]}")
        if errors:
            self._warn(f"{self.name}: {len(errors)} {kind}(s) are not in the archive's event stream at their "
                       f"version: {MISSING[kind]}")
        return Details({k: found[k] for k in keys if k in found}, errors)

    def events(self) -> _List[Event]:
        """The captured event stream (``cluster/eventstream.json``; empty, with a warning, when
        the capture was made without ``-event-topic``). Archive events carry no namespace of
        their own (the CLI's ``api.Event`` has none): it is taken from the payload object."""
        member = f"{self._cluster_dir()}/eventstream.json"
        if member not in self._content.members:
            self._warn(f"{self.name} holds no event stream: it was captured without -event-topic")
            return []
        parsed = self._member(member, many=True)
        if parsed.problem:
            self._warn(f"{self.name}: {member} {parsed.problem}")
        out: _List[Event] = []
        for i, obj in enumerate(parsed.objects or []):
            if "Namespace" not in obj:
                payload = obj.get("Payload")
                inner = next(iter(payload.values()), None) if isinstance(payload, dict) and payload else None
                obj = {**obj, "Namespace": inner.get("Namespace", "") if isinstance(inner, dict) else ""}
            try:
                out.append(Event.from_wire(obj))
            except (TypeError, AttributeError, ValueError) as exc:
                self._note(member, f"event {i + 1} is not a Nomad event ({exc}); skipped")
        return out

    def time_range(self) -> tuple[pd.Timestamp | None, pd.Timestamp | None]:
        """The first and last interval times (the start stamp when there is no interval)."""
        if not self.intervals:
            return self.started_at, self.started_at
        return self.intervals[0].time, self.intervals[-1].time


def _what_to_do(error: str) -> str:
    low = error.lower()
    if "403" in low or "permission denied" in low:
        return "Capture again with a token (NOMAD_TOKEN) allowed to read it."
    if "404" in low:
        return "This Nomad does not serve that endpoint; nothing to do."
    if "enterprise only" in low:
        return "The community edition has no license to capture; nothing to do."
    return "Capture again once the cluster answers that endpoint."
