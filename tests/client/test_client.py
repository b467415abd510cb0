"""NomadClient over httpx.MockTransport: requests on the wire, replies, retries, paging, watch."""

from __future__ import annotations

import base64
import logging
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from typing import Any

import httpx
import pytest

from nomadlab.client import MAX_WAIT, NomadClient, QueryMeta, Reply, RetryPolicy
from nomadlab.config import NomadConfig
from nomadlab.errors import (
    NomadConnectError,
    NomadDecodeError,
    NomadError,
    NomadTimeoutError,
    NomadTLSError,
    NomadTransportError,
    PermissionDeniedError,
    RateLimitedError,
    ServiceUnavailableError,
)

from .conftest import TOKEN, FakeTime, Recorder, nomad_error, nomad_json

MakeClient = Callable[..., tuple[NomadClient, Recorder]]


# -- what goes on the wire --------------------------------------------------------------------


def test_token_is_sent_as_x_nomad_token(make_client: MakeClient) -> None:
    client, rec = make_client([nomad_json([])], token=TOKEN)
    client.get("/v1/jobs")
    assert rec.requests[0].headers["X-Nomad-Token"] == TOKEN
    assert rec.requests[0].url == "http://nomad.test:4646/v1/jobs"


def test_no_token_no_header(make_client: MakeClient) -> None:
    client, rec = make_client([nomad_json([])])
    client.get("/v1/jobs")
    assert "x-nomad-token" not in rec.requests[0].headers


@pytest.mark.parametrize(
    ("config_ns", "call_ns", "sent"),
    [(None, None, None), ("web", None, "web"), ("web", "api", "api"), (None, "*", "*"),
     ("web", "*", "*"), (None, "", None)],
    ids=["none", "config", "call-overrides", "all", "all-overrides-config", "empty-sends-nothing"],
)
def test_namespace_per_call(make_client: MakeClient, config_ns: str | None,
                            call_ns: str | None, sent: str | None) -> None:
    client, rec = make_client([nomad_json([])], namespace=config_ns)
    client.get("/v1/jobs", namespace=call_ns)
    assert rec.params[0].get("namespace") == (None if sent is None else [sent])


def test_region_per_call_and_from_config(make_client: MakeClient) -> None:
    client, rec = make_client([nomad_json([]), nomad_json([])], region="eu")
    client.get("/v1/jobs")
    client.get("/v1/jobs", region="us")
    assert [p["region"] for p in rec.params] == [["eu"], ["us"]]


def test_path_without_v1_prefix_and_base_path(make_client: MakeClient) -> None:
    client, rec = make_client([nomad_json([])], address="http://proxy.test/nomad/")
    client.get("jobs")
    assert rec.requests[0].url.path == "/nomad/v1/jobs"


def test_params_encoding(make_client: MakeClient) -> None:
    client, rec = make_client([nomad_json([])])
    client.get("/v1/event/stream", params={"topic": ["Job:web", "Node:*"], "reverse": True,
                                           "per_page": 5, "skip": None})
    assert rec.params[0] == {"topic": ["Job:web", "Node:*"], "reverse": ["true"],
                             "per_page": ["5"]}


def test_stale_is_sent_valueless(make_client: MakeClient) -> None:
    client, rec = make_client([nomad_json([])])
    client.get("/v1/nodes", stale=True)
    assert rec.params[0]["stale"] == [""]


def test_post_put_delete_send_json(make_client: MakeClient) -> None:
    client, rec = make_client([nomad_json({"EvalID": "e1"}, index=12)] * 3)
    body = {"Job": {"ID": "web", "Count": 2}}
    assert client.post("/v1/job/web", body).body == {"EvalID": "e1"}
    client.put("/v1/job/web", body)
    client.delete("/v1/job/web", params={"purge": True})
    assert [r.method for r in rec.requests] == ["POST", "PUT", "DELETE"]
    import orjson
    assert orjson.loads(rec.requests[0].content) == body
    assert rec.requests[0].headers["content-type"] == "application/json"
    assert rec.params[2] == {"purge": ["true"]}


