"""A simulated allocation directory, laid out as a Nomad client builds it (``client/allocdir``).

What ``/v1/client/fs/ls|stat|cat|readat|stream`` read, for one allocation at one simulated
time, as a pure function of the cluster seed, the allocation and the time::

    <alloc_id>/                      drwxr-xr-x
        alloc/                       drwxr-xr-x  shared by the group's tasks
            data/  tmp/              drwxrwxrwx
            logs/                    drwxrwxrwx  <task>.stdout.N, <task>.stderr.N (logs.LogSet)
        <task>/                      drwxrwxrwx  one per task that has been set up
            local/                   drwxrwxrwx  templates rendered into local/
            private/  secrets/       drwxrwxrwx  secrets/: templates, vault_token, nomad_token
            tmp/                     dtrwxrwxrwx (sticky)

Paths are relative to the allocation directory (``/`` is its root) and cleaned as Go's
``filepath.Join`` cleans them; one that climbs out of it is refused with Nomad's
``Path escapes the alloc directory``, and reading under a task's ``secrets/`` or ``private/``
with ``Reading secret file prohibited: <path>`` (``AllocDir.ReadAt``: listing and stat are
allowed, as in Nomad). OS errors name the host path under :data:`DATA_DIR`, as Go's ``os``
errors do.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from .lifecycle import Behaviours
from .logs import (
    DELETE_EVENT,
    HEARTBEAT_S,
    POLL_S,
    LogSet,
    chunks,
    cluster_log_set,
    encode_frame,
    extend,
    log_horizon_ns,
    parse_rfc3339,
    task_log_set,
)
from .wire_common import rfc3339

if TYPE_CHECKING:
    from .cluster import SimCluster

__all__ = [
    "DATA_DIR",
    "DIR_SIZE",
    "FsError",
    "Node",
    "AllocFS",
    "alloc_fs",
    "clean_path",
    "file_info",
    "detect_content_type",
    "sniff",
    "stream_file",
]

DATA_DIR = "/opt/nomad/data"
"""The simulated client's ``data_dir``: allocation directories are ``<DATA_DIR>/alloc/<id>``."""
DIR_SIZE = 4096  # an ext4 directory block

_DIR_755 = "drwxr-xr-x"
_DIR_777 = "drwxrwxrwx"
_DIR_STICKY_777 = "dtrwxrwxrwx"
_FILE_644 = "-rw-r--r--"
_FILE_666 = "-rw-rw-rw-"


class FsError(Exception):
    """A file-system error with the text Nomad's client answers; ``kind`` is ``escape``,
    ``missing``, ``not-dir``, ``is-dir`` or ``secret``."""

    def __init__(self, kind: str, text: str) -> None:
        super().__init__(text)
        self.kind = kind
        self.text = text


@dataclass
class Node:
    """One directory entry: a directory (``children``) or a file (``data``)."""

    name: str
    is_dir: bool
    mode: str
    mtime_ns: int
    data: bytes = b""
    children: dict[str, Node] = field(default_factory=dict)
    log: tuple[LogSet, int] | None = None
    """For a log file: its set and index, so a stream can follow it as it grows."""

    @property
    def size(self) -> int:
        return DIR_SIZE if self.is_dir else len(self.data)


def clean_path(path: str) -> list[str] | None:
    """The segments of ``path`` under the allocation directory, cleaned as ``filepath.Join``
    cleans them, or ``None`` when it climbs out (``PathEscapesAllocDir``)."""
    out: list[str] = []
    for seg in path.split("/"):
        if seg in ("", "."):
            continue
        if seg == "..":
            if not out:
                return None
            out.pop()
            continue
        out.append(seg)
    return out


