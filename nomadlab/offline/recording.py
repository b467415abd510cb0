"""Recordings: a starting snapshot and the event stream after it, replayable at any instant.

:func:`record` writes a recording folder::

    recording.json          {"format": "nomadlab-recording", "format_version": 1, ...}
    snapshot.tar.gz         the cluster when the recording started (nomadlab.offline.snapshot)
    checkpoint.json         the last index written, the events so far, the open segment
    events/segment-000001.ndjson.gz   rotated segments, one event per line
    events/segment-000002.ndjson      the segment being written (gzipped when rotated)
    usage/cluster=<name>/date=YYYY-MM-DD/part-<n>.parquet   usage samples (usage_every=)

A segment line is ``{"time": ns, "received": ns, "event": <Nomad's event object>}``: the event as
Nomad sent it, the time it happened (from the objects it carries, see
:func:`nomadlab.offline._replay.batch_time_ns`) and when the recorder received it.

:func:`open_recording` reads the folder back: the :class:`Recording` is a source of the latest
state, and :meth:`Recording.at` a source of the cluster at any instant it covers.
"""

from __future__ import annotations

import gzip
import os
import re
import threading
import time
import warnings
from collections import Counter
from collections.abc import Callable, Generator, Hashable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

import orjson

from nomadlab.errors import NomadAPIError, NomadDecodeError, NomadError, NomadTransportError

from ._files import OfflineFormatError, atomic_file, check_format, fsync_dir, rfc3339_now, write_json_atomic
from ._replay import NAMESPACES_NOTE, SCALING_NOTE, Replay, TimedEvent, batch_time_ns
from ._segments import EVENTS, segment_events, segments, trim_torn_line
from .snapshot import OfflineDataWarning, Snapshot, load_snapshot, snapshot

if TYPE_CHECKING:
    import pandas as pd

    from nomadlab._json import Fields
    from nomadlab.client import NomadClient
    from nomadlab.sources import DetailKind, Details, ListKind, Page

    from ._stored import StoredSource

__all__ = ["FORMAT", "FORMAT_VERSION", "RecordProgress", "Recording", "open_recording", "read_events", "record"]

FORMAT = "nomadlab-recording"
FORMAT_VERSION = 1
HEADER = "recording.json"
CHECKPOINT = "checkpoint.json"
SNAPSHOT = "snapshot.tar.gz"
USAGE = "usage"


def _drops() -> tuple[type[BaseException], ...]:
    import httpx

    return (httpx.ReadError, httpx.RemoteProtocolError, httpx.ReadTimeout, httpx.CloseError, NomadTransportError,
            NomadDecodeError)


@dataclass(frozen=True)
class RecordProgress:
    """Where a recorder stands: handed to ``progress`` about once a second, and returned.

    ``events`` counts the events written by this run, ``total`` those in the recording;
    ``duplicates`` the events received again after a reconnection and not written.
    """

    events: int
    total: int
    events_per_s: float
    last_index: int
    segment: str
    reconnects: int
    duplicates: int
    usage_rounds: int
    elapsed_s: float


# -- writing --------------------------------------------------------------------------------------

def _client_of(source_or_client: Any) -> NomadClient:
    from nomadlab.client import NomadClient

    if source_or_client is None:
        return NomadClient()
    if isinstance(source_or_client, NomadClient):
        return source_or_client
    client = getattr(source_or_client, "client", None)
    if isinstance(client, NomadClient):
        return client
    raise TypeError(f"record() follows Nomad's event stream, so it needs a NomadClient or a LiveSource, "
                    f"not {type(source_or_client).__name__}")


def _group_counts(job: Mapping[str, Any]) -> dict[str, Any]:
    return {str(g.get("Name")): g.get("Count") for g in job.get("TaskGroups") or () if isinstance(g, dict)}


def _seconds(every: str | float | None) -> float | None:
    if every is None:
        return None
    if isinstance(every, (int, float)):
        value = float(every)
    else:
        import pandas as pd

        try:
            value = pd.Timedelta(every).total_seconds()
        except ValueError:
            raise ValueError(f"usage_every={every!r} is not a duration (e.g. '30s', '5min')") from None
    if value <= 0:
        raise ValueError(f"usage_every must be positive, not {every!r}")
    return value


