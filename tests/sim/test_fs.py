"""The allocation directory: ``/v1/client/fs/ls|stat|cat|readat|stream`` (REFERENCE §11.6)."""

from __future__ import annotations

import base64
from typing import Any

import httpx
import pytest

from nomadlab.sim import SimCluster
from nomadlab.sim.allocdir import DATA_DIR
from nomadlab.sim.scenarios import group, job_spec, task
from tests.conftest import SAMPLES_DIR
from tests.shapes import assert_same_shape

from .test_logs import decode_all

HOURS = 3600


def _cluster(*, max_files: int = 10, max_mb: int = 10, hours: float = 0.2, acl: bool = False) -> SimCluster:
    c = SimCluster(seed=5, acl=acl)
    c.add_node(name="n1", datacenter="dc1", cpu_mhz=4000, cores=4, memory_mb=8192, disk_mb=10000,
               address="10.0.0.1")
    web = task("web", image="nginx:1.27")
    web["Templates"] = [
        {"DestPath": "local/app.conf", "EmbeddedTmpl": "listen 8080;\n"},
        {"DestPath": "secrets/db.env", "EmbeddedTmpl": "PASSWORD=hunter2\n", "Perms": "0600"},
    ]
    web["LogConfig"] = {"MaxFiles": max_files, "MaxFileSizeMB": max_mb}
    c.register_job(job_spec("site", [group("g", [web])], datacenters=["dc1"]))
    c.advance(hours * HOURS)
    return c


@pytest.fixture(scope="module")
def site() -> tuple[SimCluster, httpx.Client, str]:
    c = _cluster()
    alloc = next(iter(c.state.allocs))
    return c, httpx.Client(transport=c.transport(), base_url="http://nomad"), alloc


def _names(r: httpx.Response) -> list[str]:
    assert r.status_code == 200, r.text
    return [e["Name"] for e in r.json()]


def test_layout_is_nomads(site: tuple[SimCluster, httpx.Client, str]) -> None:
    _, http, alloc = site
    ls = lambda p: http.get(f"/v1/client/fs/ls/{alloc}", params={"path": p})  # noqa: E731
    assert _names(http.get(f"/v1/client/fs/ls/{alloc}")) == ["alloc", "web"]  # path defaults to /
    assert _names(ls("alloc")) == ["data", "logs", "tmp"]
    assert _names(ls("/alloc/logs/")) == ["web.stderr.0", "web.stdout.0"]
    assert _names(ls("web")) == ["local", "private", "secrets", "tmp"]
    assert _names(ls("web/local")) == ["app.conf"]
    assert _names(ls("web/secrets")) == ["db.env"]  # listing secrets is allowed, as in Nomad
    modes = {e["Name"]: e["FileMode"] for e in ls("web").json()}
    assert modes == {"local": "drwxrwxrwx", "private": "drwxrwxrwx", "secrets": "drwxrwxrwx",
                     "tmp": "dtrwxrwxrwx"}
    assert {e["FileMode"] for e in ls("web/secrets").json()} == {"-rw-------"}


def test_ls_and_stat_match_the_samples(site: tuple[SimCluster, httpx.Client, str]) -> None:
    _, http, alloc = site
    listing = http.get(f"/v1/client/fs/ls/{alloc}").json()
    sample_ls = (SAMPLES_DIR / "GET_v1_client_fs_ls_alloc_id.json").read_text()
    import json

    assert_same_shape(json.loads(sample_ls), listing)
    assert all("ContentType" not in e for e in listing)  # omitempty, unset on ls
    stat = http.get(f"/v1/client/fs/stat/{alloc}", params={"path": "alloc/logs/web.stdout.0"}).json()
    sample = json.loads((SAMPLES_DIR / "GET_v1_client_fs_stat_alloc_id.json").read_text())
    assert set(stat) == set(sample) | {"ContentType"}
    assert stat["ContentType"] == "text/plain; charset=utf-8"
    assert stat["ModTime"].endswith("Z") and not stat["IsDir"]
    root = http.get(f"/v1/client/fs/stat/{alloc}", params={"path": "/"}).json()
    assert (root["Name"], root["IsDir"], root["ContentType"]) == (alloc, True, "application/octet-stream")


