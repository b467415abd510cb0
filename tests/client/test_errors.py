"""The error tree: one status → class table, facts on every error, hints that say what to do."""

from __future__ import annotations

from collections.abc import Callable

import httpx
import pytest

from nomadlab import errors
from nomadlab.client import NomadClient, RetryPolicy
from nomadlab.errors import (
    STATUS_CLASSES,
    BadRequestError,
    NomadAPIError,
    NomadError,
    NotFoundError,
    PermissionDeniedError,
    RequiredCapability,
    ServerError,
    from_status,
    parse_retry_after,
    required_capability,
)

from .conftest import TOKEN, Recorder, nomad_error

MakeClient = Callable[..., tuple[NomadClient, Recorder]]
NO_RETRY = RetryPolicy(attempts=1)


@pytest.mark.parametrize(
    ("status", "name"),
    [(400, "BadRequestError"), (401, "UnauthorizedError"), (403, "PermissionDeniedError"),
     (404, "NotFoundError"), (405, "MethodNotAllowedError"), (409, "ConflictError"),
     (429, "RateLimitedError"), (500, "InternalServerError"), (502, "BadGatewayError"),
     (503, "ServiceUnavailableError"), (504, "GatewayTimeoutError")],
    ids=str,
)
def test_status_table(status: int, name: str) -> None:
    assert from_status(status).__name__ == name
    assert STATUS_CLASSES[status].status_code == status


@pytest.mark.parametrize(("status", "cls"), [(418, NomadAPIError), (507, ServerError)],
                         ids=["unknown-4xx", "unknown-5xx"])
def test_unknown_statuses_fall_back(status: int, cls: type[NomadAPIError]) -> None:
    assert from_status(status) is cls


def test_every_error_is_a_nomad_error() -> None:
    for name in errors.__all__:
        obj = getattr(errors, name)
        if isinstance(obj, type) and issubclass(obj, Warning):
            assert name.endswith("Warning"), name   # warnings are warned, not raised
        elif isinstance(obj, type) and issubclass(obj, Exception):
            assert issubclass(obj, NomadError), name
    assert issubclass(errors.NomadConfigError, ValueError)
    assert all(issubclass(c, ServerError) for s, c in STATUS_CLASSES.items() if s >= 500)


def test_api_error_carries_facts(make_client: MakeClient) -> None:
    client, _ = make_client([nomad_error(404, "job not found")], retry=NO_RETRY)
    with pytest.raises(NotFoundError) as info:
        client.get("/v1/job/nope", namespace="web")
    err = info.value
    assert (err.status, err.method, err.body) == (404, "GET", "job not found")
    assert err.url == "http://nomad.test:4646/v1/job/nope?namespace=web"
    assert "404" in str(err) and "job not found" in str(err) and "/v1/job/nope" in str(err)


@pytest.mark.parametrize(
    ("method", "path", "query", "capability"),
    [("GET", "/v1/jobs", {}, "list-jobs"),
     ("GET", "/v1/job/web", {}, "read-job"),
     ("GET", "/v1/job/web/allocations", {}, "read-job"),
     ("POST", "/v1/jobs", {}, "submit-job"),
     ("POST", "/v1/job/web/scale", {}, "scale-job"),
     ("GET", "/v1/job/web/scale", {}, "read-job-scaling"),
     ("DELETE", "/v1/job/web", {}, "submit-job"),
     ("POST", "/v1/job/web/dispatch", {}, "dispatch-job"),
     ("GET", "/v1/client/fs/logs/abc", {}, "read-logs"),
     ("GET", "/v1/client/fs/ls/abc", {}, "read-fs"),
     ("GET", "/v1/client/allocation/abc/stats", {}, "read-job"),
     ("POST", "/v1/allocation/abc/stop", {}, "alloc-lifecycle"),
     ("GET", "/v1/nodes", {}, "node:read"),
     ("POST", "/v1/node/n1/drain", {}, "node:write"),
     ("GET", "/v1/event/stream", {"topic": ["Job:web"]}, "read-job"),
     ("GET", "/v1/event/stream", {"topic": ["Node:*"]}, "node:read"),
     ("GET", "/v1/event/stream", {}, "management")],
    ids=lambda v: v if isinstance(v, str) else "",
)
def test_required_capability(method: str, path: str, query: dict[str, list[str]],
                             capability: str) -> None:
    need = required_capability(method, path, query)
    assert need is not None
    label = (need.capability if need.scope == "namespace"
             else "management" if need.scope == "management" else f"{need.scope}:{need.capability}")
    assert label == capability


