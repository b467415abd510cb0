"""Small helpers shared by the frame modules."""

from __future__ import annotations

from collections.abc import Hashable, Iterable
from typing import Any

import pandas as pd

from nomadlab.sources import Source, as_source

__all__ = ["source_of", "to_utc", "within", "get", "wanted", "readable"]


def source_of(source: Any) -> Source:
    """Accept a Source, a NomadClient, or None (connect from NOMAD_* variables)."""
    return as_source(source)


def to_utc(value: Any) -> pd.Timestamp | None:
    """A time window bound as a UTC timestamp (naive values are taken as UTC)."""
    if value is None:
        return None
    ts = pd.Timestamp(value)
    return ts.tz_localize("UTC") if ts.tzinfo is None else ts.tz_convert("UTC")


def within(frame: pd.DataFrame, column: str, since: Any, until: Any) -> pd.DataFrame:
    """Rows whose ``column`` lies in ``[since, until)`` (either bound may be None)."""
    start, end = to_utc(since), to_utc(until)
    if start is None and end is None:
        return frame
    mask = pd.Series(True, index=frame.index)
    if start is not None:
        mask &= frame[column] >= start
    if end is not None:
        mask &= frame[column] < end
    return frame.loc[mask.fillna(False).astype(bool)].reset_index(drop=True)


def get(obj: Any, *path: str) -> Any:
    """``obj[a][b]...`` with ``None`` wherever a level is missing or null."""
    for key in path:
        if not isinstance(obj, dict):
            return None
        obj = obj.get(key)
    return obj


def wanted(value: str | Iterable[str] | None) -> frozenset[str] | None:
    """The accepted values of a filter given as one value, several, or None (no filtering)."""
    if value is None:
        return None
    return frozenset((value,) if isinstance(value, str) else value)


def readable(items: Any, kind: str) -> tuple[list[dict[str, Any]], dict[Hashable, str]]:
    """The objects of a list reply that can be read (dicts), and the others named.

    A list element that is not an object (``null``, a string, a number) cannot give a row: it
    is dropped and named as ``"<kind>[<index>]"`` in the returned errors (which a frame puts
    in ``attrs["errors"]``). A reply that is not a list at all gives no objects and one error.

    >>> readable([{"ID": "a"}, None, "x"], "jobs")
    ([{'ID': 'a'}], {'jobs[1]': 'not an object (NoneType); dropped', 'jobs[2]': 'not an object (str); dropped'})
    """
    if not isinstance(items, list):
        return [], {kind: f"the reply is not a list ({type(items).__name__}); nothing read"}
    rows: list[dict[str, Any]] = []
    errors: dict[Hashable, str] = {}
    for i, item in enumerate(items):
        if isinstance(item, dict):
            rows.append(item)
        else:
            errors[f"{kind}[{i}]"] = f"not an object ({type(item).__name__}); dropped"
    return rows, errors
