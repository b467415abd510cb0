"""Helpers shared by the route modules: request bodies and list shaping."""

from __future__ import annotations

from typing import Any

from ..errors import bad_request
from ..http import Request

__all__ = ["decode_body", "ci_get", "create_index_token", "ns_matches", "index_token_key", "job_token_key"]


def decode_body(req: Request, schema: Any = "any", *, required: bool = True, status: int = 400) -> Any:
    """Decode a JSON request body into ``schema`` as Go's decoder does (:mod:`..gojson`).

    A zero-length body is Nomad's 400 ``Request body is empty`` when ``required`` (``None``
    otherwise); a body Go's decoder refuses is ``status`` (400) with the decoder's text.
    """
    if not req.body:
        if required:
            raise bad_request("Request body is empty")
        return None
    from ..errors import NomadHTTPError
    from ..gojson import GoJSONError, decode

    try:
        return decode(req.body, schema)
    except GoJSONError as exc:
        raise NomadHTTPError(status, str(exc)) from None


def ci_get(obj: Any, name: str, default: Any = None) -> Any:
    """A key looked up case-insensitively, as Go's ``encoding/json`` matches struct fields."""
    if not isinstance(obj, dict):
        return default
    if name in obj:
        return obj[name]
    lower = name.lower()
    for k, v in obj.items():
        if isinstance(k, str) and k.lower() == lower:
            return v
    return default


def ns_matches(namespace: str, wanted: str, req: Request | None = None, *caps: str) -> bool:
    """Whether an object of ``namespace`` belongs in a list for ``wanted`` (``*`` = all),
    and, with ACLs on, the request's token may see it (``caps``, default ``read-job``)."""
    if not (wanted == "*" or namespace == wanted):
        return False
    if req is None or "acl" not in req.context:
        return True
    from ..acl import visible

    return visible(req, namespace, *caps)


def create_index_token(obj: dict[str, Any]) -> str:
    return f"{obj['CreateIndex']}.{obj['ID']}"


def index_token_key(token: str) -> tuple[int, str]:
    """Order ``<CreateIndex>.<ID>`` tokens numerically by index, then by ID."""
    head, _, tail = token.partition(".")
    try:
        return (int(head), tail)
    except ValueError:
        return (0, token)


def job_token_key(token: str) -> tuple[str, str]:
    ns, _, job_id = token.partition(".")
    return (ns, job_id)
