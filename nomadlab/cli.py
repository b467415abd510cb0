"""The ``nomadlab`` command line: ``nomadlab sim`` serves a simulated Nomad cluster."""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Sequence

__all__ = ["main"]


def _sim(args: argparse.Namespace) -> int:
    from .sim import ManualClock, SimCluster
    from .sim.scenarios import SCENARIOS, continue_in_real_time
    from .sim.server import serve_forever

    if args.scenario not in SCENARIOS:
        print(f"unknown scenario {args.scenario!r}; choose one of: {', '.join(sorted(SCENARIOS))}",
              file=sys.stderr)
        return 2
    if bool(args.tls_cert) != bool(args.tls_key):
        print("--tls-cert and --tls-key go together", file=sys.stderr)
        return 2
    if args.tls_ca and not args.tls_cert:
        print("--tls-ca (mutual TLS) needs --tls-cert and --tls-key", file=sys.stderr)
        return 2
    scenario = SCENARIOS[args.scenario]
    params = {k: getattr(args, k) for k in ("nodes", "allocs", "jobs") if getattr(args, k) is not None}
    if set(params) - set(scenario.params):
        flags = ", ".join(f"--{k}" for k in sorted(set(params) - set(scenario.params)))
        print(f"{flags}: only for --scenario large", file=sys.stderr)
        return 2
    # Built on a ManualClock whose history ends now, then continued in real time.
    start_ns = scenario.start_ns(end_ns=time.time_ns())
    cluster = SimCluster(clock=ManualClock(start_ns), seed=args.seed, acl=args.acl)
    try:
        scenario(cluster, **params)
    except ValueError as exc:
        print(f"scenario {args.scenario!r}: {exc}", file=sys.stderr)
        return 2
    continue_in_real_time(cluster)
    if args.fault or args.fault_seed is not None:
        from .sim.faults import FaultInjector

        seed = args.seed if args.fault_seed is None else args.fault_seed
        cluster.faults = FaultInjector(seed, args.fault)
    scheme = "https" if args.tls_cert else "http"
    print(f"nomadlab sim: scenario {args.scenario!r} (seed {args.seed}) on {scheme}://{args.host}:{args.port}",
          file=sys.stderr)
    print(f"  export NOMAD_ADDR={scheme}://{args.host}:{args.port}", file=sys.stderr)
    for fault in cluster.faults.faults:
        print(f"  fault: {fault}", file=sys.stderr)
    serve_forever(cluster, host=args.host, port=args.port, ssl_certfile=args.tls_cert,
                  ssl_keyfile=args.tls_key, ssl_ca_certs=args.tls_ca, log_level=args.log_level)
    return 0


def _fault_arg(text: str) -> object:
    """``--fault`` values, parsed up front so a bad one stops the command with exit status 2."""
    from .sim.faults import parse_fault

    try:
        return parse_fault(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="nomadlab", description="Explore HashiCorp Nomad from Jupyter.")
    sub = parser.add_subparsers(dest="command", required=True)
    sim = sub.add_parser("sim", help="serve a simulated Nomad cluster (HTTP API on a socket)")
    sim.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    sim.add_argument("--port", type=int, default=4646, help="port to bind (default 4646, as Nomad)")
    sim.add_argument("--scenario", default="default",
                     help="which cluster to build: default, demo (six hours of history ending in an "
                          "incident) or large (benchmark size); default: default")
    sim.add_argument("--nodes", type=int, help="--scenario large: nodes (default 10000)")
    sim.add_argument("--allocs", type=int, help="--scenario large: allocations (default 100000)")
    sim.add_argument("--jobs", type=int, help="--scenario large: jobs (default allocs / 100)")
    sim.add_argument("--seed", type=int, default=0, help="seed for IDs and synthetic data")
    sim.add_argument("--tls-cert", help="PEM certificate: serve HTTPS")
    sim.add_argument("--tls-key", help="PEM private key for --tls-cert")
    sim.add_argument("--tls-ca", help="PEM CA bundle: require client certificates (mutual TLS)")
    sim.add_argument("--acl", action="store_true",
                     help="enforce ACLs; bootstrap with POST /v1/acl/bootstrap (or `nomad acl bootstrap`)")
    sim.add_argument(
        "--fault", action="append", default=[], type=_fault_arg, metavar="ROUTE:KIND[:k=v,...]",
        help="inject a fault (repeatable): ROUTE is a path glob, KIND one of latency, error, "
             "reset, truncate, drop_stream, leader_loss; options rate, status, retry_after_s, "
             "latency_s, after_events, times, body, methods (GET|PUT). "
             "E.g. '/v1/jobs*:error:status=503,rate=0.5' or '*:latency:latency_s=0.2'",
    )
    sim.add_argument("--fault-seed", type=int, default=None,
                     help="seed for fault rates (default: --seed)")
    sim.add_argument("--log-level", default="warning", choices=["debug", "info", "warning", "error"])
    sim.set_defaults(func=_sim)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return int(args.func(args))


if __name__ == "__main__":
    raise SystemExit(main())
