"""``GET /v1/event/stream`` (REFERENCE §7)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..errors import bad_request
from ..events import parse_topics
from ..http import Request, Response
from ..router import Router

if TYPE_CHECKING:
    from ..cluster import SimCluster

__all__ = ["register"]


def event_stream(c: SimCluster, req: Request) -> Response:
    raw = req.param("index") or "0"
    try:
        index = int(raw)
        if index < 0:
            raise ValueError
    except ValueError:
        raise bad_request(f'Unable to parse index: strconv.ParseUint: parsing "{raw}": invalid syntax') from None
    try:
        topics = parse_topics(req.query.get("topic", []))
    except ValueError as exc:
        raise bad_request(f"Invalid topic query: {exc}") from None
    namespaces = c.authorize_topics(req, topics)
    stream = c.events.subscribe(index=index, topics=topics, namespace=namespaces)
    headers = {"Content-Type": "application/json", "Cache-Control": "no-cache"}
    return Response(status=200, headers=headers, stream=stream)


def register(router: Router) -> None:
    router.add("GET", r"/v1/event/stream", event_stream)
