"""``/v1/agent/servers``, ``/v1/agent/join``, ``/v1/agent/force-leave`` and ``/v1/var/:path``."""

from __future__ import annotations

import time

import httpx
import pytest

from nomadlab.sim import SimCluster
from tests.conftest import SAMPLES_DIR


@pytest.fixture
def world() -> tuple[SimCluster, httpx.Client, dict[str, dict[str, str]]]:
    c = SimCluster(seed=2, acl=True)
    c.max_blocking_wait_s = 0.3
    http = httpx.Client(transport=c.transport(), base_url="http://nomad")
    tokens = {"anon": {}, "mgmt": {"X-Nomad-Token": c.acl.bootstrap()["SecretID"]}}
    for level in ("read", "write"):
        c.acl.upsert_policy(f"agent-{level}", f'agent {{ policy = "{level}" }}')
        secret = c.acl.create_token(name=level, policies=[f"agent-{level}"])["SecretID"]
        tokens[level] = {"X-Nomad-Token": secret}
    return c, http, tokens


def test_servers_list_matches_the_sample(world: tuple[SimCluster, httpx.Client, dict[str, dict[str, str]]]) -> None:
    _, http, tokens = world
    import json

    sample = json.loads((SAMPLES_DIR / "GET_v1_agent_servers.json").read_text())
    r = http.get("/v1/agent/servers", headers=tokens["read"])
    assert (r.status_code, r.json()) == (200, sample)
    assert (http.get("/v1/agent/servers").status_code, http.get("/v1/agent/servers").text) == (
        403, "Permission denied")
    assert http.delete("/v1/agent/servers", headers=tokens["mgmt"]).text == "Invalid method"


def test_set_servers(world: tuple[SimCluster, httpx.Client, dict[str, dict[str, str]]]) -> None:
    _, http, tokens = world
    r = http.put("/v1/agent/servers", headers=tokens["anon"])
    assert (r.status_code, r.text) == (400, "missing server address")  # before the token check
    r = http.put("/v1/agent/servers", params={"address": "127.0.0.1:4647"}, headers=tokens["read"])
    assert (r.status_code, r.text) == (403, "Permission denied")
    r = http.put("/v1/agent/servers", params={"address": ["10.9.9.9", "127.0.0.1"]}, headers=tokens["write"])
    assert (r.status_code, r.text) == (200, "")
    r = http.post("/v1/agent/servers", params={"address": "10.9.9.9"}, headers=tokens["write"])
    assert r.status_code == 400
    assert r.text == ("1 error occurred:\n\t* Server at address 10.9.9.9:4647 failed ping: "
                      "dial tcp 10.9.9.9:4647: connect: connection refused\n\n")
    assert http.get("/v1/agent/servers", headers=tokens["read"]).json() == ["127.0.0.1:4647"]


def test_join(world: tuple[SimCluster, httpx.Client, dict[str, dict[str, str]]]) -> None:
    _, http, tokens = world
    r = http.put("/v1/agent/join", params={"address": "127.0.0.1"}, headers=tokens["write"])
    assert r.json() == {"num_joined": 1, "error": "", "warning": ""}
    r = http.post("/v1/agent/join", params={"address": ["127.0.0.1:4648", "10.0.0.2"]})
    body = r.json()
    assert r.status_code == 200 and body["num_joined"] == 1
    assert body["error"] == ("1 error occurred:\n\t* Failed to join 10.0.0.2:4648: dial tcp 10.0.0.2:4648: "
                             "connect: connection refused\n\n")
    # Nomad 2.x still joins without agent:write, with a deprecation warning
    assert body["warning"] == "anonymous server join is deprecated and will be removed in a future version of Nomad"
    assert (http.put("/v1/agent/join").status_code, http.put("/v1/agent/join").text) == (
        400, "missing address to join")
    assert http.get("/v1/agent/join").status_code == 405


def test_force_leave(world: tuple[SimCluster, httpx.Client, dict[str, dict[str, str]]]) -> None:
    c, http, tokens = world
    before = c.state.index
    r = http.put("/v1/agent/force-leave", params={"node": "gone.global"}, headers=tokens["read"])
    assert (r.status_code, r.text) == (403, "Permission denied")
    r = http.put("/v1/agent/force-leave", headers=tokens["write"])
    assert (r.status_code, r.text) == (400, "missing node to force leave")
    r = http.put("/v1/agent/force-leave", params={"node": "x", "prune": "maybe"}, headers=tokens["write"])
    assert (r.status_code, r.text) == (400, "invalid prune value")
    r = http.put("/v1/agent/force-leave", params={"node": "x", "prune": "true"}, headers=tokens["write"])
    assert (r.status_code, r.text) == (200, "")
    assert http.get("/v1/agent/force-leave", headers=tokens["mgmt"]).status_code == 405
    assert c.state.index == before


def test_unknown_agent_path_falls_through_to_an_empty_404(
        world: tuple[SimCluster, httpx.Client, dict[str, dict[str, str]]]) -> None:
    _, http, tokens = world
    r = http.get("/v1/agent/nope", headers=tokens["mgmt"])
    assert (r.status_code, r.content) == (404, b"")


def test_variables(world: tuple[SimCluster, httpx.Client, dict[str, dict[str, str]]]) -> None:
    _, http, tokens = world
    r = http.get("/v1/vars", params={"prefix": "nomad/jobs"})
    assert (r.status_code, r.json(), r.headers["x-nomad-index"]) == (200, [], "1")
    r = http.get("/v1/var/nomad/jobs/web", headers=tokens["mgmt"])
    assert (r.status_code, r.text, r.headers["x-nomad-index"]) == (404, "variable not found", "1")
    r = http.get("/v1/var/nomad/jobs/web")
    assert (r.status_code, r.text) == (403, "Permission denied")
    assert http.get("/v1/var/", headers=tokens["mgmt"]).text == "missing variable path"
    assert http.put("/v1/vars", headers=tokens["mgmt"]).status_code == 405


@pytest.mark.parametrize("path", ["/v1/vars", "/v1/var/a/b"])
def test_variable_reads_block(world: tuple[SimCluster, httpx.Client, dict[str, dict[str, str]]], path: str) -> None:
    _, http, tokens = world
    start = time.monotonic()
    r = http.get(path, params={"index": "1", "wait": "5s"}, headers=tokens["mgmt"])
    waited = time.monotonic() - start
    assert r.status_code in (200, 404) and r.headers["x-nomad-index"] == "1"
    assert waited >= 0.25  # held for the (capped) wait: the table never moves past 1
    start = time.monotonic()
    http.get(path, params={"index": "0"}, headers=tokens["mgmt"])
    assert time.monotonic() - start < 0.25
    assert http.get(path, params={"index": "x"}, headers=tokens["mgmt"]).text == "Invalid index"
