"""Routing and the request/response conventions every simulated endpoint shares.

Nomad's HTTP layer (``command/agent/http.go``) is mirrored here once, so that route handlers stay
thin: query-parameter parsing with Nomad's 400 texts, ``X-Nomad-*`` meta headers, ``?pretty``,
blocking queries on table indexes, and go-bexpr filtering followed by pagination.
"""

from __future__ import annotations

import random
import re
from bisect import bisect_left, bisect_right
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import orjson

from .errors import NomadHTTPError, bad_request
from .http import Request, Response

if TYPE_CHECKING:
    from .cluster import SimCluster

__all__ = [
    "Router",
    "Route",
    "json_response",
    "parse_bool",
    "parse_duration",
    "query_bool",
    "query_int",
    "query_go_int",
    "namespace_of",
    "blocking",
    "blocking_on",
    "modify_index",
    "meta_headers",
    "paginate",
    "compile_filter_param",
    "MAX_BLOCKING_S",
    "DEFAULT_BLOCKING_S",
]

Handler = Callable[..., Response]

MAX_BLOCKING_S = 300.0  # MaxBlockingRPCQueryTime
DEFAULT_BLOCKING_S = 300.0  # DefaultBlockingRPCQueryTime
JITTER_FRACTION = 16

_TRUE = {"1", "t", "T", "TRUE", "true", "True"}
_FALSE = {"0", "f", "F", "FALSE", "false", "False"}


def parse_bool(text: str) -> bool:
    """Go's ``strconv.ParseBool``; raises ``ValueError`` like it does."""
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    raise ValueError(f'strconv.ParseBool: parsing "{text}": invalid syntax')


_DURATION_UNITS = {
    "ns": 1e-9, "us": 1e-6, "µs": 1e-6, "μs": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0, "h": 3600.0,
}
_DURATION_PART = re.compile(r"(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|μs|ms|s|m|h)")


def parse_duration(text: str) -> float:
    """Go's ``time.ParseDuration``, returning seconds; raises ``ValueError`` on bad input."""
    s = text
    sign = 1.0
    if s[:1] in "+-" and s:
        sign = -1.0 if s[0] == "-" else 1.0
        s = s[1:]
    if s == "0":
        return 0.0
    if not s:
        raise ValueError(f'time: invalid duration "{text}"')
    total = 0.0
    pos = 0
    while pos < len(s):
        m = _DURATION_PART.match(s, pos)
        if not m:
            if re.match(r"\d", s[pos:]) and not re.match(r"(\d+(?:\.\d*)?|\.\d+)[a-zµμ]", s[pos:]):
                raise ValueError(f'time: missing unit in duration "{text}"')
            raise ValueError(f'time: invalid duration "{text}"')
        total += float(m.group(1)) * _DURATION_UNITS[m.group(2)]
        pos = m.end()
    return sign * total


def query_bool(req: Request, name: str, default: bool = False) -> bool:
    """A boolean query parameter, as Nomad's ``parseBool`` (``command/agent/http.go``) reads it.

    An absent *or empty* value means ``default`` (Go's ``Query().Get`` returns ``""`` for
    both). A bad value is an uncoded error, so 500 with
    ``Failed to parse value of "<name>" (<value>) as a bool: strconv.ParseBool: …``.
    """
    value = req.param(name) or ""
    if value == "":
        return default
    try:
        return parse_bool(value)
    except ValueError as exc:
        raise NomadHTTPError(
            500, f'Failed to parse value of "{name}" ({value}) as a bool: {exc}'
        ) from None


def query_go_int(req: Request, name: str, default: int = 0) -> int:
    """An integer query parameter read with Nomad's ``parseInt`` (500 on a bad value)."""
    value = req.param(name) or ""
    if value == "":
        return default
    try:
        return int(value)
    except ValueError:
        raise NomadHTTPError(
            500,
            f'Failed to parse value of "{name}" ({value}) as a int: '
            f'strconv.Atoi: parsing "{value}": invalid syntax',
        ) from None


def query_int(req: Request, name: str, default: int = 0) -> int:
    value = req.param(name)
    if value is None or value == "":
        return default
    try:
        return int(value)
    except ValueError:
        raise bad_request(f"Expect a number for `{name}` query string parameter") from None


def namespace_of(req: Request) -> str:
    """``?namespace=``, defaulting to ``default`` as Nomad's ``parseNamespace`` does."""
    return req.param("namespace") or "default"


