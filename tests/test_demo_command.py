"""``nomadlab demo``: the demo cluster served on a socket, plus JupyterLab on the notebooks."""

from __future__ import annotations

import json
import os
import queue
import re
import signal
import socket
import stat
import subprocess
import sys
import threading
import time
import urllib.parse
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from nomadlab.cli import (
    build_parser,
    lab_command,
    lab_environment,
    lab_path,
    lab_settings,
    lab_token_source,
    lab_url,
    login_file,
)
from tests.conftest import require

NOTEBOOKS = Path(__file__).resolve().parents[1] / "notebooks"


# -- pure parts -----------------------------------------------------------------------------------

def test_lab_environment_points_at_the_simulator_and_drops_other_nomad_settings() -> None:
    env = lab_environment({"PATH": "/bin", "NOMAD_ADDR": "https://prod:4646", "NOMAD_TOKEN": "s3cr3t",
                           "NOMAD_CACERT": "/etc/ca.pem", "NOMAD_NAMESPACE": "web"},
                          "http://127.0.0.1:4646")
    assert env == {"PATH": "/bin", "NOMAD_ADDR": "http://127.0.0.1:4646"}


def test_lab_environment_sets_the_jupyter_token_when_given() -> None:
    env = lab_environment({"PATH": "/bin"}, "http://127.0.0.1:4646", jupyter_token="abc")
    assert env == {"PATH": "/bin", "NOMAD_ADDR": "http://127.0.0.1:4646", "JUPYTER_TOKEN": "abc"}
    assert "JUPYTER_TOKEN" not in lab_environment({"PATH": "/bin"}, "http://127.0.0.1:4646")


def test_lab_token_source_finds_a_token_the_user_set() -> None:
    assert lab_token_source({}) is None
    assert lab_token_source({"JUPYTER_TOKEN": ""}) is None  # empty: jupyter_server generates one
    assert lab_token_source({"JUPYTER_TOKEN": "x"}) == "JUPYTER_TOKEN"
    assert lab_token_source({"JUPYTER_TOKEN_FILE": "/run/t"}) == "JUPYTER_TOKEN_FILE"
    assert lab_token_source({}, ["--allow-root", "--IdentityProvider.token=x"]) == "--IdentityProvider.token"
    assert lab_token_source({}, ["--IdentityProvider.token", "x"]) == "--IdentityProvider.token"
    assert lab_token_source({}, ["--IdentityProvider.token_file=x", "--tokenizer"]) is None


def test_lab_url_and_path(tmp_path: Path) -> None:
    assert lab_url(8888) == "http://127.0.0.1:8888/lab"
    assert lab_url(8899, "/lab/tree/a.ipynb", token="a/b+c") == "http://127.0.0.1:8899/lab/tree/a.ipynb?token=a%2Fb%2Bc"
    assert lab_path(NOTEBOOKS) == "/lab/tree/explore.ipynb"
    assert lab_path(tmp_path) == "/lab"


def test_login_file_is_private_and_removed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("tempfile.tempdir", str(tmp_path))
    old_umask = os.umask(0)  # even so: 0600
    try:
        with login_file("http://127.0.0.1:8888/lab?token=t0k3n") as path:
            assert path.parent.parent == tmp_path
            assert path.read_text() == "http://127.0.0.1:8888/lab?token=t0k3n\n"
            assert stat.S_IMODE(path.stat().st_mode) == 0o600
            assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    finally:
        os.umask(old_umask)
    assert list(tmp_path.iterdir()) == []


def test_lab_command_pins_the_port_and_root_and_passes_options_through(tmp_path: Path) -> None:
    cmd = lab_command(tmp_path, port=8899, open_browser=False, extra=["--allow-root"], python="/py")
    assert cmd[:3] == ["/py", "-m", "jupyterlab"]
    assert f"--ServerApp.root_dir={tmp_path}" in cmd
    assert "--ServerApp.port=8899" in cmd and "--ServerApp.port_retries=0" in cmd
    assert "--ServerApp.ip=127.0.0.1" in cmd
    assert cmd[-2:] == ["--no-browser", "--allow-root"]
    assert not any(a.startswith("--LabApp.default_url") for a in cmd)  # no explore.ipynb there
    cmd = lab_command(NOTEBOOKS, port=8888)
    assert "--LabApp.default_url=/lab/tree/explore.ipynb" in cmd
    assert "--no-browser" not in cmd
    # No news pop-up, no update check (both would also reach out of a machine with no internet).
    assert "--LabApp.news_url=None" in cmd
    assert "--LabApp.check_for_updates_class=jupyterlab.handlers.announcements.NeverCheckForUpdate" in cmd


