"""GETs for fan-outs sent on the standard library's ``http.client``, one connection per thread.

Thousands of small GETs from many threads (the stats of every allocation) cost the client CPU,
not network time: the 20 ms a node's agent takes is waited for in parallel, while each request's
Python runs one at a time under the interpreter lock. Through ``httpx.Client`` a request runs
about four times the Python that ``http.client`` does (URL parsing, the auth and redirect flows,
cookie extraction, httpcore's pool and h11's state machine; urllib3's pool sits halfway), so
:meth:`nomadlab.client.NomadClient.fan_out` sends its GETs with :class:`DirectSender` when the
client talks to a real agent without a proxy. The request is still built by the client's
``httpx.Client`` (same URL, query, headers, token) and the answer is returned as an
``httpx.Response``, so the client's retries, error mapping and decoding are the ones every other
request goes through; only the sending differs.

Failures are raised as the httpx exceptions httpx's own transport raises for the same failure
(``ConnectError``, ``ConnectTimeout``, ``ReadTimeout``, ``RemoteProtocolError``, ``ReadError``),
with the original as ``__cause__``, so the client reads them the same way.
"""

from __future__ import annotations

import base64
import http.client
import socket
import ssl
import threading
from urllib.parse import urlsplit

import httpx

__all__ = ["DirectSender"]


class _TLSConnection(http.client.HTTPSConnection):
    """``HTTPSConnection`` that verifies (and sends in SNI) ``server_name`` instead of the host,
    as ``NOMAD_TLS_SERVER_NAME`` asks."""

    def __init__(self, host: str, port: int, *, context: ssl.SSLContext, server_name: str | None,
                 timeout: float | None) -> None:
        super().__init__(host, port, timeout=timeout, context=context)
        self._tls_context = context
        self._server_name = server_name or host

    def connect(self) -> None:
        http.client.HTTPConnection.connect(self)
        self.sock = self._tls_context.wrap_socket(self.sock, server_hostname=self._server_name)


class DirectSender:
    """Send built ``GET`` requests to one agent on one kept-alive connection per thread.

    Parameters
    ----------
    address
        The agent's ``http://`` or ``https://`` address (``NOMAD_ADDR``).
    ssl_context
        The client's context for ``https://`` (CA, client certificate, verification).
    server_name
        The name to verify and send in SNI instead of the host (``NOMAD_TLS_SERVER_NAME``).
    basic_auth
        ``(user, password)`` from ``NOMAD_HTTP_AUTH``, sent as httpx's ``BasicAuth`` sends it.
    """

    def __init__(self, address: str, *, ssl_context: ssl.SSLContext | None = None,
                 server_name: str | None = None, basic_auth: tuple[str, str] | None = None) -> None:
        url = urlsplit(address)
        self._tls = url.scheme == "https"
        if self._tls and ssl_context is None:
            raise ValueError("an https:// address needs the client's ssl_context")
        self._host = url.hostname or "localhost"
        self._port = url.port or (443 if self._tls else 80)
        self._context = ssl_context
        self._server_name = server_name
        self._authorization = (
            "Basic " + base64.b64encode(f"{basic_auth[0]}:{basic_auth[1]}".encode()).decode("ascii")
            if basic_auth else None
        )
        self._local = threading.local()
        self._lock = threading.Lock()
        self._open: list[http.client.HTTPConnection] = []

    def __repr__(self) -> str:
        return f"DirectSender({'https' if self._tls else 'http'}://{self._host}:{self._port})"

    def _new_connection(self, connect_timeout: float | None) -> http.client.HTTPConnection:
        conn: http.client.HTTPConnection
        if self._tls:
            assert self._context is not None
            conn = _TLSConnection(self._host, self._port, context=self._context,
                                  server_name=self._server_name, timeout=connect_timeout)
        else:
            conn = http.client.HTTPConnection(self._host, self._port, timeout=connect_timeout)
        conn.connect()
        with self._lock:
            self._open.append(conn)
        return conn

    def _drop(self, conn: http.client.HTTPConnection) -> None:
        conn.close()
        if getattr(self._local, "conn", None) is conn:
            self._local.conn = None

    def _put_request(self, conn: http.client.HTTPConnection, target: str, request: httpx.Request) -> None:
        # Its own frame, so no local of a failing send() holds a header value (the token).
        conn.putrequest("GET", target, skip_host=True, skip_accept_encoding=True)
        for name, value in request.headers.raw:
            conn.putheader(name.decode("latin-1"), value.decode("latin-1"))
        if self._authorization:
            conn.putheader("Authorization", self._authorization)
        conn.endheaders()

    def send(self, request: httpx.Request, *, stream: bool = False) -> httpx.Response:
        """Send ``request`` (a ``GET``) and return its answer, body read, as an ``httpx.Response``.

        A kept-alive connection the agent closed in the meantime is replaced and the request
        sent once more on the new one (a ``GET`` has no effect to repeat); any other failure is
        raised as httpx's exception for it.
        """
        if stream or request.method != "GET":
            raise ValueError("DirectSender sends only GET requests, read whole")
        timeouts = request.extensions.get("timeout") or {}
        target = request.url.raw_path.decode("ascii")
        for attempt in (0, 1):
            conn: http.client.HTTPConnection | None = getattr(self._local, "conn", None)
            reused = conn is not None
            if conn is None:
                try:
                    conn = self._new_connection(timeouts.get("connect"))
                except TimeoutError as exc:
                    raise httpx.ConnectTimeout(f"timed out connecting: {exc}", request=request) from exc
                except (OSError, ssl.SSLError) as exc:
                    raise httpx.ConnectError(str(exc), request=request) from exc
                self._local.conn = conn
            assert conn.sock is not None
            conn.sock.settimeout(timeouts.get("read"))
            try:
                self._put_request(conn, target, request)
                response = conn.getresponse()
                body = response.read()
            except (http.client.RemoteDisconnected, BrokenPipeError, ConnectionResetError) as exc:
                self._drop(conn)
                if reused and attempt == 0:
                    continue  # the agent closed the idle connection: send it on a new one
                raise _read_error(exc, request) from exc
            except (OSError, http.client.HTTPException) as exc:
                self._drop(conn)
                raise _read_error(exc, request) from exc
            if response.will_close:
                self._drop(conn)
            return httpx.Response(response.status, headers=response.getheaders(), content=body,
                                  request=request)
        raise AssertionError("unreachable")  # pragma: no cover

    def close(self) -> None:
        """Close every connection the threads opened."""
        with self._lock:
            conns, self._open = self._open, []
        for conn in conns:
            conn.close()


def _read_error(exc: BaseException, request: httpx.Request) -> httpx.TransportError:
    """httpx's exception for a failure after the connection was made."""
    if isinstance(exc, (TimeoutError, socket.timeout)):
        return httpx.ReadTimeout(f"timed out reading the answer: {exc}", request=request)
    if isinstance(exc, http.client.RemoteDisconnected):
        return httpx.RemoteProtocolError("Server disconnected without sending a response.", request=request)
    if isinstance(exc, http.client.IncompleteRead):
        return httpx.RemoteProtocolError(
            f"peer closed connection without sending complete message body ({exc})", request=request)
    if isinstance(exc, http.client.HTTPException):
        return httpx.RemoteProtocolError(str(exc), request=request)
    if isinstance(exc, ssl.SSLError):
        return httpx.ConnectError(str(exc), request=request)
    return httpx.ReadError(str(exc), request=request)