def test_basic_auth_from_config(make_client: MakeClient) -> None:
    client, rec = make_client([nomad_json([])], http_auth=("alice", "pw"))
    client.get("/v1/jobs")
    expected = "Basic " + base64.b64encode(b"alice:pw").decode()
    assert rec.requests[0].headers["authorization"] == expected


def test_tls_server_name_sets_sni(make_client: MakeClient) -> None:
    client, rec = make_client([nomad_json([])], address="https://10.0.0.5:4646",
                              tls_server_name="server.global.nomad")
    client.get("/v1/jobs")
    assert rec.requests[0].extensions["sni_hostname"] == "server.global.nomad"


def test_constructing_and_repr_do_no_io() -> None:
    def explode(request: httpx.Request) -> httpx.Response:
        raise AssertionError("network touched")

    client = NomadClient(NomadConfig(token=TOKEN), transport=httpx.MockTransport(explode))
    assert TOKEN not in repr(client) and TOKEN not in str(client)
    client.close()


# -- replies ----------------------------------------------------------------------------------


def test_reply_carries_body_and_meta(make_client: MakeClient) -> None:
    client, _ = make_client([nomad_json([{"ID": "web"}], index=42, next_token="default.zz",
                                        known_leader=False, last_contact=25)])
    reply = client.get("/v1/jobs")
    assert isinstance(reply, Reply)
    assert reply.body == [{"ID": "web"}]
    assert reply.meta == QueryMeta(index=42, known_leader=False,
                                   last_contact=timedelta(milliseconds=25),
                                   next_token="default.zz")
    assert reply.index == 42 and reply.status == 200 and reply.method == "GET"


def test_meta_reads_lowercase_nexttoken_spelling() -> None:
    meta = QueryMeta.from_headers(httpx.Headers({"X-Nomad-Nexttoken": "abc", "X-Nomad-Index": "3"}))
    assert (meta.index, meta.next_token, meta.known_leader) == (3, "abc", None)


def test_write_reply_has_only_index(make_client: MakeClient) -> None:
    response = httpx.Response(200, headers={"X-Nomad-Index": "9",
                                            "Content-Type": "application/json"}, content=b"{}")
    client, _ = make_client([response])
    reply = client.post("/v1/job/web/evaluate", {})
    assert reply.meta == QueryMeta(index=9)


@pytest.mark.parametrize(
    ("response", "body"),
    [(httpx.Response(200, content=b""), None),
     (httpx.Response(200, headers={"Content-Type": "text/plain"}, content=b"hello"), "hello"),
     (httpx.Response(200, content=b'{"a": 1}'), {"a": 1})],
    ids=["empty", "text", "json-without-content-type"],
)
def test_body_decoding(make_client: MakeClient, response: httpx.Response, body: Any) -> None:
    client, _ = make_client([response])
    assert client.get("/v1/x").body == body


def test_bad_json_is_a_decode_error(make_client: MakeClient) -> None:
    client, _ = make_client([httpx.Response(200, headers={"Content-Type": "application/json"},
                                            content=b"{not json")])
    with pytest.raises(NomadDecodeError):
        client.get("/v1/jobs")


# -- retries ----------------------------------------------------------------------------------


def test_get_retries_5xx_with_backoff(make_client: MakeClient, fake_time: FakeTime) -> None:
    client, rec = make_client([nomad_error(500, "rpc error: EOF"), nomad_error(502, ""),
                               nomad_error(503, "No cluster leader"), nomad_json([1])],
                              retry=None)
    assert client.get("/v1/jobs").body == [1]
    assert len(rec.requests) == 4
    assert fake_time.sleeps == [0.5, 1.0, 2.0]


def test_get_gives_up_after_attempts(make_client: MakeClient, fake_time: FakeTime) -> None:
    client, rec = make_client([nomad_error(503, "No cluster leader")] * 3,
                              retry=RetryPolicy(attempts=3))
    with pytest.raises(ServiceUnavailableError) as info:
        client.get("/v1/jobs")
    assert info.value.body == "No cluster leader"
    assert len(rec.requests) == 3 and len(fake_time.sleeps) == 2


