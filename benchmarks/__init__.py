"""Benchmarks for nomadlab: run them all with ``python -m benchmarks``.

Each ``bench_*.py`` module has a ``main() -> None`` that prints its measurements. Benchmarks
report times and ratios against a baseline measured in the same run; they never assert a
wall-clock threshold.
"""

__all__: list[str] = []
