"""Response compression as Nomad's HTTP server does it.

Nomad wraps its whole HTTP mux in gorilla's ``handlers.CompressHandler``
(``command/agent/http.go``), so every response, streams included, is compressed when the
request asks for it:

- the encoding is the first of ``gzip`` or ``deflate`` among the comma-separated tokens of
  ``Accept-Encoding``, compared exactly after trimming spaces (``gzip;q=1`` names neither);
- ``Vary: Accept-Encoding`` is added to *every* response, compressed or not;
- a request with an ``Upgrade`` header is answered uncompressed;
- the level is Go's default (6), with no minimum size: an empty body becomes an empty gzip
  member (20 bytes) or an empty deflate stream;
- ``deflate`` is a raw DEFLATE stream (Go's ``compress/flate``), not zlib-wrapped;
- a stream is flushed (a DEFLATE sync flush) after every chunk, as the writer's ``Flush`` does,
  so each event or log frame reaches the client when it is written;
- ``Content-Length`` is dropped for the compressed body (the adapters send their own).

The gzip header is Go's (no name, no time, ``XFL`` 0, ``OS`` 255); the DEFLATE bytes are
zlib's, which any decoder reads as it reads Go's, though they are not byte-identical.
"""

from __future__ import annotations

import struct
import zlib
from collections.abc import Iterator

from .http import Request, Response

__all__ = ["negotiate", "compress_response", "compress_body", "LEVEL"]

LEVEL = 6  # Go's gzip.DefaultCompression, as flate level 6
_GZIP_HEADER = b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\xff"  # Go's gzip.Writer with an empty Header
_NO_BODY = (204, 304)


def negotiate(accept_encoding: str) -> str | None:
    """The encoding gorilla's handler picks for ``accept_encoding``: ``gzip``, ``deflate`` or ``None``."""
    for token in accept_encoding.split(","):
        token = token.strip()
        if token in ("gzip", "deflate"):
            return token
    return None


class _Encoder:
    """One compressed body being written: raw DEFLATE, wrapped in a gzip member for ``gzip``."""

    def __init__(self, encoding: str) -> None:
        self.gzip = encoding == "gzip"
        self._deflate = zlib.compressobj(LEVEL, zlib.DEFLATED, -zlib.MAX_WBITS)
        self._crc = 0
        self._size = 0
        self._started = False

    def _head(self) -> bytes:
        if self._started or not self.gzip:
            self._started = True
            return b""
        self._started = True
        return _GZIP_HEADER

    def write(self, data: bytes, *, flush: bool) -> bytes:
        if self.gzip:
            self._crc = zlib.crc32(data, self._crc)
            self._size += len(data)
        out = self._head() + self._deflate.compress(data)
        if flush:
            out += self._deflate.flush(zlib.Z_SYNC_FLUSH)
        return out

    def close(self) -> bytes:
        out = self._head() + self._deflate.flush(zlib.Z_FINISH)
        if self.gzip:
            out += struct.pack("<II", self._crc & 0xFFFFFFFF, self._size & 0xFFFFFFFF)
        return out


def compress_body(body: bytes, encoding: str) -> bytes:
    """``body`` as one ``gzip`` member or raw ``deflate`` stream, at Go's default level."""
    encoder = _Encoder(encoding)
    return encoder.write(body, flush=False) + encoder.close()


def _compressed_stream(chunks: Iterator[bytes], encoding: str) -> Iterator[bytes]:
    encoder = _Encoder(encoding)
    try:
        for chunk in chunks:
            # an empty chunk is an idle stream's tick (a chance to notice a hang-up): kept empty
            yield encoder.write(chunk, flush=True) if chunk else b""
        yield encoder.close()
    finally:
        close = getattr(chunks, "close", None)
        if close is not None:
            close()


def compress_response(request: Request, response: Response) -> Response:
    """``response`` as Nomad's ``CompressHandler`` sends it for ``request``.

    Returns a new :class:`Response` (the given one is not changed): ``Vary: Accept-Encoding``
    always; with a ``gzip`` or ``deflate`` request, ``Content-Encoding`` and the compressed
    body or stream. ``HEAD`` and 204/304 answers keep an empty body, as Go's server sends none.
    """
    headers = dict(response.headers)
    vary = headers.get("Vary")
    headers["Vary"] = f"{vary}, Accept-Encoding" if vary else "Accept-Encoding"
    encoding = negotiate(request.headers.get("accept-encoding", ""))
    if encoding is None or request.headers.get("upgrade"):
        return Response(status=response.status, headers=headers, body=response.body, stream=response.stream)
    headers["Content-Encoding"] = encoding
    headers.pop("Content-Length", None)
    if response.stream is not None:
        return Response(status=response.status, headers=headers, stream=_compressed_stream(response.stream, encoding))
    if request.method == "HEAD" or response.status in _NO_BODY:
        return Response(status=response.status, headers=headers, body=b"")
    return Response(status=response.status, headers=headers, body=compress_body(response.body, encoding))
