"""History on disk: usage samples and event-stream events as Apache Parquet, partitioned by cluster and day.

Layout (hive-style, so DuckDB, Spark, Trino and pyarrow read the partitions as columns), one
folder per table::

    <root>/usage/cluster=<name>/date=YYYY-MM-DD/part-<n>.parquet     the ``usage`` frame
    <root>/events/cluster=<name>/date=YYYY-MM-DD/part-<n>.parquet    the ``events`` frame

Each file holds rows of one table whose ``time`` falls on that UTC day, with the frame's
columns (``cluster`` and ``date`` are the folders, not columns). Writes are atomic: a file
appears complete or not at all (written to a temporary file in the same folder, flushed to
disk, then renamed). Histories written before the tables had folders
(``<root>/cluster=<name>/...``, usage only) are still read. ``docs/storage.md`` describes the
layout and schemas. pyarrow is imported on first use; :func:`query` needs DuckDB
(``pip install 'nomadlab[duckdb]'``).

>>> import tempfile
>>> from nomadlab.analysis.usage import sample_once
>>> from nomadlab.client import NomadClient
>>> from nomadlab.sim import SimCluster
>>> frame = sample_once(NomadClient(transport=SimCluster.default().transport()))
>>> root = tempfile.mkdtemp()
>>> paths = write_usage(frame, root, cluster="dev")
>>> read_usage(root, cluster="dev").equals(frame)
True
"""

from __future__ import annotations

import os
import re
import tempfile
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import orjson
import pandas as pd

from nomadlab.errors import NomadError
from nomadlab.frames.allocations import CLIENT_STATUSES, DESIRED_STATUSES
from nomadlab.frames.schema import Column, Schema, register

if TYPE_CHECKING:
    import pyarrow as pa

    from nomadlab.streams import Event

__all__ = [
    "EVENTS",
    "EVENT_TOPICS",
    "HistoryFormatError",
    "TABLES",
    "arrow_schema",
    "clusters",
    "events_frame",
    "partition_dir",
    "query",
    "read_events",
    "read_usage",
    "write_events",
    "write_usage",
]

class HistoryFormatError(NomadError, ValueError):
    """A file of a history root cannot be read as its table (damaged, cut short, or not written
    by :mod:`nomadlab.history`); the message names the file and what to do."""


_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*\Z")
_PART = re.compile(r"part-(\d+)\.parquet\Z")
TABLES: tuple[str, ...] = ("usage", "events")
"""The tables of a history root, each in the folder of its name."""

EVENT_TOPICS: tuple[str, ...] = (
    "ACLAuthMethod", "ACLBindingRule", "ACLPolicy", "ACLRole", "ACLToken", "Allocation", "CSIPlugin", "CSIVolume",
    "Deployment", "Evaluation", "HostVolume", "Job", "Node", "NodePool", "Operator", "Service", "Variable",
)
"""Nomad's event topics (``nomad/structs/event.go``)."""

EVENTS = register(Schema(
    name="events",
    grain="one row per event of the event stream",
    endpoint="GET /v1/event/stream (or a debug archive's cluster/eventstream.json)",
    keys=("index", "topic", "type", "key"),
    description=(
        "Events of Nomad's event stream, with the IDs and statuses of the object each carries "
        "pulled out, and the object itself as JSON text in `payload`. Nomad stamps no time on an "
        "event: `time` is the object's own (an allocation's, evaluation's or deployment's "
        "ModifyTime, a job's SubmitTime, a node's StatusUpdatedAt), NaT for the others. Built by "
        "`nomadlab.history.events_frame`; stored by `write_events`."
    ),
    columns=(
        Column("index", "Int64", "Raft index of the change (the event's Index)."),
        Column("time", "time", "When the object last changed, from the payload (NaT when it carries no time).",
               source="ns"),
        Column("topic", "category", "Event topic.", categories=EVENT_TOPICS),
        Column("type", "string", "Event type: `AllocationUpdated`, `JobRegistered`, `NodeDrain`..."),
        Column("key", "string", "The object's key (its ID; a job's ID, a node pool's name)."),
        Column("namespace", "string", "Namespace (`\"\"` for objects outside namespaces, such as nodes)."),
        Column("filter_keys", "object", "The event's FilterKeys (a list of strings: job ID, deployment ID...)."),
        Column("job_id", "string", "Job ID (jobs; allocations, evaluations, deployments and services of a job)."),
        Column("task_group", "string", "Task group (allocations)."),
        Column("alloc_id", "string", "Allocation ID (allocations)."),
        Column("node_id", "string", "Node ID (nodes; the node of an allocation or evaluation)."),
        Column("eval_id", "string", "Evaluation ID (evaluations; the evaluation that placed an allocation)."),
        Column("deployment_id", "string", "Deployment ID (deployments; the deployment of an allocation)."),
        Column("client_status", "category", "Allocation client status.", categories=CLIENT_STATUSES),
        Column("desired_status", "category", "Allocation desired status.", categories=DESIRED_STATUSES),
        Column("status", "string", "Status of a job, evaluation, deployment or node."),
        Column("payload", "string", "The event's Payload as JSON text (`{\"Allocation\": {...}}`)."),
    ),
))


