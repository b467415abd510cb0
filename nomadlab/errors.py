"""Every error nomadlab's client raises, in one tree.

::

    NomadError
     ├── NomadConfigError          bad settings (also a ValueError); raised before any request
     ├── NomadTransportError       no HTTP answer; the httpx error is the ``__cause__``
     │    ├── NomadConnectError    cannot connect (refused, DNS, unreachable)
     │    │    └── NomadTLSError   TLS handshake failed (untrusted cert, wrong name, mTLS refused)
     │    └── NomadTimeoutError    connect, read or write timed out
     ├── NomadDecodeError          a body or stream (events, logs) that does not decode
     └── NomadAPIError             Nomad answered with a non-2xx status
          ├── BadRequestError          400
          ├── UnauthorizedError        401  (basic auth in front of the agent)
          ├── PermissionDeniedError    403  (ACL)
          ├── NotFoundError            404
          ├── MethodNotAllowedError    405
          ├── ConflictError            409
          ├── RateLimitedError         429  (``retry_after`` in seconds)
          └── ServerError              5xx
               ├── InternalServerError      500
               ├── BadGatewayError          502
               ├── ServiceUnavailableError  503
               └── GatewayTimeoutError      504

The status → class mapping is the single table :data:`STATUS_CLASSES`; :func:`from_status`
reads it (an unknown 4xx is a plain :class:`NomadAPIError`, an unknown 5xx a
:class:`ServerError`). Every :class:`NomadAPIError` carries ``status``, ``method``, ``url``,
Nomad's plain-text ``body`` and a ``hint`` saying what to do; a 403's hint names the capability
the endpoint needs and the namespace it was asked on. The ACL token never appears in any message.
"""

from __future__ import annotations

import re
import ssl
from collections.abc import Mapping
from dataclasses import dataclass
from email.utils import parsedate_to_datetime
from typing import TYPE_CHECKING, ClassVar
from urllib.parse import parse_qs, urlsplit

if TYPE_CHECKING:
    import httpx

__all__ = [
    "STATUS_CLASSES",
    "NomadAccessWarning",
    "NomadInsecureWarning",
    "BadGatewayError",
    "BadRequestError",
    "ConflictError",
    "GatewayTimeoutError",
    "InternalServerError",
    "MethodNotAllowedError",
    "NomadAPIError",
    "NomadConfigError",
    "NomadConnectError",
    "NomadError",
    "NomadDecodeError",
    "NomadTLSError",
    "NomadTimeoutError",
    "NomadTransportError",
    "NotFoundError",
    "PermissionDeniedError",
    "RateLimitedError",
    "RequiredCapability",
    "ServerError",
    "ServiceUnavailableError",
    "UnauthorizedError",
    "error_from_response",
    "from_status",
    "parse_retry_after",
    "required_capability",
    "wrap_transport_error",
]

REDACTED = "<redacted>"


class NomadError(Exception):
    """Base class of every nomadlab client error."""


class NomadConfigError(NomadError, ValueError):
    """The settings cannot work (missing client key, unreadable CA file, bad address)."""


class NomadAccessWarning(UserWarning):
    """An empty answer that may only mean the ACL token can read nothing (Nomad filters what
    a token cannot read out of lists rather than refusing them)."""


class NomadInsecureWarning(UserWarning):
    """TLS certificate verification is off (``NOMAD_SKIP_VERIFY``): anyone on the path can
    read and change the traffic, the ACL token included."""


class NomadDecodeError(NomadError):
    """A response body or stream (events, logs) is not what the endpoint documents."""


class NomadTransportError(NomadError):
    """The request got no HTTP answer. ``__cause__`` is the underlying ``httpx`` error."""

    def __init__(self, message: str, *, method: str, url: str, request_sent: bool = True) -> None:
        super().__init__(message)
        self.method = method
        self.url = url
        #: False only when the connection was never made, so the server cannot have acted.
        self.request_sent = request_sent


class NomadConnectError(NomadTransportError):
    """Could not open a connection to the agent."""