def detect_content_type(data: bytes, name: str = "") -> str:
    """``detectContentType`` of ``client/allocdir``: :func:`sniff` of the first 512 bytes of a
    non-empty file, ``application/json`` for ``*.json``, ``application/octet-stream`` for a
    directory or an empty file (whose read fails with EOF)."""
    if name.endswith(".json"):
        return "application/json"
    if not data:
        return "application/octet-stream"
    return sniff(data)


def sniff(data: bytes) -> str:
    """Go's ``http.DetectContentType`` for the cases a task's files meet (HTML, XML, gzip,
    binary, text; an empty body is text)."""
    head = data[:512]
    stripped = head.lstrip(b"\t\n\x0c\r ").lower()
    if stripped.startswith((b"<!doctype html", b"<html", b"<head", b"<body", b"<script")):
        return "text/html; charset=utf-8"
    if stripped.startswith(b"<?xml"):
        return "text/xml; charset=utf-8"
    if head.startswith(b"\x1f\x8b\x08"):
        return "application/x-gzip"
    if any(b < 0x20 and b not in (0x09, 0x0A, 0x0C, 0x0D, 0x1B) for b in head):
        return "application/octet-stream"
    return "text/plain; charset=utf-8"


def file_info(node: Node, *, with_content_type: bool) -> dict[str, Any]:
    """``AllocFileInfo`` as the client encodes it (``ContentType`` omitted when empty)."""
    info: dict[str, Any] = {
        "Name": node.name,
        "IsDir": node.is_dir,
        "Size": node.size,
        "FileMode": node.mode,
        "ModTime": rfc3339(node.mtime_ns),
    }
    if with_content_type:
        info["ContentType"] = (
            "application/octet-stream" if node.is_dir else detect_content_type(node.data, node.name)
        )
    return info


def _dir(name: str, mode: str, t: int) -> Node:
    return Node(name, True, mode, t)


def _perms(text: Any) -> str:
    """``ls``-style permissions of a template's ``Perms`` (octal text, default ``0644``)."""
    try:
        bits = int(str(text or "0644"), 8) & 0o777
    except ValueError:
        bits = 0o644
    chars = "rwxrwxrwx"
    return "-" + "".join(c if bits & (1 << (8 - i)) else "-" for i, c in enumerate(chars))


def _put(root: Node, rel: str, node: Node) -> None:
    """Place ``node`` at ``rel`` (under a task directory), creating missing directories."""
    parts = clean_path(rel)
    if not parts:
        return
    cur = root
    for seg in parts[:-1]:
        nxt = cur.children.get(seg)
        if nxt is None or not nxt.is_dir:
            nxt = _dir(seg, _DIR_755, node.mtime_ns)
            cur.children[seg] = nxt
        cur = nxt
    node.name = parts[-1]
    cur.children[parts[-1]] = node


def _setup_ns(alloc: dict[str, Any], task: str) -> int | None:
    """When the task's directory was built (its ``Task Setup``, else its start), or ``None``."""
    state = (alloc.get("TaskStates") or {}).get(task)
    if state is None:
        return None
    for ev in state.get("Events") or []:
        if ev.get("Type") in ("Task Setup", "Started", "Driver"):
            return int(ev.get("Time") or 0)
    started = parse_rfc3339(state.get("StartedAt") or "")
    return started or None