@pytest.mark.parametrize(
    ("header", "expected"),
    [("7", 7.0), ("120", 60.0)],
    ids=["seconds", "capped"],
)
def test_429_honours_retry_after(make_client: MakeClient, fake_time: FakeTime, header: str,
                                 expected: float) -> None:
    client, rec = make_client([nomad_error(429, "rate limited", {"Retry-After": header}),
                               nomad_json([])])
    client.get("/v1/jobs")
    assert fake_time.sleeps == [expected]
    assert len(rec.requests) == 2


def test_retry_after_as_http_date(make_client: MakeClient, fake_time: FakeTime) -> None:
    when = format_datetime(datetime.now(UTC) + timedelta(seconds=30), usegmt=True)
    client, _ = make_client([nomad_error(429, "", {"Retry-After": when}), nomad_json([])])
    client.get("/v1/jobs")
    assert len(fake_time.sleeps) == 1 and 25 <= fake_time.sleeps[0] <= 30


def test_429_exhausted_is_rate_limited_error(make_client: MakeClient) -> None:
    client, _ = make_client([nomad_error(429, "", {"Retry-After": "1"})],
                            retry=RetryPolicy(attempts=1))
    with pytest.raises(RateLimitedError) as info:
        client.get("/v1/jobs")
    assert info.value.retry_after == 1.0


def test_get_retries_connection_errors(make_client: MakeClient, fake_time: FakeTime) -> None:
    client, rec = make_client([httpx.ConnectError("refused"), httpx.ReadError("reset"),
                               nomad_json([])])
    client.get("/v1/jobs")
    assert len(rec.requests) == 3 and len(fake_time.sleeps) == 2


@pytest.mark.parametrize("method", ["post", "put", "delete"])
@pytest.mark.parametrize(
    "failure",
    [nomad_error(503, "No cluster leader"), nomad_error(500, "rpc error"),
     nomad_error(429, "slow down"), httpx.ReadError("reset"), httpx.ReadTimeout("slow")],
    ids=["503", "500", "429", "read-error", "read-timeout"],
)
def test_writes_are_not_retried_once_sent(make_client: MakeClient, fake_time: FakeTime,
                                          method: str, failure: Any) -> None:
    client, rec = make_client([failure, nomad_json({})])
    with pytest.raises(NomadError):
        if method == "delete":
            client.delete("/v1/job/web")
        else:
            getattr(client, method)("/v1/job/web", {"Job": {}})
    assert len(rec.requests) == 1
    assert fake_time.sleeps == []


@pytest.mark.parametrize("failure", [httpx.ConnectError("refused"), httpx.ConnectTimeout("slow")],
                         ids=["refused", "connect-timeout"])
def test_writes_retry_when_never_connected(make_client: MakeClient, failure: Exception) -> None:
    client, rec = make_client([failure, nomad_json({"EvalID": "e"})])
    assert client.post("/v1/job/web", {}).body == {"EvalID": "e"}
    assert len(rec.requests) == 2


def test_tls_failure_is_not_retried(make_client: MakeClient) -> None:
    import ssl

    error = httpx.ConnectError("[SSL: CERTIFICATE_VERIFY_FAILED] certificate verify failed")
    error.__cause__ = ssl.SSLCertVerificationError("verify failed")
    client, rec = make_client([error, nomad_json([])])
    with pytest.raises(NomadTLSError, match="NOMAD_CACERT"):
        client.get("/v1/jobs")
    assert len(rec.requests) == 1


@pytest.mark.parametrize(
    ("failure", "cls"),
    [(httpx.ConnectError("refused"), NomadConnectError),
     (httpx.ReadTimeout("slow"), NomadTimeoutError),
     (httpx.RemoteProtocolError("bad"), NomadTransportError)],
    ids=["connect", "timeout", "protocol"],
)
def test_transport_errors_are_wrapped_with_cause(make_client: MakeClient, failure: Exception,
                                                 cls: type[Exception]) -> None:
    client, _ = make_client([failure], retry=RetryPolicy(attempts=1), token=TOKEN)
    with pytest.raises(cls) as info:
        client.get("/v1/jobs")
    assert info.value.__cause__ is failure
    assert "GET http://nomad.test:4646/v1/jobs" in str(info.value)
    assert TOKEN not in str(info.value)


