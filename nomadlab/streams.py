"""Nomad's two streaming formats: the event stream (NDJSON) and log frames (concatenated JSON).

The decoders are pure and incremental: :meth:`feed` takes bytes split anywhere (inside a
JSON string, a UTF-8 sequence or a backslash escape) and returns what became complete; nothing
here does I/O. The iterators that open the streams (:func:`iter_events`, :func:`iter_log_frames`,
:func:`iter_log_bytes`) sit on top and are what :class:`nomadlab.client.NomadClient` uses.

Framing, as Nomad writes it:

* ``GET /v1/event/stream``: one JSON object per line. ``{}`` is a heartbeat (sent on connect,
  then every 30 s); a data line is ``{"Index": N, "Events": [...]}``.
* ``GET /v1/client/fs/logs/:alloc_id``: StreamFrame objects written back to back with no
  separator; every field is omitempty, ``Data`` is base64, and ``{}`` is a heartbeat (every 1 s).
"""

from __future__ import annotations

import base64
import binascii
import logging
import re
from collections.abc import Iterator, Mapping, Sequence
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import httpx
import orjson

from nomadlab.errors import (
    NomadAPIError,
    NomadConnectError,
    NomadDecodeError,
    NomadError,
    NomadTimeoutError,
    NomadTransportError,
)

if TYPE_CHECKING:
    from nomadlab.client import NomadClient

__all__ = [
    "Event",
    "EventBatch",
    "EventStreamDecoder",
    "JSONObjectStreamDecoder",
    "LogFrame",
    "LogFrameDecoder",
    "NDJSONDecoder",
    "iter_events",
    "iter_log_bytes",
    "iter_log_frames",
    "topic_params",
]

logger = logging.getLogger("nomadlab.streams")


def _loads(raw: bytes | bytearray | memoryview, what: str) -> Any:
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        snippet = bytes(raw[:80]).decode("utf-8", "replace")
        raise NomadDecodeError(f"{what} is not valid JSON ({exc}): {snippet!r}") from exc


# -- records ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Event:
    """One event from ``/v1/event/stream``.

    ``payload`` is the wire object keyed by its kind (``{"Allocation": {...}}``);
    ``namespace`` is ``""`` for objects outside namespaces (nodes).
    """

    topic: str
    type: str
    key: str
    namespace: str
    index: int
    filter_keys: tuple[str, ...] = ()
    payload: Mapping[str, Any] = field(default_factory=dict, compare=False)

    @classmethod
    def from_wire(cls, obj: Mapping[str, Any]) -> Event:
        """An event from its wire object; ``TypeError`` when its Index is not an integer."""
        raw_index = obj.get("Index") or 0
        if isinstance(raw_index, bool) or not isinstance(raw_index, int):
            raise TypeError(f"event Index is not an integer: {raw_index!r:.40}")
        return cls(
            topic=str(obj.get("Topic", "")),
            type=str(obj.get("Type", "")),
            key=str(obj.get("Key", "")),
            namespace=str(obj.get("Namespace") or ""),
            index=raw_index,
            filter_keys=tuple(obj.get("FilterKeys") or ()),
            payload=obj.get("Payload") or {},
        )


@dataclass(frozen=True)
class EventBatch:
    """One data line of the event stream: the events of one Raft index."""

    index: int
    events: tuple[Event, ...]


@dataclass(frozen=True)
class LogFrame:
    """One StreamFrame of ``/v1/client/fs/logs``.

    ``offset`` is the position in ``file`` *after* ``data``; ``file_event`` is
    ``"file deleted"`` or ``"file truncated"`` on frames that report one (those carry no data).
    """

    data: bytes = b""
    offset: int = 0
    file: str = ""
    file_event: str = ""

    @property
    def is_heartbeat(self) -> bool:
        return not (self.data or self.offset or self.file or self.file_event)

    @classmethod
    def from_wire(cls, obj: Mapping[str, Any]) -> LogFrame:
        raw = obj.get("Data") or ""
        try:
            data = base64.b64decode(raw, validate=True) if raw else b""
        except (binascii.Error, ValueError) as exc:
            raise NomadDecodeError(f"log frame Data is not base64: {str(raw)[:40]!r}") from exc
        return cls(
            data=data,
            offset=int(obj.get("Offset") or 0),
            file=str(obj.get("File") or ""),
            file_event=str(obj.get("FileEvent") or ""),
        )


# -- decoders -----------------------------------------------------------------------------


