"""When a request is tried again, and how long to wait first.

Reads (``GET``/``HEAD``) are idempotent: they are retried on connection failures, timeouts,
429 and 500/502/503/504, with exponential backoff or the server's ``Retry-After``. Writes are
retried only when the connection was never made (refused, connect timeout), because then Nomad
cannot have acted on them; a write that may have reached Nomad is never repeated blindly.
A TLS failure is never retried. The client runs the policy with ``tenacity``.
"""

from __future__ import annotations

from dataclasses import dataclass

from nomadlab.errors import NomadAPIError, NomadTLSError, NomadTransportError

__all__ = ["READ_METHODS", "RetryPolicy"]

READ_METHODS = frozenset({"GET", "HEAD"})


@dataclass(frozen=True)
class RetryPolicy:
    """When and how long to retry.

    ``attempts`` is the total number of tries for a read. Waits grow as
    ``backoff * 2**(n-1)`` up to ``max_backoff``; a ``Retry-After`` header is honoured up to
    ``max_retry_after`` seconds.
    """

    attempts: int = 4
    backoff: float = 0.5
    max_backoff: float = 10.0
    max_retry_after: float = 60.0
    statuses: frozenset[int] = frozenset({429, 500, 502, 503, 504})

    def should_retry(self, exc: BaseException, method: str) -> bool:
        """Whether ``exc`` from a ``method`` request may be retried."""
        if isinstance(exc, NomadTLSError):
            return False  # a certificate problem does not heal by itself
        if method.upper() not in READ_METHODS:
            return isinstance(exc, NomadTransportError) and not exc.request_sent
        if isinstance(exc, NomadTransportError):
            return True
        return isinstance(exc, NomadAPIError) and exc.status in self.statuses

    def delay(self, attempt: int, exc: BaseException | None = None) -> float:
        """Seconds to wait before try ``attempt + 1`` after ``exc``."""
        retry_after = getattr(exc, "retry_after", None)
        if retry_after is not None:
            return float(min(retry_after, self.max_retry_after))
        return float(min(self.max_backoff, self.backoff * 2 ** max(0, attempt - 1)))
