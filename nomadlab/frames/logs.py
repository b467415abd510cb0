"""The ``logs`` frame: a task's log lines, one row each, from Nomad's framed log stream."""

from __future__ import annotations

import re
from collections.abc import Hashable
from typing import TYPE_CHECKING, Any

import pandas as pd

from nomadlab.errors import NomadError

from ._common import source_of
from .schema import Column, Schema, register

if TYPE_CHECKING:  # the client (httpx, tenacity) is imported when logs are read, not with the frames
    from nomadlab.client import NomadClient

__all__ = ["LOGS", "logs", "parse_line_time"]

STREAMS: tuple[str, ...] = ("stdout", "stderr")

LOGS = register(Schema(
    name="logs",
    grain="one row per allocation × task × stream × log line",
    endpoint="GET /v1/client/fs/logs/:alloc_id (framed); GET /v1/job/:id/allocations with job=",
    keys=("alloc_id", "task", "stream", "line_no"),
    description=(
        "Lines of a task's stdout and/or stderr as the client node holds them. `time` is parsed "
        "from a leading timestamp (RFC 3339 / ISO 8601, or Go's `2006/01/02 15:04:05`; naive "
        "times are taken as UTC) and is NaT for a line without one. With `job=` the lines of "
        "every allocation are merged by time where known. Allocations whose logs could not be "
        "read (a down node, a collected allocation) are in `df.attrs[\"errors\"]` "
        "(`{alloc_id: message}`)."
    ),
    columns=(
        Column("time", "time", "Timestamp the line starts with; NaT when it has none.", source="ns"),
        Column("alloc_id", "string", "Allocation ID."),
        Column("task", "string", "Task name."),
        Column("stream", "category", "Which file: stdout or stderr.", categories=STREAMS),
        Column("line_no", "Int64", "Line number in that file, from 1 (from the read start)."),
        Column("line", "string", "The line's text, without its newline."),
    ),
))

_STAMP = re.compile(
    r"^\[?(\d{4}[-/]\d{2}[-/]\d{2}[T ]\d{2}:\d{2}:\d{2}(?:[.,]\d{1,9})?(?:Z|[+-]\d{2}:?\d{2})?)"
)


def parse_line_time(line: str) -> int | None:
    """Nanoseconds since the epoch of the timestamp ``line`` starts with, or ``None``.

    >>> parse_line_time("2026-01-01T00:00:02Z ready") == pd.Timestamp("2026-01-01T00:00:02Z").value
    True
    >>> parse_line_time("no time here") is None
    True
    """
    match = _STAMP.match(line)
    if match is None:
        return None
    text = match.group(1).replace(",", ".")
    text = text[:4] + "-" + text[5:7] + "-" + text[8:]
    try:
        ts = pd.Timestamp(text)
    except (ValueError, TypeError):
        return None
    ts = ts.tz_localize("UTC") if ts.tzinfo is None else ts.tz_convert("UTC")
    return int(ts.value)


def _client_of(source: Any) -> NomadClient:
    from nomadlab.client import NomadClient

    if isinstance(source, NomadClient):
        return source
    inner = source_of(source)
    while not hasattr(inner, "client") and hasattr(inner, "source"):  # a CachedSource
        inner = inner.source
    client = getattr(inner, "client", None)  # a LiveSource
    if not isinstance(client, NomadClient):
        raise TypeError("the logs frame streams from a node: pass a NomadClient (or None)")
    return client


def _streams(log_type: str) -> tuple[str, ...]:
    if log_type == "both":
        return STREAMS
    if log_type not in STREAMS:
        raise ValueError("log_type must be 'stdout', 'stderr' or 'both'")
    return (log_type,)


def _tasks_of(alloc: dict[str, Any]) -> list[str]:
    states = alloc.get("TaskStates") or {}
    return sorted(states) if isinstance(states, dict) else []


