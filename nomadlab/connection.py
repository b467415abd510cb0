"""One call to get a client in a notebook: the cluster at ``NOMAD_ADDR``, else a simulated one.

:func:`connect` is what the notebooks start with. With ``NOMAD_ADDR`` set (as ``nomadlab demo``
sets it for JupyterLab, or as you set it for a real cluster) it returns
``NomadClient()``, configured from the ``NOMAD_*`` variables exactly as the ``nomad`` CLI is.
Without it, it builds a simulated cluster in the notebook's own process and returns a client
wired to it, so a notebook runs anywhere, with no server and no network.

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
from collections.abc import Mapping
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from nomadlab.client import NomadClient

__all__ = ["SIM_ADDRESS", "connect"]

logger = logging.getLogger("nomadlab.connection")

#: The address an in-process simulated cluster's client reports (``.invalid`` never resolves:
#: no request leaves the process).
SIM_ADDRESS = "http://nomadlab-sim.invalid"


def connect(
    *,
    scenario: str = "demo",
    seed: int = 0,
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
    environ
        Replaces ``os.environ`` (for tests).

    Returns
    -------
    NomadClient
        With ``NOMAD_ADDR`` set (and not empty): ``NomadClient()`` configured from the
        ``NOMAD_*`` variables, as the ``nomad`` CLI reads them. Otherwise a client whose
        transport answers in-process from a fresh simulated cluster; its
        ``config.address`` is :data:`SIM_ADDRESS`. The simulated cluster's clock stands
        still (its history ends at 2026-01-01T06:00:00Z for ``demo``), so repeated reads
        agree and the same seed gives the same cluster.

    Raises
    ------
    ValueError
        ``scenario`` names no known scenario.

    Examples
    --------
    >>> client = connect(scenario="default", environ={})
    >>> sorted(j["ID"] for j in client.get("/v1/jobs").body)[:2]
    ['cache', 'ml-training']
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
    cluster = build_scenario(scenario, seed=seed)
    logger.info("NOMAD_ADDR is not set: using an in-process simulated cluster (scenario %r, seed %d)",
                scenario, seed)
    return NomadClient(NomadConfig(address=SIM_ADDRESS), transport=cluster.transport())
