"""Token hygiene: the suite runs with a recognisable token, and no text it produces may show it.

Enabled with ``NOMADLAB_HYGIENE_TOKEN=1`` (or set to a token-shaped value to use that one), and
always when ``CI`` is true. Then:

* every test runs with ``NOMAD_TOKEN`` set to :func:`token` (``tests/conftest.py`` sets it after
  clearing the developer's ``NOMAD_*`` variables), so every client built from the environment,
  and every notebook kernel or command the suite starts, carries it;
* every log record (``nomadlab``, ``httpx`` and ``httpcore`` at DEBUG), the captured output,
  and the failure text of each test with the ``repr`` of every traceback local are scanned: a
  test that shows the token fails; a warning that shows it fails the run at the end.

Other tests call the scanners on what they produce (an executed notebook, a rendered report):

>>> from tests import hygiene
>>> hygiene.scan_text("all clear", where="example")
[]
>>> [f.where for f in hygiene.scan_text(f"X-Nomad-Token: {hygiene.token()}", where="header")]
['header']

``hygiene.assert_clean(hygiene.scan_notebook(path))`` fails with the places (never the token).
``NOMADLAB_HYGIENE_REPORT=<file>`` writes how many texts were scanned and found unclean, as JSON.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import re
import threading
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

__all__ = [
    "DEFAULT_TOKEN", "Finding", "assert_clean", "enabled", "needles", "register_secret", "scan_html",
    "scan_notebook", "scan_text", "token",
]

# A UUID like a real SecretID, with a spelled-out marker that occurs in no other text.
DEFAULT_TOKEN = "5ec2e7ed-c0de-4bad-beef-70ce4c0ffee5"
_EXTRA: list[str] = []


def enabled(environ: Mapping[str, str] | None = None) -> bool:
    """Whether hygiene mode is on (``NOMADLAB_HYGIENE_TOKEN`` set, or in CI)."""
    env = os.environ if environ is None else environ
    value = env.get("NOMADLAB_HYGIENE_TOKEN", "").strip()
    ci = env.get("CI", "").strip().lower() not in ("", "0", "false", "no", "off")
    return ci or value.lower() not in ("", "0", "false", "no", "off")


def token(environ: Mapping[str, str] | None = None) -> str:
    """The recognisable token: ``NOMADLAB_HYGIENE_TOKEN`` when it is a token, else the default."""
    value = (os.environ if environ is None else environ).get("NOMADLAB_HYGIENE_TOKEN", "").strip()
    return value if len(value) >= 16 else DEFAULT_TOKEN


def register_secret(secret: str) -> None:
    """Also look for ``secret`` (16 characters or more) in every scan from now on."""
    if len(secret) < 16:
        raise ValueError("a secret to scan for needs 16 characters or more (shorter ones match by chance)")
    if secret not in _EXTRA:
        _EXTRA.append(secret)


def needles() -> list[str]:
    """What a scan looks for: each secret, and its last 16 characters (a partly shown token)."""
    found: list[str] = []
    for secret in (token(), *_EXTRA):
        found += [secret, secret[-16:]]
    return found


@dataclass(frozen=True)
class Finding:
    """Where a secret was found: a description of the text and the character offset in it."""

    where: str
    offset: int

    def __str__(self) -> str:
        return f"{self.where} (at character {self.offset})"


def scan_text(text: str, *, where: str) -> list[Finding]:
    """Every place in ``text`` showing a secret (one finding per place, the token never quoted)."""
    spans: set[tuple[int, int]] = set()
    for needle in needles():
        spans.update((m.start(), m.end()) for m in re.finditer(re.escape(needle), text))
    merged: list[Finding] = []
    end = -1
    for start, stop in sorted(spans):
        if start >= end:   # not inside the previous match (a tail inside its whole token)
            merged.append(Finding(where, start))
        end = max(end, stop)
    return merged


def _output_texts(output: Mapping[str, Any]) -> Iterator[tuple[str, str]]:
    kind = str(output.get("output_type", "output"))
    if "text" in output:
        text = output["text"]
        yield kind, "".join(text) if isinstance(text, list) else str(text)
    for mime, value in dict(output.get("data") or {}).items():
        yield f"{kind} {mime}", "".join(value) if isinstance(value, list) else json.dumps(value) \
            if not isinstance(value, str) else value
    if "traceback" in output or "evalue" in output:
        yield f"{kind} traceback", "\n".join([str(output.get("evalue", "")), *output.get("traceback", [])])


def scan_notebook(notebook: str | Path | Mapping[str, Any]) -> list[Finding]:
    """Every secret shown in an executed notebook's outputs (a path or the notebook's JSON)."""
    nb: Mapping[str, Any] = json.loads(Path(notebook).read_text()) if isinstance(notebook, (str, Path)) \
        else notebook
    findings: list[Finding] = []
    for number, cell in enumerate(nb.get("cells", [])):
        for output in cell.get("outputs", []) or []:
            for kind, text in _output_texts(output):
                findings += scan_text(text, where=f"cell {number} {kind}")
    return findings


def scan_html(path: str | Path) -> list[Finding]:
    """Every secret shown in an HTML file (a rendered report), markup and scripts included."""
    return scan_text(Path(path).read_text(errors="replace"), where=str(path))


def assert_clean(findings: Iterable[Finding]) -> None:
    """Fail, naming each place, when any secret was found."""
    found = list(findings)
    if found:
        raise AssertionError(f"a secret is shown in {len(found)} place(s): " + "; ".join(map(str, found)))


# -- the pytest plugin ----------------------------------------------------------------------
class _Scanner(logging.Handler):
    """Scans every log record as it is emitted, for the test running at the time."""

    def __init__(self) -> None:
        super().__init__(level=logging.DEBUG)
        self.lock_ = threading.Lock()
        self.current = "(collection)"
        self.findings: dict[str, list[Finding]] = {}
        self.scanned = 0

    def add(self, nodeid: str, found: list[Finding]) -> None:
        with self.lock_:
            self.scanned += 1
            if found:
                self.findings.setdefault(nodeid, []).extend(found)

    def emit(self, record: logging.LogRecord) -> None:
        try:
            text = record.getMessage()
        except Exception:  # noqa: BLE001 - a broken record is not this plugin's to raise
            text = str(record.msg)
        if record.exc_info and record.exc_info[1] is not None:
            text += "\n" + repr(record.exc_info[1])
        self.add(self.current, scan_text(text, where=f"log record {record.name}:{record.levelname}"))


_SCANNER: _Scanner | None = None


def pytest_configure(config: pytest.Config) -> None:
    global _SCANNER
    if not enabled() or _SCANNER is not None:
        return
    _SCANNER = _Scanner()
    logging.getLogger().addHandler(_SCANNER)
    for name in ("nomadlab", "httpx", "httpcore"):
        logging.getLogger(name).setLevel(logging.DEBUG)


def pytest_runtest_logstart(nodeid: str, location: object) -> None:
    if _SCANNER is not None:
        _SCANNER.current = nodeid


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[None]:
    outcome = yield
    if _SCANNER is None:
        return
    report = outcome.get_result()
    texts = [(f"captured {name}", content) for name, content in report.sections]
    if call.excinfo is not None:
        texts.append(("failure text", str(call.excinfo.value)))
        with contextlib.suppress(Exception):  # a local whose repr fails is not a leak
            texts.append(("traceback with locals", str(call.excinfo.getrepr(showlocals=True, style="long"))))
    found: list[Finding] = []
    for where, text in texts:
        hits = scan_text(text, where=f"{call.when}: {where}")
        _SCANNER.add(item.nodeid, hits)
        found += hits
    found += _SCANNER.findings.get(item.nodeid, []) if call.when == "teardown" else []
    if found and report.outcome != "failed":
        report.outcome = "failed"
        report.longrepr = (f"hygiene: the test token is shown in {len(found)} place(s): "
                           + "; ".join(map(str, found)) + " (see tests/hygiene.py)")


def pytest_warning_recorded(warning_message: Any, when: str, nodeid: str, location: object) -> None:
    if _SCANNER is not None:
        _SCANNER.add(nodeid or "(session)", scan_text(str(warning_message.message), where=f"warning ({when})"))


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    if _SCANNER is None:
        return
    unclean = sum(len(v) for v in _SCANNER.findings.values())
    path = os.environ.get("NOMADLAB_HYGIENE_REPORT")
    if path:
        Path(path).write_text(json.dumps({"scanned": _SCANNER.scanned, "found": unclean,
                                          "tests": sorted(_SCANNER.findings)}))
    if unclean and session.exitstatus == 0:
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


def pytest_terminal_summary(terminalreporter: Any) -> None:
    if _SCANNER is None:
        return
    unclean = {k: v for k, v in _SCANNER.findings.items() if v}
    terminalreporter.write_line(f"hygiene: {_SCANNER.scanned} texts scanned for the test token, "
                                f"{sum(map(len, unclean.values()))} showing it")
    for nodeid, found in unclean.items():
        terminalreporter.write_line(f"  {nodeid}: " + "; ".join(map(str, found)))