class NDJSONDecoder:
    """Newline-delimited JSON, fed in arbitrary chunks; blank lines are skipped."""

    def __init__(self) -> None:
        self._buffer = bytearray()
        self._line = 0

    @property
    def pending(self) -> int:
        """Bytes held back waiting for their newline."""
        return len(self._buffer)

    def feed(self, chunk: bytes) -> list[Any]:
        """The decoded objects of every complete line (raises on the first that is not JSON)."""
        return [_raise_or(v) for _, v in self.feed_lines(chunk)]

    def close(self) -> list[Any]:
        """The last line when the stream ended without a newline; an error if it is cut."""
        return [_raise_or(v) for _, v in self.close_lines()]

    def feed_lines(self, chunk: bytes) -> list[tuple[int, Any]]:
        """``(line number, decoded object or NomadDecodeError)`` for every complete line, so
        that one bad line does not cost the good lines around it (lines count from 1)."""
        self._buffer += chunk
        out: list[tuple[int, Any]] = []
        start = 0
        while (end := self._buffer.find(b"\n", start)) >= 0:
            self._line += 1
            line = self._buffer[start:end]
            if line.strip():
                out.append((self._line, _loads_or_error(line, f"event stream line {self._line}")))
            start = end + 1
        del self._buffer[:start]
        return out

    def close_lines(self) -> list[tuple[int, Any]]:
        """:meth:`feed_lines` for the last line, when the stream ended without a newline."""
        rest = bytes(self._buffer)
        self._buffer.clear()
        if not rest.strip():
            return []
        self._line += 1
        return [(self._line, _loads_or_error(rest, f"event stream line {self._line}"))]


def _loads_or_error(raw: bytes | bytearray | memoryview, what: str) -> Any:
    try:
        return _loads(raw, what)
    except NomadDecodeError as exc:
        return exc


def _raise_or(value: Any) -> Any:
    if isinstance(value, NomadDecodeError):
        raise value
    return value


class JSONObjectStreamDecoder:
    """JSON objects written back to back (``{...}{...}``), fed in arbitrary chunks.

    Only braces outside strings are counted, so the bytes are scanned with two small regular
    expressions rather than parsed; each complete object is then handed to ``orjson``.
    Whitespace between objects is allowed; anything else there is a :class:`NomadDecodeError`.
    """

    _NON_SPACE = re.compile(rb"[^ \t\r\n]")
    _STRUCTURE = re.compile(rb'[{}"]')
    _IN_STRING = re.compile(rb'["\\]')

    def __init__(self) -> None:
        self._buffer = bytearray()
        self._pos = 0  # next byte to scan
        self._depth = 0
        self._in_string = False

    @property
    def pending(self) -> int:
        """Bytes of an object not yet complete."""
        return len(self._buffer)

    def feed(self, chunk: bytes) -> list[Any]:
        buf = self._buffer
        buf += chunk
        out: list[Any] = []
        i, n, consumed = self._pos, len(buf), 0
        while i < n:
            if self._depth == 0:
                m = self._NON_SPACE.search(buf, i)
                if m is None:
                    consumed = i = n
                    break
                i = m.start()
                if buf[i] != 0x7B:  # "{"
                    bad = bytes(buf[i:i + 40]).decode("utf-8", "replace")
                    raise NomadDecodeError(f"expected a JSON object in the log stream, got {bad!r}")
                consumed = i
                self._depth = 1
                i += 1
            elif self._in_string:
                m = self._IN_STRING.search(buf, i)
                if m is None:
                    i = n
                    break
                j = m.start()
                if buf[j] == 0x5C:  # backslash: skip the escaped byte, once it has arrived
                    if j + 1 >= n:
                        i = j
                        break
                    i = j + 2
                else:
                    self._in_string = False
                    i = j + 1
            else:
                m = self._STRUCTURE.search(buf, i)
                if m is None:
                    i = n
                    break
                j = m.start()
                c = buf[j]
                if c == 0x22:  # quote
                    self._in_string = True
                elif c == 0x7B:
                    self._depth += 1
                else:
                    self._depth -= 1
                    if self._depth == 0:
                        out.append(_loads(memoryview(buf)[consumed:j + 1], "log frame"))
                        consumed = j + 1
                i = j + 1
        del buf[:consumed]
        self._pos = i - consumed
        return out

    def close(self) -> None:
        """Raise :class:`NomadDecodeError` when the stream ended inside an object."""
        if self._depth or self._buffer.strip():
            raise NomadDecodeError(
                f"log stream ended inside a frame ({len(self._buffer)} bytes left undecoded)"
            )


