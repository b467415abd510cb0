"""The one HTTP client every fetcher, widget and action uses to talk to Nomad.

:class:`NomadClient` wraps one ``httpx.Client``. It is configured like the ``nomad`` CLI
(:class:`nomadlab.config.NomadConfig`), sends the token as ``X-Nomad-Token``, and returns a
:class:`Reply` holding the decoded body and the query meta (:class:`QueryMeta`). On top of
plain calls it offers pagination (:meth:`NomadClient.pages`, :meth:`NomadClient.get_all`),
blocking queries (:meth:`NomadClient.watch`), the event stream and logs
(:meth:`NomadClient.events`, :meth:`NomadClient.logs`), and many GETs at once
(:meth:`NomadClient.fan_out`).

Reads (``GET``) are retried with backoff on connection failures, timeouts, 429 (after its
``Retry-After``) and 500/502/503/504. Writes are retried only when the connection was never
made, so Nomad cannot have acted on them.

Construction and ``repr`` never touch the network.

Example
-------
>>> from nomadlab.sim import SimCluster                                   # doctest: +SKIP
>>> client = NomadClient(transport=SimCluster.default(seed=0).transport())  # doctest: +SKIP
>>> client.get("/v1/jobs").body[0]["ID"]                                   # doctest: +SKIP
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Generator, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, replace
from datetime import timedelta
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl

import httpx
import orjson
from tenacity import RetryCallState, Retrying, retry_if_exception, stop_after_attempt

from nomadlab import _json
from nomadlab.config import NomadConfig
from nomadlab.errors import (
    NomadConnectError,
    NomadDecodeError,
    NomadError,
    NomadTLSError,
    error_from_response,
    wrap_transport_error,
)
from nomadlab.retries import RetryPolicy
from nomadlab.streams import Event, LogFrame, iter_events, iter_log_bytes, iter_log_frames

if TYPE_CHECKING:
    from nomadlab.fanout import FanOutResult

__all__ = ["MAX_WAIT", "NomadClient", "QueryMeta", "Reply", "RetryPolicy"]

logger = logging.getLogger("nomadlab.client")

#: Nomad caps a blocking query's wait at 5 minutes (``MaxBlockingRPCQueryTime``).
MAX_WAIT = 300.0
_JITTER_FRACTION = 16  # Nomad adds up to wait/16 of jitter

ParamValue = str | int | float | bool | Sequence[str] | None
Params = Mapping[str, ParamValue]
Sender = Callable[..., httpx.Response]
"""What sends a built request: ``httpx.Client.send`` or a fan-out's ``DirectSender.send``."""

_PROXY_VARIABLES = ("http_proxy", "https_proxy", "all_proxy")


@dataclass(frozen=True)
class QueryMeta:
    """What Nomad's ``X-Nomad-*`` headers said about a reply.

    ``index`` is ``X-Nomad-Index`` (the value to block on next), ``known_leader`` and
    ``last_contact`` tell how fresh a stale read is, and ``next_token`` is the start of the
    next page (``None`` on the last page). Fields the server did not send are ``None``.
    """

    index: int | None = None
    known_leader: bool | None = None
    last_contact: timedelta | None = None
    next_token: str | None = None

    @classmethod
    def from_headers(cls, headers: Mapping[str, str]) -> QueryMeta:
        def integer(name: str) -> int | None:
            value = headers.get(name)
            try:
                return int(value) if value is not None else None
            except ValueError:
                return None

        leader = headers.get("x-nomad-knownleader")
        contact = integer("x-nomad-lastcontact")
        return cls(
            index=integer("x-nomad-index"),
            known_leader=None if leader is None else leader == "true",
            last_contact=None if contact is None else timedelta(milliseconds=contact),
            next_token=headers.get("x-nomad-nexttoken") or None,
        )


@dataclass(frozen=True)
class Reply:
    """A successful answer: the decoded ``body`` (JSON → Python, text → ``str``, empty →
    ``None``), its :class:`QueryMeta`, the status, and the request's method and URL."""

    body: Any
    meta: QueryMeta
    status: int = 200
    method: str = "GET"
    url: str = ""

    @property
    def index(self) -> int | None:
        """Shortcut for ``meta.index``."""
        return self.meta.index


def _format_wait(seconds: float) -> str:
    return f"{max(1, round(seconds * 1000))}ms"


