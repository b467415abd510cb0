"""Recorded pages of a simulated cluster, served from memory on 127.0.0.1.

The simulator renders every list it serves (a few seconds of CPU for 100,000 allocations),
which is not what a client costs. For a fair client benchmark, :func:`record` asks the
in-process simulator once for every response the benchmark paths will ask for (the paged
allocation list as ``LiveSource`` reads it, the same list in one response as python-nomad
reads it, ``/v1/status/leader``, allocation stats) and keeps the raw bytes and the headers
Nomad sends with them. ``python -m benchmarks._static RECORDING`` then serves those bytes,
as they are, from a separate process (so the server never competes with the measured client
for the interpreter lock): a response costs the server a dictionary lookup and a socket write.

Requests are matched on the path and the query parameters in any order (``True`` and
``true`` alike, as python-nomad sends booleans capitalised); anything not recorded is a 404
with what was asked, logged on the server's standard error, so a benchmark path that asks for
something else fails loudly instead of measuring a different question. With ``--gzip`` each
body is also kept gzip-compressed (Go's default level, as Nomad's handler compresses) and
sent so to a client that accepts it; ``--latency-ms`` delays every ``/v1/client/`` answer,
as a node's agent behind a network hop would.
"""

from __future__ import annotations

import gzip
import json
import pickle
import sys
import threading
import time
from collections.abc import Iterable, Mapping
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

__all__ = ["ALLOC_QUERY", "PER_PAGE", "Recording", "canonical", "record", "serve"]

ALLOC_QUERY = {"namespace": "*", "resources": "true", "task_states": "true"}
"""The allocation list query every benchmark path sends (what the frames need)."""

PER_PAGE = 2000
"""Allocations per page, as ``nomadlab.sources.PAGE_SIZES`` asks for them."""

# Headers of Nomad's that a client reads; the rest of the simulator's are not replayed.
_KEPT_HEADERS = ("content-type", "x-nomad-index", "x-nomad-nexttoken", "x-nomad-knownleader",
                 "x-nomad-lastcontact")

Key = tuple[str, tuple[tuple[str, str], ...]]


def canonical(path: str, query: Iterable[tuple[str, str]]) -> Key:
    """The lookup key of a request: its path and its query pairs, sorted, booleans lower-cased."""
    pairs = sorted((k, v.lower() if v in ("True", "False") else v) for k, v in query)
    return path, tuple(pairs)


class Recording:
    """Responses by request key: ``(status, headers, body)``, plus what the benchmark reports."""

    def __init__(self) -> None:
        self.responses: dict[Key, tuple[int, dict[str, str], bytes]] = {}
        self.info: dict[str, Any] = {}

    def add(self, path: str, query: Mapping[str, str], status: int, headers: Mapping[str, str],
            body: bytes) -> None:
        kept = {k: v for k, v in headers.items() if k.lower() in _KEPT_HEADERS}
        self.responses[canonical(path, query.items())] = (status, kept, body)

    def save(self, path: Path) -> None:
        with path.open("wb") as f:
            pickle.dump((self.responses, self.info), f, protocol=pickle.HIGHEST_PROTOCOL)

    @classmethod
    def load(cls, path: Path) -> Recording:
        rec = cls()
        with path.open("rb") as f:
            rec.responses, rec.info = pickle.load(f)  # noqa: S301 - our own file, written just before
        return rec


