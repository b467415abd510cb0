# mypy: disable-error-code="misc"
# (the mixin methods annotate ``self: SimCluster``, as pyproject.toml's override for jobs.py says)
"""Child jobs: dispatches of parameterized jobs and forced launches of periodic ones.

As ``Job.Dispatch`` and ``Periodic.Force`` (``nomad/job_endpoint.go``, ``nomad/periodic_endpoint.go``,
``nomad/periodic.go``): a dispatched child is the parent's copy named
``<parent>/dispatch-<unix s>-<8 hex>`` (``<parent>/dispatch-<prefix>-<unix s>-<8 hex>`` with
``IdPrefixTemplate``), with ``Dispatched``, the dispatch ``Meta`` merged over the parent's and the
payload snappy-compressed; a periodic child is ``<parent>/periodic-<unix s>`` without the
``Periodic`` block, evaluated with ``TriggeredBy: periodic-job``. Validation texts are Nomad's
uncoded errors (500 over HTTP).
"""

from __future__ import annotations

import base64
import copy
from typing import TYPE_CHECKING, Any

from .clock import NS_PER_S
from .errors import NomadHTTPError

if TYPE_CHECKING:
    from .cluster import SimCluster

__all__ = ["LaunchOperations", "snappy_block", "DISPATCH_PAYLOAD_LIMIT"]

DISPATCH_PAYLOAD_LIMIT = 16 * 1024  # nomad.DispatchPayloadSizeLimit
MAX_PRIORITY = 100  # the agent's default job_max_priority


def _varint(n: int) -> bytes:
    out = bytearray()
    while True:
        byte = n & 0x7F
        n >>= 7
        if n:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


def snappy_block(data: bytes) -> bytes:
    """``data`` in snappy's block format, as literals only (valid for any snappy decoder).

    Nomad stores a dispatch payload as ``snappy.Encode(nil, payload)``; a decoder reads this
    encoding back to the same bytes, though real snappy would also emit back-references.
    """
    out = bytearray(_varint(len(data)))
    for start in range(0, len(data), 65536):
        chunk = data[start:start + 65536]
        n = len(chunk) - 1
        if n < 60:
            out.append(n << 2)
        elif n < 256:
            out += bytes([60 << 2, n])
        else:
            out += bytes([61 << 2]) + n.to_bytes(2, "little")
        out += chunk
    return bytes(out)


def _flat(keys: list[str]) -> str:
    return "[" + " ".join(keys) + "]"  # Go's %v of a []string