def logs(
    source: Any,
    alloc: str | None = None,
    task: str | None = None,
    *,
    log_type: str = "stdout",
    origin: str = "start",
    offset: int = 0,
    job: str | None = None,
    namespace: str = "default",
) -> pd.DataFrame:
    """A task's log lines, one row per line.

    Endpoint: ``GET /v1/client/fs/logs/:alloc_id`` (framed, not followed); with ``job=``,
    ``GET /v1/job/:id/allocations`` first. Schema: :data:`LOGS` (``docs/frames.md``).

    Parameters
    ----------
    source
        A :class:`~nomadlab.client.NomadClient` (or ``None`` to connect from ``NOMAD_*``).
    alloc
        Allocation ID. Give this, or ``job``, or neither: then every running allocation the
        token can see is read (one log stream per task and stream: use it on small clusters).
    task
        Task name; with ``job=`` (or an allocation of one task) it may be left out, and then
        every task of each allocation is read.
    log_type
        ``"stdout"``, ``"stderr"`` or ``"both"``.
    origin, offset
        Where to start reading: ``offset`` bytes from the start, or from the end with
        ``origin="end"`` (line numbers then count from that point).
    job
        Every allocation of this job instead of one allocation. Lines of several allocations
        are merged by time where known, else by allocation then line.
    namespace
        The job's namespace (with ``job=``).

    Returns
    -------
    pandas.DataFrame
        Typed by :data:`LOGS`; ``attrs["errors"]`` maps each allocation whose logs could not be
        read to why (a down node: its node-local data lives only on that node).

    Examples
    --------
    >>> from nomadlab import NomadClient
    >>> from nomadlab.sim import SimCluster
    >>> client = NomadClient(transport=SimCluster.default().transport())
    >>> df = logs(client, job="web", task="nginx", log_type="both")
    >>> sorted(df["stream"].unique().tolist()), df["alloc_id"].nunique()
    (['stderr', 'stdout'], 3)
    """
    if alloc is not None and job is not None:
        raise ValueError("give either alloc= or job=, not both")
    streams = _streams(log_type)
    client = _client_of(source)
    if job is not None:
        allocs = client.get(f"/v1/job/{job}/allocations", namespace=namespace).body or []
    elif alloc is not None:
        allocs = [client.get(f"/v1/allocation/{alloc}").body or {}]
    else:
        allocs = [a for a in source_of(source).list("allocations")
                  if a.get("ClientStatus") == "running"]
    errors: dict[Hashable, str] = {}
    cols: dict[str, list[Any]] = {c.name: [] for c in LOGS.columns}
    for a in allocs:
        alloc_id = str(a.get("ID", alloc))
        tasks = [task] if task is not None else _tasks_of(a)
        for name in tasks:
            for stream in streams:
                try:
                    data = client.read_logs(alloc_id, name, log_type=stream, origin=origin,
                                            offset=offset, namespace=a.get("Namespace"))
                except NomadError as exc:
                    errors[alloc_id] = str(exc)
                    continue
                text = data.decode("utf-8", errors="replace")
                for n, line in enumerate(text.splitlines(), start=1):
                    cols["time"].append(parse_line_time(line))
                    cols["alloc_id"].append(alloc_id)
                    cols["task"].append(name)
                    cols["stream"].append(stream)
                    cols["line_no"].append(n)
                    cols["line"].append(line)
    frame = LOGS.build(cols)
    if alloc is None and len(frame):
        frame = _merged(frame)
    frame.attrs["errors"] = errors
    return frame


def _merged(frame: pd.DataFrame) -> pd.DataFrame:
    """Lines of several files in time order; a line without a time keeps its place in its file
    (it sorts with the nearest timed line before it), and files with no time at all go last."""
    files = ["alloc_id", "task", "stream"]
    key = frame.groupby(files, observed=True, sort=False)["time"].transform(
        lambda s: s.ffill().bfill())
    order = frame.assign(_key=key).sort_values(
        ["_key", "alloc_id", "task", "stream", "line_no"], kind="stable", na_position="last")
    return order.drop(columns="_key").reset_index(drop=True)
