"""Snapshots: every object the frames read, saved to one file, and read back as a source.

>>> import tempfile, pathlib
>>> from nomadlab.sim import SimCluster
>>> from nomadlab.client import NomadClient
>>> import nomadlab.frames as nf
>>> client = NomadClient(transport=SimCluster.default().transport())
>>> path = snapshot(client, pathlib.Path(tempfile.mkdtemp()) / "cluster.tar.gz")
>>> snap = open_snapshot(path)
>>> nf.jobs(snap).equals(nf.jobs(client))
True

Layout (one gzip-compressed tar file, ``.tar.gz``; members in this order):

- ``manifest.json``: ``{"format": "nomadlab-snapshot", "format_version": 1, "taken_at",
  "finished_at", "address", "region", "namespace", "namespaces", "nomad_version",
  "nomadlab_version", "unreadable": {kind: reason}, "counts": {kind: n}}``;
- ``lists/<kind>.json``: the list endpoint's objects for every kind of
  :data:`~nomadlab.sources.LIST_KINDS`, as Nomad sent them;
- ``details/<kind>.json``: ``{"objects": [[key, object], ...], "errors": [[key, message], ...]}``
  for every kind of :data:`~nomadlab.sources.DETAIL_KINDS` (keys ``[namespace, job_id]`` for
  job reads, IDs for the others).

The file is written through a temporary file in the same folder (flushed, fsynced, renamed), so
a snapshot already at ``path`` survives a write that fails or is killed at any point. An
extracted snapshot (a folder holding ``manifest.json``) reads the same.
"""

from __future__ import annotations

import io
import os
import tarfile
import time
import warnings
import zlib
from collections.abc import Callable, Hashable, Mapping
from datetime import datetime
from pathlib import Path
from typing import Any

import orjson

from nomadlab.errors import NomadError
from nomadlab.sources import DETAIL_KINDS, LIST_KINDS, Source, as_source

from ._files import OfflineFormatError, atomic_file, check_format, rfc3339_now
from ._stored import StoredSource, detail_key, parse_time

__all__ = [
    "FORMAT",
    "FORMAT_VERSION",
    "OfflineDataWarning",
    "Snapshot",
    "open_snapshot",
    "read_cluster",
    "snapshot",
]

FORMAT = "nomadlab-snapshot"
FORMAT_VERSION = 1
MANIFEST = "manifest.json"

ClusterData = tuple[dict[str, list[dict[str, Any]]], dict[str, tuple[dict[Hashable, Any], dict[Hashable, str]]],
                    dict[str, str]]
"""``(lists, details, unreadable)`` as :func:`read_cluster` returns them."""


class OfflineDataWarning(UserWarning):
    """Part of a snapshot or recording could not be read (a truncated file, a corrupt member or
    segment); what could be read is used, and the warning names the file and what was lost."""


# -- reading a cluster ----------------------------------------------------------------------------

def read_cluster(source: Source, *, namespace: str = "*",
                 progress: Callable[[str], None] | None = None) -> ClusterData:
    """Every list and per-object read the frames make, from ``source``.

    Lists: every kind of :data:`~nomadlab.sources.LIST_KINDS` for ``namespace``. Per object:
    the job, its versions and its scale status for every listed job; the node and its host
    stats for every listed node; the stats of every running allocation. A list that fails is
    named in ``unreadable`` with the error; per-object failures are kept as the errors of that
    read, as the live source reports them.
    """
    lists: dict[str, list[dict[str, Any]]] = {}
    unreadable: dict[str, str] = {}
    for kind in LIST_KINDS:
        if progress is not None:
            progress(f"list {kind}")
        try:
            rows = source.list(kind, namespace=namespace)  # type: ignore[arg-type]
        except NomadError as exc:
            unreadable[kind] = f"{type(exc).__name__}: {exc}"
            continue
        lists[kind] = [r for r in rows if isinstance(r, dict)] if isinstance(rows, list) else []
    keys: dict[str, list[Hashable]] = {
        "job": [(str(j.get("Namespace") or "default"), j["ID"]) for j in lists.get("jobs", [])
                if isinstance(j.get("ID"), str) and j["ID"]],
        "node": [n["ID"] for n in lists.get("nodes", []) if isinstance(n.get("ID"), str)],
        "alloc_stats": [a["ID"] for a in lists.get("allocations", [])
                        if isinstance(a.get("ID"), str) and a.get("ClientStatus") == "running"],
    }
    keys["job_versions"] = keys["job_scale"] = keys["job"]
    keys["node_stats"] = keys["node"]
    details: dict[str, tuple[dict[Hashable, Any], dict[Hashable, str]]] = {}
    for kind in DETAIL_KINDS:
        if progress is not None:
            progress(f"read {kind} ({len(keys[kind])})")
        try:
            got = source.details(kind, keys[kind])  # type: ignore[arg-type]
        except NomadError as exc:
            unreadable[kind] = f"{type(exc).__name__}: {exc}"
            continue
        details[kind] = (dict(got.objects), {k: str(v) for k, v in got.errors.items()})
    return lists, details, unreadable