def test_lab_settings_turn_off_the_news_question_and_keep_other_overrides(tmp_path: Path) -> None:
    (tmp_path / "settings").mkdir()
    (tmp_path / "settings" / "overrides.json").write_text(json.dumps(
        {"@jupyterlab/apputils-extension:themes": {"theme": "JupyterLab Dark"},
         "@jupyterlab/apputils-extension:notification": {"doNotDisturbMode": True}}))
    settings = lab_settings(tmp_path / "settings")
    overrides = json.loads((settings / "overrides.json").read_text())
    assert overrides["@jupyterlab/apputils-extension:notification"] == {
        "doNotDisturbMode": True, "fetchNews": "false", "checkForUpdates": False}
    assert overrides["@jupyterlab/apputils-extension:themes"] == {"theme": "JupyterLab Dark"}
    cmd = lab_command(tmp_path, port=8888, settings=settings)
    assert f"--LabApp.app_settings_dir={settings}" in cmd


def test_the_demo_opens_on_the_three_notebooks() -> None:
    names = {p.name for p in NOTEBOOKS.glob("*.ipynb")}
    assert names == {"explore.ipynb", "capacity-planning.ipynb", "incident-postmortem.ipynb"}


def test_demo_options() -> None:
    args = build_parser().parse_args(["demo", "--port", "0", "--lab-port", "9999", "--no-browser", "--no-lab",
                                      "--", "--allow-root"])
    assert (args.port, args.lab_port, args.no_browser, args.no_lab, args.lab_args) == (0, 9999, True, True,
                                                                                         ["--allow-root"])
    args = build_parser().parse_args(["demo"])
    assert (args.host, args.port, args.lab_port, args.no_browser, args.no_lab) == ("127.0.0.1", 4646, 8888,
                                                                                   False, False)


# -- the command ----------------------------------------------------------------------------------

class Demo:
    """A running ``nomadlab demo`` whose stderr is read line by line in a thread."""

    def __init__(self, *args: str, env: dict[str, str] | None = None) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "nomadlab.cli", "demo", *args],
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env,
        )
        self.lines: list[str] = []
        self._queue: queue.Queue[str | None] = queue.Queue()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self._queue.put(line)
        self._queue.put(None)

    def wait_for(self, pattern: str, timeout_s: float = 240) -> re.Match[str]:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            try:
                line = self._queue.get(timeout=0.2)
            except queue.Empty:
                continue
            if line is None:
                break
            self.lines.append(line)
            found = re.search(pattern, line)
            if found:
                return found
        pytest.fail(f"no line matching {pattern!r} (rc={self.proc.poll()}):\n{''.join(self.lines)[-3000:]}")

    def stop(self, sig: int) -> int:
        self.proc.send_signal(sig)
        return self.proc.wait(timeout=30)

    def output(self) -> str:
        """Everything printed, once the process has ended."""
        self.proc.wait(timeout=30)
        while True:
            try:
                line = self._queue.get(timeout=5)
            except queue.Empty:
                break
            if line is None:
                break
            self.lines.append(line)
        return "".join(self.lines)

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()


@pytest.fixture
def demo_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("NOMAD_")}
    env["NOMAD_TOKEN"] = "s3cr3t-must-not-print"
    return env


@pytest.fixture
def running() -> Iterator[list[Demo]]:
    demos: list[Demo] = []
    yield demos
    for demo in demos:
        demo.kill()


def refused(url: str) -> bool:
    try:
        httpx.get(url + "/v1/jobs", timeout=2)
    except httpx.TransportError:
        return True
    return False