def test_log_sizes_agree_with_the_logs_endpoint(site: tuple[SimCluster, httpx.Client, str]) -> None:
    _, http, alloc = site
    logs = http.get(f"/v1/client/fs/logs/{alloc}", params={"task": "web", "type": "stdout", "plain": "true"})
    stat = http.get(f"/v1/client/fs/stat/{alloc}", params={"path": "alloc/logs/web.stdout.0"}).json()
    cat = http.get(f"/v1/client/fs/cat/{alloc}", params={"path": "alloc/logs/web.stdout.0"})
    assert stat["Size"] == len(logs.content) == len(cat.content) > 0
    assert cat.content == logs.content
    assert cat.headers["content-type"] == "text/plain; charset=utf-8"
    assert cat.headers["x-content-type-options"] == "nosniff"
    part = http.get(f"/v1/client/fs/readat/{alloc}",
                    params={"path": "alloc/logs/web.stdout.0", "offset": "10", "limit": "25"})
    assert part.content == logs.content[10:35]
    rest = http.get(f"/v1/client/fs/readat/{alloc}", params={"path": "alloc/logs/web.stdout.0", "offset": "10"})
    assert rest.content == logs.content[10:]


def test_template_file_is_served(site: tuple[SimCluster, httpx.Client, str]) -> None:
    _, http, alloc = site
    r = http.get(f"/v1/client/fs/cat/{alloc}", params={"path": "web/local/app.conf"})
    assert (r.status_code, r.text) == (200, "listen 8080;\n")


def _host(alloc: str, rel: str) -> str:
    return f"{DATA_DIR}/alloc/{alloc}/{rel}"


@pytest.mark.parametrize(
    ("endpoint", "params", "status", "text"),
    [
        ("ls", {"path": "nope"}, 404, "open {host}: no such file or directory"),
        ("ls", {"path": "../other"}, 500, "Path escapes the alloc directory"),
        ("ls", {"path": "web/local/app.conf"}, 500, "readdirent {host}: not a directory"),
        ("stat", {}, 400, "must provide a file name"),
        ("stat", {"path": "nope"}, 404, "stat {host}: no such file or directory"),
        ("stat", {"path": "alloc/../../x"}, 500, "Path escapes the alloc directory"),
        ("cat", {"path": "nope"}, 400, "stat {host}: no such file or directory"),
        ("cat", {"path": "../../../etc/passwd"}, 400, "Path escapes the alloc directory"),
        ("cat", {"path": "alloc"}, 400, 'file "alloc" is a directory'),
        ("cat", {"path": "web/secrets/db.env"}, 500, "Reading secret file prohibited: web/secrets/db.env"),
        ("cat", {"path": "WEB/SECRETS/db.env"}, 400, "stat {host}: no such file or directory"),
        ("readat", {"path": "web/local/app.conf"}, 500,
         'error parsing offset: strconv.ParseInt: parsing "": invalid syntax'),
        ("readat", {"path": "web/local/app.conf", "offset": "0", "limit": "x"}, 500,
         'error parsing limit: strconv.ParseInt: parsing "x": invalid syntax'),
        ("readat", {"path": "web/secrets/db.env", "offset": "0"}, 500,
         "Reading secret file prohibited: web/secrets/db.env"),
        ("stream", {"path": "web/local/app.conf", "origin": "middle"}, 400, "origin must be start or end"),
        ("stream", {"path": "web/local/app.conf", "follow": "yes"}, 500,
         'failed to parse follow field to boolean: strconv.ParseBool: parsing "yes": invalid syntax'),
        ("stream", {"path": "web/secrets/db.env", "follow": "false"}, 500,
         "Reading secret file prohibited: web/secrets/db.env"),
        ("nope", {}, 404, "Invalid method"),
    ],
    ids=lambda v: v if isinstance(v, str) and len(v) < 12 else None,
)
def test_errors_are_nomads(site: tuple[SimCluster, httpx.Client, str], endpoint: str, params: dict[str, str],
                           status: int, text: str) -> None:
    _, http, alloc = site
    r = http.get(f"/v1/client/fs/{endpoint}/{alloc}", params=params)
    rel = params.get("path", "")
    assert (r.status_code, r.text) == (status, text.format(host=_host(alloc, rel)))


