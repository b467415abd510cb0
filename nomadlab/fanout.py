"""Many GETs at once: bounded concurrency on a thread pool, partial results, per-item errors.

Typical use is node-local data for many objects, e.g. the stats of every running allocation::

    result = client.fan_out({a: f"/v1/client/allocation/{a}/stats" for a in alloc_ids})
    result.bodies()        # {alloc_id: stats} for those that answered
    result.errors          # one FanOutFailure per alloc that did not (GC'd, node down, ACL)

One failure never cancels the others. A progress bar (``tqdm.auto``: a widget in Jupyter, text
elsewhere) counts finished requests.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from tqdm.auto import tqdm

from nomadlab.errors import NomadError

if TYPE_CHECKING:
    from nomadlab.client import NomadClient, Params, Reply

__all__ = ["FanOutFailure", "FanOutResult", "fan_out"]


@dataclass(frozen=True)
class FanOutFailure:
    """One request of a fan-out that failed: its key, its path and the error."""

    key: str
    path: str
    error: NomadError


@dataclass(frozen=True)
class FanOutResult:
    """Replies by key, in the order the requests were given, plus the failures."""

    replies: Mapping[str, Reply]
    errors: tuple[FanOutFailure, ...]

    @property
    def ok(self) -> bool:
        """True when every request succeeded."""
        return not self.errors

    def bodies(self) -> dict[str, Any]:
        """``{key: reply.body}`` for the requests that succeeded."""
        return {key: reply.body for key, reply in self.replies.items()}


def fan_out(
    client: NomadClient,
    requests: Mapping[str, str] | Iterable[str],
    *,
    params: Params | None = None,
    namespace: str | None = None,
    region: str | None = None,
    max_workers: int = 8,
    progress: bool = True,
    desc: str | None = None,
) -> FanOutResult:
    """GET every path in ``requests`` with at most ``max_workers`` in flight.

    Parameters
    ----------
    requests
        ``{key: path}``, or paths (each its own key).
    params, namespace, region
        Applied to every request.
    max_workers
        Upper bound on concurrent requests (threads).
    progress
        Show a ``tqdm.auto`` progress bar.

    Each request gets the client's usual retries; a :class:`nomadlab.errors.NomadError` that
    remains becomes a :class:`FanOutFailure` and the other requests go on. Any other
    exception is a bug and propagates.
    """
    if max_workers < 1:
        raise ValueError("max_workers must be at least 1")
    items = dict(requests) if isinstance(requests, Mapping) else {p: p for p in requests}
    replies: dict[str, Reply] = {}
    failures: dict[str, FanOutFailure] = {}
    if items:
        with (
            client._fan_out_getter() as get,
            ThreadPoolExecutor(max_workers=min(max_workers, len(items)),
                               thread_name_prefix="nomadlab-fanout") as pool,
            tqdm(total=len(items), desc=desc or "Nomad GETs", disable=not progress,
                 unit="req") as bar,
        ):
            futures = {
                pool.submit(get, path, params=params, namespace=namespace,
                            region=region): key
                for key, path in items.items()
            }
            for future in as_completed(futures):
                key = futures[future]
                try:
                    replies[key] = future.result()
                except NomadError as exc:
                    failures[key] = FanOutFailure(key, items[key], exc)
                bar.update(1)
                if failures:
                    bar.set_postfix(errors=len(failures), refresh=False)
    ordered = {key: replies[key] for key in items if key in replies}
    errors = tuple(failures[key] for key in items if key in failures)
    return FanOutResult(ordered, errors)