def test_blocking_read_timeout_covers_the_wait(make_client: MakeClient) -> None:
    client, rec = make_client([nomad_json([], index=8)])
    client.get("/v1/jobs", index=7, wait=120)
    timeout = rec.requests[0].extensions["timeout"]
    assert timeout["read"] >= 120 * (1 + 1 / 16)
    assert rec.params[0]["wait"] == ["120000ms"] and rec.params[0]["index"] == ["7"]


# -- logging never shows the token --------------------------------------------------------------


def test_token_never_logged(make_client: MakeClient, caplog: pytest.LogCaptureFixture) -> None:
    client, _ = make_client([nomad_error(503, "x"), nomad_json([]),
                             nomad_error(403, "Permission denied")], token=TOKEN)
    with caplog.at_level(logging.DEBUG):
        client.get("/v1/jobs")
        with pytest.raises(PermissionDeniedError):
            client.get("/v1/job/web")
    assert caplog.records, "expected debug/retry log records"
    for record in caplog.records:
        assert TOKEN not in record.getMessage()
        assert TOKEN not in str(record.args)


# -- pagination ---------------------------------------------------------------------------------


def test_pages_follow_next_token_to_the_end(make_client: MakeClient) -> None:
    client, rec = make_client([
        nomad_json([{"ID": "a"}, {"ID": "b"}], index=10, next_token="default.c"),
        nomad_json([{"ID": "c"}, {"ID": "d"}], index=11, next_token="default.e"),
        nomad_json([{"ID": "e"}], index=11),
    ])
    reply = client.get_all("/v1/jobs", per_page=2, filter='Status == "running"')
    assert [j["ID"] for j in reply.body] == ["a", "b", "c", "d", "e"]
    assert reply.meta.next_token is None and reply.index == 10
    assert [p.get("next_token") for p in rec.params] == [None, ["default.c"], ["default.e"]]
    assert all(p["filter"] == ['Status == "running"'] for p in rec.params)
    assert all(p["per_page"] == ["2"] for p in rec.params)


def test_pages_yield_each_page(make_client: MakeClient) -> None:
    client, _ = make_client([nomad_json([1], next_token="t2"), nomad_json([2])])
    assert [r.body for r in client.pages("/v1/allocations", per_page=1)] == [[1], [2]]


def test_repeated_next_token_stops(make_client: MakeClient) -> None:
    client, _ = make_client([nomad_json([1], next_token="t"), nomad_json([2], next_token="t")])
    with pytest.raises(NomadDecodeError, match="repeated next_token"):
        client.get_all("/v1/jobs", per_page=1)


def test_get_all_refuses_non_list(make_client: MakeClient) -> None:
    client, _ = make_client([nomad_json({"ID": "web"})])
    with pytest.raises(NomadDecodeError):
        client.get_all("/v1/job/web")


# -- blocking queries -----------------------------------------------------------------------------


def _take(iterator: Any, n: int) -> list[Any]:
    return [next(iterator) for _ in range(n)]


def test_watch_carries_index_and_skips_unchanged(make_client: MakeClient,
                                                  fake_time: FakeTime) -> None:
    fake_time_advance = 400.0  # each blocking request "takes" longer than min_interval

    responses = [nomad_json(["v1"], index=10), nomad_json(["v1"], index=10),
                 nomad_json(["v2"], index=12), nomad_json(["v3"], index=15)]

    def answer(request: httpx.Request) -> httpx.Response:
        fake_time.now += fake_time_advance
        return responses.pop(0)

    client, rec = make_client(answer)
    replies = _take(client.watch("/v1/jobs", wait=600), 3)
    assert [r.body for r in replies] == [["v1"], ["v2"], ["v3"]]
    assert [p.get("index") for p in rec.params] == [None, ["10"], ["10"], ["12"]]
    assert rec.params[0].get("wait") is None  # the first read does not block
    assert {p["wait"][0] for p in rec.params[1:]} == {f"{int(MAX_WAIT * 1000)}ms"}  # capped
    assert fake_time.sleeps == []  # slow (blocking) answers never need a pause


