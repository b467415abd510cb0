"""Node, node-pool and namespace wire shapes."""

from __future__ import annotations

import base64
import hashlib
from typing import Any

from nomadlab.sim.wire_common import NS_PER_S, deep, rfc3339

__all__ = ["new_node", "node_stub", "new_namespace", "new_node_pool", "NODE_IDENTITY_TTL_NS"]

NODE_IDENTITY_TTL_NS = 24 * 3600 * NS_PER_S

_DRIVER_ATTRS: dict[str, dict[str, str]] = {
    "docker": {
        "driver.docker": "true",
        "driver.docker.bridge_ip": "172.17.0.1",
        "driver.docker.os_type": "linux",
        "driver.docker.runtimes": "io.containerd.runc.v2,runc",
        "driver.docker.version": "27.3.1",
        "driver.docker.privileged.enabled": "false",
        "driver.docker.volumes.enabled": "false",
    },
    "exec": {"driver.exec": "true"},
    "raw_exec": {"driver.raw_exec": "true"},
    "java": {"driver.java": "true", "driver.java.version": "17.0.12"},
    "qemu": {"driver.qemu": "true", "driver.qemu.version": "8.2.2"},
}


def _hash(*parts: str) -> str:
    h = hashlib.blake2b(digest_size=32)
    for p in parts:
        h.update(p.encode())
    return base64.b64encode(h.digest()).decode()