class LaunchOperations:
    """Dispatch and periodic launches of :class:`~nomadlab.sim.cluster.SimCluster`."""

    def dispatch_job(
        self: SimCluster,
        namespace: str,
        job_id: str,
        *,
        payload: bytes = b"",
        meta: dict[str, str] | None = None,
        id_prefix_template: str = "",
        priority: int = 0,
        idempotency_token: str = "",
    ) -> dict[str, Any]:
        """``POST /v1/job/:id/dispatch``; returns a JobDispatchResponse."""
        if not job_id:
            raise NomadHTTPError(500, "missing parameterized job ID")
        meta = dict(meta or {})
        with self.state.lock:
            parent = self.state.jobs.get((namespace, job_id))
            if parent is None:
                raise NomadHTTPError(500, "parameterized job not found")
            config = parent.get("ParameterizedJob")
            if config is None or parent.get("Dispatched"):
                raise NomadHTTPError(500, f'Specified job "{job_id}" is not a parameterized job')
            if parent.get("Stop"):
                raise NomadHTTPError(500, f'Specified job "{job_id}" is stopped')
            priority = priority or int(parent["Priority"])
            mode = config.get("Payload") or "optional"
            if mode == "required" and not payload:
                raise NomadHTTPError(500, "Payload is not provided but required by parameterized job")
            if mode == "forbidden" and payload:
                raise NomadHTTPError(500, "Payload provided but forbidden by parameterized job")
            if len(payload) > DISPATCH_PAYLOAD_LIMIT:
                raise NomadHTTPError(500, f"Payload exceeds maximum size; {len(payload)} > {DISPATCH_PAYLOAD_LIMIT}")
            required = list(config.get("MetaRequired") or ())
            allowed = set(required) | set(config.get("MetaOptional") or ())
            unpermitted = sorted(k for k in meta if k not in allowed)
            if unpermitted:
                raise NomadHTTPError(500, f"Dispatch request included unpermitted metadata keys: {_flat(unpermitted)}")
            missing = [k for k in required if k not in meta]
            if missing:
                raise NomadHTTPError(500, f"Dispatch did not provide required meta keys: {_flat(missing)}")
            if not 1 <= priority <= MAX_PRIORITY:
                raise NomadHTTPError(500, f"dispatch job priority must be between [1, {MAX_PRIORITY}]")
            if idempotency_token:
                for (ns, _), other in self.state.jobs.items():
                    if (ns == namespace and other.get("ParentID") == job_id
                            and other.get("DispatchIdempotencyToken") == idempotency_token):
                        return {"DispatchedJobID": other["ID"], "EvalID": "", "EvalCreateIndex": 0,
                                "JobCreateIndex": other["CreateIndex"], "Index": other["ModifyIndex"]}
            stamp = self.now_ns() // NS_PER_S
            prefix = f"{id_prefix_template}-" if id_prefix_template else ""
            child_id = f"{job_id}/dispatch-{prefix}{stamp}-{self.new_id()[:8]}"
            child = copy.deepcopy(parent)
            child.update(
                ID=child_id, Name=child_id, ParentID=job_id, Dispatched=True, Status="", StatusDescription="",
                DispatchIdempotencyToken=idempotency_token, Priority=priority,
                Meta={**(parent.get("Meta") or {}), **meta} or None,
                Payload=base64.b64encode(snappy_block(payload)).decode(),
            )
            reply = self.register_job(child, namespace=namespace)
            created = self.state.jobs[(namespace, child_id)]["CreateIndex"]
            return {"DispatchedJobID": child_id, "EvalID": reply["EvalID"],
                    "EvalCreateIndex": reply["EvalCreateIndex"], "JobCreateIndex": created,
                    "Index": created}

    def force_periodic(self: SimCluster, namespace: str, job_id: str) -> dict[str, Any]:
        """``POST /v1/job/:id/periodic/force``; returns a PeriodicForceResponse."""
        if not job_id:
            raise NomadHTTPError(500, "missing job ID for evaluation")
        with self.state.lock:
            parent = self.state.jobs.get((namespace, job_id))
            if parent is None:
                raise NomadHTTPError(500, "job not found")
            periodic = parent.get("Periodic")
            if periodic is None:
                raise NomadHTTPError(500, "can't force launch non-periodic job")
            if not periodic.get("Enabled") or parent.get("Stop"):
                # Only enabled, running periodic jobs are tracked by the dispatcher.
                raise NomadHTTPError(500, f'force launch for job "{job_id}" failed: can\'t force run '
                                          f"non-tracked job {job_id} ({namespace})")
            child = self.launch_periodic_child(namespace, job_id)
            ev = next(e for e in self.state.evals.values() if e["JobID"] == child["ID"]
                      and e["Namespace"] == namespace and e["TriggeredBy"] == "periodic-job")
            return {"EvalID": ev["ID"], "EvalCreateIndex": ev["CreateIndex"], "Index": ev["CreateIndex"]}

    def launch_periodic_child(self: SimCluster, namespace: str, parent_id: str, *,
                              launch_ns: int | None = None) -> dict[str, Any]:
        """Launch one child of a periodic job: ``<parent>/periodic-<unix seconds>``.

        ``launch_ns`` is the launch time the child is named after (default now), as the
        periodic dispatcher names a child after its scheduled launch, not the moment it runs.
        """
        with self.state.lock:
            parent = self.state.jobs.get((namespace, parent_id))
            if parent is None or parent.get("Periodic") is None:
                raise ValueError(f"{parent_id!r} is not a periodic job in namespace {namespace!r}")
            child = copy.deepcopy(parent)
            when = self.now_ns() if launch_ns is None else launch_ns
            child_id = f"{parent_id}/periodic-{when // NS_PER_S}"
            child.update(ID=child_id, Name=child_id, ParentID=parent_id, Periodic=None, Status="",
                         StatusDescription="")
            self.register_job(child, namespace=namespace, triggered_by="periodic-job")
            return self.state.jobs[(namespace, child_id)]