class AllocFS:
    """The directory tree of one allocation at ``now_ns``."""

    def __init__(
        self,
        cluster_seed: int,
        alloc: dict[str, Any],
        now_ns: int,
        *,
        behaviours: Behaviours | None = None,
        cluster: SimCluster | None = None,
    ) -> None:
        """``cluster``, when given, lends its cache of log files (:func:`logs.cluster_log_set`)."""
        self.alloc_id = str(alloc.get("ID", ""))
        self.host_dir = f"{DATA_DIR}/alloc/{self.alloc_id}"
        job = alloc.get("Job") or {}
        wanted = alloc.get("TaskGroup")
        group: dict[str, Any] = next((g for g in job.get("TaskGroups") or () if g.get("Name") == wanted),
                                     {"Tasks": []})
        specs = {str(t.get("Name")): t for t in group.get("Tasks") or ()}
        setups = {name: t for name in specs if (t := _setup_ns(alloc, name)) is not None and t <= now_ns}
        created = min(setups.values(), default=int(alloc.get("CreateTime") or 0))
        self.root = _dir(self.alloc_id, _DIR_755, created)
        shared = _dir("alloc", _DIR_755, created)
        logs_dir = _dir("logs", _DIR_777, created)
        shared.children = {"data": _dir("data", _DIR_777, created), "logs": logs_dir,
                           "tmp": _dir("tmp", _DIR_777, created)}
        self.root.children["alloc"] = shared
        self.task_dirs: list[str] = []
        for name, setup in sorted(setups.items()):
            self.task_dirs.append(name)
            self.root.children[name] = self._task_dir(name, specs[name], setup)
        self._logs_dir = logs_dir
        self._logs_from: tuple[Any, ...] | None = (cluster_seed, alloc, now_ns, behaviours, cluster)

    def _load_logs(self) -> None:
        """Fill ``alloc/logs`` (the one part that costs: the tasks' output) when a path needs it."""
        if self._logs_from is None:
            return
        cluster_seed, alloc, now_ns, behaviours, cluster = self._logs_from
        self._logs_from = None
        logs_dir = self._logs_dir
        for name in self.task_dirs:
            for log_type in ("stdout", "stderr"):
                logs = (task_log_set(cluster_seed, alloc, name, log_type, now_ns, behaviours=behaviours)
                        if cluster is None else cluster_log_set(cluster, alloc, name, log_type, now_ns))
                if logs is None:
                    continue
                for f in logs.live:
                    logs_dir.children[logs.name(f.index)] = Node(
                        logs.name(f.index), False, _FILE_644, f.mtime_ns, logs.content(f), log=(logs, f.index))
                    logs_dir.mtime_ns = max(logs_dir.mtime_ns, f.created_ns)

    @staticmethod
    def _task_dir(name: str, spec: dict[str, Any], t: int) -> Node:
        d = _dir(name, _DIR_777, t)
        d.children = {
            "local": _dir("local", _DIR_777, t),
            "private": _dir("private", _DIR_777, t),
            "secrets": _dir("secrets", _DIR_777, t),
            "tmp": _dir("tmp", _DIR_STICKY_777, t),
        }
        for tmpl in spec.get("Templates") or ():
            dest = str(tmpl.get("DestPath") or "")
            if dest:
                body = str(tmpl.get("EmbeddedTmpl") or "").encode()
                _put(d, dest, Node(dest, False, _perms(tmpl.get("Perms")), t, body))
        if spec.get("Vault"):
            _put(d, "secrets/vault_token", Node("vault_token", False, _FILE_666, t, b"hvs.CAESI" + b"x" * 86))
        if (spec.get("Identity") or {}).get("File"):
            _put(d, "secrets/nomad_token", Node("nomad_token", False, _FILE_644, t, b"eyJhbGciOiJSUzI1NiJ9.sim"))
        return d

    def _host(self, parts: list[str]) -> str:
        return "/".join([self.host_dir, *parts])

    def _find(self, path: str, op: str) -> tuple[Node, list[str]]:
        parts = clean_path(path)
        if parts is None:
            raise FsError("escape", "Path escapes the alloc directory")
        if parts[:1] == ["alloc"]:
            self._load_logs()
        cur = self.root
        for seg in parts:
            if not cur.is_dir:
                raise FsError("not-dir", f"{op} {self._host(parts)}: not a directory")
            nxt = cur.children.get(seg)
            if nxt is None:
                raise FsError("missing", f"{op} {self._host(parts)}: no such file or directory")
            cur = nxt
        return cur, parts

    def list(self, path: str) -> list[dict[str, Any]]:
        """``AllocDir.List``: the entries of a directory, by name (``os.ReadDir`` order)."""
        node, parts = self._find(path, "open")
        if not node.is_dir:
            raise FsError("not-dir", f"readdirent {self._host(parts)}: not a directory")
        return [file_info(node.children[k], with_content_type=False) for k in sorted(node.children)]

    def stat(self, path: str) -> Node:
        """``AllocDir.Stat``: the entry at ``path``."""
        return self._find(path, "stat")[0]

    def read_check(self, path: str) -> None:
        """``AllocDir.ReadAt``'s refusals: a task's ``secrets/`` and ``private/`` (a
        case-insensitive prefix of the host path, as Nomad compares it)."""
        parts = clean_path(path) or []
        host = self._host(parts).lower()
        for task in self.task_dirs:
            base = f"{self.host_dir}/{task}".lower()
            if host.startswith(f"{base}/secrets"):
                raise FsError("secret", f"Reading secret file prohibited: {path}")
            if host.startswith(f"{base}/private"):
                raise FsError("secret", f"Reading private file prohibited: {path}")