@pytest.mark.wire
@pytest.mark.timeout(480)  # the demo samples its six hours of usage before serving
@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM], ids=["ctrl-c", "sigterm"])
def test_demo_no_lab_serves_the_demo_cluster_until_stopped(
    sig: int, demo_env: dict[str, str], running: list[Demo],
) -> None:
    demo = Demo("--no-lab", "--port", "0", env=demo_env)
    running.append(demo)
    samples = demo.wait_for(r"usage history: (\d+) samples, ([\d,]+) rows", timeout_s=240)
    assert int(samples.group(1)) == 73  # every 5 minutes of six hours, both ends included
    url = demo.wait_for(r"export NOMAD_ADDR=(http://127\.0\.0\.1:(\d+))\s*$").group(1)
    assert not url.endswith(":0")  # the port the OS chose is reported back
    root = Path(demo.wait_for(r"export NOMADLAB_HISTORY=(\S+)\s*$").group(1))
    from nomadlab.history import read_usage

    stored = read_usage(root, cluster="demo")
    assert stored["time"].nunique() == 73
    assert len(stored) == int(samples.group(2).replace(",", ""))
    # The stored history ends where the served history does: now.
    assert abs(stored["time"].max().timestamp() - time.time()) < 600

    jobs = httpx.get(url + "/v1/jobs", params={"namespace": "*"}, timeout=10)
    assert jobs.status_code == 200 and int(jobs.headers["X-Nomad-Index"]) > 1000
    ids = {j["ID"] for j in jobs.json()}
    assert {"api", "web", "ledger-import", "ml-train-xl", "kafka"} <= ids  # the demo scenario
    nodes = httpx.get(url + "/v1/nodes", timeout=10).json()
    assert len(nodes) == 40

    # Its history ends now and goes on in real time, as under `nomadlab sim`.
    allocs = httpx.get(url + "/v1/allocations", params={"namespace": "*"}, timeout=10).json()
    newest_s = max(a["ModifyTime"] for a in allocs) / 1e9
    assert time.time() - 3 * 3600 < newest_s <= time.time() + 1

    assert demo.stop(sig) == 0
    out = demo.output()
    assert "nomadlab demo: stopped" in out
    assert "Traceback" not in out
    assert "s3cr3t-must-not-print" not in out
    assert refused(url)
    assert not root.exists()  # the run folder goes with the demo


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _lab_env(demo_env: dict[str, str], tmp_path: Path, **extra: str) -> dict[str, str]:
    """The demo's environment for a JupyterLab test: Jupyter's runtime and config directories and
    TMPDIR (where the login file goes) under ``tmp_path``, no token of the caller's."""
    (tmp_path / "tmp").mkdir()
    env = {k: v for k, v in demo_env.items() if k not in ("JUPYTER_TOKEN", "JUPYTER_TOKEN_FILE", "BROWSER")}
    env.update(JUPYTER_RUNTIME_DIR=str(tmp_path / "runtime"), JUPYTER_CONFIG_DIR=str(tmp_path / "config"),
               TMPDIR=str(tmp_path / "tmp"), **extra)
    return env


def _root_args() -> list[str]:
    return ["--allow-root"] if hasattr(os, "geteuid") and os.geteuid() == 0 else []


def _wait_for_lab(demo: Demo, lab: str) -> None:
    """Until JupyterLab answers at all (403 without a token counts)."""
    deadline = time.monotonic() + 60
    while True:
        try:
            httpx.get(lab + "/api/status", timeout=2)
            return
        except httpx.TransportError:
            assert demo.proc.poll() is None, demo.output()[-3000:]
            assert time.monotonic() < deadline, "JupyterLab did not start"
            time.sleep(0.3)


def _login_link(demo: Demo, tmp_path: Path, lab_port: int) -> tuple[Path, str, str]:
    """The login file the demo printed the path of, its link and the token in it."""
    login = Path(demo.wait_for(r"open the link in (\S+) \(readable only by you").group(1))
    assert login.parent.parent == tmp_path / "tmp"  # a fresh tempfile.mkdtemp() directory
    assert stat.S_IMODE(login.stat().st_mode) == 0o600
    assert stat.S_IMODE(login.parent.stat().st_mode) == 0o700
    link = login.read_text().strip()
    assert link.startswith(f"http://127.0.0.1:{lab_port}/lab/tree/explore.ipynb?token=")
    token = urllib.parse.parse_qs(urllib.parse.urlsplit(link).query)["token"][0]
    assert len(token) >= 40  # secrets.token_urlsafe(32)
    return login, link, token