class EventStreamDecoder:
    """Bytes of ``/v1/event/stream`` → :class:`EventBatch` list; heartbeats dropped.

    A malformed line does not cost the valid batches around it: :meth:`feed` returns every
    valid batch of the chunk and keeps one :class:`~nomadlab.errors.NomadDecodeError` naming
    the bad lines in :attr:`error`, which the next :meth:`feed` or :meth:`close` raises (so a
    reader delivers what was valid, then fails).

    >>> d = EventStreamDecoder()
    >>> [b.index for b in d.feed(b'{"Index": 5, "Events": [{"Topic": "Job"}]}\\n{oops\\n')]
    [5]
    >>> d.close()  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    nomadlab.errors.NomadDecodeError: event stream line 2 is not valid JSON ...
    """

    def __init__(self) -> None:
        self._lines = NDJSONDecoder()
        #: The decode failure of the lines fed so far, raised by the next feed() or close().
        self.error: NomadDecodeError | None = None

    @property
    def pending(self) -> int:
        return self._lines.pending

    @staticmethod
    def _batch(line: int, obj: Any) -> EventBatch | None:
        """One line's batch, None for a heartbeat; NomadDecodeError when it is malformed."""
        if isinstance(obj, NomadDecodeError):
            raise obj
        if not isinstance(obj, dict):
            raise NomadDecodeError(f"event stream line {line} is not an object: {obj!r:.80}")
        events = obj.get("Events") or []
        index = obj.get("Index") or 0
        if isinstance(index, bool) or not isinstance(index, int) or index < 0:
            raise NomadDecodeError(f"event stream line {line}: Index is not a Raft index: {index!r:.40}")
        if not isinstance(events, list) or not all(isinstance(e, dict) for e in events):
            raise NomadDecodeError(f"event stream line {line}: Events is not a list of objects")
        if index == 0 and not events:
            return None  # heartbeat
        try:
            return EventBatch(index, tuple(Event.from_wire(e) for e in events))
        except (TypeError, ValueError, OverflowError) as exc:
            raise NomadDecodeError(f"event stream line {line}: malformed event ({exc})") from exc

    def _batches(self, lines: list[tuple[int, Any]]) -> list[EventBatch]:
        if self.error is not None:
            raise self.error
        out: list[EventBatch] = []
        bad: list[NomadDecodeError] = []
        for line, obj in lines:
            try:
                batch = self._batch(line, obj)
            except NomadDecodeError as exc:
                bad.append(exc)
                continue
            if batch is not None:
                out.append(batch)
        if bad:
            first = bad[0]
            more = f" (and {len(bad) - 1} more malformed lines)" if len(bad) > 1 else ""
            self.error = NomadDecodeError(f"{first}{more}")
            self.error.__cause__ = first.__cause__
        return out

    def feed(self, chunk: bytes) -> list[EventBatch]:
        return self._batches(self._lines.feed_lines(chunk))

    def close(self) -> list[EventBatch]:
        batches = self._batches(self._lines.close_lines())
        if self.error is not None and not batches:
            raise self.error
        return batches


class LogFrameDecoder:
    """Bytes of framed ``/v1/client/fs/logs`` → :class:`LogFrame` list; heartbeats dropped."""

    def __init__(self) -> None:
        self._objects = JSONObjectStreamDecoder()

    @property
    def pending(self) -> int:
        return self._objects.pending

    def feed(self, chunk: bytes) -> list[LogFrame]:
        frames = (LogFrame.from_wire(obj) for obj in self._objects.feed(chunk))
        return [f for f in frames if not f.is_heartbeat]

    def close(self) -> None:
        self._objects.close()


# -- iterators over live streams ----------------------------------------------------------

# Dropped connections: the server went away mid-stream, or stopped sending heartbeats.
_DROPS = (httpx.ReadError, httpx.RemoteProtocolError, httpx.ReadTimeout, httpx.CloseError)


def topic_params(topics: Mapping[str, Sequence[str]] | Sequence[str] | None) -> list[str]:
    """``topic=`` values: ``{"Job": ["web"]}`` → ``["Job:web"]``; ``["Node"]`` → ``["Node:*"]``."""
    if topics is None:
        return []
    if isinstance(topics, Mapping):
        return [f"{t}:{k}" for t, keys in topics.items() for k in (keys or ["*"])]
    return [t if ":" in t else f"{t}:*" for t in topics]