def _probe_index(client: NomadClient) -> int:
    """The highest Raft index among the tables events come from (each list's X-Nomad-Index)."""
    best = 0
    for path in ("/v1/jobs", "/v1/allocations", "/v1/nodes", "/v1/evaluations", "/v1/deployments"):
        try:
            reply = client.get(path, params={"per_page": "1"}, namespace="*")
        except NomadAPIError:
            continue
        best = max(best, int(reply.meta.index or 0))
    return best


class _Recorder:
    def __init__(self, client: NomadClient, folder: Path, *, topics: list[str], namespace: str,
                 segment_bytes: int, stop: threading.Event, progress: Callable[[RecordProgress], None] | None,
                 usage_every_s: float | None) -> None:
        self.client = client
        self.folder = folder
        self.topics = topics
        self.namespace = namespace
        self.segment_bytes = segment_bytes
        self.stop = stop
        self.progress = progress
        self.usage_every_s = usage_every_s
        self.last_index = 0
        self.at_last: Counter[tuple[str, str, str]] = Counter()
        self.last_time: int | None = None
        self.total = 0
        self.written = 0
        self.duplicates = 0
        self.reconnects = 0
        self.usage_rounds = 0
        self.segment_no = 1
        self.handle: IO[bytes] | None = None
        self.segment_size = 0
        self.started = time.monotonic()
        self._last_report = 0.0
        self._last_sync = 0.0
        self.start_index = 0
        self.counts: dict[tuple[str, str], dict[str, Any]] = {}
        self.done = threading.Event()      # set when follow() returns: ends the usage sampler

    # -- setup ----------------------------------------------------------------------------------
    def prepare(self) -> None:
        header_path = self.folder / HEADER
        if header_path.is_file():
            header = _read_header(self.folder)
            if list(header.get("topics") or []) != self.topics or header.get("namespace") != self.namespace:
                raise ValueError(
                    f"{self.folder} records topics {header.get('topics')} in namespace {header.get('namespace')!r}; "
                    f"resuming it with topics {self.topics} in {self.namespace!r} would mix them: record into a new "
                    "folder, or resume with the same topics and namespace")
            self.start_index = int(header.get("start_index") or 0)
            self._load_counts()
            self._scan()
            return
        self.folder.mkdir(parents=True, exist_ok=True)
        (self.folder / EVENTS).mkdir(exist_ok=True)
        self.start_index = _probe_index(self.client) + 1
        snapshot(self.client, self.folder / SNAPSHOT, namespace=self.namespace)
        from nomadlab import __version__
        from nomadlab.config import _redacted

        write_json_atomic(header_path, {
            "format": FORMAT, "format_version": FORMAT_VERSION, "created_at": rfc3339_now(),
            "address": _redacted(self.client.config.address), "region": self.client.config.region,
            "topics": self.topics, "namespace": self.namespace, "start_index": self.start_index,
            "snapshot": SNAPSHOT, "events": EVENTS, "usage": USAGE if self.usage_every_s else None,
            "usage_every_s": self.usage_every_s, "nomadlab_version": __version__,
        })
        fsync_dir(self.folder)
        self._load_counts()

    def _load_counts(self) -> None:
        """The task group counts of every job in the starting snapshot (see :meth:`_scale_reads`)."""
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", OfflineDataWarning)
            _, (_, details, _) = load_snapshot(self.folder / SNAPSHOT)
        for key, job in details.get("job", ({}, {}))[0].items():
            if isinstance(key, tuple) and isinstance(job, dict):
                self.counts[key] = _group_counts(job)

    def _scale_reads(self, events: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """``GET /v1/job/:id/scale`` for each job whose group counts an event changes.

        The event stream carries no scaling events (the reason and meta of a scaling action),
        so the recorder reads the job's scale status when its counts move, and records the
        reply beside the events (a line with ``"read"`` instead of ``"event"``).
        """
        from urllib.parse import quote

        reads: list[dict[str, Any]] = []
        for e in events:
            job = (e.get("Payload") or {}).get("Job") if e.get("Topic") == "Job" else None
            if not isinstance(job, dict):
                continue
            key = (str(job.get("Namespace") or "default"), str(job.get("ID") or ""))
            counts = _group_counts(job)
            if self.counts.get(key) == counts:
                continue
            self.counts[key] = counts
            try:
                reply = self.client.get(f"/v1/job/{quote(key[1], safe='')}/scale", namespace=key[0]).body
            except NomadError as exc:
                warnings.warn(f"could not read the scaling events of job {key[1]!r} ({exc}); the recording "
                              "goes on without them", RuntimeWarning, stacklevel=2)
                continue
            reads.append({"Topic": "ScaleStatus", "Type": "ScaleStatus", "Key": key[1], "Namespace": key[0],
                          "Index": e.get("Index"), "Payload": {"ScaleStatus": reply}})
        return reads

    def _scan(self) -> None:
        """Pick up where the recording stops: the last index written, the events written at it,
        the segment to go on with. A line cut short by a kill is dropped from the open segment."""
        found = segments(self.folder)
        for _, file in found:
            if file.suffix == ".ndjson":
                trim_torn_line(file)
            elif file.with_suffix("").exists():      # a rotation cut short: its gzip is whole
                file.with_suffix("").unlink()
        total = 0
        for n, file in found:
            events = list(segment_events(file, warn=True))
            for te in events:
                if te.read:
                    continue
                total += 1
                job = (te.event.get("Payload") or {}).get("Job") if te.event.get("Topic") == "Job" else None
                if isinstance(job, dict):
                    self.counts[(str(job.get("Namespace") or "default"), str(job.get("ID") or ""))] = \
                        _group_counts(job)
                if te.index > self.last_index:
                    self.last_index = te.index
                    self.at_last = Counter()
                if te.index == self.last_index:
                    self.at_last[te.ident[1:]] += 1
                self.last_time = te.time_ns
            self.segment_no = n + (1 if file.name.endswith(".gz") else 0)
        self.total = total
        if found and not found[-1][1].name.endswith(".gz"):
            self.segment_no = found[-1][0]

    # -- segments -------------------------------------------------------------------------------
    def _segment_path(self, n: int) -> Path:
        return self.folder / EVENTS / f"segment-{n:06d}.ndjson"

    def _open(self) -> IO[bytes]:
        if self.handle is None:
            path = self._segment_path(self.segment_no)
            path.parent.mkdir(parents=True, exist_ok=True)
            self.handle = open(path, "ab")  # noqa: SIM115 - held across batches, closed in _rotate/close
            self.segment_size = path.stat().st_size
        return self.handle

    def _sync(self, force: bool = False) -> None:
        now = time.monotonic()
        if not force and now - self._last_sync < 1.0:
            return
        if self.handle is not None:
            self.handle.flush()
            os.fsync(self.handle.fileno())
        self._last_sync = now
        write_json_atomic(self.folder / CHECKPOINT, {
            "index": max(self.last_index, self.start_index - 1), "events": self.total,
            "segment": self._segment_path(self.segment_no).name,
            "updated_at": rfc3339_now()})

    def _rotate(self) -> None:
        self._sync(force=True)
        assert self.handle is not None
        self.handle.close()
        self.handle = None
        plain = self._segment_path(self.segment_no)
        packed = plain.with_name(plain.name + ".gz")
        with atomic_file(packed) as out, gzip.GzipFile(fileobj=out, mode="wb", mtime=0) as gz, \
                open(plain, "rb") as src:
            while chunk := src.read(1 << 20):
                gz.write(chunk)
        plain.unlink()
        fsync_dir(plain.parent)
        self.segment_no += 1
        self.segment_size = 0

    def write_batch(self, index: int, events: list[dict[str, Any]]) -> None:
        received = time.time_ns()
        if index < self.last_index:
            self.duplicates += len(events)
            return
        already = Counter(self.at_last) if index == self.last_index else Counter()
        fresh: list[dict[str, Any]] = []
        for e in events:
            ident = (str(e.get("Topic", "")), str(e.get("Key", "")), str(e.get("Type", "")))
            if already[ident] > 0:
                already[ident] -= 1
                self.duplicates += 1
                continue
            fresh.append(e)
        if not fresh:
            return
        when = batch_time_ns(fresh, self.last_time, received)
        handle = self._open()
        lines = b"".join(orjson.dumps({"time": when, "received": received, "event": e},
                                      option=orjson.OPT_NON_STR_KEYS) + b"\n" for e in fresh)
        lines += b"".join(orjson.dumps({"time": when, "received": received, "read": r},
                                       option=orjson.OPT_NON_STR_KEYS) + b"\n" for r in self._scale_reads(fresh))
        handle.write(lines)
        handle.flush()
        self.segment_size += len(lines)
        if index > self.last_index:
            self.last_index = index
            self.at_last = Counter()
        for e in fresh:
            self.at_last[(str(e.get("Topic", "")), str(e.get("Key", "")), str(e.get("Type", "")))] += 1
        self.last_time = when
        self.total += len(fresh)
        self.written += len(fresh)
        self._sync()
        if self.segment_size >= self.segment_bytes:
            self._rotate()

    # -- following ------------------------------------------------------------------------------
    def report(self, force: bool = False) -> RecordProgress:
        now = time.monotonic()
        elapsed = now - self.started
        state = RecordProgress(
            events=self.written, total=self.total, events_per_s=self.written / elapsed if elapsed > 0 else 0.0,
            last_index=self.last_index, segment=self._segment_path(self.segment_no).name,
            reconnects=self.reconnects, duplicates=self.duplicates, usage_rounds=self.usage_rounds,
            elapsed_s=elapsed)
        if self.progress is not None and (force or now - self._last_report >= 1.0):
            self._last_report = now
            self.progress(state)
        return state

    def _batches(self, chunks: Iterator[bytes]) -> Generator[tuple[int, list[dict[str, Any]]] | None, None, None]:
        """Each data line as ``(index, events)``, ``None`` for each chunk (a chance to stop)."""
        from nomadlab.streams import NDJSONDecoder

        decoder = NDJSONDecoder()
        for chunk in chunks:
            for line, obj in decoder.feed_lines(chunk):
                if isinstance(obj, NomadDecodeError):
                    raise obj
                if not isinstance(obj, dict):
                    raise NomadDecodeError(f"event stream line {line} is not an object")
                index, events = obj.get("Index") or 0, obj.get("Events") or []
                if isinstance(index, bool) or not isinstance(index, int) or not isinstance(events, list):
                    raise NomadDecodeError(f"event stream line {line} is not an event frame")
                if events:
                    yield index, [e for e in events if isinstance(e, dict)]
            yield None

    def follow(self, max_reconnects: int | None) -> None:
        drops = _drops()
        failures = 0
        while not self.stop.is_set():
            index = self.last_index if self.last_index else self.start_index
            params: dict[str, Any] = {"index": str(index)}
            if self.topics:
                params["topic"] = self.topics
            reason: BaseException | None = None
            try:
                with self.client.open_stream("/v1/event/stream", params=params, namespace=self.namespace,
                                             read_timeout=45.0) as response:
                    for item in self._batches(response.iter_bytes()):
                        if item is not None:
                            self.write_batch(*item)
                            failures = 0
                        else:
                            self._sync()
                        self.report()
                        if self.stop.is_set():
                            return
                reason = NomadTransportError("event stream closed by the server", method="GET",
                                             url="/v1/event/stream")
            except drops as exc:
                reason = exc
            except NomadAPIError as exc:
                if exc.status < 500 and exc.status != 429:
                    raise
                reason = exc
            failures += 1
            self.reconnects += 1
            if max_reconnects is not None and failures > max_reconnects:
                raise NomadTransportError(
                    f"event stream failed {failures} times in a row (last: {reason}); the recording stops at "
                    f"index {self.last_index}: run the same record() again to resume from there",
                    method="GET", url="/v1/event/stream") from reason
            self._sync(force=True)
            delay = self.client.retry_policy.delay(failures, reason if isinstance(reason, Exception) else None)
            self.stop.wait(delay)

    def sample_usage(self) -> None:
        """Take a usage round every ``usage_every_s`` into ``usage/`` until stopped."""
        from nomadlab.analysis.usage import sample_once
        from nomadlab.history import write_usage

        assert self.usage_every_s is not None
        cluster = re.sub(r"[^A-Za-z0-9_.-]", "_", self.client.config.region or "global")
        while not (self.stop.is_set() or self.done.is_set()):
            try:
                frame = sample_once(self.client)
                write_usage(frame, self.folder / USAGE, cluster=cluster)
                self.usage_rounds += 1
            except NomadError as exc:
                warnings.warn(f"usage sample failed ({exc}); the next round is in {self.usage_every_s:g} s",
                              RuntimeWarning, stacklevel=1)
            self.done.wait(self.usage_every_s)

    def close(self) -> None:
        if self.handle is not None:
            self._sync(force=True)
            self.handle.close()
            self.handle = None


def record(source_or_client: Any, path: str | os.PathLike[str], *,
           topics: Mapping[str, Sequence[str]] | Sequence[str] | None = None, namespace: str = "*",
           usage_every: str | float | None = None, segment_bytes: int = 64 << 20,
           stop: threading.Event | None = None, progress: Callable[[RecordProgress], None] | None = None,
           max_reconnects: int | None = None) -> RecordProgress:
    """Record the cluster into the folder ``path`` until ``stop`` is set (or Ctrl-C).

    A new folder starts with a snapshot (:func:`~nomadlab.offline.snapshot`), then follows
    ``GET /v1/event/stream`` from the index the snapshot was taken at, writing each event as it
    comes into rotating segments (gzipped once ``segment_bytes`` are written). An existing
    recording is resumed from its last index. After a dropped stream or a restart, the stream is
    reopened at the last index written, and the events of that index already written are not
    written again (they are told apart by topic, key and type), so no event is lost or written
    twice while Nomad still holds it (its ``event_buffer_size``, 100 indexes by default).

    Parameters
    ----------
    source_or_client
        A :class:`~nomadlab.client.NomadClient` or :class:`~nomadlab.sources.LiveSource`.
    path
        The recording folder (made if missing; resumed if it holds a recording).
    topics
        ``{"Job": ["web"], "Node": ["*"]}`` or ``["Job", "Allocation"]``; ``None`` records the
        topics a replay uses (Job, Allocation, Evaluation, Deployment, Node, NodePool).
    namespace
        The namespace followed (``*`` for all).
    usage_every
        Also sample usage (:func:`nomadlab.analysis.usage.sample_once`) this often (``"30s"``)
        into ``usage/`` as Parquet (:mod:`nomadlab.history`).
    segment_bytes
        Rotate the open segment past this size.
    stop
        Set it (from another thread) to stop; the recorder stops at the next line of the
        stream (Nomad sends a heartbeat every 30 s).
    progress
        Called about once a second with a :class:`RecordProgress`.
    max_reconnects
        Give up after this many failed reconnections in a row (``None``: never).

    Returns
    -------
    RecordProgress
        The counts when the recorder stopped.
    """
    from nomadlab.streams import topic_params

    client = _client_of(source_or_client)
    chosen = topic_params(topics) if topics is not None else [
        f"{t}:*" for t in ("Job", "Allocation", "Evaluation", "Deployment", "Node", "NodePool")]
    every = _seconds(usage_every)
    recorder = _Recorder(client, Path(path), topics=chosen, namespace=namespace, segment_bytes=segment_bytes,
                         stop=stop or threading.Event(), progress=progress, usage_every_s=every)
    recorder.prepare()
    sampler: threading.Thread | None = None
    if every is not None:
        sampler = threading.Thread(target=recorder.sample_usage, name="nomadlab-usage", daemon=True)
        sampler.start()
    try:
        recorder.follow(max_reconnects)
    except KeyboardInterrupt:
        pass
    finally:
        recorder.done.set()
        recorder.close()
        if sampler is not None:
            sampler.join(timeout=30)
    return recorder.report(force=True)


# -- reading --------------------------------------------------------------------------------------

def _read_header(folder: Path) -> Mapping[str, Any]:
    path = folder / HEADER
    try:
        raw = orjson.loads(path.read_bytes())
    except FileNotFoundError:
        raise FileNotFoundError(f"{folder} holds no {HEADER}: it is not a nomadlab recording") from None
    except NotADirectoryError:
        raise OfflineFormatError(f"{folder} is a file, not a recording: give the folder nomadlab record wrote "
                                 f"(it holds {HEADER}); open_source tells snapshots and archives apart",
                                 path=folder) from None
    except OSError as exc:
        raise OfflineFormatError(f"{path} cannot be read ({exc.strerror or exc}): check the recording's folder",
                                 path=path) from None
    except orjson.JSONDecodeError as exc:
        raise OfflineFormatError(f"{path} is not valid JSON ({exc}): the recording's header is damaged",
                                 path=path) from None
    return check_format(raw, expected=FORMAT, version=FORMAT_VERSION, path=path)


def read_events(path: str | os.PathLike[str]) -> list[TimedEvent]:
    """Every event of the recording at ``path``, in order, each once (see :class:`TimedEvent`)."""
    folder = Path(path)
    _read_header(folder)
    out: list[TimedEvent] = []
    seen: set[tuple[int, str, str, str]] = set()
    counts: Counter[tuple[int, str, str, str]] = Counter()
    for _, file in segments(folder):
        batch: Counter[tuple[int, str, str, str]] = Counter()
        for te in segment_events(file):
            ident = te.ident
            batch[ident] += 1
            if ident in seen and batch[ident] <= counts[ident]:
                continue
            seen.add(ident)
            counts[ident] = max(counts[ident], batch[ident])
            out.append(te)
    out.sort(key=lambda te: te.index)
    return out


def _as_ns(value: Any) -> int:
    import pandas as pd

    ts = pd.Timestamp(value)
    ts = ts.tz_localize("UTC") if ts.tzinfo is None else ts.tz_convert("UTC")
    return int(ts.value)


def _snapshot_time_ns(lists: Mapping[str, list[dict[str, Any]]]) -> int | None:
    """The latest change the snapshot's objects record (the cluster as of at least then)."""
    best: int | None = None
    for kind in ("allocations", "evaluations", "deployments"):
        for obj in lists.get(kind, []):
            t = obj.get("ModifyTime")
            if isinstance(t, int) and not isinstance(t, bool) and t > 0:
                best = t if best is None else max(best, t)
    for job in lists.get("jobs", []):
        t = job.get("SubmitTime")
        if isinstance(t, int) and not isinstance(t, bool) and t > 0:
            best = t if best is None else max(best, t)
    return best


class Recording:
    """A recording folder as a source of the cluster's latest recorded state (see :func:`open_recording`).

    Attributes
    ----------
    path : pathlib.Path
        The folder.
    manifest : dict
        Its ``recording.json``.
    snapshot : Snapshot
        The starting snapshot.
    events : list of TimedEvent
        Every recorded event of Nomad's, in index order (the recorder's own reads of scale
        statuses are applied by the replay but not listed here).
    time_range : tuple of datetime
        From the starting snapshot to the last event (the times of the objects they carry).
    notes : dict
        What a replay cannot rebuild from the event stream (kind → why).
    """

    def __init__(self, path: Path, manifest: Mapping[str, Any], start: Snapshot, events: list[TimedEvent]) -> None:
        self.path = path
        self.manifest: dict[str, Any] = dict(manifest)
        self.snapshot = start
        self._timeline = events
        self.events = [te for te in events if not te.read]
        first = _snapshot_time_ns(start._lists)
        if first is None:
            first = events[0].time_ns if events else None
        last = events[-1].time_ns if events else first
        self._start_ns = first
        self._end_ns = last
        self.time_range: tuple[datetime, datetime] | None = (
            (datetime.fromtimestamp(first / 1e9, UTC), datetime.fromtimestamp((last or first) / 1e9, UTC))
            if first is not None else None)
        self.notes: dict[str, str] = {"job_scale": SCALING_NOTE, "namespaces": NAMESPACES_NOTE}
        self._latest: StoredSource | None = None

    def __repr__(self) -> str:
        span = (f"{self.time_range[0].isoformat()} .. {self.time_range[1].isoformat()}" if self.time_range
                else "empty")
        return f"Recording({str(self.path)!r}, {len(self.events)} events, {span})"

    def events_frame(self) -> Any:
        """The recorded events as an ``events`` frame (:data:`nomadlab.history.EVENTS`), in
        index order; an event whose payload carries no time gets the time it was recorded at
        (its batch's, see :func:`batch_time_ns`)."""
        import pandas as pd

        from nomadlab.history import events_frame

        frame = events_frame([te.event for te in self.events])
        when = pd.Series(pd.to_datetime([te.time_ns for te in self.events], unit="ns", utc=True),
                         index=frame.index)
        frame["time"] = frame["time"].fillna(when).astype(frame["time"].dtype)
        return frame

    def to_history(self, root: str | os.PathLike[str], *, cluster: str) -> list[Path]:
        """Append the recorded events to the Parquet history at ``root`` (``events/`` table,
        partitioned by ``cluster`` and date: :func:`nomadlab.history.write_events`), where DuckDB
        (:func:`nomadlab.history.query`), Spark or Trino read them in place. Usage samples taken
        with ``usage_every`` are in the recording's own ``usage/`` history already.

        Each call appends (new part files, written atomically): export a recording once per
        history root.
        """
        from nomadlab.history import write_events

        return write_events(self.events_frame(), root, cluster=cluster)

    def _replay(self, until_ns: int | None) -> StoredSource:
        lists, details, unreadable = self.snapshot._lists, self.snapshot._details, self.snapshot.unreadable
        replay = Replay(lists, details, unreadable)
        for te in self._timeline:
            if until_ns is None or te.time_ns <= until_ns:
                replay.apply(te.event)
        when = "its end" if until_ns is None else datetime.fromtimestamp(until_ns / 1e9, UTC).isoformat()
        source = replay.source(what=f"the recording {self.path} at {when}", until_ns=until_ns)
        source.manifest = dict(self.manifest)
        if self.time_range is not None:
            instant = self.time_range[1] if until_ns is None else min(
                datetime.fromtimestamp(until_ns / 1e9, UTC), self.time_range[1])
            source.time_range = (instant, instant)
        if replay.problems:
            more = f" (and {len(replay.problems) - 1} more)" if len(replay.problems) > 1 else ""
            warnings.warn(f"{self.path}: {replay.problems[0]}{more}; the rest of the recording is replayed",
                          OfflineDataWarning, stacklevel=3)
        return source

    def at(self, when: Any) -> StoredSource:
        """A source of the cluster as it was at ``when`` (anything ``pandas.Timestamp`` takes;
        naive is UTC): the starting snapshot with every event up to and including ``when``.

        Raises ``ValueError`` when ``when`` is before the recording starts. After its end, the
        latest recorded state is given (nothing later was recorded).
        """
        ns = _as_ns(when)
        if self._start_ns is not None and ns < self._start_ns // 1000 * 1000:   # time_range is in µs
            raise ValueError(f"{self.path} starts at {self.time_range[0].isoformat() if self.time_range else '?'}; "
                             f"nothing was recorded before it, so it cannot show the cluster at {when}")
        return self._replay(ns)

    def latest(self) -> StoredSource:
        """The source of the last recorded state (what this recording answers as a source)."""
        if self._latest is None:
            self._latest = self._replay(None)
        return self._latest

    # -- the Source protocol: the latest state ----------------------------------------------------
    def list(self, kind: ListKind, *, namespace: str = "*", filter: str | None = None) -> list[dict[str, Any]]:
        return self.latest().list(kind, namespace=namespace, filter=filter)

    def pages(self, kind: ListKind, *, namespace: str = "*", filter: str | None = None,
              fields: Fields | None = None) -> Generator[Page, None, None]:
        return self.latest().pages(kind, namespace=namespace, filter=filter, fields=fields)

    def details(self, kind: DetailKind, keys: Sequence[Hashable]) -> Details:
        return self.latest().details(kind, keys)

    def usage(self) -> pd.DataFrame:
        """The usage samples taken while recording (``usage_every=``), as the ``usage`` frame."""
        from nomadlab.history import read_usage

        folder = self.path / USAGE
        if not folder.is_dir():
            from nomadlab.analysis.usage import USAGE as SCHEMA

            frame = SCHEMA.build({c: [] for c in SCHEMA.names})
            frame.attrs["errors"] = {"usage": f"{self.path} was recorded without usage_every=: no samples"}
            return frame
        return read_usage(folder)


def open_recording(path: str | os.PathLike[str]) -> Recording:
    """The recording folder at ``path`` (written by :func:`record`).

    The result is a source of the latest recorded state; ``.at(t)`` is a source of any instant
    it covers. Raises :class:`~nomadlab.offline.OfflineFormatError` naming ``recording.json``
    when it is not a recording or is of a newer format (upgrade nomadlab); a damaged segment
    only warns (:class:`~nomadlab.offline.OfflineDataWarning`), and everything else is read.
    """
    folder = Path(path)
    manifest = _read_header(folder)
    snap_path = folder / str(manifest.get("snapshot") or SNAPSHOT)
    snap_manifest, data = load_snapshot(snap_path)
    start = Snapshot(snap_path, snap_manifest, data)
    return Recording(folder, manifest, start, read_events(folder))