def _encode_params(params: Params | None) -> list[tuple[str, str]]:
    out: list[tuple[str, str]] = []
    for key, value in (params or {}).items():
        if value is None:
            continue
        if isinstance(value, bool):
            out.append((key, "true" if value else "false"))
        elif isinstance(value, str | int | float):
            out.append((key, str(value)))
        else:
            out.extend((key, str(v)) for v in value)
    return out


# Decoding a large list creates millions of dicts; with the cyclic collector running, each
# of its passes re-scans everything decoded so far, which makes decoding 100,000 allocations
# (350 MB) 4x slower. JSON cannot hold reference cycles, so nothing is lost by pausing it.
def _decode_body(response: httpx.Response, decode: Callable[[bytes], Any] | None = None) -> Any:
    content = response.content
    if not content:
        return None
    ctype = response.headers.get("content-type", "")
    if "json" in ctype or (not ctype and content.lstrip()[:1] in (b"{", b"[")):
        try:
            return (decode or _json.loads)(content)
        except (_json.JSONDecodeError, UnicodeDecodeError, RecursionError) as exc:
            reason = "nested too deeply" if isinstance(exc, RecursionError) else str(exc)
            raise NomadDecodeError(
                f"{response.request.method} {response.request.url} returned a body that is not "
                f"JSON ({reason}): {content[:80]!r}; if it came through a proxy, check the proxy, "
                f"else report it with the Nomad version"
            ) from exc
    return response.text


_EMPTY_STREAM = httpx.ByteStream(b"")


def _release(response: httpx.Response) -> None:
    """Let a read, closed response go as soon as its caller drops it.

    httpx keeps a response and its stream in a reference cycle (``Response.stream`` is a
    ``BoundSyncStream`` that holds the response), so a dropped response, with its body, lives
    until the next cyclic collection; the frame builders pause that collector while they
    decode, and every page of a paged list stayed in memory until the build ended. Once the
    body is read and the connection handed back, the stream has nothing left to give: an
    empty one in its place breaks the cycle (``content`` is kept)."""
    if response.is_closed and response.stream is not _EMPTY_STREAM:
        response.stream = _EMPTY_STREAM


def _list_params(params: Params | None, filter: str | None, per_page: int | None,
                 next_token: str | None, stale: bool) -> dict[str, ParamValue]:
    extra: dict[str, ParamValue] = dict(params or {})
    if filter is not None:
        extra["filter"] = filter
    if per_page:
        extra["per_page"] = per_page
    if next_token:
        extra["next_token"] = next_token
    if stale:
        extra["stale"] = ""
    return extra


def _undecompressable(request: httpx.Request, exc: Exception) -> NomadDecodeError:
    return NomadDecodeError(
        f"{request.method} {request.url} sent a body that could not be decompressed ({exc}); "
        f"a proxy may be corrupting it: try again, or without it")


def _close_response(future: Any) -> None:
    if future.exception() is None:
        future.result().close()


_WARNED_INSECURE: set[str] = set()
"""Addresses already warned about (NOMAD_SKIP_VERIFY warns once per address and process)."""


