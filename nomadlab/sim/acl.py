"""ACLs as Nomad enforces them: tokens, policies written in HCL, capabilities per namespace.

With ACLs enabled, every request resolves a token (``X-Nomad-Token``, else
``Authorization: Bearer``; none means the ``anonymous`` policy) and each route's requirement
(a namespace capability, a node/agent/operator level, or a management token) is checked before
the handler runs. Policies are parsed from HCL with python-hcl2; shorthands (``read``,
``write``, ``scale``, ``deny``) expand to Nomad's capability lists (REFERENCE §8).
"""

from __future__ import annotations

import base64
import fnmatch
import hashlib
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from .errors import NomadHTTPError
from .http import Request

if TYPE_CHECKING:
    from .cluster import SimCluster

__all__ = [
    "ACL", "Requirement", "parse_policy", "resolve", "check", "PERMISSION_DENIED", "expand", "acl_of",
    "visible", "require_ns",
]

PERMISSION_DENIED = "Permission denied"

_READ = {"list-jobs", "parse-job", "read-job", "csi-list-volume", "csi-read-volume", "read-job-scaling",
         "list-scaling-policies", "read-scaling-policy", "host-volume-read"}
_WRITE = _READ | {"scale-job", "submit-job", "dispatch-job", "read-logs", "read-fs", "alloc-exec",
                  "alloc-lifecycle", "csi-mount-volume", "csi-write-volume", "submit-recommendation",
                  "host-volume-create"}
_SCALE = {"list-scaling-policies", "read-scaling-policy", "read-job-scaling", "scale-job", "read-job",
          "submit-recommendation"}
_SHORTHANDS = {"read": _READ, "write": _WRITE, "scale": _SCALE, "deny": {"deny"}, "": set()}
_LEVELS = {"deny": -1, "": 0, "list": 1, "read": 2, "write": 3}


def expand(policy: str, capabilities: list[str] | None = None) -> frozenset[str]:
    """A namespace rule's capabilities: the shorthand's list plus explicit ones."""
    if policy not in _SHORTHANDS:
        raise ValueError(f"Invalid namespace policy: {policy!r}")
    return frozenset(_SHORTHANDS[policy] | set(capabilities or ()))


def _unquote(value: Any) -> Any:
    if isinstance(value, str) and len(value) >= 2 and value[0] == value[-1] == '"':
        return value[1:-1]
    if isinstance(value, list):
        return [_unquote(v) for v in value]
    if isinstance(value, dict):
        return {_unquote(k): _unquote(v) for k, v in value.items() if k != "__is_block__"}
    return value


@dataclass(frozen=True)
class ParsedPolicy:
    namespaces: dict[str, frozenset[str]]
    node: str = ""
    agent: str = ""
    operator: str = ""
    node_pools: dict[str, str] = field(default_factory=dict)


def parse_policy(rules: str) -> ParsedPolicy:
    """Parse a policy's HCL rules; raises ``ValueError`` with a readable reason."""
    import hcl2  # python-hcl2: loaded only when ACLs are used

    try:
        raw = _unquote(hcl2.loads(rules)) if rules.strip() else {}
    except Exception as exc:  # the parser raises several lark error types
        raise ValueError(f"failed to parse ACL policy: {exc}") from None
    namespaces: dict[str, frozenset[str]] = {}
    for block in raw.get("namespace", []) or []:
        for name, body in block.items():
            namespaces[name] = expand(body.get("policy", ""), body.get("capabilities"))
    pools: dict[str, str] = {}
    for block in raw.get("node_pool", []) or []:
        for name, body in block.items():
            pools[name] = body.get("policy", "")

    def level(key: str) -> str:
        blocks = raw.get(key) or []
        value = blocks[0].get("policy", "") if blocks else ""
        if value not in _LEVELS:
            raise ValueError(f"Invalid {key} policy: {value!r}")
        return str(value)

    return ParsedPolicy(namespaces=namespaces, node=level("node"), agent=level("agent"),
                        operator=level("operator"), node_pools=pools)


