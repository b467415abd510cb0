"""Usage history: the client stats endpoints sampled over time, the way a Nomad user gets it.

Nomad keeps no usage history: ``/v1/client/stats`` and ``/v1/client/allocation/:id/stats``
answer with the latest sample only (the Nomad UI polls them every 2 s into an in-browser
buffer). :func:`sample_usage` polls them on a schedule and returns every round as one
long-format frame, :data:`USAGE`; :func:`usage_history` returns the samples available for a
source: those taken while the in-process demo cluster was built, or those stored under
``NOMADLAB_HISTORY`` (see :mod:`nomadlab.history` and ``docs/storage.md``).

>>> from nomadlab.client import NomadClient
>>> from nomadlab.sim import SimCluster
>>> df = sample_once(NomadClient(transport=SimCluster.default().transport()))
>>> sorted(df["scope"].unique())
['alloc', 'node', 'task']
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from typing import TYPE_CHECKING, Any

import pandas as pd

from nomadlab.errors import NomadError
from nomadlab.frames.schema import Column, Schema, register
from nomadlab.frames.stats import ALLOC_METRICS, NODE_METRICS, UNITS, alloc_stats, node_stats

if TYPE_CHECKING:
    from nomadlab.connection import SimOrigin
    from nomadlab.sim.cluster import SimCluster
    from nomadlab.sources import Source

__all__ = [
    "USAGE",
    "USAGE_METRICS",
    "SCOPES",
    "HISTORY_VAR",
    "CLUSTER_VAR",
    "DEMO_SAMPLE_EVERY_S",
    "NoUsageHistoryError",
    "sample_once",
    "sample_usage",
    "usage_history",
    "sampled_build",
]

#: The variable naming a history root (see :mod:`nomadlab.history`) :func:`usage_history` reads.
HISTORY_VAR = "NOMADLAB_HISTORY"
#: The variable naming which cluster of that root is meant (needed when it holds several).
CLUSTER_VAR = "NOMADLAB_CLUSTER"
#: How often the in-process demo's history is sampled (simulated seconds).
DEMO_SAMPLE_EVERY_S = 300.0

SCOPES: tuple[str, ...] = ("node", "alloc", "task")
USAGE_METRICS: tuple[str, ...] = tuple(dict.fromkeys((*NODE_METRICS, *ALLOC_METRICS)))

USAGE = register(Schema(
    name="usage",
    grain="one row per sample time × entity (node, allocation total or task) × metric",
    endpoint="GET /v1/nodes, then GET /v1/client/stats?node_id= per reachable node; GET /v1/allocations, "
             "then GET /v1/client/allocation/:alloc_id/stats per running allocation; repeated every "
             "`every` by `nomadlab.analysis.usage.sample_usage`",
    keys=("time", "scope", "node_id", "alloc_id", "task", "metric"),
    description=(
        "Usage samples over time: `node_stats` (scope `node`) and `alloc_stats` (scope `alloc` for "
        "an allocation's total, `task` for each running task) of every sampling round, with the "
        "node's name, datacenter and pool joined. Nomad keeps no history of these; this frame is "
        "what a poller collects (`sample_usage`), or what was stored (`nomadlab.history`). The "
        "metrics are those of `node_stats` and `alloc_stats` (`cpu_percent` is per core for a "
        "node, in cores × 100 for an allocation or task). Round errors are in "
        "`df.attrs[\"errors\"]`."
    ),
    columns=(
        Column("time", "time", "When the client sampled (the stats' Timestamp).", source="ns"),
        Column("scope", "category", "What the row measures: a node's host, an allocation's total, or one task.",
               categories=SCOPES),
        Column("node_id", "string", "Node ID (the node running the allocation for scopes alloc and task)."),
        Column("node_name", "string", "Node name."),
        Column("datacenter", "string", "Datacenter of the node."),
        Column("node_pool", "string", "Node pool of the node."),
        Column("namespace", "string", "Namespace of the job (`<NA>` for scope node)."),
        Column("job_id", "string", "Job ID (`<NA>` for scope node)."),
        Column("task_group", "string", "Task group (`<NA>` for scope node)."),
        Column("alloc_id", "string", "Allocation ID (`<NA>` for scope node)."),
        Column("task", "string", "Task name (scope task only)."),
        Column("metric", "category", "What was measured (the metrics of node_stats and alloc_stats).",
               categories=USAGE_METRICS),
        Column("value", "float64", "The measurement, in `unit`."),
        Column("unit", "category", "Unit of `value`.", categories=UNITS),
    ),
))


class NoUsageHistoryError(NomadError, LookupError):
    """No usage history is available for a source (Nomad keeps none)."""


# -- one round ------------------------------------------------------------------------------------
def _source(source: Any, max_workers: int) -> Source:
    from nomadlab.client import NomadClient
    from nomadlab.sources import CachedSource, LiveSource, as_source

    if source is None:
        source = NomadClient()
    if isinstance(source, NomadClient):
        return CachedSource(LiveSource(source, max_workers=max_workers))
    return CachedSource(as_source(source))


def _wanted(value: str | Sequence[str] | None) -> frozenset[str] | None:
    if value is None:
        return None
    return frozenset((value,) if isinstance(value, str) else value)


def _int_ns(times: pd.Series) -> list[int | None]:
    values = times.array.asi8 if len(times) else []
    mask = times.isna().to_numpy() if len(times) else []
    return [None if m else int(v) for v, m in zip(values, mask, strict=True)]


def sample_once(
    source: Any = None,
    *,
    jobs: str | Sequence[str] | None = None,
    nodes: str | Sequence[str] | None = None,
    max_workers: int = 8,
) -> pd.DataFrame:
    """One sampling round: every reachable node's host stats and every running allocation's.

    Endpoints: ``GET /v1/nodes`` (once), ``GET /v1/client/stats?node_id=`` per reachable node,
    ``GET /v1/allocations`` and ``GET /v1/client/allocation/:alloc_id/stats`` per running
    allocation, fanned out on at most ``max_workers`` threads (through
    :func:`nomadlab.frames.node_stats` and :func:`nomadlab.frames.alloc_stats`).
    Schema: :data:`USAGE`.

    Parameters
    ----------
    source
        A :class:`~nomadlab.client.NomadClient`, a :class:`~nomadlab.sources.Source`, or None
        (connect from the ``NOMAD_*`` variables).
    jobs
        Only allocations of these job IDs (node rows are kept).
    nodes
        Only these nodes (IDs, ID prefixes or names), and only allocations placed on them.
    max_workers
        Concurrent stats requests (used when ``source`` is a client or None).

    Returns
    -------
    pandas.DataFrame
        Node rows first (by node, then metric), then allocations (total, then tasks).
        ``df.attrs["errors"]`` maps ``node:<id>`` / ``alloc:<id>`` whose read failed to the
        message.
    """
    src = _source(source, max_workers)
    host = node_stats(src, node=nodes)
    node_stubs = [n for n in src.list("nodes") if isinstance(n, dict) and isinstance(n.get("ID"), str)]
    by_id = {n["ID"]: n for n in node_stubs}
    allocs = alloc_stats(src, job=jobs)
    if nodes is not None:
        allocs = allocs[allocs["node_id"].isin(_matching_nodes(node_stubs, nodes))]
    cols: dict[str, list[Any]] = {c: [] for c in USAGE.names}
    n_host = len(host)
    cols["time"] = _int_ns(host["time"]) + _int_ns(allocs["time"])
    cols["scope"] = ["node"] * n_host + ["task" if isinstance(t, str) else "alloc"
                                          for t in allocs["task"].astype(object)]
    node_ids = list(host["node_id"].astype(object)) + list(allocs["node_id"].astype(object))
    cols["node_id"] = node_ids
    for col, field in (("node_name", "Name"), ("datacenter", "Datacenter"), ("node_pool", "NodePool")):
        cols[col] = [(by_id.get(n) or {}).get(field) if isinstance(n, str) else None for n in node_ids]
    for col in ("namespace", "job_id", "task_group", "alloc_id", "task"):
        values = allocs[col].astype(object).where(allocs[col].notna(), None)
        cols[col] = [None] * n_host + list(values)
    cols["metric"] = list(host["metric"].astype(object)) + list(allocs["metric"].astype(object))
    cols["value"] = list(host["value"]) + list(allocs["value"])
    cols["unit"] = list(host["unit"].astype(object)) + list(allocs["unit"].astype(object))
    frame = USAGE.build(cols)
    errors = {f"node:{k}": v for k, v in host.attrs.get("errors", {}).items()}
    errors.update({f"alloc:{k}": v for k, v in allocs.attrs.get("errors", {}).items()})
    frame.attrs["errors"] = errors
    return frame


def _matching_nodes(stubs: Iterable[dict[str, Any]], nodes: str | Sequence[str]) -> set[str]:
    wanted = _wanted(nodes) or frozenset()
    return {n["ID"] for n in stubs
            if n.get("Name") in wanted or any(n["ID"].startswith(w) for w in wanted)}


# -- polling --------------------------------------------------------------------------------------
def _seconds(every: str | float | pd.Timedelta) -> float:
    seconds = float(every) if isinstance(every, int | float) else pd.Timedelta(every).total_seconds()
    if not seconds > 0:
        raise ValueError(f"every must be a positive interval (e.g. '30s'), not {every!r}")
    return seconds


def sample_usage(
    source: Any = None,
    every: str | float | pd.Timedelta = "30s",
    duration: str | float | pd.Timedelta | None = None,
    *,
    jobs: str | Sequence[str] | None = None,
    nodes: str | Sequence[str] | None = None,
    progress: bool = True,
    sleep: Callable[[float], None] = time.sleep,
    max_samples: int | None = None,
    max_workers: int = 8,
) -> pd.DataFrame:
    """Poll the stats endpoints every ``every`` for ``duration`` and return every sample.

    Each round is :func:`sample_once`; the next starts ``every`` after the last one started
    (a round that overruns delays the next, never skips it). Stop it with Ctrl-C
    (``KeyboardInterrupt``): the samples taken so far are returned, none is lost. A round
    that fails (the cluster unreachable, say) is recorded in ``df.attrs["errors"]`` and
    sampling goes on.

    Parameters
    ----------
    source
        As for :func:`sample_once`.
    every
        Time between rounds: a pandas Timedelta string (``"30s"``, ``"5min"``) or seconds.
    duration
        How long to sample (rounds at ``0, every, ...`` up to ``duration`` included); None:
        until interrupted or ``max_samples``.
    jobs, nodes, max_workers
        As for :func:`sample_once`.
    progress
        Show a tqdm progress bar of rounds.
    sleep
        How to wait (replace it in tests).
    max_samples
        Stop after this many rounds.

    Returns
    -------
    pandas.DataFrame
        :data:`USAGE` rows of every round, in time order. ``df.attrs["errors"]``: one
        ``{"round", "time", "error"}`` record per failed round or failed entity read;
        ``df.attrs["rounds"]``: rounds attempted; ``df.attrs["interrupted"]``: whether it was
        stopped by ``KeyboardInterrupt``.
    """
    from tqdm.auto import tqdm

    step = _seconds(every)
    rounds = None if duration is None else int(_seconds(duration) // step) + 1
    if max_samples is not None:
        rounds = max_samples if rounds is None else min(rounds, max_samples)
    frames: list[pd.DataFrame] = []
    errors: list[dict[str, Any]] = []
    interrupted = False
    done = 0
    began = time.monotonic()
    bar = tqdm(total=rounds, disable=not progress, unit="round", desc="sampling usage")
    try:
        while rounds is None or done < rounds:
            if done:
                # The rest of the interval after the last round (all of it when it overran: the
                # next round is late, never skipped). Measured per round, so a sleep that moves
                # a simulated clock instead of the wall clock keeps the same schedule.
                wait = step - (time.monotonic() - began)
                sleep(wait if wait > 0 else 0.0)
            began = time.monotonic()
            stamp = pd.Timestamp.now(tz="UTC")
            try:
                frame = sample_once(source, jobs=jobs, nodes=nodes, max_workers=max_workers)
            except NomadError as exc:
                errors.append({"round": done, "time": stamp, "error": str(exc)})
            else:
                frames.append(frame)
                errors += [{"round": done, "time": stamp, "error": f"{k}: {v}"}
                           for k, v in frame.attrs.get("errors", {}).items()]
            done += 1
            bar.update(1)
    except KeyboardInterrupt:
        interrupted = True
    finally:
        bar.close()
    out = USAGE.concat(frames) if frames else USAGE.empty()
    out.attrs.update(errors=errors, rounds=done, interrupted=interrupted)
    return out


# -- history --------------------------------------------------------------------------------------
def sampled_build(
    scenario: str,
    *,
    seed: int = 0,
    end_ns: int | None = None,
    every_s: float = DEMO_SAMPLE_EVERY_S,
    max_workers: int = 1,
) -> tuple[SimCluster, pd.DataFrame]:
    """Build a simulator scenario and sample its usage through a client every ``every_s``.

    The build stops at each sample instant of its history (see
    :func:`nomadlab.sim.scenarios.build_scenario`), where one :func:`sample_once` round reads
    the stats endpoints through a :class:`~nomadlab.client.NomadClient` on the cluster's
    transport, as a poller would have read them at that time. In-process the fan-out gains
    nothing (one lock), hence one worker by default.

    Returns
    -------
    tuple
        The built cluster and the :data:`USAGE` samples.
    """
    from nomadlab.client import NomadClient
    from nomadlab.config import NomadConfig
    from nomadlab.connection import SIM_ADDRESS
    from nomadlab.sim.scenarios import build_scenario

    frames: list[pd.DataFrame] = []
    clients: list[NomadClient] = []

    def observe(cluster: SimCluster) -> None:
        if not clients:
            clients.append(NomadClient(NomadConfig(address=SIM_ADDRESS), transport=cluster.transport()))
        frames.append(sample_once(clients[0], max_workers=max_workers))

    cluster = build_scenario(scenario, seed=seed, end_ns=end_ns, observe=(every_s, observe))
    out = USAGE.concat(frames) if frames else USAGE.empty()
    out.attrs["errors"] = [e for f in frames for e in f.attrs.get("errors", {}).items()]
    return cluster, out


_BUILT: dict[SimOrigin, pd.DataFrame] = {}
_BUILT_LOCK = threading.Lock()


def _sim_history(origin: SimOrigin) -> pd.DataFrame:
    with _BUILT_LOCK:
        frame = _BUILT.get(origin)
        if frame is None:
            _, frame = sampled_build(origin.scenario, seed=origin.seed, end_ns=origin.end_ns)
            _BUILT[origin] = frame
    out = frame.copy()
    out.attrs = dict(frame.attrs)
    return out


def _history_cluster(root: str, cluster: str | None) -> str:
    from pathlib import Path

    if cluster:
        return cluster
    from nomadlab.history import clusters

    names = clusters(root) if Path(root).is_dir() else []
    if len(names) == 1:
        return names[0]
    raise NoUsageHistoryError(
        f"the usage history at {root} holds {len(names)} clusters ({', '.join(names) or 'none'}); "
        f"name one with usage_history(..., cluster=NAME) or {CLUSTER_VAR}=NAME")


def usage_history(
    source: Any = None,
    *,
    cluster: str | None = None,
    root: str | os.PathLike[str] | None = None,
    since: Any = None,
    until: Any = None,
) -> pd.DataFrame:
    """The usage samples available for ``source``. Schema: :data:`USAGE`.

    - A client :func:`nomadlab.connect` made on the in-process simulated cluster: the samples
      taken every 5 minutes of its history while it was built (the build is repeated with
      sampling on the first call, then cached for the process).
    - Otherwise, with a history root (``root``, else ``NOMADLAB_HISTORY``; see
      :mod:`nomadlab.history`): the samples stored there for ``cluster`` (else
      ``NOMADLAB_CLUSTER``, else the root's only cluster).

    Parameters
    ----------
    source
        A client, a source, or None.
    cluster, root
        Which stored history to read (see above).
    since, until
        Only samples in ``[since, until)``.

    Raises
    ------
    NoUsageHistoryError
        There is none: Nomad keeps no usage history. The message says how to collect one.

    Examples
    --------
    >>> from nomadlab.connection import connect
    >>> df = usage_history(connect(environ={}, end="2026-01-01T06:00:00Z"))
    >>> df["time"].nunique()
    73
    """
    from nomadlab.connection import sim_origin
    from nomadlab.frames._common import within

    client = getattr(source, "client", source)
    origin = sim_origin(client) if client is not None else None
    if origin is not None:
        return within(_sim_history(origin), "time", since, until)
    history_root = os.fspath(root) if root is not None else os.environ.get(HISTORY_VAR) or None
    if history_root is not None:
        from nomadlab.history import read_usage

        name = _history_cluster(history_root, cluster or os.environ.get(CLUSTER_VAR) or None)
        return read_usage(history_root, cluster=name, since=since, until=until)
    raise NoUsageHistoryError(
        "Nomad keeps no usage history: its stats endpoints give only the latest sample. Collect "
        "one with nomadlab.analysis.usage.sample_usage(client, every='30s', duration='1h') (keep "
        "it with nomadlab.history.write_usage), or point NOMADLAB_HISTORY at a stored history.")