class NomadTLSError(NomadConnectError):
    """The TLS handshake failed."""


class NomadTimeoutError(NomadTransportError):
    """Connecting, sending or reading timed out."""


class NomadAPIError(NomadError):
    """Nomad answered with an error status.

    Attributes
    ----------
    status, method, url
        The HTTP status and the request that got it (the URL never carries the token).
    body
        Nomad's error text (its error bodies are plain text, not JSON).
    hint
        What to do about it, in one or two sentences.
    retry_after
        Seconds from the ``Retry-After`` header (429, 503), when the server sent one.
    """

    status_code: ClassVar[int | None] = None
    retry_after: float | None = None

    def __init__(
        self, status: int, method: str, url: str, body: str, hint: str = "", reason: str = ""
    ) -> None:
        self.status = status
        self.method = method
        self.url = url
        self.body = body
        self.hint = hint
        self.reason = reason
        text = f"{status}{' ' + reason if reason else ''} from {method} {url}"
        if body:
            text += f": {body}"
        if hint:
            text += f"\n{hint}"
        super().__init__(text)


class BadRequestError(NomadAPIError):
    status_code = 400


class UnauthorizedError(NomadAPIError):
    status_code = 401


class PermissionDeniedError(NomadAPIError):
    """403: the ACL token is missing, unknown, or lacks a capability (see ``required``)."""

    status_code = 403
    required: RequiredCapability | None = None


class NotFoundError(NomadAPIError):
    status_code = 404


class MethodNotAllowedError(NomadAPIError):
    status_code = 405


class ConflictError(NomadAPIError):
    status_code = 409


class RateLimitedError(NomadAPIError):
    """429. ``retry_after`` is the server's ``Retry-After`` in seconds, when it sent one."""

    status_code = 429


class ServerError(NomadAPIError):
    """Any 5xx."""


class InternalServerError(ServerError):
    status_code = 500


class BadGatewayError(ServerError):
    status_code = 502


class ServiceUnavailableError(ServerError):
    status_code = 503


class GatewayTimeoutError(ServerError):
    status_code = 504


#: The one status → class table.
STATUS_CLASSES: Mapping[int, type[NomadAPIError]] = {
    cls.status_code: cls
    for cls in (
        BadRequestError,
        UnauthorizedError,
        PermissionDeniedError,
        NotFoundError,
        MethodNotAllowedError,
        ConflictError,
        RateLimitedError,
        InternalServerError,
        BadGatewayError,
        ServiceUnavailableError,
        GatewayTimeoutError,
    )
    if cls.status_code is not None
}


def from_status(status: int) -> type[NomadAPIError]:
    """The class for an HTTP error status, from :data:`STATUS_CLASSES`."""
    cls = STATUS_CLASSES.get(status)
    if cls is not None:
        return cls
    return ServerError if status >= 500 else NomadAPIError


# -- which capability an endpoint needs ------------------------------------------------------


@dataclass(frozen=True)
class RequiredCapability:
    """What a token needs for an endpoint: ``capability`` in ``scope``.

    ``scope`` is ``"namespace"`` (a namespace capability such as ``read-job``), or a policy
    block: ``"node"``, ``"agent"``, ``"operator"``, or ``"management"`` (a management token).
    """

    capability: str
    scope: str = "namespace"

    def describe(self, namespace: str) -> str:
        if self.scope == "namespace":
            if namespace == "*":
                return f"the `{self.capability}` capability on the namespaces to read"
            return f"the `{self.capability}` capability on namespace `{namespace}`"
        if self.scope == "management":
            return "a management token"
        return f'`{self.scope} {{ policy = "{self.capability}" }}`'


