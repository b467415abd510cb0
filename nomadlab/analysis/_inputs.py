"""How analysis functions get their frames: from a source (fetched once each), or handed in."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

import pandas as pd

__all__ = ["Frames", "NON_TERMINAL_CLIENT", "live_allocs", "resolve", "utc"]

Frames = Mapping[str, pd.DataFrame]
"""Frames handed to an analysis function by name (``{"nodes": ..., "allocations": ...}``)."""


def _fetchers() -> dict[str, Callable[..., pd.DataFrame]]:
    import nomadlab.frames as nf

    return {
        "nodes": nf.nodes, "node_events": nf.node_events, "node_stats": nf.node_stats,
        "alloc_stats": nf.alloc_stats, "jobs": nf.jobs, "task_groups": nf.task_groups,
        "job_versions": nf.job_versions, "evaluations": nf.evaluations,
        "placement_failures": nf.placement_failures, "deployments": nf.deployments,
        "scaling_events": nf.scaling_events, "namespaces": nf.namespaces,
    }


_ALLOCATION_FRAMES = ("allocations", "tasks", "task_events")


def resolve(source_or_frames: Any, need: Sequence[str], *, optional: Sequence[str] = (),
            what: str = "this analysis") -> dict[str, pd.DataFrame]:
    """The frames ``need`` (and those of ``optional`` that are at hand), by name.

    ``source_or_frames`` is a mapping of frames by name, or anything a fetcher takes (a
    :class:`~nomadlab.client.NomadClient`, a :class:`~nomadlab.sources.Source`, ``None`` for the
    ``NOMAD_*`` cluster). From a source, each frame of ``need`` is fetched once (the three
    allocation frames in one fetch) and ``optional`` ones are not fetched. Handed frames are used
    as they are; a needed one that is missing is an error that names it.
    """
    if isinstance(source_or_frames, Mapping):
        missing = [n for n in need if n not in source_or_frames]
        if missing:
            raise ValueError(
                f"{what} needs the frame(s) {', '.join(missing)}: pass them in the mapping "
                f"(e.g. {{'{missing[0]}': nomadlab.frames.{missing[0]}(client)}}) or pass a client or source"
            )
        return {n: source_or_frames[n] for n in (*need, *optional) if n in source_or_frames}

    from nomadlab.sources import CachedSource, as_source

    source = CachedSource(as_source(source_or_frames))
    out: dict[str, pd.DataFrame] = {}
    if any(n in _ALLOCATION_FRAMES for n in need):
        import nomadlab.frames as nf

        out.update(zip(_ALLOCATION_FRAMES, nf.allocation_frames(source), strict=True))
    fetchers = _fetchers()
    for name in need:
        if name in out:
            continue
        if name not in fetchers:
            raise ValueError(f"no fetcher for a frame named {name!r}")
        out[name] = fetchers[name](source)
    return {n: out[n] for n in need}


NON_TERMINAL_CLIENT = ("pending", "running", "unknown")


def live_allocs(allocations: pd.DataFrame) -> pd.DataFrame:
    """Allocations that hold their resources: desired ``run`` and not terminal on the client.

    The Nomad Autoscaler's nomad-apm plugin skips an allocation whose desired status is not
    ``run`` or whose client status is ``complete``, ``failed`` or ``lost``; so does this.
    """
    desired = allocations["desired_status"].astype("string") == "run"
    client = allocations["client_status"].astype("string").isin(NON_TERMINAL_CLIENT)
    return allocations.loc[(desired & client).fillna(False).astype(bool)]


def utc(value: Any) -> pd.Timestamp | None:
    """A time bound as a UTC timestamp (naive values are UTC)."""
    if value is None:
        return None
    ts = pd.Timestamp(value)
    return ts.tz_localize("UTC") if ts.tzinfo is None else ts.tz_convert("UTC")
