"""P5: what importing nomadlab costs a fresh interpreter.

Each figure is the median over paired rounds (every command once per round, in turn) of a
fresh ``python -c`` process' wall time: ``import nomadlab`` against ``pass``, and
``import nomadlab.frames`` against ``import pandas`` (the frames need pandas whatever else
they cost). Targets: ≤ 50 ms and ≤ 100 ms over their references.
"""

from __future__ import annotations

import statistics
import subprocess
import sys
import time
from pathlib import Path

from benchmarks import _options

__all__ = ["main", "run"]

_ROOT = Path(__file__).resolve().parents[1]
_COMMANDS = {"pass": "pass", "nomadlab": "import nomadlab", "pandas": "import pandas",
             "frames": "import pandas; import nomadlab.frames"}


def _once(code: str) -> float:
    t0 = time.perf_counter()
    subprocess.run([sys.executable, "-c", code], cwd=_ROOT, check=True)
    return time.perf_counter() - t0


def run(options: _options.Options) -> dict[str, float]:
    """Print and return the import figures (milliseconds over the reference)."""
    rounds = 5 if options.quick else 15
    times: dict[str, list[float]] = {k: [] for k in _COMMANDS}
    for code in _COMMANDS.values():   # a first run of each warms the file cache
        _once(code)
    for r in range(rounds):
        for name in _COMMANDS if r % 2 == 0 else list(_COMMANDS)[::-1]:
            times[name].append(_once(_COMMANDS[name]))
    over_pass = statistics.median(a - b for a, b in zip(times["nomadlab"], times["pass"], strict=True)) * 1000
    over_pandas = statistics.median(a - b for a, b in zip(times["frames"], times["pandas"], strict=True)) * 1000
    print(f"import nomadlab over python -c pass: {over_pass:.0f} ms (target <= 50 ms: "
          f"{'met' if over_pass <= 50 else 'NOT met'}); median of {rounds} paired rounds")
    print(f"import nomadlab.frames over import pandas: {over_pandas:.0f} ms (target <= 100 ms: "
          f"{'met' if over_pandas <= 100 else 'NOT met'})")
    return {"import_nomadlab_ms": over_pass, "import_frames_ms": over_pandas}


def main() -> None:
    """Run with the options of ``python -m benchmarks``."""
    run(_options.current())


if __name__ == "__main__":
    _options.set_current(_options.parse(sys.argv[1:]))
    main()
