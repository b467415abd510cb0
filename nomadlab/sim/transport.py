"""An ``httpx`` transport that answers from a :class:`~nomadlab.sim.cluster.SimCluster` in-process.

No socket, no thread: ``httpx.Client(transport=cluster.transport())`` calls the same routes the
ASGI app serves, so in-process tests exercise the exact wire format.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

import httpx

from .http import Request

if TYPE_CHECKING:
    from .cluster import SimCluster

__all__ = ["SimTransport"]


class _Stream(httpx.SyncByteStream):
    def __init__(self, chunks: Iterator[bytes]) -> None:
        self._chunks = chunks

    def __iter__(self) -> Iterator[bytes]:
        yield from self._chunks

    def close(self) -> None:
        close = getattr(self._chunks, "close", None)
        if close is not None:
            close()


class SimTransport(httpx.BaseTransport):
    """Route ``httpx`` requests to a simulated cluster."""

    def __init__(self, cluster: SimCluster) -> None:
        self.cluster = cluster

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        body = request.read()
        sim_request = Request.build(
            request.method,
            request.url.path,
            request.url.query.decode("ascii", "replace"),
            dict(request.headers),
            body,
        )
        response = self.cluster.handle(sim_request)
        headers = list(response.headers.items())
        if response.stream is not None:
            return httpx.Response(response.status, headers=headers, stream=_Stream(response.stream),
                                  request=request)
        return httpx.Response(response.status, headers=headers, content=response.body, request=request)
