# mypy: disable-error-code="misc"
# (the mixin methods annotate ``self: SimCluster``, as pyproject.toml's override for jobs.py says)
"""Job version writes: revert to an earlier version, mark a version stable.

As ``Job.Revert`` and ``Job.Stable`` in ``nomad/job_endpoint.go``: a revert re-registers the old
version's spec as a new version (``Stable`` false, ``VersionTag`` cleared), with
``EnforcePriorVersion`` turned into an enforced ``JobModifyIndex``; stability is one Raft write
on the version (and on the job when it is that version). Errors are Nomad's uncoded texts, so
500 over HTTP.
"""

from __future__ import annotations

import copy
from typing import TYPE_CHECKING, Any

from .errors import NomadHTTPError

if TYPE_CHECKING:
    from .cluster import SimCluster

__all__ = ["VersionOperations"]


class VersionOperations:
    """Version-level writes of :class:`~nomadlab.sim.cluster.SimCluster`."""

    def revert_job(self: SimCluster, namespace: str, job_id: str, version: int, *,
                   enforce_prior_version: int | None = None) -> dict[str, Any]:
        """``POST /v1/job/:id/revert``; returns a JobRegisterResponse."""
        if not job_id:
            raise NomadHTTPError(500, "missing job ID for revert")
        with self.state.lock:
            current = self.state.jobs.get((namespace, job_id))
            if current is None:
                raise NomadHTTPError(500, f'job "{job_id}" not found')
            if version == current["Version"]:
                raise NomadHTTPError(500, "can't revert to current version")
            old = next((v for v in self.state.job_versions.get((namespace, job_id), [])
                        if v["Version"] == version), None)
            if old is None:
                raise NomadHTTPError(
                    500, f'job "{job_id}" in namespace "{namespace}" at version {version} not found')
            spec = copy.deepcopy(old)
            spec["VersionTag"] = None
            spec["Stable"] = False
            enforce = enforce_prior_version is not None
            if enforce and current["Version"] != enforce_prior_version:
                raise NomadHTTPError(
                    500, f"Current job has version {current['Version']}; enforcing version {enforce_prior_version}")
            return self.register_job(spec, namespace=namespace, enforce_index=enforce,
                                     job_modify_index=int(current["JobModifyIndex"]) if enforce else 0)

    def set_job_stability(self: SimCluster, namespace: str, job_id: str, version: int,
                          stable: bool) -> dict[str, Any]:
        """``POST /v1/job/:id/stable``; returns ``{"Index": N}`` (JobStabilityResponse)."""
        if not job_id:
            raise NomadHTTPError(500, "missing job ID for marking job as stable")
        with self.state.lock:
            key = (namespace, job_id)
            entry = next((v for v in self.state.job_versions.get(key, []) if v["Version"] == version), None)
            if entry is None:
                raise NomadHTTPError(
                    500, f'job "{job_id}" in namespace "{namespace}" at version {version} not found')
            idx = self.state.next_index()
            # The Raft write always happens; the state store changes nothing when the version
            # already has that stability (state_store.go updateJobStabilityImpl).
            tables: list[str] = []
            if bool(entry.get("Stable")) != stable:
                entry["Stable"] = stable
                tables.append("job_version")
                job = self.state.jobs.get(key)
                if job is not None and job["Version"] == version:
                    job["Stable"] = stable
                    self.state.stamp("jobs", key, job, idx)
                    tables.append("jobs")
            self.state.commit(idx, tables, tracked=True)
            return {"Index": idx}
