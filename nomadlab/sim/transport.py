"""An ``httpx`` transport that answers from a :class:`~nomadlab.sim.cluster.SimCluster` in-process.

No socket, no thread: ``httpx.Client(transport=cluster.transport())`` calls the same routes the
ASGI app serves, so in-process tests exercise the exact wire format.

Connection-level faults (:mod:`nomadlab.sim.faults`) raise the errors ``httpx`` raises for a real
socket (``ReadError`` on a reset, ``RemoteProtocolError`` on a short body or a dropped stream),
at the same point of the exchange.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

import httpx

from .compression import compress_response
from .faults import ConnectionFault
from .http import Request

if TYPE_CHECKING:
    from .cluster import SimCluster

__all__ = ["SimTransport"]


# What httpx (h11) reports when the peer goes away mid-response.
RESET_TEXT = "[Errno 104] Connection reset by peer"
INCOMPLETE_TEXT = "peer closed connection without sending complete message body"


class _Stream(httpx.SyncByteStream):
    def __init__(self, chunks: Iterator[bytes], request: httpx.Request | None = None) -> None:
        self._chunks = chunks
        self._request = request

    def __iter__(self) -> Iterator[bytes]:
        try:
            yield from self._chunks
        except ConnectionFault:
            raise httpx.RemoteProtocolError(f"{INCOMPLETE_TEXT} (incomplete chunked read)",
                                            request=self._request) from None

    def close(self) -> None:
        close = getattr(self._chunks, "close", None)
        if close is not None:
            close()


class _ShortBody(httpx.SyncByteStream):
    """A body cut short of its ``Content-Length``."""

    def __init__(self, prefix: bytes, expected: int, request: httpx.Request) -> None:
        self._prefix = prefix
        self._expected = expected
        self._request = request

    def __iter__(self) -> Iterator[bytes]:
        if self._prefix:
            yield self._prefix
        raise httpx.RemoteProtocolError(
            f"{INCOMPLETE_TEXT} (received {len(self._prefix)} bytes, expected {self._expected})",
            request=self._request,
        )


class SimTransport(httpx.BaseTransport):
    """Route ``httpx`` requests to a simulated cluster.

    Parameters
    ----------
    cluster:
        The cluster that answers.
    compress:
        Compress as Nomad's server does (:mod:`nomadlab.sim.compression`) when the request's
        ``Accept-Encoding`` asks for gzip or deflate. Off by default: httpx asks for gzip on
        every request, and in-process there is no wire for compression to save, only CPU
        spent twice (compressing here, decompressing in httpx) for the same decoded JSON.
        Either way every response carries Nomad's ``Vary: Accept-Encoding``.
    """

    def __init__(self, cluster: SimCluster, *, compress: bool = False) -> None:
        self.cluster = cluster
        self.compress = compress

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        body = request.read()
        sim_request = Request.build(
            request.method,
            request.url.path,
            request.url.query.decode("ascii", "replace"),
            dict(request.headers),
            body,
        )
        try:
            response = self.cluster.handle(sim_request)
        except ConnectionFault as fault:
            if fault.response is None:
                raise httpx.ReadError(RESET_TEXT, request=request) from None
            cut = fault.response
            headers = [*cut.headers.items(), ("Content-Length", str(len(cut.body)))]
            return httpx.Response(cut.status, headers=headers, request=request,
                                  stream=_ShortBody(cut.body[: fault.sent], len(cut.body), request))
        if self.compress:
            response = compress_response(sim_request, response)
            headers = list(response.headers.items())
        else:
            headers = [*response.headers.items(), ("Vary", "Accept-Encoding")]
        if response.stream is not None:
            return httpx.Response(response.status, headers=headers,
                                  stream=_Stream(response.stream, request), request=request)
        return httpx.Response(response.status, headers=headers, content=response.body, request=request)
