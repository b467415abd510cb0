"""Event-stream and log-frame decoding (pure, any chunking) and the iterators built on them."""

from __future__ import annotations

import base64
import itertools
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from nomadlab.client import NomadClient
from nomadlab.errors import NomadDecodeError, NomadTransportError, PermissionDeniedError
from nomadlab.streams import (
    EventBatch,
    EventStreamDecoder,
    JSONObjectStreamDecoder,
    LogFrame,
    LogFrameDecoder,
    NDJSONDecoder,
    topic_params,
)

from .conftest import FakeTime, Recorder, nomad_error, streamed

MakeClient = Callable[..., tuple[NomadClient, Recorder]]


def _chunks(data: bytes, cuts: list[int]) -> list[bytes]:
    points = sorted({c % (len(data) + 1) for c in cuts})
    bounds = [0, *points, len(data)]
    return [data[a:b] for a, b in itertools.pairwise(bounds)]


def _batch(index: int, *keys: str, topic: str = "Job") -> bytes:
    events = [{"Topic": topic, "Type": "JobRegistered", "Key": k, "Namespace": "default",
               "FilterKeys": None, "Index": index, "Payload": {topic: {"ID": k}}} for k in keys]
    return orjson.dumps({"Index": index, "Events": events}) + b"\n"


HEARTBEAT = b"{}\n"


def _frame(data: bytes = b"", offset: int = 0, file: str = "", event: str = "") -> bytes:
    obj: dict[str, Any] = {}
    if offset:
        obj["Offset"] = offset
    if data:
        obj["Data"] = base64.b64encode(data).decode()
    if file:
        obj["File"] = file
    if event:
        obj["FileEvent"] = event
    return orjson.dumps(obj)


# -- event stream decoding --------------------------------------------------------------------


def test_event_stream_sample(samples_dir: Path) -> None:
    raw = (samples_dir / "GET_v1_event_stream.ndjson").read_bytes()
    batches = EventStreamDecoder().feed(raw)
    assert len(batches) == 1  # the two {} heartbeats are dropped
    (event,) = batches[0].events
    assert batches[0].index == 7
    assert (event.topic, event.type, event.namespace, event.index) == (
        "Node", "NodeRegistration", "", 7)
    assert event.key == event.payload["Node"]["ID"]
    assert event.filter_keys == ()


EVENT_WIRE = HEARTBEAT + _batch(5, "a", "b") + HEARTBEAT + _batch(6, "c") + _batch(
    9, 'we"ird\\key}{')


def test_event_decoder_every_single_split() -> None:
    for cut in range(len(EVENT_WIRE) + 1):
        decoder = EventStreamDecoder()
        batches = decoder.feed(EVENT_WIRE[:cut]) + decoder.feed(EVENT_WIRE[cut:])
        assert [b.index for b in batches] == [5, 6, 9], cut
        assert batches[2].events[0].key == 'we"ird\\key}{'
        assert decoder.pending == 0


@settings(max_examples=200, deadline=None)
@given(st.lists(st.integers(min_value=0, max_value=10_000), max_size=30))
def test_event_decoder_any_chunking(cuts: list[int]) -> None:
    decoder = EventStreamDecoder()
    batches: list[EventBatch] = []
    for chunk in _chunks(EVENT_WIRE, cuts):
        batches += decoder.feed(chunk)
    assert [len(b.events) for b in batches] == [2, 1, 1]


def test_ndjson_last_line_without_newline() -> None:
    decoder = NDJSONDecoder()
    assert decoder.feed(b'{"a":1}\n{"b":') == [{"a": 1}]
    assert decoder.feed(b"2}") == []
    assert decoder.close() == [{"b": 2}]


def test_ndjson_bad_line_is_decode_error() -> None:
    with pytest.raises(NomadDecodeError):
        NDJSONDecoder().feed(b"{oops\n")


# -- log frame decoding ---------------------------------------------------------------------------

PAYLOADS = [b"line 1\nline 2\n", "héllo wörld ✓\n".encode(), bytes(range(256)), b"}{\"\\"]
LOG_WIRE = (
    b"{}" + _frame(PAYLOADS[0], 14, "alloc/logs/web.stdout.0") + b"{}"
    + _frame(PAYLOADS[1], 40, "alloc/logs/web.stdout.0") + b"\n"
    + _frame(PAYLOADS[2], 296, 'alloc/logs/odd}{"\\name.0') + b"{}{}"
    + _frame(PAYLOADS[3], 300, "alloc/logs/web.stdout.0")
    + _frame(file="alloc/logs/web.stdout.0", event="file truncated")
)