def record(cluster: Any, *, stats_allocs: int = 0) -> Recording:
    """Ask ``cluster`` (a :class:`~nomadlab.sim.SimCluster`) in-process for every response the
    benchmark paths read, and keep their bytes.

    ``info`` gets ``payload_bytes`` (the paged list's bodies, summed: what every path
    transfers), ``pages``, ``allocs`` and ``stats_ids`` (the allocations whose stats are kept).
    """
    import httpx

    rec = Recording()
    with httpx.Client(transport=cluster.transport(), base_url="http://sim", timeout=600) as http:
        def get(path: str, query: dict[str, str]) -> httpx.Response:
            resp = http.get(path, params=query)
            resp.raise_for_status()
            rec.add(path, query, resp.status_code, resp.headers, resp.content)
            return resp

        get("/v1/status/leader", {})
        token: str | None = None
        payload = pages = 0
        while True:
            query = dict(ALLOC_QUERY, per_page=str(PER_PAGE))
            if token:
                query["next_token"] = token
            resp = get("/v1/allocations", query)
            payload += len(resp.content)
            pages += 1
            token = resp.headers.get("x-nomad-nexttoken")
            if not token:
                break
        whole = get("/v1/allocations", dict(ALLOC_QUERY))
        ids = [a["ID"] for a in whole.json()[:stats_allocs]]
        for aid in ids:
            get(f"/v1/client/allocation/{aid}/stats", {})
    rec.info = {"payload_bytes": payload, "whole_bytes": len(whole.content), "pages": pages,
                "allocs": len(cluster.state.allocs), "stats_ids": ids}
    return rec


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True     # headers and body go out as written, no 40 ms delayed ACK
    server: _Server

    def do_GET(self) -> None:  # noqa: N802 - the name http.server calls
        url = urlsplit(self.path)
        key = canonical(url.path, parse_qsl(url.query, keep_blank_values=True))
        hit = self.server.recording.responses.get(key)
        if url.path.startswith("/v1/client/") and self.server.latency_s:
            time.sleep(self.server.latency_s)
        if hit is None:
            body = f"not recorded: GET {self.path}".encode()
            print(body.decode(), file=sys.stderr, flush=True)
            self.send_response(404)
            self.send_header("Content-Type", "text/plain")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
            return
        status, headers, body = hit
        self.send_response(status)
        for k, v in headers.items():
            self.send_header(k, v)
        zipped = self.server.zipped.get(key)
        if zipped is not None and "gzip" in (self.headers.get("Accept-Encoding") or ""):
            body = zipped
            self.send_header("Content-Encoding", "gzip")
            self.send_header("Vary", "Accept-Encoding")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - http.server's signature
        return


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 1024

    def handle_error(self, request: Any, client_address: Any) -> None:
        """A client that closes its pooled connections is not an error of the server."""
        if not isinstance(sys.exc_info()[1], ConnectionError):
            super().handle_error(request, client_address)

    def __init__(self, recording: Recording, *, gzip_bodies: bool, latency_s: float) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.recording = recording
        self.latency_s = latency_s
        # Go's gzip.DefaultCompression is level 6, what Nomad's gzip handler uses
        self.zipped = ({k: gzip.compress(body, compresslevel=6, mtime=0)
                        for k, (_, _, body) in recording.responses.items() if len(body) > 1400}
                       if gzip_bodies else {})


def serve(recording_path: Path, *, gzip_bodies: bool = False, latency_ms: float = 0.0) -> None:
    """Serve the recording until standard input closes; print ``{"url": ..., **info}`` first."""
    server = _Server(Recording.load(recording_path), gzip_bodies=gzip_bodies, latency_s=latency_ms / 1000)
    host, port = server.server_address[:2]
    info = dict(server.recording.info, url=f"http://{host!s}:{port}",
                gzip_bytes=sum(len(b) for k, b in server.zipped.items() if k[0] == "/v1/allocations"
                               and any(p == "per_page" for p, _ in k[1])))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    print(json.dumps(info), flush=True)
    sys.stdin.read()          # the benchmark closes our stdin when it is done
    server.shutdown()


if __name__ == "__main__":
    import argparse

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("recording", type=Path)
    parser.add_argument("--gzip", action="store_true")
    parser.add_argument("--latency-ms", type=float, default=0.0)
    args = parser.parse_args()
    serve(args.recording, gzip_bodies=args.gzip, latency_ms=args.latency_ms)