def _describe(source: Source) -> dict[str, Any]:
    """Address, region and Nomad version of a live source's cluster (``None`` where unknown)."""
    info: dict[str, Any] = {"address": None, "region": None, "nomad_version": None}
    inner = getattr(source, "source", source)          # through a CachedSource
    manifest = getattr(inner, "manifest", None)
    if isinstance(manifest, Mapping):                  # a snapshot of an offline source
        return {k: manifest.get(k) for k in info}
    client = getattr(inner, "client", None)
    if client is None:
        return info
    from nomadlab.config import _redacted

    info["address"] = _redacted(client.config.address)
    info["region"] = client.config.region
    try:
        agent = client.get("/v1/agent/self").body or {}
    except NomadError:
        return info
    config = agent.get("config") if isinstance(agent, dict) else None
    if isinstance(config, dict):
        version = config.get("Version")
        if isinstance(version, dict):
            text = str(version.get("Version") or "")
            if version.get("VersionPrerelease"):
                text += f"-{version['VersionPrerelease']}"
            info["nomad_version"] = text or None
        elif isinstance(version, str):
            info["nomad_version"] = version
        info["region"] = info["region"] or config.get("Region")
    return info


# -- writing --------------------------------------------------------------------------------------

def _dumps(obj: Any) -> bytes:
    return orjson.dumps(obj, option=orjson.OPT_NON_STR_KEYS)


def _members(data: ClusterData, manifest: dict[str, Any]) -> list[tuple[str, bytes]]:
    lists, details, _ = data
    out = [(MANIFEST, orjson.dumps(manifest, option=orjson.OPT_INDENT_2))]
    for kind in LIST_KINDS:
        if kind in lists:
            out.append((f"lists/{kind}.json", _dumps(lists[kind])))
    for kind in DETAIL_KINDS:
        if kind in details:
            objects, errors = details[kind]
            body = {"objects": [[list(k) if isinstance(k, tuple) else k, v] for k, v in objects.items()],
                    "errors": [[list(k) if isinstance(k, tuple) else k, v] for k, v in errors.items()]}
            out.append((f"details/{kind}.json", _dumps(body)))
    return out


def write_snapshot(path: Path, data: ClusterData, manifest: dict[str, Any]) -> None:
    """Write ``data`` with ``manifest`` to ``path`` atomically (see the module notes)."""
    stamp = time.time()
    with atomic_file(path) as out, tarfile.open(fileobj=out, mode="w:gz", compresslevel=9) as tar:
        for name, body in _members(data, manifest):
            info = tarfile.TarInfo(name)
            info.size = len(body)
            info.mtime = int(stamp)
            info.mode = 0o644
            tar.addfile(info, io.BytesIO(body))


