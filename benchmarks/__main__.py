"""Run every ``bench_*.py`` module of this package in name order (``python -m benchmarks``).

``python -m benchmarks --help`` lists the options (``--size``, ``--quick``, ``--curve``...);
names given without dashes keep only the modules whose name contains one of them.
"""

from __future__ import annotations

import importlib
import pkgutil
import sys

import benchmarks
from benchmarks import _options

__all__ = ["main"]


def main(argv: list[str] | None = None) -> int:
    """Run the benchmarks ``argv`` selects (all without names) with its options."""
    options = _options.parse(list(sys.argv[1:] if argv is None else argv))
    _options.set_current(options)
    names = sorted(m.name for m in pkgutil.iter_modules(benchmarks.__path__) if m.name.startswith("bench_"))
    for name in names:
        if options.names and not any(w in name for w in options.names):
            continue
        print(f"== {name}", flush=True)
        importlib.import_module(f"benchmarks.{name}").main()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
