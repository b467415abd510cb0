"""What the reliability suites report: per case, how many tries, and what survived, was lost or leaked."""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from nomadlab.sim import SimCluster

__all__ = ["Arrivals", "Figure", "at_target", "failures"]


@dataclass(frozen=True)
class Figure:
    """One row of the reliability table.

    Parameters
    ----------
    suite:
        The suite and path measured (``"faults: read"``, ``"tls"``, ``"load"``, ...).
    case:
        What was tried (``"jobs × 5xx burst"``).
    tried:
        How many operations were attempted.
    survived:
        How many ended as they must: read or streamed in full, or failed with a clear error.
    lost:
        Objects, rows or events missing from what was delivered.
    duplicated:
        Events delivered twice, or writes that reached the cluster more than once.
    leaked:
        Secrets shown (tokens in texts), or memory kept after the run (KiB above the bound).
    detail:
        A short note: what failed, or the measured value behind ``leaked``.
    """

    suite: str
    case: str
    tried: int
    survived: int
    lost: int = 0
    duplicated: int = 0
    leaked: int = 0
    detail: str = ""

    @property
    def at_target(self) -> bool:
        """Every try survived and nothing was lost, duplicated or leaked."""
        return self.tried > 0 and self.survived == self.tried and not (self.lost or self.duplicated or self.leaked)


def at_target(figures: Iterable[Figure]) -> bool:
    """Whether every figure is at target."""
    return all(f.at_target for f in figures)


def failures(figures: Iterable[Figure]) -> list[str]:
    """One line per figure off target (empty when all are at target), for assertion messages."""
    return [f"{f.suite} / {f.case}: tried {f.tried}, survived {f.survived}, lost {f.lost}, "
            f"duplicated {f.duplicated}, leaked {f.leaked} ({f.detail})" for f in figures if not f.at_target]


class Arrivals:
    """Counts the requests that reach a cluster, by method and path, as the simulator receives them.

    Installed by shadowing the cluster's ``handle`` (what both the ASGI adapter and the in-process
    transport call), so requests answered by an injected fault are counted too.
    """

    def __init__(self, cluster: SimCluster) -> None:
        self._lock = threading.Lock()
        self.counts: Counter[tuple[str, str]] = Counter()
        handle: Callable[[Any], Any] = cluster.handle

        def counted(request: Any) -> Any:
            with self._lock:
                self.counts[(request.method, request.path)] += 1
            return handle(request)

        cluster.handle = counted  # type: ignore[method-assign]

    def reset(self) -> None:
        """Forget what was counted so far."""
        with self._lock:
            self.counts.clear()

    def writes(self) -> Counter[tuple[str, str]]:
        """Requests other than ``GET``/``HEAD``, by method and path."""
        with self._lock:
            return Counter({k: n for k, n in self.counts.items() if k[0] not in ("GET", "HEAD")})

    def reads(self) -> int:
        """How many ``GET``/``HEAD`` requests arrived."""
        with self._lock:
            return sum(n for k, n in self.counts.items() if k[0] in ("GET", "HEAD"))