def test_watch_restarts_at_zero_when_index_goes_back(make_client: MakeClient) -> None:
    client, rec = make_client([nomad_json(["old"], index=100), nomad_json(["new"], index=5),
                               nomad_json(["new"], index=6), nomad_json(["newer"], index=9)])
    replies = _take(client.watch("/v1/jobs"), 3)
    assert [r.body for r in replies] == [["old"], ["new"], ["newer"]]
    assert [p.get("index") for p in rec.params] == [None, ["100"], None, ["6"]]


def test_watch_from_given_index_blocks_first(make_client: MakeClient) -> None:
    client, rec = make_client([nomad_json(["x"], index=21)])
    assert next(client.watch("/v1/job/web", index=20, wait=30)).body == ["x"]
    assert rec.params[0]["index"] == ["20"] and rec.params[0]["wait"] == ["30000ms"]


def test_watch_never_busy_loops(make_client: MakeClient, fake_time: FakeTime) -> None:
    # A server that answers at once with the same index (does not block): the watch must
    # pause min_interval between requests instead of spinning.
    count = {"n": 0}

    def answer(request: httpx.Request) -> httpx.Response:
        count["n"] += 1
        return nomad_json(["same"], index=5 if count["n"] < 6 else 6)

    client, rec = make_client(answer)
    watch = client.watch("/v1/jobs", min_interval=2.0)
    assert next(watch).index == 5
    assert next(watch).index == 6
    assert len(rec.requests) == 6
    assert fake_time.sleeps == [2.0] * 4  # one pause before each request after an idle one


def test_watch_requires_an_index(make_client: MakeClient) -> None:
    client, _ = make_client([nomad_json({"ok": True}, index=None)])
    with pytest.raises(NomadDecodeError, match="not a blocking endpoint"):
        next(client.watch("/v1/agent/self"))


def test_query_written_in_the_path_is_kept_and_its_namespace_wins(make_client: MakeClient) -> None:
    client, recorder = make_client([nomad_json([]), nomad_json([]), nomad_json([])], namespace="team")
    client.get("/v1/job/api?namespace=platform", params={"diffs": "true"})
    client.get("/v1/client/stats?node_id=n1")
    client.get("/v1/job/api?namespace=platform", namespace="other")
    first, second, third = (dict(r.url.params.multi_items()) for r in recorder.requests)
    assert first == {"namespace": "platform", "diffs": "true"}
    assert second == {"node_id": "n1", "namespace": "team"}
    assert third == {"namespace": "other"}
    assert [r.url.path for r in recorder.requests] == ["/v1/job/api", "/v1/client/stats", "/v1/job/api"]


# -- pages with the next one asked for ahead ------------------------------------------------------


def test_prefetched_pages_are_the_same_pages(make_client: MakeClient) -> None:
    pages = [nomad_json([{"ID": "a"}, {"ID": "b"}], index=10, next_token="c"),
             nomad_json([{"ID": "c"}, {"ID": "d"}], index=12, next_token="e"),
             nomad_json([{"ID": "e"}], index=11)]
    client, rec = make_client(pages)
    replies = list(client.pages("/v1/allocations", per_page=2, filter="ID != x", prefetch=True))
    assert [[o["ID"] for o in r.body] for r in replies] == [["a", "b"], ["c", "d"], ["e"]]
    assert [r.meta.index for r in replies] == [10, 12, 11]
    assert [p.get("next_token") for p in rec.params] == [None, ["c"], ["e"]]
    assert all(p["per_page"] == ["2"] and p["filter"] == ["ID != x"] for p in rec.params)
    assert all(r.url.startswith("http://nomad.test:4646/v1/allocations?") for r in replies)


def test_prefetched_pages_use_the_decoder(make_client: MakeClient) -> None:
    client, _ = make_client([nomad_json([1, 2], next_token="t"), nomad_json([3])])
    reply = client.get_all("/v1/allocations", per_page=2, prefetch=True, decode=lambda b: [len(b)])
    assert reply.body == [5, 3] and reply.index == 7


