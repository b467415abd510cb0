"""The ``nomadlab`` command line.

``nomadlab sim`` serves a simulated Nomad cluster; ``nomadlab demo`` serves the ``demo``
scenario and starts JupyterLab on the notebooks, with ``NOMAD_ADDR`` pointing at it.
``nomadlab snapshot`` and ``nomadlab record`` save a cluster for later (``nomadlab.offline``);
``nomadlab inspect PATH`` says what a snapshot, recording, debug archive or history holds.

JupyterLab's login token is generated here and handed to it as ``JUPYTER_TOKEN``, so that its
log shows ``?token=...`` instead of the token; the login link goes to a file only the user can
read, whose path (never the link) is printed.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from types import FrameType

__all__ = ["LAB_OVERRIDES", "build_parser", "lab_command", "lab_environment", "lab_path", "lab_settings",
           "lab_token_source", "lab_url", "login_file", "main"]


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
    params = {k: getattr(args, k) for k in ("nodes", "allocs", "jobs", "node_name") if getattr(args, k) is not None}
    if set(params) - set(scenario.params):
        flags = ", ".join(f"--{k.replace('_', '-')}" for k in sorted(set(params) - set(scenario.params)))
        owner = "--scenario dev" if set(params) - set(scenario.params) == {"node_name"} else "--scenario large"
        print(f"{flags}: only for {owner}", file=sys.stderr)
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


# -- demo ---------------------------------------------------------------------------------------

def _default_notebooks() -> Path | None:
    """``notebooks/`` of this checkout (editable install), else of the working directory."""
    for candidate in (Path(__file__).resolve().parents[1] / "notebooks", Path.cwd() / "notebooks"):
        if candidate.is_dir():
            return candidate
    return None


#: The notebook JupyterLab opens first when the notebooks directory has it.
FIRST_NOTEBOOK = "explore.ipynb"


def lab_path(notebooks: Path) -> str:
    """The page JupyterLab opens on: ``explore.ipynb`` when ``notebooks`` has it, else ``/lab``."""
    return f"/lab/tree/{FIRST_NOTEBOOK}" if (notebooks / FIRST_NOTEBOOK).is_file() else "/lab"


def lab_url(port: int, path: str = "/lab", *, token: str | None = None) -> str:
    """``http://127.0.0.1:port`` + ``path``, with ``?token=`` when ``token`` is given (a login link:
    a secret, to be written to a private file only, never printed)."""
    query = "?" + urllib.parse.urlencode({"token": token}) if token else ""
    return f"http://127.0.0.1:{port}{path}{query}"


#: JupyterLab settings the demo overrides: no "receive official Jupyter news?" question and no
#: update check (the notification plugin asks on first start unless ``fetchNews`` is decided).
LAB_OVERRIDES = {"@jupyterlab/apputils-extension:notification": {"fetchNews": "false", "checkForUpdates": False}}


def lab_settings(directory: Path) -> Path:
    """A JupyterLab application settings directory at ``directory``: the installed one's files
    (if it has any) plus an ``overrides.json`` with :data:`LAB_OVERRIDES` merged in. Passed as
    ``--LabApp.app_settings_dir``, it leaves the user's own settings untouched."""
    import json

    directory.mkdir(parents=True, exist_ok=True)
    overrides: dict[str, object] = {}
    with contextlib.suppress(ImportError, OSError):
        from jupyterlab.commands import get_app_dir

        installed = Path(get_app_dir()) / "settings"
        if installed.is_dir():
            shutil.copytree(installed, directory, dirs_exist_ok=True)
    with contextlib.suppress(OSError, ValueError):
        overrides = json.loads((directory / "overrides.json").read_text(encoding="utf-8"))
    for plugin, values in LAB_OVERRIDES.items():
        merged = dict(overrides.get(plugin) or {})  # type: ignore[call-overload]
        merged.update(values)
        overrides[plugin] = merged
    (directory / "overrides.json").write_text(json.dumps(overrides, indent=2), encoding="utf-8")
    return directory