def snapshot(source: Any = None, path: str | os.PathLike[str] | None = None, *, namespace: str = "*",
             progress: Callable[[str], None] | None = None) -> Path:
    """Save every object the frames read from ``source`` into one file at ``path``.

    Endpoints: every list of :class:`~nomadlab.sources.LiveSource` (``/v1/jobs``,
    ``/v1/allocations``, ``/v1/nodes``, ``/v1/evaluations``, ``/v1/deployments``,
    ``/v1/namespaces``, ``/v1/node/pools``), then per object ``/v1/job/:id``,
    ``/v1/job/:id/versions``, ``/v1/job/:id/scale``, ``/v1/node/:id``, ``/v1/client/stats``,
    ``/v1/client/allocation/:id/stats``; ``/v1/agent/self`` for the Nomad version.

    Parameters
    ----------
    source
        A :class:`~nomadlab.client.NomadClient`, any :class:`~nomadlab.sources.Source` (another
        snapshot included) or ``None`` (connect from ``NOMAD_*``).
    path
        Where to write (``.tar.gz`` by convention). An existing file there is replaced only
        once the new one is complete. Default: ``nomad-snapshot-<UTC time>.tar.gz`` here.
    namespace
        The namespace to read (``*``: every one the token can read).
    progress
        Called with a short text before each read (for a command line's progress).

    Returns
    -------
    pathlib.Path
        The file written. Its manifest names every read that failed and why.

    Raises
    ------
    NomadError
        Not one list could be read (the cluster cannot be reached, or the token reads nothing):
        nothing is written.
    """
    src = as_source(source)
    started = rfc3339_now()
    target = Path(path) if path is not None else default_path()
    data = read_cluster(src, namespace=namespace, progress=progress)
    lists, details, unreadable = data
    if all(kind in unreadable for kind in LIST_KINDS):
        raise NomadError(f"nothing could be read from the cluster, so no snapshot was written (jobs: "
                         f"{unreadable['jobs']}); check NOMAD_ADDR and NOMAD_TOKEN")
    from nomadlab import __version__

    manifest: dict[str, Any] = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "taken_at": started,
        "finished_at": rfc3339_now(),
        **_describe(src),
        "namespace": namespace,
        "namespaces": sorted(str(n.get("Name")) for n in lists.get("namespaces", []) if n.get("Name")),
        "nomadlab_version": __version__,
        "unreadable": unreadable,
        "counts": {**{k: len(v) for k, v in lists.items()},
                   **{k: len(v[0]) for k, v in details.items()}},
    }
    if progress is not None:
        progress(f"write {target}")
    write_snapshot(target, data, manifest)
    return target


def default_path(prefix: str = "nomad-snapshot") -> Path:
    """``<prefix>-<UTC time>.tar.gz`` in the current folder."""
    return Path(f"{prefix}-{time.strftime('%Y%m%dT%H%M%SZ', time.gmtime())}.tar.gz")


# -- reading --------------------------------------------------------------------------------------

def _read_members(path: Path) -> tuple[dict[str, bytes], str | None]:
    """The members of a snapshot file or folder, and why reading stopped early (None when whole)."""
    members: dict[str, bytes] = {}
    if path.is_dir():
        for file in sorted(path.rglob("*.json")):
            members[file.relative_to(path).as_posix()] = file.read_bytes()
        return members, None
    try:
        with tarfile.open(path, mode="r:gz") as tar:
            for member in tar:
                if not member.isfile():
                    continue
                handle = tar.extractfile(member)
                if handle is not None:
                    members[member.name] = handle.read()
    except FileNotFoundError:
        raise
    except (tarfile.TarError, EOFError, zlib.error, OSError) as exc:
        return members, f"{type(exc).__name__}: {exc}"
    return members, None


def _decode(path: Path, name: str, raw: bytes) -> Any:
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise OfflineFormatError(f"{path}: member {name} is not valid JSON ({exc})", path=path) from None


class Snapshot(StoredSource):
    """A saved snapshot as a :class:`~nomadlab.sources.Source` (see :func:`open_snapshot`).

    Attributes
    ----------
    path : pathlib.Path
        The file (or extracted folder) read.
    manifest : dict
        Its ``manifest.json``.
    time_range : tuple of datetime
        When the reads started and finished (UTC).
    unreadable : dict
        Every kind that could not be read, when it was taken or now, with why.
    """

    def __init__(self, path: Path, manifest: Mapping[str, Any], data: ClusterData) -> None:
        lists, details, unreadable = data
        super().__init__(lists, details, unreadable=unreadable, namespace=str(manifest.get("namespace") or "*"),
                         what=f"the snapshot {path}")
        self.path = path
        self.manifest: dict[str, Any] = dict(manifest)
        start = parse_time(manifest.get("taken_at"))
        end = parse_time(manifest.get("finished_at")) or start
        self.time_range: tuple[datetime, datetime] | None = (start, end or start) if start else None

    @property
    def taken_at(self) -> str | None:
        """``manifest["taken_at"]``: when the reads started (RFC3339, UTC)."""
        value = self.manifest.get("taken_at")
        return value if isinstance(value, str) else None

    def __repr__(self) -> str:
        return f"Snapshot({str(self.path)!r}, taken_at={self.taken_at!r})"


