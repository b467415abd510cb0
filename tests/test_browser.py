"""The notebooks in a real browser: JupyterLab and Voila in headless Chromium, and both HTML reports.

Playwright drives Debian's ``chromium`` (``/usr/bin/chromium``, or ``BROWSER_PATH``) through
``executable_path``; no browser is ever downloaded. The demo cluster (seed 0, its history ending
now, then going on in real time) is served on 127.0.0.1 with the usage history ``nomadlab demo``
would have stored; JupyterLab and Voila run on a copy of ``notebooks/`` with ``NOMAD_ADDR``
pointing at it. Every page waits on selectors, never on sleeps.

Screenshots go to ``artifacts/screenshots/`` (CI keeps that folder as its artifacts).
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import nbconvert  # noqa: F401 - renders the reports (test extra)
import playwright.sync_api as playwright_sync
import pytest

from nomadlab.cli import lab_command, lab_settings
from tests import hygiene
from tests.conftest import in_ci, require

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = ROOT / "notebooks"
SCREENSHOTS = ROOT / "artifacts" / "screenshots"
CHROMIUM = os.environ.get("BROWSER_PATH") or shutil.which("chromium") or "/usr/bin/chromium"

pytestmark = [pytest.mark.browser, pytest.mark.wire, pytest.mark.slow, pytest.mark.timeout(900),
              # outside CI only: in CI a missing browser fails (the browser fixture says what to install)
              pytest.mark.skipif(not Path(CHROMIUM).is_file() and not in_ci(),
                                 reason="no Chromium at /usr/bin/chromium (apt-get install chromium, or set "
                                 "BROWSER_PATH)")]

# How long a notebook may take to run all its cells in the browser, in ms.
RUN_ALL_MS = 240_000


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _wait_http(url: str, proc: subprocess.Popen[bytes], log: Path, timeout_s: float = 90) -> None:
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            httpx.get(url, timeout=2)
            return
        except httpx.TransportError:
            assert proc.poll() is None, log.read_text()[-3000:]
            assert time.monotonic() < deadline, f"{url} did not answer:\n{log.read_text()[-3000:]}"
            time.sleep(0.3)


def _stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    """The demo cluster served on 127.0.0.1 in real time, and its stored usage history."""
    from nomadlab.analysis.usage import sampled_build
    from nomadlab.history import write_usage
    from nomadlab.sim.scenarios import continue_in_real_time

    tmp = tmp_path_factory.mktemp("browser")
    sim, samples = sampled_build("demo", seed=0, end_ns=time.time_ns())
    continue_in_real_time(sim)
    write_usage(samples, tmp / "history", cluster="demo")
    work = tmp / "notebooks"
    shutil.copytree(NOTEBOOKS, work)  # the browser saves what it runs: never into the checkout
    with sim.serve(port=0) as url:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("NOMAD_", "NOMADLAB_", "JUPYTER_TOKEN"))}
        env.update(NOMAD_ADDR=url, NOMADLAB_HISTORY=str(tmp / "history"), NOMADLAB_CLUSTER="demo",
                   PYTHONPATH=os.pathsep.join([str(ROOT), env.get("PYTHONPATH", "")]).rstrip(os.pathsep),
                   JUPYTER_PREFER_ENV_PATH="1", JUPYTER_RUNTIME_DIR=str(tmp / "runtime"),
                   JUPYTER_CONFIG_DIR=str(tmp / "config"), IPYTHONDIR=str(tmp / "ipython"),
                   JUPYTER_DATA_DIR=str(tmp / "data"), NOMADLAB_AUDIT_LOG=str(tmp / "audit.jsonl"),
                   # a recognisable token (the cluster has no ACLs): no page or report may show it
                   NOMAD_TOKEN=hygiene.token())
        yield {"sim": sim, "url": url, "env": env, "notebooks": work, "tmp": tmp}


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    if not Path(CHROMIUM).is_file():
        pytest.fail(f"no Chromium at {CHROMIUM}: apt-get install chromium, or set BROWSER_PATH")
    with playwright_sync.sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=CHROMIUM, headless=True,
                                     args=["--no-sandbox", "--disable-dev-shm-usage"])
        yield chromium
        chromium.close()


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:
    context = browser.new_context(viewport={"width": 1400, "height": 900})
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.errors = errors
    yield page
    context.close()


def _shot(page: Any, name: str, **kwargs: Any) -> Path:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    page.screenshot(path=str(path), **kwargs)
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    return path


# -- JupyterLab ---------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def lab(cluster: dict[str, Any]) -> Iterator[str]:
    """JupyterLab on the copy of the notebooks, started as ``nomadlab demo`` starts it."""
    require("jupyterlab", install="'nomadlab[lab]'")
    port, token = _free_port(), "browser-test-" + os.urandom(8).hex()
    log = cluster["tmp"] / "lab.log"
    # window.jupyterapp, so that the test runs JupyterLab's own commands (Run All Cells)
    extra = ["--LabApp.expose_app_in_browser=True"]
    extra += ["--allow-root"] if hasattr(os, "geteuid") and os.geteuid() == 0 else []
    settings = lab_settings(cluster["tmp"] / "lab-settings")
    # every cell in the DOM (JupyterLab otherwise renders only the cells in view), so that the
    # checks below see every output
    overrides = json.loads((settings / "overrides.json").read_text())
    overrides["@jupyterlab/notebook-extension:tracker"] = {"windowingMode": "none"}
    (settings / "overrides.json").write_text(json.dumps(overrides))
    cmd = lab_command(cluster["notebooks"], port=port, open_browser=False, extra=extra, settings=settings)
    with log.open("wb") as out:
        proc = subprocess.Popen(cmd, env={**cluster["env"], "JUPYTER_TOKEN": token}, stdout=out,
                                stderr=subprocess.STDOUT)
    try:
        _wait_http(f"http://127.0.0.1:{port}/api/status", proc, log)
        yield f"http://127.0.0.1:{port}|{token}"
    finally:
        _stop(proc)


# The notebook's kernel is connected and idle (JupyterLab's own session, via window.jupyterapp).
KERNEL_IDLE = """() => {
  const w = window.jupyterapp && window.jupyterapp.shell.currentWidget;
  const kernel = w && w.sessionContext && w.sessionContext.session && w.sessionContext.session.kernel;
  return Boolean(kernel && kernel.connectionStatus === 'connected' && kernel.status === 'idle' && w.context.isReady);
}"""

RUNNING = """() => {
  const w = window.jupyterapp.shell.currentWidget;
  const prompts = [...w.node.querySelectorAll('.jp-CodeCell .jp-InputPrompt')];
  return prompts.length > 0 && prompts.every(p => /\\[\\d+\\]/.test(p.textContent));
}"""


def _run_all_in_lab(page: Any, lab: str, name: str) -> None:
    base, token = lab.split("|")
    page.goto(f"{base}/lab/tree/{name}?reset&token={token}")  # reset: no tabs restored from before
    page.wait_for_selector(".jp-Notebook .jp-CodeCell", timeout=60_000)
    page.wait_for_function(KERNEL_IDLE, timeout=90_000)
    page.evaluate("() => window.jupyterapp.commands.execute('notebook:run-all-cells')")
    try:
        page.wait_for_function(RUNNING, timeout=RUN_ALL_MS)
        page.wait_for_function(KERNEL_IDLE, timeout=RUN_ALL_MS)
    except playwright_sync.TimeoutError:
        _shot(page, "lab-" + name.removesuffix(".ipynb") + "-timed-out", full_page=True)
        raise


def _no_news_question(page: Any) -> None:
    """JupyterLab asks about its news feed on first start unless told not to (the demo's settings)."""
    assert page.get_by_text("official Jupyter news").count() == 0


def _no_errors_shown(page: Any) -> None:
    errors = page.locator(".jp-OutputArea-output[data-mime-type='application/vnd.jupyter.stderr']")
    texts = [errors.nth(i).inner_text() for i in range(errors.count())]
    assert [t for t in texts if "Error" in t or "Traceback" in t] == []


DRAWN = """() => [...document.querySelectorAll('.js-plotly-plot')]
  .filter(e => e.querySelector('.main-svg .trace, .main-svg .hm, .main-svg image')).length"""


def _figures_drawn(page: Any, at_least: int) -> int:
    """Plotly figures drawn on the page (an SVG with data in its plot area); waits for at least
    ``at_least`` and returns how many there are."""
    page.wait_for_function(f"() => ({DRAWN})() >= {at_least}", timeout=90_000)
    assert page.locator(".js-plotly-plot .main-svg .trace").count() > 0  # traces, not just axes
    return int(page.evaluate(DRAWN))


def test_explore_in_jupyterlab_scales_a_job_with_the_job_control(page: Any, lab: str,
                                                                 cluster: dict[str, Any]) -> None:
    _run_all_in_lab(page, lab, "explore.ipynb")
    _no_errors_shown(page)
    _no_news_question(page)
    _figures_drawn(page, 1)
    # widgets: the filter panel's dropdowns, the job table's grid, the job control's buttons
    page.wait_for_selector(".widget-dropdown select", timeout=30_000)
    control = page.locator(".widget-vbox", has=page.locator(".widget-html", has_text="spark-worker (data")).last
    control.wait_for(timeout=30_000)
    _shot(page, "lab-explore")

    job = httpx.get(f"{cluster['url']}/v1/job/spark-worker", params={"namespace": "data"}, timeout=10).json()
    before = int(job["TaskGroups"][0]["Count"])
    count = control.locator("input[type='number']").first
    count.fill(str(before + 1))
    count.press("Tab")
    control.get_by_role("button", name="Plan").click()
    control.get_by_text("Review the plan, then Confirm or Cancel.").wait_for(timeout=30_000)
    assert httpx.get(f"{cluster['url']}/v1/job/spark-worker", params={"namespace": "data"},
                     timeout=10).json()["TaskGroups"][0]["Count"] == before  # a plan writes nothing
    control.get_by_role("button", name="Confirm").click()
    # the outcome line: "scale spark-worker/worker: healthy" (or placed) once followed
    control.locator(".widget-html", has_text="scale").filter(has_text="healthy").or_(
        control.locator(".widget-html", has_text="scale").filter(has_text="placed")).first.wait_for(timeout=180_000)
    after = httpx.get(f"{cluster['url']}/v1/job/spark-worker", params={"namespace": "data"}, timeout=10).json()
    assert after["TaskGroups"][0]["Count"] == before + 1
    # the applied action is in the audit log the kernel wrote, with what it changed
    from nomadlab import audit_log

    log = audit_log(cluster["tmp"] / "audit.jsonl")
    scaled = log[(log["action"] == "scale") & log["target"].astype(str).str.contains("spark-worker")]
    assert len(scaled) == 1 and scaled.iloc[0]["namespace"] == "data"
    _shot(page, "lab-explore-job-control")
    assert page.errors == []


@pytest.mark.parametrize("name, figures", [("capacity-planning.ipynb", 5), ("incident-postmortem.ipynb", 2)])
def test_notebook_runs_in_jupyterlab(page: Any, lab: str, name: str, figures: int) -> None:
    _run_all_in_lab(page, lab, name)
    _no_errors_shown(page)
    _figures_drawn(page, figures)
    _shot(page, "lab-" + name.removesuffix(".ipynb"))
    assert page.errors == []


# -- Voila --------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def voila(cluster: dict[str, Any]) -> Iterator[str]:
    import voila  # noqa: F401 - test extra: a missing one fails here, not skips
    port = _free_port()
    log = cluster["tmp"] / "voila.log"
    cmd = [sys.executable, "-m", "voila", str(cluster["notebooks"]), "--no-browser", f"--port={port}",
           "--Voila.ip=127.0.0.1", "--VoilaConfiguration.show_tracebacks=True"]
    with log.open("wb") as out:
        proc = subprocess.Popen(cmd, env=cluster["env"], stdout=out, stderr=subprocess.STDOUT,
                                cwd=cluster["notebooks"])
    try:
        _wait_http(f"http://127.0.0.1:{port}/", proc, log)
        yield f"http://127.0.0.1:{port}"
    finally:
        _stop(proc)


@pytest.mark.parametrize("name, figures", [("explore.ipynb", 1), ("capacity-planning.ipynb", 5)])
def test_notebook_serves_as_a_voila_dashboard(page: Any, voila: str, name: str, figures: int) -> None:
    page.goto(f"{voila}/voila/render/{name}", timeout=RUN_ALL_MS)
    # Voila shows the page once every cell has run
    page.wait_for_selector(".jp-OutputArea-output", timeout=RUN_ALL_MS)
    page.wait_for_load_state("load", timeout=RUN_ALL_MS)
    assert page.locator("text=Traceback").count() == 0
    assert page.locator(".jp-Cell-inputWrapper .jp-InputArea-editor").count() == 0  # code is not shown
    _figures_drawn(page, figures)
    if name == "explore.ipynb":
        page.wait_for_selector(".widget-button:has-text('Plan')", timeout=60_000)
    _shot(page, "voila-" + name.removesuffix(".ipynb"))


# -- the HTML reports ---------------------------------------------------------------------------

@pytest.mark.parametrize("kind, figures", [("capacity", 5), ("postmortem", 2)])
def test_report_opens_offline_and_draws_its_figures(page: Any, cluster: dict[str, Any], kind: str,
                                                    figures: int) -> None:
    from nomadlab.report import build_report

    out = build_report(kind, SCREENSHOTS.parent / "reports" / f"{kind}.html", env=cluster["env"])
    html = out.read_text()
    hygiene.assert_clean(hygiene.scan_html(out))  # the kernel's NOMAD_TOKEN is nowhere in it
    assert "<script src=\"http" not in html and "<link href=\"http" not in html  # nothing to fetch
    # no network at all: every request but the file itself is refused
    page.route("**/*", lambda route: route.continue_() if route.request.url.startswith("file:") else route.abort())
    page.goto(out.as_uri())
    drawn = _figures_drawn(page, figures)
    assert drawn == int(page.locator("body").get_attribute("data-nomadlab-figures") or 0)
    header = page.locator(".nomadlab-header")
    assert "the Nomad API at" in header.inner_text() and "Data as of" in header.inner_text()
    assert page.locator(".jp-InputArea").first.is_hidden()  # code hidden by default ...
    page.get_by_role("button", name="Show / hide code").click()
    assert page.locator(".jp-InputArea").first.is_visible()  # ... and shown on request
    page.get_by_role("button", name="Show / hide code").click()
    _shot(page, f"report-{kind}", full_page=False)
    assert page.errors == []
