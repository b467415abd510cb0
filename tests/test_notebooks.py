"""The three notebooks run top to bottom in a real kernel: embedded (no NOMAD_ADDR) and over the
wire (the same demo cluster served on 127.0.0.1, its usage history stored as ``nomadlab demo``
stores it). Any error output fails."""

from __future__ import annotations

import os
import re
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import ipykernel  # noqa: F401 - the kernel the notebooks run in (test extra)
import nbformat
import pytest

from nomadlab.report import ReportError, execute_notebook
from tests import hygiene

NOTEBOOKS = Path(__file__).resolve().parents[1] / "notebooks"
EXPLORE = NOTEBOOKS / "explore.ipynb"
CAPACITY = NOTEBOOKS / "capacity-planning.ipynb"
POSTMORTEM = NOTEBOOKS / "incident-postmortem.ipynb"
ALL = [EXPLORE, CAPACITY, POSTMORTEM]
END = "2026-01-01T06:00:00Z"  # where build_scenario("demo", seed=0) ends

# Each notebook builds the demo cluster and its usage history in its own kernel (tens of seconds).
pytestmark = [pytest.mark.notebook, pytest.mark.timeout(900)]


def kernel_env(tmp: Path, nomad_addr: str | None, **extra: str) -> dict[str, str]:
    """The kernel's environment: no NOMAD_* but the address given; Jupyter and IPython state in
    ``tmp``; this virtualenv's kernel spec preferred over a user-wide one."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("NOMAD_", "NOMADLAB_"))}
    if nomad_addr is not None:
        env["NOMAD_ADDR"] = nomad_addr
    else:  # the in-process demo ends where build_scenario("demo", seed=0) ends, not now
        env["NOMADLAB_SIM_END"] = END
    env.update(JUPYTER_PREFER_ENV_PATH="1", JUPYTER_RUNTIME_DIR=str(tmp / "runtime"),
               IPYTHONDIR=str(tmp / "ipython"), MPLBACKEND="agg", **extra)
    return env


def execute(path: Path, env: Mapping[str, str], **values: Any) -> Any:
    try:
        return execute_notebook(path, {"SOURCE": None, **values}, env=env, timeout_s=300)
    except ReportError as exc:
        pytest.fail(str(exc))


def cell(nb: Any, tag: str) -> Any:
    found = [c for c in nb.cells if tag in c.get("metadata", {}).get("tags", [])]
    assert len(found) == 1, f"expected one cell tagged {tag!r}"
    return found[0]


def text(c: Any) -> str:
    """Everything a cell showed as text: streams, Markdown and the text/plain of results."""
    parts = []
    for out in c.outputs:
        if out.output_type == "stream":
            parts.append(out.text)
        elif out.output_type in ("execute_result", "display_data"):
            parts.append(out.data.get("text/markdown", out.data.get("text/plain", "")))
    return "".join(parts)


def mimes(c: Any) -> list[str]:
    return [m for out in c.outputs if out.output_type in ("execute_result", "display_data") for m in out.data]


def table_rows(html: str) -> int:
    note = re.search(r"<p>(\d+) rows × \d+ columns</p>", html)
    if note:
        return int(note.group(1))
    body = html.split("<tbody>", 1)[1].split("</tbody>", 1)[0]
    return body.count("<tr>")


def html_of(c: Any) -> str:
    found = [out.data["text/html"] for out in c.outputs
             if out.output_type in ("execute_result", "display_data") and "text/html" in out.data]
    assert found, f"cell {c.metadata.get('tags')} showed no table"
    return str(found[-1])


def assert_ran_clean(nb: Any) -> None:
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert all(c.execution_count is not None for c in code)
    errors = [(c.metadata.get("tags"), o.get("ename")) for c in code for o in c.outputs if o.output_type == "error"]
    assert errors == []
    stderr = [(c.metadata.get("tags"), o.text) for c in code for o in c.outputs
              if o.output_type == "stream" and o.name == "stderr" and "Warning" in o.text]
    assert stderr == []  # no warnings leak into what a reader sees


@pytest.fixture(scope="module")
def embedded(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """Every notebook executed with NOMAD_ADDR unset: nomadlab.connect() builds the demo cluster."""
    env = kernel_env(tmp_path_factory.mktemp("kernel"), None)
    return {path.name: execute(path, env) for path in ALL}


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, dict[str, Any]]]:
    """The same demo cluster (seed 0, ending at END, clock stopped) served on 127.0.0.1, with the
    usage history ``nomadlab demo`` would have stored for it; every notebook executed against it."""
    from nomadlab.analysis.usage import CLUSTER_VAR, HISTORY_VAR, sampled_build
    from nomadlab.connection import _end_ns
    from nomadlab.history import write_usage

    tmp = tmp_path_factory.mktemp("served")
    cluster, samples = sampled_build("demo", seed=0, end_ns=_end_ns(END, {}))
    write_usage(samples, tmp / "history", cluster="demo")
    with cluster.serve(port=0) as url:
        # a recognisable token (the cluster has no ACLs): no output may show it
        env = kernel_env(tmp, url, **{HISTORY_VAR: str(tmp / "history"), CLUSTER_VAR: "demo",
                                      "NOMAD_TOKEN": hygiene.token()})
        yield url, {path.name: execute(path, env) for path in ALL}


def test_notebooks_are_stored_without_outputs_and_take_their_source_in_one_cell() -> None:
    assert sorted(NOTEBOOKS.glob("*.ipynb")) == sorted(ALL)
    for path in ALL:
        nb = nbformat.read(path, as_version=4)
        nbformat.validate(nb)
        for c in nb.cells:
            if c.cell_type == "code":
                assert c.outputs == [] and c.execution_count is None, f"{path.name}: cell {c.id} has outputs"
        params = [c for c in nb.cells if "parameters" in c.metadata.get("tags", [])]
        assert len(params) == 1, path.name
        assert params[0].source.startswith("SOURCE = None")
        # the source is opened in the cell after it: NOMAD_ADDR / the demo, or an offline path
        opener = cell(nb, "connect").source
        assert "nomadlab.connect()" in opener and "open_source(SOURCE)" in opener


@pytest.mark.parametrize("name", [p.name for p in ALL])
def test_every_notebook_runs_without_error_on_the_embedded_cluster(embedded: dict[str, Any], name: str) -> None:
    nb = embedded[name]
    assert_ran_clean(nb)
    banner = text(cell(nb, "connect"))
    assert "simulated 'demo' cluster" in banner and "2026-01-01T06:00:00+00:00" in banner


def test_explore_shows_frames_widgets_and_why_something_is_pending(embedded: dict[str, Any]) -> None:
    nb = embedded["explore.ipynb"]
    assert table_rows(html_of(cell(nb, "nodes"))) == 40
    assert "application/vnd.plotly.v1+json" in mimes(cell(nb, "jobs-chart"))
    for tag in ("filters", "job-table", "logs", "live-view", "job-control"):
        assert "application/vnd.jupyter.widget-view+json" in mimes(cell(nb, tag)), tag
    # the demo's one blocked job, found from its placement failures
    assert "**ml-train-xl** / `trainer` could not be placed" in text(cell(nb, "pending-summary"))
    assert re.search(r"api: showing 200 of [\d,]+ log lines", text(cell(nb, "logs")))
    assert "<b>spark-worker</b>" in str(cell(nb, "job-control").outputs)  # the service with the most allocations


def test_capacity_planning_computes_its_conclusions(embedded: dict[str, Any]) -> None:
    nb = embedded["capacity-planning.ipynb"]
    assert "73 sample time(s)" in text(cell(nb, "usage"))
    assert table_rows(html_of(cell(nb, "capacity-datacenter"))) == 6  # 3 datacenters × cpu, memory
    for tag in ("node-utilization", "heatmap", "utilization", "rightsizing-chart"):
        assert "application/vnd.plotly.v1+json" in mimes(cell(nb, tag)), tag
    assert table_rows(html_of(cell(nb, "what-if"))) == 3
    fit_text = text(cell(nb, "fit"))
    found = re.search(r"^(\d+) more spark-worker/worker fit", fit_text, re.M)
    assert found and int(found.group(1)) > 0
    assert "Nomad's plan for" in fit_text  # the in-process cluster is live: Nomad's own answer too
    conclusions = text(cell(nb, "conclusions"))
    assert "The busiest node pool is **" in conclusions
    assert re.search(r"Allocations use \d+ % of the memory they were allocated", conclusions)
    assert re.search(r"Lower the memory of \*\*[\w-]+/[\w-]+\*\* from [\d,]+ to [\d,]+ MB", conclusions)
    assert f"{found.group(1)} more instances of spark-worker/worker fit today" in conclusions


def test_postmortem_finds_the_incident_from_the_data(embedded: dict[str, Any]) -> None:
    nb = embedded["incident-postmortem.ipynb"]
    assert re.search(r"window: 2026-01-01 04:\d\d:\d\d to 2026-01-01 05:\d\d:\d\d UTC", text(cell(nb, "window")))
    assert "application/vnd.plotly.v1+json" in mimes(cell(nb, "timeline-chart"))
    assert "job: api (default): its deployment of version 2 failed" in text(cell(nb, "culprit"))
    assert "Resources.MemoryMB: 1024 → 512" in text(cell(nb, "version-diff"))
    assert "oom_killed" in html_of(cell(nb, "failures"))
    assert "Killed" in text(cell(nb, "logs"))  # the log excerpt of an OOM-killed task
    assert "client-dc1-05" in html_of(cell(nb, "down-node"))
    impact = html_of(cell(nb, "impact"))
    assert re.search(r"<th>allocations lost</th>\s*<td>9</td>", impact)
    summary = text(cell(nb, "summary"))
    assert "**What broke:** api (default)" in summary
    assert "**Node:** client-dc1-05 (dc1) went down at 05:10:00 UTC" in summary
    assert re.search(r"\*\*Recovery:\*\* \d+ min \d+ s from api's first error", summary)
    assert "restore the memory ask" in summary


def test_postmortem_takes_a_window_from_its_parameters(tmp_path: Path) -> None:
    nb = execute(POSTMORTEM, kernel_env(tmp_path, None), SINCE="2026-01-01T02:15:00Z", UNTIL="2026-01-01T02:35:00Z")
    assert_ran_clean(nb)
    assert "window: 2026-01-01 02:15:00 to 2026-01-01 02:35:00 UTC (20 min)" in text(cell(nb, "window"))
    # no failed deployment there: the job with the most errors is at the centre
    assert "job: ledger-import (default): it has the most error and critical events" in text(cell(nb, "culprit"))


def test_a_failing_cell_is_named(tmp_path: Path) -> None:
    nb = nbformat.v4.new_notebook()
    params = nbformat.v4.new_code_cell("SOURCE = None")
    params.metadata["tags"] = ["parameters"]
    bad = nbformat.v4.new_code_cell("x = 1\nraise ValueError('no such job: nope')")
    bad.metadata["tags"] = ["broken"]
    nb.cells = [params, bad]
    path = tmp_path / "broken.ipynb"
    nbformat.write(nb, path)
    with pytest.raises(ReportError, match=r"broken\.ipynb: code cell 3 \(broken: 'x = 1'\) failed: "
                                          r"ValueError: no such job: nope"):
        execute_notebook(path, {"SOURCE": None}, env=kernel_env(tmp_path, None))


@pytest.mark.wire
@pytest.mark.slow
def test_every_notebook_runs_against_the_served_simulator(
    embedded: dict[str, Any], served: tuple[str, dict[str, Any]],
) -> None:
    url, nbs = served
    for name, nb in nbs.items():
        assert_ran_clean(nb)
        hygiene.assert_clean(hygiene.scan_notebook(nb))
        assert f"the Nomad API at {url}" in text(cell(nb, "connect")), name
    same = {"explore.ipynb": ["jobs", "nodes", "allocations", "blocked-evals", "pending-summary", "restarts"],
            "capacity-planning.ipynb": ["usage", "capacity-datacenter", "capacity-pool", "rightsizing", "what-if",
                                        "conclusions"],
            "incident-postmortem.ipynb": ["window", "culprit", "failures", "impact", "summary"]}
    for name, tags in same.items():
        for tag in tags:
            assert text(cell(nbs[name], tag)) == text(cell(embedded[name], tag)), (name, tag)