_ID = r"[^/]+"
_READ = ("GET", "HEAD")
_WRITE = ("POST", "PUT")
# (methods, path pattern, requirement): first match wins. From Nomad's ACL checks per endpoint.
_CAPABILITIES: tuple[tuple[tuple[str, ...], re.Pattern[str], RequiredCapability], ...] = tuple(
    (methods, re.compile(pattern + r"/?$"), need)
    for methods, pattern, need in (
        (_READ, r"/v1/jobs(/statuses)?", RequiredCapability("list-jobs")),
        (_WRITE, r"/v1/jobs/parse", RequiredCapability("parse-job")),
        (_WRITE, r"/v1/jobs(/statuses)?", RequiredCapability("submit-job")),
        (_READ, rf"/v1/job/{_ID}/scale", RequiredCapability("read-job-scaling")),
        (_WRITE, rf"/v1/job/{_ID}/scale", RequiredCapability("scale-job")),
        (_WRITE, rf"/v1/job/{_ID}/dispatch", RequiredCapability("dispatch-job")),
        (_READ, rf"/v1/job/{_ID}(/.*)?", RequiredCapability("read-job")),
        (("DELETE", *_WRITE), rf"/v1/job/{_ID}(/.*)?", RequiredCapability("submit-job")),
        (_WRITE, r"/v1/validate/job", RequiredCapability("read-job")),
        (_WRITE, rf"/v1/allocation/{_ID}/stop", RequiredCapability("alloc-lifecycle")),
        (_READ, r"/v1/allocations|/v1/allocation/.+", RequiredCapability("read-job")),
        (_READ, rf"/v1/client/allocation/{_ID}/stats", RequiredCapability("read-job")),
        (_WRITE, rf"/v1/client/allocation/{_ID}/.+", RequiredCapability("alloc-lifecycle")),
        (_READ, rf"/v1/client/fs/logs/{_ID}", RequiredCapability("read-logs")),
        (_READ, r"/v1/client/fs/.+", RequiredCapability("read-fs")),
        (_READ, r"/v1/client/stats", RequiredCapability("read", "node")),
        (_READ, rf"/v1/node/{_ID}/allocations", RequiredCapability("read", "node")),
        (_READ, r"/v1/nodes|/v1/node/.+|/v1/node/pools?(/.*)?", RequiredCapability("read", "node")),
        (_WRITE, r"/v1/node/.+", RequiredCapability("write", "node")),
        (_READ, r"/v1/(evaluations|evaluation/.+|deployments|deployment/.+)",
         RequiredCapability("read-job")),
        (_WRITE, r"/v1/deployment/.+", RequiredCapability("submit-job")),
        (_READ, r"/v1/namespaces?(/.*)?", RequiredCapability("read-job")),
        (_READ, r"/v1/acl/token/self", RequiredCapability("any valid token", "management")),
        (_READ + _WRITE + ("DELETE",), r"/v1/acl/.+", RequiredCapability("acl", "management")),
        (_READ, r"/v1/operator/.+", RequiredCapability("read", "operator")),
        (_WRITE + ("DELETE",), r"/v1/operator/.+", RequiredCapability("write", "operator")),
        (_READ, r"/v1/agent/.+|/v1/metrics", RequiredCapability("read", "agent")),
        (_WRITE, r"/v1/agent/.+", RequiredCapability("write", "agent")),
    )
)

_TOPIC_CAPABILITIES = {
    "Job": RequiredCapability("read-job"),
    "Allocation": RequiredCapability("read-job"),
    "Deployment": RequiredCapability("read-job"),
    "Evaluation": RequiredCapability("read-job"),
    "Service": RequiredCapability("read-job"),
    "Node": RequiredCapability("read", "node"),
}


def required_capability(
    method: str, path: str, query: Mapping[str, list[str]] | None = None
) -> RequiredCapability | None:
    """The capability Nomad checks for ``method path``, or ``None`` when not known here.

    For ``/v1/event/stream`` the topics decide: ``Job``/``Allocation``/... need ``read-job``,
    ``Node`` needs ``node:read``, anything else (and no topic, meaning ``*``) a management token.
    """
    method = method.upper()
    if path.rstrip("/") == "/v1/event/stream":
        topics = [t.split(":", 1)[0] for t in (query or {}).get("topic", [])] or ["*"]
        needs = {_TOPIC_CAPABILITIES.get(t, RequiredCapability("management", "management"))
                 for t in topics}
        if any(n.scope == "management" for n in needs):
            return RequiredCapability("management", "management")
        if len(needs) == 1:
            return needs.pop()
        return RequiredCapability("read-job")  # plus node:read; read-job is the usual gap
    for methods, pattern, need in _CAPABILITIES:
        if method in methods and pattern.match(path):
            return need
    return None


