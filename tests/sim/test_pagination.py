"""Pagination (REFERENCE §1): ``per_page``/``next_token`` with Nomad's token formats, the
next page starting *at* the token (inclusive), ``reverse=true``, and filters applied before
paging. Walking every page must yield each object exactly once, in the endpoint's order.
"""

from __future__ import annotations

import re

import httpx
import pytest

from nomadlab.sim import SimCluster
from tests.sim.conftest import new_cluster, simple_job

UUID = r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"


@pytest.fixture
def busy() -> SimCluster:
    """Seven jobs over two namespaces and six nodes."""
    cluster = new_cluster(tuple((f"n{i}", "dc1") for i in range(6)))
    cluster.add_namespace("team")
    for i in range(4):
        cluster.register_job(simple_job(f"job{i}", count=2, datacenters=["dc1"]))
    for i in range(3):
        spec = simple_job(f"t{i}", count=1, datacenters=["dc1"])
        spec["Namespace"] = "team"
        cluster.register_job(spec)
    return cluster


@pytest.fixture
def busy_api(busy: SimCluster):
    with httpx.Client(transport=busy.transport(), base_url="http://nomad") as client:
        yield client


def walk(api: httpx.Client, path: str, per_page: int) -> tuple[list[dict], list[str]]:
    items: list[dict] = []
    tokens: list[str] = []
    sep = "&" if "?" in path else "?"
    url = f"{path}{sep}per_page={per_page}"
    for _ in range(100):
        r = api.get(url)
        assert r.status_code == 200, r.text
        page = r.json()
        assert len(page) <= per_page
        items.extend(page)
        token = r.headers.get("X-Nomad-NextToken")
        if not token:
            return items, tokens
        assert len(page) == per_page
        tokens.append(token)
        url = f"{path}{sep}per_page={per_page}&next_token={token}"
    raise AssertionError("pagination does not end")


def key(obj: dict) -> str:
    return obj.get("ID") or obj["Name"]


CASES = [
    pytest.param("/v1/jobs?namespace=*", r"^(default|team)\.(job|t)\d$", id="jobs"),
    pytest.param("/v1/allocations?namespace=*", rf"^\d+\.{UUID}$", id="allocations"),
    pytest.param("/v1/evaluations?namespace=*", rf"^\d+\.{UUID}$", id="evaluations"),
    pytest.param("/v1/deployments?namespace=*", rf"^\d+\.{UUID}$", id="deployments"),
    pytest.param("/v1/nodes", rf"^{UUID}$", id="nodes"),
    pytest.param(
        "/v1/allocations?namespace=*&prefix=", rf"^\d+\.{UUID}$", id="allocations-empty-prefix"
    ),
]


@pytest.mark.parametrize(("path", "token_format"), CASES)
@pytest.mark.parametrize("per_page", [1, 2, 3, 5])
def test_walking_pages_yields_each_object_once(
    busy_api: httpx.Client, path: str, token_format: str, per_page: int
) -> None:
    everything = busy_api.get(path).json()
    assert len(everything) > per_page
    items, tokens = walk(busy_api, path, per_page)
    assert [key(o) for o in items] == [key(o) for o in everything]
    assert len({key(o) for o in items}) == len(items)
    for token in tokens:
        assert re.match(token_format, token), token


@pytest.mark.parametrize(("path", "token_format"), CASES[:5])
def test_next_token_is_the_first_item_of_the_next_page(
    busy_api: httpx.Client, path: str, token_format: str
) -> None:
    r = busy_api.get(f"{path}&per_page=2" if "?" in path else f"{path}?per_page=2")
    token = r.headers["X-Nomad-NextToken"]
    sep = "&" if "?" in path else "?"
    nxt = busy_api.get(f"{path}{sep}per_page=2&next_token={token}").json()
    everything = busy_api.get(path).json()
    assert key(nxt[0]) == key(everything[2])
    assert token.endswith(key(everything[2]))


def test_job_tokens_are_namespace_dot_id(busy_api: httpx.Client) -> None:
    r = busy_api.get("/v1/jobs?namespace=*&per_page=4")
    assert [j["ID"] for j in r.json()] == ["job0", "job1", "job2", "job3"]
    assert r.headers["X-Nomad-NextToken"] == "team.t0"


def test_alloc_token_with_prefix_is_plain_id(busy: SimCluster, busy_api: httpx.Client) -> None:
    ids = sorted(busy.state.allocs)
    firsts = [i[0] for i in ids]
    prefix = max(set(firsts), key=firsts.count)
    matching = [i for i in ids if i.startswith(prefix)]
    assert len(matching) >= 2, "the fixture should give two allocations a common first digit"
    r = busy_api.get(f"/v1/allocations?namespace=*&prefix={prefix}&per_page=1")
    assert r.headers["X-Nomad-NextToken"] == matching[1]
    assert [a["ID"] for a in r.json()] == matching[:1]


