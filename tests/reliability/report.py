"""Write ``docs/reliability.md``: every reliability figure, measured now.

Run from the checkout's root::

    python -m tests.reliability.report            # measure everything, write docs/reliability.md
    python -m tests.reliability.report --check    # the same, and exit 1 if a figure is off target
    python -m tests.reliability.report --out -    # print the page instead

It runs the fault matrix, the TLS matrix, the load run and a token-hygiene sweep (the client
and action tests in a child pytest with ``NOMADLAB_HYGIENE_TOKEN`` set), a few minutes on two
cores, loopback only. The tests in ``tests/reliability`` assert the same figures case by case.
The page also shows the last run of ``python -m tests.reliability.mutations`` (each defect
class's fix broken in a scratch copy, and the tests that caught it), read from
``tests/reliability/mutations.json``: that run takes longer, so it is made apart.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import logging
import os
import platform
import subprocess
import sys
import tempfile
from collections.abc import Callable, Iterable, Sequence
from importlib import metadata
from pathlib import Path

from .figures import Figure
from .mutations import Outcome, load_results

__all__ = ["HYGIENE_TESTS", "hygiene_sweep", "main", "measure_all", "render", "versions"]

ROOT = Path(__file__).resolve().parents[2]
HYGIENE_TESTS = ("tests/client", "tests/actions", "tests/reliability/test_tls.py")
_PACKAGES = ("nomadlab", "httpx", "httpcore", "uvicorn", "pandas", "msgspec", "tenacity", "trustme", "pytest")


def versions() -> dict[str, str]:
    """Python, the platform and the packages the figures depend on."""
    found = {"python": platform.python_version(), "platform": platform.platform(terse=True)}
    for name in _PACKAGES:
        try:
            found[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            found[name] = "not installed"
    return found


def hygiene_sweep(paths: Sequence[str] = HYGIENE_TESTS) -> Figure:
    """Run ``paths`` in a child pytest with the hygiene token; every scanned text must be clean."""
    with tempfile.TemporaryDirectory() as tmp:
        summary = Path(tmp) / "hygiene.json"
        env = {**os.environ, "NOMADLAB_HYGIENE_TOKEN": "1", "NOMADLAB_HYGIENE_REPORT": str(summary)}
        done = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-m", "not live",
                               *paths], cwd=ROOT, env=env, capture_output=True, text=True)
        data = json.loads(summary.read_text()) if summary.exists() else {"scanned": 0, "found": 0}
    scanned, found = int(data["scanned"]), int(data["found"])
    passed = done.returncode == 0
    return Figure("hygiene", f"{', '.join(paths)} run with the test token", scanned, scanned - found if passed else 0,
                  leaked=found, detail=f"pytest exit {done.returncode}; texts scanned: logs, output, "
                                       "failures with traceback locals, warnings")


def measure_all(progress: Callable[[str], None] = lambda _: None) -> list[Figure]:
    """Every figure: fault matrix, TLS matrix, load, hygiene."""
    from . import faults, load, tls

    figures: list[Figure] = []
    progress("faults: reads")
    figures += faults.measure_reads()
    figures += faults.measure_reads(faults.PERSISTENT_FETCHERS, persistent=True)
    progress("faults: writes")
    with tempfile.TemporaryDirectory() as tmp:
        audit = str(Path(tmp) / "audit.jsonl")
        figures += [faults.measure_write(a, f, audit=audit) for a in faults.WRITES for f in faults.WRITE_FAULTS]
    progress("faults: streams")
    figures += [faults.measure_stream(s, f) for s in faults.STREAMS for f in faults.STREAM_FAULTS]
    progress("tls")
    figures += tls.measure_all()
    progress("load")
    figures += load.measure()
    progress("hygiene")
    figures.append(hygiene_sweep())
    return figures


def _row(cells: Iterable[object]) -> str:
    return "| " + " | ".join(str(c).replace("|", "\\|") for c in cells) + " |"


def _defects(recorded: tuple[str, list[Outcome]] | None) -> list[str]:
    """The section on the mutation run: each fix broken, the test that caught it, and after."""
    lines = ["", "## Defects and the tests that catch them", ""]
    if recorded is None:
        return lines + ["No mutation run is recorded: run `python -m tests.reliability.mutations`."]
    when, outcomes = recorded
    caught = sum(o.at_target for o in outcomes)
    lines += [
        f"Run {when} UTC by `python -m tests.reliability.mutations`: each fix below was broken in a",
        "scratch copy of the checkout (the file named; the checkout itself is never changed), the",
        "listed tests were run with the fix broken, then again with it restored.",
        f"**{caught} of {len(outcomes)} broken fixes caught, every one passing again once restored.**"
        if caught == len(outcomes) else f"**{caught} of {len(outcomes)} broken fixes caught.**",
        "",
        _row(["defect class", "what was broken (file)", "caught by (first failing test)", "broken", "restored"]),
        _row(["---"] * 5),
    ]
    for o in outcomes:
        first = o.caught_by[0] if o.caught_by else "**not caught** (" + ", ".join(o.tests) + ")"
        after = o.restored if o.restored_exit == 0 else f"**{o.restored}**"
        lines.append(_row([o.defect, f"{o.what} (`{o.file}`)", f"`{first}`" if o.caught_by else first,
                           o.broken, after]))
    return lines


def render(figures: Sequence[Figure], found: dict[str, str], when: dt.datetime,
           mutations: tuple[str, list[Outcome]] | None = None) -> str:
    """The Markdown page: a summary per suite, the mutation run, then every case."""
    suites: dict[str, list[Figure]] = {}
    for f in figures:
        suites.setdefault(f.suite, []).append(f)
    off = [f for f in figures if not f.at_target]
    lines = [
        "# Reliability figures",
        "",
        "Measured against the simulator served on 127.0.0.1 (plain, TLS and mutual TLS), by the suites in",
        "`tests/reliability/`, whose tests assert each figure case by case. Regenerate this page with",
        "`python -m tests.reliability.report` from the checkout's root (`--check` also fails when a",
        "figure is off target).",
        "",
        f"Measured {when:%Y-%m-%d %H:%M} UTC with " + ", ".join(f"{k} {v}" for k, v in found.items()) + ".",
        "",
        "Columns: **tried** operations; **survived**: ended as they must (read or streamed in full,",
        "or failed at once with an error that says what to do); **lost**: objects, rows or events",
        "missing; **duplicated**: events delivered twice or writes that reached the cluster twice;",
        "**leaked**: secrets shown, or KiB of memory kept above the bound. Target: everything",
        "survived, nothing lost, duplicated or leaked.",
        "",
        f"**{len(figures) - len(off)} of {len(figures)} cases at target.**",
        "",
        "## Summary",
        "",
        _row(["suite", "cases", "tried", "survived", "lost", "duplicated", "leaked", "at target"]),
        _row(["---"] * 8),
    ]
    for suite, rows in suites.items():
        lines.append(_row([suite, len(rows), sum(r.tried for r in rows), sum(r.survived for r in rows),
                           sum(r.lost for r in rows), sum(r.duplicated for r in rows),
                           sum(r.leaked for r in rows), "yes" if all(r.at_target for r in rows) else "**no**"]))
    lines += [
        "",
        "## What each suite does",
        "",
        "- **faults: read**: each frame fetcher while a fault fires twice on every `GET` (503 burst, 429",
        "  with `Retry-After: 3`, connection reset, a reply held past the client's timeout, a body cut",
        "  short, no cluster leader): the frame must equal the fault-free one, `Retry-After` honoured.",
        "- **faults: read, persistent**: the same faults without end on one fetcher per endpoint family:",
        "  a `NomadError` naming the request after exactly the policy's 4 attempts.",
        "- **faults: write**: each `nomadlab.actions` write meeting each fault once: it must fail with a",
        "  clear error and reach the simulator once (counted where the simulator receives requests).",
        "- **faults: stream**: the event stream, log frames and plain logs read in full while a drop",
        "  (between frames or inside one), a reset, a 5xx, a 429 or leader loss hits twice: exactly the",
        "  fault-free sequence of events or bytes.",
        "- **tls**: each `NOMAD_*` TLS variable set right and wrong against the served simulator",
        "  (certificates from `trustme`); a failure must be a `NomadError` naming what to set, not retried.",
        "- **load**: 100 blocking watchers, an event-stream follower and a `LiveView` while a node's",
        "  eligibility is written 16 times; memory traced outside the simulator's own code.",
        "- **hygiene**: the client, action and TLS tests run with a recognisable token",
        "  (`tests/hygiene.py`); every log record, captured output, failure text with traceback locals",
        "  and warning is scanned.",
        "",
        "## Scanning other outputs for the token",
        "",
        "Tests that execute notebooks or render reports scan what they produce with the functions of",
        "`tests/hygiene.py`, which look for the hygiene token (and any secret given to",
        "`register_secret`) and report places, never the secret itself:",
        "",
        "```python",
        "from tests import hygiene",
        "",
        "hygiene.assert_clean(hygiene.scan_notebook(executed_path))   # every output of every cell",
        "hygiene.assert_clean(hygiene.scan_html(report_path))          # markup and scripts",
        "hygiene.assert_clean(hygiene.scan_text(text, where=\"cli output\"))",
        "```",
        "",
        "With `NOMADLAB_HYGIENE_TOKEN=1` (always when `CI` is true) every test runs with `NOMAD_TOKEN`",
        "set to that token, so notebook kernels and commands started by a test carry it too; set",
        "`NOMADLAB_HYGIENE_REPORT=<file>` for a JSON count of the texts scanned.",
        *_defects(mutations),
        "",
        "## Every case",
        "",
        _row(["suite", "case", "tried", "survived", "lost", "duplicated", "leaked", "note"]),
        _row(["---"] * 8),
    ]
    for f in figures:
        mark = "" if f.at_target else "**off target** "
        lines.append(_row([f.suite, f.case, f.tried, f.survived, f.lost, f.duplicated, f.leaked, mark + f.detail]))
    return "\n".join(lines) + "\n"


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.reliability.report", description=__doc__.splitlines()[0])
    parser.add_argument("--out", default=str(ROOT / "docs" / "reliability.md"), help="file to write, or - to print")
    parser.add_argument("--check", action="store_true", help="exit 1 when a figure is off target")
    args = parser.parse_args(argv)
    logging.getLogger("nomadlab").setLevel(logging.ERROR)   # the retries under faults are the point
    figures = measure_all(lambda step: print(f"measuring {step} ...", file=sys.stderr, flush=True))
    page = render(figures, versions(), dt.datetime.now(dt.UTC), load_results())
    if args.out == "-":
        sys.stdout.write(page)
    else:
        Path(args.out).write_text(page)
        print(f"wrote {args.out}", file=sys.stderr)
    off = [f for f in figures if not f.at_target]
    for f in off:
        print(f"off target: {f.suite} / {f.case}: {f.detail}", file=sys.stderr)
    return 1 if (args.check and off) else 0


if __name__ == "__main__":
    raise SystemExit(main())