def json_response(
    req: Request,
    payload: Any,
    *,
    index: int | None = None,
    meta: bool = False,
    known_leader: bool = True,
    next_token: str = "",
    status: int = 200,
) -> Response:
    """Encode ``payload`` as Nomad does (compact, or 4-space indented with ``?pretty``)."""
    headers = {"Content-Type": "application/json"}
    if index is not None:
        headers["X-Nomad-Index"] = str(index)
    if meta:
        headers["X-Nomad-KnownLeader"] = "true" if known_leader else "false"
        headers["X-Nomad-LastContact"] = "0"
        if next_token:
            headers["X-Nomad-NextToken"] = next_token
    pretty = req.has("pretty") and (req.param("pretty") or "") != "0"
    body = _pretty(payload) if pretty else orjson.dumps(payload, option=orjson.OPT_NON_STR_KEYS)
    return Response(status=status, headers=headers, body=body)


def _pretty(payload: Any) -> bytes:
    import json

    return (json.dumps(payload, indent=4, ensure_ascii=False) + "\n").encode()


@dataclass(frozen=True)
class BlockingParams:
    index: int
    wait_s: float


def blocking_params(req: Request) -> BlockingParams:
    """Nomad's ``parseWait``: ``index`` and ``wait`` with their 400 texts."""
    wait_s = 0.0
    wait = req.param("wait")
    if wait is not None and wait != "":
        try:
            wait_s = parse_duration(wait)
        except ValueError:
            raise bad_request("Invalid wait time") from None
    index = 0
    raw = req.param("index")
    if raw is not None and raw != "":
        # strconv.ParseUint(idx, 10, 64): ASCII digits only, below 2**64.
        if not (raw.isascii() and raw.isdigit()) or int(raw) >= 2**64:
            raise bad_request("Invalid index")
        index = int(raw)
    return BlockingParams(index=index, wait_s=wait_s)


def blocking(
    cluster: SimCluster,
    req: Request,
    tables: Sequence[str],
    rng: random.Random | None = None,
) -> int:
    """Hold a blocking query until ``tables`` pass ``?index=``, or the wait runs out.

    Applies Nomad's rules: blocking only when ``index > 0``; a missing or non-positive ``wait``
    means 300 s; the wait is capped at 300 s; a random jitter in ``[0, wait/16)`` is added.
    Returns the tables' current index. The caller computes the result after this returns.
    """
    params = blocking_params(req)
    if params.index <= 0:
        return cluster.state.max_index(tables)
    wait = params.wait_s if params.wait_s > 0 else DEFAULT_BLOCKING_S
    wait = min(wait, MAX_BLOCKING_S)
    wait += (rng or random).random() * wait / JITTER_FRACTION
    wait = min(wait, cluster.max_blocking_wait_s)
    return cluster.state.wait_for(tables, params.index, wait)


def blocking_on(
    cluster: SimCluster,
    req: Request,
    table: str,
    index_of: Callable[[], int | None],
    rng: random.Random | None = None,
) -> int:
    """Hold a blocking query on *one object* until its index passes ``?index=``, or the wait ends.

    ``index_of()`` (called under the state lock) is the object's ``ModifyIndex``, or ``None``
    when it does not exist, in which case ``table``'s index stands in, as Nomad's single-object
    reads set ``reply.Index`` (``nomad/job_endpoint.go`` ``GetJob``, ``alloc_endpoint.go``
    ``GetAlloc``...). Other objects of the same table changing do not end the wait: Nomad's
    watch set holds only that object's radix node. Returns the index to report.
    """
    params = blocking_params(req)
    state = cluster.state

    def current() -> int:
        value = index_of()
        return value if value is not None else state.table_index.get(table, 0)

    if params.index <= 0:
        with state.lock:
            return current()
    wait = params.wait_s if params.wait_s > 0 else DEFAULT_BLOCKING_S
    wait = min(wait, MAX_BLOCKING_S)
    wait += (rng or random).random() * wait / JITTER_FRACTION
    wait = min(wait, cluster.max_blocking_wait_s)
    with state.lock:
        state.wait_until(lambda: current() > params.index, wait)
        return current()


def meta_headers(index: int) -> dict[str, str]:
    """The query-meta headers Nomad sets before a single-object read answers 404 (``setMeta``
    runs before the ``not found`` check in ``command/agent/*_endpoint.go``)."""
    return {"X-Nomad-Index": str(index), "X-Nomad-KnownLeader": "true", "X-Nomad-LastContact": "0"}


def modify_index(obj: dict[str, Any] | None) -> int | None:
    """An object's ``ModifyIndex`` (``None`` for a missing object), for :func:`blocking_on`."""
    return int(obj.get("ModifyIndex") or 0) or None if obj is not None else None


