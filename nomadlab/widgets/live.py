"""``LiveView``: a frame kept current by blocking queries, redrawn in place."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Any

import ipywidgets as w
import pandas as pd

from nomadlab import frames
from nomadlab.client import NomadClient
from nomadlab.errors import NomadTransportError, ServerError

from ._common import client_of, display_widget, frame_html, message_html, seconds

__all__ = ["WATCHED", "LiveView"]

logger = logging.getLogger(__name__)

#: The list endpoint watched for each frame name (its ``X-Nomad-Index`` moves on any change).
WATCHED: dict[str, str] = {
    "allocations": "/v1/allocations",
    "jobs": "/v1/jobs",
    "task_groups": "/v1/jobs",
    "nodes": "/v1/nodes",
    "evaluations": "/v1/evaluations",
    "deployments": "/v1/deployments",
    "tasks": "/v1/allocations",
}

Frame = Callable[[NomadClient], pd.DataFrame]
Figure = Callable[[pd.DataFrame], Any]


class LiveView:
    """A frame redrawn whenever the cluster changes, through blocking queries.

    A background thread asks the watched list endpoint with ``?index=<last>&wait=<wait>``: the
    server holds the request until its index moves or ``wait`` runs out, so an idle cluster
    costs one request per ``wait``. When the index moves, the frame is fetched again and the
    table (and the figure, when ``figure=`` is given) is redrawn in place. A dropped
    connection or a 5xx is retried with a growing pause (up to ``max_backoff``), resuming
    from the last index.

    Parameters
    ----------
    client
        The cluster.
    frame
        A frame name from :data:`WATCHED`, or a callable ``frame(client) -> DataFrame``
        (then give ``path``, the list endpoint to watch).
    figure
        ``figure(df) -> plotly Figure``; shown as a ``FigureWidget`` updated in place.
    wait
        The blocking wait (``"30s"``, or seconds).
    path
        The endpoint to watch (default: the frame's list endpoint).
    max_backoff
        The longest pause between retries after a failure, in seconds.

    Nothing is sent until :meth:`start` (or the first display). :meth:`stop` (the Stop
    button, or closing the widget) ends the thread after its current request.
    """

    def __init__(self, client: NomadClient | None, frame: str | Frame = "allocations", *,
                 figure: Figure | None = None, wait: str | float = "30s", path: str | None = None,
                 max_backoff: float = 30.0) -> None:
        self.client = client_of(client)
        if isinstance(frame, str):
            if frame not in WATCHED:
                raise ValueError(f"no live frame {frame!r}; known: {', '.join(sorted(WATCHED))} "
                                 "(or pass a callable and path=)")
            name = frame
            self._fetch: Frame = lambda c: getattr(frames, name)(c)
            self.path = path or WATCHED[frame]
            self.name = frame
        else:
            if path is None:
                raise ValueError("a callable frame needs path=, the list endpoint to watch "
                                 "(for example '/v1/allocations')")
            self._fetch = frame
            self.path = path
            self.name = getattr(frame, "__name__", "frame")
        self.figure = figure
        self.wait = seconds(wait)
        self.max_backoff = max_backoff
        self.index = 0
        self.frame: pd.DataFrame | None = None
        self.updated: pd.Timestamp | None = None
        self.redraws = 0
        self.error: str | None = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.table = w.HTML()
        self.info = w.HTML(message_html("not started"))
        self.stop_button = w.Button(description="Stop", icon="stop")
        self.stop_button.on_click(lambda _: self.stop())
        self.fig_widget: Any = None
        self.widget = _ClosingBox([w.HBox([self.info, self.stop_button]), self.table], owner=self)

    @property
    def running(self) -> bool:
        """Whether the watch thread is alive."""
        return self._thread is not None and self._thread.is_alive()

    def start(self) -> None:
        """Fetch now and start watching in a background thread (no-op when running)."""
        if self.running:
            return
        if self.figure is not None and self.fig_widget is None:
            import plotly.graph_objects as go

            self.fig_widget = go.FigureWidget()  # built here: its first build is slow
            self.widget.children = (*self.widget.children, self.fig_widget)
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name=f"liveview-{self.name}", daemon=True)
        self._thread.start()

    def stop(self, timeout: float | None = None) -> None:
        """Stop watching; the thread ends when its current request returns (``timeout``:
        how long to wait for that, default not at all)."""
        self._stop.set()
        self.stop_button.disabled = True
        self.info.value = message_html(self._info_text("stopped"))
        if timeout and self._thread is not None:
            self._thread.join(timeout)

    def close(self) -> None:
        """Stop watching and close the widgets."""
        self.widget.close()

    # -- the loop -----------------------------------------------------------------------------

    def _run(self) -> None:
        backoff = min(1.0, self.max_backoff)
        while not self._stop.is_set():
            try:
                reply = self.client.request("GET", self.path, namespace="*",
                                            index=self.index or None,
                                            wait=self.wait if self.index else None)
                new = reply.meta.index or 0
                if self._stop.is_set():
                    return
                if self.index == 0 or new != self.index:
                    self.index = max(new, 1)
                    self._redraw(self._fetch(self.client))
                backoff = min(1.0, self.max_backoff)
            except (NomadTransportError, ServerError) as exc:
                self.error = f"{type(exc).__name__}: {str(exc).splitlines()[0]}"
                logger.info("live view of %s: %s; retrying in %.1fs", self.path, self.error, backoff)
                self.info.value = message_html(
                    self._info_text(f"connection lost ({self.error}); retrying in {backoff:.0f}s"),
                    kind="warning")
                if self._stop.wait(backoff):
                    return
                backoff = min(backoff * 2, self.max_backoff)
            except Exception as exc:  # noqa: BLE001 - shown in the widget; the thread must end cleanly
                self.error = f"{type(exc).__name__}: {exc}"
                self.info.value = message_html(self._info_text(f"stopped: {self.error}"), kind="error")
                return

    def _info_text(self, state: str) -> str:
        when = self.updated.strftime("%H:%M:%S UTC") if self.updated is not None else "never"
        return f"{self.name}: last updated {when}, index {self.index}; {state}"

    def _redraw(self, frame: pd.DataFrame) -> None:
        self.frame = frame
        self.updated = pd.Timestamp.now(tz="UTC")
        self.error = None
        self.table.value = frame_html(frame)
        if self.figure is not None:
            self._draw_figure(self.figure(frame))
        self.info.value = message_html(self._info_text("watching"))
        self.redraws += 1  # last: a reader seeing the count sees the whole redraw

    def _draw_figure(self, fig: Any) -> None:
        with self.fig_widget.batch_update():
            self.fig_widget.data = []
            self.fig_widget.add_traces(list(fig.data))
            self.fig_widget.layout = fig.layout

    def _ipython_display_(self) -> None:
        self.start()
        display_widget(self.widget)


class _ClosingBox(w.VBox):  # type: ignore[misc]
    """A VBox that stops its LiveView when closed."""

    def __init__(self, children: list[Any], *, owner: LiveView) -> None:
        super().__init__(children)
        self._owner = owner

    def close(self) -> None:
        self._owner._stop.set()  # only the flag: close() also runs from __del__ at shutdown
        super().close()
