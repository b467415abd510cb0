"""Helpers for the client tests: Nomad-shaped mock responses, a request recorder, fake time."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import orjson
import pytest

from nomadlab.client import NomadClient, RetryPolicy
from nomadlab.config import NomadConfig

TOKEN = "0b6b9d2e-token-secret-5f1c"


def nomad_json(
    body: Any,
    *,
    status: int = 200,
    index: int | None = 7,
    next_token: str | None = None,
    known_leader: bool = True,
    last_contact: int = 0,
    headers: dict[str, str] | None = None,
) -> httpx.Response:
    """A response shaped like Nomad's setMeta output."""
    h = {"Content-Type": "application/json"}
    if index is not None:
        h["X-Nomad-Index"] = str(index)
        h["X-Nomad-KnownLeader"] = "true" if known_leader else "false"
        h["X-Nomad-LastContact"] = str(last_contact)
    if next_token:
        h["X-Nomad-NextToken"] = next_token
    h.update(headers or {})
    return httpx.Response(status, headers=h, content=orjson.dumps(body))


def nomad_error(status: int, text: str, headers: dict[str, str] | None = None) -> httpx.Response:
    """Nomad's error bodies are plain text."""
    h = {"Content-Type": "text/plain; charset=utf-8"}
    h.update(headers or {})
    return httpx.Response(status, headers=h, content=text.encode())


class ChunkStream(httpx.SyncByteStream):
    """A body sent in the given chunks, optionally ending with a transport error (a drop)."""

    def __init__(self, chunks: Iterable[bytes], error: Exception | None = None) -> None:
        self.chunks = list(chunks)
        self.error = error
        self.closed = False

    def __iter__(self) -> Iterator[bytes]:
        yield from self.chunks
        if self.error is not None:
            raise self.error

    def close(self) -> None:
        self.closed = True


def streamed(chunks: Iterable[bytes], error: Exception | None = None,
             content_type: str = "application/json") -> httpx.Response:
    return httpx.Response(200, headers={"Content-Type": content_type},
                          stream=ChunkStream(chunks, error))


@dataclass
class Recorder:
    """A MockTransport handler: answers from ``responses`` (a list, or a function of the
    request) and keeps every request it saw."""

    responses: list[httpx.Response | Exception] | Callable[[httpx.Request], httpx.Response]
    requests: list[httpx.Request] = field(default_factory=list)

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        if callable(self.responses):
            return self.responses(request)
        if not self.responses:
            raise AssertionError(f"unexpected extra request {request.method} {request.url}")
        item = self.responses.pop(0)
        if isinstance(item, Exception):
            raise item
        return item

    @property
    def params(self) -> list[dict[str, list[str]]]:
        out = []
        for r in self.requests:
            d: dict[str, list[str]] = {}
            for k, v in r.url.params.multi_items():
                d.setdefault(k, []).append(v)
            out.append(d)
        return out


@dataclass
class FakeTime:
    """An injected clock and sleep: sleeping advances the clock and is recorded."""

    now: float = 1000.0
    sleeps: list[float] = field(default_factory=list)

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


@pytest.fixture
def fake_time() -> FakeTime:
    return FakeTime()


@pytest.fixture
def make_client(fake_time: FakeTime) -> Iterator[Callable[..., tuple[NomadClient, Recorder]]]:
    """``make_client(responses, **config)`` → (client on a MockTransport, recorder)."""
    made: list[NomadClient] = []

    def factory(responses: Any, *, retry: RetryPolicy | None = None,
                **config: Any) -> tuple[NomadClient, Recorder]:
        recorder = Recorder(responses)
        config.setdefault("address", "http://nomad.test:4646")
        client = NomadClient(
            NomadConfig(**config), transport=httpx.MockTransport(recorder),
            retry=retry, sleep=fake_time.sleep, clock=fake_time.clock,
        )
        made.append(client)
        return client, recorder

    yield factory
    for client in made:
        client.close()
