"""``nomad operator debug`` archives of a simulated cluster, in Nomad's exact layout.

A :class:`DebugCapture` reads a :class:`~nomadlab.sim.SimCluster` through its HTTP API (a
:class:`~nomadlab.client.NomadClient` on the in-process transport), as the CLI does, and writes
what the CLI writes (``command/operator_debug.go``):

- ``cluster/``: ``agent-self.json``, ``members.json``, ``leader.json``, ``namespaces.json``,
  ``regions.json``, ``cli-flags.json`` and ``nodes.json`` (one JSON array of node stubs), and
  ``eventstream.json`` (one event per line, heartbeats skipped) when event topics are given;
- ``interval/NNNN/`` every capture: ``jobs.json``, ``deployments.json``, ``evaluations.json``,
  ``allocations.json``, ``nodes.json``, ``csi-plugins.json``, ``csi-volumes.json``,
  ``metrics.json``, ``operator-raft.json``, ``operator-scheduler.json``,
  ``operator-autopilot-health.json`` and ``license.json``. A read that fails leaves
  ``{"Error":"..."}`` in the file, with the Go API client's wording
  (``Unexpected response code: 404``, then the body in brackets when there is one), as for
  the endpoints the simulator does not serve;
- ``client/<node-id>/monitor.log`` and ``server/<name>/monitor.log``;
- ``index.json`` (the manifest: a JSON array of the relative paths written, in order, without
  ``eventstream.json`` and the monitors, which the CLI writes outside it) and ``index.html``;
- packed as ``nomad-debug-<2006-01-02-150405Z>.tar.gz`` with a top folder of the same name,
  regular files only, each with its write time as its modification time.

Layouts (``layout=``):

``current``  Nomad 1.4 and later: the list files are NDJSON, one object per line.
``array``    Nomad 1.2 and 1.3: the same folders, each list file one JSON array on one line.
``legacy``   Nomad 1.1 and before: ``version/`` instead of ``cluster/`` (without ``nodes.json``,
             ``leader.json``, ``cli-flags.json``), ``nomad/NNNN/`` instead of
             ``interval/NNNN/``, ``plugins.json`` instead of ``csi-plugins.json``; arrays.

JSON is written as Go's ``encoding/json`` writes it: compact, ``<``, ``>`` and ``&`` escaped
as ``\\u003c``, ``\\u003e`` and ``\\u0026``; event payloads (decoded by the CLI into
``map[string]any``) with their keys sorted and their numbers passed through ``float64``.

>>> import tempfile
>>> from nomadlab.sim import SimCluster
>>> cluster = SimCluster.default()
>>> capture = DebugCapture(cluster, namespace="*", event_topics=["*"])
>>> capture.capture_interval(); cluster.advance(30); capture.capture_interval()
>>> path = capture.write(tempfile.mkdtemp())
>>> path.name.startswith("nomad-debug-") and path.name.endswith(".tar.gz")
True
"""

from __future__ import annotations

import io
import json
import os
import tarfile
import time
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

if TYPE_CHECKING:
    from nomadlab.errors import NomadError
    from nomadlab.streams import Event

    from .cluster import SimCluster

__all__ = ["LAYOUTS", "DebugCapture", "Layout", "archive_name", "go_json", "write_debug_archive"]

Layout = Literal["current", "array", "legacy"]
LAYOUTS: tuple[str, ...] = ("current", "array", "legacy")
NS_PER_S = 1_000_000_000
_STAMP = "%Y-%m-%d-%H%M%SZ"