def test_token_between_items_starts_at_the_next_one(busy_api: httpx.Client) -> None:
    everything = busy_api.get("/v1/jobs?namespace=*").json()
    # "default.job1a" sorts after default.job1 and before default.job2.
    page = busy_api.get("/v1/jobs?namespace=*&next_token=default.job1a").json()
    assert [j["ID"] for j in page] == [j["ID"] for j in everything[2:]]


def test_reverse(busy_api: httpx.Client) -> None:
    forward = [j["ID"] for j in busy_api.get("/v1/jobs?namespace=*").json()]
    backward = [j["ID"] for j in busy_api.get("/v1/jobs?namespace=*&reverse=true").json()]
    assert backward == list(reversed(forward))
    items, _ = walk(busy_api, "/v1/jobs?namespace=*&reverse=true", 3)
    assert [j["ID"] for j in items] == backward
    # Only the literal "true" reverses.
    assert [j["ID"] for j in busy_api.get("/v1/jobs?namespace=*&reverse=1").json()] == forward


def test_reverse_allocations_walk(busy_api: httpx.Client) -> None:
    forward = [a["ID"] for a in busy_api.get("/v1/allocations?namespace=*").json()]
    items, _ = walk(busy_api, "/v1/allocations?namespace=*&reverse=true", 2)
    assert [a["ID"] for a in items] == list(reversed(forward))


def test_filter_applies_before_paging(busy_api: httpx.Client) -> None:
    items, _ = walk(busy_api, '/v1/jobs?namespace=*&filter=Namespace == "team"', 2)
    assert [j["ID"] for j in items] == ["t0", "t1", "t2"]


def test_per_page_zero_means_everything(busy_api: httpx.Client) -> None:
    r = busy_api.get("/v1/jobs?namespace=*&per_page=0")
    assert len(r.json()) == 7
    assert "X-Nomad-NextToken" not in r.headers


def test_exact_last_page_has_no_token(busy_api: httpx.Client) -> None:
    r = busy_api.get("/v1/jobs?namespace=*&per_page=7")
    assert len(r.json()) == 7
    assert "X-Nomad-NextToken" not in r.headers


def test_ordering_by_create_index(busy_api: httpx.Client) -> None:
    allocs = busy_api.get("/v1/allocations?namespace=*").json()
    assert [a["CreateIndex"] for a in allocs] == sorted(a["CreateIndex"] for a in allocs)
    nodes = busy_api.get("/v1/nodes").json()
    assert [n["ID"] for n in nodes] == sorted(n["ID"] for n in nodes)


def test_pages_see_changes_made_between_them(busy: SimCluster, busy_api: httpx.Client) -> None:
    """The sorted order a list pages through is kept between requests, and renewed on change."""
    first = busy_api.get("/v1/allocations", params={"namespace": "*", "per_page": 3})
    token = first.headers["X-Nomad-NextToken"]
    before = {a["ID"] for a in busy_api.get("/v1/allocations", params={"namespace": "*"}).json()}
    busy.register_job(simple_job("late", count=2, datacenters=["dc1"]))
    rest, _ = walk_from(busy_api, "/v1/allocations", per_page=3, token=token)
    new = {a["ID"] for a in rest} - before
    assert len(new) == 2 and all(a["JobID"] == "late" for a in rest if a["ID"] in new)
    # the order is cached, so an unchanged table answers from the same list
    state = busy.state
    with state.lock:
        assert state.ordered("allocs", state.allocs, "create") is state.ordered("allocs", state.allocs, "create")


def test_a_page_deep_in_a_big_list_costs_its_own_size(busy: SimCluster, busy_api: httpx.Client,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    """A next_token is found by bisection: a page reads about per_page objects, not all before it."""
    from nomadlab.sim import router

    allocs = busy_api.get("/v1/allocations", params={"namespace": "*"}).json()
    token = f"{allocs[-2]['CreateIndex']}.{allocs[-2]['ID']}"
    read: list[str] = []
    real = router.paginate

    def counting(req, items, **kw):  # type: ignore[no-untyped-def]
        include = kw.get("include") or (lambda o: True)
        kw["include"] = lambda o: read.append(o["ID"]) or include(o)
        return real(req, items, **kw)

    monkeypatch.setattr("nomadlab.sim.routes.allocations.paginate", counting)
    page = busy_api.get("/v1/allocations", params={"namespace": "*", "per_page": 1, "next_token": token}).json()
    assert [a["ID"] for a in page] == [allocs[-2]["ID"]]
    assert read == [allocs[-2]["ID"], allocs[-1]["ID"]]     # the page's object and the one that gives the token


def walk_from(api: httpx.Client, path: str, per_page: int, token: str) -> tuple[list[dict], list[str]]:
    items: list[dict] = []
    tokens = [token]
    while token:
        r = api.get(path, params={"namespace": "*", "per_page": per_page, "next_token": token})
        items.extend(r.json())
        token = r.headers.get("X-Nomad-NextToken", "")
        tokens.append(token)
    return items, tokens
