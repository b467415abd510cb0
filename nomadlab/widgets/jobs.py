"""``JobTable`` (jobs or allocations, sortable, selectable) and ``JobControl`` (scale, stop)."""

from __future__ import annotations

import html
from collections.abc import Callable
from typing import Any

import ipywidgets as w
import pandas as pd

from nomadlab import actions, frames
from nomadlab.actions._acl import Need, check
from nomadlab.client import NomadClient
from nomadlab.errors import NomadError

from ._common import client_of, display_widget, frame_html, message_html

__all__ = ["JOB_COLUMNS", "ALLOC_COLUMNS", "JobControl", "JobTable"]

#: Columns shown by :class:`JobTable` for each kind.
JOB_COLUMNS = ("namespace", "job_id", "type", "status", "node_pool", "running", "queued", "failed",
               "lost")
ALLOC_COLUMNS = ("namespace", "job_id", "task_group", "alloc_id", "node_name", "client_status",
                 "desired_status", "modify_time")

Advance = Callable[[float], None]


class JobControl:
    """Scale a job's groups and stop it, through :mod:`nomadlab.actions`' two steps.

    Each group gets a count box. **Plan** runs :func:`nomadlab.actions.scale` for every group
    whose count changed and shows Nomad's plan; **Confirm** applies the plans
    (``plan.apply(confirm=True, advance=advance)``) and shows each outcome as it arrives;
    **Cancel** drops them. **Stop** and **Stop and purge** act only while the "I understand"
    box is ticked. Buttons the token cannot use are disabled, with the reason shown.

    Nothing is read until :meth:`refresh` or the first display.

    Parameters
    ----------
    client
        The cluster (``None``: connect from ``NOMAD_*`` variables).
    job, namespace
        The job.
    advance, step
        A clock to move while following an applied change (``SimCluster.advance``), ``step``
        seconds a round; leave out against a real cluster.
    timeout
        Seconds to follow each applied change.
    """

    def __init__(self, client: NomadClient | None, job: str, namespace: str = "default", *,
                 advance: Advance | None = None, step: float = 2.0, timeout: float = 300.0) -> None:
        self.client = client_of(client)
        self.job = job
        self.namespace = namespace
        self.advance = advance
        self.step = step
        self.timeout = timeout
        self.counts: dict[str, w.IntText] = {}
        self.plans: list[actions.Plan] = []
        self.outcomes: list[actions.Outcome] = []
        self.deployment: dict[str, Any] | None = None
        self.title = w.HTML()
        self.groups_box = w.VBox()
        self.plan_button = w.Button(description="Plan", icon="search")
        self.confirm_button = w.Button(description="Confirm", button_style="warning", disabled=True)
        self.cancel_button = w.Button(description="Cancel", disabled=True)
        self.understand = w.Checkbox(description="I understand this stops every allocation of the job",
                                     value=False, indent=False)
        self.stop_button = w.Button(description="Stop", button_style="danger")
        self.purge_button = w.Button(description="Stop and purge", button_style="danger")
        self.preview = w.HTML()
        self.status = w.HTML()
        self.plan_button.on_click(lambda _: self.plan())
        self.confirm_button.on_click(lambda _: self.confirm())
        self.cancel_button.on_click(lambda _: self.cancel())
        self.stop_button.on_click(lambda _: self.stop(purge=False))
        self.purge_button.on_click(lambda _: self.stop(purge=True))
        self.widget = w.VBox([
            self.title, self.groups_box,
            w.HBox([self.plan_button, self.confirm_button, self.cancel_button]),
            self.preview,
            w.HBox([self.understand, self.stop_button, self.purge_button]),
            self.status,
        ])
        self._loaded = False

    # -- reading ------------------------------------------------------------------------------

    def refresh(self) -> None:
        """Read the job's groups and counts, and which buttons the token may use."""
        job = self.client.get(f"/v1/job/{self.job}", namespace=self.namespace).body
        self.title.value = (f"<b>{html.escape(self.job)}</b> ({html.escape(self.namespace)}, "
                            f"{html.escape(str(job.get('Type', '')))}, "
                            f"{html.escape(str(job.get('Status', '')))})")
        self.counts = {str(g["Name"]): w.IntText(value=int(g.get("Count") or 0), description=str(g["Name"]))
                       for g in job.get("TaskGroups") or []}
        self.groups_box.children = tuple(self.counts.values())
        self._capabilities()
        self._loaded = True

    def _capabilities(self) -> None:
        for buttons, need in (
            ((self.plan_button,), Need(("scale-job", "submit-job"), self.namespace)),
            ((self.stop_button, self.purge_button), Need(("submit-job",), self.namespace)),
        ):
            try:
                check(self.client, need)
            except actions.MissingCapabilityError as exc:
                for button in buttons:
                    button.disabled = True
                    button.tooltip = str(exc)
                self.status.value = message_html(str(exc), kind="warning")
            else:
                for button in buttons:
                    button.disabled = False
                    button.tooltip = ""

    # -- scale --------------------------------------------------------------------------------

    def plan(self) -> list[actions.Plan]:
        """Plan every changed count (the **Plan** button); shows Nomad's previews."""
        self.plans = []
        current = {g: int(v) for g, v in self._current_counts().items()}
        try:
            for group, box in self.counts.items():
                if int(box.value) != current.get(group):
                    self.plans.append(actions.scale(self.client, self.job, group, int(box.value),
                                                    namespace=self.namespace))
        except (NomadError, PermissionError) as exc:
            self.plans = []
            self.status.value = message_html(str(exc), kind="error")
        if self.plans:
            self.preview.value = "".join(p._repr_html_() for p in self.plans)
            self.status.value = message_html("Review the plan, then Confirm or Cancel.")
        elif not self.status.value.startswith('<span style="color:#b00020"'):
            self.preview.value = ""
            self.status.value = message_html("No count changed: nothing to plan.")
        self.confirm_button.disabled = not self.plans
        self.cancel_button.disabled = not self.plans
        return self.plans

    def _current_counts(self) -> dict[str, int]:
        job = self.client.get(f"/v1/job/{self.job}", namespace=self.namespace).body
        return {str(g["Name"]): int(g.get("Count") or 0) for g in job.get("TaskGroups") or []}

    def _progress(self, label: str) -> Advance | None:
        if self.advance is None:
            return None
        advance = self.advance
        moved = [0.0]

        def hooked(seconds: float) -> None:
            advance(seconds)
            moved[0] += seconds
            self.status.value = message_html(f"{label}: following, {moved[0]:.0f}s …"
                                             + self._deployment_text())

        return hooked

    def _deployment_text(self) -> str:
        """The job's latest deployment as "; deployment abcd1234 running, 2/3 healthy"."""
        try:
            dep = self.client.get(f"/v1/job/{self.job}/deployment", namespace=self.namespace).body
        except NomadError:
            return ""
        if not isinstance(dep, dict) or not dep:
            return ""
        groups = (dep.get("TaskGroups") or {}).values()
        healthy = sum(int(g.get("HealthyAllocs") or 0) for g in groups)
        desired = sum(int(g.get("DesiredTotal") or 0) for g in groups)
        self.deployment = dep
        return (f"; deployment {str(dep.get('ID', ''))[:8]} {dep.get('Status', '')}, "
                f"{healthy}/{desired} healthy")

    def confirm(self) -> list[actions.Outcome]:
        """Apply the shown plans (the **Confirm** button); each outcome is shown as it arrives."""
        plans, self.plans = self.plans, []
        self.confirm_button.disabled = self.cancel_button.disabled = True
        done: list[actions.Outcome] = []
        shown: list[str] = []
        for plan in plans:
            label = f"{plan.action} {plan.target}"
            self.status.value = message_html(f"{label}: applying …")
            try:
                outcome = plan.apply(confirm=True, advance=self._progress(label), step=self.step,
                                     timeout=self.timeout)
            except (NomadError, PermissionError) as exc:
                self.status.value = message_html(f"{label}: {exc}", kind="error")
                break
            done.append(outcome)
            shown.append(outcome._repr_html_())
            self.preview.value = "".join(shown)
            self.status.value = message_html(f"{label}: {outcome.status}"
                                             + (f" - {outcome.detail}" if outcome.detail else ""))
        self.outcomes += done
        return done

    def cancel(self) -> None:
        """Drop the shown plans (the **Cancel** button); nothing is sent."""
        self.plans = []
        self.preview.value = ""
        self.confirm_button.disabled = self.cancel_button.disabled = True
        self.status.value = message_html("Cancelled: nothing was changed.")

    # -- stop ---------------------------------------------------------------------------------

    def stop(self, *, purge: bool = False) -> actions.Outcome | None:
        """Stop the job (the **Stop** / **Stop and purge** buttons), only once "I understand"
        is ticked; otherwise nothing is sent and the status says what to do."""
        what = "Stop and purge" if purge else "Stop"
        if not self.understand.value:
            self.status.value = message_html(
                f"{what} not sent: tick \"I understand\" first, then click {what} again.",
                kind="warning")
            return None
        self.understand.value = False
        label = f"{'stop (purge)' if purge else 'stop'} {self.job}"
        try:
            plan = actions.stop(self.client, self.job, purge=purge, namespace=self.namespace)
            self.preview.value = plan._repr_html_()
            outcome = plan.apply(confirm=True, advance=self._progress(label), step=self.step,
                                 timeout=self.timeout)
        except (NomadError, PermissionError) as exc:
            self.status.value = message_html(f"{label}: {exc}", kind="error")
            return None
        self.outcomes.append(outcome)
        self.preview.value = outcome._repr_html_()
        self.status.value = message_html(f"{label}: {outcome.status}")
        return outcome

    def _ipython_display_(self) -> None:
        if not self._loaded:
            self.refresh()
        display_widget(self.widget)


