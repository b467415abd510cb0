"""The benchmarks run end to end at a small size, so they never rot (no thresholds: a figure is
a measurement of this machine, not a pass or fail)."""

from __future__ import annotations

import math
import subprocess
import sys
from pathlib import Path

import pytest

from benchmarks import _options, bench_frames

pytestmark = [pytest.mark.slow, pytest.mark.wire, pytest.mark.timeout(900)]

ROOT = Path(__file__).resolve().parents[1]

# Every figure the frame benchmark reports (the scale curve adds its own with --curve).
FIGURES = {
    *(f"{k}_{m}" for k in ("ours", "cached", "separate", "baseline", "floor_plain", "floor_true")
      for m in ("s", "rss_mb")),
    "payload_mb", "ours_over_true_floor", "ours_over_plain_floor", "baseline_over_ours", "ours_rss_over_payload",
    "cached_over_ours", "separate_over_ours", "live_ours_s", "live_floor_true_s", "live_floor_plain_s",
    "live_ours_over_true_floor", "live_ours_over_plain_floor", "fanout_sequential_s", "fanout_8_s",
    "fanout_8_speedup", "fanout_64_s", "fanout_64_speedup",
}


def test_the_frame_benchmark_produces_every_figure(capsys: pytest.CaptureFixture[str]) -> None:
    options = _options.parse(["--quick", "--repeat", "1", "--fanout-allocs", "10", "--latency-ms", "5"])
    figures = bench_frames.run(options)
    assert figures.keys() >= FIGURES, sorted(FIGURES - figures.keys())
    bad = {k: v for k, v in figures.items() if not math.isfinite(v)}
    assert not bad, bad
    assert all(figures[f"{k}_s"] > 0 for k in ("ours", "baseline", "floor_true", "floor_plain"))
    out = capsys.readouterr().out
    for target in ("ours / true floor", "baseline / ours", "peak RSS", "CachedSource", "P2 stats"):
        assert f"{target}" in out


def test_the_import_and_plot_benchmarks_run() -> None:
    proc = subprocess.run([sys.executable, "-m", "benchmarks", "import", "plots", "--quick"], cwd=ROOT,
                          capture_output=True, text=True, timeout=600, check=False)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "import nomadlab" in proc.stdout and "target" in proc.stdout
    assert "task_timeline (every row): built in" in proc.stdout
    for line in proc.stdout.splitlines():
        if "ms" in line and "import" in line:
            assert "nan" not in line, line


def test_options_name_the_sizes() -> None:
    assert _options.parse(["--size", "10k"]).allocs == 10_000
    assert _options.parse(["--quick"]).allocs == 1_000
    assert _options.parse([]).allocs == 100_000
    with pytest.raises(SystemExit):
        _options.parse(["--size", "7"])
