"""Small helpers shared by the frame modules."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import pandas as pd

from nomadlab.sources import Source, as_source

__all__ = ["source_of", "to_utc", "within", "get", "wanted"]


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
