"""Agent, status, region, namespace and node-pool routes (REFERENCE §6, §11.2, §11.8)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ..acl import PERMISSION_DENIED, acl_of
from ..errors import NomadHTTPError
from ..http import Request, Response
from ..router import Router, blocking, json_response, paginate

if TYPE_CHECKING:
    from ..cluster import SimCluster

__all__ = ["register"]

SERVER_RPC_ADDR = "127.0.0.1:4647"


def status_leader(c: SimCluster, req: Request) -> Response:
    return json_response(req, SERVER_RPC_ADDR)


def status_peers(c: SimCluster, req: Request) -> Response:
    return json_response(req, [SERVER_RPC_ADDR])


def regions(c: SimCluster, req: Request) -> Response:
    return json_response(req, [c.region])


def _member(c: SimCluster) -> dict[str, Any]:
    return {
        "Name": f"{c.agent_name}.{c.region}",
        "Addr": "127.0.0.1",
        "Port": 4648,
        "Tags": {
            "role": "nomad", "region": c.region, "dc": "dc1", "build": c.version,
            "port": "4647", "bootstrap": "1", "expect": "1", "rpc_addr": "127.0.0.1",
            "vsn": "1", "raft_vsn": "3", "mvn": "1", "id": "00000000-0000-4000-8000-000000000001",
        },
        "Status": "alive",
        "ProtocolMin": 1, "ProtocolMax": 5, "ProtocolCur": 2,
        "DelegateMin": 2, "DelegateMax": 5, "DelegateCur": 4,
    }


def agent_self(c: SimCluster, req: Request) -> Response:
    if req.method != "GET":
        raise NomadHTTPError(405, "Invalid method")
    version, _, pre = c.version.partition("-")
    config = {
        "Region": c.region,
        "Datacenter": "dc1",
        "NodeName": c.agent_name,
        "Version": {"Revision": "", "Version": version, "VersionMetadata": "", "VersionPrerelease": pre},
        "ACL": {"Enabled": c.acl.enabled},
        "Server": {"Enabled": True},
        "Client": {"Enabled": True},
        "Ports": {"HTTP": 4646, "RPC": 4647, "Serf": 4648},
        "BindAddr": "127.0.0.1",
    }
    stats = {"nomad": {"leader": "true", "server": "true", "known_regions": "1",
                       "leader_addr": SERVER_RPC_ADDR, "bootstrap": "true"}}
    return json_response(req, {"config": config, "member": _member(c), "stats": stats})


def agent_members(c: SimCluster, req: Request) -> Response:
    if req.method != "GET":
        raise NomadHTTPError(405, "Invalid method")
    return json_response(req, {"ServerName": f"{c.agent_name}.{c.region}", "ServerRegion": c.region,
                               "ServerDC": "dc1", "Members": [_member(c)]})


def agent_health(c: SimCluster, req: Request) -> Response:
    if req.method != "GET":
        raise NomadHTTPError(405, "Invalid method")
    return json_response(req, {"client": {"ok": True, "message": "ok"},
                               "server": {"ok": True, "message": "ok"}})


def namespaces_list(c: SimCluster, req: Request) -> Response:
    index = blocking(c, req, ["namespaces"])
    prefix = req.param("prefix") or ""
    with c.state.lock:
        acl = acl_of(req)
        out = [ns for name, ns in sorted(c.state.namespaces.items())
               if name.startswith(prefix) and (acl is None or acl.allow_namespace(name))]
        return json_response(req, out, index=index, meta=True)


def namespace_get(c: SimCluster, req: Request, name: str) -> Response:
    if req.method != "GET":
        raise NomadHTTPError(405, "Invalid method")
    index = blocking(c, req, ["namespaces"])
    with c.state.lock:
        acl = acl_of(req)
        if acl is not None and not acl.allow_namespace(name):
            raise NomadHTTPError(403, PERMISSION_DENIED)
        ns = c.state.namespaces.get(name)
        if ns is None:
            raise NomadHTTPError(404, "namespace not found")
        return json_response(req, ns, index=index, meta=True)


def node_pools_list(c: SimCluster, req: Request) -> Response:
    index = blocking(c, req, ["node_pools"])
    prefix = req.param("prefix") or ""
    with c.state.lock:
        acl = acl_of(req)
        pools = [p for name, p in sorted(c.state.node_pools.items())
                 if name.startswith(prefix) and (acl is None or acl.allow_node_pool(name, "read"))]
        page, next_token = paginate(req, pools, token=lambda p: p["Name"], sort_key=lambda t: t)
        return json_response(req, page, index=index, meta=True, next_token=next_token)


def node_pool_get(c: SimCluster, req: Request, name: str) -> Response:
    if req.method != "GET":
        raise NomadHTTPError(405, "Invalid method")
    index = blocking(c, req, ["node_pools"])
    with c.state.lock:
        acl = acl_of(req)
        if acl is not None and not acl.allow_node_pool(name, "read"):
            raise NomadHTTPError(403, PERMISSION_DENIED)
        pool = c.state.node_pools.get(name)
        if pool is None:
            raise NomadHTTPError(404, "node pool not found")
        return json_response(req, pool, index=index, meta=True)


def metrics(c: SimCluster, req: Request) -> Response:
    """GET /v1/metrics: the client gauges as go-metrics' JSON summary, or with
    ``format=prometheus`` in Prometheus' text format (the simulated agent has
    ``prometheus_metrics`` on unless ``SimCluster.prometheus_metrics`` is turned off: then 415
    ``Prometheus is not enabled``, as Nomad answers). No token is checked."""
    from .. import metrics as telemetry

    if req.method != "GET":
        raise NomadHTTPError(405, "Invalid method")
    if req.param("format") == "prometheus":
        if not c.prometheus_metrics:
            raise NomadHTTPError(415, "Prometheus is not enabled")
        with c.state.lock:
            text = telemetry.prometheus_text(c)
        return Response(status=200, headers={"Content-Type": "text/plain; version=0.0.4; charset=utf-8"},
                        body=text.encode())
    with c.state.lock:
        return json_response(req, telemetry.json_summary(c))


def register(router: Router) -> None:
    router.add("*", r"/v1/metrics", metrics)
    router.add("GET", r"/v1/status/leader", status_leader)
    router.add("GET", r"/v1/status/peers", status_peers)
    router.add("GET", r"/v1/regions", regions)
    router.add("*", r"/v1/agent/self", agent_self)
    router.add("*", r"/v1/agent/members", agent_members)
    router.add("*", r"/v1/agent/health", agent_health)
    router.add("GET", r"/v1/namespaces", namespaces_list)
    router.add("*", r"/v1/namespace/(?P<name>[^/]+)", namespace_get)
    router.add("GET", r"/v1/node/pools", node_pools_list)
    router.add("*", r"/v1/node/pool/(?P<name>[^/]+)", node_pool_get)