def lab_command(notebooks: Path, *, port: int, open_browser: bool = True, extra: Sequence[str] = (),
                python: str | None = None, settings: Path | None = None) -> list[str]:
    """The ``jupyter lab`` command ``nomadlab demo`` runs: this interpreter's JupyterLab, on
    127.0.0.1:``port`` exactly (no retrying other ports, so the printed URL is right), rooted at
    ``notebooks`` and opening ``explore.ipynb`` when it is there; ``extra`` arguments last.
    JupyterLab's news feed and update check are off, so it asks nothing on first start.
    As root (a container, a CI machine) it adds ``--allow-root``, which JupyterLab otherwise
    demands before it starts."""
    cmd = [
        python or sys.executable, "-m", "jupyterlab",
        f"--ServerApp.root_dir={notebooks}",
        "--ServerApp.ip=127.0.0.1",
        f"--ServerApp.port={port}",
        "--ServerApp.port_retries=0",
        # Ctrl-C in the terminal reaches JupyterLab too: stop at once instead of asking y/n.
        "--ServerApp.answer_yes=True",
        # No "receive official Jupyter news?" pop-up, no request to the news feed or for updates.
        "--LabApp.news_url=None",
        "--LabApp.check_for_updates_class=jupyterlab.handlers.announcements.NeverCheckForUpdate",
    ]
    if settings is not None:
        cmd.append(f"--LabApp.app_settings_dir={settings}")
    if lab_path(notebooks) != "/lab":
        cmd.append(f"--LabApp.default_url={lab_path(notebooks)}")
    if not open_browser:
        cmd.append("--no-browser")
    if _is_root() and "--allow-root" not in extra:
        cmd.append("--allow-root")
    cmd.extend(extra)
    return cmd


def _is_root() -> bool:
    geteuid = getattr(os, "geteuid", None)
    return geteuid is not None and geteuid() == 0


def lab_environment(environ: Mapping[str, str], nomad_addr: str, *,
                    jupyter_token: str | None = None) -> dict[str, str]:
    """JupyterLab's environment: ``environ`` with ``NOMAD_ADDR`` set to the simulator and every
    other ``NOMAD_*`` variable removed (a token, namespace or CA meant for a real cluster
    must not follow the notebooks to the simulator); ``JUPYTER_TOKEN`` set to ``jupyter_token``
    when given (jupyter_server logs a token it did not generate as ``?token=...``)."""
    env = {k: v for k, v in environ.items() if not k.startswith("NOMAD_")}
    env["NOMAD_ADDR"] = nomad_addr
    if jupyter_token is not None:
        env["JUPYTER_TOKEN"] = jupyter_token
    return env


def lab_token_source(environ: Mapping[str, str], extra: Sequence[str] = ()) -> str | None:
    """Where the user already set JupyterLab's token, if they did: ``JUPYTER_TOKEN`` or
    ``JUPYTER_TOKEN_FILE`` in ``environ`` (a non-empty value, as jupyter_server reads them), or a
    ``--<Class>.token`` option in ``extra`` (which beats ``JUPYTER_TOKEN``); else None, and
    ``nomadlab demo`` generates the token."""
    for name in ("JUPYTER_TOKEN", "JUPYTER_TOKEN_FILE"):
        if environ.get(name):
            return name
    for arg in extra:
        option = re.match(r"--[\w.-]*\.token(?==|$)", arg)
        if option:
            return option.group(0)
    return None


@contextlib.contextmanager
def login_file(url: str) -> Iterator[Path]:
    """``url`` (a login link) written to a new file only the user can read (mode 0600, in a fresh
    ``tempfile.mkdtemp()`` directory, mode 0700); both removed on exit."""
    directory = Path(tempfile.mkdtemp(prefix="nomadlab-demo-"))
    path = directory / "jupyterlab-login-url.txt"
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0), 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            if hasattr(os, "fchmod"):
                os.fchmod(f.fileno(), 0o600)  # exactly 0600, whatever the umask
            f.write(url + "\n")
        yield path
    finally:
        with contextlib.suppress(FileNotFoundError):
            path.unlink()
        with contextlib.suppress(OSError):
            directory.rmdir()


def _free_port(host: str = "127.0.0.1") -> int:
    """A port free on ``host`` now (for ``--lab-port 0``: the login link needs it in advance)."""
    with socket.socket() as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


class _Stop(Exception):
    """SIGTERM or SIGINT, turned into an exception so that ``finally`` blocks run."""