def _pyarrow() -> Any:
    try:
        import pyarrow
        import pyarrow.parquet
    except ImportError:
        raise ImportError("storing history needs pyarrow: pip install pyarrow") from None
    return pyarrow


def _schema_of(table: str) -> Schema:
    if table == "usage":
        from nomadlab.analysis.usage import USAGE

        return USAGE
    if table == "events":
        return EVENTS
    raise ValueError(f"unknown history table {table!r}; tables: {', '.join(TABLES)}")


def _arrow_type(pa: Any, column: Column) -> Any:
    if column.dtype == "time":
        return pa.timestamp("ns", tz="UTC")
    return {"float64": pa.float64(), "Int64": pa.int64(), "boolean": pa.bool_(),
            "duration": pa.duration("ns"), "object": pa.list_(pa.string())}.get(column.dtype, pa.string())


def arrow_schema(table: str = "usage") -> pa.Schema:
    """The Parquet schema of ``table``'s files: the frame's columns, categories as strings,
    times as ``timestamp[ns, UTC]``, ``filter_keys`` as ``list<string>``."""
    pa = _pyarrow()
    return pa.schema([pa.field(c.name, _arrow_type(pa, c), nullable=True) for c in _schema_of(table).columns])


def partition_dir(root: str | os.PathLike[str], cluster: str, day: str, *, table: str = "usage") -> Path:
    """The folder of one cluster's rows of ``table`` for one UTC day (``YYYY-MM-DD``)."""
    _schema_of(table)
    return Path(root) / table / f"cluster={cluster}" / f"date={day}"


def _check_cluster(cluster: str) -> str:
    if not _NAME.match(cluster):
        raise ValueError(f"cluster name {cluster!r} must be letters, digits, '.', '_' or '-' (it names a folder)")
    return cluster


def _next_part(folder: Path) -> int:
    numbers = [int(m.group(1)) for p in folder.iterdir() if (m := _PART.match(p.name))]
    return max(numbers, default=-1) + 1


def _arrow_values(series: pd.Series, column: Column) -> Any:
    if column.dtype in ("time", "float64", "duration"):
        return series
    values = series.astype(object).where(series.notna(), None).tolist() if column.dtype != "object" \
        else series.tolist()
    if column.dtype == "object":
        return [None if v is None else [str(x) for x in v] for v in values]
    return values


def _write_table(frame: pd.DataFrame, root: str | os.PathLike[str], table: str, *, cluster: str,
                 days: pd.Series) -> list[Path]:
    """Append ``frame`` (on ``table``'s schema) to ``root``, one new part per day of ``days``."""
    pa = _pyarrow()
    _check_cluster(cluster)
    schema = _schema_of(table)
    missing = [c for c in schema.names if c not in frame.columns]
    if missing:
        raise ValueError(f"not a {table} frame: columns {missing} are missing (see nomadlab.history, "
                         f"docs/storage.md)")
    frame = frame[schema.names]
    if frame.empty:
        return []
    arrow = arrow_schema(table)
    written: list[Path] = []
    for day in sorted(days.dropna().unique()):
        piece = frame[(days == day).to_numpy()]
        data = {c.name: _arrow_values(piece[c.name], c) for c in schema.columns}
        data_table = pa.Table.from_pydict(data, schema=arrow)
        folder = partition_dir(root, cluster, str(day), table=table)
        folder.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=folder, prefix=".part-", suffix=".tmp")
        try:
            with os.fdopen(fd, "wb") as fh:
                pa.parquet.write_table(data_table, fh, compression="zstd")
                fh.flush()
                os.fsync(fh.fileno())
            target = folder / f"part-{_next_part(folder)}.parquet"
            os.replace(tmp, target)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        written.append(target)
    return written