def _assert_not_printed(out: str, *secrets: str) -> None:
    for secret in secrets:
        assert secret not in out
    assert "Traceback" not in out


@pytest.mark.wire
@pytest.mark.timeout(480)  # the demo samples its six hours of usage before serving
@pytest.mark.slow
def test_demo_starts_jupyterlab_with_a_private_login_link_and_stops_when_it_exits(
    demo_env: dict[str, str], running: list[Demo], tmp_path: Path,
) -> None:
    """--no-browser: the generated token is never printed; the login link is in a 0600 file that
    logs in, and is removed when the demo ends. JupyterLab answers on --lab-port with notebooks/ as
    its root; shutting it down ends the demo."""
    require("jupyterlab", install="'nomadlab[lab]'")
    lab_port = _free_port()
    demo = Demo("--port", "0", "--lab-port", str(lab_port), "--no-browser", "--", *_root_args(),
                env=_lab_env(demo_env, tmp_path))
    running.append(demo)
    url = demo.wait_for(r"export NOMAD_ADDR=(\S+)").group(1)
    demo.wait_for(rf"JupyterLab: http://127\.0\.0\.1:{lab_port}/lab on ")
    login, link, token = _login_link(demo, tmp_path, lab_port)

    lab = f"http://127.0.0.1:{lab_port}"
    _wait_for_lab(demo, lab)
    # Without the token: redirected to the login page, and the API refuses.
    anonymous = httpx.get(lab + "/lab", timeout=10)
    assert anonymous.status_code == 302 and anonymous.headers["location"].startswith("/login")
    assert httpx.get(lab + "/api/contents", timeout=10).status_code == 403
    # The link logs in: the page opens, and the session cookie then opens the API.
    with httpx.Client(follow_redirects=True, timeout=10) as browser:
        page = browser.get(link)
        assert page.status_code == 200 and page.url.path == "/lab/tree/explore.ipynb"
        # JupyterLab's page config: news off, so the "receive official Jupyter news?" toast never shows.
        config = re.search(r'<script id="jupyter-config-data" type="application/json">(.*?)</script>', page.text, re.S)
        assert config is not None and json.loads(config.group(1))["news"] == {"disabled": True}
        listing = browser.get(lab + "/api/contents")
        assert listing.status_code == 200
        assert {item["name"] for item in listing.json()["content"]} >= {
            "explore.ipynb", "capacity-planning.ipynb", "incident-postmortem.ipynb"}
    assert httpx.get(url + "/v1/jobs", timeout=10).status_code == 200

    auth = {"Authorization": f"token {token}"}
    assert httpx.post(lab + "/api/shutdown", headers=auth, timeout=10).status_code == 200
    assert demo.proc.wait(timeout=30) == 0
    out = demo.output()
    assert "JupyterLab exited (status 0)" in out and "nomadlab demo: stopped" in out
    assert "?token=..." in out  # JupyterLab masks a token it did not generate
    _assert_not_printed(out, token, "s3cr3t-must-not-print")
    assert not login.exists() and not login.parent.exists()
    assert refused(url)


@pytest.mark.wire
@pytest.mark.timeout(480)  # the demo samples its six hours of usage before serving
@pytest.mark.slow
def test_demo_jupyterlab_opens_the_browser_with_the_generated_token(
    demo_env: dict[str, str], running: list[Demo], tmp_path: Path,
) -> None:
    """Without --no-browser, JupyterLab hands the browser (here a script, via BROWSER) its redirect
    file, which carries the token; the token is still not printed, and SIGTERM removes the file."""
    require("jupyterlab", install="'nomadlab[lab]'")
    opened = tmp_path / "opened.txt"
    browser = tmp_path / "browser.sh"
    browser.write_text(f'#!/bin/sh\necho "$1" >> {opened}\n')
    browser.chmod(0o700)
    lab_port = _free_port()
    demo = Demo("--port", "0", "--lab-port", str(lab_port), "--", *_root_args(),
                env=_lab_env(demo_env, tmp_path, BROWSER=str(browser)))
    running.append(demo)
    demo.wait_for(rf"JupyterLab: http://127\.0\.0\.1:{lab_port}/lab on ")
    login, link, token = _login_link(demo, tmp_path, lab_port)
    _wait_for_lab(demo, f"http://127.0.0.1:{lab_port}")

    deadline = time.monotonic() + 30
    while not opened.exists() or not opened.read_text().strip():
        assert time.monotonic() < deadline, "JupyterLab did not open the browser"
        time.sleep(0.2)
    file_url = opened.read_text().strip()
    assert file_url.startswith("file:")
    redirect = Path(urllib.request.url2pathname(urllib.parse.urlsplit(file_url).path)).read_text()
    assert f'url={link}"' in redirect  # the same page and token as the login file

    assert demo.stop(signal.SIGTERM) == 0
    out = demo.output()
    assert "nomadlab demo: stopped" in out
    _assert_not_printed(out, token, "s3cr3t-must-not-print")
    assert not login.exists() and not login.parent.exists()


