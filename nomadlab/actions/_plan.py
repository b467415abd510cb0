"""Plans (what a write would do) and outcomes (what it did), and the follower in between."""

from __future__ import annotations

import html
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal

from nomadlab.audit import append_record
from nomadlab.client import NomadClient
from nomadlab.errors import NomadError

__all__ = ["ConfirmationRequiredError", "Outcome", "Plan", "StalePlanError", "Status", "Waiter"]

Status = Literal["placed", "healthy", "failed", "blocked", "rolled back", "timeout", "done"]


class ConfirmationRequiredError(NomadError):
    """``apply()`` was called without ``confirm=True``; nothing was written."""


class StalePlanError(NomadError):
    """The target changed since the plan was made; nothing was written. Plan again."""


class Waiter:
    """Blocking reads until a predicate holds or ``timeout`` seconds pass.

    With ``advance`` (say ``SimCluster.advance``), each round first moves that clock by
    ``step`` seconds and counts them toward ``timeout``, then asks with a short blocking wait;
    without it, blocking queries wait on the server and real time counts.
    """

    def __init__(self, client: NomadClient, *, timeout: float,
                 advance: Callable[[float], None] | None = None, step: float = 1.0) -> None:
        self.client = client
        self.timeout = timeout
        self.advance = advance
        self.step = step
        self.elapsed = 0.0
        self._start = time.monotonic()

    def remaining(self) -> float:
        if self.advance is None:
            self.elapsed = time.monotonic() - self._start
        return self.timeout - self.elapsed

    def until(self, path: str, done: Callable[[Any], bool], *,
              namespace: str | None = None) -> tuple[Any, bool]:
        """``GET path`` until ``done(body)``; returns the last body and whether it was done."""
        reply = self.client.get(path, namespace=namespace)
        index = reply.index or 0
        while not done(reply.body):
            if self.remaining() <= 0:
                return reply.body, False
            if self.advance is not None:
                self.advance(self.step)
                self.elapsed += self.step
                wait = 0.05
            else:
                wait = max(0.05, min(self.remaining(), 300.0))
            reply = self.client.get(path, namespace=namespace, index=max(index, 1), wait=wait)
            index = max(index, reply.index or 0)
        return reply.body, True


@dataclass(frozen=True)
class Outcome:
    """What an applied action did.

    ``status`` is one of ``placed`` (allocations placed, no health to wait for), ``healthy``,
    ``failed`` (``task_events`` say why), ``blocked`` (``failures`` says why), ``rolled back``
    (the deployment failed and Nomad reverted the job), ``timeout`` (``detail`` says which
    step was still pending), ``done`` (a write with nothing to place).
    """

    action: str
    target: str
    status: Status
    detail: str = ""
    eval_id: str | None = None
    deployment_id: str | None = None
    allocations: tuple[str, ...] = ()
    failures: Mapping[str, Any] = field(default_factory=dict)
    task_events: Any = None
    reply: Mapping[str, Any] = field(default_factory=dict)

    def __repr__(self) -> str:
        return (f"Outcome({self.action} {self.target}: {self.status}"
                f"{' - ' + self.detail if self.detail else ''})")

    def _repr_html_(self) -> str:
        rows = "".join(f"<tr><th>{html.escape(k)}</th><td>{html.escape(str(v))}</td></tr>"
                       for k, v in (("status", self.status), ("detail", self.detail),
                                    ("evaluation", self.eval_id or ""),
                                    ("deployment", self.deployment_id or ""),
                                    ("allocations", ", ".join(a[:8] for a in self.allocations))))
        return f"<b>{html.escape(self.action)} {html.escape(self.target)}</b><table>{rows}</table>"