class NomadClient:
    """A synchronous client for Nomad's HTTP API.

    Parameters
    ----------
    config
        Settings; by default read like the CLI (:meth:`NomadConfig.from_env`).
    address, token, namespace, region
        Override single settings (explicit arguments beat ``NOMAD_*`` variables).
    transport
        An ``httpx.BaseTransport`` to use instead of the network, such as the simulator's
        ``SimCluster.transport()`` or ``httpx.MockTransport``.
    retry
        The :class:`RetryPolicy`.
    sleep, clock
        Injected for tests: how to wait, and a monotonic clock.
    """

    def __init__(
        self,
        config: NomadConfig | None = None,
        *,
        address: str | None = None,
        token: str | None = None,
        namespace: str | None = None,
        region: str | None = None,
        transport: httpx.BaseTransport | None = None,
        retry: RetryPolicy | None = None,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
        connect_timeout: float | None = None,
    ) -> None:
        if config is None:
            config = NomadConfig.from_env(
                address=address, token=token, namespace=namespace, region=region
            )
        else:
            changes = {k: v for k, v in (("address", address), ("token", token),
                                         ("namespace", namespace), ("region", region))
                       if v is not None}
            config = config.with_options(**changes) if changes else config
        self._config = config
        self.retry_policy = retry or RetryPolicy()
        self.sleep = sleep
        self._clock = clock
        self._transport = transport
        self._connect = connect_timeout or config.timeout
        headers = {"Accept": "application/json", "User-Agent": "nomadlab"}
        headers.update(config.headers())
        verify: Any = config.ssl_context() if config.uses_tls and transport is None else True
        if config.skip_verify and config.uses_tls and config.address not in _WARNED_INSECURE:
            import warnings

            from nomadlab.errors import NomadInsecureWarning

            _WARNED_INSECURE.add(config.address)
            warnings.warn(f"TLS certificate verification is off for {config.address} (NOMAD_SKIP_VERIFY): "
                          "the agent is not authenticated; set NOMAD_CACERT to its CA instead",
                          NomadInsecureWarning, stacklevel=2)
        self._http = httpx.Client(
            base_url=config.address,
            headers=headers,
            auth=httpx.BasicAuth(*config.http_auth) if config.http_auth else None,
            transport=transport,
            verify=verify,
            timeout=httpx.Timeout(config.timeout),
            follow_redirects=False,
        )
        self._extensions = (
            {"sni_hostname": config.tls_server_name} if config.tls_server_name else {}
        )
        self._access: list[str | None] = []   # the access_warning() answer, once asked

    def _tls_mistake(self, exc: httpx.RemoteProtocolError) -> str | None:
        """What to fix when a server hung up without an answer because of TLS, else None.

        Two mistakes look the same from the request ("Server disconnected"): ``http://`` to a
        port that speaks TLS, and a server that wants a client certificate (with TLS 1.3 it
        refuses it after the handshake). One short probe of the port tells them apart: a TLS
        handshake there succeeds (the scheme is wrong), or fails on a TLS 1.2 handshake without
        a certificate the server asks for (mutual TLS). Only real sockets are probed.
        """
        if self._transport is not None or "disconnected" not in str(exc).lower():
            return None
        import socket
        import ssl

        url = httpx.URL(self._config.address)
        port = url.port or (443 if url.scheme == "https" else 80)
        probe = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        probe.check_hostname = False
        probe.verify_mode = ssl.CERT_NONE
        if url.scheme == "https":
            if self._config.client_cert:
                # Offer our certificate in a TLS 1.2 handshake, where a server that refuses it
                # says so during the handshake instead of hanging up after it.
                try:
                    probe = self._config.ssl_context()
                except NomadError:
                    return None
                probe.check_hostname = False
                probe.verify_mode = ssl.CERT_NONE
            probe.maximum_version = ssl.TLSVersion.TLSv1_2
        try:
            with socket.create_connection((url.host, port), timeout=min(self._config.timeout, 5.0)) as raw, \
                    probe.wrap_socket(raw, server_hostname=url.host):
                pass
        except ssl.SSLError:
            if url.scheme == "https" and self._config.client_cert:
                return (f"the agent at {self._config.address} refused the client certificate in "
                        "NOMAD_CLIENT_CERT (mutual TLS): set NOMAD_CLIENT_CERT and NOMAD_CLIENT_KEY to a "
                        "certificate signed by the CA the agent trusts.")
            if url.scheme == "https":
                return (f"the agent at {self._config.address} refused the connection during TLS: it asks for a "
                        "client certificate (mutual TLS). Set NOMAD_CLIENT_CERT and NOMAD_CLIENT_KEY to a "
                        "certificate its CA signed.")
            return None
        except OSError:
            return None
        if url.scheme == "http":
            return (f"the agent at {self._config.address} speaks TLS on this port: use https:// in NOMAD_ADDR "
                    "(with NOMAD_CACERT for the CA that signed its certificate).")
        return None

    def access_warning(self) -> str | None:
        """Why a list across namespaces may come back empty for this token, or None.

        Nomad leaves out of its lists whatever the token cannot read instead of refusing, so
        with ACLs on an anonymous request (no token) or a token that can read no namespace
        gets empty lists. This asks ``GET /v1/acl/token/self`` (and, for a client token,
        ``GET /v1/namespaces``) once per client and keeps the answer. The token's secret is
        never part of it.
        """
        if not self._access:
            self._access.append(self._find_access_warning())
        return self._access[0]

    def _find_access_warning(self) -> str | None:
        from nomadlab.errors import NomadAPIError, NomadError

        try:
            me = self.get("/v1/acl/token/self").body
        except NomadAPIError as exc:
            if exc.status == 403 and "ACL token not found" in exc.body:
                return ("ACLs are on and this cluster does not know the ACL token (expired, deleted, "
                        "or from another region), so lists come back empty: check NOMAD_TOKEN.")
            return None   # ACLs disabled (400), or an answer that says nothing about reading
        except NomadError:
            return None
        if not isinstance(me, dict) or me.get("AccessorID") == "acls-disabled" or me.get("Type") == "management":
            return None
        if me.get("AccessorID") == "anonymous" or not self._config.token:
            return ("ACLs are on and no ACL token was sent (anonymous): Nomad leaves out what the "
                    "anonymous policy cannot read, so an empty frame may not mean there is nothing. "
                    "Set NOMAD_TOKEN (or pass token=) to a token that can read the namespaces.")
        try:
            readable = self.get("/v1/namespaces").body
        except NomadError:
            return None
        if isinstance(readable, list) and not readable:
            name = me.get("Name") or me.get("AccessorID") or "the token"
            return (f"The ACL token {name!r} can read no namespace, so lists across namespaces come "
                    "back empty: use a token whose policy grants namespace read "
                    "(`nomad acl token self` shows its policies).")
        return None

    # -- plumbing -------------------------------------------------------------------------

    @property
    def config(self) -> NomadConfig:
        return self._config

    def __repr__(self) -> str:
        return f"NomadClient({self._config!r})"

    def __enter__(self) -> NomadClient:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def close(self) -> None:
        """Close pooled connections."""
        self._http.close()

    def _build(
        self,
        method: str,
        path: str,
        *,
        params: Params | None = None,
        json: Any = None,
        namespace: str | None = None,
        region: str | None = None,
        index: int | None = None,
        wait: float | None = None,
        read_timeout: float | None = None,
    ) -> httpx.Request:
        if not path.startswith("/v1/"):
            path = "/v1/" + path.lstrip("/")
        # A query written into the path is kept (httpx would drop it when params are given),
        # and its namespace/region win over the client's defaults.
        path, _, path_query = path.partition("?")
        query: list[tuple[str, str | int | float | bool | None]] = list(
            parse_qsl(path_query, keep_blank_values=True)
        )
        given = {k for k, _ in query}
        ns = namespace if namespace is not None else self._config.namespace
        if ns and (namespace is not None or "namespace" not in given):
            query = [(k, v) for k, v in query if k != "namespace"]
            query.append(("namespace", ns))  # an empty value would silently mean "default"
        rg = region if region is not None else self._config.region
        if rg and (region is not None or "region" not in given):
            query = [(k, v) for k, v in query if k != "region"]
            query.append(("region", rg))
        if index:
            query.append(("index", str(index)))
        if wait is not None:
            query.append(("wait", _format_wait(min(wait, MAX_WAIT))))
        query.extend(_encode_params(params))
        read = self._config.timeout
        if wait is not None and index:
            read += min(wait, MAX_WAIT) * (1 + 1 / _JITTER_FRACTION)
        if read_timeout is not None:
            read = read_timeout
        timeout = httpx.Timeout(self._config.timeout, connect=self._connect, read=read)
        content = None if json is None else orjson.dumps(json)
        headers = {"Content-Type": "application/json"} if content is not None else None
        return self._http.build_request(
            method.upper(), path, params=query, content=content, headers=headers,
            timeout=timeout, extensions=self._extensions,
        )

    def _send_once(self, request: httpx.Request, *, stream: bool = False,
                   sender: Sender | None = None) -> httpx.Response:
        try:
            response = (sender or self._http.send)(request, stream=stream)
        except httpx.TransportError as exc:
            tls = self._tls_mistake(exc) if isinstance(exc, httpx.RemoteProtocolError) else None
            if tls is not None:
                raise NomadTLSError(tls, method=request.method, url=str(request.url),
                                    request_sent=False) from exc
            raise wrap_transport_error(exc, method=request.method, url=str(request.url)) from exc
        except httpx.DecodingError as exc:
            raise _undecompressable(request, exc) from exc
        logger.debug("%s %s -> %d", request.method, request.url, response.status_code)
        if response.status_code >= 300:
            try:
                response.read()
            except httpx.TransportError as exc:
                raise wrap_transport_error(
                    exc, method=request.method, url=str(request.url)
                ) from exc
            finally:
                response.close()
            raise error_from_response(response, token=self._config.token)
        return response

    def _send(self, request: httpx.Request, *, stream: bool = False, tried: int = 0,
              sender: Sender | None = None) -> httpx.Response:
        """Send with the retry policy; ``tried`` attempts were already made (and waited after).
        ``sender`` replaces ``httpx.Client.send`` (the fan-out's :class:`~nomadlab._direct.DirectSender`)."""
        if tried == 0:
            # The first attempt outside tenacity: most requests succeed at once, and building the
            # retry machinery for each of them was most of the client's cost per small request.
            try:
                return self._send_once(request, stream=stream, sender=sender)
            except Exception as exc:
                return self._retry_after_first(request, exc, stream=stream, sender=sender)
        policy = self.retry_policy

        def log_retry(state: RetryCallState) -> None:
            exc = state.outcome.exception() if state.outcome else None
            logger.warning("retrying %s %s after %s (attempt %d)", request.method, request.url,
                           type(exc).__name__, state.attempt_number + tried)

        def wait(state: RetryCallState) -> float:
            exc = state.outcome.exception() if state.outcome else None
            return policy.delay(state.attempt_number + tried, exc)

        retrying = Retrying(
            stop=stop_after_attempt(max(1, policy.attempts - tried)),
            wait=wait,
            retry=retry_if_exception(lambda e: policy.should_retry(e, request.method)),
            sleep=self.sleep,
            before_sleep=log_retry,
            reraise=True,
        )
        response: httpx.Response = retrying(self._send_once, request, stream=stream, sender=sender)
        return response

    def _retry_after_first(self, request: httpx.Request, error: BaseException, *,
                           stream: bool, sender: Sender | None = None) -> httpx.Response:
        """The rest of the retry policy for a request whose first attempt failed with ``error``
        (made elsewhere, on the page helper thread): wait, and try again here, or re-raise."""
        policy = self.retry_policy
        if policy.attempts <= 1 or not policy.should_retry(error, request.method):
            raise error
        logger.warning("retrying %s %s after %s (attempt 1)", request.method, request.url, type(error).__name__)
        self.sleep(policy.delay(1, error))
        return self._send(request, stream=stream, tried=1, sender=sender)

    # -- plain calls ------------------------------------------------------------------------

    def request(
        self,
        method: str,
        path: str,
        *,
        params: Params | None = None,
        json: Any = None,
        namespace: str | None = None,
        region: str | None = None,
        index: int | None = None,
        wait: float | None = None,
        decode: Callable[[bytes], Any] | None = None,
    ) -> Reply:
        """Send one request and decode the answer.

        ``path`` is an API path (``/v1/jobs``; a missing ``/v1`` is added). ``namespace`` and
        ``region`` override the config for this call (``namespace="*"`` for every namespace).
        ``index``/``wait`` (seconds, capped at 300) make a GET a blocking query.
        Raises a :class:`nomadlab.errors.NomadAPIError` subclass for an error status and a
        :class:`nomadlab.errors.NomadTransportError` when no answer came. ``decode`` replaces
        the JSON decoder (a projection from :func:`nomadlab._json.decoder_for`, say).
        """
        request = self._build(method, path, params=params, json=json, namespace=namespace,
                              region=region, index=index, wait=wait)
        return self._reply(request, self._send(request), decode)

    @staticmethod
    def _reply(request: httpx.Request, response: httpx.Response,
               decode: Callable[[bytes], Any] | None = None) -> Reply:
        _release(response)
        return Reply(
            body=_decode_body(response, decode),
            meta=QueryMeta.from_headers(response.headers),
            status=response.status_code,
            method=request.method,
            url=str(request.url),
        )

    def get(
        self,
        path: str,
        *,
        params: Params | None = None,
        namespace: str | None = None,
        region: str | None = None,
        index: int | None = None,
        wait: float | None = None,
        filter: str | None = None,
        per_page: int | None = None,
        next_token: str | None = None,
        stale: bool = False,
        decode: Callable[[bytes], Any] | None = None,
    ) -> Reply:
        """``GET path``. ``filter`` is passed to Nomad's server-side ``?filter=``;
        ``per_page``/``next_token`` fetch one page (see :meth:`pages` for all of them)."""
        return self.request("GET", path, params=_list_params(params, filter, per_page, next_token, stale),
                            namespace=namespace, region=region, index=index, wait=wait, decode=decode)

    def post(self, path: str, json: Any = None, *, params: Params | None = None,
             namespace: str | None = None, region: str | None = None) -> Reply:
        """``POST path`` with a JSON body. Not retried once the request may have been sent."""
        return self.request("POST", path, json=json, params=params, namespace=namespace,
                            region=region)

    def put(self, path: str, json: Any = None, *, params: Params | None = None,
            namespace: str | None = None, region: str | None = None) -> Reply:
        """``PUT path`` with a JSON body. Not retried once the request may have been sent."""
        return self.request("PUT", path, json=json, params=params, namespace=namespace,
                            region=region)

    def delete(self, path: str, *, params: Params | None = None,
               namespace: str | None = None, region: str | None = None) -> Reply:
        """``DELETE path``. Not retried once the request may have been sent."""
        return self.request("DELETE", path, params=params, namespace=namespace, region=region)

    # -- pagination -------------------------------------------------------------------------

    def pages(
        self,
        path: str,
        *,
        params: Params | None = None,
        namespace: str | None = None,
        region: str | None = None,
        filter: str | None = None,
        per_page: int | None = None,
        prefetch: bool = False,
        decode: Callable[[bytes], Any] | None = None,
    ) -> Generator[Reply, None, None]:
        """Every page of a list endpoint, following ``X-Nomad-NextToken`` to the end.

        With ``prefetch``, the next page is asked for as soon as a page's headers (which carry
        its token) arrive, before that page's body is read and decoded, so Nomad prepares page
        N+1 while the caller works on page N; the waiting happens on one helper thread, which
        holds no page in memory. Errors surface where the page would have been yielded.
        """
        seen: set[str] = set()

        def follow(token: str | None) -> str | None:
            if token and token in seen:
                raise NomadDecodeError(f"GET {path} repeated next_token {token!r}: stopping")
            if token:
                seen.add(token)
            return token

        if not prefetch:
            token: str | None = None
            while True:
                reply = self.get(path, params=params, namespace=namespace, region=region,
                                 filter=filter, per_page=per_page, next_token=token, decode=decode)
                yield reply
                token = follow(reply.meta.next_token)
                if not token:
                    return

        def page_request(next_token: str | None) -> httpx.Request:
            return self._build("GET", path, params=_list_params(params, filter, per_page, next_token, False),
                               namespace=namespace, region=region)

        from concurrent.futures import Future, ThreadPoolExecutor

        # The helper thread makes one attempt per page and holds nothing else: retries (and
        # their waits) happen on this thread, when the page is needed, so a caller that stops
        # early leaves nothing running behind it.
        pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="nomadlab-pages")

        def ask(next_token: str | None) -> tuple[httpx.Request, Future[httpx.Response]]:
            request = page_request(next_token)
            return request, pool.submit(self._send_once, request, stream=True)

        pending: tuple[httpx.Request, Future[httpx.Response]] | None = ask(None)
        try:
            while pending is not None:
                request, future = pending
                pending = None
                try:
                    response = future.result()
                except NomadError as exc:
                    response = self._retry_after_first(request, exc, stream=True)
                try:
                    token = follow(QueryMeta.from_headers(response.headers).next_token)
                    if token:
                        pending = ask(token)
                    read = self._read_body(response)
                    if read is not response:      # asked again: the list may have moved since
                        response.close()
                        response = read
                        again = QueryMeta.from_headers(response.headers).next_token
                        if again != token:
                            if pending is not None:
                                pending[1].add_done_callback(_close_response)
                                pending = None
                            if token:
                                seen.discard(token)
                            if follow(again):
                                pending = ask(again)
                finally:
                    response.close()
                reply = self._reply(response.request, response, decode)
                del response                       # the page's bytes go before the next arrives
                yield reply
                del reply
        finally:
            if pending is not None:   # the caller stopped early: close the page asked for ahead
                pending[1].add_done_callback(_close_response)
            pool.shutdown(wait=False)

    def _read_body(self, response: httpx.Response) -> httpx.Response:
        """Read a streamed response's body; when the body breaks off, ask again (a GET, so
        retried as the policy says, the broken read counted as the first attempt) without
        streaming: the answer is a new response."""
        request = response.request
        try:
            response.read()
            return response
        except httpx.DecodingError as exc:
            raise _undecompressable(request, exc) from exc
        except httpx.TransportError as exc:
            error = wrap_transport_error(exc, method=request.method, url=str(request.url))
            error.__cause__ = exc
        response.close()
        # The broken read was an attempt: the policy's count and waits go on from there.
        return self._retry_after_first(request, error, stream=False)

    def get_all(
        self,
        path: str,
        *,
        params: Params | None = None,
        namespace: str | None = None,
        region: str | None = None,
        filter: str | None = None,
        per_page: int | None = None,
        prefetch: bool = False,
        decode: Callable[[bytes], Any] | None = None,
    ) -> Reply:
        """All pages of a list endpoint joined into one list.

        The reply's index is the lowest any page reported, so a :meth:`watch` started from it
        sees every change made while the pages were read.
        """
        items: list[Any] = []
        first: Reply | None = None
        lowest: int | None = None
        for reply in self.pages(path, params=params, namespace=namespace, region=region,
                                filter=filter, per_page=per_page, prefetch=prefetch, decode=decode):
            if not isinstance(reply.body, list):
                raise NomadDecodeError(f"GET {path} did not return a list")
            items.extend(reply.body)
            first = first or reply
            if reply.meta.index is not None:
                lowest = reply.meta.index if lowest is None else min(lowest, reply.meta.index)
        assert first is not None
        return replace(first, body=items, meta=replace(first.meta, index=lowest, next_token=None))

    # -- blocking queries -------------------------------------------------------------------

    def watch(
        self,
        path: str,
        *,
        params: Params | None = None,
        namespace: str | None = None,
        region: str | None = None,
        filter: str | None = None,
        index: int = 0,
        wait: float = MAX_WAIT,
        min_interval: float = 1.0,
    ) -> Iterator[Reply]:
        """Replies from a blocking endpoint, each time its index moves.

        The first request is non-blocking when ``index`` is 0 (and yields the current state);
        every later one blocks with ``?index=<last>&wait=<wait>`` (``wait`` capped at 300 s).
        A reply with the same index (the wait ran out) is not yielded. An index that goes
        backwards (a restored or rebuilt cluster) restarts the watch at 0. A request that
        yielded nothing is never followed by another sooner than ``min_interval`` seconds,
        so a server that does not block cannot cause a busy loop.
        """
        extra: dict[str, ParamValue] = dict(params or {})
        if filter is not None:
            extra["filter"] = filter
        current = max(0, index)
        started: float | None = None
        idle = False
        while True:
            if idle and started is not None:
                pause = min_interval - (self._clock() - started)
                if pause > 0:
                    self.sleep(pause)
            started = self._clock()
            reply = self.request("GET", path, params=extra, namespace=namespace, region=region,
                                 index=current or None, wait=wait if current else None)
            new = reply.meta.index
            if new is None:
                raise NomadDecodeError(
                    f"GET {path} sent no X-Nomad-Index: it is not a blocking endpoint"
                )
            if current and new < current:
                logger.info("index of %s went back from %d to %d: restarting at 0",
                            path, current, new)
                current, idle = 0, True
            elif current == 0 or new > current:
                current, idle = max(new, 1), False
                yield reply
            else:
                idle = True

    # -- streams ----------------------------------------------------------------------------

    @contextmanager
    def open_stream(
        self,
        path: str,
        *,
        params: Params | None = None,
        namespace: str | None = None,
        region: str | None = None,
        read_timeout: float | None = None,
    ) -> Iterator[httpx.Response]:
        """A streamed ``GET``: the ``httpx.Response`` with its body not yet read.

        Opening is retried like any read; errors while reading are the caller's.
        """
        request = self._build("GET", path, params=params, namespace=namespace, region=region,
                              read_timeout=read_timeout)
        response = self._send(request, stream=True)
        try:
            yield response
        finally:
            response.close()

    def events(
        self,
        topics: Mapping[str, Sequence[str]] | Sequence[str] | None = None,
        *,
        index: int = 0,
        namespace: str | None = None,
        region: str | None = None,
        reconnect: bool = True,
        max_reconnects: int = 5,
    ) -> Iterator[Event]:
        """Events from ``GET /v1/event/stream`` (NDJSON), one :class:`Event` at a time.

        ``topics`` is ``{"Job": ["web"], "Node": ["*"]}`` or ``["Job", "Allocation:web"]``;
        ``None`` asks for every topic (a management token is needed then). Heartbeats are
        skipped; after a drop the stream resumes after the last index seen, without
        duplicates. ACL: ``read-job`` for Job/Allocation/Evaluation/Deployment/Service topics,
        ``node:read`` for Node.
        """
        return iter_events(self, topics, index=index, namespace=namespace, region=region,
                           reconnect=reconnect, max_reconnects=max_reconnects)

    def for_node(self, node_id: str, *, connect_timeout: float = 1.0) -> NomadClient:
        """A client for the agent on client node ``node_id`` itself (as the Go API's
        ``GetNodeClient``): its ``HTTPAddr``, ``https`` when it has TLS, with the name
        ``client.<region>.nomad`` checked, the same token, a short connect timeout and one try.

        Endpoint: GET /v1/node/:node_id (``node:read``). Raises
        :class:`nomadlab.errors.NomadConnectError` for a down node or one with no address.
        """
        node = self.get(f"/v1/node/{node_id}").body or {}
        address, tls = node.get("HTTPAddr"), bool(node.get("TLSEnabled"))
        if node.get("Status") == "down" or not address:
            raise NomadConnectError(
                f"client node {node_id} is {'down' if address else 'not advertising an address'}:"
                " its node-local data (logs, files, stats) cannot be reached",
                method="GET", url=f"{self._config.address}/v1/node/{node_id}",
                request_sent=False)
        config = self._config.with_options(
            address=f"{'https' if tls else 'http'}://{address}",
            tls_server_name=(f"client.{self._config.region or 'global'}.nomad" if tls
                             else self._config.tls_server_name),
        )
        return NomadClient(config, transport=self._transport, retry=RetryPolicy(attempts=1),
                           sleep=self.sleep, clock=self._clock, connect_timeout=connect_timeout)

    def logs(
        self,
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
    ) -> Iterator[LogFrame]:
        """Log frames of one task, from ``GET /v1/client/fs/logs/:alloc_id``.

        The logs live on the client node that runs the allocation; the server forwards the
        request there. ``origin="end"`` with ``offset=N`` starts N bytes before the end;
        ``follow=True`` keeps the stream open. ACL: ``read-logs`` (or ``read-fs``).
        ``direct=True`` first asks the node's own agent (:meth:`for_node`), as the ``nomad``
        CLI does, and falls back to the server when the node cannot be reached.
        A garbage-collected allocation has no logs: that is a ``NotFoundError`` whose hint
        says so. Read from ``origin="start"``, a dropped connection is reopened where the
        delivered data ends (unless ``reconnect=False``), with nothing lost or repeated.
        """
        return iter_log_frames(self, alloc_id, task, log_type=log_type, follow=follow,
                               origin=origin, offset=offset, namespace=namespace, region=region,
                               direct=direct, reconnect=reconnect)

    def logs_plain(
        self,
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
    ) -> Iterator[bytes]:
        """Raw log bytes of one task (``?plain=true``), as they arrive (resumed as :meth:`logs`)."""
        return iter_log_bytes(self, alloc_id, task, log_type=log_type, follow=follow,
                              origin=origin, offset=offset, namespace=namespace, region=region,
                              direct=direct, reconnect=reconnect)

    def read_logs(self, alloc_id: str, task: str, *, log_type: str = "stdout",
                  origin: str = "start", offset: int = 0, namespace: str | None = None) -> bytes:
        """The whole current log of one task (not followed), as bytes."""
        return b"".join(frame.data for frame in self.logs(
            alloc_id, task, log_type=log_type, origin=origin, offset=offset,
            namespace=namespace))

    # -- fan-out ------------------------------------------------------------------------------

    @contextmanager
    def _fan_out_getter(self) -> Iterator[Callable[..., Reply]]:
        """A ``get(path, params=, namespace=, region=)`` for many GETs from many threads.

        Against a real agent with no proxy configured, the GETs are built here as always and
        sent on :class:`nomadlab._direct.DirectSender`'s ``http.client`` connections (a quarter
        of the CPU per request that ``httpx.Client.send`` takes); with an injected transport
        (the simulator, a mock) or a proxy in the environment, this is :meth:`get`.
        """
        import os

        proxied = any(os.environ.get(v) or os.environ.get(v.upper()) for v in _PROXY_VARIABLES)
        if self._transport is not None or proxied:
            yield self.get
            return
        from nomadlab._direct import DirectSender

        cfg = self._config
        sender = DirectSender(cfg.address, ssl_context=cfg.ssl_context() if cfg.uses_tls else None,
                              server_name=cfg.tls_server_name, basic_auth=cfg.http_auth)

        def get(path: str, *, params: Params | None = None, namespace: str | None = None,
                region: str | None = None) -> Reply:
            request = self._build("GET", path, params=params, namespace=namespace, region=region)
            return self._reply(request, self._send(request, sender=sender.send))

        try:
            yield get
        finally:
            sender.close()

    def fan_out(
        self,
        requests: Mapping[str, str] | Iterable[str],
        *,
        params: Params | None = None,
        namespace: str | None = None,
        region: str | None = None,
        max_workers: int = 8,
        progress: bool = True,
        desc: str | None = None,
    ) -> FanOutResult:
        """Many GETs at once on a thread pool; see :func:`nomadlab.fanout.fan_out`."""
        from nomadlab.fanout import fan_out

        return fan_out(self, requests, params=params, namespace=namespace, region=region,
                       max_workers=max_workers, progress=progress, desc=desc)

