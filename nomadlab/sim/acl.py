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

__all__ = ["ACL", "Requirement", "parse_policy", "resolve", "check", "PERMISSION_DENIED", "expand"]

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


@dataclass
class ACL:
    """What one token may do."""

    management: bool = False
    policies: list[ParsedPolicy] = field(default_factory=list)
    token: dict[str, Any] | None = None

    def _ns_rules(self, namespace: str) -> list[frozenset[str]]:
        out = []
        for p in self.policies:
            if namespace in p.namespaces:
                out.append(p.namespaces[namespace])
                continue
            # The closest glob wins (fewest wildcard characters left unmatched).
            matches = [(len(pat.replace("*", "")), pat) for pat in p.namespaces if fnmatch.fnmatchcase(namespace, pat)]
            if matches:
                out.append(p.namespaces[max(matches)[1]])
        return out

    def allow_ns(self, namespace: str, *capabilities: str) -> bool:
        if self.management:
            return True
        rules = self._ns_rules(namespace)
        if any("deny" in r for r in rules):
            return False
        have = frozenset().union(*rules) if rules else frozenset()
        return any(c in have for c in capabilities)

    def any_ns(self, *capabilities: str) -> bool:
        if self.management:
            return True
        return any(self.allow_ns(ns, *capabilities) for p in self.policies for ns in p.namespaces)

    def allow_level(self, kind: str, wanted: str) -> bool:
        if self.management:
            return True
        best = max((_LEVELS[getattr(p, kind)] for p in self.policies), default=0)
        if any(getattr(p, kind) == "deny" for p in self.policies):
            return False
        return best >= _LEVELS[wanted]


@dataclass(frozen=True)
class Requirement:
    """What a route needs: ``kind`` is ``ns``, ``node``, ``agent``, ``operator``, ``mgmt`` or ``none``."""

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
    """The ACL of the request's token; unknown or expired secrets are 403 ``Permission denied``."""
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
    """Enforce ``need`` for ``req``; stores the resolved ACL on the request for list filtering."""
    if not cluster.acl.enabled or need is None or need.kind == "none":
        return
    acl = resolve(cluster, req)
    req.context["acl"] = acl
    ok: bool
    if need.kind == "mgmt":
        ok = acl.management
    elif need.kind == "ns":
        ns = req.param("namespace") or "default"
        ok = acl.any_ns(*need.caps) if ns == "*" else acl.allow_ns(ns, *need.caps)
        if ns == "*" and not ok:
            ok = True  # lists across namespaces answer [] rather than 403
            req.context["acl_empty"] = True
    else:
        ok = acl.allow_level(need.kind, need.level)
    if not ok:
        raise NomadHTTPError(403, PERMISSION_DENIED)


def visible(req: Request, namespace: str, *caps: str) -> bool:
    """Whether an object in ``namespace`` may appear in a list answered to ``req``."""
    acl = req.context.get("acl")
    if not isinstance(acl, ACL):
        return True
    return acl.allow_ns(namespace, *(caps or ("read-job",)))


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
