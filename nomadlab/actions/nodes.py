"""Node actions: drain, undrain, scheduling eligibility."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from nomadlab.actions._acl import Need, check
from nomadlab.actions._plan import Outcome, Plan, StalePlanError, Waiter
from nomadlab.client import NomadClient
from nomadlab.errors import NomadError

__all__ = ["drain", "set_eligibility", "undrain"]

_UNITS = {"ns": 1, "us": 1_000, "ms": 1_000_000, "s": 10**9, "m": 60 * 10**9, "h": 3600 * 10**9}


def _duration_ns(value: str | float) -> int:
    if isinstance(value, (int, float)):
        return int(value * 10**9)
    import re

    parts = re.findall(r"(\d+(?:\.\d+)?)(ns|us|ms|s|m|h)", value)
    if not parts or "".join(n + u for n, u in parts) != value:
        raise ValueError(f"cannot read the duration {value!r}: write it like 1h, 30m or 90s")
    return int(sum(float(n) * _UNITS[u] for n, u in parts))


def _node(c: NomadClient, node: str) -> dict[str, Any]:
    nodes = [n for n in c.get("/v1/nodes").body if n["ID"].startswith(node) or n["Name"] == node]
    if len(nodes) != 1:
        raise NomadError(f"node {node!r} matches {len(nodes)} nodes: give its name or more of its ID")
    body: dict[str, Any] = c.get(f"/v1/node/{nodes[0]['ID']}").body
    return body


def _state(n: Mapping[str, Any]) -> dict[str, Any]:
    return {"eligibility": n.get("SchedulingEligibility"), "draining": bool(n.get("DrainStrategy"))}


def _guard(c: NomadClient, node_id: str, before: Mapping[str, Any]) -> Any:
    def unchanged() -> None:
        now = _state(c.get(f"/v1/node/{node_id}").body)
        if now != dict(before):
            raise StalePlanError(f"node {node_id[:8]} changed since this plan was made ({dict(before)} -> {now});"
                                 " nothing was written: plan again")
    return unchanged


def _plan(c: NomadClient | None, node: str, action: str, body: Mapping[str, Any], path: str,
          after: Mapping[str, Any], *, ignore_system: bool = False) -> Plan:
    client = c if c is not None else NomadClient()
    token = check(client, Need(node_write=True))
    n = _node(client, node)
    node_id = str(n["ID"])
    before = _state(n)
    changes: dict[str, Any] = {"node": f"{n['Name']} ({node_id[:8]})"}
    if action == "drain":
        allocs = client.get(f"/v1/node/{node_id}/allocations").body
        moving = [a for a in allocs if a.get("DesiredStatus") == "run"
                  and a.get("ClientStatus") in ("pending", "running")
                  and not (ignore_system and a.get("Job", {}).get("Type") == "system")]
        changes["allocations that migrate"] = [f"{a['ID'][:8]} {a['JobID']}/{a['TaskGroup']}" for a in moving]

    def write() -> Mapping[str, Any]:
        reply: Mapping[str, Any] = client.post(f"/v1/node/{node_id}/{path}", json=dict(body)).body
        return reply

    def follow(reply: Mapping[str, Any], waiter: Waiter) -> Outcome:
        if action != "drain":
            return Outcome(action, str(n["Name"]), "done", reply=dict(reply))
        final, ok = waiter.until(f"/v1/node/{node_id}", lambda m: not m.get("DrainStrategy"))
        ids = tuple(str(e) for e in reply.get("EvalIDs") or [])
        if not ok:
            return Outcome(action, str(n["Name"]), "timeout", "the drain is still running",
                           eval_id=ids[0] if ids else None, reply=dict(reply))
        return Outcome(action, str(n["Name"]), "done", "drain complete",
                       eval_id=ids[0] if ids else None, reply=dict(reply))

    count = len(changes.get("allocations that migrate", []))
    summary = {"drain": f"drain {n['Name']}: {count} allocation(s) migrate",
               "undrain": f"end the drain of {n['Name']} and make it eligible"}.get(
        action, f"mark {n['Name']} {after.get('eligibility')}")
    return Plan(action, str(n["Name"]), "", summary, changes=changes, before=before, after=dict(after),
                client=client, token=token, write=write, check=_guard(client, node_id, before),
                follow=follow)


def drain(client: NomadClient | None, node: str, *, deadline: str | float = "1h",
          ignore_system: bool = False) -> Plan:
    """Plan draining a node (``POST /v1/node/:id/drain``). Needs ``node { policy = "write" }``."""
    spec = {"DrainSpec": {"Deadline": _duration_ns(deadline), "IgnoreSystemJobs": ignore_system},
            "Meta": {"message": "drained with nomadlab"}}
    return _plan(client, node, "drain", spec, "drain", {"draining": True, "eligibility": "ineligible"},
                 ignore_system=ignore_system)


def undrain(client: NomadClient | None, node: str) -> Plan:
    """Plan ending a drain (``DrainSpec: null``, ``MarkEligible: true``)."""
    return _plan(client, node, "undrain", {"DrainSpec": None, "MarkEligible": True}, "drain",
                 {"draining": False, "eligibility": "eligible"})


def set_eligibility(client: NomadClient | None, node: str, eligible: bool) -> Plan:
    """Plan ``POST /v1/node/:id/eligibility`` (``eligible``/``ineligible``)."""
    value = "eligible" if eligible else "ineligible"
    return _plan(client, node, "set_eligibility", {"Eligibility": value}, "eligibility", {"eligibility": value})
