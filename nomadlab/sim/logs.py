"""Synthetic task logs and Nomad's log stream framing (REFERENCE §5, ``/v1/client/fs/logs``).

A task's log files (``alloc/logs/<task>.stdout.N`` and ``.stderr.N``, rotated as logmon
rotates them: :class:`LogSet`) are a pure function of the cluster seed, the allocation and the
simulated time: lines are placed on the task's *runs*
(each ``Started`` up to its ``Terminated``/``Killing``), so the files grow as simulated time
passes and every read at the same time gives the same bytes. What is written fits the task:
nginx access and error logs for an nginx image, Redis server lines for redis, progress lines for
batch work, and request logs for anything else. Before a crash the task prints a Go panic and
stack trace, and before an OOM kill it warns about its memory and the wrapper prints ``Killed``,
at the ``Terminated`` event's time. A stopped task logs its shutdown.

Only the last 10 events of a task are kept (as Nomad does), so earlier runs of a crash-looping
task are rebuilt backwards from ``Restarts`` and the restart policy's delay, which is exactly how
the simulator spaced them.

:func:`stream_logs` turns the files into what the endpoint sends: StreamFrames
``{Offset, Data, File, FileEvent}`` (every field omitempty, ``Data`` base64, ``Offset`` the
position after the frame's data, at most 64 KiB of data each) concatenated without separators,
``{}`` heartbeats every second while following, or the raw bytes with ``plain``.
"""

from __future__ import annotations

import base64
import hashlib
import struct
import time
import weakref
from collections import OrderedDict
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import orjson

from .clock import NS_PER_S
from .lifecycle import Behaviour, Behaviours

if TYPE_CHECKING:
    from .cluster import SimCluster

__all__ = [
    "Run",
    "task_runs",
    "log_path",
    "log_lines",
    "log_bytes",
    "log_horizon_ns",
    "timed_lines",
    "LogConfig",
    "LogFile",
    "LogSet",
    "log_config",
    "log_created_ns",
    "task_log_set",
    "cluster_log_set",
    "extend",
    "closest",
    "chunks",
    "encode_frame",
    "stream_logs",
    "parse_rfc3339",
    "FRAME_SIZE",
    "HEARTBEAT_S",
]

FRAME_SIZE = 64 * 1024  # streamFrameSize
HEARTBEAT_S = 1.0  # streamHeartbeatRate
POLL_S = 0.1  # how often a following stream looks at the cluster (real time)
MS = 1_000_000


def parse_rfc3339(text: str) -> int:
    """Unix nanoseconds of an RFC3339 time as Nomad writes it (``0`` for the zero time)."""
    if not text or text.startswith("0001-01-01"):
        return 0
    body = text.rstrip("Z")
    frac_ns = 0
    if "." in body:
        body, frac = body.split(".", 1)
        frac_ns = int((frac + "000000000")[:9])
    secs = int(datetime.strptime(body, "%Y-%m-%dT%H:%M:%S").replace(tzinfo=UTC).timestamp())
    return secs * NS_PER_S + frac_ns


def _unit(*parts: Any) -> float:
    digest = hashlib.blake2b("\x1f".join(str(p) for p in parts).encode(), digest_size=8).digest()
    return float(struct.unpack(">Q", digest)[0]) / 2.0**64


def _pick(options: tuple[str, ...] | list[str], *key: Any) -> str:
    return options[int(_unit(*key) * len(options))]


# -- runs ----------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Run:
    """One run of a task: from ``start_ns`` to ``end_ns`` (``None`` while running).

    ``end`` says how it ended: ``running``, ``exit_ok``, ``crash``, ``oom``, ``killed`` or
    ``lost``.
    """

    start_ns: int
    end_ns: int | None
    end: str


def _group(job: dict[str, Any], name: str) -> dict[str, Any]:
    return next((g for g in job.get("TaskGroups") or () if g["Name"] == name), {"Tasks": []})


def _task_spec(
    alloc: dict[str, Any], task: str
) -> tuple[dict[str, Any], dict[str, Any], dict[str, Any]]:
    job = alloc.get("Job") or {}
    tg = _group(job, alloc.get("TaskGroup", ""))
    spec = next((t for t in tg.get("Tasks") or () if t.get("Name") == task), {"Name": task})
    return job, tg, spec


_NO_SCRIPT = Behaviours()