def _closest_glob(globs: dict[str, set[str]], name: str) -> set[str] | None:
    """The capability set of the glob closest to ``name`` (fewest characters left to the ``*``)."""
    best: tuple[int, str] | None = None
    for pattern in globs:
        if fnmatch.fnmatchcase(name, pattern):
            difference = len(name) - len(pattern.replace("*", ""))
            if best is None or difference < best[0]:
                best = (difference, pattern)
    return globs[best[1]] if best else None


@dataclass
class ACL:
    """What one token may do, merged from its policies as Nomad's ``acl.NewACL`` merges them.

    Rules for the same namespace name (or the same glob) are united across policies; a ``deny``
    replaces every other capability of that name, whatever the order. A namespace is looked up
    exactly first, then by its closest glob. ``*`` as a namespace (``?namespace=*``) is allowed
    an operation when any namespace rule of the token allows it.
    """

    management: bool = False
    policies: list[ParsedPolicy] = field(default_factory=list)
    token: dict[str, Any] | None = None
    _exact: dict[str, set[str]] = field(default_factory=dict, init=False, repr=False)
    _globs: dict[str, set[str]] = field(default_factory=dict, init=False, repr=False)
    _pools_exact: dict[str, set[str]] = field(default_factory=dict, init=False, repr=False)
    _pools_globs: dict[str, set[str]] = field(default_factory=dict, init=False, repr=False)

    def __post_init__(self) -> None:
        for policy in self.policies:
            for name, caps in policy.namespaces.items():
                self._merge(self._globs if "*" in name else self._exact, name, caps)
            for name, level in policy.node_pools.items():
                pool_caps = _POOL_CAPS.get(level, frozenset())
                self._merge(self._pools_globs if "*" in name else self._pools_exact, name, pool_caps)

    @staticmethod
    def _merge(table: dict[str, set[str]], name: str, caps: frozenset[str]) -> None:
        have = table.setdefault(name, set())
        if "deny" in have:
            return
        if "deny" in caps:
            have.clear()
            have.add("deny")
            return
        have.update(caps)

    def _ns_caps(self, namespace: str) -> set[str] | None:
        if namespace in self._exact:
            return self._exact[namespace]
        return _closest_glob(self._globs, namespace)

    def allow_ns(self, namespace: str, *capabilities: str) -> bool:
        """Nomad's ``AllowNamespaceOperation`` for any of ``capabilities``."""
        if self.management:
            return True
        if namespace == "*" and self.any_ns(*capabilities):
            return True
        have = self._ns_caps(namespace)
        if not have or "deny" in have:
            return False
        return any(c in have for c in capabilities)

    def allow_namespace(self, namespace: str) -> bool:
        """Nomad's ``AllowNamespace``: any operation at all on ``namespace`` (not ``deny``)."""
        if self.management:
            return True
        if namespace == "*" and any(c and "deny" not in c for c in (*self._exact.values(), *self._globs.values())):
            return True
        have = self._ns_caps(namespace)
        return bool(have) and "deny" not in (have or ())

    def any_ns(self, *capabilities: str) -> bool:
        """Whether any namespace rule (exact or glob) allows one of ``capabilities``."""
        if self.management:
            return True
        return any("deny" not in c and any(x in c for x in capabilities)
                   for c in (*self._exact.values(), *self._globs.values()))

    def allow_node_pool(self, pool: str, capability: str = "read") -> bool:
        """Nomad's ``AllowNodePoolOperation``."""
        if self.management:
            return True
        have = self._pools_exact.get(pool)
        if have is None:
            have = _closest_glob(self._pools_globs, pool)
        return bool(have) and "deny" not in (have or ()) and capability in (have or ())

    def allow_level(self, kind: str, wanted: str) -> bool:
        if self.management:
            return True
        best = max((_LEVELS[getattr(p, kind)] for p in self.policies), default=0)
        if any(getattr(p, kind) == "deny" for p in self.policies):
            return False
        return best >= _LEVELS[wanted]


