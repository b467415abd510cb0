"""One call to get a client in a notebook: the cluster at ``NOMAD_ADDR``, else a simulated one.

:func:`connect` is what the notebooks start with. With ``NOMAD_ADDR`` set (as ``nomadlab demo``
sets it for JupyterLab, or as you set it for a real cluster) it returns
``NomadClient()``, configured from the ``NOMAD_*`` variables exactly as the ``nomad`` CLI is.
Without it, it builds a simulated cluster in the notebook's own process and returns a client
wired to it, so a notebook runs anywhere, with no server and no network. The simulated
history ends at the moment of the call (as ``nomadlab demo``'s does), so "the last hour"
means the last hour; ``end=`` or ``NOMADLAB_SIM_END`` pins it for reproducible runs.

>>> from nomadlab.connection import connect
>>> client = connect(environ={})                 # no NOMAD_ADDR: the in-process demo cluster
>>> client.config.address
'http://nomadlab-sim.invalid'
>>> len(client.get("/v1/nodes").body)
40
"""

from __future__ import annotations

import logging
import os
import threading
import time
import weakref
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from nomadlab.client import NomadClient
    from nomadlab.sim.cluster import SimCluster

__all__ = ["SIM_ADDRESS", "SIM_END_VAR", "SimOrigin", "connect", "sim_cluster", "sim_origin"]

logger = logging.getLogger("nomadlab.connection")

#: The address an in-process simulated cluster's client reports (``.invalid`` never resolves:
#: no request leaves the process).
SIM_ADDRESS = "http://nomadlab-sim.invalid"

#: The variable that pins where an in-process simulated history ends (RFC 3339, e.g.
#: ``2026-01-01T06:00:00Z``, or Unix seconds) when ``connect(end=...)`` is not given.
SIM_END_VAR = "NOMADLAB_SIM_END"


@dataclass(frozen=True)
class SimOrigin:
    """How an in-process simulated cluster was built: enough to build the same one again.

    ``end_ns`` is where its history ends (Unix ns, a whole second); the same scenario, seed
    and end give the same cluster.
    """

    scenario: str
    seed: int
    end_ns: int


_ORIGINS: weakref.WeakKeyDictionary[NomadClient, SimOrigin] = weakref.WeakKeyDictionary()
_ORIGINS_LOCK = threading.Lock()


def sim_origin(client: object) -> SimOrigin | None:
    """The :class:`SimOrigin` of a client :func:`connect` made on a simulated cluster, else None."""
    with _ORIGINS_LOCK:
        try:
            return _ORIGINS.get(client)  # type: ignore[call-overload, no-any-return]
        except TypeError:  # not weak-referenceable: not one of ours
            return None


def sim_cluster(client: object) -> SimCluster | None:
    """The in-process :class:`~nomadlab.sim.cluster.SimCluster` behind a client that :func:`connect`
    made without ``NOMAD_ADDR``, else None (a served or real cluster).

    Its clock stands still between calls; a widget that follows a change it made (``JobControl``'s
    ``advance=``) moves it with ``sim_cluster(client).advance``.

    >>> sim_cluster(connect(scenario="default", environ={})) is not None
    True
    >>> sim_cluster(connect(environ={"NOMAD_ADDR": "http://127.0.0.1:4646"})) is None
    True
    """
    if sim_origin(client) is None:
        return None
    from nomadlab.sim.transport import SimTransport

    transport = getattr(client, "_transport", None)
    return transport.cluster if isinstance(transport, SimTransport) else None


def _parse_time_text(text: str) -> int:
    try:
        return int(float(text) * 1_000_000_000)
    except ValueError:
        pass
    try:
        when = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise ValueError(
            f"cannot read {text!r} as a time; give RFC 3339 (2026-01-01T06:00:00Z) or Unix "
            f"seconds (in end= or {SIM_END_VAR})") from None
    if when.tzinfo is None:
        raise ValueError(f"{text!r} has no time zone; add Z or an offset (2026-01-01T06:00:00Z)")
    return int(when.timestamp()) * 1_000_000_000


