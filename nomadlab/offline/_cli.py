"""``nomadlab snapshot`` and ``nomadlab record``: the command-line side of the offline sources."""

from __future__ import annotations

import argparse
import signal
import sys
import threading
import time
from pathlib import Path
from types import FrameType
from typing import TextIO

__all__ = ["add_commands", "record_command", "snapshot_command"]


def snapshot_command(args: argparse.Namespace) -> int:
    """Take a snapshot of the ``NOMAD_*`` cluster into ``--out`` (default: a name with the time)."""
    from nomadlab.client import NomadClient
    from nomadlab.errors import NomadError

    from .snapshot import default_path, open_snapshot, snapshot

    out = Path(args.out) if args.out else default_path()
    try:
        path = snapshot(NomadClient(), out, namespace=args.namespace,
                        progress=lambda step: print(f"nomadlab snapshot: {step}", file=sys.stderr, flush=True))
    except NomadError as exc:
        print(f"nomadlab snapshot: {exc}", file=sys.stderr)
        return 1
    snap = open_snapshot(path)
    counts = ", ".join(f"{n} {k}" for k, n in snap.manifest["counts"].items() if k in ("jobs", "allocations", "nodes"))
    print(f"nomadlab snapshot: wrote {path} ({path.stat().st_size:,} bytes: {counts})", file=sys.stderr)
    for kind, why in snap.unreadable.items():
        print(f"nomadlab snapshot: could not read {kind}: {why}", file=sys.stderr)
    print(path)
    return 0


class _Printer:
    """Progress on one line of a terminal (rewritten in place), or a line every ``every_s`` otherwise."""

    def __init__(self, stream: TextIO, every_s: float = 10.0) -> None:
        self.stream = stream
        self.tty = stream.isatty()
        self.every_s = every_s
        self.last = 0.0

    def __call__(self, p: object) -> None:
        from .recording import RecordProgress

        assert isinstance(p, RecordProgress)
        now = time.monotonic()
        if not self.tty and now - self.last < self.every_s:
            return
        self.last = now
        text = (f"{p.total:,} events ({p.events_per_s:.1f}/s), last index {p.last_index}, segment {p.segment}"
                + (f", {p.reconnects} reconnects" if p.reconnects else "")
                + (f", {p.usage_rounds} usage rounds" if p.usage_rounds else ""))
        if self.tty:
            self.stream.write(f"\r\x1b[Knomadlab record: {text}")
        else:
            self.stream.write(f"nomadlab record: {text}\n")
        self.stream.flush()


def record_command(args: argparse.Namespace) -> int:
    """Record the ``NOMAD_*`` cluster into ``PATH`` until Ctrl-C or SIGTERM."""
    from nomadlab.client import NomadClient
    from nomadlab.errors import NomadError

    from .recording import record

    def interrupt(signum: int, frame: FrameType | None) -> None:
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGTERM, interrupt) if threading.current_thread() is threading.main_thread() \
        else None
    print(f"nomadlab record: recording into {args.path} (Ctrl-C stops)", file=sys.stderr, flush=True)
    try:
        result = record(NomadClient(), args.path, topics=args.topics or None, namespace=args.namespace,
                        usage_every=args.usage_every, progress=_Printer(sys.stderr))
    except (NomadError, ValueError) as exc:
        print(f"\nnomadlab record: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:       # before the first event: while the starting snapshot was taken
        print("\nnomadlab record: stopped before the recording started; run it again to start it",
              file=sys.stderr)
        return 130
    finally:
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)
    print(f"\nnomadlab record: stopped; {result.events:,} events written this run, {result.total:,} in all, "
          f"last index {result.last_index}", file=sys.stderr)
    return 0


def add_commands(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add ``snapshot`` and ``record`` to the ``nomadlab`` command's subcommands."""
    snap = sub.add_parser("snapshot", help="save every object the frames read into one file (NOMAD_* cluster)",
                          description="Read every list and per-object endpoint the frames use from the cluster "
                                      "at NOMAD_ADDR and write them, with a manifest, into one .tar.gz.")
    snap.add_argument("--out", help="file to write (default: nomad-snapshot-<UTC time>.tar.gz here)")
    snap.add_argument("--namespace", default="*", help="namespace to read (default: * for all)")
    snap.set_defaults(func=snapshot_command)

    rec = sub.add_parser("record", help="record the event stream into a folder until Ctrl-C (NOMAD_* cluster)",
                         description="Start with a snapshot, then follow /v1/event/stream into rotating segments; "
                                     "run it again on the same folder to resume. Ctrl-C or SIGTERM stops it.")
    rec.add_argument("path", help="recording folder (made if missing, resumed if it holds a recording)")
    rec.add_argument("--topics", nargs="+", metavar="TOPIC[:KEY]",
                     help="event topics (default: Job Allocation Evaluation Deployment Node NodePool)")
    rec.add_argument("--namespace", default="*", help="namespace to follow (default: * for all)")
    rec.add_argument("--usage-every", metavar="DURATION", help="also sample usage this often (e.g. 30s)")
    rec.set_defaults(func=record_command)