_POOL_CAPS = {"deny": frozenset({"deny"}), "read": frozenset({"read"}),
              "write": frozenset({"read", "write", "delete"}), "": frozenset()}


@dataclass(frozen=True)
class Requirement:
    """What a route needs: ``kind`` is ``ns``, ``node``, ``agent``, ``operator``, ``mgmt``,
    ``auth`` or ``none``.

    ``ns`` checks ``caps`` on the request's namespace (``?namespace=``, default ``default``);
    ``auth`` only authenticates the token (an unknown or expired one is 403) and leaves the
    check to the handler, which knows the object's namespace (an allocation's, a job body's).
    """

    kind: str
    caps: tuple[str, ...] = ()
    level: str = "read"


def secret_of(req: Request) -> str:
    token = req.headers.get("x-nomad-token", "").strip()
    if token:
        return token
    auth = req.headers.get("authorization", "")
    scheme, _, rest = auth.partition(" ")
    if scheme.lower() == "bearer" and rest.strip():
        return rest.strip().split(" ")[0]
    return ""


def resolve(cluster: SimCluster, req: Request) -> ACL:
    """The ACL of the request's token; unknown or expired secrets are 403 ``Permission denied``.

    Nomad's RPC endpoints turn every authentication failure (``ACL token not found``,
    ``ACL token expired``) into ``structs.ErrPermissionDenied`` (``nomad/auth/auth.go`` and
    each ``*_endpoint.go``).
    """
    cached = req.context.get("acl")
    if isinstance(cached, ACL):
        return cached
    secret = secret_of(req)
    store = cluster.acl
    if not secret:
        anon = store.policies.get("anonymous")
        return ACL(policies=[anon["_parsed"]] if anon else [])
    token = store.by_secret(secret)
    if token is None:
        raise NomadHTTPError(403, PERMISSION_DENIED)
    if store.expired(token, cluster.now_ns()):
        raise NomadHTTPError(403, PERMISSION_DENIED)
    if token["Type"] == "management":
        return ACL(management=True, token=token)
    parsed = [store.policies[p]["_parsed"] for p in token.get("Policies") or () if p in store.policies]
    return ACL(policies=parsed, token=token)


def check(cluster: SimCluster, req: Request, need: Requirement | None) -> None:
    """Enforce ``need`` for ``req``; stores the resolved ACL on the request for the handler."""
    if not cluster.acl.enabled or need is None or need.kind == "none":
        return
    acl = resolve(cluster, req)
    req.context["acl"] = acl
    ok: bool
    if need.kind == "auth":
        ok = True
    elif need.kind == "mgmt":
        ok = acl.management
    elif need.kind == "ns":
        ok = acl.allow_ns(req.param("namespace") or "default", *need.caps)
    else:
        ok = acl.allow_level(need.kind, need.level)
    if not ok:
        raise NomadHTTPError(403, PERMISSION_DENIED)


def acl_of(req: Request) -> ACL | None:
    """The ACL resolved for ``req`` by :func:`check`, or ``None`` when ACLs are off."""
    acl = req.context.get("acl")
    return acl if isinstance(acl, ACL) else None


def visible(req: Request, namespace: str, *caps: str) -> bool:
    """Whether an object in ``namespace`` may appear in an answer to ``req``."""
    acl = acl_of(req)
    if acl is None:
        return True
    return acl.allow_ns(namespace, *(caps or ("read-job",)))


def require_ns(req: Request, namespace: str, *caps: str) -> None:
    """403 ``Permission denied`` unless the token has one of ``caps`` on ``namespace``."""
    if not visible(req, namespace, *caps):
        raise NomadHTTPError(403, PERMISSION_DENIED)


