"""ACL routes: bootstrap, policies, tokens, whoami (REFERENCE §8, §11.10)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .. import request_types
from ..acl import PERMISSION_DENIED, public, resolve, secret_of
from ..errors import NomadHTTPError, bad_request
from ..http import Request, Response
from ..router import Router, json_response, parse_duration
from .common import ci_get, decode_body

if TYPE_CHECKING:
    from ..cluster import SimCluster

__all__ = ["register"]

_DISABLED = "ACL support disabled"


def _enabled(c: SimCluster) -> None:
    if not c.acl.enabled:
        raise NomadHTTPError(400, _DISABLED)


def _management(c: SimCluster, req: Request) -> None:
    if not resolve(c, req).management:
        raise NomadHTTPError(403, PERMISSION_DENIED)


def bootstrap(c: SimCluster, req: Request) -> Response:
    body = decode_body(req, request_types.ACL_BOOTSTRAP, required=False) or {}
    token = c.acl.bootstrap(ci_get(body, "BootstrapSecret") or None)
    return json_response(req, public(token), index=token["CreateIndex"])


def policies_list(c: SimCluster, req: Request) -> Response:
    _enabled(c)
    acl = resolve(c, req)
    mine = set((acl.token or {}).get("Policies") or ())
    prefix = req.param("prefix") or ""
    out = [
        {k: p[k] for k in ("Name", "Description", "JobACL", "Hash", "CreateIndex", "ModifyIndex")}
        for name, p in sorted(c.acl.policies.items())
        if name.startswith(prefix) and (acl.management or name in mine)
    ]
    return json_response(req, out, index=c.state.max_index(["acl_policy"]), meta=True)


def policy(c: SimCluster, req: Request, name: str) -> Response:
    _enabled(c)
    if req.method == "GET":
        acl = resolve(c, req)
        if not (acl.management or name == "anonymous" or name in ((acl.token or {}).get("Policies") or ())):
            raise NomadHTTPError(403, PERMISSION_DENIED)
        p = c.acl.policies.get(name)
        if p is None:
            raise NomadHTTPError(404, "ACL policy not found")
        return json_response(req, public(p), index=p["ModifyIndex"], meta=True)
    _management(c, req)
    if req.method in ("PUT", "POST"):
        body = decode_body(req, request_types.ACL_POLICY)
        if (ci_get(body, "Name") or "") != name:
            raise bad_request("ACL policy name does not match request path")
        try:
            c.acl.upsert_policy(name, ci_get(body, "Rules") or "", ci_get(body, "Description") or "")
        except ValueError as exc:
            raise bad_request(str(exc)) from None
        return Response.empty(200, {"X-Nomad-Index": str(c.state.index)})
    if req.method == "DELETE":
        c.acl.policies.pop(name, None)
        return Response.empty(200)
    raise NomadHTTPError(405, "Invalid method")


def tokens_list(c: SimCluster, req: Request) -> Response:
    _enabled(c)
    _management(c, req)
    fields = ("AccessorID", "Name", "Type", "Policies", "Roles", "Global", "Hash", "CreateTime",
              "ExpirationTime", "CreateIndex", "ModifyIndex")
    out = [{k: t.get(k) for k in fields} for t in sorted(c.acl.tokens.values(), key=lambda t: t["CreateIndex"])]
    return json_response(req, out, index=c.state.max_index(["acl_token"]), meta=True)


def token_create(c: SimCluster, req: Request) -> Response:
    _enabled(c)
    _management(c, req)
    body = decode_body(req, request_types.ACL_TOKEN)
    token_type = ci_get(body, "Type") or "client"
    policies = ci_get(body, "Policies") or []
    if token_type not in ("client", "management"):
        raise bad_request("token 0 invalid: token type must be client or management")
    if token_type == "client" and not policies:
        raise bad_request("token 0 invalid: client token missing policies or roles")
    if token_type == "management" and policies:
        raise bad_request("token 0 invalid: management token cannot be associated with policies or roles")
    ttl: Any = ci_get(body, "ExpirationTTL")
    ttl_ns = 0
    if isinstance(ttl, str) and ttl:
        try:
            ttl_ns = int(parse_duration(ttl) * 1e9)
        except ValueError as exc:
            raise bad_request(str(exc)) from None
    elif isinstance(ttl, int):
        ttl_ns = ttl
    token = c.acl.create_token(name=ci_get(body, "Name") or "", token_type=token_type, policies=policies,
                               global_=bool(ci_get(body, "Global", False)), ttl_ns=ttl_ns)
    return json_response(req, public(token), index=token["CreateIndex"])


def token_self(c: SimCluster, req: Request) -> Response:
    base = {"SecretID": "", "Roles": None, "Global": False, "Hash": None, "CreateTime": "0001-01-01T00:00:00Z",
            "ExpirationTime": None, "ExpirationTTL": "", "CreateIndex": 0, "ModifyIndex": 0}
    if not c.acl.enabled:
        return json_response(req, {"AccessorID": "acls-disabled", "Name": "ACLs disabled token",
                                   "Type": "client", "Policies": None, **base})
    secret = secret_of(req)
    if not secret:
        return json_response(req, {"AccessorID": "anonymous", "Name": "Anonymous Token", "Type": "client",
                                   "Policies": ["anonymous"], **base})
    token = c.acl.by_secret(secret)
    if token is None:
        raise NomadHTTPError(403, "ACL token not found")
    if c.acl.expired(token, c.now_ns()):
        raise NomadHTTPError(500, "ACL token expired")
    return json_response(req, public(token), index=token["ModifyIndex"], meta=True)


_TOKEN_FIELDS = ("AccessorID", "SecretID", "Name", "Type", "Policies", "Roles", "Global", "Hash", "CreateTime",
                 "ExpirationTime", "ExpirationTTL", "CreateIndex", "ModifyIndex")


def token_crud(c: SimCluster, req: Request, accessor: str) -> Response:
    """GET/PUT/POST/DELETE /v1/acl/token/:accessor_id (``aclTokenCrud``).

    Read: a management token, or the token itself (its own accessor); 404 ``ACL token not
    found``. Update and delete: management. ACLs off: 400 ``ACL support disabled``.
    """
    if req.method not in ("GET", "PUT", "POST", "DELETE"):
        raise NomadHTTPError(405, "Invalid method")
    _enabled(c)
    acl = resolve(c, req)
    token = c.acl.tokens.get(accessor)
    if req.method == "GET":
        own = acl.token is not None and acl.token.get("AccessorID") == accessor
        if not (acl.management or own):
            raise NomadHTTPError(403, PERMISSION_DENIED)
        if token is None:
            raise NomadHTTPError(404, "ACL token not found", {"X-Nomad-Index": str(c.state.max_index(["acl_token"]))})
        return json_response(req, {k: token.get(k) for k in _TOKEN_FIELDS}, index=token["ModifyIndex"], meta=True)
    if not acl.management:
        raise NomadHTTPError(403, PERMISSION_DENIED)
    if req.method == "DELETE":
        with c.state.lock:
            if token is None:
                raise NomadHTTPError(500, f"Cannot delete nonexistent tokens: {accessor}")
            idx = c.state.next_index()
            c.acl.delete_token(accessor)
            c.state.commit(idx, ["acl_token"])
        return Response.empty(200, {"X-Nomad-Index": str(idx)})
    body = decode_body(req, request_types.ACL_TOKEN)
    given = ci_get(body, "AccessorID") or ""
    if given != accessor:
        raise bad_request("ACL token accessor does not match request path")
    if token is None:
        raise bad_request(f"token 0 invalid: cannot find token {accessor}")
    policies = ci_get(body, "Policies") or []
    token_type = ci_get(body, "Type") or token["Type"]
    if token_type != token["Type"]:
        raise bad_request("token 0 invalid: cannot change token type")
    if token_type == "client" and not policies:
        raise bad_request("token 0 invalid: client token missing policies or roles")
    if token_type == "management" and policies:
        raise bad_request("token 0 invalid: management token cannot be associated with policies or roles")
    with c.state.lock:
        idx = c.state.next_index()
        token.update(Name=ci_get(body, "Name") or "", Policies=list(policies) or None, ModifyIndex=idx)
        c.state.commit(idx, ["acl_token"])
    return json_response(req, public(token), index=idx)


def _empty_acl_list(c: SimCluster, req: Request, *, management: bool) -> Response:
    _enabled(c)
    acl = resolve(c, req)
    if management and not acl.management:
        raise NomadHTTPError(403, PERMISSION_DENIED)
    return json_response(req, [], index=1, meta=True)


def roles_list(c: SimCluster, req: Request) -> Response:
    """GET /v1/acl/roles: ``[]`` (no roles are simulated); a valid token needed, any token."""
    return _empty_acl_list(c, req, management=False)


def auth_methods_list(c: SimCluster, req: Request) -> Response:
    """GET /v1/acl/auth-methods: ``[]``; readable with any valid token or none (the login page)."""
    return _empty_acl_list(c, req, management=False)


def binding_rules_list(c: SimCluster, req: Request) -> Response:
    """GET /v1/acl/binding-rules: ``[]``; management only."""
    return _empty_acl_list(c, req, management=True)


def register(router: Router) -> None:
    router.add("PUT|POST", r"/v1/acl/bootstrap", bootstrap)
    router.add("GET", r"/v1/acl/policies", policies_list)
    router.add("GET|PUT|POST|DELETE", r"/v1/acl/policy/(?P<name>[^/]*)", policy)
    router.add("GET", r"/v1/acl/tokens", tokens_list)
    router.add("PUT|POST", r"/v1/acl/token", token_create)
    router.add("GET", r"/v1/acl/token/self", token_self)
    router.add("*", r"/v1/acl/token/(?P<accessor>[^/]+)", token_crud)
    router.add("GET", r"/v1/acl/roles", roles_list)
    router.add("GET", r"/v1/acl/auth-methods", auth_methods_list)
    router.add("GET", r"/v1/acl/binding-rules", binding_rules_list)