def iter_events(
    client: NomadClient,
    topics: Mapping[str, Sequence[str]] | Sequence[str] | None = None,
    *,
    index: int = 0,
    namespace: str | None = None,
    region: str | None = None,
    reconnect: bool = True,
    max_reconnects: int = 5,
    heartbeat_timeout: float = 45.0,
) -> Iterator[Event]:
    """Events from ``GET /v1/event/stream``, resuming after a dropped connection.

    After a drop the stream is reopened at the index after the last complete batch, and
    any batch at or below that index is skipped, so no event is delivered twice. Up to
    ``max_reconnects`` consecutive failed attempts are made (backing off with the client's
    retry policy); the counter resets whenever a batch arrives. A heartbeat arrives every
    30 s, so ``heartbeat_timeout`` seconds of silence count as a drop.
    """
    params: dict[str, Any] = {"topic": topic_params(topics)}
    last = index - 1 if index > 0 else 0  # highest batch index delivered (or skipped)
    failures = 0
    while True:
        params["index"] = str(last + 1 if last > 0 else index)
        decoder = EventStreamDecoder()
        try:
            with client.open_stream(
                "/v1/event/stream", params=params, namespace=namespace, region=region,
                read_timeout=heartbeat_timeout,
            ) as response:
                for chunk in response.iter_bytes():
                    for batch in decoder.feed(chunk):
                        if batch.index <= last:
                            continue
                        last = batch.index
                        failures = 0
                        yield from batch.events
                    if decoder.error is not None:
                        raise decoder.error  # after every valid event of the chunk
            for batch in decoder.close():
                if batch.index > last:
                    last = batch.index
                    yield from batch.events
            if decoder.error is not None:
                raise decoder.error
            reason: Exception = NomadTransportError(
                "event stream closed by the server", method="GET", url="/v1/event/stream"
            )
        except _DROPS as exc:
            reason = exc
        except NomadTransportError as exc:
            reason = exc
        except NomadAPIError as exc:
            if exc.status < 500 and exc.status != 429:
                raise
            reason = exc
        if not reconnect or failures >= max_reconnects:
            if isinstance(reason, NomadError):
                raise reason
            raise NomadTransportError(
                f"event stream dropped ({type(reason).__name__}: {reason}) after "
                f"{failures} reconnect attempts", method="GET", url="/v1/event/stream",
            ) from reason
        failures += 1
        delay = client.retry_policy.delay(failures, reason)
        logger.info("event stream dropped (%s); reconnecting at index %d in %.1fs",
                    type(reason).__name__, last + 1, delay)
        client.sleep(delay)


def _log_params(task: str, log_type: str, follow: bool, origin: str, offset: int,
                plain: bool) -> dict[str, str]:
    if log_type not in ("stdout", "stderr"):
        raise ValueError("log type must be 'stdout' or 'stderr'")
    if origin not in ("start", "end"):
        raise ValueError("origin must be 'start' or 'end'")
    return {
        "task": task, "type": log_type, "follow": "true" if follow else "false",
        "origin": origin, "offset": str(int(offset)), "plain": "true" if plain else "false",
    }


@contextmanager
def _logs_response(
    client: NomadClient, alloc_id: str, params: dict[str, str], namespace: str | None,
    region: str | None, direct: bool,
) -> Iterator[httpx.Response]:
    """The open logs response: from the node's own agent when ``direct`` and reachable,
    otherwise from the server (which forwards to the node)."""
    path = f"/v1/client/fs/logs/{alloc_id}"
    if direct:
        try:
            alloc = client.get(f"/v1/allocation/{alloc_id}", namespace=namespace,
                               region=region).body or {}
            node = client.for_node(str(alloc.get("NodeID", "")))
        except NomadError as exc:  # the server's own answer will say what is wrong
            logger.info("cannot use the node's agent for %s (%s): asking the server",
                        alloc_id, type(exc).__name__)
        else:
            with node, ExitStack() as stack:
                try:
                    response = stack.enter_context(node.open_stream(
                        path, params=params, namespace=namespace, region=region))
                except (NomadConnectError, NomadTimeoutError) as exc:
                    if isinstance(exc, NomadTimeoutError) and exc.request_sent:
                        raise
                    logger.info("node agent %s unreachable (%s): asking the server",
                                node.config.address, type(exc).__name__)
                else:
                    yield response
                    return
    with client.open_stream(path, params=params, namespace=namespace,
                            region=region) as response:
        yield response


