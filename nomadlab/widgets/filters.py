"""``FilterPanel``: pick namespace, job, type, status, node pool, datacenter and a time window."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

import ipywidgets as w
import pandas as pd

from nomadlab import frames
from nomadlab.client import NomadClient

from ._common import display_widget

__all__ = ["WINDOWS", "FilterPanel"]

#: The time windows offered, as ``label → length`` (``None``: no window).
WINDOWS: dict[str, pd.Timedelta | None] = {
    "any time": None,
    "last 15 min": pd.Timedelta(minutes=15),
    "last hour": pd.Timedelta(hours=1),
    "last 6 hours": pd.Timedelta(hours=6),
    "last day": pd.Timedelta(days=1),
    "last week": pd.Timedelta(days=7),
}

_ALL = "(all)"
#: Which frame columns each filter applies to, first present wins.
_COLUMNS: dict[str, tuple[str, ...]] = {
    "namespace": ("namespace",),
    "job": ("job_id",),
    "type": ("type", "job_type"),
    "status": ("status", "client_status"),
    "node_pool": ("node_pool",),
    "datacenter": ("datacenter", "datacenters"),
}
_TIME_COLUMNS = ("time", "modify_time", "create_time", "submit_time")
Values = dict[str, Any]


def _options(values: Iterable[Any]) -> list[str]:
    out: set[str] = set()
    for v in values:
        if isinstance(v, (list, tuple)):
            out.update(str(x) for x in v)
        elif v is not None and not (isinstance(v, float) and pd.isna(v)) and v is not pd.NA:
            out.add(str(v))
    return sorted(out)


class FilterPanel:
    """Filters for the frames, as widgets.

    Parameters
    ----------
    client
        Where :meth:`refresh` reads the choices from (``frames.namespaces``, ``frames.jobs``,
        ``frames.nodes``). Nothing is read until :meth:`refresh` or the first display.
    frame
        Take the choices from this frame instead (any of the filtered columns it has).
    now
        What "now" is for the time window (default: the wall clock, UTC); pass the simulated
        clock's time against a simulator.

    Examples
    --------
    >>> import pandas as pd
    >>> panel = FilterPanel(frame=pd.DataFrame({"job_id": ["web", "api"], "status": ["running", "dead"]}))
    >>> panel.refresh()
    >>> panel.job.value = ("web",)
    >>> panel.apply(panel.source_frame)["job_id"].tolist()
    ['web']
    """

    def __init__(self, client: NomadClient | None = None, *, frame: pd.DataFrame | None = None,
                 now: Callable[[], pd.Timestamp] | None = None) -> None:
        self.client = client
        self.source_frame = frame
        self._now = now or (lambda: pd.Timestamp.now(tz="UTC"))
        self._callbacks: list[Callable[[Values], None]] = []
        self._loaded = False
        self.namespace = w.Dropdown(description="namespace", options=[_ALL], value=_ALL)
        self.job = w.SelectMultiple(description="job", options=[], rows=5)
        self.type = w.SelectMultiple(description="type", options=[], rows=4)
        self.status = w.SelectMultiple(description="status", options=[], rows=4)
        self.node_pool = w.SelectMultiple(description="node pool", options=[], rows=3)
        self.datacenter = w.SelectMultiple(description="datacenter", options=[], rows=3)
        self.window = w.Dropdown(description="window", options=list(WINDOWS), value="any time")
        self.widget = w.VBox([
            w.HBox([self.namespace, self.window]),
            w.HBox([self.job, self.type, self.status]),
            w.HBox([self.node_pool, self.datacenter]),
        ])
        self._muted = False
        for control in self._controls():
            control.observe(self._changed, names="value")

    def _controls(self) -> list[Any]:
        return [self.namespace, self.job, self.type, self.status, self.node_pool,
                self.datacenter, self.window]

    # -- choices ------------------------------------------------------------------------------

    def refresh(self) -> None:
        """Fill the choices: from ``frame=`` when given, else from the cluster's frames."""
        choices: dict[str, list[str]] = {k: [] for k in _COLUMNS}
        sources: list[pd.DataFrame] = []
        if self.source_frame is not None:
            sources.append(self.source_frame)
        else:
            sources += [frames.namespaces(self.client), frames.jobs(self.client),
                        frames.nodes(self.client)]
        for df in sources:
            for key, columns in _COLUMNS.items():
                for column in columns:
                    if column in df.columns:
                        choices[key] = sorted(set(choices[key]) | set(_options(df[column])))
        self._muted = True
        try:
            keep = self.namespace.value
            self.namespace.options = [_ALL, *choices["namespace"]]
            self.namespace.value = keep if keep in self.namespace.options else _ALL
            for key in ("job", "type", "status", "node_pool", "datacenter"):
                control = getattr(self, key)
                chosen = tuple(v for v in control.value if v in choices[key])
                control.options = choices[key]
                control.value = chosen
        finally:
            self._muted = False
        self._loaded = True

    # -- values -------------------------------------------------------------------------------

    @property
    def values(self) -> Values:
        """The chosen filters as plain values.

        ``namespace`` is a name or ``None`` (all); ``job``, ``type``, ``status``,
        ``node_pool``, ``datacenter`` are lists (empty: no filter); ``window`` is the window's
        label and ``since`` its start (a UTC timestamp, or ``None``).
        """
        span = WINDOWS[self.window.value]
        return {
            "namespace": None if self.namespace.value == _ALL else self.namespace.value,
            "job": list(self.job.value),
            "type": list(self.type.value),
            "status": list(self.status.value),
            "node_pool": list(self.node_pool.value),
            "datacenter": list(self.datacenter.value),
            "window": self.window.value,
            "since": None if span is None else self._now() - span,
        }

    def on_change(self, callback: Callable[[Values], None]) -> None:
        """Call ``callback(values)`` with :attr:`values` whenever a filter changes."""
        self._callbacks.append(callback)

    def _changed(self, change: Any) -> None:
        if self._muted:
            return
        values = self.values
        for callback in list(self._callbacks):
            callback(values)

    def apply(self, frame: pd.DataFrame) -> pd.DataFrame:
        """The rows of ``frame`` that pass every filter on a column the frame has.

        A filter whose column the frame lacks is ignored; ``datacenters`` (lists) passes when
        any of its datacenters is chosen; the window applies to the first of ``time``,
        ``modify_time``, ``create_time``, ``submit_time`` present.
        """
        values = self.values
        mask = pd.Series(True, index=frame.index)
        for key, columns in _COLUMNS.items():
            chosen = values[key]
            if not chosen:
                continue
            wanted = {chosen} if isinstance(chosen, str) else set(chosen)
            column = next((c for c in columns if c in frame.columns), None)
            if column is None:
                continue
            col = frame[column]
            if column == "datacenters":
                mask &= col.map(lambda v, chosen_set=wanted: bool(set(map(str, v or ())) & chosen_set))
            else:
                mask &= col.astype("string").isin(wanted).fillna(False).astype(bool)
        since = values["since"]
        time_column = next((c for c in _TIME_COLUMNS if c in frame.columns), None)
        if since is not None and time_column is not None:
            mask &= (frame[time_column] >= since).fillna(False).astype(bool)
        return frame.loc[mask.astype(bool)].reset_index(drop=True)

    def _ipython_display_(self) -> None:
        if not self._loaded:
            self.refresh()
        display_widget(self.widget)