def _expect_log_frames(frames: list[LogFrame]) -> None:
    assert [f.data for f in frames[:4]] == PAYLOADS
    assert [f.offset for f in frames[:4]] == [14, 40, 296, 300]
    assert frames[2].file == 'alloc/logs/odd}{"\\name.0'
    assert frames[4] == LogFrame(file="alloc/logs/web.stdout.0", file_event="file truncated")
    assert len(frames) == 5


def test_log_decoder_every_single_split() -> None:
    for cut in range(len(LOG_WIRE) + 1):
        decoder = LogFrameDecoder()
        frames = decoder.feed(LOG_WIRE[:cut]) + decoder.feed(LOG_WIRE[cut:])
        _expect_log_frames(frames)
        decoder.close()


@settings(max_examples=200, deadline=None)
@given(st.lists(st.integers(min_value=0, max_value=10_000), max_size=40))
def test_log_decoder_any_chunking(cuts: list[int]) -> None:
    decoder = LogFrameDecoder()
    frames: list[LogFrame] = []
    for chunk in _chunks(LOG_WIRE, cuts):
        frames += decoder.feed(chunk)
    _expect_log_frames(frames)


def test_log_decoder_byte_by_byte() -> None:
    decoder = LogFrameDecoder()
    frames = [f for i in range(len(LOG_WIRE)) for f in decoder.feed(LOG_WIRE[i:i + 1])]
    _expect_log_frames(frames)


def test_large_frame() -> None:
    data = bytes(range(256)) * 256  # 64 KiB, the most one frame holds
    wire = _frame(data, len(data), "alloc/logs/web.stdout.0") * 3
    decoder = LogFrameDecoder()
    frames = [f for i in range(0, len(wire), 1000) for f in decoder.feed(wire[i:i + 1000])]
    assert [f.data for f in frames] == [data] * 3


def test_documented_frames_sample(samples_dir: Path) -> None:
    # The docs show the frames as a JSON array; on the wire they are concatenated.
    # Their Data ends in a literal "..." elision, which is not base64.
    frames = json.loads((samples_dir / "GET_v1_client_fs_logs_alloc_id.frames.json").read_text())
    wire = b"".join(orjson.dumps(f) for f in frames)
    with pytest.raises(NomadDecodeError, match="base64"):
        LogFrameDecoder().feed(wire)
    frames[0]["Data"] = frames[0]["Data"].rstrip(".") + "="
    decoded = LogFrameDecoder().feed(b"{}" + b"".join(orjson.dumps(f) for f in frames))
    assert decoded[0].data.startswith(b"531932\n531933\n")
    assert decoded[0].offset == 3604480
    assert decoded[1].file_event == "file deleted" and decoded[1].data == b""


@pytest.mark.parametrize("wire", [b'{"Data":"x"} junk', b"[{}]", b'{"Offset": nope}'],
                         ids=["junk-between", "array", "bad-json"])
def test_log_decoder_rejects_non_frames(wire: bytes) -> None:
    with pytest.raises(NomadDecodeError):
        LogFrameDecoder().feed(wire)


def test_log_decoder_close_inside_frame() -> None:
    decoder = JSONObjectStreamDecoder()
    assert decoder.feed(b'{"a": {"b": "}') == []
    with pytest.raises(NomadDecodeError, match="ended inside a frame"):
        decoder.close()


# -- event stream iterator ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("topics", "expected"),
    [(None, []), (["Job", "Node:n1"], ["Job:*", "Node:n1"]),
     ({"Job": ["web", "api"], "Node": []}, ["Job:web", "Job:api", "Node:*"])],
    ids=["none", "list", "mapping"],
)
def test_topic_params(topics: Any, expected: list[str]) -> None:
    assert topic_params(topics) == expected


def test_events_skip_heartbeats_and_resume_without_duplicates(
    make_client: MakeClient, fake_time: FakeTime
) -> None:
    first = HEARTBEAT + _batch(7, "a") + HEARTBEAT + _batch(9, "b", "c") + _batch(10, "d")[:20]
    second = HEARTBEAT + _batch(9, "b", "c") + _batch(10, "d") + _batch(12, "e")
    client, rec = make_client([
        streamed(_chunks(first, [3, 50, 51]), httpx.ReadError("connection reset")),
        streamed([second]),
    ])
    events = client.events({"Job": ["*"]}, namespace="*")
    keys = [e.key for e in itertools.islice(events, 5)]
    events.close()
    assert keys == ["a", "b", "c", "d", "e"]
    assert [p["index"] for p in rec.params] == [["0"], ["10"]]
    assert all(p["topic"] == ["Job:*"] and p["namespace"] == ["*"] for p in rec.params)
    assert len(fake_time.sleeps) == 1


