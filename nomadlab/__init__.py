"""nomadlab: explore a HashiCorp Nomad cluster from Jupyter.

>>> import nomadlab
>>> client = nomadlab.NomadClient()          # NOMAD_ADDR, NOMAD_TOKEN, ... as the CLI reads them
>>> client = nomadlab.connect()              # the same, or a simulated cluster without NOMAD_ADDR

Names load on first use (PEP 562), so ``import nomadlab`` does not import httpx, pandas or
plotly until something needs them.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0.dev0"

# Public name → the module that defines it (sorted by name).
_EXPORTS: dict[str, str] = {
    "FanOutResult": "nomadlab.fanout",
    "NomadAPIError": "nomadlab.errors",
    "NomadClient": "nomadlab.client",
    "NomadConfig": "nomadlab.config",
    "NomadConfigError": "nomadlab.errors",
    "NomadError": "nomadlab.errors",
    "NomadTransportError": "nomadlab.errors",
    "QueryMeta": "nomadlab.client",
    "Reply": "nomadlab.client",
    "RetryPolicy": "nomadlab.retries",
    "audit_log": "nomadlab.audit",
    "connect": "nomadlab.connection",
    "open_recording": "nomadlab.offline.recording",
    "open_snapshot": "nomadlab.offline.snapshot",
    "record": "nomadlab.offline.recording",
    "snapshot": "nomadlab.offline.snapshot",
}

__all__ = sorted([*_EXPORTS, "__version__"])

if TYPE_CHECKING:
    from nomadlab.audit import audit_log as audit_log
    from nomadlab.client import NomadClient as NomadClient
    from nomadlab.client import QueryMeta as QueryMeta
    from nomadlab.client import Reply as Reply
    from nomadlab.config import NomadConfig as NomadConfig
    from nomadlab.connection import connect as connect
    from nomadlab.errors import NomadAPIError as NomadAPIError
    from nomadlab.errors import NomadConfigError as NomadConfigError
    from nomadlab.errors import NomadError as NomadError
    from nomadlab.errors import NomadTransportError as NomadTransportError
    from nomadlab.fanout import FanOutResult as FanOutResult
    from nomadlab.offline.recording import open_recording as open_recording
    from nomadlab.offline.recording import record as record
    from nomadlab.offline.snapshot import open_snapshot as open_snapshot
    from nomadlab.offline.snapshot import snapshot as snapshot
    from nomadlab.retries import RetryPolicy as RetryPolicy


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'nomadlab' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_EXPORTS))