def test_missing_alloc_and_alloc_id(site: tuple[SimCluster, httpx.Client, str]) -> None:
    _, http, _ = site
    for endpoint in ("ls", "stat", "cat", "readat", "stream"):
        r = http.get(f"/v1/client/fs/{endpoint}/", params={"path": "alloc", "offset": "0"})
        assert (r.status_code, r.text) == (400, "must provide a valid alloc id")
        r = http.get(f"/v1/client/fs/{endpoint}/nope", params={"path": "alloc", "offset": "0"})
        assert (r.status_code, r.text) == (404, 'Unknown allocation "nope"')


def test_stream_frames_name_the_path_and_offsets(site: tuple[SimCluster, httpx.Client, str]) -> None:
    _, http, alloc = site
    path = "alloc/logs/web.stdout.0"
    whole = http.get(f"/v1/client/fs/cat/{alloc}", params={"path": path}).content
    r = http.get(f"/v1/client/fs/stream/{alloc}", params={"path": path, "follow": "false", "origin": "end",
                                                          "offset": "100"})
    assert r.headers["content-type"] == "application/json"
    frames = decode_all([r.content])
    assert {f["File"] for f in frames} == {path}
    assert b"".join(base64.b64decode(f["Data"]) for f in frames) == whole[-100:]
    assert frames[-1]["Offset"] == len(whole)


def test_fs_needs_read_fs_on_the_allocations_namespace() -> None:
    c = _cluster(acl=True)
    http = httpx.Client(transport=c.transport(), base_url="http://nomad")
    alloc = next(iter(c.state.allocs))
    c.acl.upsert_policy("logs", 'namespace "default" { capabilities = ["read-logs", "read-job"] }')
    c.acl.upsert_policy("fs", 'namespace "default" { capabilities = ["read-fs"] }')
    logs_only = {"X-Nomad-Token": c.acl.create_token(name="l", policies=["logs"])["SecretID"]}
    fs = {"X-Nomad-Token": c.acl.create_token(name="f", policies=["fs"])["SecretID"]}
    for endpoint in ("ls", "stat", "cat"):
        params = {"path": "web/local/app.conf" if endpoint != "ls" else "/"}
        denied = http.get(f"/v1/client/fs/{endpoint}/{alloc}", params=params, headers=logs_only)
        assert (denied.status_code, denied.text) == (403, "Permission denied")
        assert http.get(f"/v1/client/fs/{endpoint}/{alloc}", params=params, headers=fs).status_code == 200
    logs = http.get(f"/v1/client/fs/logs/{alloc}", params={"task": "web", "type": "stdout"}, headers=logs_only)
    assert logs.status_code == 200


def test_rotated_logs_are_listed_and_purged() -> None:
    c = _cluster(max_files=3, max_mb=1, hours=30)
    http = httpx.Client(transport=c.transport(), base_url="http://nomad")
    alloc = next(iter(c.state.allocs))
    entries = http.get(f"/v1/client/fs/ls/{alloc}", params={"path": "alloc/logs"}).json()
    stdout = sorted((e for e in entries if ".stdout." in e["Name"]), key=lambda e: int(e["Name"].rsplit(".", 1)[1]))
    indexes = [int(e["Name"].rsplit(".", 1)[1]) for e in stdout]
    assert len(indexes) == 3 and indexes == list(range(indexes[0], indexes[0] + 3)) and indexes[0] > 0
    assert all(e["Size"] <= 1024 * 1024 for e in stdout)
    assert all(e["Size"] > 1024 * 1024 - 4096 for e in stdout[:-1])  # rotated when the next line does not fit
    for e in stdout:
        body = http.get(f"/v1/client/fs/cat/{alloc}", params={"path": f"alloc/logs/{e['Name']}"}).content
        assert len(body) == e["Size"] and body.endswith(b"\n")  # whole lines in every file
    gone = http.get(f"/v1/client/fs/stat/{alloc}", params={"path": f"alloc/logs/web.stdout.{indexes[0] - 1}"})
    assert gone.status_code == 404