def write_usage(frame: pd.DataFrame, root: str | os.PathLike[str], *, cluster: str) -> list[Path]:
    """Append ``frame`` (a ``usage`` frame) to the history at ``root`` for ``cluster``.

    One new ``usage/cluster=<cluster>/date=<day>/part-<n>.parquet`` per UTC day the samples
    cover, each written atomically (temporary file in the same folder, fsync, rename).
    Existing parts are never changed.

    Returns
    -------
    list of pathlib.Path
        The files written, by day (none for an empty frame).

    Raises
    ------
    ValueError
        ``frame`` does not have the ``usage`` schema's columns, or ``cluster`` cannot name a
        folder.
    """
    if "time" not in frame.columns:
        raise ValueError("not a usage frame: columns ['time'] are missing (see nomadlab.analysis.usage.USAGE)")
    return _write_table(frame, root, "usage", cluster=cluster, days=frame["time"].dt.strftime("%Y-%m-%d"))


# -- events ---------------------------------------------------------------------------------

# Per payload kind: where the row's fields are in the object.
_ID_FIELDS: dict[str, dict[str, str]] = {
    "Allocation": {"alloc_id": "ID", "job_id": "JobID", "node_id": "NodeID", "eval_id": "EvalID",
                   "deployment_id": "DeploymentID", "task_group": "TaskGroup"},
    "Evaluation": {"eval_id": "ID", "job_id": "JobID", "node_id": "NodeID", "deployment_id": "DeploymentID"},
    "Deployment": {"deployment_id": "ID", "job_id": "JobID"},
    "Job": {"job_id": "ID"},
    "Node": {"node_id": "ID"},
    "Service": {"job_id": "JobID", "alloc_id": "AllocID", "node_id": "NodeID"},
}
_TIME_FIELDS: dict[str, tuple[str, int]] = {"Allocation": ("ModifyTime", 1), "Evaluation": ("ModifyTime", 1),
                                            "Deployment": ("ModifyTime", 1), "Job": ("SubmitTime", 1),
                                            "Node": ("StatusUpdatedAt", 1_000_000_000)}
_ROW_STRINGS = ("job_id", "task_group", "alloc_id", "node_id", "eval_id", "deployment_id")


def _wire_of(event: Event | Mapping[str, Any]) -> dict[str, Any]:
    from nomadlab.streams import Event

    if isinstance(event, Event):
        return {"Index": event.index, "Topic": event.topic, "Type": event.type, "Key": event.key,
                "Namespace": event.namespace, "FilterKeys": list(event.filter_keys), "Payload": event.payload}
    if not isinstance(event, Mapping):
        raise TypeError(f"an event is a nomadlab.streams.Event or its wire dict, not {type(event).__name__}")
    return dict(event)


