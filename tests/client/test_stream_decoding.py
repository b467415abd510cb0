"""The event-stream decoder over malformed input: every valid batch, then one NomadDecodeError."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from nomadlab.errors import NomadDecodeError
from nomadlab.streams import EventBatch, EventStreamDecoder


def _line(index: int) -> bytes:
    return json.dumps({"Index": index, "Events": [
        {"Topic": "Job", "Type": "JobRegistered", "Key": f"job-{index}", "Namespace": "default",
         "Index": index, "FilterKeys": ["a"], "Payload": {"Job": {"ID": f"job-{index}"}}}]}).encode() + b"\n"


BAD_LINES = [
    b"{oops\n", b"[1, 2]\n", b'"text"\n', b"null\n", b'{"Index": "7", "Events": []}\n',
    b'{"Index": 3, "Events": 5}\n', b'{"Index": 3, "Events": [null]}\n', b'{"Index": 3, "Events": ["x"]}\n',
    b'{"Index": 3, "Events": [{"FilterKeys": 5}]}\n', b'{"Index": 3, "Events": [{"Index": "x"}]}\n',
    b'{"Index": -4, "Events": []}\n', b'{"Index": true}\n', b"\xff\xfe\n", b'{"Index": 1e400}\n',
    b'{"Index": 3, "Events": [{"Index": 1e30}]}\n',
]


def _decode_all(chunks: list[bytes]) -> tuple[list[EventBatch], NomadDecodeError | None]:
    """Feed chunk by chunk as iter_events does: deliver, then stop at the first error."""
    decoder = EventStreamDecoder()
    got: list[EventBatch] = []
    for chunk in chunks:
        got.extend(decoder.feed(chunk))
        if decoder.error is not None:
            return got, decoder.error
    try:
        got.extend(decoder.close())
    except NomadDecodeError as exc:
        return got, exc
    return got, decoder.error


@pytest.mark.parametrize("bad", BAD_LINES, ids=repr)
def test_bad_line_between_valid_ones_costs_none_of_them(bad: bytes) -> None:
    got, error = _decode_all([_line(1) + _line(2) + bad + _line(3) + _line(4)])
    assert [b.index for b in got] == [1, 2, 3, 4]
    assert isinstance(error, NomadDecodeError) and "line 3" in str(error)


def test_the_held_error_is_raised_by_the_next_call() -> None:
    decoder = EventStreamDecoder()
    assert [b.index for b in decoder.feed(_line(1) + b"{oops\n")] == [1]
    with pytest.raises(NomadDecodeError, match="line 2"):
        decoder.feed(_line(2))
    with pytest.raises(NomadDecodeError, match="line 2"):
        decoder.close()


def test_several_bad_lines_make_one_error() -> None:
    got, error = _decode_all([b"{oops\n" + _line(1) + b"null\n"])
    assert [b.index for b in got] == [1]
    assert error is not None and "line 1" in str(error) and "1 more" in str(error)


@st.composite
def _streams(draw: st.DrawFn) -> tuple[list[bytes], list[int], bool]:
    """A stream of valid lines, heartbeats and bad lines, cut into chunks at random points."""
    parts: list[bytes] = []
    valid: list[int] = []
    bad = False
    for i in range(1, draw(st.integers(0, 8)) + 1):
        kind = draw(st.sampled_from(("valid", "valid", "heartbeat", "bad", "junk")))
        if kind == "valid":
            parts.append(_line(i))
            valid.append(i)
        elif kind == "heartbeat":
            parts.append(b"{}\n")
        elif kind == "bad":
            parts.append(draw(st.sampled_from(BAD_LINES)))
            bad = True
        else:
            junk = draw(st.binary(max_size=12).filter(lambda b: b"\n" not in b and b.strip()))
            parts.append(junk + b"\n")
            bad = True  # random bytes are never a valid batch line... unless they decode to one
    raw = b"".join(parts)
    cuts = sorted(draw(st.lists(st.integers(0, len(raw)), max_size=6)))
    chunks = [raw[a:b] for a, b in zip([0, *cuts], [*cuts, len(raw)], strict=True)]
    return chunks, valid, bad


@settings(max_examples=300, deadline=None)
@given(_streams())
def test_fuzzed_streams_deliver_valid_batches_and_raise_only_decode_errors(stream: Any) -> None:
    chunks, valid, bad = stream
    got, error = _decode_all(chunks)          # anything but NomadDecodeError fails the test here
    delivered = [b.index for b in got]
    if error is None:
        assert delivered == [i for i in valid if i in delivered]
        assert set(valid) <= set(delivered) or bad
    else:
        assert bad
        assert all(i in valid for i in delivered)


def test_iter_events_yields_the_valid_events_then_raises(monkeypatch: pytest.MonkeyPatch) -> None:
    from contextlib import contextmanager

    from nomadlab.streams import iter_events

    class Response:
        def iter_bytes(self) -> Any:
            yield _line(1) + b"{oops\n" + _line(2)

    class Client:
        @contextmanager
        def open_stream(self, *args: Any, **kwargs: Any) -> Any:
            yield Response()

    seen: list[str] = []
    with pytest.raises(NomadDecodeError, match="line 2"):
        for event in iter_events(Client()):  # type: ignore[arg-type]
            seen.append(event.key)
    assert seen == ["job-1", "job-2"]
