"""``POST /v1/search`` (prefix) and ``POST /v1/search/fuzzy`` (REFERENCE §11.9, ``nomad/search_endpoint.go``).

Contexts are Nomad's community-edition list; ``all`` searches each the token may read. For each
context up to 20 candidates are read from the ID (or name) index at the prefix, those not
starting with the exact prefix are dropped, and ``Truncations`` says whether more were left. For
UUID contexts an odd-length prefix is rounded down for the lookup (hyphens not counted), and a
prefix that is not a UUID prefix (non-hex, over 36 characters, more than four hyphens) leaves the
context out of the answer, as Nomad silences those lookup errors. ``X-Nomad-Index`` is the
highest index of the searched tables.

The fuzzy search walks the first ``limit_query`` (20) objects of each context the token may read
and keeps those whose name contains the text, up to ``limit_results`` (100) per context, with the
agent's default ``search`` block (``fuzzy_enabled``, ``min_term_length`` 2): see
:func:`fuzzy_search`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from .. import request_types
from ..acl import PERMISSION_DENIED, acl_of
from ..errors import NomadHTTPError
from ..gojson import Struct
from ..http import Request, Response
from ..router import Router, json_response
from .common import ci_get, decode_body
from .scaling import scaling_policies

if TYPE_CHECKING:
    from ..acl import ACL
    from ..cluster import SimCluster

__all__ = ["register", "CONTEXTS", "SearchConfig", "DEFAULT_SEARCH_CONFIG", "fuzzy_search", "search"]

CONTEXTS = ("allocs", "jobs", "nodes", "node_pools", "evals", "deployment", "plugins", "volumes",
            "scaling_policy", "vars", "namespaces", "host_volumes")
_UUID_CONTEXTS = ("allocs", "nodes", "evals", "deployment", "scaling_policy", "host_volumes")
_TABLES = {"allocs": "allocs", "jobs": "jobs", "nodes": "nodes", "node_pools": "node_pools", "evals": "evals",
           "deployment": "deployment", "namespaces": "namespaces", "scaling_policy": "jobs"}
TRUNCATE_LIMIT = 20


def _uuid_prefix_ok(prefix: str) -> bool:
    return prefix.count("-") <= 4 and len(prefix) <= 36 and all(ch in "0123456789abcdefABCDEF-" for ch in prefix)


def _round_down(prefix: str, context: str) -> str:
    if context == "jobs":
        return prefix
    digits = len(prefix) - prefix.count("-")
    return prefix if digits % 2 == 0 else prefix[:-1]


def _readable(acl: ACL | None, namespace: str, context: str) -> bool:
    """``sufficientSearchPerms`` / ``filteredSearchContexts``."""
    if acl is None or acl.management:
        return True
    if context == "nodes":
        return acl.allow_level("node", "read")
    if context == "node_pools":
        return True  # node pools are filtered one by one
    if context == "namespaces":
        return acl.allow_namespace(namespace)
    if context in ("allocs", "jobs", "evals", "deployment"):
        return acl.allow_ns(namespace, "read-job")
    if context == "scaling_policy":
        return acl.allow_ns(namespace, "list-scaling-policies", "read-job")
    if context == "volumes":
        return acl.allow_ns(namespace, "csi-list-volume", "csi-read-volume", "list-jobs", "read-job")
    if context == "host_volumes":
        return acl.allow_ns(namespace, "host-volume-read")
    return False  # vars (variable rules) and plugins (plugin rules) are not simulated


def _ids(c: SimCluster, context: str, namespace: str, acl: ACL | None) -> list[str]:
    s = c.state

    def in_ns(ns: str) -> bool:
        return namespace == "*" or ns == namespace

    if context == "jobs":
        return sorted(jid for (ns, jid) in s.jobs if in_ns(ns))
    if context == "allocs":
        return sorted(a["ID"] for a in s.allocs.values() if in_ns(a["Namespace"]))
    if context == "evals":
        return sorted(e["ID"] for e in s.evals.values() if in_ns(e["Namespace"]))
    if context == "deployment":
        return sorted(d["ID"] for d in s.deployments.values() if in_ns(d["Namespace"]))
    if context == "nodes":
        return sorted(s.nodes)
    if context == "node_pools":
        return sorted(p for p in s.node_pools if acl is None or acl.allow_node_pool(p, "read"))
    if context == "namespaces":
        return sorted(n for n in s.namespaces if acl is None or acl.allow_namespace(n))
    if context == "scaling_policy":
        return [p["ID"] for p in scaling_policies(c) if in_ns(p["Target"]["Namespace"])]
    return []  # plugins, volumes, host volumes, variables: none simulated


def search(c: SimCluster, req: Request) -> Response:
    """PUT/POST /v1/search: ``{Prefix, Context, Namespace}``."""
    if req.method not in ("PUT", "POST"):
        raise NomadHTTPError(405, "Invalid method")
    body = decode_body(req, request_types.SEARCH)
    prefix = str(ci_get(body, "Prefix") or "")
    context = str(ci_get(body, "Context") or "")
    namespace = req.param("namespace") or ci_get(body, "Namespace") or "default"
    acl = acl_of(req)
    if context != "all" and context in CONTEXTS and not _readable(acl, namespace, context):
        raise NomadHTTPError(403, PERMISSION_DENIED)
    if context != "all" and context not in CONTEXTS:
        listed = "[" + " ".join(CONTEXTS) + "]"
        raise NomadHTTPError(500, f"context must be one of {listed} or 'all' for all contexts; got \"{context}\"")
    wanted = list(CONTEXTS) if context == "all" else [context]
    contexts = [ctx for ctx in wanted if _readable(acl, namespace, ctx)]
    matches: dict[str, Any] = {}
    truncations: dict[str, bool] = {}
    lookup = _round_down(prefix, context)
    with c.state.lock:
        for ctx in contexts:
            if ctx in _UUID_CONTEXTS and not _uuid_prefix_ok(lookup):
                continue  # the UUID index refuses the prefix: Nomad leaves the context out
            candidates = [i for i in _ids(c, ctx, namespace, acl) if i.startswith(lookup)]
            found = [i for i in candidates[:TRUNCATE_LIMIT] if i.startswith(prefix)]
            matches[ctx] = found or None
            truncations[ctx] = len(candidates) > TRUNCATE_LIMIT
        index = max((c.state.table_index.get(_TABLES[ctx], 0) for ctx in contexts if ctx in _TABLES), default=0)
    reply = {"Matches": matches, "Truncations": truncations, "Index": index, "LastContact": 0,
             "KnownLeader": True, "NextToken": ""}
    return json_response(req, reply, index=index, meta=True)


def register(router: Router) -> None:
    router.add("*", r"/v1/search", search)
    router.add("*", r"/v1/search/fuzzy", fuzzy_search)


# -- /v1/search/fuzzy -------------------------------------------------------------------------

FUZZY_SEARCH = Struct("structs.FuzzySearchRequest", {
    "Text": "string", "Context": "string", "Prefix": "string", "Region": "string", "Namespace": "string",
    "AuthToken": "string",
})


@dataclass(frozen=True)
class SearchConfig:
    """The agent's ``search`` block (``command/agent/config.go`` defaults)."""

    fuzzy_enabled: bool = True
    limit_query: int = 20
    limit_results: int = 100
    min_term_length: int = 2


