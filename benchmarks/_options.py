"""Command-line options shared by the benchmarks (``python -m benchmarks --help``)."""

from __future__ import annotations

import argparse
from dataclasses import dataclass

__all__ = ["Options", "SIZES", "current", "parse", "set_current"]

SIZES = {"1k": 1_000, "10k": 10_000, "100k": 100_000, "300k": 300_000}
"""The ``--size`` names: allocations of the ``large`` scenario (one node per 10 allocations)."""


@dataclass(frozen=True)
class Options:
    """What to run, and how big."""

    names: tuple[str, ...] = ()
    size: str = "100k"
    repeat: int = 5
    quick: bool = False
    gzip: bool = False
    live: bool = True
    curve: bool = False
    fanout_allocs: int = 2000
    latency_ms: float = 20.0
    compare: str | None = None

    @property
    def allocs(self) -> int:
        return SIZES[self.size]


_CURRENT = [Options()]


def parse(argv: list[str]) -> Options:
    """Options from the command line; ``--quick`` means size 1k, two rounds, a small fan-out."""
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description="Run nomadlab's benchmarks.")
    parser.add_argument("names", nargs="*", help="run only the bench_* modules whose name contains one of these")
    parser.add_argument("--size", choices=tuple(SIZES), default=None,
                        help="allocations of the large scenario (default 100k; 1k with --quick)")
    parser.add_argument("--repeat", type=int, default=None,
                        help="paired rounds per figure; each figure is their median (default 5; 2 with --quick)")
    parser.add_argument("--quick", action="store_true", help="a small, fast run (the CI smoke run)")
    parser.add_argument("--gzip", action="store_true", help="serve the recorded pages gzip-encoded, as Nomad does")
    parser.add_argument("--no-live", dest="live", action="store_false",
                        help="skip the figures against the live simulator")
    parser.add_argument("--curve", action="store_true",
                        help="the scale curve: ours and the baseline at 1k, 10k, 100k (and 300k with --size 300k)")
    parser.add_argument("--fanout-allocs", type=int, default=None,
                        help="allocations whose stats are fanned out (default 2000; 40 with --quick)")
    parser.add_argument("--latency-ms", type=float, default=20.0, help="latency injected per stats request")
    parser.add_argument("--compare", metavar="CHECKOUT", default=None,
                        help="also run ours with the nomadlab package of another checkout (before/after)")
    args = parser.parse_args(argv)
    return Options(
        names=tuple(args.names),
        size=args.size or ("1k" if args.quick else "100k"),
        repeat=max(1, args.repeat if args.repeat is not None else (2 if args.quick else 5)),
        quick=args.quick,
        gzip=args.gzip,
        live=args.live,
        curve=args.curve,
        fanout_allocs=max(1, args.fanout_allocs if args.fanout_allocs is not None else (40 if args.quick else 2000)),
        latency_ms=args.latency_ms,
        compare=args.compare,
    )


def current() -> Options:
    """The options of this run (the defaults when a module is run on its own)."""
    return _CURRENT[0]


def set_current(options: Options) -> None:
    _CURRENT[0] = options
