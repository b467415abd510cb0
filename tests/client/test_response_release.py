"""A read response (and its body) goes as soon as it is dropped, cyclic collector or not.

httpx keeps a response and its stream in a reference cycle; the frame builders pause the
cyclic collector while they decode, so without ``nomadlab.client._release`` every page of a
paged list stayed in memory until the build ended (the benchmark's peak RSS showed it).
"""

from __future__ import annotations

import gc
import weakref
from collections.abc import Iterator

import httpx
import orjson

from nomadlab._json import gc_paused
from nomadlab.client import NomadClient


class _Body(httpx.SyncByteStream):
    """A JSON body whose stream object can be watched with a weak reference."""

    def __init__(self, body: object) -> None:
        self.data = orjson.dumps(body)

    def __iter__(self) -> Iterator[bytes]:
        yield self.data


def _client(pages: int) -> tuple[NomadClient, list[weakref.ref[_Body]]]:
    streams: list[weakref.ref[_Body]] = []

    def handler(request: httpx.Request) -> httpx.Response:
        token = request.url.params.get("next_token")
        n = int(token) if token else 0
        body = _Body([{"ID": f"a{n}", "Pad": "x" * 10_000}])
        streams.append(weakref.ref(body))
        headers = {"Content-Type": "application/json", "X-Nomad-Index": "7"}
        if n + 1 < pages:
            headers["X-Nomad-NextToken"] = str(n + 1)
        return httpx.Response(200, headers=headers, stream=body)

    return NomadClient(address="http://nomad.test:4646", transport=httpx.MockTransport(handler)), streams


def test_paged_responses_are_freed_page_by_page_with_the_collector_paused() -> None:
    client, streams = _client(pages=6)
    seen = []
    with client, gc_paused():
        assert not gc.isenabled()
        for reply in client.pages("/v1/allocations", per_page=1):
            seen.append(reply.body[0]["ID"])
            # every page before the one asked for ahead is gone already
            alive = [i for i, ref in enumerate(streams[:-2]) if ref() is not None]
            assert alive == [], f"responses of pages {alive} are still alive"
        assert seen == [f"a{n}" for n in range(6)]
        del reply
        assert [ref() for ref in streams] == [None] * 6


def test_a_single_get_leaves_nothing_behind_with_the_collector_paused() -> None:
    client, streams = _client(pages=1)
    with client, gc_paused():
        reply = client.get("/v1/allocations")
        assert reply.body[0]["ID"] == "a0" and reply.index == 7
        assert streams[0]() is None


def test_a_released_response_still_gives_its_body() -> None:
    client, _ = _client(pages=1)
    with client:
        reply = client.get("/v1/allocations")
    assert reply.body == [{"ID": "a0", "Pad": "x" * 10_000}]