DEFAULT_SEARCH_CONFIG = SearchConfig()
# searched by UUID prefix even in a fuzzy search; the others by name, fuzzily
_PREFIX_ONLY = ("evals", "deployment", "scaling_policy", "volumes", "host_volumes")
_JOB_CONTEXTS = ("jobs", "groups", "services", "tasks", "images", "commands", "classes")
_FUZZY_TABLES = {**_TABLES, "plugins": "plugins", "volumes": "volumes", "vars": "variables",
                 "host_volumes": "host_volumes"}
_DRIVER_FIELD = {"docker": ("images", "image"), "exec": ("commands", "command"),
                 "raw_exec": ("commands", "command"), "java": ("classes", "class")}


@dataclass(order=True)
class _Match:
    score: int
    length: int
    id: str
    scope: list[str] = field(compare=False)


def _fuzzy_index(name: str, text: bytes) -> int:
    """Go's ``strings.Index(strings.ToLower(name), text)``: a byte offset, or -1."""
    return name.lower().encode().find(text)


def _match(name: str, text: bytes, scope: list[str]) -> _Match | None:
    idx = _fuzzy_index(name, text)
    return None if idx < 0 else _Match(idx, len(name.encode()), name, scope)


def _job_matches(job: dict[str, Any], text: bytes) -> dict[str, list[_Match]]:
    """``fuzzyMatchesJob``: the job's name, its groups, services, tasks and driver fields."""
    out: dict[str, list[_Match]] = {}
    ns, jid = job["Namespace"], job["ID"]

    def add(ctx: str, name: Any, *scope: str) -> None:
        if isinstance(name, str):
            m = _match(name, text, [ns, *scope])
            if m is not None:
                out.setdefault(ctx, []).append(m)

    add("jobs", job.get("Name") or "", jid)
    for tg in job.get("TaskGroups") or ():
        gname = tg.get("Name") or ""
        add("groups", gname, jid)
        for svc in tg.get("Services") or ():
            add("services", svc.get("Name") or "", jid, gname)
        for t in tg.get("Tasks") or ():
            tname = t.get("Name") or ""
            add("tasks", tname, jid, gname)
            for svc in t.get("Services") or ():
                add("services", svc.get("Name") or "", jid, gname, tname)
            driver = _DRIVER_FIELD.get(t.get("Driver") or "")
            if driver is not None:
                value = (t.get("Config") or {}).get(driver[1])
                add(driver[0], value if isinstance(value, str) else "", jid, gname, tname)
    return out