def test_403_without_token_says_to_set_nomad_token(make_client: MakeClient) -> None:
    client, _ = make_client([nomad_error(403, "Permission denied")], retry=NO_RETRY)
    with pytest.raises(PermissionDeniedError) as info:
        client.get("/v1/job/web", namespace="web")
    assert "No ACL token was sent" in info.value.hint
    assert "NOMAD_TOKEN" in info.value.hint
    assert "`read-job` capability on namespace `web`" in info.value.hint
    assert info.value.required == RequiredCapability("read-job")


def test_403_with_token_names_missing_capability(make_client: MakeClient) -> None:
    client, _ = make_client([nomad_error(403, "Permission denied")], retry=NO_RETRY, token=TOKEN)
    with pytest.raises(PermissionDeniedError) as info:
        client.get("/v1/client/fs/logs/abc", params={"task": "t", "type": "stdout"})
    assert "lacks the `read-logs` capability on namespace `default`" in str(info.value)
    assert TOKEN not in str(info.value) and TOKEN not in repr(info.value)


def test_403_node_endpoint_names_node_policy(make_client: MakeClient) -> None:
    client, _ = make_client([nomad_error(403, "Permission denied")], retry=NO_RETRY, token=TOKEN)
    with pytest.raises(PermissionDeniedError, match='node \\{ policy = "read" \\}'):
        client.get("/v1/nodes")


def test_403_unknown_token(make_client: MakeClient) -> None:
    client, _ = make_client([nomad_error(403, "ACL token not found")], retry=NO_RETRY,
                            token=TOKEN)
    with pytest.raises(PermissionDeniedError, match="not known to this cluster"):
        client.get("/v1/jobs")


def test_404_on_logs_says_allocation_was_garbage_collected(make_client: MakeClient) -> None:
    client, _ = make_client([nomad_error(404, "alloc not found")], retry=NO_RETRY)
    with pytest.raises(NotFoundError) as info:
        list(client.logs("5c3e0f1a", "web"))
    assert "garbage-collected" in info.value.hint and "no logs" in info.value.hint
    assert "5c3e0f1a" in info.value.hint


def test_500_unknown_allocation_on_stats(make_client: MakeClient) -> None:
    client, _ = make_client([nomad_error(500, 'Unknown allocation "5c3e"')] * 4)
    with pytest.raises(ServerError, match="garbage-collected"):
        client.get("/v1/client/allocation/5c3e/stats")


@pytest.mark.parametrize(
    ("status", "body", "words"),
    [(404, 'task "web" not started yet. No logs available', "has not started"),
     (400, 'unknown task name "x"', "No task of that name"),
     (400, "ACL support disabled", "ACLs are disabled"),
     (404, "", "No such endpoint"),
     (405, "Invalid method", "does not accept GET"),
     (401, "", "NOMAD_HTTP_AUTH")],
    ids=["not-started", "unknown-task", "acl-disabled", "unknown-route", "405", "401"],
)
def test_hints(make_client: MakeClient, status: int, body: str, words: str) -> None:
    client, _ = make_client([nomad_error(status, body)], retry=NO_RETRY)
    with pytest.raises(NomadAPIError) as info:
        client.get("/v1/client/fs/logs/abc" if "task" in body else "/v1/thing")
    assert words in info.value.hint


def test_token_echoed_in_body_is_redacted(make_client: MakeClient) -> None:
    client, _ = make_client([nomad_error(400, f"bad token {TOKEN}")], retry=NO_RETRY,
                            token=TOKEN)
    with pytest.raises(BadRequestError) as info:
        client.get("/v1/jobs")
    assert TOKEN not in str(info.value) and TOKEN not in info.value.body
    assert "<redacted>" in info.value.body


@pytest.mark.parametrize(("value", "seconds"), [("3", 3.0), ("0.5", 0.5), ("-2", 0.0),
                                                ("soon", None), (None, None)],
                         ids=["int", "float", "negative", "garbage", "absent"])
def test_parse_retry_after(value: str | None, seconds: float | None) -> None:
    assert parse_retry_after(value) == seconds


def test_parse_retry_after_http_date() -> None:
    assert parse_retry_after("Wed, 21 Oct 2015 07:28:30 GMT",
                             now=1445412480.0) == pytest.approx(30.0)


def test_redirect_is_an_error_not_followed(make_client: MakeClient) -> None:
    client, rec = make_client([httpx.Response(307, headers={"Location": "http://x/"})],
                              retry=NO_RETRY)
    with pytest.raises(NomadAPIError):
        client.get("/v1/jobs")
    assert len(rec.requests) == 1
