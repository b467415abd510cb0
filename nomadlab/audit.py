"""The audit log of applied write actions: append-only JSON lines, one record per action.

Each record is written with one ``write`` of a whole line, then ``flush`` and ``fsync``, so a
crash can at worst leave a torn *last* line; earlier records are never touched. The reader
skips such a line and flags it (``torn`` column).

Default path: ``$NOMADLAB_AUDIT_LOG``, else ``$XDG_STATE_HOME/nomadlab/audit.jsonl``, else
``~/.local/state/nomadlab/audit.jsonl``.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["AUDIT_COLUMNS", "append_record", "audit_log", "default_path"]

#: The columns of :func:`audit_log`, in order.
AUDIT_COLUMNS = ("time", "address", "region", "namespace", "accessor_id", "action", "target",
                 "before", "after", "eval_id", "outcome", "detail", "torn")


def default_path(environ: Mapping[str, str] | None = None) -> Path:
    """Where the audit log lives (``NOMADLAB_AUDIT_LOG``, then ``XDG_STATE_HOME``, then ``~``)."""
    env = os.environ if environ is None else environ
    if env.get("NOMADLAB_AUDIT_LOG"):
        return Path(env["NOMADLAB_AUDIT_LOG"]).expanduser()
    state = env.get("XDG_STATE_HOME") or str(Path("~/.local/state").expanduser())
    return Path(state) / "nomadlab" / "audit.jsonl"


def append_record(record: Mapping[str, Any], path: str | os.PathLike[str] | None = None) -> Path:
    """Append one record as a JSON line; flushed and fsynced before returning.

    A record must not carry a token's secret: callers pass the accessor ID only.
    """
    target = Path(path) if path is not None else default_path()
    target.parent.mkdir(parents=True, exist_ok=True)
    line = json.dumps(dict(record), default=str, sort_keys=True, separators=(",", ":")) + "\n"
    fd = os.open(target, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
    try:
        # A previous crash may have left a torn line without its newline: start on a fresh line.
        size = os.fstat(fd).st_size
        if size:
            with open(target, "rb") as existing:
                existing.seek(size - 1)
                if existing.read(1) != b"\n":
                    line = "\n" + line
        data = line.encode()
        written = 0
        while written < len(data):
            written += os.write(fd, data[written:])
        os.fsync(fd)
    finally:
        os.close(fd)
    return target


def audit_log(path: str | os.PathLike[str] | None = None) -> pd.DataFrame:
    """Read the audit log back, one row per record, oldest first.

    Parameters
    ----------
    path
        The log file; by default :func:`default_path`.

    Returns
    -------
    pandas.DataFrame
        Columns :data:`AUDIT_COLUMNS`; ``time`` is a UTC timestamp. A line that is not a
        whole JSON record (a write cut short by a crash) is kept as a row with ``torn=True``
        and its raw text in ``detail``. Empty (same columns) when the file does not exist.
    """
    import pandas as pd

    target = Path(path) if path is not None else default_path()
    rows: list[dict[str, Any]] = []
    if target.exists():
        for raw in target.read_bytes().decode("utf-8", "replace").splitlines():
            if not raw.strip():
                continue
            try:
                record = json.loads(raw)
                if not isinstance(record, dict):
                    raise ValueError("not an object")
            except ValueError:
                rows.append({"detail": raw, "torn": True})
                continue
            rows.append({**{c: record.get(c) for c in AUDIT_COLUMNS}, "torn": False})
    frame = pd.DataFrame(rows, columns=list(AUDIT_COLUMNS))
    # only text is a time (a number or a map in a damaged record is missing, not an epoch), in ns
    times = frame["time"].where(frame["time"].map(lambda v: isinstance(v, str)), None)
    frame["time"] = pd.to_datetime(times, utc=True, errors="coerce", format="ISO8601").dt.as_unit("ns")
    frame["torn"] = frame["torn"].astype(bool)
    return frame
