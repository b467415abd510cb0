"""The notebooks run top to bottom in a real kernel: embedded (no NOMAD_ADDR) and over the wire."""

from __future__ import annotations

import json
import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest

nbformat = pytest.importorskip("nbformat")
nbclient = pytest.importorskip("nbclient")
pytest.importorskip("ipykernel")

from nomadlab.sim.scenarios import build_scenario  # noqa: E402

NOTEBOOKS = Path(__file__).resolve().parents[1] / "notebooks"
EXPLORE = NOTEBOOKS / "01-explore.ipynb"

pytestmark = pytest.mark.notebook


def kernel_env(tmp: Path, nomad_addr: str | None) -> dict[str, str]:
    """The kernel's environment: no NOMAD_* but the address given; Jupyter and IPython state in
    ``tmp``; this virtualenv's kernel spec preferred over a user-wide one."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("NOMAD_", "NOMADLAB_"))}
    if nomad_addr is not None:
        env["NOMAD_ADDR"] = nomad_addr
    else:  # the in-process demo ends where build_scenario("demo", seed=0) ends, not now
        env["NOMADLAB_SIM_END"] = "2026-01-01T06:00:00Z"
    env.update(JUPYTER_PREFER_ENV_PATH="1", JUPYTER_RUNTIME_DIR=str(tmp / "runtime"),
               IPYTHONDIR=str(tmp / "ipython"), MPLBACKEND="agg")
    return env


# Appended to the notebook before it runs, tagged "probe": what the analyst's variables hold.
PROBE = """
import json
frames = {"jobs": jobs, "nodes": nodes, "allocations": allocs, "tasks": tasks, "task_events": events,
          "evaluations": evals, "placed": placed, "bad": bad, "oom": oom}
