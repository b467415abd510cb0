"""Every plot renders to PNG with kaleido and the system's Chromium, into ``artifacts/plots/``.

The PNGs stay there for a person to look at (the folder is git-ignored). Outside CI the tests
skip when no Chromium is installed (``apt-get install chromium``); in CI (``CI=true``) a
missing browser fails them. No browser is ever downloaded.
"""

from __future__ import annotations

import os
import shutil
import struct
from collections.abc import Callable
from pathlib import Path

import pandas as pd
import plotly.graph_objects as go
import pytest

from nomadlab import plots
from tests.analysis.test_states import EVENTS

from . import _frames as F
from .conftest import NODES

ARTIFACTS = Path(__file__).resolve().parents[2] / "artifacts" / "plots"
_BROWSERS = ("chromium", "chromium-browser", "google-chrome", "chrome")


def _browser() -> str | None:
    path = os.environ.get("BROWSER_PATH")
    if path and Path(path).exists():
        return path
    for name in _BROWSERS:
        found = shutil.which(name)
        if found:
            return found
    return None


@pytest.fixture(scope="module")
def browser() -> str:
    import kaleido  # noqa: F401 - test extra: a missing one fails, never skips
    path = _browser()
    if path is None:
        message = "no Chromium to render PNGs with: apt-get install -y chromium (or set BROWSER_PATH)"
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(message)
        pytest.skip(message)
    return path


def _figures(capacity: pd.DataFrame, usage: pd.DataFrame, task_events: pd.DataFrame, timeline: pd.DataFrame,
             jobs: pd.DataFrame, restart_counts: pd.DataFrame, rightsizing: pd.DataFrame,
             ) -> dict[str, Callable[[], go.Figure]]:
    return {
        "node_utilization": lambda: plots.node_utilization(capacity),
        "cluster_heatmap": lambda: plots.cluster_heatmap(capacity),
        "utilization_over_time": lambda: plots.utilization_over_time(usage, by="node_pool", allocated=capacity,
                                                                     scope="node"),
        "task_timeline": lambda: plots.task_timeline(task_events),
        "incident_timeline": lambda: plots.incident_timeline(timeline, usage),
        "job_status": lambda: plots.job_status(jobs),
        "restarts_chart": lambda: plots.restarts_chart(restart_counts),
        "rightsizing_chart": lambda: plots.rightsizing_chart(rightsizing),
    }


PLOTS = sorted(plots.__all__)


def _png_size(path: Path) -> tuple[int, int]:
    head = path.read_bytes()[:24]
    assert head[:8] == b"\x89PNG\r\n\x1a\n", f"{path} is not a PNG"
    width, height = struct.unpack(">II", head[16:24])
    return width, height


@pytest.fixture(scope="module")
def rendered(browser: str) -> dict[str, Path]:
    """All figures written in one kaleido session (one browser start)."""
    import plotly.io as pio

    os.environ.setdefault("BROWSER_PATH", browser)
    makers = _figures(F.capacity_frame(NODES), F.usage_frame(), F.events_frame(EVENTS), F.timeline_frame(),
                      F.jobs_frame(), F.restart_counts_frame(), F.rightsizing_frame())
    assert sorted(makers) == PLOTS, "a public plot has no PNG test"
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    paths = {name: ARTIFACTS / f"{name}.png" for name in makers}
    for path in paths.values():
        path.unlink(missing_ok=True)
    pio.write_images([make() for make in makers.values()], list(paths.values()), width=1100, scale=1)
    return paths


@pytest.mark.slow
@pytest.mark.parametrize("name", PLOTS)
def test_plot_renders_to_png(rendered: dict[str, Path], name: str) -> None:
    path = rendered[name]
    assert path.is_file(), f"{name} was not rendered"
    width, height = _png_size(path)
    assert width == 1100 and height >= 300
    assert path.stat().st_size > 10_000        # a drawn chart, not a blank page