def _end_ns(end: datetime | str | float | None, env: Mapping[str, str]) -> int:
    """Where the simulated history ends, in Unix ns rounded down to a whole second."""
    if end is None:
        end = env.get(SIM_END_VAR) or None
    if end is None:
        ns = time.time_ns()
    elif isinstance(end, datetime):
        if end.tzinfo is None:
            raise ValueError(f"end={end!r} has no time zone; give an aware datetime (e.g. UTC)")
        ns = int(end.timestamp()) * 1_000_000_000
    elif isinstance(end, str):
        ns = _parse_time_text(end.strip())
    else:
        ns = int(float(end) * 1_000_000_000)
    return ns // 1_000_000_000 * 1_000_000_000


def connect(
    *,
    scenario: str = "demo",
    seed: int = 0,
    end: datetime | str | float | None = None,
    environ: Mapping[str, str] | None = None,
) -> NomadClient:
    """A client for the cluster at ``NOMAD_ADDR``, or for a simulated cluster when it is unset.

    Parameters
    ----------
    scenario
        Used only without ``NOMAD_ADDR``: the simulator scenario to build
        (:data:`nomadlab.sim.scenarios.SCENARIOS`). ``demo`` (the default) is the cluster
        ``nomadlab demo`` serves: 40 nodes in three node pools and six hours of history ending
        in an incident; ``default`` is the small cluster of ``SimCluster.default()``.
    seed
        Used only without ``NOMAD_ADDR``: the scenario's seed.
    end
        Used only without ``NOMAD_ADDR``: where the simulated history ends, as an aware
        ``datetime``, an RFC 3339 string or Unix seconds (rounded down to a whole second).
        Default: ``NOMADLAB_SIM_END`` when set, else now.
    environ
        Replaces ``os.environ`` (for tests).

    Returns
    -------
    NomadClient
        With ``NOMAD_ADDR`` set (and not empty): ``NomadClient()`` configured from the
        ``NOMAD_*`` variables, as the ``nomad`` CLI reads them. Otherwise a client whose
        transport answers in-process from a fresh simulated cluster; its
        ``config.address`` is :data:`SIM_ADDRESS`. The simulated history ends at ``end``
        (now by default) and its clock then stands still, so repeated reads agree; the same
        seed and end give the same cluster. Its usage history
        (:func:`nomadlab.analysis.usage.usage_history`) is sampled on first request.

    Raises
    ------
    ValueError
        ``scenario`` names no known scenario, or ``end`` cannot be read as a time.

    Examples
    --------
    >>> client = connect(scenario="default", environ={})
    >>> sorted(j["ID"] for j in client.get("/v1/jobs").body)[:2]
    ['cache', 'ml-training']
    >>> from nomadlab.connection import sim_origin
    >>> pinned = connect(end="2026-01-01T06:00:00Z", environ={})
    >>> sim_origin(pinned).end_ns == 1767247200 * 10**9
    True
    >>> connect(environ={"NOMAD_ADDR": "http://127.0.0.1:4646"}).config.address
    'http://127.0.0.1:4646'
    """
    from nomadlab.client import NomadClient
    from nomadlab.config import NomadConfig

    env = os.environ if environ is None else environ
    if env.get("NOMAD_ADDR"):
        return NomadClient(NomadConfig.from_env(environ=env))

    from nomadlab.sim.scenarios import SCENARIOS, build_scenario

    if scenario not in SCENARIOS:
        raise ValueError(f"unknown scenario {scenario!r}; choose one of: {', '.join(sorted(SCENARIOS))}")
    end_ns = _end_ns(end, env)
    cluster = build_scenario(scenario, seed=seed, end_ns=end_ns)
    logger.info("NOMAD_ADDR is not set: using an in-process simulated cluster (scenario %r, seed %d)",
                scenario, seed)
    client = NomadClient(NomadConfig(address=SIM_ADDRESS), transport=cluster.transport())
    with _ORIGINS_LOCK:
        _ORIGINS[client] = SimOrigin(scenario, seed, cluster.now_ns())
    return client