def test_prefetch_asks_for_the_next_page_before_this_one_is_read(make_client: MakeClient) -> None:
    import threading

    asked = {name: threading.Event() for name in ("p1", "p2", "p3")}
    waited: list[tuple[str, bool]] = []

    class Tracked(httpx.SyncByteStream):
        """A body that, before giving its bytes, waits (up to 5 s) for the next page's request."""

        def __init__(self, body: bytes, nxt: str | None) -> None:
            self.body, self.nxt = body, nxt

        def __iter__(self) -> Any:
            if self.nxt:
                waited.append((self.nxt, asked[self.nxt].wait(5)))
            yield self.body

    def answer(request: httpx.Request) -> httpx.Response:
        token = request.url.params.get("next_token") or "p1"
        asked[token].set()
        nxt = {"p1": "p2", "p2": "p3"}.get(token)
        headers = {"Content-Type": "application/json", **({"X-Nomad-NextToken": nxt} if nxt else {})}
        return httpx.Response(200, headers=headers, stream=Tracked(b'["' + token.encode() + b'"]', nxt))

    client, _ = make_client(answer)
    assert client.get_all("/v1/allocations", per_page=1, prefetch=True).body == ["p1", "p2", "p3"]
    assert waited == [("p2", True), ("p3", True)]     # each next page was asked for while this one was read
    waited.clear()
    assert client.get_all("/v1/allocations", per_page=1).body == ["p1", "p2", "p3"]


def test_prefetch_an_error_page_raises_where_it_would_be_yielded(make_client: MakeClient) -> None:
    client, _ = make_client([nomad_json([1], next_token="t"), nomad_error(403, "Permission denied")],
                            retry=RetryPolicy(attempts=1))
    pages = client.pages("/v1/allocations", per_page=1, prefetch=True)
    assert next(pages).body == [1]
    with pytest.raises(PermissionDeniedError):
        next(pages)


def test_prefetch_a_body_cut_short_is_asked_for_again(make_client: MakeClient) -> None:
    from .conftest import streamed

    cut = streamed([b'[{"ID": "a"}, {"I'], httpx.ReadError("connection reset"))
    client, rec = make_client([cut, nomad_json([{"ID": "a"}, {"ID": "b"}])])
    reply = client.get_all("/v1/allocations", prefetch=True)
    assert [o["ID"] for o in reply.body] == ["a", "b"] and len(rec.requests) == 2


def test_prefetch_a_body_cut_short_without_retries_is_a_transport_error(make_client: MakeClient) -> None:
    from .conftest import streamed

    cut = streamed([b'[{"ID": "a"}, {"I'], httpx.ReadError("connection reset"))
    client, _ = make_client([cut], retry=RetryPolicy(attempts=1))
    with pytest.raises(NomadTransportError, match="connection reset|ReadError|read"):
        client.get_all("/v1/allocations", prefetch=True)


def test_prefetch_stopping_early_closes_the_page_asked_for_ahead(make_client: MakeClient) -> None:
    import threading
    import time as _time

    from .conftest import ChunkStream

    ahead = ChunkStream([b"[2]"])
    client, _ = make_client([
        nomad_json([1], next_token="t"),
        httpx.Response(200, headers={"Content-Type": "application/json"}, stream=ahead),
    ])
    pages = client.pages("/v1/allocations", per_page=1, prefetch=True)
    assert next(pages).body == [1]
    pages.close()
    deadline = _time.monotonic() + 5
    while _time.monotonic() < deadline and (not ahead.closed or any(
            t.name.startswith("nomadlab-pages") for t in threading.enumerate())):
        _time.sleep(0.01)
    assert ahead.closed
    assert not any(t.name.startswith("nomadlab-pages") for t in threading.enumerate())


def test_prefetch_repeated_next_token_stops(make_client: MakeClient) -> None:
    client, _ = make_client([nomad_json([1], next_token="t"), nomad_json([2], next_token="t")])
    with pytest.raises(NomadDecodeError, match="repeated next_token"):
        client.get_all("/v1/jobs", per_page=1, prefetch=True)