def compile_filter_param(req: Request) -> Callable[[Any], bool] | None:
    """Compile ``?filter=`` or answer Nomad's 400 for an expression that does not parse."""
    expression = req.param("filter")
    if not expression:
        return None
    from .bexpr import FilterSyntaxError, compile_filter

    try:
        return compile_filter(expression)
    except FilterSyntaxError as exc:
        raise bad_request(
            f"failed to create result paginator: failed to read filter expression: {exc}"
        ) from None


def paginate(
    req: Request,
    items: Sequence[Any],
    *,
    token: Callable[[Any], str],
    sort_key: Callable[[str], Any],
    full: Callable[[Any], Any] | None = None,
    project: Callable[[Any], Any] = lambda o: o,
    include: Callable[[Any], bool] | None = None,
) -> tuple[list[Any], str]:
    """Filter, then page through ``items`` (in ascending token order) as Nomad's paginator does.

    ``token(obj)`` is the object's pagination token and ``sort_key(token)`` orders tokens, so the
    next page starts *at* (and includes) the first object whose token is ``>= next_token``
    (``<=`` with ``reverse``): found by bisection, as Nomad seeks its index, so a page costs
    what it holds. ``include(obj)`` (namespace, ACL, prefix...) and then the filter, run against
    ``full(obj)`` (the full object), decide which objects count. Returns the projected page and
    the next token ("" on the last page). ``items`` is only read.
    """
    flt = compile_filter_param(req)
    per_page = query_int(req, "per_page", 0)
    next_token = req.param("next_token") or ""
    reverse = req.param("reverse") == "true"
    n = len(items)
    if next_token:
        start_key = sort_key(next_token)
        key = lambda o: sort_key(token(o))  # noqa: E731
        # ascending: from the first object at or after the token; reverse: from the last one
        # at or before it, walking down
        cut = bisect_right(items, start_key, key=key) if reverse else bisect_left(items, start_key, key=key)
        positions: Iterable[int] = range(cut - 1, -1, -1) if reverse else range(cut, n)
    else:
        positions = range(n - 1, -1, -1) if reverse else range(n)
    page: list[Any] = []
    next_out = ""
    if flt is not None:
        from .bexpr import FilterEvalError
    for i in positions:
        obj = items[i]
        if include is not None and not include(obj):
            continue
        if flt is not None:
            try:
                if not flt(full(obj) if full else obj):
                    continue
            except FilterEvalError as exc:
                raise bad_request(f"failed to read result page: {exc}") from None
        if per_page > 0 and len(page) == per_page:
            next_out = token(obj)
            break
        page.append(project(obj))
    return page, next_out


@dataclass(frozen=True)
class Route:
    methods: frozenset[str]
    pattern: re.Pattern[str]
    handler: Handler


class Router:
    """An ordered table of ``(methods, path regex, handler)``; the first match wins.

    A path that matches with a method the route does not take answers 405 ``Invalid method``,
    as Nomad's handlers do; a path no route knows answers 404 with an empty body.
    """

    def __init__(self) -> None:
        self.routes: list[Route] = []
        # (methods, path regex, requirement): what a token needs, first match wins.
        self.requirements: list[tuple[frozenset[str], re.Pattern[str], Any]] = []

    def require(self, methods: str, pattern: str, requirement: Any) -> None:
        self.requirements.append((frozenset(methods.split("|")), re.compile(pattern + r"\Z"), requirement))

    def requirement_for(self, req: Request) -> Any:
        for methods, pattern, need in self.requirements:
            if (req.method in methods or "*" in methods) and pattern.match(req.path):
                return need
        return None

    def add(self, methods: str, pattern: str, handler: Handler) -> None:
        self.routes.append(
            Route(frozenset(methods.split("|")), re.compile(pattern + r"\Z"), handler)
        )

    def dispatch(self, cluster: SimCluster, req: Request) -> Response:
        allowed = False
        for route in self.routes:
            m = route.pattern.match(req.path)
            if not m:
                continue
            if req.method not in route.methods and "*" not in route.methods:
                allowed = True
                continue
            try:
                if cluster.acl.enabled:
                    from .acl import check

                    check(cluster, req, self.requirement_for(req))
                return route.handler(cluster, req, **m.groupdict())
            except NomadHTTPError as exc:
                return Response.text(exc.status, exc.body, exc.headers)
        if allowed:
            return Response.text(405, "Invalid method")
        return Response.empty(404)
