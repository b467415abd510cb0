"""Sources: where frames get Nomad's raw objects from.

A source answers one narrow question: "give me the raw objects of kind K (in namespace N)",
as Nomad's JSON decoded into Python (PascalCase dicts). Frames depend on this interface only,
so the same frame code runs on a live cluster (:class:`LiveSource`), and later on snapshots,
recordings and ``nomad operator debug`` archives.

Two kinds of question:

- :meth:`Source.list` for the list endpoints (:data:`LIST_KINDS`), with the options frames
  need already set (allocations with ``resources=true``, nodes with ``resources=true``).
  A source may also offer ``pages(kind, namespace=, filter=, fields=)``, the same objects as
  an iterator of lists, which frames use (through :func:`iter_pages`) to work on one page
  while the next is on its way; ``fields`` (a :class:`nomadlab._json.Fields`) names what the
  caller reads, so a source may leave the other fields out;
- :meth:`Source.details` for per-object reads (:data:`DETAIL_KINDS`): full jobs, job
  versions, full nodes, host and allocation stats. These cost one request per object, so they
  come back with the failures beside the successes rather than failing all.

>>> from nomadlab.sim import SimCluster
>>> from nomadlab.client import NomadClient
>>> src = LiveSource(NomadClient(transport=SimCluster.default().transport()))
>>> len(src.list("nodes")) > 0
True
"""

from __future__ import annotations

from collections.abc import Callable, Generator, Hashable, Mapping, Sequence
from contextlib import closing
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal, Protocol, TypeVar, runtime_checkable

if TYPE_CHECKING:
    from nomadlab._json import Fields
    from nomadlab.client import NomadClient

__all__ = [
    "DETAIL_KINDS",
    "PAGE_SIZES",
    "Page",
    "LIST_KINDS",
    "CachedSource",
    "Details",
    "DetailKind",
    "ListKind",
    "LiveSource",
    "Source",
    "as_source",
    "iter_pages",
]

ListKind = Literal["jobs", "allocations", "nodes", "evaluations", "deployments", "namespaces", "node_pools"]
DetailKind = Literal["job", "job_versions", "job_scale", "node", "node_stats", "alloc_stats"]
LIST_KINDS: tuple[str, ...] = ("jobs", "allocations", "nodes", "evaluations", "deployments",
                               "namespaces", "node_pools")
DETAIL_KINDS: tuple[str, ...] = ("job", "job_versions", "job_scale", "node", "node_stats", "alloc_stats")

Objects = list[dict[str, Any]]
"""A list of Nomad's objects as decoded JSON."""
Page = list[Any]
"""One page of a list: dicts, or records when the caller named ``fields`` that ask for them."""

_T = TypeVar("_T")

# Namespaced list endpoints accept ``namespace=*``; the others ignore the namespace.
_NAMESPACED = frozenset({"jobs", "allocations", "evaluations", "deployments"})


@dataclass(frozen=True)
class Details:
    """Per-object reads: ``objects`` by key, and ``errors`` (key → message) for those that failed.

    Keys are ``(namespace, job_id)`` for ``job``, ``job_versions`` and ``job_scale``, the node ID for ``node``
    and ``node_stats``, and the allocation ID for ``alloc_stats``.
    """

    objects: Mapping[Hashable, Any]
    errors: Mapping[Hashable, str] = field(default_factory=dict)


@runtime_checkable
class Source(Protocol):
    """What frames need from wherever Nomad's objects come from."""

    def list(self, kind: ListKind, *, namespace: str = "*", filter: str | None = None) -> list[dict[str, Any]]:
        """Every object of ``kind`` (list stubs, as the list endpoint returns them)."""
        ...

    def details(self, kind: DetailKind, keys: Sequence[Hashable]) -> Details:
        """The per-object read of ``kind`` for each key."""
        ...


_LIST_PATHS: dict[str, tuple[str, dict[str, str]]] = {
    "jobs": ("/v1/jobs", {"meta": "true"}),
    "allocations": ("/v1/allocations", {"resources": "true", "task_states": "true"}),
    "nodes": ("/v1/nodes", {"resources": "true"}),
    "evaluations": ("/v1/evaluations", {}),
    "deployments": ("/v1/deployments", {}),
    "namespaces": ("/v1/namespaces", {}),
    "node_pools": ("/v1/node/pools", {}),
}


