"""Every frame of nomadlab.frames from one source, and equality of two such sets."""

from __future__ import annotations

from typing import Any

import pandas as pd

import nomadlab.frames as nf
from nomadlab.sources import CachedSource, as_source

# ``logs`` streams from the client nodes: no offline source holds logs (tested on its own).
OFFLINE_FRAMES = tuple(n for n in nf.FETCHERS if n != "logs")


def all_frames(source: Any) -> dict[str, pd.DataFrame]:
    """Every offline-readable frame of ``source`` (the three allocation frames as three)."""
    src = CachedSource(as_source(source))
    out: dict[str, pd.DataFrame] = {}
    for name in OFFLINE_FRAMES:
        got = getattr(nf, name)(src)
        if isinstance(got, tuple):
            for field, frame in zip(("allocations", "tasks", "task_events"), got, strict=True):
                out[f"{name}.{field}"] = frame
        else:
            out[name] = got
    return out


def assert_same_frames(expected: dict[str, pd.DataFrame], got: dict[str, pd.DataFrame], *,
                       skip: tuple[str, ...] = ()) -> None:
    """Every frame equal (values, dtypes, order) and with equal ``attrs``."""
    assert set(expected) == set(got)
    for name in sorted(expected):
        if name in skip:
            continue
        pd.testing.assert_frame_equal(expected[name], got[name], obj=name)
        assert expected[name].attrs == got[name].attrs, name