@dataclass(frozen=True)
class Plan:
    """What an action would do; :meth:`apply` with ``confirm=True`` does it.

    Attributes
    ----------
    action, target, namespace
        The action's name, what it acts on, and the namespace.
    summary
        One line: what would change.
    changes
        The detail: placements/stops/in-place updates per group, the allocations that stop or
        migrate, or the allocation itself.
    failures
        Placement failures Nomad's plan foresaw (``FailedTGAllocs`` by group).
    diff
        Nomad's job diff, when the plan came from ``POST /v1/job/:id/plan``.
    before, after
        The value before and after (recorded in the audit log).
    """

    action: str
    target: str
    namespace: str
    summary: str
    changes: Mapping[str, Any] = field(default_factory=dict)
    failures: Mapping[str, Any] = field(default_factory=dict)
    diff: Mapping[str, Any] | None = None
    warnings: str = ""
    before: Any = None
    after: Any = None
    client: NomadClient | None = field(default=None, repr=False, compare=False)
    token: Mapping[str, Any] | None = field(default=None, repr=False, compare=False)
    write: Callable[[], Mapping[str, Any]] | None = field(default=None, repr=False, compare=False)
    check: Callable[[], None] | None = field(default=None, repr=False, compare=False)
    follow: Callable[[Mapping[str, Any], Waiter], Outcome] | None = field(
        default=None, repr=False, compare=False)

    def __repr__(self) -> str:
        where = f" in {self.namespace}" if self.namespace else ""
        lines = [f"Plan({self.action} {self.target}{where}): {self.summary}"]
        lines += [f"  {k}: {v}" for k, v in self.changes.items()]
        lines += [f"  cannot place {g}: {_failure_text(f)}" for g, f in self.failures.items()]
        if self.warnings:
            lines.append(f"  warnings: {self.warnings}")
        lines.append("  apply(confirm=True) to do it")
        return "\n".join(lines)

    def _record(self, eval_id: str | None, status: str, detail: str, audit: str | None) -> None:
        """Append this action's audit record (the token's accessor ID, never its secret)."""
        assert self.client is not None
        config = self.client.config
        accessor = "acls-disabled" if self.token is None else str(self.token.get("AccessorID", ""))
        append_record({
            "time": datetime.now(UTC).isoformat(),
            "address": config.address,
            "region": config.region or "",
            "namespace": self.namespace,
            "accessor_id": accessor,
            "action": self.action,
            "target": self.target,
            "before": self.before,
            "after": self.after,
            "eval_id": eval_id,
            "outcome": status,
            "detail": detail,
        }, audit)

    def _repr_html_(self) -> str:
        rows = "".join(f"<tr><th>{html.escape(str(k))}</th><td>{html.escape(str(v))}</td></tr>"
                       for k, v in self.changes.items())
        fails = "".join(f"<li>{html.escape(g)}: {html.escape(_failure_text(f))}</li>"
                        for g, f in self.failures.items())
        return (f"<b>{html.escape(self.action)} {html.escape(self.target)}</b> "
                f"(namespace {html.escape(self.namespace)}): {html.escape(self.summary)}"
                f"<table>{rows}</table>" + (f"<p>Cannot place:</p><ul>{fails}</ul>" if fails else "")
                + "<p><code>plan.apply(confirm=True)</code> to do it</p>")

    def apply(self, *, confirm: bool = False, timeout: float = 300.0,
              advance: Callable[[float], None] | None = None, step: float = 1.0,
              audit: str | None = None) -> Outcome:
        """Write the change, follow it, record it in the audit log, and return the outcome.

        Parameters
        ----------
        confirm
            Must be ``True``; otherwise :class:`ConfirmationRequiredError` and nothing is sent.
        timeout
            Seconds to follow the evaluation, deployment and allocations.
        advance, step
            A clock to move while following (``SimCluster.advance``), ``step`` seconds a round.
        audit
            The audit log's path (default :func:`nomadlab.audit.default_path`).
        """
        if confirm is not True:
            raise ConfirmationRequiredError(
                f"{self.action} {self.target} was not applied: call apply(confirm=True) to write it"
            )
        if self.client is None or self.write is None:
            raise ConfirmationRequiredError("this plan has nothing to apply")
        if self.check is not None:
            self.check()
        try:
            reply = self.write()
        except Exception as exc:
            # The write may or may not have been applied; it is never sent again.
            self._record(None, "error", f"{type(exc).__name__}: {exc}".splitlines()[0], audit)
            raise
        eval_id = str(reply.get("EvalID") or "") or None
        outcome = Outcome(self.action, self.target, "done", eval_id=eval_id, reply=dict(reply))
        try:
            if self.follow is not None:
                waiter = Waiter(self.client, timeout=timeout, advance=advance, step=step)
                outcome = self.follow(reply, waiter)
        except Exception as exc:
            self._record(eval_id, "applied, follow failed", f"{type(exc).__name__}: {exc}".splitlines()[0],
                         audit)
            raise
        self._record(outcome.eval_id or eval_id, outcome.status, outcome.detail, audit)
        return outcome


def _failure_text(failure: Any) -> str:
    if not isinstance(failure, Mapping):
        return str(failure)
    parts = []
    for key in ("DimensionExhausted", "ConstraintFiltered", "ClassExhausted", "QuotaExhausted"):
        value = failure.get(key)
        if value:
            parts.append(f"{key} {value if isinstance(value, Mapping) else value}")
    nodes = failure.get("NodesEvaluated")
    if nodes is not None:
        parts.append(f"{nodes} nodes evaluated")
    return "; ".join(str(p) for p in parts) or "no node fits"