@pytest.mark.wire
@pytest.mark.timeout(480)  # the demo samples its six hours of usage before serving
@pytest.mark.slow
def test_demo_uses_the_users_jupyter_token_and_writes_no_login_file(
    demo_env: dict[str, str], running: list[Demo], tmp_path: Path,
) -> None:
    """JUPYTER_TOKEN already set: JupyterLab uses it, the demo says so without printing it, and
    writes no login file."""
    require("jupyterlab", install="'nomadlab[lab]'")
    jupyter_token = "t-" + os.urandom(8).hex()
    lab_port = _free_port()
    demo = Demo("--port", "0", "--lab-port", str(lab_port), "--no-browser", "--", *_root_args(),
                env=_lab_env(demo_env, tmp_path, JUPYTER_TOKEN=jupyter_token))
    running.append(demo)
    demo.wait_for(r"JupyterLab: log in with the token you set \(JUPYTER_TOKEN; not printed\)")
    lab = f"http://127.0.0.1:{lab_port}"
    _wait_for_lab(demo, lab)
    assert httpx.get(lab + "/api/status", headers={"Authorization": f"token {jupyter_token}"},
                     timeout=10).status_code == 200
    # No login file; the only thing in the temporary folder is the run folder with the history.
    assert not list((tmp_path / "tmp").rglob("jupyterlab-login-url.txt"))
    assert [p.name.startswith("nomadlab-demo-run-") for p in (tmp_path / "tmp").iterdir()] == [True]

    assert demo.stop(signal.SIGINT) == 0
    out = demo.output()
    assert "open the link in" not in out and "nomadlab demo: stopped" in out
    assert list((tmp_path / "tmp").iterdir()) == []  # the run folder went with the demo
    _assert_not_printed(out, jupyter_token, "s3cr3t-must-not-print")


def _ignore_sigint() -> None:
    """What a shell does to a job it starts in the background (``nomadlab demo &`` in a script)."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)


def _listening(port: int) -> bool:
    with socket.socket() as s:
        return s.connect_ex(("127.0.0.1", port)) == 0


@pytest.mark.wire
@pytest.mark.timeout(480)  # the demo samples its six hours of usage before serving
@pytest.mark.slow
@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM], ids=["sigint", "sigterm"])
def test_demo_started_in_the_background_stops_jupyterlab_too(
    sig: int, demo_env: dict[str, str], running: list[Demo], tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Started as a script's background job (SIGINT ignored on entry), the demo still stops on
    SIGINT or SIGTERM, stops JupyterLab, and leaves nothing listening on either port."""
    require("jupyterlab", install="'nomadlab[lab]'")
    lab_port = _free_port()
    real_popen = subprocess.Popen

    def background_popen(*args: Any, **kwargs: Any) -> Any:
        return real_popen(*args, preexec_fn=_ignore_sigint, **kwargs)

    monkeypatch.setattr(subprocess, "Popen", background_popen)
    demo = Demo("--port", "0", "--lab-port", str(lab_port), "--no-browser", "--", *_root_args(),
                env=_lab_env(demo_env, tmp_path))
    monkeypatch.setattr(subprocess, "Popen", real_popen)
    running.append(demo)
    url = demo.wait_for(r"export NOMAD_ADDR=(\S+)").group(1)
    _wait_for_lab(demo, f"http://127.0.0.1:{lab_port}")
    assert demo.stop(sig) == 0
    out = demo.output()
    assert "nomadlab demo: stopped" in out and "Traceback" not in out
    assert refused(url)
    assert not _listening(lab_port)  # JupyterLab went with it