# -- hints ----------------------------------------------------------------------------------

_ALLOC_PATH = re.compile(r"^/v1/(?:client/fs/\w+|client/allocation|allocation)/([^/?]+)")


def _hint_403(path: str, method: str, query: Mapping[str, list[str]], body: str,
              token_sent: bool) -> tuple[str, RequiredCapability | None]:
    namespace = (query.get("namespace") or ["default"])[0] or "default"
    need = required_capability(method, path, query)
    wanted = need.describe(namespace) if need else "a policy that allows this endpoint"
    if not token_sent:
        return (f"No ACL token was sent: set NOMAD_TOKEN (or pass token=) to a token with "
                f"{wanted}.", need)
    if body.strip().endswith("ACL token not found"):
        return ("The ACL token is not known to this cluster (expired, deleted, or from another "
                "region): check NOMAD_TOKEN.", need)
    if need and need.capability == "any valid token":
        return ("The ACL token is not valid here: check NOMAD_TOKEN.", need)
    if "disabled by the scheduler configuration" in body:
        return ("Job registration is switched off in the scheduler configuration "
                "(`nomad operator scheduler set-config`); no token can change that.", need)
    return (f"The ACL token lacks {wanted}: use a token whose policy grants it "
            "(`nomad acl token self` shows the token's policies).", need)


def _hint(status: int, method: str, path: str, body: str) -> str:
    text = body.strip()
    match = _ALLOC_PATH.match(path)
    alloc = match.group(1) if match else None
    on_client = path.startswith("/v1/client/")
    if alloc and (
        (status == 404 and ("not found" in text.lower() or not text))
        or text.startswith("Unknown allocation")
    ):
        what = "logs, files or stats" if on_client else "details"
        return (f"Allocation {alloc} is not known to the cluster: it has probably been "
                f"garbage-collected, and a garbage-collected allocation has no {what}. "
                "List current allocations with GET /v1/job/<job>/allocations.")
    if status == 400 and "HTTP request to an HTTPS server" in text:
        return ("The agent serves HTTPS on this port: use https:// in NOMAD_ADDR (with NOMAD_CACERT "
                "for the CA that signed its certificate).")
    if status == 404 and "not started yet" in text:
        return "The task has not started, so it has no logs yet: retry later or pass follow=True."
    if status == 400 and text.startswith("unknown task name"):
        return "No task of that name in this allocation: GET /v1/allocation/<id> lists its tasks."
    if on_client and ("No path to node" in text or "Unknown node" in text):
        return ("The client node that holds this allocation is down or unreachable; node-local "
                "data (logs, files, stats) lives only on that node.")
    if status == 400 and text == "ACL support disabled":
        return ("ACLs are disabled on this cluster: ACL endpoints are unavailable and no token "
                "is needed.")
    if status == 400 and "filter" in text.lower():
        return "The filter expression was refused: check its syntax and selector names."
    if status == 401:
        return "The agent is behind HTTP basic auth: set NOMAD_HTTP_AUTH=user:password."
    if status == 404 and not text:
        return "No such endpoint on this agent: check the path and the Nomad version."
    if status == 405:
        return f"Nomad does not accept {method} on this endpoint."
    if status == 429:
        return "Nomad's rate limit was hit: slow down; reads are retried after Retry-After."
    if status >= 500:
        return ("The Nomad server failed to answer; reads are retried automatically, writes are "
                "not (check whether the write took effect before repeating it).")
    return ""


