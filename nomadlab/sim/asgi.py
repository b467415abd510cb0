"""The simulated cluster as an ASGI application (served by uvicorn).

Route handlers are synchronous (a blocking query waits on a condition variable), so each request
runs in a worker thread; streaming responses are pulled chunk by chunk in worker threads too, and
closed when the client disconnects.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, MutableMapping
from typing import TYPE_CHECKING, Any

import anyio
import anyio.to_thread

from .http import Request, Response

if TYPE_CHECKING:
    from .cluster import SimCluster

__all__ = ["ASGIApp"]

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]

# Blocking queries hold a thread each for up to ~5 minutes; allow many at once.
MAX_CONCURRENT_REQUESTS = 512


class ASGIApp:
    """ASGI adapter around :meth:`SimCluster.handle`."""

    def __init__(self, cluster: SimCluster) -> None:
        self.cluster = cluster
        self._limiter: anyio.CapacityLimiter | None = None

    def _threads(self) -> anyio.CapacityLimiter:
        if self._limiter is None:
            self._limiter = anyio.CapacityLimiter(MAX_CONCURRENT_REQUESTS)
        return self._limiter

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            while True:
                message = await receive()
                if message["type"] == "lifespan.startup":
                    await send({"type": "lifespan.startup.complete"})
                elif message["type"] == "lifespan.shutdown":
                    await send({"type": "lifespan.shutdown.complete"})
                    return
        if scope["type"] != "http":
            return
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        headers = {k.decode("latin-1"): v.decode("latin-1") for k, v in scope.get("headers", [])}
        request = Request.build(
            scope["method"], scope["path"], scope.get("query_string", b"").decode("latin-1"),
            headers, body,
        )
        response: Response = await anyio.to_thread.run_sync(
            self.cluster.handle, request, limiter=self._threads()
        )
        raw_headers = [(k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in response.headers.items()]
        if response.stream is None:
            raw_headers.append((b"content-length", str(len(response.body)).encode()))
            await send({"type": "http.response.start", "status": response.status, "headers": raw_headers})
            await send({"type": "http.response.body", "body": response.body})
            return
        await self._stream(response, raw_headers, receive, send)

    async def _stream(self, response: Response, raw_headers: list[tuple[bytes, bytes]],
                      receive: Receive, send: Send) -> None:
        assert response.stream is not None
        chunks = response.stream
        await send({"type": "http.response.start", "status": response.status, "headers": raw_headers})
        disconnected = anyio.Event()

        async def watch_disconnect() -> None:
            while True:
                message = await receive()
                if message["type"] == "http.disconnect":
                    disconnected.set()
                    return

        sentinel = object()
        try:
            async with anyio.create_task_group() as tg:
                tg.start_soon(watch_disconnect)
                try:
                    while not disconnected.is_set():
                        chunk = await anyio.to_thread.run_sync(next, chunks, sentinel, limiter=self._threads())
                        if chunk is sentinel:
                            break
                        if not chunk:
                            continue  # an idle stream's tick: a chance to notice a hang-up
                        try:
                            await send({"type": "http.response.body", "body": chunk, "more_body": True})
                        except OSError:
                            break
                    if not disconnected.is_set():
                        await send({"type": "http.response.body", "body": b"", "more_body": False})
                finally:
                    tg.cancel_scope.cancel()
        finally:
            close = getattr(chunks, "close", None)
            if close is not None:
                await anyio.to_thread.run_sync(close, limiter=self._threads())
