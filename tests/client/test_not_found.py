"""Nomad's 404 texts for each object kind: a NotFoundError, asked once, the body kept."""

from __future__ import annotations

from collections.abc import Callable

import httpx
import pytest

from nomadlab.client import NomadClient
from nomadlab.errors import NotFoundError
from nomadlab.sim import SimCluster

from .conftest import Recorder, nomad_error

MakeClient = Callable[..., tuple[NomadClient, Recorder]]

# (path, body) as Nomad answers them (nomad/*_endpoint.go: structs.NewErrUnknown...("not found")).
NOT_FOUND = [
    ("/v1/evaluation/5c3e0f1a-0000-0000-0000-000000000000", "eval not found"),
    ("/v1/deployment/5c3e0f1a-0000-0000-0000-000000000000", "deployment not found"),
    ("/v1/node/5c3e0f1a-0000-0000-0000-000000000000", "node not found"),
    ("/v1/job/nope/versions", "job versions not found"),
    ("/v1/job/nope", "job not found"),
    ("/v1/namespace/nope", "namespace not found"),
    ("/v1/allocation/5c3e0f1a-0000-0000-0000-000000000000", "alloc not found"),
]


@pytest.mark.parametrize(("path", "body"), NOT_FOUND, ids=[b for _, b in NOT_FOUND])
def test_nomad_404_texts_are_not_found_and_not_retried(make_client: MakeClient, path: str, body: str) -> None:
    client, recorder = make_client([nomad_error(404, body)] * 3)
    with pytest.raises(NotFoundError) as info:
        client.get(path)
    assert len(recorder.requests) == 1, "a 404 is an answer: asking again cannot change it"
    assert info.value.status == 404 and info.value.body == body
    assert body in str(info.value) and path in str(info.value)


def test_404_on_an_allocation_hints_at_garbage_collection(make_client: MakeClient) -> None:
    client, _ = make_client([nomad_error(404, "alloc not found")])
    with pytest.raises(NotFoundError) as info:
        client.get("/v1/allocation/5c3e0f1a")
    assert "garbage-collected" in info.value.hint and "5c3e0f1a" in info.value.hint


@pytest.mark.parametrize(("path", "body"), NOT_FOUND, ids=[b for _, b in NOT_FOUND])
def test_the_simulator_answers_nomads_404_texts(path: str, body: str) -> None:
    """The same table against the simulator: each unknown object is Nomad's 404 with Nomad's text,
    and the client turns it into a NotFoundError holding that text, asked once."""
    transport = _Counting(SimCluster.default(seed=0).transport())
    with NomadClient(transport=transport) as client, pytest.raises(NotFoundError) as info:
        client.get(path)
    assert (info.value.status, info.value.body.strip()) == (404, body)
    assert transport.paths == [path]


class _Counting(httpx.BaseTransport):
    """The simulator's transport, keeping the path of every request it is given."""

    def __init__(self, inner: httpx.BaseTransport) -> None:
        self.inner, self.paths = inner, list[str]()

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        self.paths.append(request.url.path)
        return self.inner.handle_request(request)