# Per-job reads: the job, its versions with the diff of each against the one before (what
# ``job_versions.changed_fields`` shows), and its scaling status with the scaling events.
_JOB_SUFFIX: dict[str, str] = {"job": "", "job_versions": "/versions?diffs=true", "job_scale": "/scale"}


# Objects per page when a list is read page by page (``per_page``). Big enough that the
# per-request cost stays small, small enough that Nomad prepares the next page while this one
# is decoded, and that one page's decoded objects stay small. Kinds not listed come in one page.
PAGE_SIZES: dict[str, int] = {"allocations": 2000, "evaluations": 5000, "deployments": 5000}


class LiveSource:
    """A source backed by a live cluster through :class:`~nomadlab.client.NomadClient`.

    Endpoints: ``GET /v1/jobs?meta=true``, ``/v1/allocations?resources=true``,
    ``/v1/nodes?resources=true``, ``/v1/evaluations``, ``/v1/deployments``,
    ``/v1/namespaces``, ``/v1/node/pools`` (all pages); per object ``/v1/job/:id``,
    ``/v1/job/:id/versions?diffs=true``, ``/v1/job/:id/scale``, ``/v1/node/:id``, ``/v1/client/stats?node_id=``,
    ``/v1/client/allocation/:id/stats`` (fanned out on a thread pool).
    """

    def __init__(self, client: NomadClient, *, progress: bool = False, max_workers: int = 8) -> None:
        self.client = client
        self.progress = progress
        self.max_workers = max_workers

    def __repr__(self) -> str:
        return f"LiveSource({self.client!r})"

    def list(self, kind: ListKind, *, namespace: str = "*", filter: str | None = None) -> list[dict[str, Any]]:
        if kind not in _LIST_PATHS:
            raise ValueError(f"unknown list kind {kind!r}; expected one of {', '.join(LIST_KINDS)}")
        path, params = _LIST_PATHS[kind]
        ns = namespace if kind in _NAMESPACED else None
        reply = self.client.get_all(path, params=params, namespace=ns, filter=filter)
        body = reply.body
        rows = list(body) if isinstance(body, list) else []
        if not rows and kind in _NAMESPACED and namespace == "*":
            _warn_if_blind(self.client, kind)
        return rows

    def pages(self, kind: ListKind, *, namespace: str = "*", filter: str | None = None,
              fields: Fields | None = None) -> Generator[Page, None, None]:
        """The objects of ``kind`` page by page (:data:`PAGE_SIZES`), each next page asked for
        while the current one is being worked on. With ``fields``, only those are decoded (as
        dicts, or as records where the fields say so); without, each object whole, as a dict."""
        if kind not in _LIST_PATHS:
            raise ValueError(f"unknown list kind {kind!r}; expected one of {', '.join(LIST_KINDS)}")
        from nomadlab._json import decoder_for

        path, params = _LIST_PATHS[kind]
        ns = namespace if kind in _NAMESPACED else None
        decode = None if fields is None else decoder_for(fields, many=True)
        with closing(self.client.pages(path, params=params, namespace=ns, filter=filter,
                                       per_page=PAGE_SIZES.get(kind), prefetch=True, decode=decode)) as replies:
            seen = 0
            for reply in replies:
                body = reply.body
                del reply
                if not isinstance(body, list):
                    from nomadlab.errors import NomadDecodeError

                    raise NomadDecodeError(f"GET {path} did not return a list")
                seen += len(body)
                if not seen and kind in _NAMESPACED and namespace == "*":
                    _warn_if_blind(self.client, kind)
                yield body
                del body            # the source keeps no page: the caller decides how long one lives

    def details(self, kind: DetailKind, keys: Sequence[Hashable]) -> Details:
        requests: dict[str, str] = {}
        by_request: dict[str, Hashable] = {}
        for key in keys:
            if kind in ("job", "job_versions", "job_scale"):
                from urllib.parse import quote

                if not isinstance(key, tuple) or len(key) != 2:
                    raise ValueError(f"{kind} keys are (namespace, job_id) pairs, got {key!r}")
                ns, job_id = key

                path = f"/v1/job/{quote(str(job_id), safe='')}" + _JOB_SUFFIX[kind]
                rid = f"{ns}\x00{job_id}"
                requests[rid] = path + f"{'&' if '?' in path else '?'}namespace={quote(str(ns), safe='')}"
            elif kind == "node":
                rid, requests[str(key)] = str(key), f"/v1/node/{key}"
            elif kind == "node_stats":
                rid, requests[str(key)] = str(key), f"/v1/client/stats?node_id={key}"
            elif kind == "alloc_stats":
                rid, requests[str(key)] = str(key), f"/v1/client/allocation/{key}/stats"
            else:
                raise ValueError(f"unknown detail kind {kind!r}; expected one of {', '.join(DETAIL_KINDS)}")
            by_request[rid] = key
        if not requests:
            return Details({}, {})
        result = self.client.fan_out(requests, max_workers=self.max_workers, progress=self.progress,
                                     desc=f"GET {kind}")
        objects = {by_request[k]: reply.body for k, reply in result.replies.items()}
        errors = {by_request[f.key]: str(f.error) for f in result.errors}
        return Details(objects, errors)


