"""A :class:`~nomadlab.sources.Source` over objects held in memory, as read from files.

Snapshots and a recording's replay at an instant both end up as "the list stubs of each kind,
and the per-object reads by key": :class:`StoredSource` answers the frames' questions from
those exactly as the live source would, filters included (``filter=`` is evaluated here by
nomadlab's go-bexpr evaluator, :mod:`nomadlab.sim.bexpr`, against the stored list stubs).
"""

from __future__ import annotations

import builtins
from collections.abc import Generator, Hashable, Mapping, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any

from nomadlab.errors import NomadError
from nomadlab.sources import DETAIL_KINDS, LIST_KINDS, PAGE_SIZES, Details

if TYPE_CHECKING:
    from nomadlab._json import Fields
    from nomadlab.sources import DetailKind, ListKind, Page

__all__ = ["NAMESPACED", "NotRecordedError", "StoredSource", "detail_key", "parse_time"]

NAMESPACED = frozenset({"jobs", "allocations", "evaluations", "deployments"})
"""List kinds whose objects carry a ``Namespace`` (the others ignore ``namespace=``)."""

_JOB_DETAILS = frozenset({"job", "job_versions", "job_scale"})


class NotRecordedError(NomadError, LookupError):
    """A question an offline source cannot answer: that kind was not read when the snapshot
    or recording was made (the message says why, and what to do)."""


def detail_key(kind: str, key: Any) -> Hashable:
    """The key of a per-object read as the frames give it: ``(namespace, job_id)`` tuples for
    job reads (JSON stores them as lists), strings for the others."""
    if kind in _JOB_DETAILS:
        if isinstance(key, (list, tuple)) and len(key) == 2:
            return (str(key[0]), str(key[1]))
        raise ValueError(f"{kind} keys are (namespace, job_id) pairs, got {key!r}")
    return str(key)


class StoredSource:
    """Answers ``list``, ``pages`` and ``details`` from stored Nomad objects.

    Parameters
    ----------
    lists
        The list stubs of each list kind, as the list endpoint returned them for ``namespace``.
    details
        Per detail kind: ``(objects by key, errors by key)``.
    unreadable
        Kinds that could not be read, with why; asking for one raises :class:`NotRecordedError`.
    namespace
        The namespace the objects were read for (``*`` for all).
    what
        How the source names itself in messages (``"the snapshot /x/y.tar.gz"``).
    """

    def __init__(self, lists: Mapping[str, list[dict[str, Any]]],
                 details: Mapping[str, tuple[Mapping[Hashable, Any], Mapping[Hashable, str]]],
                 *, unreadable: Mapping[str, str], namespace: str, what: str) -> None:
        self._lists = dict(lists)
        self._details = dict(details)
        self.unreadable: dict[str, str] = dict(unreadable)
        self.namespace = namespace
        self._what = what
        #: The header of the file it was read from (set by the snapshot or recording that made it).
        self.manifest: dict[str, Any] = {}
        #: The instants it describes, as aware datetimes (None when unknown).
        self.time_range: tuple[datetime, datetime] | None = None

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self._what})"

    # -- the Source protocol ------------------------------------------------------------------
    def list(self, kind: ListKind, *, namespace: str = "*", filter: str | None = None) -> list[dict[str, Any]]:
        """The stored stubs of ``kind`` in ``namespace`` that pass ``filter`` (go-bexpr)."""
        rows = self._rows(kind, namespace)
        if filter:
            rows = self._filtered(rows, filter)
        return rows

    def pages(self, kind: ListKind, *, namespace: str = "*", filter: str | None = None,
              fields: Fields | None = None) -> Generator[Page, None, None]:
        """:meth:`list` in pages of :data:`~nomadlab.sources.PAGE_SIZES` (whole dicts: ``fields``
        only says what the caller reads, and every stored field is at hand)."""
        rows = self.list(kind, namespace=namespace, filter=filter)
        size = PAGE_SIZES.get(kind) or max(len(rows), 1)
        for start in range(0, max(len(rows), 1), size):
            yield rows[start:start + size]

    def details(self, kind: DetailKind, keys: Sequence[Hashable]) -> Details:
        """The stored per-object reads of ``kind`` for ``keys``; a key that was not read is an
        error that says so (as a failed request is for the live source)."""
        if kind not in DETAIL_KINDS:
            raise ValueError(f"unknown detail kind {kind!r}; expected one of {', '.join(DETAIL_KINDS)}")
        keys = [detail_key(kind, k) for k in keys]
        if kind in self.unreadable or kind not in self._details:
            reason = self.unreadable.get(kind, "not stored")
            return Details({}, {k: f"{kind} not in {self._what}: {reason}" for k in keys})
        objects, errors = self._details[kind]
        found: dict[Hashable, Any] = {}
        failed: dict[Hashable, str] = {}
        for key in keys:
            if key in objects:
                found[key] = objects[key]
            elif key in errors:
                failed[key] = errors[key]
            else:
                failed[key] = f"{kind} {key!r} was not read into {self._what}"
        return Details(found, failed)

    # -- helpers ------------------------------------------------------------------------------
    def _rows(self, kind: str, namespace: str) -> builtins.list[dict[str, Any]]:
        if kind not in LIST_KINDS:
            raise ValueError(f"unknown list kind {kind!r}; expected one of {', '.join(LIST_KINDS)}")
        if kind in self.unreadable or kind not in self._lists:
            reason = self.unreadable.get(kind, "not stored")
            raise NotRecordedError(f"{kind} are not in {self._what}: {reason}; read them from the live "
                                   "cluster, or take the snapshot again with a token that can read them")
        rows = self._lists[kind]
        if kind in NAMESPACED and namespace != "*":
            if self.namespace not in ("*", namespace):
                raise NotRecordedError(f"{self._what} holds namespace {self.namespace!r} only, not {namespace!r}")
            return [r for r in rows if isinstance(r, dict) and r.get("Namespace") == namespace]
        return list(rows)

    def _filtered(self, rows: builtins.list[dict[str, Any]], expression: str) -> builtins.list[dict[str, Any]]:
        from nomadlab.sim.bexpr import FilterEvalError, FilterSyntaxError, compile_filter

        try:
            flt = compile_filter(expression)
        except FilterSyntaxError as exc:
            raise ValueError(f"filter {expression!r} does not parse: {exc}") from None
        try:
            return [r for r in rows if flt(r)]
        except FilterEvalError as exc:
            raise ValueError(f"filter {expression!r} cannot be evaluated on the stored list objects: {exc}"
                             " (offline filters see the list stubs, not the full objects)") from None


def parse_time(text: Any) -> datetime | None:
    """An RFC3339 text (``...Z``) as an aware datetime; None when it is not one."""
    if not isinstance(text, str):
        return None
    try:
        return datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
