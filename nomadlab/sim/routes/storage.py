"""Variables, volumes and plugins: the lists Nomad's web UI loads on its pages (REFERENCE §11.1).

No variable, CSI or host volume, or CSI plugin is simulated, so the lists are empty, with
Nomad's parameters and errors: ``/v1/volumes`` without ``type`` is ``[]``, with a ``type`` other
than ``csi``/``host`` 404 ``resource not found``; ``/v1/plugins`` with a ``type`` other than
``csi`` is 200 with no body (``command/agent/volumes_endpoint.go``, ``csi_endpoint.go``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..acl import require_ns
from ..errors import NomadHTTPError
from ..http import Request, Response
from ..router import Router, blocking_params, json_response, namespace_of

if TYPE_CHECKING:
    from ..cluster import SimCluster

__all__ = ["register"]


def _empty(req: Request) -> Response:
    blocking_params(req)  # the same 400s for a bad index or wait
    return json_response(req, [], index=1, meta=True)


def variables_list(c: SimCluster, req: Request) -> Response:
    """GET /v1/vars (``prefix``, ``namespace``): ``[]``. Variables a token may not list are left
    out, and none exist."""
    return _empty(req)


def volumes_list(c: SimCluster, req: Request) -> Response:
    """GET /v1/volumes?type=csi|host: ``[]`` (``csi-list-volume`` / ``host-volume-read``)."""
    kind = req.query.get("type")
    if kind is None:
        return json_response(req, [])
    if kind[0] == "csi":
        require_ns(req, namespace_of(req), "csi-list-volume")
    elif kind[0] == "host":
        require_ns(req, namespace_of(req), "host-volume-read")
    else:
        raise NomadHTTPError(404, "resource not found")
    return _empty(req)


def plugins_list(c: SimCluster, req: Request) -> Response:
    """GET /v1/plugins?type=csi: ``[]``."""
    kind = req.query.get("type")
    if kind is None:
        return json_response(req, [])
    if kind[0] != "csi":
        return Response.empty(200)
    return _empty(req)


def register(router: Router) -> None:
    router.add("GET", r"/v1/vars", variables_list)
    router.add("GET", r"/v1/volumes", volumes_list)
    router.add("GET", r"/v1/plugins", plugins_list)
