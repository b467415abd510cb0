"""Errors the simulated Nomad answers with, rendered as real Nomad renders them.

Nomad's HTTP error bodies are plain text (``Content-Type: text/plain``), and the status code
comes from a coded error, an ``RPC Error:: <code>,<msg>`` prefix, or suffix matching on the
text (``Permission denied`` → 403). Everything else is a 500.
"""

from __future__ import annotations

__all__ = ["NomadHTTPError", "coded", "from_rpc_text", "not_found", "bad_request"]

# Suffix matching done by Nomad's HTTP layer (command/agent/http.go) on uncoded errors.
_SUFFIX_CODES: tuple[tuple[str, int], ...] = (
    ("Permission denied", 403),
    ("ACL token not found", 403),
    ("Job registration, dispatch, and scale are disabled by the scheduler configuration", 403),
    ("Filter expression cannot be used with other filter parameters", 400),
)


class NomadHTTPError(Exception):
    """An error response: ``status`` and the exact plain-text ``body`` Nomad would send."""

    def __init__(self, status: int, body: str, headers: dict[str, str] | None = None) -> None:
        super().__init__(f"{status} {body}")
        self.status = status
        self.body = body
        self.headers = dict(headers or {})


def coded(status: int, body: str) -> NomadHTTPError:
    """A ``CodedError``: the status is given explicitly."""
    return NomadHTTPError(status, body)


def from_rpc_text(text: str) -> NomadHTTPError:
    """An uncoded RPC error: status by Nomad's suffix table, else 500."""
    for suffix, status in _SUFFIX_CODES:
        if text.endswith(suffix):
            # Nomad writes the bare "Permission denied" for that case, the text otherwise.
            body = suffix if suffix == "Permission denied" else text
            return NomadHTTPError(status, body)
    return NomadHTTPError(500, text)


def not_found(body: str) -> NomadHTTPError:
    return NomadHTTPError(404, body)


def bad_request(body: str) -> NomadHTTPError:
    return NomadHTTPError(400, body)
