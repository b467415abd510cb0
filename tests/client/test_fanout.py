"""Fan-out: bounded concurrency, partial results with per-item errors, progress bar."""

from __future__ import annotations

import threading
from collections.abc import Callable

import httpx
import pytest

from nomadlab.client import NomadClient, RetryPolicy
from nomadlab.errors import NomadConnectError, NotFoundError, PermissionDeniedError
from nomadlab.fanout import FanOutResult

from .conftest import Recorder, nomad_error, nomad_json

MakeClient = Callable[..., tuple[NomadClient, Recorder]]


def _by_path(request: httpx.Request) -> httpx.Response:
    alloc = request.url.path.split("/")[-2]
    if alloc.startswith("gone"):
        return nomad_error(404, "alloc not found")
    if alloc.startswith("secret"):
        return nomad_error(403, "Permission denied")
    return nomad_json({"alloc": alloc, "ResourceUsage": {}})


def test_partial_results_and_per_item_errors(make_client: MakeClient) -> None:
    client, rec = make_client(_by_path)
    ids = ["a1", "gone1", "a2", "secret1", "a3"]
    result = client.fan_out({i: f"/v1/client/allocation/{i}/stats" for i in ids},
                            progress=False, namespace="web")
    assert isinstance(result, FanOutResult)
    assert list(result.replies) == ["a1", "a2", "a3"]  # input order, not completion order
    assert result.bodies()["a2"] == {"alloc": "a2", "ResourceUsage": {}}
    assert [(f.key, type(f.error)) for f in result.errors] == [
        ("gone1", NotFoundError), ("secret1", PermissionDeniedError)]
    assert result.errors[0].path == "/v1/client/allocation/gone1/stats"
    assert "garbage-collected" in result.errors[0].error.hint
    assert not result.ok
    assert len(rec.requests) == 5
    assert all(p["namespace"] == ["web"] for p in rec.params)


def test_paths_as_keys(make_client: MakeClient) -> None:
    client, _ = make_client(_by_path)
    paths = ["/v1/client/allocation/x/stats", "/v1/client/allocation/y/stats"]
    result = client.fan_out(paths, progress=False)
    assert result.ok and list(result.replies) == paths


def test_empty(make_client: MakeClient) -> None:
    client, rec = make_client([])
    result = client.fan_out({}, progress=False)
    assert result.ok and result.replies == {} and rec.requests == []


@pytest.mark.parametrize("limit", [1, 3], ids=["serial", "three"])
def test_concurrency_is_bounded(make_client: MakeClient, limit: int) -> None:
    lock = threading.Lock()
    state = {"in_flight": 0, "peak": 0}
    # The first `limit` requests wait for each other: that only completes if `limit`
    # requests really run at the same time.
    barrier = threading.Barrier(limit, timeout=10)
    first = {"n": 0}

    def answer(request: httpx.Request) -> httpx.Response:
        with lock:
            state["in_flight"] += 1
            state["peak"] = max(state["peak"], state["in_flight"])
            first["n"] += 1
            wait_at_barrier = first["n"] <= limit
        try:
            if wait_at_barrier:
                barrier.wait()
            return nomad_json({})
        finally:
            with lock:
                state["in_flight"] -= 1

    client, rec = make_client(answer)
    result = client.fan_out([f"/v1/allocation/{i}" for i in range(12)], max_workers=limit,
                            progress=False)
    assert result.ok and len(rec.requests) == 12
    assert state["peak"] == limit


def test_each_item_gets_retries(make_client: MakeClient) -> None:
    calls: dict[str, int] = {}
    lock = threading.Lock()

    def flaky(request: httpx.Request) -> httpx.Response:
        with lock:
            calls[request.url.path] = calls.get(request.url.path, 0) + 1
            n = calls[request.url.path]
        if request.url.path.endswith("/down"):
            raise httpx.ConnectError("refused")
        return nomad_error(503, "no leader") if n == 1 else nomad_json({"n": n})

    client, _ = make_client(flaky, retry=RetryPolicy(attempts=2))
    result = client.fan_out(["/v1/node/a", "/v1/node/b", "/v1/node/down"], progress=False)
    assert result.bodies() == {"/v1/node/a": {"n": 2}, "/v1/node/b": {"n": 2}}
    assert [type(f.error) for f in result.errors] == [NomadConnectError]
    assert calls["/v1/node/down"] == 2


def test_bugs_are_not_swallowed(make_client: MakeClient) -> None:
    def broken(request: httpx.Request) -> httpx.Response:
        raise RuntimeError("bug in handler")

    client, _ = make_client(broken)
    with pytest.raises(RuntimeError, match="bug in handler"):
        client.fan_out(["/v1/node/a"], progress=False)


def test_progress_bar(make_client: MakeClient, capsys: pytest.CaptureFixture[str]) -> None:
    client, _ = make_client(_by_path)
    client.fan_out([f"/v1/client/allocation/{i}/stats" for i in ("a", "b", "gone")],
                   desc="alloc stats")
    err = capsys.readouterr().err
    assert "alloc stats" in err and "3/3" in err and "errors=1" in err


def test_no_progress_bar_when_disabled(make_client: MakeClient,
                                       capsys: pytest.CaptureFixture[str]) -> None:
    client, _ = make_client(_by_path)
    client.fan_out(["/v1/client/allocation/a/stats"], progress=False, desc="alloc stats")
    assert "alloc stats" not in capsys.readouterr().err


def test_max_workers_must_be_positive(make_client: MakeClient) -> None:
    client, _ = make_client([])
    with pytest.raises(ValueError):
        client.fan_out(["/v1/node/a"], max_workers=0)