def _display_frame(frame: pd.DataFrame) -> pd.DataFrame:
    """Values a grid can show: lists joined, times as text."""
    out = frame.copy()
    for column in out.columns:
        col = out[column]
        if isinstance(col.dtype, pd.DatetimeTZDtype):
            out[column] = col.dt.strftime("%Y-%m-%d %H:%M:%S").astype(object).where(col.notna(), "")
        elif col.dtype == object:
            out[column] = col.map(lambda v: ", ".join(map(str, v)) if isinstance(v, (list, tuple)) else v)
        elif isinstance(col.dtype, pd.CategoricalDtype) or str(col.dtype) in ("string", "boolean"):
            out[column] = col.astype(object).where(col.notna(), "")
        elif str(col.dtype) == "Int64":
            out[column] = col.astype(object).where(col.notna(), None)
    return out.reset_index(drop=True)


class JobTable:
    """Jobs (``kind="jobs"``) or allocations (``kind="allocations"``) in a sortable grid.

    The grid is ``ipydatagrid.DataGrid`` (column sorting and filtering in its header menus,
    row selection). Selecting a row shows a :class:`JobControl` for its job below the grid
    (:attr:`control`) and calls the :meth:`on_select` callbacks with ``(job_id, namespace)``.
    Nothing is read until :meth:`refresh` or the first display.

    Parameters
    ----------
    client
        The cluster.
    kind
        ``"jobs"`` (``frames.jobs``) or ``"allocations"`` (``frames.allocations``).
    filters
        A :class:`~nomadlab.widgets.FilterPanel` whose :meth:`~FilterPanel.apply` narrows the
        rows; the table redraws when it changes.
    advance, step
        Passed to the :class:`JobControl` of the selected job.
    """

    def __init__(self, client: NomadClient | None, *, kind: str = "jobs", filters: Any = None,
                 advance: Advance | None = None, step: float = 2.0) -> None:
        from ipydatagrid import DataGrid

        if kind not in ("jobs", "allocations"):
            raise ValueError("kind must be 'jobs' or 'allocations'")
        self.client = client_of(client)
        self.kind = kind
        self.filters = filters
        self.advance = advance
        self.step = step
        self.frame = pd.DataFrame(columns=list(JOB_COLUMNS if kind == "jobs" else ALLOC_COLUMNS))
        self.grid = DataGrid(_display_frame(self.frame), selection_mode="row", editable=False,
                             layout={"height": "300px"})
        self.grid.observe(self._selected, names="selections")
        self.control: JobControl | None = None
        self.control_box = w.VBox()
        self.status = w.HTML()
        self._callbacks: list[Callable[[str, str], None]] = []
        self.widget = w.VBox([self.status, self.grid, self.control_box])
        self._loaded = False
        if filters is not None:
            filters.on_change(lambda _values: self._redraw())

    def refresh(self) -> None:
        """Read the frame again and redraw."""
        if self.kind == "jobs":
            df = frames.jobs(self.client)
            columns = list(JOB_COLUMNS)
        else:
            df = frames.allocations(self.client)
            columns = list(ALLOC_COLUMNS)
        self._full = df
        self.frame = df[[c for c in columns if c in df.columns]]
        self._loaded = True
        self._redraw()

    def _redraw(self) -> None:
        if not self._loaded:
            return
        rows = self._full if self.filters is None else self.filters.apply(self._full)
        columns = list(JOB_COLUMNS if self.kind == "jobs" else ALLOC_COLUMNS)
        self.frame = rows[[c for c in columns if c in rows.columns]].reset_index(drop=True)
        self.grid.data = _display_frame(self.frame)
        self.status.value = message_html(f"{len(self.frame)} {self.kind}")

    def sort(self, by: str, *, ascending: bool = True) -> None:
        """Sort the rows by column ``by`` (the grid's header menus sort the view too)."""
        if by not in self.frame.columns:
            raise KeyError(f"no column {by!r}; columns: {', '.join(self.frame.columns)}")
        self.frame = self.frame.sort_values(by, ascending=ascending, kind="stable",
                                            na_position="last").reset_index(drop=True)
        self.grid.data = _display_frame(self.frame)

    def select(self, row: int) -> None:
        """Select row ``row`` of the grid as shown (as a click on it would)."""
        self.grid.select(row1=row, column1=0, row2=row, column2=len(self.frame.columns) - 1,
                         clear_mode="all")
        self._selected(None)  # the grid's own select() edits its list in place: no trait event

    @property
    def selected(self) -> pd.DataFrame:
        """The selected rows (from the grid's visible data, so its own sorting counts)."""
        visible = self.grid.get_visible_data()
        picked = sorted({r for s in self.grid.selections for r in range(s["r1"], s["r2"] + 1)})
        picked = [r for r in picked if 0 <= r < len(visible)]
        return visible.iloc[picked].reset_index(drop=True)

    def on_select(self, callback: Callable[[str, str], None]) -> None:
        """Call ``callback(job_id, namespace)`` when a row is selected."""
        self._callbacks.append(callback)

    def _selected(self, _change: Any) -> None:
        rows = self.selected
        if rows.empty:
            return
        job, namespace = str(rows.iloc[0]["job_id"]), str(rows.iloc[0]["namespace"])
        self.control = JobControl(self.client, job, namespace, advance=self.advance, step=self.step)
        try:
            self.control.refresh()
        except NomadError as exc:
            self.status.value = message_html(str(exc), kind="error")
        self.control_box.children = (self.control.widget,)
        for callback in list(self._callbacks):
            callback(job, namespace)

    def _ipython_display_(self) -> None:
        if not self._loaded:
            self.refresh()
        display_widget(self.widget)


def frame_table(frame: pd.DataFrame) -> w.HTML:
    """A read-only HTML table of ``frame``."""
    return w.HTML(frame_html(frame))