def new_node(
    *,
    node_id: str,
    name: str,
    datacenter: str,
    node_pool: str = "default",
    node_class: str = "",
    cpu_mhz: int,
    cores: int,
    memory_mb: int,
    disk_mb: int,
    reserved_cpu_mhz: int = 0,
    reserved_memory_mb: int = 0,
    reserved_disk_mb: int = 0,
    address: str,
    drivers: tuple[str, ...] = ("docker", "exec", "raw_exec"),
    attributes: dict[str, str] | None = None,
    meta: dict[str, str] | None = None,
    version: str = "1.11.0",
    now_ns: int,
    index: int,
) -> dict[str, Any]:
    """A full registered ``Node`` (``GET /v1/node/:id``), ready and eligible.

    Parameters
    ----------
    cpu_mhz:
        Total compute (``CpuShares``, ``cpu.totalcompute``) in MHz across ``cores`` cores.
    attributes, meta:
        Extra node attributes / meta merged over the fingerprinted defaults.
    now_ns:
        Registration time; ``StatusUpdatedAt`` is its Unix **seconds**.

    Returns
    -------
    dict
        Every ``structs.Node`` field; ``SecretID`` blank as the API returns it; no ``Drain``.
    """
    when = rfc3339(now_ns)
    attrs: dict[str, str] = {
        "arch": "x86_64",
        "cpu.arch": "amd64",
        "cpu.frequency": str(cpu_mhz // max(cores, 1)),
        "cpu.modelname": "Intel(R) Xeon(R) Platinum 8375C CPU @ 2.90GHz",
        "cpu.numcores": str(cores),
        "cpu.reservablecores": str(cores),
        "cpu.totalcompute": str(cpu_mhz),
        "cpu.usablecompute": str(cpu_mhz - reserved_cpu_mhz),
        "kernel.name": "linux",
        "kernel.version": "6.8.0-48-generic",
        "memory.totalbytes": str(memory_mb * 1024 * 1024),
        "nomad.advertise.address": f"{address}:4646",
        "nomad.bridge.hairpin_mode": "false",
        "nomad.revision": "0000000000000000000000000000000000000000",
        "nomad.service_discovery": "true",
        "nomad.version": version,
        "os.name": "ubuntu",
        "os.signals": "SIGABRT,SIGALRM,SIGBUS,SIGCHLD,SIGCONT,SIGFPE,SIGHUP,SIGILL,SIGINT,"
                      "SIGIO,SIGKILL,SIGPIPE,SIGPROF,SIGQUIT,SIGSEGV,SIGSTOP,SIGSYS,SIGTERM,"
                      "SIGTRAP,SIGTSTP,SIGTTIN,SIGTTOU,SIGURG,SIGUSR1,SIGUSR2,SIGWINCH,"
                      "SIGXCPU,SIGXFSZ",
        "os.version": "24.04",
        "unique.hostname": name,
        "unique.network.ip-address": address,
        "unique.storage.bytesfree": str((disk_mb - reserved_disk_mb) * 1024 * 1024),
        "unique.storage.bytestotal": str(disk_mb * 1024 * 1024),
        "unique.storage.volume": "/dev/nvme0n1p1",
    }
    driver_info: dict[str, Any] = {}
    for drv in drivers:
        dattrs = dict(_DRIVER_ATTRS.get(drv, {f"driver.{drv}": "true"}))
        attrs.update({k: ("1" if k == f"driver.{drv}" else v) for k, v in dattrs.items()})
        driver_info[drv] = {
            "Attributes": dattrs,
            "Detected": True,
            "Healthy": True,
            "HealthDescription": "Healthy",
            "UpdateTime": when,
        }
    attrs.update(attributes or {})
    node_meta = {"connect.gateway_image": "docker.io/envoyproxy/envoy:v${NOMAD_envoy_version}",
                 "connect.log_level": "info", "connect.proxy_concurrency": "1",
                 "connect.sidecar_image": "docker.io/envoyproxy/envoy:v${NOMAD_envoy_version}"}
    node_meta.update(meta or {})
    network = {
        "Mode": "host", "Device": "eth0", "CIDR": f"{address}/32", "IP": address,
        "MBits": 1000, "DNS": None, "ReservedPorts": None, "DynamicPorts": None, "CNI": None,
    }
    return {
        "ID": node_id,
        "SecretID": "",
        "Datacenter": datacenter,
        "Name": name,
        "CgroupParent": "nomad.slice",
        "HTTPAddr": f"{address}:4646",
        "TLSEnabled": False,
        "Attributes": attrs,
        "NodeResources": {
            "Cpu": {"CpuShares": cpu_mhz, "TotalCpuCores": cores,
                    "ReservableCpuCores": list(range(cores))},
            "Processors": {"Topology": None},
            "Memory": {"MemoryMB": memory_mb},
            "Disk": {"DiskMB": disk_mb},
            "Devices": None,
            "NodeNetworks": [{
                "Mode": "host", "Device": "eth0", "MacAddress": "02:42:ac:11:00:02",
                "Speed": 1000,
                "Addresses": [{"Family": "ipv4", "Alias": "default", "Address": address,
                               "ReservedPorts": "", "Gateway": ""}],
            }],
            "Networks": [network],
            "MinDynamicPort": 20000,
            "MaxDynamicPort": 32000,
        },
        "ReservedResources": {
            "Cpu": {"CpuShares": reserved_cpu_mhz, "ReservedCpuCores": None},
            "Memory": {"MemoryMB": reserved_memory_mb},
            "Disk": {"DiskMB": reserved_disk_mb},
            "Networks": {"ReservedHostPorts": ""},
        },
        "Links": {},
        "Meta": node_meta,
        "NodeClass": node_class,
        "NodePool": node_pool,
        "ComputedClass": "v1:" + str(int.from_bytes(
            hashlib.blake2b((datacenter + node_class + node_pool).encode(),
                            digest_size=8).digest(), "big")),
        "DrainStrategy": None,
        "SchedulingEligibility": "eligible",
        "Status": "ready",
        "StatusDescription": "",
        "IdentitySigningKeyID": "",
        "StatusUpdatedAt": now_ns // NS_PER_S,
        "Events": [{"Message": "Node registered", "Subsystem": "Cluster", "Details": None,
                    "Timestamp": when, "CreateIndex": index}],
        "Drivers": driver_info,
        "CSIControllerPlugins": None,
        "CSINodePlugins": None,
        "HostVolumes": None,
        "GCVolumesOnNodeGC": False,
        "HostNetworks": None,
        "LastDrain": None,
        "NodeMaxAllocs": 0,
        "LastMissedHeartbeatIndex": 0,
        "LastAllocUpdateIndex": 0,
        "CreateIndex": index,
        "ModifyIndex": index,
    }


def node_stub(node: dict[str, Any], *, resources: bool = False, os: bool = False) -> dict[str, Any]:
    """Project a full node into a ``NodeListStub`` (``GET /v1/nodes``).

    ``Drain`` is whether a drain strategy is set; ``os=True`` adds ``Attributes`` holding only
    ``os.name``; ``resources=True`` adds ``NodeResources`` and ``ReservedResources``.
    """
    stub: dict[str, Any] = {"Address": node["HTTPAddr"].rsplit(":", 1)[0], "ID": node["ID"]}
    if os:
        stub["Attributes"] = {"os.name": node["Attributes"].get("os.name", "")}
    stub.update({
        "Datacenter": node["Datacenter"],
        "Name": node["Name"],
        "NodeClass": node["NodeClass"],
        "NodePool": node["NodePool"],
        "Version": node["Attributes"].get("nomad.version", ""),
        "Drain": node.get("DrainStrategy") is not None,
        "SchedulingEligibility": node["SchedulingEligibility"],
        "Status": node["Status"],
        "StatusDescription": node["StatusDescription"],
        "Drivers": deep(node["Drivers"]),
        "HostVolumes": deep(node.get("HostVolumes")),
    })
    if resources:
        stub["NodeResources"] = deep(node["NodeResources"])
        stub["ReservedResources"] = deep(node["ReservedResources"])
    stub.update({
        "LastDrain": deep(node.get("LastDrain")),
        "CreateIndex": node["CreateIndex"],
        "ModifyIndex": node["ModifyIndex"],
    })
    return stub


def new_namespace(name: str, description: str = "", *, index: int) -> dict[str, Any]:
    """A ``Namespace`` as Nomad CE serializes it (no quota, no capabilities)."""
    return {
        "Name": name,
        "Description": description,
        "Quota": "",
        "Capabilities": None,
        "NodePoolConfiguration": None,
        "VaultConfiguration": None,
        "ConsulConfiguration": None,
        "Meta": None,
        "Hash": _hash(name, description),
        "CreateIndex": index,
        "ModifyIndex": index,
    }


def new_node_pool(name: str, description: str = "", *, index: int) -> dict[str, Any]:
    """A ``NodePool`` with the 24 h ``NodeIdentityTTL`` and a base64 ``Hash``."""
    return {
        "Name": name,
        "Description": description,
        "Meta": None,
        "SchedulerConfiguration": None,
        "NodeIdentityTTL": NODE_IDENTITY_TTL_NS,
        "Hash": _hash(name, description),
        "CreateIndex": index,
        "ModifyIndex": index,
    }