print(json.dumps({
    "shapes": {name: list(df.shape) for name, df in frames.items()},
    "bad_jobs": {str(k): int(v) for k, v in bad["job_id"].value_counts().items()},
    "bad_oom_killed": int(bad["oom_killed"].sum()),
    "oom_jobs": sorted(set(oom["job_id"])),
    "placed_nodes_known": bool(placed["node_pool"].notna().all()),
}))
"""


def execute(path: Path, env: Mapping[str, str]) -> Any:
    nb = nbformat.read(path, as_version=4)
    probe = nbformat.v4.new_code_cell(PROBE, id="probe")
    probe.metadata["tags"] = ["probe"]
    nb.cells.append(probe)
    client = nbclient.NotebookClient(nb, timeout=90, kernel_name="python3",
                                     resources={"metadata": {"path": str(path.parent)}})
    try:
        client.execute(env=dict(env))
    except nbclient.exceptions.CellExecutionError as exc:
        pytest.fail(f"{path.name} failed: {exc}")
    return nb


def cell(nb: Any, tag: str) -> Any:
    found = [c for c in nb.cells if tag in c.get("metadata", {}).get("tags", [])]
    assert len(found) == 1, f"expected one cell tagged {tag!r}"
    return found[0]


def text(c: Any) -> str:
    """Everything a cell showed as text: streams and the text/plain of results."""
    parts = []
    for out in c.outputs:
        if out.output_type == "stream":
            parts.append(out.text)
        elif out.output_type in ("execute_result", "display_data"):
            parts.append(out.data.get("text/plain", ""))
    return "".join(parts)


def table_rows(html: str) -> int:
    """Rows of the frame pandas displayed as HTML (its "N rows × M columns" note when it showed
    only the head and tail, else the rows of the table)."""
    note = re.search(r"<p>(\d+) rows × \d+ columns</p>", html)
    if note:
        return int(note.group(1))
    body = html.split("<tbody>", 1)[1].split("</tbody>", 1)[0]
    return body.count("<tr>")


def probe(nb: Any) -> Any:
    return json.loads(text(cell(nb, "probe")))


def result(c: Any) -> Any:
    results = [o for o in c.outputs if o.output_type in ("execute_result", "display_data")]
    assert results, f"cell {c.id} showed nothing"
    return results[-1].data


@pytest.fixture(scope="module")
def embedded(tmp_path_factory: pytest.TempPathFactory) -> Any:
    """01-explore executed with NOMAD_ADDR unset: nomadlab.connect() builds the demo cluster."""
    return execute(EXPLORE, kernel_env(tmp_path_factory.mktemp("kernel"), None))


def test_notebooks_are_stored_without_outputs() -> None:
    paths = sorted(NOTEBOOKS.glob("*.ipynb"))
    assert EXPLORE in paths
    for path in paths:
        nb = nbformat.read(path, as_version=4)
        nbformat.validate(nb)
        for c in nb.cells:
            if c.cell_type == "code":
                assert c.outputs == [] and c.execution_count is None, f"{path.name}: cell {c.id} has outputs"


def test_explore_runs_without_error_on_the_embedded_cluster(embedded: Any) -> None:
    code = [c for c in embedded.cells if c.cell_type == "code"]
    assert all(c.execution_count is not None for c in code)
    errors = [o for c in code for o in c.outputs if o.output_type == "error"]
    assert errors == []
    assert "Nomad API: http://nomadlab-sim.invalid" in text(cell(embedded, "connect"))


def test_explore_frames_are_not_empty(embedded: Any) -> None:
    shapes = probe(embedded)["shapes"]
    assert shapes["nodes"] == [40, 27] and shapes["jobs"] == [35, 29]
    assert shapes["allocations"][0] == 232 and shapes["tasks"][0] == 249
    assert shapes["task_events"][0] == 1144 and shapes["evaluations"][0] == 62
    counts = text(cell(embedded, "allocations"))
    assert re.search(r"^allocations\s+232$", counts, re.M) and re.search(r"^evaluations\s+62$", counts, re.M)
    assert table_rows(result(cell(embedded, "nodes"))["text/html"]) == 40


def test_explore_merges_allocations_with_nodes(embedded: Any) -> None:
    found = probe(embedded)
    assert found["placed_nodes_known"] is True  # every running allocation found its node
    assert found["shapes"]["placed"][0] == table_rows(result(cell(embedded, "placed"))["text/html"]) > 100
    pools = result(cell(embedded, "cpu-by-pool"))["text/html"]
    assert table_rows(pools) == 3 and all(p in pools for p in ("batch", "default", "gpu"))


def test_explore_finds_the_failed_and_oom_killed_tasks(embedded: Any) -> None:
    shown = result(cell(embedded, "failed-tasks"))
    assert "Empty DataFrame" not in shown["text/plain"]
    assert table_rows(shown["text/html"]) == 8
    found = probe(embedded)
    # ledger-import crashed (exit 2) until it gave up; the bad api deploy was OOM-killed.
    assert found["bad_jobs"] == {"api": 5, "ledger-import": 3}
    assert found["bad_oom_killed"] == 5
    assert found["oom_jobs"] == ["api"]
    assert "OOM Killed" in result(cell(embedded, "oom-events"))["text/html"]


def test_explore_charts_are_plotly_figures(embedded: Any) -> None:
    pools = json.loads(json.dumps(result(cell(embedded, "cpu-by-pool-chart"))["application/vnd.plotly.v1+json"]))
    assert [t["name"] for t in pools["data"]] == ["allocatable_cpu_mhz", "allocated_cpu_mhz"]
    assert list(pools["data"][0]["x"]) == ["batch", "default", "gpu"]
    restarts = result(cell(embedded, "restarts-chart"))["application/vnd.plotly.v1+json"]
    jobs = [x for t in restarts["data"] for x in t["x"]]
    assert jobs[:2] == ["notifications", "api"]


@pytest.mark.wire
def test_explore_runs_against_the_served_simulator(embedded: Any, tmp_path: Path) -> None:
    """Same cluster (demo, seed 0, clock stopped), served on 127.0.0.1: same tables as in-process."""
    cluster = build_scenario("demo", seed=0)
    with cluster.serve(port=0) as url:
        nb = execute(EXPLORE, kernel_env(tmp_path, url))
    errors = [o for c in nb.cells if c.cell_type == "code" for o in c.outputs if o.output_type == "error"]
    assert errors == []
    assert f"Nomad API: {url}" in text(cell(nb, "connect"))
    for tag in ("jobs", "allocations", "failed-tasks", "oom-events", "cpu-by-pool", "blocked-evals"):
        assert text(cell(nb, tag)) == text(cell(embedded, tag)), tag