def test_events_start_index_is_sent_and_older_batches_dropped(make_client: MakeClient) -> None:
    client, rec = make_client([streamed([_batch(3, "old") + _batch(5, "new")])])
    events = client.events(["Job"], index=5)
    assert next(events).key == "new"
    events.close()
    assert rec.params[0]["index"] == ["5"]


def test_events_reconnect_after_server_closes(make_client: MakeClient) -> None:
    client, rec = make_client([streamed([_batch(4, "a")]), nomad_error(503, "no leader"),
                               streamed([_batch(4, "a") + _batch(6, "b")])])
    events = client.events(["Job"])
    assert [e.key for e in itertools.islice(events, 2)] == ["a", "b"]
    events.close()
    assert [p["index"] for p in rec.params][0] == ["0"]
    assert rec.params[-1]["index"] == ["5"]


def test_events_acl_error_is_not_retried(make_client: MakeClient) -> None:
    client, rec = make_client([nomad_error(403, "Permission denied")])
    with pytest.raises(PermissionDeniedError, match="management token"):
        next(client.events())
    assert len(rec.requests) == 1


def test_events_give_up_after_max_reconnects(make_client: MakeClient) -> None:
    drop = httpx.ReadError("reset")
    client, rec = make_client([streamed([HEARTBEAT], drop) for _ in range(3)])
    with pytest.raises(NomadTransportError, match="2 reconnect attempts"):
        list(client.events(["Job"], max_reconnects=2))
    assert len(rec.requests) == 3


def test_events_without_reconnect_raise_on_drop(make_client: MakeClient) -> None:
    client, rec = make_client([streamed([_batch(2, "a")], httpx.RemoteProtocolError("eof"))])
    events = client.events(["Job"], reconnect=False)
    assert next(events).key == "a"
    with pytest.raises(NomadTransportError) as info:
        next(events)
    assert isinstance(info.value.__cause__, httpx.RemoteProtocolError)


# -- logs iterator --------------------------------------------------------------------------------


def test_logs_frames_and_params(make_client: MakeClient) -> None:
    client, rec = make_client([streamed(_chunks(LOG_WIRE, [1, 7, 100, 101, 500]))])
    frames = list(client.logs("a1b2", "web", log_type="stderr", origin="end", offset=512,
                              follow=True, namespace="web"))
    _expect_log_frames(frames)
    assert rec.requests[0].url.path == "/v1/client/fs/logs/a1b2"
    assert rec.params[0] == {"namespace": ["web"], "task": ["web"], "type": ["stderr"],
                             "follow": ["true"], "origin": ["end"], "offset": ["512"],
                             "plain": ["false"]}


def test_read_logs_joins_data(make_client: MakeClient) -> None:
    client, _ = make_client([streamed([LOG_WIRE])])
    assert client.read_logs("a1b2", "web") == b"".join(PAYLOADS)


def test_logs_plain(make_client: MakeClient) -> None:
    client, rec = make_client([streamed([b"raw ", b"bytes\n"], content_type="text/plain")])
    assert b"".join(client.logs_plain("a1b2", "web")) == b"raw bytes\n"
    assert rec.params[0]["plain"] == ["true"] and rec.params[0]["follow"] == ["false"]


@pytest.mark.parametrize(("kwargs", "match"), [({"log_type": "both"}, "stdout"),
                                               ({"origin": "middle"}, "origin")],
                         ids=["type", "origin"])
def test_logs_validate_arguments(make_client: MakeClient, kwargs: dict[str, str],
                                 match: str) -> None:
    client, rec = make_client([])
    with pytest.raises(ValueError, match=match):
        next(client.logs("a1b2", "web", **kwargs))  # type: ignore[arg-type]
    assert rec.requests == []


def test_logs_drop_is_wrapped(make_client: MakeClient) -> None:
    client, _ = make_client([streamed([LOG_WIRE[:30]], httpx.ReadError("reset"))])
    with pytest.raises(NomadTransportError) as info:
        list(client.logs("a1b2", "web", follow=True, reconnect=False))
    assert isinstance(info.value.__cause__, httpx.ReadError)


def test_logs_from_the_end_cannot_resume_and_say_so(make_client: MakeClient) -> None:
    client, recorder = make_client([streamed([LOG_WIRE[:30]], httpx.ReadError("reset"))])
    with pytest.raises(NomadTransportError):
        list(client.logs("a1b2", "web", origin="end", offset=100))
    assert len(recorder.requests) == 1


def test_logs_drop_resumes_after_the_delivered_bytes(make_client: MakeClient) -> None:
    first, second = b"line one\n", b"line two\n"
    frame = b'{"Offset":%d,"Data":"%s","File":"alloc/logs/web.stdout.0"}'
    wire1 = frame % (len(first), base64.b64encode(first))
    wire2 = frame % (len(first) + len(second), base64.b64encode(second))
    client, recorder = make_client([streamed([wire1, wire2[:20]], httpx.ReadError("reset")),
                                    streamed([wire2])])
    assert b"".join(f.data for f in client.logs("a1b2", "web", follow=True)) == first + second
    assert [r.url.params["offset"] for r in recorder.requests] == ["0", str(len(first))]