def test_prefetch_truncated_json_is_a_decode_error(make_client: MakeClient) -> None:
    client, _ = make_client([httpx.Response(200, headers={"Content-Type": "application/json"},
                                            content=b'[{"ID": "a"')])
    with pytest.raises(NomadDecodeError, match="not JSON"):
        client.get_all("/v1/allocations", prefetch=True)


def test_prefetch_a_page_asked_again_follows_its_new_token(make_client: MakeClient) -> None:
    """Page 1 breaks off; asked again, the list has moved (a new next token): the page asked for
    ahead with the old token is dropped and the walk goes on from the new one."""
    from .conftest import streamed

    def answer(request: httpx.Request) -> httpx.Response:
        token = request.url.params.get("next_token")
        if token is None:
            answer.first += 1                                   # type: ignore[attr-defined]
            if answer.first == 1:                               # type: ignore[attr-defined]
                r = streamed([b'[{"ID": "a"}'], httpx.ReadError("connection reset"))
                r.headers["X-Nomad-NextToken"] = "old"
                return r
            return nomad_json([{"ID": "a"}, {"ID": "a2"}], next_token="new")
        return nomad_json([{"ID": {"old": "stale", "new": "b"}[token]}])
    answer.first = 0                                            # type: ignore[attr-defined]

    client, rec = make_client(answer)
    reply = client.get_all("/v1/allocations", per_page=2, prefetch=True)
    assert [o["ID"] for o in reply.body] == ["a", "a2", "b"]
    assert [p.get("next_token") for p in rec.params] in (
        [None, ["old"], None, ["new"]], [None, None, ["old"], ["new"]])


def test_prefetch_retries_a_page_on_the_callers_thread(make_client: MakeClient, fake_time: FakeTime) -> None:
    client, rec = make_client([nomad_json([1], next_token="t"), nomad_error(503, "No cluster leader"),
                               nomad_json([2])])
    assert client.get_all("/v1/allocations", per_page=1, prefetch=True).body == [1, 2]
    assert len(rec.requests) == 3 and len(fake_time.sleeps) == 1


def test_prefetch_stopping_early_leaves_no_retries_running(make_client: MakeClient) -> None:
    import threading
    import time as _time

    client, rec = make_client(lambda r: (nomad_json([1], next_token="t") if not r.url.params.get("next_token")
                                         else nomad_error(429, "rate limited", {"Retry-After": "1"})))
    pages = client.pages("/v1/allocations", per_page=1, prefetch=True)
    assert next(pages).body == [1]
    pages.close()
    deadline = _time.monotonic() + 5
    while _time.monotonic() < deadline and any(t.name.startswith("nomadlab-pages") for t in threading.enumerate()):
        _time.sleep(0.01)
    _time.sleep(0.05)
    assert len(rec.requests) == 2       # page 1, and the single try at page 2 made ahead


@pytest.mark.parametrize("body", [b'["\xff\xfe"]', b"[" * 5000 + b"]" * 5000],
                         ids=["invalid-utf8", "nested-too-deep"])
@pytest.mark.parametrize("prefetch", [False, True])
def test_bodies_that_are_not_json_are_decode_errors(make_client: MakeClient, body: bytes, prefetch: bool) -> None:
    client, _ = make_client([httpx.Response(200, headers={"Content-Type": "application/json"}, content=body)])
    with pytest.raises(NomadDecodeError, match="not JSON"):
        client.get_all("/v1/allocations", prefetch=prefetch)


@pytest.mark.parametrize("prefetch", [False, True])
def test_a_corrupt_compressed_body_is_a_decode_error(make_client: MakeClient, prefetch: bool) -> None:
    from .conftest import ChunkStream

    bad = httpx.Response(200, headers={"Content-Type": "application/json", "Content-Encoding": "gzip"},
                         stream=ChunkStream([b"\x1f\x8b\x08\x00 this is not gzip"]))
    client, _ = make_client([bad], retry=RetryPolicy(attempts=1))
    with pytest.raises(NomadDecodeError, match="decompressed"):
        client.get_all("/v1/allocations", prefetch=prefetch)