# (file, path, params, one object per line in the current layout) of each interval capture,
# in the CLI's order (collectNomad, then collectOperator).
_INTERVAL: tuple[tuple[str, str, dict[str, str], bool], ...] = (
    ("jobs.json", "/v1/jobs", {}, True),
    ("deployments.json", "/v1/deployments", {}, True),
    ("evaluations.json", "/v1/evaluations", {}, True),
    ("allocations.json", "/v1/allocations", {}, True),
    ("nodes.json", "/v1/nodes", {}, True),
    ("csi-plugins.json", "/v1/plugins", {"type": "csi"}, True),
    ("csi-volumes.json", "/v1/volumes", {"type": "csi"}, True),
    ("metrics.json", "/v1/metrics", {}, False),
    ("operator-raft.json", "/v1/operator/raft/configuration", {}, False),
    ("operator-scheduler.json", "/v1/operator/scheduler/configuration", {}, False),
    ("operator-autopilot-health.json", "/v1/operator/autopilot/health", {}, False),
    ("license.json", "/v1/operator/license", {}, False),
)
_NAMESPACED = frozenset({"/v1/jobs", "/v1/deployments", "/v1/evaluations", "/v1/allocations"})
# The CLI's own flags with their defaults (cli-flags.json "Formal"), then the client flags.
_FLAGS: dict[str, str] = {
    "duration": "5m", "event-index": "0", "event-topic": "none", "interval": "30s", "log-level": "TRACE",
    "log-include-location": "true", "log-lookback": "", "log-file-export": "false", "max-nodes": "10",
    "node-class": "", "node-id": "all", "server-id": "all", "stale": "false", "output": "",
    "pprof-duration": "1s", "pprof-interval": "30s", "verbose": "false", "address": "", "region": "",
    "namespace": "", "token": "",
}