def task_runs(alloc: dict[str, Any], task: str, behaviours: Behaviours | None = None) -> list[Run]:
    """The runs of ``task`` in ``alloc``, oldest first, rebuilt from its ``TaskState``.

    ``behaviours`` is the cluster's behaviour table (how a run of the task ends); none: the
    defaults.
    """
    state = (alloc.get("TaskStates") or {}).get(task)
    if state is None:
        return []
    job, tg, spec = _task_spec(alloc, task)
    b = (behaviours or _NO_SCRIPT).of(job, tg, spec)
    fail_kind = "oom" if b.fail == "oom" else "crash"
    run_len = int((b.fail_after_s if b.fail else (b.run_s or 0.0)) * NS_PER_S)
    runs: list[Run] = []
    open_start: int | None = None
    last_marker = ""
    for ev in state.get("Events") or []:
        etype, t = ev.get("Type"), int(ev.get("Time") or 0)
        if etype == "Started":
            if open_start is not None:
                runs.append(Run(open_start, t, "lost"))
            open_start = t
            last_marker = etype
        elif etype == "Terminated" and last_marker == "Killing":
            last_marker = etype  # the exit result of the run the kill already ended
        elif etype == "Terminated":
            details = ev.get("Details") or {}
            if details.get("oom_killed") == "true":
                kind = "oom"
            else:
                kind = "exit_ok" if int(ev.get("ExitCode") or 0) == 0 else "crash"
            start = open_start if open_start is not None else t - run_len
            runs.append(Run(start, t, kind))
            open_start = None
        elif etype == "Killing" and open_start is not None:
            runs.append(Run(open_start, t, "killed"))
            open_start = None
            last_marker = etype
        elif etype == "Restarting":
            last_marker = etype
    if open_start is not None:
        if state.get("State") == "dead":
            runs.append(
                Run(open_start, parse_rfc3339(state.get("FinishedAt") or "") or open_start, "lost")
            )
        else:
            runs.append(Run(open_start, None, "running"))
    # Runs whose events were trimmed away: rebuild them backwards, one restart delay apart.
    started = bool(runs) or bool(parse_rfc3339(state.get("StartedAt") or ""))
    restarts = int(state.get("Restarts") or 0)
    expected = (1 + restarts - (1 if last_marker == "Restarting" else 0)) if started else 0
    delay = int((tg.get("RestartPolicy") or {}).get("Delay") or 0)
    earlier: list[Run] = []
    cursor = runs[0].start_ns if runs else 0
    for _ in range(max(0, expected - len(runs))):
        end = cursor - delay
        start = end - run_len
        earlier.append(Run(start, end, fail_kind))
        cursor = start
    return list(reversed(earlier)) + runs


# -- what a task writes ---------------------------------------------------------------------------
def _workload(job: dict[str, Any], spec: dict[str, Any]) -> str:
    image = str(
        (spec.get("Config") or {}).get("image") or (spec.get("Config") or {}).get("command") or ""
    )
    if "nginx" in image:
        return "nginx"
    if "redis" in image:
        return "redis"
    if job.get("Type") in ("batch", "sysbatch"):
        return "batch"
    return "app"


def _iso(t: int) -> str:
    secs, frac = divmod(t, NS_PER_S)
    return (
        datetime.fromtimestamp(secs, tz=UTC).strftime("%Y-%m-%dT%H:%M:%S") + f".{frac // MS:03d}Z"
    )