def alloc_fs(cluster: SimCluster, alloc: dict[str, Any]) -> AllocFS:
    """The allocation's directory at the cluster's log horizon (the caller holds the lock)."""
    return AllocFS(cluster.seed, alloc, log_horizon_ns(cluster), behaviours=cluster.behaviours, cluster=cluster)


def stream_file(
    cluster: SimCluster,
    alloc_id: str,
    path: str,
    node: Node,
    *,
    offset: int = 0,
    limit: int = 0,
    follow: bool = False,
    plain: bool = False,
    heartbeat_s: float = HEARTBEAT_S,
    poll_s: float = POLL_S,
) -> Iterator[bytes]:
    """The body of ``/v1/client/fs/stream|cat|readat`` for the file ``node`` found at ``path``.

    From ``offset`` (already taken from the end for ``origin=end``), at most ``limit`` bytes
    (``0``: no limit), as StreamFrames naming ``path`` as it was asked for, or raw with
    ``plain``. With ``follow`` the stream stays open: a log file is read as it grows until the
    rotation removes it (a ``file deleted`` frame, then the end, as Nomad's ``streamFile``);
    any other file never changes, so only heartbeats follow.
    """
    data = node.data
    pos = offset
    left = limit if limit > 0 else -1
    piece = data[pos:] if left < 0 else data[pos:pos + left]
    if piece:
        yield from chunks(piece, pos, path, plain)
        pos += len(piece)
        left = left - len(piece) if left > 0 else left
    if not follow or left == 0:
        return
    last_beat = time.monotonic()
    logs = node.log[0] if node.log is not None else None
    f = logs.get(node.log[1]) if logs is not None and node.log is not None else None
    if logs is not None and f is not None:
        with cluster.state.lock:
            logs.holds.append(f.start)
    try:
        while True:
            time.sleep(poll_s)
            if logs is not None and f is not None:
                with cluster.state.lock:
                    alloc = cluster.state.allocs.get(alloc_id)
                    if alloc is None:
                        return
                    extend(logs, cluster.seed, alloc, log_horizon_ns(cluster), behaviours=cluster.behaviours)
                    # the open file is read to its end, removed or not
                    new = logs.content(f, pos, None if left < 0 else pos + left) if f.size > pos else b""
                    removed = logs.get(f.index) is None
                if new:
                    yield from chunks(new, pos, path, plain)
                    pos += len(new)
                    if left > 0:
                        left -= len(new)
                        if left == 0:
                            return
                if removed:
                    if not plain:
                        yield encode_frame(offset=pos, file=path, file_event=DELETE_EVENT)
                    return
            now = time.monotonic()
            if now - last_beat >= heartbeat_s:
                last_beat = now
                yield b"" if plain else b"{}"
    finally:
        if logs is not None and f is not None:
            with cluster.state.lock:
                logs.holds.remove(f.start)