@contextlib.contextmanager
def _signals_raise() -> Iterator[None]:
    """While active, SIGTERM and SIGINT raise :class:`_Stop` in the main thread; outside the main
    thread nothing changes.

    Both are handled explicitly: a shell starts a background job (``nomadlab demo &`` in a
    script) with SIGINT ignored, and Python then installs no KeyboardInterrupt handler, so
    ``kill -INT`` would otherwise do nothing. A second signal during the stop is ignored
    (the stop kills what does not end in time)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    stopping = [False]

    def handler(signum: int, frame: FrameType | None) -> None:
        if stopping[0]:
            return
        stopping[0] = True
        raise _Stop

    previous = {sig: signal.signal(sig, handler) for sig in (signal.SIGTERM, signal.SIGINT)}
    try:
        yield
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old)


def _stop_child(proc: subprocess.Popen[bytes], timeout_s: float = 15.0) -> int:
    """Ask ``proc`` to stop (SIGTERM), wait, kill it if it does not (or on a second Ctrl-C);
    return its exit status."""
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=timeout_s)
        except (subprocess.TimeoutExpired, KeyboardInterrupt, _Stop):
            proc.kill()
            proc.wait()
    return int(proc.returncode)


def _die_with_parent() -> None:
    """In the child, before exec: on Linux, have the kernel send it SIGTERM if the demo itself
    dies without stopping it (SIGKILL), so that JupyterLab never outlives the demo."""
    if sys.platform.startswith("linux"):
        import ctypes

        with contextlib.suppress(OSError, AttributeError):
            ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


def _run_lab(cmd: list[str], env: dict[str, str]) -> int:
    """Run JupyterLab until it exits (its status) or until Ctrl-C/SIGTERM (which stop it too).

    It runs in its own session, so that a Ctrl-C in the terminal reaches only the demo, which
    then stops JupyterLab itself (SIGTERM, then SIGKILL after 15 s): nothing is left holding
    its port, whichever way the demo was started."""
    proc = subprocess.Popen(cmd, env=env, start_new_session=True, preexec_fn=_die_with_parent)
    try:
        status = proc.wait()
    finally:
        _stop_child(proc)
    return status


def _demo(args: argparse.Namespace) -> int:
    import importlib.util

    notebooks = Path(args.notebooks) if args.notebooks else _default_notebooks()
    if not args.no_lab:
        if importlib.util.find_spec("jupyterlab") is None:
            print("JupyterLab is not installed: pip install 'nomadlab[lab]' (or add --no-lab to serve "
                  "the simulator only)", file=sys.stderr)
            return 2
        if notebooks is None or not notebooks.is_dir():
            print(f"no notebooks directory at {notebooks or 'notebooks/'}: pass --notebooks DIR",
                  file=sys.stderr)
            return 2

    from .analysis.usage import CLUSTER_VAR, DEMO_SAMPLE_EVERY_S, HISTORY_VAR, sampled_build
    from .history import write_usage
    from .sim.scenarios import continue_in_real_time

    # As `nomadlab sim --scenario demo` does: the history ends now, then goes on in real time
    # (the served cluster's ticker runs the due transitions: crash loops loop, batch jobs end).
    # Its usage is sampled through the stats endpoints every 5 simulated minutes on the way,
    # as a poller would have, and kept in the run folder for the notebooks' usage_history().
    print(f"nomadlab demo: building six hours of history, sampling usage every "
          f"{DEMO_SAMPLE_EVERY_S / 60:g} min", file=sys.stderr, flush=True)
    began = time.monotonic()
    status = 0
    with contextlib.ExitStack() as stack, _signals_raise():
        try:
            cluster, samples = sampled_build("demo", seed=args.seed, end_ns=time.time_ns())
        except (KeyboardInterrupt, _Stop):
            print("nomadlab demo: stopped while building the history", file=sys.stderr, flush=True)
            return 0
        continue_in_real_time(cluster)
        run_dir = Path(tempfile.mkdtemp(prefix="nomadlab-demo-run-"))
        stack.callback(shutil.rmtree, run_dir, True)
        history = run_dir / "history"
        write_usage(samples, history, cluster="demo")
        print(f"  usage history: {samples['time'].nunique()} samples, {len(samples):,} rows in "
              f"{time.monotonic() - began:.1f} s (removed when the demo stops)", file=sys.stderr, flush=True)
        try:
            try:
                url = stack.enter_context(cluster.serve(host=args.host, port=args.port))
            except (RuntimeError, OSError) as exc:
                print(f"nomadlab demo: {exc} (is the port taken? try --port)", file=sys.stderr)
                return 1
            print(f"nomadlab demo: scenario 'demo' (seed {args.seed}), simulated cluster on {url}",
                  file=sys.stderr)
            print(f"  export NOMAD_ADDR={url}", file=sys.stderr, flush=True)
            print(f"  export {HISTORY_VAR}={history}", file=sys.stderr, flush=True)
            if args.no_lab or notebooks is None:
                print("  serving the simulator only; Ctrl-C stops it", file=sys.stderr, flush=True)
                while True:
                    time.sleep(3600)
            lab_port = args.lab_port or _free_port()
            print(f"  JupyterLab: {lab_url(lab_port)} on {notebooks}; Ctrl-C stops both",
                  file=sys.stderr, flush=True)
            # The token is never printed: JupyterLab gets it in its environment (and logs
            # "?token=..."), the user gets the login link in a file only they can read.
            token_source = lab_token_source(os.environ, args.lab_args)
            no_browser = args.no_browser or "--no-browser" in args.lab_args
            token = None
            if token_source:
                print(f"  JupyterLab: log in with the token you set ({token_source}; not printed)",
                      file=sys.stderr, flush=True)
            else:
                token = secrets.token_urlsafe(32)
                path = stack.enter_context(login_file(lab_url(lab_port, lab_path(notebooks), token=token)))
                how = ("to log in" if no_browser
                       else "JupyterLab opens your browser logged in; if it does not, or to log in again")
                print(f"  {how}, open the link in {path} (readable only by you; removed when the demo "
                      "stops)", file=sys.stderr, flush=True)
            cmd = lab_command(notebooks, port=lab_port, open_browser=not args.no_browser,
                              extra=args.lab_args, settings=lab_settings(run_dir / "lab-settings"))
            lab_env = lab_environment(os.environ, url, jupyter_token=token)
            lab_env.update({HISTORY_VAR: str(history), CLUSTER_VAR: "demo"})
            status = _run_lab(cmd, lab_env)
            print(f"nomadlab demo: JupyterLab exited (status {status}"
                  + ("; its log above says why" if status else "") + ")", file=sys.stderr)
        except (KeyboardInterrupt, _Stop):
            status = 0
        print("nomadlab demo: stopping the simulator", file=sys.stderr, flush=True)
    print("nomadlab demo: stopped", file=sys.stderr, flush=True)
    return status


def _inspect(args: argparse.Namespace) -> int:
    from .offline.inspect import inspect_path

    try:
        found = inspect_path(args.path)
    except (FileNotFoundError, ValueError) as exc:
        print(f"nomadlab inspect: {exc}", file=sys.stderr)
        return 2
    print(found.render())
    return 0


def _report(args: argparse.Namespace) -> int:
    from .report import ReportError, build_report

    print(f"nomadlab report {args.kind}: executing the notebook "
          f"({'source ' + args.source if args.source else 'NOMAD_ADDR, else the simulated demo cluster'})",
          file=sys.stderr, flush=True)
    try:
        out = build_report(args.kind, args.out, source=args.source, since=args.since, until=args.until,
                           timeout_s=args.timeout)
    except ReportError as exc:
        print(f"nomadlab report {args.kind}: {exc}", file=sys.stderr)
        return 1
    print(f"nomadlab report {args.kind}: wrote {out}", file=sys.stderr)
    return 0


def _fault_arg(text: str) -> object:
    """``--fault`` values, parsed up front so a bad one stops the command with exit status 2."""
    from .sim.faults import parse_fault

    try:
        return parse_fault(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


class _FaultAction(argparse._AppendAction):
    """``--fault``: its help is written from :mod:`nomadlab.sim.faults` when it is shown, so it
    lists every kind and option the parser knows without importing the simulator on every command."""

    @property
    def help(self) -> str:
        from .sim.faults import fault_help

        return fault_help()

    @help.setter
    def help(self, value: str | None) -> None:
        """argparse sets the help given to ``add_argument``; the generated one is always shown."""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="nomadlab", description="Explore HashiCorp Nomad from Jupyter.")
    sub = parser.add_subparsers(dest="command", required=True)
    sim = sub.add_parser("sim", help="serve a simulated Nomad cluster (HTTP API on a socket)")
    sim.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    sim.add_argument("--port", type=int, default=4646, help="port to bind (default 4646, as Nomad)")
    sim.add_argument("--scenario", default="default",
                     help="which cluster to build: default, demo (six hours of history ending in an "
                          "incident), dev (one node, no jobs, as `nomad agent -dev`) or large (benchmark "
                          "size); default: default")
    sim.add_argument("--nodes", type=int, help="--scenario large: nodes (default 10000)")
    sim.add_argument("--allocs", type=int, help="--scenario large: allocations (default 100000)")
    sim.add_argument("--jobs", type=int, help="--scenario large: jobs (default allocs / 100)")
    sim.add_argument("--node-name", help="--scenario dev: the node's name (as `nomad agent -dev -node NAME`)")
    sim.add_argument("--seed", type=int, default=0, help="seed for IDs and synthetic data")
    sim.add_argument("--tls-cert", help="PEM certificate: serve HTTPS")
    sim.add_argument("--tls-key", help="PEM private key for --tls-cert")
    sim.add_argument("--tls-ca", help="PEM CA bundle: require client certificates (mutual TLS)")
    sim.add_argument("--acl", action="store_true",
                     help="enforce ACLs; bootstrap with POST /v1/acl/bootstrap (or `nomad acl bootstrap`)")
    sim.add_argument(
        "--fault", action=_FaultAction, default=[], type=_fault_arg, metavar="ROUTE:KIND[:k=v,...]",
    )
    sim.add_argument("--fault-seed", type=int, default=None,
                     help="seed for fault rates (default: --seed)")
    sim.add_argument("--log-level", default="warning", choices=["debug", "info", "warning", "error"])
    sim.set_defaults(func=_sim)

    demo = sub.add_parser(
        "demo", help="serve the demo cluster and start JupyterLab on the notebooks (NOMAD_ADDR set)",
        description="Serve the 'demo' scenario (six hours of history ending now, then real time) "
                    "and start JupyterLab on notebooks/ with NOMAD_ADDR pointing at it. Ctrl-C, "
                    "or JupyterLab exiting, stops both.",
    )
    demo.add_argument("--host", default="127.0.0.1", help="address the simulator binds (default 127.0.0.1)")
    demo.add_argument("--port", type=int, default=4646,
                      help="simulator port (default 4646, as Nomad; 0 picks a free one)")
    demo.add_argument("--seed", type=int, default=0, help="seed of the demo scenario")
    demo.add_argument("--lab-port", type=int, default=8888, help="JupyterLab port (default 8888; 0 picks a free one)")
    demo.add_argument("--no-browser", action="store_true", help="do not open a browser (passed to JupyterLab)")
    demo.add_argument("--no-lab", action="store_true", help="serve the simulator only, without JupyterLab")
    demo.add_argument("--notebooks", help="directory JupyterLab opens (default: the checkout's notebooks/)")
    demo.add_argument("lab_args", nargs="*", metavar="JUPYTER_ARG",
                      help="arguments for jupyter lab, after -- (e.g. nomadlab demo -- --allow-root)")
    demo.set_defaults(func=_demo)

    inspect = sub.add_parser(
        "inspect", help="say what a snapshot, recording, debug archive or Parquet history holds, and when",
        description="Describe PATH: a nomadlab snapshot or recording (from its manifest), a `nomad operator "
                    "debug` archive (.tar.gz or folder), or a Parquet history root; with its time range.",
    )
    inspect.add_argument("path", metavar="PATH", help="the file or folder to describe")
    inspect.set_defaults(func=_inspect)

    from .offline._cli import add_commands

    add_commands(sub)

    report = sub.add_parser(
        "report", help="run the capacity or postmortem notebook headless and write it as one HTML file",
        description="Execute notebooks/capacity-planning.ipynb (capacity) or "
                    "notebooks/incident-postmortem.ipynb (postmortem) with these parameters and render "
                    "a self-contained HTML report (interactive charts, code hidden) that opens offline.",
    )
    report.add_argument("kind", choices=["capacity", "postmortem"], help="which report")
    report.add_argument("--source", help="a snapshot, recording or debug archive (default: NOMAD_ADDR, "
                                         "else the simulated demo cluster)")
    report.add_argument("--since", help="postmortem: start of the window (RFC 3339; default: found from the data)")
    report.add_argument("--until", help="postmortem: end of the window (RFC 3339; default: found from the data)")
    report.add_argument("--out", required=True, help="the HTML file to write")
    report.add_argument("--timeout", type=float, default=600, help="seconds one cell may run (default 600)")
    report.set_defaults(func=_report)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return int(args.func(args))


if __name__ == "__main__":
    raise SystemExit(main())