def archive_name(started_ns: int) -> str:
    """``nomad-debug-<UTC start as 2006-01-02-150405Z>``, the archive's name and top folder."""
    return "nomad-debug-" + time.strftime(_STAMP, time.gmtime(started_ns // NS_PER_S))


def _go_number(value: Any) -> Any:
    """A JSON value as Go's ``map[string]any`` decoding leaves it: numbers through float64."""
    if isinstance(value, bool) or value is None or isinstance(value, str):
        return value
    if isinstance(value, int):
        return int(float(value)) if abs(value) > 2**53 else value
    if isinstance(value, dict):
        return {k: _go_number(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_go_number(v) for v in value]
    return value


def go_json(value: Any, *, sort_keys: bool = False) -> bytes:
    """``value`` as Go's ``json.Marshal`` writes it: compact, HTML characters escaped."""
    text = json.dumps(value, separators=(",", ":"), ensure_ascii=False, sort_keys=sort_keys)
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026").encode()


def _api_error(exc: NomadError) -> str:
    """The Go API client's error text for a failed request."""
    from nomadlab.errors import NomadAPIError

    if isinstance(exc, NomadAPIError):
        body = exc.body if isinstance(exc.body, str) else ("" if exc.body is None else str(exc.body))
        return f"Unexpected response code: {exc.status}" + (f" ({body})" if body else "")
    return str(exc)


def _event_line(event: Event) -> bytes:
    """One line of ``eventstream.json``: ``api.Event`` marshalled (its fields in struct order,
    no Namespace; the payload a ``map[string]any``)."""
    head = go_json({"Topic": event.topic, "Type": event.type, "Key": event.key,
                    "FilterKeys": list(event.filter_keys) or None, "Index": event.index})
    payload = go_json(_go_number(dict(event.payload)), sort_keys=True)
    return head[:-1] + b',"Payload":' + payload + b"}\n"


def _topic_params(topics: Sequence[str]) -> list[tuple[str, str]]:
    out = []
    for t in topics:
        topic, _, key = t.partition(":")
        out.append((topic, key or "*"))
    return out


class DebugCapture:
    """What ``nomad operator debug`` collects from a simulated cluster, capture by capture.

    Parameters
    ----------
    cluster
        The cluster; read through its HTTP API only. Its clock gives the file times.
    layout
        One of :data:`LAYOUTS`.
    namespace
        The ``-namespace`` flag: the namespace of the job, allocation, evaluation and
        deployment lists (``"*"`` for all). Nomad's default is ``default``.
    event_topics
        The ``-event-topic`` flags (``"Job"``, ``"Allocation:web"``, ``"*"``); ``None`` captures
        no event stream (the CLI's default). Events are read from the stream from index 0
        (``-event-index`` 0: the oldest the server still keeps) at each capture.
    interval_s, duration_s
        What ``cli-flags.json`` records for ``-interval`` and ``-duration``.
    token
        An ACL token for the reads (written to ``cli-flags.json`` only as ``[redacted]``).
    """

    def __init__(self, cluster: SimCluster, *, layout: Layout = "current", namespace: str = "default",
                 event_topics: Sequence[str] | None = None, interval_s: float = 30.0,
                 duration_s: float | None = None, token: str | None = None) -> None:
        if layout not in LAYOUTS:
            raise ValueError(f"layout={layout!r}: choose one of {', '.join(LAYOUTS)}")
        self.cluster = cluster
        self.layout = layout
        self.namespace = namespace
        self.event_topics = list(event_topics) if event_topics is not None else None
        self.interval_s = interval_s
        self.duration_s = duration_s
        # A client of the simulator, as the CLI is of Nomad: the one sim module that reads the
        # cluster through nomadlab's client (imported here, so nomadlab.sim itself does not).
        from nomadlab.client import NomadClient

        self.client = NomadClient(address="http://127.0.0.1:4646", token=token, transport=cluster.transport())
        self._token = token
        self.started_ns = cluster.now_ns()
        self.name = archive_name(self.started_ns)
        self.files: dict[str, bytes] = {}
        self.mtimes: dict[str, int] = {}
        self.manifest: list[str] = []
        self.intervals = 0
        self._events: list[bytes] = []
        self._monitored: dict[str, tuple[str, str]] = {}
        self._next_event_index = 0
        self._capture_cluster()

    # -- reading through the API ----------------------------------------------------------

    def _get(self, path: str, params: Mapping[str, str] | None = None) -> tuple[Any, str | None]:
        from nomadlab.errors import NomadError

        ns = self.namespace if path in _NAMESPACED else None
        try:
            return self.client.get(path, params=dict(params or {}), namespace=ns).body, None
        except NomadError as exc:
            return None, _api_error(exc)

    def _put(self, rel: str, data: bytes) -> None:
        if rel not in self.files:
            self.manifest.append(rel)
        self.files[rel] = data
        self.mtimes[rel] = self.cluster.now_ns() // NS_PER_S

    def _put_json(self, rel: str, body: Any, error: str | None, *, stream: bool = False) -> None:
        if error is not None:
            self._put(rel, go_json({"Error": error}))
        elif stream and self.layout == "current":
            self._put(rel, b"".join(go_json(o) + b"\n" for o in (body or [])))
        else:
            self._put(rel, go_json(body))

    @property
    def _cluster_dir(self) -> str:
        return "version" if self.layout == "legacy" else "cluster"

    def _capture_cluster(self) -> None:
        cdir = self._cluster_dir
        if self.layout != "legacy":
            self._put(f"{cdir}/cli-flags.json", go_json(self._flags()))
            nodes, err = self._get("/v1/nodes")
            self._put_json(f"{cdir}/nodes.json", nodes, err)
        members, err = self._get("/v1/agent/members")
        self._put_json(f"{cdir}/members.json", members, err)
        if self.layout != "legacy":
            leader, err = self._get("/v1/status/leader")
            self._put_json(f"{cdir}/leader.json", leader, err)
        for rel, path in (("agent-self.json", "/v1/agent/self"), ("namespaces.json", "/v1/namespaces"),
                          ("regions.json", "/v1/regions")):
            body, err = self._get(path)
            self._put_json(f"{cdir}/{rel}", body, err)
        self._monitors(nodes if self.layout != "legacy" else self._get("/v1/nodes")[0], members)

    def _monitors(self, nodes: Any, members: Any) -> None:
        """``client/<node-id>/monitor.log`` for up to ``-max-nodes`` (10) nodes and
        ``server/<name>/monitor.log`` per server: the monitor stream's lines, or the CLI's
        ``monitor: <error>`` line when the agent does not stream (outside the manifest, as the
        CLI writes them); ``agent-host.json`` beside it when ``/v1/agent/host`` answers."""
        node_ids = [n["ID"] for n in (nodes or []) if isinstance(n, dict) and "ID" in n][:10]
        servers = [m["Name"] for m in ((members or {}).get("Members") or []) if isinstance(m, dict) and "Name" in m]
        from nomadlab.errors import NomadError

        for folder, key, ids in (("client", "node_id", node_ids), ("server", "server_id", servers)):
            for ident in ids:
                rel = f"{folder}/{ident}/monitor.log"
                try:
                    # the monitor streams until closed: open it, and write what the agent logs
                    # over the capture when the archive is written (members)
                    with self.client.open_stream("/v1/agent/monitor", params={key: ident, "log_level": "TRACE",
                                                                              "plain": "true"}):
                        pass
                    self._monitored[rel] = (key, ident)
                    self.files[rel] = b""
                except NomadError as exc:
                    self.files[rel] = f"monitor: {_api_error(exc)}\n".encode()
                self.mtimes[rel] = self.cluster.now_ns() // NS_PER_S
                host, host_err = self._get("/v1/agent/host", {key: ident})
                if host_err is None:
                    self._put(f"{folder}/{ident}/agent-host.json", go_json(host))

    def _flags(self) -> dict[str, Any]:
        actual = {"duration": f"{int(self.duration_s)}s" if self.duration_s else None,
                  "interval": f"{int(self.interval_s)}s",
                  "namespace": self.namespace if self.namespace != "default" else None,
                  "token": "[redacted]" if self._token else None}
        if self.event_topics is not None:
            actual["event-topic"] = ",".join(self.event_topics)
        set_flags = {k: v for k, v in actual.items() if v is not None}

        def flag(name: str, value: str) -> dict[str, str]:
            default = _FLAGS[name]
            return {"Name": name, "Value": value, "DefValue": default, "Usage": ""}

        formal = {n: flag(n, set_flags.get(n, d)) for n, d in _FLAGS.items()}
        return {"Name": "debug", "Parsed": True, "Actual": {n: formal[n] for n in set_flags},
                "Formal": formal, "Effective": {n: f for n, f in formal.items() if f["Value"] != ""},
                "Args": []}

    def capture_interval(self) -> None:
        """One interval capture now (``interval/NNNN/``), and the events since the last one."""
        folder = ("nomad" if self.layout == "legacy" else "interval") + f"/{self.intervals:04d}"
        for rel, path, params, stream in _INTERVAL:
            if self.layout == "legacy" and rel == "csi-plugins.json":
                rel = "plugins.json"
            body, err = self._get(path, params)
            if rel == "license.json" and err is None and body is None:
                # The API client's LicenseGet turns the community edition's 204 into this error.
                err = "Nomad Enterprise only endpoint"
            self._put_json(f"{folder}/{rel}", body, err, stream=stream)
        self.intervals += 1
        self._read_events()

    def _read_events(self) -> None:
        """Every event from the last one read up to the cluster's latest, filtered by topic."""
        if self.event_topics is None or self.layout == "legacy":
            return
        frames = self.cluster.events.frames
        latest = frames[-1][0] if frames else 0
        if latest < self._next_event_index:
            return
        from nomadlab.streams import EventStreamDecoder

        wanted = _topic_params(self.event_topics)
        decoder = EventStreamDecoder()
        params = {"topic": "*", "index": str(self._next_event_index)}
        with self.client.open_stream("/v1/event/stream", params=params, namespace="*") as response:
            done = False
            for chunk in response.iter_bytes():
                for batch in decoder.feed(chunk):
                    self._next_event_index = batch.index + 1
                    for event in batch.events:
                        if any(t in ("*", event.topic) and (k == "*" or k == event.key or k in event.filter_keys)
                               for t, k in wanted):
                            self._events.append(_event_line(event))
                    done = batch.index >= latest
                    if done:
                        break
                if done:
                    break
        self.files[f"{self._cluster_dir}/eventstream.json"] = b"".join(self._events)
        self.mtimes[f"{self._cluster_dir}/eventstream.json"] = self.cluster.now_ns() // NS_PER_S

    # -- writing ------------------------------------------------------------------------

    def members(self, *, errors: Mapping[str, str] | None = None,
                truncate: Iterable[str] = ()) -> dict[str, bytes]:
        """Every file of the archive by its path under the top folder, with ``errors`` (path →
        message: the file holds ``{"Error": message}``) and ``truncate`` (paths cut short in
        the middle, as a killed write leaves them) applied."""
        files = dict(self.files)
        from .monitor import Target, agent_lines

        with self.cluster.state.lock:
            for rel, (key, ident) in self._monitored.items():
                target = Target(server=True, node_id="") if key == "server_id" else Target(server=False, node_id=ident)
                lines = agent_lines(self.cluster, target, self.started_ns, self.cluster.now_ns(), level="trace")
                files[rel] = "".join(line + "\n" for line in lines).encode()
        for rel, message in (errors or {}).items():
            if rel not in files:
                raise KeyError(f"no member {rel!r} to replace with an error; members: {sorted(files)}")
            files[rel] = go_json({"Error": message})
        for rel in truncate:
            if rel not in files:
                raise KeyError(f"no member {rel!r} to truncate; members: {sorted(files)}")
            files[rel] = files[rel][: max(1, len(files[rel]) * 3 // 5)]
        files["index.json"] = go_json(self.manifest) + b"\n"
        items = "".join(f'<li><a href="{m}">{m}</a></li>\n' for m in self.manifest)
        files["index.html"] = (f"<html><head><title>{self.name[12:]}</title></head>\n<body><h1>{self.name[12:]}"
                               f"</h1>\n<ul>{items}</ul></body></html>\n").encode()
        return files

    def write(self, folder: str | os.PathLike[str], *, compress: bool = True,
              errors: Mapping[str, str] | None = None, truncate: Iterable[str] = (),
              cut_at: float | None = None) -> Path:
        """Write the archive into ``folder``: ``nomad-debug-<stamp>.tar.gz``, or with
        ``compress=False`` the extracted folder ``nomad-debug-<stamp>/`` (what ``-output``
        gives). ``errors`` and ``truncate`` as in :meth:`members`; ``cut_at`` (0 < x < 1) cuts
        the ``.tar.gz`` itself at that fraction of its size, as an interrupted copy leaves it.

        Returns
        -------
        pathlib.Path
            The archive file or folder.
        """
        if self.intervals == 0:
            self.capture_interval()
        files = self.members(errors=errors, truncate=truncate)
        end_s = self.cluster.now_ns() // NS_PER_S
        base = Path(folder)
        if not compress:
            top = base / self.name
            for rel, data in files.items():
                target = top / rel
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_bytes(data)
                mtime = self.mtimes.get(rel, end_s)
                os.utime(target, (mtime, mtime))
            return top
        buf = io.BytesIO()
        with tarfile.open(fileobj=buf, mode="w:gz", format=tarfile.PAX_FORMAT) as tar:
            for rel in sorted(files):       # filepath.Walk visits in lexical order
                data = files[rel]
                info = tarfile.TarInfo(f"{self.name}/{rel}")
                info.size = len(data)
                info.mode = 0o644
                info.mtime = self.mtimes.get(rel, end_s)
                tar.addfile(info, io.BytesIO(data))
        raw = buf.getvalue()
        if cut_at is not None:
            if not 0 < cut_at < 1:
                raise ValueError(f"cut_at={cut_at!r} must be between 0 and 1")
            raw = raw[: int(len(raw) * cut_at)]
        path = base / f"{self.name}.tar.gz"
        path.write_bytes(raw)
        return path


def write_debug_archive(cluster: SimCluster, folder: str | os.PathLike[str], *, intervals: int = 3,
                        interval_s: float = 30.0, layout: Layout = "current", namespace: str = "default",
                        event_topics: Sequence[str] | None = None, compress: bool = True,
                        errors: Mapping[str, str] | None = None, truncate: Iterable[str] = (),
                        cut_at: float | None = None) -> Path:
    """Capture ``intervals`` intervals of ``cluster`` ``interval_s`` apart (advancing its clock
    between them, so the cluster moves on as it would while the CLI waits) and write the
    archive into ``folder``. See :class:`DebugCapture` and :meth:`DebugCapture.write`.

    >>> import tempfile
    >>> from nomadlab.sim import SimCluster
    >>> p = write_debug_archive(SimCluster.default(), tempfile.mkdtemp(), intervals=2, layout="array")
    >>> p.suffixes
    ['.tar', '.gz']
    """
    if intervals < 1:
        raise ValueError(f"intervals={intervals!r}: an archive has at least one interval")
    capture = DebugCapture(cluster, layout=layout, namespace=namespace, event_topics=event_topics,
                           interval_s=interval_s, duration_s=interval_s * intervals)
    for n in range(intervals):
        if n:
            cluster.advance(interval_s)
        capture.capture_interval()
    return capture.write(folder, compress=compress, errors=errors, truncate=truncate, cut_at=cut_at)