def test_logs_cut_mid_frame_is_decode_error(make_client: MakeClient) -> None:
    client, _ = make_client([streamed([LOG_WIRE[:30]])])
    with pytest.raises(NomadDecodeError):
        list(client.logs("a1b2", "web"))


# -- logs straight from the client node -----------------------------------------------------------


def _cluster_with_node(tls: bool = False, node_reachable: bool = True,
                       status: str = "ready") -> Callable[[httpx.Request], httpx.Response]:
    def answer(request: httpx.Request) -> httpx.Response:
        host, path = request.url.host, request.url.path
        if host == "nomad.test" and path == "/v1/allocation/a1b2":
            return orjson_response({"ID": "a1b2", "NodeID": "n1"})
        if host == "nomad.test" and path == "/v1/node/n1":
            return orjson_response({"ID": "n1", "HTTPAddr": "10.9.8.7:4646",
                                    "TLSEnabled": tls, "Status": status})
        if path == "/v1/client/fs/logs/a1b2":
            if host == "10.9.8.7" and not node_reachable:
                raise httpx.ConnectError("no route to host")
            return streamed([_frame(host.encode(), 9, "alloc/logs/web.stdout.0")])
        return nomad_error(404, "")

    return answer


def orjson_response(body: Any) -> httpx.Response:
    return httpx.Response(200, headers={"Content-Type": "application/json",
                                        "X-Nomad-Index": "3"}, content=orjson.dumps(body))


def test_logs_direct_from_node(make_client: MakeClient) -> None:
    client, rec = make_client(_cluster_with_node(), token="tok-direct")
    assert client.read_logs("a1b2", "web") == b"nomad.test"  # default: through the server
    frames = list(client.logs("a1b2", "web", direct=True))
    assert [f.data for f in frames] == [b"10.9.8.7"]
    node_request = rec.requests[-1]
    assert str(node_request.url).startswith("http://10.9.8.7:4646/v1/client/fs/logs/a1b2")
    assert node_request.headers["X-Nomad-Token"] == "tok-direct"
    assert node_request.extensions["timeout"]["connect"] == 1.0


def test_logs_direct_tls_node_checks_client_name(make_client: MakeClient) -> None:
    client, rec = make_client(_cluster_with_node(tls=True), region="eu")
    assert b"".join(client.logs_plain("a1b2", "web", direct=True)) != b""
    node_request = rec.requests[-1]
    assert node_request.url.scheme == "https"
    assert node_request.extensions["sni_hostname"] == "client.eu.nomad"


@pytest.mark.parametrize(("reachable", "status"), [(False, "ready"), (True, "down")],
                         ids=["unreachable", "down"])
def test_logs_direct_falls_back_to_server(make_client: MakeClient, fake_time: FakeTime,
                                          reachable: bool, status: str) -> None:
    client, rec = make_client(_cluster_with_node(node_reachable=reachable, status=status))
    assert client.read_logs("a1b2", "web") == b"nomad.test"
    assert [f.data for f in client.logs("a1b2", "web", direct=True)] == [b"nomad.test"]
    node_attempts = [r for r in rec.requests if r.url.host == "10.9.8.7"]
    assert len(node_attempts) == (0 if status == "down" else 1)  # one try, no backoff
    assert fake_time.sleeps == []


_json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-2**53, 2**53) | st.text(),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(), inner, max_size=3),
    max_leaves=8,
)


@settings(max_examples=150, deadline=None)
@given(st.lists(st.dictionaries(st.text(), _json_values, max_size=4), min_size=1, max_size=5),
       st.lists(st.integers(min_value=0, max_value=5_000), max_size=20),
       st.sampled_from([b"", b"\n", b" \r\n\t"]))
def test_object_stream_round_trip(objects: list[dict[str, Any]], cuts: list[int],
                                  sep: bytes) -> None:
    wire = sep.join(orjson.dumps(o) for o in objects)
    decoder = JSONObjectStreamDecoder()
    out: list[Any] = []
    for chunk in _chunks(wire, cuts):
        out += decoder.feed(chunk)
    assert out == objects
    decoder.close()


def test_event_stream_read_timeout_outlasts_heartbeat(make_client: MakeClient) -> None:
    client, rec = make_client([streamed([_batch(2, "a")])])
    events = client.events(["Job"])
    next(events)
    events.close()
    assert rec.requests[0].extensions["timeout"]["read"] > 30  # heartbeats come every 30 s