def _resumable_logs(
    client: NomadClient,
    alloc_id: str,
    params: dict[str, str],
    namespace: str | None,
    region: str | None,
    direct: bool,
    reconnect: bool,
    max_reconnects: int,
    decode: bool,
) -> Iterator[LogFrame | bytes]:
    """Frames (or plain chunks) of one log, reopened after a dropped connection.

    A read from ``origin=start`` knows where it is in the log (the start offset plus the bytes
    delivered), so after a drop it asks again from there: no byte is lost or repeated; a frame
    cut by the drop is discarded and asked for again. A read from the end cannot know that
    position and raises the drop instead. Up to ``max_reconnects`` consecutive attempts are
    made (the counter resets when data arrives), with the client's retry backoff.
    """
    resumable = reconnect and params["origin"] == "start"
    position = int(params["offset"])
    failures = 0
    while True:
        decoder = LogFrameDecoder() if decode else None
        url = f"/v1/client/fs/logs/{alloc_id}"
        error: NomadError
        try:
            with _logs_response(client, alloc_id, params, namespace, region, direct) as response:
                url = str(response.request.url)
                for chunk in response.iter_bytes():
                    if decoder is None:
                        if chunk:
                            position += len(chunk)
                            failures = 0
                            yield chunk
                        continue
                    for frame in decoder.feed(chunk):
                        position += len(frame.data)
                        if frame.data:
                            failures = 0
                        yield frame
            if decoder is not None:
                decoder.close()
            return
        except httpx.TransportError as exc:
            error = _wrapped(exc, url)
            error.__cause__ = exc
        except (NomadTransportError, NomadAPIError) as exc:
            if isinstance(exc, NomadAPIError) and exc.status < 500 and exc.status != 429:
                raise
            if failures == 0 and position == int(params["offset"]):
                raise  # the first open failed after the client's own retries: nothing to resume
            error = exc
        if not resumable or failures >= max_reconnects:
            if resumable:
                raise NomadTransportError(
                    f"log stream of allocation {alloc_id} kept dropping: gave up after {failures} "
                    f"reconnects at byte {position} (check the connection to the agent; read on "
                    f"with offset={position})", method="GET", url=url,
                ) from error
            raise error from error.__cause__
        failures += 1
        params = {**params, "offset": str(position)}
        delay = client.retry_policy.delay(failures, error)
        logger.info("log stream of %s dropped (%s); reading on from byte %d in %.1fs",
                    alloc_id, type(error).__name__, position, delay)
        client.sleep(delay)


def iter_log_frames(
    client: NomadClient,
    alloc_id: str,
    task: str,
    *,
    log_type: str = "stdout",
    follow: bool = False,
    origin: str = "start",
    offset: int = 0,
    namespace: str | None = None,
    region: str | None = None,
    direct: bool = False,
    reconnect: bool = True,
    max_reconnects: int = 5,
) -> Iterator[LogFrame]:
    """Frames from ``GET /v1/client/fs/logs/:alloc_id`` (heartbeats skipped).

    From ``origin="start"`` a dropped connection is reopened where the delivered data ends
    (``reconnect``, at most ``max_reconnects`` attempts in a row), so no byte is lost or
    delivered twice; from the end, a drop raises :class:`~nomadlab.errors.NomadTransportError`.
    """
    params = _log_params(task, log_type, follow, origin, offset, plain=False)
    for frame in _resumable_logs(client, alloc_id, params, namespace, region, direct,
                                 reconnect, max_reconnects, decode=True):
        assert isinstance(frame, LogFrame)
        yield frame


def iter_log_bytes(
    client: NomadClient,
    alloc_id: str,
    task: str,
    *,
    log_type: str = "stdout",
    follow: bool = False,
    origin: str = "start",
    offset: int = 0,
    namespace: str | None = None,
    region: str | None = None,
    direct: bool = False,
    reconnect: bool = True,
    max_reconnects: int = 5,
) -> Iterator[bytes]:
    """Raw log bytes from ``GET /v1/client/fs/logs/:alloc_id?plain=true``.

    Resumes after a drop as :func:`iter_log_frames` does.
    """
    params = _log_params(task, log_type, follow, origin, offset, plain=True)
    for chunk in _resumable_logs(client, alloc_id, params, namespace, region, direct,
                                 reconnect, max_reconnects, decode=False):
        assert isinstance(chunk, bytes)
        yield chunk


def _wrapped(exc: httpx.TransportError, url: str) -> NomadTransportError:
    from nomadlab.errors import wrap_transport_error

    return wrap_transport_error(exc, method="GET", url=url)