class CachedSource:
    """Wraps a source so that each distinct question is asked once.

    Use one when building several frames from the same objects (``allocations``, ``tasks``
    and ``task_events`` all read the allocation list):

    >>> from nomadlab.sim import SimCluster
    >>> from nomadlab.client import NomadClient
    >>> src = CachedSource(LiveSource(NomadClient(transport=SimCluster.default().transport())))
    >>> src.list("allocations") is src.list("allocations")
    True

    Frames read lists page by page with the fields they need (:func:`iter_pages`); the
    cache keeps those pages as the wrapped source gave them (decoded projections, when it
    projects), so the first frame pays for one paged, projected fetch and the others for
    nothing but their own building. Pages are kept only once every page of a list is in: a
    reader that stops early leaves nothing half-read behind. :meth:`list` answers from pages
    kept without a projection, and the other way round.

    Frames that are built together (``allocations``, ``tasks`` and ``task_events``) keep
    what they built instead (:meth:`memo`): the first of them builds all three in one pass,
    as :func:`~nomadlab.frames.allocation_frames` does, and the others are copies of what it
    built, so three frames cost one fetch and one build, and the decoded pages are not kept.
    """

    def __init__(self, source: Source) -> None:
        self.source = source
        self._lists: dict[tuple[str, str, str | None], list[dict[str, Any]]] = {}
        self._pages: dict[tuple[str, str, str | None, Fields | None], list[Page]] = {}
        self._details: dict[tuple[str, Hashable], Any] = {}
        self._memo: dict[Hashable, Any] = {}

    def __repr__(self) -> str:
        return f"CachedSource({self.source!r})"

    def clear(self) -> None:
        """Forget every answer kept (the next questions go to the wrapped source again)."""
        self._lists.clear()
        self._pages.clear()
        self._details.clear()
        self._memo.clear()

    def memo(self, key: Hashable, build: Callable[[Source], _T]) -> _T:
        """``build(source)`` once per ``key``, and what it returned every time after.

        ``source`` answers as this cache does, from what it keeps, except that the pages it
        reads are not kept (what is kept is ``build``'s result). Frames keep the typed frames
        of one fetch this way; the caller copies what it hands out.
        """
        if key not in self._memo:
            self._memo[key] = build(_Unkept(self))
        result: _T = self._memo[key]
        return result

    def list(self, kind: ListKind, *, namespace: str = "*", filter: str | None = None) -> list[dict[str, Any]]:
        key = (kind, namespace, filter)
        if key not in self._lists:
            whole = self._pages.get((kind, namespace, filter, None))
            self._lists[key] = ([obj for page in whole for obj in page] if whole is not None
                                else self.source.list(kind, namespace=namespace, filter=filter))
        return self._lists[key]

    def pages(self, kind: ListKind, *, namespace: str = "*", filter: str | None = None,
              fields: Fields | None = None) -> Generator[Page, None, None]:
        """The wrapped source's pages of ``kind`` (see :func:`iter_pages`), asked for once per
        ``(kind, namespace, filter, fields)``."""
        return self._read(kind, namespace=namespace, filter=filter, fields=fields, keep=True)

    def _read(self, kind: ListKind, *, namespace: str, filter: str | None, fields: Fields | None,
              keep: bool) -> Generator[Page, None, None]:
        key = (kind, namespace, filter, fields)
        kept = self._pages.get(key)
        if kept is None and (kind, namespace, filter) in self._lists:
            kept = [self._lists[(kind, namespace, filter)]]   # whole objects: any projection of them
        if kept is not None:
            yield from kept
            return
        got: list[Page] = []
        with closing(iter_pages(self.source, kind, namespace=namespace, filter=filter, fields=fields)) as each:
            for page in each:
                if keep:
                    got.append(page)
                yield page
                del page
        if keep:
            self._pages[key] = got

    def details(self, kind: DetailKind, keys: Sequence[Hashable]) -> Details:
        missing = [k for k in keys if (kind, k) not in self._details]
        errors: dict[Hashable, str] = {}
        if missing:
            fetched = self.source.details(kind, missing)
            for k, obj in fetched.objects.items():
                self._details[(kind, k)] = obj
            errors = dict(fetched.errors)
        objects = {k: self._details[(kind, k)] for k in keys if (kind, k) in self._details}
        return Details(objects, errors)


