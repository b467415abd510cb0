"""What the token may do, read before a write is planned (``GET /v1/acl/token/self``)."""

from __future__ import annotations

import fnmatch
from dataclasses import dataclass
from typing import Any

from nomadlab.client import NomadClient
from nomadlab.errors import BadRequestError, NomadError

__all__ = ["MissingCapabilityError", "Need", "check"]

_READ = {"list-jobs", "parse-job", "read-job", "csi-list-volume", "csi-read-volume", "read-job-scaling",
         "list-scaling-policies", "read-scaling-policy", "host-volume-read"}
_WRITE = _READ | {"scale-job", "submit-job", "dispatch-job", "read-logs", "read-fs", "alloc-exec",
                  "alloc-lifecycle", "csi-mount-volume", "csi-write-volume", "submit-recommendation",
                  "host-volume-create"}
_SCALE = {"list-scaling-policies", "read-scaling-policy", "read-job-scaling", "scale-job"}
_SHORTHANDS = {"read": _READ, "write": _WRITE, "scale": _SCALE}
_LEVELS = {"deny": -1, "": 0, "list": 1, "read": 2, "write": 3}


class MissingCapabilityError(NomadError, PermissionError):
    """The token lacks what the action needs; nothing was sent."""


@dataclass(frozen=True)
class Need:
    """What an action needs: any of ``capabilities`` on ``namespace``, or ``node``/``management``."""

    capabilities: tuple[str, ...] = ()
    namespace: str = "default"
    node_write: bool = False
    management: bool = False

    def describe(self) -> str:
        if self.management:
            return "a management token"
        if self.node_write:
            return 'node write (`node { policy = "write" }`)'
        caps = " or ".join(f"`{c}`" for c in self.capabilities)
        return f"the {caps} capability on namespace `{self.namespace}`"


def _namespace_caps(rules: dict[str, Any], namespace: str) -> set[str] | None:
    """Capabilities a parsed policy grants on ``namespace`` (``None`` when it says nothing)."""
    blocks = rules.get("namespace") or []
    best: tuple[int, set[str]] | None = None
    for block in blocks if isinstance(blocks, list) else [blocks]:
        for pattern, body in block.items():
            if not fnmatch.fnmatchcase(namespace, pattern):
                continue
            caps: set[str] = set()
            policy = str(body.get("policy", "") or "")
            if policy == "deny":
                caps.add("deny")
            caps |= _SHORTHANDS.get(policy, set())
            caps |= {str(c) for c in body.get("capabilities", []) or []}
            # An exact name beats a glob; among globs, the longest pattern (Nomad's closest match).
            rank = 10_000 if pattern == namespace else len(pattern.replace("*", ""))
            if best is None or rank > best[0]:
                best = (rank, caps)
    return None if best is None else best[1]


def _node_level(rules: dict[str, Any]) -> int:
    blocks = rules.get("node") or []
    level = 0
    for block in blocks if isinstance(blocks, list) else [blocks]:
        policy = str(block.get("policy", "") or "")
        if policy == "deny":
            return -1
        level = max(level, _LEVELS.get(policy, 0))
    return level


def _parse(rules: str) -> dict[str, Any]:
    import hcl2

    parsed: dict[str, Any] = hcl2.loads(rules)

    def unquote(value: Any) -> Any:
        if isinstance(value, str) and len(value) >= 2 and value[0] == value[-1] == '"':
            return value[1:-1]
        if isinstance(value, dict):
            return {unquote(k): unquote(v) for k, v in value.items()}
        if isinstance(value, list):
            return [unquote(v) for v in value]
        return value

    result: dict[str, Any] = unquote(parsed)
    return result


def token_self(client: NomadClient) -> dict[str, Any] | None:
    """The caller's token (never its secret), or ``None`` when ACLs are disabled."""
    try:
        token: dict[str, Any] = client.get("/v1/acl/token/self").body
    except BadRequestError as exc:
        if "ACL support disabled" in exc.body:
            return None
        raise
    if token.get("AccessorID") == "acls-disabled":
        return None
    return {k: v for k, v in token.items() if k != "SecretID"}


def check(client: NomadClient, need: Need) -> dict[str, Any] | None:
    """Raise :class:`MissingCapabilityError` when the token surely lacks ``need``.

    Endpoints: ``GET /v1/acl/token/self``, then ``GET /v1/acl/policy/:name`` per policy.
    A policy that cannot be read leaves the answer to the server. Returns the token
    (without its secret), or ``None`` when ACLs are disabled.
    """
    token = token_self(client)
    if token is None or token.get("Type") == "management":
        return token
    if need.management:
        raise MissingCapabilityError(
            f"this action needs {need.describe()}; the token "
            f"{token.get('Name') or token.get('AccessorID')!r} is a client token. Nothing was sent."
        )
    granted: set[str] = set()
    node = 0
    unread = False
    for name in token.get("Policies") or []:
        try:
            policy = client.get(f"/v1/acl/policy/{name}").body
            rules = _parse(str(policy.get("Rules") or ""))
        except Exception:  # noqa: BLE001 - an unreadable policy (403, bad HCL): the server decides
            unread = True
            continue
        caps = _namespace_caps(rules, need.namespace)
        if caps:
            granted |= caps
        level = _node_level(rules)
        node = -1 if level < 0 or node < 0 else max(node, level)
    if unread or token.get("Roles"):
        return token
    if need.node_write:
        ok = node >= _LEVELS["write"]
    else:
        ok = "deny" not in granted and any(c in granted for c in need.capabilities)
    if not ok:
        raise MissingCapabilityError(
            f"this action needs {need.describe()}; the token "
            f"{token.get('Name') or token.get('AccessorID')!r} does not have it. Nothing was sent: "
            "set NOMAD_TOKEN to a token whose policy grants it."
        )
    return token
