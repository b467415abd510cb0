"""Clocks for the simulator.

The simulated cluster never reads the wall clock directly: it asks the clock it was given.
Tests use :class:`ManualClock` and move time explicitly; a served simulator uses
:class:`RealClock`, which follows real time from a chosen starting point.
"""

from __future__ import annotations

import threading
import time
from typing import Protocol

__all__ = ["Clock", "ManualClock", "RealClock", "NS_PER_S"]

NS_PER_S = 1_000_000_000


class Clock(Protocol):
    """Anything that tells the simulated time as integer Unix nanoseconds."""

    def now_ns(self) -> int: ...


class ManualClock:
    """A clock that moves only when told to.

    Parameters
    ----------
    start_ns:
        The starting time in Unix nanoseconds. Defaults to 2026-01-01T00:00:00Z.
    """

    DEFAULT_START_NS = 1_767_225_600 * NS_PER_S  # 2026-01-01T00:00:00Z

    def __init__(self, start_ns: int | None = None) -> None:
        self._now = self.DEFAULT_START_NS if start_ns is None else int(start_ns)
        self._lock = threading.Lock()

    def now_ns(self) -> int:
        with self._lock:
            return self._now

    def advance(self, seconds: float) -> int:
        """Move time forward by ``seconds`` and return the new time (ns)."""
        if seconds < 0:
            raise ValueError("a clock cannot go backwards")
        with self._lock:
            self._now += int(seconds * NS_PER_S)
            return self._now

    def set(self, now_ns: int) -> None:
        with self._lock:
            if now_ns < self._now:
                raise ValueError("a clock cannot go backwards")
            self._now = int(now_ns)

    def __repr__(self) -> str:
        return f"ManualClock(now_ns={self._now})"


class RealClock:
    """Real time, optionally shifted so that simulated time starts at ``start_ns``."""

    def __init__(self, start_ns: int | None = None) -> None:
        self._offset = 0 if start_ns is None else int(start_ns) - time.time_ns()

    def now_ns(self) -> int:
        return time.time_ns() + self._offset

    def __repr__(self) -> str:
        return f"RealClock(offset_ns={self._offset})"
