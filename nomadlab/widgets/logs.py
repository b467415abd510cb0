"""``LogViewer``: a task's logs with a stream selector, a search box and follow mode."""

from __future__ import annotations

import html
import threading
from typing import Any

import ipywidgets as w
import pandas as pd

from nomadlab import frames
from nomadlab.client import NomadClient
from nomadlab.errors import NomadError
from nomadlab.frames.logs import LOGS, parse_line_time

from ._common import client_of, display_widget, message_html

__all__ = ["LogViewer"]


class LogViewer:
    """Log lines of one allocation's task, or of every allocation of a job.

    Built on :func:`nomadlab.frames.logs`. The **stream** buttons pick stdout, stderr or both;
    the **search** box keeps lines containing its text (case-insensitive); **follow** (one
    allocation only) streams new lines as they are written, from
    ``GET /v1/client/fs/logs/:alloc_id?follow=true``. An allocation whose node is down or
    unreachable is named in a plain message: its logs live only on that node.

    Nothing is read until :meth:`refresh` or the first display.

    Parameters
    ----------
    client
        The cluster.
    alloc, job
        One allocation ID, or a job (every allocation of it).
    task
        The task (required with ``alloc``; with ``job`` every task when left out).
    namespace
        The job's namespace.
    max_lines
        Most lines shown (the newest).
    """

    def __init__(self, client: NomadClient | None, alloc: str | None = None, job: str | None = None,
                 task: str | None = None, *, namespace: str = "default", max_lines: int = 500) -> None:
        if (alloc is None) == (job is None):
            raise ValueError("give either alloc= or job=")
        self.client = client_of(client)
        self.alloc, self.job, self.task, self.namespace = alloc, job, task, namespace
        self.max_lines = max_lines
        self.frame: pd.DataFrame = LOGS.empty()
        self.stream = w.ToggleButtons(options=["stdout", "stderr", "both"], value="stdout",
                                      description="stream")
        self.search = w.Text(placeholder="search", description="search", continuous_update=True)
        self.follow = w.ToggleButton(description="follow", icon="play", value=False,
                                     disabled=alloc is None,
                                     tooltip="" if alloc is not None else "follow needs one allocation (alloc=)")
        self.message = w.HTML()
        self.output = w.HTML()
        self.stream.observe(lambda _: self.refresh(), names="value")
        self.search.observe(lambda _: self._render(), names="value")
        self.follow.observe(self._follow_changed, names="value")
        self.widget = w.VBox([w.HBox([self.stream, self.follow]), self.search, self.message,
                              self.output])
        self._loaded = False
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    # -- reading ------------------------------------------------------------------------------

    def refresh(self) -> None:
        """Read the logs again (``frames.logs``) for the chosen stream and redraw."""
        if self.alloc is not None and self.task is None:
            self.task = self._only_task()
        try:
            df = frames.logs(self.client, self.alloc, self.task, log_type=self.stream.value,
                             job=self.job, namespace=self.namespace)
        except NomadError as exc:
            self.message.value = message_html(self._plain(self.alloc or self.job or "", str(exc)),
                                              kind="error")
            df = LOGS.empty()
        else:
            errors = df.attrs.get("errors") or {}
            self.message.value = "<br>".join(
                message_html(self._plain(str(a), str(m)), kind="error") for a, m in errors.items())
        with self._lock:
            self.frame = df
        self._loaded = True
        self._render()

    def _only_task(self) -> str:
        alloc = self.client.get(f"/v1/allocation/{self.alloc}").body or {}
        tasks = sorted((alloc.get("TaskStates") or {}) or
                       {t["Name"] for g in (alloc.get("Job") or {}).get("TaskGroups") or []
                        if g.get("Name") == alloc.get("TaskGroup") for t in g.get("Tasks") or []})
        if len(tasks) != 1:
            raise ValueError(f"allocation {self.alloc} has tasks {tasks}: pass task=")
        return str(tasks[0])

    @staticmethod
    def _plain(alloc: str, message: str) -> str:
        if "No path to node" in message or "unreachable" in message:
            return (f"Allocation {alloc[:8]}: its client node is down or unreachable, and its logs "
                    "live only on that node. They can be read again once the node is back.")
        return f"Allocation {alloc[:8]}: {message.splitlines()[0]}"

    @property
    def lines(self) -> list[str]:
        """The lines shown now (after the search filter)."""
        with self._lock:
            df = self.frame
        needle = self.search.value.strip().lower()
        if needle:
            df = df[df["line"].str.lower().str.contains(needle, regex=False).fillna(False).astype(bool)]
        return [str(x) for x in df["line"].tail(self.max_lines)]

    def _render(self) -> None:
        shown = self.lines
        self.output.value = ('<pre style="max-height:400px;overflow:auto">'
                             + html.escape("\n".join(shown)) + "</pre>")

    # -- follow -------------------------------------------------------------------------------

    def _follow_changed(self, change: Any) -> None:
        if change["new"]:
            self.start_follow()
        else:
            self.stop_follow()

    def start_follow(self) -> None:
        """Stream new lines of the chosen stream (one allocation only)."""
        if self.alloc is None:
            self.message.value = message_html("Follow needs one allocation: pass alloc=.", kind="warning")
            return
        if self._thread is not None and self._thread.is_alive():
            return
        if not self._loaded:
            self.refresh()
        self._stop.clear()
        streams = ["stdout", "stderr"] if self.stream.value == "both" else [self.stream.value]
        self._thread = threading.Thread(target=self._follow, args=(streams,), daemon=True,
                                        name=f"logs-{self.alloc[:8]}")
        self._thread.start()

    def stop_follow(self) -> None:
        """Stop following; the stream closes when its next frame arrives."""
        self._stop.set()
        if self.follow.value:
            self.follow.value = False

    def _follow(self, streams: list[str]) -> None:
        assert self.alloc is not None and self.task is not None
        threads = [threading.Thread(target=self._follow_one, args=(s,), daemon=True) for s in streams]
        for t in threads:
            t.start()
        for t in threads:
            t.join()

    def _follow_one(self, stream: str) -> None:
        assert self.alloc is not None and self.task is not None
        with self._lock:
            mine = self.frame[self.frame["stream"] == stream]
            number = int(mine["line_no"].max()) if len(mine) else 0
        pending = b""
        try:
            for frame in self.client.logs(self.alloc, self.task, log_type=stream, follow=True,
                                          origin="end", offset=0):
                if self._stop.is_set():
                    return
                pending += frame.data
                *complete, pending = pending.split(b"\n")
                if complete:
                    rows = []
                    for raw in complete:
                        number += 1
                        text = raw.decode("utf-8", errors="replace")
                        rows.append((parse_line_time(text), self.alloc, self.task, stream, number, text))
                    self._append(rows)
        except NomadError as exc:
            self.message.value = message_html(self._plain(self.alloc, str(exc)), kind="error")

    def _append(self, rows: list[tuple[Any, ...]]) -> None:
        names = [c.name for c in LOGS.columns]
        new = LOGS.build({n: [r[i] for r in rows] for i, n in enumerate(names)})
        with self._lock:
            self.frame = pd.concat([self.frame, new], ignore_index=True)
        self._render()

    def close(self) -> None:
        """Stop following and close the widgets."""
        self._stop.set()
        self.widget.close()

    def _ipython_display_(self) -> None:
        if not self._loaded:
            self.refresh()
        display_widget(self.widget)
