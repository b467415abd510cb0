"""Usage history on disk: the ``usage`` frame as Apache Parquet, partitioned by cluster and day.

Layout (hive-style, so DuckDB, Spark and pyarrow read the partitions as columns)::

    <root>/cluster=<name>/date=YYYY-MM-DD/part-<n>.parquet

Each file holds rows of :data:`nomadlab.analysis.usage.USAGE` whose ``time`` falls on that UTC
day, with the frame's columns (``cluster`` and ``date`` are the folders, not columns). Writes
are atomic: a file appears complete or not at all (written to a temporary file in the same
folder, flushed to disk, then renamed). ``docs/storage.md`` describes the layout and schema.
pyarrow is imported on first use.

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
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd

if TYPE_CHECKING:
    import pyarrow as pa

__all__ = ["write_usage", "read_usage", "arrow_schema", "partition_dir"]

_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*\Z")
_PART = re.compile(r"part-(\d+)\.parquet\Z")


def _pyarrow() -> Any:
    try:
        import pyarrow
        import pyarrow.parquet
    except ImportError:
        raise ImportError("storing usage history needs pyarrow: pip install pyarrow") from None
    return pyarrow


def arrow_schema() -> pa.Schema:
    """The Parquet schema of the files: the ``usage`` frame's columns, categories as strings."""
    from nomadlab.analysis.usage import USAGE

    pa = _pyarrow()
    types = {"time": pa.timestamp("ns", tz="UTC"), "float64": pa.float64()}
    fields = []
    for column in USAGE.columns:
        kind = "time" if column.dtype == "time" else column.dtype
        fields.append(pa.field(column.name, types.get(kind, pa.string()), nullable=True))
    return pa.schema(fields)


def partition_dir(root: str | os.PathLike[str], cluster: str, day: str) -> Path:
    """The folder of one cluster's samples of one UTC day (``YYYY-MM-DD``)."""
    return Path(root) / f"cluster={cluster}" / f"date={day}"


def _check_cluster(cluster: str) -> str:
    if not _NAME.match(cluster):
        raise ValueError(f"cluster name {cluster!r} must be letters, digits, '.', '_' or '-' (it names a folder)")
    return cluster


def _next_part(folder: Path) -> int:
    numbers = [int(m.group(1)) for p in folder.iterdir() if (m := _PART.match(p.name))]
    return max(numbers, default=-1) + 1


def write_usage(frame: pd.DataFrame, root: str | os.PathLike[str], *, cluster: str) -> list[Path]:
    """Append ``frame`` (a ``usage`` frame) to the history at ``root`` for ``cluster``.

    One new ``part-<n>.parquet`` per UTC day the samples cover, each written atomically
    (temporary file in the same folder, fsync, rename). Existing parts are never changed.

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
    from nomadlab.analysis.usage import USAGE

    pa = _pyarrow()
    _check_cluster(cluster)
    missing = [c for c in USAGE.names if c not in frame.columns]
    if missing:
        raise ValueError(f"not a usage frame: columns {missing} are missing (see nomadlab.analysis.usage.USAGE)")
    frame = frame[USAGE.names]
    if frame.empty:
        return []
    schema = arrow_schema()
    days = frame["time"].dt.strftime("%Y-%m-%d")
    written: list[Path] = []
    for day in sorted(days.dropna().unique()):
        piece = frame[days == day]
        data = {c: piece[c].astype(object).where(piece[c].notna(), None).tolist()
                if isinstance(piece[c].dtype, pd.CategoricalDtype) or c not in ("time", "value")
                else piece[c] for c in USAGE.names}
        table = pa.Table.from_pydict(data, schema=schema)
        folder = partition_dir(root, cluster, str(day))
        folder.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=folder, prefix=".part-", suffix=".tmp")
        try:
            with os.fdopen(fd, "wb") as fh:
                pa.parquet.write_table(table, fh, compression="zstd")
                fh.flush()
                os.fsync(fh.fileno())
            target = folder / f"part-{_next_part(folder)}.parquet"
            os.replace(tmp, target)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        written.append(target)
    return written


def _days(folder: Path) -> list[tuple[str, Path]]:
    out = []
    for p in sorted(folder.glob("date=*")):
        if p.is_dir():
            out.append((p.name.removeprefix("date="), p))
    return out


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
    """
    from nomadlab.analysis.usage import USAGE
    from nomadlab.frames._common import to_utc, within

    pa = _pyarrow()
    base = Path(root)
    if not base.is_dir():
        raise FileNotFoundError(f"no usage history at {base} (write one with nomadlab.history.write_usage)")
    names = None if cluster is None else ({cluster} if isinstance(cluster, str) else set(cluster))
    start, end = to_utc(since), to_utc(until)
    tables = []
    for folder in sorted(base.glob("cluster=*")):
        if not folder.is_dir() or (names is not None and folder.name.removeprefix("cluster=") not in names):
            continue
        for day, path in _days(folder):
            if start is not None and day < start.strftime("%Y-%m-%d"):
                continue
            if end is not None and day > end.strftime("%Y-%m-%d"):
                continue
            parts = sorted((p for p in path.iterdir() if _PART.match(p.name)),
                           key=lambda p: int(_PART.match(p.name).group(1)))  # type: ignore[union-attr]
            for part in parts:
                tables.append(pa.parquet.read_table(part, schema=arrow_schema()))
    if not tables:
        return USAGE.empty()
    table = pa.concat_tables(tables)
    cols: dict[str, Any] = {}
    for column in USAGE.columns:
        arrow = table.column(column.name)
        if column.dtype == "time":
            cols[column.name] = arrow.cast(pa.int64()).to_pylist()
        else:
            cols[column.name] = arrow.to_pylist()
    frame = USAGE.build(cols)
    frame = frame.sort_values("time", kind="stable").reset_index(drop=True)
    return within(frame, "time", since, until)