def _fuzzy_objects(c: SimCluster, context: str, namespace: str, acl: ACL | None) -> list[Any]:
    """``getFuzzyResourceIterator``: the objects walked, in their index's order; with ``*``,
    every namespace, filtered by what the token may read (``nsCapFilter``)."""
    s = c.state
    star = namespace == "*"

    def job_ok(ns: str) -> bool:
        return (ns == namespace) if not star else (acl is None or acl.allow_ns(ns, "read-job"))

    if context == "jobs":
        return sorted((j for (ns, _), j in s.jobs.items() if job_ok(ns)), key=lambda j: (j["Namespace"], j["ID"]))
    if context == "allocs":
        return sorted((a for a in s.allocs.values() if job_ok(a["Namespace"])), key=lambda a: a["ID"])
    if context == "nodes":
        if star and acl is not None and not acl.allow_level("node", "read"):
            return []
        return [s.nodes[k] for k in sorted(s.nodes)]
    if context == "node_pools":
        return [s.node_pools[p] for p in sorted(s.node_pools) if acl is None or acl.allow_node_pool(p, "read")]
    if context == "namespaces":
        return [s.namespaces[n] for n in sorted(s.namespaces) if acl is None or acl.allow_namespace(n)]
    return []  # plugins and variables: none simulated


def _single(context: str, obj: dict[str, Any], text: bytes) -> _Match | None:
    """``fuzzyMatchSingle``: a node by name (scope its ID), a pool or namespace by name, an
    allocation by name (scope namespace and ID)."""
    if context == "nodes":
        return _match(obj.get("Name") or "", text, [obj["ID"]])
    if context == "node_pools":
        return _match(obj["Name"], text, [obj["Name"]])
    if context == "namespaces":
        return _match(obj["Name"], text, [])
    if context == "allocs":
        return _match(obj.get("Name") or "", text, [obj["Namespace"], obj["ID"]])
    return None


def _fuzzy_matches(context: str, objects: list[Any], text: bytes,
                   config: SearchConfig) -> tuple[dict[str, list[_Match]], dict[str, bool]]:
    """``getFuzzyMatches``: the first ``limit_query`` objects are matched; a context is truncated
    when it holds ``limit_results`` matches, or when the last object read matches while more
    remain."""
    found: dict[str, list[_Match]] = {}
    truncated: dict[str, bool] = {}

    def accumulate(limited: bool, sets: dict[str, list[_Match]]) -> None:
        for ctx, matches in sets.items():
            for m in matches:
                if len(found.get(ctx, ())) >= config.limit_results:
                    truncated[ctx] = True
                    return
                found.setdefault(ctx, []).append(m)
                if limited:
                    truncated[ctx] = True
                    return

    for i, obj in enumerate(objects[:config.limit_query]):
        limited = i == config.limit_query - 1 and len(objects) > config.limit_query
        if context == "jobs":
            accumulate(limited, _job_matches(obj, text))
        else:
            m = _single(context, obj, text)
            if m is not None:
                accumulate(limited, {context: [m]})
    for matches in found.values():
        matches.sort()
    return found, truncated


