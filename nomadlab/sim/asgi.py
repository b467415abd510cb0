"""The simulated cluster as an ASGI application (served by uvicorn).

Route handlers are synchronous (a blocking query waits on a condition variable), so each request
runs in a worker thread; streaming responses are pulled chunk by chunk in worker threads too, and
closed when the client disconnects.

Responses are compressed as Nomad's server compresses them (:mod:`nomadlab.sim.compression`):
``Vary: Accept-Encoding`` on every response, and a gzip or deflate body or stream for a
request whose ``Accept-Encoding`` names one.

Connection-level faults (:mod:`nomadlab.sim.faults`) are carried out on the socket itself: a
reset closes it with ``SO_LINGER`` 0 (the peer gets a TCP RST and no response), a truncated body
or a dropped stream closes it after part of the response.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Awaitable, Callable, MutableMapping
from typing import TYPE_CHECKING, Any

import anyio
import anyio.to_thread

from .compression import compress_response
from .faults import ConnectionFault
from .http import Request, Response

if TYPE_CHECKING:
    from .cluster import SimCluster

__all__ = ["ASGIApp"]

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]

# Ordinary requests and blocking queries are admitted separately: a blocking query holds a
# thread for up to ~5 minutes, and thousands of them (Nomad holds as many as clients ask for)
# must never make an ordinary request wait for a thread.
MAX_CONCURRENT_REQUESTS = 512
MAX_BLOCKING_QUERIES = 8192


class ASGIApp:
    """ASGI adapter around :meth:`SimCluster.handle`."""

    def __init__(self, cluster: SimCluster) -> None:
        self.cluster = cluster
        self._limiter: anyio.CapacityLimiter | None = None
        self._blocking: anyio.CapacityLimiter | None = None
        self.closing = threading.Event()
        """Set when the server shuts down: open streams end cleanly with their last chunk."""

    def close_streams(self) -> None:
        """End every open stream (event stream, log follow) at its next chunk, as a server
        going away ends them, so shutting down neither waits for nor cancels them."""
        self.closing.set()
        self.cluster.state.notify()

    def _threads(self) -> anyio.CapacityLimiter:
        if self._limiter is None:
            self._limiter = anyio.CapacityLimiter(MAX_CONCURRENT_REQUESTS)
        return self._limiter

    def _blocking_threads(self) -> anyio.CapacityLimiter:
        if self._blocking is None:
            self._blocking = anyio.CapacityLimiter(MAX_BLOCKING_QUERIES)
        return self._blocking

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
        limiter = self._blocking_threads() if _is_blocking(request) else self._threads()
        try:
            response: Response = await anyio.to_thread.run_sync(self.cluster.handle, request, limiter=limiter)
        except ConnectionFault as fault:
            await _break_connection(fault, receive, send)
            return
        # As Nomad's server, which wraps every handler in gorilla's CompressHandler.
        response = compress_response(request, response)
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
                    dropped = False
                    while not disconnected.is_set() and not self.closing.is_set():
                        try:
                            chunk = await anyio.to_thread.run_sync(next, chunks, sentinel, limiter=self._threads())
                        except ConnectionFault:
                            # An injected drop: close without the terminating chunk.
                            _close_transport(send, reset=False)
                            dropped = True
                            with anyio.move_on_after(_CLOSE_WAIT_S):
                                await disconnected.wait()
                            break
                        if chunk is sentinel:
                            break
                        if not chunk:
                            continue  # an idle stream's tick: a chance to notice a hang-up
                        try:
                            await send({"type": "http.response.body", "body": chunk, "more_body": True})
                        except OSError:
                            break
                    if not disconnected.is_set() and not dropped:
                        await send({"type": "http.response.body", "body": b"", "more_body": False})
                finally:
                    tg.cancel_scope.cancel()
        finally:
            close = getattr(chunks, "close", None)
            if close is not None:
                await anyio.to_thread.run_sync(close, limiter=self._threads())


def _is_blocking(request: Request) -> bool:
    """A blocking query: a read with ``?index=`` above 0 (Nomad answers at once without one)."""
    if request.method not in ("GET", "HEAD"):
        return False
    raw = request.param("index") or ""
    return raw.isdecimal() and int(raw) > 0


# How long to wait for the server to notice a connection this app closed.
_CLOSE_WAIT_S = 5.0


def _close_transport(send: Send, *, reset: bool) -> bool:
    """Close the connection under ``send`` (uvicorn's request cycle holds the asyncio transport).

    ``reset`` sets ``SO_LINGER`` to 0 first and aborts, so the peer gets a TCP RST; otherwise the
    buffered bytes are flushed and the connection closed (FIN). Returns ``False`` when the
    transport cannot be reached (another server), leaving the close to the server.
    """
    import socket
    import struct

    transport = getattr(getattr(send, "__self__", None), "transport", None)
    if transport is None or not hasattr(transport, "abort"):
        return False
    if reset:
        sock = transport.get_extra_info("socket")
        if sock is not None:
            with contextlib.suppress(OSError):
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        transport.abort()
    else:
        transport.close()
    return True


async def _break_connection(fault: ConnectionFault, receive: Receive, send: Send) -> None:
    """Carry out a reset or a truncated body (see :class:`~nomadlab.sim.faults.ConnectionFault`)."""
    response = fault.response
    if response is None:
        if not _close_transport(send, reset=True):
            raise RuntimeError("injected connection reset") from fault
    else:
        raw_headers = [(k.lower().encode("latin-1"), v.encode("latin-1"))
                       for k, v in response.headers.items()]
        raw_headers.append((b"content-length", str(len(response.body)).encode()))
        await send({"type": "http.response.start", "status": response.status,
                    "headers": raw_headers})
        await send({"type": "http.response.body", "body": response.body[: fault.sent],
                    "more_body": True})
        if not _close_transport(send, reset=False):
            return
    # Wait until the server has seen the connection go, so it does not answer on it.
    with anyio.move_on_after(_CLOSE_WAIT_S):
        while (await receive())["type"] != "http.disconnect":
            pass