def _logs_plain(http: httpx.Client, alloc: str, **params: str) -> bytes:
    r = http.get(f"/v1/client/fs/logs/{alloc}", params={"task": "web", "type": "stdout", "plain": "true", **params})
    assert r.status_code == 200, r.text
    return r.content


def test_logs_endpoint_reads_across_rotated_files() -> None:
    c = _cluster(max_files=3, max_mb=1, hours=30)
    http = httpx.Client(transport=c.transport(), base_url="http://nomad")
    alloc = next(iter(c.state.allocs))
    entries = sorted((e["Name"] for e in http.get(f"/v1/client/fs/ls/{alloc}", params={"path": "alloc/logs"}).json()
                      if ".stdout." in e["Name"]), key=lambda n: int(n.rsplit(".", 1)[1]))
    files = [http.get(f"/v1/client/fs/cat/{alloc}", params={"path": f"alloc/logs/{n}"}).content for n in entries]
    assert _logs_plain(http, alloc) == b"".join(files)
    # origin=end walks back across files; an offset past the start begins at the oldest file
    assert _logs_plain(http, alloc, origin="end", offset=str(len(files[-1]) + 50)) == files[-2][-50:] + files[-1]
    assert _logs_plain(http, alloc, origin="end", offset=str(10**12)) == b"".join(files)
    # origin=start moves forward across files
    assert _logs_plain(http, alloc, offset=str(len(files[0]) + 7)) == files[1][7:] + files[2]
    frames = decode_all([http.get(f"/v1/client/fs/logs/{alloc}", params={"task": "web", "type": "stdout"}).content])
    assert [f["File"] for f in frames if f.get("Data")][0] == f"alloc/logs/{entries[0]}"
    for name, body in zip(entries, files, strict=True):
        mine = [f for f in frames if f.get("File") == f"alloc/logs/{name}"]
        assert mine[-1]["Offset"] == len(body)  # offsets count within each file


def test_disabled_logs_have_no_files() -> None:
    c = SimCluster(seed=1)
    c.add_node(name="n1", datacenter="dc1", cpu_mhz=4000, cores=4, memory_mb=8192, disk_mb=10000,
               address="10.0.0.1")
    quiet: dict[str, Any] = task("quiet")
    quiet["LogConfig"] = {"Disabled": True}
    c.register_job(job_spec("q", [group("g", [quiet])], datacenters=["dc1"]))
    c.advance(120)
    http = httpx.Client(transport=c.transport(), base_url="http://nomad")
    alloc = next(iter(c.state.allocs))
    assert http.get(f"/v1/client/fs/ls/{alloc}", params={"path": "alloc/logs"}).json() == []
    r = http.get(f"/v1/client/fs/logs/{alloc}", params={"task": "quiet", "type": "stdout"})
    assert (r.status_code, r.text) == (404, 'log entry for task "quiet" and log type "stdout" not found')


def test_a_down_node_has_no_path_after_the_token_check() -> None:
    c = _cluster(acl=True)
    http = httpx.Client(transport=c.transport(), base_url="http://nomad")
    alloc = next(iter(c.state.allocs))
    mgmt = {"X-Nomad-Token": c.acl.bootstrap()["SecretID"]}
    node_id = c.state.allocs[alloc]["NodeID"]
    c.set_node_status(node_id, "down")
    r = http.get(f"/v1/client/fs/ls/{alloc}", headers=mgmt)
    assert (r.status_code, r.text) == (404, "No path to node")
    r = http.get(f"/v1/client/fs/ls/{alloc}")
    assert (r.status_code, r.text) == (403, "Permission denied")