class _Unkept:
    """A :class:`CachedSource` that reads pages without keeping them (see :meth:`CachedSource.memo`)."""

    def __init__(self, cache: CachedSource) -> None:
        self.cache = cache

    def __repr__(self) -> str:
        return repr(self.cache)

    def list(self, kind: ListKind, *, namespace: str = "*", filter: str | None = None) -> list[dict[str, Any]]:
        return self.cache.list(kind, namespace=namespace, filter=filter)

    def pages(self, kind: ListKind, *, namespace: str = "*", filter: str | None = None,
              fields: Fields | None = None) -> Generator[Page, None, None]:
        return self.cache._read(kind, namespace=namespace, filter=filter, fields=fields, keep=False)

    def details(self, kind: DetailKind, keys: Sequence[Hashable]) -> Details:
        return self.cache.details(kind, keys)


def _warn_if_blind(client: NomadClient, kind: str) -> None:
    """Warn when an empty list across namespaces may only mean the token can read nothing."""
    message = client.access_warning()
    if message:
        import warnings

        from nomadlab.errors import NomadAccessWarning

        warnings.warn(f"no {kind} in any namespace: {message}", NomadAccessWarning, stacklevel=4)


def iter_pages(source: Source, kind: ListKind, *, namespace: str = "*", filter: str | None = None,
               fields: Fields | None = None) -> Generator[Page, None, None]:
    """``source``'s objects of ``kind`` page by page: its ``pages`` when it has one (passing
    ``fields`` on: the objects may then be records, see :class:`nomadlab._json.Fields`), else
    its whole :meth:`~Source.list` as one page. Close it (or run it to the end) to stop the
    source's reading ahead."""
    pages = getattr(source, "pages", None)
    if callable(pages):
        each = pages(kind, namespace=namespace, filter=filter, fields=fields)
        try:
            yield from each
        finally:
            close = getattr(each, "close", None)   # a generator: stop its reading ahead
            if callable(close):
                close()
    else:
        yield source.list(kind, namespace=namespace, filter=filter)


def as_source(obj: Any) -> Source:
    """A :class:`Source` from a source, a :class:`~nomadlab.client.NomadClient` or ``None``.

    ``None`` connects with :class:`~nomadlab.client.NomadClient` defaults (``NOMAD_ADDR``...).
    """
    from nomadlab.client import NomadClient

    if obj is None:
        return LiveSource(NomadClient())
    if isinstance(obj, NomadClient):
        return LiveSource(obj)
    if isinstance(obj, Source):
        return obj
    raise TypeError(
        f"expected a NomadClient or a Source (with list() and details()), got {type(obj).__name__}"
    )