def _nginx_access_time(t: int) -> str:
    return datetime.fromtimestamp(t // NS_PER_S, tz=UTC).strftime("%d/%b/%Y:%H:%M:%S +0000")


def _nginx_error_time(t: int) -> str:
    return datetime.fromtimestamp(t // NS_PER_S, tz=UTC).strftime("%Y/%m/%d %H:%M:%S")


def _redis_time(t: int) -> str:
    secs, frac = divmod(t, NS_PER_S)
    return datetime.fromtimestamp(secs, tz=UTC).strftime("%d %b %Y %H:%M:%S") + f".{frac // MS:03d}"


_PATHS = (
    "/",
    "/index.html",
    "/api/v1/items",
    "/api/v1/items/42",
    "/healthz",
    "/static/app.js",
    "/static/style.css",
    "/login",
    "/api/v1/search?q=nomad",
    "/favicon.ico",
)
_AGENTS = (
    "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36",
    "curl/8.5.0",
    "Go-http-client/1.1",
    "kube-probe/1.29",
    "python-requests/2.32.3",
)
_STATUS = (200,) * 14 + (304, 301, 404, 404, 500, 502)


@dataclass(frozen=True)
class _Ctx:
    seed: int
    alloc_id: str
    task: str
    stream: str
    kind: str
    image: str
    job_id: str
    behaviour: Behaviour


def _startup(c: _Ctx, run_no: int) -> list[str]:
    if c.kind == "nginx":
        if c.stream == "stdout":
            return [
                "/docker-entrypoint.sh: /docker-entrypoint.d/ is not empty, "
                "will attempt to perform configuration",
                "/docker-entrypoint.sh: Looking for shell scripts in /docker-entrypoint.d/",
                "/docker-entrypoint.sh: Launching "
                "/docker-entrypoint.d/10-listen-on-ipv6-by-default.sh",
                "/docker-entrypoint.sh: Configuration complete; ready for start up",
            ]
        return [
            'using the "epoll" event method',
            "nginx/1.27.3",
            "built by gcc 12.2.0 (Debian 12.2.0-14)",
            "start worker processes",
            "start worker process 29",
        ]
    if c.kind == "redis":
        if c.stream == "stdout":
            return [
                "oO0OoO0OoO0Oo Redis is starting oO0OoO0OoO0Oo",
                "Redis version=7.2.5, bits=64, commit=00000000, modified=0, pid=1, just started",
                "Server initialized",
                "Ready to accept connections tcp",
            ]
        return []
    if c.kind == "batch":
        if c.stream == "stdout":
            return [
                f'msg="starting" job={c.job_id} attempt={run_no + 1}',
                'msg="loading input manifest"',
            ]
        return []
    if c.stream == "stdout":
        return [
            f'level=info msg="starting {c.task}" image={c.image or c.task} pid=1',
            'level=info msg="listening" addr=0.0.0.0:8080',
        ]
    return []


def _stamp(c: _Ctx, t: int, line: str, *, level: str = "info", redis_role: str = "M") -> str:
    """Prefix ``line`` with the timestamp format of the workload."""
    if c.kind == "nginx":
        if c.stream == "stdout" and line.startswith("/docker-entrypoint"):
            return line
        return f"{_nginx_error_time(t)} [{level}] 1#1: {line}"
    if c.kind == "redis":
        marker = {"warn": "#", "info": "*"}.get(level, "*")
        return f"1:{redis_role} {_redis_time(t)} {marker} {line}"
    if line.startswith("level="):
        return f"ts={_iso(t)} {line}"
    return f"ts={_iso(t)} level={level} {line}"


def _period_s(c: _Ctx) -> float:
    if c.stream == "stderr":
        return 47.0 if c.kind != "redis" else 1e9
    return {"nginx": 1.7, "redis": 60.0, "batch": 5.0}.get(c.kind, 3.1)


def _periodic(c: _Ctx, run_no: int, k: int, t: int, run_start: int) -> str | None:
    key = (c.seed, c.alloc_id, c.task, c.stream, run_no, k)
    if c.stream == "stderr":
        if _unit("emit", *key) > 0.35:
            return None
        if c.kind == "nginx":
            return _stamp(
                c,
                t,
                _pick(
                    (
                        f"*{1000 + k} an upstream response is buffered to a temporary file "
                        f"/var/cache/nginx/proxy_temp/{k % 10}/00/00000{k:05d} "
                        "while reading upstream",
                        f'*{1000 + k} open() "/usr/share/nginx/html/favicon.ico" failed '
                        "(2: No such file or directory)",
                        f"*{1000 + k} connect() failed (111: Connection refused) "
                        "while connecting to upstream",
                    ),
                    "msg",
                    *key,
                ),
                level=_pick(("warn", "error", "error"), "lvl", *key),
            )
        if c.kind == "batch":
            return _stamp(
                c,
                t,
                f'msg="slow record" offset={k * 1000} took_ms={int(200 + 800 * _unit("ms", *key))}',
                level="warn",
            )
        return _stamp(
            c,
            t,
            _pick(
                (
                    'msg="slow query" table=items '
                    f"duration_ms={int(250 + 2000 * _unit('ms', *key))}",
                    'msg="upstream timeout, retrying" upstream=auth attempt=1',
                    'msg="connection reset by peer" remote=10.0.1.12:41822',
                    'msg="cache miss ratio high" ratio=0.41',
                ),
                "msg",
                *key,
            ),
            level=_pick(("warn", "warn", "error"), "lvl", *key),
        )
    if c.kind == "nginx":
        ip = f"10.0.{int(_unit('ip3', *key) * 4)}.{int(2 + _unit('ip4', *key) * 250)}"
        path = _pick(_PATHS, "path", *key)
        status = int(_pick([str(s) for s in _STATUS], "status", *key))
        size = 0 if status == 304 else int(150 + 9000 * _unit("size", *key))
        method = "POST" if path == "/login" else "GET"
        return (
            f'{ip} - - [{_nginx_access_time(t)}] "{method} {path} HTTP/1.1" {status} {size} '
            f'"-" "{_pick(_AGENTS, "ua", *key)}" "-"'
        )
    if c.kind == "redis":
        changes = int(1 + 500 * _unit("changes", *key))
        return "\n".join(
            (
                _stamp(c, t, f"{changes} changes in 60 seconds. Saving..."),
                _stamp(c, t, f"Background saving started by pid {20 + k}"),
                _stamp(c, t, "DB saved on disk", redis_role="C"),
                _stamp(c, t, "Background saving terminated with success"),
            )
        )
    if c.kind == "batch":
        total = max(1, int((c.behaviour.run_s or 30.0) / 5.0))
        done = min(total, k + 1)
        return _stamp(
            c,
            t,
            f'msg="progress" step={done}/{total} records={done * 1250} '
            f"elapsed_s={(t - run_start) // NS_PER_S}",
        )
    method = _pick(("GET", "GET", "GET", "POST", "PUT", "DELETE"), "method", *key)
    status = int(_pick([str(s) for s in _STATUS], "status", *key))
    return _stamp(
        c,
        t,
        f'msg="request" method={method} path={_pick(_PATHS, "path", *key)} '
        f"status={status} duration_ms={int(1 + 120 * _unit('dur', *key))}",
    )


def _ending(c: _Ctx, run: Run, run_no: int) -> list[str]:
    """What the task prints at the end of ``run`` (at ``run.end_ns``)."""
    t = run.end_ns or 0
    if run.end == "crash":
        if c.stream != "stderr":
            return []
        addr = int(_unit("pc", c.seed, c.alloc_id, c.task, run_no) * 0xFFFFF)
        return [
            "panic: runtime error: invalid memory address or nil pointer dereference",
            f"[signal SIGSEGV: segmentation violation code=0x1 addr=0x0 pc=0x{0x6A0000 + addr:x}]",
            "",
            "goroutine 1 [running]:",
            f"main.(*Server).handle(0xc000{addr:06x}, {{0x0, 0x0}})",
            "\t/app/server.go:142 +0x1d",
            "main.(*Server).Run(0xc000134000)",
            "\t/app/server.go:88 +0x2b4",
            "main.main()",
            "\t/app/main.go:57 +0x2a5",
        ]
    if run.end == "oom":
        if c.stream != "stderr":
            return []
        return [
            _stamp(c, t, 'msg="allocation failed, retrying" size_mb=64', level="error"),
            "Killed",
        ]
    if run.end == "killed":
        if c.kind == "nginx":
            return (
                [_stamp(c, t, "signal 15 (SIGTERM) received, exiting", level="notice")]
                if c.stream == "stderr"
                else []
            )
        if c.kind == "redis":
            return (
                [
                    _stamp(c, t, "Received SIGTERM scheduling shutdown...", level="warn"),
                    _stamp(c, t, "Redis is now ready to exit, bye bye...", level="warn"),
                ]
                if c.stream == "stdout"
                else []
            )
        return (
            [_stamp(c, t, 'msg="received signal, shutting down" signal=terminated')]
            if c.stream == "stdout"
            else []
        )
    if run.end == "exit_ok" and c.stream == "stdout":
        if c.kind == "batch":
            secs = (t - run.start_ns) // NS_PER_S
            return [
                _stamp(c, t, f'msg="done" records={max(1, secs // 5) * 1250} duration_s={secs}')
            ]
        return [_stamp(c, t, 'msg="exiting" code=0')]
    return []


def _oom_warnings(c: _Ctx, run: Run) -> list[tuple[int, str]]:
    """An OOM-bound task warns as its memory climbs (times fixed from the run's start)."""
    if c.behaviour.fail != "oom" or c.stream != "stderr":
        return []
    out = []
    for frac, pct in ((0.5, 81), (0.75, 90), (0.9, 96)):
        t = run.start_ns + int(frac * c.behaviour.fail_after_s * NS_PER_S)
        out.append(
            (
                t,
                _stamp(
                    c,
                    t,
                    f'msg="memory pressure" heap_used_pct={pct} gc_pause_ms={pct * 3}',
                    level="warn",
                ),
            )
        )
    return out


def log_path(task: str, log_type: str) -> str:
    """Nomad's relative path of a task's first log file: ``alloc/logs/<task>.<type>.0``."""
    return f"alloc/logs/{task}.{log_type}.0"


def log_lines(
    cluster_seed: int,
    alloc: dict[str, Any],
    task: str,
    log_type: str,
    until_ns: int,
    since_ns: int = 0,
    *,
    behaviours: Behaviours | None = None,
) -> list[str]:
    """The lines ``task`` wrote to ``log_type`` at times in ``[since_ns, until_ns)``, in order.

    A line may hold several physical lines (a stack trace); each ends with ``\\n`` in the file.
    ``behaviours`` is the cluster's behaviour table (see :func:`task_runs`).
    """
    return [line for _, line in timed_lines(cluster_seed, alloc, task, log_type, until_ns, since_ns,
                                            behaviours=behaviours)]


def timed_lines(
    cluster_seed: int,
    alloc: dict[str, Any],
    task: str,
    log_type: str,
    until_ns: int,
    since_ns: int = 0,
    *,
    behaviours: Behaviours | None = None,
) -> list[tuple[int, str]]:
    """:func:`log_lines` with the time (Unix ns) each line was written."""
    job, tg, spec = _task_spec(alloc, task)
    image = str((spec.get("Config") or {}).get("image") or "")
    c = _Ctx(
        cluster_seed,
        alloc.get("ID", ""),
        task,
        log_type,
        _workload(job, spec),
        image,
        str(job.get("ID", "")),
        (behaviours or _NO_SCRIPT).of(job, tg, spec),
    )
    period = int(_period_s(c) * NS_PER_S)
    out: list[tuple[int, int, str]] = []
    for run_no, run in enumerate(task_runs(alloc, task, behaviours)):
        if run.start_ns >= until_ns or (run.end_ns is not None and run.end_ns < since_ns):
            continue
        stop = until_ns if run.end_ns is None else min(until_ns, run.end_ns)
        for i, line in enumerate(_startup(c, run_no)):
            t = run.start_ns + i * MS
            if since_ns <= t < stop:
                out.append(
                    (t, i, _stamp(c, t, line, level="notice" if c.kind == "nginx" else "info"))
                )
        k_lo = max(0, (since_ns - run.start_ns) // period - 1)
        k_hi = max(0, (stop - run.start_ns) // period + 1)
        for k in range(k_lo, k_hi):
            t = (
                run.start_ns
                + k * period
                + int(
                    period
                    * (0.1 + 0.8 * _unit("jit", c.seed, c.alloc_id, task, log_type, run_no, k))
                )
            )
            if since_ns <= t < stop:
                periodic = _periodic(c, run_no, k, t, run.start_ns)
                if periodic is not None:
                    out.append((t, 0, periodic))
        for t, line in _oom_warnings(c, run):
            if since_ns <= t < stop:
                out.append((t, 0, line))
        if run.end_ns is not None and since_ns <= run.end_ns < until_ns:
            for i, line in enumerate(_ending(c, run, run_no)):
                out.append((run.end_ns, 1000 + i, line))
    out.sort(key=lambda x: (x[0], x[1]))
    return [(t, line) for t, _, line in out]


def log_bytes(
    cluster_seed: int,
    alloc: dict[str, Any],
    task: str,
    log_type: str,
    until_ns: int,
    since_ns: int = 0,
    *,
    behaviours: Behaviours | None = None,
) -> bytes:
    """The bytes of the log file written in ``[since_ns, until_ns)`` (see :func:`log_lines`)."""
    return b"".join(
        (line + "\n").encode()
        for line in log_lines(cluster_seed, alloc, task, log_type, until_ns, since_ns,
                              behaviours=behaviours)
    )


# -- rotation ------------------------------------------------------------------------------------
MB = 1024 * 1024
DEFAULT_MAX_FILES = 10  # api.LogConfig defaults
DEFAULT_MAX_FILE_MB = 10
DELETE_EVENT = "file deleted"  # the StreamFrame FileEvent of a file removed while streamed


@dataclass(frozen=True)
class LogConfig:
    """A task's ``logs`` block: ``max_files`` kept of ``max_file_bytes`` each, or ``disabled``."""

    max_files: int = DEFAULT_MAX_FILES
    max_file_bytes: int = DEFAULT_MAX_FILE_MB * MB
    disabled: bool = False


def log_config(alloc: dict[str, Any], task: str) -> LogConfig:
    """The task's ``LogConfig`` as logmon applies it (Nomad's defaults for unset values)."""
    _, _, spec = _task_spec(alloc, task)
    cfg = spec.get("LogConfig") or {}
    files = int(cfg.get("MaxFiles") or DEFAULT_MAX_FILES)
    size_mb = int(cfg.get("MaxFileSizeMB") or DEFAULT_MAX_FILE_MB)
    return LogConfig(max(1, files), max(1, size_mb) * MB, bool(cfg.get("Disabled")))


@dataclass
class LogFile:
    """One file ``alloc/logs/<task>.<type>.<index>``: ``size`` bytes starting at ``start`` in
    everything the stream has written, created at ``created_ns``, last written at ``mtime_ns``."""

    index: int
    start: int
    size: int
    created_ns: int
    mtime_ns: int


class LogSet:
    """The log files of one stream of a task, rotated as Nomad's logmon rotates them.

    Lines are written whole to the current file while they fit in ``max_file_bytes``; the first
    line that does not fit opens the next index (a line longer than a whole file is cut at the
    file size, as ``FileRotator.Write`` cuts it), and only the newest ``max_files`` files are
    kept: older ones are removed. Logmon outlives the task's restarts, so every run of the task
    appends to the same set. Bytes of removed files are dropped.
    """

    def __init__(self, task: str, log_type: str, config: LogConfig, created_ns: int) -> None:
        self.task = task
        self.log_type = log_type
        self.config = config
        self.files: list[LogFile] = [LogFile(0, 0, 0, created_ns, created_ns)]
        self.until_ns = created_ns
        self._data = bytearray()
        self._base = 0  # the stream position of self._data[0]
        self.holds: list[int] = []
        """Stream positions readers still need: a removed file stays readable from there, as an
        open file descriptor keeps a deleted file readable."""

    def name(self, index: int) -> str:
        return f"{self.task}.{self.log_type}.{index}"

    def path(self, index: int) -> str:
        return f"alloc/logs/{self.name(index)}"

    @property
    def live(self) -> list[LogFile]:
        """The files still on disk, oldest first."""
        return self.files[-self.config.max_files:]

    def get(self, index: int) -> LogFile | None:
        live = self.live
        pos = index - live[0].index
        return live[pos] if 0 <= pos < len(live) else None

    def content(self, f: LogFile, start: int = 0, end: int | None = None) -> bytes:
        """Bytes ``[start, end)`` of file ``f`` (of a removed file: what a hold kept of it)."""
        stop = f.size if end is None else min(end, f.size)
        lo = f.start + max(0, start) - self._base
        hi = f.start + stop - self._base
        return bytes(self._data[max(0, lo):max(0, hi)])

    def feed(self, lines: list[tuple[int, str]], until_ns: int) -> None:
        """Write ``lines`` (times and text, in order) and move the set's time to ``until_ns``."""
        limit = self.config.max_file_bytes
        for t, text in lines:
            raw = (text + "\n").encode()
            while raw:
                cur = self.files[-1]
                if cur.size and cur.size + len(raw) > limit:
                    self._rotate(t)
                    continue
                piece = raw[: limit - cur.size] if len(raw) > limit - cur.size else raw
                self._data += piece
                cur.size += len(piece)
                cur.mtime_ns = t
                raw = raw[len(piece):]
                if raw:
                    self._rotate(t)
        self.until_ns = max(self.until_ns, until_ns)
        self._trim()

    def _rotate(self, t: int) -> None:
        cur = self.files[-1]
        self.files.append(LogFile(cur.index + 1, cur.start + cur.size, 0, t, t))

    def _trim(self) -> None:
        keep = min([self.live[0].start, *self.holds])
        if keep > self._base:
            del self._data[: keep - self._base]
            self._base = keep
        if len(self.files) > 4 * self.config.max_files:
            self.files = self.live


def log_created_ns(alloc: dict[str, Any], task: str, behaviours: Behaviours | None = None) -> int | None:
    """When logmon created the task's log files (its ``Task Setup``, else its first start), or
    ``None`` when the task has not been set up."""
    state = (alloc.get("TaskStates") or {}).get(task)
    if state is None:
        return None
    for ev in state.get("Events") or []:
        if ev.get("Type") == "Task Setup":
            return int(ev.get("Time") or 0)
    runs = task_runs(alloc, task, behaviours)
    if runs:
        return runs[0].start_ns
    started = parse_rfc3339(state.get("StartedAt") or "")
    return started or None


def task_log_set(
    cluster_seed: int,
    alloc: dict[str, Any],
    task: str,
    log_type: str,
    until_ns: int,
    *,
    behaviours: Behaviours | None = None,
) -> LogSet | None:
    """The task's ``log_type`` files as they are at ``until_ns``; ``None`` when the task has
    written none (not set up yet, or ``logs { disabled = true }``)."""
    config = log_config(alloc, task)
    created = log_created_ns(alloc, task, behaviours)
    if config.disabled or created is None or created > until_ns:
        return None
    logs = LogSet(task, log_type, config, created)
    logs.feed(timed_lines(cluster_seed, alloc, task, log_type, until_ns, behaviours=behaviours), until_ns)
    return logs


def extend(logs: LogSet, cluster_seed: int, alloc: dict[str, Any], until_ns: int,
           *, behaviours: Behaviours | None = None) -> None:
    """Write what the task wrote in ``[logs.until_ns, until_ns)`` into ``logs``."""
    if until_ns > logs.until_ns:
        logs.feed(timed_lines(cluster_seed, alloc, logs.task, logs.log_type, until_ns, logs.until_ns,
                              behaviours=behaviours), until_ns)


_CACHE_SIZE = 32
_caches: weakref.WeakKeyDictionary[SimCluster, OrderedDict[tuple[Any, ...], LogSet]] = (
    weakref.WeakKeyDictionary()
)


def cluster_log_set(cluster: SimCluster, alloc: dict[str, Any], task: str, log_type: str,
                    until_ns: int) -> LogSet | None:
    """:func:`task_log_set` through a small per-cluster cache (the caller holds the lock).

    A set is kept per allocation *version* (``ModifyIndex``) and extended with what was written
    since it was made, so reading a long log again costs only the new lines; a changed
    allocation (a restart, a stop) is read afresh.
    """
    cache = _caches.get(cluster)
    if cache is None:
        cache = _caches[cluster] = OrderedDict()
    key = (cluster.seed, alloc.get("ID"), alloc.get("ModifyIndex"), task, log_type, id(cluster.behaviours))
    found = cache.get(key)
    if found is not None and found.until_ns <= until_ns:
        cache.move_to_end(key)
        extend(found, cluster.seed, alloc, until_ns, behaviours=cluster.behaviours)
        return found
    made = task_log_set(cluster.seed, alloc, task, log_type, until_ns, behaviours=cluster.behaviours)
    if made is not None:
        cache[key] = made
        while len(cache) > _CACHE_SIZE:
            cache.popitem(last=False)
    return made


# -- streaming -----------------------------------------------------------------------------------
def log_horizon_ns(cluster: SimCluster) -> int:
    """The time up to which (exclusive) a log is complete: due transitions have run before it.

    The caller holds the cluster lock. A transition that is due but has not run yet (real time
    moved on since the last tick) bounds the horizon, so lines written at a crash or stop always
    come out with it and never after lines the stream has already sent.
    """
    cluster.tick()
    now = cluster.now_ns()
    due = cluster.next_due_ns()
    if due is not None and due < now:
        now = due
    return now


def encode_frame(
    *, offset: int = 0, data: bytes = b"", file: str = "", file_event: str = ""
) -> bytes:
    """One StreamFrame as Nomad's JSON encoder writes it: fields in order, empty ones left out."""
    frame: dict[str, Any] = {}
    if offset:
        frame["Offset"] = offset
    if data:
        frame["Data"] = base64.b64encode(data).decode("ascii")
    if file:
        frame["File"] = file
    if file_event:
        frame["FileEvent"] = file_event
    return orjson.dumps(frame)


def chunks(data: bytes, start: int, path: str, plain: bool) -> Iterator[bytes]:
    """``data`` (which begins at file position ``start``) as frames of at most 64 KiB."""
    for i in range(0, len(data), FRAME_SIZE):
        piece = data[i : i + FRAME_SIZE]
        yield piece if plain else encode_frame(offset=start + i + len(piece), data=piece, file=path)


def closest(live: list[LogFile], index: int, offset: int) -> tuple[int, int]:
    """Nomad's ``findClosest``: the position in ``live`` and the offset in that file to start at,
    for the first file at or after ``index`` (the last one past them all) and ``offset`` bytes
    from its start (negative: from its end), moving across files as the offset runs over."""
    pos = next((i for i, f in enumerate(live) if f.index >= index), len(live) - 1)
    while True:
        size = live[pos].size
        if offset == 0:
            return pos, 0
        if offset < 0:
            if size + offset >= 0:
                return pos, size + offset
            if pos == 0:
                return 0, 0
            offset += size
            pos -= 1
        else:
            if offset <= size:
                return pos, offset
            if pos == len(live) - 1:
                return pos, size
            offset -= size
            pos += 1


def _alloc_logs(cluster: SimCluster, alloc_id: str, task: str, log_type: str) -> LogSet | None:
    alloc = cluster.state.allocs.get(alloc_id)
    if alloc is None:
        return None
    return cluster_log_set(cluster, alloc, task, log_type, log_horizon_ns(cluster))


def stream_logs(
    cluster: SimCluster,
    alloc_id: str,
    task: str,
    log_type: str,
    *,
    follow: bool = False,
    plain: bool = False,
    origin: str = "start",
    offset: int = 0,
    heartbeat_s: float = HEARTBEAT_S,
    poll_s: float = POLL_S,
    log_set: LogSet | None = None,
) -> Iterator[bytes]:
    """The body of ``GET /v1/client/fs/logs/:alloc_id`` as a stream of chunks.

    As Nomad's ``logsImpl``: the start is found across the files (``origin`` ``start``: from
    the oldest file kept, ``offset`` bytes on; ``end``: ``offset`` bytes back from the end of the
    newest), then each file is sent to its end before the next, every frame naming its file and
    its offset in it. Without ``follow`` the stream ends at the end of the newest file.

    Parameters
    ----------
    cluster:
        The cluster; with ``follow`` it is polled every ``poll_s`` of real time.
    alloc_id, task, log_type:
        Which stream (the caller has validated them).
    follow:
        Keep the stream open and send lines as simulated time passes, moving on to the next file
        when the log rotates (a file removed before it was read through ends with a
        ``file deleted`` frame), with a ``{}`` heartbeat every ``heartbeat_s`` (framed mode
        only; plain mode sends nothing between lines).
    plain:
        Raw bytes instead of StreamFrames.
    origin, offset:
        Where to start, as above.
    log_set:
        The files as the caller found them (read again from the cluster when ``None``).

    Yields
    ------
    bytes
        Frames (or raw bytes); an empty chunk now and then in plain follow mode, so a server can
        notice a closed connection. The generator stops promptly when closed.
    """
    seed = cluster.seed
    logs = log_set
    if logs is None:
        with cluster.state.lock:
            logs = _alloc_logs(cluster, alloc_id, task, log_type)
    if logs is None:
        return
    live = logs.live
    pos, at = closest(live, 0 if origin == "start" else 2**63 - 1, offset if origin == "start" else -offset)
    cur = live[pos]

    def drain() -> list[bytes]:
        """Everything available from the reader's place on (the caller holds the lock: a set
        may be shared with other readers that extend it)."""
        nonlocal cur, at
        out: list[bytes] = []
        while True:
            if cur.size > at:
                out.extend(chunks(logs.content(cur, at), at, logs.path(cur.index), plain))
                at = cur.size
            if logs.files[-1] is cur:
                return out
            if logs.get(cur.index) is None and not plain:  # removed under the reader: read through, then
                out.append(encode_frame(offset=at, file=logs.path(cur.index), file_event=DELETE_EVENT))
            cur, at = next(g for g in logs.live if g.index > cur.index), 0

    with cluster.state.lock:
        hold = [cur.start]
        logs.holds.append(hold[0])
        first = drain()
    try:
        yield from first
        if not follow:
            return
        last_beat = time.monotonic()
        while True:
            time.sleep(poll_s)
            with cluster.state.lock:
                alloc = cluster.state.allocs.get(alloc_id)
                if alloc is None:
                    return
                logs.holds.remove(hold[0])
                hold[0] = cur.start
                logs.holds.append(hold[0])
                extend(logs, seed, alloc, log_horizon_ns(cluster), behaviours=cluster.behaviours)
                new = drain()
            yield from new
            now = time.monotonic()
            if now - last_beat >= heartbeat_s:
                last_beat = now
                yield b"" if plain else b"{}"
    finally:
        with cluster.state.lock:
            logs.holds.remove(hold[0])
