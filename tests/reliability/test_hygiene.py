"""The token-hygiene scanners and plugin (``tests/hygiene.py``) find what they are for."""

from __future__ import annotations

import doctest
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests import hygiene

ROOT = Path(__file__).resolve().parents[2]


def test_examples_in_the_module_docstring_run() -> None:
    assert doctest.testmod(hygiene).failed == 0


def test_text_scan_finds_the_whole_token_and_its_tail_once_per_place() -> None:
    t = hygiene.token()
    found = hygiene.scan_text(f"a {t} b ...{t[-16:]} c", where="x")
    assert [f.offset for f in found] == [2, 2 + len(t) + 6]
    assert hygiene.scan_text("nothing to see " + t[:10], where="x") == []


def test_findings_never_quote_the_token() -> None:
    found = hygiene.scan_text(hygiene.token(), where="somewhere")
    with pytest.raises(AssertionError) as info:
        hygiene.assert_clean(found)
    assert "somewhere" in str(info.value) and hygiene.token() not in str(info.value)
    hygiene.assert_clean([])


def test_notebook_scan_looks_in_every_kind_of_output(tmp_path: Path) -> None:
    t = hygiene.token()
    nb = {"cells": [
        {"cell_type": "code", "source": "print(token)", "outputs": [{"output_type": "stream", "text": ["ok\n"]}]},
        {"cell_type": "code", "source": "", "outputs": [{"output_type": "stream", "text": [f"{t}\n"]}]},
        {"cell_type": "code", "source": "", "outputs": [
            {"output_type": "execute_result", "data": {"text/html": [f"<td>{t}</td>"], "text/plain": "x"}}]},
        {"cell_type": "code", "source": "", "outputs": [
            {"output_type": "error", "ename": "E", "evalue": "bad", "traceback": [f"token={t!r}"]}]},
    ]}
    path = tmp_path / "nb.ipynb"
    path.write_text(json.dumps(nb))
    assert [f.where for f in hygiene.scan_notebook(path)] == [
        "cell 1 stream", "cell 2 execute_result text/html", "cell 3 error traceback"]
    assert hygiene.scan_notebook(nb) == hygiene.scan_notebook(path)


def test_html_scan(tmp_path: Path) -> None:
    page = tmp_path / "report.html"
    page.write_text(f"<script>var t = '{hygiene.token()}';</script>")
    assert len(hygiene.scan_html(page)) == 1


def test_registered_secrets_are_scanned_too() -> None:
    hygiene.register_secret("another-secret-0123456789")
    assert hygiene.scan_text("x another-secret-0123456789", where="x")
    with pytest.raises(ValueError, match="16 characters"):
        hygiene.register_secret("short")


def test_enabled_by_the_variable_or_in_ci() -> None:
    assert hygiene.enabled({"CI": "true"}) and hygiene.enabled({"NOMADLAB_HYGIENE_TOKEN": "1"})
    assert not hygiene.enabled({}) and not hygiene.enabled({"NOMADLAB_HYGIENE_TOKEN": "0"})
    assert hygiene.token({"NOMADLAB_HYGIENE_TOKEN": "1"}) == hygiene.DEFAULT_TOKEN
    assert hygiene.token({"NOMADLAB_HYGIENE_TOKEN": "f" * 36}) == "f" * 36


def test_in_hygiene_mode_every_test_carries_the_token() -> None:
    if hygiene.enabled():
        assert os.environ["NOMAD_TOKEN"] == hygiene.token()
    else:
        assert "NOMAD_TOKEN" not in os.environ


_LEAKY = '''
import logging, warnings
from tests import hygiene

def test_clean():
    logging.getLogger("nomadlab").debug("connected")

def test_logs_it():
    logging.getLogger("nomadlab").debug("token is %s", hygiene.token())

def test_raises_it():
    secret = hygiene.token()
    raise RuntimeError("failed")   # the token is only in a traceback local

def test_warns_it():
    warnings.warn("token " + hygiene.token())
'''


def _run(tmp_path: Path, source: str, **env: str) -> tuple[subprocess.CompletedProcess[str], dict[str, object]]:
    test = tmp_path / "test_leaky.py"
    test.write_text(source)
    report = tmp_path / "hygiene.json"
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "tests.hygiene", "-q", "-p", "no:cacheprovider", str(test),
         "--rootdir", str(tmp_path)],
        cwd=ROOT, capture_output=True, text=True, timeout=120,
        env={**os.environ, "NOMADLAB_HYGIENE_REPORT": str(report), "PYTHONPATH": str(ROOT), **env},
    )
    return done, json.loads(report.read_text()) if report.exists() else {}


def test_the_plugin_fails_each_kind_of_leak(tmp_path: Path) -> None:
    done, summary = _run(tmp_path, _LEAKY, NOMADLAB_HYGIENE_TOKEN="1", CI="")
    out = done.stdout + done.stderr
    assert done.returncode == 1, out
    assert "test_logs_it" in out and "log record nomadlab:DEBUG" in out
    assert "traceback with locals" in out
    assert "warning" in out
    assert "hygiene: the test token is shown in" in out and "hygiene: 4 texts" not in out
    assert summary["found"] >= 3 and summary["tests"] == sorted(
        ["test_leaky.py::test_logs_it", "test_leaky.py::test_raises_it", "test_leaky.py::test_warns_it"])


def test_the_plugin_is_off_unless_asked(tmp_path: Path) -> None:
    done, summary = _run(tmp_path, _LEAKY.replace("raise RuntimeError", "pass  #"), NOMADLAB_HYGIENE_TOKEN="",
                         CI="")
    assert done.returncode == 0, done.stdout + done.stderr
    assert summary == {}
