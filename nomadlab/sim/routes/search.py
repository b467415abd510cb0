"""``POST /v1/search``: prefix search over IDs and names (REFERENCE §11.9, ``nomad/search_endpoint.go``).

Contexts are Nomad's community-edition list; ``all`` searches each the token may read. For each
context up to 20 candidates are read from the ID (or name) index at the prefix, those not
starting with the exact prefix are dropped, and ``Truncations`` says whether more were left. For
UUID contexts an odd-length prefix is rounded down for the lookup (hyphens not counted), and a
prefix that is not a UUID prefix (non-hex, over 36 characters, more than four hyphens) leaves the
context out of the answer, as Nomad silences those lookup errors. ``X-Nomad-Index`` is the
highest index of the searched tables.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .. import request_types
from ..acl import PERMISSION_DENIED, acl_of
from ..errors import NomadHTTPError
from ..http import Request, Response
from ..router import Router, json_response
from .common import ci_get, decode_body
from .scaling import scaling_policies

if TYPE_CHECKING:
    from ..acl import ACL
    from ..cluster import SimCluster

__all__ = ["register", "CONTEXTS"]

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