def _int(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _str(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


def _payload_json(payload: Mapping[str, Any]) -> str:
    """The payload as JSON text; numbers past 64 bits (which orjson refuses) are kept exactly."""
    try:
        return orjson.dumps(payload, option=orjson.OPT_NON_STR_KEYS).decode()
    except TypeError:
        import json

        return json.dumps(payload, separators=(",", ":"), default=str)


def events_frame(events: Iterable[Event | Mapping[str, Any]]) -> pd.DataFrame:
    """The ``events`` frame (:data:`EVENTS`) of ``events``: :class:`nomadlab.streams.Event`
    objects or their wire dicts (``{"Topic", "Type", "Key", "Namespace", "FilterKeys",
    "Index", "Payload"}``), one row each, in the order given.

    A wire event without ``Namespace`` (as ``nomad operator debug`` writes them) takes the
    payload object's. Fields of the wrong type become missing; an event that is not a mapping
    is a ``TypeError``.

    >>> df = events_frame([{"Topic": "Job", "Type": "JobRegistered", "Key": "web", "Index": 7,
    ...                     "Namespace": "default", "FilterKeys": None,
    ...                     "Payload": {"Job": {"ID": "web", "Status": "pending", "SubmitTime": 10**18}}}])
    >>> df[["index", "topic", "job_id", "status"]].values.tolist()
    [[7, 'Job', 'web', 'pending']]
    """
    cols: dict[str, list[Any]] = {c.name: [] for c in EVENTS.columns}
    for event in events:
        wire = _wire_of(event)
        payload = wire.get("Payload")
        payload = payload if isinstance(payload, Mapping) else {}
        kind, obj = next(iter(payload.items()), (None, None))
        obj = obj if isinstance(obj, Mapping) else {}
        namespace = wire.get("Namespace")
        if not isinstance(namespace, str):
            namespace = obj.get("Namespace") if isinstance(obj.get("Namespace"), str) else ""
        topic = wire.get("Topic")
        fks = wire.get("FilterKeys")
        cols["index"].append(_int(wire.get("Index")))
        cols["topic"].append(topic if isinstance(topic, str) else None)
        cols["type"].append(_str(wire.get("Type")))
        cols["key"].append(wire.get("Key") if isinstance(wire.get("Key"), str) else None)
        cols["namespace"].append(namespace)
        cols["filter_keys"].append([str(k) for k in fks] if isinstance(fks, list) else [])
        fields = _ID_FIELDS.get(str(kind), {})
        for name in _ROW_STRINGS:
            cols[name].append(_str(obj.get(fields[name])) if name in fields else None)
        when = None
        if kind in _TIME_FIELDS:
            name, scale = _TIME_FIELDS[str(kind)]
            raw = _int(obj.get(name))
            when = raw * scale if raw else None
        cols["time"].append(when)
        is_alloc = kind == "Allocation"
        cols["client_status"].append(_str(obj.get("ClientStatus")) if is_alloc else None)
        cols["desired_status"].append(_str(obj.get("DesiredStatus")) if is_alloc else None)
        cols["status"].append(None if is_alloc else _str(obj.get("Status")))
        cols["payload"].append(_payload_json(payload) if payload else None)
    return EVENTS.build(cols)


def write_events(events: Iterable[Event | Mapping[str, Any]] | pd.DataFrame, root: str | os.PathLike[str], *,
                 cluster: str) -> list[Path]:
    """Append events to the history at ``root`` for ``cluster`` (``events/`` table).

    Parameters
    ----------
    events
        :class:`nomadlab.streams.Event` objects, their wire dicts, or an ``events`` frame
        (:func:`events_frame`).
    root
        The history root (the same as :func:`write_usage`'s).
    cluster
        The cluster's name (letters, digits, ``.``, ``_``, ``-``).

    An event goes to the UTC day of its ``time``, or of the latest time among the events of the
    same Raft index (one commit, one day); an event without one (Nomad stamps none, and not
    every payload has a time) goes to the day of the nearest earlier event with a time in the
    same call, else of the first later one, else today. One new
    ``part-<n>.parquet`` per day, written atomically; existing parts are never changed.

    Returns
    -------
    list of pathlib.Path
        The files written (none when there are no events).
    """
    frame = events if isinstance(events, pd.DataFrame) else events_frame(events)
    if "time" not in frame.columns:
        raise ValueError("not an events frame: columns ['time'] are missing (see nomadlab.history.EVENTS)")
    # the events of one Raft index are one commit: they share the day of the latest time among them
    latest = frame["time"].groupby(frame["index"].fillna(-1)).transform("max") if len(frame) else frame["time"]
    days = latest.dt.strftime("%Y-%m-%d").astype(object).where(latest.notna(), None)
    days = days.ffill().bfill().fillna(pd.Timestamp.now(tz="UTC").strftime("%Y-%m-%d"))
    return _write_table(frame, root, "events", cluster=cluster, days=days)


# -- reading ------------------------------------------------------------------------------


def _cluster_dirs(root: Path, table: str) -> list[Path]:
    """The ``cluster=*`` folders of ``table`` (for usage, also those of the layout without
    table folders)."""
    out = [p for p in sorted((root / table).glob("cluster=*")) if p.is_dir()]
    if table == "usage":
        out += [p for p in sorted(root.glob("cluster=*")) if p.is_dir()]
    return out


def clusters(root: str | os.PathLike[str], table: str = "usage") -> list[str]:
    """The names of the clusters with rows of ``table`` under ``root``, sorted."""
    _schema_of(table)
    return sorted({p.name.removeprefix("cluster=") for p in _cluster_dirs(Path(root), table)})


def _read_table(root: str | os.PathLike[str], table: str, *, cluster: str | Sequence[str] | None,
                since: Any, until: Any) -> pd.DataFrame:
    from nomadlab.frames._common import to_utc, within

    pa = _pyarrow()
    schema = _schema_of(table)
    base = Path(root)
    if not base.is_dir():
        writer = "write_usage" if table == "usage" else "write_events"
        raise FileNotFoundError(f"no {table} history at {base} (write one with nomadlab.history.{writer})")
    names = None if cluster is None else ({cluster} if isinstance(cluster, str) else set(cluster))
    start, end = to_utc(since), to_utc(until)
    arrow = arrow_schema(table)
    tables = []
    for folder in _cluster_dirs(base, table):
        if names is not None and folder.name.removeprefix("cluster=") not in names:
            continue
        for path in sorted(p for p in folder.glob("date=*") if p.is_dir()):
            day = path.name.removeprefix("date=")
            if start is not None and day < start.strftime("%Y-%m-%d"):
                continue
            if end is not None and day > end.strftime("%Y-%m-%d"):
                continue
            parts = sorted((p for p in path.iterdir() if _PART.match(p.name)),
                           key=lambda p: int(_PART.match(p.name).group(1)))  # type: ignore[union-attr]
            tables += [_read_part(pa, part, arrow, table, base) for part in parts]
    if not tables:
        return schema.empty()
    data = pa.concat_tables(tables)
    cols: dict[str, Any] = {}
    for column in schema.columns:
        values = data.column(column.name)
        if column.dtype in ("time", "duration"):
            cols[column.name] = values.cast(pa.int64()).to_pylist()
        else:
            cols[column.name] = values.to_pylist()
    frame = schema.build(cols)
    if table == "usage":
        frame = frame.sort_values("time", kind="stable").reset_index(drop=True)
        return within(frame, "time", since, until)
    frame = frame.sort_values("index", kind="stable", na_position="last").reset_index(drop=True)
    if start is None and end is None:
        return frame
    keep = frame["time"].isna() | ((frame["time"] >= start) if start is not None else True)
    if end is not None:
        keep &= frame["time"].isna() | (frame["time"] < end)
    return frame[keep.to_numpy()].reset_index(drop=True)


def _read_part(pa: Any, part: Path, arrow: Any, table: str, root: Path) -> Any:
    """One part file as ``arrow``'s columns; HistoryFormatError when it cannot be."""
    aside = f"move it out of {root} to read the rest (nomadlab.history writes whole files, so it was damaged or " \
            "put there by something else)"
    try:
        names = pa.parquet.read_schema(part).names
    except (pa.ArrowException, OSError) as exc:
        raise HistoryFormatError(f"{part} is not a readable Parquet file ({exc}): {aside}") from None
    missing = [n for n in arrow.names if n not in names]
    if missing:
        raise HistoryFormatError(f"{part} is not a {table} table: it lacks the columns {missing} (see "
                                 f"docs/storage.md for the schema): {aside}")
    try:
        return pa.parquet.read_table(part, schema=arrow)
    except (pa.ArrowException, OSError) as exc:
        raise HistoryFormatError(f"{part} does not hold the {table} table's types ({exc}): {aside}") from None


def read_usage(
    root: str | os.PathLike[str],
    *,
    cluster: str | Sequence[str] | None = None,
    since: Any = None,
    until: Any = None,
) -> pd.DataFrame:
    """The stored samples of ``cluster`` (None: every cluster under ``root``) in ``[since, until)``.

    Only the day folders that can hold samples in the window are read. The result is on the
    ``usage`` schema again (categoricals with their full category set, nullable strings,
    UTC times), rows in time order (a stable sort: within one time, in written order).

    Raises
    ------
    FileNotFoundError
        ``root`` is not a folder.
    HistoryFormatError
        A part file is damaged or is not a usage table (the message names it).
    """
    return _read_table(root, "usage", cluster=cluster, since=since, until=until)


def read_events(
    root: str | os.PathLike[str],
    *,
    cluster: str | Sequence[str] | None = None,
    since: Any = None,
    until: Any = None,
) -> pd.DataFrame:
    """The stored events of ``cluster`` (None: every cluster) as an ``events`` frame, in index
    order. With ``since``/``until``, events with a ``time`` outside ``[since, until)`` are
    left out (events without a time are kept when their day folder is read).

    Raises
    ------
    FileNotFoundError
        ``root`` is not a folder.
    HistoryFormatError
        A part file is damaged or is not an events table (the message names it).
    """
    return _read_table(root, "events", cluster=cluster, since=since, until=until)


# -- DuckDB ---------------------------------------------------------------------------------


def _sql_text(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def query(sql: str, *, root: str | os.PathLike[str] | None = None,
          params: Sequence[Any] | Mapping[str, Any] | None = None) -> pd.DataFrame:
    """Run ``sql`` with DuckDB over the history at ``root``, in place, and return the result.

    The views ``usage`` and ``events`` hold every row of their table, with the columns of
    :data:`~nomadlab.analysis.usage.USAGE` and :data:`EVENTS` and the partition columns
    ``cluster`` (VARCHAR) and ``date`` (DATE); a filter on those reads only the partitions it
    needs. A table with no file yet is an empty view with the same columns. DuckDB streams from
    the files, so a query may cover more than fits in memory.

    Parameters
    ----------
    sql
        One DuckDB statement, e.g.
        ``"SELECT cluster, count(*) FROM events WHERE topic = 'Allocation' GROUP BY ALL"``.
    root
        The history root; default ``NOMADLAB_HISTORY``.
    params
        Values for ``?`` or ``$name`` placeholders in ``sql``.

    Raises
    ------
    ImportError
        DuckDB is not installed (``pip install 'nomadlab[duckdb]'``).
    FileNotFoundError
        ``root`` is not a folder.
    ValueError
        No ``root`` and no ``NOMADLAB_HISTORY``.
    """
    try:
        import duckdb
    except ImportError:
        raise ImportError("nomadlab.history.query needs DuckDB: pip install 'nomadlab[duckdb]' "
                          "(or pip install duckdb)") from None
    if root is None:
        root = os.environ.get("NOMADLAB_HISTORY")
        if not root:
            raise ValueError("query() needs the history root: pass root=PATH or set NOMADLAB_HISTORY")
    base = Path(root).resolve()
    if not base.is_dir():
        raise FileNotFoundError(f"no history at {base} (write one with nomadlab.history.write_usage/write_events)")
    con = duckdb.connect()
    try:
        for table in TABLES:
            globs = [f"{base / table}/cluster=*/date=*/part-*.parquet"]
            if table == "usage":
                globs.append(f"{base}/cluster=*/date=*/part-*.parquet")
            globs = [g for g in globs if next(Path("/").glob(g.lstrip("/")), None) is not None]
            if globs:
                listed = ", ".join(_sql_text(g) for g in globs)
                con.execute(f"CREATE VIEW {table} AS SELECT * FROM read_parquet([{listed}], hive_partitioning = true, "
                            f"hive_types = {{'cluster': VARCHAR, 'date': DATE}}, union_by_name = true)")
            else:
                empty = arrow_schema(table).empty_table()
                con.register(f"_{table}_empty", empty)
                con.execute(f"CREATE VIEW {table} AS SELECT *, CAST(NULL AS VARCHAR) AS cluster, "
                            f"CAST(NULL AS DATE) AS date FROM _{table}_empty")
        result = con.execute(sql, params) if params is not None else con.execute(sql)
        return result.df()
    finally:
        con.close()
