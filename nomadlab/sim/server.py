"""Serving a simulated cluster on a real socket with uvicorn (plain HTTP, TLS or mutual TLS)."""

from __future__ import annotations

import contextlib
import ssl
import threading
import time
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .cluster import SimCluster

__all__ = ["serve_in_thread", "serve_forever", "Ticker"]


class Ticker(threading.Thread):
    """Runs due transitions as real time passes (for a cluster on a :class:`RealClock`)."""

    def __init__(self, cluster: SimCluster, interval_s: float = 0.1) -> None:
        super().__init__(name="nomadlab-sim-ticker", daemon=True)
        self.cluster = cluster
        self.interval_s = interval_s
        self.stopped = threading.Event()

    def run(self) -> None:
        while not self.stopped.wait(self.interval_s):
            self.cluster.tick()

    def stop(self) -> None:
        self.stopped.set()


def _server(cluster: SimCluster, host: str, port: int, ssl_certfile: str | None,
            ssl_keyfile: str | None, ssl_ca_certs: str | None, log_level: str) -> Any:
    """A uvicorn server for ``cluster`` whose shutdown first ends the open streams."""
    import uvicorn

    from .asgi import ASGIApp

    app = ASGIApp(cluster)

    class _Server(uvicorn.Server):
        def handle_exit(self, sig: int, frame: Any) -> None:
            app.close_streams()
            super().handle_exit(sig, frame)

    server = _Server(_config(app, host, port, ssl_certfile, ssl_keyfile, ssl_ca_certs, log_level))
    server.app = app  # type: ignore[attr-defined]
    return server


def _config(app: Any, host: str, port: int, ssl_certfile: str | None,
            ssl_keyfile: str | None, ssl_ca_certs: str | None, log_level: str) -> Any:
    import uvicorn

    kwargs: dict[str, Any] = {}
    if ssl_certfile:
        kwargs.update(ssl_certfile=ssl_certfile, ssl_keyfile=ssl_keyfile)
        if ssl_ca_certs:
            kwargs.update(ssl_ca_certs=ssl_ca_certs, ssl_cert_reqs=ssl.CERT_REQUIRED)
    return uvicorn.Config(
        app, host=host, port=port, log_level=log_level, lifespan="off",
        access_log=False, timeout_graceful_shutdown=5, **kwargs,
    )


@contextlib.contextmanager
def serve_in_thread(
    cluster: SimCluster,
    *,
    host: str = "127.0.0.1",
    port: int = 0,
    ssl_certfile: str | None = None,
    ssl_keyfile: str | None = None,
    ssl_ca_certs: str | None = None,
    ticker: bool = True,
    startup_timeout_s: float = 15.0,
) -> Iterator[str]:
    """Serve ``cluster`` in a background thread for the duration of the ``with`` block."""
    server = _server(cluster, host, port, ssl_certfile, ssl_keyfile, ssl_ca_certs, "warning")
    thread = threading.Thread(target=server.run, name="nomadlab-sim-server", daemon=True)
    thread.start()
    deadline = time.monotonic() + startup_timeout_s
    while not server.started:
        if not thread.is_alive():
            raise RuntimeError(f"the simulator could not start serving on {host}:{port}")
        if time.monotonic() > deadline:
            server.should_exit = True
            raise RuntimeError(f"the simulator did not start serving on {host}:{port} in time")
        time.sleep(0.01)
    bound = server.servers[0].sockets[0].getsockname()[1]
    scheme = "https" if ssl_certfile else "http"
    tick = Ticker(cluster) if ticker else None
    if tick is not None:
        tick.start()
    try:
        yield f"{scheme}://{host}:{bound}"
    finally:
        if tick is not None:
            tick.stop()
        server.app.close_streams()
        server.should_exit = True
        cluster.state.notify()
        thread.join(timeout=10)


def serve_forever(
    cluster: SimCluster,
    *,
    host: str = "127.0.0.1",
    port: int = 4646,
    ssl_certfile: str | None = None,
    ssl_keyfile: str | None = None,
    ssl_ca_certs: str | None = None,
    log_level: str = "info",
) -> None:
    """Serve in the foreground until interrupted (what ``nomadlab sim`` runs).

    Ctrl-C (SIGINT) or SIGTERM ends open streams, lets uvicorn finish, and returns without a
    traceback (uvicorn re-raises the signal once it has shut down; it is caught here).
    """
    tick = Ticker(cluster)
    tick.start()
    try:
        _server(cluster, host, port, ssl_certfile, ssl_keyfile, ssl_ca_certs, log_level).run()
    except KeyboardInterrupt:
        pass
    finally:
        tick.stop()