def fuzzy_search(c: SimCluster, req: Request) -> Response:
    """PUT/POST /v1/search/fuzzy: ``{Text, Context, Namespace}`` (``Search.FuzzySearch``).

    Names containing ``Text`` (case-insensitively) in the contexts the token may read: jobs
    (expanded into groups, services, tasks, images, commands and classes, each with its
    ``Scope`` of parent IDs), allocations, nodes, node pools, namespaces; evaluations,
    deployments and scaling policies by ID prefix. Matches are sorted by where the text
    occurs, then by length, then by name.
    """
    if req.method not in ("PUT", "POST"):
        raise NomadHTTPError(405, "Invalid method")
    body = decode_body(req, FUZZY_SEARCH)
    raw_text = ci_get(body, "Text")
    text_in = raw_text if isinstance(raw_text, str) else ""
    context = str(ci_get(body, "Context") or "")
    namespace = req.param("namespace") or ci_get(body, "Namespace") or "default"
    prefix = req.param("prefix") or str(ci_get(body, "Prefix") or "")
    config = DEFAULT_SEARCH_CONFIG
    acl = acl_of(req)
    star = namespace == "*"
    if not star and not _sufficient(acl, namespace, context):
        raise NomadHTTPError(403, PERMISSION_DENIED)
    if not config.fuzzy_enabled:
        raise NomadHTTPError(500, "fuzzy search is not enabled")
    n = len(text_in.encode())
    if n < config.min_term_length:
        raise NomadHTTPError(500, f"fuzzy search query must be at least {config.min_term_length} characters, "
                                  f"got {n}")
    text = text_in.lower().encode()
    wanted = list(CONTEXTS) if context == "all" else [context]
    contexts = wanted if star else [ctx for ctx in wanted if _readable_or_unknown(acl, namespace, ctx)]
    matches: dict[str, list[dict[str, Any]]] = {}
    truncations: dict[str, bool] = {}
    with c.state.lock:
        for ctx in contexts:
            if ctx not in CONTEXTS:
                listed = "[" + " ".join(CONTEXTS) + "]"
                raise NomadHTTPError(500, f"context must be one of {listed} or 'all' for all contexts; "
                                          f"got \"{ctx}\"")
        for ctx in contexts:
            if ctx in _PREFIX_ONLY:
                lookup = _round_down(prefix, context)
                if ctx in _UUID_CONTEXTS and not _uuid_prefix_ok(lookup):
                    continue  # the UUID index refuses the prefix: Nomad leaves the context out
                ids = [i for i in _ids(c, ctx, namespace, acl) if i.startswith(lookup)]
                # getPrefixMatches reads up to 20 and keeps those starting with the *text*
                matches[ctx] = [{"ID": i} for i in ids[:TRUNCATE_LIMIT] if i.startswith(text_in)]
                truncations[ctx] = len(ids) > TRUNCATE_LIMIT
        for ctx in contexts:
            if ctx in _PREFIX_ONLY:
                continue
            truncations[ctx] = False
            found, cut = _fuzzy_matches(ctx, _fuzzy_objects(c, ctx, namespace, acl), text, config)
            for sub, ms in found.items():
                matches[sub] = [{"ID": m.id, "Scope": m.scope} if m.scope else {"ID": m.id} for m in ms]
            truncations.update(cut)
        index = max((c.state.table_index.get(_FUZZY_TABLES.get(ctx, ctx), 0) for ctx in contexts), default=0)
    reply = {"Matches": matches, "Truncations": truncations, "Index": index, "LastContact": 0,
             "KnownLeader": True, "NextToken": ""}
    return json_response(req, reply, index=index, meta=True)


def _sufficient(acl: ACL | None, namespace: str, context: str) -> bool:
    """``sufficientSearchPerms``: the named context's permission; ``all`` and unknown contexts pass."""
    if context not in CONTEXTS:
        return True
    return _readable(acl, namespace, context)


def _readable_or_unknown(acl: ACL | None, namespace: str, context: str) -> bool:
    """``filteredSearchContexts``: unknown contexts are kept (to fail later, as Nomad's do)."""
    return context not in CONTEXTS or _readable(acl, namespace, context)
