"""Agent, status, region, namespace and node-pool routes (REFERENCE §6, §11.2, §11.8)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ..acl import PERMISSION_DENIED, acl_of
from ..errors import NomadHTTPError, bad_request
from ..http import Request, Response
from ..router import Router, blocking, json_response, paginate, parse_bool
from ..wire_common import multierror

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


SERF_ADDR = "127.0.0.1:4648"
_OWN_HOSTS = ("127.0.0.1", "localhost")


def _require_agent(req: Request, level: str) -> None:
    """``agent:<level>`` or 403 (checked in the handler, after the handler's own 400s)."""
    acl = acl_of(req)
    if acl is not None and not acl.allow_level("agent", level):
        raise NomadHTTPError(403, PERMISSION_DENIED)


def _host_port(address: str, default_port: str) -> tuple[str, str]:
    host, sep, port = address.rpartition(":")
    if not sep or not port.isdigit():
        return address, default_port
    return host.strip("[]"), port


def agent_servers(c: SimCluster, req: Request) -> Response:
    """GET /v1/agent/servers (``agent:read``): the servers the client knows, ``host:port``
    sorted; PUT/POST ``?address=`` (repeatable, ``agent:write``) sets them.

    The simulated client reaches one server, the agent's own (``127.0.0.1:4647``): setting a
    list that holds it answers 200 with no body (the others are dropped, as Nomad drops servers
    that fail their ping); a list without it is 400 with the ping failures.
    """
    if req.method in ("PUT", "POST"):
        addresses = req.query.get("address") or []
        if not addresses:
            raise bad_request("missing server address")
        _require_agent(req, "write")
        reachable = [a for a in addresses if _host_port(a, "4647") in ((h, "4647") for h in _OWN_HOSTS)]
        if not reachable:
            failures = [f"Server at address {':'.join(_host_port(a, '4647'))} failed ping: "
                        f"dial tcp {':'.join(_host_port(a, '4647'))}: connect: connection refused"
                        for a in addresses]
            raise bad_request(multierror(failures))
        return Response.empty(200)
    if req.method != "GET":
        raise NomadHTTPError(405, "Invalid method")
    _require_agent(req, "read")
    return json_response(req, [SERVER_RPC_ADDR])


def agent_join(c: SimCluster, req: Request) -> Response:
    """PUT/POST /v1/agent/join?address= (repeatable): ``{num_joined, error, warning}``.

    As Nomad 2.x, a token without ``agent:write`` still joins, with the deprecation warning.
    Only the agent's own Serf address (``127.0.0.1:4648``) answers; others fail to join.
    """
    if req.method not in ("PUT", "POST"):
        raise NomadHTTPError(405, "Invalid method")
    warning = ""
    if c.acl.enabled:
        from ..acl import resolve

        try:
            allowed = resolve(c, req).allow_level("agent", "write")
        except NomadHTTPError:
            allowed = False
        if not allowed:
            warning = "anonymous server join is deprecated and will be removed in a future version of Nomad"
    addresses = req.query.get("address") or []
    if not addresses:
        raise bad_request("missing address to join")
    joined, errors = 0, []
    for address in addresses:
        host, port = _host_port(address, "4648")
        if host in _OWN_HOSTS and port == "4648":
            joined += 1
        else:
            errors.append(f"Failed to join {host}:{port}: dial tcp {host}:{port}: connect: connection refused")
    return json_response(req, {"num_joined": joined, "error": multierror(errors) if errors else "",
                               "warning": warning})


def agent_force_leave(c: SimCluster, req: Request) -> Response:
    """PUT/POST /v1/agent/force-leave?node=&prune= (``agent:write``): 200, no body.

    Serf forgets a failed member; the simulated cluster has one server and no failed member, so
    nothing changes (Serf does not fail for an unknown name).
    """
    if req.method not in ("PUT", "POST"):
        raise NomadHTTPError(405, "Invalid method")
    _require_agent(req, "write")
    if not req.param("node"):
        raise bad_request("missing node to force leave")
    prune = req.param("prune") or ""
    if prune:
        try:
            parse_bool(prune)
        except ValueError:
            raise bad_request("invalid prune value") from None
    return Response.empty(200)


def _monitor_bool(req: Request, name: str, label: str) -> bool:
    text = req.param(name) or ""
    if not text:
        return False
    try:
        return parse_bool(text)
    except ValueError as exc:
        raise bad_request(f"Unknown option for {label}: {exc}") from None


def agent_monitor(c: SimCluster, req: Request) -> Response:
    """/v1/agent/monitor (any method): the agent's log from now on, streamed (:mod:`..monitor`).

    Parameters in Nomad's order: ``log_level`` (default ``INFO``; 400 ``Unknown log level: X``),
    ``log_json``, ``plain``, ``log_include_location`` (400 ``Unknown option for …``), then
    ``node_id`` and ``server_id`` (not both: 400). Then ``agent:read`` (403); a token that does
    not authenticate gets an empty 200, as the RPC's uncoded ``Permission denied`` ends the
    stream before any byte. ``node_id`` streams that node's client (500 ``Unknown node "<id>"``,
    ``No path to node`` when it is down), ``server_id`` (``leader`` or the member name) the
    server (400 ``unknown nomad server <id>``), neither the agent itself: its server and, in the
    ``dev`` scenario, its client.
    """
    from .. import monitor

    level_text = req.param("log_level") or "INFO"
    level = monitor.level_from_string(level_text)
    if level is None:
        raise bad_request(f"Unknown log level: {level_text}")
    json_format = _monitor_bool(req, "log_json", "log json")
    plain = _monitor_bool(req, "plain", "plain")
    _monitor_bool(req, "log_include_location", "log_include_location")
    node_id = req.param("node_id") or ""
    server_id = req.param("server_id") or ""
    if node_id and server_id:
        raise bad_request("Cannot target node and server simultaneously")
    content_type = "text/plain" if plain else "application/json"
    with c.state.lock:
        if c.acl.enabled:
            from ..acl import resolve

            try:
                acl = resolve(c, req)
            except NomadHTTPError:
                return Response(status=200, headers={"Content-Type": content_type}, body=b"")
            if not acl.allow_level("agent", "read"):
                raise NomadHTTPError(403, PERMISSION_DENIED)
        if node_id:
            node = c.state.nodes.get(node_id)
            if node is None:
                raise NomadHTTPError(500, f'Unknown node "{node_id}"')
            if node.get("Status") in ("down", "disconnected"):
                raise NomadHTTPError(500, "No path to node")
            target = monitor.Target(server=False, node_id=node_id)
        elif server_id:
            if server_id not in ("leader", f"{c.agent_name}.{c.region}", _member(c)["Tags"]["id"]):
                raise bad_request(f"unknown nomad server {server_id}")
            target = monitor.Target(server=True, node_id="")
        else:
            target = monitor.Target(server=True, node_id=c.local_node_id)
    stream = monitor.stream_monitor(c, target, level=level, json_format=json_format, plain=plain)
    return Response(status=200, headers={"Content-Type": content_type}, stream=stream)


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
    router.add("*", r"/v1/agent/servers", agent_servers)
    router.add("*", r"/v1/agent/join", agent_join)
    router.add("*", r"/v1/agent/force-leave", agent_force_leave)
    router.add("*", r"/v1/agent/monitor", agent_monitor)
    router.add("GET", r"/v1/namespaces", namespaces_list)
    router.add("*", r"/v1/namespace/(?P<name>[^/]+)", namespace_get)
    router.add("GET", r"/v1/node/pools", node_pools_list)
    router.add("*", r"/v1/node/pool/(?P<name>[^/]+)", node_pool_get)