def policy_hash(rules: str, name: str, description: str) -> str:
    return base64.b64encode(hashlib.blake2b(f"{name}{description}{rules}".encode(), digest_size=32).digest()).decode()


class AclStore:
    """Tokens and policies of one simulated cluster."""

    def __init__(self, cluster: SimCluster, *, enabled: bool = False) -> None:
        self.cluster = cluster
        self.enabled = enabled
        self.bootstrap_index = 0
        self.policies: dict[str, dict[str, Any]] = {}
        self.tokens: dict[str, dict[str, Any]] = {}  # by AccessorID
        self._secrets: dict[str, str] = {}  # SecretID → AccessorID

    def by_secret(self, secret: str) -> dict[str, Any] | None:
        accessor = self._secrets.get(secret)
        return self.tokens.get(accessor) if accessor else None

    def expired(self, token: dict[str, Any], now_ns: int) -> bool:
        exp = token.get("_expires_ns")
        return isinstance(exp, int) and exp > 0 and now_ns >= exp

    def upsert_policy(self, name: str, rules: str, description: str = "") -> dict[str, Any]:
        parsed = parse_policy(rules)
        c = self.cluster
        with c.state.lock:
            idx = c.state.next_index()
            old = self.policies.get(name)
            policy = {
                "Name": name, "Description": description, "Rules": rules, "JobACL": None,
                "Hash": policy_hash(rules, name, description),
                "CreateIndex": old["CreateIndex"] if old else idx, "ModifyIndex": idx, "_parsed": parsed,
            }
            self.policies[name] = policy
            c.state.commit(idx, ["acl_policy"])
            return policy

    def create_token(self, *, name: str = "", token_type: str = "client", policies: list[str] | None = None,
                     global_: bool = False, ttl_ns: int = 0, secret: str | None = None) -> dict[str, Any]:
        from . import wire

        c = self.cluster
        with c.state.lock:
            idx = c.state.next_index()
            now = c.now_ns()
            accessor, secret_id = c.new_id(), secret or c.new_id()
            token: dict[str, Any] = {
                "AccessorID": accessor, "SecretID": secret_id, "Name": name, "Type": token_type,
                "Policies": list(policies) if policies else None, "Roles": None, "Global": global_,
                "Hash": "", "CreateTime": wire.rfc3339(now),
                "ExpirationTime": wire.rfc3339(now + ttl_ns) if ttl_ns else None,
                "ExpirationTTL": wire.go_duration(ttl_ns) if ttl_ns else "",
                "CreateIndex": idx, "ModifyIndex": idx,
            }
            token["Hash"] = base64.b64encode(hashlib.blake2b(accessor.encode(), digest_size=32).digest()).decode()
            if ttl_ns:
                token["_expires_ns"] = now + ttl_ns
            self.tokens[accessor] = token
            self._secrets[secret_id] = accessor
            c.state.commit(idx, ["acl_token"])
            return token

    def delete_token(self, accessor: str) -> None:
        """Forget a token (caller holds the state lock and commits ``acl_token``)."""
        token = self.tokens.pop(accessor, None)
        if token is not None:
            self._secrets.pop(token["SecretID"], None)

    def bootstrap(self, secret: str | None = None) -> dict[str, Any]:
        if not self.enabled:
            raise NomadHTTPError(400, "ACL support disabled")
        if self.bootstrap_index:
            raise NomadHTTPError(400, f"ACL bootstrap already done (reset index: {self.bootstrap_index})")
        token = self.create_token(name="Bootstrap Token", token_type="management", global_=True, secret=secret)
        self.bootstrap_index = token["CreateIndex"]
        return token


def public(obj: dict[str, Any]) -> dict[str, Any]:
    """A stored ACL object without its private bookkeeping keys."""
    return {k: v for k, v in obj.items() if not k.startswith("_")}