def load_snapshot(path: str | os.PathLike[str]) -> tuple[dict[str, Any], ClusterData]:
    """The manifest and objects of the snapshot at ``path``; what cannot be read is reported
    (a warning naming the file and what was lost) and left out (listed in ``unreadable``)."""
    where = Path(path)
    if not where.exists():
        raise FileNotFoundError(f"no snapshot at {where}: check the path (take one with nomadlab snapshot)")
    members, stopped = _read_members(where)
    if MANIFEST not in members:
        why = f" ({stopped})" if stopped else ""
        raise OfflineFormatError(
            f"{where} holds no readable {MANIFEST}{why}: it is not a nomadlab snapshot, or it was cut short "
            "(copy it again, or take a new snapshot)", path=where)
    manifest = dict(check_format(_decode(where, MANIFEST, members[MANIFEST]), expected=FORMAT,
                                 version=FORMAT_VERSION, path=where / MANIFEST if where.is_dir() else where))
    raw_unreadable = manifest.get("unreadable")
    unreadable = {str(k): str(v) for k, v in raw_unreadable.items()} if isinstance(raw_unreadable, dict) else {}
    lost: list[str] = []
    lists: dict[str, list[dict[str, Any]]] = {}
    details: dict[str, tuple[dict[Hashable, Any], dict[Hashable, str]]] = {}
    for group, kinds in (("lists", LIST_KINDS), ("details", DETAIL_KINDS)):
        for kind in kinds:
            if kind in unreadable:
                continue
            name = f"{group}/{kind}.json"
            if name not in members:
                unreadable[kind] = ("lost: the file is cut short" + (f" ({stopped})" if stopped else "")
                                    if stopped else f"lost: {name} is missing from the file")
                lost.append(name)
                continue
            try:
                body = _decode(where, name, members[name])
                if group == "lists":
                    if not isinstance(body, list):
                        raise ValueError(f"{name} is not a JSON array")
                    lists[kind] = [r for r in body if isinstance(r, dict)]
                else:
                    details[kind] = _details_of(kind, body, name)
            except (OfflineFormatError, ValueError, TypeError) as exc:
                unreadable[kind] = f"corrupt: {exc}"
                lost.append(name)
    if lost:
        why = "the file is cut short" if stopped else "damaged"
        warnings.warn(f"{where}: {', '.join(lost)} could not be read ({why}); every other part is used. "
                      "Copy the file again or take a new snapshot.",
                      OfflineDataWarning, stacklevel=3)
    return manifest, (lists, details, unreadable)


def _details_of(kind: str, body: Any, name: str) -> tuple[dict[Hashable, Any], dict[Hashable, str]]:
    if not isinstance(body, dict):
        raise ValueError(f"{name} is not a JSON object")
    objects: dict[Hashable, Any] = {}
    errors: dict[Hashable, str] = {}
    for field, out in (("objects", objects), ("errors", errors)):
        pairs = body.get(field) or []
        if not isinstance(pairs, list):
            raise ValueError(f"{name}: {field} is not a list")
        for pair in pairs:
            if not isinstance(pair, list) or len(pair) != 2:
                raise ValueError(f"{name}: an entry of {field} is not a [key, value] pair")
            out[detail_key(kind, pair[0])] = pair[1] if field == "objects" else str(pair[1])
    return objects, errors


def open_snapshot(path: str | os.PathLike[str]) -> Snapshot:
    """The snapshot at ``path`` (written by :func:`snapshot`) as a source.

    It answers what the live source answered when the snapshot was taken: ``list`` (with
    ``namespace=`` and go-bexpr ``filter=``, evaluated on the saved list objects), ``pages``
    and ``details``. Logs are not saved (``nomadlab.frames.logs`` needs a live client).

    Raises
    ------
    OfflineFormatError
        The file is not a snapshot, its manifest cannot be read, or it was written by a newer
        nomadlab (upgrade nomadlab to read it). A truncated file or a damaged member only warns
        (:class:`OfflineDataWarning`): the rest is read, and asking for what was lost raises
        :class:`~nomadlab.offline.NotRecordedError`.
    """
    manifest, data = load_snapshot(path)
    return Snapshot(Path(path), manifest, data)

