"""``nomadlab.connect()``: the cluster at NOMAD_ADDR, else an in-process simulated one."""

from __future__ import annotations

import time
from datetime import UTC, datetime

import pytest

import nomadlab
from nomadlab.client import NomadClient
from nomadlab.connection import SIM_ADDRESS, SIM_END_VAR, connect, sim_origin


def test_without_nomad_addr_it_answers_from_the_simulated_demo_cluster() -> None:
    client = connect(environ={})
    assert isinstance(client, NomadClient)
    assert client.config.address == SIM_ADDRESS
    nodes = client.get("/v1/nodes").body
    assert len(nodes) == 40
    assert {n["NodePool"] for n in nodes} == {"default", "batch", "gpu"}
    jobs = {j["ID"] for j in client.get("/v1/jobs", params={"namespace": "*"}).body}
    assert {"api", "web", "ledger-import", "ml-train-xl"} <= jobs


END = "2026-01-01T06:00:00Z"


def test_fallback_is_repeatable_for_a_seed_and_an_end() -> None:
    a = connect(environ={}, end=END).get("/v1/allocations", params={"namespace": "*"}).body
    b = connect(environ={}, end=END).get("/v1/allocations", params={"namespace": "*"}).body
    assert a == b
    c = connect(environ={}, end=END, seed=1).get("/v1/allocations", params={"namespace": "*"}).body
    assert [x["ID"] for x in a] != [x["ID"] for x in c]


def test_fallback_history_ends_now_and_its_clock_stands_still() -> None:
    before = time.time_ns()
    client = connect(environ={})
    after = time.time_ns()
    origin = sim_origin(client)
    assert origin is not None and origin.scenario == "demo"
    assert before - 1_000_000_000 <= origin.end_ns <= after
    # The newest task event of the history is within its last minutes, not hours ago.
    allocs = client.get("/v1/allocations", params={"namespace": "*", "task_states": "true"}).body
    newest = max(e["Time"] for a in allocs for s in (a.get("TaskStates") or {}).values()
                 for e in s["Events"] or [])
    assert origin.end_ns - 3600 * 10**9 < newest <= origin.end_ns
    first = client.get("/v1/allocations", params={"namespace": "*"}).body
    time.sleep(1.1)
    assert client.get("/v1/allocations", params={"namespace": "*"}).body == first


@pytest.mark.parametrize("end", [END, "1767247200", 1767247200, datetime(2026, 1, 1, 6, tzinfo=UTC)],
                         ids=["rfc3339", "unix-text", "unix", "datetime"])
def test_end_pins_the_history(end: object) -> None:
    origin = sim_origin(connect(environ={}, end=end, scenario="default"))  # type: ignore[arg-type]
    assert origin is not None and origin.end_ns == 1767247200 * 10**9


def test_end_from_the_environment() -> None:
    origin = sim_origin(connect(environ={SIM_END_VAR: END}, scenario="default"))
    assert origin is not None and origin.end_ns == 1767247200 * 10**9


@pytest.mark.parametrize("end", ["yesterday", "2026-01-01T06:00:00", datetime(2026, 1, 1)],
                         ids=["words", "no-zone-text", "naive-datetime"])
def test_unreadable_end_says_what_to_give(end: object) -> None:
    with pytest.raises(ValueError, match="time zone|RFC 3339"):
        connect(environ={}, end=end, scenario="default")  # type: ignore[arg-type]


def test_a_real_cluster_has_no_sim_origin() -> None:
    assert sim_origin(connect(environ={"NOMAD_ADDR": "http://127.0.0.1:4646"})) is None
    assert sim_origin(object()) is None


def test_fallback_scenario_default_is_the_default_cluster() -> None:
    client = connect(environ={}, scenario="default")
    assert sorted(n["Name"] for n in client.get("/v1/nodes").body) == [f"dev-client-{i}" for i in range(1, 6)]


def test_unknown_scenario_names_the_choices() -> None:
    with pytest.raises(ValueError, match="unknown scenario 'nope'; choose one of: default, demo, dev, large"):
        connect(environ={}, scenario="nope")


def test_with_nomad_addr_it_is_configured_like_the_cli_and_prints_no_token() -> None:
    env = {"NOMAD_ADDR": "http://10.1.2.3:4646", "NOMAD_TOKEN": "s3cr3t-token", "NOMAD_NAMESPACE": "web"}
    client = connect(environ=env, scenario="no-such-scenario")  # the scenario is not used
    assert client.config.address == "http://10.1.2.3:4646"
    assert client.config.token == "s3cr3t-token"
    assert client.config.namespace == "web"
    assert "s3cr3t-token" not in repr(client)


def test_empty_nomad_addr_counts_as_unset() -> None:
    assert connect(environ={"NOMAD_ADDR": ""}).config.address == SIM_ADDRESS


def test_reads_os_environ_by_default(monkeypatch: pytest.MonkeyPatch) -> None:
    assert connect().config.address == SIM_ADDRESS  # the autouse fixture removed NOMAD_*
    monkeypatch.setenv("NOMAD_ADDR", "https://nomad.example:4646")
    assert connect().config.address == "https://nomad.example:4646"


def test_exported_lazily_from_the_package() -> None:
    assert "connect" in nomadlab.__all__
    assert nomadlab.connect is connect
