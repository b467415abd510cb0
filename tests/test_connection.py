"""``nomadlab.connect()``: the cluster at NOMAD_ADDR, else an in-process simulated one."""

from __future__ import annotations

import pytest

import nomadlab
from nomadlab.client import NomadClient
from nomadlab.connection import SIM_ADDRESS, connect


def test_without_nomad_addr_it_answers_from_the_simulated_demo_cluster() -> None:
    client = connect(environ={})
    assert isinstance(client, NomadClient)
    assert client.config.address == SIM_ADDRESS
    nodes = client.get("/v1/nodes").body
    assert len(nodes) == 40
    assert {n["NodePool"] for n in nodes} == {"default", "batch", "gpu"}
    jobs = {j["ID"] for j in client.get("/v1/jobs", params={"namespace": "*"}).body}
    assert {"api", "web", "ledger-import", "ml-train-xl"} <= jobs


def test_fallback_is_repeatable_for_a_seed() -> None:
    a = connect(environ={}).get("/v1/allocations", params={"namespace": "*"}).body
    b = connect(environ={}).get("/v1/allocations", params={"namespace": "*"}).body
    assert [x["ID"] for x in a] == [x["ID"] for x in b]
    c = connect(environ={}, seed=1).get("/v1/allocations", params={"namespace": "*"}).body
    assert [x["ID"] for x in a] != [x["ID"] for x in c]


def test_fallback_scenario_default_is_the_default_cluster() -> None:
    client = connect(environ={}, scenario="default")
    assert sorted(n["Name"] for n in client.get("/v1/nodes").body) == [f"dev-client-{i}" for i in range(1, 6)]


def test_unknown_scenario_names_the_choices() -> None:
    with pytest.raises(ValueError, match="unknown scenario 'nope'; choose one of: default, demo, large"):
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
