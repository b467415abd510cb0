"""The ``nomadlab`` command line: ``nomadlab sim`` serves a simulated Nomad cluster."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

__all__ = ["main"]


def _sim(args: argparse.Namespace) -> int:
    from .sim import RealClock, SimCluster
    from .sim.scenarios import SCENARIOS
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
    cluster = SimCluster(clock=RealClock(), seed=args.seed, acl=args.acl)
    SCENARIOS[args.scenario](cluster)
    scheme = "https" if args.tls_cert else "http"
    print(f"nomadlab sim: scenario {args.scenario!r} (seed {args.seed}) on {scheme}://{args.host}:{args.port}",
          file=sys.stderr)
    print(f"  export NOMAD_ADDR={scheme}://{args.host}:{args.port}", file=sys.stderr)
    serve_forever(cluster, host=args.host, port=args.port, ssl_certfile=args.tls_cert,
                  ssl_keyfile=args.tls_key, ssl_ca_certs=args.tls_ca, log_level=args.log_level)
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="nomadlab", description="Explore HashiCorp Nomad from Jupyter.")
    sub = parser.add_subparsers(dest="command", required=True)
    sim = sub.add_parser("sim", help="serve a simulated Nomad cluster (HTTP API on a socket)")
    sim.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    sim.add_argument("--port", type=int, default=4646, help="port to bind (default 4646, as Nomad)")
    sim.add_argument("--scenario", default="default", help="which cluster to build (default: default)")
    sim.add_argument("--seed", type=int, default=0, help="seed for IDs and synthetic data")
    sim.add_argument("--tls-cert", help="PEM certificate: serve HTTPS")
    sim.add_argument("--tls-key", help="PEM private key for --tls-cert")
    sim.add_argument("--tls-ca", help="PEM CA bundle: require client certificates (mutual TLS)")
    sim.add_argument("--acl", action="store_true",
                     help="enforce ACLs; bootstrap with POST /v1/acl/bootstrap (or `nomad acl bootstrap`)")
    sim.add_argument("--log-level", default="warning", choices=["debug", "info", "warning", "error"])
    sim.set_defaults(func=_sim)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return int(args.func(args))


if __name__ == "__main__":
    raise SystemExit(main())
