"""Compression as Nomad's HTTP server does it (gorilla ``handlers.CompressHandler``).

Served: the first of ``gzip``/``deflate`` named in ``Accept-Encoding`` compresses the body
(streams too, flushed per chunk); ``Vary: Accept-Encoding`` on every response. In-process:
only with ``SimTransport(cluster, compress=True)``, as httpx asks for gzip on every request and
there is no wire to save (the transport's default stays uncompressed, so tests do not pay).
"""

from __future__ import annotations

import gzip
import zlib
from collections.abc import Iterator

import httpx
import pytest

from nomadlab.sim import SimCluster
from nomadlab.sim.compression import compress_body, negotiate
from nomadlab.sim.transport import SimTransport
from tests.sim.conftest import new_cluster, simple_job

GO_GZIP_HEADER = b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\xff"


@pytest.mark.parametrize(
    ("header", "encoding"),
    [
        ("gzip, deflate", "gzip"), ("deflate, gzip", "deflate"), ("  gzip  ", "gzip"), ("br, gzip", "gzip"),
        ("gzip;q=1.0", None), ("x-gzip", None), ("identity", None), ("", None), ("*", None),
    ],
)
def test_negotiation_is_gorillas(header: str, encoding: str | None) -> None:
    assert negotiate(header) == encoding


@pytest.mark.parametrize("body", [b"", b"x", b'{"a": 1}' * 1000])
def test_bodies_round_trip(body: bytes) -> None:
    zipped = compress_body(body, "gzip")
    assert zipped.startswith(GO_GZIP_HEADER) and gzip.decompress(zipped) == body
    assert zlib.decompress(compress_body(body, "deflate"), -zlib.MAX_WBITS) == body


def test_an_empty_body_is_an_empty_member() -> None:
    assert len(compress_body(b"", "gzip")) == 20  # header, an empty final block, CRC and size
    assert compress_body(b"", "deflate") == b"\x03\x00"


@pytest.fixture(scope="module")
def served() -> Iterator[tuple[SimCluster, str]]:
    cluster = new_cluster()
    cluster.register_job(simple_job("web", count=2))
    cluster.advance(30)
    with cluster.serve() as url:
        yield cluster, url


def _raw(url: str, path: str, **kw: object) -> tuple[httpx.Response, bytes]:
    with httpx.Client(base_url=url) as client, client.stream("GET", path, **kw) as r:
        return r, b"".join(r.iter_raw())


def test_served_json_is_gzipped_for_httpx(served: tuple[SimCluster, str]) -> None:
    _, url = served
    r, raw = _raw(url, "/v1/jobs")
    assert r.headers["Content-Encoding"] == "gzip" and r.headers["Vary"] == "Accept-Encoding"
    assert raw.startswith(GO_GZIP_HEADER)
    assert int(r.headers["Content-Length"]) == len(raw)
    plain, body = _raw(url, "/v1/jobs", headers={"Accept-Encoding": "identity"})
    assert "Content-Encoding" not in plain.headers and plain.headers["Vary"] == "Accept-Encoding"
    assert gzip.decompress(raw) == body
    deflated, flat = _raw(url, "/v1/jobs", headers={"Accept-Encoding": "deflate"})
    assert deflated.headers["Content-Encoding"] == "deflate"
    assert zlib.decompress(flat, -zlib.MAX_WBITS) == body


def test_errors_and_empty_answers_are_compressed_too(served: tuple[SimCluster, str]) -> None:
    _, url = served
    r, raw = _raw(url, "/v1/job/nope")
    assert (r.status_code, r.headers["Content-Encoding"]) == (404, "gzip")
    assert gzip.decompress(raw) == b"job not found"
    empty, raw = _raw(url, "/v1/not-a-route")
    assert (empty.status_code, len(raw)) == (404, 20) and gzip.decompress(raw) == b""
    none, raw = _raw(url, "/v1/operator/license")
    assert (none.status_code, raw) == (204, b"")  # Go's server sends no body with a 204


def test_an_upgrade_request_is_not_compressed(served: tuple[SimCluster, str]) -> None:
    _, url = served
    r, _ = _raw(url, "/v1/jobs", headers={"Upgrade": "websocket", "Accept-Encoding": "gzip"})
    assert "Content-Encoding" not in r.headers and r.headers["Vary"] == "Accept-Encoding"


def test_a_stream_is_flushed_chunk_by_chunk(served: tuple[SimCluster, str]) -> None:
    """Each frame of the event stream decodes as it arrives, before the stream ends."""
    cluster, url = served
    with httpx.Client(base_url=url) as client, client.stream(
            "GET", "/v1/event/stream", params={"topic": "Job", "index": "1"}, timeout=10) as r:
        assert r.headers["Content-Encoding"] == "gzip"
        decoder = zlib.decompressobj(16 + zlib.MAX_WBITS)
        text = b""
        for chunk in r.iter_raw():
            text += decoder.decompress(chunk)
            if b'"Topic":"Job"' in text:
                break
        assert b'"Topic":"Job"' in text


def test_in_process_is_uncompressed_unless_asked() -> None:
    cluster = new_cluster()
    cluster.register_job(simple_job("web"))
    default = httpx.Client(transport=cluster.transport(), base_url="http://nomad").get("/v1/jobs")
    assert "Content-Encoding" not in default.headers and default.headers["Vary"] == "Accept-Encoding"
    request = httpx.Request("GET", "http://nomad/v1/jobs", headers={"Accept-Encoding": "gzip, deflate"})
    raw = SimTransport(cluster, compress=True).handle_request(request)
    assert raw.headers["Content-Encoding"] == "gzip"
    body = b"".join(raw.stream)
    assert body.startswith(GO_GZIP_HEADER) and gzip.decompress(body) == default.content
    zipped = httpx.Client(transport=SimTransport(cluster, compress=True), base_url="http://nomad").get("/v1/jobs")
    assert zipped.headers["Content-Encoding"] == "gzip" and zipped.json() == default.json()
