"""Run every ``bench_*.py`` module of this package in name order (``python -m benchmarks``)."""

from __future__ import annotations

import importlib
import pkgutil
import sys

import benchmarks

__all__ = ["main"]


def main(argv: list[str] | None = None) -> int:
    """Run the benchmarks whose module name contains any of ``argv`` (all without arguments)."""
    wanted = list(sys.argv[1:] if argv is None else argv)
    names = sorted(m.name for m in pkgutil.iter_modules(benchmarks.__path__) if m.name.startswith("bench_"))
    for name in names:
        if wanted and not any(w in name for w in wanted):
            continue
        print(f"== {name}", flush=True)
        importlib.import_module(f"benchmarks.{name}").main()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
