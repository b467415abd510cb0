"""The simulator benchmark runs end to end at its smallest size and produces every figure
(no thresholds: its figures are measurements of the machine; the targets have their own tests)."""

from __future__ import annotations

import math

import pytest

from benchmarks import _options, bench_sim

pytestmark = [pytest.mark.slow, pytest.mark.timeout(600)]

FIGURES = {"render_before_s", "render_now_s", "render_first_s", "render_speedup", "render_mb", "commit_ms_1000",
           "backlog_s", "backlog_exits", "backlog_slowest_get_ms", "p3_idle_requests", "p3_requests_per_wait",
           "p3_change_delay_s"}


def test_the_simulator_benchmark_produces_every_figure(capsys: pytest.CaptureFixture[str]) -> None:
    figures = bench_sim.run(_options.parse(["--quick", "--repeat", "1"]))
    assert figures.keys() >= FIGURES, sorted(FIGURES - figures.keys())
    bad = {k: v for k, v in figures.items() if not math.isfinite(v)}
    assert not bad, bad
    assert figures["backlog_exits"] >= 90  # one allocation in ten is a batch one, due in the first second
    out = capsys.readouterr().out
    for line in ("bytes identical every round", "speedup (median of paired ratios)", "P3 live view",
                 "P3 delay from a write to the redraw", "first real-time second"):
        assert line in out
