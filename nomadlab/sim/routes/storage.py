"""Variables, volumes and plugins: the lists Nomad's web UI loads on its pages (REFERENCE §11.1).

No variable, CSI or host volume, or CSI plugin is simulated, so the lists are empty and a
variable read is 404 ``variable not found``, with Nomad's parameters, blocking and errors:
``/v1/volumes`` without ``type`` is ``[]``, with a ``type`` other than ``csi``/``host`` 404
``resource not found``; ``/v1/plugins`` with a ``type`` other than
``csi`` is 200 with no body (``command/agent/volumes_endpoint.go``, ``csi_endpoint.go``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..acl import PERMISSION_DENIED, acl_of, require_ns
from ..errors import NomadHTTPError, bad_request
from ..http import Request, Response
from ..router import Router, blocking, blocking_params, json_response, meta_headers, namespace_of

if TYPE_CHECKING:
    from ..cluster import SimCluster

__all__ = ["register"]


def _empty(req: Request) -> Response:
    blocking_params(req)  # the same 400s for a bad index or wait
    return json_response(req, [], index=1, meta=True)


def _variables_index(c: SimCluster, req: Request) -> int:
    """A blocking query on the variables table, which never moves: with ``index`` ≥ 1 it waits
    its whole ``wait`` (Nomad's ``blockingRPC``); the index reported is 1, as
    ``setReplyQueryMeta`` reports an empty table."""
    return max(1, blocking(c, req, ["variables"]))


def variables_list(c: SimCluster, req: Request) -> Response:
    """GET /v1/vars (``prefix``, ``namespace``, blocking): ``[]``. Variables a token may not list
    are left out, and none exist, so every token gets the empty list."""
    if req.method != "GET":
        raise NomadHTTPError(405, "Invalid method")
    return json_response(req, [], index=_variables_index(c, req), meta=True)


def variable_get(c: SimCluster, req: Request, path: str) -> Response:
    """/v1/var/:path: GET (blocking) answers 404 ``variable not found`` after the query meta, as
    no variable exists; a token needs ``read`` on the path, which only a management token has
    here (variables' path rules are not simulated). Writes and deletes answer 501."""
    if not path:
        raise bad_request("missing variable path")
    if req.method in ("PUT", "POST", "DELETE"):
        raise NomadHTTPError(501, "not supported by nomadlab.sim (see FIDELITY.md)")
    if req.method != "GET":
        raise bad_request("Invalid method")
    acl = acl_of(req)
    if acl is not None and not acl.management:
        raise NomadHTTPError(403, PERMISSION_DENIED)
    index = _variables_index(c, req)
    raise NomadHTTPError(404, "variable not found", meta_headers(index))


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
    router.add("*", r"/v1/vars", variables_list)
    router.add("*", r"/v1/var/(?P<path>.*)", variable_get)
    router.add("GET", r"/v1/volumes", volumes_list)
    router.add("GET", r"/v1/plugins", plugins_list)
