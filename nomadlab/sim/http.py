"""Framework-free HTTP types shared by the routes, the ASGI adapter and the in-process transport.

A route is a plain function ``(cluster, request, **path_params) -> Response``. Keeping the types
this small lets the same handlers run under uvicorn (through :mod:`nomadlab.sim.asgi`) and
in-process behind an ``httpx`` transport (:mod:`nomadlab.sim.transport`) without either knowing.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from urllib.parse import parse_qs

__all__ = ["Request", "Response"]


@dataclass
class Request:
    """One HTTP request as the simulator sees it.

    ``query`` keeps every value of a repeated parameter (``topic=A&topic=B``), and a parameter
    given without ``=`` (``?pretty``) maps to ``[""]``, as Go's ``url.Values`` does.
    ``headers`` has lower-case names.
    """

    method: str
    path: str
    query: dict[str, list[str]] = field(default_factory=dict)
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b""
    context: dict[str, object] = field(default_factory=dict)
    """Per-request facts found while answering (e.g. the resolved ACL)."""

    @classmethod
    def build(
        cls,
        method: str,
        path: str,
        query_string: str = "",
        headers: dict[str, str] | None = None,
        body: bytes = b"",
    ) -> Request:
        query = parse_qs(query_string, keep_blank_values=True)
        return cls(
            method=method.upper(),
            path=path,
            query=query,
            headers={k.lower(): v for k, v in (headers or {}).items()},
            body=body,
        )

    def param(self, name: str, default: str | None = None) -> str | None:
        """The first value of query parameter ``name``, or ``default`` when absent."""
        values = self.query.get(name)
        return values[0] if values else default

    def has(self, name: str) -> bool:
        return name in self.query


@dataclass
class Response:
    """A response: either a complete ``body`` or a ``stream`` of chunks (never both).

    ``on_close`` runs when the consumer stops reading a stream (client disconnect included).
    """

    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b""
    stream: Iterator[bytes] | None = None

    @classmethod
    def text(cls, status: int, text: str, headers: dict[str, str] | None = None) -> Response:
        h = {"Content-Type": "text/plain; charset=utf-8"}
        h.update(headers or {})
        return cls(status=status, headers=h, body=text.encode())

    @classmethod
    def empty(cls, status: int = 200, headers: dict[str, str] | None = None) -> Response:
        return cls(status=status, headers=dict(headers or {}), body=b"")