def parse_retry_after(value: str | None, now: float | None = None) -> float | None:
    """Seconds to wait from a ``Retry-After`` header (delta-seconds or an HTTP date)."""
    if not value:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if now is None:
        import time

        now = time.time()
    return max(0.0, when.timestamp() - now)


def error_from_response(response: httpx.Response, *, token: str | None) -> NomadAPIError:
    """The :class:`NomadAPIError` for an error response (the body must already be read)."""
    request = response.request
    method = request.method
    url = str(request.url)
    path = request.url.path
    body = response.text.strip()
    if token:
        body = body.replace(token, REDACTED)
        url = url.replace(token, REDACTED)
    cls = from_status(response.status_code)
    query = parse_qs(urlsplit(url).query, keep_blank_values=True)
    required: RequiredCapability | None = None
    if response.status_code == 403:
        hint, required = _hint_403(path, method, query, body,
                                   token_sent="x-nomad-token" in request.headers)
    else:
        hint = _hint(response.status_code, method, path, body)
    error = cls(response.status_code, method, url, body, hint, response.reason_phrase)
    if isinstance(error, PermissionDeniedError):
        error.required = required
    if response.status_code in (429, 503):
        error.retry_after = parse_retry_after(response.headers.get("retry-after"))
    return error


def wrap_transport_error(exc: Exception, *, method: str, url: str) -> NomadTransportError:
    """A :class:`NomadTransportError` subclass for an ``httpx`` transport failure.

    The caller raises it ``from exc`` so the original stays available as ``__cause__``.
    """
    import httpx

    cause: BaseException | None = exc
    tls_failure = False
    while cause is not None:
        if isinstance(cause, ssl.SSLError) or "CERTIFICATE_VERIFY_FAILED" in str(cause):
            tls_failure = True
            break
        cause = cause.__cause__ or cause.__context__
    where = f"{method} {url}"
    if not tls_failure and url.startswith("http://") and any(m in str(exc) for m in ("\\x15\\x03", "\x15\x03")):
        # A TLS alert record (0x15, version 3.x) where an HTTP status line belongs.
        return NomadTLSError(
            f"the agent answered {where} with TLS: use https:// in NOMAD_ADDR (with NOMAD_CACERT "
            "for the CA that signed its certificate).", method=method, url=url, request_sent=False,
        )
    if tls_failure and url.startswith("https://") and any(
            m in str(cause) for m in ("WRONG_VERSION_NUMBER", "RECORD_LAYER_FAILURE", "record layer failure",
                                      "wrong version number", "HTTP_REQUEST")):
        # What comes back is not a TLS record: the agent speaks plain HTTP on this port.
        return NomadTLSError(
            f"the agent does not speak TLS for {where}: use http:// in NOMAD_ADDR, or enable TLS on "
            "the agent (its tls block) and keep https://.", method=method, url=url, request_sent=False,
        )
    if tls_failure:
        return NomadTLSError(
            f"TLS handshake failed for {where} ({exc}): check NOMAD_CACERT/NOMAD_CAPATH "
            "(the CA that signed the agent's certificate), NOMAD_TLS_SERVER_NAME, and "
            "NOMAD_CLIENT_CERT/NOMAD_CLIENT_KEY if the agent requires client certificates.",
            method=method, url=url, request_sent=False,
        )
    if isinstance(exc, httpx.TimeoutException):
        return NomadTimeoutError(
            f"timed out on {where} ({type(exc).__name__}): the agent is slow or unreachable; "
            "raise timeout= or check NOMAD_ADDR.", method=method, url=url,
            request_sent=not isinstance(exc, httpx.ConnectTimeout),
        )
    if isinstance(exc, httpx.ConnectError):
        return NomadConnectError(
            f"cannot connect for {where} ({exc}): is the Nomad agent running, and is NOMAD_ADDR "
            "right?", method=method, url=url, request_sent=False,
        )
    return NomadTransportError(
        f"transport failure on {where} ({type(exc).__name__}: {exc})", method=method, url=url,
    )
